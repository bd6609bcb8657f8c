"""Setting a round up: open it, create its folder from the inputs (init), publish its fingerprint (commit)."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from chouyang.assessment.scheme import scheme_names, scheme_text
from chouyang.atomic import atomic_folder
from chouyang.config.rules import is_placeholder_name, parse_rules, round_id_problem, round_rules_text
from chouyang.errors import ChouyangError
from chouyang.inputs import readers as inp
from chouyang.instruments.catalog import round_instruments
from chouyang.round.folder import REGISTER_STEMS, Round, sha256_file, utc_now


def open_round(path: Path) -> Round:
    return Round.open(path)


@dataclass(frozen=True)
class InitSummary:
    round: Round
    round_id: str
    name: str
    encodings: dict[str, str]
    counts: dict[str, int]
    warnings: list


def round_id_for(path: Path, round_id: str | None) -> str:
    """The round id: given explicitly, or the folder's name when that is a valid id; otherwise refuse."""
    if round_id is not None:
        problem = round_id_problem(round_id)
        if problem:
            raise ChouyangError(f"轮次编号「{round_id}」无效：{problem}")
        return round_id
    name = Path(path).name
    problem = round_id_problem(name)
    if problem:
        raise ChouyangError(f"轮次文件夹名「{name}」不能用作轮次编号：{problem}。"
                            "请用 --round-id 指定轮次编号，例如 --round-id 2017H1")
    return name


def init(path: Path, preset: str, frame: Path, teams: Path, register: Path, round_id: str | None = None,
         name: str | None = None) -> InitSummary:
    """Validate the inputs, then create the round folder as a whole.  Nothing is written on error.

    The round id comes from `round_id` or the folder's name (never from the preset); `name` is the
    title printed on forms and reports (the preset's placeholder until given).
    """
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise ChouyangError(f"文件夹 {path} 已存在且不为空；请换一个轮次文件夹名")
    round_id = round_id_for(path, round_id)
    if name is not None and is_placeholder_name(name):
        raise ChouyangError(f"轮次名称「{name}」无效：请填写本轮考核的正式名称（印在核查表、行程表和报告上）")
    rules_text = round_rules_text(preset, round_id, name)
    rules = parse_rules(rules_text, f"预设 {preset}")
    loaded = inp.load_inputs(Path(frame), Path(teams), Path(register))
    sources = {"frame": Path(frame), "teams": Path(teams)}
    for stem in REGISTER_STEMS:
        found = inp.find_register_file(Path(register), stem)
        if found:
            sources[stem] = found
    with atomic_folder(path) as tmp:
        (tmp / "inputs" / "register").mkdir(parents=True)
        files = {}
        for key, src in sources.items():
            sub = "register/" if key in REGISTER_STEMS else ""
            rel = f"inputs/{sub}{key}{src.suffix.lower()}"
            shutil.copyfile(src, tmp / rel)
            files[key] = {"path": rel, "sha256": sha256_file(tmp / rel), "source": str(src.resolve())}
        staged = Round(tmp)
        staged.write_json(staged.manifest_path, {"created": utc_now(), "preset": preset, "files": files})
        staged.write_bytes(staged.rules_path, rules_text.encode("utf-8"))
        if preset in scheme_names():  # the assessment scheme (综合治理 checklist, composite, consequences)
            staged.write_bytes(staged.scheme_path, scheme_text(preset).encode("utf-8"))
        staged.write_bytes(staged.secret_path, (secrets.token_hex(32) + "\n").encode("ascii"))
        register_data = loaded.register
        encodings = {"frame": loaded.frame.encoding, "teams": loaded.teams.encoding, **register_data.encodings}
        counts = {"units": len(loaded.frame.frame), "townships": int(loaded.frame.frame.township_code.nunique()),
                  "teams": len(loaded.teams.frame), "women": len(register_data.women),
                  "births": len(register_data.births), "procedures": len(register_data.procedures),
                  "benefits": 0 if register_data.benefits is None else len(register_data.benefits)}
        warnings = loaded.frame.warnings + loaded.teams.warnings + register_data.warnings
        staged.log("init", {"preset": preset, "round_id": round_id, "name": rules.round.name, "files": files,
                            "encodings": encodings, "counts": counts, "warnings": [str(w) for w in warnings]})
    return InitSummary(Round(path), round_id, rules.round.name, encodings, counts, warnings)


def commit(rnd: Round) -> dict:
    """Publish one fingerprint over inputs and rules before the seed is known."""
    rnd.require_inputs_unchanged()
    rnd.require_named()  # the rules must be valid and name the round: they are published now
    rnd.scheme()  # and the scheme valid
    round_instruments(rnd.path)  # and the round's own instruments readable (they are fingerprinted)
    if rnd.draw_path.exists():
        raise ChouyangError("本轮已经抽样，承诺指纹必须在抽样之前发布")
    record = {"fingerprint": rnd.fingerprint(), "time_utc": utc_now()}
    rnd.write_json(rnd.commit_path, record)
    rnd.log("commit", record)
    return record
