"""Per-host politeness: a cap on simultaneous requests, a minimum interval between them, robots.txt.

robots.txt is read by Protego (Scrapy's parser: longest match wins, ``Allow`` after ``Disallow``, ``*`` and ``$``
wildcards, Crawl-delay), with RFC 9309's availability rules: 4xx = no rules; a 5xx answer = everything disallowed
(the server is erroring, a crawler must not guess); a host that cannot be reached = no rules (the request itself then
fails and is judged for what it is: a dead host's links are broken, not "disallowed").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from protego import Protego

from sitewatch.defaults import DEFAULT_CONCURRENCY, DEFAULT_RATE

MAX_CRAWL_DELAY = 10.0         # a robots.txt Crawl-delay above this is capped


class HostLimiter:
    """Bounds one host: at most ``concurrency`` requests in flight, request starts ``interval`` seconds apart."""

    def __init__(self, concurrency: int, rate: float):
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()
        self.paused_until = 0.0

    def slow_down(self, seconds: float) -> None:
        """Pause the whole host (after a 429 with Retry-After)."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._sem:
            if self.paused_until and time.monotonic() >= self.paused_until:
                self.paused_until = 0.0
            if self.interval or self.paused_until:
                async with self._lock:
                    now = time.monotonic()
                    start = max(now, self._next, self.paused_until)
                    self._next = start + self.interval
                if start > now:
                    await asyncio.sleep(start - now)
            yield


class Politeness:
    """Hands out per-host limiters and answers robots.txt questions."""

    def __init__(self, concurrency: int = DEFAULT_CONCURRENCY, rate: float = DEFAULT_RATE,
                 user_agent: str = "sitewatch", obey_robots: bool = True):
        self.concurrency = concurrency
        self.rate = rate
        self.user_agent = user_agent
        self.obey_robots = obey_robots
        self._hosts: dict[str, HostLimiter] = {}
        self._robots: dict[str, Protego | int | None] = {}       # host -> rules, a 5xx status, or None (no rules)
        self._robots_locks: dict[str, asyncio.Lock] = {}

    def limiter(self, host: str) -> HostLimiter:
        lim = self._hosts.get(host)
        if lim is None:
            lim = self._hosts[host] = HostLimiter(self.concurrency, self.rate)
        return lim

    async def allowed(self, url: str, fetch_text: Callable[[str], Awaitable[tuple[int, str]]]) -> bool:
        """robots.txt verdict for ``url``; fetches and caches the host's robots.txt on first use."""
        if not self.obey_robots:
            return True
        host = _host(url)
        if host not in self._robots:
            lock = self._robots_locks.setdefault(host, asyncio.Lock())
            async with lock:
                if host not in self._robots:
                    self._robots[host] = await self._load(host, fetch_text)
        rules = self._robots[host]
        if rules is None:
            return True
        if isinstance(rules, int):
            return False
        return rules.can_fetch(url, self.user_agent)

    def why_disallowed(self, url: str) -> str:
        """The detail of a robots verdict for ``url`` (after ``allowed`` said no)."""
        rules = self._robots.get(_host(url))
        if isinstance(rules, int):
            return f"robots.txt answered HTTP {rules}: everything disallowed until it works (RFC 9309)"
        return "disallowed by robots.txt"

    async def _load(self, host: str, fetch_text: Callable[[str], Awaitable[tuple[int, str]]]) -> Protego | int | None:
        try:
            status, text = await fetch_text(host + "/robots.txt")
        except Exception:       # noqa: BLE001 - unreachable host: no rules; the request itself will fail
            return None
        if status >= 500:
            return status
        if status >= 400 or not text:
            return None
        rules = Protego.parse(text)
        delay = rules.crawl_delay(self.user_agent)
        if delay:
            lim = self.limiter(host)
            lim.interval = max(lim.interval, min(float(delay), MAX_CRAWL_DELAY))
        return rules


def _host(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}"
