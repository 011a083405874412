"""Link verdicts against real loopback servers: what is broken, and what works in a browser and must not be reported."""

import itertools
import json

from conftest import scan_site
from loopback import Answer, LoopbackSite, page, refused_port


def broken_by_url(result):
    return {f.url: f for f in result.findings if f.rule == "link.broken"}


def test_every_broken_kind_is_reported_once_with_all_pages(db):
    port = refused_port()
    links = ('<a href="missing.html">m</a><a href="err.html">e</a><a href="slow.html">s</a>'
             f'<a href="http://127.0.0.1:{port}/x">refused</a><a href="http://oa.site.invalid/">dns</a>'
             '<a href="loop1">loop</a><a href="chain">chain</a><a href="soft.html">soft</a>'
             '<a href="gone/t1.html">stub</a><img src="nope.png"><a href="two.html">two</a>')
    routes = {
        "/s/": Answer(body=page("首页", links)),
        "/s/two.html": Answer(body=page("第二页", '<a href="missing.html">again</a>')),
        "/s/err.html": Answer(500, page("Server Error")),
        "/s/slow.html": Answer(body=page("slow"), delay=3.5),
        "/s/loop1": Answer(302, "", {"Location": "/s/loop2"}),
        "/s/loop2": Answer(302, "", {"Location": "/s/loop1"}),
        "/s/chain": Answer(301, "", {"Location": "/s/chain2"}),
        "/s/chain2": Answer(302, "", {"Location": "/s/missing-end.html"}),
        "/s/soft.html": Answer(body=page("页面不存在", "<p>抱歉，您访问的页面不存在或已被删除。</p>")),
        "/s/gone/t1.html": Answer(body='<html><head><meta http-equiv="refresh" content="0;URL=../" /></head><body></body></html>'),
    }
    with LoopbackSite(routes) as site:
        result, store = scan_site(site.url("/s/"), db)
        broken = broken_by_url(result)
        assert site.hits("/s/err.html") >= 2          # retried before judging
    expect = {
        site.url("/s/missing.html"): {"status": 404},
        site.url("/s/err.html"): {"status": 500},
        site.url("/s/slow.html"): {"error": "timeout"},
        f"http://127.0.0.1:{port}/x": {"error": "refused"},
        "http://oa.site.invalid/": {"error": "dns"},
        site.url("/s/loop1"): {"error": "loop"},
        site.url("/s/chain"): {"status": 404},
        site.url("/s/soft.html"): {"error": "soft404"},
        site.url("/s/gone/t1.html"): {"error": "deleted_stub"},
        site.url("/s/nope.png"): {"status": 404},
    }
    assert set(broken) == set(expect)
    for url, ev in expect.items():
        for k, v in ev.items():
            assert broken[url].evidence.get(k) == v, (url, broken[url].evidence)
    # reported at the original link, with the redirect chain as evidence
    assert [h["url"] for h in broken[site.url("/s/chain")].evidence["redirects"]] == [site.url("/s/chain"), site.url("/s/chain2")]
    assert broken[site.url("/s/missing.html")].found_on == [site.url("/s/"), site.url("/s/two.html")]
    assert all("链接无法访问" in f.message for f in broken.values())


def test_links_that_work_in_a_browser_are_not_reported(db):
    def once_429(method, n):
        return Answer(429, "slow down", {"Retry-After": "1"}) if n == 1 else Answer(body=page("ok"))

    links = ('<a href="file.pdf">pdf</a><a href="r1">redir</a><a href="busy.html">busy</a>'
             '<a href="javascript:void(0)">js</a><a href="mailto:office@example.gov.cn">mail</a><a href="tel:123">t</a>'
             '<img src="data:image/png;base64,AAAA"><a href="#top">top</a><a ms-attr-href="share.sina">s</a>'
             '<a href="{{ item.url }}">tpl</a><a hhref="x.html">typo</a><a href="附件/预算.pdf">附件</a>')
    routes = {
        "/s/": Answer(body=page("首页", links)),
        "/s/file.pdf": Answer(body=b"%PDF-1.4", content_type="application/pdf", head_status=405),
        "/s/r1": Answer(301, "", {"Location": "/s/r2"}),
        "/s/r2": Answer(302, "", {"Location": "/s/final.html"}),
        "/s/final.html": Answer(body=page("终点", "内容正常，欢迎访问。")),
        "/s/busy.html": once_429,
        "/s/附件/预算.pdf": Answer(body=b"%PDF", content_type="application/pdf"),
    }
    with LoopbackSite(routes) as site:
        result, store = scan_site(site.url("/s/"), db)
        assert site.requests[("HEAD", "/s/file.pdf")] == 1 and site.requests[("GET", "/s/file.pdf")] == 1
        assert site.requests[("GET", "/s/busy.html")] == 2
        assert not any("share.sina" in p or "{{" in p or "x.html" in p for _, p in site.requests)
    assert broken_by_url(result) == {}
    assert result.stats.checked == 5      # start page, pdf, redirect, busy, non-ASCII pdf: nothing else fetched


