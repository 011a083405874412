"""The scheduler: persisted jobs across restarts, missed runs, per-site scan locks, stop and resume."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from loopback import LoopbackSite
from sqlalchemy import select, update
from test_resume import AS_OF, finding_set, portal_routes

import sitewatch.scheduler as sched_mod
from sitewatch.config import config_from_dict
from sitewatch.errors import ConfigError
from sitewatch.scan import ScanResult, run_scan
from sitewatch.scheduler import SiteScheduler, job_runs, schedule_settings
from sitewatch.store import PageRow, ScanRow, Store

UTC = dt.UTC


def site_cfg(name: str, url: str = "http://127.0.0.1:9/", concurrency: int = 8, **schedule):
    return config_from_dict({"site": {"name": name, "start_urls": [url]},
                             "politeness": {"rate": 0, "concurrency": concurrency, "timeout": 3, "retries": 1},
                             "schedule": schedule}, f"{name}.toml")


def wait_for(cond, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def counting_actions(calls: list):
    def action(kind):
        def run(rt, site, scan_id):
            calls.append((site, kind))
            return "ok", "", None
        return run
    return {k: action(k) for k in ("probe", "links", "monthly", "lookback", "resume")}


def stored_job_ids(db: str) -> list[str]:
    """The sites' stored jobs (the scheduler's own housekeeping, ``sitewatch:*``, apart)."""
    with Store(db).engine.connect() as c:
        return sorted(r[0] for r in c.exec_driver_sql("select id from apscheduler_jobs")
                      if not r[0].startswith("sitewatch:"))


def test_settings_defaults_and_errors():
    s = schedule_settings(site_cfg("a"))
    assert (s.probe_every_minutes, s.monthly, s.link_scan, s.lookback_days) == (30.0, "0 2 1 * *", "0 3 * * 6", 15)
    assert schedule_settings(site_cfg("a", link_scan=False)).link_scan == ""
    with pytest.raises(ConfigError, match="monthly"):
        schedule_settings(site_cfg("a", monthly="every month"))
    with pytest.raises(ConfigError, match="unknown key"):
        schedule_settings(site_cfg("a", probes=3))


def test_missed_job_runs_once_after_restart(db):
    calls: list = []
    cfgs = [site_cfg("a", probe_every_minutes=60), site_cfg("b", link_scan=False)]
    first = SiteScheduler(db, cfgs, actions=counting_actions(calls))
    first.start(paused=True)
    ids = [j.id for j in first.jobs()]
    assert sorted(ids) == ["a:links", "a:monthly", "a:probe", "b:monthly", "b:probe"]
    past = dt.datetime.now(UTC)
    first.scheduler.modify_job("a:monthly", next_run_time=past - dt.timedelta(days=40))   # two monthly runs missed
    first.scheduler.modify_job("a:probe", next_run_time=past - dt.timedelta(hours=5))     # five probes missed
    first.shutdown()
    assert calls == []

    second = SiteScheduler(db, cfgs, actions=counting_actions(calls))
    second.start()
    try:
        assert wait_for(lambda: len(calls) >= 2)
        time.sleep(1.0)
        assert sorted(calls) == [("a", "monthly"), ("a", "probe")]
        now = dt.datetime.now(UTC)
        assert all(j.next_run_time > now for j in second.jobs())
    finally:
        second.shutdown()
    assert stored_job_ids(db) == sorted(ids)
    with Store(db).engine.connect() as c:
        runs = c.execute(select(job_runs.c.job_id, job_runs.c.status)).all()
    assert sorted(runs) == [("a:monthly", "ok"), ("a:probe", "ok")]


def test_restart_keeps_one_job_per_id_and_follows_the_config(db):
    first = SiteScheduler(db, [site_cfg("a"), site_cfg("b")], actions=counting_actions([]))
    first.start()
    nxt = {j.id: j.next_run_time for j in first.jobs()}
    first.shutdown()
    second = SiteScheduler(db, [site_cfg("a", link_scan=False, monthly="0 4 2 * *")], actions=counting_actions([]))
    second.start()
    try:
        jobs = {j.id: j for j in second.jobs()}
        assert sorted(jobs) == ["a:monthly", "a:probe"]
        assert jobs["a:probe"].next_run_time == nxt["a:probe"]          # unchanged trigger keeps its time
        assert (jobs["a:monthly"].next_run_time.day, jobs["a:monthly"].next_run_time.hour) == (2, 4)
        assert jobs["a:monthly"].misfire_grace_time >= 28 * 86400
    finally:
        second.shutdown()
    assert stored_job_ids(db) == ["a:monthly", "a:probe"]


def test_one_scheduler_per_database(store_db, tmp_path):
    """On SQLite a file lock next to the database, on PostgreSQL an advisory lock: another process's scheduler
    is refused while one runs, and starts once it has shut down."""
    config = tmp_path / "a.toml"
    config.write_text('[site]\nname = "a"\nstart_urls = ["http://127.0.0.1:9/"]\n[schedule]\nlink_scan = false\n'
                      'monthly = false\nprobe_every_minutes = 600\n', encoding="utf-8")
    command = [sys.executable, "-m", "sitewatch", "schedule", "--config", str(config), "--db", store_db]
    first = SiteScheduler(store_db, [site_cfg("a")], actions=counting_actions([]))
    first.start()
    try:
        refused = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2, refused.stderr
        assert "another scheduler is already running" in refused.stderr
    finally:
        first.shutdown()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = ""
        while "next run" not in seen and (line := proc.stderr.readline()):   # started: it holds the lock now
            seen += line
        assert "next run" in seen and proc.poll() is None, seen
    finally:
        proc.send_signal(2)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def test_overlapping_triggers_never_run_two_scans_of_a_site(db, monkeypatch):
    active: dict[str, int] = {}
    peak: dict[str, int] = {}
    started: list = []
    guard = threading.Lock()

    def fake_scan(cfg, store, *, kind="full", as_of=None, stop=None, progress=None):
        with guard:
            active[cfg.name] = active.get(cfg.name, 0) + 1
            peak[cfg.name] = max(peak.get(cfg.name, 0), active[cfg.name])
            started.append((cfg.name, kind))
        time.sleep(0.8)
        with guard:
            active[cfg.name] -= 1
        return ScanResult(len(started), None, [], dt.date.today(), "completed")

    monkeypatch.setattr(sched_mod, "start_scan", fake_scan)
    monkeypatch.setattr(sched_mod, "_scan_outcome", lambda r: ("ok", "", r.scan_id))
    monkeypatch.setattr(sched_mod, "after_audit", lambda rt, site, store, scan_id: "")
    s = SiteScheduler(db, [site_cfg("a"), site_cfg("b")])
    s.start(paused=True)
    try:
        now = dt.datetime.now(UTC)
        for job_id in ("a:links", "a:monthly", "b:links", "b:monthly"):
            s.scheduler.modify_job(job_id, next_run_time=now)
        s.scheduler.resume()
        # each site's audit runs once (after its link scan, or with the link scan skipped): both done, none active
        assert wait_for(lambda: started.count(("a", "full")) == 1 and started.count(("b", "full")) == 1
                        and not any(active.values()), 20), started
        time.sleep(1.0)
    finally:
        s.shutdown()
    assert peak == {"a": 1, "b": 1}
    with Store(db).engine.connect() as c:
        runs = {r.job_id: r.status for r in c.execute(select(job_runs))}
    for site in "ab":
        assert runs[f"{site}:monthly"] == "ok"        # the monthly audit waits for a running link scan
        assert runs[f"{site}:links"] in ("ok", "skipped")   # a link scan is skipped while another scan runs
        assert started.count((site, "full")) == 1


def test_stop_checkpoints_a_running_audit_and_the_next_start_resumes_it(tmp_path, store_db):
    db = store_db
    with LoopbackSite(portal_routes(sections=4, articles=15, delay=0.05)) as site:
        cfg = site_cfg("portal", site.url("/"), concurrency=2, report_dir=str(tmp_path / "out"), lookback_days=3)
        cfg.as_of = AS_OF
        base_store = Store(tmp_path / "base.db")
        base = run_scan(cfg, base_store, as_of=AS_OF)
        store = Store(db)

        first = SiteScheduler(db, [cfg])
        first.start(["monthly"])
        try:
            assert wait_for(lambda: store.count(PageRow, 1) >= 10, 10)
        finally:
            first.shutdown()
        scan = store.scan(1)
        assert scan.status == "interrupted"
        with store.engine.connect() as c:
            assert c.exec_driver_sql("select count(*) from frontier").scalar() > 0

        second = SiteScheduler(db, [cfg])
        second.start()
        try:
            assert wait_for(lambda: store.scan(1).status == "completed", 15)
            assert wait_for(lambda: second.scheduler.get_job("portal:lookback") is not None, 10)
        finally:
            second.shutdown()
    assert finding_set(store, 1) == finding_set(base_store, base.scan_id)
    assert len(store.scans("portal", kind=None)) == 1
    assert any(p.suffix == ".html" for p in (tmp_path / "out").rglob("*"))
    with store.engine.connect() as c:
        runs = [(r.job_id, r.status) for r in c.execute(select(job_runs).order_by(job_runs.c.id))]
    assert runs[0] == ("portal:monthly", "interrupted") and ("portal:resume", "ok") in runs


def test_a_look_back_prevented_by_a_stop_is_planned_at_the_next_start(db, monkeypatch):
    monkeypatch.setattr(sched_mod, "write_reports", lambda store, scan, out: [])
    store = Store(db)
    scan_id = store.new_scan("a", ["http://127.0.0.1:9/"], AS_OF, {})
    store.finish_scan(scan_id, "completed", {})

    def audit(rt, site, _):
        rt.stop.set()                      # the scheduler is stopping when the audit ends
        return "ok", sched_mod.after_audit(rt, site, store, scan_id), scan_id

    first = SiteScheduler(db, [site_cfg("a", lookback_days=2)], actions={"monthly": audit})
    first.start(["monthly"])
    assert wait_for(lambda: first.stop.is_set())
    first.shutdown()
    second = SiteScheduler(db, [site_cfg("a", lookback_days=2)], actions=counting_actions([]))
    second.start()
    try:
        job = second.scheduler.get_job("a:lookback")
        assert job is not None and job.args == ("a", "lookback", scan_id)
        assert job.next_run_time - dt.datetime.now(UTC) > dt.timedelta(days=1)
    finally:
        second.shutdown()


def test_a_scan_left_running_by_a_killed_process_is_resumed_one_still_running_is_not(db):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store = Store(db)
    for site, pid in (("a", dead.pid), ("b", os.getpid())):
        scan_id = store.new_scan(site, ["http://127.0.0.1:9/"], dt.date(2026, 11, 27), {})
        with store.engine.begin() as c:
            c.execute(update(ScanRow).where(ScanRow.c.id == scan_id).values(
                stats={"runner": {"host": socket.gethostname(), "pid": pid}}))
    assert [s.runner_state() for s in store.scans(kind=None)] == ["gone", "alive"]
    calls: list = []
    s = SiteScheduler(db, [site_cfg("a"), site_cfg("b")], actions=counting_actions(calls))
    s.start()
    try:
        assert wait_for(lambda: ("a", "resume") in calls)
        time.sleep(0.5)
        assert ("b", "resume") not in calls
    finally:
        s.shutdown()


def links_runs_done(store: Store) -> int:
    with store.engine.connect() as c:
        return len(c.execute(select(job_runs.c.id).where(job_runs.c.job_id == "portal:links",
                                                         job_runs.c.status == "ok")).all())


def test_keep_scans_prunes_the_details_of_older_scans_after_each_link_scan(tmp_path):
    db = str(tmp_path / "s.db")
    with LoopbackSite(portal_routes(sections=2, articles=5)) as site:
        cfg = site_cfg("portal", site.url("/"), concurrency=4, keep_scans=2, link_scan="0 3 * * 6", monthly=False)
        store = Store(db)
        for round_ in range(1, 4):
            s = SiteScheduler(db, [cfg])
            s.start(["links"])
            try:
                assert wait_for(lambda round_=round_: links_runs_done(store) == round_, 30)
            finally:
                s.shutdown()
    scans = store.scans("portal", kind=None)
    assert [x.kind for x in scans] == ["links"] * 3
    assert "details_pruned" in scans[0].stats and store.count(PageRow, scans[0].id) == 0
    assert all("details_pruned" not in x.stats and store.count(PageRow, x.id) > 0 for x in scans[1:])
    with store.engine.connect() as c:
        details = [r.detail for r in c.execute(select(job_runs.c.detail).order_by(job_runs.c.id))]
    assert details[-1].endswith("details of 1 older scan(s) pruned") and "pruned" not in details[0]
    with pytest.raises(ConfigError, match="keep_scans"):
        schedule_settings(site_cfg("a", keep_scans=-1))
