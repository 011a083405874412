"""The parts of one scan: the crawl with its page hooks, the checks over the store, the findings JSON.

``resume.py`` runs them end to end (``run_scan``, ``start_scan``, ``resume_scan``)."""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import cast as type_cast

from sqlalchemy import Text, cast, func, or_, select

from sitewatch.checks_content import ColumnData, check_columns, check_disclosures, check_homepage, items_with_columns
from sitewatch.checks_links import failed_probes, link_findings
from sitewatch.checks_pages import PageChecks
from sitewatch.checks_reach import reach_findings
from sitewatch.config import SiteConfig
from sitewatch.crawl.coverage import Coverage, coverage_document
from sitewatch.crawl.engine import Crawler, CrawlStats
from sitewatch.crawl.listings import ARTICLES_KEY, GKMLPT_GUIDE, HOMEPAGE_KEY, ListingCollector
from sitewatch.errors import ConfigError
from sitewatch.listengines import ENGINES
from sitewatch.models import FINDINGS_SCHEMA, Finding, ListItem
from sitewatch.packs import RuleSet, apply_overrides, load_rules
from sitewatch.store import Link, ListItemRow, Page, Store, Target


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
    crawler.page_hooks += [collector, page_checks.page_hook]
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
    """Every check over what the crawl stored (links, homepage, columns, mandated disclosures), plus the
    per-page checks collected during the crawl (interaction, services, serious errors, site identity)."""
    store.flush()
    ruleset = ruleset or site_rules(cfg)
    findings: list[Finding] = []
    if ruleset.enabled("link.broken"):
        findings.extend(link_findings(store, scan_id, ruleset.severity("link.broken")))
    findings.extend(reach_findings(store, scan_id, cfg.start_urls, ruleset))
    columns, homepage, articles = load_columns(store, scan_id, cfg)
    site_url = cfg.start_urls[0]
    if homepage is not None:
        findings.extend(check_homepage(homepage.url, homepage.items, as_of, ruleset))
    pinned = {name: c.category for name, c in cfg.columns.items() if c.category}
    findings.extend(check_columns(columns, as_of, ruleset, site_url=site_url, pinned=pinned))
    if store.count(Page, scan_id):      # no page crawled: nothing was looked for, so nothing is "missing"
        pairs = items_with_columns(columns) + [(item, None) for item in articles]
        standalone = load_standalone(store, scan_id, [w for i in ruleset.items if i.enabled and i.kind == "present"
                                                      for w in i.keywords[0]])
        disclosures = check_disclosures(pairs, as_of, ruleset, {"url": site_url, "pinned": pinned, **cfg.disclosures},
                                        standalone=standalone)
        _add_guide_probes(disclosures, failed_probes(store, scan_id))
        findings.extend(disclosures)
    if page_checks is not None:
        findings.extend(page_checks.findings(as_of))
    for f in findings:
        column = f.extra.get("column")
        unit = cfg.unit_for(column) if column else cfg.default_unit
        if unit:
            f.extra.setdefault("unit", unit)
    findings.sort(key=lambda f: (f.rule, f.url, f.fingerprint))   # one order whatever the crawl's timing
    return findings


def _add_guide_probes(findings: list[Finding], probes: list[dict[str, Any]]) -> None:
    """A missing 信息公开指南 names the guessed guide URLs that were probed and did not answer (evidence.probed)."""
    guides = [p for p in probes if p["url"].endswith(GKMLPT_GUIDE)]
    for f in findings:
        if guides and f.rule == "disclosure.missing" and f.extra.get("item") == "disclosure_guide":
            f.evidence["probed"] = guides
            f.message += "（已探测 " + "、".join(
                f"{p['url']}：{'HTTP ' + str(p['status']) if 'status' in p else p['error']}" for p in guides) + "）"


