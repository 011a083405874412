"""One scan, end to end: crawl → page checks → site checks → findings → store.

1. **crawl**: a ``resume.StoppableCrawler`` fetches the site; every crawled page goes to the page hooks, the list
   engines (``crawl.listings``) and the per-page checks (``rules.PageChecks``), while its rows go to the store;
2. **site checks**: the registry's site checks run over what the crawl stored (``run_checks``), and the page
   checks hand over what they collected;
3. **findings**: sorted, each with its 责任科室, saved with the scan's statistics and coverage ledger; the scan is
   marked completed. A stop request instead checkpoints the frontier (``resume.checkpoint``).

``start_scan`` begins a scan and ``resume_scan`` continues an interrupted one; both run ``_crawl_and_check``.
``findings_document`` is the findings JSON of a stored scan.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import difflib
import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from sitewatch import __version__
from sitewatch.config import SiteConfig
from sitewatch.crawl.coverage import Coverage, coverage_document
from sitewatch.crawl.linkcache import LinkCache, cache_summary
from sitewatch.crawl.listings import ListingCollector
from sitewatch.crawl.pagecache import PageCache
from sitewatch.crawl.stats import CrawlStats
from sitewatch.errors import BudgetError, ConfigError
from sitewatch.extract import ParsedPage
from sitewatch.listengines import ENGINES
from sitewatch.models import FINDINGS_SCHEMA, Finding
from sitewatch.packs import RuleSet, apply_overrides, load_rules
from sitewatch.resume import (
    Progress,
    StoppableCrawler,
    checkpoint,
    config_from_scan,
    forget_frontier,
    merged_stats,
    prepare_resume,
    replay_pages,
    scan_failed,
)
from sitewatch.rules import SITE, PageChecks, SiteData, checks
from sitewatch.store import ListItemRow, Store

log = logging.getLogger("sitewatch.scan")


@dataclass
class ScanResult:
    scan_id: int
    stats: CrawlStats
    findings: list[Finding]
    as_of: dt.date
    status: str


def run_scan(cfg: SiteConfig, store: Store, *, as_of: dt.date | None = None,
             progress: Progress | None = None) -> ScanResult:
    """Crawl ``cfg``'s site, check it and store everything. ``as_of`` fixes "today" for every date rule.
    The path of ``sitewatch scan`` and the scheduler (``start_scan``), without a stop request."""
    return start_scan(cfg, store, as_of=as_of, progress=progress)


def start_scan(cfg: SiteConfig, store: Store, *, kind: str = "full", as_of: dt.date | None = None,
               stop: threading.Event | None = None, progress: Progress | None = None) -> ScanResult:
    """A new scan of ``cfg``'s site; a ``stop`` request checkpoints it instead of losing its frontier."""
    as_of = as_of or cfg.as_of or dt.date.today()
    ruleset = site_rules(cfg)          # config errors before anything is stored
    scan_id = store.new_scan(cfg.name or cfg.start_urls[0], cfg.start_urls, as_of, cfg.to_json(), kind=kind)
    crawler, _ = build_crawler(cfg, store, scan_id, ruleset, stop=stop, progress=progress)
    return _crawl_and_check(store, scan_id, cfg, as_of, ruleset, crawler, before={}, resume=False)


def resume_scan(store: Store, scan_id: int, cfg: SiteConfig | None = None, *, stop: threading.Event | None = None,
                progress: Progress | None = None) -> ScanResult:
    """Continue an interrupted scan from the store (``resume.prepare_resume``), then check it and complete it."""
    scan = store.scan(scan_id)
    if scan is None:
        raise KeyError(scan_id)
    if scan.status == "completed":
        raise ValueError(f"scan {scan_id} is already completed")
    cfg = cfg or config_from_scan(scan)
    ruleset = site_rules(cfg)
    crawler, collector = build_crawler(cfg, store, scan_id, ruleset, stop=stop, progress=progress)
    prepare_resume(store, scan, cfg, crawler, collector)
    return _crawl_and_check(store, scan_id, cfg, scan.as_of, ruleset, crawler, before=dict(scan.stats or {}),
                            resume=True)


