"""The rectification loop closes: the 整改报告 workbook a unit fills in and the 抽查表 an assessor fills in are read
back by `sitewatch import`; the next look-back shows each declaration beside its re-check. Rows that do not
match (an edited key, a row of another scan, a missing row, an invalid value) are reported one per line and change
nothing; bad input changes nothing at all."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

import pytest
from conftest import scan_site
from loopback import Answer, LoopbackSite, page
from openpyxl import Workbook, load_workbook

from sitewatch.cli import main
from sitewatch.reporting.workbook import KEY_HEADER, ROW_KEY_HEADER
from sitewatch.store import Store

AS_OF = dt.date(2026, 11, 26)
GONE = ("gone1.html", "gone2.html", "gone3.html", "gone4.html")


def routes() -> dict:
    links = "".join(f'<a href="{g}">附件{i}</a>' for i, g in enumerate(GONE, 1))
    return {"/s/": Answer(body=page("示例镇人民政府", '<a href="a.html">文章</a>' + links)),
            "/s/a.html": Answer(body=page("文章", "<p>" + "正文内容" * 40 + "</p>"))}


def columns(ws) -> dict[str, int]:
    return {c.value: i for i, c in enumerate(ws[1]) if c.value}


def body(ws) -> list:
    return list(ws.iter_rows(min_row=2))


def fill(ws, row, status=None, note=None, done=None) -> None:
    col = columns(ws)
    for header, value in (("整改状态", status), ("整改措施", note), ("完成时间", done)):
        if value is not None:
            row[col[header]].value = value


def declarations(db: str, scan_id: int, kind: str = "unit") -> dict:
    return Store(db).declarations(scan_id, kind)


def by_url(ws, url: str):
    col = columns(ws)
    return next(r for r in body(ws) if r[col["问题网址"]].value == url)


def report(db: str, out: Path, *extra: str) -> Path:
    assert main(["report", "--db", db, "--out", str(out), *extra]) == 0
    return next(out.glob("整改报告-*.xlsx"))


@pytest.fixture
def scanned(store_db, tmp_path):
    """A scan of a small loopback site with four broken links (four problems of 办公室), and its workbook."""
    site = LoopbackSite(routes())
    with site:
        result, _ = scan_site(site.url("/s/"), store_db, as_of=AS_OF, default_unit="办公室")
        xlsx = report(store_db, tmp_path / "r1")
        yield site, result.scan_id, xlsx


def test_the_unit_workbook_is_ready_to_fill_in(scanned, store_db):
    site, scan_id, xlsx = scanned
    wb = load_workbook(xlsx)
    assert wb.sheetnames[:2] == ["汇总", "问题清单"] and wb["_sitewatch"].sheet_state == "hidden"
    ws = wb["问题清单"]
    col = columns(ws)
    assert list(col)[-4:] == ["整改措施", "完成时间", "整改状态", KEY_HEADER]
    key = ws.cell(row=1, column=col[KEY_HEADER] + 1).column_letter
    assert ws.column_dimensions[key].hidden
    rules = {dv.type: dv for dv in ws.data_validations.dataValidation}
    assert rules["list"].formula1 == '"未整改,整改中,已整改,无法整改"' and rules["date"].formula1 == "DATE(2000,1,1)"
    assert str(rules["list"].sqref) == f"{ws.cell(row=2, column=col['整改状态'] + 1).coordinate}:" \
                                       f"{ws.cell(row=ws.max_row, column=col['整改状态'] + 1).coordinate}"
    first = body(ws)[0]
    assert isinstance(first[col["首次发现"]].value, dt.datetime) and first[col["首次发现"]].number_format == "yyyy-mm-dd"
    assert isinstance(first[col["整改时限"]].value, dt.datetime)
    assert ws.print_title_rows == "$1:$1" and ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
    summary = [[c for c in r] for r in wb["汇总"].iter_rows(values_only=True)]
    assert ["扫描编号", scan_id] in [r[:2] for r in summary]
    unit_row = next(r for r in summary if r[0] == "办公室")
    assert unit_row[1] == ws.max_row - 1 == len(Store(store_db).findings(scan_id))
    assert unit_row[2] == 0 and str(unit_row[7]).startswith("=COUNTIFS(")


def test_overdue_rows_are_highlighted(store_db, tmp_path):
    with LoopbackSite(routes()) as site:
        scan_site(site.url("/s/"), store_db, as_of=AS_OF, default_unit="办公室")
        xlsx = report(store_db, tmp_path / "r", "--deadline", "0")      # a deadline of 0 days: overdue at once
        scan_site(site.url("/s/"), store_db, as_of=AS_OF + dt.timedelta(days=30), default_unit="办公室")
        later = report(store_db, tmp_path / "r2", "--deadline", "3")
    ws = load_workbook(later)["问题清单"]
    assert all(r[0].fill.fgColor.rgb.endswith("FADBD8") for r in body(ws))           # found 30 days ago, 3 allowed
    summary = {r[0]: r for r in load_workbook(xlsx)["汇总"].iter_rows(values_only=True) if r and r[0]}
    assert summary["办公室"][2] == 0                                                # none overdue on the day
    later_summary = {r[0]: r for r in load_workbook(later)["汇总"].iter_rows(values_only=True) if r and r[0]}
    assert later_summary["办公室"][2] == later_summary["办公室"][1] > 0


def test_round_trip_unit_declarations_then_the_lookback_shows_them(scanned, store_db, tmp_path, capsys):
    site, scan_id, xlsx = scanned
    wb = load_workbook(xlsx)
    ws = wb["问题清单"]
    g1, g2, g3, g4 = (site.url("/s/" + g) for g in GONE)
    fill(ws, by_url(ws, g1), "已整改", "已删除失效附件链接", dt.datetime(2026, 12, 1))
    fill(ws, by_url(ws, g2), "已整改", "已重新上传附件", "2026/12/2")
    fill(ws, by_url(ws, g3), "无法整改", "附件系省级平台发布，已函告")
    fill(ws, by_url(ws, g4), "整改中", "正在联系栏目维护单位")
    filled = tmp_path / "filled.xlsx"
    wb.save(filled)
    assert main(["import", str(filled), "--db", store_db]) == 0
    out = capsys.readouterr().out
    assert f"imported unit declarations for scan {scan_id}" in out and "4 new, 0 updated, 0 unchanged" in out
    stored = declarations(store_db, scan_id)
    got = {d["url"]: (d["status"], d["note"], d["done_on"], d["declared_by"]) for d in stored.values()}
    assert got == {g1: ("已整改", "已删除失效附件链接", dt.date(2026, 12, 1), "办公室"),
                   g2: ("已整改", "已重新上传附件", dt.date(2026, 12, 2), "办公室"),
                   g3: ("无法整改", "附件系省级平台发布，已函告", None, "办公室"),
                   g4: ("整改中", "正在联系栏目维护单位", None, "办公室")}
    assert all("filled.xlsx: 问题清单 row" in d["source"] for d in stored.values())

    # importing again changes nothing, not even the times
    assert main(["import", str(filled), "--db", store_db]) == 0
    assert "0 new, 0 updated, 4 unchanged" in capsys.readouterr().out
    assert declarations(store_db, scan_id) == stored

    # a report written now holds what was declared
    again = load_workbook(report(store_db, tmp_path / "r2"))["问题清单"]
    col = columns(again)
    assert by_url(again, g3)[col["整改状态"]].value == "无法整改"

    # the unit fixed gone1 for real, not gone2: the look-back verifies the declarations
    site.routes["/s/gone1.html"] = Answer(body=page("附件一", "<p>" + "附件内容" * 40 + "</p>"))
    lb_out = tmp_path / "lb"
    assert main(["lookback", "--since", str(scan_id), "--db", store_db, "--out", str(lb_out), "--as-of", "2026-12-05",
                 "--timeout", "3"]) == 0
    capsys.readouterr()
    html = next(lb_out.glob("*.html")).read_text(encoding="utf-8")
    rows = dict(re.findall(r'<td class="url">([^<]+)</td>.*?data-verified="([^"]*)"', html, re.DOTALL))
    assert rows[g1] == "复核通过" and rows[g2] == "复核未通过" and rows[g3] == "" and rows[g4] == ""
    assert "单位报已整改 <b>2</b> 个" in html and "复核通过 <b>1</b> 个，复核未通过 <b>1</b> 个" in html
    assert "单位报无法整改" in html and "附件系省级平台发布" in html
    lb = load_workbook(next(lb_out.glob("*.xlsx"))).active
    col = columns(lb)
    got = {r[col["问题网址"]].value: (r[col["单位填报"]].value, r[col["核验结论"]].value) for r in body(lb)}
    assert got[g1] == ("单位报已整改", "复核通过") and got[g2] == ("单位报已整改", "复核未通过")
    assert got[g4] == ("单位报整改中", None)
    assert all(v[0] == "未填报" for u, v in got.items() if u not in (g1, g2, g3, g4))
    done = next(r for r in body(lb) if r[col["问题网址"]].value == g1)[col["完成时间"]].value
    assert done == dt.datetime(2026, 12, 1)


def test_rows_that_do_not_match_are_reported_and_change_nothing(scanned, store_db, tmp_path, capsys):
    site, scan_id, xlsx = scanned
    g1, g2, g3, g4 = (site.url("/s/" + g) for g in GONE)
    # a declaration made earlier stays whatever this workbook does
    wb = load_workbook(xlsx)
    fill(wb["问题清单"], by_url(wb["问题清单"], g4), "整改中", "联系中")
    wb.save(tmp_path / "first.xlsx")
    assert main(["import", str(tmp_path / "first.xlsx"), "--db", store_db]) == 0
    before = declarations(store_db, scan_id)

    # another scan of another site in the same store: its workbook's rows are foreign here
    with LoopbackSite(routes()) as other:
        other_scan, _ = scan_site(other.url("/s/"), store_db, as_of=AS_OF, name="另一镇", default_unit="党政办")
        foreign = load_workbook(report(store_db, tmp_path / "other", "--scan", str(other_scan.scan_id)))["问题清单"]
    foreign_key = body(foreign)[0][columns(foreign)[KEY_HEADER]].value

    wb = load_workbook(xlsx)
    ws = wb["问题清单"]
    col = columns(ws)
    fill(ws, by_url(ws, g1), "已整改", "删除", "2026-12-01")
    edited = by_url(ws, g2)
    fill(ws, edited, "已整改", "改好了")
    edited[col[KEY_HEADER]].value = "0123456789abcdef"                 # an edited key
    moved = by_url(ws, g3)
    fill(ws, moved, "已整改", "改好了")
    moved[col[KEY_HEADER]].value = foreign_key                         # a row pasted from the other site's workbook
    unit = wb["办公室"]
    for sheet in (ws, unit):                                           # gone4's row is missing
        sheet.delete_rows(by_url(sheet, g4)[0].row)
    fill(unit, by_url(unit, g1), "已整改", "删除了", "2026-12-01")     # gone1 declared differently on its unit sheet
    fill(unit, by_url(unit, site.url("/s/gone3.html")), "已完成")      # not a choice of the dropdown
    fill(unit, by_url(unit, site.url("/s/gone2.html")), None, None, "下周")   # a date that is no date, no status
    wb.save(tmp_path / "messy.xlsx")
    capsys.readouterr()
    assert main(["import", str(tmp_path / "messy.xlsx"), "--db", store_db]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "0 new, 0 updated, 0 unchanged" in lines[0]
    assert any("问题清单 row" in ln and "0123456789abcdef" in ln and "the key was edited" in ln for ln in lines)
    assert any(f"is a row of scan {other_scan.scan_id} (另一镇" in ln and f"not of scan {scan_id}" in ln for ln in lines)
    assert any("missing:" in ln and g4 in ln and "(办公室)" in ln for ln in lines)
    assert any("办公室 row" in ln and "declares" in ln and "differently" in ln for ln in lines)
    assert any("'已完成' is not one of 未整改/整改中/已整改/无法整改" in ln for ln in lines)
    assert any("整改状态 is empty" in ln for ln in lines)
    assert all(ln.endswith("not imported") or ln.endswith("neither is imported") or "missing:" in ln
               or ln.endswith("nothing declared for it") for ln in lines[1:])
    assert declarations(store_db, scan_id) == before                  # nothing it could not match changed


@pytest.mark.parametrize("case", ["text", "foreign_xlsx", "wrong_db", "no_file", "scan_gone"])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(scanned, store_db, tmp_path, capsys, case):
    site, scan_id, xlsx = scanned
    db = store_db
    if case == "text":
        target = tmp_path / "notes.xlsx"
        target.write_text("整改情况：已全部整改", encoding="utf-8")
        says = "not an XLSX workbook"
    elif case == "foreign_xlsx":
        target = tmp_path / "own.xlsx"
        wb = Workbook()
        wb.active.append(["序号", "整改状态"])
        wb.save(target)
        says = "not a workbook sitewatch wrote"
    elif case == "no_file":
        target, says = tmp_path / "none.xlsx", "no such file"
    else:
        target = tmp_path / "filled.xlsx"
        wb = load_workbook(xlsx)
        fill(wb["问题清单"], body(wb["问题清单"])[0], "已整改", "删除")
        wb.save(target)
        if case == "wrong_db":
            db = str(tmp_path / "other.db")
            with LoopbackSite(routes()) as other:
                scan_site(other.url("/s/"), db, as_of=AS_OF)          # scan 1 of another store: not this one
            says = "wrong --db?"
        else:
            db = str(tmp_path / "empty.db")
            Store(db)
            says = "which is not in this store; wrong --db?"
    before = declarations(store_db, scan_id)
    assert main(["import", str(target), "--db", db]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and err.startswith("sitewatch: error: import: "), err
    assert declarations(store_db, scan_id) == before == {}


def test_spot_check_round_trip(scanned, store_db, tmp_path, capsys):
    site, scan_id, _ = scanned
    out = tmp_path / "sc"
    assert main(["spotcheck", "--sample", "3", "--seed", "5", "--pages", "1", "--db", store_db, "--out", str(out)]) == 0
    capsys.readouterr()
    xlsx = next(out.glob("*.xlsx"))
    wb = load_workbook(xlsx)
    info = {r[0]: r[1] for r in wb["抽查信息"].iter_rows(values_only=True) if r and r[0]}
    assert info["扫描编号"] == scan_id and info["随机种子"] == 5 and info["抽样数量（问题）"] == 3
    assert info["抽样数量（页面）"] == 1
    ws = wb["抽查表"]
    col = columns(ws)
    [dv] = ws.data_validations.dataValidation
    assert dv.formula1 == '"属实,不属实,无法核实"' and str(dv.sqref).startswith(ws.cell(row=2, column=col["核查结论"] + 1).coordinate)
    rows = body(ws)
    verdicts = ["属实", "不属实", "无法核实", "属实"]
    for r, v in zip(rows, verdicts, strict=True):
        r[col["核查结论"]].value = v
        r[col["备注"]].value = f"核查：{v}"
    info_ws = wb["抽查信息"]
    for r in info_ws.iter_rows():
        if r[0].value == "核查人":
            r[1].value = "张三"
        if r[0].value == "核查日期":
            r[1].value = dt.datetime(2026, 12, 3)
    wb.save(tmp_path / "assessed.xlsx")
    assert main(["import", str(tmp_path / "assessed.xlsx"), "--db", store_db]) == 0
    assert "spot-check assessments" in capsys.readouterr().out
    stored = declarations(store_db, scan_id, "spotcheck")
    keys = [r[col[ROW_KEY_HEADER]].value for r in rows]
    assert sorted(stored) == sorted(keys)
    assert [stored[k]["status"] for k in keys] == verdicts
    assert {(d["declared_by"], d["done_on"]) for d in stored.values()} == {("张三", dt.date(2026, 12, 3))}
    assert declarations(store_db, scan_id, "unit") == {}                 # the units' table is another kind

    # an assessment outside the choices is refused on its row; the others stay as they were
    rows[0][col["核查结论"]].value = "已整改"
    rows[1][col["核查结论"]].value = "属实"
    wb.save(tmp_path / "again.xlsx")
    assert main(["import", str(tmp_path / "again.xlsx"), "--db", store_db]) == 1
    out = capsys.readouterr().out
    assert "1 updated, 2 unchanged" in out and "'已整改' is not one of 属实/不属实/无法核实" in out
    after = declarations(store_db, scan_id, "spotcheck")
    assert after[keys[0]] == stored[keys[0]] and after[keys[1]]["status"] == "属实"


def test_dry_run_stores_nothing(scanned, store_db, tmp_path, capsys):
    _, scan_id, xlsx = scanned
    wb = load_workbook(xlsx)
    fill(wb["问题清单"], body(wb["问题清单"])[0], "整改中", "处理中")
    wb.save(tmp_path / "f.xlsx")
    assert main(["import", str(tmp_path / "f.xlsx"), "--db", store_db, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would import" in out and "1 new" in out and declarations(store_db, scan_id) == {}


def test_a_0005_store_upgraded_keeps_its_rows_and_takes_declarations(tmp_path, capsys):
    """A store written by the previous version (schema 0005) is upgraded to 0006 without loss."""
    from alembic import command
    from alembic.config import Config
    from test_schema import rows, schema_diff

    from sitewatch.store import SCHEMA_HEAD, create_store_engine, store_version

    db = tmp_path / "old.db"
    with LoopbackSite(routes()) as site:
        result, store = scan_site(site.url("/s/"), str(db), as_of=AS_OF)
        xlsx = report(str(db), tmp_path / "r")
    store.engine.dispose()
    engine = create_store_engine(db)
    cfg = Config()
    cfg.set_main_option("script_location", "sitewatch:migrations")
    with engine.begin() as c:                                   # back to 0005, as the previous version left it
        cfg.attributes["connection"] = c
        command.downgrade(cfg, "0005")
    assert store_version(engine) == "0005"
    kept = ["scans", "pages", "links", "targets", "findings"]
    before = rows(db, kept)
    with sqlite3.connect(db) as src, sqlite3.connect(tmp_path / "before.db") as copy:
        src.backup(copy)                        # the schema as it was (a file copy would miss the WAL)
    assert main(["import", str(xlsx), "--db", str(db)]) == 2
    assert "older schema" in capsys.readouterr().err
    assert main(["db", "upgrade", "--db", str(db)]) == 0
    capsys.readouterr()
    assert store_version(engine) == SCHEMA_HEAD == "0010" and schema_diff(engine) == []
    assert rows(db, kept, like=tmp_path / "before.db") == before and before["findings"]
    engine.dispose()
    wb = load_workbook(xlsx)
    fill(wb["问题清单"], body(wb["问题清单"])[0], "已整改", "删除", "2026-12-01")
    wb.save(tmp_path / "f.xlsx")
    assert main(["import", str(tmp_path / "f.xlsx"), "--db", str(db)]) == 0
    assert len(declarations(str(db), result.scan_id)) == 1