def test_soft_404_learned_from_a_random_missing_url(db):
    """A site answering 200 with the same generic page for any unknown URL: that page is a soft 404."""
    generic = page("西区办事处", "<div>欢迎访问西区办事处网站</div>")

    class Catchall(dict):
        def get(self, key, default=None):
            return super().get(key) or Answer(body=generic)

    with LoopbackSite() as site:
        site.routes = Catchall({"/s/": Answer(body=page("首页", '<a href="real.html">r</a><a href="deleted.html">d</a>')),
                                "/s/real.html": Answer(body=page("正常文章", "<p>" + "正文内容。" * 50 + "</p>"))})
        result, _ = scan_site(site.url("/s/"), db)
    assert set(broken_by_url(result)) == {site.url("/s/deleted.html")}
    assert broken_by_url(result)[site.url("/s/deleted.html")].evidence["error"] == "soft404"


def test_gbk_pages_decode_from_header_meta_or_detection(db):
    body = "<html><head>{meta}<title>西区办事处工作动态</title></head><body><a href='{link}'>关于做好2026年防汛工作的通知</a></body></html>"
    routes = {
        "/s/": Answer(body=body.format(meta="", link="a.html").encode("gbk"), content_type="text/html; charset=GBK"),
        "/s/a.html": Answer(body=body.format(meta='<meta http-equiv="Content-Type" content="text/html; charset=gb2312">',
                                              link="b.html").encode("gb2312"), content_type="text/html"),
        "/s/b.html": Answer(body=(body.format(meta="", link="c.html") + "<p>" + "镇街政务公开标准目录与办事指南。" * 20 + "</p>")
                            .encode("gb18030"), content_type="text/html"),
    }
    with LoopbackSite(routes) as site:
        result, store = scan_site(site.url("/s/"), db)
    from sqlalchemy import select

    from sitewatch.store import LinkRow, PageRow
    with store.engine.connect() as c:
        pages = {r.url: (r.title, r.encoding) for r in c.execute(select(PageRow))}
        texts = set(c.execute(select(LinkRow.c.text)).scalars())
    assert pages[site.url("/s/")] == ("西区办事处工作动态", "gbk")
    assert pages[site.url("/s/a.html")] == ("西区办事处工作动态", "gb2312")
    assert pages[site.url("/s/b.html")][0] == "西区办事处工作动态"
    assert "关于做好2026年防汛工作的通知" in texts
    assert set(broken_by_url(result)) == {site.url("/s/c.html")}


def test_traps_terminate_and_are_counted(db):
    months = itertools.count(1)

    def calendar(method, n):
        return Answer(body=page("日历", f'<a href="?m={next(months)}">下月</a>'))

    def deep(method, n):
        return Answer(body=page("目录", '<a href="a/">a</a>'))

    class Routes(dict):
        def get(self, key, default=None):
            if key.startswith("/s/cal"):
                return calendar
            if key.startswith("/s/a/"):
                return deep
            return super().get(key, default)

    with LoopbackSite() as site:
        site.routes = Routes({"/s/": Answer(body=page("首页", '<a href="cal?m=0">日历</a><a href="a/">a</a>'
                                                             '<a href="x.html;jsessionid=1">x1</a><a href="x.html;jsessionid=2">x2</a>')),
                              "/s/x.html": Answer(body=page("x", "正文"))})
        result, _ = scan_site(site.url("/s/"), db, max_query_variants=20)
        assert site.hits("/s/x.html") == 1          # session ids stripped: one URL
    assert result.status == "completed"
    assert result.stats.pages < 60
    assert result.stats.traps.get("query_variants", 0) >= 1
    assert result.stats.traps.get("repeating_segments", 0) >= 1


def test_robots_txt_is_honoured(db):
    routes = {
        "/robots.txt": Answer(body="User-agent: *\nDisallow: /s/private/\n", content_type="text/plain"),
        "/s/": Answer(body=page("首页", '<a href="private/a.html">p</a><a href="pub.html">pub</a>')),
        "/s/pub.html": Answer(body=page("公开", "正文")),
    }
    with LoopbackSite(routes) as site:
        result, store = scan_site(site.url("/s/"), db)
        assert site.hits("/s/private/a.html") == 0
        assert site.hits("/s/pub.html") == 1
    assert broken_by_url(result) == {}
    assert result.stats.skipped_robots == 1
    with LoopbackSite(routes) as site:
        result, store = scan_site(site.url("/s/"), db, obey_robots=False)
        assert site.hits("/s/private/a.html") == 1


