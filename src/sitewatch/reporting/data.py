"""Assemble everything a report shows from the store: never fetches anything."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from sitewatch.config import SiteConfig
from sitewatch.crawl.coverage import coverage_document
from sitewatch.crawl.verdict import MESSAGES_ZH, message_zh
from sitewatch.errors import ConfigError
from sitewatch.models import DEDUCT, REVIEW, SEVERITY_ZH, VETO, WARN, Finding, normalise_for_fingerprint
from sitewatch.packs import RuleSet, load_rules
from sitewatch.probes import availability as probe_stats
from sitewatch.rectification import FIXED, NEW, OPEN, PENDING, RECURRED
from sitewatch.reporting.numbers import Rectification, ScanNumbers, follow
from sitewatch.rules._site import SiteData
from sitewatch.rules.availability import DOWN as AVAILABILITY
from sitewatch.rules.availability import UNREACHABLE, reason_zh, start_targets, thresholds
from sitewatch.rules.columns import COLUMN_STALE, HOMEPAGE_STALE, veto_summary
from sitewatch.rules.columns import classify as classify_column
from sitewatch.rules.disclosures import DISCLOSURE_LATE, NOT_DUE, Assessment, found_disclosures
from sitewatch.rules.disclosures import OK as FOUND_IN_TIME
from sitewatch.rules.links import LINK_BROKEN
from sitewatch.store import FindingRow, LinkRow, ListItemRow, PageRow, ScanRecord, ScanRow, Store, TargetRow

PASS_SCORE = 60
WARN_SHARE = 0.7           # 预警: a column at ≥70 % of its window (14 days → from day 10) but not yet stale
TREND_SCANS = 12
SEVERITY_RANK = {VETO: 0, DEDUCT: 1, WARN: 2, REVIEW: 3}
NOT_MEASURED = "未监测"
NOT_JUDGED = "无法评定"      # a scan that crawled no page: no conclusion, no score
LIGHT = {"合格": "green", "风险": "amber", "否决": "red", NOT_MEASURED: "grey", NOT_JUDGED: "grey"}


def load_scan_rules(scan: ScanRecord) -> RuleSet:
    """The rule set the scan was judged with (its packs and overrides), or the bundled one."""
    cfg = scan.config or {}
    try:
        return load_rules(cfg.get("rule_packs") or (), cfg.get("rule_overrides") or None)
    except (ConfigError, OSError):
        return load_rules()


def _is_veto(rule: str, ruleset: RuleSet) -> bool:
    return rule.startswith("veto.") or (ruleset.has(rule) and ruleset.severity(rule) == VETO)


def deadline_days(rule: str, ruleset: RuleSet, overrides: dict[str, int] | None = None) -> int:
    """整改时限 in days: ``--deadline`` RULE=DAYS, then veto.*=DAYS for a 单项否决 rule, then DAYS (``*``), then the
    pack (the rule's ``deadline_days``, else the ``[deadlines]`` veto or default days)."""
    overrides = overrides or {}
    if rule in overrides:
        return overrides[rule]
    if "veto.*" in overrides and _is_veto(rule, ruleset):
        return overrides["veto.*"]
    if "*" in overrides:
        return overrides["*"]
    return ruleset.deadline_days(rule)


def deadline_note(ruleset: RuleSet, overrides: dict[str, int] | None = None) -> str:
    """The report's 整改时限 line, from the same lookup as the problem rows: each rule with a deadline of its
    own (by its Chinese name), then 单项否决, then the rest."""
    overrides = overrides or {}
    own = [r for r in ruleset.rules if r.enabled and (r.deadline_days is not None or r.id in overrides)]
    parts = [f"{r.name_zh} {deadline_days(r.id, ruleset, overrides)} 天" for r in own]
    veto = overrides.get("veto.*", overrides.get("*", ruleset.deadlines.veto))
    parts.append(f"{'其他' if any(_is_veto(r.id, ruleset) for r in own) else ''}单项否决 {veto} 天")
    return "；".join(parts) + f"；其他 {overrides.get('*', ruleset.deadlines.default)} 天"


def rule_name(ruleset: RuleSet, rule_id: str) -> str:
    return ruleset.get(rule_id).name_zh if ruleset.has(rule_id) else rule_id


def basis(ruleset: RuleSet, f: Finding) -> str:
    """依据: the source document (and indicator ref) of the rule, or of the disclosure item."""
    docs = {p.id: p.document for p in ruleset.packs}
    item_id = f.extra.get("item")
    if item_id:
        try:
            item = ruleset.item(str(item_id))
            return f"{docs.get(item.pack, item.pack)}（{item.name_zh}）"
        except KeyError:
            pass
    if not ruleset.has(f.rule):
        return ""
    rule = ruleset.get(f.rule)
    doc = docs.get(rule.pack, rule.pack)
    return f"{doc} {rule.ref}" if rule.ref else doc


def unit_of(f: Finding, cfg: dict[str, Any]) -> str:
    """责任科室: from the finding, else the site config's column or default unit, else 未指定."""
    unit = f.extra.get("unit") or f.evidence.get("unit")
    column = f.extra.get("column")
    if not unit and column:
        col = (cfg.get("columns") or {}).get(column) or {}
        unit = col.get("unit") if isinstance(col, dict) else None
    return str(unit or cfg.get("default_unit") or "未指定")


def latest_units(store: Store) -> set[str]:
    """The 责任科室 of the problems of each site's latest completed full scan (the units a user may belong to)."""
    out: set[str] = set()
    for site in {s.site for s in store.scans()}:
        scan = store.latest_scan(site)
        if scan is not None:
            out |= {unit_of(f, scan.config or {}) for f in store.findings(scan.id)}
    return out


def location(f: Finding) -> str:
    """所在页面/栏目: the column, or the pages the link appears on."""
    parts: list[str] = []
    if f.extra.get("column"):
        parts.append(f"栏目：{f.extra['column']}")
    if f.found_on and f.rule.startswith("link."):
        pages = f.found_on[:3]
        more = f" 等 {len(f.found_on)} 个页面" if len(f.found_on) > 3 else ""
        parts.append("所在页面：" + "；".join(pages) + more)
    if f.extra.get("link_text"):
        parts.append(f"链接文字：{f.extra['link_text']}")
    if f.extra.get("document"):
        parts.append(f"文件：{f.extra['document']}")
    return "\n".join(parts) or "—"


_RAW_TIMEOUT = re.compile(r"访问超时（[^）]*）")


def readable_message(text: str) -> str:
    """A stored message as a reader sees it: a store written by an older version kept the crawler's exception
    text in 访问超时（…）; it is shown in Chinese."""
    return _RAW_TIMEOUT.sub(MESSAGES_ZH["timeout"], text)


def description(f: Finding) -> str:
    """问题描述 with the measured value against the threshold where the finding has both; a broken link's reason
    in Chinese from its evidence (never the crawler's exception text)."""
    text = readable_message(f.message)
    reason = f.evidence.get("error") or (f"http_{f.evidence['status']}" if f.evidence.get("status") else "")
    if f.rule == LINK_BROKEN and reason:
        text = message_zh(str(reason), "", bool(f.evidence.get("redirects")))
    age, window = f.evidence.get("age_days"), f.extra.get("max_age_days")
    if window is not None and f"{window} 天" not in text:
        text += f"（实测 {age if age is not None else '无日期'} 天，阈值 {window} 天）"
    if f.rule == LINK_BROKEN and f.evidence.get("status") and str(f.evidence["status"]) not in text:
        text += f"（HTTP {f.evidence['status']}）"
    return text


def first_seen(store: Store, site: str, fingerprints: set[str], up_to: int) -> dict[str, dt.date]:
    """首次发现: the as-of day of the earliest scan of the site holding each fingerprint."""
    if not fingerprints:
        return {}
    with store.engine.connect() as c:
        rows = c.execute(select(FindingRow.c.fingerprint, func.min(ScanRow.c.as_of))
                         .join(ScanRow, ScanRow.c.id == FindingRow.c.scan_id)
                         .where(ScanRow.c.site == site, ScanRow.c.id <= up_to,
                                FindingRow.c.fingerprint.in_(list(fingerprints)))
                         .group_by(FindingRow.c.fingerprint)).all()
    return {fp: (d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))) for fp, d in rows}


