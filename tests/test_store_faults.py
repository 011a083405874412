"""The store under faults, each named after the real failure: a scan that meets one ends cleanly (one line,
non-zero exit, the scan marked failed or interrupted), nothing hangs, and what was stored stays intact."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from loopback import Answer, LoopbackSite, page

SITEWATCH = [sys.executable, "-m", "sitewatch"]
BOUND = 60          # "does not hang": far above what any of these takes


def sitewatch_patched(patch: str, *args: str) -> list[str]:
    """A sitewatch command line run with ``patch`` (Python) applied first, e.g. a shorter lock wait."""
    return [sys.executable, "-c", f"import sys\n{patch}\nfrom sitewatch.cli import main\nsys.exit(main(sys.argv[1:]))",
            *args]


def site_routes(n: int = 30, delay: float = 0.05, links_per_page: int = 3) -> dict:
    routes = {"/s/": Answer(body=page("首页", "".join(f'<a href="p{i}.html">第{i}页</a>' for i in range(n))))}
    for i in range(n):
        links = "".join(f'<a href="p{i}-{k}.pdf">附件{k}</a>' for k in range(links_per_page))
        routes[f"/s/p{i}.html"] = Answer(body=page(f"第{i}页", links + "正文内容"), delay=delay)
    return routes


def scans(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as c:
        return c.execute("select id, status, stats from scans order by id").fetchall()


def intact(db: Path) -> None:
    """The file is sound and every stored page is a whole URL: its target row is there too."""
    with sqlite3.connect(db) as c:
        assert c.execute("pragma integrity_check").fetchone()[0] == "ok"
        orphans = c.execute("select count(*) from pages p where not exists (select 1 from targets t where "
                            "t.scan_id = p.scan_id and t.url = p.url)").fetchone()[0]
        assert orphans == 0


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("sitewatch: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_database_locked_by_another_writer_beyond_the_lock_wait_fails_the_scan(tmp_path):
    db = tmp_path / "s.db"
    held = threading.Event()
    released = threading.Event()

    def hold_the_write_lock() -> None:          # another process's long write transaction
        c = sqlite3.connect(db, timeout=30, isolation_level=None)
        c.execute("begin immediate")
        held.set()
        time.sleep(4)                           # 8 lock waits of the scan (0.5 s each)
        c.execute("rollback")
        c.close()
        released.set()

    routes = site_routes()
    p5 = routes["/s/p5.html"]

    def locking_page(_method: str, nth: int) -> Answer:
        if nth == 1:
            threading.Thread(target=hold_the_write_lock, daemon=True).start()
            held.wait(10)
        return p5

    routes["/s/p5.html"] = locking_page
    with LoopbackSite(routes) as site:
        run = subprocess.run(sitewatch_patched("import sitewatch.store as s; s.LOCK_WAIT_MS = 500", "scan",
                                               site.url("/s/"), "--db", str(db), "--rate", "0", "--concurrency", "2",
                                               "--quiet"), capture_output=True, text=True, timeout=BOUND)
        assert released.wait(10)
        assert run.returncode == 1, run.stderr
        line = one_line(run.stderr)
        assert "database is locked" in line and "scan 1 is marked failed" in line and "--resume 1" in line
        [(sid, status, stats)] = scans(db)
        assert status == "failed" and "database is locked" in json.loads(stats)["error"]
        intact(db)
        status_out = subprocess.run(SITEWATCH + ["status", "--db", str(db)], capture_output=True, text=True,
                                    timeout=BOUND)
        assert "failed" in status_out.stdout and "database: database is locked" in status_out.stdout
        resumed = subprocess.run(SITEWATCH + ["scan", "--resume", "--db", str(db), "--quiet"], capture_output=True,
                                 text=True, timeout=BOUND)
        assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(db) as c:
        assert c.execute("select status from scans").fetchone()[0] == "completed"
        assert c.execute("select count(distinct url) from pages").fetchone()[0] == 31
        assert c.execute("select count(*) from targets where url like '%.pdf'").fetchone()[0] == 90
    intact(db)


DISK_FULL = """
import sitewatch.store as s
pragmas = s._sqlite_pragmas
def limited(conn, record):
    pragmas(conn, record)
    conn.execute("PRAGMA max_page_count = 80")     # a 320 KiB disk