def test_scope_same_host_outside_prefix_is_checked_not_crawled(db):
    routes = {
        "/town/": Answer(body=page("镇街首页", '<a href="/city/index.html">市政府</a><a href="/other/">邻镇</a><a href="/town/n.html">n</a>')),
        "/town/n.html": Answer(body=page("新闻", "正文")),
        "/city/index.html": Answer(body=page("市政府门户", '<a href="/city/deep.html">deep</a>')),
        "/other/": Answer(body=page("邻镇", '<a href="/other/deep.html">deep</a>')),
    }
    with LoopbackSite(routes) as site:
        result, _ = scan_site(site.url("/town/"), db)
        assert site.hits("/city/index.html") == 1 and site.hits("/other/") == 1
        assert site.hits("/city/deep.html") == 0 and site.hits("/other/deep.html") == 0
    assert result.stats.pages == 2


def test_base_href_meta_refresh_and_non_ascii_paths(db):
    routes = {
        "/s/": Answer(body=page("首页", '<a href="b.html">b</a>', head='<base href="/s/docs/">')),
        "/s/docs/b.html": Answer(body=page("b", '<a href="政策文件/通知.html">通知</a>')),
        "/s/docs/政策文件/通知.html": Answer(body='<html><head><meta http-equiv="refresh" content="3; url=/s/new.html"></head>'
                                          '<body><p>本页已迁移，三秒后跳转到新的栏目页面，请更新收藏夹。</p></body></html>'),
    }
    with LoopbackSite(routes) as site:
        result, store = scan_site(site.url("/s/"), db)
        assert site.hits("/s/docs/b.html") == 1
        assert ("GET", "/s/docs/政策文件/通知.html") in site.requests
    broken = broken_by_url(result)
    assert set(broken) == {site.url("/s/new.html")}
    assert broken[site.url("/s/new.html")].found_on == [site.url("/s/docs/%E6%94%BF%E7%AD%96%E6%96%87%E4%BB%B6/%E9%80%9A%E7%9F%A5.html")]


def test_findings_json_schema_and_as_of(db, tmp_path):
    from sitewatch.cli import main
    routes = {"/s/": Answer(body=page("首页", '<a href="missing.html">m</a>'))}
    out = tmp_path / "f.json"
    with LoopbackSite(routes) as site:
        rc = main(["scan", site.url("/s/"), "--db", db, "--json", str(out), "--as-of", "2026-03-31",
                   "--rate", "0", "--timeout", "3", "--quiet"])
    assert rc == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["schema"] == "sitewatch.findings/1"
    assert doc["as_of"] == "2026-03-31"
    assert doc["scan"]["pages"] == 1 and doc["scan"]["status"] == "completed"
    [f] = [f for f in doc["findings"] if f["rule"] == "link.broken"]
    assert doc["summary"]["link.broken"] == 1
    assert f["rule"] == "link.broken" and f["url"] == site.url("/s/missing.html")
    assert f["found_on"] == [site.url("/s/")] and f["evidence"]["status"] == 404
    assert set(f) >= {"rule", "severity", "url", "found_on", "evidence", "message", "fingerprint"}


def test_broken_as_written_stylesheets_sitemaps_and_forms(db):
    """file: and malformed hrefs are broken without a request; CSS and sitemap links are followed;
    a form endpoint answering 405 to GET exists."""
    routes = {
        "/s/": Answer(body=page("首页", '<a href="file:///C:/Users/admin/Desktop/附件1.doc">附件1</a>'
                                      '<a href="http://localhost]">bad</a><form action="/s/search"></form>'
                                      '<form action="/s/gone-form"></form>',
                                head='<link rel="stylesheet" href="site.css">')),
        "/s/site.css": Answer(body="body{background:url('img/bg.png')} @import 'more.css';", content_type="text/css"),
        "/s/more.css": Answer(body=".x{}", content_type="text/css"),
        "/s/search": Answer(405, "", content_type="text/plain"),
        "/s/sitemap.xml": Answer(body="<?xml version='1.0'?><urlset><url><loc>/s/from-sitemap.html</loc></url></urlset>",
                                 content_type="application/xml"),
        "/robots.txt": Answer(body="Sitemap: /s/sitemap.xml\n", content_type="text/plain"),
    }
    with LoopbackSite(routes) as site:
        routes["/s/"].body = routes["/s/"].body.replace("</body>", '<a href="sitemap.xml">sitemap</a></body>')
        result, _ = scan_site(site.url("/s/"), db)
        assert site.hits("/s/more.css") == 1
    broken = broken_by_url(result)
    assert broken["file:///C:/Users/admin/Desktop/附件1.doc"].evidence["error"] == "file_scheme"
    assert broken["http://localhost]"].evidence["error"] == "invalid_url"
    assert set(broken) == {"file:///C:/Users/admin/Desktop/附件1.doc", "http://localhost]", site.url("/s/gone-form"),
                           site.url("/s/img/bg.png"), site.url("/s/from-sitemap.html")}