def history_scans(store: Store, scan: ScanRecord) -> list[ScanRecord]:
    """Completed full scans of the same site up to ``scan`` (``scan`` itself last, whatever its status)."""
    rows = [s for s in store.scans(scan.site) if s.id < scan.id and s.status == "completed"]
    return rows + [scan]


def homepage_urls(scan: ScanRecord) -> set[str]:
    return {normalise_for_fingerprint(u) for u in (scan.start_urls or [])}


def pages_crawled(store: Store, scan: ScanRecord) -> int:
    """Pages the scan stored (from its statistics, which survive ``prune``; else counted)."""
    pages = (scan.stats or {}).get("pages")
    return int(pages) if pages is not None else store.count(PageRow, scan.id)


def estimate_score(findings: list[Finding], ruleset: RuleSet, scan: ScanRecord,
                   measured: bool = True) -> dict[str, Any]:
    """100-point deduction estimate: deduct-severity rules with points; a broken link on the homepage costs
    the homepage rate. Floors at 0. ``score`` is None for a scan that measured nothing (no page crawled)."""
    home = homepage_urls(scan)
    lines: dict[str, dict[str, Any]] = {}
    for f in findings:
        if f.severity != DEDUCT or not ruleset.has(f.rule):
            continue
        rule = ruleset.get(f.rule)
        points = float(rule.points or 0)
        label = rule.name_zh
        if f.rule == LINK_BROKEN:
            on_home = any(normalise_for_fingerprint(p) in home for p in f.found_on)
            points = float(rule.threshold.get("homepage_points" if on_home else "other_points", points))
            label = "首页链接可用性" if on_home else "其他页面链接可用性"
        line = lines.setdefault(label, {"indicator": label, "count": 0, "points": 0.0, "each": points})
        line["count"] += 1
        line["points"] = round(line["points"] + points, 2)
    total = round(sum(line["points"] for line in lines.values()), 2)
    score = round(max(0.0, 100 - total), 1) if measured else None
    return {"score": score, "deducted": total, "lines": list(lines.values())}


