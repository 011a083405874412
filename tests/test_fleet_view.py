"""The fleet in view: `sitewatch status --broker` and `sitewatch metrics` show live workers, jobs per worker and
status, the queue, failures and each host's budget use, from the store and Redis; label values are inert."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("celery", reason="the fleet extra (celery) is not installed")

from loopback import Answer, LoopbackSite, page  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from sitewatch.fleet.leases import announce, connect  # noqa: E402
from sitewatch.fleet.view import _label, fleet_view, metrics_text, status_lines  # noqa: E402
from sitewatch.store import JobRunRow, Store  # noqa: E402

SRC = str(Path(__file__).resolve().parents[1] / "src")
SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? (-?[0-9.e+]+|NaN)$')


def fleet_store(db: str, start_url: str, redis_url: str):
    """A scan made under the shared budget (the host's counters in Redis), and job rows of two workers."""
    from conftest import scan_site

    result, store = scan_site(start_url, db, rate=50, shared_budget=redis_url)
    assert result.status == "completed"
    now = dt.datetime.now()
    with store.engine.begin() as c:
        for site, kind, status, worker in [("西区", "links", "ok", "w1"), ("西区", "probe", "ok", "w1"),
                                           ("东区", "links", "failed", "w2"), ("东区", "monthly", "killed", "w2"),
                                           ("南区", "links", "running", "w1"), ("北区", "links", "queued", None)]:
            c.execute(insert(JobRunRow).values(job_id=f"{site}:{kind}", site=site, kind=kind, started_at=now,
                                               queued_at=now, status=status, worker=worker, detail=""))
    announce(connect(redis_url), "w1", {"host": "node-1", "pid": 42, "jobs": [5]}, 30)
    return store


def test_status_and_metrics_show_the_fleet(tmp_path, redis_url):
    routes = {"/": Answer(body=page("首页", "".join(f'<a href="/p{i}.html">p{i}</a>' for i in range(12))))}
    routes |= {f"/p{i}.html": Answer(body=page(f"第{i}页", '<a href="/">首页</a>')) for i in range(12)}
    with LoopbackSite(routes) as site:
        db = str(tmp_path / "sw.db")
        store = fleet_store(db, site.url("/"), redis_url)
        host = site.base.split("://", 1)[1]
    view = fleet_view(store.engine, redis_url)
    assert set(view.workers) == {"w1"} and view.queued == 1 and view.broker_queue == 0
    assert view.jobs["w1"] == {"ok": 2, "running": 1} and view.jobs["w2"] == {"failed": 1, "killed": 1}
    assert view.failures == {("东区", "links"): 1, ("东区", "monthly"): 1}
    [use] = [h for h in view.hosts if host in h.host]
    assert use.rate * 60 >= 13 and use.in_flight == 0         # the 13 pages' requests (and robots.txt) counted
    lines = "\n".join(status_lines(view))
    assert "1 worker(s) alive, 1 job(s) queued" in lines
    assert "worker w1: alive on node-1 (pid 42), running job(s) 5; last 24 h: ok 2, running 1" in lines
    assert "worker w2: not seen (stopped or lost); last 24 h: failed 1, killed 1" in lines
    assert f"{host}" in lines and "requests/s" in lines
    text = metrics_text(view)
    for line in text.splitlines():
        assert line.startswith("# ") or SAMPLE.match(line), line
    assert "sitewatch_workers_alive 1.0" in text and "sitewatch_queue_depth 1.0" in text
    assert 'sitewatch_jobs{worker="w2",status="killed"} 1.0' in text
    assert f'sitewatch_host_in_flight{{host="http://{host}"}} 0.0' in text or host in text

    def run(*args):
        code = f"import sys; sys.path.insert(0, {SRC!r}); from sitewatch.cli import main; sys.exit(main({list(args)!r}))"
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    out = run("status", "--db", db, "--broker", redis_url)
    assert out.returncode == 0 and "fleet: 1 worker(s) alive" in out.stdout, out.stderr
    assert "latest scan" in out.stdout                          # and every site's block
    out = run("status", "--db", db, "--broker", redis_url, "--fleet")
    assert out.returncode == 0 and "fleet: 1 worker(s) alive" in out.stdout and "latest scan" not in out.stdout
    prom = tmp_path / "m" / "sitewatch.prom"
    prom.parent.mkdir()
    out = run("metrics", "--db", db, "--broker", redis_url, "--out", str(prom))
    assert out.returncode == 0 and prom.read_text() .startswith("# HELP sitewatch_workers_alive"), out.stderr
    out = run("metrics", "--db", db, "--out", str(tmp_path / "nowhere" / "x.prom"))
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_a_single_office_status_shows_no_fleet(tmp_path):
    from sitewatch.commands.status import fleet_lines

    store = Store(str(tmp_path / "sw.db"))
    assert fleet_lines(store.engine, None) == []


def test_label_values_are_inert():
    assert _label('a"b\\c\nd\x1b[31m\u202e') == 'a\\"b\\\\c\\\\x0ad\\\\x1b[31m\\\\u202e'
