"""Round-level steps: what the CLI (and the demo, the notebook, a web front end) calls.

Each step loads what it needs through the `Round` (round.py), calls pure stage
functions (tables in, tables out: draw, plan, ingest validation, cases, score),
hands tables to a renderer (planpdf, forms, report) and writes results through
the Round.  A step checks the round first (inputs and rules unchanged since the
draw) and logs what it did; it prints nothing.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd

from chouyang import __version__, atomic
from chouyang.assessment.facts import Entries
from chouyang.assessment.scheme import scheme_names, scheme_text
from chouyang.assessment.scoring import assess
from chouyang.atomic import atomic_folder
from chouyang.config.rules import is_placeholder_name, parse_rules, round_id_problem, round_rules_text
from chouyang.entry.checklist import ValidChecklist, duplicate_townships, survey_computed, validate_checklist
from chouyang.entry.ingest import IngestResult, ValidUnit, duplicate_units, entry_changes, entry_warnings, status_table, validate_entry
from chouyang.errors import ChouyangError, Problem
from chouyang.inputs import readers as inp
from chouyang.render.checklist_pdf import ChecklistForm, checklist_rows, write_checklist_pdfs
from chouyang.render.checklist_workbook import is_checklist_workbook, read_checklist_workbook, write_checklist_workbook
from chouyang.render.forms import form_font, render_units, unit_forms
from chouyang.render.layout import load_layout
from chouyang.render.plan_pdf import render_plan_pdf
from chouyang.render.report import write_csvs, write_pdf, write_xlsx
from chouyang.render.survey_workbook import EntryFile, read_entry, write_csv_folder
from chouyang.round.folder import (
    REGISTER_STEMS,
    Round,
    json_bytes,
    previous_units,
    read_sample,
    sha256_file,
    store_assessment,
    store_entries,
    stored_assessment,
    stored_digest,
    stored_entries,
    user_name,
    utc_now,
)
from chouyang.scan.checklist import fill_checklist_scan
from chouyang.scan.reader import (
    PROBLEM_TEXT,
    REVIEW_COLUMNS,
    ScanSummary,
    count_marks,
    fill_workbook,
    load_layouts,
    pick_pages,
    read_files,
    review_json,
    save_review_crop,
)
from chouyang.serve import accounts
from chouyang.survey import feedback
from chouyang.survey.cases import cases_frame, unit_cases
from chouyang.survey.draw import ALGORITHM, ALGORITHM_VERSION, apply_replacements, draw_sample, normalise_seed, sample_csv_bytes
from chouyang.survey.plan import make_plan, plan_csv_bytes
from chouyang.survey.score import COMPLETE, WARNING_COLUMNS, ScoreResult, county_summary_line, score_data
from chouyang.xlsx import save_workbook

__all__ = ["PROBLEM_TEXT", "county_summary_line", "open_round", "init", "commit", "draw", "verify", "replace",
           "plan", "forms", "ingest", "ingest_entries", "status", "cases", "scan", "score", "export_unit",
           "add_user", "users", "set_case_status"]


def open_round(path: Path) -> Round:
    return Round.open(path)


# --- init ------------------------------------------------------------------------

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


# --- commit, draw, replace, verify -------------------------------------------------

def commit(rnd: Round) -> dict:
    """Publish one fingerprint over inputs and rules before the seed is known."""
    rnd.require_inputs_unchanged()
    rnd.require_named()  # the rules must be valid and name the round: they are published now
    rnd.scheme()  # and the scheme valid
    if rnd.draw_path.exists():
        raise ChouyangError("本轮已经抽样，承诺指纹必须在抽样之前发布")
    record = {"fingerprint": rnd.fingerprint(), "time_utc": utc_now()}
    rnd.write_json(rnd.commit_path, record)
    rnd.log("commit", record)
    return record


def _store_previous(rnd: Round, previous: list[Path]) -> None:
    """Copy earlier rounds' sample files into inputs/previous/ (numbered, oldest first)."""
    if rnd.previous_dir.exists():
        shutil.rmtree(rnd.previous_dir)
    rnd.previous_dir.mkdir(parents=True)
    for i, src in enumerate(previous, start=1):
        if not Path(src).exists():
            raise ChouyangError(f"找不到往轮样本文件：{src}")
        shutil.copyfile(src, rnd.previous_dir / f"{i:02d}_{Path(src).name}")


def _commitment(rnd: Round) -> dict | None:
    if not rnd.commit_path.exists():
        return None
    commitment = json.loads(rnd.commit_path.read_text(encoding="utf-8"))
    if commitment["fingerprint"] != rnd.fingerprint():
        raise ChouyangError("输入文件或规则与抽样前公布的承诺指纹不一致，拒绝抽样")
    return commitment


