"""JavaScript rendering (render_js): which pages look JS-only, and real scans with headless Chromium on loopback.

The browser tests need Playwright (the ``render`` extra) and a system Chromium; they are skipped otherwise.
The heuristic and the missing-Playwright error path run everywhere.
"""

import asyncio
import datetime as dt
import os
import sys

import pytest
from conftest import scan_site
from loopback import Answer, LoopbackSite, page
from sqlalchemy import select

from sitewatch.config import SiteConfig
from sitewatch.crawl import render
from sitewatch.crawl.engine import Crawler
from sitewatch.crawl.netpolicy import NetPolicy
from sitewatch.errors import ConfigError
from sitewatch.extract import parse_html
from sitewatch.store import ColumnRow, ListItemRow, Store


def _playwright_missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return 'Playwright not installed (pip install "sitewatch[render]")'
    path = render.chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return f"no Chromium at {path} (install Debian's chromium or set {render.CHROMIUM_ENV})"
    return None


_MISSING = _playwright_missing()
needs_browser = pytest.mark.skipif(_MISSING is not None, reason=f"JavaScript rendering unavailable: {_MISSING}")

FILLER = "本网站由区人民政府办公室主办，发布政府信息公开、政策文件、通知公告与政务动态，欢迎社会各界监督。" * 4
NAV = ('<div class="nav"><a href="/s/">首页</a><a href="/s/about.html">概况</a>'
       '<a href="/s/col/index.html">通知公告</a></div>')

ROWS = [("/s/col/t1.html", "关于开展年度安全生产检查工作的通知", "2026-11-20"),
        ("/s/col/t2.html", "关于做好冬季供暖保障工作的通知", "2026-11-18"),
        ("/s/col/gone.html", "关于调整办事大厅服务时间的通知", "2026-11-10")]
JS_LIST = """<ul id="list"></ul>
<script>
var rows = %s;
var ul = document.getElementById('list'), html = '';
for (var i = 0; i < rows.length; i++) {
  html += '<li><a href="' + rows[i][0] + '">' + rows[i][1] + '</a><span>' + rows[i][2] + '</span></li>';
}
ul.innerHTML = html;
</script>""" % [list(r) for r in ROWS]


def _column_page() -> str:
    return page("通知公告", NAV + JS_LIST, head='<meta name="ColumnName" content="通知公告">')


def _article(title: str) -> str:
    return page(title, f"<h1>{title}</h1><p>发布日期：2026-11-20</p><p>{FILLER}</p>")


def portal_routes() -> dict:
    home = page("某区人民政府", NAV + '<a href="/s/a1.html">政务要闻一</a><a href="/s/a2.html">政务要闻二</a>'
                f'<p>{FILLER}</p><script src="/s/js/stat.js"></script>')
    about = page("概况", NAV + f"<p>{FILLER}</p><script>var _hmt = _hmt || [];</script>")
    return {
        "/s/": Answer(body=home),
        "/s/about.html": Answer(body=about),
        "/s/a1.html": Answer(body=_article("政务要闻一")),
        "/s/a2.html": Answer(body=_article("政务要闻二")),
        "/s/js/stat.js": Answer(body="var stat = 1;", content_type="application/javascript"),
        "/s/col/index.html": Answer(body=_column_page()),
        "/s/col/t1.html": Answer(body=_article(ROWS[0][1])),
        "/s/col/t2.html": Answer(body=_article(ROWS[1][1])),
    }


def _column_rows(store: Store, scan_id: int):
    with store.engine.connect() as c:
        cols = c.execute(select(ColumnRow).where(ColumnRow.c.scan_id == scan_id)).all()
        items = c.execute(select(ListItemRow).where(ListItemRow.c.scan_id == scan_id,
                                                    ListItemRow.c.column_key != "__articles__")).all()
    return cols, items


# --- the heuristic (no browser) ---------------------------------------------------------------------------

def _why(html: str) -> str | None:
    return render.looks_js_only(html, parse_html(html, "http://127.0.0.1/s/x.html"))


