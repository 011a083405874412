"""The console's scan pages: the list and the detail of a scan (coverage, cache reuse, findings by rule), report
downloads written from the store (the right files, types and names), the progress of a running scan, starting a
scan (admin only, CSRF-checked, audited), the 首页's trend and overdue counts (one source with the reports), and
hostile crawled text inert on these pages."""

from __future__ import annotations

import io
import re
import time
from urllib.parse import unquote

import pytest
from bs4 import BeautifulSoup
from consolekit import EVIL_JS, EVIL_TITLE, SITE, UNIT_A, app_for, build, copy_db, hostile_routes, signed_in
from loopback import LoopbackSite

from sitewatch.config import SiteConfig
from sitewatch.console import accounts, audit
from sitewatch.console.data import visible_problems
from sitewatch.console.pages_scans import content_disposition
from sitewatch.reporting.data import scan_numbers
from sitewatch.store import Store


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.mktemp("console-scans"))


@pytest.fixture
def db(built, tmp_path):
    return copy_db(built[0], tmp_path / "sw.db")


def csrf_on(c, path: str = "/scans") -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', c.get(path).text)
    assert m
    return m.group(1)


def test_the_scan_list_and_detail(db, built):
    scan_id = built[1]
    store = Store(db)
    n = scan_numbers(store, store.scan(scan_id))
    app = app_for(db)
    admin = signed_in(app, "admin")
    soup = BeautifulSoup(admin.get("/scans").text, "html.parser")
    row = soup.select_one(f'tr[data-scan="{scan_id}"]')
    assert row["data-status"] == "completed"
    assert row.select_one("[data-problems]")["data-problems"] == str(n.problems)
    assert row.select_one("[data-conclusion]")["data-conclusion"] == n.conclusion
    assert soup.select_one('form[action="/scans/start"] select[name=site] option')["value"] == SITE
    detail = BeautifulSoup(admin.get(f"/scans/{scan_id}").text, "html.parser")
    assert detail.select_one("[data-problems]")["data-problems"] == str(n.problems)
    assert {tr["data-rule"]: int(tr.select("td")[-1].text) for tr in detail.select("tr[data-rule]")} == dict(n.by_rule)
    assert detail.select_one(".coverage")["data-complete"] in ("true", "false")
    assert detail.select_one("[data-cached]") and detail.select_one("[data-reused]")
    assert {a["data-file"] for a in detail.select("a[data-file]")} == {
        "report-html", "report-xlsx", "report-csv", "summary-html", "findings-json"}
    assert not detail.select("meta[http-equiv=refresh]")          # a finished scan does not reload
    assert admin.get("/scans/999").status_code == 404
    # a unit user: no start form, its own counts, no downloads
    unit = signed_in(app, "unit-a")
    text = unit.get("/scans").text
    assert 'action="/scans/start"' not in text
    mine = BeautifulSoup(unit.get(f"/scans/{scan_id}").text, "html.parser")
    assert mine.select_one("[data-problems]")["data-problems"] == str(n.by_unit[UNIT_A])
    assert not mine.select("a[data-file]")
    user = accounts.get_user(store.engine, "unit-a")
    own = {r["rule"] for r in visible_problems(user, store, store.scan(scan_id))}
    assert {tr["data-rule"] for tr in mine.select("tr[data-rule]")} == own
    assert unit.get(f"/scans/{scan_id}/files/report-csv").status_code == 403


