"""The console's accounts page (admin): ``/users`` lists the accounts and adds one, sets a temporary password,
disables or enables one, through ``console.accounts`` (the code of ``sitewatch user``), each change with its audit
row. The last enabled admin cannot be disabled (nor disable itself)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sitewatch.console import accounts
from sitewatch.console.accounts import ADMIN, PASSWORD_RULES, ROLE_ZH, ROLES, UNIT, AccountError
from sitewatch.console.auth import action, read_form, view
from sitewatch.console.pages import actor as _actor
from sitewatch.console.pages import render as _render
from sitewatch.reporting.data import latest_units
from sitewatch.store import Store


def known_units(store: Store) -> list[str]:
    """The 责任科室 of the problems of each site's latest completed full scan (as ``sitewatch user add`` checks)."""
    return sorted(latest_units(store))


async def _page(request: Request, status: int = 200, error: str = "", done: str = "", warning: str = "",
                form: dict[str, Any] | None = None) -> Response:
    con = request.app.state.console
    users = await run_in_threadpool(accounts.list_users, con.engine)
    units = await run_in_threadpool(known_units, con.store)
    return _render(request, "users.html.j2", status=status, users=users, units=units, roles=ROLES,
                   role_names=ROLE_ZH, rules=PASSWORD_RULES, error=error, done=done, warning=warning,
                   form=form or {})


@view(ADMIN)
async def users_page(request: Request) -> Response:
    return await _page(request)


def _message(exc: AccountError) -> str:
    text = str(exc)
    for english, chinese in PASSWORD_RULES.values():
        if english in text:
            return f"密码不符合要求：{chinese}。"
    if "exists" in text:
        return "该用户名已存在。"
    if "user name" in text:
        return "用户名须为 1 到 64 个字母（可含中文）、数字或 . _ @ -。"
    if "needs --unit" in text:
        return "责任科室账户须填写责任科室。"
    if "--unit is for role unit only" in text:
        return "只有责任科室账户填写责任科室。"
    if "--unit" in text:
        return "责任科室不超过 100 个字符，不含控制字符。"
    if "no user" in text:
        return "没有该账户。"
    return "无法完成：" + text


@action(ADMIN)
async def user_add(request: Request) -> Response:
    con = request.app.state.console
    form = await read_form(request)
    name, role = str(form.get("username") or "")[:100], str(form.get("role") or "")
    unit = str(form.get("unit") or "").strip()[:200] if role == UNIT else None
    password = str(form.get("password") or "")[:1024]
    kept = {"username": name, "role": role, "unit": unit or ""}
    if password != str(form.get("confirm") or ""):
        return await _page(request, 400, "两次输入的密码不一致。", form=kept)
    try:
        user = await run_in_threadpool(accounts.add_user, con.engine, name, role, unit, password, _actor(request),
                                       con.clock())
    except AccountError as exc:
        return await _page(request, 400, _message(exc), form=kept)
    units = await run_in_threadpool(known_units, con.store)
    warning = (f"注意：最近的扫描结果中没有责任科室“{user.unit}”的问题，请确认名称与报告中一致。"
               if user.unit and units and user.unit not in units else "")
    return await _page(request, done=f"已新增账户 {user.username}（{ROLE_ZH[user.role]}）。", warning=warning)


@action(ADMIN)
async def user_passwd(request: Request) -> Response:
    con = request.app.state.console
    form = await read_form(request)
    name, password = str(form.get("username") or "")[:100], str(form.get("password") or "")[:1024]
    try:
        user = await run_in_threadpool(accounts.set_password, con.engine, name, password, _actor(request),
                                       con.clock())
    except AccountError as exc:
        return await _page(request, 400, _message(exc))
    return await _page(request, done=f"已为 {user.username} 设置临时密码，其登录已全部退出；请告知本人登录后立即修改。")


async def _disable(request: Request, disabled: bool) -> Response:
    con = request.app.state.console
    form = await read_form(request)
    name = str(form.get("username") or "")[:100]
    target = await run_in_threadpool(accounts.get_user, con.engine, name)
    if target is None:
        return await _page(request, 404, "没有该账户。")
    if disabled and target.role == ADMIN and not target.disabled:
        admins = [u for u in await run_in_threadpool(accounts.list_users, con.engine)
                  if u.role == ADMIN and not u.disabled]
        if len(admins) <= 1:
            return await _page(request, 400, "不能停用最后一个启用的管理员账户。")
    user = await run_in_threadpool(accounts.set_disabled, con.engine, target.username, disabled, _actor(request),
                                   con.clock())
    if disabled and user.id == request.state.user.id:
        return RedirectResponse("/login", status_code=303)     # its own session ended
    return await _page(request, done=f"已{'停用' if disabled else '启用'}账户 {user.username}。")


@action(ADMIN)
async def user_disable(request: Request) -> Response:
    return await _disable(request, True)


@action(ADMIN)
async def user_enable(request: Request) -> Response:
    return await _disable(request, False)


ROUTES = [
    Route("/users", users_page, methods=["GET"]),
    Route("/users/add", user_add, methods=["POST"]),
    Route("/users/passwd", user_passwd, methods=["POST"]),
    Route("/users/disable", user_disable, methods=["POST"]),
    Route("/users/enable", user_enable, methods=["POST"]),
]