def test_static_pages_do_not_look_js_only():
    rich = NAV + "".join(f'<a href="/s/{i}.html">链接{i}</a>' for i in range(6)) + f"<p>{FILLER}</p>"
    assert _why(page("x", rich + '<script src="/s/js/stat.js"></script>')) is None      # scripts, real content
    assert _why(page("x", "<p>短</p>")) is None                                             # empty but no script
    assert _why(page("x", rich + "<ul></ul><script>var a = 1;</script>")) is None          # nothing writes the list
    assert _why(portal_routes()["/s/"].body) is None


def test_js_only_pages_are_recognised():
    rich = NAV + "".join(f'<a href="/s/{i}.html">链接{i}</a>' for i in range(6)) + f"<p>{FILLER}</p>"
    assert _why(page("x", '<div id="app"></div><script src="/app.js"></script>')) == "empty"
    assert _why(page("x", rich + '<ul ms-controller="list"><li ms-for="el in @rows">{{el.title}}</li></ul>'
                     "<script src='/avalon.js'></script>")) == "template"
    assert _why(page("x", rich[:300] + "<script>window._CONFIG = {api: '/api'};</script>")) == "shell"
    assert _why(page("x", rich + "<ul id='list'></ul><script>$.ajax({url: '/api/list'})</script>")) == "script_list"
    assert _why(_column_page()) == "empty"


# --- fail fast without Playwright --------------------------------------------------------------------------

