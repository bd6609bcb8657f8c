"""Entering results: validate survey entries and assessment checklists, store them in one transaction (ingest),
and write a unit's stored entries back out (export_unit)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from chouyang.entry.checklist import ValidChecklist, duplicate_townships, survey_computed, validate_checklist
from chouyang.entry.ingest import IngestResult, ValidUnit, duplicate_units, entry_changes, validate_entry
from chouyang.errors import ChouyangError, Problem
from chouyang.render.checklist_workbook import is_checklist_workbook, read_checklist_workbook
from chouyang.render.survey_workbook import EntryFile, read_entry, write_csv_folder
from chouyang.round.folder import Round, utc_now
from chouyang.round.store import store_assessment, store_entries, stored_assessment, stored_digest, stored_entries
from chouyang.steps.instrument_ingest import instrument_workbook_name, read_workbooks, store_all
from chouyang.steps.townships import assessment_townships
from chouyang.survey.cases import unit_cases


def ingest(rnd: Round, paths: list[Path], replace: bool = False, user: str | None = None) -> list[IngestResult]:
    """Validate every path, then store all of them in one transaction (or nothing).

    A path is a survey entry workbook (or CSV folder) of a sample point, or a township's
    assessment checklist workbook (chouyang checklist); both kinds may be given together.
    """
    paths = [Path(p) for p in paths]
    checklist_paths = [p for p in paths if is_checklist_workbook(p)]
    instrument_paths = [p for p in paths if p not in checklist_paths and instrument_workbook_name(p)]
    survey = [read_entry(p) for p in paths if p not in checklist_paths and p not in instrument_paths]
    return ingest_entries(rnd, survey, replace, user, checklist_paths=checklist_paths, instrument_paths=instrument_paths)


def ingest_entries(rnd: Round, files: list[EntryFile], replace: bool = False, user: str | None = None,
                   also=None, checklist_paths: list[Path] = (), instrument_paths: list[Path] = ()) -> list[IngestResult]:
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
    responses, found = read_workbooks(rnd, list(instrument_paths)) if instrument_paths else ([], [])
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
        results += store_all(rnd, responses, replace, user, con)   # a round's own instruments' workbooks
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
    store_assessment(con, entry.township_code, entry.data, digest, entry.source, utc_now())
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
    store_entries(con, unit.unit_code, unit.entries, digest, unit.source, utc_now())
    rnd.log("ingest_replace" if old else "ingest",
            {"unit_code": unit.unit_code, "source": unit.source, "content_sha256": digest, "changes": changes,
             "warnings": [str(w) for w in warnings]}, con, user=user)
    return IngestResult(unit.unit_code, unit.source, "replaced" if old else "new", *counts, changes=len(changes),
                        warnings=warnings)


def export_unit(rnd: Round, unit_code: str, folder: Path) -> Path:
    """Write a unit's stored entries as a CSV folder that `ingest` accepts (keys as headers)."""
    entries = rnd.entries().get(unit_code)
    if entries is None:
        raise ChouyangError(f"样本点 {unit_code} 还没有录入结果")
    meta = {"round_id": rnd.rules().round.id, "unit_code": unit_code,
            "register_fingerprint": rnd.register_fingerprint()}
    return write_csv_folder(folder, meta, entries)
