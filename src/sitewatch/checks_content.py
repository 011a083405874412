"""Content checks as pure functions: columns, homepage freshness and mandated disclosures → findings.

Inputs are plain data (list items as crawled, a rule set, the monitoring day); no database, no network.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sitewatch.columns import classify
from sitewatch.disclosures import (
    BASIS_TITLE,
    LATE,
    MISSING,
    Assessment,
    InterpretationCheck,
    assess_item,
    check_interpretations,
)
from sitewatch.models import REVIEW, VETO, Finding, ListItem
from sitewatch.packs import DisclosureItem, RuleSet

COLUMN_STALE = "column.stale"
COLUMN_LONG_STALE = "column.long_stale"
COLUMN_BLANK = "column.blank"
HOMEPAGE_STALE = "homepage.stale"
DISCLOSURE_MISSING = "disclosure.missing"
DISCLOSURE_LATE = "disclosure.late"
VETO_AGGREGATES = {
    "veto.columns_stale": COLUMN_STALE,
    "veto.columns_long_stale": COLUMN_LONG_STALE,
    "veto.columns_blank": COLUMN_BLANK,
}

# veto_summary: 风险 when the measured value is below the threshold but within RISK_MARGIN of it, or at
# least RISK_SHARE of it (whichever band is wider), and above zero.
RISK_MARGIN = 2
RISK_SHARE = 0.6
VERDICT_OK, VERDICT_RISK, VERDICT_VETO = "合格", "风险", "否决"


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


def check_disclosures(items_with_columns: Iterable[tuple[ListItem, str | None]], as_of: dt.date,
                      ruleset: RuleSet, site_cfg: Mapping[str, Any] | None = None,
                      standalone: Iterable[ListItem] = ()) -> list[Finding]:
    """disclosure.missing / disclosure.late for every enabled mandated item.

    ``standalone``: what names an item outside the lists (page titles and column names of standalone pages,
    navigation and footer link texts; see ``scan.load_standalone``); it counts for items of kind ``present``
    (the 信息公开指南), whose year and date do not matter.

    Items of news columns (category ``dynamic``) are not taken as disclosures: a report on a 预算 meeting
    is not the budget. ``site_cfg`` keys used: ``url`` (the site's URL, target of the findings),
    ``approvals`` (``{"budget": {"2026": date}, "final_accounts": {...}}``: 批复 dates; the item is then
    due ``approval_days`` later), ``pinned`` (column name → category, as for ``classify``).
    """
    cfg = site_cfg or {}
    pairs = list(items_with_columns)
    pinned = cfg.get("pinned")
    news = {name for _, name in pairs if name and classify(name, ruleset, pinned) == "dynamic"}
    items = [li for li, name in pairs if name not in news]
    site_url = str(cfg.get("url") or "")
    approvals = cfg.get("approvals") or {}
    pages = list(standalone)
    findings: list[Finding] = []
    for item in ruleset.items:
        if not item.enabled:
            continue
        if item.kind == "per_document":
            for check in check_interpretations(item, pairs, as_of, title_skip_columns=news):
                finding = _interpretation_finding(check, item, as_of, ruleset)
                if finding:
                    findings.append(finding)
            continue
        seen = items + pages if item.kind == "present" else items
        finding = _disclosure_finding(assess_item(item, seen, as_of, approvals, ruleset), site_url, as_of, ruleset)
        if finding:
            findings.append(finding)
    return findings


def _disclosure_finding(a: Assessment, site_url: str, as_of: dt.date, ruleset: RuleSet) -> Finding | None:
    rule_id = {MISSING: DISCLOSURE_MISSING, LATE: DISCLOSURE_LATE}.get(a.status)
    if rule_id is None or not ruleset.enabled(rule_id):
        return None
    item = a.item
    label = f"{a.year}年度{item.name_zh}" if a.year is not None else item.name_zh
    due = a.due.due if a.due else None
    severity = ruleset.severity(rule_id)
    if a.status == LATE:
        assert a.found is not None and a.found.date is not None and due is not None
        message = (f"{label}应于 {due} 前公开，实际发布 {a.found.date}，逾期 {(a.found.date - due).days} 天"
                   f"（监测日 {as_of}）")
    elif a.implied_by_found is not None:
        severity = REVIEW
        parent = ruleset.item(item.implied_by).name_zh if item.implied_by else ""
        message = (f"未在标题、附件名中找到{label}，已找到{a.year}年度{parent}“{a.implied_by_found.text}”，"
                   f"请核实其中是否包含{item.name_zh}（监测日 {as_of}）")
    elif due is not None:
        message = f"未找到{label}（应于 {due} 前公开，监测日 {as_of}）"
    else:
        message = f"未找到{label}（监测日 {as_of}）"
    found = a.found or a.implied_by_found
    return Finding(
        rule=rule_id,
        severity=severity,
        url=site_url,
        message=message,
        found_on=[found.url] if found else [],
        evidence={
            "due": _iso(due),
            "due_basis": a.due.basis if a.due else None,
            "due_provenance": item.due_provenance if a.due and a.due.basis == "default" else item.provenance,
            "found_url": found.url if found else None,
            "found_date": _iso(found.date) if found else None,
            "found_text": found.text if found else None,
            "provenance": item.provenance,
            "source": item.source,
        },
        extra={"item": item.id, "year": a.year, "document": None},
    )


def _interpretation_finding(check: InterpretationCheck, item: DisclosureItem, as_of: dt.date,
                            ruleset: RuleSet) -> Finding | None:
    rule_id = {MISSING: DISCLOSURE_MISSING, LATE: DISCLOSURE_LATE}.get(check.status)
    if rule_id is None or not ruleset.enabled(rule_id):
        return None
    doc = check.document
    published = f"，发布 {doc.item.date}" if doc.item.date else ""
    number = f"（{doc.number}{published}）" if doc.number else (f"（{published[1:]}）" if published else "")
    what = f"政策文件《{doc.core}》{number}"
    if check.status == LATE:
        assert check.found is not None and check.found.date is not None
        message = f"{what}的解读材料发布于 {check.found.date}，晚于应发布日期 {check.due}（监测日 {as_of}）"
    else:
        message = f"{what}未找到配套政策解读（按《》标题或文号查找，监测日 {as_of}）"
    severity = ruleset.severity(rule_id)
    if doc.basis == BASIS_TITLE:        # recognised by its title form only: is it a 规范性文件? a human decides
        severity = REVIEW
        message += "；该文件按标题形式推定为规范性文件，文号中无“规”字，请核实"
    year = doc.number.year if doc.number else (doc.item.date.year if doc.item.date else None)
    return Finding(
        rule=rule_id,
        severity=severity,
        url=doc.item.url,
        message=message,
        found_on=[check.found.url] if check.found else [],
        evidence={
            "due": _iso(check.due),
            "found_url": check.found.url if check.found else None,
            "found_date": _iso(check.found.date) if check.found else None,
            "document_title": doc.item.title,
            "document_date": _iso(doc.item.date),
            "column": doc.column,
            "document_basis": doc.basis,
            "provenance": item.provenance,
            "source": item.source,
        },
        extra={"item": item.id, "year": year, "document": doc.label},
    )


def _risk_floor(threshold: int) -> int:
    return max(1, min(threshold - RISK_MARGIN, math.ceil(RISK_SHARE * threshold)))


def verdict(measured: int | float | None, threshold: int | float) -> str:
    """合格 / 风险 / 否决 for a count against a veto threshold (≥ threshold is 否决)."""
    if measured is None:
        return VERDICT_OK
    if measured >= threshold:
        return VERDICT_VETO
    if measured >= _risk_floor(int(threshold)):
        return VERDICT_RISK
    return VERDICT_OK


def veto_summary(findings: Iterable[Finding], ruleset: RuleSet) -> list[dict[str, Any]]:
    """Each veto indicator measurable from findings: measured value, threshold and verdict 合格/风险/否决.

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
            "threshold": threshold, "unit": "columns", "verdict": verdict(len(hits), threshold),
            "columns": [f.extra.get("column") for f in hits], "provenance": rule.provenance,
        })
    for rule in ruleset.rules:
        if rule.severity != VETO or rule.id in VETO_AGGREGATES or not rule.enabled:
            continue
        hits = [f for f in findings if f.rule == rule.id]
        entry: dict[str, Any] = {"rule": rule.id, "ref": rule.ref, "name_zh": rule.name_zh, "measured": None,
                                 "threshold": None, "unit": None,
                                 "verdict": VERDICT_VETO if hits else VERDICT_OK, "provenance": rule.provenance}
        if rule.id == HOMEPAGE_STALE:
            entry.update(threshold=rule.threshold["max_age_days"], unit="days",
                         measured=hits[0].evidence.get("age_days") if hits else None)
        out.append(entry)
    return out
