"""The app: sessions, login, CSRF tokens, security headers, templates and error pages.

Sessions live on the server (a random id in an HttpOnly cookie, nothing else):
logging out ends one at once, a restart ends all, and one idle for
IDLE_SECONDS expires.  Every visitor gets a session with its own CSRF token
before logging in, so the login form is protected too; every state-changing
request (POST) must carry that token (`guarded`).

With user accounts in the round (`chouyang user add`), every page needs a
password login; after LOGIN_FAILURES wrong passwords for one name within
LOGIN_WINDOW seconds that name is refused (right password or not) until the
oldest of those failures is LOGIN_WINDOW old, so passwords cannot be guessed
at the speed of the network.  Without accounts (only possible on this machine's loopback
address) a clerk gives their name, which the audit log and the double entry use.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from importlib.resources import files
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from chouyang.errors import ChouyangError
from chouyang.round.folder import Round
from chouyang.serve import workstation
from chouyang.serve.views import problem_text

IDLE_SECONDS = 8 * 3600
COOKIE = "chouyang_session"
PUBLIC_PREFIXES = ("/static/", "/font/")  # and /login
USERS_CHECK_SECONDS = 2.0  # how long "does the round have accounts" is remembered
LOGIN_FAILURES, LOGIN_WINDOW = 5, 900.0  # wrong passwords per name, seconds
_UNIT = re.compile(r"\d{6,20}")
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; font-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


@dataclass
class Session:
    sid: str
    csrf: str
    seen: float
    user: str | None = None
    auth: str | None = None  # "password" or "name"
    flash: list[str] = field(default_factory=list)


class Sessions:
    """Server-side sessions, idle ones expired."""

    def __init__(self, idle: float = IDLE_SECONDS):
        self.idle = idle
        self._live: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, sid: str | None) -> Session | None:
        now = time.monotonic()
        with self._lock:
            session = self._live.get(sid or "")
            if session is None:
                return None
            if now - session.seen > self.idle:
                del self._live[session.sid]
                return None
            session.seen = now
            return session

    def new(self) -> Session:
        now = time.monotonic()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now)
        with self._lock:
            for sid in [s for s, v in self._live.items() if now - v.seen > self.idle]:
                del self._live[sid]
            self._live[session.sid] = session
        return session

    def end(self, sid: str) -> None:
        with self._lock:
            self._live.pop(sid, None)


class LoginThrottle:
    """Wrong passwords per account name within a sliding window (kept in memory: a restart forgets)."""

    def __init__(self, failures: int = LOGIN_FAILURES, window: float = LOGIN_WINDOW, clock=time.monotonic):
        self.failures, self.window, self.clock = failures, window, clock
        self._failed: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, name: str) -> list[float]:
        now = self.clock()
        recent = [t for t in self._failed.get(name, []) if now - t < self.window]
        if recent:
            self._failed[name] = recent
        else:
            self._failed.pop(name, None)
        return recent

    def wait(self, name: str) -> float:
        """Seconds until `name` may try again (0: now)."""
        with self._lock:
            recent = self._recent(name)
            if len(recent) < self.failures:
                return 0.0
            return max(0.0, recent[-self.failures] + self.window - self.clock())

    def failed(self, name: str) -> None:
        with self._lock:
            self._failed[name] = [*self._recent(name), self.clock()]
            if len(self._failed) > self.KEEP_NAMES:  # many made-up names: forget the stale ones
                for other in list(self._failed):
                    self._recent(other)

    KEEP_NAMES = 1000

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failed.pop(name, None)


class State:
    """What every request shares: the round, sessions, templates, and the dashboard's cache."""

    def __init__(self, rnd: Round, poll_seconds: float = 5.0):
        self.round = rnd
        self.poll_ms = int(poll_seconds * 1000)
        self.sessions = Sessions()
        self.logins = LoginThrottle()
        self.templates = Jinja2Templates(directory=str(files("chouyang.serve") / "templates"))
        self.templates.env.globals["problem_text"] = problem_text
        self.progress_lock = threading.Lock()
        self.progress_cache: tuple | None = None
        self._users: tuple[float, bool] = (0.0, False)

    def accounts_required(self) -> bool:
        checked, value = self._users
        if time.monotonic() - checked > USERS_CHECK_SECONDS:
            value = workstation.has_users(self.round)
            self._users = (time.monotonic(), value)
        return value


