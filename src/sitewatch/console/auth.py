"""Sign-in, sessions, CSRF and roles of the console.

- **Sessions** are server-side rows (``sessions``): the cookie holds a random token (256 bits), the store only its
  SHA-256. Signing in always makes a new session and deletes the one the browser presented (no fixation); logout
  deletes the row. A session ends after ``Policy.idle`` without a request and ``Policy.absolute`` after sign-in,
  and at once when its user is disabled or sets a new password elsewhere.
- **Cookies**: HttpOnly, SameSite=Lax, Path=/, and Secure with the ``__Host-`` prefix unless the console was
  started explicitly for plain HTTP on loopback (``secure=False``).
- **CSRF**: every POST carries the session's CSRF secret (a hidden ``csrf`` field, or the ``X-CSRF-Token`` header);
  the sign-in form, before any session, carries the value of a random cookie set with it (double submit). Any
  other unsafe request is refused (``Security`` middleware: cross-site ``Origin``/``Sec-Fetch-Site`` too).
- **Throttling**: failed sign-ins are counted per user name and per client address in a window; at the limit the
  name (or address) is locked for ``Policy.lockout`` and the lock-out is counted and recorded. A locked name is
  refused even with the right password. An unknown name costs the same hash check as a known one.
- **Roles**: ``view(roles…)`` and ``action(roles…)`` wrap every endpoint; a unit user's rows are scoped by the
  data layer (``console.data.visible_problems``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sitewatch.console import accounts
from sitewatch.console.accounts import LEADER, ROLES, User
from sitewatch.console.audit import Actor, record
from sitewatch.store import LoginThrottleRow, SessionRow, UserRow

log = logging.getLogger("sitewatch.console")

Clock = Callable[[], dt.datetime]
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Policy:
    """How long sessions live and how failed sign-ins are throttled."""

    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=12)
    user_failures: int = 5              # failed sign-ins of one user name within ``window`` that lock it
    address_failures: int = 20          # … of one client address
    window: dt.timedelta = dt.timedelta(minutes=15)
    lockout: dt.timedelta = dt.timedelta(minutes=15)
    touch_every: dt.timedelta = dt.timedelta(seconds=60)    # how often last_seen_at is written


@dataclass(frozen=True)
class Cookies:
    """The console's cookie names and attributes."""

    secure: bool = True

    @property
    def session(self) -> str:
        return "__Host-sitewatch" if self.secure else "sitewatch"

    @property
    def login(self) -> str:             # the sign-in form's CSRF value, before there is a session
        return "__Host-sitewatch-login" if self.secure else "sitewatch-login"

    def put(self, response: Response, name: str, value: str) -> None:
        response.set_cookie(name, value, path="/", secure=self.secure, httponly=True, samesite="lax")

    def drop(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="lax")


