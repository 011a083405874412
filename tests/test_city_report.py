"""The city's monthly overview of many sites (`sitewatch report --all-sites`): one row per site from its latest
completed full audit of the month, every number equal to that site's own report (``scan_numbers``); no verdict
without a measurement (未监测 / 无法评定 are never 合格 and are counted apart); ordering; the month filter; hostile
text inert; one-line CLI errors; bounded and timed on 100 synthetic sites; printed on A4 landscape.

The store holds real scans of loopback sites (a clean one, one whose homepage refuses connections) beside rows
written through the store API (failed and running scans, last month's audits, synthetic sites for the order).
"""

from __future__ import annotations

import datetime as dt
import random
import re
import shutil
import time
import zlib
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from loopback import LoopbackSite, refused_port
from openpyxl import load_workbook
from test_unreachable import healthy_routes

from sitewatch.cli import main
from sitewatch.models import DEDUCT, REVIEW, VETO, WARN, Finding
from sitewatch.reporting import overview as overview_module
from sitewatch.reporting.data import scan_numbers
from sitewatch.reporting.overview import OVERVIEW_COLUMNS, build_overview, derive_region, order_key
from sitewatch.store import PageRow, Store

TODAY = dt.date.today()            # the clean site's pages are dated from the clock, so its audit is of today
MONTH = TODAY.strftime("%Y-%m")
LAST_DAY = TODAY.replace(day=1) - dt.timedelta(days=1)
LAST = LAST_DAY.strftime("%Y-%m")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = "镇\x1b[2J\x1b]0;pwned\x07\u202eexe.txt<script>alert(1)</script>"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

CLEAN, DOWN, NEVER, FAILED, RUNNING, LASTONLY, EMPTY = (
    "中山市清洁镇", "中山市断网镇", "中山市未扫镇", "中山市失败镇", "中山市进行镇", "中山市上月镇", "中山市空白镇")
LOW, VETOED, FINE = "中山市低分镇", "中山市否决镇", "中山市良好镇"
EVIL = "中山市" + HOSTILE


def root(name: str) -> str:
    return f"http://www.zs.gov.test/{zlib.crc32(name.encode()) % 10_000}/"


def links(base: str, n: int, on_home: bool = False) -> list[Finding]:
    return [Finding("link.broken", DEDUCT, f"{base}files/{i}.pdf", "链接无法访问：服务器返回 HTTP 404",
                    found_on=[base if on_home else base + "col/"], evidence={"status": 404}) for i in range(n)]


def audit(store: Store, site: str, day: dt.date, findings: list[Finding], pages: int = 40, status: str = "completed",
          stats: dict | None = None, url: str | None = None) -> int:
    """A full scan written through the store API (no crawl): its pages count in its statistics, its findings."""
    home = url or root(site)
    sid = store.new_scan(site, [home], day, {"name": site, "start_urls": [home]})
    if status == "running":
        return sid
    if pages:
        store.add(PageRow, scan_id=sid, url=home, status=200, title=site)
    store.finish_scan(sid, status, stats if stats is not None else {"pages": pages, "checked": pages * 3})
    store.save_findings(sid, findings)
    return sid


