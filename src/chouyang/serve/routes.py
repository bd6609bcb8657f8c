"""The route table: every page's routes (pages/, instrument_pages.py) in order, the font and the static files."""

from __future__ import annotations

from importlib.resources import files

import noto_cjk_sans_otc
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from chouyang.serve import instrument_pages
from chouyang.serve.pages import cases, entry, log, login, progress, review, score


async def cjk_font(request: Request) -> Response:
    """Noto Sans CJK from the installed font package: Chinese shows even where the PC has no Chinese font."""
    return FileResponse(str(noto_cjk_sans_otc.FONT_PATH), media_type="font/collection",
                        headers={"cache-control": "public, max-age=31536000, immutable"})


def routes() -> list:
    return [
        *login.routes(),
        *progress.routes(),
        *review.routes(),
        *entry.routes(),
        *instrument_pages.routes(),
        *cases.routes(),
        *score.routes(),
        *log.routes(),
        Route("/font/cjk.ttc", cjk_font),
        Mount("/static", StaticFiles(directory=str(files("chouyang.serve") / "static")), name="static"),
    ]
