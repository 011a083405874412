"""The crawl frontier: which URLs are visited, in what order, and which are only checked.

Every URL is queued once per scan (dedup by a short digest), shallowest first. A URL in scope is crawled (its
page read and its links followed) unless it is an attachment, too deep, a crawler trap or past ``max_pages``;
every other URL is only checked. Each URL kept from the crawl is counted in the coverage ledger.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable

from sitewatch.crawl.coverage import Coverage
from sitewatch.crawl.stats import CrawlStats
from sitewatch.extract import FORM_TAGS
from sitewatch.extract import Link as PageLink
from sitewatch.urls import Scope, TrapGuard, is_attachment, is_list_page_url, is_pagination

# an entry of the queue: (depth, order of arrival, url, crawl it or only check it)
Entry = tuple[int, int, str, bool]


def url_key(url: str) -> bytes:
    """The digest a URL is known by in the seen sets (8 bytes instead of the URL)."""
    return hashlib.blake2b(url.encode(), digest_size=8).digest()


class CrawlFrontier:
    """The queue of URLs to visit and the memory of every URL met so far."""

    def __init__(self, scope: Scope, traps: TrapGuard, max_depth: int, max_pages: int, stats: CrawlStats,
                 coverage: Coverage):
        self.scope = scope
        self.traps = traps
        self.max_depth = max_depth
        self.budget = max_pages                 # pages still to crawl (max_pages less those queued to crawl)
        self.stats = stats
        self.coverage = coverage
        self._seen: set[bytes] = set()
        # shallowest first (then first come): a URL is first found by its shortest path, so a chain of
        # 上一篇/下一篇 links cannot run ahead of the column lists and take their articles past max_depth; and the
        # homepage and column lists are read before the articles (an interrupted scan has judged every column)
        self._queue: asyncio.PriorityQueue[Entry] = asyncio.PriorityQueue()
        self._order = 0
        self._too_deep: set[bytes] = set()      # URLs only checked because the path that found them was too long
        self._form_targets: set[bytes] = set()
        self._list_bodies: set[bytes] = set()   # digests of later list pages (index_N, ?page=N) read so far

    # --- the queue ------------------------------------------------------------------------------------------

    def add(self, url: str, depth: int, crawl: bool | None) -> None:
        """Queue ``url`` once per scan; ``crawl=None`` means crawl it if it is in scope."""
        k = url_key(url)
        if k in self._seen:
            if k not in self._too_deep or depth > self.max_depth:
                return
            self._too_deep.discard(k)                  # a shorter path came after all: crawl it
            self.coverage.uncut("max_depth", url)
        self._seen.add(k)
        if crawl is None:
            crawl = self.scope.in_scope(url)
        if crawl:
            if is_attachment(url):
                crawl = False
            elif depth > self.max_depth:
                crawl = False
                self._too_deep.add(k)
                self.coverage.cut("max_depth", url)
            else:
                trap = self.traps.admit(url)
                if trap:
                    self.stats.trap(trap)
                    self.coverage.cut("trap", f"{trap}: {url}")
                    crawl = False
                    if trap not in ("query_variants", "list_pages"):
                        return
                elif self.budget <= 0:
                    self.stats.limited = True
                    self.coverage.cut("max_pages", url)
                    crawl = False
                else:
                    self.budget -= 1
        self._order += 1
        self._queue.put_nowait((depth, self._order, url, crawl))

    def seed(self, urls: list[tuple[str, int, bool]], seen: Iterable[str] = ()) -> None:
        """Prime the frontier (resume): already-done URLs go into the seen set, pending ones into the queue."""
        for u in seen:
            self._seen.add(url_key(u))
        for url, depth, crawl in urls:
            self.add(url, depth, crawl and self.scope.in_scope(url))

    async def get(self) -> Entry:
        return await self._queue.get()

    def task_done(self) -> None:
        self._queue.task_done()

    async def join(self) -> None:
        """Wait until every queued URL was taken and done."""
        await self._queue.join()

    def qsize(self) -> int:
        return self._queue.qsize()

    # --- what a visited page adds ---------------------------------------------------------------------------

    def follow(self, links: list[PageLink], depth: int, list_url: str | None = None) -> list[PageLink]:
        """Queue a page's links one click deeper. On a list page whose items were read (``list_url``), another
        page of the same list (下一页, index_N, ?page=N) is no deeper than the page that links to it; an empty
        pager (a search that answers every page number) gets no such pass. Returns the links broken as written
        (file: path, malformed URL) met for the first time: they are reported without any request."""
        bad: list[PageLink] = []
        for link in links:
            if link.bad:
                if self.claim(link.url):
                    bad.append(link)
            elif link.tag in FORM_TAGS:
                self.mark_form_target(link.url)
                self.add(link.url, depth + 1, False)
            else:
                paged = list_url is not None and is_pagination(list_url, link.url, link.text)
                self.add(link.url, depth if paged else depth + 1, None)
        return bad

    def claim(self, url: str) -> bool:
        """Mark ``url`` as met (a redirect's target, a link broken as written); False when it was already."""
        k = url_key(url)
        if k in self._seen:
            return False
        self._seen.add(k)
        return True

    def mark_form_target(self, url: str) -> None:
        """``url`` is the action of a form: a 405 or 501 to a GET request is the form endpoint existing."""
        self._form_targets.add(url_key(url))

    def is_form_target(self, url: str) -> bool:
        return url_key(url) in self._form_targets

    def repeated_list_page(self, url: str, body: bytes) -> bool:
        """A later list page byte-identical to one already read (a pager that answers every page number with the
        same page): its links are not followed again, so an endless 下一页 chain ends here (counted as a trap)."""
        if not is_list_page_url(url):
            return False
        digest = hashlib.blake2b(body, digest_size=8).digest()
        if digest not in self._list_bodies:
            self._list_bodies.add(digest)
            return False
        self.stats.trap("repeated_list_page")
        self.coverage.cut("trap", f"repeated_list_page: {url}")
        return True
