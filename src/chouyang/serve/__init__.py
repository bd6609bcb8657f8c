"""`chouyang serve`: the round in a browser (进度, 核对, 录入, 个案与反馈, 计分与报告).

A Starlette app over the workstation steps (workstation/, steps/): the pages' routes (pages/)
call steps, templates show tables, nothing decides anything in the browser.
Every asset ships inside the package, so it works with no internet.
"""

from __future__ import annotations

import threading
import webbrowser
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from chouyang import steps
from chouyang.errors import ChouyangError
from chouyang.round.folder import Round
from chouyang.serve import workstation
from chouyang.serve.app import AuthMiddleware, SecurityHeaders, State, chouyang_error, is_loopback, trusted_hosts
from chouyang.serve.routes import routes

__all__ = ["create_app", "is_loopback", "run"]


@asynccontextmanager
async def _lifespan(app):
    threading.Thread(target=workstation.warm, args=(app.state.workstation.round,), daemon=True).start()
    yield
    await run_in_threadpool(workstation.WORKBOOKS.flush)  # scan workbooks still being written


def create_app(rnd: Round, host: str = "127.0.0.1", poll_seconds: float = 5.0) -> Starlette:
    """The workstation app for one round.

    `host` is the address it will listen on (on loopback it answers to loopback names only);
    the dashboard refreshes itself every `poll_seconds`.
    """
    state = State(rnd, poll_seconds)
    middleware = [Middleware(SecurityHeaders)]
    hosts = trusted_hosts(host)
    if hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=hosts))
    middleware.append(Middleware(AuthMiddleware, state=state))
    app = Starlette(routes=routes(), middleware=middleware, exception_handlers={ChouyangError: chouyang_error},
                    lifespan=_lifespan)
    app.state.workstation = state
    app.state.round_name = rnd.rules().round.name
    return app


def run(round_dir: Path, host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False,
        echo=print) -> None:
    """Serve a round until Ctrl+C.  Any host but this machine's loopback needs user accounts."""
    import uvicorn

    rnd = Round.open(round_dir)
    rnd.draw_record()
    accounts = steps.users(rnd)
    if not is_loopback(host) and not accounts:
        raise ChouyangError(f"绑定到 {host} 会让其他电脑访问本轮数据，必须先建立用户账户："
                            f"chouyang user add {round_dir} 用户名（密码输入两次）。仅本机使用请去掉 --host。")
    app = create_app(rnd, host)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}/"
    echo(f"chouyang serve：{url}（{'需要登录' if accounts else '本机使用，未设用户账户'}；按 Ctrl+C 停止）")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, (url,)).start()
    uvicorn.run(app, host=host.strip("[]"), port=port, log_level="warning")
