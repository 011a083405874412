"""Checks that read every crawled page: 互动回应 (V4), 办事服务 (V5), 严重问题 (V6) and site identity (47号).

``PageChecks`` is fed by the crawler (``on_page``, or ``page_hook`` as a ``Crawler.page_hooks`` entry) and
returns findings at the end of the scan. Per page it keeps only small facts (flags, dates, hashes, a few
example URLs), never page bodies.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from sitewatch.extract import ParsedPage
from sitewatch.models import Finding
from sitewatch.packs import RuleSet
from sitewatch.pagechecks.identity import Identity
from sitewatch.pagechecks.interaction import Interaction
from sitewatch.pagechecks.page import Check, PageView
from sitewatch.pagechecks.security import Duplicates, HiddenLinks, Misstatements
from sitewatch.pagechecks.services import Services

RULE_IDS = (
    "interaction.no_channel", "interaction.unanswered", "interaction.slow_reply",
    "service.none", "service.guide_incomplete", "veto.service_guides",
    "security.misstatement", "security.hidden_link", "security.duplicate_content",
    "identity.mark_missing", "identity.meta_missing", "identity.inconsistent",
    "identity.domain", "identity.https", "identity.mixed_content",
)
MAX_ERRORS = 20


class PageChecks:
    """Collects per-page facts for the page rules and turns them into findings.

    ``site_cfg`` is a ``SiteConfig`` (or anything with ``extra_hosts``/``prefixes``); its hosts and the start
    hosts count as the site's own for hidden-link detection. Raises ``ConfigError`` when
    ``security.misstatement`` is enabled but no dictionary entry is loaded.
    """

    def __init__(self, ruleset: RuleSet, site_cfg: Any, start_urls: list[str]):
        self.start_urls = list(start_urls) or list(getattr(site_cfg, "start_urls", []) or [])
        site = self.start_urls[0] if self.start_urls else ""
        hosts = {urlsplit(u).hostname or "" for u in self.start_urls}
        hosts |= {h.lower() for h in getattr(site_cfg, "extra_hosts", None) or []}
        hosts |= {urlsplit(p).hostname or "" for p in getattr(site_cfg, "prefixes", None) or []}
        self.identity = Identity(ruleset, self.start_urls)
        self.checks: list[Check] = [
            Interaction(ruleset, site), Services(ruleset, site), Misstatements(ruleset),
            HiddenLinks(ruleset, hosts - {""}), Duplicates(ruleset), self.identity,
        ]
        self.pages = 0
        self.errors: list[tuple[str, str]] = []

    def on_page(self, url: str, html: str, parsed: ParsedPage) -> None:
        """Record the facts of one in-scope HTML page (``parsed`` is ``parse_html(html, url)``)."""
        view = PageView.build(url, html, parsed)
        if view is None:
            return
        self.pages += 1
        for check in self.checks:
            check.on_page(view)
        view.strip()
        for check in self.checks:
            check.on_main(view)

    async def page_hook(self, url: str, html: str, parsed: ParsedPage, scan_id: int) -> None:
        """``Crawler.page_hooks`` adapter: a failing page is counted in ``errors`` and never stops the crawl."""
        try:
            self.on_page(url, html, parsed)
        except Exception as exc:  # noqa: BLE001 - one odd page must not stop the scan
            if len(self.errors) < MAX_ERRORS:
                self.errors.append((url, f"{type(exc).__name__}: {exc}"[:300]))

    def findings(self, as_of: dt.date) -> list[Finding]:
        """Findings of every enabled page rule, judged as of ``as_of``."""
        out: list[Finding] = []
        for check in self.checks:
            out.extend(check.findings(as_of))
        return out

    @property
    def notes(self) -> list[str]:
        """Judgements that were skipped, e.g. the domain of a loopback start host."""
        return list(self.identity.notes)
