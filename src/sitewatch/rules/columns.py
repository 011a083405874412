"""Freshness of the homepage and the columns: ``homepage.stale``, ``column.stale``, ``column.long_stale``,
``column.blank`` and their 单项否决 aggregates ``veto.columns_*``; column classification; the columns as crawled.

Checks over the store after the crawl. The judging functions are pure (list items as crawled, a rule set, the
monitoring day); ``load_columns`` reads the crawled columns and their items from the store.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from typing import cast as type_cast
from urllib.parse import urlsplit

from sqlalchemy import func, select

from sitewatch.config import SiteConfig
from sitewatch.crawl.listings import ARTICLES_KEY, HOMEPAGE_KEY
from sitewatch.errors import ConfigError
from sitewatch.models import VETO, Finding, ListItem
from sitewatch.packs import EXEMPT, RuleSet
from sitewatch.rules._site import SiteData
from sitewatch.rules.registry import site_check
from sitewatch.store import ListItemRow, Store

COLUMN_STALE = "column.stale"
COLUMN_LONG_STALE = "column.long_stale"
COLUMN_BLANK = "column.blank"
HOMEPAGE_STALE = "homepage.stale"
VETO_AGGREGATES = {
    "veto.columns_stale": COLUMN_STALE,
    "veto.columns_long_stale": COLUMN_LONG_STALE,
    "veto.columns_blank": COLUMN_BLANK,
}

# veto_summary: 风险 when the measured value is below the threshold but within RISK_MARGIN of it, or at
# least RISK_SHARE of it (whichever band is wider), and above zero.
RISK_MARGIN = 2
RISK_SHARE = 0.6
BAND_OK, BAND_RISK, BAND_VETO = "合格", "风险", "否决"


# ---------------------------------------------------------------- classification

_SPACE_RE = re.compile(r"\s+")


def normalise_name(name: str) -> str:
    """NFKC (full-width to half-width), no whitespace, no decorative brackets around the whole name."""
    text = _SPACE_RE.sub("", unicodedata.normalize("NFKC", name))
    return text.strip("[]【】<>《》·-_|>»")  # noqa: B005 -- a set of bracket characters, stripped one by one


def classify(name: str, ruleset: RuleSet, pinned: Mapping[str, str | None] | None = None) -> str | None:
    """The category of a column (``dynamic``, ``notice``, ``yearly`` …) or None when it is not judged.

    A name pinned in the site config wins (compared after normalisation; pin to ``none`` or ``exempt`` to
    never judge it). Otherwise the longest keyword found in the name decides; a name containing an exempt keyword
    (历史 …) is not judged.
    """
    norm = normalise_name(name)
    if pinned:
        for pinned_name, category in pinned.items():
            if normalise_name(pinned_name) == norm:
                if category in (EXEMPT, "none", None):
                    return None
                if category not in ruleset.categories():
                    known = ", ".join([*ruleset.categories(), "none"])
                    raise ConfigError(f"site config: columns.{pinned_name}: unknown category {category!r} "
                                      f"(known: {known})")
                return category
    if not norm or any(word in norm for word in ruleset.exempt_keywords()):
        return None
    best: tuple[int, int, str] | None = None
    for cat in ruleset.categories().values():
        for word in cat.keywords:
            if word in norm:
                score = (2 if norm == word else 1, len(word), cat.name)
                if best is None or score[:2] > best[:2]:
                    best = score
    return best[2] if best else None


# ---------------------------------------------------------------- judging

@dataclass
class ColumnData:
    """One column as crawled; ``url`` is its first listing page, ``unit`` the responsible office (责任科室)."""

    key: str
    name: str
    url: str
    items: list[ListItem]
    empty_marker: bool = False
    unit: str | None = None
    category: str | None = None  # pinned by the site config; otherwise classified from the name
    max_age_days: int | None = None  # per-column window from the site config; overrides the category's
    # items the list announces (recordCount, post_count); more than ``items`` = read in part
    total: int | None = None

    @property
    def partial(self) -> bool:
        """The crawl read fewer items than the list announces (the rest are behind an API or a cut bound)."""
        return self.total is not None and self.total > len(self.items)


def last_update(items: Iterable[ListItem]) -> dt.date | None:
    """The newest date over all items (pinned rows are out of order); undated items do not count."""
    dates = [i.date for i in items if i.date is not None]
    return max(dates) if dates else None


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _site_root(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/" if parts.netloc else url


def check_columns(columns: Iterable[ColumnData], as_of: dt.date, ruleset: RuleSet,
                  site_url: str | None = None, pinned: Mapping[str, str | None] | None = None) -> list[Finding]:
    """column.stale / column.long_stale / column.blank per column, then the veto aggregates.

    A blank column (no items, or a 暂无信息 marker) is reported as blank only, never also as stale.
    Columns of unknown category are judged for blankness only, unless the site config gives the column a
    ``max_age_days`` (then judged under column.stale). Aggregates are attached to ``site_url`` (default: the
    root of the first column's URL).
    """
    columns = list(columns)
    findings: list[Finding] = []
    categories = ruleset.categories()
    for col in columns:
        if not col.items and col.partial and not col.empty_marker:
            continue                 # the list announces items none of which could be read: not measured, not blank
        if not col.items or col.empty_marker:
            if ruleset.enabled(COLUMN_BLANK):
                findings.append(_blank_finding(col, ruleset))
            continue
        category = col.category or classify(col.name, ruleset, pinned)
        cat = categories.get(category) if category else None
        if cat is None and col.max_age_days is None:
            continue
        rule_id = cat.rule_id if cat else COLUMN_STALE
        if col.max_age_days is not None:
            window = col.max_age_days
        else:
            assert cat is not None           # a column with neither window was skipped above
            window = cat.window_days
        if not ruleset.enabled(rule_id):
            continue
        newest = last_update(col.items)
        age = (as_of - newest).days if newest else None
        if age is not None and age <= window:
            continue
        findings.append(_stale_finding(col, rule_id, category, window, newest, age, as_of, ruleset))
    root = site_url or (_site_root(columns[0].url) if columns else "")
    for veto_id, per_column in VETO_AGGREGATES.items():
        if not ruleset.enabled(veto_id):
            continue
        hits = [f for f in findings if f.rule == per_column]
        threshold = int(ruleset.threshold(veto_id, "min_columns"))
        if len(hits) >= threshold:
            findings.append(_aggregate_finding(veto_id, hits, threshold, root, as_of, ruleset))
    return findings


def _stale_finding(col: ColumnData, rule_id: str, category: str | None, window: int, newest: dt.date | None,
                   age: int | None, as_of: dt.date, ruleset: RuleSet) -> Finding:
    undated = sum(1 for i in col.items if i.date is None)
    if newest is None:
        message = (f"栏目“{col.name}”共 {len(col.items)} 条信息均未注明发布日期，视为未更新"
                   f"（该栏目应在 {window} 天内更新，监测日 {as_of}）")
    else:
        message = (f"栏目“{col.name}”最近更新 {newest}，超过 {window} 天未更新"
                   f"（已 {age} 天，监测日 {as_of}）")
    newest_item = max((i for i in col.items if i.date is not None), key=lambda i: i.date or dt.date.min, default=None)
    if col.partial:
        message += f"；该栏目列表共 {col.total} 条，本次读取 {len(col.items)} 条"
    return Finding(
        rule=rule_id,
        severity=ruleset.severity(rule_id),
        url=col.url,
        message=message,
        evidence={
            "as_of": as_of.isoformat(),
            "age_days": age,
            "items": len(col.items),
            "undated_items": undated,
            "newest_item": {"title": newest_item.title, "url": newest_item.url, "date": _iso(newest_item.date)}
            if newest_item else None,
            "column_key": col.key,
            "unit": col.unit,
            **({"items_total": col.total, "partial": True} if col.partial else {}),
        },
        extra={"column": col.name, "last_update": _iso(newest), "max_age_days": window, "category": category},
    )


def _blank_finding(col: ColumnData, ruleset: RuleSet) -> Finding:
    reason = "页面显示“暂无信息”" if col.empty_marker else "没有任何信息条目"
    return Finding(
        rule=COLUMN_BLANK,
        severity=ruleset.severity(COLUMN_BLANK),
        url=col.url,
        message=f"栏目“{col.name}”为空白栏目：{reason}",
        evidence={"items": len(col.items), "empty_marker": col.empty_marker, "column_key": col.key,
                  "unit": col.unit},
        extra={"column": col.name},
    )


def _aggregate_finding(veto_id: str, hits: list[Finding], threshold: int, root: str, as_of: dt.date,
                       ruleset: RuleSet) -> Finding:
    rule = ruleset.get(veto_id)
    names = "、".join(f"“{f.extra['column']}”" for f in hits)
    listed = [{"column": f.extra["column"], "url": f.url, "last_update": f.extra.get("last_update"),
               "category": f.extra.get("category"), "unit": f.evidence.get("unit")} for f in hits]
    return Finding(
        rule=veto_id,
        severity=rule.severity,
        url=root,
        message=(f"{rule.name_zh}：{len(hits)} 个栏目（阈值 ≥{threshold} 个，监测日 {as_of}）：{names}"),
        evidence={"count": len(hits), "threshold": threshold, "columns": listed},
    )


def check_homepage(url: str, items: Iterable[ListItem], as_of: dt.date, ruleset: RuleSet) -> list[Finding]:
    """homepage.stale when no dated item on the homepage is within the window (undated items do not count)."""
    if not ruleset.enabled(HOMEPAGE_STALE):
        return []
    items = list(items)
    window = int(ruleset.threshold(HOMEPAGE_STALE, "max_age_days"))
    newest = last_update(items)
    age = (as_of - newest).days if newest else None
    if age is not None and age <= window:
        return []
    if newest is None:
        message = f"首页 {len(items)} 条信息均未注明发布日期，视为 {window} 天内未更新（监测日 {as_of}）"
    else:
        message = f"首页最近更新 {newest}，超过 {window} 天未更新（已 {age} 天，监测日 {as_of}）"
    return [Finding(
        rule=HOMEPAGE_STALE,
        severity=ruleset.severity(HOMEPAGE_STALE),
        url=url,
        message=message,
        evidence={"as_of": as_of.isoformat(), "age_days": age, "items": len(items),
                  "undated_items": sum(1 for i in items if i.date is None)},
        extra={"last_update": _iso(newest), "max_age_days": window},
    )]


def items_with_columns(columns: Iterable[ColumnData]) -> list[tuple[ListItem, str | None]]:
    """(item, column name) pairs for ``check_disclosures``."""
    return [(item, col.name) for col in columns for item in col.items]


@site_check(HOMEPAGE_STALE)
def homepage(site: SiteData) -> list[Finding]:
    """``homepage.stale`` over the homepage's dated items."""
    _, home, _ = site_columns(site)
    if home is None:
        return []
    return check_homepage(home.url, home.items, site.as_of, site.ruleset)


@site_check(COLUMN_STALE, COLUMN_LONG_STALE, COLUMN_BLANK, *VETO_AGGREGATES)
def columns(site: SiteData) -> list[Finding]:
    """Every crawled column's freshness and blankness, then the veto aggregates."""
    cols, _, _ = site_columns(site)
    return check_columns(cols, site.as_of, site.ruleset, site_url=site.site_url, pinned=site.pinned)


def _risk_floor(threshold: int) -> int:
    return max(1, min(threshold - RISK_MARGIN, math.ceil(RISK_SHARE * threshold)))


def veto_band(measured: int | float | None, threshold: int | float) -> str:
    """合格 / 风险 / 否决 for a count against a veto threshold (≥ threshold is 否决)."""
    if measured is None:
        return BAND_OK
    if measured >= threshold:
        return BAND_VETO
    if measured >= _risk_floor(int(threshold)):
        return BAND_RISK
    return BAND_OK


def veto_summary(findings: Iterable[Finding], ruleset: RuleSet) -> list[dict[str, Any]]:
    """Each veto indicator measurable from findings: measured value, threshold and band 合格/风险/否决.

    Column aggregates count the per-column findings; 风险 starts at min(threshold − 2, ⌈0.6 × threshold⌉)
    (at least 1), so 3–4 of 5 and 6–9 of 10 are 风险. The homepage is 否决 when a homepage.stale finding is
    present (measured = days since the last update, null when nothing is dated), else 合格; the same holds
    for any other veto rule: 否决 when one of its findings is present.
    """
    findings = list(findings)
    out: list[dict[str, Any]] = []
    for veto_id, per_column in VETO_AGGREGATES.items():
        if not ruleset.enabled(veto_id):
            continue
        rule = ruleset.get(veto_id)
        threshold = int(rule.threshold["min_columns"])
        hits = [f for f in findings if f.rule == per_column]
        out.append({
            "rule": veto_id, "ref": rule.ref, "name_zh": rule.name_zh, "measured": len(hits),
            "threshold": threshold, "unit": "columns", "band": veto_band(len(hits), threshold),
            "columns": [f.extra.get("column") for f in hits], "provenance": rule.provenance,
        })
    for rule in ruleset.rules:
        if rule.severity != VETO or rule.id in VETO_AGGREGATES or not rule.enabled:
            continue
        hits = [f for f in findings if f.rule == rule.id]
        entry: dict[str, Any] = {"rule": rule.id, "ref": rule.ref, "name_zh": rule.name_zh, "measured": None,
                                 "threshold": None, "unit": None,
                                 "band": BAND_VETO if hits else BAND_OK, "provenance": rule.provenance}
        if rule.id == HOMEPAGE_STALE:
            entry.update(threshold=rule.threshold["max_age_days"], unit="days",
                         measured=hits[0].evidence.get("age_days") if hits else None)
        out.append(entry)
    return out


# ---------------------------------------------------------------- the columns as crawled

def site_columns(site: SiteData) -> tuple[list[ColumnData], ColumnData | None, list[ListItem]]:
    """``load_columns`` of the scan, read once for every check that needs it."""
    return site.cached("columns", lambda: load_columns(site.store, site.scan_id, site.cfg))


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
    articles_query = select(ListItemRow.c.url, ListItemRow.c.title, ListItemRow.c.date, ListItemRow.c.document_number,
                            ListItemRow.c.attachments).where(mine, is_article).order_by(ListItemRow.c.id)
    # an item listed twice in its column (a list page read under two URLs) counts once: its first row, picked by
    # the database, so the repeats are never read (half the rows of the demo portal's columns)
    firsts = select(func.min(ListItemRow.c.id)).where(mine, ~is_article).group_by(ListItemRow.c.column_key,
                                                                                  ListItemRow.c.url)
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
                                  ListItemRow.c.attachments).where(ListItemRow.c.id.in_(firsts))
                           .order_by(ListItemRow.c.id)):
            date, source = r.date, r.date_source and sys.intern(r.date_source)   # one string per value, not per item
            if source == "url" and page_dates.get(r.url):
                date, source = page_dates[r.url], "article"
            by_key.setdefault(r.column_key, []).append(
                ListItem(title=r.title, url=r.url, date=date, date_source=source, pinned=r.pinned,
                         attachments=_attachments(r.attachments, page_attachments.get(r.url)),
                         document_number=r.document_number or page_docnos.get(r.url)))
        by_url: dict[str, ListItem] = {}
        if page_dates:                      # dated article pages no list names
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


def _pairs(stored: list[list[str]]) -> list[tuple[str, str]]:
    """Attachments as stored (JSON [text, url] pairs) as tuples."""
    return type_cast("list[tuple[str, str]]", [tuple(a) for a in stored])   # sqlalchemy.cast is the SQL one


def _attachments(own: list[list[str]] | None, page: list[tuple[str, str]] | None) -> Sequence[tuple[str, str]]:
    """An item's attachments: its list row's, then its article page's (read-only; items share the page's)."""
    if not own:
        return page or _NO_ATTACHMENTS
    return _pairs(own) + (page or [])


_NO_ATTACHMENTS: tuple[tuple[str, str], ...] = ()      # shared by the many items without attachments
