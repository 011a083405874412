"""Console accounts: roles, user names, the password policy, argon2 password hashes, and the changes the ``user``
commands and the console make to accounts (each recorded in the audit log in the same transaction).

Loads no web framework: ``sitewatch user`` uses it on the server. The password hash is argon2id (argon2-cffi's
defaults, RFC 9106's second recommended setting: 64 MiB, 3 passes); a password is never stored, logged or printed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from sitewatch.console.audit import Actor, record
from sitewatch.errors import UsageError
from sitewatch.store import LoginThrottleRow, SessionRow, UserRow

if TYPE_CHECKING:
    from argon2 import PasswordHasher

ADMIN, UNIT, LEADER, ASSESSOR = "admin", "unit", "leader", "assessor"
ROLES = (ADMIN, UNIT, LEADER, ASSESSOR)
ROLE_ZH = {ADMIN: "管理员", UNIT: "责任科室", LEADER: "领导（只读）", ASSESSOR: "核查人员"}

MIN_PASSWORD = 10
MAX_PASSWORD = 256
PASSWORD_MAX_AGE_DAYS = 90      # the console asks for a new password after this (等级保护: periodic change)
_USERNAME = re.compile(r"[\w.@-]{1,64}")


class AccountError(UsageError):
    """An account change that cannot be made (bad name, role, unit or password; no such user): one line."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    unit: str | None
    disabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    password_changed_at: dt.datetime
    last_login_at: dt.datetime | None

    @property
    def role_zh(self) -> str:
        return ROLE_ZH.get(self.role, self.role)

    def password_age_days(self, now: dt.datetime) -> int:
        return (now - self.password_changed_at).days


def _user(row: Any) -> User:
    m = row._mapping
    return User(id=m["id"], username=m["username"], role=m["role"], unit=m["unit"], disabled=bool(m["disabled"]),
                created_at=m["created_at"], updated_at=m["updated_at"],
                password_changed_at=m["password_changed_at"], last_login_at=m["last_login_at"])


def normalise_username(name: str) -> str:
    """The form a user name is stored and looked up in: NFKC, trimmed, lower case (names are not case-sensitive)."""
    return unicodedata.normalize("NFKC", name).strip().lower()


def check_username(name: str) -> str:
    """``name`` normalised, or ``AccountError``: 1–64 letters (Chinese included), digits, ``.``, ``_``, ``@``, ``-``."""
    norm = normalise_username(name)
    if not _USERNAME.fullmatch(norm):
        raise AccountError(f"user name {name!r}: use 1 to 64 letters, digits, '.', '_', '@' or '-'")
    return norm


def check_role(role: str, unit: str | None) -> str | None:
    """The unit to store for ``role``: a unit user needs its 责任科室, the other roles have none."""
    if role not in ROLES:
        raise AccountError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    unit = (unit or "").strip() or None
    if role == UNIT and unit is None:
        raise AccountError("role unit needs --unit: the 责任科室 whose problems the user answers for")
    if role != UNIT and unit is not None:
        raise AccountError(f"--unit is for role unit only (role {role} sees every unit)")
    if unit is not None and (len(unit) > 100 or any(unicodedata.category(ch)[0] == "C" for ch in unit)):
        raise AccountError("--unit: at most 100 characters, no control characters")
    return unit


# why a password is refused: (English for the command line, Chinese for the console)
PASSWORD_RULES = {
    "short": (f"at least {MIN_PASSWORD} characters", f"至少 {MIN_PASSWORD} 个字符"),
    "long": (f"at most {MAX_PASSWORD} characters", f"不超过 {MAX_PASSWORD} 个字符"),
    "classes": ("three of: lower-case letters, upper-case letters, digits, other characters",
                "须包含小写字母、大写字母、数字、其他字符中的至少三类"),
    "name": ("must not contain the user name", "不得包含用户名"),
    "control": ("no control characters", "不得包含控制字符"),
}


def password_problem(password: str, username: str = "") -> str | None:
    """The key in ``PASSWORD_RULES`` of the first rule ``password`` breaks, None when it is acceptable."""
    if len(password) < MIN_PASSWORD:
        return "short"
    if len(password) > MAX_PASSWORD:
        return "long"
    if any(unicodedata.category(ch) == "Cc" for ch in password):
        return "control"
    classes = (any(ch.islower() and ch.isascii() for ch in password),
               any(ch.isupper() and ch.isascii() for ch in password),
               any(ch.isdigit() for ch in password),
               any(not (ch.isascii() and ch.isalnum()) for ch in password))
    if sum(classes) < 3:
        return "classes"
    name = normalise_username(username)
    if len(name) >= 3 and name in password.lower():
        return "name"
    return None


def check_password(password: str, username: str = "") -> None:
    problem = password_problem(password, username)
    if problem is not None:
        raise AccountError(f"password refused: {PASSWORD_RULES[problem][0]}")


# Password hashes computed at once: each takes 64 MiB for ~0.1 s, so a flood of sign-in attempts queues here
# instead of filling the memory of the server (the thread pool runs up to 40 requests at a time).
HASH_SLOTS = threading.BoundedSemaphore(2)


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    """argon2-cffi's password hasher (its default parameters, argon2id)."""
    from argon2 import PasswordHasher  # lazy: the console extra, needed only where passwords are set or checked

    return PasswordHasher()


def hash_password(password: str) -> str:
    with HASH_SLOTS:
        return hasher().hash(password)