def config(path: Path, sites: dict[str, str]) -> str:
    """A [[sites]] config naming ``sites`` (name → homepage)."""
    text = "".join(f'[[sites]]\n[sites.site]\nname = "{name}"\nstart_urls = ["{url}"]\n\n'
                   for name, url in sites.items())
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """The store of a city (real scans of two loopback sites, the rest written through the store API) and its
    [[sites]] config: (db, config path, homepages, scan ids by site)."""
    from conftest import scan_site

    tmp = tmp_path_factory.mktemp("city")
    db = str(tmp / "sw.db")
    ids: dict[str, int] = {}
    homes: dict[str, str] = {}
    with LoopbackSite(healthy_routes()) as site:
        homes[CLEAN] = site.url("/s/")
        result, store = scan_site(homes[CLEAN], db, as_of=TODAY, name=CLEAN)
        ids[CLEAN] = result.scan_id
    homes[DOWN] = f"http://127.0.0.1:{refused_port()}/s/"
    result, store = scan_site(homes[DOWN], db, as_of=TODAY, name=DOWN)
    ids[DOWN] = result.scan_id
    for name in (NEVER, FAILED, RUNNING, LASTONLY, EMPTY, LOW, VETOED, FINE):
        homes[name] = root(name)
    homes[EVIL] = root("evil") + "\u202e" + "<b>x</b>"
    # last month: every synthetic site was audited, so this month's audits have 上期问题
    for name in (LASTONLY, LOW, VETOED, FINE, EVIL):
        audit(store, name, LAST_DAY, links(homes[name], 6), url=homes[name])
    audit(store, FAILED, TODAY - dt.timedelta(days=1) if TODAY.day > 1 else TODAY, [], pages=0, status="failed",
          stats={"error": "database is locked " + HOSTILE})
    audit(store, RUNNING, TODAY, [], status="running")
    ids[EMPTY] = audit(store, EMPTY, TODAY, [], pages=0)                        # crawled no page: 无法评定
    ids[LOW] = audit(store, LOW, TODAY, links(homes[LOW], 45, on_home=True))     # 55 points: 不合格 by score
    ids[VETOED] = audit(store, VETOED, TODAY, [
        *links(homes[VETOED], 3), Finding("homepage.stale", VETO, homes[VETOED], "首页超过 14 天未更新",
                                           evidence={"age_days": 30}, extra={"max_age_days": 14})])
    ids[FINE] = audit(store, FINE, TODAY, [*links(homes[FINE], 4)[2:], *links(homes[FINE], 12, on_home=True)[6:]])
    ids[EVIL] = audit(store, EVIL, TODAY, links(homes[EVIL], 2), url=homes[EVIL])
    path = config(tmp / "city.toml", {n: homes[n].replace("\u202e", "").replace("<b>x</b>", "")
                                      for n in homes if n != EVIL})
    return db, path, homes, ids


def rows_of(html: str) -> list[dict[str, str]]:
    """Each site row of the overview: its data attributes and the counts printed in its cells."""
    soup = BeautifulSoup(html, "html.parser")
    out = []
    for tr in soup.select("table.sites tbody tr"):
        row = {k[5:]: v for k, v in tr.attrs.items() if k.startswith("data-")}
        for td in tr.find_all("td"):
            for k, v in td.attrs.items():
                if k.startswith("data-") and k != "data-severity":
                    row[k[5:]] = v
                    if v and k in ("data-problems", "data-previous"):
                        assert re.search(rf"(?<!\d){v}(?!\d)", td.get_text()), (k, v, td.get_text())
            if td.get("data-severity"):
                row["sev-" + td["data-severity"]] = td.get_text()
        row["text"] = tr.get_text(" ")
        out.append(row)
    return out


def overview(db: str, out: Path, *extra: str) -> tuple[str, list[Path]]:
    assert main(["report", "--all-sites", "--db", db, "--out", str(out), *extra]) == 0
    files = sorted(out.glob("网站月度监测报告-*"))
    html = next(p for p in files if p.suffix == ".html").read_text(encoding="utf-8")
    return html, files


@pytest.fixture(scope="module")
def written(city, tmp_path_factory):
    """Each audited site's own report, then the overview of the config's sites beside them."""
    db, path, _, ids = city
    out = tmp_path_factory.mktemp("written") / "out"
    for name in (CLEAN, DOWN, LOW, VETOED):
        assert main(["report", "--db", db, "--scan", str(ids[name]), "--out", str(out)]) == 0
    html, files = overview(db, out, "--config", path, "--month", MONTH)
    return out, html, files


def test_every_site_of_the_config_is_listed_with_its_own_reports_numbers(city, written):
    db, _, homes, ids = city
    out, html, _ = written
    rows = {r["site"]: r for r in rows_of(html)}
    assert set(rows) == set(homes) - {EVIL}
    store = Store(db)
    for name, scan_id in ids.items():
        if name == EVIL:
            continue
        row = rows[name]
        n = scan_numbers(store, store.scan(scan_id))
        assert row["scan"] == str(scan_id) and row["conclusion"] == n.conclusion
        assert row["problems"] == str(n.problems) and row["vetoes"] == str(n.vetoes)
        assert row["score"] == ("" if n.score is None else str(n.score))
        assert row["overdue"] == str(n.overdue)
        for sev in ("veto", "deduct", "warn", "review"):
            assert row["sev-" + sev] == str(n.by_severity.get(sev, 0)), (name, sev)
        rect = n.rectification
        assert row["previous"] == ("" if rect is None else str(rect.total))
        assert row["fixed"] == str(rect.fixed if rect else 0)
        if rect is not None:
            assert f"未整改 {rect.open}" in row["text"]
    # what each site's own report says (rendered by `sitewatch report --scan`, linked from its row)
    for name in (CLEAN, DOWN, LOW, VETOED):
        own = (out / f"领导摘要-{name}-{MONTH}.html").read_text(encoding="utf-8")
        [head] = BeautifulSoup(own, "html.parser").select("div.headline")
        conclusion = head.select_one("[data-conclusion]")["data-conclusion"]
        row = rows[name]
        assert (row["problems"], row["score"], row["conclusion"]) == (head["data-problems"], head["data-score"],
                                                                     conclusion), name
        assert (row["fixed"], row["previous"] or "0") == (head["data-fixed"], head["data-previous"]), name
        assert f'href="整改报告-{name}-{MONTH}.html"' in html
    assert f'href="整改报告-{FINE}-{MONTH}.html"' not in html          # not written: not linked
    assert rows[CLEAN]["conclusion"] == "合格" and rows[DOWN]["conclusion"] == "不合格"
    assert "站点无法访问（本次扫描）" in rows[DOWN]["text"] and "未抓取到任何页面" in rows[DOWN]["text"]


