"""No verdict without a measurement: a site the scan cannot reach, or that yields no page, is never 合格.

Each case scans a loopback site (or a refused port) through ``sitewatch scan``, renders ``sitewatch report``
and reads the verdict elements of the rectification report and the leadership summary; its twin is a healthy
site (also one whose homepage redirects) that still gets 合格.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from loopback import Answer, LoopbackSite, page, refused_port

from sitewatch.cli import main
from sitewatch.config import SiteConfig
from sitewatch.probes import probe_round
from sitewatch.store import Store

TODAY = dt.date.today()       # probes are stamped with the clock, so the scan is of today


def ago(days: int) -> str:
    return (TODAY - dt.timedelta(days=days)).isoformat()


def items(prefix: str, name: str, ages: list[int]) -> tuple[str, dict]:
    rows, routes = [], {}
    for n, age in enumerate(ages, 1):
        href = f"/s/{prefix}/t{n}.html"
        title = f"{name}信息{n}"
        rows.append(f'<li><a href="{href}" title="{title}">{title}</a><span>{ago(age)}</span></li>')
        routes[href] = Answer(body=page(title, f"<h1>{title}</h1><p>发布日期：{ago(age)}</p>" + "正文" * 80,
                                        head=f'<meta name="PubDate" content="{ago(age)}">'))
    return f'<ul class="list">{"".join(rows)}</ul>', routes


def healthy_routes(home: str = "/s/") -> dict:
    """A small 镇街 site: a homepage with fresh dated items, a fresh 工作动态 column, a consultation and a
    service entry."""
    home_list, routes = items("home", "要闻", [1, 3, 5])
    col_list, col_routes = items("gzdt", "工作动态", [2, 4])
    routes.update(col_routes)
    nav = ('<div class="nav"><a href="/s/gzdt/index.html">工作动态</a> <a href="/s/hdjl/index.html">互动交流</a> '
           '<a href="/s/bsfw/index.html">办事服务</a> <a href="/s/hdjl/index.html">咨询留言</a></div>')
    routes[home] = Answer(body=page("西区街道办事处", nav + home_list + "<p>" + "西区街道欢迎您" * 30 + "</p>"))
    routes["/s/gzdt/index.html"] = Answer(body=page("工作动态", col_list, head='<meta name="ColumnName" content="工作动态">'))
    routes["/s/hdjl/index.html"] = Answer(body=page("互动交流", "<p>" + "在线咨询 留言信箱 " * 20 + "</p>"))
    routes["/s/bsfw/index.html"] = Answer(body=page("办事服务", "<p>" + "政务服务 网上办事 " * 20 + "</p>"))
    return routes


def scan(urls: list[str], tmp_path: Path, capsys) -> tuple[int, dict, str, Path]:
    db = tmp_path / "sw.db"
    out = tmp_path / "findings.json"
    rc = main(["scan", *urls, "--db", str(db), "--json", str(out), "--as-of", TODAY.isoformat(), "-q",
               "--rate", "0", "--timeout", "2"])
    err = capsys.readouterr().err
    return rc, json.loads(out.read_text(encoding="utf-8")), err, db


def report(db: Path, tmp_path: Path) -> tuple[str, str]:
    out = tmp_path / "out"
    assert main(["report", "--db", str(db), "--out", str(out)]) == 0
    html = next(out.glob("整改报告-*.html")).read_text(encoding="utf-8")
    summary = next(out.glob("领导摘要-*.html")).read_text(encoding="utf-8")
    return html, summary


def verdict_of(html: str) -> str:
    """The overall verdict element (not a substring search: 不合格 contains 合格)."""
    [v] = re.findall(r'class="tag [^"]+ big" data-conclusion="([^"]+)"', html)
    return v


def veto_rows(html: str) -> dict[str, tuple[str, str]]:
    """rule -> (verdict, measured text) of the veto table."""
    rows = re.findall(r'<tr data-rule="([^"]+)" data-band="([^"]+)"><td>(?:<span[^>]*></span>)?[^<]+</td>'
                      r'(?:<td[^>]*>[^<]*</td>)?<td>([^<]*)', html)
    return {rule: (verdict, measured) for rule, verdict, measured in rows}


def the(doc: dict, rule: str) -> list[dict]:
    return [f for f in doc["findings"] if f["rule"] == rule]


def assert_never_pass(html: str, summary: str, *, judged: str) -> tuple[dict, dict]:
    assert verdict_of(html) == judged and verdict_of(summary) == judged
    rows, lights = veto_rows(html), veto_rows(summary)
    assert rows and set(rows) == set(lights)
    assert {v for v, _ in rows.values()} <= {"否决", "风险", "未监测"}, rows
    assert {v for v, _ in lights.values()} <= {"否决", "风险", "未监测"}, lights
    return rows, lights


@pytest.mark.parametrize("routes, reason, status", [
    (None, "refused", None),                                                     # nothing listens
    ({"/s/": Answer(503, "busy"), "/s/a.html": Answer(503, "busy")}, "http_503", 503),   # only errors
    ({"/s/": Answer(body=page("页面不存在", "抱歉，您访问的页面不存在"))}, "soft404", 200),   # soft-404 homepage
])
def test_unreachable_site_is_never_pass(routes, reason, status, tmp_path, capsys):
    if routes is None:
        url = f"http://127.0.0.1:{refused_port()}/s/"
        rc, doc, err, db = scan([url], tmp_path, capsys)
    else:
        with LoopbackSite(routes) as site:
            url = site.url("/s/")
            rc, doc, err, db = scan([url], tmp_path, capsys)
    assert rc == 3
    assert err.strip().splitlines()[-1].startswith(f"sitewatch: start URL {url} unreachable: ")
    if reason == "refused":
        assert "unreachable: connection refused" in err
    [f] = the(doc, "availability.unreachable")
    assert f["severity"] == "veto" and f["url"] == url
    assert f["evidence"]["reason"] == reason and f["evidence"]["status"] == status
    assert f["evidence"]["url"] == url and f["evidence"]["pages"] == 0 and f["evidence"]["detail"]
    assert doc["scan"]["pages"] == 0
    assert not the(doc, "disclosure.missing")        # nothing was looked for, so nothing is "missing"
    html, summary = report(db, tmp_path)
    rows, _ = assert_never_pass(html, summary, judged="不合格")
    assert rows["availability.unreachable"][0] == "否决"
    assert rows["availability.down"] == ("否决", "监测中：1 次探测，失败 1 次（100.0%），含本次扫描首页访问失败")
    assert rows["homepage.stale"] == ("未监测", "未抓取到页面，无法评定")
    assert rows["veto.columns_blank"][0] == "未监测" and rows["interaction.no_channel"][0] == "未监测"
    # no score for a scan that measured no page
    assert "扣分估算：—（无法评定" in html and "99.9" not in html and "100.0 分" not in html
    assert re.search(r'扣分估算得分<br><span class="big">—</span> 无法评定', summary)
    assert "本次扫描无法访问站点首页" in html and "本次扫描无法访问站点首页" in summary
    deductions = html.split("（二）扣分估算")[1].split("二、问题清单")[0]
    assert "无法估算扣分" in deductions and "<table>" not in deductions
    disclosures = html.split("三、必公开事项核对表")[1].split("四、回头看")[0]
    assert "未监测" in disclosures and "未发现问题" not in disclosures


def test_down_homepage_with_other_start_urls_crawled(tmp_path, capsys):
    routes = healthy_routes()
    routes["/s/"] = Answer(500, "<html><body>Internal Server Error</body></html>")
    with LoopbackSite(routes) as site:
        rc, doc, err, db = scan([site.url("/s/"), site.url("/s/gzdt/index.html")], tmp_path, capsys)
        home = site.url("/s/")
    assert rc == 3 and f"start URL {home} unreachable: HTTP 500" in err
    assert doc["scan"]["pages"] >= 2
    [f] = the(doc, "availability.unreachable")
    assert f["evidence"]["status"] == 500 and f["evidence"]["reason"] == "http_500" and f["evidence"]["pages"] >= 2
    html, summary = report(db, tmp_path)
    assert verdict_of(html) == "不合格" and verdict_of(summary) == "不合格"
    rows = veto_rows(html)
    assert rows["availability.unreachable"] == ("否决", "首页无法访问：服务器返回 HTTP 500")
    assert rows["homepage.stale"] == ("未监测", "首页无法访问，无法评定")   # the homepage was not read
    assert rows["veto.columns_stale"][0] == "合格"                         # columns were measured
    assert "扣分估算：—" not in html                                      # pages were crawled: scored


def test_no_page_crawled_without_a_failure_is_not_judged(tmp_path, capsys):
    """robots.txt forbids everything: the homepage did not fail, but nothing was measured → 无法评定."""
    routes = healthy_routes()
    routes["/robots.txt"] = Answer(body="User-agent: *\nDisallow: /\n", content_type="text/plain")
    with LoopbackSite(routes) as site:
        rc, doc, err, db = scan([site.url("/s/")], tmp_path, capsys)
    assert rc == 3 and "no page crawled from start URL" in err and "robots.txt" in err
    assert not the(doc, "availability.unreachable")
    [f] = the(doc, "scan.no_pages")
    assert f["severity"] == "review" and f["evidence"]["reason"] == "robots"
    html, summary = report(db, tmp_path)
    rows, _ = assert_never_pass(html, summary, judged="无法评定")
    assert rows["availability.unreachable"] == ("未监测", "首页未访问")
    assert rows["availability.down"] == ("未监测", "未做可用性监测")
    assert "本次扫描未抓取到任何页面" in html and "本次扫描未抓取到任何页面" in summary


@pytest.mark.parametrize("redirect", [False, True])
def test_healthy_site_still_passes(redirect, tmp_path, capsys):
    routes = healthy_routes()
    if redirect:      # the homepage answers 302 to its index page: reachable
        routes["/s/index.html"] = routes.pop("/s/")
        routes["/s/"] = Answer(302, "", headers={"Location": "/s/index.html"})
    with LoopbackSite(routes) as site:
        rc, doc, err, db = scan([site.url("/s/")], tmp_path, capsys)
    assert rc == 0 and "unreachable" not in err, err
    assert not the(doc, "availability.unreachable") and not the(doc, "scan.no_pages")
    html, summary = report(db, tmp_path)
    assert verdict_of(html) == "合格" and verdict_of(summary) == "合格"
    rows = veto_rows(html)
    assert rows["availability.unreachable"] == ("合格", "首页可正常访问")
    assert rows["homepage.stale"][0] == "合格"
    assert rows["availability.down"] == ("未监测", "未做可用性监测")      # no probes: not judged, not 合格


def probe_site(state: dict):
    def home(method, nth):
        return Answer(503, "busy") if state["down"] else Answer(body=healthy_routes()["/s/"].body)
    return home


@pytest.mark.parametrize("fails, oks, verdict", [(2, 3, "否决"), (1, 34, "风险"), (0, 5, "合格")])
def test_probe_failures_count_toward_unreachable(fails, oks, verdict, tmp_path, capsys):
    """Failed probes in the week (recorded by the probe code) are counted whatever their number: ≥5 % 否决,
    failures below it (here under the 60 % band: 1 of 35) in an incomplete week 风险, never 合格; no failure at all is 合格."""
    state = {"down": False}
    routes = healthy_routes()
    routes["/s/"] = probe_site(state)
    with LoopbackSite(routes) as site:
        rc, doc, err, db = scan([site.url("/s/")], tmp_path, capsys)
        assert rc == 0
        cfg = SiteConfig(name=doc["site"], start_urls=[site.url("/s/")])
        store = Store(str(db))
        for down, n in ((True, fails), (False, oks)):
            state["down"] = down
            for _ in range(n):
                [r] = probe_round(store, cfg, timeout=2)
                assert r.ok is not down
    html, summary = report(db, tmp_path)
    rows = veto_rows(html)
    n, m = fails + oks, fails
    v, measured = rows["availability.down"]
    assert v == verdict and measured.startswith(f"监测中：{n} 次探测，失败 {m} 次")
    assert veto_rows(summary)["availability.down"][0] == verdict
    if verdict == "否决":
        assert verdict_of(html) == "不合格" and verdict_of(summary) == "不合格"
    # status says the same counts
    assert main(["status", "--db", str(db)]) == 0
    assert f"availability, last 7 days: {m}/{n} failed" in capsys.readouterr().out


def test_status_names_an_unreachable_scan(tmp_path, capsys):
    url = f"http://127.0.0.1:{refused_port()}/"
    rc, _, _, db = scan([url], tmp_path, capsys)
    assert rc == 3
    assert main(["status", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"start URL {url} unreachable: connection refused (verdict 不合格)" in out
    assert "availability, last 7 days: not monitored (no probes)" in out


def test_status_after_a_lookback_does_not_call_the_site_unreachable(tmp_path, capsys):
    """A look-back crawls no page on purpose: status must not report it as a site that could not be crawled;
    the audit before it shows its coverage."""
    with LoopbackSite(healthy_routes()) as site:
        rc, _doc, _err, db = scan([site.url("/s/")], tmp_path, capsys)
        assert rc == 0
        assert main(["status", "--db", str(db)]) == 0
        audit = capsys.readouterr().out
        lb_cfg = tmp_path / "lb.toml"
        lb_cfg.write_text(f'[site]\nstart_urls = ["{site.url("/s/")}"]\n[network]\nallow = ["127.0.0.0/8"]\n',
                          encoding="utf-8")
        assert main(["lookback", "--db", str(db), "--since", "1", "--out", str(tmp_path / "out"),
                     "--config", str(lb_cfg), "--timeout", "2"]) == 0
        capsys.readouterr()
        assert main(["status", "--db", str(db)]) == 0
        after = capsys.readouterr().out
    assert "coverage: complete" in audit
    assert "(lookback" in after and "no page crawled" not in after and "unreachable" not in after
