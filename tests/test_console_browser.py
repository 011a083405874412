"""The console in a real browser (Playwright driving Debian's Chromium): `sitewatch serve` on a scanned store, signing
in through the form (the Secure cookies kept over plain HTTP on loopback), the 首页 with the site's 总体结论, no
error in the console (a CSP violation would be one), usable at phone width and by keyboard, signing out.

Set SITEWATCH_REPORT_ARTIFACTS to a folder to keep the screenshots (CI artifacts; never committed).
"""

from __future__ import annotations

import pytest
from consolekit import CHROMIUM, PASSWORD, UNIT_A, browser_sign_in, build, shot, start_serve, stop

from sitewatch.reporting.data import scan_numbers
from sitewatch.store import Store


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    pytest.importorskip("playwright.sync_api", reason="Playwright not installed (the render extra)")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (CI installs it with apt)")
    db, scan_id = build(tmp_path_factory.mktemp("console-browser"))
    proc, url = start_serve(db)
    yield db, scan_id, url
    out, err = stop(proc)
    assert PASSWORD not in out and PASSWORD not in err


@pytest.fixture
def browser(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def test_an_admin_signs_in_and_sees_the_sites_conclusion(served, browser):
    db, scan_id, url = served
    store = Store(db)
    numbers = scan_numbers(store, store.scan(scan_id))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url)
    shot(page, "login")
    browser_sign_in(page, url, "admin")
    assert page.locator("h1").inner_text() == "网站监测总览"
    assert page.locator("[data-conclusion]").inner_text() == numbers.conclusion
    assert page.locator("[data-problems]").inner_text() == str(numbers.problems)
    assert page.locator("script").count() == 0 and page.locator("img").count() == 0    # hostile text stayed text
    assert "<script>alert(4)</script>西区" in page.locator("h2").first.inner_text()
    color = page.locator("th").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(230, 235, 242)"                         # the reports' look (look.css) applies
    shot(page, "overview")
    page.keyboard.press("Tab")                                   # the first stop is the skip link, visibly focused
    focused = page.evaluate("() => [document.activeElement.className, "
                            "getComputedStyle(document.activeElement).outlineStyle]")
    assert focused == ["skip", "solid"]
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(url + "login")
    page.goto(url)
    assert page.url.endswith("/login")
    assert problems == []


def test_a_unit_user_at_phone_width(served, browser):
    _, _, url = served
    page = browser.new_page(viewport={"width": 375, "height": 800}, is_mobile=True)
    browser_sign_in(page, url, "unit-a")
    assert page.get_by_text(f"仅含本科室（{UNIT_A}）负责的问题").count() == 1
    units = page.locator('td[data-label="责任科室"]').all_inner_texts()
    assert units and set(units) == {UNIT_A}
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0                                         # nothing wider than the phone (tables scroll)
    shot(page, "overview-phone")


def test_a_unit_declares_a_fix_and_an_admin_sees_it(served, browser):
    """The loop in a browser: a unit user filters its problems, opens one, declares 已整改 with 整改措施; an
    admin then sees the declaration on the problem's page. No console error (a CSP violation would be one)."""
    _, _, url = served
    problems: list[str] = []
    page = browser.new_page(viewport={"width": 375, "height": 800}, is_mobile=True)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    browser_sign_in(page, url, "unit-a")
    page.get_by_role("link", name="问题清单").click()
    page.wait_for_url(url + "problems")
    page.get_by_label("整改状态").select_option("未整改")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**/problems?**")
    rows = page.locator("tbody tr[data-fingerprint]")
    assert rows.count() > 0
    assert set(page.locator('tbody td[data-label="责任科室"]').all_inner_texts()) == {UNIT_A}
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    shot(page, "problems-phone")
    fingerprint = rows.first.get_attribute("data-fingerprint")
    rows.first.get_by_role("link", name="查看与填报").click()
    page.wait_for_url(f"**/problems/{fingerprint}")
    page.get_by_label("已整改", exact=True).check()
    page.get_by_label("整改措施（无法整改时写明原因）").fill("已删除失效链接，更新了栏目")
    page.get_by_role("button", name="提交填报").click()
    page.wait_for_url(f"**/problems/{fingerprint}?declared=1")
    assert page.get_by_role("status").first.inner_text().startswith("已保存填报")
    assert page.locator("[data-state]").first.inner_text() == "已整改（待复核）"
    shot(page, "problem-declared-phone")
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(url + "login")
    wide = browser.new_page(viewport={"width": 1280, "height": 900})
    wide.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    browser_sign_in(wide, url, "admin")
    wide.goto(url + f"problems/{fingerprint}")
    declared = wide.locator("tr[data-declared]")
    assert declared.count() == 1 and "已删除失效链接，更新了栏目" in declared.inner_text()
    assert "控制台：unit-a" in declared.inner_text()
    shot(wide, "problem-admin")
    wide.goto(url + "audit")
    assert wide.locator('tr[data-action="problem.declare"]').count() == 1
    assert problems == []
