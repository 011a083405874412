"""The crawl of one site, step by step: take the next URL in the frontier's order (crawl/frontier.py: homepage,
column first pages, later list pages, then the rest), fetch and judge it (crawl/visit.py) or reuse it unchanged
from the last scan (crawl/pagecache.py), record its rows (crawl/record.py), hand a crawled page to the page hooks
and queue its links. Workers run the steps concurrently within the politeness limits; a URL's rows are stored
all or none."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from sitewatch import memo
from sitewatch.config import SiteConfig
from sitewatch.crawl.coverage import Coverage
from sitewatch.crawl.fetch import Fetcher, FetchResult
from sitewatch.crawl.frontier import CrawlFrontier
from sitewatch.crawl.linkcache import CachedResult, LinkCache
from sitewatch.crawl.netpolicy import NetPolicy
from sitewatch.crawl.pagecache import PageCache, StoredPage
from sitewatch.crawl.politeness import Politeness
from sitewatch.crawl.record import PageHook, Recorder
from sitewatch.crawl.render import Renderer
from sitewatch.crawl.stats import CrawlStats
from sitewatch.crawl.verdict import OK, Verdict
from sitewatch.crawl.visit import Visit, Visitor
from sitewatch.errors import BudgetError
from sitewatch.extract import Link as PageLink
from sitewatch.extract import ParsedPage
from sitewatch.store import Store
from sitewatch.urls import Scope, TrapGuard, is_pagination, normalize


def _env_proxied() -> bool:
    """Requests go through a proxy from the environment: the start host may not resolve here."""
    return any(k in ("http", "https", "all") for k in urllib.request.getproxies())


class Crawler:
    """Crawls one site into the store. ``page_hooks`` see every parsed in-scope page (list engines, checks)
    and may return extra URLs of the site to crawl (e.g. pages of a JavaScript pager)."""

    def __init__(self, cfg: SiteConfig, store: Store, scan_id: int,
                 progress: Callable[[CrawlStats, int], None] | None = None,
                 page_hooks: list[PageHook] | None = None):
        self.cfg = cfg
        self.store = store
        self.scan_id = scan_id
        self.progress = progress
        self.stats = CrawlStats()
        self.coverage = Coverage()
        self.scope = Scope.for_start_urls(cfg.start_urls, cfg.prefixes, cfg.extra_hosts, cfg.excludes)
        self.frontier = CrawlFrontier(self.scope, TrapGuard(max_query_variants=cfg.max_query_variants),
                                      cfg.max_depth, cfg.max_pages, self.stats, self.coverage)
        self.politeness = Politeness(cfg.concurrency, cfg.rate, user_agent="sitewatch", obey_robots=cfg.obey_robots,
                                     adaptive=cfg.adaptive, budget=cfg.shared_budget, request_timeout=cfg.timeout)
        self.fetcher = Fetcher(self.politeness, timeout=cfg.timeout, retries=cfg.retries,
                               user_agent=cfg.user_agent, verify_tls=cfg.verify_tls, proxy=cfg.proxy,
                               ca_bundle=cfg.ca_bundle, policy=NetPolicy.for_site(
                                   cfg.start_urls, cfg.network_allow, resolve=not (cfg.proxy or _env_proxied())))
        self.visitor = Visitor(cfg, self.fetcher, self.scope, self.frontier.is_form_target, self.stats, self.coverage)
        self.recorder = Recorder(cfg, store, scan_id, self.stats, self.coverage, page_hooks)
        self.link_cache = LinkCache()               # set by the scan ([crawl] link_cache_days): off by default
        self.page_cache = PageCache()               # set by the scan ([crawl] conditional): off by default
        self.store_error: Exception | None = None   # the first failed store write: it ends the crawl (run raises it)
        self.budget_error: BudgetError | None = None   # the fleet's shared budget failed: it ends the crawl too
        self._failed = asyncio.Event()

    @property
    def renderer(self) -> Renderer | None:
        """The Chromium renderer (``render_js``), None without."""
        return self.visitor.renderer

    async def run(self, resume: bool = False) -> CrawlStats:
        started = time.monotonic()
        if not resume:
            for u in self.cfg.start_urls:
                self.frontier.add(u, 0, True)
        try:
            await self._learn_error_pages()
            n_workers = min(128, max(16, self.cfg.concurrency * 8))
            workers = [asyncio.create_task(self._worker()) for _ in range(n_workers)]
            ticker = asyncio.create_task(self._tick()) if self.progress else None
            # the queue is done, or a store write or the shared budget failed: then the URLs in flight are dropped
            # (their rows were never stored, so a resume fetches them again) and the error ends the crawl
            ends = [asyncio.create_task(self.frontier.join()), asyncio.create_task(self._failed.wait())]
            try:
                await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (*ends, *workers, *([ticker] if ticker else [])):
                    task.cancel()
                await asyncio.gather(*ends, *workers, return_exceptions=True)
        finally:
            self.stats.coverage = self.coverage.to_json()
            self.stats.requests = self.fetcher.requests
            await self.politeness.aclose()
            self.stats.throttle = self.politeness.report()
            self.stats.bytes_received = self.fetcher.bytes_received
            self.stats.conditional = self.page_cache.report()
            self.stats.seconds = time.monotonic() - started
            await self.fetcher.aclose()
            self.page_cache.close()
            await self.visitor.close()
            if self.store_error is None:
                self.store.flush()
            else:
                self.store.discard()
            memo.clear()
        if self.store_error is not None:
            raise self.store_error
        if self.budget_error is not None:
            raise self.budget_error
        return self.stats

    async def _tick(self) -> None:
        assert self.progress is not None               # started only with a progress callback
        while True:
            await asyncio.sleep(0.5)
            self.progress(self.stats, self.frontier.qsize())

    async def _learn_error_pages(self) -> None:
        await self.visitor.learn_error_pages()

    async def _worker(self) -> None:
        while True:
            depth, _, url, crawl = await self.frontier.get()
            try:
                with self.store.unit():      # a URL's rows, its page hooks' included, are stored all or none
                    try:
                        await self._process(url, depth, crawl)
                    except BudgetError as exc:     # every request would fail the same way: the crawl ends (run)
                        self.store.drop_unit()
                        self.budget_error = self.budget_error or exc
                        self._failed.set()
                    except Exception as exc:  # noqa: BLE001 - one bad URL must not stop the scan
                        self.recorder.error(url, crawl, "internal_error", f"{type(exc).__name__}: {exc}")
            finally:
                try:
                    if self.store_error is None:
                        self.store.maybe_flush()
                except Exception as exc:  # noqa: BLE001 - a database error ends the crawl (see run)
                    self.store_error = exc
                    self._failed.set()
                finally:
                    self.frontier.task_done()

    async def _process(self, url: str, depth: int, crawl: bool) -> None:
        """One URL through the pipeline: fetch and judge, record, and for a page of the site: render if it is
        JavaScript only, record the page, run the page hooks, queue its links. A URL only checked whose earlier
        ``ok`` result is in the link cache is recorded from it without a request."""
        hit = self.link_cache.lookup(url, crawl, self.scope)
        if hit is not None:
            self.recorder.cached_target(hit)
            return
        stored = self.page_cache.lookup(url) if crawl else None
        row = self.page_cache.row(self.store, stored) if stored is not None else None
        if stored is None or row is None or not isinstance(row.facts, dict):
            visit = await self.visitor.visit(url, crawl)        # not read by the last scan (or its row is gone)
        else:
            reused = await self._reused(url, depth, stored, row)
            if reused is None:
                return
            visit = reused
        if visit.resource_links:
            self.recorder.links(visit.final, visit.resource_links)
            self._follow(visit.resource_links, depth)
        self.recorder.target(url, crawl, visit.res, visit.verdict)
        if crawl:
            self.recorder.cuts(url, visit.res, visit.parsed)
        final, parsed = visit.final, visit.parsed
        if parsed is None or visit.verdict.verdict != OK or not crawl or not self.scope.in_scope(final):
            return
        if final != url and not self.frontier.claim(final):
            return                                    # a redirect to a page crawled already
        text, parsed = await self.visitor.render_if_js_only(final, visit.text, parsed)
        self.recorder.page_links(final, parsed)
        if self.frontier.repeated_list_page(final, bytes.fromhex(visit.content_hash)):
            self.recorder.page(final, visit, parsed, depth, None)
            return
        extra = await self.recorder.run_hooks(final, text, parsed)
        listed = parsed.list_items > 0
        self.recorder.page(final, visit, parsed, depth, self._facts(visit, text, parsed))
        if not parsed.nofollow:
            self._follow(parsed.links, depth, final if listed else None)
        for u in extra:
            n = normalize(u, final)
            if n:
                self.frontier.add(n, depth if listed and is_pagination(final, n) else depth + 1, None)

    async def _reused(self, url: str, depth: int, stored: StoredPage, row: Any) -> Visit | None:
        """A page the last scan read: reused without a request (an article measured recently), or after a 304 or a
        200 with the stored body (None: done); else the visit that read it again."""
        cache = self.page_cache
        if cache.fresh(url, stored) and PageCache.is_leaf(row.facts):
            cache.stats.cached += 1
            self._reuse(url, depth, None, stored, "cached", row)
            return None
        visit = await self.visitor.visit(url, True, validators=cache.validators(url, stored),
                                         known_hash=stored.content_hash if cache.reuse else None)
        if visit.res.status == 304 and visit.final == url and visit.res.error is None:
            cache.stats.not_modified += 1
            self._reuse(url, depth, visit.res, stored, "not_modified", row)
            return None
        if visit.res.status == 304:          # after a redirect: not the stored page's answer, ask again
            return await self.visitor.visit(url, True)
        if visit.content_hash and visit.final == url and cache.full_answer(url, stored, visit.res, visit.content_hash):
            cache.stats.unchanged += 1
            self._reuse(url, depth, visit.res, stored, "unchanged", row)
            return None
        return visit

    def _facts(self, visit: Visit, text: str, parsed: ParsedPage) -> dict[str, Any] | None:
        """What a rescan that finds the page unchanged replays (stored with the page), or None when the page must
        be read again: a hook learnt from elsewhere than the page (``volatile``), a hook cannot replay, the page was
        rendered or cut. (The pages a hook announces are stored as links of some page: replayed with it.)"""
        if parsed.volatile or text is not visit.text or visit.res.truncated or parsed.skipped.get("link_cap") \
                or not self.recorder.hooks_replay:
            return None
        bad = {link.url: link.bad for link in parsed.links if link.bad}
        return {**parsed.facts, "page": {"list_items": parsed.list_items, "nofollow": parsed.nofollow, "bad": bad}}

    def _reuse(self, url: str, depth: int, res: FetchResult | None, stored: StoredPage, how: str, row: Any) -> None:
        """A page the source scan read and that did not change (``res``: the 304 or the 200 with the same body; None:
        not requested, measured recently): its target, page and link rows are recorded again from the store, its
        stored facts replayed to the page hooks, and its links followed as when it was read."""
        facts: dict[str, Any] = row.facts
        if res is None:
            assert stored.measured_at is not None       # a fresh page has a measurement time
            res = FetchResult(url=url, status=row.status, final_url=url)
            self.recorder.cached_target(CachedResult(url, "GET", row.status, "cached", "", url, [], 0,
                                                     stored.measured_at, stored.measured_scan), internal=True)
        else:
            source = self.page_cache.stats.source_scan
            self.recorder.target(url, True, res, Verdict(OK, how, f"unchanged since scan {source}"))
        links = self.page_cache.links(self.store, url)
        self.recorder.reused_page(url, row, res, depth, how, links)
        self.recorder.replay_hooks(url, facts)
        page = facts.get("page") or {}
        if not page.get("nofollow"):
            bad = page.get("bad") or {}
            self._follow([PageLink(t, tag, text, bad.get(t)) for t, tag, text in links], depth,
                         url if page.get("list_items") else None)

    def _follow(self, links: list[PageLink], depth: int, list_url: str | None = None) -> None:
        for link in self.frontier.follow(links, depth, list_url):
            self.recorder.bad_link(link)
