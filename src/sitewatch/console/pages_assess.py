"""The console's spot-check (抽查) pages: an assessor draws a reproducible sample of a completed scan (the same
rows as ``sitewatch spotcheck --seed N``), records a 核查结论 and 备注 per row, and downloads the signed 抽查表.

- ``GET /spotcheck``: the draw form (a completed scan, a seed — a new random one by default — and the sizes) and
  the draws recorded so far;
- ``POST /spotcheck``: records the draw (an audit row: scan, seed, sizes) and opens it;
- ``GET /spotcheck/{scan_id}/{seed}``: the checklist, with the conclusions recorded so far (n of N);
- ``POST /spotcheck/{scan_id}/{seed}/assess``: one row's 核查结论 and 备注 (a ``declarations`` row of kind spotcheck);
- ``GET /spotcheck/{scan_id}/{seed}/checklist.html`` and ``.xlsx``: the 抽查表 filled with what was recorded.

Assessors and admins draw and conclude; a leader opens and downloads only; a unit user is refused.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sitewatch.console import data_assess as da
from sitewatch.console.accounts import ADMIN, ASSESSOR, LEADER, User
from sitewatch.console.auth import action, read_form, view
from sitewatch.console.pages import actor as _actor
from sitewatch.console.pages import render as _render
from sitewatch.reporting.workbook import ASSESSMENTS
from sitewatch.urls import display_url, short_url

READERS = (ADMIN, ASSESSOR, LEADER)      # who sees spot-checks
ASSESSORS = (ADMIN, ASSESSOR)            # who draws and concludes
MEDIA = {"html": "text/html; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}






def evidence_link(url: Any, limit: int = 64) -> Markup:
    """A sampled row's URL: linked (http and https only; anything else is text), opened in a new tab without the
    console as opener or referrer."""
    url = str(url or "")
    if not url:
        return Markup("—")
    shown, full = escape(short_url(url, limit)), escape(display_url(url))
    if url.lower().startswith(("http://", "https://")):
        return Markup(f'<a class="url" href="{escape(url)}" title="{full}" target="_blank" '
                      f'rel="noopener noreferrer">{shown}</a>')
    return Markup(f'<span class="url" title="{full}">{shown}</span>')


def _int(value: Any, default: int | None = None) -> int:
    text = str(value if value is not None else "").strip()
    if not text and default is not None:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise da.AssessError("请输入非负整数。")
    return int(text)


def may_assess(request: Request) -> bool:
    user: User | None = getattr(request.state, "user", None)
    return user is not None and user.role in ASSESSORS and not request.app.state.console.read_only


# --- the draw ----------------------------------------------------------------------------------------------------
async def _index(request: Request, status: int = 200, error: str = "", form: dict[str, Any] | None = None
                 ) -> Response:
    store = request.app.state.console.store
    scans = await run_in_threadpool(da.completed_scans, store)
    recorded = await run_in_threadpool(da.draws, store)
    form = form or {"seed": secrets.randbelow(1_000_000), "sample": da.DEFAULT_SAMPLE, "pages": da.DEFAULT_SAMPLE,
                    "scan_id": scans[0].id if scans else None}
    return _render(request, "spotcheck.html.j2", status=status, scans=scans, draws=recorded, form=form, error=error,
                   may_assess=may_assess(request), max_sample=da.MAX_SAMPLE, max_seed=da.MAX_SEED)


@view(*READERS)
async def spotcheck_index(request: Request) -> Response:
    return await _index(request)


@action(*ASSESSORS)
async def spotcheck_draw(request: Request) -> Response:
    con = request.app.state.console
    form = await read_form(request)
    given = {k: str(form.get(k) or "").strip()[:20] for k in ("scan_id", "seed", "sample", "pages")}
    try:
        scan_id, seed = _int(given["scan_id"]), da.check_seed(_int(given["seed"]))
        scan = await run_in_threadpool(da.completed_scan, con.store, scan_id)
        if scan is None:
            raise da.AssessError("请选择一次已完成的扫描。")
        sample_size = _int(given["sample"], da.DEFAULT_SAMPLE)
        sizes = da.check_sizes(scan, sample_size, _int(given["pages"], sample_size))
    except da.AssessError as exc:
        return await _index(request, 400, str(exc), given)
    await run_in_threadpool(da.record_draw, con.store, scan, seed, sizes, _actor(request), con.clock())
    return RedirectResponse(f"/spotcheck/{scan.id}/{seed}", status_code=303)


# --- the checklist -----------------------------------------------------------------------------------------------
async def _opened(request: Request) -> tuple[Any, int, da.Sizes]:
    """The scan, seed and sizes of ``/spotcheck/{scan_id}/{seed}``: the sizes of its recorded draw (the default
    sizes for a sample never drawn in the console, e.g. one written by ``sitewatch spotcheck``)."""
    store = request.app.state.console.store
    scan_id, seed = int(request.path_params["scan_id"]), int(request.path_params["seed"])
    scan = await run_in_threadpool(da.completed_scan, store, scan_id)
    if scan is None or seed > da.MAX_SEED:
        raise HTTPException(404)
    sizes = await run_in_threadpool(da.drawn_sizes, store, scan_id, seed) or da.Sizes()
    return scan, seed, sizes


async def _sample_page(request: Request, status: int = 200, error: str = "", done: int | None = None) -> Response:
    scan, seed, sizes = await _opened(request)
    sheet = await run_in_threadpool(da.checklist, request.app.state.console.store, scan, seed, sizes)
    return _render(request, "spotcheck_sample.html.j2", status=status, sheet=sheet, error=error, done=done,
                   assessments=ASSESSMENTS, may_assess=may_assess(request), evidence_link=evidence_link)


@view(*READERS)
async def spotcheck_sample(request: Request) -> Response:
    done = request.query_params.get("saved")
    return await _sample_page(request, done=int(done) if done and done.isdigit() and len(done) < 6 else None)


@action(*ASSESSORS)
async def spotcheck_assess(request: Request) -> Response:
    con = request.app.state.console
    scan, seed, sizes = await _opened(request)
    form = await read_form(request)
    key = str(form.get("key") or "")[:100]
    assessment = str(form.get("assessment") or "").strip()
    remark = str(form.get("remark") or "")[:da.MAX_REMARK + 1]
    try:
        row = await run_in_threadpool(da.conclude, con.store, scan, seed, sizes, key, assessment, remark,
                                      _actor(request), con.clock())
    except da.AssessError as exc:
        return await _sample_page(request, 400, str(exc))
    return RedirectResponse(f"/spotcheck/{scan.id}/{seed}?saved={row['no']}#row-{row['no']}", status_code=303)


def attachment(name: str) -> str:
    """A Content-Disposition for ``name``: an ASCII fallback and the UTF-8 name (RFC 6266, RFC 5987 filename*)."""
    ascii_name = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


async def _export(request: Request, fmt: str) -> Response:
    scan, seed, sizes = await _opened(request)
    name, body = await run_in_threadpool(da.export, request.app.state.console.store, scan, seed, sizes, fmt)
    return Response(body, media_type=MEDIA[fmt], headers={"content-disposition": attachment(name)})


@view(*READERS)
async def spotcheck_html(request: Request) -> Response:
    return await _export(request, "html")


@view(*READERS)
async def spotcheck_xlsx(request: Request) -> Response:
    return await _export(request, "xlsx")


ROUTES = [
    Route("/spotcheck", spotcheck_index, methods=["GET"]),
    Route("/spotcheck", spotcheck_draw, methods=["POST"]),
    Route("/spotcheck/{scan_id:int}/{seed:int}", spotcheck_sample, methods=["GET"]),
    Route("/spotcheck/{scan_id:int}/{seed:int}/assess", spotcheck_assess, methods=["POST"]),
    Route("/spotcheck/{scan_id:int}/{seed:int}/checklist.html", spotcheck_html, methods=["GET"]),
    Route("/spotcheck/{scan_id:int}/{seed:int}/checklist.xlsx", spotcheck_xlsx, methods=["GET"]),
]
