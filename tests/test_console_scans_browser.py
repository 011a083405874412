"""An admin starts a scan of a loopback site in a real browser (Playwright driving Debian's Chromium) and watches it
finish on the scan's page (it reloads itself by a meta refresh: no script), with no error in the browser's console
(a CSP violation would be one). Set SITEWATCH_REPORT_ARTIFACTS to a folder to keep the screenshot."""

from __future__ import annotations

import pytest
from conftest import scan_site
from consolekit import CHROMIUM, PASSWORD, USERS, browser_sign_in, shot, start_serve, stop
from loopback import LoopbackSite, page

from sitewatch.console import accounts
from sitewatch.console.audit import Actor

SITE = "回环测试站"


def test_an_admin_starts_a_scan_and_sees_it_finish(tmp_path):
    pytest.importorskip("playwright.sync_api", reason="Playwright not installed (the render extra)")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (CI installs it with apt)")
    from loopback import Answer
    from playwright.sync_api import sync_playwright

    routes = {"/s/": Answer(body=page("首页", '<a href="a.html">文章</a><a href="gone.html">失效</a>')),
              "/s/a.html": Answer(body=page("文章", "<p>正文</p>"))}
    with LoopbackSite(routes) as site:
        db = str(tmp_path / "sw.db")
        _, store = scan_site(site.url("/s/"), db, name=SITE)
        accounts.add_user(store.engine, "admin", "admin", None, PASSWORD, Actor("cli:test"))
        store.engine.dispose()
        assert USERS["admin"][0] == "admin"
        proc, url = start_serve(db)
        errors: list[str] = []
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                try:
                    p = browser.new_page()
                    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                    browser_sign_in(p, url, "admin")
                    p.goto(url + "scans")
                    p.get_by_label("站点").select_option(SITE)
                    p.get_by_role("button", name="开始").click()
                    p.wait_for_url(lambda u: "/scans/2" in u)
                    p.wait_for_selector('[data-status="completed"]', timeout=60_000)
                    assert p.locator("a[data-file]").count() == 5
                    shot(p, "scan-finished")
                finally:
                    browser.close()
        finally:
            out, err = stop(proc)
        assert not errors, errors
        assert PASSWORD not in out and PASSWORD not in err