def test_no_verdict_without_an_audit_this_month(city, written):
    _, html, _ = written
    rows = {r["site"]: r for r in rows_of(html)}
    for name in (NEVER, FAILED, RUNNING, LASTONLY):
        assert rows[name]["conclusion"] == "未监测" and "scan" not in rows[name], name
    assert "本月未扫描" in rows[NEVER]["text"]
    assert f"最近一次监测 {LAST_DAY.isoformat()}" in rows[LASTONLY]["text"]     # audited, but last month
    assert "失败" in rows[FAILED]["text"] and "database is locked" in rows[FAILED]["text"]
    assert "sitewatch scan --resume" in rows[FAILED]["text"]
    assert "进行中" in rows[RUNNING]["text"]
    assert rows[EMPTY]["conclusion"] == "无法评定" and rows[EMPTY]["score"] == ""
    soup = BeautifulSoup(html, "html.parser")
    head = soup.select_one("div.headline")
    conclusions = [r["conclusion"] for r in rows.values()]
    assert head["data-sites"] == str(len(rows))
    assert head["data-passed"] == str(conclusions.count("合格"))
    assert head["data-failed"] == str(conclusions.count("不合格"))
    assert head["data-not-measured"] == "4" and head["data-not-judged"] == "1"
    assert f"已评定的 {conclusions.count('合格') + conclusions.count('不合格')} 个网站" in head.get_text()


def test_order_failed_first_then_by_score(city, written):
    _, html, _ = written
    rows = rows_of(html)
    order = [r["site"] for r in rows]
    assert order[:3] == [VETOED, DOWN, LOW] or order[:3] == [DOWN, VETOED, LOW]   # 1 veto each, then score 55
    ranks = [("不合格", "合格", "无法评定", "未监测").index(r["conclusion"]) for r in rows]
    assert ranks == sorted(ranks)
    passed = [float(r["score"]) for r in rows if r["conclusion"] == "合格"]
    assert passed == sorted(passed) and len(passed) >= 2
    assert float(next(r for r in rows if r["site"] == LOW)["score"]) < 60


def test_month_filter_and_default_month(city, tmp_path):
    db, path, _, ids = city
    html, _ = overview(db, tmp_path / "last", "--config", path, "--month", LAST)
    rows = {r["site"]: r for r in rows_of(html)}
    assert f"（{LAST_DAY.year}年{LAST_DAY.month}月）" in html
    assert rows[LASTONLY]["conclusion"] in ("合格", "不合格") and rows[LASTONLY]["scan"]
    assert rows[CLEAN]["conclusion"] == "未监测" and rows[EMPTY]["conclusion"] == "未监测"
    assert all(r.get("scan") != str(ids[CLEAN]) for r in rows.values())
    # no --month: the month of the latest audit; no --config: every site in the store
    html, files = overview(db, tmp_path / "now")
    assert {p.name for p in files} == {f"网站月度监测报告-中山市-{MONTH}.{ext}" for ext in ("html", "xlsx")}
    assert f"中山市政府网站月度监测报告（{TODAY.year}年{TODAY.month}月）" in html
    sites = {r["site"] for r in rows_of(html)}
    assert NEVER not in sites and {CLEAN, DOWN, FAILED, RUNNING, LASTONLY} <= sites    # the store's sites
    html, _ = overview(db, tmp_path / "region", "--region", "中山市镇街", "--month", MONTH)
    assert "<h1>中山市镇街政府网站月度监测报告（" in html


