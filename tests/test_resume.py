"""Resuming scans: a real `sitewatch scan` killed with SIGKILL mid-crawl, then `sitewatch scan --resume`."""

from __future__ import annotations

import contextlib
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

import pytest
from loopback import Answer, LoopbackSite, page

from sitewatch.config import load_config
from sitewatch.scan import resume_scan, run_scan, start_scan
from sitewatch.store import Store, TargetRow

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
    # 80 ms a page (~3 s a crawl): the store writes about once a second, so the kill lands mid-crawl even when a
    # loaded machine (the whole suite in parallel) lets the first write come late; at 20 ms it once came at the end
    with LoopbackSite(portal_routes(delay=0.08)) as site:
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
        urls = c.execute(TargetRow.select().where(TargetRow.c.scan_id == scan.id)).all()
    assert len(urls) == len({u.url for u in urls}), "a URL was checked twice"


def test_stop_checkpoints_the_frontier_and_resume_finishes(tmp_path, store_db):
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

        store = Store(store_db)
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


# --- the settings of a resumed scan ------------------------------------------------------------------------------

def full_config(tmp_path: Path) -> Path:
    """A site config that sets every stored setting away from its default."""
    path = tmp_path / "full.toml"
    path.write_text("""[site]
name = "full"
start_urls = ["http://127.0.0.1:9/zj/"]
unit = "办公室"

[scope]
prefixes = ["/zj/", "/zj2/"]
extra_hosts = ["static.example.gov.cn"]
excludes = ["\\\\.zip$"]

[politeness]
concurrency = 2
rate = 1.5
timeout = 4
retries = 3
robots = false
user_agent = "Mozilla/5.0 (sitewatch audit)"
verify_tls = false

[crawl]
max_pages = 500
max_depth = 6
max_query_variants = 7

[columns."工作动态"]
category = "dynamic"
unit = "党政办"
max_age_days = 10

[disclosures.approvals.budget]
2026 = 2026-02-10

[rules.overrides]
"link.broken" = { severity = "minor" }

[list_engines]
"http://127.0.0.1:9/zj/xxgk/" = "hanweb"
""", encoding="utf-8")
    return path


def interrupted_scan(store: Store, cfg) -> int:
    scan_id = store.new_scan(cfg.name, cfg.start_urls, AS_OF, cfg.to_json())
    with store.engine.begin() as c:
        c.exec_driver_sql("update scans set status = 'interrupted' where id = ?", (scan_id,))
    return scan_id


def test_a_stored_scan_keeps_every_setting_of_its_config(tmp_path):
    from dataclasses import fields

    from sitewatch.config import SiteConfig
    from sitewatch.resume import config_from_scan

    cfg = load_config(full_config(tmp_path))
    store = Store(tmp_path / "s.db")
    back = config_from_scan(store.scan(interrupted_scan(store, cfg)))
    assert back.to_json() == cfg.to_json()
    assert (back.user_agent, back.verify_tls, back.obey_robots) == ("Mozilla/5.0 (sitewatch audit)", False, False)
    assert back.list_engines == {"http://127.0.0.1:9/zj/xxgk/": "hanweb"} and back.max_query_variants == 7
    assert back.columns["工作动态"].max_age_days == 10 and back.as_of == AS_OF
    # a setting added to SiteConfig later must be stored too (or be named here as not shaping a scan)
    stored = set(cfg.to_json()) | {"obey_robots"}
    # the proxy is how requests leave this machine, taken from the current config on resume (its URL may hold a
    # password, so it is not stored)
    assert {f.name for f in fields(SiteConfig)} - stored == {"as_of", "schedule", "source", "proxy",
                                                                    "shared_budget", "raw"}   # set by the process that runs it
    assert SiteConfig.from_json({}).to_json() == SiteConfig().to_json()      # a store from before: defaults


def resume_with(monkeypatch, *argv: str):
    """Run `sitewatch scan --resume ...` up to the crawl; return (exit code, the config it would resume with)."""
    import sitewatch.resume
    import sitewatch.scan
    from sitewatch.cli import main

    seen = []

    class Stop(Exception):
        pass

    def fake_resume(store, scan_id, cfg, **kw):
        seen.append(cfg)
        raise Stop

    monkeypatch.setattr(sitewatch.scan, "resume_scan", fake_resume)
    monkeypatch.setattr(sitewatch.resume, "stop_on_signals", lambda: contextlib.nullcontext(threading.Event()))
    try:
        rc = main(["scan", "--resume", *argv])
    except Stop:
        rc = None
    return rc, (seen[0] if seen else None)


def test_resume_applies_politeness_flags_and_keeps_every_other_setting(tmp_path, monkeypatch):
    cfg = load_config(full_config(tmp_path))
    db = str(tmp_path / "s.db")
    scan_id = interrupted_scan(Store(db), cfg)
    rc, used = resume_with(monkeypatch, str(scan_id), "--db", db, "--rate", "0", "--concurrency", "6",
                           "--timeout", "9", "--max-depth", "6", "--as-of", AS_OF.isoformat(), "-q")
    assert rc is None and used is not None
    assert (used.rate, used.concurrency, used.timeout) == (0, 6, 9)
    expected = {**cfg.to_json(), "rate": 0, "concurrency": 6, "timeout": 9}
    assert used.to_json() == expected and used.as_of == AS_OF


