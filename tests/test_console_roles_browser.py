"""The rectification loop across roles in a real browser (Playwright driving Debian's Chromium) against a real
`sitewatch serve`: a unit declares a broken link fixed, the site is fixed, an admin starts a look-back and a new
scan from the console, the unit sees 复核通过, and a leader sees the change on the 首页 (one problem fewer in the
trend of full scans) and cannot change anything. Screenshots per role go to SITEWATCH_REPORT_ARTIFACTS if set."""

from __future__ import annotations

import pytest
from conftest import scan_site
from consolekit import CHROMIUM, PASSWORD, browser_sign_in, shot, start_serve, stop
from loopback import Answer, LoopbackSite, page

from sitewatch.console import accounts
from sitewatch.console.audit import Actor

SITE, UNIT = "回环测试站", "党政办"



def test_a_fix_declared_by_a_unit_is_verified_by_the_look_back_and_seen_by_the_leader(tmp_path):
    pytest.importorskip("playwright.sync_api", reason="Playwright not installed (the render extra)")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (CI installs it with apt)")
    from playwright.sync_api import sync_playwright

    fixed = {"gone": False}

    def gone(method: str, nth: int) -> Answer:
        return Answer(body=page("已恢复的文章", "<p>正文</p>")) if fixed["gone"] else Answer(404, page("404 Not Found"))

    routes = {"/s/": Answer(body=page("首页", '<a href="a.html">文章</a><a href="gone.html">失效链接</a>')),
              "/s/a.html": Answer(body=page("文章", "<p>正文</p>")), "/s/gone.html": gone}
    with LoopbackSite(routes) as site:
        db = str(tmp_path / "sw.db")
        first, store = scan_site(site.url("/s/"), db, name=SITE, default_unit=UNIT)
        broken = [f for f in store.findings(first.scan_id) if f.rule == "link.broken"]
        assert [f.url for f in broken] == [site.url("/s/gone.html")]
        for name, role, unit in (("admin", "admin", None), ("leader", "leader", None), ("dzb", "unit", UNIT)):
            accounts.add_user(store.engine, name, role, unit, PASSWORD, Actor("cli:test"))
        store.engine.dispose()
        proc, url = start_serve(db)
        errors: list[str] = []
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                try:
                    def sign_in(name: str, start: str = ""):
                        p = browser.new_context().new_page()          # a browser of its own for each user
                        p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                        browser_sign_in(p, url, name)
                        p.goto(url + start)
                        return p

                    # the unit declares the broken link fixed
                    unit = sign_in("dzb", "problems")
                    unit.locator(f'a[href="/problems/{broken[0].fingerprint}"]').click()
                    unit.get_by_label("已整改").check()
                    unit.get_by_label("整改措施（无法整改时写明原因）").fill("已恢复该页面")
                    unit.get_by_role("button", name="提交填报").click()
                    unit.wait_for_selector('[data-declared="已整改"]')
                    assert unit.locator("[data-state]").first.get_attribute("data-state") == "已整改（待复核）"
                    shot(unit, "roles-unit-declared")

                    # the site is fixed; the admin starts a look-back, the unit sees its verdict, then a full scan
                    fixed["gone"] = True
                    admin = sign_in("admin", "scans")

                    def run(kind: str, scan_id: int) -> None:
                        admin.goto(url + "scans")
                        admin.get_by_label("站点").select_option(SITE)
                        admin.locator(f'input[name="kind"][value="{kind}"]').check()
                        admin.get_by_role("button", name="开始").click()
                        admin.wait_for_url(lambda u: f"/scans/{scan_id}" in u or "started=" in u)
                        for _ in range(600):            # the scan's progress (JSON), as the detail page shows it
                            answer = admin.context.request.get(url + f"scans/{scan_id}/progress")
                            state = answer.json() if answer.ok else {"status": "running"}
                            if state["status"] != "running":
                                break
                            admin.wait_for_timeout(100)
                        assert state["status"] == "completed", state

                    run("lookback", 2)
                    unit.goto(url + f"problems/{broken[0].fingerprint}")
                    assert unit.locator("[data-state]").first.get_attribute("data-state") == "复核通过"
                    shot(unit, "roles-unit-verified")
                    run("full", 3)
                    shot(admin, "roles-admin-scans")

                    # the leader sees the change and cannot change anything
                    leader = sign_in("leader")
                    trend = leader.locator("[data-trend-problems]")
                    problems = [int(trend.nth(i).get_attribute("data-trend-problems") or "0")
                                for i in range(trend.count())]
                    assert len(problems) == 2 and problems[0] != problems[1], problems
                    assert leader.locator("form[method=post] button", has_text="开始").count() == 0
                    shot(leader, "roles-leader-overview")
                finally:
                    browser.close()
        finally:
            out, err = stop(proc)
    assert not errors, errors
    assert PASSWORD not in out and PASSWORD not in err
