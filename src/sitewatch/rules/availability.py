"""Can the site be reached? ``availability.down`` (probe log), ``availability.unreachable`` and ``scan.no_pages``.

``availability.down`` (V1 站点无法访问) judges the homepage probes of a monitoring week: the veto applies when
failed probes reach the pack's ``fail_share`` of a week, which must also have ``probes_per_day`` probes every
day. The probing itself (HTTP, the probe log, per-day and per-week statistics) is ``sitewatch.probes``.

A scan whose homepage (the first start URL) could not be fetched is a failed visit of the site: the finding
carries what the crawler recorded for it (status, reason, detail, redirects). A scan that stored no page for
another reason (robots.txt, a redirect out of scope, a non-HTML answer) measured none of the page-based
indicators: ``scan.no_pages`` says so, and the reports say 无法评定 instead of 合格.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from sitewatch.config import SiteConfig
from sitewatch.crawl.verdict import BROKEN, OK, SKIPPED, reason_text_zh
from sitewatch.models import Finding
from sitewatch.packs import RuleSet, load_rules
from sitewatch.probes import Availability, availability, jsonable, site_key
from sitewatch.rules._site import SiteData
from sitewatch.rules.registry import probe_check, site_check
from sitewatch.store import PageRow, Store, TargetRow
from sitewatch.urls import display_url

DOWN = "availability.down"
UNREACHABLE = "availability.unreachable"
NO_PAGES = "scan.no_pages"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The numbers of ``availability.down`` in the pack."""

    fail_share: float           # failed probes of a week, as a share, from which the veto applies
    probes_per_day: int         # probes every day of a week needs for the week to count as sampled
    monitor_days: int           # the monitoring window


def thresholds(ruleset: RuleSet) -> Thresholds:
    """``availability.down``'s thresholds from the pack (``KeyError`` when the pack does not define them)."""
    th = ruleset.get(DOWN).threshold
    return Thresholds(float(th["fail_share"]), int(th["probes_per_day"]), int(th["monitor_days"]))


def recent_availability(store: Store, site: str, urls: list[str] | None, ruleset: RuleSet,
                        now: dt.datetime) -> Availability:
    """The probe statistics of the monitoring window up to ``now``, judged with the pack's thresholds."""
    th = thresholds(ruleset)
    return availability(store, site, now - dt.timedelta(days=th.monitor_days), now + dt.timedelta(seconds=1), urls,
                        threshold=th.fail_share, probes_per_day=th.probes_per_day)


# English wording of the crawler's failure reasons, for the command line
REASONS_EN = {
    "refused": "connection refused", "dns": "DNS lookup failed", "timeout": "timed out", "tls": "TLS error",
    "connect": "connection failed", "read": "connection broken", "loop": "redirect loop",
    "too_many_redirects": "too many redirects", "bad_redirect": "redirect to an invalid address",
    "soft404": "the page says it does not exist (soft 404)", "deleted_stub": "deleted page (refreshes to its parent)",
    "robots": "robots.txt forbids crawling it", "out_of_scope": "redirects out of the crawl scope",
    "not_html": "not an HTML page", "not_fetched": "never fetched",
}


def reason_en(reason: str | None) -> str:
    reason = reason or ""
    if reason.startswith("http_"):
        return f"HTTP {reason[5:]}"
    return REASONS_EN.get(reason, reason or "unknown error")


def reason_zh(reason: str | None, detail: str = "") -> str:
    """The reason in Chinese (``crawl.verdict.reason_text_zh``); ``detail`` stays in the evidence."""
    return reason_text_zh(reason or "")


def start_targets(store: Store, scan_id: int, urls: list[str]) -> dict[str, Any]:
    """The crawler's verdict row of each start URL (a broken row first when a URL has several)."""
    rank = {BROKEN: 0, OK: 1, SKIPPED: 2}
    with store.engine.connect() as c:
        rows = c.execute(select(TargetRow).where(TargetRow.c.scan_id == scan_id, TargetRow.c.url.in_(list(urls)))
                         .order_by(TargetRow.c.id)).all()
    out: dict[str, Any] = {}
    for r in rows:
        prev = out.get(r.url)
        if prev is None or rank.get(r.verdict, 9) < rank.get(prev.verdict, 9):
            out[r.url] = r
    return out


def _evidence(url: str, t: Any, pages: int) -> dict[str, Any]:
    ev: dict[str, Any] = {"url": url, "pages": pages}
    if t is None:
        return {**ev, "reason": "not_fetched"}
    ev.update(status=t.status, reason=t.reason or t.verdict, detail=t.detail or "", final_url=t.final_url or url)
    if t.chain:
        ev["redirects"] = [{"url": u, "status": s} for u, s in t.chain]
    return ev