def availability(store: Store, scan: ScanRecord, ruleset: RuleSet, scan_failed: bool = False) -> dict[str, Any] | None:
    """The homepage probes of the monitoring week ending on the scan day, as measured value for 站点无法访问.

    A scan that could not fetch the homepage (``scan_failed``) counts as one more failed visit. None when
    there is no measurement at all (no probe and no failed scan) or the rule is not in the pack.
    """
    if not ruleset.has(AVAILABILITY):
        return None
    th = thresholds(ruleset)
    days, per_day, threshold = th.monitor_days, th.probes_per_day, th.fail_share
    end = dt.datetime.combine(scan.as_of + dt.timedelta(days=1), dt.time())
    home = scan.start_urls[0] if scan.start_urls else None
    av = probe_stats(store, scan.site, end - dt.timedelta(days=days), end, [home] if home else None,
                     threshold=threshold, probes_per_day=per_day)
    probes, fails = av.probes + scan_failed, av.failures + scan_failed
    if not probes:
        return None
    return {"probes": probes, "fails": fails, "share": fails / probes, "threshold": threshold,
            "scan_failed": scan_failed, "sampling_met": av.sampling_met, "monitor_days": days,
            "probes_per_day": per_day}


def availability_band(av: dict[str, Any]) -> str:
    """否决 at the pack's failure share; 风险 when failures exist below it and the monitoring week is not
    complete (or the share is within 60 % of the line); 合格 only without failures or, after a complete
    week, below that band."""
    if av["share"] >= av["threshold"]:
        return "否决"
    if av["fails"] and (not av["sampling_met"] or av["share"] >= av["threshold"] * 0.6):
        return "风险"
    return "合格"