def test_resume_with_the_original_config_file_keeps_it_and_a_changed_one_is_refused(tmp_path, monkeypatch, capsys):
    path = full_config(tmp_path)
    cfg = load_config(path)
    db = str(tmp_path / "s.db")
    scan_id = interrupted_scan(Store(db), cfg)
    rc, used = resume_with(monkeypatch, "--config", str(path), "--db", db, "-q")
    assert rc is None and used.to_json() == cfg.to_json()

    path.write_text(path.read_text(encoding="utf-8").replace("rate = 1.5", "rate = 3"), encoding="utf-8")
    rc, used = resume_with(monkeypatch, "--config", str(path), "--db", db, "-q")
    assert rc is None and used.rate == 3                      # politeness: applied

    path.write_text(path.read_text(encoding="utf-8").replace('verify_tls = false', 'verify_tls = true'),
                    encoding="utf-8")
    capsys.readouterr()
    rc, used = resume_with(monkeypatch, "--config", str(path), "--db", db, "-q")
    err = capsys.readouterr().err
    assert rc == 2 and used is None
    assert err.count("\n") == 1 and "verify_tls True" in err and f"scan {scan_id}'s False" in err
    assert Store(db).scan(scan_id).status == "interrupted"


@pytest.mark.parametrize("flags, named", [
    (["--max-depth", "3"], "--max-depth 3"),
    (["--max-pages", "10"], "--max-pages 10"),
    (["--no-robots", "--max-pages", "500", "--prefix", "/zj/", "--prefix", "/zj2/"], None),    # as stored: accepted
    (["--prefix", "/other/"], "--prefix ['/other/']"),
    (["--as-of", "2026-12-01"], "--as-of '2026-12-01'"),
])
def test_resume_refuses_a_flag_that_would_change_what_the_scan_measures(tmp_path, monkeypatch, capsys, flags, named):
    cfg = load_config(full_config(tmp_path))
    db = str(tmp_path / "s.db")
    scan_id = interrupted_scan(Store(db), cfg)
    rc, used = resume_with(monkeypatch, str(scan_id), "--db", db, *flags)
    err = capsys.readouterr().err
    if named is None:
        assert rc is None and used.to_json() == cfg.to_json(), err
        return
    assert rc == 2 and used is None, err
    assert err.startswith(f"sitewatch: error: scan --resume: {named}") and err.count("\n") == 1


def test_resume_settings_keep_the_scan_and_take_politeness_from_the_current_config(tmp_path):
    """What the scheduler resumes with after its config was edited: the scan's own settings, today's politeness."""
    from sitewatch.resume import resume_settings

    cfg = load_config(full_config(tmp_path))
    store = Store(tmp_path / "s.db")
    scan = store.scan(interrupted_scan(store, cfg))
    edited = load_config(full_config(tmp_path))
    edited.rate, edited.retries, edited.user_agent, edited.excludes = 9.0, 0, "other agent", []
    used, kept = resume_settings(scan, edited)
    assert (used.rate, used.retries) == (9.0, 0)
    assert (used.user_agent, used.excludes) == (cfg.user_agent, cfg.excludes)
    assert kept == [("excludes", ["\\.zip$"], []), ("user_agent", cfg.user_agent, "other agent")]
    assert resume_settings(scan, cfg)[1] == []


def test_a_scan_stored_before_its_config_kept_every_setting_takes_the_missing_ones_from_the_config(tmp_path):
    from sitewatch.resume import resume_settings

    cfg = load_config(full_config(tmp_path))
    old = {k: v for k, v in cfg.to_json().items() if k not in ("user_agent", "verify_tls", "max_query_variants",
                                                               "list_engines")}
    store = Store(tmp_path / "s.db")
    scan_id = store.new_scan(cfg.name, cfg.start_urls, AS_OF, old)
    used, kept = resume_settings(store.scan(scan_id), cfg)
    assert kept == [] and used.to_json() == cfg.to_json()


def test_resume_by_start_url_checks_the_flags_against_the_stored_settings(tmp_path, monkeypatch, capsys):
    cfg = load_config(full_config(tmp_path))
    db = str(tmp_path / "s.db")
    scan_id = interrupted_scan(Store(db), cfg)
    rc, used = resume_with(monkeypatch, str(scan_id), cfg.start_urls[0], "--db", db, "--rate", "0")
    assert rc is None and used.to_json() == {**cfg.to_json(), "rate": 0}
    rc, used = resume_with(monkeypatch, str(scan_id), "http://127.0.0.1:9/other/", "--db", db)
    assert rc == 2 and "the start URL ['http://127.0.0.1:9/other/']" in capsys.readouterr().err
