"""Optional JavaScript rendering: pages that a plain fetch shows empty are re-rendered in headless Chromium.

Used only when a site config says ``[crawl] render_js = true`` (or ``scan --render-js``), and then only for
the pages ``looks_js_only`` picks, so a scan stays as fast as a plain crawl on static pages. See
docs/rendering.md for the heuristic, the browser set-up and the costs.

Playwright (the ``render`` extra) drives a Chromium installed by the system package manager
(``/usr/bin/chromium`` by default, ``SITEWATCH_CHROMIUM`` to point elsewhere): Playwright's own browser
download is never used. Playwright is imported lazily, so the rest of sitewatch never needs it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from dataclasses import dataclass
from typing import Any

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
                 verify_tls: bool = True, executable: str | None = None):
        self.executable = executable or require_rendering()
        self.timeout = timeout
        self.user_agent = user_agent
        self.verify_tls = verify_tls
        self.rendered = 0
        self.failed = 0
        self.seconds = 0.0
        self._slots = asyncio.Semaphore(pool)
        self._lock = asyncio.Lock()
        self._pw: Any = None
        self._browser: Any = None
        self._context: Any = None
        self._context_uses = 0
        self._active = 0
        self._closed = False

    async def _ensure_context(self) -> Any:
        async with self._lock:
            if self._closed:
                raise RuntimeError("renderer closed")
            if self._browser is None:
                from playwright.async_api import async_playwright

                self._pw = await async_playwright().start()
                try:
                    self._browser = await self._pw.chromium.launch(executable_path=self.executable, headless=True,
                                                                   args=CHROMIUM_ARGS)
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
                await self._context.route("**/*", _block_heavy)
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
                context = await self._ensure_context()
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


async def _block_heavy(route: Any) -> None:
    if route.request.resource_type in BLOCKED_RESOURCES:
        await route.abort()
    else:
        await route.continue_()
