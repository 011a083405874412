"""The console's problem pages and the unit's 整改 declaration (issue 18), and the audit log as CSV.

- ``GET /problems``: the problems of a site's latest completed full scan, filtered by plain GET parameters
  (``site``, ``unit``, ``rule``, ``severity``, ``status``, ``overdue``); a unit user sees its own 责任科室's only.
- ``GET /problems/{fingerprint}``: one problem (message, evidence, rule, 整改时限, history, declarations); a
  problem the user may not see answers 404, like one that does not exist.
- ``POST /problems/{fingerprint}/declare``: a unit (its own problems) or an admin (any) declares 已整改 / 整改中 /
  无法整改 with 整改措施; stored as the ``declarations`` row an imported workbook would be, audit-logged.
- ``GET /audit.csv``: the audit log (admin), filtered like ``/audit`` (``actor``, ``action``).
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sitewatch.console import audit
from sitewatch.console.accounts import ADMIN, ROLE_ZH, UNIT, User
from sitewatch.console.auth import action, console_of, read_form, view
from sitewatch.console.data_problems import (
    DECLARABLE,
    STATES,
    Filters,
    audit_csv,
    declaration_problem,
    declare,
    may_declare,
    problem_detail,
    problem_list,
)
from sitewatch.console.pages import render as _render
from sitewatch.urls import display_url


def outside_link(value: Any) -> Markup:
    """A crawled URL as a link that leaves the console: http(s) only, with rel=noopener noreferrer; anything else
    (``javascript:``, ``data:``) is text."""
    text = "" if value is None else str(value)
    if not text:
        return Markup("—")
    shown = escape(display_url(text))
    if text.lower().startswith(("http://", "https://")) and not any(ch.isspace() for ch in text):
        return Markup(f'<a class="url" href="{escape(text)}" rel="noopener noreferrer">{shown}</a>')
    return Markup(f'<span class="url">{shown}</span>')


def _evidence(value: Any) -> list[tuple[str, Any]]:
    """A finding's evidence as (label, value) pairs, nested values flattened one level."""
    if not isinstance(value, dict):
        return []
    out: list[tuple[str, Any]] = []
    for k, v in value.items():
        if isinstance(v, (list, tuple)):
            out.extend((str(k), x) for x in v[:50])
        else:
            out.append((str(k), v))
    return out


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and "://" in value[:16]


@view()
async def problems_page(request: Request) -> Response:
    con = console_of(request)
    user: User = request.state.user
    filters = Filters.of(request.query_params)
    listing = await run_in_threadpool(problem_list, user, con.store, filters, con.clock().date())
    return _render(request, "problems.html.j2", p=listing, f=listing.filters, states=STATES,
                   fixed_unit=user.role == UNIT, link=outside_link)


async def _detail_page(request: Request, status: int = 200, error: str = "", form: dict[str, str] | None = None
                       ) -> Response:
    con = console_of(request)
    user: User = request.state.user
    fingerprint = str(request.path_params["fingerprint"])
    detail = await run_in_threadpool(problem_detail, user, con.store, fingerprint, con.clock().date())
    if detail is None:
        raise HTTPException(404)
    return _render(request, "problem.html.j2", status=status, d=detail, r=detail.row, declarable=DECLARABLE,
                   can_declare=may_declare(user) and not con.read_only, error=error, form=form or {},
                   done=request.query_params.get("declared") == "1", link=outside_link,
                   evidence=_evidence(detail.finding.evidence), is_url=_is_url)


@view()
async def problem_page(request: Request) -> Response:
    return await _detail_page(request)


@action(ADMIN, UNIT)
async def declare_submit(request: Request) -> Response:
    con = console_of(request)
    user: User = request.state.user
    fingerprint = str(request.path_params["fingerprint"])
    form = await read_form(request)
    values = {k: str(form.get(k) or "").strip() for k in ("status", "note", "new_url", "done_on")}
    error = declaration_problem(values["status"], values["note"], values["new_url"], values["done_on"])
    if error:
        return await _detail_page(request, 400, error, values)
    actor = audit.Actor(user.username, user.role, request.client.host if request.client else "")
    ok = await run_in_threadpool(declare, con.store, user, fingerprint, values["status"], values["note"],
                                 values["new_url"], values["done_on"], actor, con.clock())
    if not ok:
        raise HTTPException(404)
    return RedirectResponse(f"/problems/{fingerprint}?declared=1", status_code=303)


AUDIT_CSV_MAX = 100_000          # rows one export holds at most (newest first)


@view(ADMIN)
async def audit_csv_export(request: Request) -> Response:
    con = console_of(request)
    actor = str(request.query_params.get("actor") or "")[:200] or None
    what = str(request.query_params.get("action") or "")[:50] or None
    rows = await run_in_threadpool(audit.entries, con.engine, AUDIT_CSV_MAX, actor, what)
    body = audit_csv(rows, ROLE_ZH)
    name = f"audit-{con.clock().date().isoformat()}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


ROUTES = [
    Route("/problems", problems_page, methods=["GET"]),
    Route("/problems/{fingerprint}", problem_page, methods=["GET"]),
    Route("/problems/{fingerprint}/declare", declare_submit, methods=["POST"]),
    Route("/audit.csv", audit_csv_export, methods=["GET"]),
]
