"""The crawl loop: a frontier of URLs, workers that fetch them, pages parsed, links checked, rows stored."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sitewatch import memo
from sitewatch.config import SiteConfig
from sitewatch.crawl.coverage import Coverage
from sitewatch.crawl.fetch import MAX_BODY, PROBE_BODY, Fetcher, FetchResult
from sitewatch.crawl.netpolicy import BLOCKED_REASON, NetPolicy
from sitewatch.crawl.politeness import Politeness
from sitewatch.crawl.render import Renderer, looks_js_only
from sitewatch.crawl.verdict import BROKEN, OK, SiteErrorPage, Verdict, judge
from sitewatch.encoding import decode_html
from sitewatch.extract import FORM_TAGS, ParsedPage, css_links, parse_html, sitemap_links
from sitewatch.extract import Link as PageLink
from sitewatch.store import Link, Page, Store, Target
from sitewatch.urls import (
    Scope,
    TrapGuard,
    directory_of,
    host_key,
    is_attachment,
    is_list_page_url,
    is_pagination,
    normalize,
)

# fetch errors that leave a page of the site unread, maybe only for now (a redirect loop or a malformed URL is
# the page's own defect: reported as a broken link, not as a gap in coverage)
_UNREAD_ERRORS = frozenset({"timeout", "refused", "connect", "read", "dns", "tls"})
MAX_TAGS = 100_000           # tags parsed from one page (the rest is cut like a body over the cap: coverage body_cap)
WAF_BLIP_BYTES = 32         # a 200 HTML answer shorter than this is a firewall blip until a retry proves otherwise
WAF_RETRIES = 2
_LINK_COLUMNS = ("scan_id", "page_url", "target", "tag", "text")


@dataclass
class CrawlStats:
    pages: int = 0                 # HTML pages fetched and parsed
    checked: int = 0               # URLs checked (pages included)
    links: int = 0                 # link occurrences recorded
    broken: int = 0                # broken URLs
    skipped_robots: int = 0
    traps: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    seconds: float = 0.0
    limited: bool = False          # max_pages reached
    hook_errors: int = 0           # pages a list engine or page check could not read
    rendered: int = 0              # pages re-rendered in Chromium ([crawl] render_js, crawl/render.py)
    render_failed: int = 0         # pages whose rendering failed or timed out (their static HTML was used)
    coverage: dict[str, Any] = field(default_factory=dict)   # every cut of the work, by kind (crawl/coverage.py)

    def to_json(self) -> dict[str, Any]:
        d = dict(vars(self))
        d["pages_per_second"] = round(self.pages / self.seconds, 1) if self.seconds else None
        return d


def _env_proxied() -> bool:
    """Requests go through a proxy from the environment: the start host may not resolve here."""
    import urllib.request
    return any(k in ("http", "https", "all") for k in urllib.request.getproxies())


PageHook = Callable[[str, str, ParsedPage, int], Awaitable[list[str] | None]]


class Crawler:
    """Crawls one site into the store. ``page_hooks`` see every parsed in-scope page (list engines, checks)
    and may return extra URLs of the site to crawl (e.g. pages of a JavaScript pager)."""

    def __init__(self, cfg: SiteConfig, store: Store, scan_id: int,
                 progress: Callable[[CrawlStats, int], None] | None = None,
                 page_hooks: list[PageHook] | None = None):
        self.cfg = cfg
        self.store = store
        self.scan_id = scan_id
        self.scope = Scope.for_start_urls(cfg.start_urls, cfg.prefixes, cfg.extra_hosts, cfg.excludes)
        self.traps = TrapGuard(max_query_variants=cfg.max_query_variants)
        self.politeness = Politeness(cfg.concurrency, cfg.rate, user_agent="sitewatch", obey_robots=cfg.obey_robots)
        self.fetcher = Fetcher(self.politeness, timeout=cfg.timeout, retries=cfg.retries,
                               user_agent=cfg.user_agent, verify_tls=cfg.verify_tls, proxy=cfg.proxy,
                               ca_bundle=cfg.ca_bundle, policy=NetPolicy.for_site(
                                   cfg.start_urls, cfg.network_allow, resolve=not (cfg.proxy or _env_proxied())))
        self.stats = CrawlStats()
        self.coverage = Coverage()
        self.progress = progress
        self.page_hooks = page_hooks or []
        self._seen: set[bytes] = set()
        # shallowest first (then first come): a URL is first found by its shortest path, so a chain of
        # 上一篇/下一篇 links cannot run ahead of the column lists and take their articles past max_depth; and the
        # homepage and column lists are read before the articles (an interrupted scan has judged every column)
        self._queue: asyncio.PriorityQueue[tuple[int, int, str, bool]] = asyncio.PriorityQueue()
        self._order = 0
        self._too_deep: set[bytes] = set()           # URLs only checked because the path that found them was too long
        self._error_pages: dict[str, SiteErrorPage | None] = {}
        self._crawl_budget = cfg.max_pages
        self._form_targets: set[bytes] = set()
        self._list_bodies: set[bytes] = set()      # digests of later list pages (index_N, ?page=N) read so far
        self.store_error: Exception | None = None   # the first failed store write: it ends the crawl (run raises it)
        self._store_failed = asyncio.Event()
        # optional JavaScript rendering: None unless render_js (a ConfigError here when Playwright is missing)
        self.renderer = Renderer(cfg.timeout, user_agent=cfg.user_agent, verify_tls=cfg.verify_tls,
                                 policy=self.fetcher.policy, proxy=cfg.proxy,
                                 on_blocked=lambda u: self.coverage.cut("blocked", u)) if cfg.render_js else None

    @staticmethod
    def _key(url: str) -> bytes:
        return hashlib.blake2b(url.encode(), digest_size=8).digest()

    def _enqueue(self, url: str, depth: int, crawl: bool | None) -> None:
        """Queue ``url`` once per scan; ``crawl=None`` means crawl it if it is in scope."""
        k = self._key(url)
        if k in self._seen:
            if k not in self._too_deep or depth > self.cfg.max_depth:
                return
            self._too_deep.discard(k)                  # a shorter path came after all: crawl it
            self.coverage.uncut("max_depth", url)
        self._seen.add(k)
        if crawl is None:
            crawl = self.scope.in_scope(url)
        if crawl:
            if is_attachment(url):
                crawl = False
            elif depth > self.cfg.max_depth:
                crawl = False
                self._too_deep.add(k)
                self.coverage.cut("max_depth", url)
            else:
                trap = self.traps.admit(url)
                if trap:
                    self.stats.traps[trap] = self.stats.traps.get(trap, 0) + 1
                    self.coverage.cut("trap", f"{trap}: {url}")
                    crawl = False
                    if trap not in ("query_variants", "list_pages"):
                        return
                elif self._crawl_budget <= 0:
                    self.stats.limited = True
                    self.coverage.cut("max_pages", url)
                    crawl = False
                else:
                    self._crawl_budget -= 1
        self._order += 1
        self._queue.put_nowait((depth, self._order, url, crawl))

    def seed(self, urls: list[tuple[str, int, bool]], seen: Iterable[str] = ()) -> None:
        """Prime the frontier (resume): already-done URLs go into the seen set, pending ones into the queue."""
        for u in seen:
            self._seen.add(self._key(u))
        for url, depth, crawl in urls:
            self._enqueue(url, depth, crawl and self.scope.in_scope(url))

    async def run(self, resume: bool = False) -> CrawlStats:
        started = time.monotonic()
        if not resume:
            for u in self.cfg.start_urls:
                self._enqueue(u, 0, True)
        try:
            await self._learn_error_pages()
            n_workers = min(128, max(16, self.cfg.concurrency * 8))
            workers = [asyncio.create_task(self._worker()) for _ in range(n_workers)]
            ticker = asyncio.create_task(self._tick()) if self.progress else None
            # the queue is done, or a store write failed: then the URLs in flight are dropped (their rows were
            # never stored, so a resume fetches them again) and the error ends the crawl
            ends = [asyncio.create_task(self._queue.join()), asyncio.create_task(self._store_failed.wait())]
            try:
                await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (*ends, *workers, *([ticker] if ticker else [])):
                    task.cancel()
                await asyncio.gather(*ends, *workers, return_exceptions=True)
        finally:
            self.stats.coverage = self.coverage.to_json()
            self.stats.requests = self.fetcher.requests
            self.stats.seconds = time.monotonic() - started
            await self.fetcher.aclose()
            if self.renderer is not None:
                await self.renderer.close()
            if self.store_error is None:
                self.store.flush()
            else:
                self.store.discard()
            memo.clear()
        if self.store_error is not None:
            raise self.store_error
        return self.stats

    async def _tick(self) -> None:
        assert self.progress is not None               # started only with a progress callback
        while True:
            await asyncio.sleep(0.5)
            self.progress(self.stats, self._queue.qsize())

    async def _learn_error_pages(self) -> None:
        """Ask each start host for a random non-existent URL: a 200 answer is the site's soft-404 page."""
        for start in self.cfg.start_urls:
            probe = directory_of(start) + f"sitewatch-no-such-page-{secrets.token_hex(6)}.html"
            res = await self.fetcher.fetch(probe, body_limit=PROBE_BODY)
            ep = None
            if res.status == 200 and res.body:
                text, _ = decode_html(res.body, res.content_type)
                p = parse_html(text, res.final_url or probe)
                ep = SiteErrorPage(200, p.title, p.text_len)
            self._error_pages[host_key(start)] = ep

    async def _worker(self) -> None:
        while True:
            depth, _, url, crawl = await self._queue.get()
            try:
                with self.store.unit():      # a URL's rows, its page hooks' included, are stored all or none
                    try:
                        await self._process(url, depth, crawl)
                    except Exception as exc:  # noqa: BLE001 - one bad URL must not stop the scan
                        self.store.add(Target, scan_id=self.scan_id, url=url, internal=crawl, method="GET",
                                       status=None, verdict="error", reason="internal_error",
                                       detail=f"{type(exc).__name__}: {exc}"[:500], final_url=url, chain=[],
                                       elapsed_ms=0)
            finally:
                try:
                    if self.store_error is None:
                        self.store.maybe_flush()
                except Exception as exc:  # noqa: BLE001 - a database error ends the crawl (see run)
                    self.store_error = exc
                    self._store_failed.set()
                finally:
                    self._queue.task_done()

    async def _process(self, url: str, depth: int, crawl: bool) -> None:
        res = await self.fetcher.fetch(url, head_first=not crawl and is_attachment(url),
                                       body_limit=0 if is_attachment(url) else (MAX_BODY if crawl else PROBE_BODY))
        verdict = Verdict(OK)
        parsed: ParsedPage | None = None
        text = ""
        encoding = ""
        final = res.final_url or url
        if res.error is None and res.status == 200 and res.body is not None and res.is_html:
            if crawl and len(res.body.strip()) < WAF_BLIP_BYTES:
                res = await self._retry_blip(url, res)
            text, encoding = decode_html(res.body or b"", res.content_type)
            if text.count("<") > MAX_TAGS:       # a tree of a million elements is hundreds of MB: read the start
                text, res.truncated = _first_tags(text, MAX_TAGS), True
            parsed = parse_html(text, final)
            verdict = judge(res, title=parsed.title, text_len=parsed.text_len, text_sample=parsed.text_sample,
                            refresh=parsed.refresh, error_page=self._error_pages.get(host_key(final)))
        else:
            verdict = judge(res)
            if res.status in (405, 501) and self._key(url) in self._form_targets:
                verdict = Verdict(OK, "form_target", f"HTTP {res.status} to GET: a form endpoint that exists")
            elif crawl and res.error is None and res.status == 200 and res.body and self.scope.in_scope(final):
                self._follow_resource(final, res, depth)
        self._record_target(url, crawl, res, verdict)
        if crawl:
            self._count_cuts(url, res, parsed)
        if parsed is None or verdict.verdict != OK or not crawl or not self.scope.in_scope(final):
            return
        if final != url:
            k = self._key(final)
            if k in self._seen:
                return
            self._seen.add(k)
        if self.renderer is not None:
            text, parsed = await self._render_if_js_only(final, text, parsed)
        self._record_page(final, res, parsed, text, encoding, depth)
        if self._repeated_list_page(final, res.body or b""):
            return
        extra: list[str] = []
        # a page over the link cap (a generated link dump, a hostile page) is no column or article: its links are
        # checked, but list engines and page checks, which would hold a copy of its huge tree each, skip it
        for hook in self.page_hooks if not parsed.skipped.get("link_cap") else ():
            try:
                extra.extend(await hook(final, text, parsed, self.scan_id) or ())
            except Exception as exc:  # noqa: BLE001 - a page an analyser cannot read must not stop the crawl
                self.stats.hook_errors += 1
                self.coverage.cut("analysis_error", final)
                self.store.add(Target, scan_id=self.scan_id, url=final, internal=True, method="GET", status=None,
                               verdict="error", reason="analysis_error",
                               detail=f"{type(hook).__name__}: {type(exc).__name__}: {exc}"[:500],
                               final_url=final, chain=[], elapsed_ms=0)
        listed = parsed.list_items > 0
        if not parsed.nofollow:
            self._follow(parsed.links, depth, final if listed else None)
        for u in extra:
            n = normalize(u, final)
            if n:
                self._enqueue(n, depth if listed and is_pagination(final, n) else depth + 1, None)

    async def _render_if_js_only(self, url: str, text: str, parsed: ParsedPage) -> tuple[str, ParsedPage]:
        """render_js: a page that looks JS-only is re-rendered in Chromium; links, list engines and page checks
        then read the rendered DOM. A script redirect becomes a link to follow; a failed render keeps the
        static HTML."""
        if not looks_js_only(text, parsed):
            return text, parsed
        assert self.renderer is not None               # called only with render_js on
        rendered = await self.renderer.render(url)
        if rendered is None:
            self.stats.render_failed += 1
            self.coverage.cut("render_failed", url)
            return text, parsed
        self.stats.rendered += 1
        moved = normalize(rendered.url)
        if moved and moved != url:
            parsed.links.append(PageLink(moved, "js-redirect", ""))
            return text, parsed
        return rendered.html, parse_html(rendered.html, url)

    def _follow_resource(self, url: str, res: FetchResult, depth: int) -> None:
        """Links inside non-HTML resources of the site: stylesheets and sitemaps."""
        ct = res.content_type.lower()
        head = (res.body or b"")[:512].lower()
        if "css" in ct:
            links = css_links((res.body or b"").decode("utf-8", "replace"), url)
        elif "xml" in ct and (b"<urlset" in head or b"<sitemapindex" in head):
            links = sitemap_links((res.body or b"").decode("utf-8", "replace"), url)
        else:
            return
        for link in links:
            self.store.add(Link, scan_id=self.scan_id, page_url=url, target=link.url, tag=link.tag, text="")
        self._follow(links, depth)

    def _follow(self, links: list[PageLink], depth: int, list_url: str | None = None) -> None:
        """Queue a page's links one click deeper. On a list page whose items were read (``list_url``), another
        page of the same list (下一页, index_N, ?page=N) is no deeper than the page that links to it; an empty
        pager (a search that answers every page number) gets no such pass."""
        for link in links:
            if link.bad:
                self._record_bad(link)
            elif link.tag in FORM_TAGS:
                self._form_targets.add(self._key(link.url))
                self._enqueue(link.url, depth + 1, False)
            else:
                paged = list_url is not None and is_pagination(list_url, link.url, link.text)
                self._enqueue(link.url, depth if paged else depth + 1, None)

    def _repeated_list_page(self, url: str, body: bytes) -> bool:
        """A later list page byte-identical to one already read (a pager that answers every page number with the
        same page): its links are not followed again, so an endless 下一页 chain ends here (counted as a trap)."""
        if not is_list_page_url(url):
            return False
        digest = hashlib.blake2b(body, digest_size=8).digest()
        if digest not in self._list_bodies:
            self._list_bodies.add(digest)
            return False
        self.stats.traps["repeated_list_page"] = self.stats.traps.get("repeated_list_page", 0) + 1
        self.coverage.cut("trap", f"repeated_list_page: {url}")
        return True

    def _count_cuts(self, url: str, res: FetchResult, parsed: ParsedPage | None) -> None:
        """Ledger entries for a page of the site that was not read whole (failures, the body cap)."""
        if res.error in ("robots", BLOCKED_REASON):      # counted by _record_target
            return
        if url in self.cfg.start_urls and parsed is None:
            self.coverage.cut("unreachable_start", url)
            return
        if res.error in _UNREAD_ERRORS or (res.error is None and (res.status or 0) >= 500):
            self.coverage.cut("fetch_failed", url)
        elif res.truncated and parsed is not None:
            self.coverage.cut("body_cap", url)
        if parsed is not None and parsed.skipped.get("link_cap"):
            self.coverage.cut("link_cap", url, parsed.skipped["link_cap"])

    def _record_bad(self, link: PageLink) -> None:
        """A link broken as written (file: path, malformed URL): reported without any request."""
        k = self._key(link.url)
        if k in self._seen:
            return
        self._seen.add(k)
        assert link.bad is not None                    # called for links broken as written only
        detail = {"file_scheme": "file: link to a local disk, unreachable for visitors",
                  "invalid_url": "malformed URL"}[link.bad]
        self._record_target(link.url, False, FetchResult(url=link.url, final_url=link.url, error=link.bad),
                            Verdict(BROKEN, link.bad, detail))

    async def _retry_blip(self, url: str, res: FetchResult) -> FetchResult:
        """A near-empty 200 answer is often a web firewall blip: warm up on the start page, then try again."""
        for _ in range(WAF_RETRIES):
            await self.fetcher.fetch(self.cfg.start_urls[0], body_limit=PROBE_BODY)
            again = await self.fetcher.fetch(url)
            if again.error or again.status != 200 or len((again.body or b"").strip()) >= WAF_BLIP_BYTES:
                return again
            res = again
        return res

    def _record_target(self, url: str, crawl: bool, res: FetchResult, verdict: Verdict) -> None:
        self.stats.checked += 1
        if verdict.verdict == BROKEN:
            self.stats.broken += 1
        elif verdict.reason == "robots":
            self.stats.skipped_robots += 1
            self.coverage.cut("robots", url)
        elif verdict.reason == BLOCKED_REASON:
            self.coverage.cut("blocked", url)
        self.store.add(Target, scan_id=self.scan_id, url=url, internal=crawl, method=res.method, status=res.status,
                       verdict=verdict.verdict, reason=verdict.reason, detail=verdict.detail[:500],
                       final_url=res.final_url or url, chain=[list(h) for h in res.chain],
                       elapsed_ms=int(res.elapsed * 1000))

    def _record_page(self, url: str, res: FetchResult, parsed: ParsedPage, text: str, encoding: str,
                     depth: int) -> None:
        self.stats.pages += 1
        self.stats.links += len(parsed.links)
        body = res.body or b""
        self.store.add(Page, scan_id=self.scan_id, url=url, status=res.status, title=parsed.title, encoding=encoding,
                       content_type=res.content_type[:100], elapsed_ms=int(res.elapsed * 1000), size=len(body),
                       depth=depth, content_hash=hashlib.sha1(body).hexdigest(), pub_date=None, meta=parsed.meta)
        sid = self.scan_id
        self.store.add_rows(Link, _LINK_COLUMNS, [(sid, url, link.url, link.tag, link.text) for link in parsed.links])


def _first_tags(text: str, n: int) -> str:
    """``text`` up to its ``n``-th ``<``."""
    pos = -1
    for _ in range(n):
        pos = text.find("<", pos + 1)
        if pos < 0:
            return text
    return text[:pos]
