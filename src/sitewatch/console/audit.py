"""The audit log: who did what, when and from where (等级保护 2.0: security audit).

Every state-changing action of the console and of the ``user`` commands writes one ``audit_log`` row in the same
transaction as the change, so a change is never stored without its record. Nothing in sitewatch updates or deletes
an audit row (``prune`` leaves the table alone); keep them at least six months (docs/console.md).
"""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from sitewatch.store import AuditRow

# the actions recorded, with how the console shows them
ACTIONS_ZH = {
    "login.ok": "登录成功",
    "login.failed": "登录失败",
    "login.locked": "登录锁定",
    "logout": "退出登录",
    "session.expired": "会话超时",
    "password.changed": "修改本人密码",
    "user.add": "新增账户",
    "user.passwd": "重置密码",
    "user.disable": "停用账户",
    "user.enable": "启用账户",
    "problem.declare": "填报整改情况",
    "spotcheck.draw": "抽取抽查样本",
    "spotcheck.assess": "记录核查结论",
    "scan.start": "开始扫描",
    "lookback.start": "开始回头看",
}

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class Actor:
    """Who acts: a console user (name, role) and the client address, or a command run on the server."""

    name: str
    role: str = ""
    address: str = ""


def command_actor() -> Actor:
    """The person running a ``sitewatch`` command on the server (``cli:<system user>``)."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "?"
    return Actor(f"cli:{who}")


ANONYMOUS = Actor("")


def record(c: Connection, actor: Actor, action: str, target: str = "", detail: dict[str, Any] | None = None,
           at: dt.datetime | None = None) -> None:
    """Write one audit row on ``c`` (the transaction of the change it records)."""
    if action not in ACTIONS_ZH:
        raise ValueError(f"unknown audit action {action!r}")
    c.execute(insert(AuditRow).values(at=at or dt.datetime.now(), actor=actor.name[:200], role=actor.role,
                                      address=actor.address[:100], action=action, target=target[:500],
                                      detail=detail or {}))


def entries(engine: Engine, limit: int = 200, actor: str | None = None, action: str | None = None
            ) -> list[dict[str, Any]]:
    """The latest ``limit`` audit rows, newest first (``actor``: one user's; ``action``: one action's)."""
    query = select(AuditRow).order_by(AuditRow.c.id.desc()).limit(limit)
    if actor is not None:
        query = query.where(AuditRow.c.actor == actor)
    if action is not None:
        query = query.where(AuditRow.c.action == action)
    with engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(query)]
