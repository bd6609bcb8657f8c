"""Routes: each one calls a workstation step and renders a template (or redirects after a write)."""

from __future__ import annotations

import math
import re
import secrets
from importlib.resources import files
from urllib.parse import quote

import noto_cjk_sans_otc
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from chouyang import steps, vocab
from chouyang.entry import keyed
from chouyang.errors import ChouyangError
from chouyang.serve import accounts, instrument_pages, views, workstation
from chouyang.serve.app import COOKIE, guarded, render, session_of, state_of, user_of
from chouyang.survey import feedback

_UNIT = re.compile(r"\d{6,20}")
_CROP = re.compile(r"[\w.\-]{1,120}\.png")


def _unit(request: Request) -> str:
    unit = request.path_params["unit"]
    if not _UNIT.fullmatch(unit):
        raise ChouyangError(f"样本点代码无效：{unit}")
    return unit


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _flash(request: Request, message: str) -> None:
    session_of(request).flash.append(message)


def _rnd(request: Request):
    return state_of(request).round


# --- login ---------------------------------------------------------------------------

async def home(request: Request) -> Response:
    return _see_other("/progress")


async def login_page(request: Request) -> Response:
    required = await run_in_threadpool(state_of(request).accounts_required)
    return render(request, "login.html", {"required": required, "next": _safe_next(request.query_params.get("next"))})


def _safe_next(target: str | None) -> str:
    """Only a path on this server (never //elsewhere or a full URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/progress"
    return target


async def login_post(request: Request, form) -> Response:
    state, session = state_of(request), session_of(request)
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", ""))
    required = await run_in_threadpool(state.accounts_required)
    target = _safe_next(str(form.get("next", "")))
    if required:
        try:
            accounts.check_name(name)
        except ChouyangError:  # no account can have this name; nothing to count it against
            return render(request, "login.html", {"required": True, "next": target,
                                                  "error": "用户名或密码不对"}, status_code=401)
        wait = state.logins.wait(name)
        if wait > 0:  # the password is not even checked: a right guess now tells nothing
            return render(request, "login.html", {
                "required": True, "next": target,
                "error": f"用户「{name}」{round(state.logins.window / 60)} 分钟内已输错 {state.logins.failures} 次密码，"
                         f"请 {math.ceil(wait / 60)} 分钟后再试"},
                status_code=429)
        ok = await run_in_threadpool(workstation.login, state.round, name, password)
        if not ok:
            state.logins.failed(name)
            return render(request, "login.html", {"required": True, "next": target,
                                                  "error": "用户名或密码不对"}, status_code=401)
        state.logins.succeeded(name)
        auth = "password"
    else:
        try:
            name = accounts.check_name(name)
        except ChouyangError as exc:
            return render(request, "login.html", {"required": False, "next": target, "error": str(exc)}, 400)
        auth = "name"
    # A new session id at login: a session id planted before login is worth nothing after it.
    state.sessions.end(session.sid)
    fresh = state.sessions.new()
    fresh.user, fresh.auth = name, auth
    response = _see_other(target)
    response.set_cookie(COOKIE, fresh.sid, httponly=True, samesite="lax", path="/")
    return response


async def logout(request: Request, form) -> Response:
    state_of(request).sessions.end(session_of(request).sid)
    response = _see_other("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


# --- progress --------------------------------------------------------------------------

def _progress(request: Request) -> workstation.Progress:
    """The dashboard's tables, recomputed only when the store, scans or forms changed."""
    state = state_of(request)
    with state.progress_lock:
        key = workstation.progress_fingerprint(state.round)
        if state.progress_cache is None or state.progress_cache[0] != key:
            state.progress_cache = (key, workstation.progress_view(state.round))
        return state.progress_cache[1]


def _progress_context(p: workstation.Progress) -> dict:
    return {"by_team": views.progress_table(p.by_team_day, ["team_id", "date", "township_name"]),
            "by_township": views.progress_table(p.by_township, ["township_name"]),
            "totals": {k: views.text(v) for k, v in p.totals.items()}}


