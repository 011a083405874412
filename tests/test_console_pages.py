"""The console's pages by role: every route answers each role as it declares (a leader changes nothing), a unit
user sees its own 责任科室's problems only, the 首页 shows the numbers the reports show (one source), and hostile
page titles, link texts and URLs from the crawl stay inert text on every page."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup
from consolekit import (
    EVIL_ATTR,
    EVIL_JS,
    EVIL_TITLE,
    SITE,
    UNIT_A,
    UNIT_B,
    USERS,
    app_for,
    build,
    client,
    copy_db,
    page_csrf,
    routes,
    signed_in,
)

from sitewatch.console import accounts
from sitewatch.console.data import SHOWN_PROBLEMS, overview, visible_count, visible_problems
from sitewatch.reporting.data import scan_numbers, unit_of
from sitewatch.store import Store


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.mktemp("console-pages"))


@pytest.fixture
def db(built, tmp_path):
    return copy_db(built[0], tmp_path / "sw.db")


@pytest.fixture(scope="module")
def unit_a_problem(built):
    """A problem of 党政办 (a page titled with a script tag): the walker's ``{fingerprint}``."""
    store = Store(built[0])
    found = [f for f in store.findings(built[1]) if "evil" in f.url and unit_of(f, store.scan(built[1]).config) == UNIT_A]
    store.engine.dispose()
    return found[0].fingerprint


def test_every_route_answers_each_role_as_it_declares(db, unit_a_problem):
    app = app_for(db)
    for name, (role, unit) in USERS.items():
        c = signed_in(app, name)
        for method, path, access in routes(app, fingerprint=unit_a_problem):
            if method == "GET":
                r = c.get(path)
                expected = 200 if role in access.roles else 403
                if unit not in (None, UNIT_A) and path.startswith("/problems/") and expected == 200:
                    expected = 404                          # another unit's problem does not exist for it
                assert r.status_code == expected, (name, path, r.status_code)
            elif role not in access.roles:
                r = c.post(path, data={"csrf": page_csrf(c)})
                assert r.status_code == 403, (name, path)
        assert c.get("/").status_code == 200                 # still signed in after the refusals


def test_a_leader_changes_nothing_but_its_own_session_and_password(db):
    app = app_for(db)
    for method, path, access in routes(app):
        if method == "POST" and not access.public:
            assert "leader" not in access.roles or access.own, path
    leader = signed_in(app, "leader")
    assert leader.get("/audit").status_code == 403


def test_a_unit_user_sees_only_its_own_units_problems(db, built):
    scan_id = built[1]
    store = Store(db)
    scan = store.scan(scan_id)
    numbers = scan_numbers(store, scan)
    everyone = visible_problems(accounts.get_user(store.engine, "admin"), store, scan, numbers)
    units = {r["unit"] for r in everyone}
    assert units == {UNIT_A, UNIT_B} and len(everyone) == numbers.problems
    for name, unit in (("unit-a", UNIT_A), ("unit-b", UNIT_B)):
        user = accounts.get_user(store.engine, name)
        rows = visible_problems(user, store, scan, numbers)
        assert rows and {r["unit"] for r in rows} == {unit}
        assert len(rows) == visible_count(user, numbers) == numbers.by_unit[unit]
    findings = {f.fingerprint: unit_of(f, scan.config) for f in store.findings(scan_id)}
    app = app_for(db)
    for name, unit in (("unit-a", UNIT_A), ("unit-b", UNIT_B)):
        text = signed_in(app, name).get("/").text
        shown = set(re.findall(r'data-fingerprint="([0-9a-f]+)"', text))
        own = {fp for fp, u in findings.items() if u == unit}
        assert shown <= own and len(shown) == min(len(own), SHOWN_PROBLEMS), name
        assert f'data-problems="{numbers.by_unit[unit]}"' in text
    text = signed_in(app, "unit-b").get("/").text
    assert "missing.html" not in text                       # 党政办's broken link is not shown to 综合办


