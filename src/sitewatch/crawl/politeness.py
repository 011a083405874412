"""Per-host politeness: a cap on simultaneous requests, a minimum interval between them that adapts to the
server's answers (never below the configured rate's or robots.txt's Crawl-delay), robots.txt.

robots.txt is read by Protego (Scrapy's parser: longest match wins, ``Allow`` after ``Disallow``, ``*`` and ``$``
wildcards, Crawl-delay), with RFC 9309's availability rules: 4xx = no rules; a 5xx answer = everything disallowed
(the server is erroring, a crawler must not guess); a host that cannot be reached = no rules (the request itself then
fails and is judged for what it is: a dead host's links are broken, not "disallowed").

One process keeps its hosts' limits itself (``HostLimiter``). Processes of a fleet that scan sites on one host share
them through Redis (``Politeness(budget=REDIS_URL)``: ``sitewatch.fleet.budget``, imported only then).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from protego import Protego

from sitewatch.crawl.answers import AnswerRecorder
from sitewatch.defaults import (
    BACKOFF_START,
    DEFAULT_CONCURRENCY,
    DEFAULT_RATE,
    DEFAULT_TIMEOUT,
    MAX_ADAPTIVE_DELAY,
    MAX_CRAWL_DELAY,
    MIN_ADAPTIVE_DELAY,
    RECOVERY_STEP,
)
from sitewatch.errors import SitewatchError

if TYPE_CHECKING:
    from sitewatch.fleet.budget import SharedBudget

REPORTED_HOSTS = 5             # hosts shown in the scan statistics (most back-offs first)


class Limiter(Protocol):
    """What the fetcher and ``Politeness`` use of a host's limiter: a ``HostLimiter`` (this process's own) or a
    ``sitewatch.fleet.budget.SharedHostLimiter`` (shared by every process using the same Redis)."""

    requests: int
    backoffs: int
    interval: float
    floor: float
    max_interval: float

    def slot(self) -> AbstractAsyncContextManager[None]: ...
    def record(self, sent: float, *, overloaded: bool, fast: bool, timed_out: bool = False) -> None: ...
    def slow_down(self, seconds: float) -> None: ...
    def set_floor(self, seconds: float) -> None: ...
    def backoff(self, sent: float) -> bool: ...
    def answered(self, sent: float) -> None: ...
    def report(self, host: str) -> dict[str, Any]: ...


class HostLimiter(AnswerRecorder):
    """Bounds one host: at most ``concurrency`` requests in flight, request starts ``interval`` seconds apart.

    ``floor`` is the smallest interval ever used: the configured rate's (``1 / rate``) or robots.txt's Crawl-delay,
    whichever is longer. With ``adaptive``, ``interval`` follows the server's answers above that floor (AIMD, as
    TCP and Scrapy's AutoThrottle): a 429, a 503 or 504, or a timeout doubles it (``backoff``; a Retry-After also
    pauses the host), and each clean answer given in less than half the timeout adds ``RECOVERY_STEP`` requests/s
    back to the host's rate until the floor is reached again. Only one back-off per round: an answer to a request
    sent before the last back-off does not back off again (four requests in flight answering 429 together are one
    signal, not four). Without ``adaptive`` the interval stays at its floor.
    """

    def __init__(self, concurrency: int, rate: float, adaptive: bool = False):
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self.floor = 1.0 / rate if rate > 0 else 0.0
        self.interval = self.floor
        # adaptivity works under a cap: rate 0 (no limit, e.g. one's own or a loopback server) stays unlimited
        # unless robots.txt sets a Crawl-delay; a Retry-After pause applies either way
        self._adaptive_wanted = adaptive
        self.adaptive = adaptive and self.floor > 0
        self._next = 0.0
        self._last_start = -math.inf
        self._lock = asyncio.Lock()
        self.paused_until = 0.0
        self.requests = 0           # answers (and failures) observed
        self.backoffs = 0           # multiplicative back-offs applied
        self.max_interval = self.interval
        self._last_backoff = -math.inf
        self._timeouts = 0          # timeouts in a row

    def set_floor(self, seconds: float) -> None:
        """Raise the floor of the interval (robots.txt Crawl-delay): it wins over the configured and adapted rate."""
        self.floor = max(self.floor, seconds)
        self.adaptive = self._adaptive_wanted and self.floor > 0
        self.interval = max(self.interval, self.floor)
        self._next = max(self._next, self._last_start + self.interval)     # robots.txt itself was the last request
        self.max_interval = max(self.max_interval, self.interval)

    def slow_down(self, seconds: float) -> None:
        """Pause the whole host (after a 429 or 503 with Retry-After)."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    def backoff(self, sent: float) -> bool:
        """The server is overloaded (429, 503, 504, timeout) for a request sent at ``sent`` (monotonic): double the
        interval, once per round. True when the interval was changed."""
        if not self.adaptive or sent < self._last_backoff:
            return False
        self._last_backoff = time.monotonic()
        self.interval = min(max(self.interval * 2, BACKOFF_START, self.floor), max(MAX_ADAPTIVE_DELAY, self.floor))
        self.max_interval = max(self.max_interval, self.interval)
        self.backoffs += 1
        return True

    def answered(self, sent: float) -> None:
        """A clean, fast answer to a request sent at ``sent``: one step back towards the floor. Under a rate cap
        the step is additive (``RECOVERY_STEP`` requests/s, as AIMD); without one (rate 0: the user asked for no
        limit) the interval halves, so a single 429 costs about a second of slower crawling, not a minute."""
        if not self.adaptive or self.interval <= self.floor or sent < self._last_backoff:
            return
        if self.floor > 0:
            nearest = 1.0 / (1.0 / self.interval + RECOVERY_STEP)
        else:
            nearest = self.interval / 2
        self.interval = self.floor if nearest <= max(self.floor, MIN_ADAPTIVE_DELAY) else nearest

    def report(self, host: str) -> dict[str, Any]:
        """This host's numbers for the scan statistics (seconds, rounded to milliseconds)."""
        return {"host": host, "requests": self.requests, "backoffs": self.backoffs,
                "delay": round(self.interval, 3), "min_delay": round(self.floor, 3),
                "max_delay": round(self.max_interval, 3)}

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
                    self._last_start = start
                if start > now:
                    await asyncio.sleep(start - now)
            else:
                self._last_start = time.monotonic()
            yield


