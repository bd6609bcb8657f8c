"""What is printed for the field: the survey forms of every sample point and every township's assessment checklist."""

from __future__ import annotations

from chouyang.errors import ChouyangError
from chouyang.render.checklist_pdf import ChecklistForm, checklist_rows, write_checklist_pdfs
from chouyang.render.checklist_workbook import write_checklist_workbook
from chouyang.render.forms import form_font, render_units, unit_forms
from chouyang.render.layout import load_layout
from chouyang.round.folder import Round
from chouyang.steps.instrument_forms import instrument_forms
from chouyang.steps.townships import assessment_townships


def forms(rnd: Round, progress=None, workers: int | None = None) -> dict:
    """Write forms/<unit>.pdf, forms/<unit>.layout.json and entry/<unit>.xlsx for every primary point, and
    forms/<unit>.<NAME>.pdf, .layout.json and entry/<unit>.<NAME>.xlsx of the round's own instruments.

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
    own = instrument_forms(rnd, checklists, workers)   # the round's own instruments, per point
    if own:   # (a round without any logs what it always did)
        summary["instruments"] = own
    rnd.log("forms", summary)
    return summary


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
