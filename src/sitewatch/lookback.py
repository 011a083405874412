"""Look-back (回头看): re-verify the problems of an earlier scan without a full crawl and classify each.

``recheck`` re-fetches what each problem points at (the broken link target, the column page) and re-evaluates
it; ``run_lookback`` classifies the problems against the history (``reporting.numbers.settle``: a problem the
re-check cannot tell is decided by the latest full scan after the baseline, if any) and stores the result as a
scan of kind ``lookback`` so reports can show 整改状态 and the same counts (``reporting.numbers``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitewatch.config import SiteConfig
from sitewatch.crawl.fetch import Fetcher, FetchResult
from sitewatch.crawl.netpolicy import NetPolicy
from sitewatch.crawl.politeness import Politeness
from sitewatch.crawl.verdict import BROKEN, judge, message_zh
from sitewatch.encoding import decode_html
from sitewatch.errors import UsageError
from sitewatch.extract import parse_html
from sitewatch.listengines import parse_listing
from sitewatch.models import Finding
from sitewatch.packs import RuleSet, load_rules
from sitewatch.rectification import FIXED, NEW, OPEN, RECURRED, STATUSES
from sitewatch.reporting.data import (
    description,
    first_seen,
    load_scan_rules,
    location,
    rule_name,
    scan_numbers,
    unit_of,
)
from sitewatch.reporting.numbers import lookback_rectification, settle, status_counts
from sitewatch.reporting.render import safe_name, write_html
from sitewatch.reporting.tables import write_xlsx
from sitewatch.reporting.workbook import DECLARED_FIXED, UNIT_KIND, UNIT_STATUSES
from sitewatch.rules.availability import DOWN
from sitewatch.rules.columns import (
    COLUMN_BLANK,
    COLUMN_LONG_STALE,
    COLUMN_STALE,
    HOMEPAGE_STALE,
    VETO_AGGREGATES,
    ColumnData,
    check_columns,
    check_homepage,
    last_update,
)
from sitewatch.rules.disclosures import DISCLOSURE_LATE, DISCLOSURE_MISSING
from sitewatch.rules.links import LINK_BROKEN
from sitewatch.store import ScanRecord, Store

LINK_RULES = (LINK_BROKEN,)
COLUMN_RULES = (COLUMN_STALE, COLUMN_LONG_STALE, COLUMN_BLANK)
VETO_COLUMN_RULES = VETO_AGGREGATES
PENDING_REASON = {
    HOMEPAGE_STALE: "首页未能按列表读取，需人工核对首页更新日期",
    DISCLOSURE_MISSING: "法定公开事项需完整扫描后复核",
    DISCLOSURE_LATE: "法定公开事项需完整扫描后复核",
    DOWN: "站点可用性需连续一周监测后复核",
}


@dataclass
class Recheck:
    """What re-verifying one finding found."""

    finding: Finding
    open: bool | None                 # None: could not be re-verified (待复核)
    note: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


def fingerprint_sets(store: Store, scans: Sequence[ScanRecord]) -> list[set[str]]:
    return [{f.fingerprint for f in store.findings(s.id)} for s in scans]


def resolve_since(store: Store, since: str) -> ScanRecord:
    """The baseline scan: ``since`` is a scan id, or a date (the last full scan on or before it, else the first
    after)."""
    if since.isdigit():
        scan = store.scan(int(since))
        if scan is None:
            raise UsageError(f"lookback: no scan with id {since}")
        return scan
    try:
        day = dt.date.fromisoformat(since)
    except ValueError:
        raise UsageError(f"lookback: --since {since!r}: expected a scan id or YYYY-MM-DD") from None
    scans = [s for s in store.scans() if s.status == "completed"]
    if not scans:
        raise UsageError("lookback: the store has no completed scan")
    before = [s for s in scans if s.as_of <= day]
    return before[-1] if before else scans[0]


async def _recheck_all(findings: Sequence[Finding], as_of: dt.date, timeout: float, ruleset: RuleSet,
                       start_urls: Sequence[str] = (), cfg: SiteConfig | None = None) -> list[Recheck]:
    # the same network policy as the scan: internal addresses only when the site itself is on such a network
    policy = NetPolicy.for_site(list(start_urls), cfg.network_allow if cfg else ())
    site_options: dict[str, Any] = ({"proxy": cfg.proxy, "ca_bundle": cfg.ca_bundle, "verify_tls": cfg.verify_tls,
                                     "user_agent": cfg.user_agent} if cfg else {})
    # a fleet worker's look-back keeps to the hosts' shared budget, as its scans do
    politeness = Politeness(concurrency=4, rate=4, obey_robots=False, budget=cfg.shared_budget if cfg else None,
                            request_timeout=timeout)
    fetcher = Fetcher(politeness, timeout=timeout, retries=1, policy=policy, **site_options)
    try:
        urls = sorted({f.url for f in findings if f.rule in LINK_RULES + COLUMN_RULES or f.rule == HOMEPAGE_STALE})
        fetched = dict(zip(urls, await asyncio.gather(*(fetcher.fetch(u) for u in urls)), strict=False))
        out: list[Recheck] = []
        for f in findings:
            if f.rule in VETO_COLUMN_RULES:
                continue
            if f.rule in LINK_RULES:
                out.append(_recheck_link(f, fetched[f.url]))
            elif f.rule in COLUMN_RULES or f.rule == HOMEPAGE_STALE:
                out.append(_recheck_column(f, fetched[f.url], as_of, ruleset))
            else:
                out.append(Recheck(f, None, PENDING_REASON.get(f.rule, "该类问题暂不支持自动复核，请人工核对")))
        out.extend(_recheck_vetoes(findings, out))
        return out
    finally:
        await fetcher.aclose()
        await politeness.aclose()


def _recheck_link(f: Finding, res: FetchResult) -> Recheck:
    if res.error == "blocked_address":
        return Recheck(f, None, "链接指向内网、本机或云平台元数据地址，按网络安全策略未访问，请人工核对",
                       {"status": None, "reason": res.error})
    if res.error is None and res.status == 200 and res.body is not None and res.is_html:
        text, _ = decode_html(res.body, res.content_type)
        parsed = parse_html(text, res.final_url or f.url)
        verdict = judge(res, title=parsed.title, text_len=parsed.text_len, text_sample=parsed.text_sample,
                        refresh=parsed.refresh)
    else:
        verdict = judge(res)
    broken = verdict.verdict == BROKEN
    note = message_zh(verdict.reason, verdict.detail, bool(res.chain)) if broken else f"复核可访问（HTTP {res.status}）"
    return Recheck(f, broken, note, {"status": res.status, "reason": verdict.reason})


def _recheck_column(f: Finding, res: FetchResult, as_of: dt.date, ruleset: RuleSet) -> Recheck:
    if res.error or res.status != 200 or not res.body:
        return Recheck(f, None, f"栏目页面无法访问（{res.error or 'HTTP ' + str(res.status)}），请人工核对",
                       {"status": res.status})
    text, _ = decode_html(res.body, res.content_type)
    listing = parse_listing(res.final_url or f.url, text)
    if listing is None:
        note = PENDING_REASON.get(f.rule, "未能读取栏目列表，请人工核对")
        return Recheck(f, None, note, {"status": res.status})
    newest = last_update(listing.items)
    ev = {"items": len(listing.items), "last_update": newest.isoformat() if newest else None}
    if f.rule == HOMEPAGE_STALE:
        again = check_homepage(f.url, listing.items, as_of, ruleset)
    else:
        col = ColumnData(key=str(f.evidence.get("column_key") or f.url), name=str(f.extra.get("column") or ""),
                         url=f.url, items=listing.items, empty_marker=listing.empty_marker,
                         category=f.extra.get("category"), max_age_days=f.extra.get("max_age_days"))
        again = check_columns([col], as_of, ruleset)
    still = any(g.fingerprint == f.fingerprint for g in again)
    if still:
        note = (f"复核仍未更新（最近更新 {ev['last_update'] or '无日期'}）" if f.rule != COLUMN_BLANK
                else "复核仍为空白栏目")
    else:
        note = f"复核已更新（最近更新 {ev['last_update']}，{len(listing.items)} 条）"
    return Recheck(f, still, note, ev)


def _recheck_vetoes(findings: Sequence[Finding], done: Sequence[Recheck]) -> list[Recheck]:
    """A column veto stays open while the re-verified open columns still reach its threshold."""
    out: list[Recheck] = []
    for f in findings:
        per_column = VETO_COLUMN_RULES.get(f.rule)
        if per_column is None:
            continue
        checks = [r for r in done if r.finding.rule == per_column]
        threshold = int(f.evidence.get("threshold") or 0)
        if any(r.open is None for r in checks):
            possible = sum(1 for r in checks if r.open is not False)
            if possible < threshold:
                out.append(Recheck(f, False, f"复核后最多 {possible} 个栏目仍有问题（阈值 {threshold} 个）"))
            else:
                out.append(Recheck(f, None, "部分栏目待人工复核"))
            continue
        n = sum(1 for r in checks if r.open)
        out.append(Recheck(f, n >= threshold, f"复核后 {n} 个栏目仍有问题（阈值 {threshold} 个）", {"count": n}))
    return out


def recheck(findings: Sequence[Finding], as_of: dt.date, timeout: float = 15.0, ruleset: RuleSet | None = None,
            start_urls: Sequence[str] = (), cfg: SiteConfig | None = None) -> list[Recheck]:
    """Re-verify each finding over the network (one fetch per distinct URL), under the network policy of a site
    at ``start_urls`` and the proxy / TLS settings of ``cfg`` (the environment's proxy without it)."""
    if ruleset is None:
        ruleset = load_rules()
    return asyncio.run(_recheck_all(list(findings), as_of, timeout, ruleset, start_urls, cfg))


@dataclass
class LookbackResult:
    scan_id: int
    baseline: ScanRecord
    latest: ScanRecord | None
    rows: list[dict[str, Any]]
    counts: dict[str, int]
    as_of: dt.date


def run_lookback(store: Store, baseline: ScanRecord, as_of: dt.date | None = None, timeout: float = 15.0,
                 cfg: SiteConfig | None = None) -> LookbackResult:
    """Re-verify ``baseline``'s problems, classify them against the history, store a ``lookback`` scan."""
    as_of = as_of or dt.date.today()
    ruleset = load_scan_rules(baseline)
    base_findings = store.findings(baseline.id)
    checks = recheck(base_findings, as_of, timeout, ruleset, list(baseline.start_urls or []), cfg)
    by_fp = {r.finding.fingerprint: r for r in checks}
    full = [s for s in store.scans(baseline.site) if s.status == "completed" or s.id == baseline.id]
    history = [s for s in full if s.id <= baseline.id]
    latest = full[-1] if full and full[-1].id > baseline.id else None
    latest_findings = store.findings(latest.id) if latest else []
    base_fps = {f.fingerprint for f in base_findings}
    new = {f.fingerprint for f in latest_findings} - base_fps
    # one rule for every output (reporting.numbers.settle): the re-check decides, else the latest full scan
    status, settled = settle(fingerprint_sets(store, history), base_fps, {fp: r.open for fp, r in by_fp.items()},
                             {f.fingerprint for f in latest_findings} if latest else None)
    rows: list[dict[str, Any]] = []
    stored: list[Finding] = []
    for f in base_findings + [g for g in latest_findings if g.fingerprint in new]:
        r = by_fp.get(f.fingerprint)
        st = status[f.fingerprint]
        note = r.note if r else ("最近一次完整扫描新发现" if st in (NEW, RECURRED) else "")
        if f.fingerprint in settled and latest is not None:
            note += (f"；以最近一次完整扫描（{latest.as_of}，编号 {latest.id}）为准："
                     + ("仍发现该问题" if settled[f.fingerprint] else "未再发现该问题"))
        if r is not None:
            source_scan = baseline.id
        else:
            assert latest is not None                   # every baseline finding was re-checked
            source_scan = latest.id
        rows.append({"finding": f, "status": st, "note": note, "source_scan": source_scan})
        if st != FIXED:
            stored.append(Finding(rule=f.rule, severity=f.severity, url=f.url, message=f.message,
                                  found_on=list(f.found_on), evidence={**f.evidence, "recheck": note},
                                  extra={**f.extra, "lookback_status": st}))
    counts = status_counts(status)
    scan_id = store.new_scan(baseline.site, list(baseline.start_urls or []), as_of,
                             {**(baseline.config or {}), "baseline": baseline.id,
                              "latest": latest.id if latest else None}, kind="lookback")
    store.save_findings(scan_id, stored)
    store.finish_scan(scan_id, "completed", {"baseline": baseline.id, "latest": latest.id if latest else None,
                                             "classification": status, "counts": counts,
                                             "notes": {r["finding"].fingerprint: r["note"] for r in rows}})
    return LookbackResult(scan_id, baseline, latest, rows, counts, as_of)


LOOKBACK_COLUMNS = (
    ("序号", "no"), ("问题类型", "type"), ("问题网址", "url"), ("所在页面/栏目", "location"),
    ("原问题描述", "description"), ("责任科室", "unit"), ("首次发现", "first_found"), ("复核结果", "status"),
    ("复核说明", "note"), ("单位填报", "declared"), ("整改措施", "declared_note"), ("完成时间", "declared_done"),
    ("核验结论", "verified"), ("规则编号", "rule"),
)
# A unit's declaration (``sitewatch import`` of its 整改报告 workbook) beside the re-check.
NOT_DECLARED = "未填报"
PASSED, FAILED, TO_CHECK = "复核通过", "复核未通过", "待复核"
DECLARED = tuple(f"单位报{s}" for s in UNIT_STATUSES)


def declared_vs_verified(status: str, declaration: dict[str, Any] | None) -> dict[str, Any]:
    """What a unit declared for a problem and, for a declared 已整改, whether the re-check bears it out."""
    if declaration is None:
        return {"declared": NOT_DECLARED, "declared_note": "", "declared_done": None, "verified": ""}
    verified = ""
    if declaration["status"] == DECLARED_FIXED:
        verified = PASSED if status == FIXED else FAILED if status in (OPEN, RECURRED) else TO_CHECK
    return {"declared": f"单位报{declaration['status']}", "declared_note": declaration.get("note") or "",
            "declared_done": declaration.get("done_on"), "verified": verified,
            "declared_by": declaration.get("declared_by") or ""}


def declared_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """单位报… by status, 复核通过 / 复核未通过 / 待复核 of the declared 已整改, and 未填报, over the re-checked
    rows."""
    checked = [r for r in rows if r.get("declared")]
    out = {k: sum(1 for r in checked if r["declared"] == k) for k in (*DECLARED, NOT_DECLARED)}
    out.update({k: sum(1 for r in checked if r["verified"] == k) for k in (PASSED, FAILED, TO_CHECK)})
    return out


def report_rows(store: Store, result: LookbackResult) -> list[dict[str, Any]]:
    """Rows of the look-back table, most urgent status first."""
    ruleset = load_scan_rules(result.baseline)
    cfg = result.baseline.config or {}
    up_to = max(result.baseline.id, result.latest.id if result.latest else 0)
    seen = first_seen(store, result.baseline.site, {r["finding"].fingerprint for r in result.rows}, up_to)
    declared = store.declarations(result.baseline.id, UNIT_KIND)
    order = {s: i for i, s in enumerate(STATUSES)}
    rows = sorted(result.rows, key=lambda r: (order[r["status"]], r["finding"].rule, r["finding"].url))
    out = []
    for i, r in enumerate(rows, 1):
        f = r["finding"]
        first = seen.get(f.fingerprint)
        out.append({"no": i, "type": rule_name(ruleset, f.rule), "url": f.url, "location": location(f),
                    "description": description(f), "unit": unit_of(f, cfg),
                    "first_found": first.isoformat() if first else "", "status": r["status"], "note": r["note"],
                    "rule": f.rule,
                    # only the baseline's problems were in the workbook units filled in
                    **(declared_vs_verified(r["status"], declared.get(f.fingerprint))
                       if r["source_scan"] == result.baseline.id else {"declared": ""})})
    return out


def write_lookback(store: Store, result: LookbackResult, out_dir: str | Path) -> list[Path]:
    """Write 回头看-<site>-<date>.html and .xlsx; return their paths."""
    rows = report_rows(store, result)
    declared = declared_counts(rows)
    out = Path(out_dir)
    stem = f"回头看-{safe_name(result.baseline.site)}-{result.as_of.isoformat()}"
    generated = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    record = store.scan(result.scan_id)
    assert record is not None                               # run_lookback stored it
    latest = scan_numbers(store, result.latest) if result.latest else None
    html = write_html(out / f"{stem}.html", "lookback.html.j2", lb=result, rows=rows, generated=generated,
                      statuses=STATUSES, n=lookback_rectification(store, record), latest=latest,
                      declared=declared if any(declared[k] for k in DECLARED) else None, declared_labels=DECLARED)
    xlsx = write_xlsx(out / f"{stem}.xlsx", [("回头看", LOOKBACK_COLUMNS, rows)])
    return [html, xlsx]
