"""Scoring and the report (计分与报告): runs the score, shows the ranking and two SVG charts, serves the files."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from chouyang import steps
from chouyang.render.report import METRIC_LABELS
from chouyang.serve import workstation
from chouyang.serve.app import flash, guarded, render, round_of, see_other, user_of
from chouyang.serve.views import EMPTY, pct, text
from chouyang.survey.estimate import RATES

# --- presenters --------------------------------------------------------------------------

def ranking_rows(towns: pd.DataFrame) -> list[list[str]]:
    return [[text(r.rank), r.township_name, text(r.points), text(r.cases_confirmed), text(r.cases_pending),
             text(r.deduction_raw), text(r.deduction), pct(r.birth_error_rate), pct(r.statistical_error_rate),
             "" if pd.isna(r.flag) else str(r.flag)] for r in towns.itertuples()]


@dataclass
class Bar:
    label: str
    y: float
    width: float
    value: str
    capped: bool


def deduction_chart(towns: pd.DataFrame, cap: float, width: float = 420.0, bar: float = 16.0) -> dict:
    """Horizontal bars of each township's deduction (after the cap), with the cap as a line."""
    towns = towns.sort_values("township_code")
    top = max(cap, float(towns.deduction.max() if len(towns) else 0) or 1.0)
    scale = width / top
    bars = [Bar(r.township_name, i * (bar + 6), r.deduction * scale, f"{r.deduction:g}", r.deduction_raw > r.deduction)
            for i, r in enumerate(towns.itertuples())]
    return {"bars": bars, "cap_x": cap * scale, "cap": f"{cap:g}", "height": len(bars) * (bar + 6), "bar": bar,
            "width": width}


def rate_chart(county: pd.DataFrame, width: float = 420.0) -> dict:
    """County error rates: a dot for the estimate and a line for its 95% interval."""
    rates = county[county.metric.isin(list(RATES))]
    top = max(float(rates.ci_high.max(skipna=True)) if rates.ci_high.notna().any() else 0.01, 0.01)
    scale = width / top
    rows = []
    for i, r in enumerate(rates.itertuples()):
        known = not pd.isna(r.estimate)
        rows.append({"label": METRIC_LABELS.get(r.metric, r.metric), "y": i * 24 + 12, "known": known,
                     "x": r.estimate * scale if known else 0, "low": (r.ci_low if known else 0) * scale,
                     "high": (r.ci_high if known else 0) * scale,
                     "text": f"{pct(r.estimate)}（{pct(r.ci_low)}–{pct(r.ci_high)}）" if known else EMPTY})
    return {"rows": rows, "height": len(rows) * 24 + 10, "width": width, "top": pct(top)}


# --- routes ------------------------------------------------------------------------------

async def score_page(request: Request) -> Response:
    rnd = round_of(request)
    report = await run_in_threadpool(workstation.report_view, rnd)
    context: dict = {"report": report}
    if report is not None:
        cap = float((await run_in_threadpool(rnd.rules)).deductions.cap)
        context.update(ranking=ranking_rows(report.townships),
                       deductions=deduction_chart(report.townships, cap),
                       rates=rate_chart(report.county))
    return render(request, "score.html", context)


async def score_post(request: Request, form) -> Response:
    result = await run_in_threadpool(steps.score, round_of(request), form.get("partial") == "1", user=user_of(request))
    t = result.townships
    missing = f"；{len(result.missing_units)} 个样本点未录入，未计入" if result.missing_units else ""
    flash(request, f"计分完成：{len(t)} 个乡镇，确认误差 {int(t.cases_confirmed.sum())} 例，"
                    f"扣分合计 {t.deduction.sum():g} 分{missing}")
    return see_other("/score")


async def report_download(request: Request) -> Response:
    path = await run_in_threadpool(workstation.report_file, round_of(request), request.path_params["name"])
    return FileResponse(path, filename=path.name)


def routes() -> list[Route]:
    return [
        Route("/score", score_page, methods=["GET"]),
        Route("/score", guarded(score_post), methods=["POST"]),
        Route("/report/{name}", report_download),
    ]
