"""Cases and feedback (个案与反馈): every case of a township with its status; the 现场反馈单 as PDF."""

from __future__ import annotations

from urllib.parse import quote

import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chouyang import steps
from chouyang.render.report import RULE_LABELS
from chouyang.serve import workstation
from chouyang.serve.app import flash, guarded, render, round_of, see_other, user_of
from chouyang.serve.views import EMPTY, text
from chouyang.survey import feedback
from chouyang.survey.feedback import TRANSITIONS
from chouyang.vocab import KIND_LABELS

# --- presenters --------------------------------------------------------------------------

def case_rows(table: pd.DataFrame, history: dict) -> list[dict]:
    rows = []
    for c in table.itertuples():
        rows.append({
            "unit_code": c.unit_code, "unit_name": c.unit_name, "ref": c.ref, "kind": KIND_LABELS[c.kind],
            "detail": c.parity or c.procedure_type or "", "witnesses": text(c.witnesses), "verified": c.verified or EMPTY,
            "counted": "撤销" if c.status == "撤销" else ("确认" if c.confirmed else "待核实"),
            "rule": RULE_LABELS.get(c.rule, c.rule), "points": text(float(c.points)), "status": c.status,
            "note": c.status_note, "next": TRANSITIONS[c.status],
            "history": [f"{h.time} {h.user}：{h.status}" + (f"（{h.comment}）" if h.comment else "")
                        for h in history.get((c.unit_code, c.ref), [])]})
    return rows


# --- routes ------------------------------------------------------------------------------

async def cases_index(request: Request) -> Response:
    table = await run_in_threadpool(workstation.case_table, round_of(request))
    primary = await run_in_threadpool(round_of(request).primaries)
    towns = []
    for code, group in primary.groupby("township_code", sort=True):
        cases = table[table.township_code == code]
        towns.append({"code": code, "name": group.township_name.iloc[0], "cases": len(cases),
                      "confirmed": int(cases.confirmed.sum()),
                      "open": int(cases.status.isin(feedback.OPEN).sum()),
                      "withdrawn": int((cases.status == feedback.WITHDRAWN).sum())})
    return render(request, "cases_index.html", {"towns": towns})


async def cases_township(request: Request) -> Response:
    code = request.path_params["township"]
    rnd = round_of(request)
    town = await run_in_threadpool(workstation.township_cases, rnd, code)
    history = await run_in_threadpool(workstation.case_history, rnd)
    return render(request, "cases_township.html", {"town": town, "rows": case_rows(town.cases, history),
                                                   "text": text})


async def case_status_post(request: Request, form) -> Response:
    code = request.path_params["township"]
    unit, ref = str(form.get("unit", "")), str(form.get("ref", ""))
    status, comment = str(form.get("status", "")), str(form.get("comment", ""))
    change = await run_in_threadpool(steps.set_case_status, round_of(request), unit, ref, status, comment,
                                     user_of(request))
    flash(request, f"个案 {unit} {ref}：{change['old']} → {change['new']}")
    return see_other(f"/cases/{quote(code)}#{unit}-{ref}")


async def feedback_pdf(request: Request) -> Response:
    code = request.path_params["township"]
    data = await run_in_threadpool(workstation.feedback_pdf, round_of(request), code)
    return Response(data, media_type="application/pdf",
                    headers={"content-disposition": f'inline; filename="feedback-{code}.pdf"'})


def routes() -> list[Route]:
    return [
        Route("/cases", cases_index),
        Route("/cases/{township}", cases_township),
        Route("/cases/{township}/status", guarded(case_status_post), methods=["POST"]),
        Route("/cases/{township}/feedback.pdf", feedback_pdf),
    ]
