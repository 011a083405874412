"""Record what the crawl found: target, page and link rows in the store, the counts and the coverage ledger, and
the page hooks (list engines, per-page checks) that read each crawled page and store rows of their own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sitewatch.config import SiteConfig
from sitewatch.crawl.coverage import Coverage
from sitewatch.crawl.fetch import FetchResult
from sitewatch.crawl.linkcache import CachedResult
from sitewatch.crawl.netpolicy import BLOCKED_REASON
from sitewatch.crawl.stats import CrawlStats
from sitewatch.crawl.verdict import BROKEN, OK, Verdict
from sitewatch.crawl.visit import Visit
from sitewatch.extract import Link as PageLink
from sitewatch.extract import ParsedPage
from sitewatch.store import CachedTargetRow, LinkRow, PageRow, Store, TargetRow

# fetch errors that leave a page of the site unread, maybe only for now (a redirect loop or a malformed URL is
# the page's own defect: reported as a broken link, not as a gap in coverage)
_UNREAD_ERRORS = frozenset({"timeout", "refused", "connect", "read", "dns", "tls"})
_LINK_COLUMNS = ("scan_id", "page_url", "target", "tag", "text")
_NOT_ON_PAGE = frozenset({"pager", "api", "probe"})   # link rows a hook stored for a page, not in its HTML
_BAD_LINKS = {"file_scheme": "file: link to a local disk, unreachable for visitors", "invalid_url": "malformed URL"}

# (url, html, parsed page, scan id) -> extra URLs of the site to crawl (e.g. pages of a JavaScript pager), or None.
# A hook that puts what it learnt in ``parsed.facts`` and has ``replay_facts(url, facts, scan_id)`` lets a rescan
# reuse unchanged pages; one without ``replay_facts`` makes every page be read each scan.
PageHook = Callable[[str, str, ParsedPage, int], Awaitable[list[str] | None]]


class Recorder:
    """Writes one scan's crawl rows to the store and keeps its counts."""

    def __init__(self, cfg: SiteConfig, store: Store, scan_id: int, stats: CrawlStats, coverage: Coverage,
                 page_hooks: list[PageHook] | None = None):
        self.start_urls = cfg.start_urls
        self.store = store
        self.scan_id = scan_id
        self.stats = stats
        self.coverage = coverage
        self.page_hooks = page_hooks or []

    def target(self, url: str, crawl: bool, res: FetchResult, verdict: Verdict) -> None:
        """The checked URL: its answer and verdict."""
        self.stats.checked += 1
        if verdict.verdict == BROKEN:
            self.stats.broken += 1
        elif verdict.reason == "robots":
            self.stats.skipped_robots += 1
            self.coverage.cut("robots", url)
        elif verdict.reason == BLOCKED_REASON:
            self.coverage.cut("blocked", url)
        self.store.add(TargetRow, scan_id=self.scan_id, url=url, internal=crawl, method=res.method, status=res.status,
                       verdict=verdict.verdict, reason=verdict.reason, detail=verdict.detail[:500],
                       final_url=res.final_url or url, chain=[list(h) for h in res.chain],
                       elapsed_ms=int(res.elapsed * 1000))

    def cached_target(self, hit: CachedResult, internal: bool = False) -> None:
        """A target not requested: its ``ok`` result taken from the link cache, with when it was measured
        (``internal``: a page of the site, see crawl/pagecache.py)."""
        self.stats.checked += 1
        self.stats.cached += 1
        self.store.add(TargetRow, scan_id=self.scan_id, url=hit.url, internal=internal, method=hit.method,
                       status=hit.status, verdict=OK, reason=hit.reason, detail=hit.detail, final_url=hit.final_url,
                       chain=hit.chain, elapsed_ms=hit.elapsed_ms)
        self.store.add(CachedTargetRow, scan_id=self.scan_id, url=hit.url, measured_at=hit.measured_at,
                       measured_scan=hit.measured_scan)

    def bad_link(self, link: PageLink) -> None:
        """A link broken as written (file: path, malformed URL): reported without any request."""
        assert link.bad is not None                    # called for links broken as written only
        self.target(link.url, False, FetchResult(url=link.url, final_url=link.url, error=link.bad),
                    Verdict(BROKEN, link.bad, _BAD_LINKS[link.bad]))

    def error(self, url: str, crawl: bool, reason: str, detail: str) -> None:
        """A URL the crawler itself failed on (``internal_error``) or a page an analyser could not read
        (``analysis_error``): an error target, never a verdict on the site."""
        self.store.add(TargetRow, scan_id=self.scan_id, url=url, internal=crawl, method="GET", status=None,
                       verdict="error", reason=reason, detail=detail[:500], final_url=url, chain=[], elapsed_ms=0)

    def cuts(self, url: str, res: FetchResult, parsed: ParsedPage | None) -> None:
        """Ledger entries for a page of the site that was not read whole (failures, the body cap)."""
        if res.error in ("robots", BLOCKED_REASON):      # counted by target
            return
        if url in self.start_urls and parsed is None:
            self.coverage.cut("unreachable_start", url)
            return
        if res.error in _UNREAD_ERRORS or (res.error is None and (res.status or 0) >= 500):
            self.coverage.cut("fetch_failed", url)
        elif res.truncated and parsed is not None:
            self.coverage.cut("body_cap", url)
        if parsed is not None and parsed.skipped.get("link_cap"):
            self.coverage.cut("link_cap", url, parsed.skipped["link_cap"])

    def page_links(self, url: str, parsed: ParsedPage) -> None:
        """The links of a crawled page."""
        self.stats.links += len(parsed.links)
        self.links(url, parsed.links)

    def page(self, url: str, visit: Visit, parsed: ParsedPage, depth: int, facts: dict[str, Any] | None) -> None:
        """A crawled page, with its validators and what its hooks learnt from it (``facts``; None: read it again
        next scan)."""
        self.stats.pages += 1
        res = visit.res
        body = res.body or b""
        self.store.add(PageRow, scan_id=self.scan_id, url=url, status=res.status, title=parsed.title,
                       encoding=visit.encoding, content_type=res.content_type[:100], elapsed_ms=int(res.elapsed * 1000),
                       size=len(body), depth=depth, content_hash=visit.content_hash,
                       pub_date=None, meta=parsed.meta, etag=res.etag, last_modified=res.last_modified, facts=facts,
                       reused=None)

    def reused_page(self, url: str, row: Any, res: FetchResult, depth: int, how: str,
                    links: list[tuple[str, str, str]]) -> None:
        """A page not read again (``how``: "not_modified", "unchanged"): its stored row and link rows, recorded for
        this scan with the validators it was served with now."""
        self.stats.pages += 1
        self.stats.reused += 1
        self.stats.links += sum(1 for _, tag, _ in links if tag not in _NOT_ON_PAGE)
        self.store.add(PageRow, scan_id=self.scan_id, url=url, status=row.status, title=row.title,
                       encoding=row.encoding, content_type=row.content_type, elapsed_ms=int(res.elapsed * 1000),
                       size=row.size, depth=depth, content_hash=row.content_hash, pub_date=row.pub_date, meta=row.meta,
                       etag=res.etag or row.etag, last_modified=res.last_modified or row.last_modified, facts=row.facts,
                       reused=how)
        sid = self.scan_id
        self.store.add_rows(LinkRow, _LINK_COLUMNS, [(sid, url, t, tag, text) for t, tag, text in links])

    @property
    def hooks_replay(self) -> bool:
        """Every page hook can replay a page's stored facts (else no page is reused: a hook would miss it)."""
        return all(callable(getattr(hook, "replay_facts", None)) for hook in self.page_hooks)

    def replay_hooks(self, url: str, facts: dict[str, Any]) -> None:
        """Hand an unchanged page's stored facts to the page hooks (in place of the page)."""
        for hook in self.page_hooks:
            hook.replay_facts(url, facts, self.scan_id)    # type: ignore[attr-defined]  # checked by hooks_replay

    def links(self, url: str, links: list[PageLink]) -> None:
        """Links of a page, or of a stylesheet or sitemap (whose links carry no text)."""
        sid = self.scan_id
        self.store.add_rows(LinkRow, _LINK_COLUMNS, [(sid, url, link.url, link.tag, link.text) for link in links])

    async def run_hooks(self, url: str, text: str, parsed: ParsedPage) -> list[str]:
        """Hand a crawled page to the page hooks; the extra URLs they return. A hook that fails on the page is
        counted and recorded (``analysis_error``) and the crawl goes on."""
        extra: list[str] = []
        # a page over the link cap (a generated link dump, a hostile page) is no column or article: its links are
        # checked, but list engines and page checks, which would hold a copy of its huge tree each, skip it
        if parsed.skipped.get("link_cap"):
            return extra
        for hook in self.page_hooks:
            try:
                extra.extend(await hook(url, text, parsed, self.scan_id) or ())
            except Exception as exc:  # noqa: BLE001 - a page an analyser cannot read must not stop the crawl
                self.stats.hook_errors += 1
                self.coverage.cut("analysis_error", url)
                self.error(url, True, "analysis_error", f"{type(hook).__name__}: {type(exc).__name__}: {exc}")
        return extra