def test_render_js_without_playwright_is_a_one_line_config_error(monkeypatch, db, capsys):
    monkeypatch.setitem(sys.modules, "playwright", None)
    monkeypatch.setitem(sys.modules, "playwright.async_api", None)
    cfg = SiteConfig(name="t", start_urls=["http://127.0.0.1:9/s/"], render_js=True)
    with pytest.raises(ConfigError) as exc:
        Crawler(cfg, Store(db), 1)
    msg = str(exc.value)
    assert "\n" not in msg and 'pip install "sitewatch[render]"' in msg and "chromium" in msg
    # the CLI says so on one line before any scan is created
    from sitewatch.cli import main

    assert main(["scan", "http://127.0.0.1:9/s/", "--render-js", "--db", db, "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "--render-js" in err and "sitewatch[render]" in err
    assert Store(db).scans(kind=None) == []


def test_missing_chromium_is_a_config_error(monkeypatch, tmp_path):
    pytest.importorskip("playwright.async_api", reason="Playwright not installed")
    monkeypatch.setenv(render.CHROMIUM_ENV, str(tmp_path / "no-chromium"))
    with pytest.raises(ConfigError, match="not found at"):
        render.require_rendering()


# --- real scans ------------------------------------------------------------------------------------------

@needs_browser
def test_plain_scan_sees_the_js_column_blank(db):
    with LoopbackSite(portal_routes()) as site:
        result, store = scan_site(site.url("/s/"), db)
    assert result.stats.rendered == 0
    cols, items = _column_rows(store, result.scan_id)
    col = [c for c in cols if c.name == "通知公告"]
    assert col and col[0].engine == "none" and not [i for i in items if i.column_key == col[0].key]
    assert "column.blank" in {f.rule for f in result.findings}
    assert site.hits("/s/col/gone.html") == 0             # the scripted list's links are invisible


@needs_browser
def test_render_js_scan_reads_the_scripted_list_and_checks_its_links(db):
    with LoopbackSite(portal_routes()) as site:
        result, store = scan_site(site.url("/s/"), db, render_js=True)
    assert result.stats.rendered == 1 and result.stats.render_failed == 0    # only the column page
    assert result.stats.to_json()["rendered"] == 1
    cols, items = _column_rows(store, result.scan_id)
    col = [c for c in cols if c.name == "通知公告"]
    assert col and col[0].engine != "none"
    got = {(i.url, i.title, i.date) for i in items if i.column_key == col[0].key}
    assert got == {(site.url(u), t, dt.date.fromisoformat(d)) for u, t, d in ROWS}
    rules = {f.rule for f in result.findings}
    assert "column.blank" not in rules
    broken = {f.url: f for f in result.findings if f.rule == "link.broken"}
    assert set(broken) == {site.url("/s/col/gone.html")}
    assert broken[site.url("/s/col/gone.html")].found_on == [site.url("/s/col/index.html")]


@needs_browser
def test_script_redirect_is_followed_as_a_link(db):
    routes = portal_routes()
    routes["/s/"] = Answer(body=page("跳转", "<script>location.replace('/s/new/index.html');</script>"))
    routes["/s/new/index.html"] = Answer(body=page("新版首页", f"<p>{FILLER}</p>" + NAV))
    with LoopbackSite(routes) as site:
        result, _ = scan_site(site.url("/s/"), db, render_js=True, prefixes=["/s/"])
        assert site.hits("/s/new/index.html") >= 2        # the browser's visit and the crawler's
    assert result.stats.rendered == 2                     # the redirect stub and the column page


def _descendants(pid: int) -> list[str]:
    """Command names of every process below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        names[int(entry)] = name
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(names.get(p, "?"))
        todo.extend(children.get(p, []))
    return out


@needs_browser
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to list child processes")
def test_browser_is_closed_after_the_crawl_and_on_cancel(db):
    store = Store(db)
    with LoopbackSite(portal_routes()) as site:
        cfg = SiteConfig(name="t", start_urls=[site.url("/s/")], rate=0, concurrency=4, timeout=5, retries=0,
                         render_js=True)
        crawler = Crawler(cfg, store, store.new_scan("t", cfg.start_urls, dt.date(2026, 11, 26), {}))
        stats = asyncio.run(crawler.run())
        assert stats.rendered == 1
        assert crawler.renderer._browser is None and _descendants(os.getpid()) == []

        async def cancel_after_render(crawler):
            task = asyncio.create_task(crawler.run())
            while crawler.stats.rendered == 0 and not task.done():
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return crawler

        for path in ("/s/col/t1.html", "/s/col/t2.html"):    # slow: the crawl is still running after the render
            site.routes[path] = Answer(body=site.routes[path].body, delay=2.0)
        crawler = Crawler(cfg, store, store.new_scan("t", cfg.start_urls, dt.date(2026, 11, 26), {}))
        asyncio.run(cancel_after_render(crawler))
        assert crawler.renderer._browser is None and _descendants(os.getpid()) == []


# --- the browser obeys the network policy and the proxy ---------------------------------------------------

INSIDE = {"/x": Answer(body="secret"), "/frame.html": Answer(body=page("内网", "<p>内网</p>")),
          "/s.js": Answer(body="document.title = 'pwned';", content_type="application/javascript")}


def _render_once(renderer: render.Renderer, url: str) -> render.Rendered | None:
    async def go():
        try:
            return await renderer.render(url)
        finally:
            await renderer.close()
    return asyncio.run(go())


@needs_browser
def test_rendered_page_does_not_request_internal_addresses():
    """A citizen's message on a 留言 page carries a script that fetches, frames and loads an internal address, and
    calls a URL of the site that redirects there (Chromium follows redirects without showing them to a route
    handler). The site is on 127.0.0.1 and allowed; 127.0.0.2 stands for another machine of the office network."""
    with LoopbackSite(INSIDE, host="127.0.0.2") as inside:
        secret = inside.url("/x")
        script = (f'<script>fetch("{secret}").catch(function(){{}});'
                  f'try {{ new WebSocket("{secret.replace("http", "ws")}"); }} catch (e) {{}}'
                  'fetch("/r").then(function(r){return r.text()}).then(function(t){'
                  'document.getElementById("via").textContent = t}).catch(function(){});'
                  'fetch("/data").then(function(r){return r.text()}).then(function(t){'
                  'document.getElementById("list").innerHTML = t});</script>')
        body = (f'<ul id="list"></ul><p id="via"></p><iframe src="{inside.url("/frame.html")}"></iframe>'
                f'<script src="{inside.url("/s.js")}"></script>{script}')
        routes = {"/s/": Answer(body=page("留言", body)),
                  "/r": Answer(302, "", headers={"Location": secret}),
                  "/data": Answer(body='<li><a href="/s/a.html">回复</a></li>'),
                  "/go": Answer(302, "", headers={"Location": "/s/"}),
                  "/nav": Answer(302, "", headers={"Location": secret})}
        with LoopbackSite(routes) as site:
            blocked: list[str] = []
            r = _render_once(render.Renderer(5, policy=NetPolicy.from_allow(["127.0.0.1"]),
                                             on_blocked=blocked.append), site.url("/s/"))
            assert r is not None and '<a href="/s/a.html">回复</a>' in r.html     # the site's own calls work
            assert "secret" not in r.html and "pwned" not in r.html
            assert site.hits("/r") == 1 and site.hits("/data") == 1
            moved = _render_once(render.Renderer(5, policy=NetPolicy.from_allow(["127.0.0.1"])), site.url("/go"))
            assert moved is not None and moved.url == site.url("/s/")         # an allowed redirect is followed
            nav = render.Renderer(5, policy=NetPolicy.from_allow(["127.0.0.1"]))
            _render_once(nav, site.url("/nav"))
            assert site.hits("/nav") == 1 and nav.blocked == 1
        assert sum(inside.requests.values()) == 0
    assert set(blocked) == {secret, inside.url("/frame.html"), inside.url("/s.js"), secret.replace("http", "ws")}


@needs_browser
def test_a_scan_renders_through_the_configured_proxy(db, monkeypatch):
    """Issue 14: every request the product makes goes through the office proxy, the browser's too."""
    from test_network_faults import PROXY_VARS, CountingProxy

    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    with LoopbackSite(portal_routes()) as site, CountingProxy() as proxy:
        result, _ = scan_site(site.url("/s/"), db, render_js=True, proxy=proxy.url)
        assert result.stats.rendered == 1
        assert site.hits("/s/col/index.html") == 2                          # the crawl's fetch and the browser's
        crawl = sum(n for (method, _), n in proxy.seen.items() if method != "CONNECT")
        assert crawl == sum(site.requests.values()) - 1                     # the crawl's requests, one by one,
        assert proxy.seen[("CONNECT", site.base.split("//")[1])] >= 1      # and the browser's, tunnelled


@needs_browser
def test_the_browser_takes_the_environment_proxy(monkeypatch):
    from test_network_faults import PROXY_VARS, CountingProxy

    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    with LoopbackSite(portal_routes()) as site, CountingProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        r = _render_once(render.Renderer(5), site.url("/s/col/index.html"))
        assert r is not None and ROWS[0][1] in r.html
        assert proxy.seen[("CONNECT", site.base.split("//")[1])] >= 1 and site.hits("/s/col/index.html") == 1


def test_browser_proxy_settings():
    env = {"http": "http://u:p%40ss@proxy.gov.test:3128", "https": "http://u:p%40ss@proxy.gov.test:3128",
           "no": "localhost, .intranet.gov.test"}
    assert render.browser_proxy("https://www.gov.test/", None, env) == {
        "server": "http://proxy.gov.test:3128", "bypass": "localhost,.intranet.gov.test", "username": "u",
        "password": "p@ss"}
    assert render.browser_proxy("http://a.test/", "socks5h://127.0.0.1:1080", {}) == {"server": "socks5://127.0.0.1:1080"}
    assert render.browser_proxy("http://a.test/", None, {"all": "socks5://10.0.0.1:1080"}) == {
        "server": "socks5://10.0.0.1:1080"}
    assert render.browser_proxy("http://a.test/", None, {}) is None
    assert render.browser_proxy("http://a.test/", None, {"http": "http://p:1", "no": "*"}) is None
