"""A fleet worker SIGKILLed mid-scan: another worker takes the scan over and resumes it from the stored frontier;
the findings equal those of an uninterrupted single-process scan of the same site (issue 19, acceptance).

Real processes throughout: two ``sitewatch worker`` processes on one redis-server and one PostgreSQL store, the
town site (tests/townsite.py, an independent model of a real 镇街 sub-site) in its own process."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time

import pytest

pytest.importorskip("celery", reason="the fleet extra (celery) is not installed")

from fleetsite import start_worker, stop_workers  # noqa: E402
from townsite import TODAY, TownServer  # noqa: E402

from sitewatch.config import config_from_dict  # noqa: E402
from sitewatch.fleet import jobs  # noqa: E402
from sitewatch.fleet.queue import make_app, send  # noqa: E402
from sitewatch.scan import start_scan  # noqa: E402
from sitewatch.store import JobRunRow, PageRow, Store  # noqa: E402

SCALE = 0.4          # ~2,500 pages: the kill lands well inside the crawl


def table(start_url: str) -> dict:
    return {"site": {"name": "西区办事处", "start_urls": [start_url], "as_of": TODAY},
            "politeness": {"rate": 0, "concurrency": 8, "timeout": 5, "retries": 1},
            "schedule": {"executor": "celery"}}


def comparable(findings) -> list[str]:
    return sorted(json.dumps(f.to_json(), sort_keys=True, ensure_ascii=False) for f in findings)


def wait_for(what, timeout: float, why: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:g} s waiting for {why}")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_worker_killed_mid_scan_has_its_scan_finished_by_another(sig, pg_cluster, redis_url, tmp_path):
    """SIGKILL: the worker is lost; another's watchdog finds its heartbeat gone. SIGTERM (systemd stop): the worker's
    scan checkpoints and its job ends interrupted; another worker's watchdog queues the resume."""
    db = pg_cluster.database()
    with TownServer(scale=SCALE) as srv:
        cfg = config_from_dict(table(srv.start_url), "sites.toml: sites[0]")
        reference = start_scan(cfg, Store(str(tmp_path / "reference.db")), kind="links")
        assert reference.status == "completed" and reference.stats.pages > 2000

        store = Store(db)
        workers = {name: start_worker(name, db, redis_url, tmp_path, threads=2, lease=2) for name in ("wa", "wb")}
        try:
            run_id = jobs.queue(store.engine, "西区办事处", "links", None, jobs.payload(cfg))
            send(make_app(redis_url), run_id)

            def claimed():
                with store.engine.connect() as c:
                    r = c.execute(JobRunRow.select().where(JobRunRow.c.id == run_id)).one()
                    pages = c.execute(PageRow.select().with_only_columns(PageRow.c.id)).fetchall()
                return r.worker if r.status == "running" and len(pages) >= 400 else None
            victim = wait_for(claimed, 90, "a worker to claim the scan and store 400 pages")
            os.killpg(workers[victim].pid, sig)
            assert workers[victim].wait(60) is not None      # a stopped worker exits once its scan checkpointed

            def resumed():
                with store.engine.connect() as c:
                    rows = c.execute(JobRunRow.select().order_by(JobRunRow.c.id)).all()
                return rows if rows[-1].kind == "resume" and rows[-1].status in ("ok", "failed") else None
            rows = wait_for(resumed, 180, "another worker to resume and finish the scan")
        finally:
            stop_workers(workers.values())
    survivor = ({"wa", "wb"} - {victim}).pop()
    killed, resume = rows[0], rows[-1]
    if sig == signal.SIGKILL:
        assert (killed.status, killed.worker) == ("killed", victim) and f"worker {victim} lost" in killed.detail
    else:
        assert (killed.status, killed.worker) == ("requeued", victim) and f"interrupted on {victim}" in killed.detail
    assert (resume.status, resume.worker, resume.scan_id) == ("ok", survivor, killed.scan_id), resume.detail
    scan = store.scan(resume.scan_id)
    assert scan.status == "completed" and scan.as_of == TODAY == dt.date(2026, 11, 26)
    assert comparable(store.findings(scan.id)) == comparable(reference.findings)
    assert page_urls(store, scan.id) == page_urls(Store(str(tmp_path / "reference.db")), reference.scan_id)


def page_urls(store: Store, scan_id: int) -> list[str]:
    with store.engine.connect() as c:
        return sorted(r.url for r in c.execute(PageRow.select().where(PageRow.c.scan_id == scan_id)))