def load_columns(store: Store, scan_id: int, cfg: SiteConfig
                 ) -> tuple[list[ColumnData], ColumnData | None, list[ListItem]]:
    """The crawled columns with their items (the homepage apart), and the dated article pages.

    An item whose list shows no date of its own but whose URL carries one takes its article page's date
    when the crawl saw that page; an item with no date at all stays undated (it counts as not updated).
    """
    is_article = ListItemRow.c.column_key == ARTICLES_KEY
    mine = ListItemRow.c.scan_id == scan_id
    page_dates: dict[str, dt.date] = {}
    page_docnos: dict[str, str] = {}
    page_attachments: dict[str, list[tuple[str, str]]] = {}
    by_key: dict[str, list[ListItem]] = {}
    seen: set[tuple[str, str]] = set()
    articles_query = select(ListItemRow.c.url, ListItemRow.c.title, ListItemRow.c.date, ListItemRow.c.document_number,
                            ListItemRow.c.attachments).where(mine, is_article).order_by(ListItemRow.c.id)
    with store.engine.connect() as c:       # rows are streamed: a big site has tens of thousands of items
        cols = store.columns(scan_id)       # one per key, by key: not the crawl's order
        for art in c.execute(articles_query):
            if art.date:
                page_dates[art.url] = art.date
            if art.document_number:
                page_docnos[art.url] = art.document_number
            if art.attachments:
                page_attachments[art.url] = _pairs(art.attachments)
        for r in c.execute(select(ListItemRow.c.column_key, ListItemRow.c.url, ListItemRow.c.title, ListItemRow.c.date,
                                  ListItemRow.c.date_source, ListItemRow.c.pinned, ListItemRow.c.document_number,
                                  ListItemRow.c.attachments).where(mine, ~is_article).order_by(ListItemRow.c.id)):
            if (r.column_key, r.url) in seen:
                continue
            seen.add((r.column_key, r.url))
            date, source = r.date, r.date_source
            if source == "url" and page_dates.get(r.url):
                date, source = page_dates[r.url], "article"
            by_key.setdefault(r.column_key, []).append(
                ListItem(title=r.title, url=r.url, date=date, date_source=source, pinned=r.pinned,
                         attachments=_attachments(r.attachments, page_attachments.get(r.url)),
                         document_number=r.document_number or page_docnos.get(r.url)))
        seen.clear()
        listed = {i.url for items in by_key.values() for i in items}
        by_url = {r.url: ListItem(title=r.title, url=r.url, date=r.date, date_source="article",
                                    document_number=r.document_number, attachments=_attachments(r.attachments, None))
                    for r in c.execute(articles_query) if r.date and r.url not in listed}      # a row twice: once
        articles = list(by_url.values())
    columns: list[ColumnData] = []
    homepage = None
    for col in cols:
        items = by_key.get(col.key, [])
        if col.key == HOMEPAGE_KEY:
            homepage = ColumnData(key=col.key, name=col.name, url=col.url, items=items)
            continue
        pin = cfg.columns.get(col.name)
        columns.append(ColumnData(key=col.key, name=col.name, url=col.url, items=items,
                                  empty_marker=col.empty_marker and not items, unit=cfg.unit_for(col.name),
                                  category=pin.category if pin else None,
                                  max_age_days=pin.max_age_days if pin else None, total=col.total))
    return columns, homepage, articles


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


def load_standalone(store: Store, scan_id: int, words: Sequence[str]) -> list[ListItem]:
    """What names a mandated item outside any list: crawled pages whose title, ColumnName or ArticleTitle holds
    one of ``words`` (a 信息公开指南 column page that is the guide, the gkmlpt guide) and link texts holding one
    (navigation, footer, a catalogue's header). Pages that answered broken do not count, nor link texts whose
    target was not checked and found working (a link that was not followed measures nothing).
    Undated: used for items that must be present, not for the annual ones (a date decides those)."""
    words = [w for w in dict.fromkeys(words) if w]
    if not words:
        return []
    broken = select(Target.c.url).where(Target.c.scan_id == scan_id, Target.c.verdict == "broken")
    working = select(Target.c.url).where(Target.c.scan_id == scan_id, Target.c.verdict.in_(("ok", "warning")))
    meta_text = cast(Page.c.meta, Text)      # stored as JSON text, non-ASCII as is
    out: list[ListItem] = []
    seen: set[tuple[str, str]] = set()
    with store.engine.connect() as c:
        pages = select(Page.c.url, Page.c.title, Page.c.meta).where(
            Page.c.scan_id == scan_id, Page.c.url.not_in(broken),
            or_(*[Page.c.title.contains(w) for w in words], *[meta_text.contains(w) for w in words]))
        for r in c.execute(pages.order_by(Page.c.id)):
            meta = r.meta or {}
            for text in (r.title, meta.get("articletitle"), meta.get("columnname")):
                if text and any(w in text for w in words) and (r.url, text) not in seen:
                    seen.add((r.url, text))
                    out.append(ListItem(title=text, url=r.url))
        links = select(Link.c.target, Link.c.text).where(
            Link.c.scan_id == scan_id, Link.c.tag == "a", Link.c.target.in_(working),
            or_(*[Link.c.text.contains(w) for w in words]))
        for link in c.execute(links.order_by(Link.c.id)):
            if (link.target, link.text) not in seen:
                seen.add((link.target, link.text))
                out.append(ListItem(title=link.text, url=link.target))
    return out


def _pairs(stored: list[list[str]]) -> list[tuple[str, str]]:
    """Attachments as stored (JSON [text, url] pairs) as tuples."""
    return type_cast("list[tuple[str, str]]", [tuple(a) for a in stored])   # sqlalchemy.cast is the SQL one


def _attachments(own: list[list[str]] | None, page: list[tuple[str, str]] | None) -> Sequence[tuple[str, str]]:
    """An item's attachments: its list row's, then its article page's (read-only; items share the page's)."""
    if not own:
        return page or _NO_ATTACHMENTS
    return _pairs(own) + (page or [])


_NO_ATTACHMENTS: tuple[tuple[str, str], ...] = ()      # shared by the many items without attachments


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
