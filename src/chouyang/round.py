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
import secrets
import shutil
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import inputs as inp
from .errors import ChouyangError
from .rules import Rules, load_rules, preset_text

REGISTER_STEMS = ("women", "births", "procedures", "benefits")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""


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
    def secret_path(self) -> Path:
        return self.path / "secret.key"

    # -- opening --
    @classmethod
    def open(cls, path: Path) -> "Round":
        path = Path(path)
        if not (path / "inputs" / "manifest.json").exists() or not (path / "rules.toml").exists():
            raise ChouyangError(f"{path} 不是考核轮次文件夹（请先运行 chouyang init）")
        return cls(path)

    def rules(self) -> Rules:
        return load_rules(self.rules_path)

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

    # -- fingerprints --
    def changed_inputs(self) -> list[str]:
        """Names of the stored inputs whose bytes no longer match the manifest."""
        changed = []
        for key, entry in self.manifest()["files"].items():
            file = self.path / entry["path"]
            if not file.exists() or sha256_file(file) != entry["sha256"]:
                changed.append(entry["path"])
        return changed

    def fingerprint(self) -> str:
        """One SHA-256 over every input file and the rules (what `commit` publishes).

        It is SHA-256 of the UTF-8 text made of one line per file,
        "<sha256 of file>  <path in the round folder>\\n", sorted by path,
        with rules.toml included as one of the files.
        """
        lines = [f"{e['sha256']}  {e['path']}\n" for e in self.manifest()["files"].values()]
        lines.append(f"{sha256_file(self.rules_path)}  rules.toml\n")
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
        """Every step after the draw calls this: inputs and rules must be as drawn."""
        record = self.draw_record()
        self.require_inputs_unchanged()
        if sha256_file(self.rules_path) != record["rules_sha256"]:
            raise ChouyangError("rules.toml 在抽样之后被修改过，拒绝继续。"
                                "抽样后规则不能再改；如需改规则，请新建考核轮次重新抽样。")
        return record

    # -- store and log --
    @contextmanager
    def store(self):
        """A connection to the round's SQLite store; commits on success, rolls back on error."""
        con = sqlite3.connect(self.store_path)
        try:
            con.executescript(_SCHEMA_SQL)
            yield con
            con.commit()
        except BaseException:
            con.rollback()
            raise
        finally:
            con.close()

    def log(self, action: str, detail: dict, con: sqlite3.Connection | None = None) -> None:
        row = (utc_now(), _user(), action, json.dumps(detail, ensure_ascii=False, sort_keys=True))
        if con is not None:
            con.execute("INSERT INTO log (time, user, action, detail) VALUES (?, ?, ?, ?)", row)
            return
        with self.store() as own:
            own.execute("INSERT INTO log (time, user, action, detail) VALUES (?, ?, ?, ?)", row)

    def log_entries(self, action: str | None = None) -> list[dict]:
        with self.store() as con:
            sql = "SELECT id, time, user, action, detail FROM log"
            rows = con.execute(sql + (" WHERE action = ?" if action else "") + " ORDER BY id",
                               (action,) if action else ()).fetchall()
        return [dict(id=r[0], time=r[1], user=r[2], action=r[3], detail=json.loads(r[4])) for r in rows]


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name on some Windows services
        return "unknown"


@dataclass(frozen=True)
class InitSummary:
    round: Round
    encodings: dict[str, str]
    counts: dict[str, int]
    warnings: list


def init_round(path: Path, preset: str, frame: Path, teams: Path, register: Path) -> InitSummary:
    """Validate the inputs, then create the round folder.  Nothing is written on error."""
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise ChouyangError(f"文件夹 {path} 已存在且不为空；请换一个轮次文件夹名")
    rules_text = preset_text(preset)
    loaded_frame = inp.load_frame(Path(frame))
    codes = set(loaded_frame.frame.township_code)
    loaded_teams = inp.load_teams(Path(teams), codes)
    register_data = inp.load_register(Path(register), set(loaded_frame.frame.unit_code))

    sources = {"frame": Path(frame), "teams": Path(teams)}
    for stem in REGISTER_STEMS:
        found = inp.find_register_file(Path(register), stem)
        if found:
            sources[stem] = found
    path.mkdir(parents=True, exist_ok=True)
    (path / "inputs" / "register").mkdir(parents=True, exist_ok=True)
    files = {}
    for key, src in sources.items():
        sub = "register/" if key in REGISTER_STEMS else ""
        rel = f"inputs/{sub}{key}{src.suffix.lower()}"
        shutil.copyfile(src, path / rel)
        files[key] = {"path": rel, "sha256": sha256_file(path / rel), "source": str(src.resolve())}
    manifest = {"created": utc_now(), "preset": preset, "files": files}
    (path / "inputs" / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    (path / "rules.toml").write_text(rules_text, encoding="utf-8")
    (path / "secret.key").write_text(secrets.token_hex(32) + "\n", encoding="ascii")
    rnd = Round(path)
    encodings = {"frame": loaded_frame.encoding, "teams": loaded_teams.encoding, **register_data.encodings}
    counts = {"units": len(loaded_frame.frame), "townships": len(codes), "teams": len(loaded_teams.frame),
              "women": len(register_data.women), "births": len(register_data.births),
              "procedures": len(register_data.procedures),
              "benefits": 0 if register_data.benefits is None else len(register_data.benefits)}
    warnings = loaded_frame.warnings + loaded_teams.warnings + register_data.warnings
    rnd.log("init", {"preset": preset, "files": files, "encodings": encodings, "counts": counts,
                     "warnings": [str(w) for w in warnings]})
    return InitSummary(rnd, encodings, counts, warnings)
