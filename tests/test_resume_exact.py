"""Resume is exact: a `sitewatch scan` killed (SIGKILL) at any moment, gkmlpt API pages in flight included, and
then resumed ends with the findings of an uninterrupted scan; `--resume` keeps the settings of the scan.

The site is a 镇街 sub-site shaped like the real ones (portals.md §2.1): static columns (one with a TRS
JavaScript pager whose later pages no link points to), a 规范性文件 column, a 政策解读 column, and a Guangdong
gkmlpt catalogue read through its slow JSON API. The 解读 of 某镇规〔2026〕1号 exists only on the third API page
of the 文件解读 category, so a resume that loses API pages in flight reports a false "未找到配套政策解读".
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from loopback import Answer, LoopbackSite, page

from sitewatch.store import Store

AS_OF = dt.date(2026, 11, 26)
CHINA = dt.timezone(dt.timedelta(hours=8))
SID = "7788"
PAGE_DELAY = 0.08
API_DELAY = 0.12          # the JSON API answers slowly: kills land while its pages are in flight
SRC = str(Path(__file__).resolve().parents[1] / "src")


def epoch(d: dt.date) -> int:
    return int(dt.datetime(d.year, d.month, d.day, 10, 0, tzinfo=CHINA).timestamp())


def article(title: str, date: dt.date, body: str = "") -> str:
    head = f'<meta name="ArticleTitle" content="{title}"><meta name="PubDate" content="{date}">'
    return page(title, f"<h1>{title}</h1><div class='info'>发布日期：{date}</div>"
                       f"<div class='TRS_Editor'><p>{'正文内容。' * 12}</p>{body}</div>", head=head)


def column(name: str, rows: list[tuple[str, str, dt.date]], script: str = "") -> str:
    lis = "".join(f"<li><a href='{href}' title='{title}'>{title}</a><span>{date}</span></li>" for href, title, date in rows)
    return page(name, f"<div class='crumb'>首页 &gt; {name}</div><ul class='list'>{lis}</ul>{script}",
                head=f"<meta name='ColumnName' content='{name}'>")


D = dt.date
# gkmlpt categories: 30 is a parent node; 31 镇街文件 (5 API pages), 32 文件解读 (3 API pages), 33 年报 (1 page)
TREE = [{"id": 30, "name": "文件资料", "parent": 0, "children": [{"id": 31, "name": "镇街文件", "parent": 30},
                                                              {"id": 32, "name": "文件解读", "parent": 30}]},
        {"id": 33, "name": "政府信息公开年报", "parent": 0, "children": []}]
NAMES = {31: "镇街文件", 32: "文件解读", 33: "政府信息公开年报"}
API_POSTS: dict[int, list[tuple[str, D]]] = {
    31: [(f"某镇关于第{i}批民生实事项目进展情况的公示", D(2026, 10, 28) - dt.timedelta(days=9 * i)) for i in range(14)],
    32: [(f"《某镇第{i}号工作指引》解读", D(2026, 9, 20) - dt.timedelta(days=11 * i)) for i in range(6)]
        + [("《某镇社区微改造项目管理办法》政策解读", D(2026, 9, 10)),     # page 3: 规〔2026〕1号's only 解读
           ("《某镇农村人居环境整治办法》图解", D(2026, 3, 1))],
    33: [("某镇2025年政府信息公开工作年度报告", D(2026, 1, 20)), ("某镇2024年政府信息公开工作年度报告", D(2025, 1, 22))],
}
PAGE_SIZE = 3


def site_routes(site: Site) -> dict:
    """The routes of the site; every request is logged as [user agent, path, started, finished] (monotonic
    seconds): each scan of the test names itself by its user agent."""
    routes: dict[str, Answer] = {}
    nav = ("<div class='nav'><a href='/zj/'>首页</a><a href='/zj/gzdt/'>工作动态</a><a href='/zj/tzgg/'>通知公告</a>"
           "<a href='/zj/zcwj/'>规范性文件</a><a href='/zj/zcjd/'>政策解读</a><a href='/zj/gkmlpt/index'>政府信息公开目录</a>"
           "<a href='/zj/old/retired.html'>旧栏目</a></div>")
    news = [(f"/zj/gzdt/a{i}.html", f"某镇开展第{i}次安全生产大检查", D(2026, 10, 15) - dt.timedelta(days=4 * i))
            for i in range(30)]
    notices = [(f"/zj/tzgg/n{i}.html", f"关于某镇第{i}期道路施工的通告", D(2026, 11, 20) - dt.timedelta(days=10 * i))
               for i in range(8)]
    docs = [("/zj/zcwj/d1.html", "某镇人民政府关于印发《某镇社区微改造项目管理办法》的通知（某府规〔2026〕1号）", D(2026, 9, 10)),
            ("/zj/zcwj/d2.html", "某镇人民政府关于印发《某镇养老服务设施管理办法》的通知（某府规〔2026〕2号）", D(2026, 6, 2)),
            ("/zj/zcwj/d3.html", "某镇人民政府关于印发《某镇集体资产交易规则》的通知（某府规〔2026〕3号）", D(2026, 4, 8))]
    interps = [("/zj/zcjd/j2.html", "《某镇养老服务设施管理办法》政策解读", D(2026, 6, 2)),
               ("/zj/zcjd/j9.html", "《某镇河长制工作方案》解读", D(2026, 2, 14))]
    home = "".join(f"<li><a href='{h}'>{t}</a><span>{d}</span></li>" for h, t, d in notices[:5])
    routes["/zj/"] = Answer(body=page("某镇人民政府", f"{nav}<ul class='news'>{home}</ul>"), delay=PAGE_DELAY)
    pager = "<script>createPageHTML(5, {n}, \"index\", \"html\");</script>"
    for n in range(5):                      # 工作动态: pages 2 to 5 are announced only by the JavaScript pager
        routes[f"/zj/gzdt/index_{n}.html" if n else "/zj/gzdt/"] = Answer(
            body=column("工作动态", news[6 * n:6 * n + 6], pager.format(n=n)), delay=PAGE_DELAY)
    routes["/zj/gzdt/index.html"] = routes["/zj/gzdt/"]
    routes["/zj/tzgg/"] = Answer(body=column("通知公告", notices), delay=PAGE_DELAY)
    routes["/zj/zcwj/"] = Answer(body=column("规范性文件", docs), delay=PAGE_DELAY)
    routes["/zj/zcjd/"] = Answer(body=column("政策解读", interps), delay=PAGE_DELAY)
    for i, (href, title, date) in enumerate(news + notices + docs + interps):
        extra = f"<a href='/zj/files/gone{i % 4}.pdf'>附件</a>" if i % 5 == 0 else ""
        routes[href] = Answer(body=article(title, date, f"{extra}<a href='/zj/'>返回首页</a>"), delay=PAGE_DELAY)

    config = json.dumps({"SID": SID, "SITE_NAME": "某镇人民政府", "TREE": TREE}, ensure_ascii=False)
    routes["/zj/gkmlpt/index"] = Answer(body=(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>某镇政府信息公开目录</title>"
        f"<script>window._CONFIG = {config};</script></head><body><div id='app'></div></body></html>"),
        delay=PAGE_DELAY)
    routes["/zj/gkmlpt/guide"] = Answer(body=article("某镇人民政府政府信息公开指南", D(2025, 3, 1)), delay=PAGE_DELAY)
    post_id = 1000
    for cat, posts in API_POSTS.items():
        entries = []
        for title, date in posts:
            post_id += 1
            url = f"/zj/gkmlpt/content/{post_id}.html"
            attachment = [{"name": "附件.pdf", "url": "/zj/gkmlpt/files/gone.pdf"}] if post_id % 7 == 0 else []
            entries.append({"id": post_id, "title": title, "url": url, "date": epoch(date), "attachment": attachment,
                            "document_number": ""})
            routes[url] = Answer(body=article(title, date), delay=PAGE_DELAY)
        for n in range(1, (len(entries) + PAGE_SIZE - 1) // PAGE_SIZE + 1):
            data = {"articles": entries[(n - 1) * PAGE_SIZE:n * PAGE_SIZE], "page_size": PAGE_SIZE,
                    "classify": {"id": cat, "name": NAMES[cat], "post_count": len(entries)}}
            routes[f"/zj/gkmlpt/api/all/{cat}?page={n}&sid={SID}"] = Answer(
                body=json.dumps(data, ensure_ascii=False), content_type="application/json;charset=UTF-8",
                delay=API_DELAY)

    def logged(path: str, answer: Answer):
        def route(method: str, nth: int) -> Answer:
            entry = [site.server.current.headers.get("User-Agent", ""), path, time.monotonic(), None]
            with site.lock:
                site.log.append(entry)
            time.sleep(answer.delay)
            entry[3] = time.monotonic()
            return Answer(answer.status, answer.body, answer.headers, answer.content_type)
        return route

    return {p: logged(p, a) for p, a in routes.items()}


class Site:
    """The loopback site and its request log, shared by every scan of the test (so every scan sees the same
    URLs); a scan's requests are told apart by its user agent."""

    def __init__(self):
        self.log: list[list] = []
        self.lock = threading.Lock()
        self.server = LoopbackSite()
        self.server.routes.update(site_routes(self))
        self.server.server.handle_error = lambda *a: None     # a killed scan's connections reset: expected

    def __enter__(self) -> Site:
        self.server.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.server.__exit__(*exc)

    @property
    def start(self) -> str:
        return self.server.url("/zj/")

    def requests(self, ua: str) -> list[list]:
        with self.lock:
            return [e for e in self.log if e[0] == ua]

    def api_requests(self, ua: str) -> list[list]:
        return [e for e in self.requests(ua) if "/gkmlpt/api/" in e[1]]


