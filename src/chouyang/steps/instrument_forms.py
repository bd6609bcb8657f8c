"""Paper and workbooks of a round's own instruments, and reading their scanned pages (issue 18 point 2).

`chouyang forms` prints, besides the survey form, every instrument of the round's own asked once per
sample point, for every primary point, with the one engine (render/instrument_pdf.py):
    forms/<unit_code>.<NAME>.pdf, forms/<unit_code>.<NAME>.layout.json, entry/<unit_code>.<NAME>.xlsx
(the survey's forms/<unit_code>.pdf … keep their names).  A repeat over a register table gets the
point's register rows (the survey's check rows of that table, in their order and with their refs);
a register table the round does not have (benefits) leaves its repeat out.

`chouyang scan` tells an instrument's pages by the form code in their QR code; the pages of one point
become its Response (scan.instrument.interpret), written as the point's workbook filled with what was
read, scan/<unit_code>.<NAME>.xlsx, with the rows to review (write-ins, unclear marks) in
scan/review/<NAME>/<unit_code>.csv and .json and their crops beside them.  `chouyang ingest` takes
that workbook once it is checked.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from chouyang import atomic
from chouyang.instruments.model import ROWS_REGISTER, Instrument
from chouyang.round.folder import Round
from chouyang.steps.instruments import own_instruments


def point_instruments(rnd: Round) -> dict[str, Instrument]:
    """The round's own instruments that are printed per sample point."""
    return {n: i for n, i in own_instruments(rnd.path).items() if i.per == "point"}


def _text(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def subject_of(point) -> dict:
    return {"unit_code": point.unit_code, "unit_name": point.unit_name, "township_code": point.township_code,
            "township_name": point.township_name}


def register_rows(instrument: Instrument, checklist) -> dict[str, list[dict]]:
    """Per register repeat, the point's register rows (register columns as text, `ref` the check row's ref)."""
    out = {}
    for group in instrument.repeats():
        table = checklist.sections.get(f"{group.table}_check") if group.rows == ROWS_REGISTER else None
        if table is not None:
            out[group.name] = [{k: _text(v) for k, v in r.items()} for r in table.to_dict("records")]
    return out


def _jobs(rnd: Round, instrument: Instrument, checklists: dict) -> list[tuple[dict, dict]]:
    return [(subject_of(p), register_rows(instrument, checklists[p.unit_code])) for p in rnd.primaries().itertuples()]


def instrument_forms(rnd: Round, checklists: dict, workers: int | None = None) -> dict[str, dict]:
    """Pages, layout records and workbooks of every point-level instrument of the round's own, for every point."""
    from chouyang.render.instrument_pdf import instrument_font, write_instrument_pdfs
    from chouyang.render.instrument_workbook import write_instrument_workbook

    rules = rnd.rules()
    done = {}
    for name, instrument in point_instruments(rnd).items():
        jobs = _jobs(rnd, instrument, checklists)
        font = instrument_font(instrument, [s for s, _ in jobs], [r for _, r in jobs], rules.round.name)
        rnd.forms_dir.mkdir(exist_ok=True)
        rnd.entry_dir.mkdir(exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".chouyang-tmp-", dir=rnd.forms_dir))
        try:
            pages = write_instrument_pdfs(instrument, jobs, staging, rnd.secret(), rules.round.id, rules.round.name,
                                          font=font, workers=workers)
            for subject, _ in jobs:   # renamed into place one by one: each file whole
                for suffix in (".pdf", ".layout.json"):
                    os.replace(staging / f"{subject['unit_code']}{suffix}",
                               rnd.forms_dir / f"{subject['unit_code']}.{name}{suffix}")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        meta = {"round_id": rules.round.id, "round_title": rules.round.name}
        for subject, rows in jobs:
            write_instrument_workbook(instrument, subject, rows, rnd.entry_dir / f"{subject['unit_code']}.{name}.xlsx", meta)
        done[name] = {"units": len(jobs), "pages": pages}
    return done


# --- scan --------------------------------------------------------------------------------------------

def instrument_codes(rnd: Round) -> dict[str, Instrument]:
    """Form code in the QR payload -> the round's own point-level instrument."""
    return {i.code: i for i in point_instruments(rnd).values()}


@dataclass
class InstrumentScan:
    """What one scan found of the round's own instruments: name -> unit -> pages, review items, missing pages."""

    instruments: dict[str, dict[str, dict]] = field(default_factory=dict)
    rejected: list = field(default_factory=list)
    duplicates: list = field(default_factory=list)


def scan_instruments(rnd: Round, reads: list, layouts: dict) -> InstrumentScan:
    """Interpret the identified pages of the round's instruments (`reads` of those pages only) and write the
    filled workbook and review list of every point found."""
    from chouyang.scan.batch import pick_pages

    codes = instrument_codes(rnd)
    out = InstrumentScan()
    checklists = None
    for code, instrument in codes.items():
        mine = [r for r in reads if r.page_id.form_code == code]
        if not mine:
            continue
        checklists = checklists or rnd.checklists()
        picked = pick_pages(mine)
        out.duplicates += picked.duplicates
        missing = picked.missing()
        found = out.instruments.setdefault(instrument.name, {})
        for unit, unit_reads in picked.units.items():
            layout = layouts[(unit, code)]
            review = _write_point(rnd, instrument, unit, unit_reads, layout, checklists[unit])
            found[unit] = {"pages": len(unit_reads), "review": review, "missing": missing.get(unit, [])}
    return out


def _write_point(rnd: Round, instrument: Instrument, unit: str, reads: list, layout: dict, checklist) -> int:
    from chouyang.render.instrument_workbook import write_instrument_workbook
    from chouyang.scan.instrument import interpret
    from chouyang.scan.review_items import REVIEW_COLUMNS, review_json, save_review_crop

    response, items = interpret(instrument, reads, layout)
    point = rnd.primaries().set_index("unit_code").loc[unit]
    subject = {"unit_code": unit, "unit_name": point.unit_name, "township_code": point.township_code,
               "township_name": point.township_name}
    rules = rnd.rules()
    meta = {"round_id": rules.round.id, "round_title": rules.round.name, "source": response.source}
    rnd.scan_dir.mkdir(exist_ok=True)
    write_instrument_workbook(instrument, subject, register_rows(instrument, checklist),
                              rnd.scan_dir / f"{unit}.{instrument.name}.xlsx", meta, response=response)
    folder = rnd.scan_dir / "review" / instrument.name
    folder.mkdir(parents=True, exist_ok=True)
    for item in items:
        save_review_crop(item, layout["table_x"], folder)
    text = io.StringIO()
    writer = csv.DictWriter(text, REVIEW_COLUMNS)
    writer.writeheader()
    writer.writerows(item.as_row() for item in items)
    atomic.write_text(folder / f"{unit}.csv", text.getvalue(), encoding="utf-8-sig")
    atomic.write_text(folder / f"{unit}.json", review_json(layout["round_id"], unit, items))
    for read in reads:
        read.image = None
    return len(items)