s._sqlite_pragmas = limited
"""


def test_disk_full_fails_the_scan_and_a_resume_with_space_finishes_it(tmp_path):
    db = tmp_path / "s.db"
    with LoopbackSite(site_routes(n=60, delay=0, links_per_page=40)) as site:
        run = subprocess.run(sitewatch_patched(DISK_FULL, "scan", site.url("/s/"), "--db", str(db), "--rate", "0",
                                               "--quiet"), capture_output=True, text=True, timeout=BOUND)
        assert run.returncode == 1, run.stderr
        line = one_line(run.stderr)
        assert "database or disk is full" in line and "marked failed" in line, line
        [(sid, status, stats)] = scans(db)
        assert status == "failed" and "full" in json.loads(stats)["error"]
        intact(db)
        with sqlite3.connect(db) as c:
            before = c.execute("select count(*) from pages").fetchone()[0]
        assert before < 61
        resumed = subprocess.run(SITEWATCH + ["scan", "--resume", "--db", str(db), "--quiet"], capture_output=True,
                                 text=True, timeout=BOUND)
        assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(db) as c:
        assert c.execute("select count(distinct url) from pages").fetchone()[0] == 61
    intact(db)


def hanging_site() -> tuple[dict, threading.Event]:
    """A site whose /s/slow.html never answers (until the test lets it)."""
    release = threading.Event()
    routes = site_routes(n=5, delay=0)
    routes["/s/"] = Answer(body=page("首页", '<a href="slow.html">慢</a>' + "".join(
        f'<a href="p{i}.html">第{i}页</a>' for i in range(5))))

    def never_answers(_method: str, _nth: int) -> Answer:
        release.wait(120)
        return Answer(body=page("慢页", "终于"))

    routes["/s/slow.html"] = never_answers
    return routes, release


def wait_for(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def scan_hanging(site: LoopbackSite, db: Path) -> subprocess.Popen[str]:
    """`sitewatch scan` of a hanging site (300 s request timeout), once a request hangs and others are done."""
    proc = subprocess.Popen(SITEWATCH + ["scan", site.url("/s/"), "--db", str(db), "--rate", "0", "--timeout", "300",
                                         "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: site.hits("/s/slow.html") >= 1 and site.hits("/s/p4.html") >= 1)
    return proc


def test_sigterm_mid_request_to_a_server_that_never_answers_checkpoints_at_once(tmp_path):
    db = tmp_path / "s.db"
    routes, release = hanging_site()
    with LoopbackSite(routes) as site:
        try:
            proc = scan_hanging(site, db)
            proc.send_signal(signal.SIGTERM)
            t0 = time.monotonic()
            _out, err = proc.communicate(timeout=BOUND)
            took = time.monotonic() - t0
        finally:
            release.set()
        assert proc.returncode == 130, err
        assert took < 30, f"SIGTERM took {took:.1f} s with a 300 s request timeout"      # bound: docs/store.md
        assert "--resume 1" in err
        [(sid, status, _stats)] = scans(db)
        with sqlite3.connect(db) as c:
            frontier = [u for (u,) in c.execute("select url from frontier")]
            stored = {u for (u,) in c.execute("select url from targets")}
        assert status == "interrupted"
        assert site.url("/s/slow.html") in frontier and site.url("/s/slow.html") not in stored
        intact(db)
        resumed = subprocess.run(SITEWATCH + ["scan", "--resume", "--db", str(db), "--quiet"], capture_output=True,
                                 text=True, timeout=BOUND)
        assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(db) as c:
        assert c.execute("select status from scans").fetchone()[0] == "completed"
        assert {u for (u,) in c.execute("select url from pages")} >= {site.url("/s/slow.html"), site.url("/s/p4.html")}


def test_second_ctrl_c_exits_at_once_while_the_first_waits_for_a_locked_database(tmp_path):
    db = tmp_path / "s.db"
    routes, release = hanging_site()
    with LoopbackSite(routes) as site:
        try:
            proc = scan_hanging(site, db)
            writer = sqlite3.connect(db, timeout=30, isolation_level=None)
            writer.execute("begin immediate")          # the checkpoint will wait for this lock (10 s, then more)
            proc.send_signal(signal.SIGINT)
            time.sleep(1)
            assert proc.poll() is None                 # the first Ctrl-C is waiting for the database
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=10)   # far less than the lock wait it cut short
        finally:
            release.set()
        writer.execute("rollback")
        writer.close()
        assert proc.returncode == 130, err
        assert "second stop signal: exiting at once" in err
        intact(db)
        [(sid, status, _stats)] = scans(db)
        assert status == "running"                     # as after a kill: status shows it ended, --resume continues
        resumed = subprocess.run(SITEWATCH + ["scan", "--resume", "--db", str(db), "--quiet"], capture_output=True,
                                 text=True, timeout=BOUND)
        assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(db) as c:
        assert c.execute("select status from scans").fetchone()[0] == "completed"
        assert c.execute("select count(distinct url) from pages").fetchone()[0] == 7


def test_a_command_run_in_process_leaves_the_signal_handlers_as_it_found_them(tmp_path):
    """After `sitewatch scan` returns, the host process (a test runner, an embedding program) has its own SIGINT
    and SIGTERM handlers back, and a child it forks gets the defaults: a forked test server that received
    SIGTERM once reported it through the parent's wakeup pipe and, the second time, ended the parent (exit 130)."""
    import multiprocessing
    import signal as sig

    from sitewatch.cli import main

    before = (sig.getsignal(sig.SIGINT), sig.getsignal(sig.SIGTERM), sig.set_wakeup_fd(-1))
    sig.set_wakeup_fd(before[2])
    with LoopbackSite({"/s/": Answer(body=page("首页", "正文"))}) as site:
        assert main(["scan", site.url("/s/"), "--db", str(tmp_path / "sw.db"), "--quiet", "--rate", "0"]) in (0, 3)
    after_fd = sig.set_wakeup_fd(-1)
    sig.set_wakeup_fd(after_fd)
    assert (sig.getsignal(sig.SIGINT), sig.getsignal(sig.SIGTERM), after_fd) == before
    ctx = multiprocessing.get_context("fork")
    for _ in range(3):                       # a forked child killed with SIGTERM dies, and this process lives on
        child = ctx.Process(target=time.sleep, args=(60,))
        child.start()
        child.terminate()
        child.join(10)
        assert child.exitcode == -sig.SIGTERM
