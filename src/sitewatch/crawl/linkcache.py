"""The link cache: a target found ``ok`` by the latest earlier completed scan of the same site, measured less than
``[crawl] link_cache_days`` days ago, is not requested again; its stored result is reused.

Only targets that are checked, never parsed, are served from the cache: external URLs and the site's attachments.
A page of the site that is crawled is always fetched. A target found broken, or judged warning or skipped, is
always checked again. A reused result keeps the time it was measured (``cached_targets.measured_at``), through any
number of scans that reuse it: the age of a result is always the age of its measurement.

The age of a result is measured from the start of the scan that measured it (its ``scans.started_at``, or for a
result that scan itself reused, that result's ``measured_at``); every check of a scan happens after its start, so
this never makes a result look younger than it is. A result is reused while its age is *less than* the maximum
age: a result exactly ``link_cache_days`` days old is checked again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from sitewatch.store import CachedTargetRow, PageRow, ScanRow, Store, TargetRow
from sitewatch.urls import Scope, is_attachment

CACHE_KINDS = ("full", "links")      # scans that check every link of the site (a look-back re-checks a few URLs)


@dataclass(frozen=True)
class CachedResult:
    """A target's result as an earlier scan measured it."""

    url: str
    method: str
    status: int | None
    reason: str
    detail: str
    final_url: str
    chain: list[Any]
    elapsed_ms: int
    measured_at: dt.datetime
    measured_scan: int


class LinkCache:
    """The reusable results for one scan (empty when the cache is off or no earlier scan qualifies)."""

    def __init__(self, results: dict[str, CachedResult] | None = None, max_age_days: int = 0):
        self.results = results or {}
        self.max_age_days = max_age_days

    @classmethod
    def load(cls, store: Store, site: str, scan_id: int, max_age_days: int,
             now: dt.datetime | None = None) -> LinkCache:
        """The ``ok`` results of the latest completed scan of ``site`` before ``scan_id`` (a full audit or a link
        scan) measured less than ``max_age_days`` days before ``now``. ``max_age_days`` 0 turns the cache off."""
        if max_age_days <= 0:
            return cls(None, max_age_days)
        now = now or dt.datetime.now()
        with store.engine.connect() as c:
            earlier = latest_before(c, site, scan_id, CACHE_KINDS)
            if earlier is None:
                return cls(None, max_age_days)
            measured = measurements(c, earlier)
            rows = c.execute(select(TargetRow).where(
                TargetRow.c.scan_id == earlier.id, TargetRow.c.verdict == "ok",
                TargetRow.c.internal.is_(False))).all()
        results: dict[str, CachedResult] = {}
        for r in rows:
            measured_at, measured_scan = measured(r.url)
            if young(measured_at, now, max_age_days):
                results[r.url] = CachedResult(r.url, r.method, r.status, r.reason, r.detail, r.final_url,
                                              list(r.chain or []), r.elapsed_ms, measured_at, measured_scan)
        return cls(results, max_age_days)

    def lookup(self, url: str, crawl: bool, scope: Scope) -> CachedResult | None:
        """The reusable result for ``url`` when it is only checked (an external URL or an attachment of the site),
        else None: a page of the site that the scan reads is never taken from the cache."""
        if crawl or not self.results or (scope.in_scope(url) and not is_attachment(url)):
            return None
        return self.results.get(url)


def latest_before(c: Connection, site: str, scan_id: int, kinds: tuple[str, ...]) -> Any:
    """The latest completed scan of ``site`` before ``scan_id`` of one of ``kinds`` (a row: id, started_at, stats),
    or None."""
    return c.execute(select(ScanRow.c.id, ScanRow.c.started_at, ScanRow.c.stats).where(
        ScanRow.c.site == site, ScanRow.c.id < scan_id, ScanRow.c.status == "completed",
        ScanRow.c.kind.in_(kinds)).order_by(ScanRow.c.id.desc()).limit(1)).first()


def measurements(c: Connection, scan: Any) -> Callable[[str], tuple[dt.datetime, int]]:
    """When, and by which scan, each result of ``scan`` was measured: a result it reused keeps its measurement
    (``cached_targets``); every other one was measured by ``scan``, after its start."""
    reused = {r.url: (r.measured_at, r.measured_scan) for r in c.execute(
        select(CachedTargetRow.c.url, CachedTargetRow.c.measured_at, CachedTargetRow.c.measured_scan)
        .where(CachedTargetRow.c.scan_id == scan.id))}
    own = (scan.started_at, scan.id)
    return lambda url: reused.get(url, own)


def young(measured_at: dt.datetime, now: dt.datetime, max_age_days: int) -> bool:
    """A measurement younger than ``max_age_days`` days at ``now`` (one exactly that old is not)."""
    return now - dt.timedelta(days=max_age_days) < measured_at <= now


def cache_summary(store: Store, scan_id: int, max_age_days: int | None) -> dict[str, Any]:
    """What a scan took from the link cache (``scan.cache`` of the findings JSON): how many targets only checked
    (external links, attachments), measured when and by which scans. (Pages of the site reused without a request
    are counted in ``scan.conditional``.)"""
    with store.engine.connect() as c:
        pages = select(PageRow.c.url).where(PageRow.c.scan_id == scan_id)
        rows = c.execute(select(CachedTargetRow.c.measured_at, CachedTargetRow.c.measured_scan)
                         .where(CachedTargetRow.c.scan_id == scan_id, CachedTargetRow.c.url.not_in(pages))).all()
    times = [r.measured_at for r in rows]
    return {"max_age_days": max_age_days, "reused": len(rows),
            "measured_from": min(times).isoformat(timespec="seconds") if times else None,
            "measured_to": max(times).isoformat(timespec="seconds") if times else None,
            "measured_by_scans": sorted({r.measured_scan for r in rows})}
