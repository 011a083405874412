"""The per-host politeness budget shared by every process of a fleet, kept in Redis.

A city scans twenty sites that are path sub-sites of one host (``www.zs.gov.cn/<code>/``) with worker processes on
several machines. Each scan's ``Politeness`` would keep its own ``HostLimiter`` and the host would see the sum of
their rates; with ``Politeness(budget=REDIS_URL)`` every process takes its hosts' limits from here instead:

- **spacing**: request starts are reserved on the Redis server's clock (``TIME``; the machines' clocks may differ)
  by an atomic Lua script, GCRA's virtual scheduling: ``start = max(now, next, paused_until)``, ``next = start +
  interval``; the caller sleeps until its start and then takes a slot (the same script again). A Retry-After pause
  that another process set meanwhile gives it a new start after the pause.
- **concurrency**: a lease-based semaphore, a sorted set of the requests in flight scored by lease expiry (the
  request's start + the request timeout + ``LEASE_MARGIN``), taken at the reserved start: a process waiting for
  its start holds no slot, so it cannot keep the slots from the others. Expired leases are dropped on each take,
  so the slots of a SIGKILLed process come back by themselves. A caller that finds the host full at its start
  reserves the next start on the schedule and tries again then (so that going later never breaks the spacing);
  without spacing (rate 0) it polls after short growing sleeps (``POLL_FIRST`` doubling up to ``POLL_MAX``). A
  process also caps itself locally: at most ``concurrency`` of its coroutines wait for one host.
- **learned state**: the host's Crawl-delay, its adapted interval (AIMD with ``HostLimiter``'s numbers and rules:
  doubled on a 429/503/504 or a second timeout, once per round, a step back per clean fast answer) and its
  ``paused_until`` live in one hash per host, changed only by scripts, so what one process learns slows them all.

**Different rates on one host.** Each caller's own configured rate is a floor for its own reservations:
``interval = max(own 1/rate, Crawl-delay, the host's adapted interval)``, and a reservation puts ``next`` one such
interval (plus ``SPACING_MARGIN``) after its own start. So every gap between two starts on the host is at least the
smaller interval of the two callers: any second holds at most the highest configured rate's requests (a site at 4/s
beside a site at 1/s: at most 4 a second in all, never 5), and each caller's own requests keep its own spacing.
The concurrency cap works the same way: at most the highest configured ``concurrency`` at once. The adapted
interval is shared by callers with ``adaptive`` on; a caller with it off keeps its own rate (and the host's
Crawl-delay and pauses), as a ``HostLimiter`` does.

**Spacing margin.** Reservations are ``SPACING_MARGIN`` (10%) further apart than the interval. ``R`` requests a
second are then reserved ``(1 + 0.1) / R`` apart, so ``R + 1`` starts span 1.1 s: the server sees at most ``R`` in any
second unless the first of them leaves more than 100 ms later (after its reservation) than the last one, whatever
R. That lateness (the Redis reply, the event loop waking, the HTTP request reaching the server) was measured on a
2-core test machine at under 10 ms idle and up to 41 ms with four CPU-bound processes beside the test
(tests/test_fleet_budget.py); with the whole test suite in six processes beside three workers, a 5% margin (50 ms)
was not enough once (42 starts in one second at 40/s). The price: a host is used at ~91% of its configured rate.
Lateness has a bound too: a caller that comes more than ``LATE_BY`` (half the margin, 50 ms) after its reserved
start (its thread waited for the CPU or the GIL: four scans in one worker share one interpreter) reserves again
instead of going, up to ``LATE_RETRIES`` times for one request; the other half of the margin is left for the way
from the reservation to the server.

**Failures.** A Redis that cannot be reached (or fails) during a scan raises ``BudgetError`` naming the Redis URL
(password hidden) at the next request: the scan fails instead of going on with an unshared limiter, which would
break the budget every other process keeps to. Commands time out after ``COMMAND_TIMEOUT`` and are retried twice.

**Keys** (one Redis, or Sentinel: not a Redis Cluster, the scripts count requests under keys they name themselves):
``sitewatch:host:<host>:state`` (hash: next, crawl_delay, interval, last_backoff, paused_until, backoffs; expires
``STATE_TTL`` after the host's last reservation), ``sitewatch:host:<host>:leases`` (sorted set; expires with its
last lease), ``sitewatch:host:<host>:starts:<unix second>`` (request starts in that second, ``COUNT_TTL``) and
``sitewatch:hosts`` (the hosts seen in the last ``STATE_TTL`` seconds, for ``host_usage``). ``<host>`` is
``scheme://host[:port]``, as ``HostLimiter``'s unit.

**Why our own scripts.** ``limits`` (the usual Python rate-limit library) counts fixed, moving or sliding windows:
up to the window's amount may go in a burst, its granularity is whole seconds, and it has no reservation (a caller
is refused and polls). The politeness contract is a minimum spacing between request starts (Crawl-delay 3.5 =
one request every 3.5 s) plus a concurrency cap, and the back-off must be shared too. PyrateLimiter's Redis bucket
is a sliding window of timestamps (polling as well); the small GCRA packages answer allowed/retry-after without
reserving, and redis-cell needs a module loaded into the server. Four short Lua scripts do exactly the contract.

This module imports redis-py (the ``fleet`` extra); only ``Politeness`` with a budget URL and ``host_usage``'s
callers load it.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from sitewatch.crawl.answers import AnswerRecorder
from sitewatch.defaults import BACKOFF_START, MAX_ADAPTIVE_DELAY, MIN_ADAPTIVE_DELAY, RECOVERY_STEP
from sitewatch.errors import BudgetError

if TYPE_CHECKING:
    import redis.asyncio
    from redis.commands.core import AsyncScript

KEY_PREFIX = "sitewatch:host:"
HOSTS_KEY = "sitewatch:hosts"
STATE_TTL = 600                # seconds a host's learned state (Crawl-delay, back-off, pause) outlives its last use
USAGE_WINDOW_MAX = 120         # seconds: the longest window host_usage counts requests over
COUNT_TTL = USAGE_WINDOW_MAX + 10   # seconds a per-second request counter is kept
LEASE_MARGIN = 5.0             # seconds a concurrency lease outlives its request's start + timeout
SPACING_MARGIN = 0.1           # reservations are this much (relative) further apart than the interval (see above)
POLL_FIRST = 0.005             # seconds: the first wait of an acquirer that found the host full
POLL_MAX = 0.1                 # seconds: its waits double up to this
CONNECT_TIMEOUT = 5.0          # seconds to connect to Redis
COMMAND_TIMEOUT = 5.0          # seconds a Redis command may take
RETRIES = 2                    # a failed command (connection, timeout) is tried this many times more

LATE_BY = SPACING_MARGIN / 2   # seconds: a caller that comes this late to its reserved start reserves again ...
LATE_RETRIES = 3               # ... at most this many times for one request (then it goes, late)

GO, WAIT, FULL, LATE = 1, 0, 2, 3   # the take script's answers: go now; sleep until the start; the host was full;
#                                     the caller came too late to its start

# Shared by every script: Redis' clock, numbers written exactly (%.17g round-trips a double), TTLs only raised, the
# per-second start counter, and a caller's interval.
_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function f(x) return string.format('%.17g', x) end
local function keep(key, seconds)
  seconds = math.ceil(seconds)
  if redis.call('TTL', key) < seconds then redis.call('EXPIRE', key, seconds) end
end
local function count(prefix, ttl)
  local key = prefix .. string.format('%d', math.floor(now))
  redis.call('INCR', key)
  redis.call('EXPIRE', key, ttl)
end
-- a caller's interval: its own floor (1/rate), the host's Crawl-delay and, when adaptive, the host's back-off
local function spacing(state, own_floor, adaptive)
  local s = redis.call('HMGET', state, 'crawl_delay', 'interval')
  local crawl_delay = tonumber(s[1]) or 0
  local shared = tonumber(s[2]) or 0
  local floor = math.max(own_floor, crawl_delay)
  local interval = floor
  if adaptive then interval = math.max(floor, shared) end
  return interval, floor, crawl_delay, shared
end
"""

