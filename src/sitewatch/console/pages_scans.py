"""The console's scan pages: ``/scans`` (every scan), ``/scans/{id}`` (coverage, cache reuse, findings by rule,
downloads, live progress of a running scan), ``/scans/{id}/progress`` (JSON), ``/scans/{id}/files/{key}`` (a report
file written on demand from the store) and ``POST /scans/start`` (admin: a scan or a look-back of a site, run in a
background thread).

The sites an admin may scan are those given to ``sitewatch serve --config`` (``app.state.site_configs``) and every
other site of the store with the settings of its latest full scan (``data_scans.scannable_sites``).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sitewatch.config import SiteConfig
from sitewatch.console import audit
from sitewatch.console.accounts import ADMIN, ASSESSOR, LEADER, User
from sitewatch.console.auth import action, read_form, view
from sitewatch.console.data_scans import (
    FILES,
    KIND_ZH,
    MEDIA,
    STATUS_ZH,
    Job,
    Jobs,
    files_of,
    progress,
    run_full_scan,
    run_lookback_job,
    scan_detail,
    scan_list,
    scannable_sites,
    write_file,
)
from sitewatch.console.pages import render
from sitewatch.reporting.data import score_text
from sitewatch.store import Store

REFRESH_SECONDS = 3         # the detail page of a running scan reloads itself (meta refresh: no script)
WAIT_FOR_ID = 15.0          # seconds a start waits for the new scan's id before showing the list


def _con(request: Request) -> Any:
    return request.app.state.console


def _render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page with the scan pages' words and helpers besides what the layout needs."""
    return render(request, template, status, kind_zh=KIND_ZH, status_zh=STATUS_ZH, score_text=score_text, **context)


def jobs_of(request: Request) -> Jobs:
    state = request.app.state
    jobs: Jobs | None = getattr(state, "scan_jobs", None)
    if jobs is None:
        jobs = state.scan_jobs = Jobs(_con(request).engine.url.render_as_string(hide_password=False))
    return jobs


def configured(request: Request) -> list[SiteConfig]:
    return list(getattr(request.app.state, "site_configs", None) or [])


def _scan_id(request: Request) -> int:
    value = request.path_params["id"]
    if not isinstance(value, int) or value <= 0:
        raise HTTPException(404)
    return value


def _scan(store: Store, scan_id: int) -> Any:
    scan = store.scan(scan_id)
    if scan is None:
        raise HTTPException(404)
    return scan


# --- pages ---------------------------------------------------------------------------------------------------
@view()
async def scans_page(request: Request) -> Response:
    con = _con(request)
    user: User = request.state.user
    site = request.query_params.get("site") or None
    rows = await run_in_threadpool(scan_list, con.store, user, site)
    sites: list[str] = []
    if user.role == ADMIN and not con.read_only:
        sites = list(await run_in_threadpool(scannable_sites, con.store, configured(request)))
    notice = {"scan": "扫描已开始。", "lookback": "回头看已开始，完成后出现在列表中。"}.get(
        request.query_params.get("started", ""), "")
    return _render(request, "scans.html.j2", rows=rows, sites=sites, notice=notice, site=site)


@view()
async def scan_page(request: Request) -> Response:
    con = _con(request)
    user: User = request.state.user
    scan = await run_in_threadpool(_scan, con.store, _scan_id(request))
    detail = await run_in_threadpool(scan_detail, con.store, scan, user)
    live = jobs_of(request).by_scan.get(scan.id)
    prog = await run_in_threadpool(progress, con.store, scan, live)
    return _render(request, "scan.html.j2", d=detail, s=scan, progress=prog,
                   refresh=REFRESH_SECONDS if scan.status == "running" else 0)


