"""Survey forms (PDF with QR codes) and entry workbooks for every sample point (SPEC §2.3, §4).

The forms step (steps.py) loads the round and hands this renderer tables:
`unit_forms` builds one `UnitForm` per primary point, `form_font` cuts the font
once for the whole job, and `render_units` renders PDF, layout record and entry
workbook of each unit in worker processes (pool.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from chouyang import vocab
from chouyang.atomic import atomic_path, write_text
from chouyang.pool import map_in_workers
from chouyang.render import survey_pdf as render
from chouyang.render.layout import FormLayout, load_layout
from chouyang.render.pdf import FontFile, subset_font
from chouyang.render.survey_pdf import FormRenderer, UnitForm, blank_rows_for
from chouyang.render.survey_workbook import write_entry_workbook


def plan_lookup(plan: pd.DataFrame | None) -> dict[str, tuple[str, str]]:
    """Team and survey days of each unit, as printed on the cover ("第 01 组", "2016-07-26、2016-07-27")."""
    if plan is None:
        return {}
    return {unit: (f"第 {group.team_id.iloc[0]} 组", "、".join(sorted(group.date)))
            for unit, group in plan.groupby("unit_code")}


def unit_forms(rules, primary: pd.DataFrame, checklists: dict, plan: pd.DataFrame | None,
               layout: FormLayout) -> list[UnitForm]:
    """One form per primary point, in sample order."""
    teams = plan_lookup(plan)
    period = f"{rules.round.reference_start} 至 {rules.round.reference_end}"
    forms = []
    for unit in primary.itertuples():
        cl = checklists[unit.unit_code]
        team, days = teams.get(unit.unit_code, ("（未安排）", "（未安排）"))
        forms.append(UnitForm(rules.round.id, rules.round.name, unit.township_name, unit.unit_code,
                              unit.unit_name, period, team, days, rules.confirmation.min_witnesses,
                              rules.confirmation.require_verified, cl,
                              blank_rows_for(cl.count("women_check"), layout)))
    return forms


def font_text(rules, primary, checklists, layout) -> str:
    """Every character the forms can print that comes from data: names, titles, the round name."""
    parts = [rules.round.name, layout.form["title"],
             json.dumps([s.title for s in layout.sections], ensure_ascii=False)]
    # column and option labels come from the instrument's definition, not from a source file
    parts += [c.label + "".join(o.label for o in c.options) for s in layout.sections for c in s.columns]
    parts += list(primary.township_name) + list(primary.unit_name)
    for cl in checklists.values():
        for table in cl.sections.values():
            for col in ("name", "mother_name", "child_name", "program", "household_no"):
                if col in table.columns:
                    parts.append("".join(map(str, table[col])))
    return "".join(parts)


def fixed_text() -> str:
    """The renderer's and vocabularies' literal wording (read from their source files)."""
    sources = [Path(render.__file__), Path(vocab.__file__), Path(__file__)]
    return "".join(p.read_text(encoding="utf-8") for p in sources)


def form_font(rules, primary, checklists, layout) -> FontFile:
    """The font cut once to every character this job's forms can print."""
    return subset_font(font_text(rules, primary, checklists, layout), fixed_text())


_WORKER: dict = {}


def _init_worker(secret: bytes, font: FontFile) -> None:
    _WORKER["renderer"] = FormRenderer(load_layout(), secret, font)


def _render_unit(job: dict) -> int:
    """Worker: one unit's PDF, layout record and entry workbook; returns its page count."""
    renderer: FormRenderer = _WORKER["renderer"]
    form: UnitForm = job["form"]
    with atomic_path(Path(job["pdf"])) as tmp:
        record = renderer.render(form, tmp)
    write_text(Path(job["layout"]), json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    write_entry_workbook(job["xlsx"], round_id=form.round_id, round_name=form.round_name,
                         unit_code=form.unit_code, unit_name=form.unit_name,
                         township_name=form.township_name, register_fingerprint=job["fingerprint"],
                         form_code=renderer.layout.code, checklist=form.checklist,
                         blank_rows=form.blank_rows)
    return len(record["pages"])


def render_units(forms: list[UnitForm], forms_dir: Path, entry_dir: Path, secret: bytes, font: FontFile,
                 register_fingerprint: str, progress=None, workers: int | None = None) -> int:
    """Write forms/<unit>.pdf, forms/<unit>.layout.json and entry/<unit>.xlsx; returns the pages written.

    Each file appears whole or not at all (chouyang.atomic): a killed run leaves no truncated file.
    """
    forms_dir.mkdir(exist_ok=True)
    entry_dir.mkdir(exist_ok=True)
    jobs = ({"form": form, "pdf": str(forms_dir / f"{form.unit_code}.pdf"),
             "layout": str(forms_dir / f"{form.unit_code}.layout.json"),
             "xlsx": str(entry_dir / f"{form.unit_code}.xlsx"), "fingerprint": register_fingerprint}
            for form in forms)
    pages = 0
    for n in map_in_workers(_render_unit, jobs, _init_worker, (secret, font), workers):
        pages += n
        if progress:
            progress(n)
    return pages
