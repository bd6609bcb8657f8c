"""The dashboard (进度): per team and day, and per township; the page polls its tables as a fragment."""

from __future__ import annotations

import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chouyang.serve import workstation
from chouyang.serve.app import render, state_of
from chouyang.serve.views import EMPTY, text
from chouyang.survey import progress

# --- presenters --------------------------------------------------------------------------

def progress_table(table: pd.DataFrame, keys: list[str]) -> dict:
    heads = [progress.LABELS[k] for k in keys] + [progress.LABELS[c] for c in progress.COUNT_COLUMNS
                                                   if c in progress.LABELS]
    rows = []
    for r in table.to_dict("records"):
        cells = [text(r[k]) or EMPTY for k in keys]
        cells += [_pages(r) if c == "pages_received" else text(r[c]) for c in progress.COUNT_COLUMNS
                  if c in progress.LABELS]
        rows.append({"cells": cells, "done": r["entered"] == r["points"], "township": r.get("township_code", "")})
    return {"heads": heads, "rows": rows}


def _pages(r: dict) -> str:
    expected = r["pages_expected"]
    if expected is pd.NA or expected is None:
        return text(r["pages_received"])
    return f"{r['pages_received']}/{expected}"


# --- routes ------------------------------------------------------------------------------

def _progress(request: Request) -> workstation.Progress:
    """The dashboard's tables, recomputed only when the store, scans or forms changed."""
    state = state_of(request)
    with state.progress_lock:
        key = workstation.progress_fingerprint(state.round)
        if state.progress_cache is None or state.progress_cache[0] != key:
            state.progress_cache = (key, workstation.progress_view(state.round))
        return state.progress_cache[1]


def _progress_context(p: workstation.Progress) -> dict:
    return {"by_team": progress_table(p.by_team_day, ["team_id", "date", "township_name"]),
            "by_township": progress_table(p.by_township, ["township_name"]),
            "totals": {k: text(v) for k, v in p.totals.items()}}


async def progress_page(request: Request) -> Response:
    p = await run_in_threadpool(_progress, request)
    return render(request, "progress.html", {**_progress_context(p), "poll_ms": state_of(request).poll_ms})


async def progress_fragment(request: Request) -> Response:
    p = await run_in_threadpool(_progress, request)
    return render(request, "_progress_tables.html", _progress_context(p))


def routes() -> list[Route]:
    return [
        Route("/progress", progress_page),
        Route("/progress/tables", progress_fragment),
    ]
