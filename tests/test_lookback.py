"""Look-back: pure classification over scans' fingerprint sets, and re-verification against a loopback site."""

from __future__ import annotations

import datetime as dt
import re

from loopback import Answer, LoopbackSite, page
from openpyxl import load_workbook
from test_reports import EVIL, build_store

from sitewatch.cli import main
from sitewatch.config import SiteConfig
from sitewatch.lookback import resolve_since, run_lookback
from sitewatch.models import DEDUCT, VETO, WARN, Finding
from sitewatch.rectification import FIXED, NEW, OPEN, PENDING, RECURRED, classify
from sitewatch.store import Store

# the stored scans are of a public site (www.xiqu...), the re-checked pages are on loopback: internal addresses are
# refused by the network policy unless the site's config allows them (tests/test_netpolicy.py checks the refusal)
LOOPBACK_ALLOWED = SiteConfig(network_allow=["127.0.0.0/8"])


def test_classify_three_scans():
    s1, s2, s3 = {"fixed", "open", "recurred"}, {"open", "gone"}, {"open", "recurred", "new"}
    assert classify([s1, s2], s3) == {"open": OPEN, "gone": FIXED, "recurred": RECURRED, "new": NEW}


def test_classify_baseline_and_pending():
    s1, s2 = {"a", "b", "c"}, {"b"}
    assert classify([s1], {"b"}) == {"a": FIXED, "b": OPEN, "c": FIXED}
    assert classify([s1, s2], {"a", "b"}, baseline=s1, pending={"c"}) == {"a": RECURRED, "b": OPEN, "c": PENDING}


def test_classify_recurrence_needs_a_gap():
    assert classify([{"x"}, {"x"}, {"x"}], {"x"})["x"] == OPEN
    assert classify([{"x"}, set(), {"x"}], {"x"})["x"] == RECURRED
    assert classify([set(), set(), {"x"}], {"x"})["x"] == OPEN
    assert classify([{"x"}, set(), set()], {"x"})["x"] == RECURRED
    assert classify([], {"x"}) == {"x": NEW}


def listing(dates: list[str]) -> str:
    rows = "".join(f'<li><a href="/col/x/{i}.html">西区召开第{i}次工作会议</a><span>{d}</span></li>'
                   for i, d in enumerate(dates, 1))
    return page("工作动态", f'<div class="list"><ul>{rows}</ul></div>')


def test_reverify_against_loopback(tmp_path):
    routes = {
        "/fixed.html": Answer(200, page("已恢复", "<p>" + "正文内容" * 50 + "</p>")),
        "/col/fresh/": Answer(200, listing(["2026-12-01", "2026-11-28", "2026-11-20"])),
        "/col/old/": Answer(200, listing(["2026-10-01", "2026-09-20", "2026-09-01"])),
    }
    with LoopbackSite(routes) as site:
        root = site.url("/")
        base = [
            Finding("link.broken", DEDUCT, site.url("/fixed.html"), "链接无法访问：服务器返回 HTTP 404",
                    found_on=[root], evidence={"status": 404}, extra={"link_text": "通知"}),
            Finding("link.broken", DEDUCT, site.url("/still.pdf"), "链接无法访问：服务器返回 HTTP 404",
                    found_on=[root], evidence={"status": 404}, extra={"link_text": EVIL}),
            Finding("column.stale", WARN, site.url("/col/fresh/"), "栏目“工作动态”超过 14 天未更新",
                    evidence={"age_days": 40}, extra={"column": "工作动态", "max_age_days": 14, "category": "dynamic"}),
            Finding("column.stale", WARN, site.url("/col/old/"), "栏目“政务要闻”超过 14 天未更新",
                    evidence={"age_days": 30}, extra={"column": "政务要闻", "max_age_days": 14, "category": "dynamic"}),
            Finding("disclosure.missing", WARN, root, "未找到2025年度政府信息公开工作年度报告",
                    extra={"item": "annual_report", "year": 2025, "document": None}),
            Finding("disclosure.missing", WARN, root, "未找到2026年度部门预算",
                    extra={"item": "budget", "year": 2026, "document": None}),
        ]
        # the later full scan still finds the budget, no longer the annual report: the re-check cannot tell
        # either (a disclosure needs a full scan), so the later scan decides them
        later = [base[1], base[5], Finding("link.broken", DEDUCT, site.url("/new.html"),
                                           "链接无法访问：服务器返回 HTTP 404", found_on=[root],
                                           evidence={"status": 404})]
        db = str(tmp_path / "lb.db")
        store, (b_id, l_id) = build_store(db, scans=[base, later], days=(dt.date(2026, 11, 26), dt.date(2026, 12, 3)))
        baseline = store.scan(b_id)
        result = run_lookback(store, baseline, dt.date(2026, 12, 5), timeout=3, cfg=LOOPBACK_ALLOWED)
    by_url = {r["finding"].url: r for r in result.rows}
    assert by_url[site.url("/fixed.html")]["status"] == FIXED
    assert by_url[site.url("/still.pdf")]["status"] == OPEN
    assert by_url[site.url("/col/fresh/")]["status"] == FIXED and "2026-12-01" in by_url[site.url("/col/fresh/")]["note"]
    assert by_url[site.url("/col/old/")]["status"] == OPEN
    by_item = {r["finding"].extra.get("item"): r for r in result.rows}
    assert by_item["annual_report"]["status"] == FIXED and "未再发现该问题" in by_item["annual_report"]["note"]
    assert by_item["budget"]["status"] == OPEN and "仍发现该问题" in by_item["budget"]["note"]
    assert by_url[site.url("/new.html")]["status"] == NEW
    assert result.counts == {OPEN: 3, RECURRED: 0, PENDING: 0, NEW: 1, FIXED: 3}
    # stored as a look-back scan: the open, pending and new problems, not the fixed ones
    lb = store.scan(result.scan_id)
    assert lb.kind == "lookback" and lb.config["baseline"] == b_id and lb.config["latest"] == l_id
    stored = store.findings(result.scan_id)
    assert sorted(f.extra["lookback_status"] for f in stored) == sorted([OPEN, OPEN, OPEN, NEW])
    assert store.latest_scan().id == l_id        # a look-back never becomes the latest full scan
    # the baseline's rectification report takes 整改状态 from the look-back
    assert main(["report", "--db", db, "--scan", str(b_id), "--out", str(tmp_path / "rep")]) == 0
    wb = load_workbook(tmp_path / "rep" / "整改报告-西区-2026-11.xlsx")
    got = {r[3]: r[9] for r in wb["问题清单"].iter_rows(min_row=2, values_only=True)}
    assert got[site.url("/fixed.html")] == FIXED and got[site.url("/still.pdf")] == OPEN
    assert got[site.url("/col/old/")] == OPEN
    at_root = {r[5]: r[9] for r in wb["问题清单"].iter_rows(min_row=2, values_only=True) if r[3] == root}
    assert at_root == {"未找到2025年度政府信息公开工作年度报告": FIXED, "未找到2026年度部门预算": OPEN}


