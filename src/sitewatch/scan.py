"""The parts of one scan: the crawl with its page hooks, the checks over the store, the findings JSON.

``resume.py`` runs them end to end (``run_scan``, ``start_scan``, ``resume_scan``)."""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from sitewatch.config import SiteConfig
from sitewatch.crawl.coverage import Coverage, coverage_document
from sitewatch.crawl.engine import Crawler
from sitewatch.crawl.listings import ListingCollector
from sitewatch.crawl.stats import CrawlStats
from sitewatch.errors import ConfigError
from sitewatch.listengines import ENGINES
from sitewatch.models import FINDINGS_SCHEMA, Finding
from sitewatch.packs import RuleSet, apply_overrides, load_rules
from sitewatch.rules import SITE, PageChecks, SiteData, checks
from sitewatch.store import ListItemRow, Store


@dataclass
class ScanResult:
    scan_id: int
    stats: CrawlStats
    findings: list[Finding]
    as_of: dt.date
    status: str


def build_crawler(cfg: SiteConfig, store: Store, scan_id: int, ruleset: RuleSet, *,
                  crawler_cls: type[Crawler] = Crawler, **kwargs: Any) -> tuple[Crawler, ListingCollector, PageChecks]:
    """The crawl of one scan: the crawler with its page analysers (list engines, per-page checks)."""
    crawler = crawler_cls(cfg, store, scan_id, **kwargs)
    collector = ListingCollector(cfg, store, crawler.fetcher)
    page_checks = PageChecks(ruleset, cfg, cfg.start_urls)
    crawler.recorder.page_hooks += [collector, page_checks.page_hook]
    return crawler, collector, page_checks


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
            "coverage": coverage_document(stats),
        },
        "summary": dict(sorted(Counter(f.rule for f in findings).items())),
        "findings": [f.to_json() for f in findings],
    }


def write_json(path: str | Path, doc: dict[str, Any]) -> None:
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(p)
