"""Per-host politeness: a cap on simultaneous requests, a minimum interval between them, robots.txt."""

from __future__ import annotations

import asyncio
import time
import urllib.robotparser
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

DEFAULT_CONCURRENCY = 4        # simultaneous requests per host
DEFAULT_RATE = 4.0             # requests per second per host (0 = unlimited)
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
    async def slot(self):
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
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
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
        p = urlsplit(url)
        host = f"{p.scheme}://{p.netloc}"
        if host not in self._robots:
            lock = self._robots_locks.setdefault(host, asyncio.Lock())
            async with lock:
                if host not in self._robots:
                    self._robots[host] = await self._load(host, fetch_text)
        rp = self._robots[host]
        return rp is None or rp.can_fetch(self.user_agent, url)

    async def _load(self, host: str, fetch_text) -> urllib.robotparser.RobotFileParser | None:
        try:
            status, text = await fetch_text(host + "/robots.txt")
        except Exception:
            return None
        if status >= 400 or not text:
            return None
        rp = urllib.robotparser.RobotFileParser()
        rp.parse(text.splitlines())
        delay = rp.crawl_delay(self.user_agent)
        if delay:
            lim = self.limiter(host)
            lim.interval = max(lim.interval, min(float(delay), MAX_CRAWL_DELAY))
        return rp