async def progress_page(request: Request) -> Response:
    p = await run_in_threadpool(_progress, request)
    return render(request, "progress.html", {**_progress_context(p), "poll_ms": state_of(request).poll_ms})


async def progress_fragment(request: Request) -> Response:
    p = await run_in_threadpool(_progress, request)
    return render(request, "_progress_tables.html", _progress_context(p))


# --- review queue ------------------------------------------------------------------------

async def review_index(request: Request) -> Response:
    units = await run_in_threadpool(workstation.review_overview, _rnd(request))
    return render(request, "review_index.html", {"units": units})


async def review_unit(request: Request) -> Response:
    unit = _unit(request)
    state = await run_in_threadpool(workstation.review_state, _rnd(request), unit)
    nxt = state.next_open()
    if nxt is None:
        return render(request, "review_done.html", {"unit": unit, "items": len(state.items)})
    return _see_other(f"/review/{unit}/{nxt.id}")


async def review_item(request: Request) -> Response:
    unit, item_id = _unit(request), request.path_params["item"]
    state = await run_in_threadpool(workstation.review_state, _rnd(request), unit)
    item = state.item(item_id)
    ids = [i.id for i in state.items]
    at = ids.index(item.id)
    decision = state.decisions.get(item.id)
    return render(request, "review_item.html", {
        "unit": unit, "item": item, "fields": views.review_fields(item, decision), "decision": decision,
        "position": at + 1, "count": len(ids), "open": len(state.open_items()),
        "prev": ids[at - 1] if at > 0 else "", "next": ids[at + 1] if at + 1 < len(ids) else "",
        "sheet": vocab.SHEETS[item.sheet]})


async def review_post(request: Request, form) -> Response:
    unit, item_id = _unit(request), request.path_params["item"]
    illegible = form.get("illegible") == "1"
    result = await run_in_threadpool(workstation.review_decide, _rnd(request), unit, item_id, form, illegible,
                                     user_of(request))
    if result.ingest_error is not None:
        return await _review_refused(request, unit, result.ingest_error)
    if result.ingested:
        _flash(request, f"样本点 {unit} 核对完毕，已录入（{_ingest_words(result.ingested)}）")
        return _see_other("/review")
    if result.next_item:
        return _see_other(f"/review/{unit}/{result.next_item}")
    return _see_other(f"/review/{unit}")


async def review_ingest_post(request: Request, form) -> Response:
    unit = _unit(request)
    try:
        results = await run_in_threadpool(workstation.review_ingest, _rnd(request), unit, user_of(request),
                                          form.get("replace") == "1")
    except ChouyangError as exc:
        return await _review_refused(request, unit, exc)
    _flash(request, f"样本点 {unit} 已录入（{_ingest_words(results)}）")
    return _see_other("/review")


async def _review_refused(request: Request, unit: str, error: ChouyangError) -> Response:
    """The reviewed workbook was refused: say why, and offer to replace results stored earlier."""
    entered = await run_in_threadpool(workstation.entered_units, _rnd(request))
    return render(request, "review_done.html", {"unit": unit, "error": error, "replace": unit in entered},
                  status_code=409)


def _ingest_words(results) -> str:
    words = {"new": "新录入", "unchanged": "内容相同，未改动", "replaced": "已替换"}
    return "；".join(f"{words[r.status]}，确认误差 {r.confirmed} 例，待核实 {r.pending} 例" for r in results)


async def crop(request: Request) -> Response:
    unit, name = _unit(request), request.path_params["name"]
    items = await run_in_threadpool(workstation.review_items, _rnd(request), unit)
    if not _CROP.fullmatch(name) or name not in {i.crop for i in items}:
        return Response("没有这张截图", status_code=404, media_type="text/plain; charset=utf-8")
    return FileResponse(_rnd(request).scan_dir / "review" / name, media_type="image/png")


# --- keyed double entry -----------------------------------------------------------------------