# One step of taking a slot. Without a reserved start (0), reserve one: ``start = max(now, next, paused_until)``,
# ``next = start + interval * (1 + margin)``. Once the reserved start has come: if the host was paused since, reserve
# again after the pause; if the caller comes more than ``late by`` after its start (its thread waited for the CPU
# or the GIL), reserve again: going now would put it closer than the spacing to the start after it; if the host's
# concurrency is full, reserve the next start on the schedule (so that the one who goes later still keeps the
# spacing); else take a lease (expiring after the request's longest time) and go.
# KEYS: state, leases, starts prefix, hosts index
# ARGV: own floor, adaptive (1|0), concurrency, lease id, lease seconds, spacing margin, host, state TTL, count TTL,
#       reserved start (0: none yet), late by (seconds; 0: go however late)
# -> {GO 1 | WAIT 0 | FULL 2 | LATE 3, now, reserved start, interval, crawl_delay, last_backoff}
_TAKE = _PRELUDE + """
local lease, margin = tonumber(ARGV[5]), tonumber(ARGV[6])
local state_ttl = tonumber(ARGV[8])
local reserved = tonumber(ARGV[10])
local late_by = tonumber(ARGV[11])
redis.call('ZADD', KEYS[4], f(now), ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', f(now - state_ttl))
redis.call('EXPIRE', KEYS[4], state_ttl)
local interval, floor, crawl_delay = spacing(KEYS[1], tonumber(ARGV[1]), ARGV[2] == '1')
local s = redis.call('HMGET', KEYS[1], 'next', 'paused_until', 'last_backoff')
local nxt, paused, last_backoff = tonumber(s[1]) or 0, tonumber(s[2]) or 0, tonumber(s[3]) or 0
local function reserve()
  local start = math.max(now, nxt, paused)
  nxt = start + interval * (1 + margin)
  redis.call('HSET', KEYS[1], 'next', f(nxt))
  keep(KEYS[1], state_ttl + start - now)
  return start
end
local code = 0
if reserved == 0 then reserved = reserve() end
if reserved <= now then
  if paused > now then
    reserved = reserve()
  elseif late_by > 0 and interval > 0 and now - reserved > late_by then
    code = 3
    reserved = reserve()
  else
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', f(now))
    if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
      code = 2
      reserved = reserve()
    else
      redis.call('ZADD', KEYS[2], f(now + lease), ARGV[4])
      keep(KEYS[2], lease + 1)
      count(KEYS[3], tonumber(ARGV[9]))
      code = 1
    end
  end
end
return {code, f(now), f(reserved), f(interval), f(crawl_delay), f(last_backoff)}
"""