def _crawl_and_check(store: Store, scan_id: int, cfg: SiteConfig, as_of: dt.date, ruleset: RuleSet,
                     crawler: StoppableCrawler, before: dict[str, Any], resume: bool) -> ScanResult:
    """The pipeline of one run of a scan; ``before`` holds the statistics of its earlier runs."""
    try:
        # 1. crawl (the page checks run as page hooks; a resumed scan first replays its earlier pages to them)
        try:
            asyncio.run(_crawl(store, scan_id, crawler, resume))
        except SQLAlchemyError:
            raise
        except BudgetError as exc:      # the fleet's shared budget (Redis) failed: what was stored is kept
            store.finish_scan(scan_id, "failed", {**merged_stats(store, scan_id, before, crawler.stats),
                                                  "error": f"budget: {exc}"})
            raise
        except BaseException:
            store.finish_scan(scan_id, "interrupted", merged_stats(store, scan_id, before, crawler.stats))
            raise
        stats = merged_stats(store, scan_id, before, crawler.stats)
        if crawler.deferred:            # stopped: the frontier is kept for scan --resume
            checkpoint(store, scan_id, crawler.deferred, stats)
            log.warning("scan %d interrupted: %d URLs checkpointed", scan_id, len(crawler.deferred))
            return ScanResult(scan_id, crawler.stats, [], as_of, "interrupted")
        # 2. site checks over the store, with the page checks' findings
        findings = run_checks(store, scan_id, cfg, as_of, crawler.page_checks, ruleset)
        # 3. findings, statistics and coverage ledger to the store: the scan is complete
        stats["coverage"] = Coverage(stats.get("coverage")).merged(list_window_cuts(store, scan_id)).to_json()
        stats["cache"] = cache_summary(store, scan_id, cfg.link_cache_days)
        store.save_findings(scan_id, findings)
        stats.pop("checkpoint_page_id", None)
        forget_frontier(store, scan_id)
        store.finish_scan(scan_id, "completed", stats)
    except SQLAlchemyError as exc:
        raise scan_failed(store, scan_id, before, crawler.stats, exc) from None
    return ScanResult(scan_id, crawler.stats, findings, as_of, "completed")


async def _crawl(store: Store, scan_id: int, crawler: StoppableCrawler, resume: bool) -> None:
    watcher = asyncio.create_task(crawler.watch_stop())
    try:
        if resume:
            n = await replay_pages(store, scan_id, crawler)
            log.info("scan %d: %d earlier pages replayed to the page checks", scan_id, n)
        await crawler.run(resume=resume)
    finally:
        watcher.cancel()


def build_crawler(cfg: SiteConfig, store: Store, scan_id: int, ruleset: RuleSet, *,
                  stop: threading.Event | None = None, progress: Progress | None = None
                  ) -> tuple[StoppableCrawler, ListingCollector]:
    """The crawl of one scan: the crawler with its page hooks (list engines, then the per-page checks)."""
    crawler = StoppableCrawler(cfg, store, scan_id, stop=stop, progress=progress)
    scan = store.scan(scan_id)
    collector = ListingCollector(cfg, store, crawler.fetcher)
    crawler.page_checks = PageChecks(ruleset, cfg, cfg.start_urls)
    crawler.recorder.page_hooks += [collector, PageCheckHook(crawler.page_checks)]
    if scan is not None:
        crawler.link_cache = LinkCache.load(store, scan.site, scan_id, cfg.link_cache_days)
        crawler.page_cache = PageCache.load(store, scan.site, scan_id, analysis_fingerprint(cfg, crawler.page_checks),
                                            enabled=cfg.conditional, max_age_days=cfg.link_cache_days,
                                            start_urls=tuple(cfg.start_urls))
    return crawler, collector


class PageCheckHook:
    """The per-page checks as a crawler page hook that can also replay an unchanged page's stored facts."""

    def __init__(self, checks: PageChecks):
        self.checks = checks

    async def __call__(self, url: str, html: str, parsed: ParsedPage, scan_id: int) -> None:
        await self.checks.page_hook(url, html, parsed, scan_id)

    def replay_facts(self, url: str, facts: dict[str, Any], scan_id: int) -> None:
        self.checks.replay(url, facts.get("checks") or {})