def veto_table(store: Store, scan: ScanRecord, findings: list[Finding], ruleset: RuleSet) -> list[dict[str, Any]]:
    """Every 单项否决 indicator with measured value, threshold and 合格/风险/否决 (from rules.columns.veto_summary);
    未监测 for what this scan could not measure (no page crawled, homepage not fetched, no probes)."""
    rows = veto_summary(findings, ruleset)
    crawled = pages_crawled(store, scan) > 0
    unreachable = [f for f in findings if f.rule == UNREACHABLE]
    for r in rows:
        r.setdefault("name_zh", rule_name(ruleset, r["rule"]))
        if r.get("unit") == "columns":
            r["measured_text"] = f"{r['measured']} 个栏目"
            r["threshold_text"] = f"≥{r['threshold']} 个否决"
        elif r.get("unit") == "days":
            r["measured_text"] = f"{r['measured']} 天未更新" if r["measured"] is not None else (
                "无带日期信息" if r["band"] == "否决" else "未超期")
            r["threshold_text"] = f"超过 {r['threshold']} 天否决"
        elif r["rule"] == AVAILABILITY:
            av = availability(store, scan, ruleset, scan_failed=bool(unreachable))
            if av:
                state = "已监测满一周" if av["sampling_met"] else "监测中"
                r["measured_text"] = (f"{state}：{av['probes']} 次探测，失败 {av['fails']} 次（{av['share']:.1%}）"
                                      + ("，含本次扫描首页访问失败" if av["scan_failed"] else ""))
                r["threshold_text"] = (f"失败占比 ≥{av['threshold']:.0%} 否决（监测 {av['monitor_days']} 天，"
                                       f"每天 ≥{av['probes_per_day']} 次）")
                if r["band"] != "否决":
                    r["band"] = availability_band(av)
            else:
                r["measured_text"] = "发现问题" if r["band"] == "否决" else "未做可用性监测"
                r["threshold_text"] = f"失败占比 ≥{thresholds(ruleset).fail_share:.0%} 否决"
                if r["band"] != "否决":
                    r["band"] = NOT_MEASURED   # no probes in the week: not judged, never shown as 合格
        elif r["rule"] == UNREACHABLE:
            r["threshold_text"] = "本次扫描首页打不开即否决"
            if unreachable:
                ev = unreachable[0].evidence
                r["measured_text"] = "首页无法访问：" + reason_zh(ev.get("reason"), ev.get("detail") or "")
            elif _homepage_fetched(store, scan):
                r["measured_text"] = "首页可正常访问"
            else:
                r["measured_text"], r["band"] = "首页未访问", NOT_MEASURED
        else:
            r["measured_text"] = "发现问题" if r["band"] == "否决" else "未发现"
            r["threshold_text"] = "出现即否决"
        if r["band"] != "否决" and r["rule"] not in (AVAILABILITY, UNREACHABLE):
            if not crawled:
                r["measured_text"], r["band"] = "未抓取到页面，无法评定", NOT_MEASURED
            elif unreachable and r["rule"] == HOMEPAGE_STALE:
                r["measured_text"], r["band"] = "首页无法访问，无法评定", NOT_MEASURED
        r["light"] = LIGHT.get(r["band"], "green")
    return rows


def _homepage_fetched(store: Store, scan: ScanRecord) -> bool:
    """Did the crawler get an answer it judged ok for the homepage (the first start URL)?"""
    urls = list(scan.start_urls or [])[:1]
    t = start_targets(store, scan.id, urls).get(urls[0]) if urls else None
    return t is not None and t.verdict == "ok"


def column_warnings(store: Store, scan: ScanRecord, findings: list[Finding], ruleset: RuleSet) -> list[dict[str, Any]]:
    """Columns not yet stale but at ≥ WARN_SHARE of their window on the scan day."""
    flagged = {f.url for f in findings if f.rule.startswith("column.")}
    cfg = scan.config or {}
    pinned = {k: (v or {}).get("category") for k, v in (cfg.get("columns") or {}).items() if isinstance(v, dict)}
    windows = {k: (v or {}).get("max_age_days") for k, v in (cfg.get("columns") or {}).items() if isinstance(v, dict)}
    categories = ruleset.categories()
    with store.engine.connect() as c:
        cols = store.columns(scan.id)
        newest = dict(c.execute(select(ListItemRow.c.column_key, func.max(ListItemRow.c.date))
                                .where(ListItemRow.c.scan_id == scan.id).group_by(ListItemRow.c.column_key)).all())
    out: list[dict[str, Any]] = []
    for col in cols:
        if col.url in flagged or newest.get(col.key) is None:
            continue
        try:
            category = classify_column(col.name, ruleset, pinned or None)
        except ConfigError:
            category = None
        window = windows.get(col.name) or (categories[category].window_days if category in categories else None)
        if not window:
            continue
        last = newest[col.key]
        last = last if isinstance(last, dt.date) else dt.date.fromisoformat(str(last))
        age = (scan.as_of - last).days
        if window * WARN_SHARE <= age <= window:
            out.append({"what": f"栏目“{col.name}”", "url": col.url,
                        "detail": f"最近更新 {last}，已 {age} 天（阈值 {window} 天，还剩 {window - age} 天）",
                        "unit": unit_of(Finding(COLUMN_STALE, WARN, col.url, "", extra={"column": col.name}), cfg)})
    return out