# AIMD, HostLimiter.backoff and .answered on the host's shared interval, for a request sent at ARGV[2] (Redis time).
# KEYS: state
# ARGV: 'backoff' | 'answered', sent, own floor, BACKOFF_START, MAX_ADAPTIVE_DELAY, RECOVERY_STEP,
#       MIN_ADAPTIVE_DELAY, state TTL
# -> {applied (1|0), interval (this caller's), floor (this caller's), last_backoff}
_ADAPT = _PRELUDE + """
local sent = tonumber(ARGV[2])
local _, floor, _, shared = spacing(KEYS[1], tonumber(ARGV[3]), true)
local last_backoff = tonumber(redis.call('HGET', KEYS[1], 'last_backoff')) or 0
local current = math.max(shared, floor)
local applied = 0
if sent >= last_backoff then
  if ARGV[1] == 'backoff' then
    current = math.min(math.max(current * 2, tonumber(ARGV[4]), floor), math.max(tonumber(ARGV[5]), floor))
    last_backoff = now
    redis.call('HSET', KEYS[1], 'interval', f(current), 'last_backoff', f(now))
    redis.call('HINCRBY', KEYS[1], 'backoffs', 1)
    applied = 1
  elseif current > floor then
    local nearest
    if floor > 0 then nearest = 1 / (1 / current + tonumber(ARGV[6])) else nearest = current / 2 end
    if nearest <= math.max(floor, tonumber(ARGV[7])) then current = floor else current = nearest end
    redis.call('HSET', KEYS[1], 'interval', f(current))
    applied = 1
  end
  keep(KEYS[1], tonumber(ARGV[8]))
end
return {applied, f(current), f(floor), f(last_backoff)}
"""

