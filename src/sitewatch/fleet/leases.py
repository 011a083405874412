"""Leases in Redis that expire when their holder dies: one scan of a site at a time across the fleet, and the
heartbeat that tells a watchdog a claimed job still has a live worker.

Every lease is a key with a time to live (``lease`` seconds), renewed every third of it by its holder's heartbeat
thread. A SIGKILLed worker, or a lost machine, stops renewing: its keys vanish within one lease, and another
worker's watchdog takes its jobs over (``sitewatch.fleet.worker``). A site lease is redis-py's ``Lock`` (a random
token, released and extended only by its owner, atomically); when a renewal finds the lease lost (Redis restarted, a
pause longer than the lease), the job is asked to stop, so that two workers never go on scanning one site.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import redis
from redis.exceptions import LockError, RedisError

from sitewatch.errors import UsageError

log = logging.getLogger("sitewatch.fleet")

PREFIX = "sitewatch:"
DEFAULT_LEASE = 60.0            # seconds a lease outlives its holder's last heartbeat


def job_key(run_id: int) -> str:
    return f"{PREFIX}job:{run_id}"


def site_key(site: str) -> str:
    return f"{PREFIX}site:{site}"


def worker_key(name: str) -> str:
    return f"{PREFIX}worker:{name}"


def connect(url: str) -> redis.Redis:
    """A Redis client with bounded waits (a dead Redis is an error within seconds, not a hang)."""
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)


def reachable(url: str, command: str) -> redis.Redis:
    """A client of the fleet's Redis at ``url``, checked: else ``command``'s one-line error, before any work."""
    try:
        client = connect(url)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any connection or URL error is the same one-line error
        raise UsageError(f"{command}: cannot reach the broker at {url}: {exc}") from None
    return client


class SiteLease:
    """The lease on scanning one site, with the interface ``threading.Lock`` offers ``scheduler.site_lock``."""

    def __init__(self, client: redis.Redis, site: str, lease: float, beat: Heartbeat):
        self._lock = client.lock(site_key(site), timeout=lease, sleep=0.2, thread_local=False)
        self._beat = beat

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        held = bool(self._lock.acquire(blocking=blocking, blocking_timeout=None if timeout < 0 else timeout))
        if held:
            self._beat.hold(self)
        return held

    def release(self) -> None:
        self._beat.drop(self)
        try:
            self._lock.release()
        except LockError:          # expired meanwhile (the heartbeat has asked the job to stop)
            log.warning("site lease %s had expired before its release", self._lock.name)

    def renew(self) -> bool:
        try:
            return bool(self._lock.reacquire())
        except LockError:
            return False


class Heartbeat:
    """Keeps a running job's key (and the site leases it holds) alive; sets ``stop`` when a lease is lost."""

    def __init__(self, client: redis.Redis, run_id: int, worker: str, lease: float, stop: threading.Event):
        self.client, self.key, self.worker, self.lease, self.stop = client, job_key(run_id), worker, lease, stop
        self._held: list[SiteLease] = []
        self._guard = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.client.set(self.key, self.worker, px=int(self.lease * 1000))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        try:
            self.client.delete(self.key)
        except RedisError as e:      # it expires by itself
            log.warning("heartbeat %s: %s", self.key, e)

    def hold(self, lease: SiteLease) -> None:
        with self._guard:
            self._held.append(lease)

    def drop(self, lease: SiteLease) -> None:
        with self._guard:
            if lease in self._held:
                self._held.remove(lease)

    def site_lease(self, site: str) -> SiteLease:
        return SiteLease(self.client, site, self.lease, self)

    def _run(self) -> None:
        while not self._done.wait(self.lease / 3):
            try:
                self.client.set(self.key, self.worker, px=int(self.lease * 1000))
                with self._guard:
                    held = list(self._held)
                lost = [lease for lease in held if not lease.renew()]
            except RedisError as e:
                log.error("heartbeat %s: Redis unreachable (%s); the job goes on and retries", self.key, e)
                continue
            if lost:
                log.error("%s: a site lease was lost; stopping the job so that no two workers scan one site",
                          self.key)
                self.stop.set()


def alive(client: redis.Redis, run_ids: list[int]) -> set[int]:
    """The jobs among ``run_ids`` whose worker's heartbeat is still alive."""
    if not run_ids:
        return set()
    values = client.mget([job_key(i) for i in run_ids])
    return {i for i, v in zip(run_ids, values, strict=True) if v is not None}


def announce(client: redis.Redis, name: str, info: dict[str, Any], lease: float) -> None:
    """A worker's own heartbeat: who it is and what it runs, for ``sitewatch status``."""
    client.set(worker_key(name), json.dumps({**info, "seen": time.time()}), px=int(lease * 1000))


def workers(client: redis.Redis) -> dict[str, dict[str, Any]]:
    """The workers whose heartbeat is alive, by name."""
    out: dict[str, dict[str, Any]] = {}
    for key in client.scan_iter(match=worker_key("*"), count=500):
        raw = client.get(key)
        if raw is not None:
            name = (key.decode() if isinstance(key, bytes) else str(key)).removeprefix(worker_key(""))
            out[name] = json.loads(raw)
    return out
