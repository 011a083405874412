"""Ctrl-C (SIGINT) on `sitewatch scan`: the frontier is checkpointed, nothing stored is lost, --resume finishes."""

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from loopback import Answer, LoopbackSite, page

SITEWATCH = [sys.executable, "-m", "sitewatch"]


def site_routes(n: int = 120) -> dict:
    routes = {"/s/": Answer(body=page("首页", "".join(f'<a href="p{i}.html">第{i}页</a>' for i in range(n))))}
    for i in range(n):
        routes[f"/s/p{i}.html"] = Answer(body=page(f"第{i}页", f'<a href="gone{i % 7}.html">坏链</a>正文内容'),
                                         delay=0.02)
    return routes


def pages_stored(db: Path) -> int:
    """Pages stored so far; 0 while the file exists but its tables are not created yet."""
    with sqlite3.connect(db) as c:
        try:
            return c.execute("select count(*) from pages").fetchone()[0]
        except sqlite3.OperationalError:        # no such table (yet), or the schema is being written
            return 0


def test_sigint_checkpoints_and_resume_completes(tmp_path):
    db = tmp_path / "s.db"
    with LoopbackSite(site_routes()) as site:
        proc = subprocess.Popen(SITEWATCH + ["scan", site.url("/s/"), "--db", str(db), "--rate", "10",
                                             "--concurrency", "2", "--timeout", "5", "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not db.exists() or pages_stored(db) < 10):
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "--resume" in err
        with sqlite3.connect(db) as c:
            assert c.execute("pragma integrity_check").fetchone()[0] == "ok"
            status, = c.execute("select status from scans").fetchone()
            frontier = c.execute("select count(*) from frontier").fetchone()[0]
        assert status == "interrupted" and frontier > 0
        done_before = pages_stored(db)
        resumed = subprocess.run(SITEWATCH + ["scan", "--resume", "--db", str(db), "--rate", "0", "--quiet"],
                                 capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(db) as c:
        assert c.execute("select status from scans").fetchone()[0] == "completed"
        assert c.execute("select count(distinct url) from pages").fetchone()[0] == 121 > done_before
        broken = {u for (u,) in c.execute("select url from findings where rule = 'link.broken'")}
    assert broken == {site.url(f"/s/gone{i}.html") for i in range(7)}