@view()
async def scan_progress(request: Request) -> Response:
    con = _con(request)
    scan = await run_in_threadpool(_scan, con.store, _scan_id(request))
    prog = await run_in_threadpool(progress, con.store, scan, jobs_of(request).by_scan.get(scan.id))
    return JSONResponse(prog, headers={"cache-control": "no-store"})


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the real (Chinese) one as RFC 5987 ``filename*``."""
    stem, dot, suffix = name.rpartition(".")
    ascii_name = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in stem)
    ascii_name = (ascii_name.strip("_") or "sitewatch") + (dot + suffix if suffix.isalnum() else "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _write(store: Store, scan_id: int, key: str, user: User) -> tuple[str, bytes]:
    scan = _scan(store, scan_id)
    if key not in dict(files_of(scan, user)):
        raise HTTPException(404)
    with tempfile.TemporaryDirectory(prefix="sitewatch-download-") as tmp:
        path = write_file(store, scan, key, Path(tmp))
        return path.name, path.read_bytes()


@view(ADMIN, LEADER, ASSESSOR)
async def scan_file(request: Request) -> Response:
    """A report file of a scan, written now from the store (a unit user has none: a report lists every unit)."""
    key = request.path_params["key"]
    if key not in FILES:
        raise HTTPException(404)
    name, body = await run_in_threadpool(_write, _con(request).store, _scan_id(request), key, request.state.user)
    return Response(body, media_type=MEDIA[Path(name).suffix],
                    headers={"content-disposition": content_disposition(name), "cache-control": "no-store"})


# --- starting a scan -----------------------------------------------------------------------------------------
def _start(request: Request, store: Store, site: str, kind: str) -> Job | str:
    """Start a job; the job, or why not (Chinese)."""
    sites = scannable_sites(store, configured(request))
    cfg = sites.get(site)
    if cfg is None:
        return "没有这个站点的配置。"
    jobs = jobs_of(request)
    latest = [s for s in store.scans(site, kind=None) if s.kind in ("full", "links")]
    if jobs.busy(site) or (latest and latest[-1].status == "running" and latest[-1].runner_state() == "alive"):
        return "该站点已有扫描在进行，请等它完成后再开始。"
    if kind == "lookback":
        baseline = store.latest_scan(site)
        if baseline is None:
            return "该站点尚无完成的全站扫描，无法回头看。"
        job = jobs.start(site, kind, run_lookback_job(jobs, baseline.id, cfg))
    else:
        job = jobs.start(site, kind, run_full_scan(jobs, cfg))
    return job if job is not None else "该站点已有扫描在进行，请等它完成后再开始。"


def _record(con: Any, actor: audit.Actor, action_name: str, site: str, detail: dict[str, Any]) -> None:
    with con.engine.begin() as c:
        audit.record(c, actor, action_name, site, detail, at=con.clock())


@action(ADMIN)
async def scan_start(request: Request) -> Response:
    con = _con(request)
    form = await read_form(request)
    site, kind = str(form.get("site") or ""), str(form.get("kind") or "full")
    if kind not in ("full", "lookback"):
        raise HTTPException(400)
    user: User = request.state.user
    actor = audit.Actor(user.username, user.role, request.client.host if request.client else "")
    outcome = await run_in_threadpool(_start, request, con.store, site, kind)
    if isinstance(outcome, str):
        rows = await run_in_threadpool(scan_list, con.store, user)
        sites = list(await run_in_threadpool(scannable_sites, con.store, configured(request)))
        return _render(request, "scans.html.j2", status=409, rows=rows, sites=sites, error=outcome, notice="")
    job = outcome
    action_name = "lookback.start" if kind == "lookback" else "scan.start"
    if kind == "full":
        await run_in_threadpool(job.started.wait, WAIT_FOR_ID)
    await run_in_threadpool(_record, con, actor, action_name, site,
                            {"kind": kind, "scan": job.scan_id, "at": dt.datetime.now().isoformat(timespec="seconds")})
    if kind == "full" and job.scan_id is not None:
        return RedirectResponse(f"/scans/{job.scan_id}", status_code=303)
    return RedirectResponse(f"/scans?started={'lookback' if kind == 'lookback' else 'scan'}", status_code=303)


ROUTES = [
    Route("/scans", scans_page, methods=["GET"]),
    Route("/scans/start", scan_start, methods=["POST"]),
    Route("/scans/{id:int}", scan_page, methods=["GET"]),
    Route("/scans/{id:int}/progress", scan_progress, methods=["GET"]),
    Route("/scans/{id:int}/files/{key}", scan_file, methods=["GET"]),
]
