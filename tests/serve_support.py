"""Rounds for the web workstation's tests: the tiny county drawn and planned, entry workbooks, scan review files.

The entry workbooks are written directly (as `chouyang forms` writes them, without the PDFs,
which take seconds); `write_scan_review` fabricates what `chouyang scan` leaves for the review
queue: scan/<unit>.xlsx filled with what was "read", crops, and scan/review/<unit>.json.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openpyxl
import pytest
from argon2 import PasswordHasher
from PIL import Image, ImageDraw

from chouyang import steps, vocab
from chouyang.render.forms import unit_forms
from chouyang.render.layout import load_layout
from chouyang.render.survey_workbook import FIRST_ROW, column_of, ref_rows, set_values, write_entry_workbook
from chouyang.round import accounts
from chouyang.round.folder import Round
from chouyang.survey.plan import make_plan, plan_csv_bytes

from conftest import init_round, write_county

SEED = "123"  # draws 411381001201, 411381001204 (古城街道), 411381103201, 411381103202 (㴔滩镇), 411381550201
UNIT = "411381001201"  # 王秀英 (W001) with a birth (B001) and an IUD insertion (S001)
GUCHENG, TANTAN, XINGSHAN = "411381001", "411381103", "411381550"
WITNESS_OPTIONS = [{"label": str(n), "value": str(n)} for n in range(5)] + [{"label": "5+", "value": "5"}]


def make_round(folder: Path) -> Round:
    county = write_county(folder / "county")
    rnd = init_round(folder / "R", county)
    # The workstation tests key B001 as 虚报 and follow its 2 points through the pages: charge 虚报 like an
    # 一孩 错漏 here (the dengzhou preset charges it 0, as 第六篇 第1篇 names no points for it).
    rules = rnd.rules_path.read_text(encoding="utf-8")
    rnd.rules_path.write_text(rules.replace("birth_false = 0", "birth_false = 2"), encoding="utf-8")
    steps.draw(rnd, SEED)
    # plan.csv as `chouyang plan` writes it, without its PDF itinerary (seconds of font work)
    rnd.write_bytes(rnd.plan_path, plan_csv_bytes(make_plan(rnd.sample(), rnd.teams(), rnd.rules(), SEED)))
    write_entry_workbooks(rnd)
    return rnd


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """argon2 at its lowest cost in tests (the defaults take most of a second per hash here)."""
    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setattr(accounts, "_DUMMY", {})


def write_entry_workbooks(rnd: Round) -> None:
    layout = load_layout()
    rules, primary = rnd.rules(), rnd.primaries()
    rnd.entry_dir.mkdir(exist_ok=True)
    for form in unit_forms(rules, primary, rnd.checklists(primary.unit_code), rnd.plan(), layout):
        write_entry_workbook(rnd.entry_dir / f"{form.unit_code}.xlsx", round_id=form.round_id,
                             round_name=form.round_name, unit_code=form.unit_code, unit_name=form.unit_name,
                             township_name=form.township_name, register_fingerprint=rnd.register_fingerprint(),
                             form_code=layout.code, checklist=form.checklist, blank_rows=form.blank_rows)


def copy_round(rnd: Round, folder: Path) -> Round:
    shutil.copytree(rnd.path, folder)
    return Round(folder)


def all_true(rnd: Round, unit: str) -> dict[str, dict[str, str]]:
    """Every register row of a unit 属实: {sheet: {ref: {key: value}}}."""
    checklist = rnd.checklists([unit])[unit]
    return {sheet: {ref: {"result": "属实"} for ref in checklist.sections[sheet].ref}
            for sheet in vocab.CHECK_SHEETS if sheet in checklist.sections}


def write_scan_review(rnd: Round, unit: str, items: list[dict], read: dict | None = None) -> list[dict]:
    """scan/<unit>.xlsx with every register row read as 属实 (plus `read` {sheet: {ref: values}}),
    the flagged `items` (sheet, ref, fields: [(key, kind, options, value, confidence)]) written
    into the workbook as read, one crop per item, and scan/review/<unit>.json in the scan
    reader's format 1 (scan.py)."""
    folder = rnd.scan_dir / "review"
    folder.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.load_workbook(rnd.entry_dir / f"{unit}.xlsx")
    values = all_true(rnd, unit)
    for sheet, rows in (read or {}).items():
        for ref, vals in rows.items():
            values[sheet][ref] = vals
    for sheet, rows in values.items():
        ws = wb[vocab.SHEETS[sheet]]
        for ref, vals in rows.items():
            set_values(ws, column_of(ws, sheet), ref_rows(ws)[ref], vals)
    out = []
    for n, spec in enumerate(items, start=1):
        sheet, ref = spec["sheet"], spec.get("ref", "")
        ws = wb[vocab.SHEETS[sheet]]
        row = ref_rows(ws)[ref] if ref else FIRST_ROW + spec.get("blank", 0)
        fields = []
        for key, kind, options, value, confidence in spec["fields"]:
            field = {"key": key, "label": vocab.label_for(sheet, key), "kind": kind, "value": value or None,
                     "confidence": confidence}
            if kind == "ticks":
                field["options"] = [o if isinstance(o, dict) else {"label": o, "value": o} for o in options]
                field["marks"] = ["marked" if o["value"] == value else "empty" for o in field["options"]]
            else:
                field["written"] = True
            fields.append(field)
            ws.cell(row, column_of(ws, sheet)[key]).value = (int(value) if value.isdigit() else value) or None
        crop = f"{unit}_p2_{ref or 'new' + str(n)}.png"
        image = Image.new("L", (900, 60), 255)
        ImageDraw.Draw(image).rectangle((5, 5, 895, 55), outline=0)
        image.save(folder / crop)
        out.append({"sheet": sheet, "sheet_label": vocab.SHEETS[sheet], "workbook_row": row, "ref": ref or None,
                    "blank_index": None if ref else spec.get("blank", 0), "page": 2, "crop": crop,
                    "issues": spec.get("issues", ["标记不清"]), "fields": fields})
    wb.save(rnd.scan_dir / f"{unit}.xlsx")
    data = {"format": 1, "round_id": rnd.rules().round.id, "unit_code": unit, "items": out}
    (folder / f"{unit}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return out


def form_row_crop(rnd: Round, unit: str, section: str, ref: str, answers: dict, dpi: int = 200) -> Image.Image:
    """A row of the unit's real printed form, filled in by pen (chouyang.scansim) and cut out straight,
    as the scan reader's crops look (for the README's screenshot; needs `chouyang forms`)."""
    import noto_cjk_sans_otc
    import numpy as np

    from chouyang.demo.scansim import mark_page, render_page
    from chouyang.render.pdf import COLLECTION_INDEX

    layout = rnd.layouts()[unit]
    index, row = next((i, r) for i, p in enumerate(layout["pages"]) for r in p["rows"]
                      if r["section"] == section and r["ref"] == ref)
    image = render_page(rnd.forms_dir / f"{unit}.pdf", index, dpi)
    mark_page(image, layout["pages"][index], {(section, ref): answers}, dpi, np.random.default_rng(7),
              str(noto_cjk_sans_otc.FONT_PATH), COLLECTION_INDEX, stray_rate=0)
    k = dpi / 25.4
    return image.crop((int(8 * k), int((row["y"] - 1) * k), int((layout["page_size"][0] - 8) * k),
                       int((row["y"] + row["h"] + 1) * k)))
