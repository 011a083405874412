"""The crawl frontier: which URLs are visited, in what order, and which are only checked.

Every URL is queued once per scan (dedup by a short digest). A URL in scope is crawled (its page read and its
links followed) unless it is an attachment, too deep, a crawler trap or past ``max_pages``; every other URL is
only checked. Each URL kept from the crawl is counted in the coverage ledger.

The order finds changes first (``tier_of``): the start URLs, then the columns' first pages, then the later pages of
lists (index_N, ?page=N, 下一页), then everything else (articles, attachments, the links only checked); shallowest
first within each. The ``max_pages`` budget is spent as URLs are taken from the queue, in that order: a scan cut
short by the budget or by a stop has read the homepage and every column's first page it found before any article.

A URL's depth is the length of the path that found it first. Within a tier that is its shortest path, as in a
shallowest-first crawl; across tiers it can be longer: a column reached through the navigation (政务公开 ›
法定主动公开内容 › 部门预算: depth 3) before the homepage article whose breadcrumb links it (depth 2) is read at
depth 3, and its articles at 4. That URL itself is still crawled whenever a path within ``max_depth`` reaches it
(``_too_deep``), but with a ``max_depth`` as small as the site is deep, a page below such a column can be cut as
too deep (and counted) where a shallowest-first crawl would have read it. No portal is as deep as the default (30).
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import re
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from sitewatch.crawl.coverage import Coverage
from sitewatch.crawl.stats import CrawlStats
from sitewatch.extract import FORM_TAGS
from sitewatch.extract import Link as PageLink
from sitewatch.urls import (
    Scope,
    TrapGuard,
    is_attachment,
    is_column_url,
    is_list_page_url,
    is_paged_url,
    is_pagination,
)

# what the crawler takes from the queue: (depth, order of arrival, url, crawl it or only check it)
Entry = tuple[int, int, str, bool]
# an entry of the queue: the same behind its tier (tier_of)
Queued = tuple[int, int, int, str, bool]

START, COLUMN, LIST_PAGE, OTHER = range(4)       # the tiers, first taken first
HOLD = 5.0       # seconds at most the later tiers wait for a start or column page being read (see get)

# the "更多" link of a homepage block leads to the block's column, whatever its URL looks like
_MORE = re.compile(r"^[\s+>»›\[【(（]*(?:(?:点击)?查看)?更多(?:信息|内容|新闻|动态|资讯)?[\s>»›\]】)）.。…]*$"
                   r"|^\s*more\s*[>»]*\s*$", re.I)


def url_key(url: str) -> bytes:
    """The digest a URL is known by in the seen sets (8 bytes instead of the URL)."""
    return hashlib.blake2b(url.encode(), digest_size=8).digest()


def tier_of(url: str, depth: int, crawl: bool, paged: bool = False, text: str = "") -> int:
    """Where a queued URL stands in the order (``START`` first, ``OTHER`` last).

    * ``START``: a start URL (depth 0; a later page of its list is a ``LIST_PAGE``).
    * ``COLUMN``: a column's first page, by its URL: a folder (``/zwgk/tzgg/``) or an index page (``index.html``,
      ``default.aspx``, Hanweb ``/col/col123/index.html``, gkmlpt ``index``) without a query, as every platform
      of the portals (TRS, Hanweb, NFCMS) publishes its columns, while articles are files named after their date
      or id (``t20250321_97999.htm``, ``art_1_2.html``, ``post_123.html``); or any link reading "更多" (a
      homepage block's way to its column, e.g. ``list.jsp?cat_id=12``).
    * ``LIST_PAGE``: a later page of a list: linked as such from a list page (``paged``: 下一页, index_N,
      ?page=N; ``is_pagination``) or shaped so (``index_3.html``, a page-number parameter).
    * ``OTHER``: the rest (articles, stylesheets) and every URL only checked (attachments, external links).

    A wrong guess costs order only: a whole scan reads the same pages. A site whose articles are folders
    (``/2025/03/title/``) has them read with its columns, shallowest first, as before.
    """
    if not crawl:
        return OTHER
    if paged or is_paged_url(url):
        return LIST_PAGE
    if depth == 0:
        return START
    if is_column_url(url) or (text and _MORE.match(text)):
        return COLUMN
    return OTHER


class CrawlFrontier:
    """The queue of URLs to visit and the memory of every URL met so far."""

    def __init__(self, scope: Scope, traps: TrapGuard, max_depth: int, max_pages: int, stats: CrawlStats,
                 coverage: Coverage):
        self.scope = scope
        self.traps = traps
        self.max_depth = max_depth
        self.budget = max_pages                 # pages still to crawl (max_pages less those taken to crawl)
        self.stats = stats
        self.coverage = coverage
        self._seen: set[bytes] = set()
        # by tier, then shallowest first (then first come). Within a tier a URL is first found by its shortest
        # path, so a chain of 上一篇/下一篇 links cannot run ahead of the column lists and take their articles past
        # max_depth; a page first found deeper than max_depth and later by a shorter path is crawled (_too_deep)
        self._heap: list[Queued] = []
        self._order = 0
        self._getters: deque[asyncio.Future[None]] = deque()   # workers waiting for an entry they may take
        self._unfinished = 0                   # entries queued and not yet done
        self._all_done = asyncio.Event()
        self._all_done.set()
        self._leading: dict[asyncio.Task[Any], float] = {}    # workers reading a start or column page: since
        self._too_deep: set[bytes] = set()      # URLs only checked because the path that found them was too long
        self._form_targets: set[bytes] = set()
        self._list_bodies: set[bytes] = set()   # digests of later list pages (index_N, ?page=N) read so far

    # --- the queue ------------------------------------------------------------------------------------------

    def add(self, url: str, depth: int, crawl: bool | None, *, paged: bool = False, text: str = "") -> None:
        """Queue ``url`` once per scan; ``crawl=None`` means crawl it if it is in scope. ``paged``: a page of the
        list on the page that links to it; ``text``: the link's text (both for ``tier_of``)."""
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
        self._order += 1
        heapq.heappush(self._heap, (tier_of(url, depth, crawl, paged, text), depth, self._order, url, crawl))
        self._unfinished += 1
        self._all_done.clear()
        self._wake(1)

    def seed(self, urls: list[tuple[str, int, bool]], seen: Iterable[str] = ()) -> None:
        """Prime the frontier (resume): already-done URLs go into the seen set, pending ones into the queue."""
        for u in seen:
            self._seen.add(url_key(u))
        for url, depth, crawl in urls:
            self.add(url, depth, crawl and self.scope.in_scope(url))

    async def get(self) -> Entry:
        """The next URL in the order, for the calling worker, which calls ``task_done`` when it is done with it.

        While a worker reads a start or column page, which may lead to more columns, the later tiers wait: the
        other workers take only start and column pages, or wait (otherwise the idle workers would take articles
        a moment before the columns that page links to are queued). They wait ``HOLD`` seconds at most after the
        latest such page was taken: a column page that does not answer holds up nothing beyond that. The
        ``max_pages`` budget is spent here, on the URLs taken to be crawled, so it goes to the first tiers: past
        it a URL is only checked (counted as cut)."""
        while not self._may_take():
            waiter = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            left = self._hold_left()
            try:
                await asyncio.wait((waiter,), timeout=left if left > 0 else None)
            except asyncio.CancelledError:
                if waiter.done() and self._may_take():
                    self._wake(1)                       # it was woken for an entry: pass that on
                raise
            finally:
                if not waiter.done():                   # the hold ran out (or the worker was cancelled)
                    self._getters.remove(waiter)
                    waiter.cancel()
        tier, depth, order, url, crawl = heapq.heappop(self._heap)
        if crawl:
            if self.budget > 0:
                self.budget -= 1
                if tier <= COLUMN:
                    task = asyncio.current_task()
                    if task is not None:
                        self._leading[task] = time.monotonic()
            else:
                self.stats.limited = True
                self.coverage.cut("max_pages", url)
                crawl = False
        self._wake(1)
        return depth, order, url, crawl

    def task_done(self) -> None:
        """The calling worker is done with the entry it took last."""
        if self._unfinished <= 0:
            raise ValueError("task_done() called more times than entries were queued")
        self._unfinished -= 1
        if self._unfinished == 0:
            self._all_done.set()
        task = asyncio.current_task()
        if task is not None and self._leading.pop(task, None) is not None and self._hold_left() <= 0:
            self._wake(len(self._heap))

    async def join(self) -> None:
        """Wait until every queued URL was taken and done."""
        await self._all_done.wait()

    def qsize(self) -> int:
        return len(self._heap)

    def _may_take(self) -> bool:
        return bool(self._heap) and (self._heap[0][0] <= COLUMN or self._hold_left() <= 0)

    def _hold_left(self) -> float:
        """Seconds the later tiers still wait for the start and column pages being read (0 or less: none)."""
        return max(self._leading.values()) + HOLD - time.monotonic() if self._leading else 0.0

    def _wake(self, n: int) -> None:
        """Wake up to ``n`` waiting workers when there is an entry they may take."""
        while n > 0 and self._getters and self._may_take():
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                n -= 1

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
                # the list's own first page under its other name (a pager's 首页 index.html on /gzdt/) is one of
                # the list's pages, not another column
                same_list = paged or (list_url is not None and is_column_url(link.url)
                                      and link.url.rsplit("/", 1)[0] == list_url.rsplit("/", 1)[0])
                self.add(link.url, depth if paged else depth + 1, None, paged=same_list, text=link.text)
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
