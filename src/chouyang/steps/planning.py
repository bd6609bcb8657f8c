"""The survey plan: which team visits which point on which day (plan.csv and the itinerary plan.pdf)."""

from __future__ import annotations

import pandas as pd

from chouyang.render.plan_pdf import render_plan_pdf
from chouyang.round.folder import Round
from chouyang.survey.plan import make_plan, plan_csv_bytes


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