class Politeness:
    """Hands out per-host limiters and answers robots.txt questions.

    ``budget``: a Redis URL (``SiteConfig.shared_budget``, set by a fleet worker): the hosts' limits (concurrency,
    spacing, Crawl-delay, back-off, Retry-After pauses) are then kept with every other process using that Redis
    (``sitewatch.fleet.budget``), and ``request_timeout`` (the fetcher's timeout) bounds how long a concurrency slot
    of a process that died stays taken. Its connections belong to the event loop that first uses a limiter: end
    with ``aclose()`` in that loop. Without a budget, each host has a ``HostLimiter`` of this process."""

    def __init__(self, concurrency: int = DEFAULT_CONCURRENCY, rate: float = DEFAULT_RATE,
                 user_agent: str = "sitewatch", obey_robots: bool = True, adaptive: bool = False,
                 budget: str | None = None, request_timeout: float = DEFAULT_TIMEOUT):
        self.concurrency = concurrency
        self.rate = rate
        self.adaptive = adaptive
        self.user_agent = user_agent
        self.obey_robots = obey_robots
        self.budget = budget
        self.request_timeout = request_timeout
        self._shared: SharedBudget | None = None
        self._hosts: dict[str, Limiter] = {}
        self._robots: dict[str, Protego | int | None] = {}       # host -> rules, a 5xx status, or None (no rules)
        self._robots_locks: dict[str, asyncio.Lock] = {}

    def limiter(self, host: str) -> Limiter:
        lim = self._hosts.get(host)
        if lim is None:
            if self.budget:
                if self._shared is None:
                    from sitewatch.fleet.budget import SharedBudget  # lazy: redis-py, for a fleet's shared budget only

                    self._shared = SharedBudget(self.budget, request_timeout=self.request_timeout)
                lim = self._hosts[host] = self._shared.limiter(host, self.concurrency, self.rate, self.adaptive)
            else:
                lim = self._hosts[host] = HostLimiter(self.concurrency, self.rate, self.adaptive)
        return lim

    async def aclose(self) -> None:
        """Let the shared budget's last updates reach Redis and close its connections (nothing to do without)."""
        if self._shared is not None:
            await self._shared.aclose()

    def report(self, top: int = REPORTED_HOSTS) -> list[dict[str, Any]]:
        """The hosts requested, most back-offs first (then the longest delay, the most requests), at most ``top``."""
        hosts = [(host, lim) for host, lim in self._hosts.items() if lim.requests]
        hosts.sort(key=lambda h: (-h[1].backoffs, -h[1].max_interval, -h[1].requests, h[0]))
        return [lim.report(host) for host, lim in hosts[:top]]

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
        except SitewatchError:      # the shared budget failed: the scan stops (not "no rules")
            raise
        except Exception:       # noqa: BLE001 - unreachable host: no rules; the request itself will fail
            return None
        if status >= 500:
            return status
        if status >= 400 or not text:
            return None
        rules = Protego.parse(text)
        delay = rules.crawl_delay(self.user_agent)
        if delay:
            self.limiter(host).set_floor(min(float(delay), MAX_CRAWL_DELAY))
        return rules


def _host(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}"