def analysis_fingerprint(cfg: SiteConfig, checks: PageChecks) -> str:
    """What the facts stored with a page depend on besides the page: the code's version, the page checks' rules,
    the list engines' settings. Facts made otherwise are not replayed (crawl/pagecache.py)."""
    parts = [__version__, checks.fingerprint(), sorted(cfg.list_engines.items()), cfg.start_urls, cfg.render_js]
    return hashlib.sha1(json.dumps(parts, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


def site_rules(cfg: SiteConfig) -> RuleSet:
    """The rule set of a site: bundled packs, the config's packs and overrides, its pinned categories checked.
    Errors name the config file and the key."""
    ruleset = load_rules([Path(p) for p in cfg.rule_packs])
    if cfg.rule_overrides:
        apply_overrides(ruleset, cfg.rule_overrides, origin=f"{cfg.source}: rules.overrides")
    approvals = {item.approval for item in ruleset.items if item.approval}
    for name in (cfg.disclosures.get("approvals") or {}):
        if name not in approvals:
            near = difflib.get_close_matches(name, sorted(approvals), n=1)
            raise ConfigError(f"{cfg.source}: disclosures.approvals.{name}: no mandated item takes approval dates "
                              + (f"named so; did you mean {near[0]!r}?" if near
                                 else f"(known: {', '.join(sorted(approvals))})"))
    engines = {e.name for e in ENGINES}
    for prefix, engine in cfg.list_engines.items():
        if engine not in engines:
            raise ConfigError(f"{cfg.source}: list_engines.{prefix!r}: unknown engine {engine!r} "
                              f"(known: {', '.join(sorted(engines))})")
    known = set(ruleset.categories()) | {"none", "exempt"}
    for name, col in cfg.columns.items():
        if col.category is not None and col.category not in known:
            raise ConfigError(f"{cfg.source}: columns.{name}.category: unknown category {col.category!r} "
                              f"(known: {', '.join(sorted(known))})")
    return ruleset


def run_checks(store: Store, scan_id: int, cfg: SiteConfig, as_of: dt.date,
               page_checks: PageChecks | None = None, ruleset: RuleSet | None = None) -> list[Finding]:
    """Every site check of the registry over what the crawl stored, plus the findings of the page checks
    collected during the crawl; each finding gets its 责任科室 (unit) from the site config."""
    store.flush()
    site = SiteData(store, scan_id, cfg, as_of, ruleset or site_rules(cfg))
    findings = [f for check in checks(SITE) for f in check.run(site)]
    if page_checks is not None:
        findings.extend(page_checks.findings(as_of))
    for f in findings:
        column = f.extra.get("column")
        unit = cfg.unit_for(column) if column else cfg.default_unit
        if unit:
            f.extra.setdefault("unit", unit)
    findings.sort(key=lambda f: (f.rule, f.url, f.fingerprint))   # one order whatever the crawl's timing
    return findings


def list_window_cuts(store: Store, scan_id: int) -> Coverage:
    """Columns whose list announces more items than the crawl read (a static window of an API-driven list, list
    pages cut by a bound): the ledger's ``list_window`` entries, one example per column."""
    out = Coverage()
    with store.engine.connect() as c:
        read: dict[str, int] = dict(c.execute(
            select(ListItemRow.c.column_key, func.count(func.distinct(ListItemRow.c.url)))
            .where(ListItemRow.c.scan_id == scan_id).group_by(ListItemRow.c.column_key)).all())
    for col in store.columns(scan_id):
        n = read.get(col.key, 0)
        if col.total is not None and col.total > n:
            out.cut("list_window", f"{col.name or col.url}: {n}/{col.total} {col.url}", col.total - n)
    return out


def findings_document(store: Store, scan_id: int) -> dict[str, Any]:
    """The findings JSON (schema ``sitewatch.findings/1``) of a stored scan; ``summary`` and ``numbers`` are the
    counts every report shows (``reporting.numbers``)."""
    from sitewatch.reporting.data import scan_numbers  # lazy: needed once a document is written, not to crawl (~30 ms)

    scan = store.scan(scan_id)
    if scan is None:
        raise KeyError(scan_id)
    findings = store.findings(scan_id)
    numbers = scan_numbers(store, scan)
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
                                         "pages_per_second", "skipped_robots", "traps", "limited", "throttle",
                                         "reused", "bytes_received", "conditional")},
            "coverage": coverage_document(stats),
            "cache": stats.get("cache") or (
                cache_summary(store, scan.id, (scan.config or {}).get("link_cache_days"))   # an interrupted scan
                if scan.status != "completed" else {"max_age_days": None, "reused": 0, "measured_from": None,
                                                    "measured_to": None, "measured_by_scans": []}),
        },
        "summary": dict(numbers.by_rule),
        "numbers": numbers.to_json(),
        "findings": [f.to_json() for f in findings],
    }


def write_json(path: str | Path, doc: dict[str, Any]) -> None:
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(p)
