"""One scan end to end: crawl the site into the store, run the checks, save and export the findings."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sitewatch.checks_links import link_findings
from sitewatch.config import SiteConfig
from sitewatch.crawl.engine import CrawlStats, Crawler
from sitewatch.models import FINDINGS_SCHEMA, Finding
from sitewatch.store import Store


@dataclass
class ScanResult:
    scan_id: int
    stats: CrawlStats
    findings: list[Finding]
    as_of: dt.date
    status: str


def run_scan(cfg: SiteConfig, store: Store, *, as_of: dt.date | None = None,
             progress: Callable[[CrawlStats, int], None] | None = None) -> ScanResult:
    """Crawl ``cfg``'s site, check it and store everything. ``as_of`` fixes "today" for every date rule."""
    as_of = as_of or cfg.as_of or dt.date.today()
    scan_id = store.new_scan(cfg.name or cfg.start_urls[0], cfg.start_urls, as_of, cfg.to_json())
    crawler = Crawler(cfg, store, scan_id, progress=progress)
    status = "interrupted"
    try:
        stats = asyncio.run(crawler.run())
        status = "completed"
    finally:
        if status != "completed":
            store.finish_scan(scan_id, status, crawler.stats.to_json())
    findings = run_checks(store, scan_id, cfg, as_of)
    store.save_findings(scan_id, findings)
    store.finish_scan(scan_id, status, stats.to_json())
    return ScanResult(scan_id, stats, findings, as_of, status)


def run_checks(store: Store, scan_id: int, cfg: SiteConfig, as_of: dt.date) -> list[Finding]:
    """Every check over what the crawl stored, in rule order."""
    return link_findings(store, scan_id)


def findings_document(store: Store, scan_id: int) -> dict:
    """The findings JSON (schema ``sitewatch.findings/1``) of a stored scan."""
    scan = store.scan(scan_id)
    if scan is None:
        raise KeyError(scan_id)
    findings = store.findings(scan_id)
    stats = dict(scan.stats or {})
    return {
        "schema": FINDINGS_SCHEMA,
        "site": scan.site,
        "as_of": scan.as_of.isoformat(),
        "scan": {
            "id": scan.id,
            "status": scan.status,
            "start_urls": scan.start_urls,
            "started_at": scan.started_at.isoformat(timespec="seconds") if scan.started_at else None,
            "finished_at": scan.finished_at.isoformat(timespec="seconds") if scan.finished_at else None,
            **{k: stats.get(k) for k in ("pages", "checked", "links", "broken", "requests", "seconds",
                                         "pages_per_second", "skipped_robots", "traps", "limited")},
        },
        "summary": dict(sorted(Counter(f.rule for f in findings).items())),
        "findings": [f.to_json() for f in findings],
    }


def write_json(path: str | Path, doc: dict) -> None:
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(p)