def draw(rnd: Round, seed: str, previous: list[Path] | None = None, force: bool = False) -> dict:
    """Draw the round's sample; writes sample.csv and draw.json and logs the draw."""
    rnd.require_inputs_unchanged()
    rules = rnd.require_named()  # after the draw the rules are locked: a placeholder title could never be fixed
    rnd.scheme()  # so is the scheme: it must be valid now
    seed = normalise_seed(seed)
    if rnd.draw_path.exists() and not force:
        raise ChouyangError("本轮已经抽过样。重新抽样会作废已公布的样本；如确需重抽，请加 --force（旧记录保留在日志中）")
    commitment = _commitment(rnd)
    frame = rnd.frame()
    if previous:
        _store_previous(rnd, previous)
    prev_files = rnd.previous_files()
    used = previous_units(prev_files, rules.sampling.exclude_previous_rounds)
    sample, notes = draw_sample(frame, rules, seed, used)
    if not (sample.role == "primary").any():
        raise ChouyangError("按当前规则一个样本点也抽不出（每个乡镇的样本点数都是 0，或没有可抽的单位）。"
                            "请检查 rules.toml 的 [sampling] points_per_township 和 overrides。")
    old = rnd.draw_record() if rnd.draw_path.exists() else None
    record = _draw_record(rnd, rules, seed, sample, notes, prev_files, commitment)
    with rnd.store(immediate=True) as con:
        if old is not None:
            rnd.log("draw_superseded", {"previous_draw": old}, con)
        rnd.write_together({rnd.sample_path: sample_csv_bytes(sample), rnd.draw_path: json_bytes(record)})
        if rnd.replacements_path.exists():
            rnd.replacements_path.unlink()
        rnd.log("draw", {k: record[k] for k in ("seed", "fingerprint", "counts", "time_utc")}, con)
    return record


def _draw_record(rnd: Round, rules, seed: str, sample: pd.DataFrame, notes: dict, prev_files: list[Path],
                 commitment: dict | None) -> dict:
    """draw.json: everything needed to re-derive the sample (SPEC §3.1)."""
    files = rnd.manifest()["files"]
    return {
        "round_id": rules.round.id,
        "seed": seed,
        "algorithm": ALGORITHM,
        "algorithm_version": ALGORITHM_VERSION,
        "ticket": "SHA-256(UTF-8(seed + '|' + round_id + '|' + unit_code)), hex; smallest first",
        "method": rules.sampling.method,
        "frame_sha256": files["frame"]["sha256"],
        "rules_sha256": sha256_file(rnd.rules_path),
        "rules_text": rnd.rules_path.read_text(encoding="utf-8"),
        "scheme_sha256": sha256_file(rnd.scheme_path) if rnd.scheme_path.exists() else None,
        "inputs": {k: v["sha256"] for k, v in files.items()},
        "previous_rounds": [{"path": str(p.relative_to(rnd.path).as_posix()), "sha256": sha256_file(p)}
                            for p in prev_files],
        "fingerprint": rnd.fingerprint(),
        "commitment": commitment,
        "tool_version": __version__,
        "time_utc": utc_now(),
        "counts": {"townships": int(sample.township_code.nunique()),
                   "primary": int((sample.role == "primary").sum()),
                   "reserve": int((sample.role == "reserve").sum())},
        "township_notes": {k: v for k, v in notes.items() if v},
    }


def replace(rnd: Round, unit_code: str, reason: str) -> dict:
    """Swap a primary point for its township's next unused reserve (备选样本点)."""
    rnd.require_unchanged_since_draw()
    if not reason.strip():
        raise ChouyangError("替换样本点必须说明原因（--reason）")
    sample = rnd.sample()
    hit = sample[sample.unit_code == unit_code]
    if hit.empty or hit.role.iloc[0] != "primary":
        raise ChouyangError(f"{unit_code} 不是本轮的正式样本点，不能替换")
    if rnd.plan_path.exists():
        raise ChouyangError("调查安排已经生成；替换样本点须在 chouyang plan 之前进行")
    township = hit.township_code.iloc[0]
    reserves = sample[(sample.township_code == township) & (sample.role == "reserve")].sort_values("rank")
    if reserves.empty:
        raise ChouyangError(f"乡镇 {hit.township_name.iloc[0]}（{township}）已没有备选样本点可用")
    rep = {"unit_code": unit_code, "replacement": reserves.unit_code.iloc[0], "reason": reason.strip(),
           "time_utc": utc_now()}
    reps = rnd.replacements() + [rep]
    new_sample = apply_replacements(sample, [rep])
    with rnd.store(immediate=True) as con:
        rnd.write_together({rnd.replacements_path: json_bytes(reps), rnd.sample_path: sample_csv_bytes(new_sample)})
        rnd.log("replace", rep, con)
    return rep


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    messages: tuple[str, ...]    # what was checked and found identical
    problems: tuple[str, ...]    # what differs (empty when ok)
    round_id: str
    seed: str


