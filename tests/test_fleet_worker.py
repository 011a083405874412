"""Fleet jobs and their watchdog (sitewatch.fleet): a job runs once whatever the broker redelivers, a failing job
ends failed and is not retried, a lost worker's job is taken over exactly once, a job that keeps losing its workers
is given up with its scan marked failed, and a scheduler with executor celery queues instead of running.

Against a real redis-server (conftest ``redis_url``) and the store on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("celery", reason="the fleet extra (celery) is not installed")

from sitewatch.config import config_from_dict  # noqa: E402
from sitewatch.fleet import jobs  # noqa: E402
from sitewatch.fleet import worker as fleet  # noqa: E402
from sitewatch.fleet.leases import connect, job_key  # noqa: E402
from sitewatch.store import JobRunRow, Store  # noqa: E402

SRC = str(Path(__file__).resolve().parents[1] / "src")
TABLE = {"site": {"name": "东区办事处", "start_urls": ["http://127.0.0.1:9/dq/"], "as_of": dt.date(2026, 11, 26)},
         "politeness": {"rate": 4, "concurrency": 2},
         "disclosures": {"approvals": {"budget": {"2026": dt.date(2026, 3, 1)}}},
         "schedule": {"executor": "celery", "lookback_days": 10}}


def context(store_db: str, redis_url: str, name: str = "w1", **kw) -> fleet.WorkerContext:
    return fleet.WorkerContext(name=name, db=store_db, broker=redis_url, store=Store(store_db),
                               client=connect(redis_url), app=fleet.make_app(redis_url), lease=2.0, **kw)


def queued(ctx: fleet.WorkerContext, kind: str = "links", scan_id: int | None = None, attempt: int = 1) -> int:
    cfg = config_from_dict(TABLE, "sites.toml: sites[0]")
    run_id = jobs.queue(ctx.store.engine, "东区办事处", kind, scan_id, jobs.payload(cfg, attempt))
    assert run_id is not None
    return run_id


def row(ctx: fleet.WorkerContext, run_id: int):
    with ctx.store.engine.connect() as c:
        return c.execute(JobRunRow.select().where(JobRunRow.c.id == run_id)).one()


def job_rows(ctx: fleet.WorkerContext) -> list:
    with ctx.store.engine.connect() as c:
        return c.execute(JobRunRow.select().order_by(JobRunRow.c.id)).all()


def test_a_job_payload_rebuilds_the_same_config_on_any_machine():
    cfg = config_from_dict(TABLE, "sites.toml: sites[0]")
    data = json.loads(json.dumps(jobs.payload(cfg)))          # as the store keeps it
    again = jobs.site_config(data)
    assert again.to_json() == cfg.to_json() and again.as_of == cfg.as_of == dt.date(2026, 11, 26)
    assert again.schedule == cfg.schedule and again.source == cfg.source
    assert again.disclosures["approvals"] == {"budget": {"2026": "2026-03-01"}}
    bad = {**data, "table": {**data["table"], "politeness": {"rate": -1}}}       # a payload is input: validated
    with pytest.raises(Exception, match="rate must be"):
        jobs.site_config(bad)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_redelivered_message_never_runs_a_job_twice(backend, request, tmp_path, redis_url, monkeypatch):
    db = str(tmp_path / "sw.db") if backend == "sqlite" else request.getfixturevalue("pg_cluster").database()
    calls = []

    def action(rt, site, scan_id):
        calls.append((site, rt.sites[site].rate, rt.sites[site].shared_budget))
        return "ok", "done", None
    monkeypatch.setattr(fleet, "DEFAULT_ACTIONS", {"links": action})
    ctx = context(db, redis_url)
    run_id = queued(ctx)
    assert fleet.run(ctx, run_id) == "ok"
    assert fleet.run(ctx, run_id) == "ignored"                                  # the broker gave it again
    assert fleet.run(context(db, redis_url, "w2"), run_id) == "ignored"        # ... to another worker
    assert calls == [("东区办事处", 4, redis_url)]        # the fleet's budget is the scan's politeness
    r = row(ctx, run_id)
    assert (r.status, r.worker, r.detail) == ("ok", "w1", "done")
    assert connect(redis_url).get(job_key(run_id)) is None                     # its heartbeat is gone


def test_a_job_held_by_a_live_worker_is_not_run_again(store_db, redis_url, monkeypatch):
    monkeypatch.setattr(fleet, "DEFAULT_ACTIONS", {"links": lambda rt, site, scan_id: ("ok", "", None)})
    ctx = context(store_db, redis_url)
    run_id = queued(ctx)
    connect(redis_url).set(job_key(run_id), "w0", px=5000)     # claimed a moment ago by w0, row not yet updated
    assert fleet.run(ctx, run_id) == "ignored"
    assert row(ctx, run_id).status == "queued"


def test_a_failing_job_ends_failed_with_its_error_and_is_never_retried(store_db, redis_url, monkeypatch):
    def boom(rt, site, scan_id):
        raise RuntimeError("disk full")
    monkeypatch.setattr(fleet, "DEFAULT_ACTIONS", {"links": boom})
    ctx = context(store_db, redis_url)
    run_id = queued(ctx)
    assert fleet.run(ctx, run_id) == "failed"
    r = row(ctx, run_id)
    assert r.status == "failed" and r.detail == "RuntimeError: disk full"
    assert fleet.run(ctx, run_id) == "ignored"
    assert fleet.watch_once(ctx) == []            # a failed job is not a lost one


def test_an_unknown_kind_or_a_broken_payload_fails_cleanly(store_db, redis_url):
    ctx = context(store_db, redis_url)
    run_id = jobs.queue(ctx.store.engine, "x", "links", None, {"source": "s", "table": {"site": {"unit": 3}}})
    assert fleet.run(ctx, run_id) == "failed"
    assert "the job's config is not valid" in row(ctx, run_id).detail


def running_scan(ctx: fleet.WorkerContext, attempt: int = 1, worker: str = "w0") -> tuple[int, int]:
    """A fleet link scan in progress on ``worker``: its scan row and its job row (claimed, no heartbeat)."""
    scan_id = ctx.store.new_scan("东区办事处", ["http://127.0.0.1:9/dq/"], dt.date(2026, 11, 26), {}, kind="links")
    run_id = queued(ctx, attempt=attempt)
    assert jobs.claim(ctx.store.engine, run_id, worker) is not None
    return scan_id, run_id


def test_a_lost_workers_scan_is_resumed_by_exactly_one_watchdog(store_db, redis_url):
    a, b = context(store_db, redis_url, "w1"), context(store_db, redis_url, "w2")
    scan_id, run_id = running_scan(a)
    connect(redis_url).set(job_key(run_id), "w0", px=60_000)            # w0 is alive: nothing to do
    assert fleet.watch_once(a) == [] and row(a, run_id).status == "running"
    connect(redis_url).delete(job_key(run_id))                         # w0's heartbeat stopped
    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda c=c: results.append(fleet.watch_once(c))) for c in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    new = [i for r in results for i in r]
    assert len(new) == 1
    dead, resume = row(a, run_id), row(a, new[0])
    assert dead.status == "killed" and "worker w0 lost" in dead.detail and dead.scan_id == scan_id
    assert (resume.kind, resume.scan_id, resume.status, resume.payload["attempt"]) == ("resume", scan_id, "queued", 2)
    assert connect(redis_url).llen(fleet.QUEUE) == 1                    # and its message is on the queue


def test_a_scan_that_keeps_losing_its_workers_is_given_up_as_failed(store_db, redis_url):
    ctx = context(store_db, redis_url, max_attempts=3)
    scan_id, run_id = running_scan(ctx, attempt=3)
    assert fleet.watch_once(ctx) == []
    assert row(ctx, run_id).status == "killed" and "given up after 3 lost workers" in row(ctx, run_id).detail
    scan = ctx.store.scan(scan_id)
    assert scan.status == "failed" and "given up" in scan.stats["error"]
    assert [r.status for r in job_rows(ctx)] == ["killed"]                 # nothing queued again: no loop


def test_an_interrupted_scan_is_requeued_once_and_a_job_lost_before_its_scan_runs_again(store_db, redis_url):
    ctx = context(store_db, redis_url)
    scan_id, run_id = running_scan(ctx)
    ctx.store.finish_scan(scan_id, "interrupted", {})
    jobs.finish(ctx.store.engine, run_id, "interrupted", "stopped; frontier checkpointed", scan_id)
    first, second = fleet.watch_once(ctx), fleet.watch_once(ctx)
    assert len(first) == 1 and second == []
    assert row(ctx, run_id).status == "requeued"
    assert (row(ctx, first[0]).kind, row(ctx, first[0]).payload["attempt"]) == ("resume", 1)   # a stop is no loss
    ctx.store.finish_scan(scan_id, "completed", {})
    jobs.finish(ctx.store.engine, first[0], "ok", "", scan_id)            # (as if the resume ran)
    lost = queued(ctx, kind="monthly")
    jobs.claim(ctx.store.engine, lost, "w0")                               # died before creating its scan
    again = fleet.watch_once(ctx)
    assert len(again) == 1 and (row(ctx, again[0]).kind, row(ctx, again[0]).scan_id) == ("monthly", None)


def test_a_celery_scheduler_queues_jobs_instead_of_running_them(tmp_path, redis_url):
    from sitewatch.scheduler import SiteScheduler, run_job

    table = {**TABLE, "schedule": {"executor": "celery", "monthly": False}}
    cfgs = [config_from_dict({**table, "site": {**table["site"], "name": n}}, f"s[{i}]") for i, n in enumerate("ab")]
    sched = SiteScheduler(str(tmp_path / "sw.db"), cfgs, broker=redis_url)
    assert sched.executor == "celery"
    ran = []
    sched.runtime.actions = {k: (lambda *a, k=k: ran.append(k) or ("ok", "", None)) for k in sched.runtime.actions}
    sched.start(run_now=["links"])
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=20)
        while connect(redis_url).llen(fleet.QUEUE) < 2 and dt.datetime.now() < deadline:
            threading.Event().wait(0.1)
        run_job("a", "links")         # due again while the first is still queued: its message again, no new row
    finally:
        sched.shutdown()
    store = Store(str(tmp_path / "sw.db"))
    with store.engine.connect() as c:
        rows = c.execute(JobRunRow.select().where(JobRunRow.c.kind == "links")).all()
    assert sorted((r.site, r.status) for r in rows) == [("a", "queued"), ("b", "queued")]
    assert ran == [] and connect(redis_url).llen(fleet.QUEUE) == 3
    assert jobs.site_config(rows[0].payload).schedule["executor"] == "celery"


def test_mixed_executors_in_one_config_are_refused(tmp_path):
    from sitewatch.errors import ConfigError
    from sitewatch.scheduler import SiteScheduler

    a = config_from_dict({**TABLE, "site": {**TABLE["site"], "name": "a"}}, "s[0]")
    b = config_from_dict({**TABLE, "site": {**TABLE["site"], "name": "b"}, "schedule": {}}, "s[1]")
    with pytest.raises(ConfigError, match="same executor"):
        SiteScheduler(str(tmp_path / "sw.db"), [a, b])


def sitewatch(*args: str, env: dict | None = None, pre: str = "") -> subprocess.CompletedProcess:
    code = f"import sys; sys.path.insert(0, {SRC!r}); {pre}from sitewatch.cli import main; sys.exit(main({list(args)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)


def test_worker_errors_are_one_line_before_any_work(tmp_path):
    from loopback import refused_port

    dead = f"redis://127.0.0.1:{refused_port()}/0"
    out = sitewatch("worker", "--db", str(tmp_path / "sw.db"), "--broker", dead)
    assert out.returncode == 2 and out.stderr.startswith(f"sitewatch: error: worker: cannot reach the broker at {dead}")
    assert len(out.stderr.strip().splitlines()) == 1
    out = sitewatch("worker", "--threads", "0")
    assert out.returncode == 2 and "--threads must be 1..256" in out.stderr
    out = sitewatch("worker", "--db", str(tmp_path / "sw.db"), pre="sys.modules['celery'] = None; ")
    assert out.returncode == 2 and 'pip install "sitewatch[fleet]"' in out.stderr
    cfg = tmp_path / "s.toml"
    cfg.write_text('[site]\nstart_urls = ["http://127.0.0.1:9/"]\n[schedule]\nexecutor = "celery"\n')
    out = sitewatch("schedule", "--config", str(cfg), "--db", str(tmp_path / "sw.db"), "--broker", dead)
    assert out.returncode == 2 and "schedule: cannot reach the broker" in out.stderr
    cfg.write_text('[site]\nstart_urls = ["http://127.0.0.1:9/"]\n[schedule]\nexecutor = "celeri"\n')
    out = sitewatch("schedule", "--config", str(cfg), "--db", str(tmp_path / "sw.db"))
    assert out.returncode == 2 and "executor: must be one of local, celery" in out.stderr


def test_old_job_runs_are_pruned_but_each_jobs_last_run_and_live_ones_stay(tmp_path):
    from sqlalchemy import insert

    from sitewatch.scheduler import last_runs, prune_job_runs

    store = Store(str(tmp_path / "sw.db"))
    now = dt.datetime(2026, 12, 5, 12, 0)
    old = now - dt.timedelta(days=200)
    rows = [("a:probe", "ok", old), ("a:probe", "down", old), ("a:probe", "ok", now),       # 2 old, pruned
            ("b:probe", "ok", old),                                                         # b's last: kept
            ("a:links", "running", old), ("a:links", "queued", old)]                        # live: kept
    with store.engine.begin() as c:
        for job_id, status, at in rows:
            site, _, kind = job_id.partition(":")
            c.execute(insert(JobRunRow).values(job_id=job_id, site=site, kind=kind, started_at=at, status=status,
                                               detail=""))
    assert prune_job_runs(store.engine, 90, now) == 2
    with store.engine.connect() as c:
        left = c.execute(JobRunRow.select().order_by(JobRunRow.c.id)).all()
    assert [(r.job_id, r.status) for r in left] == [("a:probe", "ok"), ("b:probe", "ok"), ("a:links", "running"),
                                                    ("a:links", "queued")]
    assert {k: r.status for k, r in last_runs(store.engine).items()} == {"a:probe": "ok", "b:probe": "ok",
                                                                         "a:links": "queued"}


def test_a_scan_resumed_by_another_worker_keeps_to_the_shared_budget(tmp_path):
    from sitewatch.resume import resume_settings

    cfg = config_from_dict(TABLE, "sites.toml: sites[0]")
    store = Store(str(tmp_path / "sw.db"))
    scan = store.scan(store.new_scan(cfg.name, cfg.start_urls, dt.date(2026, 11, 26), cfg.to_json(), kind="links"))
    cfg.shared_budget = "redis://10.0.0.5:6379/0"               # the worker that resumes it
    resumed, kept = resume_settings(scan, cfg)
    assert resumed.shared_budget == "redis://10.0.0.5:6379/0" and kept == []
