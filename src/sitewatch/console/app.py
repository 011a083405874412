"""The console's Starlette application: ``create_app(db)`` (``sitewatch serve`` runs it on uvicorn).

Every endpoint is wrapped by ``auth.view`` (a page: signed in, with a role) or ``auth.action`` (a change: signed in,
with a role, the session's CSRF secret, never in read-only mode); the few public ones (the sign-in page, the style
sheets) say so with ``public``. Pages are rendered server-side from the Jinja2 templates in ``reports/console/``
with the reports' environment (autoescape, crawled text made inert, ``url_link`` for URLs). Store work and password
hashing run in the thread pool.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sitewatch.console import accounts, audit, pages_accounts, pages_assess, pages_problems, pages_scans
from sitewatch.console.accounts import ADMIN, PASSWORD_RULES, ROLES, User
from sitewatch.console.auth import (
    USER,
    Access,
    Cookies,
    Policy,
    Session,
    action,
    close_session,
    current,
    new_token,
    note_failure,
    safe_next,
    signed_in,
    view,
)
from sitewatch.console.data import overview
from sitewatch.console.data_scans import site_extras
from sitewatch.console.pages import actor as _actor
from sitewatch.console.pages import render
from sitewatch.console.security import HEADERS, Security, TrustedProxy, networks
from sitewatch.reporting.data import LIGHT, score_text
from sitewatch.reporting.render import new_environment
from sitewatch.resources import data_dir
from sitewatch.store import Store

log = logging.getLogger("sitewatch.console")

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
STATIC = {"look.css": "_look.css", "console.css": "console/static/console.css"}   # name → file under reports/
ERRORS = {400: "请求无效", 403: "无权访问", 404: "页面不存在", 405: "不支持的请求方式", 413: "请求内容过大",
          429: "尝试次数过多", 500: "服务器内部错误"}


@dataclass
class Console:
    """What every request of one console needs (``app.state.console``)."""

    store: Store
    read_only: bool
    cookies: Cookies
    policy: Policy
    clock: Callable[[], dt.datetime]
    env: Environment
    reports: Path

    @property
    def engine(self) -> Engine:
        return self.store.engine


def _console(request: Request) -> Console:
    con: Console = request.app.state.console
    return con


def public(kind: str = "view") -> Callable[[Any], Any]:
    """An endpoint reachable without signing in (the sign-in page and form, the style sheets)."""
    def wrap(fn: Any) -> Any:
        fn.access = Access(kind, frozenset(ROLES), public=True)
        return fn
    return wrap


def _client(request: Request) -> str:
    return request.client.host if request.client else ""






# --- pages -------------------------------------------------------------------------------------------------------
@view()
async def home(request: Request) -> Response:
    con = _console(request)
    user: User = request.state.user
    sites = await run_in_threadpool(overview, con.store, user)
    extras = await run_in_threadpool(site_extras, con.store, user, [s.site for s in sites])
    return render(request, "overview.html.j2", sites=sites, light=LIGHT, score_text=score_text, extras=extras)


@view()
async def account_page(request: Request) -> Response:
    if _console(request).read_only:          # no account behind a read-only visit
        raise HTTPException(404)
    return render(request, "account.html.j2", rules=PASSWORD_RULES)


@view(ADMIN)
async def audit_page(request: Request) -> Response:
    actor = str(request.query_params.get("actor") or "")[:200] or None
    what = str(request.query_params.get("action") or "")[:50] or None
    rows = await run_in_threadpool(audit.entries, _console(request).engine, 200, actor, what)
    return render(request, "audit.html.j2", rows=rows, actions=audit.ACTIONS_ZH, actor=actor or "", action=what or "")


@public()
async def login_page(request: Request) -> Response:
    con = _console(request)
    if con.read_only:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    await current(request)      # signed in already: the form says so; signing in ends that session
    return await _login_form(request)


async def _login_form(request: Request, status: int = 200, error: str = "", username: str = "",
                      headers: dict[str, str] | None = None) -> Response:
    con = _console(request)
    token = request.cookies.get(con.cookies.login) or ""
    if not (20 <= len(token) <= 100 and token.replace("-", "").replace("_", "").isalnum()):
        token = new_token()
    accounts_exist = await run_in_threadpool(accounts.count_users, con.engine)
    response = render(request, "login.html.j2", status=status, login_csrf=token, error=error, username=username,
                      next=safe_next(request.query_params.get("next") or ""), no_accounts=not accounts_exist)
    con.cookies.put(response, con.cookies.login, token)
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


@action(public=True)
async def login_submit(request: Request) -> Response:
    con = _console(request)
    form = await request.form()
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    target = safe_next(form.get("next"))
    if not username or not password:
        return await _login_form(request, 400, "请输入用户名和密码。", username)
    result = await run_in_threadpool(signed_in, con.engine, username[:200], password[:1024], _client(request),
                                     con.clock(), con.policy, request.cookies.get(con.cookies.session))
    if result.retry_after:
        minutes = max(1, (result.retry_after + 59) // 60)
        return await _login_form(request, 429, f"登录失败次数过多，请 {minutes} 分钟后再试。", username,
                                 {"retry-after": str(result.retry_after)})
    if result.user is None:
        return await _login_form(request, 401, "用户名或密码错误。", username)
    response = RedirectResponse(target, status_code=303)
    con.cookies.put(response, con.cookies.session, result.token)
    con.cookies.drop(response, con.cookies.login)
    return response


@action(own=True)
async def logout(request: Request) -> Response:
    con = _console(request)
    session: Session = request.state.session
    await run_in_threadpool(_close, con, session, _actor(request))
    response = RedirectResponse("/login", status_code=303)
    con.cookies.drop(response, con.cookies.session)
    return response


def _close(con: Console, session: Session, actor: audit.Actor) -> None:
    close_session(con.engine, session, actor, con.clock())


@action(own=True)
async def password_submit(request: Request) -> Response:
    con = _console(request)
    session: Session = request.state.session
    form = await request.form()
    old, new, again = (str(form.get(k) or "") for k in ("current", "new", "confirm"))
    error = await run_in_threadpool(_change_password, con, session, _client(request), old, new, again)
    if error:
        return render(request, "account.html.j2", status=400, rules=PASSWORD_RULES, error=error)
    return render(request, "account.html.j2", rules=PASSWORD_RULES, done=True)


def _change_password(con: Console, session: Session, address: str, old: str, new: str, again: str) -> str:
    """Change the session user's own password; returns what was wrong (Chinese), or "" when it was changed."""
    user = session.user
    ok, _ = accounts.verify_password(accounts.password_hash(con.engine, user.id), old[:1024])
    if not ok:
        with con.engine.begin() as c:     # counted like a failed sign-in: a borrowed session cannot guess it
            note_failure(c, USER, accounts.throttle_key(user.username), con.clock(), con.policy.user_failures,
                         con.policy)
        return "当前密码不正确。"
    if new != again:
        return "两次输入的新密码不一致。"
    problem = accounts.password_problem(new, user.username)
    if problem is not None:
        return "新密码" + PASSWORD_RULES[problem][1] + "。"
    if new == old:
        return "新密码不能与当前密码相同。"
    accounts.set_password(con.engine, user.username, new, audit.Actor(user.username, user.role, address),
                          now=con.clock(), keep_session=session.id, action="password.changed")
    return ""


