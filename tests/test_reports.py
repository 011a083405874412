"""Reports rendered from a store built through the Store API: contents, escaping, XLSX, CSV, CLI errors."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from sitewatch.cli import main
from sitewatch.models import DEDUCT, VETO, WARN, Finding
from sitewatch.store import ColumnRow, LinkRow, ListItemRow, PageRow, Store, TargetRow

SITE = "西区"
ROOT = "http://xiqu.zs.gov.test/"   # reserved name: a look-back never resolves it
EVIL = "<script>alert(1)</script>"
EVIL_URL = ROOT + "bad?q=" + EVIL
DAYS = (dt.date(2026, 9, 26), dt.date(2026, 10, 26), dt.date(2026, 11, 26))


def link(path: str, on: str = ROOT + "col/news/", text: str = "附件", status: int = 404) -> Finding:
    return Finding("link.broken", DEDUCT, path if path.startswith("http") else ROOT + path,
                   f"链接无法访问：服务器返回 HTTP {status}", found_on=[on], evidence={"status": status},
                   extra={"internal": True, "link_text": text})


def stale(name: str, key: str, last: str, age: int, window: int = 14, unit: str | None = "办公室") -> Finding:
    return Finding("column.stale", WARN, f"{ROOT}col/{key}/", f"栏目“{name}”最近更新 {last}，超过 {window} 天未更新（已 {age} 天）",
                   evidence={"age_days": age, "unit": unit, "column_key": key},
                   extra={"column": name, "last_update": last, "max_age_days": window, "category": "dynamic"})


def blank(name: str, key: str) -> Finding:
    return Finding("column.blank", WARN, f"{ROOT}col/{key}/", f"栏目“{name}”为空白栏目：没有任何信息条目",
                   evidence={"items": 0, "column_key": key, "unit": "党政办"}, extra={"column": name})


FIXED_LINK = link("old/gone.html")
OPEN_LINK = link("files/a.pdf", on=ROOT, text="首页附件")
RECURRED_COL = stale("工作动态", "gzdt", "2026-11-01", 25)
NEW_EVIL = link(EVIL_URL, text=EVIL)
BLANKS = [blank(f"空白{i}", f"b{i}") for i in range(5)]
VETO_BLANK = Finding("veto.columns_blank", VETO, ROOT, "空白栏目超限：5 个栏目（阈值 ≥5 个）",
                     evidence={"count": 5, "threshold": 5, "columns": []})
MISSING = Finding("disclosure.missing", WARN, ROOT, "未找到2025年度政府信息公开工作年度报告（应于 2026-01-31 前公开）",
                  evidence={"due": "2026-01-31"}, extra={"item": "annual_report", "year": 2025, "document": None})
LATE = Finding("disclosure.late", WARN, ROOT, "2026年度部门预算应于 2026-03-01 前公开，实际发布 2026-04-10",
               found_on=[ROOT + "yjs/1.html"], evidence={"due": "2026-03-01", "found_url": ROOT + "yjs/1.html",
                                                      "found_date": "2026-04-10"},
               extra={"item": "budget", "year": 2026, "document": None})
HOMEPAGE = Finding("homepage.stale", VETO, ROOT, "首页最近更新 2026-10-01，超过 14 天未更新（已 56 天）",
                   evidence={"age_days": 56}, extra={"last_update": "2026-10-01", "max_age_days": 14})

SCAN_FINDINGS = (
    [FIXED_LINK, OPEN_LINK, RECURRED_COL],
    [OPEN_LINK, link("news/d.html")],
    [OPEN_LINK, RECURRED_COL, NEW_EVIL, *BLANKS, VETO_BLANK, MISSING, LATE, link("news/d.html")],
)


def build_store(db: str, scans=SCAN_FINDINGS, days=DAYS) -> tuple[Store, list[int]]:
    """A store with one completed full scan per entry of ``scans``; the last one has pages, links and columns."""
    store = Store(db)
    ids = []
    config = {"name": SITE, "start_urls": [ROOT], "columns": {"工作动态": {"unit": "宣传办"}}, "default_unit": "办公室"}
    for day, findings in zip(days, scans, strict=False):
        sid = store.new_scan(SITE, [ROOT], day, config)
        store.add(PageRow, scan_id=sid, url=ROOT, status=200, title="西区首页")
        store.add(PageRow, scan_id=sid, url=ROOT + "col/news/", status=200, title=EVIL)
        store.add(PageRow, scan_id=sid, url=ROOT + "col/gzdt/", status=200, title="工作动态")
        store.add(LinkRow, scan_id=sid, page_url=ROOT + "col/news/", target=EVIL_URL, tag="a", text=EVIL)
        store.add(TargetRow, scan_id=sid, url=EVIL_URL, internal=True, status=404, verdict="broken")
        store.add(ColumnRow, scan_id=sid, key="tzgg", name="通知公告", url=ROOT + "col/tzgg/")
        store.add(ListItemRow, scan_id=sid, column_key="tzgg", page_url=ROOT + "col/tzgg/", title="通知",
                  url=ROOT + "col/tzgg/1.html", date=day - dt.timedelta(days=150))
        store.add(ColumnRow, scan_id=sid, key="zwyw", name="政务要闻", url=ROOT + "col/zwyw/")
        store.add(ListItemRow, scan_id=sid, column_key="zwyw", page_url=ROOT + "col/zwyw/", title="要闻",
                  url=ROOT + "col/zwyw/1.html", date=day - dt.timedelta(days=3))
        store.finish_scan(sid, "completed", {"pages": 3, "checked": 40, "links": 120})
        store.save_findings(sid, findings)
        ids.append(sid)
    return store, ids


@pytest.fixture
def built(tmp_path):
    db = str(tmp_path / "sw.db")
    store, ids = build_store(db)
    return db, store, ids


def run_report(db: str, out: Path, *extra: str) -> list[Path]:
    assert main(["report", "--db", db, "--out", str(out), *extra]) == 0
    return sorted(out.iterdir())


def test_report_files_and_names(built, tmp_path, capsys):
    db, _, _ = built
    files = run_report(db, tmp_path / "out")
    names = sorted(p.name for p in files)
    assert names == sorted([f"整改报告-西区-2026-11.{ext}" for ext in ("html", "xlsx", "csv")]
                           + ["领导摘要-西区-2026-11.html"])
    printed = capsys.readouterr().out
    for p in files:
        assert str(p) in printed


def test_rectification_contents(built, tmp_path):
    db, _, ids = built
    run_report(db, tmp_path / "out")
    html = (tmp_path / "out" / "整改报告-西区-2026-11.html").read_text(encoding="utf-8")
    for heading in ("一、总体情况", "二、问题清单", "三、必公开事项核对表", "四、回头看", "五、预警"):
        assert heading in html
    assert ROOT in html and "抓取页面 <b>3</b>" in html and "检查链接地址 <b>40</b>" in html
    # veto table: blank columns 5 of ≥5 → 否决; stale columns 1 of ≥5 → 合格; homepage 合格
    rows = re.findall(r'<tr data-rule="([^"]+)" data-band="([^"]+)"><td>[^<]+</td><td[^>]*>[^<]*</td><td>([^<]+)', html)
    table = {rule: (measured, verdict) for rule, verdict, measured in rows}
    assert set(table) >= {"veto.columns_stale", "veto.columns_long_stale", "veto.columns_blank", "availability.down",
                          "homepage.stale"}
    assert table["veto.columns_blank"] == ("5 个栏目", "否决")
    assert table["veto.columns_stale"] == ("1 个栏目", "合格")
    assert table["veto.columns_long_stale"] == ("0 个栏目", "合格")
    assert table["homepage.stale"][1] == "合格"
    assert table["availability.down"] == ("未做可用性监测", "未监测")   # no probes: never shown as 合格
    assert "不合格" in html
    # one problem row per finding, numbered
    body = html.split("二、问题清单")[1].split("三、必公开事项核对表")[0]
    statuses = re.findall(r'<tr data-rule="([^"]+)" data-status="([^"]+)">', body)
    assert len(statuses) == len(SCAN_FINDINGS[2])
    assert statuses[0] == ("veto.columns_blank", "未整改")
    assert ("column.stale", "反复出现") in statuses
    # 首次发现: the open link goes back to the first scan; the recurred column too; the evil link is new
    assert DAYS[0].isoformat() in body and DAYS[2].isoformat() in body
    # 整改时限: first found + 15 days for links, so the open link is overdue
    assert (DAYS[0] + dt.timedelta(days=15)).isoformat() in body and "已逾期" in body
    assert "反复出现" in body and "未整改" in body
    # 责任科室: finding's own unit, else the default
    assert "党政办" in body and "办公室" in body
    # disclosures
    disc = html.split("三、必公开事项核对表")[1].split("四、回头看")[0]
    assert "政府信息公开工作年度报告" in disc and "缺失" in disc and "逾期公开" in disc and "2026-04-10" in disc
    assert "政府信息公开指南" in disc and "未发现问题" in disc
    # look-back of the previous scan: the open link 未整改, news/d.html 未整改, the recurred column listed
    look = html.split("四、回头看")[1].split("五、预警")[0]
    assert "发现问题 2 个" in look and "未整改 2 个" in look and "再次出现的问题 1 个" in look
    # the rows still open are in the problem list (整改状态 未整改); the section lists what changed
    assert re.findall(r'data-status="([^"]+)"', look) == ["反复出现"] and "仍未整改的问题已列入上方问题清单" in look
    # warning: 通知公告 150 of 183 days (≥70 %)
    warn = html.split("五、预警")[1]
    assert "通知公告" in warn and "还剩 33 天" in warn and "政务要闻" not in warn


def test_score_and_summary(built, tmp_path):
    db, _, _ = built
    run_report(db, tmp_path / "out")
    html = (tmp_path / "out" / "领导摘要-西区-2026-11.html").read_text(encoding="utf-8")
    # links: one on the homepage (1 point), two elsewhere (0.1 each) → 98.8
    assert "98.8" in html
    assert "不合格" in html and 'class="light red"' in html and 'class="light green"' in html
    assert html.count("<svg") == 2 and "<script" not in html.replace("&lt;script", "")   # problems, score
    assert "近 3 次监测趋势" in html
    top = html.split("需优先整改的问题")[1].split("与上期相比")[0]
    assert top.count("<li") == 5 and "空白栏目超限" in top
    changes = html.split("与上期相比")[1]
    assert "新发现问题" in changes and "已整改 0 个、未整改 2 个；另有 1 个曾整改的问题再次出现" in changes and "单项否决指标“空白栏目超限”由合格变为否决" in changes


@pytest.mark.parametrize("name", ["整改报告-西区-2026-11.html", "领导摘要-西区-2026-11.html"])
def test_hostile_text_escaped(built, tmp_path, name):
    db, _, _ = built
    run_report(db, tmp_path / "out")
    html = (tmp_path / "out" / name).read_text(encoding="utf-8")
    assert "<script" not in html
    if name.startswith("整改"):
        assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2   # the URL and the link text


def test_xlsx_rows_columns_and_unit_sheets(built, tmp_path):
    db, _, _ = built
    run_report(db, tmp_path / "out")
    wb = load_workbook(tmp_path / "out" / "整改报告-西区-2026-11.xlsx")
    ws = wb["问题清单"]
    header = [c.value for c in ws[1]]
    assert header[:10] == ["序号", "问题类型", "依据", "问题网址", "所在页面/栏目", "问题描述", "首次发现", "责任科室",
                           "整改时限", "监测状态"]          # sitewatch's status; 整改状态 is the unit's to fill in
    assert ws.max_row - 1 == len(SCAN_FINDINGS[2])
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    urls = [r[3] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert EVIL_URL in urls
    units = {r[7] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert set(wb.sheetnames) == {"汇总", "问题清单", *units, "_sitewatch"}
    assert sum(wb[u].max_row - 1 for u in units) == len(SCAN_FINDINGS[2])


def test_csv_round_trips(built, tmp_path):
    db, _, _ = built
    run_report(db, tmp_path / "out")
    raw = (tmp_path / "out" / "整改报告-西区-2026-11.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines(keepends=True)))
    assert len(rows) == len(SCAN_FINDINGS[2])
    assert [r["序号"] for r in rows] == [str(i) for i in range(1, len(rows) + 1)]
    assert {r["问题网址"] for r in rows} >= {EVIL_URL, OPEN_LINK.url}
    evil = next(r for r in rows if r["问题网址"] == EVIL_URL)
    assert EVIL in evil["所在页面/栏目"] and evil["整改状态"] == "未整改"


def test_csv_formula_cells_neutralised():
    from sitewatch.reporting.tables import csv_safe
    assert csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_safe("http://a/") == "http://a/"


def test_scan_and_month_selection(built, tmp_path):
    db, _, ids = built
    files = run_report(db, tmp_path / "a", "--scan", str(ids[0]))
    assert any(p.name == "整改报告-西区-2026-09.html" for p in files)
    files = run_report(db, tmp_path / "b", "--month", "2026-10")
    assert any(p.name == "领导摘要-西区-2026-10.html" for p in files)


def test_deadline_override(built, tmp_path):
    db, _, _ = built
    run_report(db, tmp_path / "out", "--deadline", "link.broken=5")
    wb = load_workbook(tmp_path / "out" / "整改报告-西区-2026-11.xlsx")
    rows = [r for r in wb["问题清单"].iter_rows(min_row=2, values_only=True) if r[3] == EVIL_URL]
    assert rows[0][8] == dt.datetime.combine(DAYS[2] + dt.timedelta(days=5), dt.time())     # an Excel date


@pytest.mark.parametrize("args,msg", [
    (["--scan", "999"], "no scan with id 999"),
    (["--scan", "abc"], "expected a scan id"),
    (["--month", "2025-01"], "no completed scan in the store for 2025-01"),
    (["--month", "2025-13"], "expected YYYY-MM"),
])
def test_bad_selection_exits_2(built, tmp_path, capsys, args, msg):
    db, _, _ = built
    assert main(["report", "--db", db, "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1


def test_empty_store_and_missing_db_exit_2(tmp_path, capsys):
    db = str(tmp_path / "empty.db")
    Store(db)
    assert main(["report", "--db", db, "--out", str(tmp_path / "o")]) == 2
    assert "no completed scan" in capsys.readouterr().err
    assert main(["report", "--db", str(tmp_path / "none.db")]) == 2
    assert "no database" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_no_previous_scan_and_no_problems(tmp_path):
    db = str(tmp_path / "one.db")
    build_store(db, scans=[[]], days=DAYS[:1])
    run_report(db, tmp_path / "out")
    html = (tmp_path / "out" / "整改报告-西区-2026-09.html").read_text(encoding="utf-8")
    assert "本期未发现问题" in html and "本期为首次监测" in html and "合格" in html
    summary = (tmp_path / "out" / "领导摘要-西区-2026-09.html").read_text(encoding="utf-8")
    assert "本次为首次监测" in summary and "无待整改问题" in summary
