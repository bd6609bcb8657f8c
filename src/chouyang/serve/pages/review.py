"""The review queue (核对): one flagged row of a scanned form at a time, its crop beside the values read."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from chouyang import vocab
from chouyang.entry import keyed
from chouyang.errors import ChouyangError
from chouyang.inputs.readers import mask_id
from chouyang.scan import review
from chouyang.serve import workstation
from chouyang.serve.app import flash, guarded, render, round_of, see_other, unit_of, user_of
from chouyang.serve.views import ingest_words, shown

_CROP = re.compile(r"[\w.\-]{1,120}\.png")  # a crop file name (it names a file under scan/review/)


# --- presenters --------------------------------------------------------------------------

@dataclass
class FieldView:
    key: str
    label: str
    kind: str
    options: list[tuple[str, str, str, bool, str]]  # (key to press, label, stored value, chosen, mark as read)
    value: str  # chosen (or read) value; masked for ID numbers
    read: str
    confidence: str
    doubtful: bool
    placeholder: str = ""


def option_keys(options) -> list[str]:
    """The key that picks each option: its own digit on a number scale (0 1 2 3 4 5+), else 1, 2, 3, …"""
    leading = [o.label[:1] for o in options]
    if all(d.isdigit() for d in leading) and len(set(leading)) == len(leading):
        return leading
    return [str(n) for n in range(1, len(options) + 1)]


def review_fields(item: review.Item, decision: review.Decision | None) -> list[FieldView]:
    chosen = decision.values if decision is not None and decision.state == review.ACCEPTED else item.read_values()
    out = []
    for f in item.fields:
        value = chosen.get(f.key, "")
        marks = list(f.marks) + [""] * (len(f.options) - len(f.marks))
        options = [(k, o.label, o.value, o.value == value, review.MARK_WORDS.get(m, ""))
                   for k, o, m in zip(option_keys(f.options), f.options, marks)]
        confidence = "" if f.confidence is None else f"{100 * f.confidence:.0f}%"
        is_id = f.key in keyed.ID_KEYS
        out.append(FieldView(f.key, vocab.label_for(item.sheet, f.key), f.kind, options, "" if is_id else value,
                             shown(f.key, f.value) if f.value else ("（有手写内容）" if f.written else "（未读出）"),
                             confidence,
                             f.confidence is not None and f.confidence < 0.9,
                             mask_id(value) if is_id and value else ""))
    return out


# --- routes ------------------------------------------------------------------------------

async def review_index(request: Request) -> Response:
    units = await run_in_threadpool(workstation.review_overview, round_of(request))
    return render(request, "review_index.html", {"units": units})


async def review_unit(request: Request) -> Response:
    unit = unit_of(request)
    state = await run_in_threadpool(workstation.review_state, round_of(request), unit)
    nxt = state.next_open()
    if nxt is None:
        return render(request, "review_done.html", {"unit": unit, "items": len(state.items)})
    return see_other(f"/review/{unit}/{nxt.id}")


async def review_item(request: Request) -> Response:
    unit, item_id = unit_of(request), request.path_params["item"]
    state = await run_in_threadpool(workstation.review_state, round_of(request), unit)
    item = state.item(item_id)
    ids = [i.id for i in state.items]
    at = ids.index(item.id)
    decision = state.decisions.get(item.id)
    return render(request, "review_item.html", {
        "unit": unit, "item": item, "fields": review_fields(item, decision), "decision": decision,
        "position": at + 1, "count": len(ids), "open": len(state.open_items()),
        "prev": ids[at - 1] if at > 0 else "", "next": ids[at + 1] if at + 1 < len(ids) else "",
        "sheet": vocab.SHEETS[item.sheet]})


async def review_post(request: Request, form) -> Response:
    unit, item_id = unit_of(request), request.path_params["item"]
    illegible = form.get("illegible") == "1"
    result = await run_in_threadpool(workstation.review_decide, round_of(request), unit, item_id, form, illegible,
                                     user_of(request))
    if result.ingest_error is not None:
        return await _review_refused(request, unit, result.ingest_error)
    if result.ingested:
        flash(request, f"样本点 {unit} 核对完毕，已录入（{ingest_words(result.ingested)}）")
        return see_other("/review")
    if result.next_item:
        return see_other(f"/review/{unit}/{result.next_item}")
    return see_other(f"/review/{unit}")


async def review_ingest_post(request: Request, form) -> Response:
    unit = unit_of(request)
    try:
        results = await run_in_threadpool(workstation.review_ingest, round_of(request), unit, user_of(request),
                                          form.get("replace") == "1")
    except ChouyangError as exc:
        return await _review_refused(request, unit, exc)
    flash(request, f"样本点 {unit} 已录入（{ingest_words(results)}）")
    return see_other("/review")


async def _review_refused(request: Request, unit: str, error: ChouyangError) -> Response:
    """The reviewed workbook was refused: say why, and offer to replace results stored earlier."""
    entered = await run_in_threadpool(workstation.entered_units, round_of(request))
    return render(request, "review_done.html", {"unit": unit, "error": error, "replace": unit in entered},
                  status_code=409)


async def crop(request: Request) -> Response:
    unit, name = unit_of(request), request.path_params["name"]
    items = await run_in_threadpool(workstation.review_items, round_of(request), unit)
    if not _CROP.fullmatch(name) or name not in {i.crop for i in items}:
        return Response("没有这张截图", status_code=404, media_type="text/plain; charset=utf-8")
    return FileResponse(round_of(request).scan_dir / "review" / name, media_type="image/png")


def routes() -> list[Route]:
    return [
        Route("/review", review_index),
        Route("/review/{unit}", review_unit),
        Route("/review/{unit}/ingest", guarded(review_ingest_post), methods=["POST"]),
        Route("/review/{unit}/{item}", review_item, methods=["GET"]),
        Route("/review/{unit}/{item}", guarded(review_post), methods=["POST"]),
        Route("/crops/{unit}/{name}", crop),
    ]