def verify_password(encoded: str, password: str) -> tuple[bool, bool]:
    """(whether ``password`` matches the stored hash, whether the hash should be redone with today's parameters)."""
    from argon2.exceptions import InvalidHashError, VerificationError  # lazy: see hasher

    h = hasher()
    try:
        with HASH_SLOTS:
            h.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False, False
    return True, h.check_needs_rehash(encoded)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash no password matches, checked for an unknown user name so that it takes as long as a known one."""
    import secrets

    return hash_password(secrets.token_urlsafe(24))


# --- reads ----------------------------------------------------------------------------------------------------
def get_user(engine: Engine | Connection, username: str) -> User | None:
    query = select(UserRow).where(UserRow.c.username == normalise_username(username))
    if isinstance(engine, Connection):
        row = engine.execute(query).first()
    else:
        with engine.connect() as c:
            row = c.execute(query).first()
    return _user(row) if row is not None else None


def user_by_id(c: Connection, user_id: int) -> User | None:
    row = c.execute(select(UserRow).where(UserRow.c.id == user_id)).first()
    return _user(row) if row is not None else None


def password_hash(engine: Engine, user_id: int) -> str:
    with engine.connect() as c:
        encoded: str = c.execute(select(UserRow.c.password_hash).where(UserRow.c.id == user_id)).scalar_one()
        return encoded


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as c:
        return [_user(r) for r in c.execute(select(UserRow).order_by(UserRow.c.username))]


def count_users(engine: Engine, enabled_only: bool = True) -> int:
    query = select(func.count()).select_from(UserRow)
    if enabled_only:
        query = query.where(UserRow.c.disabled.is_(False))
    with engine.connect() as c:
        n: int = c.execute(query).scalar_one()
        return n


# --- changes (each with its audit row) ------------------------------------------------------------------------
def _require(c: Connection, username: str) -> User:
    user = get_user(c, username)
    if user is None:
        raise AccountError(f"no user {username!r}")
    return user


def end_sessions(c: Connection, user_id: int, keep: int | None = None) -> int:
    """Delete the user's sessions (all but the session id ``keep``); returns how many ended."""
    query = delete(SessionRow).where(SessionRow.c.user_id == user_id)
    if keep is not None:
        query = query.where(SessionRow.c.id != keep)
    return int(c.execute(query).rowcount or 0)


def throttle_key(username: str) -> str:
    """The ``login_throttle`` key of a typed user name: its SHA-256, so that a password typed into the name field
    by mistake is never stored."""
    return hashlib.sha256(normalise_username(username).encode("utf-8", "surrogatepass")).hexdigest()


def clear_throttle(c: Connection, username: str) -> None:
    """Forget the failed sign-ins counted against a user name (a new password, an account enabled again)."""
    c.execute(delete(LoginThrottleRow).where(LoginThrottleRow.c.kind == "user",
                                             LoginThrottleRow.c.key == throttle_key(username)))


def add_user(engine: Engine, username: str, role: str, unit: str | None, password: str, by: Actor,
             now: dt.datetime | None = None) -> User:
    name = check_username(username)
    unit = check_role(role, unit)
    check_password(password, name)
    encoded = hash_password(password)
    now = now or dt.datetime.now()
    with engine.begin() as c:
        if get_user(c, name) is not None:
            raise AccountError(f"user {name!r} exists (sitewatch user passwd {name} sets a new password)")
        c.execute(insert(UserRow).values(username=name, role=role, unit=unit, password_hash=encoded, disabled=False,
                                         created_at=now, updated_at=now, password_changed_at=now))
        record(c, by, "user.add", name, {"role": role, "unit": unit}, at=now)
        return _require(c, name)


def set_password(engine: Engine, username: str, password: str, by: Actor, now: dt.datetime | None = None,
                 keep_session: int | None = None, action: str = "user.passwd") -> User:
    """A new password: every session of the user ends (but ``keep_session``, the one that changed it) and the
    failed sign-ins counted against the name are forgotten."""
    check_password(password, username)
    encoded = hash_password(password)
    now = now or dt.datetime.now()
    with engine.begin() as c:
        user = _require(c, username)
        c.execute(update(UserRow).where(UserRow.c.id == user.id).values(password_hash=encoded, updated_at=now,
                                                                        password_changed_at=now))
        ended = end_sessions(c, user.id, keep=keep_session)
        clear_throttle(c, user.username)
        record(c, by, action, user.username, {"sessions_ended": ended}, at=now)
        return _require(c, username)


def set_disabled(engine: Engine, username: str, disabled: bool, by: Actor, now: dt.datetime | None = None) -> User:
    """Disable an account (its sessions end at once) or enable it again."""
    now = now or dt.datetime.now()
    with engine.begin() as c:
        user = _require(c, username)
        c.execute(update(UserRow).where(UserRow.c.id == user.id).values(disabled=disabled, updated_at=now))
        detail: dict[str, Any] = {}
        if disabled:
            detail["sessions_ended"] = end_sessions(c, user.id)
        else:
            clear_throttle(c, user.username)
        record(c, by, "user.disable" if disabled else "user.enable", user.username, detail, at=now)
        return _require(c, username)


def rehash(engine: Engine, user_id: int, password: str) -> None:
    """Store the hash of a verified password again with today's parameters (no audit row: nothing changed)."""
    encoded = hash_password(password)
    with engine.begin() as c:
        c.execute(update(UserRow).where(UserRow.c.id == user_id).values(password_hash=encoded))
