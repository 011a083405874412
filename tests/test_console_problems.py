"""The console's problem pages and the rectification loop (issue 18 items 3 and 4): the filtered problem list, one
problem's page, a unit's 整改 declaration (its own problems only, CSRF-checked, audit-logged, the same
``declarations`` row an imported workbook makes, verified by the next look-back), and the audit log as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from bs4 import BeautifulSoup
from consolekit import EVIL_JS, PASSWORD, UNIT_A, UNIT_B, Clock, app_for, build, client, copy_db, csrf_of, signed_in
from loopback import Answer, LoopbackSite, page
from sqlalchemy import insert, select
from test_console_pages import assert_inert

from sitewatch.console import accounts
from sitewatch.console.audit import Actor
from sitewatch.console.data_problems import DECLARED_FIXED_UNCHECKED, _cell, console_state
from sitewatch.lookback import FAILED, PASSED, report_rows, run_lookback
from sitewatch.rectification import FIXED, OPEN, RECURRED
from sitewatch.reporting.data import unit_of
from sitewatch.store import AuditRow, DeclarationRow, Store


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.mktemp("console-problems"))


@pytest.fixture
def db(built, tmp_path):
    return copy_db(built[0], tmp_path / "sw.db")


def problems_of(db: str, scan_id: int) -> dict[str, str]:
    """fingerprint → 责任科室 of the scan's problems."""
    store = Store(db)
    cfg = store.scan(scan_id).config
    out = {f.fingerprint: unit_of(f, cfg) for f in store.findings(scan_id)}
    store.engine.dispose()
    return out


def one_of(problems: dict[str, str], unit: str) -> str:
    return sorted(fp for fp, u in problems.items() if u == unit)[0]


def declare(c, fp: str, status: str = "已整改", note: str = "已删除失效链接", **extra):
    csrf = csrf_of(c.get("/account").text, "/logout")
    return c.post(f"/problems/{fp}/declare", data={"csrf": csrf, "status": status, "note": note, **extra})


def declarations(db: str) -> dict[str, dict]:
    with Store(db).engine.connect() as c:
        return {r.key: dict(r._mapping) for r in c.execute(select(DeclarationRow))}


def audit_of(db: str, action: str = "problem.declare") -> list[dict]:
    with Store(db).engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(select(AuditRow).where(AuditRow.c.action == action)
                                                    .order_by(AuditRow.c.id))]


def listed(text: str) -> set[str]:
    return set(re.findall(r'<tr data-fingerprint="([0-9a-f]+)"', text))


# --- the list -------------------------------------------------------------------------------------------------
def test_the_list_is_scoped_and_filtered(db, built):
    problems = problems_of(db, built[1])
    app = app_for(db)
    admin = signed_in(app, "admin")
    assert listed(admin.get("/problems").text) == set(problems)
    assert listed(admin.get("/problems", params={"unit": UNIT_B}).text) == {
        fp for fp, u in problems.items() if u == UNIT_B}
    unit_a = signed_in(app, "unit-a")
    own = {fp for fp, u in problems.items() if u == UNIT_A}
    assert listed(unit_a.get("/problems").text) == own
    assert listed(unit_a.get("/problems", params={"unit": UNIT_B}).text) == own     # fixed to its own unit
    text = unit_a.get("/problems").text
    assert 'id="f-unit"' not in text and UNIT_B not in text
    assert listed(admin.get("/problems", params={"status": "复核通过"}).text) == set()
    assert listed(admin.get("/problems", params={"status": OPEN}).text) == set(problems)
    assert listed(admin.get("/problems", params={"rule": "no.such.rule"}).text) == set()
    late = signed_in(app_for(db, clock=Clock(dt.datetime(2027, 6, 1))), "admin")     # every 整改时限 passed
    assert listed(late.get("/problems", params={"overdue": "1"}).text) == set(problems)
    early = signed_in(app_for(db, clock=Clock(dt.datetime(2026, 11, 27))), "admin")
    assert listed(early.get("/problems", params={"overdue": "1"}).text) == set()


def test_the_list_is_labelled_with_a_table_and_cards(db):
    soup = BeautifulSoup(signed_in(app_for(db), "admin").get("/problems").text, "html.parser")
    for field in soup.select("form.filters select, form.filters input:not([type=hidden])"):
        assert soup.select_one(f'label[for="{field["id"]}"]'), field
    table = soup.select_one("table.cards")
    assert [th["scope"] for th in table.select("thead th")] == ["col"] * 7
    assert all(td.get("data-label") for td in table.select("tbody td"))