async def entry_index(request: Request) -> Response:
    units, rates = await run_in_threadpool(workstation.keyed_overview, _rnd(request))
    return render(request, "entry_index.html", {"units": units, "rates": rates, "me": user_of(request),
                                                "pct": views.pct})


async def entry_form(request: Request) -> Response:
    unit = _unit(request)
    kf = await run_in_threadpool(workstation.keyed_form, _rnd(request), unit, user_of(request))
    if kf.number is None or (kf.own is not None and kf.own.state == keyed.DONE):
        both = all(n in kf.passes and kf.passes[n].state == keyed.DONE for n in keyed.PASSES)
        return render(request, "entry_wait.html", {"unit": unit, "form": kf, "pass_states": _pass_states(kf.passes),
                                                   "both_done": both})
    sheets = views.keyed_sheets(kf.checklist, kf.own.data if kf.own else {})
    return render(request, "entry_form.html", {"unit": unit, "number": kf.number, "sheets": sheets,
                                               "request_id": secrets.token_hex(8)})


def _pass_states(passes: dict) -> list[str]:
    words = {keyed.DRAFT: "录入中", keyed.DONE: "已提交"}
    return [f"第 {n} 遍：{passes[n].clerk}，{words[passes[n].state]}" if n in passes else f"第 {n} 遍：尚无人录入"
            for n in keyed.PASSES]


async def entry_save(request: Request, form) -> Response:
    unit = _unit(request)
    finish = form.get("finish") == "1"
    n = await run_in_threadpool(workstation.keyed_save, _rnd(request), unit, user_of(request), form, finish)
    _flash(request, f"第 {n} 遍录入已{'提交' if finish else '保存'}")
    return _see_other(f"/entry/{unit}" if not finish else "/entry")


async def settle_page(request: Request) -> Response:
    unit = _unit(request)
    adj = await run_in_threadpool(workstation.adjudication, _rnd(request), unit)
    return render(request, "entry_settle.html", _settle_context(adj))


def _settle_context(adj: workstation.Adjudication, error: ChouyangError | None = None) -> dict:
    settled = keyed.FINAL in adj.passes
    return {"unit": adj.unit_code, "adj": adj, "error": error, "settled_done": settled and adj.passes[
                keyed.FINAL].state == keyed.DONE,
            "sheets": views.keyed_sheets(adj.checklist, adj.base, adj.mismatches, settled),
            "mismatch_rows": views.mismatch_rows(adj.mismatches), "clerks": {n: adj.passes[n].clerk for n in keyed.PASSES},
            "replace": error is not None and adj.entered}


async def settle_post(request: Request, form) -> Response:
    unit = _unit(request)
    rnd = _rnd(request)
    try:
        results = await run_in_threadpool(workstation.keyed_settle, rnd, unit, form, user_of(request),
                                          form.get("replace") == "1")
    except ChouyangError as exc:
        adj = await run_in_threadpool(workstation.adjudication, rnd, unit)
        return render(request, "entry_settle.html", _settle_context(adj, exc), status_code=400)
    _flash(request, f"样本点 {unit} 已核定入库（{_ingest_words(results)}）")
    return _see_other("/entry")


# --- cases and feedback ------------------------------------------------------------------------

async def log_page(request: Request) -> Response:
    """The audit log, newest first (read only: the log is written by the steps themselves)."""
    rows, total = await run_in_threadpool(workstation.audit_rows, _rnd(request))
    return render(request, "log.html", {"rows": rows, "total": total})


async def cases_index(request: Request) -> Response:
    table = await run_in_threadpool(workstation.case_table, _rnd(request))
    primary = await run_in_threadpool(_rnd(request).primaries)
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
    rnd = _rnd(request)
    town = await run_in_threadpool(workstation.township_cases, rnd, code)
    history = await run_in_threadpool(workstation.case_history, rnd)
    return render(request, "cases_township.html", {"town": town, "rows": views.case_rows(town.cases, history),
                                                   "text": views.text})