@pytest.fixture(scope="module")
def site():
    with Site() as s:
        yield s


def sitewatch(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "sitewatch", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def write_config(path: Path, site: Site, ua: str) -> Path:
    path.write_text(f"""[site]
name = "zj"
start_urls = ["{site.start}"]

[politeness]
concurrency = 4
rate = 0
timeout = 3
retries = 1
user_agent = "{ua}"
""", encoding="utf-8")
    return path


def scan_args(site: Site, tmp: Path, name: str) -> list[str]:
    ua = f"sitewatch-test/{name}"
    return ["scan", "--config", str(write_config(tmp / f"{name}.toml", site, ua)), "--db", str(tmp / f"{name}.db"),
            "--as-of", AS_OF.isoformat(), "-q"]


def findings(db: Path) -> list[tuple]:
    """(rule, url, fingerprint, message, evidence, found_on) of each finding of the store's one scan, sorted."""
    store = Store(db)
    [scan] = store.scans()
    assert scan.status == "completed", scan.status
    return sorted((f.rule, f.url, f.fingerprint, f.message, json.dumps(f.evidence, ensure_ascii=False, sort_keys=True),
                   tuple(sorted(f.found_on))) for f in store.findings(scan.id))


def scan_status(db: Path) -> str | None:
    try:
        with sqlite3.connect(db, timeout=5) as c:
            row = c.execute("select status from scans").fetchone()
        return row[0] if row else None
    except sqlite3.Error:
        return None


def kill_when(proc: subprocess.Popen, site: Site, ua: str, *, after: float | None = None,
              api: int | None = None) -> list[str]:
    """SIGKILL ``proc`` ``after`` seconds after its first request, or as soon as its ``api``-th JSON API request
    (counted from now) is in flight. Returns the API requests that were in flight at the kill."""
    since = len(site.api_requests(ua))
    begun = len(site.requests(ua))
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if api is not None and len(site.api_requests(ua)) >= since + api:
            break
        mine = site.requests(ua)[begun:]
        if after is not None and mine and time.monotonic() >= mine[0][2] + after:
            break
        time.sleep(0.002)
    assert proc.poll() is None, "the scan ended before the kill point"
    proc.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    proc.wait(10)
    time.sleep(API_DELAY + 0.05)            # let the server finish the answers it was sleeping on
    return [e[1] for e in site.api_requests(ua) if e[2] <= killed_at and (e[3] or 1e18) > killed_at]


# (name, kill after seconds since the first request, or kill with the n-th API request in flight, kill resume too)
KILL_POINTS = [(f"t{t}", t, None, False) for t in (0.05, 0.4, 0.8, 1.2, 1.6, 2.0, 2.4)] + [
    ("api2", None, 2, False), ("api5", None, 5, False), ("api8", None, 8, False), ("api9", None, 9, False),
    ("api6-then-resume-killed-at-api3", None, 6, True),
]


@pytest.fixture(scope="module")
def reference(site, tmp_path_factory) -> list[tuple]:
    """The findings of an uninterrupted scan (the same command line, never killed)."""
    tmp = tmp_path_factory.mktemp("reference")
    proc = sitewatch(*scan_args(site, tmp, "reference"))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert len(site.api_requests("sitewatch-test/reference")) == 9
    return findings(tmp / "reference.db")


def run_kill_point(site: Site, tmp: Path, name: str, after: float | None, api: int | None,
                   kill_resume: bool) -> dict:
    ua, db = f"sitewatch-test/{name}", tmp / f"{name}.db"
    report = {"name": name, "api_in_flight": kill_when(sitewatch(*scan_args(site, tmp, name)), site, ua,
                                                       after=after, api=api)}
    assert scan_status(db) == "running"
    with sqlite3.connect(db) as c:
        report["pages_at_kill"] = c.execute("select count(*) from pages").fetchone()[0]
    if kill_resume:
        report["resume_api_in_flight"] = kill_when(sitewatch("scan", "--resume", "--db", str(db), "-q"), site, ua,
                                                   api=3)
    done = sitewatch("scan", "--resume", "--db", str(db), "-q")
    _, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    report["findings"] = findings(db)
    report["requests"] = len(site.requests(ua))
    return report


def test_killed_at_any_moment_then_resumed_gives_the_uninterrupted_findings(site, reference, tmp_path):
    rules = {f[0] for f in reference}
    # the reference holds what a lost API page or pager page would change
    assert {"link.broken", "disclosure.missing", "column.stale"} <= rules, rules
    missing = [f[3] for f in reference if f[0] == "disclosure.missing" and "解读" in f[3]]
    assert any("3号" in m for m in missing) and not any("1号" in m for m in missing), missing

    with ThreadPoolExecutor(3) as pool:
        reports = list(pool.map(lambda p: run_kill_point(site, tmp_path, *p), KILL_POINTS))
    for r in reports:
        assert r["findings"] == reference, r["name"]
    # every request of a resumed scan carried the user agent of the scan it resumes
    assert not [e for e in site.log if not e[0].startswith("sitewatch-test/")]
    api_kills = [r["name"] for r in reports if r["api_in_flight"]]
    assert len(api_kills) >= 3, [(r["name"], r["api_in_flight"]) for r in reports]
    # the case: part of the scan was already stored when it was killed with API pages in flight
    assert [r for r in reports if r["api_in_flight"] and r["pages_at_kill"]], \
        [(r["name"], r["pages_at_kill"], r["api_in_flight"]) for r in reports]
    assert any(r.get("resume_api_in_flight") for r in reports)


def test_pages_only_a_pager_or_a_catalogue_announces_are_followed_after_a_resume(site, tmp_path):
    """A scan killed after a column's first page and the gkmlpt index were stored, but before the later pages its
    JavaScript pager announces and the catalogue's guide were fetched: the resume derives them from the store."""
    from sitewatch.config import load_config
    from sitewatch.scan import resume_scan, run_scan

    store = Store(tmp_path / "s.db")
    done = run_scan(load_config(write_config(tmp_path / "s.toml", site, "sitewatch-test/pager")), store, as_of=AS_OF)
    before = findings(tmp_path / "s.db")
    later = [site.server.url(f"/zj/gzdt/index_{n}.html") for n in range(1, 5)] + [site.server.url("/zj/gkmlpt/guide")]
    with store.engine.begin() as c:                       # the store as the kill left it
        for table, col in (("targets", "url"), ("pages", "url"), ("links", "page_url"), ("list_items", "page_url")):
            n = c.exec_driver_sql(f"delete from {table} where {col} in ({','.join('?' * len(later))})",
                                  tuple(later)).rowcount
            assert n >= (len(later) if table in ("targets", "pages") else 1), table
        c.exec_driver_sql("delete from findings")
        c.exec_driver_sql("update scans set status = 'interrupted'")
    asked = len(site.requests("sitewatch-test/pager"))
    resumed = resume_scan(store, done.scan_id)
    assert resumed.status == "completed"
    again = {e[1] for e in site.requests("sitewatch-test/pager")[asked:]}
    assert {"/zj/gzdt/index_1.html", "/zj/gkmlpt/guide"} <= again
    assert findings(tmp_path / "s.db") == before


def test_rows_stored_twice_do_not_change_the_findings(site, tmp_path):
    """Each stored row of a scan twice (as two runs of a resumed scan might store them): the same findings."""
    from sitewatch.config import load_config
    from sitewatch.scan import run_checks, run_scan

    cfg = load_config(write_config(tmp_path / "s.toml", site, "sitewatch-test/twice"))
    store = Store(tmp_path / "s.db")
    done = run_scan(cfg, store, as_of=AS_OF)

    def checked() -> list[tuple]:
        return sorted((f.rule, f.url, f.fingerprint, f.message, json.dumps(f.evidence, ensure_ascii=False, sort_keys=True),
                       tuple(sorted(f.found_on))) for f in run_checks(store, done.scan_id, cfg, AS_OF))

    before = checked()
    assert {"link.broken", "column.stale", "disclosure.missing"} <= {f[0] for f in before}
    with store.engine.begin() as c:
        for table in ("targets", "pages", "links", "list_items", "columns"):
            cols = [r[1] for r in c.exec_driver_sql(f"pragma table_info({table})") if r[1] != "id"]
            c.exec_driver_sql(f"insert into {table} ({', '.join(cols)}) select {', '.join(cols)} from {table}")
    assert checked() == before
