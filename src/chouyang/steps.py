"""Round-level steps: what the CLI (and the demo, the notebook, a web front end) calls.

Each step loads what it needs through the `Round` (round.py), calls pure stage
functions (tables in, tables out: draw, plan, ingest validation, cases, score),
hands tables to a renderer (planpdf, forms, report) and writes results through
the Round.  A step checks the round first (inputs and rules unchanged since the
draw) and logs what it did; it prints nothing.
"""

from __future__ import annotations

import csv
import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd

from . import __version__, accounts, feedback
from . import inputs as inp
from .cases import cases_frame, unit_cases
from .draw import (
    ALGORITHM,
    ALGORITHM_VERSION,
    apply_replacements,
    draw_sample,
    normalise_seed,
    sample_csv_bytes,
)
from .errors import ChouyangError, Problem
from .forms import form_font, render_units, unit_forms
from .forms.layout import load_layout
from .forms.workbook import EntryFile, read_entry, write_csv_folder
from .ingest import (
    IngestResult,
    ValidUnit,
    duplicate_units,
    entry_changes,
    status_table,
    validate_entry,
)
from .plan import make_plan, plan_csv_bytes
from .planpdf import render_plan_pdf
from .report import write_csvs, write_pdf, write_xlsx
from .round import (
    REGISTER_STEMS,
    Round,
    previous_units,
    read_sample,
    sha256_file,
    store_entries,
    stored_digest,
    stored_entries,
    user_name,
    utc_now,
)
from .rules import preset_text
from .scan import (
    PROBLEM_TEXT,
    REVIEW_COLUMNS,
    ScanSummary,
    count_marks,
    fill_workbook,
    pick_pages,
    read_files,
    save_review_crop,
)
from .score import ScoreResult, county_summary_line, score_data

__all__ = ["PROBLEM_TEXT", "county_summary_line", "open_round", "init", "commit", "draw", "verify", "replace",
           "plan", "forms", "ingest", "ingest_entries", "status", "cases", "scan", "score", "export_unit",
           "add_user", "users", "set_case_status"]


def open_round(path: Path) -> Round:
    return Round.open(path)


# --- init ------------------------------------------------------------------------

@dataclass(frozen=True)
class InitSummary:
    round: Round
    encodings: dict[str, str]
    counts: dict[str, int]
    warnings: list


def init(path: Path, preset: str, frame: Path, teams: Path, register: Path) -> InitSummary:
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
    rnd = Round(path)
    rnd.register_dir().mkdir(parents=True, exist_ok=True)
    files = {}
    for key, src in sources.items():
        sub = "register/" if key in REGISTER_STEMS else ""
        rel = f"inputs/{sub}{key}{src.suffix.lower()}"
        shutil.copyfile(src, path / rel)
        files[key] = {"path": rel, "sha256": sha256_file(path / rel), "source": str(src.resolve())}
    rnd.write_json(rnd.manifest_path, {"created": utc_now(), "preset": preset, "files": files})
    rnd.write_bytes(rnd.rules_path, rules_text.encode("utf-8"))
    rnd.write_bytes(rnd.secret_path, (secrets.token_hex(32) + "\n").encode("ascii"))
    encodings = {"frame": loaded_frame.encoding, "teams": loaded_teams.encoding, **register_data.encodings}
    counts = {"units": len(loaded_frame.frame), "townships": len(codes), "teams": len(loaded_teams.frame),
              "women": len(register_data.women), "births": len(register_data.births),
              "procedures": len(register_data.procedures),
              "benefits": 0 if register_data.benefits is None else len(register_data.benefits)}
    warnings = loaded_frame.warnings + loaded_teams.warnings + register_data.warnings
    rnd.log("init", {"preset": preset, "files": files, "encodings": encodings, "counts": counts,
                     "warnings": [str(w) for w in warnings]})
    return InitSummary(rnd, encodings, counts, warnings)


# --- commit, draw, replace, verify -------------------------------------------------