def test_a_month_without_any_audit_lists_every_site_unmeasured(city, tmp_path, capsys):
    db, path, homes, _ = city
    html, _ = overview(db, tmp_path / "o", "--config", path, "--month", "2019-01")
    captured = capsys.readouterr()
    assert "every site is listed as 未监测" in captured.err
    rows = rows_of(html)
    assert len(rows) == len(homes) - 1 and {r["conclusion"] for r in rows} == {"未监测"}
    assert 'data-passed="0"' in html and "合格率<br><span class=\"big\">—</span>" in html


def test_workbook_has_the_same_table(city, written):
    _, _, files = written
    html = next(p for p in files if p.suffix == ".html").read_text(encoding="utf-8")
    wb = load_workbook(next(p for p in files if p.suffix == ".xlsx"))
    ws = wb["各网站监测情况"]
    header = [c.value for c in ws[1]]
    assert header == [h for h, _ in OVERVIEW_COLUMNS]
    col = {h: i for i, h in enumerate(header)}
    cells = list(ws.iter_rows(min_row=2, values_only=True))
    rows = rows_of(html)
    assert [c[col["站点名称"]] for c in cells] == [r["site"] for r in rows]
    for c, r in zip(cells, rows, strict=True):
        assert c[col["总体结论"]] == r["conclusion"]
        if r.get("scan"):
            assert c[col["扫描编号"]] == int(r["scan"]) and c[col["问题数"]] == int(r["problems"])
            assert (c[col["估算得分"]] if c[col["估算得分"]] is not None else "") == (
                float(r["score"]) if r["score"] else "")
            assert isinstance(c[col["检查日期"]], dt.datetime)              # an Excel date
        else:
            assert c[col["问题数"]] is None and c[col["扫描编号"]] is None
    assert ws.freeze_panes == "A2" and ws.page_setup.orientation == "landscape"
    summary = {r[0]: r[1] for r in wb["总体情况"].iter_rows(values_only=True) if r and r[0]}
    assert summary["纳入监测网站"] == len(rows) and summary["未监测"] == 4


def test_hostile_text_is_inert(city, tmp_path):
    db, _, homes, _ = city
    html, files = overview(db, tmp_path / "o", "--month", MONTH)
    assert "<script" not in html and "\u202e" not in html and "\x1b" not in html and "\x07" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "\\u202e" in html and "\\x1b[2J" in html
    assert "<b>x</b>" not in html                                  # the homepage's markup stays text
    wb = load_workbook(next(p for p in files if p.suffix == ".xlsx"))
    texts = [v for ws in wb for row in ws.iter_rows(values_only=True) for v in row if isinstance(v, str)]
    assert not [t for t in texts if CONTROL.search(t)]
    assert any("\\u202e" in t and "<script>" in t for t in texts)   # shown as escapes, as text
    ws = wb["各网站监测情况"]
    assert all(c.data_type == "s" for row in ws.iter_rows(min_row=2) for c in row if isinstance(c.value, str))