# --- one problem ----------------------------------------------------------------------------------------------
def test_a_unit_cannot_read_another_units_problem(db, built):
    problems = problems_of(db, built[1])
    app = app_for(db)
    a_fp, b_fp = one_of(problems, UNIT_A), one_of(problems, UNIT_B)
    unit_a, unit_b = signed_in(app, "unit-a"), signed_in(app, "unit-b")
    assert unit_a.get(f"/problems/{a_fp}").status_code == 200
    other = unit_b.get(f"/problems/{a_fp}")
    missing = unit_b.get("/problems/0123456789abcdef")
    assert other.status_code == missing.status_code == 404 and other.text == missing.text    # no existence leak
    assert unit_b.get("/problems/..%2F..%2Fetc").status_code == 404
    for name in ("admin", "leader", "assessor"):
        assert signed_in(app, name).get(f"/problems/{b_fp}").status_code == 200


def test_the_problem_page_shows_rule_history_and_inert_evidence(db, built):
    problems = problems_of(db, built[1])
    store = Store(db)
    js = next(f for f in store.findings(built[1]) if f.url == EVIL_JS)
    link = next(f for f in store.findings(built[1]) if f.url.startswith("http") and f.rule == "link.broken")
    app = app_for(db)
    text = signed_in(app, "unit-b").get(f"/problems/{js.fingerprint}").text
    assert_inert(text)
    assert EVIL_JS in text and 'href="javascript' not in text.lower()
    soup = BeautifulSoup(text, "html.parser")
    assert soup.select_one("[data-rule]")["data-rule"] == "link.broken"
    assert "失效链接" in soup.select_one(".rule").get_text() or soup.select_one(".rule code").get_text() == "link.broken"
    assert soup.select_one('tr[data-event="首次发现"]')
    text = signed_in(app, "admin").get(f"/problems/{link.fingerprint}").text
    assert_inert(text)
    outside = [a for a in BeautifulSoup(text, "html.parser").select("main a.url") if a["href"].startswith("http")]
    assert outside and all(a["rel"] == ["noopener", "noreferrer"] for a in outside)
    assert problems


# --- declaring ------------------------------------------------------------------------------------------------
def test_a_unit_declares_its_own_problem_and_it_is_audited(db, built):
    problems = problems_of(db, built[1])
    fp = one_of(problems, UNIT_A)
    app = app_for(db)
    unit_a = signed_in(app, "unit-a")
    r = declare(unit_a, fp, "整改中", "正在联系栏目维护单位")
    assert r.status_code == 303 and r.headers["location"] == f"/problems/{fp}?declared=1"
    r = declare(unit_a, fp, "已整改", "已删除失效链接", new_url="https://www.example.gov.cn/new.html",
                done_on="2026-12-01")
    assert r.status_code == 303
    [d] = declarations(db).values()
    assert (d["scan_id"], d["kind"], d["key"], d["status"], d["declared_by"], d["source"]) == (
        built[1], "unit", fp, "已整改", UNIT_A, "console: unit-a")
    assert d["note"] == "已删除失效链接\n整改后网址：https://www.example.gov.cn/new.html"
    assert str(d["done_on"]) == "2026-12-01"
    rows = audit_of(db)
    assert [(a["actor"], a["role"], a["detail"]["原状态"], a["detail"]["新状态"]) for a in rows] == [
        ("unit-a", "unit", "未填报", "整改中"), ("unit-a", "unit", "整改中", "已整改")]
    assert all(fp in a["target"] and a["at"] is not None for a in rows)
    page_ = unit_a.get(f"/problems/{fp}?declared=1").text
    assert "已保存填报" in page_ and DECLARED_FIXED_UNCHECKED in page_ and "控制台：unit-a" in page_
    assert listed(unit_a.get("/problems", params={"status": DECLARED_FIXED_UNCHECKED}).text) == {fp}