@site_check(UNREACHABLE, NO_PAGES)
def reach(site: SiteData) -> list[Finding]:
    """Could the scan fetch the homepage, did it store any page?"""
    return reach_findings(site.store, site.scan_id, site.cfg.start_urls, site.ruleset)


def reach_findings(store: Store, scan_id: int, start_urls: list[str], ruleset: RuleSet) -> list[Finding]:
    """``availability.unreachable`` when the homepage could not be fetched; ``scan.no_pages`` when the crawl
    stored no page although the homepage did not fail (or its rule is switched off)."""
    if not start_urls:
        return []
    home = start_urls[0]
    store.flush()
    pages = store.count(PageRow, scan_id)
    targets = start_targets(store, scan_id, start_urls)
    t = targets.get(home)
    out: list[Finding] = []
    if t is not None and t.verdict == BROKEN and ruleset.enabled(UNREACHABLE):
        why = reason_zh(t.reason, t.detail or "")
        tail = "，未抓取到任何页面，其他指标无法评定" if not pages else ""
        out.append(Finding(rule=UNREACHABLE, severity=ruleset.severity(UNREACHABLE), url=home,
                           message=f"本次扫描无法访问站点首页：{why}{tail}", evidence=_evidence(home, t, pages)))
        return out
    if pages or not ruleset.enabled(NO_PAGES):
        return out
    ev = _evidence(home, t, pages)
    if t is not None and t.verdict == OK:
        ev["reason"] = "out_of_scope" if (t.final_url or home) != home else "not_html"
    cause = {"robots": "robots.txt 禁止抓取起始地址", "not_fetched": "起始地址未被访问",
             "out_of_scope": f"起始地址重定向到监测范围以外（{ev.get('final_url')}）",
             "not_html": "起始地址不是可解析的网页"}.get(ev["reason"], reason_zh(ev["reason"], ev.get("detail", "")))
    out.append(Finding(rule=NO_PAGES, severity=ruleset.severity(NO_PAGES), url=home,
                       message=f"本次扫描未抓取到任何页面（{cause}），各项指标无法评定", evidence=ev))
    return out


def unreachable_line(doc: dict[str, Any]) -> str | None:
    """One English line for the command line when a scan's findings JSON says the site was not reached."""
    for f in doc.get("findings", []):
        ev = f.get("evidence") or {}
        if f["rule"] == UNREACHABLE:
            detail = (f" (HTTP {ev['status']})"
                      if ev.get("status") and not str(ev.get("reason", "")).startswith("http_") else "")
            return f"start URL {display_url(f['url'])} unreachable: {reason_en(ev.get('reason'))}{detail}"
        if f["rule"] == NO_PAGES:
            return f"no page crawled from start URL {display_url(f['url'])}: {reason_en(ev.get('reason'))}"
    if not (doc.get("scan") or {}).get("pages"):
        urls = (doc.get("scan") or {}).get("start_urls") or []
        return f"no page crawled from start URL {display_url(urls[0]) if urls else '?'}"
    return None


@probe_check(DOWN)
def availability_findings(store: Store, cfg: SiteConfig, start: dt.datetime | dt.date,
                          end: dt.datetime | dt.date, ruleset: RuleSet | None = None) -> list[Finding]:
    """An ``availability.down`` finding when failed homepage probes reach the threshold in some week of the window."""
    if ruleset is None:
        ruleset = load_rules([Path(p) for p in cfg.rule_packs], cfg.rule_overrides)
    if not ruleset.enabled(DOWN):
        return []
    th = thresholds(ruleset)
    home = cfg.start_urls[0]
    av = availability(store, site_key(cfg), start, end, [home], threshold=th.fail_share,
                      probes_per_day=th.probes_per_day)
    if not av.veto:
        return []
    worst = max((w for w in av.weeks if w.veto), key=lambda w: w.share)
    errors = Counter[str]()
    for o in av.outages:
        errors.update(o.errors)
    message = (f"首页可用性监测 {worst.start}至{worst.end}：{worst.failures}/{worst.probes} 次访问失败"
               f"（{worst.share:.1%}），达到 {av.threshold:.0%} 单项否决线")
    if not worst.sampling_met:
        message += f"（监测未满一周或每天少于 {av.probes_per_day} 次）"
    evidence = {"probes": worst.probes, "failures": worst.failures, "share": round(worst.share, 4),
                "threshold": av.threshold, "week": [worst.start.isoformat(), worst.end.isoformat()],
                "sampling_met": worst.sampling_met, "window_probes": av.probes, "window_failures": av.failures,
                "errors": dict(errors.most_common()),
                "days": jsonable([asdict(d) for d in av.days]),
                "outages": jsonable([asdict(o) for o in av.outages])}
    return [Finding(rule=DOWN, severity=ruleset.severity(DOWN), url=home, message=message,
                    found_on=[], evidence=evidence)]