def commit(rnd: Round) -> dict:
    """Publish one fingerprint over inputs and rules before the seed is known."""
    rnd.require_inputs_unchanged()
    rnd.rules()  # the rules must at least be valid
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
    rules = rnd.rules()
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
    old = rnd.draw_record() if rnd.draw_path.exists() else None
    record = _draw_record(rnd, rules, seed, sample, notes, prev_files, commitment)
    with rnd.store() as con:
        if old is not None:
            rnd.log("draw_superseded", {"previous_draw": old}, con)
        rnd.write_bytes(rnd.sample_path, sample_csv_bytes(sample))
        rnd.write_json(rnd.draw_path, record)
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
    with rnd.store() as con:
        rnd.write_json(rnd.replacements_path, reps)
        rnd.write_bytes(rnd.sample_path, sample_csv_bytes(new_sample))
        rnd.log("replace", rep, con)
    return rep


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    messages: tuple[str, ...]


def _fingerprint_differences(rnd: Round, record: dict) -> list[str]:
    """What no longer matches the draw record: inputs, rules, earlier rounds' files, the commitment."""
    messages = []
    for key, digest in record["inputs"].items():
        entry = rnd.manifest()["files"].get(key)
        if entry is None or sha256_file(rnd.path / entry["path"]) != digest:
            messages.append(f"输入文件 {key} 与抽样时不一致")
    if sha256_file(rnd.rules_path) != record["rules_sha256"]:
        messages.append("rules.toml 与抽样时不一致")
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


def verify(rnd: Round) -> VerifyResult:
    """Re-derive the sample (and plan, if made) from the record; name every difference."""
    record = rnd.draw_record()
    messages = _fingerprint_differences(rnd, record)
    if messages:
        return VerifyResult(False, tuple(messages))
    rules = rnd.rules()
    used = previous_units([rnd.path / p["path"] for p in record["previous_rounds"]],
                          rules.sampling.exclude_previous_rounds)
    sample, _ = draw_sample(rnd.frame(), rules, record["seed"], used)
    sample = apply_replacements(sample, rnd.replacements())
    if sample_csv_bytes(sample) != rnd.sample_path.read_bytes():
        return VerifyResult(False, tuple(_sample_differences(sample, read_sample(rnd.sample_path))))
    messages.append(f"样本一致：{int((sample.role == 'primary').sum())} 个样本点，"
                    f"{int((sample.role == 'reserve').sum())} 个备选")
    if rnd.plan_path.exists():
        plan_table = make_plan(sample, rnd.teams(), rules, record["seed"])
        if plan_csv_bytes(plan_table) != rnd.plan_path.read_bytes():
            return VerifyResult(False, tuple(messages) + ("plan.csv 与重新计算的调查安排不一致",))
        messages.append("调查安排一致")
    if not record.get("commitment"):
        messages.append("注意：本轮抽样前没有发布承诺指纹（chouyang commit）")
    return VerifyResult(True, tuple(messages))


# --- plan, forms -------------------------------------------------------------------

def plan(rnd: Round) -> pd.DataFrame:
    """Make the plan for a drawn round; writes plan.csv and plan.pdf."""
    record = rnd.require_unchanged_since_draw()
    rules = rnd.rules()
    teams = rnd.teams()
    table = make_plan(rnd.sample(), teams, rules, record["seed"])
    with rnd.store() as con:
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
    rules, primary = rnd.rules(), rnd.primaries()
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
    """Validate every path, then store all of them in one transaction (or nothing)."""
    return ingest_entries(rnd, [read_entry(Path(path)) for path in paths], replace, user)


def ingest_entries(rnd: Round, files: list[EntryFile], replace: bool = False, user: str | None = None,
                   also=None) -> list[IngestResult]:
    """Validate read entries (workbooks, CSV folders, or a web form's keyed values), then store all in one transaction.

    `also(con)`, when given, makes more writes inside the same transaction (the web workstation's
    record of how the entries came about), so they are stored together or not at all.
    """
    rnd.require_unchanged_since_draw()
    rules = rnd.rules()
    primary = rnd.primaries()
    register = rnd.load_register()
    checklists = rnd.checklists(primary.unit_code, register)
    fingerprint = rnd.register_fingerprint()
    valid: list[ValidUnit] = []
    problems: list[Problem] = []
    for entry in files:
        unit, found = validate_entry(entry, rules, checklists, fingerprint, register.women)
        problems += found
        if unit:
            valid.append(unit)
    problems += duplicate_units(valid)
    if problems:
        raise ChouyangError("录入被拒绝，数据库没有任何改动。请改正以下问题后重新录入", problems)
    township = dict(zip(primary.unit_code, primary.township_code))
    results = []
    with rnd.store(immediate=True) as con:
        for unit in valid:
            found_cases = unit_cases(township[unit.unit_code], checklists[unit.unit_code], unit.entries, rules)
            confirmed = sum(c["confirmed"] for c in found_cases)
            results.append(_store_unit(rnd, con, unit, replace, (confirmed, len(found_cases) - confirmed), user))
        if also is not None:
            also(con)
    return results


