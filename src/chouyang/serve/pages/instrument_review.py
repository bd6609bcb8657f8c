"""The review queue (核对) for the round's own instruments' scanned pages: the survey's screens, any instrument.

/review/i/<NAME>/<unit>[/<item>] and /crops/i/<NAME>/<unit>/<crop>: the same item page, keys, CSRF and log as
pages/review.py; the decisions go into scan/<unit>.<NAME>.xlsx (workstation/instrument_review.py).
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from chouyang.errors import ChouyangError
from chouyang.scan import instrument_review as adapter
from chouyang.scan import review
from chouyang.serve.app import flash, guarded, render, round_of, see_other, unit_of, user_of
from chouyang.serve.pages.review import _CROP, FieldView, option_keys
from chouyang.serve.workstation import instrument_review as steps

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")   # an instrument's name (it names a folder under scan/review/)


_STATUS = {"new": "新录入", "unchanged": "内容相同，未改动", "replaced": "已替换"}


def ingest_words(results) -> str:
    """What became of the response (steps.instrument_ingest.InstrumentIngest has no error counts)."""
    return "；".join(_STATUS.get(r.status, r.status) for r in results)


def name_of(request: Request) -> str:
    name = request.path_params["name"]
    if not _NAME.fullmatch(name):
        raise ChouyangError(f"调查表名称无效：{name}")
    return name


def _base(name: str, unit: str) -> str:
    return f"/review/i/{name}/{unit}"


def _read_words(f: review.Field) -> str:
    """What the reader saw, in words: the options' labels, else whether there is ink to key."""
    if not f.value:
        return "（有手写内容）" if f.written else "（未读出）"
    read = set(f.value.split()) if f.kind == adapter.MULTIPLE else {f.value}
    return " ".join(o.label for o in f.options if o.value in read) or f.value


def _field_view(f: review.Field, value: str, labels: dict[str, str]) -> FieldView:
    picked = set(value.split()) if f.kind == adapter.MULTIPLE else {value}
    marks = list(f.marks) + [""] * (len(f.options) - len(f.marks))
    options = [(k, o.label, o.value, o.value in picked, review.MARK_WORDS.get(m, ""))
               for k, o, m in zip(option_keys(f.options), f.options, marks)]
    confidence = "" if f.confidence is None else f"{100 * f.confidence:.0f}%"
    return FieldView(f.key, labels.get(f.key, f.key), f.kind, options, value, _read_words(f), confidence,
                     f.confidence is not None and f.confidence < 0.9)


def instrument_fields(item: review.Item, decision: review.Decision | None, labels: dict[str, str]) -> list[FieldView]:
    chosen = decision.values if decision is not None and decision.state == review.ACCEPTED else item.read_values()
    return [_field_view(f, chosen.get(f.key, ""), labels) for f in item.fields]


async def review_unit(request: Request) -> Response:
    name, unit = name_of(request), unit_of(request)
    rnd = round_of(request)
    state = await run_in_threadpool(steps.instrument_review_state, rnd, name, unit)
    nxt = state.next_open()
    if nxt is None:
        title = steps.review_instrument(rnd, name).title
        return render(request, "review_done.html", {"unit": unit, "items": len(state.items), "title": title,
                                                    "base": _base(name, unit)})
    return see_other(f"{_base(name, unit)}/{nxt.id}")


async def review_item(request: Request) -> Response:
    name, unit, item_id = name_of(request), unit_of(request), request.path_params["item"]
    rnd = round_of(request)
    state = await run_in_threadpool(steps.instrument_review_state, rnd, name, unit)
    instrument = steps.review_instrument(rnd, name)
    item = state.item(item_id)
    ids = [i.id for i in state.items]
    at = ids.index(item.id)
    decision = state.decisions.get(item.id)
    return render(request, "review_item.html", {
        "unit": unit, "item": item, "fields": instrument_fields(item, decision, adapter.field_labels(instrument)),
        "decision": decision, "position": at + 1, "count": len(ids), "open": len(state.open_items()),
        "prev": ids[at - 1] if at > 0 else "", "next": ids[at + 1] if at + 1 < len(ids) else "",
        "sheet": adapter.plans(instrument)[item.sheet].label, "title": instrument.title,
        "base": _base(name, unit), "crops": f"/crops/i/{name}/{unit}"})


async def review_post(request: Request, form) -> Response:
    name, unit, item_id = name_of(request), unit_of(request), request.path_params["item"]
    rnd = round_of(request)
    result = await run_in_threadpool(steps.instrument_review_decide, rnd, name, unit, item_id, form,
                                     form.get("illegible") == "1", user_of(request))
    if result.ingest_error is not None:
        return await _refused(request, name, unit, result.ingest_error)
    if result.ingested:
        flash(request, f"样本点 {unit} 的调查表 {name} 核对完毕，已录入（{ingest_words(result.ingested)}）")
        return see_other("/review")
    return see_other(f"{_base(name, unit)}/{result.next_item}" if result.next_item else _base(name, unit))


async def review_ingest_post(request: Request, form) -> Response:
    name, unit = name_of(request), unit_of(request)
    try:
        results = await run_in_threadpool(steps.instrument_review_ingest, round_of(request), name, unit,
                                          user_of(request), form.get("replace") == "1")
    except ChouyangError as exc:
        return await _refused(request, name, unit, exc)
    flash(request, f"样本点 {unit} 的调查表 {name} 已录入（{ingest_words(results)}）")
    return see_other("/review")


async def _refused(request: Request, name: str, unit: str, error: ChouyangError) -> Response:
    """The reviewed workbook was refused: say why, and offer to replace a response stored earlier."""
    entered = await run_in_threadpool(steps.entered_pairs, round_of(request))
    return render(request, "review_done.html", {"unit": unit, "error": error, "replace": (name, unit) in entered,
                                                "base": _base(name, unit)}, status_code=409)


async def crop(request: Request) -> Response:
    name, unit, file = name_of(request), unit_of(request), request.path_params["file"]
    rnd = round_of(request)
    items = await run_in_threadpool(steps.instrument_items, rnd, name, unit)
    if not _CROP.fullmatch(file) or file not in {i.crop for i in items}:
        return Response("没有这张截图", status_code=404, media_type="text/plain; charset=utf-8")
    return FileResponse(rnd.scan_dir / "review" / name / file, media_type="image/png")


def routes() -> list[Route]:
    return [
        Route("/review/i/{name}/{unit}", review_unit),
        Route("/review/i/{name}/{unit}/ingest", guarded(review_ingest_post), methods=["POST"]),
        Route("/review/i/{name}/{unit}/{item}", review_item, methods=["GET"]),
        Route("/review/i/{name}/{unit}/{item}", guarded(review_post), methods=["POST"]),
        Route("/crops/i/{name}/{unit}/{file}", crop),
    ]