def test_who_may_declare(db, built):
    problems = problems_of(db, built[1])
    a_fp, b_fp = one_of(problems, UNIT_A), one_of(problems, UNIT_B)
    app = app_for(db)
    unit_b = signed_in(app, "unit-b")
    assert declare(unit_b, a_fp).status_code == 404                    # another unit's, even knowing its key
    assert declare(unit_b, "0123456789abcdef").status_code == 404
    for name in ("leader", "assessor"):
        assert declare(signed_in(app, name), a_fp).status_code == 403
    no_csrf = signed_in(app, "unit-a").post(f"/problems/{a_fp}/declare", data={"status": "已整改", "note": "x"})
    assert no_csrf.status_code == 403
    wrong = signed_in(app, "unit-a").post(f"/problems/{a_fp}/declare",
                                           data={"csrf": "forged", "status": "已整改", "note": "x"})
    assert wrong.status_code == 403
    assert client(app_for(db, read_only=True)).post(f"/problems/{a_fp}/declare",
                                                     data={"status": "已整改", "note": "x"}).status_code == 403
    assert declarations(db) == {} and audit_of(db) == []
    unit_a = signed_in(app, "unit-a")
    for bad in ({"status": "复核通过"}, {"note": ""}, {"new_url": "javascript:alert(1)"}, {"done_on": "明天"}):
        r = declare(unit_a, a_fp, **{"status": "已整改", "note": "改了", **bad})
        assert r.status_code == 400 and 'role="alert"' in r.text
    assert declarations(db) == {}
    admin = signed_in(app, "admin")                                      # an admin declares for any unit
    assert declare(admin, b_fp, "无法整改", "系省级平台链接，已函告").status_code == 303
    d = declarations(db)[b_fp]
    assert d["declared_by"] == UNIT_B and d["source"] == "console: admin"
    assert [a["actor"] for a in audit_of(db)] == ["admin"]
    assert '/declare"' not in signed_in(app, "leader").get(f"/problems/{b_fp}").text      # no form


def test_console_state_is_one_function():
    fixed = {"status": "已整改"}
    assert console_state(OPEN, None, None) == OPEN
    assert console_state(RECURRED, None, None) == RECURRED
    assert console_state(OPEN, fixed, None) == DECLARED_FIXED_UNCHECKED
    assert console_state(OPEN, fixed, FIXED) == PASSED
    assert console_state(OPEN, fixed, OPEN) == FAILED
    assert console_state(OPEN, {"status": "整改中"}, None) == "整改中"
    assert console_state(FIXED, None, None) == FIXED


# --- the loop end to end: the look-back verifies a console declaration ----------------------------------------
@pytest.mark.parametrize("fixed", [True, False])
def test_a_console_declaration_is_verified_by_the_lookback(tmp_path, fixed):
    routes = {"/s/": Answer(body=page("首页", '<a href="gone.html">通知附件</a><a href="ok.html">正常</a>')),
              "/s/ok.html": Answer(body=page("正常", "<p>" + "正文内容" * 40 + "</p>"))}
    db = str(tmp_path / "loop.db")
    from conftest import scan_site

    with LoopbackSite(routes) as site:
        result, store = scan_site(site.url("/s/"), db, name="西区", default_unit=UNIT_A)
        gone = next(f for f in store.findings(result.scan_id) if f.url.endswith("/gone.html"))
        for name, role, unit in (("unit-a", "unit", UNIT_A), ("admin", "admin", None)):
            accounts.add_user(store.engine, name, role, unit, PASSWORD, Actor("cli:test"))
        app = app_for(db)                                   # the real clock: the look-back runs after it
        unit_a = signed_in(app, "unit-a")
        assert declare(unit_a, gone.fingerprint, "已整改", "已恢复附件").status_code == 303
        if fixed:
            site.routes["/s/gone.html"] = Answer(body=page("附件", "<p>" + "附件内容" * 40 + "</p>"))
        lb = run_lookback(store, store.scan(result.scan_id), timeout=3)
        rows = {r["url"]: r for r in report_rows(store, lb)}
    row = rows[gone.url]
    assert (row["declared"], row["declared_note"]) == ("单位报已整改", "已恢复附件")
    assert row["verified"] == (PASSED if fixed else FAILED)
    assert row["declared_by"] == UNIT_A
    text = signed_in(app, "admin").get(f"/problems/{gone.fingerprint}").text
    assert f'data-state="{PASSED if fixed else FAILED}"' in text and "已恢复附件" in text
    assert 'data-event="复核：' in text


def test_a_console_declaration_is_the_row_an_import_would_write(db, built):
    """The look-back reads declarations by (scan, kind unit, fingerprint): a console row has the same key and
    columns as an imported one (tests/test_import.py checks those), only its source differs."""
    problems = problems_of(db, built[1])
    fp = one_of(problems, UNIT_A)
    declare(signed_in(app_for(db), "unit-a"), fp, "已整改", "改了")
    store = Store(db)
    got = store.declarations(built[1], "unit")
    f = next(f for f in store.findings(built[1]) if f.fingerprint == fp)
    assert set(got) == {fp} and got[fp]["url"] == f.url and got[fp]["declared_by"] == UNIT_A
    assert got[fp]["imported_at"] is not None