def is_overdue(due: dt.date, scan: ScanRecord, status: str) -> bool:
    """已逾期: the 整改时限 ``due`` passed before the scan's as-of day and the problem is not 已整改."""
    return due < scan.as_of and status != FIXED


def overdue_counts(store: Store, scan: ScanRecord, findings: list[Finding], ruleset: RuleSet,
                   statuses: dict[str, str]) -> dict[str, int]:
    """The overdue problems of ``scan`` by 责任科室 (as ``problem_rows`` marks them, default 整改时限)."""
    seen = first_seen(store, scan.site, {f.fingerprint for f in findings}, scan.id)
    cfg = scan.config or {}
    out: Counter[str] = Counter()
    for f in findings:
        due = seen.get(f.fingerprint, scan.as_of) + dt.timedelta(days=deadline_days(f.rule, ruleset))
        if is_overdue(due, scan, statuses.get(f.fingerprint, OPEN)):
            out[unit_of(f, cfg)] += 1
    return dict(sorted(out.items()))


def problem_rows(store: Store, scan: ScanRecord, findings: list[Finding], ruleset: RuleSet,
                 statuses: dict[str, str] | None = None, deadlines: dict[str, int] | None = None
                 ) -> list[dict[str, Any]]:
    """问题清单: one row per finding, most severe first, with 首次发现, 整改时限 and 整改状态."""
    cfg = scan.config or {}
    seen = first_seen(store, scan.site, {f.fingerprint for f in findings}, scan.id)
    statuses = statuses or {}
    ordered = sorted(findings, key=lambda f: (SEVERITY_RANK.get(f.severity, 9), not f.rule.startswith("veto."),
                                              f.rule, f.url))
    rows: list[dict[str, Any]] = []
    for i, f in enumerate(ordered, 1):
        first = seen.get(f.fingerprint, scan.as_of)
        days = deadline_days(f.rule, ruleset, deadlines)
        due = first + dt.timedelta(days=days)
        status = statuses.get(f.fingerprint, OPEN)
        if status == NEW:
            status = OPEN
        rows.append({
            "no": i, "rule": f.rule, "type": rule_name(ruleset, f.rule), "basis": basis(ruleset, f),
            "url": f.url, "location": location(f), "description": description(f),
            "first_found": first.isoformat(), "unit": unit_of(f, cfg), "deadline": due.isoformat(),
            "deadline_days": days, "pages": list(f.found_on) if f.rule.startswith("link.") else [],
            "link_text": f.extra.get("link_text") or "", "column_name": f.extra.get("column") or "",
            "overdue": is_overdue(due, scan, status), "status": status,
            "severity": f.severity, "severity_zh": SEVERITY_ZH.get(f.severity, f.severity),
            "fingerprint": f.fingerprint, "column": f.extra.get("column"),
        })
    return rows


def found_items(store: Store, scan: ScanRecord, ruleset: RuleSet) -> dict[str, Assessment]:
    """What the scan found for each mandated item (rules.disclosures.found_disclosures over the stored lists);
    empty when the scan's settings cannot be read back."""
    try:
        cfg = SiteConfig.from_json(scan.config or {}, source=f"scan {scan.id}")
        cfg.start_urls = list(scan.start_urls or cfg.start_urls)
        if not cfg.start_urls:
            return {}
        return found_disclosures(SiteData(store, scan.id, cfg, scan.as_of, ruleset))
    except (ConfigError, TypeError, ValueError, KeyError):
        return {}