def _store_unit(rnd: Round, con, unit: ValidUnit, replace: bool, counts: tuple[int, int],
                user: str | None = None) -> IngestResult:
    """Store one validated unit: unchanged content is a no-op, different content needs `replace`."""
    digest = unit.content_sha256()
    old = stored_digest(con, unit.unit_code)
    if old == digest:
        return IngestResult(unit.unit_code, unit.source, "unchanged", *counts)
    if old and not replace:
        raise ChouyangError(f"样本点 {unit.unit_code} 已经录入过不同的内容（{unit.source}）。"
                            "如确需用新内容替换，请加 --replace（旧值会保留在日志中）。数据库没有任何改动。")
    changes = entry_changes(stored_entries(con, unit.unit_code), unit.entries) if old else []
    store_entries(con, unit.unit_code, unit.entries, digest, unit.source)
    rnd.log("ingest_replace" if old else "ingest",
            {"unit_code": unit.unit_code, "source": unit.source, "content_sha256": digest, "changes": changes}, con,
            user=user)
    return IngestResult(unit.unit_code, unit.source, "replaced" if old else "new", *counts, changes=len(changes))


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
    """Read scans of this round's forms; writes scan/<unit>.xlsx, scan/review/, scan/unassigned/."""
    rnd.require_unchanged_since_draw()
    layouts = rnd.layouts()
    out = rnd.scan_dir
    (out / "review").mkdir(parents=True, exist_ok=True)
    (out / "unassigned").mkdir(parents=True, exist_ok=True)
    reads = read_files(files, rnd.secret(), rnd.rules().round.id, layouts, out / "unassigned", progress, workers)
    picked = pick_pages(reads)
    review, marks = {}, 0
    for unit, unit_reads in picked.units.items():
        marks += sum(count_marks(r) for r in unit_reads)
        review[unit] = _write_scan_unit(rnd, unit, unit_reads, layouts[unit]["page_size"][0])
    missing = picked.missing()
    summary = ScanSummary(len(reads), {u: len(r) for u, r in picked.units.items()}, picked.rejected,
                          picked.duplicates, missing, review, marks)
    rnd.log("scan", {"files": [str(f) for f in files], "pages": len(reads), "units": summary.units,
                     "rejected": picked.rejected, "duplicates": picked.duplicates,
                     "missing": {u: m for u, m in missing.items() if m}, "review": review})
    if not any((out / "unassigned").iterdir()):
        (out / "unassigned").rmdir()
    return summary


def _write_scan_unit(rnd: Round, unit: str, reads: list, width_mm: float) -> int:
    """scan/<unit>.xlsx (the entry workbook with what was read), its review list and crops."""
    out = rnd.scan_dir
    wb = openpyxl.load_workbook(rnd.entry_dir / f"{unit}.xlsx")
    items = fill_workbook(wb, reads)
    for item in items:
        save_review_crop(item, width_mm, out / "review")
    for read in reads:
        read.image = None  # free the page images of this unit
    wb.save(out / f"{unit}.xlsx")
    with open(out / "review" / f"{unit}.csv", "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, REVIEW_COLUMNS)
        writer.writeheader()
        writer.writerows(item.as_row() for item in items)
    return len(items)


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


def score_round(rnd: Round, partial: bool = False) -> ScoreResult:
    """Score the round's entered results (no files written)."""
    rnd.require_unchanged_since_draw()
    rules = rnd.rules()
    entries = _entries_or_refuse(rnd, partial)
    register = rnd.load_register()
    found = cases(rnd, rules, register, entries)
    # Withdrawn (撤销) cases count nowhere: their rows are left out of what the correction ratios see.
    return score_data(rules, rnd.frame(), rnd.sample(), register, feedback.scoring_entries(entries, found), found)


def score(rnd: Round, partial: bool = False, user: str | None = None) -> ScoreResult:
    """Score the round and write report/cases.csv, townships.csv, county.csv, report.xlsx, report.pdf."""
    result = score_round(rnd, partial)
    rules = rnd.rules()
    folder = rnd.report_dir
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