# robots.txt's Crawl-delay for the host (kept if longer than one already known); the caller's last start (the
# robots.txt request) is then followed by one interval before the next start.
# KEYS: state
# ARGV: Crawl-delay, the caller's last start (0: none), own floor, adaptive (1|0), spacing margin, state TTL
# -> {interval, floor, crawl_delay}
_FLOOR = _PRELUDE + """
local crawl_delay = math.max(tonumber(redis.call('HGET', KEYS[1], 'crawl_delay')) or 0, tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'crawl_delay', f(crawl_delay))
local interval, floor = spacing(KEYS[1], tonumber(ARGV[3]), ARGV[4] == '1')
local last = tonumber(ARGV[2])
if last > 0 then
  local nxt = tonumber(redis.call('HGET', KEYS[1], 'next')) or 0
  redis.call('HSET', KEYS[1], 'next', f(math.max(nxt, last + interval * (1 + tonumber(ARGV[5])))))
end
keep(KEYS[1], tonumber(ARGV[6]))
return {f(interval), f(floor), f(crawl_delay)}
"""

# Retry-After: pause the host for ARGV[1] seconds from now (a longer pause already set stays).
# KEYS: state; ARGV: seconds, state TTL -> paused_until
_PAUSE = _PRELUDE + """
local paused = math.max(tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0, now + tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'paused_until', f(paused))
keep(KEYS[1], tonumber(ARGV[2]) + paused - now)
return f(paused)
"""

SCRIPTS = {"take": _TAKE, "adapt": _ADAPT, "floor": _FLOOR, "pause": _PAUSE}


def host_keys(host: str) -> tuple[str, str, str]:
    """The state hash, the lease set and the prefix of the per-second start counters of ``host``."""
    base = KEY_PREFIX + host
    return f"{base}:state", f"{base}:leases", f"{base}:starts:"


def redacted(url: str) -> str:
    """``url`` without its password (for messages)."""
    try:
        p = urlsplit(url)
        if p.password is None:
            return url
        user = f"{p.username}:***" if p.username else "***"
        host = p.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        return urlunsplit((p.scheme, f"{user}@{host}" + (f":{p.port}" if p.port else ""), p.path, p.query, ""))
    except ValueError:
        return "(a malformed Redis URL)"


def _failed(url: str, exc: BaseException) -> BudgetError:
    return BudgetError(f"shared politeness budget: Redis at {redacted(url)} failed ({type(exc).__name__}: {exc}); "
                       "the scan stops rather than go on without the fleet's per-host limits")


