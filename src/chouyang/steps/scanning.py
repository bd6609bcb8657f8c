"""Reading scans of the printed forms and checklists back into workbooks, with lists for a person to review."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl

from chouyang import atomic
from chouyang.errors import ChouyangError, Problem
from chouyang.round.folder import Round
from chouyang.scan.batch import ScanSummary, pick_pages, read_files
from chouyang.scan.checklist import fill_checklist_scan
from chouyang.scan.pages import count_marks, load_layouts
from chouyang.scan.review_items import REVIEW_COLUMNS, fill_workbook, review_json, save_review_crop
from chouyang.steps.instrument_forms import instrument_codes, scan_instruments
from chouyang.xlsx import save_workbook


def scan(rnd: Round, files, progress=None, workers: int | None = None) -> ScanSummary:
    """Read scans of this round's forms and checklists (in any mix); writes scan/<unit>.xlsx, scan/review/,
    scan/checklist/<township>.xlsx, scan/checklist/review/ and scan/unassigned/.

    A file that is no readable PDF or image is reported and the others are read; when no file
    can be read at all, nothing is written and the error names every file.
    """
    rnd.require_unchanged_since_draw()
    layouts = load_layouts(rnd.forms_dir)   # the survey's by unit; a round instrument's by (unit, form code)
    checklists = load_layouts(rnd.checklist_dir, "chouyang checklist")  # townships' pages, told apart by their QR
    out = rnd.scan_dir
    reads = read_files(files, rnd.secret(), rnd.rules().round.id, layouts | checklists, out / "unassigned",
                       progress, workers)
    _refuse_when_nothing_read(reads)
    (out / "review").mkdir(parents=True, exist_ok=True)
    own, others = _split(reads, instrument_codes(rnd))
    picked = pick_pages(others)
    review, listed, marks = _write_scan_results(rnd, picked, layouts, checklists)
    found = scan_instruments(rnd, own, layouts)
    marks += sum(count_marks(r) for r in own)
    summary = ScanSummary(len(reads), {u: len(r) for u, r in picked.units.items() if u not in checklists},
                          picked.rejected, picked.duplicates + found.duplicates, picked.missing(), review, marks,
                          {u: len(r) for u, r in picked.units.items() if u in checklists}, listed)
    summary.instruments = found.instruments   # what the CLI and the log say of the round's own instruments
    rnd.log("scan", _scan_log(files, summary) | ({"instruments": found.instruments} if found.instruments else {}))
    return summary


def _split(reads: list, codes) -> tuple[list, list]:
    """(identified pages of the round's own instruments, every other read)."""
    own = [r for r in reads if not r.problem and r.page_id.form_code in codes]
    mine = {id(r) for r in own}
    return own, [r for r in reads if id(r) not in mine]


def _refuse_when_nothing_read(reads: list) -> None:
    """Some unreadable files are reported with the rest; all of them unreadable is an error naming each."""
    bad = [r for r in reads if r.problem == "bad_file"]
    if reads and len(bad) == len(reads):
        raise ChouyangError("没有可识别的扫描文件，没有写入任何识别结果",
                            [Problem(r.source, r.detail) for r in bad])


def _write_scan_results(rnd: Round, picked, layouts: dict, checklists: dict) -> tuple[dict, dict, int]:
    """Each unit's and township's workbook and review list; returns the items to review of units and of
    townships, and the marks read."""
    review, listed, marks = {}, {}, 0
    for unit, unit_reads in picked.units.items():
        marks += sum(count_marks(r) for r in unit_reads)
        if unit in checklists:
            listed[unit] = _write_scan_checklist(rnd, unit, unit_reads, checklists[unit])
        else:
            review[unit] = _write_scan_unit(rnd, unit, unit_reads, layouts[unit])
    return review, listed, marks


def _scan_log(files, summary: ScanSummary) -> dict:
    """What the log keeps of a scan: the files, what was found in them and what is left to review."""
    return {"files": [str(f) for f in files], "pages": summary.pages, "units": summary.units,
            "checklists": summary.checklists, "rejected": [r[:3] for r in summary.rejected],
            "duplicates": summary.duplicates, "missing": {u: m for u, m in summary.missing.items() if m},
            "review": summary.review, "checklist_review": summary.checklist_review}


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
