"""Leases in Redis (sitewatch.fleet.leases): one scan of a site at a time across workers, renewed while held,
gone within a lease when the holder stops renewing, and a lost lease stops the job that held it."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("redis", reason="the fleet extra (redis) is not installed")

from sitewatch.fleet.leases import Heartbeat, alive, announce, connect, job_key, site_key, workers  # noqa: E402


def test_one_holder_per_site_across_workers(redis_url):
    client = connect(redis_url)
    stop_a, stop_b = threading.Event(), threading.Event()
    with Heartbeat(client, 1, "wa", 1.0, stop_a) as a, Heartbeat(client, 2, "wb", 1.0, stop_b) as b:
        la, lb = a.site_lease("西区"), b.site_lease("西区")
        assert la.acquire(blocking=False)
        assert not lb.acquire(blocking=False)
        assert not lb.acquire(timeout=0.3)                 # waits, then gives up
        time.sleep(1.5)                                    # longer than the lease: renewed by a's heartbeat
        assert not lb.acquire(blocking=False) and not stop_a.is_set()
        assert b.site_lease("东区").acquire(blocking=False)  # another site is free
        la.release()
        assert lb.acquire(timeout=1.0)
        lb.release()
    assert alive(client, [1, 2]) == set()                  # heartbeats removed when the jobs end


def test_a_dead_holder_frees_the_site_within_a_lease(redis_url):
    client = connect(redis_url)
    client.set(site_key("西区"), "token-of-a-killed-worker", px=700)     # nobody renews it any more
    client.set(job_key(7), "w-killed", px=700)
    assert alive(client, [7, 8]) == {7}
    with Heartbeat(client, 9, "wb", 1.0, threading.Event()) as b:
        lease = b.site_lease("西区")
        assert not lease.acquire(blocking=False)
        assert lease.acquire(timeout=3.0)
        lease.release()
    assert alive(client, [7]) == set()


def test_a_lost_lease_stops_the_job_that_held_it(redis_url):
    client = connect(redis_url)
    stop = threading.Event()
    with Heartbeat(client, 1, "wa", 0.6, stop) as a:
        lease = a.site_lease("西区")
        assert lease.acquire(blocking=False)
        client.delete(site_key("西区"))                   # Redis restarted, or a pause longer than the lease
        assert stop.wait(2.0)
        lease.release()                                   # (logged, no error)


def test_workers_announce_themselves(redis_url):
    client = connect(redis_url)
    announce(client, "w1", {"host": "h", "pid": 1, "jobs": [3]}, 0.5)
    assert workers(client)["w1"]["jobs"] == [3]
    time.sleep(0.8)
    assert workers(client) == {}
