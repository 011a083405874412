"""Resuming scans: a real `sitewatch scan` killed with SIGKILL mid-crawl, then `sitewatch scan --resume`."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from loopback import Answer, LoopbackSite, page
from sitewatch.config import load_config
from sitewatch.resume import resume_scan, start_scan
from sitewatch.scan import run_scan
from sitewatch.store import Store, Target

AS_OF = dt.date(2026, 11, 26)


def portal_routes(sections: int = 10, articles: int = 29, delay: float = 0.02) -> dict[str, Answer]:
    """A portal of ``sections`` dated list pages with ``articles`` articles each, and shared broken links."""
    routes: dict[str, Answer] = {}
    nav = "".join(f"<li><a href='/s{i}/'>栏目{i}工作动态</a></li>" for i in range(sections))
    routes["/"] = Answer(200, page("某区人民政府门户网站", f"<ul>{nav}</ul><a href='/missing/home.html'>旧链接</a>"),
                         delay=delay)
    for i in range(sections):
        items = "".join(
            f"<li><a href='/s{i}/a{j}.html'>关于栏目{i}第{j}项工作的通知公告</a><span>2026-{1 + j % 9:02d}-{1 + j % 27:02d}</span></li>"
            for j in range(articles))
        routes[f"/s{i}/"] = Answer(200, page(f"栏目{i}", f"<ul class='list'>{items}</ul>",
                                             f"<meta name='ColumnName' content='栏目{i}'>"), delay=delay)
        for j in range(articles):
            body = (f"<h1>关于栏目{i}第{j}项工作的通知公告</h1><p>发布日期：2026-{1 + j % 9:02d}-{1 + j % 27:02d}</p>"
                    f"<p>{'正文内容。' * 20}</p><a href='/s{i}/'>返回栏目</a>"
                    f"<a href='/s{i}/a{(j + 1) % articles}.html'>下一篇</a><a href='/s{(i + 1) % sections}/a{j}.html'>相关</a>")
            if j % 5 == 0:
                body += f"<a href='/missing/{j % 7}.html'>失效链接</a><a href='/files/doc{i}-{j}.pdf'>附件</a>"
            routes[f"/s{i}/a{j}.html"] = Answer(200, page(f"栏目{i}第{j}项", body), delay=delay)
    return routes


def write_config(path: Path, url: str) -> Path:
    path.write_text(f"""[site]
name = "portal"
start_urls = ["{url}"]

