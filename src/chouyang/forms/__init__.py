"""Survey forms (PDF with QR codes) and entry workbooks for every sample point (SPEC §2.3, §4)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .. import vocab
from ..checklist import unit_checklists
from ..draw import read_sample
from ..pdf import subset_font
from .layout import load_layout
from .render import FormRenderer, UnitForm, blank_rows_for
from .workbook import write_entry_workbook


def _plan_lookup(rnd) -> dict[str, tuple[str, str]]:
    if not rnd.plan_path.exists():
        return {}
    plan = pd.read_csv(rnd.plan_path, dtype=str)
    out = {}
    for unit, group in plan.groupby("unit_code"):
        out[unit] = (f"第 {group.team_id.iloc[0]} 组", "、".join(sorted(group.date)))
    return out


def round_units(rnd):
    """Everything needed to print the round's forms: (rules, sample primaries, checklists)."""
    rules = rnd.rules()
    sample = read_sample(rnd.sample_path)
    primary = sample[sample.role == "primary"].reset_index(drop=True)
    register = rnd.load_register()
    checklists = unit_checklists(register, primary.unit_code, rules.round.reference_start,
                                 rules.round.reference_end)
    return rules, primary, checklists


def _font_text(rules, primary, checklists, layout) -> str:
    """Every character the forms can print that comes from data: names, titles, the round name."""
    parts = [rules.round.name, layout.form["title"],
             json.dumps([s.title for s in layout.sections], ensure_ascii=False)]
    parts += list(primary.township_name) + list(primary.unit_name)
    for cl in checklists.values():
        for table in cl.sections.values():
            for col in ("name", "mother_name", "child_name", "program", "household_no"):
                if col in table.columns:
                    parts.append("".join(map(str, table[col])))
    return "".join(parts)


def _fixed_text() -> str:
    """The renderer's and vocabularies' literal wording (read from their source files)."""
    from . import render

    sources = [Path(render.__file__), Path(vocab.__file__), Path(__file__)]
    return "".join(p.read_text(encoding="utf-8") for p in sources)


_WORKER: dict = {}


def _init_worker(secret: bytes, font) -> None:
    _WORKER["renderer"] = FormRenderer(load_layout(), secret, font)


def _render_unit(job: dict) -> int:
    """Worker: one unit's PDF, layout record and entry workbook; returns its page count."""
    renderer: FormRenderer = _WORKER["renderer"]
    form: UnitForm = job["form"]
    record = renderer.render(form, job["pdf"])
    Path(job["layout"]).write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    write_entry_workbook(job["xlsx"], round_id=form.round_id, round_name=form.round_name,
                         unit_code=form.unit_code, unit_name=form.unit_name,
                         township_name=form.township_name, register_fingerprint=job["fingerprint"],
                         form_code=renderer.layout.code, checklist=form.checklist,
                         blank_rows=form.blank_rows)
    return len(record["pages"])


def make_forms(rnd, progress=None, workers: int | None = None) -> dict:
    """Write forms/<unit>.pdf, forms/<unit>.layout.json and entry/<unit>.xlsx for every primary point.

    Units are rendered by a pool of worker processes (one per core by default),
    with at most two units per worker in flight, so memory stays flat however
    many sample points a round has.
    """
    rnd.require_unchanged_since_draw()
    layout = load_layout()
    rules, primary, checklists = round_units(rnd)
    plan = _plan_lookup(rnd)
    font = subset_font(_font_text(rules, primary, checklists, layout), _fixed_text())
    forms_dir, entry_dir = rnd.path / "forms", rnd.path / "entry"
    forms_dir.mkdir(exist_ok=True)
    entry_dir.mkdir(exist_ok=True)
    fingerprint = rnd.register_fingerprint()
    period = f"{rules.round.reference_start} 至 {rules.round.reference_end}"

    def jobs():
        for unit in primary.itertuples():
            cl = checklists[unit.unit_code]
            team, days = plan.get(unit.unit_code, ("（未安排）", "（未安排）"))
            form = UnitForm(rules.round.id, rules.round.name, unit.township_name, unit.unit_code,
                            unit.unit_name, period, team, days, rules.confirmation.min_witnesses,
                            rules.confirmation.require_verified, cl,
                            blank_rows_for(cl.count("women_check"), layout))
            yield {"form": form, "pdf": str(forms_dir / f"{unit.unit_code}.pdf"),
                   "layout": str(forms_dir / f"{unit.unit_code}.layout.json"),
                   "xlsx": str(entry_dir / f"{unit.unit_code}.xlsx"), "fingerprint": fingerprint}

    pages = run_pool(_render_unit, jobs(), _init_worker, (rnd.secret(), font), progress, workers)
    summary = {"units": len(primary), "pages": pages, "plan_used": bool(plan)}
    rnd.log("forms", summary)
    return summary


def run_pool(func, jobs, initializer, initargs, progress=None, workers: int | None = None) -> int:
    """Run func over jobs in worker processes with a bounded window; returns the sum of results."""
    import os
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    workers = workers or min(4, os.cpu_count() or 1)
    total = 0
    if workers == 1:
        initializer(*initargs)
        for job in jobs:
            total += (n := func(job))
            if progress:
                progress(n)
        return total
    with ProcessPoolExecutor(workers, initializer=initializer, initargs=initargs) as pool:
        pending = set()
        for job in jobs:
            pending.add(pool.submit(func, job))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    total += (n := fut.result())
                    if progress:
                        progress(n)
        for fut in pending:
            total += (n := fut.result())
            if progress:
                progress(n)
    return total
