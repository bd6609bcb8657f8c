"""Logging in and out (登录): a password with accounts in the round, else a clerk's name (loopback only)."""

from __future__ import annotations

import math

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chouyang.errors import ChouyangError
from chouyang.round import accounts
from chouyang.serve import workstation
from chouyang.serve.app import COOKIE, guarded, render, see_other, session_of, state_of


async def home(request: Request) -> Response:
    return see_other("/progress")


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
    response = see_other(target)
    response.set_cookie(COOKIE, fresh.sid, httponly=True, samesite="lax", path="/")
    return response


async def logout(request: Request, form) -> Response:
    state_of(request).sessions.end(session_of(request).sid)
    response = see_other("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


def routes() -> list[Route]:
    return [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", guarded(login_post), methods=["POST"]),
        Route("/logout", guarded(logout), methods=["POST"]),
    ]