@pytest.mark.parametrize("args,msg", [
    (["--all-sites", "--scan", "1"], "--all-sites and --scan cannot be used together"),
    (["--all-sites", "--scan", "latest"], "--all-sites and --scan cannot be used together"),
    (["--all-sites", "--deadline", "5"], "--deadline goes with one scan's report"),
    (["--all-sites", "--month", "2026-13"], "expected YYYY-MM"),
    (["--region", "中山市"], "--region goes with --all-sites"),
    (["--config", "x.toml"], "--config goes with --all-sites"),
    (["--all-sites", "--config", "/nonexistent/x.toml"], "config file not found"),
])
def test_cli_errors_are_one_line_exit_2(city, tmp_path, capsys, args, msg):
    db = city[0]
    assert main(["report", "--db", db, "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_empty_store_exits_2(tmp_path, capsys):
    db = str(tmp_path / "empty.db")
    Store(db)
    assert main(["report", "--all-sites", "--db", db, "--out", str(tmp_path / "o")]) == 2
    assert "no site in the store" in capsys.readouterr().err
    path = config(tmp_path / "c.toml", {"中山市西区": "http://xiqu.zs.gov.test/"})
    assert main(["report", "--all-sites", "--db", db, "--config", path, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "pass --month YYYY-MM to list every site as 未监测" in err and err.count("\n") == 1


def test_derive_region():
    assert derive_region(["中山市西区", "中山市石岐街道", "中山市东区"]) == "中山市"
    assert derive_region(["广东省中山市西区", "广东省广州市越秀区"]) == "广东省"
    assert derive_region(["西区", "东区"]) == "" and derive_region(["http://a.gov.cn/"]) == "" and derive_region([]) == ""


# ---------------------------------------------------------------- scale

def synthetic_city(db: str, sites: int, seed: int = 1) -> Store:
    """``sites`` sites with two audits each (last month, this month): 20–400 findings an audit, mostly broken links
    (a fifth of them on the homepage), stale and blank columns, a few 待核实 and, on one site in eight, a veto;
    this month's audit keeps about two thirds of last month's problems."""
    rnd = random.Random(seed)
    store = Store(db)
    for i in range(sites):
        name, base = f"某省某市站点{i:04d}", f"http://s{i}.gov.test/"
        n = rnd.randint(20, 400)
        pool = [Finding("link.broken", DEDUCT, f"{base}a/{k}.html", "链接无法访问：服务器返回 HTTP 404",
                        found_on=[base if k % 5 == 0 else f"{base}col/{k % 17}/"], evidence={"status": 404},
                        extra={"link_text": f"附件{k}"}) for k in range(n)]
        pool += [Finding("column.stale", WARN, f"{base}col/{k}/", f"栏目{k}超过 14 天未更新",
                         evidence={"age_days": 20 + k}, extra={"column": f"栏目{k}", "max_age_days": 14})
                 for k in range(n // 20)]
        pool += [Finding("security.hidden_link", REVIEW, f"{base}t/{k}.html", "疑似暗链") for k in range(n // 50)]
        if i % 8 == 0:
            pool.append(Finding("homepage.stale", VETO, base, "首页超过 14 天未更新", evidence={"age_days": 40},
                                extra={"max_age_days": 14}))
        before = rnd.sample(pool, k=len(pool) * 2 // 3)
        audit(store, name, LAST_DAY, before, pages=rnd.randint(200, 3000), url=base)
        kept = {f.fingerprint for f in before}
        audit(store, name, TODAY, [f for f in pool if f.fingerprint in kept or rnd.random() < 0.5],
              pages=rnd.randint(200, 3000), url=base)
    return store


def test_a_hundred_sites_one_pass_each_and_timed(tmp_path, monkeypatch):
    """Time per site on 100 synthetic sites (stated in reporting/overview.py's docstring); each site's numbers are
    worked out once, and no site's findings are read for another site's row."""
    store = synthetic_city(str(tmp_path / "big.db"), 100)
    calls: list[int] = []
    real = overview_module.scan_numbers

    def counted(store_, scan, **kw):
        calls.append(scan.id)
        return real(store_, scan, **kw)

    monkeypatch.setattr(overview_module, "scan_numbers", counted)
    read: list[int] = []
    findings = Store.findings

    def reading(self, scan_id):
        read.append(scan_id)
        return findings(self, scan_id)

    monkeypatch.setattr(Store, "findings", reading)
    started = time.perf_counter()
    data = build_overview(store, MONTH)
    per_site = (time.perf_counter() - started) / 100
    print(f"\noverview of 100 synthetic sites: {per_site * 1000:.1f} ms per site")
    assert len(data.rows) == 100 and len(calls) == 100 and len(set(calls)) == 100
    site_of = {s.id: s.site for s in store.scans()}
    runs = [site_of[i] for i in read]                     # the sites whose findings were read, in the order read
    assert [s for k, s in enumerate(runs) if k == 0 or runs[k - 1] != s] == sorted(set(runs), key=runs.index)
    assert data.counts["不合格"] >= 100 // 8 and data.counts["未监测"] == 0
    assert [order_key(r) for r in data.rows] == sorted(order_key(r) for r in data.rows)
    assert per_site < 1.0                                 # ~0.03 s measured; generous for a loaded machine


# ---------------------------------------------------------------- print

def test_prints_on_a4_landscape_and_the_table_fits(written):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright not installed (the render extra)")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (CI installs it with apt)")
    _, _, files = written
    html = next(p for p in files if p.suffix == ".html")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = b.new_page(viewport={"width": 1047, "height": 740})     # 277 mm: A4 landscape within margins
            page.emulate_media(media="print")
            page.goto(html.as_uri())
            table, body = page.evaluate("[document.querySelector('table.sites').getBoundingClientRect().right,"
                                        " document.body.getBoundingClientRect().right]")
            assert table <= body + 1 and page.evaluate("document.documentElement.scrollWidth") <= 1047
            pdf = page.pdf(prefer_css_page_size=True)
            sizes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
            assert sizes and all(float(w) > float(h) for w, h in sizes)        # landscape
            assert len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf)) <= 2        # 10 sites: two pages at most
        finally:
            b.close()