# --- the audit log as CSV -------------------------------------------------------------------------------------
def test_audit_csv(db, built):
    problems = problems_of(db, built[1])
    app = app_for(db)
    declare(signed_in(app, "unit-a"), one_of(problems, UNIT_A), "整改中", "=HYPERLINK(\"http://x\")")
    with Store(db).engine.begin() as c:
        c.execute(insert(AuditRow).values(at=dt.datetime(2026, 12, 1), actor="=cmd|' /C calc'!A0", role="",
                                          address="@evil", action="login.failed", target="+1", detail={}))
    admin = signed_in(app, "admin")
    r = admin.get("/audit.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf") and "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["时间", "操作人"]
    for row in rows[1:]:
        assert all(not cell or cell[0] not in "=+-@" for cell in row), row
    assert any(row[1] == "'=cmd|' /C calc'!A0" and row[3] == "'@evil" and row[6] == "'+1" for row in rows)
    only = list(csv.reader(io.StringIO(admin.get("/audit.csv", params={"action": "problem.declare"})
                                       .content.decode("utf-8-sig"))))
    assert len(only) == 2 and only[1][5] == "problem.declare" and "HYPERLINK" in only[1][7]
    mine = list(csv.reader(io.StringIO(admin.get("/audit.csv", params={"actor": "unit-a"}).content
                                       .decode("utf-8-sig"))))
    assert {row[1] for row in mine[1:]} == {"unit-a"}
    page_ = admin.get("/audit", params={"action": "problem.declare"}).text
    assert page_.count('<tr data-action="problem.declare">') == 1 and 'data-action="login.ok"' not in page_
    for name in ("leader", "assessor", "unit-a"):
        assert signed_in(app, name).get("/audit.csv").status_code == 403
    assert _cell("-1") == "'-1" and _cell("\t=1") == "'\t=1" and _cell("正常") == "正常" and _cell(None) == ""


def test_a_declaration_holds_over_the_next_scan_and_a_fix_it_still_finds_is_refuted(tmp_path):
    """A unit's declaration is made on one scan; the next full scan keeps it: 整改中 stays 整改中, and a 已整改 the
    new scan still finds is 复核未通过 (refuted by the scan itself), until the unit declares again on the new scan.
    The must-not twin: a problem the unit did not declare stays 未整改."""
    from conftest import scan_site

    routes = {"/s/": Answer(body=page("首页", '<a href="gone.html">通知附件</a><a href="lost.html">旧附件</a>'
                                             '<a href="old.html">旧文</a>'))}
    db = str(tmp_path / "loop.db")
    with LoopbackSite(routes) as site:
        first, store = scan_site(site.url("/s/"), db, name="西区", default_unit=UNIT_A)
        broken = {f.url.rsplit("/", 1)[1]: f.fingerprint for f in store.findings(first.scan_id)
                  if f.rule == "link.broken"}
        assert set(broken) == {"gone.html", "lost.html", "old.html"}
        accounts.add_user(store.engine, "unit-a", "unit", UNIT_A, PASSWORD, Actor("cli:test"))
        unit_a = signed_in(app_for(db), "unit-a")
        assert declare(unit_a, broken["gone.html"], "已整改", "已恢复").status_code == 303
        assert declare(unit_a, broken["lost.html"], "整改中", "正在联系来源单位").status_code == 303
        second, store = scan_site(site.url("/s/"), db, name="西区", default_unit=UNIT_A)
    states = {}
    for name, fp in broken.items():
        text = unit_a.get(f"/problems/{fp}").text
        states[name] = re.search(r'data-state="([^"]+)"', text).group(1)
    assert states == {"gone.html": FAILED, "lost.html": "整改中", "old.html": "未整改"}
    listed_states = re.findall(r'data-state="([^"]+)"', unit_a.get("/problems").text)
    assert FAILED in listed_states and "整改中" in listed_states
    # declared again on the new scan: that declaration counts
    assert declare(unit_a, broken["gone.html"], "已整改", "已再次恢复").status_code == 303
    text = unit_a.get(f"/problems/{broken['gone.html']}").text
    assert re.search(r'data-state="([^"]+)"', text).group(1) == DECLARED_FIXED_UNCHECKED
    assert second.scan_id == first.scan_id + 1
