"""The audit log (日志): every write to the round, newest first, read only."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chouyang.serve import workstation
from chouyang.serve.app import render, round_of


async def log_page(request: Request) -> Response:
    """The audit log, newest first (read only: the log is written by the steps themselves)."""
    rows, total = await run_in_threadpool(workstation.audit_rows, round_of(request))
    return render(request, "log.html", {"rows": rows, "total": total})


def routes() -> list[Route]:
    return [
        Route("/log", log_page),
    ]