def test_the_overview_shows_the_numbers_of_the_reports(db, built):
    store = Store(db)
    scan = store.scan(built[1])
    n = scan_numbers(store, scan)
    text = signed_in(app_for(db), "admin").get("/").text
    soup = BeautifulSoup(text, "html.parser")
    [section] = soup.select("section.site")
    assert section["data-site"] == SITE
    assert section.select_one("[data-conclusion]")["data-conclusion"] == n.conclusion
    assert section.select_one("[data-problems]")["data-problems"] == str(n.problems)
    assert section.select_one("[data-vetoes]")["data-vetoes"] == str(n.vetoes)
    assert section.select_one("[data-score]")["data-score"] == ("" if n.score is None else str(n.score))
    assert len(section.select(".lights li")) == len(n.veto)
    [ov] = overview(store, accounts.get_user(store.engine, "admin"))
    assert ov.numbers == n and ov.problems == n.problems


def assert_inert(text: str) -> None:
    """No markup, script or script URL of the crawl survives as markup; the text is there, escaped."""
    soup = BeautifulSoup(text, "html.parser")
    assert not soup.find_all("script") and not soup.find_all("img")
    for tag in soup.find_all(True):
        for attr, value in tag.attrs.items():
            assert not attr.lower().startswith("on"), (tag.name, attr)
            if attr in ("href", "src", "action", "formaction") and not (tag.name == "link" and value == "data:,"):
                assert re.match(r"(/|#|https?://)", str(value)), (tag.name, attr, value)
    assert EVIL_TITLE not in text and "<img" not in text and 'href="javascript' not in text.lower()


def test_hostile_titles_and_urls_are_inert_on_every_page(db, unit_a_problem):
    app = app_for(db)
    pages = []
    for name in USERS:
        c = signed_in(app, name)
        pages += [c.get(path) for method, path, access in routes(app, fingerprint=unit_a_problem)
                  if method == "GET" and "static" not in path and not path.endswith(".csv") and "/files/" not in path
                  and "/progress" not in path]
    read_only = client(app_for(db, read_only=True))
    pages += [read_only.get("/"), read_only.get("/audit")]
    pages = [r for r in pages if r.headers["content-type"].startswith("text/html")]     # not the XLSX downloads
    seen = "\n".join(r.text for r in pages)
    for r in pages:
        assert_inert(r.text)
    assert "&lt;script&gt;alert(4)&lt;/script&gt;西区" in seen                 # the site's name, as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in seen                    # the page title as a link text
    assert "onerror=alert(2)&gt;" in seen and EVIL_ATTR not in seen           # the attribute breaker, as text
    assert EVIL_JS in seen                                                      # shown, never linked


def test_error_pages(db):
    app = app_for(db)
    leader = signed_in(app, "leader")
    r = leader.get("/audit")
    assert r.status_code == 403 and "无权访问" in r.text and "<h1>" in r.text
    r = leader.get("/no/such/page")
    assert r.status_code == 404 and "页面不存在" in r.text
    r = client(app).get("/static/../../etc/passwd")
    assert r.status_code == 404
    r = client(app).get("/static/secret.css")
    assert r.status_code == 404
    r = leader.put("/")
    assert r.status_code in (403, 405)


def test_pages_are_usable_without_a_mouse_and_labelled(db):
    app = app_for(db)
    login = client(app).get("/login").text
    soup = BeautifulSoup(login, "html.parser")
    assert soup.html["lang"] == "zh-CN" and soup.select_one('meta[name="viewport"]')
    for field in soup.select("input:not([type=hidden])"):
        assert soup.select_one(f'label[for="{field["id"]}"]'), field
    assert soup.select_one('a.skip[href="#main"]') and soup.select_one("main#main")
    account = BeautifulSoup(signed_in(app, "admin").get("/account").text, "html.parser")
    for field in account.select("input:not([type=hidden])"):
        assert account.select_one(f'label[for="{field["id"]}"]'), field
    css = client(app).get("/static/console.css").text
    assert ":focus-visible" in css and "@media (max-width: 600px)" in css
    assert client(app).get("/static/look.css").text.startswith("/* The look shared by every report")


def test_console_templates_hold_no_inline_script_or_style():
    """The CSP refuses inline script and style: a template that had some would break in the browser."""
    from sitewatch.resources import data_dir

    templates = sorted((data_dir("reports") / "console").rglob("*.j2"))
    assert len(templates) >= 6
    for path in templates:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script|<style|\sstyle=|\son[a-z]+=|javascript:", text, re.I), path.name
        assert "|safe" not in text.replace(" ", ""), path.name
