"""``link.broken``: each broken target once, with every page it appears on (a check over the store).

A broken target that no crawled page links to is a URL sitewatch built itself (the gkmlpt guide it guesses,
a start URL, a page of a JavaScript pager): a probe, never a broken link. ``link_findings`` leaves it out;
``failed_probes`` lists these for the checks they are evidence for (the guide was not found there).
"""

from __future__ import annotations

from typing import Any

from sitewatch.crawl.verdict import message_zh
from sitewatch.models import DEDUCT, Finding
from sitewatch.rules._site import SiteData
from sitewatch.rules.registry import site_check
from sitewatch.store import Store

LINK_BROKEN = "link.broken"


def failed_probes(store: Store, scan_id: int) -> list[dict[str, Any]]:
    """Broken targets no crawled page links to: {url, status or error}."""
    return [{"url": t.url, **({"status": t.status} if t.status is not None else {"error": t.reason})}
            for t, pages, _ in store.broken_targets(scan_id) if not pages]


def link_findings(store: Store, scan_id: int, severity: str = DEDUCT) -> list[Finding]:
    out: list[Finding] = []
    for target, pages, texts in store.broken_targets(scan_id):
        if not pages:
            continue
        evidence: dict[str, Any] = {}
        if target.status is not None:
            evidence["status"] = target.status
        if target.reason and not target.reason.startswith("http_"):
            evidence["error"] = target.reason
        if target.detail:
            evidence["detail"] = target.detail
        if target.chain:
            evidence["redirects"] = [{"url": u, "status": s} for u, s in target.chain]
            evidence["final_url"] = target.final_url
        evidence["method"] = target.method
        extra: dict[str, Any] = {"internal": bool(target.internal)}
        if texts:
            extra["link_text"] = texts[0]
        out.append(Finding(rule=LINK_BROKEN, severity=severity, url=target.url,
                           message=message_zh(target.reason, target.detail, bool(target.chain)),
                           found_on=pages, evidence=evidence, extra=extra))
    return out


@site_check(LINK_BROKEN)
def broken_links(site: SiteData) -> list[Finding]:
    """``link.broken`` over the crawl's verdicts of every link target."""
    if not site.ruleset.enabled(LINK_BROKEN):
        return []
    return link_findings(site.store, site.scan_id, site.ruleset.severity(LINK_BROKEN))