@dataclass(frozen=True)
class Session:
    id: int
    user: User
    csrf: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """What the store keeps of a session token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def csrf_valid(expected: str | None, given: Any) -> bool:
    """Whether a submitted CSRF value matches (constant time; empty never matches)."""
    if not expected or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


# --- sessions -------------------------------------------------------------------------------------------------
def open_session(c: Connection, user: User, address: str, now: dt.datetime, policy: Policy) -> tuple[str, str]:
    """A new session for ``user``: (cookie token, CSRF secret). Expired sessions are swept on the way."""
    c.execute(delete(SessionRow).where((SessionRow.c.expires_at <= now)
                                       | (SessionRow.c.last_seen_at <= now - policy.idle)))
    token, csrf = new_token(), new_token()
    c.execute(insert(SessionRow).values(token_hash=digest(token), user_id=user.id, created_at=now, last_seen_at=now,
                                        expires_at=now + policy.absolute, csrf_secret=csrf, address=address[:100]))
    return token, csrf


def find_session(engine: Engine, token: str | None, now: dt.datetime, policy: Policy) -> Session | None:
    """The live session of a cookie token, None when there is none: unknown, expired (idle or absolute; the row is
    deleted and the expiry recorded) or its user disabled."""
    if not token or len(token) > 200:
        return None
    with engine.connect() as c:
        row = c.execute(select(SessionRow).where(SessionRow.c.token_hash == digest(token))).first()
        user = accounts.user_by_id(c, row.user_id) if row is not None else None
    if row is None or user is None:
        return None
    expired = now >= row.expires_at or now - row.last_seen_at >= policy.idle
    if expired or user.disabled:
        with engine.begin() as c:
            c.execute(delete(SessionRow).where(SessionRow.c.id == row.id))
            if expired:
                record(c, Actor(user.username, user.role, row.address), "session.expired", user.username,
                       {"idle": now - row.last_seen_at >= policy.idle}, at=now)
        return None
    if now - row.last_seen_at >= policy.touch_every:
        with engine.begin() as c:
            c.execute(update(SessionRow).where(SessionRow.c.id == row.id).values(last_seen_at=now))
    return Session(id=row.id, user=user, csrf=row.csrf_secret, created_at=row.created_at,
                   last_seen_at=row.last_seen_at, expires_at=row.expires_at)


def close_session(engine: Engine, session: Session, actor: Actor, now: dt.datetime) -> None:
    with engine.begin() as c:
        c.execute(delete(SessionRow).where(SessionRow.c.id == session.id))
        record(c, actor, "logout", session.user.username, at=now)


# --- throttling -----------------------------------------------------------------------------------------------
USER, ADDRESS = "user", "address"
UNKNOWN_NAME = "（未知用户名）"


def locked_for(c: Connection, keys: Collection[tuple[str, str]], now: dt.datetime) -> dt.timedelta | None:
    """How much longer the longest lock among ``keys`` ((kind, key) pairs) lasts; None when none is locked."""
    longest: dt.timedelta | None = None
    for kind, key in keys:
        until = c.execute(select(LoginThrottleRow.c.locked_until).where(
            LoginThrottleRow.c.kind == kind, LoginThrottleRow.c.key == key)).scalar()
        if until is not None and until > now and (longest is None or until - now > longest):
            longest = until - now
    return longest


def note_failure(c: Connection, kind: str, key: str, now: dt.datetime, limit: int, policy: Policy) -> int:
    """Count one failed sign-in against (kind, key); when it reaches the limit and locks, the number of lock-outs
    so far (this one included), else 0."""
    row = c.execute(select(LoginThrottleRow).where(LoginThrottleRow.c.kind == kind,
                                                   LoginThrottleRow.c.key == key)).first()
    if row is None:
        failures, first, lockouts = 1, now, 0
    elif now - row.first_at >= policy.window:
        failures, first, lockouts = 1, now, row.lockouts
    else:
        failures, first, lockouts = row.failures + 1, row.first_at, row.lockouts
    locks = failures >= limit
    if locks:
        failures, first, lockouts = 0, now, lockouts + 1
    until = now + policy.lockout if locks else (row.locked_until if row is not None else None)
    values = {"failures": failures, "first_at": first, "locked_until": until, "lockouts": lockouts}
    if row is None:
        c.execute(insert(LoginThrottleRow).values(kind=kind, key=key, **values))
    else:
        c.execute(update(LoginThrottleRow).where(LoginThrottleRow.c.id == row.id).values(**values))
    return int(lockouts) if locks else 0


LOCKOUT_MEMORY = dt.timedelta(days=1)     # how long a name's or address's lock-outs are counted after the last


def sweep_throttle(c: Connection, now: dt.datetime, policy: Policy) -> None:
    """Forget counts whose window has passed, unless a lock ended less than ``LOCKOUT_MEMORY`` ago (a table of
    names people typed stays small)."""
    c.execute(delete(LoginThrottleRow).where(
        LoginThrottleRow.c.first_at <= now - policy.window,
        (LoginThrottleRow.c.locked_until.is_(None)) | (LoginThrottleRow.c.locked_until <= now - LOCKOUT_MEMORY)))


@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt came to: ``user``, ``token`` and ``csrf`` when it succeeded; else ``retry_after``
    (seconds) when a lock refused it."""

    user: User | None = None
    token: str = ""
    csrf: str = ""
    retry_after: int = 0


