"""Bounded store size: the detail rows (link occurrences, pages, checked targets) of all but each site's latest
completed scans are deleted. Scans, findings, columns and list items stay, so reports, look-backs, histories and
the 新发/复发 status of findings work for every scan; a spot-check needs the pages of the scan it samples."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, update

from sitewatch.store import CachedTargetRow, FrontierRow, LinkRow, PageRow, ScanRow, Store, TargetRow

DETAIL_TABLES = (LinkRow, PageRow, TargetRow, CachedTargetRow, FrontierRow)
PRUNED = "details_pruned"           # scan stats key: the date its detail rows were deleted


@dataclass
class PruneResult:
    scans: list[int] = field(default_factory=list)           # scans whose details were (or would be) deleted
    rows: dict[str, int] = field(default_factory=dict)       # table -> rows deleted (or that would be)


def prune(store: Store, keep: int, site: str | None = None, dry_run: bool = False) -> PruneResult:
    """Delete the detail rows of every completed scan older than the ``keep`` latest completed scans of its site
    (all kinds: audits, link scans, look-backs). Running and interrupted scans are never touched."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    by_site = defaultdict(list)
    for scan in store.scans(site, kind=None):
        if scan.status == "completed":
            by_site[scan.site].append(scan)
    old = [s for scans in by_site.values() for s in scans[:-keep] if not (s.stats or {}).get(PRUNED)]
    result = PruneResult(scans=[s.id for s in old])
    for table in DETAIL_TABLES:
        result.rows[table.name] = sum(store.count(table, s.id) for s in old)
    if dry_run or not old:
        return result
    store.flush()
    today = dt.date.today().isoformat()
    for s in old:       # a transaction per scan: pruned whole or not at all, and a scan running meanwhile waits
        with store.engine.begin() as c:       # for one scan's delete only (well within its busy timeout)
            for table in DETAIL_TABLES:
                c.execute(delete(table).where(table.c.scan_id == s.id))
            c.execute(update(ScanRow).where(ScanRow.c.id == s.id).values(stats={**(s.stats or {}), PRUNED: today}))
    return result