def _flatten(table: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key != "overrides":
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def rules_changes(old_text: str, new_text: str) -> list[str]:
    """Which keys of rules.toml differ (Chinese, one line per key); comments and spacing are ignored."""
    try:
        old, new = _flatten(tomllib.loads(old_text)), _flatten(tomllib.loads(new_text))
    except tomllib.TOMLDecodeError:
        return ["rules.toml 现在不是有效的 TOML"]
    lines = [f"{k}：{old[k]} → {new[k]}" for k in sorted(set(old) & set(new)) if old[k] != new[k]]
    lines += [f"{k}：新增（{new[k]}）" for k in sorted(set(new) - set(old))]
    lines += [f"{k}：被删除（原为 {old[k]}）" for k in sorted(set(old) - set(new))]
    return lines or ["只改动了注释或空白（指纹仍然不同）"]


def _fingerprint_differences(rnd: Round, record: dict) -> list[str]:
    """What no longer matches the draw record: inputs, rules, earlier rounds' files, the commitment."""
    messages = []
    for key, digest in record["inputs"].items():
        entry = rnd.manifest()["files"].get(key)
        if entry is None or sha256_file(rnd.path / entry["path"]) != digest:
            messages.append(f"输入文件 {key} 与抽样时不一致")
    if sha256_file(rnd.rules_path) != record["rules_sha256"]:
        changes = rules_changes(record["rules_text"], rnd.rules_path.read_text(encoding="utf-8")) \
            if "rules_text" in record else []
        messages.append("rules.toml 在抽样后被修改" + ("：" + "；".join(changes) if changes else ""))
    if rnd.scheme_changed(record):
        messages.append("考核方案 scheme.toml 与抽样时不一致（被修改、删除或在抽样后添加）")
    for prev in record["previous_rounds"]:
        p = rnd.path / prev["path"]
        if not p.exists() or sha256_file(p) != prev["sha256"]:
            messages.append(f"往轮样本文件 {prev['path']} 与抽样时不一致")
    if record.get("commitment"):
        commit = record["commitment"]
        if commit["fingerprint"] != rnd.fingerprint():
            messages.append("当前输入与规则的指纹与抽样前公布的承诺指纹不一致")
        if commit["time_utc"] > record["time_utc"]:
            messages.append("承诺指纹的时间晚于抽样时间")
    return messages


def _sample_differences(expected: pd.DataFrame, stored: pd.DataFrame) -> list[str]:
    want = {(r.unit_code, r.role) for r in expected.itertuples()}
    have = {(r.unit_code, r.role) for r in stored.itertuples()}
    messages = [f"应有 {code}（{role}），sample.csv 中没有" for code, role in sorted(want - have)]
    messages += [f"sample.csv 中的 {code}（{role}）不应出现" for code, role in sorted(have - want)]
    return messages or ["sample.csv 的内容（概率、权数或备注）与重新计算的结果不一致"]


def _drawn_rules(rnd: Round, record: dict):
    """The rules the draw used: the text kept in draw.json (so a later edit cannot hide), else rules.toml."""
    if "rules_text" in record:
        try:
            return parse_rules(record["rules_text"], "draw.json 中记录的规则")
        except ChouyangError:
            pass
    return rnd.rules()


def verify(rnd: Round) -> VerifyResult:
    """Re-derive the sample (and plan, if made) from the record; name every difference.

    The sample is re-derived with the rules the draw recorded, so an edited rules.toml is reported
    as what it is (which keys changed) and not as a different sample.
    """
    record = rnd.draw_record()
    problems = _fingerprint_differences(rnd, record)
    rules = _drawn_rules(rnd, record)
    used = previous_units([rnd.path / p["path"] for p in record["previous_rounds"]],
                          rules.sampling.exclude_previous_rounds)
    sample, _ = draw_sample(rnd.frame(), rules, record["seed"], used)
    sample = apply_replacements(sample, rnd.replacements())
    identity = (record.get("round_id", ""), record["seed"])
    if sample_csv_bytes(sample) != rnd.sample_path.read_bytes():
        return VerifyResult(False, (), tuple(problems + _sample_differences(sample, read_sample(rnd.sample_path))),
                            *identity)
    notes = [f"样本一致：按抽样时的规则重新计算，{int((sample.role == 'primary').sum())} 个样本点、"
             f"{int((sample.role == 'reserve').sum())} 个备选与 sample.csv 完全相同"]
    if rnd.plan_path.exists():
        plan_table = make_plan(sample, rnd.teams(), rules, record["seed"])
        if plan_csv_bytes(plan_table) != rnd.plan_path.read_bytes():
            problems.append("plan.csv 与重新计算的调查安排不一致")
        else:
            notes.append("调查安排一致")
    if not record.get("commitment"):
        notes.append("注意：本轮抽样前没有发布承诺指纹（chouyang commit）")
    return VerifyResult(not problems, tuple(notes), tuple(problems), *identity)


# --- plan, forms -------------------------------------------------------------------

def plan(rnd: Round) -> pd.DataFrame:
    """Make the plan for a drawn round; writes plan.csv and plan.pdf."""
    record = rnd.require_unchanged_since_draw()
    rules = rnd.require_named()
    teams = rnd.teams()
    table = make_plan(rnd.sample(), teams, rules, record["seed"])
    with rnd.store(immediate=True) as con:
        rnd.write_bytes(rnd.plan_path, plan_csv_bytes(table))
        render_plan_pdf(table, teams, rules, rnd.plan_pdf_path)
        rnd.log("plan", {"points": len(table), "teams_used": int(table.team_id.nunique())}, con)
    return table


def forms(rnd: Round, progress=None, workers: int | None = None) -> dict:
    """Write forms/<unit>.pdf, forms/<unit>.layout.json and entry/<unit>.xlsx for every primary point.

    Units are rendered by a pool of worker processes (one per core by default, pool.py).
    """
    rnd.require_unchanged_since_draw()
    layout = load_layout()
    rules, primary = rnd.require_named(), rnd.primaries()
    checklists = rnd.checklists(primary.unit_code)
    plan_table = rnd.plan()
    font = form_font(rules, primary, checklists, layout)
    pages = render_units(unit_forms(rules, primary, checklists, plan_table, layout), rnd.forms_dir, rnd.entry_dir,
                         rnd.secret(), font, rnd.register_fingerprint(), progress, workers)
    summary = {"units": len(primary), "pages": pages, "plan_used": plan_table is not None}
    rnd.log("forms", summary)
    return summary


# --- ingest, status, cases ----------------------------------------------------------

def ingest(rnd: Round, paths: list[Path], replace: bool = False, user: str | None = None) -> list[IngestResult]:
    """Validate every path, then store all of them in one transaction (or nothing).

    A path is a survey entry workbook (or CSV folder) of a sample point, or a township's
    assessment checklist workbook (chouyang checklist); both kinds may be given together.
    """
    paths = [Path(p) for p in paths]
    checklist_paths = [p for p in paths if is_checklist_workbook(p)]
    survey = [read_entry(p) for p in paths if p not in checklist_paths]
    return ingest_entries(rnd, survey, replace, user, checklist_paths=checklist_paths)


def ingest_entries(rnd: Round, files: list[EntryFile], replace: bool = False, user: str | None = None,
                   also=None, checklist_paths: list[Path] = ()) -> list[IngestResult]:
    """Validate read entries (workbooks, CSV folders, or a web form's keyed values) and checklist workbooks,
    then store all in one transaction.

    `also(con)`, when given, makes more writes inside the same transaction (the web workstation's
    record of how the entries came about), so they are stored together or not at all.
    """
    rnd.require_unchanged_since_draw()
    rules = rnd.rules()
    primary = rnd.primaries()
    valid: list[ValidUnit] = []
    problems: list[Problem] = []
    checklists = {}
    if files:
        register = rnd.load_register()
        checklists = rnd.checklists(primary.unit_code, register)
        fingerprint = rnd.register_fingerprint()
        for entry in files:
            unit, found = validate_entry(entry, rules, checklists, fingerprint, register.women)
            problems += found
            if unit:
                valid.append(unit)
        problems += duplicate_units(valid)
    valid_lists, found = _validate_checklists(rnd, list(checklist_paths), primary)
    problems += found
    if problems:
        raise ChouyangError("录入被拒绝，数据库没有任何改动。请改正以下问题后重新录入", problems)
    township = dict(zip(primary.unit_code, primary.township_code))
    results = []
    with rnd.store(immediate=True) as con:
        for unit in valid:
            found_cases = unit_cases(township[unit.unit_code], checklists[unit.unit_code], unit.entries, rules)
            confirmed = sum(c["confirmed"] for c in found_cases)
            results.append(_store_unit(rnd, con, unit, replace, (confirmed, len(found_cases) - confirmed), user))
        for entry in valid_lists:
            results.append(_store_checklist(rnd, con, entry, replace, user))
        if also is not None:
            also(con)
    return results


def _validate_checklists(rnd: Round, paths: list[Path], primary: pd.DataFrame) -> tuple[list[ValidChecklist], list]:
    if not paths:
        return [], []
    scheme = rnd.scheme()
    if scheme is None:
        return [], [Problem(p.name, "本轮没有考核方案（scheme.toml），不能录入考核清单") for p in paths]
    towns = list(assessment_townships(rnd).township_code)
    computed = survey_computed(scheme, set(primary.township_code))
    valid, problems = [], []
    for path in paths:
        entry, found = validate_checklist(read_checklist_workbook(path), scheme, rnd.rules().round.id, towns, computed)
        problems += found
        if entry:
            valid.append(entry)
    return valid, problems + duplicate_townships(valid)


def _store_checklist(rnd: Round, con, entry: ValidChecklist, replace: bool, user: str | None = None) -> IngestResult:
    """Store one township's checked assessment entries: same content is a no-op, new content needs `replace`."""
    digest = entry.content_sha256()
    old = stored_assessment(con, entry.township_code)
    if old is not None and old[0] == digest:
        return IngestResult(entry.township_code, entry.source, "unchanged", 0, 0, kind="checklist")
    if old is not None and not replace:
        raise ChouyangError(f"乡镇 {entry.township_code} 的考核清单已经录入过不同的内容（{entry.source}）。"
                            "如确需用新内容替换，请加 --replace（旧值会保留在日志中）。数据库没有任何改动。")
    store_assessment(con, entry.township_code, entry.data, digest, entry.source)
    rnd.log("ingest_checklist_replace" if old else "ingest_checklist",
            {"township_code": entry.township_code, "source": entry.source, "content_sha256": digest,
             "old": old[1] if old else None, "new": entry.data}, con, user=user)
    return IngestResult(entry.township_code, entry.source, "replaced" if old else "new", 0, 0, kind="checklist")


def _store_unit(rnd: Round, con, unit: ValidUnit, replace: bool, counts: tuple[int, int],
                user: str | None = None) -> IngestResult:
    """Store one validated unit: unchanged content is a no-op, different content needs `replace`."""
    digest = unit.content_sha256()
    old = stored_digest(con, unit.unit_code)
    warnings = tuple(unit.warnings)
    if old == digest:
        return IngestResult(unit.unit_code, unit.source, "unchanged", *counts, warnings=warnings)
    if old and not replace:
        raise ChouyangError(f"样本点 {unit.unit_code} 已经录入过不同的内容（{unit.source}）。"
                            "如确需用新内容替换，请加 --replace（旧值会保留在日志中）。数据库没有任何改动。")
    changes = entry_changes(stored_entries(con, unit.unit_code), unit.entries) if old else []
    store_entries(con, unit.unit_code, unit.entries, digest, unit.source)
    rnd.log("ingest_replace" if old else "ingest",
            {"unit_code": unit.unit_code, "source": unit.source, "content_sha256": digest, "changes": changes,
             "warnings": [str(w) for w in warnings]}, con, user=user)
    return IngestResult(unit.unit_code, unit.source, "replaced" if old else "new", *counts, changes=len(changes),
                        warnings=warnings)


def cases(rnd: Round, rules=None, register=None, entries=None) -> pd.DataFrame:
    """Error cases of every entered unit (cases.csv columns before rule and points), with their feedback status."""
    rules = rules or rnd.rules()
    primary = rnd.primaries()
    entries = rnd.entries() if entries is None else entries
    checklists = rnd.checklists(list(entries), register)
    township = dict(zip(primary.unit_code, primary.township_code))
    rows = []
    for unit, sheets in entries.items():
        rows += unit_cases(township[unit], checklists[unit], sheets, rules)
    with rnd.store() as con:
        changes = feedback.history(con)
    return feedback.apply_statuses(cases_frame(rows), entries, changes)


def status(rnd: Round) -> pd.DataFrame:
    """One row per primary point: team, township, whether results are in, case counts."""
    rnd.require_unchanged_since_draw()
    found = cases(rnd)
    return status_table(rnd.primaries(), rnd.plan(), found[found.status != feedback.WITHDRAWN], set(rnd.entries()))


def export_unit(rnd: Round, unit_code: str, folder: Path) -> Path:
    """Write a unit's stored entries as a CSV folder that `ingest` accepts (keys as headers)."""
    entries = rnd.entries().get(unit_code)
    if entries is None:
        raise ChouyangError(f"样本点 {unit_code} 还没有录入结果")
    meta = {"round_id": rnd.rules().round.id, "unit_code": unit_code,
            "register_fingerprint": rnd.register_fingerprint()}
    return write_csv_folder(folder, meta, entries)


# --- scan ----------------------------------------------------------------------------

def scan(rnd: Round, files, progress=None, workers: int | None = None) -> ScanSummary:
    """Read scans of this round's forms and checklists (in any mix); writes scan/<unit>.xlsx, scan/review/,
    scan/checklist/<township>.xlsx, scan/checklist/review/ and scan/unassigned/.

    A file that is no readable PDF or image is reported and the others are read; when no file
    can be read at all, nothing is written and the error names every file.
    """
    rnd.require_unchanged_since_draw()
    layouts = load_layouts(rnd.forms_dir)
    checklists = load_layouts(rnd.checklist_dir, "chouyang checklist")  # townships' pages, told apart by their QR
    out = rnd.scan_dir
    reads = read_files(files, rnd.secret(), rnd.rules().round.id, layouts | checklists, out / "unassigned",
                       progress, workers)
    bad = [r for r in reads if r.problem == "bad_file"]
    if reads and len(bad) == len(reads):
        raise ChouyangError("没有可识别的扫描文件，没有写入任何识别结果",
                            [Problem(r.source, r.detail) for r in bad])
    (out / "review").mkdir(parents=True, exist_ok=True)
    picked = pick_pages(reads)
    review, listed, marks = {}, {}, 0
    for unit, unit_reads in picked.units.items():
        marks += sum(count_marks(r) for r in unit_reads)
        if unit in checklists:
            listed[unit] = _write_scan_checklist(rnd, unit, unit_reads, checklists[unit])
        else:
            review[unit] = _write_scan_unit(rnd, unit, unit_reads, layouts[unit])
    missing = picked.missing()
    summary = ScanSummary(len(reads), {u: len(r) for u, r in picked.units.items() if u not in checklists},
                          picked.rejected, picked.duplicates, missing, review, marks,
                          {u: len(r) for u, r in picked.units.items() if u in checklists}, listed)
    rnd.log("scan", {"files": [str(f) for f in files], "pages": len(reads), "units": summary.units,
                     "checklists": summary.checklists, "rejected": [r[:3] for r in picked.rejected],
                     "duplicates": picked.duplicates, "missing": {u: m for u, m in missing.items() if m},
                     "review": review, "checklist_review": listed})
    return summary


def _write_scan_unit(rnd: Round, unit: str, reads: list, layout: dict) -> int:
    """scan/<unit>.xlsx (the entry workbook with what was read), its review lists and crops."""
    out = rnd.scan_dir
    wb = openpyxl.load_workbook(rnd.entry_dir / f"{unit}.xlsx")
    items = fill_workbook(wb, reads)
    _write_review(out / "review", unit, items, layout)
    for read in reads:
        read.image = None  # free the page images of this unit
    save_workbook(wb, out / f"{unit}.xlsx")
    return len(items)


def _write_scan_checklist(rnd: Round, township: str, reads: list, layout: dict) -> int:
    """scan/checklist/<township>.xlsx (the checklist workbook with what was read), its review lists and crops."""
    out = rnd.scan_dir / "checklist"
    (out / "review").mkdir(parents=True, exist_ok=True)
    source = rnd.checklist_dir / f"{township}.xlsx"
    if not source.exists():
        raise ChouyangError(f"找不到乡镇 {township} 的考核清单工作簿 checklist/{source.name}；请重新运行 chouyang checklist")
    items = fill_checklist_scan(source, out / f"{township}.xlsx", township, reads, layout)
    _write_review(out / "review", township, items, layout)
    for read in reads:
        read.image = None
    return len(items)


def _write_review(folder: Path, unit: str, items: list, layout: dict) -> None:
    """The review list of one unit or township (CSV for people, JSON for programs) and its crops."""
    for item in items:
        save_review_crop(item, layout["table_x"], folder)
    text = io.StringIO()
    writer = csv.DictWriter(text, REVIEW_COLUMNS)
    writer.writeheader()
    writer.writerows(item.as_row() for item in items)
    atomic.write_text(folder / f"{unit}.csv", text.getvalue(), encoding="utf-8-sig")
    atomic.write_text(folder / f"{unit}.json", review_json(layout["round_id"], unit, items))


# --- assessment: 综合治理 checklist, composite score, consequences (issue 13) ---------------

def assessment_townships(rnd: Round) -> pd.DataFrame:
    """Every township of the frame (the assessment covers all of them, visited by the survey or not)."""
    return rnd.frame().drop_duplicates("township_code")[["township_code", "township_name"]].reset_index(drop=True)


def _require_scheme(rnd: Round):
    scheme = rnd.scheme()
    if scheme is None:
        raise ChouyangError("本轮没有考核方案（scheme.toml）：综合治理清单和综合考核成绩无从计算。"
                            "新建轮次时选用带考核方案的预设（见 chouyang presets）。")
    return scheme


def checklist(rnd: Round, progress=None, workers: int | None = None) -> dict:
    """Write every township's assessment checklist (facts, entered scores, bonus and deductions,
    violations, with the evidence each item needs): checklist/<township>.pdf to print (QR code,
    tick boxes: scanned back by `scan`), its layout record <township>.layout.json, and the entry
    workbook <township>.xlsx."""
    rnd.require_unchanged_since_draw()
    rules = rnd.require_named()
    scheme = _require_scheme(rnd)
    towns = assessment_townships(rnd)
    rnd.checklist_dir.mkdir(exist_ok=True)
    rows = checklist_rows(scheme, scheme.period)
    forms = [ChecklistForm(rules.round.id, rules.round.name, t.township_code, t.township_name, scheme.period, rows)
             for t in towns.itertuples()]
    pages = write_checklist_pdfs(forms, rnd.checklist_dir, rnd.secret(), workers=workers)
    for t in towns.itertuples():
        write_checklist_workbook(rnd.checklist_dir / f"{t.township_code}.xlsx", scheme, round_id=rules.round.id,
                                 round_name=rules.round.name, township_code=t.township_code,
                                 township_name=t.township_name, period=scheme.period)
        if progress:
            progress(1)
    summary = {"townships": len(towns), "pages": pages, "scheme": scheme.name, "period": scheme.period}
    rnd.log("checklist", summary)
    return summary


def _previous_assessment(path: Path | None) -> pd.DataFrame | None:
    """Last year's composite table (for the two-year escalation): a round folder or its report/composite.csv."""
    if path is None:
        return None
    path = Path(path)
    csv_path = path / "report" / "composite.csv" if path.is_dir() else path
    if not csv_path.exists():
        raise ChouyangError(f"找不到上一年度的综合考核结果：{csv_path}（应为上一轮次文件夹或其 report/composite.csv）")
    try:
        return pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ChouyangError(f"无法读取上一年度的综合考核结果 {csv_path}：{exc}") from None


def _assessment(rnd: Round, result: ScoreResult, partial: bool, previous: Path | None):
    """The composite assessment of every township, or None with the reason (no scheme, nothing entered…)."""
    scheme = rnd.scheme()
    if scheme is None:
        return None, ""
    stored = rnd.assessment_entries()
    if not stored:
        return None, "未录入综合治理考核清单（chouyang checklist），未计算综合考核成绩"
    towns = assessment_townships(rnd)
    missing = [t for t in towns.township_code if t not in stored]
    if missing and not partial:
        raise ChouyangError(f"还有 {len(missing)} 个乡镇的考核清单未录入（如 {'、'.join(missing[:5])}），"
                            "暂不能计算综合考核成绩。如确需先出部分结果，请加 --partial。")
    if missing:
        return None, f"还有 {len(missing)} 个乡镇的考核清单未录入，未计算综合考核成绩"
    if result.partial:
        return None, "抽样调查结果尚未全部录入，未计算综合考核成绩"
    entries = Entries.concat([Entries.from_records(**stored[code]) for code in towns.township_code])
    survey = result.townships[result.townships.status == COMPLETE]
    return assess(scheme, towns, entries, survey=survey, previous=_previous_assessment(previous)), ""


# --- score -----------------------------------------------------------------------------

def _entries_or_refuse(rnd: Round, partial: bool) -> dict:
    entries = rnd.entries()
    missing = [u for u in rnd.primaries().unit_code if u not in entries]
    if missing and not partial:
        raise ChouyangError(f"还有 {len(missing)} 个样本点未录入结果（如 {'、'.join(missing[:5])}），"
                            "暂不能计分。可用 chouyang status 查看；如确需先出部分结果，请加 --partial。")
    if not entries:
        raise ChouyangError("本轮还没有录入任何结果")
    return entries


def score_round(rnd: Round, partial: bool = False, previous: Path | None = None) -> ScoreResult:
    """Score the round's entered results, and its composite assessment when a scheme is there (no files written).

    `previous` is last year's round folder (or its report/composite.csv), for the two-year escalation.
    """
    rnd.require_unchanged_since_draw()
    rules = rnd.require_named()
    entries = _entries_or_refuse(rnd, partial)
    register = rnd.load_register()
    found = cases(rnd, rules, register, entries)
    # Withdrawn (撤销) cases count nowhere: their rows are left out of what the correction ratios see.
    result = score_data(rules, rnd.frame(), rnd.sample(), register, feedback.scoring_entries(entries, found), found)
    result.warnings = _warnings_table(register, entries)
    result.assessment, result.assessment_note = _assessment(rnd, result, partial, previous)
    return result


def _warnings_table(register, entries: dict) -> pd.DataFrame:
    """Everything stored with a warning: register rows (as init warned) and entered new rows."""
    rows = [{"unit_code": w.file, "sheet": "", "row": w.row, "column": w.column, "value": w.value,
             "message": w.message} for w in register.warnings]
    for unit, sheets in entries.items():
        rows += entry_warnings(unit, sheets)
    return pd.DataFrame(rows, columns=WARNING_COLUMNS)


def score(rnd: Round, partial: bool = False, previous: Path | None = None, user: str | None = None) -> ScoreResult:
    """Score the round and write report/ as a whole: cases.csv, townships.csv, county.csv, report.xlsx, report.pdf.

    The folder is built beside the old one and swapped in only when every file is written.
    """
    result = score_round(rnd, partial, previous)
    rules = rnd.rules()
    with atomic_folder(rnd.report_dir) as folder:
        write_csvs(result, folder)
        write_xlsx(result, rules, folder / "report.xlsx", draw_record=rnd.draw_record(),
                   replacements=rnd.replacements(), sample=rnd.sample_text(),
                   rules_text=rnd.rules_path.read_text(encoding="utf-8"))
        write_pdf(result, rules, folder / "report.pdf")
    rnd.log("score", {"townships": len(result.townships), "cases_confirmed": int(result.townships.cases_confirmed.sum()),
                      "missing_units": result.missing_units,
                      "deduction_total": float(result.townships.deduction.sum())}, user=user)
    return result


# --- users of the web workstation, case feedback ---------------------------------------

def add_user(rnd: Round, name: str, password: str, replace: bool = False, user: str | None = None) -> str:
    """Add a user of `chouyang serve` (or set a new password with `replace`); returns "added" or "replaced"."""
    with rnd.store(immediate=True) as con:
        outcome = accounts.add_user(con, name, password, replace, utc_now())
        rnd.log("user_add" if outcome == "added" else "user_password", {"name": name.strip()}, con, user=user)
    return outcome


def users(rnd: Round) -> list[str]:
    with rnd.store() as con:
        return accounts.user_names(con)


def set_case_status(rnd: Round, unit_code: str, ref: str, status: str, comment: str = "",
                    user: str | None = None) -> dict:
    """Move a case along 现场反馈 → 有异议 → 复核 → 确认/撤销 (feedback.py); logged with who and why."""
    rnd.require_unchanged_since_draw()
    with rnd.store() as con:
        unit_entries = stored_entries(con, unit_code)
    found = [c for c in _unit_cases(rnd, unit_code, unit_entries) if c["ref"] == ref]
    if not found:
        raise ChouyangError(f"样本点 {unit_code} 没有编号为 {ref} 的误差个案（可用 chouyang status 查看已录入的样本点）")
    kind = found[0]["kind"]
    identity = feedback.case_identity(unit_entries, ref, kind)
    who = user_name(user)
    with rnd.store(immediate=True) as con:
        if feedback.case_identity(stored_entries(con, unit_code), ref, kind) != identity:
            raise ChouyangError(f"个案 {unit_code} {ref} 的录入内容刚刚被改动，请刷新后重试")
        old = feedback.change_status(con, unit_code, ref, kind, identity, status, comment, who, utc_now())
        change = {"unit_code": unit_code, "ref": ref, "kind": kind, "old": old, "new": status,
                  "comment": comment.strip()}
        rnd.log("case_status", change, con, user=user)
    return change


def _unit_cases(rnd: Round, unit_code: str, unit_entries: dict[str, list[dict]]) -> list[dict]:
    """The cases of one unit's stored entries (empty when the unit has none)."""
    if not unit_entries:
        return []
    primary = rnd.primaries()
    township = dict(zip(primary.unit_code, primary.township_code))
    return unit_cases(township[unit_code], rnd.checklists([unit_code])[unit_code], unit_entries, rnd.rules())
