"""The console's spot-check (抽查) pages: who may draw, conclude and download; the sample is the one `sitewatch
spotcheck --seed N` draws; each 核查结论 is a declarations row of kind spotcheck, as `sitewatch import` stores one
from a filled-in 抽查表 (importing the downloaded checklist again changes nothing); the download carries the
conclusions, 核查人 and 核查日期; hostile titles and URLs stay inert."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from bs4 import BeautifulSoup
from consolekit import EVIL_JS, EVIL_TITLE, Clock, app_for, build, copy_db, csrf_of, page_csrf, signed_in
from openpyxl import load_workbook

from sitewatch.cli import main
from sitewatch.console import audit
from sitewatch.declarations import import_workbook
from sitewatch.reporting.workbook import ROW_KEY_HEADER, SPOTCHECK_INFO_SHEET, SPOTCHECK_KIND
from sitewatch.spotcheck import sample
from sitewatch.store import Store


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.mktemp("console-assess"))


@pytest.fixture
def db(built, tmp_path):
    return copy_db(built[0], tmp_path / "sw.db")


@pytest.fixture
def clock():
    return Clock(dt.datetime(2026, 12, 3, 10, 0, 0))


def draw(c, scan_id: int, seed: int, n: int = 3, pages: int = 2):
    form = c.get("/spotcheck")
    assert form.status_code == 200
    return c.post("/spotcheck", data={"csrf": csrf_of(form.text, "/spotcheck"), "scan_id": str(scan_id),
                                      "seed": str(seed), "sample": str(n), "pages": str(pages)})


def keys_of(text: str) -> list[str]:
    return [tr["data-key"] for tr in BeautifulSoup(text, "html.parser").select("tr[data-key]")]


def assess(c, scan_id: int, seed: int, key: str, assessment: str, remark: str):
    page = c.get(f"/spotcheck/{scan_id}/{seed}")
    return c.post(f"/spotcheck/{scan_id}/{seed}/assess",
                  data={"csrf": csrf_of(page.text, f"/spotcheck/{scan_id}/{seed}/assess"), "key": key,
                        "assessment": assessment, "remark": remark})


def test_who_may_draw_conclude_and_download(db, built):
    scan_id = built[1]
    app = app_for(db)
    paths = ["/spotcheck", f"/spotcheck/{scan_id}/5", f"/spotcheck/{scan_id}/5/checklist.xlsx",
             f"/spotcheck/{scan_id}/5/checklist.html"]
    for name in ("unit-a", "unit-b"):
        c = signed_in(app, name)
        assert [c.get(p).status_code for p in paths] == [403] * 4, name
        assert "/spotcheck" not in c.get("/").text                       # no menu entry either
        assert c.post("/spotcheck", data={"csrf": page_csrf(c), "scan_id": scan_id, "seed": 5}).status_code == 403
    leader = signed_in(app, "leader")
    assert [leader.get(p).status_code for p in paths] == [200] * 4
    text = leader.get("/spotcheck").text
    assert 'action="/spotcheck"' not in text and 'action="/spotcheck/' not in leader.get(paths[1]).text
    csrf = page_csrf(leader)
    assert leader.post("/spotcheck", data={"csrf": csrf, "scan_id": scan_id, "seed": 5}).status_code == 403
    assert leader.post(f"/spotcheck/{scan_id}/5/assess", data={"csrf": csrf, "assessment": "属实"}).status_code == 403
    assert Store(db).declarations(scan_id, SPOTCHECK_KIND) == {}
    assert signed_in(app, "admin").get("/spotcheck").status_code == 200
    assert signed_in(app, "assessor").get(f"/spotcheck/{scan_id}/999").status_code == 200
    assert signed_in(app, "assessor").get("/spotcheck/999/5").status_code == 404         # no such scan


def test_forms_need_the_csrf_secret(db, built):
    scan_id = built[1]
    c = signed_in(app_for(db), "assessor")
    key = keys_of(c.get(f"/spotcheck/{scan_id}/5").text)[0]
    for data in ({"scan_id": scan_id, "seed": 5}, {"csrf": "forged", "scan_id": scan_id, "seed": 5}):
        r = c.post("/spotcheck", data=data)
        assert r.status_code == 403 and "表单已失效" in r.text
    r = c.post(f"/spotcheck/{scan_id}/5/assess", data={"csrf": "forged", "key": key, "assessment": "属实"})
    assert r.status_code == 403
    assert Store(db).declarations(scan_id, SPOTCHECK_KIND) == {}
    assert [e["action"] for e in audit.entries(Store(db).engine) if e["action"].startswith("spotcheck")] == []


def test_the_draw_is_the_clis_sample_and_is_recorded(db, built, tmp_path):
    scan_id = built[1]
    c = signed_in(app_for(db), "assessor")
    form = c.get("/spotcheck").text
    seed_field = BeautifulSoup(form, "html.parser").select_one("input#seed")
    assert seed_field["value"].isdigit()                          # a new random seed, shown
    r = draw(c, scan_id, 7, 3, 2)
    assert r.status_code == 303 and r.headers["location"] == f"/spotcheck/{scan_id}/7"
    page = c.get(r.headers["location"])
    store = Store(db)
    expected = sample(store, store.scan(scan_id), 3, 7, 2)
    assert keys_of(page.text) == [str(row["key"]) for row in expected]
    assert main(["spotcheck", "--sample", "3", "--pages", "2", "--seed", "7", "--db", db,
                 "--out", str(tmp_path / "cli")]) == 0
    [cli_xlsx] = (tmp_path / "cli").glob("*.xlsx")
    ws = load_workbook(cli_xlsx)["抽查表"]
    rows = list(ws.iter_rows(values_only=True))
    key_col = rows[0].index(ROW_KEY_HEADER)
    assert [r[key_col] for r in rows[1:]] == keys_of(page.text)
    [entry] = [e for e in audit.entries(store.engine) if e["action"] == "spotcheck.draw"]
    assert entry["actor"] == "assessor" and entry["detail"]["seed"] == 7
    assert (entry["detail"]["sample"], entry["detail"]["pages"], entry["detail"]["scan_id"]) == (3, 2, scan_id)
    # opened again (another user, later): the recorded sizes, the same rows; listed on /spotcheck
    leader = signed_in(app_for(db), "leader")
    assert keys_of(leader.get(f"/spotcheck/{scan_id}/7").text) == keys_of(page.text)
    assert f'href="/spotcheck/{scan_id}/7"' in leader.get("/spotcheck").text
    # the CLI's own output is unchanged: blank conclusions, blank 核查人
    info = {r[0]: r[1] for r in load_workbook(cli_xlsx)[SPOTCHECK_INFO_SHEET].iter_rows(values_only=True)}
    assert info["核查人"] in (None, "") and info["核查日期"] in (None, "")
    assert all(r[-3] in (None, "") and r[-2] in (None, "") for r in rows[1:])


@pytest.mark.parametrize("form, error", [
    ({"seed": "-1"}, "请输入非负整数"), ({"seed": "abc"}, "请输入非负整数"), ({"seed": str(2**31)}, "随机种子"),
    ({"sample": "501"}, "抽样数量"), ({"scan_id": "999"}, "已完成的扫描"),
])
def test_a_bad_draw_is_refused(db, built, form, error):
    c = signed_in(app_for(db), "assessor")
    page = c.get("/spotcheck")
    data = {"csrf": csrf_of(page.text, "/spotcheck"), "scan_id": str(built[1]), "seed": "1", "sample": "3",
            "pages": "3", **form}
    r = c.post("/spotcheck", data=data)
    assert r.status_code == 400 and error in r.text
    assert not [e for e in audit.entries(Store(db).engine) if e["action"] == "spotcheck.draw"]


def test_conclusions_are_stored_exported_and_read_back_as_the_workbook_path_does(db, built, clock, tmp_path):
    scan_id = built[1]
    app = app_for(db, clock=clock)
    c = signed_in(app, "assessor")
    assert draw(c, scan_id, 11, 3, 2).status_code == 303
    page = c.get(f"/spotcheck/{scan_id}/11").text
    keys = keys_of(page)
    assert "已核查 0 / 5 项" in page
    r = assess(c, scan_id, 11, keys[0], "属实", "链接仍无法打开")
    assert r.status_code == 303 and r.headers["location"].endswith("#row-1")
    assert assess(c, scan_id, 11, keys[3], "不属实", "页面已恢复，<b>截图</b>存档").status_code == 303
    page = c.get(f"/spotcheck/{scan_id}/11").text
    assert "已核查 2 / 5 项" in page and "&lt;b&gt;截图&lt;/b&gt;" in page
    store = Store(db)
    declared = store.declarations(scan_id, SPOTCHECK_KIND)
    assert set(declared) == {keys[0], keys[3]}
    first = declared[keys[0]]
    assert (first["status"], first["note"], first["done_on"], first["declared_by"], first["source"]) == (
        "属实", "链接仍无法打开", dt.date(2026, 12, 3), "assessor", "console: assessor")
    assert declared[keys[3]]["status"] == "不属实"
    assessed = [e for e in audit.entries(store.engine) if e["action"] == "spotcheck.assess"]
    assert len(assessed) == 2 and {e["detail"]["assessment"] for e in assessed} == {"属实", "不属实"}
    # a changed conclusion replaces the stored one (and the audit row says what it was)
    assert assess(c, scan_id, 11, keys[0], "无法核实", "服务器超时").status_code == 303
    assert store.declarations(scan_id, SPOTCHECK_KIND)[keys[0]]["status"] == "无法核实"
    assert audit.entries(store.engine, 1)[0]["detail"]["before"] == "属实"
    assert assess(c, scan_id, 11, keys[0], "属实", "链接仍无法打开").status_code == 303
    # the signed checklist, XLSX: the conclusions, 核查人 and 核查日期 …
    r = c.get(f"/spotcheck/{scan_id}/11/checklist.xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    disposition = r.headers["content-disposition"]
    name = re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1)
    assert disposition.startswith('attachment; filename="') and '"' not in name and "/" not in name
    assert name.endswith("-seed11.xlsx") and "%E6%8A%BD%E6%9F%A5%E8%A1%A8" in name        # 抽查表, percent-encoded
    fallback = re.search(r'filename="([^"]*)"', disposition).group(1)
    assert fallback.isascii() and fallback.endswith("-seed11.xlsx")
    path = tmp_path / "filled.xlsx"
    path.write_bytes(r.content)
    wb = load_workbook(path)
    rows = list(wb["抽查表"].iter_rows(values_only=True))
    header = rows[0]
    by_key = {row[header.index(ROW_KEY_HEADER)]: row for row in rows[1:]}
    assert by_key[keys[0]][header.index("核查结论")] == "属实"
    assert by_key[keys[0]][header.index("备注")] == "链接仍无法打开"
    assert by_key[keys[3]][header.index("核查结论")] == "不属实"
    assert by_key[keys[1]][header.index("核查结论")] in (None, "")
    info = {row[0]: row[1] for row in wb[SPOTCHECK_INFO_SHEET].iter_rows(values_only=True)}
    assert info["核查人"] == "assessor" and info["核查日期"].date() == dt.date(2026, 12, 3)
    # … which `sitewatch import` reads as it reads a filled-in 抽查表: the same declarations, nothing to change
    result = import_workbook(store, path)
    assert (result.new, result.updated, result.unchanged, result.rejected) == (0, 0, 2, [])
    assert result.blank == 3
    # the printable HTML
    r = c.get(f"/spotcheck/{scan_id}/11/checklist.html")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert "核查人：assessor" in r.text and "核查日期：2026-12-03" in r.text
    assert "<td class=\"blank\">属实</td><td class=\"blank\">链接仍无法打开</td>" in r.text


def test_a_bad_conclusion_is_refused(db, built):
    scan_id = built[1]
    c = signed_in(app_for(db), "assessor")
    keys = keys_of(c.get(f"/spotcheck/{scan_id}/5").text)
    for key, assessment, remark in ((keys[0], "也许", ""), ("0" * 40, "属实", ""), (keys[0], "属实", "长" * 2001)):
        r = assess(c, scan_id, 5, key, assessment, remark)
        assert r.status_code == 400 and 'role="alert"' in r.text, (key, assessment)
    assert Store(db).declarations(scan_id, SPOTCHECK_KIND) == {}


def test_hostile_titles_and_urls_stay_inert(db, built):
    scan_id = built[1]
    c = signed_in(app_for(db), "assessor")
    assert draw(c, scan_id, 3, 50, 50).status_code == 303
    text = c.get(f"/spotcheck/{scan_id}/3").text
    soup = BeautifulSoup(text, "html.parser")
    assert not soup.find_all("script") and not soup.find_all("img")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and EVIL_TITLE not in text
    assert EVIL_JS in text and 'href="javascript' not in text.lower()
    links = soup.select("td.url a")
    assert links and all(a["href"].startswith(("http://", "https://")) for a in links)
    assert all(a["rel"] == ["noopener", "noreferrer"] for a in links)
    html = c.get(f"/spotcheck/{scan_id}/3/checklist.html").text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- in a real browser ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(built, tmp_path_factory):
    pytest.importorskip("playwright.sync_api", reason="Playwright not installed (the render extra)")
    from consolekit import CHROMIUM

    if CHROMIUM is None:
        pytest.skip("chromium is not installed (CI installs it with apt)")
    from consolekit import start_serve, stop

    db = copy_db(built[0], tmp_path_factory.mktemp("console-assess-browser") / "sw.db")
    proc, url = start_serve(db)
    yield db, built[1], url
    stop(proc)


def test_an_assessor_draws_concludes_and_downloads_in_a_browser(served, tmp_path):
    from consolekit import CHROMIUM, browser_sign_in, shot
    from playwright.sync_api import sync_playwright

    db, scan_id, url = served
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            browser_sign_in(page, url, "assessor")
            page.get_by_role("link", name="抽查").click()
            page.wait_for_url(url + "spotcheck")
            page.get_by_label("随机种子").fill("42")
            page.get_by_label("抽取问题数").fill("3")
            page.get_by_label("抽取页面数").fill("2")
            shot(page, "spotcheck-draw")
            page.get_by_role("button", name="抽取").click()
            page.wait_for_url(f"{url}spotcheck/{scan_id}/42")
            assert page.locator("[data-concluded]").inner_text() == "已核查 0 / 5 项"
            for no, verdict, note in ((1, "属实", "链接仍无法打开"), (2, "不属实", "页面正常")):
                row = page.locator(f"#row-{no}")
                row.get_by_label(verdict, exact=True).check()
                row.get_by_label("备注").fill(note)
                row.get_by_role("button", name=f"保存第 {no} 项").click()
                page.wait_for_url(f"**/spotcheck/{scan_id}/42?saved={no}*")
            assert page.locator("[data-concluded]").inner_text() == "已核查 2 / 5 项"
            assert page.locator("#row-1").get_attribute("data-assessment") == "属实"
            assert page.locator("#row-2").get_attribute("data-assessment") == "不属实"
            assert page.locator("script").count() == 0 and page.locator("img").count() == 0
            shot(page, "spotcheck-sample")
            with page.expect_download() as info:
                page.get_by_role("link", name="下载抽查表（XLSX）").click()
            download = info.value
            name = download.suggested_filename
            assert name.startswith("抽查表-") and name.endswith("-seed42.xlsx")
            saved = tmp_path / name
            download.save_as(saved)
            rows = list(load_workbook(saved)["抽查表"].iter_rows(values_only=True))
            header = rows[0]
            got = [(r[header.index("核查结论")], r[header.index("备注")]) for r in rows[1:3]]
            assert got == [("属实", "链接仍无法打开"), ("不属实", "页面正常")]
            assert problems == []
        finally:
            browser.close()
    declared = Store(db).declarations(scan_id, SPOTCHECK_KIND)
    assert sorted(d["status"] for d in declared.values()) == ["不属实", "属实"]
