"""Optional JavaScript rendering: pages that a plain fetch shows empty are re-rendered in headless Chromium.

Used only when a site config says ``[crawl] render_js = true`` (or ``scan --render-js``), and then only for
the pages ``looks_js_only`` picks, so a scan stays as fast as a plain crawl on static pages. See
docs/rendering.md for the heuristic, the browser set-up and the costs.

Playwright (the ``render`` extra) drives a Chromium installed by the system package manager
(``/usr/bin/chromium`` by default, ``SITEWATCH_CHROMIUM`` to point elsewhere): Playwright's own browser
download is never used. Playwright is imported lazily, so the rest of sitewatch never needs it.

The browser obeys the scan's network settings: it is launched with the scan's proxy (``[network] proxy``, else
the environment's, with ``NO_PROXY`` as its bypass list), and every request it makes is routed through
sitewatch, which checks each hop (redirects included) against the network policy and refuses internal addresses
before anything is sent.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import shutil
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from sitewatch.addresses import parse_ip
from sitewatch.crawl.fetch import MAX_REDIRECTS, proxy_for
from sitewatch.crawl.netpolicy import NetPolicy, _resolve_quietly
from sitewatch.errors import ConfigError
from sitewatch.extract import ParsedPage

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ENV = "SITEWATCH_CHROMIUM"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
INSTALL_HINT = ('install the extra with pip install "sitewatch[render]" and Debian\'s chromium '
                "(apt-get install chromium)")

POOL_SIZE = 2              # pages rendered at once (one browser, one context)
SETTLE_MAX = 3.0           # after "load", wait at most this long for the network to go idle (500 ms quiet)
RECYCLE_AFTER = 200        # a fresh browser context after this many pages keeps memory bounded
BLOCKED_RESOURCES = frozenset({"image", "media", "font"})   # never needed to build the DOM
HOST_CHECK_TTL = 30.0      # seconds a host's policy verdict (after a lookup) is reused by the browser's requests
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# what a navigation that redirects answers instead: a move to the target, which is then routed (and checked) itself
_MOVE = '<!DOCTYPE html><meta http-equiv="refresh" content="0;url={0}"><a href="{0}">moved</a>'

# --- the heuristic: which fetched pages "look JS-only" ---------------------------------------------------
MIN_TEXT = 200             # visible body text shorter than this ...
MIN_ANCHORS = 5            # ... with fewer <a> links than this is an empty shell
_SCRIPT = re.compile(r"<script\b", re.I)
# client-side templates whose rows exist only after a framework ran (avalon ms-for, Vue v-for, Angular ...)
_TEMPLATE = re.compile(r"\b(?:ms-(?:controller|for|repeat|each)|v-for|ng-repeat|x-for)\s*="
                       r"|\{\{\s*[\w$.\[\]'\"]+\s*\}\}", re.I)
# a known app shell: a config object for a front-end bundle, or a mount point <div id="app">
_SHELL = re.compile(r"window\._CONFIG\b|<div\b[^>]*\bid\s*=\s*[\"']?(?:app|root)\b", re.I)
# an empty list element, and a script that writes into the document
_EMPTY_LIST = re.compile(r"<(ul|ol|tbody|dl)\b[^>]*>\s*</\1>", re.I)
_DOM_WRITE = re.compile(r"\.innerHTML\s*[+]?=|\.(?:appendChild|insertAdjacentHTML|append|prepend|html)\s*\(|"
                        r"document\.write(?:ln)?\s*\(|\$\.(?:ajax|get|getJSON|post)\s*\(|\bfetch\s*\(|"
                        r"XMLHttpRequest")


def looks_js_only(text: str, parsed: ParsedPage) -> str | None:
    """Why a fetched page needs a browser to show its content, or None. Cheap: a few regex searches.

    A page without any ``<script>`` never does. A page with scripts does when
      * ``empty``: its visible body text is under MIN_TEXT characters and it has under MIN_ANCHORS ``<a>`` links;
      * ``template``: it carries client-side template bindings (``ms-for=``, ``v-for=``, ``{{ item.title }}`` ...);
      * ``shell``: it is a known app shell (``window._CONFIG``, ``<div id="app">``) with little text
        (under 4 x MIN_TEXT characters);
      * ``script_list``: it has an empty ``<ul>/<ol>/<tbody>/<dl>`` and a script that writes into the
        document (``innerHTML =``, ``appendChild(``, ``$.ajax(``, ``fetch(`` ...).
    """
    if not _SCRIPT.search(text):
        return None
    anchors = sum(1 for link in parsed.links if link.tag == "a")
    if parsed.text_len < MIN_TEXT and anchors < MIN_ANCHORS:
        return "empty"
    if _TEMPLATE.search(text):
        return "template"
    if parsed.text_len < 4 * MIN_TEXT and _SHELL.search(text):
        return "shell"
    if _EMPTY_LIST.search(text) and _DOM_WRITE.search(text):
        return "script_list"
    return None


# --- the browser -------------------------------------------------------------------------------------------
def chromium_path() -> str:
    """The Chromium binary to drive: ``$SITEWATCH_CHROMIUM``, else ``/usr/bin/chromium``, else on the PATH."""
    env = os.environ.get(CHROMIUM_ENV)
    if env:
        return env
    if os.path.exists(DEFAULT_CHROMIUM):
        return DEFAULT_CHROMIUM
    return shutil.which("chromium") or shutil.which("chromium-browser") or DEFAULT_CHROMIUM


def require_rendering(where: str = "crawl.render_js") -> str:
    """Fail fast, on one line, when rendering cannot work here; returns the Chromium path otherwise."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        raise ConfigError(f"{where}: JavaScript rendering needs Playwright, which is not installed: "
                          f"{INSTALL_HINT}") from None
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise ConfigError(f"{where}: JavaScript rendering needs Chromium, not found at {path} "
                          f"(set {CHROMIUM_ENV} to its path): {INSTALL_HINT}")
    return path


def browser_proxy(url: str, config_proxy: str | None = None,
                  env: dict[str, str] | None = None) -> dict[str, str] | None:
    """The proxy of a browser rendering the site of ``url``, as Playwright's ``proxy`` launch option:
    ``[network] proxy`` if set, else the environment's proxy for the scheme of ``url`` (HTTPS_PROXY or HTTP_PROXY,
    else ALL_PROXY), user and password included; NO_PROXY becomes its bypass list. One browser has one proxy:
    the requests of the other scheme go through it too."""
    env = urllib.request.getproxies() if env is None else env
    bypass = ",".join(h.strip() for h in env.get("no", "").split(",") if h.strip())
    scheme = urlsplit(url).scheme
    chosen = config_proxy or env.get(scheme) or env.get("all") or env.get("https") or env.get("http")
    if not chosen or bypass == "*":
        return None
    server, user, password = _proxy_parts(chosen)
    return {"server": server, **({"bypass": bypass} if bypass else {}),
            **({"username": user, "password": password} if user else {})}


def _proxy_parts(url: str) -> tuple[str, str, str]:
    """(scheme://host:port, user, password) of a proxy URL; ``socks5h`` (remote DNS) is Chromium's ``socks5``,
    which always resolves through the proxy."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    scheme = {"socks5h": "socks5", "socks4a": "socks4"}.get(parts.scheme, parts.scheme or "http")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    server = f"{scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    return server, unquote(parts.username or ""), unquote(parts.password or "")


@dataclass
class Rendered:
    html: str            # the rendered DOM, serialised
    url: str             # where the browser ended up (differs after a script redirect)
    seconds: float


class Renderer:
    """One headless Chromium shared by the whole crawl, started on the first page that needs it.

    At most ``pool`` pages render at once in a single browser context (recycled every RECYCLE_AFTER pages);
    each page is closed as soon as its HTML is read. ``timeout`` bounds one page (navigation + settling).
    ``close()`` must be awaited at the end of the crawl (the crawler does it in a ``finally``).
    """

    def __init__(self, timeout: float, *, pool: int = POOL_SIZE, user_agent: str | None = None,
                 verify_tls: bool = True, executable: str | None = None, policy: NetPolicy | None = None,
                 proxy: str | None = None, on_blocked: Callable[[str], None] | None = None):
        self.executable = executable or require_rendering()
        self.timeout = timeout
        self.user_agent = user_agent
        self.verify_tls = verify_tls
        self.policy = policy            # None: the policy of a site at the first rendered page
        self.proxy = proxy              # [network] proxy; None: the environment's
        self.on_blocked = on_blocked    # called with each URL the policy kept the browser from requesting
        self.rendered = 0
        self.failed = 0
        self.blocked = 0
        self.seconds = 0.0
        self._env_proxies = urllib.request.getproxies()
        self._host_checks: dict[str, tuple[float, str | None]] = {}
        self._slots = asyncio.Semaphore(pool)
        self._lock = asyncio.Lock()
        self._pw: Any = None
        self._browser: Any = None
        self._context: Any = None
        self._context_uses = 0
        self._active = 0
        self._closed = False

    async def _ensure_context(self, url: str) -> Any:
        async with self._lock:
            if self._closed:
                raise RuntimeError("renderer closed")
            if self._browser is None:
                from playwright.async_api import async_playwright

                if self.policy is None:
                    self.policy = NetPolicy.for_site([url], resolve=browser_proxy(url, self.proxy) is None)
                proxy = browser_proxy(url, self.proxy, self._env_proxies)
                self._pw = await async_playwright().start()
                try:
                    self._browser = await self._pw.chromium.launch(executable_path=self.executable, headless=True,
                                                                   args=CHROMIUM_ARGS, proxy=proxy)
                except Exception:
                    await self._pw.stop()
                    self._pw = None
                    raise
            if self._context is not None and self._context_uses >= RECYCLE_AFTER and self._active == 0:
                await self._context.close()
                self._context = None
            if self._context is None:
                self._context = await self._browser.new_context(
                    user_agent=self.user_agent, ignore_https_errors=not self.verify_tls,
                    service_workers="block", accept_downloads=False)
                await self._context.route("**/*", self._route)
                await self._context.route_web_socket("**/*", self._route_web_socket)
                self._context_uses = 0
            self._context_uses += 1
            self._active += 1
            return self._context

    async def render(self, url: str) -> Rendered | None:
        """Load ``url`` in the browser, let its scripts run, return the DOM. None when it failed or timed out."""
        async with self._slots:
            started = time.monotonic()
            page = None
            try:
                context = await self._ensure_context(url)
            except Exception:  # noqa: BLE001 - a browser that cannot start: the page keeps its static HTML
                self.failed += 1
                return None
            try:
                page = await context.new_page()
                await page.goto(url, wait_until="load", timeout=self.timeout * 1000)
                remaining = self.timeout - (time.monotonic() - started)
                if remaining > 0.05:
                    try:
                        await page.wait_for_load_state("networkidle", timeout=min(remaining, SETTLE_MAX) * 1000)
                    except Exception:  # noqa: BLE001 - a page that polls forever: take the DOM as it is
                        pass
                html = await page.content()
                result = Rendered(html, page.url, time.monotonic() - started)
            except Exception:  # noqa: BLE001 - timeout, crash, navigation error: keep the static HTML
                self.failed += 1
                return None
            finally:
                self._active -= 1
                if page is not None:
                    try:
                        await page.close()
                    except Exception:  # noqa: BLE001
                        pass
            self.rendered += 1
            self.seconds += result.seconds
            return result

    # --- every request of the browser goes through here -----------------------------------------------------
    async def _route(self, route: Any) -> None:
        """Images, media and fonts are not loaded. Any other http(s) request is made for the browser, hop by hop
        (Chromium follows redirects without showing them to a route handler): each hop's host is checked against
        the network policy first, and a refused one is aborted unsent (``blocked``). A navigation that redirects
        becomes a navigation to its target, so the target is checked as a request of its own."""
        request = route.request
        try:
            if request.resource_type in BLOCKED_RESOURCES:
                await route.abort()
                return
            url = request.url
            if urlsplit(url).scheme not in ("http", "https"):
                await route.continue_()
                return
            if await self._refused(url):
                await self._block(route, url)
                return
            ms = max(self.timeout, 0.1) * 1000
            method = request.method
            response = await route.fetch(max_redirects=0, timeout=ms)
            for _ in range(MAX_REDIRECTS):
                location = response.headers.get("location") if response.status in _REDIRECTS else None
                if not location:
                    break
                target = urljoin(response.url, location)
                if urlsplit(target).scheme not in ("http", "https") or await self._refused(target):
                    await self._block(route, target)
                    return
                if request.is_navigation_request():
                    await route.fulfill(status=200, content_type="text/html; charset=utf-8",
                                        body=_MOVE.format(html.escape(target, quote=True)))
                    return
                if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                    method = "GET"
                response = await route.fetch(url=target, method=method, max_redirects=0, timeout=ms)
            else:
                await route.abort("failed")              # too many redirects
                return
            await route.fulfill(response=response)
        except Exception:  # noqa: BLE001 - a failed or closed request: the page goes on without it
            try:
                await route.abort("failed")
            except Exception:  # noqa: BLE001 - already handled, or the page is gone
                pass

    async def _route_web_socket(self, ws: Any) -> None:
        """A WebSocket is opened only to an address the policy allows (checked as the http(s) URL it upgrades)."""
        url = str(ws.url)
        as_http = "http" + url[2:] if url.startswith("ws") else url
        if await self._refused(as_http):
            self.blocked += 1
            if self.on_blocked is not None:
                self.on_blocked(url)
            await ws.close()
            return
        ws.connect_to_server()

    async def _refused(self, url: str) -> str | None:
        """Why the policy refuses ``url``: its host as written, and, when no proxy carries it, every address the
        host resolves to (Chromium and Playwright look the name up again to connect: a verdict is kept for
        HOST_CHECK_TTL seconds only)."""
        assert self.policy is not None
        host = urlsplit(url).hostname or ""
        why = self.policy.check_host(host)
        if why or parse_ip(host) is not None or proxy_for(url, self.proxy, self._env_proxies) is not None:
            return why
        now = time.monotonic()
        cached = self._host_checks.get(host)
        if cached is not None and cached[0] > now:
            return cached[1]
        addrs = await asyncio.to_thread(_resolve_quietly, host)
        why = next((w for w in (self.policy.check_resolved(host, ip) for ip in addrs) if w), None)
        self._host_checks[host] = (now + HOST_CHECK_TTL, why)
        return why

    async def _block(self, route: Any, url: str) -> None:
        self.blocked += 1
        if self.on_blocked is not None:
            self.on_blocked(url)
        await route.abort("blockedbyclient")

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            for obj in (self._context, self._browser):
                if obj is not None:
                    try:
                        await obj.close()
                    except Exception:  # noqa: BLE001 - closing a browser that already died
                        pass
            if self._pw is not None:
                try:
                    await self._pw.stop()
                except Exception:  # noqa: BLE001
                    pass
            self._context = self._browser = self._pw = None