def _attempt_keys(username: str, address: str) -> list[tuple[str, str]]:
    return [(USER, accounts.throttle_key(username)), (ADDRESS, address[:100])]


def sign_in(engine: Engine, username: str, password: str, address: str, now: dt.datetime, policy: Policy,
            previous: str | None = None) -> SignIn:
    """Check a user name and password, throttled; on success a new session (the ``previous`` token's session, if
    any, is deleted: the token changes at every sign-in). Every attempt is recorded in the audit log."""
    keys = _attempt_keys(username, address)
    user = accounts.get_user(engine, username) if username else None
    # a name no account has is not written down (it may be a password typed into the wrong field)
    named = user.username if user is not None else UNKNOWN_NAME
    actor = Actor(user.username if user is not None else "", user.role if user is not None else "", address)
    with engine.connect() as c:
        lock = locked_for(c, keys, now)
    if lock is not None:
        with engine.begin() as c:
            record(c, actor, "login.failed", named, {"reason": "locked"}, at=now)
        return SignIn(retry_after=max(1, int(lock.total_seconds() + 0.999)))
    encoded = accounts.password_hash(engine, user.id) if user is not None else accounts.dummy_hash()
    ok, stale = accounts.verify_password(encoded, password)
    if user is None or user.disabled or not ok:
        reason = "unknown user" if user is None else "disabled" if user.disabled else "password"
        with engine.begin() as c:
            sweep_throttle(c, now, policy)
            record(c, actor, "login.failed", named, {"reason": reason}, at=now)
            for (kind, key), limit in zip(keys, (policy.user_failures, policy.address_failures), strict=True):
                lockouts = note_failure(c, kind, key, now, limit, policy)
                if lockouts:
                    record(c, actor, "login.locked", named if kind == USER else f"address {key}",
                           {"minutes": int(policy.lockout.total_seconds() // 60), "failures": limit,
                            "lockouts": lockouts}, at=now)
        log.info("sign-in refused from %s", address)
        return SignIn()
    if stale:
        accounts.rehash(engine, user.id, password)
    with engine.begin() as c:
        if previous:
            c.execute(delete(SessionRow).where(SessionRow.c.token_hash == digest(previous)))
        token, csrf = open_session(c, user, address, now, policy)
        accounts.clear_throttle(c, user.username)
        c.execute(update(UserRow).where(UserRow.c.id == user.id).values(last_login_at=now))
        record(c, Actor(user.username, user.role, address), "login.ok", user.username, at=now)
    return SignIn(user=user, token=token, csrf=csrf)


def _retry(fn: Callable[[], SignIn]) -> SignIn:
    """Run ``fn`` again once when two concurrent failures raced to create the same throttle row."""
    try:
        return fn()
    except IntegrityError:
        return fn()


# --- per-request access ---------------------------------------------------------------------------------------
READ_ONLY_USER = User(id=0, username="只读访问", role=LEADER, unit=None, disabled=False,
                      created_at=dt.datetime.min, updated_at=dt.datetime.min,
                      password_changed_at=dt.datetime.max, last_login_at=None)


@dataclass(frozen=True)
class Access:
    """What an endpoint requires (read by the tests that try every route with every role)."""

    kind: str                   # view (GET) or action (POST)
    roles: frozenset[str]
    public: bool = False        # reachable without signing in (the sign-in page itself)
    own: bool = False           # an action on the user's own session or account only (sign out, own password)


def console_of(request: Request) -> Any:
    return request.app.state.console


async def current(request: Request) -> Session | None:
    """The request's session (cached on the request); in read-only mode None, with ``request.state.user`` the
    read-only leader."""
    if hasattr(request.state, "user"):
        session: Session | None = request.state.session
        return session
    con = console_of(request)
    session = None
    if con.read_only:
        request.state.user = READ_ONLY_USER
    else:
        session = await run_in_threadpool(find_session, con.engine, request.cookies.get(con.cookies.session),
                                          con.clock(), con.policy)
        request.state.user = session.user if session is not None else None
    request.state.session = session
    return session


def safe_next(value: Any) -> str:
    """A path to go to after signing in: a path on this console only (never another host), else ``/``."""
    if (not isinstance(value, str) or not value.startswith("/") or value.startswith(("//", "/\\")) or len(value) > 500
            or any(ord(ch) < 0x20 or ch in "\\\x7f" for ch in value)):
        return "/"
    return value


def to_sign_in(request: Request) -> RedirectResponse:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    from urllib.parse import quote

    return RedirectResponse("/login" + ("" if path == "/" else f"?next={quote(safe_next(path), safe='/')}"),
                            status_code=303)


async def read_form(request: Request) -> FormData:
    """The submitted form (no files; bounded), cached on the request."""
    try:
        return await request.form(max_files=0, max_fields=100)
    except HTTPException:
        raise
    except Exception:  # noqa: BLE001 - a malformed body is the client's error
        raise HTTPException(400) from None


def _has_role(request: Request, roles: frozenset[str]) -> bool:
    user: User | None = request.state.user
    return user is not None and user.role in roles


def view(*roles: str) -> Callable[[Endpoint], Endpoint]:
    """A page (GET): signed in (else a redirect to the sign-in page), with one of ``roles`` (default: any)."""
    allowed = frozenset(roles or ROLES)

    def wrap(fn: Endpoint) -> Endpoint:
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            if await current(request) is None and not console_of(request).read_only:
                return to_sign_in(request)
            if not _has_role(request, allowed):
                raise HTTPException(403)
            return await fn(request)

        endpoint.access = Access("view", allowed)  # type: ignore[attr-defined]  # read by the route tests
        return endpoint

    return wrap


def action(*roles: str, public: bool = False, own: bool = False) -> Callable[[Endpoint], Endpoint]:
    """A state-changing request (POST): refused in read-only mode; signed in with one of ``roles`` (default: any)
    and carrying the session's CSRF secret, or, ``public`` (the sign-in form), the sign-in cookie's value. ``own``:
    it changes only the user's own session or account (every role may sign out; a leader changes nothing else)."""
    allowed = frozenset(roles or ROLES)

    def wrap(fn: Endpoint) -> Endpoint:
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            con = console_of(request)
            if con.read_only:
                raise HTTPException(403)
            form = await read_form(request)
            given = form.get("csrf") or request.headers.get("x-csrf-token")
            if public:
                expected = request.cookies.get(con.cookies.login)
            else:
                session = await current(request)
                if session is None:
                    raise HTTPException(403)
                expected = session.csrf
            if not csrf_valid(expected, given):
                log.warning("CSRF check failed: %s %s from %s", request.method, request.url.path,
                            request.client.host if request.client else "?")
                raise HTTPException(403, "csrf")
            if not public and not _has_role(request, allowed):
                raise HTTPException(403)
            return await fn(request)

        endpoint.access = Access("action", allowed, public, own)  # type: ignore[attr-defined]  # read by the route tests
        return endpoint

    return wrap


def signed_in(engine: Engine, username: str, password: str, address: str, now: dt.datetime, policy: Policy,
              previous: str | None) -> SignIn:
    """``sign_in``, retried once after a race between two concurrent failures."""
    return _retry(lambda: sign_in(engine, username, password, address, now, policy, previous))