class SharedBudget:
    """One process's (one event loop's) connection to the budget at ``url``; hands out a ``SharedHostLimiter`` per
    host. The Redis client is made in the event loop that first needs it and must be closed there (``aclose``).

    Updates that the fetcher reports synchronously (``record``, ``slow_down``, ``set_floor``) run as tasks; the
    next ``slot`` of any host waits for them first, so that a process's own pause or back-off holds for its own
    next request, and raises the first failure. ``request_timeout`` (the fetcher's timeout) plus ``LEASE_MARGIN``
    is how long after its start a request's concurrency slot is held at most."""

    def __init__(self, url: str, request_timeout: float):
        self.url = url
        self.lease = float(request_timeout) + LEASE_MARGIN
        self.error: BudgetError | None = None
        self.offset: float | None = None      # Redis time minus time.monotonic() (see _clock)
        self._bounds: tuple[float, float] | None = None
        self._client: redis.asyncio.Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scripts: dict[str, AsyncScript] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._limiters: dict[str, SharedHostLimiter] = {}

    def limiter(self, host: str, concurrency: int, rate: float, adaptive: bool) -> SharedHostLimiter:
        lim = self._limiters.get(host)
        if lim is None:
            lim = self._limiters[host] = SharedHostLimiter(self, host, concurrency, rate, adaptive)
        return lim

    def _connect(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        if self._client is None:
            import redis.asyncio  # lazy: the fleet extra
            from redis.asyncio.retry import Retry
            from redis.backoff import ExponentialBackoff

            self._client = redis.asyncio.Redis.from_url(
                self.url, decode_responses=True, socket_connect_timeout=CONNECT_TIMEOUT,
                socket_timeout=COMMAND_TIMEOUT, retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), RETRIES))
            self._scripts = {name: self._client.register_script(lua) for name, lua in SCRIPTS.items()}
            self._loop = loop
        elif loop is not self._loop:
            raise RuntimeError("a shared budget's Redis connections belong to the event loop that opened them")
        return self._client

    async def run(self, script: str, keys: Sequence[str], args: Sequence[str | int | float]) -> list[Any]:
        """Run one of ``SCRIPTS``; a failure (connection, timeout, error) becomes the budget's ``BudgetError``."""
        if self.error is not None:
            raise self.error
        self._connect()
        import redis.exceptions  # lazy: the fleet extra (loaded by _connect already)

        before = time.monotonic()
        try:
            reply: list[Any] = await self._scripts[script](keys=list(keys), args=list(args))
        except (redis.exceptions.RedisError, OSError) as exc:
            if self.error is None:
                self.error = _failed(self.url, exc)
            raise self.error from exc
        if script == "take":
            self._clock(float(reply[1]), before, time.monotonic())
        return reply

    def _clock(self, now: float, before: float, after: float) -> None:
        """Redis read ``now`` between this process's monotonic ``before`` and ``after``: the offset between the
        clocks is within ``[now - after, now - before]``. The bounds are narrowed over the replies (a first reply,
        which also connected, is wide) and ``offset`` is the lower one: a request is never placed after its real
        sending (a clock step, bounds that no longer meet, starts them anew)."""
        lo, hi = now - after, now - before
        if self._bounds is None or lo > self._bounds[1] or hi < self._bounds[0]:
            self._bounds = (lo, hi)
        else:
            self._bounds = (max(self._bounds[0], lo), min(self._bounds[1], hi))
        self.offset = self._bounds[0]

    async def release(self, leases: str, lease: str) -> None:
        if self.error is not None or self._client is None:
            return          # the lease expires by itself
        import redis.exceptions  # lazy: the fleet extra

        try:
            await self._client.zrem(leases, lease)
        except (redis.exceptions.RedisError, OSError) as exc:
            if self.error is None:
                self.error = _failed(self.url, exc)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` (an update of the shared state) as a task the next ``settle`` waits for."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the updates started so far; raise the budget's error if one failed."""
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        if self.error is not None:
            raise self.error

    async def aclose(self) -> None:
        """Wait for the last updates (their failures no longer matter: the leases expire) and close the client."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=COMMAND_TIMEOUT * (RETRIES + 1))
        if self._client is not None:
            client, self._client = self._client, None
            try:
                await client.aclose()
            except Exception:  # noqa: BLE001 - closing a connection to a Redis that is gone
                pass


class SharedHostLimiter(AnswerRecorder):
    """``HostLimiter``'s interface (``slot``, ``record``, ``backoff``, ``answered``, ``slow_down``, ``set_floor``,
    ``report`` and its counters) on a host's budget shared through Redis (see the module's docstring).

    ``requests`` and ``backoffs`` count this process's answers and the back-offs its answers caused; ``interval``
    and ``floor`` are this caller's as of its last exchange with Redis (``max_interval`` the longest seen).
    ``backoff`` answers True when it sent a back-off (Redis applies it unless another process's back-off of the same
    round came first)."""

    def __init__(self, budget: SharedBudget, host: str, concurrency: int, rate: float, adaptive: bool):
        self._budget = budget
        self.host = host
        self.concurrency = max(1, concurrency)
        self._local = asyncio.Semaphore(self.concurrency)
        self._own_floor = 1.0 / rate if rate > 0 else 0.0
        self._adaptive_wanted = adaptive
        self.floor = self._own_floor
        self.interval = self.floor
        self.max_interval = self.interval
        self.requests = 0
        self.backoffs = 0
        self.late = 0               # reservations given up because the caller came too late to them
        self._last_backoff = 0.0        # Redis time of the host's last back-off, as last seen
        self._last_start = 0.0          # Redis time of this caller's last reserved start (0: none yet)
        self._timeouts = 0
        self._state, self._leases, self._starts = host_keys(host)

    @property
    def adaptive(self) -> bool:
        """As ``HostLimiter``: adaptivity works under a cap (a rate, or the host's Crawl-delay)."""
        return self._adaptive_wanted and self.floor > 0

    def _learn(self, interval: float, floor: float | None = None, last_backoff: float | None = None) -> None:
        if floor is not None:
            self.floor = max(self._own_floor, floor)
        self.interval = max(interval, self.floor)
        self.max_interval = max(self.max_interval, self.interval)
        if last_backoff is not None:
            self._last_backoff = max(self._last_backoff, last_backoff)

    def _at(self, sent: float) -> float:
        """A ``time.monotonic()`` of this process on the Redis clock."""
        return sent + (self._budget.offset or 0.0)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._local:
            await self._budget.settle()
            lease = uuid.uuid4().hex
            try:
                await self._take(lease)
                yield
            finally:
                self._budget.spawn(self._budget.release(self._leases, lease))

    async def _take(self, lease: str) -> None:
        """Reserve a start, sleep until it, then hold a lease on one of the host's concurrency slots and go. A full
        host (or a pause set meanwhile) gives a new start; a full host without spacing (rate 0) is polled after
        short growing sleeps."""
        b = self._budget
        adaptive = "1" if self._adaptive_wanted else "0"
        reserved = 0.0
        poll = POLL_FIRST
        late = 0
        while True:
            code, now, start, interval, crawl_delay, last_backoff = await b.run(
                "take", (self._state, self._leases, self._starts, HOSTS_KEY),
                (self._own_floor, adaptive, self.concurrency, lease, b.lease, SPACING_MARGIN, self.host,
                 STATE_TTL, COUNT_TTL, reserved, LATE_BY if late < LATE_RETRIES else 0))
            self._learn(float(interval), float(crawl_delay), float(last_backoff))
            reserved = float(start)
            if code == GO:
                self._last_start = reserved
                return
            if code == LATE:
                late += 1
                self.late += 1
            wait = reserved - float(now)
            if code == FULL:
                wait = max(wait, poll * random.uniform(0.5, 1.0))
                poll = min(poll * 2, POLL_MAX)
            await asyncio.sleep(wait)

    def backoff(self, sent: float) -> bool:
        at = self._at(sent)
        if not self.adaptive or at < self._last_backoff:
            return False
        self._budget.spawn(self._adapt("backoff", at))
        return True

    def answered(self, sent: float) -> None:
        at = self._at(sent)
        if not self.adaptive or self.interval <= self.floor or at < self._last_backoff:
            return
        self._budget.spawn(self._adapt("answered", at))

    async def _adapt(self, op: str, at: float) -> None:
        try:
            applied, interval, floor, last_backoff = await self._budget.run(
                "adapt", (self._state,), (op, at, self._own_floor, BACKOFF_START, MAX_ADAPTIVE_DELAY, RECOVERY_STEP,
                                          MIN_ADAPTIVE_DELAY, STATE_TTL))
        except BudgetError:
            return              # kept by the budget: the next slot raises it
        if applied and op == "backoff":
            self.backoffs += 1
        self._learn(float(interval), float(floor), float(last_backoff))

    def set_floor(self, seconds: float) -> None:
        """robots.txt's Crawl-delay for the host: every process keeps to it from its next reservation on."""
        self.floor = max(self.floor, seconds)
        self._learn(max(self.interval, self.floor))
        self._budget.spawn(self._set_floor(seconds))

    async def _set_floor(self, seconds: float) -> None:
        try:
            interval, floor, _ = await self._budget.run(
                "floor", (self._state,), (seconds, self._last_start, self._own_floor,
                                          "1" if self._adaptive_wanted else "0", SPACING_MARGIN, STATE_TTL))
        except BudgetError:
            return
        self._learn(float(interval), float(floor))

    def slow_down(self, seconds: float) -> None:
        """Pause the host for every process (after a 429 or 503 with Retry-After)."""
        self._budget.spawn(self._pause(seconds))

    async def _pause(self, seconds: float) -> None:
        try:
            await self._budget.run("pause", (self._state,), (seconds, STATE_TTL))
        except BudgetError:
            return

    def report(self, host: str) -> dict[str, Any]:
        """As ``HostLimiter.report``: this process's numbers for the scan statistics."""
        return {"host": host, "requests": self.requests, "backoffs": self.backoffs,
                "delay": round(self.interval, 3), "min_delay": round(self.floor, 3),
                "max_delay": round(self.max_interval, 3)}


@dataclass(frozen=True, slots=True)
class HostUsage:
    """One host's use of the shared budget, for operators (``sitewatch status``, a metrics file)."""

    host: str               # scheme://host[:port]
    requests: int           # request starts in the last ``window_s`` seconds (Redis clock), all processes
    window_s: int
    in_flight: int          # concurrency slots held now: requests in flight, all processes
    delay: float            # the host's adapted interval in seconds (0: never backed off); each site keeps its own rate
    crawl_delay: float      # robots.txt's Crawl-delay, as a scan learned it (0: none)
    paused_for: float       # seconds the host stays paused (Retry-After), 0 when not paused
    backoffs: int           # back-offs since the host's state was made (it expires STATE_TTL s after the last request)


def host_usage(redis_url: str, window_s: int = 60) -> list[HostUsage]:
    """Every host a process used in the last ``STATE_TTL`` seconds, by name: its requests in the last ``window_s``
    seconds (1 to ``USAGE_WINDOW_MAX``; the current second counts as one), slots in flight and learned state.
    Raises ``BudgetError`` (naming the Redis) when Redis cannot be reached."""
    if not 1 <= window_s <= USAGE_WINDOW_MAX:
        raise ValueError(f"window_s must be 1 to {USAGE_WINDOW_MAX} seconds, not {window_s}")
    import redis  # lazy: the fleet extra

    client = redis.Redis.from_url(redis_url, decode_responses=True, socket_connect_timeout=CONNECT_TIMEOUT,
                                  socket_timeout=COMMAND_TIMEOUT)
    try:
        secs, usecs = client.time()
        now = secs + usecs / 1e6
        hosts = sorted(str(h) for h in client.zrangebyscore(HOSTS_KEY, now - STATE_TTL, "+inf"))
        pipe = client.pipeline(transaction=False)
        for host in hosts:
            state, leases, starts = host_keys(host)
            pipe.mget([f"{starts}{s}" for s in range(int(now) - window_s + 1, int(now) + 1)])
            pipe.zcount(leases, f"({now}", "+inf")
            pipe.hmget(state, ["interval", "crawl_delay", "paused_until", "backoffs"])
        replies = pipe.execute()
    except (redis.exceptions.RedisError, OSError) as exc:
        raise _failed(redis_url, exc) from exc
    finally:
        client.close()
    out = []
    for i, host in enumerate(hosts):
        counts, in_flight, (interval, crawl_delay, paused, backoffs) = replies[3 * i: 3 * i + 3]
        out.append(HostUsage(host, sum(int(c) for c in counts if c), window_s, int(in_flight),
                             float(interval or 0), float(crawl_delay or 0),
                             max(0.0, float(paused or 0) - now), int(backoffs or 0)))
    return out
