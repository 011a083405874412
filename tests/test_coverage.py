"""The coverage ledger: a column's 下一页 chain is not depth, and every bound that cut a scan shows in the CLI
summary, the findings JSON (``scan.coverage``) and the report's 本次未覆盖.

The sites are built here from the shapes of real TRS / Fujian list pages (../shared/real-pages), not with the demo.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import SHARED
from loopback import Answer, LoopbackSite, page, refused_port

from sitewatch.cli import main
from sitewatch.scan import findings_document
from sitewatch.urls import is_pagination

AS_OF = "2026-11-26"
CHAIN = 200                      # list pages of the 工作动态 column, chained by 下一页 only


def trs_list(name: str, items: list[tuple[str, str, str]], nxt: str | None, prev: str | None) -> str:
    """A TRS-style column list page: dated rows, then a plain-HTML pager with 上一页/下一页 (no JS pager)."""
    rows = "".join(f'<li><a href="{href}" target="_blank" title="{title}">{title}</a><span>{date}</span></li>\n'
                   for href, title, date in items)
    pager = (f'<a href="{prev}">上一页</a> ' if prev else "") + (f'<a href="{nxt}">下一页</a>' if nxt else "")
    return page(f"{name}_西区办事处", f'<div class="nav"><a href="../">首页</a></div><h2>{name}</h2>'
                f'<ul class="list">\n{rows}</ul><div class="page">{pager}</div>',
                head=f'<meta name="ColumnName" content="{name}">')


def article(title: str, date: str) -> str:
    return page(title, f"<h1>{title}</h1><p>发布日期：{date}</p><p>{title}。" + "正文内容。" * 40 + "</p>",
                head=f'<meta name="ArticleTitle" content="{title}"><meta name="PubDate" content="{date} 09:00">')


def chain_site(n_pages: int = CHAIN) -> dict[str, Answer]:
    """/xqbsc/ with one column of ``n_pages`` list pages chained by 下一页 (index.html, index_1.html ...), each
    listing 3 articles; the last page's articles include one broken link."""
    routes: dict[str, Answer] = {
        "/xqbsc/": Answer(body=page("西区办事处", '<a href="gzdt/">工作动态</a>')),
    }
    day = dt.date(2026, 11, 25)
    for i in range(n_pages):
        name = "index.html" if i == 0 else f"index_{i}.html"
        items = []
        for j in range(3):
            n = i * 3 + j
            d = (day - dt.timedelta(days=n // 4)).isoformat()
            href = f"{d[:7].replace('-', '')}/t{d.replace('-', '')}_{1000 + n}.html"
            routes[f"/xqbsc/gzdt/{href}"] = Answer(body=article(f"西区工作动态第{n}条", d))
            items.append((f"./{href}", f"西区工作动态第{n}条", d))
        if i == n_pages - 1:
            items.append(("./gone/t20200101_1.html", "已删除的旧稿", "2020-01-01"))
        nxt = f"index_{i + 1}.html" if i + 1 < n_pages else None
        prev = None if i == 0 else ("index.html" if i == 1 else f"index_{i - 1}.html")
        routes[f"/xqbsc/gzdt/{name}"] = Answer(body=trs_list("工作动态", items, nxt, prev))
    routes["/xqbsc/gzdt/"] = routes["/xqbsc/gzdt/index.html"]
    return routes


def scan(site: LoopbackSite, tmp_path: Path, capsys, *extra: str, start: str = "/xqbsc/") -> tuple[int, str, dict]:
    db, out = str(tmp_path / "sw.db"), tmp_path / "findings.json"
    code = main(["scan", site.url(start) if not start.startswith("http") else start, "--db", db, "--json", str(out),
                 "--as-of", AS_OF, "--rate", "0", "--concurrency", "8", "--timeout", "3", "--quiet", *extra])
    printed = capsys.readouterr().out
    doc = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return code, printed, doc


def report_html(tmp_path: Path) -> str:
    out = tmp_path / "reports"
    assert main(["report", "--db", str(tmp_path / "sw.db"), "--out", str(out)]) == 0
    return next(out.glob("整改报告-*.html")).read_text(encoding="utf-8")


def test_pagination_links_are_recognised():
    col = "http://h/xqbsc/gzdt/"
    assert is_pagination(col, col + "index_1.html", "下一页")
    assert is_pagination(col + "index_7.html", col + "index_8.html", "下一页")
    assert is_pagination(col + "index_7.html", col, "首页")
    assert is_pagination("http://h/col/col9/index.html?uid=3&pageNum=1", "http://h/col/col9/index.html?uid=3&pageNum=2")
    assert is_pagination("http://h/info/iList.jsp?cat_id=15971", "http://h/info/iList.jsp?cat_id=15971&cur_page=2")
    assert is_pagination(col, col + "2.html", "2")
    # must not: an article, another column, another filter of the same list, a numbered article without pager text
    assert not is_pagination(col, col + "202611/t20261101_1.html", "下一页")
    assert not is_pagination(col, "http://h/xqbsc/tzgg/index_1.html", "下一页")
    assert not is_pagination("http://h/list.jsp?cat=1", "http://h/list.jsp?cat=2", "2")
    assert not is_pagination(col, col + "2.html", "关于开展安全检查的通知")
    assert not is_pagination(col, "http://other/xqbsc/gzdt/index_1.html", "下一页")


def test_long_next_page_chain_is_crawled_whole_with_default_depth(tmp_path, capsys):
    with LoopbackSite(chain_site()) as site:
        code, printed, doc = scan(site, tmp_path, capsys)
    assert code == 0
    pages = doc["scan"]["pages"]
    # homepage, gzdt/ and gzdt/index.html (both linked: two URLs), the other list pages, every article
    assert pages == 2 + CHAIN + CHAIN * 3, pages
    assert doc["scan"]["coverage"] == {"complete": True, "cuts": {}}
    broken = [f["url"] for f in doc["findings"] if f["rule"] == "link.broken"]
    assert broken == [site.url("/xqbsc/gzdt/gone/t20200101_1.html")]   # found on the 200th list page
    assert "coverage: complete" in printed
    assert 'data-complete="true"' in report_html(tmp_path)


def test_depth_cut_is_counted_and_shown(tmp_path, capsys):
    """Articles linking to articles (not pagination) deeper than --max-depth: counted, never silent."""
    routes = {"/s/": Answer(body=page("首页", '<a href="a1.html">第1篇</a>'))}
    for i in range(1, 8):
        routes[f"/s/a{i}.html"] = Answer(body=page(f"第{i}篇", f'<a href="a{i + 1}.html">第{i + 1}篇</a>'))
    with LoopbackSite(routes) as site:
        code, printed, doc = scan(site, tmp_path, capsys, "--max-depth", "3", start="/s/")
    cuts = doc["scan"]["coverage"]["cuts"]
    assert code == 0 and doc["scan"]["coverage"]["complete"] is False
    assert cuts["max_depth"]["count"] == 1 and cuts["max_depth"]["examples"] == [site.url("/s/a4.html")]
    assert doc["scan"]["pages"] == 4
    assert "NOT COVERED" in printed and "max_depth: 1" in printed
    html = report_html(tmp_path)
    assert 'data-cut="max_depth"' in html and "本次未覆盖" in html and site.url("/s/a4.html") in html


@pytest.mark.parametrize("bound", ["max_pages", "trap", "robots", "fetch_failed", "body_cap"])
def test_each_crawl_bound_is_counted_and_shown(bound, tmp_path, capsys):
    links = "".join(f'<a href="p{i}.html">第{i}页</a>' for i in range(6))
    routes: dict[str, Answer] = {f"/s/p{i}.html": Answer(body=page(f"第{i}页", "正文")) for i in range(6)}
    extra: tuple[str, ...] = ()
    example = ""
    if bound == "max_pages":
        extra = ("--max-pages", "3")
    elif bound == "trap":
        links += '<a href="a/a/a/x.html">循环目录</a>'
        example = "/s/a/a/a/x.html"
    elif bound == "robots":
        routes["/robots.txt"] = Answer(body="User-agent: *\nDisallow: /s/p5.html\n", content_type="text/plain")
        example = "/s/p5.html"
    elif bound == "fetch_failed":
        routes["/s/p5.html"] = Answer(503, page("Service Unavailable"))
        example = "/s/p5.html"
    elif bound == "body_cap":
        routes["/s/p5.html"] = Answer(body=page("超大页面", "<p>" + "很长的正文。" * 800_000 + "</p>"))
        example = "/s/p5.html"
    routes["/s/"] = Answer(body=page("首页", links))
    with LoopbackSite(routes) as site:
        code, printed, doc = scan(site, tmp_path, capsys, *extra, start="/s/")
    assert code == 0
    cut = doc["scan"]["coverage"]["cuts"][bound]
    assert cut["count"] >= 1 and cut["label"]
    if example:
        assert cut["examples"][0].endswith(example)
    if bound == "trap":
        assert cut["examples"][0].startswith("repeating_segments: ")
    assert f"{bound}: {cut['count']}" in printed
    assert f'data-cut="{bound}"' in report_html(tmp_path)


def test_clean_site_has_complete_coverage(tmp_path, capsys):
    """The must-not-report twin: the same small site with no bound reached says complete."""
    routes = {f"/s/p{i}.html": Answer(body=page(f"第{i}页", "正文")) for i in range(6)}
    routes["/s/"] = Answer(body=page("首页", "".join(f'<a href="p{i}.html">第{i}页</a>' for i in range(6))))
    with LoopbackSite(routes) as site:
        code, printed, doc = scan(site, tmp_path, capsys, start="/s/")
    assert code == 0 and doc["scan"]["coverage"] == {"complete": True, "cuts": {}}
    assert "NOT COVERED" not in printed
    html = report_html(tmp_path)
    assert 'data-complete="true"' in html and "data-cut=" not in html


def test_unreachable_start_url_is_a_cut(tmp_path, capsys):
    start = f"http://127.0.0.1:{refused_port()}/xqbsc/"
    with LoopbackSite({}) as site:
        _, printed, doc = scan(site, tmp_path, capsys, start=start)
    cuts = doc["scan"]["coverage"]["cuts"]
    assert cuts["unreachable_start"]["examples"] == [start]
    assert "unreachable_start: 1" in printed
    assert 'data-cut="unreachable_start"' in report_html(tmp_path)


REAL_FUJIAN = SHARED / "real-pages" / "pingtan.gov.cn" / "zwgk" / "ghxx" / "gzjzqk" / "index.html"


@pytest.mark.skipif(not REAL_FUJIAN.is_file(), reason="../shared/real-pages is not present")
def test_fujian_list_window_is_counted_and_carried_into_the_column(tmp_path, capsys):
    """Pingtan's 工作进展情况 shows 75 of its 107 records in static blocks (the rest through a search API that is
    not fetched): 32 items not read, and the column's finding says it was read in part."""
    html = REAL_FUJIAN.read_text(encoding="utf-8")
    with LoopbackSite({"/zwgk/ghxx/gzjzqk/": Answer(body=html)}) as site:
        _, printed, doc = scan(site, tmp_path, capsys, "--no-robots", "--max-depth", "0",
                               start="/zwgk/ghxx/gzjzqk/")
    cut = doc["scan"]["coverage"]["cuts"]["list_window"]
    assert cut["count"] == 107 - 75
    assert "75/107" in cut["examples"][0]
    assert "list_window: 32" in printed
    stale = [f for f in doc["findings"] if f["rule"].startswith("column.") and f["evidence"].get("partial")]
    assert all(f["evidence"]["items_total"] == 107 for f in stale)
    assert 'data-cut="list_window"' in report_html(tmp_path)


def test_json_schema_documents_coverage():
    schema = (Path(__file__).resolve().parents[1] / "docs" / "findings-schema.md").read_text(encoding="utf-8")
    assert "scan.coverage" in schema
    for kind in ("max_depth", "max_pages", "trap", "robots", "fetch_failed", "body_cap", "list_window",
                 "analysis_error", "render_failed", "unreachable_start"):
        assert f"`{kind}`" in schema, kind


def test_coverage_survives_findings_document_of_an_old_scan(tmp_path):
    """A scan stored before the ledger existed has no coverage in its stats: the JSON says so, not 'complete'."""
    from sitewatch.store import Store
    store = Store(str(tmp_path / "old.db"))
    sid = store.new_scan("old", ["http://h/"], dt.date(2026, 11, 1), {})
    store.finish_scan(sid, "completed", {"pages": 3})
    cov = findings_document(store, sid)["scan"]["coverage"]
    assert cov["complete"] is None


def test_list_page_identical_to_an_earlier_one_is_a_trap(tmp_path, capsys):
    """A pager that answers every page number with the same page: read once more, its links not followed again."""
    same = page("通知公告", '<ul><li><a href="../a.html">通知一</a></li></ul>'
                         '<a href="index_1.html">1</a> <a href="index_2.html">2</a> <a href="index_3.html">下一页</a>')
    routes = {"/s/": Answer(body=page("首页", '<a href="tzgg/index_1.html">通知公告</a>')),
              "/s/a.html": Answer(body=page("通知一", "正文"))}
    for n in (1, 2, 3):
        routes[f"/s/tzgg/index_{n}.html"] = Answer(body=same)
    with LoopbackSite(routes) as site:
        _, printed, doc = scan(site, tmp_path, capsys, start="/s/")
    cut = doc["scan"]["coverage"]["cuts"]["trap"]
    assert cut["count"] == 2 and all(e.startswith("repeated_list_page: ") for e in cut["examples"])
    assert doc["scan"]["traps"] == {"repeated_list_page": 2}


def test_page_an_analyser_cannot_read_is_counted(tmp_path, capsys, monkeypatch):
    import sitewatch.crawl.listings as listings

    real = listings.parse_listing

    def failing(url, *a, **kw):
        if "p3" in url:
            raise ValueError("unreadable list")
        return real(url, *a, **kw)

    monkeypatch.setattr(listings, "parse_listing", failing)
    routes = {f"/s/p{i}.html": Answer(body=page(f"第{i}页", "正文")) for i in range(6)}
    routes["/s/"] = Answer(body=page("首页", "".join(f'<a href="p{i}.html">第{i}页</a>' for i in range(6))))
    with LoopbackSite(routes) as site:
        _, printed, doc = scan(site, tmp_path, capsys, start="/s/")
    cut = doc["scan"]["coverage"]["cuts"]["analysis_error"]
    assert cut == {"label": cut["label"], "count": 1, "examples": [site.url("/s/p3.html")]}
    assert "analysis_error: 1" in printed
    assert 'data-cut="analysis_error"' in report_html(tmp_path)


def test_render_failure_is_counted(tmp_path, monkeypatch):
    """render_js: a JavaScript-only page whose rendering fails is checked as static HTML, and says so."""
    from conftest import scan_site

    import sitewatch.crawl.render as render

    class FailingRenderer:
        def __init__(self, *a, **kw):
            self.calls = 0

        async def render(self, url):
            self.calls += 1
            return None

        async def close(self):
            pass

    monkeypatch.setattr(render, "Renderer", FailingRenderer)   # the crawl imports it when render_js is on
    shell = page("加载中", '<div id="app"></div><script src="app.js"></script><script>render()</script>')
    routes = {"/s/": Answer(body=page("首页", '<a href="app.html">应用</a>' + "正文" * 200)),
              "/s/app.html": Answer(body=shell)}
    with LoopbackSite(routes) as site:
        result, store = scan_site(site.url("/s/"), str(tmp_path / "sw.db"), render_js=True)
    cut = findings_document(store, result.scan_id)["scan"]["coverage"]["cuts"]["render_failed"]
    assert cut["count"] == 1 and cut["examples"] == [site.url("/s/app.html")]


def test_links_past_the_per_page_cap_are_counted(tmp_path, capsys, monkeypatch):
    """A page with more links than the cap (a generated sitemap, a hostile page): the first ones are checked,
    the rest counted as not read."""
    import sitewatch.extract as extract

    monkeypatch.setattr(extract, "MAX_LINKS_PER_PAGE", 5)
    routes = {f"/s/p{i}.html": Answer(body=page(f"第{i}页", "正文")) for i in range(8)}
    routes["/s/"] = Answer(body=page("首页", "".join(f'<a href="p{i}.html">第{i}页</a>' for i in range(8))))
    with LoopbackSite(routes) as site:
        _, printed, doc = scan(site, tmp_path, capsys, start="/s/")
    cut = doc["scan"]["coverage"]["cuts"]["link_cap"]
    assert cut["count"] == 3 and cut["examples"] == [site.url("/s/")]
    assert doc["scan"]["pages"] == 1 + 5
    assert 'data-cut="link_cap"' in report_html(tmp_path)


def test_parse_html_reads_at_most_the_cap():
    from sitewatch.extract import MAX_LINKS_PER_PAGE, parse_html

    html = "<html><body>" + "".join(f'<a href="/x/{i}.html">{i}</a>' for i in range(MAX_LINKS_PER_PAGE + 123))
    parsed = parse_html(html + "</body></html>", "http://h/")
    assert len(parsed.links) == MAX_LINKS_PER_PAGE and parsed.skipped["link_cap"] == 123


def test_a_page_of_too_many_tags_is_read_in_part(tmp_path, capsys, monkeypatch):
    """Hundreds of thousands of elements in 4 MiB would be a tree of hundreds of MB: the start is read, and said."""
    import sitewatch.crawl.visit as visit

    monkeypatch.setattr(visit, "MAX_TAGS", 50)
    body = "".join(f'<p><a href="p{i}.html">第{i}页</a></p>' for i in range(40))
    routes = {f"/s/p{i}.html": Answer(body=page(f"第{i}页", "正文")) for i in range(40)}
    routes["/s/"] = Answer(body=page("首页", body))
    with LoopbackSite(routes) as site:
        _, printed, doc = scan(site, tmp_path, capsys, start="/s/")
    cut = doc["scan"]["coverage"]["cuts"]["body_cap"]
    assert cut["examples"] == [site.url("/s/")]
    assert 1 < doc["scan"]["pages"] < 41                  # the links before the cut were followed, not the rest