def disclosure_rows(findings: list[Finding], ruleset: RuleSet, measured: bool = True,
                    found: dict[str, Assessment] | None = None) -> list[dict[str, Any]]:
    """必公开事项核对表: every enabled mandated item; an item found in time names what was found (``found``: title,
    URL, date, year); items with no finding and nothing to name are listed as 未发现问题, as 未到公开期限, or as
    未监测 when the scan crawled no page."""
    rows: list[dict[str, Any]] = []
    found = found or {}
    for item in ruleset.items:
        if not item.enabled:
            continue
        hits = [f for f in findings if f.rule.startswith("disclosure.") and f.extra.get("item") == item.id]
        if not hits and not measured:
            rows.append({"item": item.name_zh, "year": "", "found": "—", "url": "", "date": "", "due": "",
                         "status": NOT_MEASURED, "cls": "na", "title": ""})
            continue
        if not hits:
            a = found.get(item.id)
            if a is not None and a.status == FOUND_IN_TIME and a.found is not None:
                rows.append({"item": item.name_zh, "year": a.year or "", "found": "是", "url": a.found.url,
                             "title": a.found.text, "date": a.found.date.isoformat() if a.found.date else "",
                             "due": a.due.due.isoformat() if a.due else "",
                             "status": "按时公开" if a.due else "已公开", "cls": "ok"})
            elif a is not None and a.status == NOT_DUE:
                rows.append({"item": item.name_zh, "year": "", "found": "—", "url": "", "date": "", "due": "",
                             "status": "未到公开期限", "cls": "na", "title": ""})
            else:
                rows.append({"item": item.name_zh, "year": "", "found": "—", "url": "", "date": "", "due": "",
                             "status": "未发现问题", "cls": "ok", "title": ""})
            continue
        for f in hits:
            late = f.rule == DISCLOSURE_LATE
            review = f.severity == REVIEW
            label = item.name_zh + (f"（{f.extra['document']}）" if f.extra.get("document") else "")
            rows.append({
                "item": label, "year": f.extra.get("year") or "",
                "found": "是" if late else ("待核实" if review else "否"),
                "url": f.evidence.get("found_url") or "", "date": f.evidence.get("found_date") or "",
                "title": f.evidence.get("found_text") or "",
                "due": f.evidence.get("due") or "",
                "status": "逾期公开" if late else ("待核实" if review else "缺失"),
                "cls": "warn" if (late or review) else "bad",
            })
    return rows