@public()
async def static_file(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC:
        raise HTTPException(404)
    path = _console(request).reports / STATIC[name]
    try:
        body = await run_in_threadpool(path.read_bytes)
    except OSError:
        raise HTTPException(404) from None
    return Response(body, media_type="text/css; charset=utf-8")


# --- errors ------------------------------------------------------------------------------------------------------
async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 500:
        log.exception("console error on %s %s", request.method, request.url.path, exc_info=exc)
    text = ERRORS.get(status, "请求失败")
    csrf = isinstance(exc, HTTPException) and exc.detail == "csrf"
    detail = "表单已失效或来源不明，请刷新页面后重试。" if csrf else ""
    if not hasattr(request.state, "user"):
        try:
            await current(request)
        except Exception:  # noqa: BLE001 - an error page never fails on the session
            request.state.user = None
            request.state.session = None
    response = render(request, "error.html.j2", status=status, status_text=text, detail=detail)
    for k, v in HEADERS.items():            # a 500 answer passes outside the Security middleware
        response.headers.setdefault(k, v)
    response.headers["cache-control"] = "no-store"
    return response


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/account", account_page, methods=["GET"]),
    Route("/account/password", password_submit, methods=["POST"]),
    Route("/audit", audit_page, methods=["GET"]),
    Route("/static/{name}", static_file, methods=["GET"]),
    *pages_scans.ROUTES,
    *pages_problems.ROUTES,
    *pages_assess.ROUTES,
    *pages_accounts.ROUTES,
]


def create_app(db: str | Path | Store, *, read_only: bool = False, secure_cookies: bool = True,
               trusted_proxies: Sequence[str] = (), allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
               policy: Policy | None = None, clock: Callable[[], dt.datetime] = dt.datetime.now,
               templates: str | Path | None = None) -> Starlette:
    """The console on the store ``db``.

    - ``read_only``: no sign-in at all; everyone is a leader (read-only) and every POST is refused. Only when the
      operator asks for it (``sitewatch serve --read-only``).
    - ``secure_cookies``: cookies carry Secure (and the ``__Host-`` prefix); False only for plain HTTP on loopback.
    - ``trusted_proxies``: addresses or networks whose ``X-Forwarded-For``/``X-Forwarded-Proto`` are believed.
    - ``allowed_hosts``: the ``Host`` names answered (others get 400: DNS rebinding cannot reach the console).
    - ``policy``: session lifetimes and sign-in throttling; ``clock``: the time (tests move it).
    - ``templates``: the folder of the report templates (default: the bundled ``reports/``).
    """
    store = db if isinstance(db, Store) else Store(db)
    folder = Path(templates) if templates else data_dir("reports")
    env = new_environment(str(folder))
    console = Console(store=store, read_only=read_only, cookies=Cookies(secure=secure_cookies),
                      policy=policy or Policy(), clock=clock, env=env, reports=folder)
    middleware = [
        Middleware(TrustedProxy, trusted=networks(trusted_proxies)),
        Middleware(Security),
        Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts), www_redirect=False),
    ]
    app = Starlette(routes=ROUTES, middleware=middleware,
                    exception_handlers={HTTPException: http_error, Exception: http_error})
    app.state.console = console
    return app