def session_of(request: Request) -> Session:
    return request.scope["chouyang_session"]


def state_of(request: Request) -> State:
    return request.app.state.workstation


def user_of(request: Request) -> str:
    user = session_of(request).user
    if user is None:  # the auth middleware lets no such request through
        raise ChouyangError("未登录")
    return user


def round_of(request: Request) -> Round:
    return state_of(request).round


def unit_of(request: Request) -> str:
    """The sample point's code in the path (digits only: it names files under scan/)."""
    unit = request.path_params["unit"]
    if not _UNIT.fullmatch(unit):
        raise ChouyangError(f"样本点代码无效：{unit}")
    return unit


def see_other(url: str) -> RedirectResponse:
    """After a write: the browser fetches `url` with GET (a reload does not post again)."""
    return RedirectResponse(url, status_code=303)


def flash(request: Request, message: str) -> None:
    """A message shown once, on the next page this session renders."""
    session_of(request).flash.append(message)


def logged_in(session: Session, state: State) -> bool:
    return session.user is not None and (session.auth == "password" or not state.accounts_required())


class AuthMiddleware:
    """Attach the session (creating one with a CSRF token); send visitors who are not logged in to /login."""

    def __init__(self, app, state: State):
        self.app, self.state = app, state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        session = self.state.sessions.get(request.cookies.get(COOKIE))
        fresh = session is None
        if fresh:
            session = self.state.sessions.new()
        scope["chouyang_session"] = session

        async def send_with_cookie(message):
            if fresh and message["type"] == "http.response.start":
                cookie = f"{COOKIE}={session.sid}; Path=/; HttpOnly; SameSite=Lax"
                message.setdefault("headers", []).append((b"set-cookie", cookie.encode("latin-1")))
            await send(message)

        path = scope["path"]
        public = path == "/login" or path.startswith(PUBLIC_PREFIXES)
        if not public and not await run_in_threadpool(logged_in, session, self.state):
            if scope["method"] in ("GET", "HEAD"):
                response: Response = RedirectResponse(f"/login?next={quote(path)}", status_code=303)
            else:
                response = PlainTextResponse("未登录或会话已过期，请重新登录。", status_code=401)
            await response(scope, receive, send_with_cookie)
            return
        await self.app(scope, receive, send_with_cookie)


class SecurityHeaders:
    """No framing, no sniffing, scripts and styles only from this server; pages with data are not cached."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(("/static/", "/font/"))

        async def send_headers(message):
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers += [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
                            (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, send_headers)


def guarded(handler):
    """A POST endpoint: parse the form and refuse it without this session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        form = await request.form()
        token = str(form.get("csrf") or request.headers.get("x-csrf-token", ""))
        if not hmac.compare_digest(token.encode(), session_of(request).csrf.encode()):
            return PlainTextResponse("安全校验未通过（页面已过期或来自其他网站），请刷新页面后重试。", status_code=403)
        return await handler(request, form)

    endpoint.guarded = True
    return endpoint


def render(request: Request, name: str, context: dict | None = None, status_code: int = 200) -> Response:
    state, session = state_of(request), session_of(request)
    flash, session.flash = session.flash, []
    base = {"user": session.user, "csrf": session.csrf, "flash": flash, "path": request.url.path,
            "round_name": request.app.state.round_name, "accounts": session.auth == "password"}
    return state.templates.TemplateResponse(request, name, {**base, **(context or {})}, status_code=status_code)


async def chouyang_error(request: Request, exc: ChouyangError) -> Response:
    """A user's mistake: the same located Chinese messages the CLI prints, on a page."""
    return render(request, "error.html", {"error": exc, "back": request.headers.get("referer", "/")}, 400)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def trusted_hosts(host: str) -> list[str] | None:
    """On loopback, only loopback names (a web page elsewhere cannot reach in by DNS rebinding)."""
    if not is_loopback(host):
        return None
    return sorted({host.strip("[]"), "127.0.0.1", "localhost", "::1", "[::1]"})