[politeness]
concurrency = 8
rate = 0
timeout = 3
retries = 1
""", encoding="utf-8")
    return path


PAGE_RULES = ("identity.", "interaction.", "service.", "security.")


def finding_set(store: Store, scan_id: int) -> set[tuple]:
    """(rule, url, sorted found_on) of each finding. A page rule names the first page it saw and lists only the
    first pages (which come first varies even between two uninterrupted scans): it compares by its item, its
    counts and, when the list is complete, the pages."""
    out = set()
    for f in store.findings(scan_id):
        if f.rule.startswith(PAGE_RULES):
            scalars = tuple(sorted((k, v) for k, v in f.evidence.items() if isinstance(v, (int, str))))
            sampled = any(isinstance(v, int) and v > len(f.found_on) for _, v in scalars)
            out.add((f.rule, f.extra.get("item"), scalars, None if sampled else tuple(sorted(f.found_on))))
        else:
            out.add((f.rule, f.url, tuple(sorted(f.found_on))))
    return out


def sitewatch(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "sitewatch", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


def pages_stored(db: str) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as c:
            return c.execute("select count(*) from pages").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigkill_mid_crawl_then_resume_matches_an_uninterrupted_scan(tmp_path):
    with LoopbackSite(portal_routes()) as site:
        cfg_path = write_config(tmp_path / "site.toml", site.url("/"))
        cfg = load_config(cfg_path)
        base_store = Store(tmp_path / "base.db")
        baseline: list = []
        uninterrupted = threading.Thread(target=lambda: baseline.append(run_scan(cfg, base_store, as_of=AS_OF)))

        db = str(tmp_path / "killed.db")
        proc = sitewatch("scan", "--config", str(cfg_path), "--db", db, "--as-of", AS_OF.isoformat(), "-q")
        uninterrupted.start()
        deadline = time.monotonic() + 15
        while pages_stored(db) < 60 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, "the scan finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        status = sitewatch("status", "--db", db)
        out, _ = status.communicate(timeout=30)
        assert status.returncode == 0 and f"its process ({proc.pid}) has ended" in out
        with sqlite3.connect(db) as c:
            assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            status, = c.execute("select status from scans").fetchone()
            killed_pages = c.execute("select count(*) from pages").fetchone()[0]
        assert status == "running" and 60 <= killed_pages < 301

        res = sitewatch("scan", "--resume", "--config", str(cfg_path), "--db", db, "-q")
        out, err = res.communicate(timeout=30)
        assert res.returncode == 0, err
        assert "completed" in out
        uninterrupted.join(30)
    [base] = baseline
    assert base.status == "completed" and base.stats.pages == 301

    store = Store(db)
    scan = store.latest_scan("portal")
    assert scan is not None and scan.status == "completed" and scan.as_of == AS_OF
    assert finding_set(store, scan.id) == finding_set(base_store, base.scan_id)
    assert any(f.rule == "link.broken" for f in store.findings(scan.id))
    assert scan.stats["pages"] == 301
    with store.engine.connect() as c:
        urls = c.execute(Target.select().where(Target.c.scan_id == scan.id)).all()
    assert len(urls) == len({u.url for u in urls}), "a URL was checked twice"


def test_stop_checkpoints_the_frontier_and_resume_finishes(tmp_path):
    stop, armed = threading.Event(), threading.Event()
    served = itertools.count(1)

    def stop_after_20_articles(answer: Answer):
        def route(method: str, nth: int) -> Answer:
            if armed.is_set() and next(served) == 20:
                stop.set()
            return answer
        return route

    routes = portal_routes(sections=4, articles=15, delay=0.03)
    routes.update({p: stop_after_20_articles(a) for p, a in routes.items() if p.endswith(".html")})
    with LoopbackSite(routes) as site:
        cfg = load_config(write_config(tmp_path / "site.toml", site.url("/")))
        base_store = Store(tmp_path / "base.db")
        base = run_scan(cfg, base_store, as_of=AS_OF)

        store = Store(tmp_path / "stop.db")
        armed.set()
        first = start_scan(cfg, store, as_of=AS_OF, stop=stop)
        assert first.status == "interrupted"
        scan = store.scan(first.scan_id)
        assert scan.status == "interrupted" and scan.stats["checkpoint_page_id"] > 0
        with store.engine.connect() as c:
            queued = c.exec_driver_sql("select count(*) from frontier").scalar()
        assert queued > 0

        done = resume_scan(store, first.scan_id, cfg)
    assert done.status == "completed"
    assert finding_set(store, done.scan_id) == finding_set(base_store, base.scan_id)
    with store.engine.connect() as c:
        assert c.exec_driver_sql("select count(*) from frontier").scalar() == 0
        assert c.exec_driver_sql("select count(*) from pages").scalar() == base.stats.pages


def test_resume_refuses_a_scan_whose_process_is_alive(tmp_path):
    db = str(tmp_path / "live.db")
    store = Store(db)
    scan_id = store.new_scan("portal", ["http://127.0.0.1:9/"], AS_OF, {})      # run by this (living) process
    assert store.scan(scan_id).runner_state() == "alive"
    res = sitewatch("scan", "--resume", "--db", db, "-q")
    _, err = res.communicate(timeout=30)
    assert res.returncode == 2 and f"scan {scan_id} is still running (process {os.getpid()})" in err
    assert store.scan(scan_id).status == "running"