def test_lookback_without_a_later_scan_leaves_what_it_cannot_recheck_pending(tmp_path):
    root = "http://127.0.0.1:9/"
    missing = Finding("disclosure.missing", WARN, root, "未找到2025年度政府信息公开工作年度报告",
                      extra={"item": "annual_report", "year": 2025, "document": None})
    store, (b_id,) = build_store(str(tmp_path / "p.db"), scans=[[missing]], days=(dt.date(2026, 11, 26),))
    result = run_lookback(store, store.scan(b_id), dt.date(2026, 12, 5), timeout=1)
    assert [r["status"] for r in result.rows] == [PENDING] and result.latest is None
    assert result.counts == {OPEN: 0, RECURRED: 0, PENDING: 1, NEW: 0, FIXED: 0}


def test_column_veto_follows_its_columns(tmp_path):
    fresh = listing(["2026-12-01"])
    with LoopbackSite({f"/col/c{i}/": Answer(200, fresh if i < 2 else listing(["2026-01-01"])) for i in range(5)}) as site:
        cols = [Finding("column.stale", WARN, site.url(f"/col/c{i}/"), "栏目不更新", evidence={"age_days": 60},
                        extra={"column": f"动态{i}", "max_age_days": 14, "category": "dynamic"}) for i in range(5)]
        veto = Finding("veto.columns_stale", VETO, site.url("/"), "时效栏目不更新累计超限：5 个栏目",
                       evidence={"count": 5, "threshold": 5})
        store, (b_id,) = build_store(str(tmp_path / "v.db"), scans=[[*cols, veto]], days=(dt.date(2026, 11, 26),))
        result = run_lookback(store, store.scan(b_id), dt.date(2026, 12, 5), timeout=3, cfg=LOOPBACK_ALLOWED)
    by_rule = [r for r in result.rows if r["finding"].rule == "veto.columns_stale"]
    assert by_rule[0]["status"] == FIXED and "3 个栏目" in by_rule[0]["note"]


def test_lookback_cli_writes_files_and_escapes(tmp_path, capsys):
    allow_loopback = tmp_path / "site.toml"
    allow_loopback.write_text('[site]\nname = "西区"\nstart_url = "https://www.xiqu.gov.cn/"\n'
                              '[network]\nallow = ["127.0.0.0/8"]\n', encoding="utf-8")
    with LoopbackSite({"/ok.html": Answer(200, page("正常", "<p>" + "内容" * 100 + "</p>"))}) as site:
        bad = site.url("/gone?x=" + EVIL)
        findings = [Finding("link.broken", DEDUCT, bad, "链接无法访问", found_on=[site.url("/")],
                            extra={"link_text": EVIL})]
        db = str(tmp_path / "c.db")
        store, (b_id,) = build_store(db, scans=[findings], days=(dt.date(2026, 11, 26),))
        out = tmp_path / "out"
        assert main(["lookback", "--since", "2026-11-30", "--db", db, "--out", str(out), "--as-of", "2026-12-05",
                     "--timeout", "3", "--config", str(allow_loopback)]) == 0
    printed = capsys.readouterr().out
    html_path = out / "回头看-西区-2026-12-05.html"
    assert str(html_path) in printed and "未整改 1" in printed
    html = html_path.read_text(encoding="utf-8")
    assert "<script" not in html and html.count("&lt;script&gt;") >= 2
    assert re.findall(r'data-status="([^"]+)"', html) == [OPEN]
    wb = load_workbook(out / "回头看-西区-2026-12-05.xlsx")
    rows = list(wb.active.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 1 and rows[0][2] == bad and rows[0][7] == OPEN


def test_since_resolution_and_errors(tmp_path, capsys):
    db = str(tmp_path / "r.db")
    store, ids = build_store(db)
    assert resolve_since(store, str(ids[1])).id == ids[1]
    assert resolve_since(store, "2026-10-30").id == ids[1]
    assert resolve_since(store, "2020-01-01").id == ids[0]
    assert main(["lookback", "--since", "999", "--db", db]) == 2
    assert "no scan with id 999" in capsys.readouterr().err
    assert main(["lookback", "--since", "yesterday", "--db", db]) == 2
    assert "expected a scan id or YYYY-MM-DD" in capsys.readouterr().err
    empty = str(tmp_path / "e.db")
    Store(empty)
    assert main(["lookback", "--since", "2026-01-01", "--db", empty]) == 2
    assert "no completed scan" in capsys.readouterr().err
