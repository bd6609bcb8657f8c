"""The round folder (考核轮次): paths, input fingerprints, the store and its log.

A round holds everything of one assessment.  `init` copies the inputs byte for
byte into `inputs/` with their SHA-256; `draw` records the fingerprints it
used, and every later step refuses to run when an input or the rules changed.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from chouyang import atomic
from chouyang.assessment.scheme import Scheme, load_scheme
from chouyang.config.rules import Rules, load_rules
from chouyang.errors import ChouyangError
from chouyang.inputs import readers as inp
from chouyang.round import store as db
from chouyang.survey.check_rows import UnitChecklist, unit_checklists

REGISTER_STEMS = ("women", "births", "procedures", "benefits")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def json_bytes(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")


def read_sample(path: Path) -> pd.DataFrame:
    """sample.csv as a table: rank as int, inclusion_prob and weight as floats, the rest as text."""
    sample = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in ("inclusion_prob", "weight"):
        sample[col] = pd.to_numeric(sample[col])
    sample["rank"] = sample["rank"].astype(int)
    return sample


def previous_units(paths: list[Path], rules_n: int) -> set[str]:
    """Primary units of the last `rules_n` earlier rounds (files given oldest first)."""
    if rules_n <= 0:
        return set()
    used: set[str] = set()
    for path in list(paths)[-rules_n:]:
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ChouyangError(f"无法读取往轮样本文件 {path}：{exc}") from None
        if "unit_code" not in table.columns:
            raise ChouyangError(f"往轮样本文件 {path} 缺少 unit_code 列")
        roles = table["role"] if "role" in table.columns else pd.Series(["primary"] * len(table))
        used |= set(table.loc[roles == "primary", "unit_code"])
    return used


@dataclass(frozen=True)
class Round:
    path: Path

    # -- paths --
    @property
    def rules_path(self) -> Path:
        return self.path / "rules.toml"

    @property
    def inputs_dir(self) -> Path:
        return self.path / "inputs"

    @property
    def manifest_path(self) -> Path:
        return self.inputs_dir / "manifest.json"

    @property
    def store_path(self) -> Path:
        return self.path / "store.sqlite"

    @property
    def sample_path(self) -> Path:
        return self.path / "sample.csv"

    @property
    def draw_path(self) -> Path:
        return self.path / "draw.json"

    @property
    def commit_path(self) -> Path:
        return self.path / "commit.json"

    @property
    def plan_path(self) -> Path:
        return self.path / "plan.csv"

    @property
    def plan_pdf_path(self) -> Path:
        return self.path / "plan.pdf"

    @property
    def replacements_path(self) -> Path:
        return self.path / "replacements.json"

    @property
    def secret_path(self) -> Path:
        return self.path / "secret.key"

    @property
    def previous_dir(self) -> Path:
        return self.inputs_dir / "previous"

    @property
    def forms_dir(self) -> Path:
        return self.path / "forms"

    @property
    def entry_dir(self) -> Path:
        return self.path / "entry"

    @property
    def scan_dir(self) -> Path:
        return self.path / "scan"

    @property
    def report_dir(self) -> Path:
        return self.path / "report"

    @property
    def scheme_path(self) -> Path:
        return self.path / "scheme.toml"

    @property
    def checklist_dir(self) -> Path:
        return self.path / "checklist"

    @property
    def instruments_dir(self) -> Path:
        return self.path / "instruments"

    @property
    def export_dir(self) -> Path:
        return self.path / "export"

    # -- opening --
    @classmethod
    def open(cls, path: Path) -> Round:
        path = Path(path)
        if not (path / "inputs" / "manifest.json").exists() or not (path / "rules.toml").exists():
            raise ChouyangError(f"{path} 不是考核轮次文件夹（请先运行 chouyang init）")
        return cls(path)

    def rules(self) -> Rules:
        return load_rules(self.rules_path)

    def scheme(self) -> Scheme | None:
        """The round's assessment scheme (scheme.toml), or None for a round that scores the survey only."""
        return load_scheme(self.scheme_path) if self.scheme_path.exists() else None

    def manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def input_path(self, key: str) -> Path | None:
        entry = self.manifest()["files"].get(key)
        return self.path / entry["path"] if entry else None

    def register_dir(self) -> Path:
        return self.inputs_dir / "register"

    def secret(self) -> bytes:
        return bytes.fromhex(self.secret_path.read_text(encoding="ascii").strip())

    # -- loading inputs --
    def load_frame(self) -> inp.Loaded:
        return inp.load_frame(self.input_path("frame"))

    def load_teams(self, township_codes: set[str] | None = None) -> inp.Loaded:
        return inp.load_teams(self.input_path("teams"), township_codes)

    def load_register(self, unit_codes: set[str] | None = None) -> inp.Register:
        return inp.load_register(self.register_dir(), unit_codes)

    def frame(self) -> pd.DataFrame:
        return self.load_frame().frame

    def teams(self) -> pd.DataFrame:
        return self.load_teams().frame

    def previous_files(self) -> list[Path]:
        """Earlier rounds' sample files stored by `draw --previous`, oldest first."""
        return sorted(self.previous_dir.glob("*.csv")) if self.previous_dir.exists() else []

    # -- loading outputs of earlier steps --
    def sample(self) -> pd.DataFrame:
        return read_sample(self.sample_path)

    def sample_text(self) -> pd.DataFrame:
        """sample.csv exactly as written (every column text), for reports that reprint it."""
        return pd.read_csv(self.sample_path, dtype=str, keep_default_na=False)

    def primaries(self) -> pd.DataFrame:
        """The sample points to survey (role primary), in sample order."""
        sample = self.sample()
        return sample[sample.role == "primary"].reset_index(drop=True)

    def replacements(self) -> list[dict]:
        path = self.replacements_path
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []

    def plan(self) -> pd.DataFrame | None:
        """plan.csv as text columns, or None before `plan`."""
        return pd.read_csv(self.plan_path, dtype=str) if self.plan_path.exists() else None

    def checklists(self, unit_codes=None, register: inp.Register | None = None) -> dict[str, UnitChecklist]:
        """What the teams check in each sample point (default: every primary point)."""
        rules = self.rules()
        units = self.primaries().unit_code if unit_codes is None else unit_codes
        return unit_checklists(register if register is not None else self.load_register(), units,
                               rules.round.reference_start, rules.round.reference_end)

    def layouts(self) -> dict[str, dict]:
        """The forms' layout records (forms/<unit>.layout.json) by unit code."""
        return {p.name.split(".")[0]: json.loads(p.read_text(encoding="utf-8"))
                for p in self.forms_dir.glob("*.layout.json") if p.name.count(".") == 2}   # not <unit>.<instrument>

    # -- writing (whole files only: temporary name, then rename) --
    def write_bytes(self, path: Path, data: bytes) -> None:
        atomic.write_bytes(Path(path), data)

    def write_json(self, path: Path, value) -> None:
        self.write_bytes(path, json_bytes(value))

    def write_together(self, files: dict[Path, bytes]) -> None:
        """Files that must change together (sample.csv with draw.json): staged first, then renamed."""
        atomic.write_many(files)

    # -- fingerprints --
    def changed_inputs(self) -> list[str]:
        """Names of the stored inputs whose bytes no longer match the manifest."""
        changed = []
        for entry in self.manifest()["files"].values():
            file = self.path / entry["path"]
            if not file.exists() or sha256_file(file) != entry["sha256"]:
                changed.append(entry["path"])
        return changed

    def fingerprint(self) -> str:
        """One SHA-256 over every input file, the rules and the scheme (what `commit` publishes).

        It is SHA-256 of the UTF-8 text made of one line per file,
        "<sha256 of file>  <path in the round folder>\\n", sorted by path,
        with rules.toml (and scheme.toml, when the round has one, and the round's own instrument
        definitions instruments/<name>.toml) included as files.
        """
        lines = [f"{e['sha256']}  {e['path']}\n" for e in self.manifest()["files"].values()]
        lines.append(f"{sha256_file(self.rules_path)}  rules.toml\n")
        if self.scheme_path.exists():
            lines.append(f"{sha256_file(self.scheme_path)}  scheme.toml\n")
        lines += [f"{digest}  {rel}\n" for rel, digest in self.instrument_digests().items()]
        return hashlib.sha256("".join(sorted(lines, key=lambda s: s.split("  ", 1)[1]))
                              .encode("utf-8")).hexdigest()

    def register_fingerprint(self) -> str:
        """SHA-256 over the register files' own SHA-256 (written into every entry workbook)."""
        files = self.manifest()["files"]
        text = "".join(f"{files[k]['sha256']}  {files[k]['path']}\n" for k in REGISTER_STEMS if k in files)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def require_inputs_unchanged(self) -> None:
        changed = self.changed_inputs()
        if changed:
            raise ChouyangError("以下输入文件在 init 之后被修改过，拒绝继续："
                                f"{'、'.join(changed)}。如确需更换数据，请新建考核轮次。")

    def draw_record(self) -> dict:
        if not self.draw_path.exists():
            raise ChouyangError("本轮尚未抽样，请先运行 chouyang draw")
        return json.loads(self.draw_path.read_text(encoding="utf-8"))

    def require_unchanged_since_draw(self) -> dict:
        """Every step after the draw calls this: inputs and rules must be as the draw recorded them.

        The check is against the hashes in draw.json, not the manifest: editing an input together
        with its manifest hash must not slip through.
        """
        record = self.draw_record()
        files = self.manifest()["files"]
        changed = []
        for key, digest in record["inputs"].items():
            rel = files.get(key, {}).get("path")
            if rel is None or not (self.path / rel).exists() or sha256_file(self.path / rel) != digest:
                changed.append(rel or key)
        if changed:
            raise ChouyangError("以下输入文件与抽样时记录的指纹（draw.json）不一致，拒绝继续："
                                f"{'、'.join(changed)}。抽样后输入不能再改；如确需更换数据，请新建考核轮次。")
        if sha256_file(self.rules_path) != record["rules_sha256"]:
            raise ChouyangError("rules.toml 在抽样之后被修改过，拒绝继续。"
                                "抽样后规则不能再改；如需改规则，请新建考核轮次重新抽样。"
                                "（chouyang verify 会列出改动了哪些键）")
        if self.scheme_changed(record):
            raise ChouyangError("考核方案 scheme.toml 与抽样时记录的不一致（被修改、删除或在抽样后添加），拒绝继续。"
                                "考核方案在抽样前公布，之后不能再改；如需改方案，请新建考核轮次。")
        changed = self.instruments_changed(record)
        if changed:
            raise ChouyangError(f"调查表定义 {'、'.join(changed)} 与抽样时记录的不一致（被修改、删除或在抽样后添加），拒绝继续。"
                                "调查表在抽样前公布，之后不能再改；如需改调查表，请新建考核轮次。")
        return record

    def instrument_digests(self) -> dict[str, str]:
        """SHA-256 of the round's own instrument definitions by path in the round (instruments/<name>.toml).

        A name starting with "." is a temporary file of an interrupted write (chouyang.atomic), not a definition.
        """
        folder = self.instruments_dir
        paths = sorted(p for p in folder.glob("*.toml") if not p.name.startswith(".")) if folder.is_dir() else []
        return {f"instruments/{p.name}": sha256_file(p) for p in paths}

    def instruments_changed(self, record: dict) -> list[str]:
        """The instrument definitions added, changed or removed since the draw (none then and now is no change)."""
        then, now = record.get("instruments_sha256", {}), self.instrument_digests()
        return sorted(rel for rel in set(then) | set(now) if then.get(rel) != now.get(rel))

    def scheme_changed(self, record: dict) -> bool:
        """Whether scheme.toml differs from what the draw recorded (absent then and now is no change)."""
        now = sha256_file(self.scheme_path) if self.scheme_path.exists() else None
        return now != record.get("scheme_sha256")

    def require_named(self, rules: Rules | None = None) -> Rules:
        """Steps that print the round's title refuse while it is still the preset's placeholder."""
        rules = rules or self.rules()
        if rules.name_is_placeholder:
            raise ChouyangError(f"轮次名称还是占位文字「{rules.round.name}」，不能打印到核查表、行程表或报告上。"
                                "请在抽样前用 chouyang init --name 或编辑 rules.toml 的 [round] name 填写正式名称；"
                                "抽样后规则已锁定，只能新建考核轮次。")
        return rules

    # -- store and log --
    def store(self, immediate: bool = False):
        """A connection to the round's SQLite store inside one transaction (round/store.py: BEGIN, or
        BEGIN IMMEDIATE for a read-check-write; commits on success, rolls back on error)."""
        return db.transaction(self.store_path, immediate)

    def log(self, action: str, detail: dict, con: sqlite3.Connection | None = None, user: str | None = None) -> None:
        """One audit log row; `user` names a web workstation user (default: the login name)."""
        row = (utc_now(), user_name(user), action, detail)
        if con is not None:
            db.insert_log(con, *row)
            return
        with self.store(immediate=True) as own:
            db.insert_log(own, *row)

    def entries(self) -> dict[str, dict[str, list[dict]]]:
        """Every entered unit's stored rows: unit -> sheet -> rows."""
        with self.store() as con:
            return {u: db.stored_entries(con, u) for u in db.ingested_units(con)}

    def assessment_entries(self) -> dict[str, dict[str, list[dict]]]:
        """Every township's stored assessment entries: township -> table name -> rows of text."""
        with self.store() as con:
            return db.assessment_data(con)

    def log_entries(self, action: str | None = None) -> list[dict]:
        with self.store() as con:
            return db.log_rows(con, action)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name on some Windows services
        return "unknown"


def user_name(user: str | None = None) -> str:
    """Who a write is logged as: the web user when given, else the login name."""
    return user or _user()

