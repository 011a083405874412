"""Issue 19's acceptance on loopback: three ``sitewatch worker`` processes scan 25 sites (20 path sub-sites of ONE
host, 5 sites on hosts of their own) from one queue into one PostgreSQL store, sharing a politeness budget per host
through Redis. From each server's own request log: no host ever sees more requests in a second than the configured
rate, nor more at once than the configured concurrency, although several workers scan the shared host together;
and every site's findings equal those of a single-process scan of it.

The sites are tests/fleetsite.py's (built from the independent town site, each with its own seed and defects)."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("celery", reason="the fleet extra (celery) is not installed")

from fleetsite import FleetServer, start_worker, stop_workers  # noqa: E402
from townsite import TODAY  # noqa: E402

from sitewatch.config import config_from_dict  # noqa: E402
from sitewatch.fleet import jobs  # noqa: E402
from sitewatch.fleet.queue import make_app, send  # noqa: E402
from sitewatch.scan import start_scan  # noqa: E402
from sitewatch.store import JobRunRow, Store  # noqa: E402

RATE = 40            # requests/s per host: ~3,000 requests to the shared host take ~75 s
CONCURRENCY = 4
WORKERS = 3
THREADS = 4          # per worker: 12 scans at once, so the shared host is scanned by several workers together


def table(name: str, start_url: str, rate: float) -> dict:
    return {"site": {"name": name, "start_urls": [start_url], "as_of": TODAY},
            "politeness": {"rate": rate, "concurrency": CONCURRENCY, "timeout": 5, "retries": 1},
            "schedule": {"executor": "celery"}}


def comparable(findings) -> list[str]:
    return sorted(json.dumps(f.to_json(), sort_keys=True, ensure_ascii=False) for f in findings)


def overlapping(rows, host_sites: set[str]) -> int:
    """The most scans of ``host_sites`` that ran at the same moment on different workers."""
    spans = [(r.started_at, r.finished_at, r.worker) for r in rows if r.site in host_sites]
    best = 0
    for start, _, _ in spans:
        best = max(best, len({w for s, e, w in spans if s <= start < e}))
    return best


@pytest.mark.timeout(600)
def test_three_workers_scan_25_sites_within_one_budget_per_host(pg_cluster, redis_url, tmp_path):
    db = pg_cluster.database()
    with FleetServer() as fleet:
        sites = fleet.sites()
        assert len(sites) == 25 and sum(s.host == fleet.city for s in sites) == 20
        reference = {}
        for s in sites:               # one process, one site after another, no budget: what each site's findings are
            cfg = config_from_dict(table(s.name, s.start_url, 0), f"reference {s.name}")
            result = start_scan(cfg, Store(str(tmp_path / "reference.db")), kind="links")
            assert result.status == "completed"
            reference[s.name] = comparable(result.findings)
        fleet.reset_log()

        store = Store(db)
        workers = [start_worker(f"w{i}", db, redis_url, tmp_path, threads=THREADS) for i in range(WORKERS)]
        started = time.monotonic()
        try:
            app = make_app(redis_url)
            for s in sites:
                cfg = config_from_dict(table(s.name, s.start_url, RATE), f"sites.toml: {s.name}")
                run_id = jobs.queue(store.engine, s.name, "links", None, jobs.payload(cfg))
                send(app, run_id)
            deadline = time.monotonic() + 480
            while time.monotonic() < deadline:
                with store.engine.connect() as c:
                    rows = c.execute(JobRunRow.select().order_by(JobRunRow.c.id)).all()
                if all(r.status not in ("queued", "running") for r in rows):
                    break
                assert all(p.poll() is None for p in workers), "a worker died"
                time.sleep(0.5)
            else:
                pytest.fail("the fleet did not finish within 480 s")
            elapsed = time.monotonic() - started
        finally:
            stop_workers(workers)
        logs = {host: fleet.log(host) for host in [fleet.city, *fleet.own_hosts]}

    assert [r.status for r in rows] == ["ok"] * 25, [(r.site, r.status, r.detail) for r in rows]
    assert len({r.worker for r in rows}) == WORKERS                  # every worker took part
    shared = {s.name for s in sites if s.host == fleet.city}
    assert overlapping(rows, shared) >= 2          # the shared host was scanned by several workers at once ...
    from fleetsite import max_in_window, max_overlap

    for host, records in logs.items():             # ... and yet saw its budget, from its own log
        assert max_in_window(records, 1.0) <= RATE, host
        # (an answer's end is logged a moment after the client may already have it: 2 ms of grace, see max_overlap)
        assert max_overlap(records, grace=0.002) <= CONCURRENCY, host
    city = logs[fleet.city]
    assert elapsed >= (len(city) - 1) / RATE      # (the budget bound the run: it could not have been faster)
    for s in sites:
        scans = [sc for sc in store.scans(s.name, kind="links") if sc.status == "completed"]
        assert len(scans) == 1
        assert comparable(store.findings(scans[0].id)) == reference[s.name], s.name
