"""What every console page module shares: rendering a template of ``reports/console/`` with what the layout needs,
and the actor of a change (for the audit log). ``app.py`` and the ``pages_*`` modules import it (not each other)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from sitewatch.console import audit
from sitewatch.console.accounts import PASSWORD_MAX_AGE_DAYS, ROLE_ZH, User
from sitewatch.console.auth import Session, console_of


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page of ``reports/console/``, with what the layout needs (the user, the CSRF secret, the read-only flag)."""
    con = console_of(request)
    user: User | None = getattr(request.state, "user", None)
    session: Session | None = getattr(request.state, "session", None)
    html = con.env.get_template(f"console/{template}").render(
        user=user, csrf=session.csrf if session else "", read_only=con.read_only, role_zh=ROLE_ZH,
        path=request.url.path, now=con.clock(), password_max_age=PASSWORD_MAX_AGE_DAYS, **context)
    return HTMLResponse(html, status_code=status)


def actor(request: Request) -> audit.Actor:
    """Who makes a change: the signed-in user and the client's address."""
    user: User | None = getattr(request.state, "user", None)
    return audit.Actor(user.username if user else "", user.role if user else "",
                       request.client.host if request.client else "")
