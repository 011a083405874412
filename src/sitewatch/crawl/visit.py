"""Fetch and judge one URL: the request (crawl/fetch.py), a retry past a web firewall's blip, the page parsed and
its verdict (crawl/verdict.py), and with ``render_js`` a JavaScript-only page rendered (crawl/render.py).

Nothing here writes to the store or queues a URL: a ``Visit`` says what was found, the crawler decides what to
record and follow.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sitewatch.config import SiteConfig
from sitewatch.crawl.coverage import Coverage
from sitewatch.crawl.fetch import MAX_BODY, PROBE_BODY, Fetcher, FetchResult
from sitewatch.crawl.stats import CrawlStats
from sitewatch.crawl.verdict import OK, SiteErrorPage, Verdict, judge
from sitewatch.encoding import decode_html
from sitewatch.extract import Link as PageLink
from sitewatch.extract import ParsedPage, css_links, parse_html, sitemap_links
from sitewatch.urls import Scope, directory_of, host_key, is_attachment, normalize

if TYPE_CHECKING:
    from sitewatch.crawl.render import Renderer

MAX_TAGS = 100_000           # tags parsed from one page (the rest is cut like a body over the cap: coverage body_cap)
WAF_BLIP_BYTES = 32         # a 200 HTML answer shorter than this is a firewall blip until a retry proves otherwise
WAF_RETRIES = 2


@dataclass
class Visit:
    """What one URL answered and what that means."""

    url: str
    final: str                         # the URL the answer came from (after redirects)
    res: FetchResult
    verdict: Verdict
    parsed: ParsedPage | None = None   # an HTML page answered 200, parsed
    text: str = ""                     # its decoded HTML
    encoding: str = ""
    resource_links: list[PageLink] = field(default_factory=list)   # links in a stylesheet or sitemap of the site
    content_hash: str = ""             # SHA-1 of the body of an HTML page answered 200
    unchanged: bool = False            # the body is the one ``known_hash`` names: not parsed (``parsed`` is None)


class Visitor:
    """Fetches a URL and judges the answer. ``is_form_target`` tells a form's action (a 405 to GET is no defect)."""

    def __init__(self, cfg: SiteConfig, fetcher: Fetcher, scope: Scope, is_form_target: Callable[[str], bool],
                 stats: CrawlStats, coverage: Coverage):
        self.start_urls = cfg.start_urls
        self.fetcher = fetcher
        self.scope = scope
        self.is_form_target = is_form_target
        self.stats = stats
        self.coverage = coverage
        self._error_pages: dict[str, SiteErrorPage | None] = {}
        # optional JavaScript rendering: None unless render_js (a ConfigError here when Playwright is missing)
        self.renderer: Renderer | None = None
        if cfg.render_js:
            from sitewatch.crawl.render import Renderer  # lazy: only render_js scans need it

            self.renderer = Renderer(cfg.timeout, user_agent=cfg.user_agent, verify_tls=cfg.verify_tls,
                                     policy=fetcher.policy, proxy=cfg.proxy,
                                     on_blocked=lambda u: coverage.cut("blocked", u))

    async def learn_error_pages(self) -> None:
        """Ask each start host for a random non-existent URL: a 200 answer is the site's soft-404 page."""
        for start in self.start_urls:
            probe = directory_of(start) + f"sitewatch-no-such-page-{secrets.token_hex(6)}.html"
            res = await self.fetcher.fetch(probe, body_limit=PROBE_BODY)
            ep = None
            if res.status == 200 and res.body:
                text, _ = decode_html(res.body, res.content_type)
                p = parse_html(text, res.final_url or probe)
                ep = SiteErrorPage(200, p.title, p.text_len)
            self._error_pages[host_key(start)] = ep

    async def visit(self, url: str, crawl: bool, *, validators: dict[str, str] | None = None,
                    known_hash: str | None = None) -> Visit:
        """Fetch ``url`` (whole when it is to be crawled, its start when only checked, its headers when an
        attachment) and judge the answer. ``validators``: conditional request headers (a 304 answer is returned
        as it is); ``known_hash``: the hash of the body stored for the page, which is then not parsed again."""
        res = await self.fetcher.fetch(url, head_first=not crawl and is_attachment(url), validators=validators,
                                       body_limit=0 if is_attachment(url) else (MAX_BODY if crawl else PROBE_BODY))
        final = res.final_url or url
        if res.error is None and res.status == 200 and res.body is not None and res.is_html:
            if crawl and len(res.body.strip()) < WAF_BLIP_BYTES:
                res = await self._retry_blip(url, res)
            digest = hashlib.sha1(res.body or b"").hexdigest() if crawl else ""
            if known_hash is not None and digest == known_hash and final == url and not res.truncated:
                return Visit(url, final, res, Verdict(OK), content_hash=digest, unchanged=True)
            text, encoding = decode_html(res.body or b"", res.content_type)
            if text.count("<") > MAX_TAGS:       # a tree of a million elements is hundreds of MB: read the start
                text, res.truncated = _first_tags(text, MAX_TAGS), True
            parsed = parse_html(text, final)
            verdict = judge(res, title=parsed.title, text_len=parsed.text_len, text_sample=parsed.text_sample,
                            refresh=parsed.refresh, error_page=self._error_pages.get(host_key(final)))
            return Visit(url, final, res, verdict, parsed, text, encoding, content_hash=digest)
        verdict = judge(res)
        visit = Visit(url, final, res, verdict)
        if res.status in (405, 501) and self.is_form_target(url):
            visit.verdict = Verdict(OK, "form_target", f"HTTP {res.status} to GET: a form endpoint that exists")
        elif crawl and res.error is None and res.status == 200 and res.body and self.scope.in_scope(final):
            visit.resource_links = _resource_links(final, res)
        return visit

    async def _retry_blip(self, url: str, res: FetchResult) -> FetchResult:
        """A near-empty 200 answer is often a web firewall blip: warm up on the start page, then try again."""
        for _ in range(WAF_RETRIES):
            await self.fetcher.fetch(self.start_urls[0], body_limit=PROBE_BODY)
            again = await self.fetcher.fetch(url)
            if again.error or again.status != 200 or len((again.body or b"").strip()) >= WAF_BLIP_BYTES:
                return again
            res = again
        return res

    async def render_if_js_only(self, url: str, text: str, parsed: ParsedPage) -> tuple[str, ParsedPage]:
        """render_js: a page that looks JS-only is re-rendered in Chromium; links, list engines and page checks
        then read the rendered DOM. A script redirect becomes a link to follow; a failed render keeps the
        static HTML."""
        if self.renderer is None:
            return text, parsed
        from sitewatch.crawl.render import looks_js_only

        if not looks_js_only(text, parsed):
            return text, parsed
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

    async def close(self) -> None:
        if self.renderer is not None:
            await self.renderer.close()


def _resource_links(url: str, res: FetchResult) -> list[PageLink]:
    """Links inside non-HTML resources of the site: stylesheets and sitemaps."""
    ct = res.content_type.lower()
    head = (res.body or b"")[:512].lower()
    if "css" in ct:
        return css_links((res.body or b"").decode("utf-8", "replace"), url)
    if "xml" in ct and (b"<urlset" in head or b"<sitemapindex" in head):
        return sitemap_links((res.body or b"").decode("utf-8", "replace"), url)
    return []


def _first_tags(text: str, n: int) -> str:
    """``text`` up to its ``n``-th ``<``."""
    pos = -1
    for _ in range(n):
        pos = text.find("<", pos + 1)
        if pos < 0:
            return text
    return text[:pos]