def test_downloads_are_the_reports_files(db, built):
    from openpyxl import load_workbook

    scan_id = built[1]
    admin = signed_in(app_for(db), "admin")
    types = {"report-html": "text/html", "report-xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "report-csv": "text/csv", "summary-html": "text/html", "findings-json": "application/json"}
    for key, media in types.items():
        r = admin.get(f"/scans/{scan_id}/files/{key}")
        assert r.status_code == 200, key
        assert r.headers["content-type"].split(";")[0] == media
        cd = r.headers["content-disposition"]
        assert cd.startswith("attachment; filename=\"") and "filename*=UTF-8''" in cd
        ascii_part = re.search(r'filename="([^"]*)"', cd).group(1)
        assert ascii_part.isascii() and "/" not in ascii_part
        name = unquote(cd.split("filename*=UTF-8''")[1])
        assert "/" not in name and "\n" not in name
        if key.startswith("report"):
            assert name.startswith("整改报告-")
        if key == "summary-html":
            assert name.startswith("领导摘要-") and "监测情况摘要" in r.text
        if key == "report-xlsx":
            wb = load_workbook(io.BytesIO(r.content))
            assert wb.sheetnames
        if key == "findings-json":
            assert r.json()["scan"]["id"] == scan_id
    assert admin.get(f"/scans/{scan_id}/files/nope").status_code == 404
    assert signed_in(app_for(db), "leader").get(f"/scans/{scan_id}/files/report-csv").status_code == 200


def test_content_disposition_is_safe():
    cd = content_disposition('整改报告-"a\r\nb;c.html')
    assert "\r" not in cd and "\n" not in cd
    assert cd.startswith('attachment; filename="') and cd.count('"') == 2
    assert unquote(cd.split("''")[1]) == '整改报告-"a\r\nb;c.html'


def test_starting_a_scan_is_for_admins_with_csrf(db):
    app = app_for(db)
    for name in ("leader", "assessor", "unit-a"):
        c = signed_in(app, name)
        r = c.post("/scans/start", data={"csrf": csrf_on(c), "site": SITE, "kind": "full"})
        assert r.status_code == 403, name
    admin = signed_in(app, "admin")
    assert admin.post("/scans/start", data={"csrf": "wrong", "site": SITE, "kind": "full"}).status_code == 403
    assert admin.post("/scans/start", data={"site": SITE, "kind": "full"}).status_code == 403
    r = admin.post("/scans/start", data={"csrf": csrf_on(admin), "site": "no such site", "kind": "full"})
    assert r.status_code == 409 and "没有这个站点的配置" in r.text
    assert len(Store(db).scans(kind=None)) == 1                   # nothing started
    read_only = app_for(db, read_only=True)
    from consolekit import client

    assert client(read_only).post("/scans/start", data={"site": SITE}).status_code == 403


def wait_done(store: Store, scan_id: int, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = store.scan(scan_id)
        if s is not None and s.status != "running":
            return s.status
        time.sleep(0.2)
    raise AssertionError("the scan did not finish")


def test_an_admin_starts_a_scan_and_it_finishes(db):
    with LoopbackSite(hostile_routes()) as site:
        app = app_for(db)
        app.state.site_configs = [SiteConfig(name="回环站点", start_urls=[site.url("/s/")], rate=0, concurrency=4,
                                             timeout=2, retries=0)]
        admin = signed_in(app, "admin")
        text = admin.get("/scans").text
        assert 'value="回环站点"' in text and f'value="{SITE.replace("<", "&lt;").replace(">", "&gt;")}"' in text
        r = admin.post("/scans/start", data={"csrf": csrf_on(admin), "site": "回环站点", "kind": "full"})
        assert r.status_code == 303, r.text[:300]
        scan_id = int(r.headers["location"].rsplit("/", 1)[1])
        store = Store(db)
        assert wait_done(store, scan_id) == "completed"
        prog = admin.get(f"/scans/{scan_id}/progress").json()
        assert prog["status"] == "completed" and prog["finished"] and prog["pages"] >= 2
        detail = admin.get(f"/scans/{scan_id}").text
        assert "已完成" in detail and "data-file=" in detail
        rows = audit.entries(store.engine, 10)
        started = [e for e in rows if e["action"] == "scan.start"]
        assert started and started[0]["actor"] == "admin" and started[0]["detail"]["scan"] == scan_id
        # a look-back of the new scan
        r = admin.post("/scans/start", data={"csrf": csrf_on(admin), "site": "回环站点", "kind": "lookback"})
        assert r.status_code == 303 and r.headers["location"] == "/scans?started=lookback"
        deadline = time.monotonic() + 60
        while not [s for s in store.scans("回环站点", kind="lookback") if s.status == "completed"]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        [lb] = store.scans("回环站点", kind="lookback")
        for key in ("lookback-html", "lookback-xlsx"):
            r = admin.get(f"/scans/{lb.id}/files/{key}")
            assert r.status_code == 200 and "回头看" in unquote(r.headers["content-disposition"])


def test_the_progress_of_a_running_scan(db):
    store = Store(db)
    scan_id = store.new_scan(SITE, ["http://127.0.0.1:9/s/"], store.scans()[0].as_of, {}, kind="full")
    app = app_for(db)
    for name in ("admin", "leader", "unit-a"):
        c = signed_in(app, name)
        prog = c.get(f"/scans/{scan_id}/progress")
        assert prog.status_code == 200 and prog.headers["content-type"] == "application/json"
        assert prog.json() == {"id": scan_id, "status": "running", "status_zh": "进行中", "pages": 0, "checked": None,
                               "requests": None, "queued": None, "finished": False}
        page = BeautifulSoup(c.get(f"/scans/{scan_id}").text, "html.parser")
        assert page.select_one("meta[http-equiv=refresh]")["content"] == "3"
        assert page.select_one("[data-running]")
    admin = signed_in(app, "admin")
    r = admin.post("/scans/start", data={"csrf": csrf_on(admin), "site": SITE, "kind": "full"})
    assert r.status_code == 409 and "已有扫描在进行" in r.text               # the store says it runs here


def test_the_overview_shows_trend_units_and_overdue(db, built):
    store = Store(db)
    scan = store.scan(built[1])
    n = scan_numbers(store, scan)
    admin_user = accounts.get_user(store.engine, "admin")
    rows = visible_problems(admin_user, store, scan, n)
    assert n.overdue == sum(1 for r in rows if r["overdue"])
    text = signed_in(app_for(db), "admin").get("/").text
    soup = BeautifulSoup(text, "html.parser")
    assert soup.select_one("[data-overdue]")["data-overdue"] == str(n.overdue)
    assert {tr["data-unit"]: int(tr["data-count"]) for tr in soup.select("tr[data-unit]")} == dict(n.by_unit)
    assert [tr["data-trend-scan"] for tr in soup.select("tr[data-trend-scan]")] == [str(scan.id)]
    assert soup.select_one('a[href^="/scans?site="]')
    unit = BeautifulSoup(signed_in(app_for(db), "unit-a").get("/").text, "html.parser")
    assert [tr["data-unit"] for tr in unit.select("tr[data-unit]")] == [UNIT_A]
    assert unit.select_one("[data-overdue]")["data-overdue"] == str(n.overdue_by_unit.get(UNIT_A, 0))


def test_hostile_text_is_inert_on_the_scan_pages(db, built):
    from test_console_pages import assert_inert

    admin = signed_in(app_for(db), "admin")
    for path in ("/scans", f"/scans/{built[1]}", f"/scans?site={SITE}"):
        text = admin.get(path).text
        assert_inert(text)
        assert EVIL_TITLE not in text
    detail = admin.get(f"/scans/{built[1]}").text
    assert EVIL_JS not in re.findall(r'href="([^"]*)"', detail)


def test_demo_accounts_sign_in(tmp_path, built):
    from consolekit import client, csrf_of

    from sitewatch.commands.demo import DEMO_ROLES, demo_accounts

    db = copy_db(built[0], tmp_path / "demo.db")
    made = demo_accounts(db)
    assert [(n, r) for n, r, _, _ in made] == list(DEMO_ROLES)
    assert len({p for *_, p in made}) == len(made)
    app = app_for(db)
    for name, _role, _unit, password in made:
        c = client(app)
        form = c.get("/login")
        r = c.post("/login", data={"csrf": csrf_of(form.text), "username": name, "password": password, "next": "/"})
        assert r.status_code == 303, name
    [unit] = [u for _, role, u, _ in made if role == "unit"]
    assert unit == UNIT_A                                       # the unit with the most problems
