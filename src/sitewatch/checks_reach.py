"""Could the scan reach the site at all? ``availability.unreachable`` and ``scan.no_pages``.

A scan whose homepage (the first start URL) could not be fetched is a failed visit of the site: the finding
carries what the crawler recorded for it (status, reason, detail, redirects). A scan that stored no page for
another reason (robots.txt, a redirect out of scope, a non-HTML answer) measured none of the page-based
indicators: ``scan.no_pages`` says so, and the reports say 无法评定 instead of 合格.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from sitewatch.crawl.verdict import BROKEN, MESSAGES_ZH, OK, SKIPPED
from sitewatch.models import Finding
from sitewatch.packs import RuleSet
from sitewatch.store import Page, Store, Target

UNREACHABLE = "availability.unreachable"
NO_PAGES = "scan.no_pages"

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
    reason = reason or ""
    if reason.startswith("http_"):
        return f"服务器返回 HTTP {reason[5:]}"
    return MESSAGES_ZH.get(reason, reason).format(detail=(detail or "")[:80])


def start_targets(store: Store, scan_id: int, urls: list[str]) -> dict[str, Any]:
    """The crawler's verdict row of each start URL (a broken row first when a URL has several)."""
    rank = {BROKEN: 0, OK: 1, SKIPPED: 2}
    with store.engine.connect() as c:
        rows = c.execute(select(Target).where(Target.c.scan_id == scan_id, Target.c.url.in_(list(urls)))
                         .order_by(Target.c.id)).all()
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


def reach_findings(store: Store, scan_id: int, start_urls: list[str], ruleset: RuleSet) -> list[Finding]:
    """``availability.unreachable`` when the homepage could not be fetched; ``scan.no_pages`` when the crawl
    stored no page although the homepage did not fail (or its rule is switched off)."""
    if not start_urls:
        return []
    home = start_urls[0]
    store.flush()
    pages = store.count(Page, scan_id)
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
            return f"start URL {f['url']} unreachable: {reason_en(ev.get('reason'))}{detail}"
        if f["rule"] == NO_PAGES:
            return f"no page crawled from start URL {f['url']}: {reason_en(ev.get('reason'))}"
    if not (doc.get("scan") or {}).get("pages"):
        urls = (doc.get("scan") or {}).get("start_urls") or []
        return f"no page crawled from start URL {urls[0] if urls else '?'}"
    return None