@dataclass
class ReportData:
    """What the rectification report and the leadership summary show."""

    site: str
    scan: ScanRecord
    month: str
    period: str
    start_urls: list[str]
    stats: dict[str, Any]
    veto: list[dict[str, Any]]
    score: dict[str, Any]
    conclusion: str                         # 总体结论: 合格 / 不合格 / 无法评定
    problems: list[dict[str, Any]]
    disclosures: list[dict[str, Any]]
    lookback: dict[str, Any]
    warnings: list[dict[str, Any]]
    trend: list[dict[str, Any]]
    top: list[dict[str, Any]]
    changes: list[str]
    coverage: dict[str, Any] = field(default_factory=dict)    # scan.coverage of the JSON: what the scan did not read
    generated: str = field(default_factory=lambda: dt.datetime.now().strftime("%Y-%m-%d %H:%M"))
    measured: bool = True                   # False: the scan crawled no page (conclusion 无法评定, no score)
    unreachable: list[dict[str, Any]] = field(default_factory=list)   # availability.unreachable findings
    deadline_note: str = ""                 # 整改时限 as the problem rows apply them
    numbers: ScanNumbers | None = None      # every count the report prints (reporting.numbers)

    @property
    def counts(self) -> dict[str, int]:
        """Problems by Chinese rule name, most severe first (from ``numbers``)."""
        out: dict[str, int] = {}
        for _, name, n in self.numbers.by_type if self.numbers else ():
            out[name] = out.get(name, 0) + n
        return out

    def by_unit(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for p in self.problems:
            out.setdefault(p["unit"], []).append(p)
        return dict(sorted(out.items()))


def scan_conclusion(veto: list[dict[str, Any]], score: float | None) -> str:
    """Any 否决 ⇒ 不合格; else no score (nothing measured) ⇒ 无法评定; else a score under 60 ⇒ 不合格; else 合格."""
    if any(v["band"] == "否决" for v in veto):
        return "不合格"
    if score is None:
        return NOT_JUDGED
    return "不合格" if score < PASS_SCORE else "合格"


def score_text(score: float | None) -> str:
    return f"{score} 分" if score is not None else f"—（{NOT_JUDGED}）"


def scan_numbers(store: Store, scan: ScanRecord, *, follow_up: bool = True, ruleset: RuleSet | None = None
                 ) -> ScanNumbers:
    """Every count of ``scan`` an output shows (meanings: ``reporting.numbers``). ``follow_up=False`` leaves out
    the 整改状态 and the rectification (a trend point needs neither)."""
    ruleset = ruleset or load_scan_rules(scan)
    findings = store.findings(scan.id)
    measured = pages_crawled(store, scan) > 0
    veto = veto_table(store, scan, findings, ruleset)
    estimate = estimate_score(findings, ruleset, scan, measured)
    cfg = scan.config or {}
    ordered = sorted(findings, key=lambda f: (SEVERITY_RANK.get(f.severity, 9), not f.rule.startswith("veto."), f.rule))
    statuses: dict[str, str] = {}
    rect: Rectification | None = None
    used: tuple[int, ...] = ()
    overdue: dict[str, int] = {}
    if follow_up:
        statuses, rect, used = follow(store, scan, {f.fingerprint for f in findings}, history_scans(store, scan)[:-1])
        overdue = overdue_counts(store, scan, findings, ruleset, statuses)
    return ScanNumbers(
        scan=scan.id, as_of=scan.as_of, measured=measured, problems=len(findings),
        by_rule=dict(sorted(Counter(f.rule for f in findings).items())),
        by_type=tuple((rule, rule_name(ruleset, rule), n) for rule, n in Counter(f.rule for f in ordered).items()),
        by_severity=dict(sorted(Counter(f.severity for f in findings).items())),
        by_unit=dict(sorted(Counter(unit_of(f, cfg) for f in findings).items())),
        score=estimate["score"], deducted=estimate["deducted"], score_lines=tuple(estimate["lines"]),
        veto=tuple(veto), conclusion=scan_conclusion(veto, estimate["score"]),
        statuses=statuses, rectification=rect, lookbacks=used, overdue=sum(overdue.values()),
        overdue_by_unit=overdue)


def _trend_point(n: ScanNumbers) -> dict[str, Any]:
    return {"id": n.scan, "as_of": n.as_of.isoformat(), "label": n.as_of.strftime("%m-%d"), "problems": n.problems,
            "vetoes": n.vetoes, "score": n.score, "conclusion": n.conclusion, "veto": n.veto_bands}


def _changes(prev: ScanNumbers | None, cur: ScanNumbers, findings: list[Finding], ruleset: RuleSet) -> list[str]:
    rect = cur.rectification
    if prev is None or rect is None:
        return ["本次为首次监测，无上期数据可比。"]
    out: list[str] = []
    new = [f for f in findings if rect.statuses.get(f.fingerprint) == NEW]
    if new:
        kinds = Counter(rule_name(ruleset, f.rule) for f in new)
        out.append(f"新发现问题 {len(new)} 个（" + "、".join(f"{k} {n} 个" for k, n in kinds.most_common()) + "）。")
    else:
        out.append("与上期相比没有新发现的问题。")
    text = f"上期 {rect.total} 个问题中已整改 {rect.fixed} 个、未整改 {rect.open} 个"
    if rect.pending:
        text += f"、待复核 {rect.pending} 个"
    if rect.recurred:
        text += f"；另有 {rect.recurred} 个曾整改的问题再次出现"
    out.append(text + "。")
    if cur.score != prev.score:
        out.append(f"扣分估算得分由 {score_text(prev.score)}变为 {score_text(cur.score)}。")
    before_bands = prev.veto_bands
    for rule, band in cur.veto_bands.items():
        before = before_bands.get(rule)
        if before and before != band:
            out.append(f"单项否决指标“{rule_name(ruleset, rule)}”由{before}变为{band}。")
    if cur.conclusion != prev.conclusion:
        out.append(f"总体结论由{prev.conclusion}变为{cur.conclusion}。")
    return out


def build_report(store: Store, scan: ScanRecord, deadlines: dict[str, int] | None = None,
                 month: str | None = None) -> ReportData:
    """All the data of one scan's rectification report and leadership summary."""
    ruleset = load_scan_rules(scan)
    findings = store.findings(scan.id)
    history = history_scans(store, scan)
    numbers = scan_numbers(store, scan, ruleset=ruleset)
    # each earlier scan as judged by its own rules: the trend shows what that month's report showed
    trend = [scan_numbers(store, s, follow_up=False) for s in history[-TREND_SCANS:-1]] + [numbers]
    prev_scan = history[-2] if len(history) > 1 else None
    prev = trend[-2] if prev_scan else None                 # trend ends with the previous scan and this one
    problems = problem_rows(store, scan, findings, ruleset, dict(numbers.statuses), deadlines)

    look_rows: list[dict[str, Any]] = []
    rect = numbers.rectification
    if prev_scan is not None and rect is not None:
        cfg = scan.config or {}
        prev_findings = store.findings(prev_scan.id)
        prev_fps = {f.fingerprint for f in prev_findings}
        for f in prev_findings:
            look_rows.append({"type": rule_name(ruleset, f.rule), "url": f.url, "location": location(f),
                              "description": description(f), "unit": unit_of(f, cfg),
                              "status": rect.statuses.get(f.fingerprint, FIXED)})
        for f in findings:
            if rect.statuses.get(f.fingerprint) == RECURRED and f.fingerprint not in prev_fps:
                look_rows.append({"type": rule_name(ruleset, f.rule), "url": f.url, "location": location(f),
                                  "description": description(f), "unit": unit_of(f, cfg), "status": RECURRED})
    order = {RECURRED: 0, OPEN: 1, PENDING: 2, FIXED: 3}
    look_rows.sort(key=lambda r: (order.get(r["status"], 9), r["type"], r["url"]))
    lookback = {"previous": prev_scan, "rows": look_rows, "total": rect.total if rect else 0,
                "counts": rect.counts if rect else {}}

    veto = [dict(v) for v in numbers.veto]
    measured = numbers.measured
    score = {"score": numbers.score, "deducted": numbers.deducted,
             "lines": [dict(line) for line in numbers.score_lines]}
    warnings = [{"what": f"单项否决指标“{v['name_zh']}”", "url": "",
                 "detail": f"实测 {v['measured_text']}，{v['threshold_text']}", "unit": ""}
                for v in veto if v["band"] == "风险"]
    warnings += column_warnings(store, scan, findings, ruleset)
    stats = dict(scan.stats or {})
    stats.setdefault("pages", store.count(PageRow, scan.id))
    stats.setdefault("checked", store.count(TargetRow, scan.id))
    stats.setdefault("links", store.count(LinkRow, scan.id))
    open_rows = [p for p in problems if p["status"] != FIXED]
    top = sorted(open_rows, key=lambda p: (SEVERITY_RANK.get(p["severity"], 9), p["status"] != RECURRED,
                                           not p["overdue"], p["first_found"], p["no"]))[:5]
    m = month or scan.as_of.strftime("%Y-%m")
    year, mon = m.split("-")
    return ReportData(
        site=scan.site, scan=scan, month=m,
        period=f"{year}年{int(mon)}月（监测日 {scan.as_of.isoformat()}，扫描编号 {scan.id}）",
        start_urls=list(scan.start_urls or []), stats=stats, veto=veto, score=score,
        conclusion=numbers.conclusion, problems=problems,
        disclosures=disclosure_rows(findings, ruleset, measured, found_items(store, scan, ruleset) if measured else {}),
        lookback=lookback, warnings=warnings,
        trend=[_trend_point(n) for n in trend],
        top=top, changes=_changes(prev, numbers, findings, ruleset), coverage=coverage_document(stats),
        measured=measured,
        unreachable=[{"url": f.url, "message": readable_message(f.message)} for f in findings if f.rule == UNREACHABLE],
        deadline_note=deadline_note(ruleset, deadlines), numbers=numbers,
    )