async def case_status_post(request: Request, form) -> Response:
    code = request.path_params["township"]
    unit, ref = str(form.get("unit", "")), str(form.get("ref", ""))
    status, comment = str(form.get("status", "")), str(form.get("comment", ""))
    change = await run_in_threadpool(steps.set_case_status, _rnd(request), unit, ref, status, comment,
                                     user_of(request))
    _flash(request, f"个案 {unit} {ref}：{change['old']} → {change['new']}")
    return _see_other(f"/cases/{quote(code)}#{unit}-{ref}")


async def feedback_pdf(request: Request) -> Response:
    code = request.path_params["township"]
    data = await run_in_threadpool(workstation.feedback_pdf, _rnd(request), code)
    return Response(data, media_type="application/pdf",
                    headers={"content-disposition": f'inline; filename="feedback-{code}.pdf"'})


# --- score and report -----------------------------------------------------------------------------

async def score_page(request: Request) -> Response:
    rnd = _rnd(request)
    report = await run_in_threadpool(workstation.report_view, rnd)
    context: dict = {"report": report}
    if report is not None:
        cap = float((await run_in_threadpool(rnd.rules)).deductions.cap)
        context.update(ranking=views.ranking_rows(report.townships),
                       deductions=views.deduction_chart(report.townships, cap),
                       rates=views.rate_chart(report.county))
    return render(request, "score.html", context)


async def score_post(request: Request, form) -> Response:
    result = await run_in_threadpool(steps.score, _rnd(request), form.get("partial") == "1", user=user_of(request))
    t = result.townships
    missing = f"；{len(result.missing_units)} 个样本点未录入，未计入" if result.missing_units else ""
    _flash(request, f"计分完成：{len(t)} 个乡镇，确认误差 {int(t.cases_confirmed.sum())} 例，"
                    f"扣分合计 {t.deduction.sum():g} 分{missing}")
    return _see_other("/score")


async def report_download(request: Request) -> Response:
    path = await run_in_threadpool(workstation.report_file, _rnd(request), request.path_params["name"])
    return FileResponse(path, filename=path.name)


async def cjk_font(request: Request) -> Response:
    """Noto Sans CJK from the installed font package: Chinese shows even where the PC has no Chinese font."""
    return FileResponse(str(noto_cjk_sans_otc.FONT_PATH), media_type="font/collection",
                        headers={"cache-control": "public, max-age=31536000, immutable"})


def routes() -> list:
    return [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", guarded(login_post), methods=["POST"]),
        Route("/logout", guarded(logout), methods=["POST"]),
        Route("/progress", progress_page),
        Route("/progress/tables", progress_fragment),
        Route("/review", review_index),
        Route("/review/{unit}", review_unit),
        Route("/review/{unit}/ingest", guarded(review_ingest_post), methods=["POST"]),
        Route("/review/{unit}/{item}", review_item, methods=["GET"]),
        Route("/review/{unit}/{item}", guarded(review_post), methods=["POST"]),
        Route("/crops/{unit}/{name}", crop),
        Route("/entry", entry_index),
        Route("/entry/{unit}", entry_form, methods=["GET"]),
        Route("/entry/{unit}", guarded(entry_save), methods=["POST"]),
        Route("/entry/{unit}/settle", settle_page, methods=["GET"]),
        Route("/entry/{unit}/settle", guarded(settle_post), methods=["POST"]),
        *instrument_pages.routes(),
        Route("/cases", cases_index),
        Route("/cases/{township}", cases_township),
        Route("/cases/{township}/status", guarded(case_status_post), methods=["POST"]),
        Route("/cases/{township}/feedback.pdf", feedback_pdf),
        Route("/score", score_page, methods=["GET"]),
        Route("/score", guarded(score_post), methods=["POST"]),
        Route("/report/{name}", report_download),
        Route("/log", log_page),
        Route("/font/cjk.ttc", cjk_font),
        Mount("/static", StaticFiles(directory=str(files("chouyang.serve") / "static")), name="static"),
    ]
