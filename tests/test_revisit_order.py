"""The order of a scan finds changes first (issue 17, item 4): the homepage, then every column's first page, then
the later pages of the lists, then the articles; a budget-limited (``max_pages``) or interrupted scan has judged
every column.

The site is built here (not by the demo generator), shaped like a district portal: a 头条 block of articles at the
top of the homepage (before the navigation, as the slideshows of real portals are), a navigation of columns, one
of them a 政务公开 landing page with sub-columns two levels down, blocks of the latest items with 更多 links; each
column a first page of 20 dated items and a tail of index_1 … index_N pages (one column with only a 下一页 link);
about 550 articles linking to each other with 上一篇/下一篇, their column (breadcrumb) and an attachment.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from conftest import SHARED, scan_site
from loopback import Answer, LoopbackSite, page
from sqlalchemy import select

from sitewatch.crawl.coverage import Coverage
from sitewatch.crawl.frontier import COLUMN, LIST_PAGE, OTHER, START, CrawlFrontier, tier_of
from sitewatch.crawl.stats import CrawlStats
from sitewatch.scan import findings_document, start_scan
from sitewatch.store import ColumnRow, PageRow, Store, TargetRow
from sitewatch.urls import Scope, TrapGuard

AS_OF = dt.date(2026, 11, 26)
PER_PAGE = 20

# path, name, items, pager ("numbers": 首页 1 2 3 … 下一页 尾页; "next": only 首页/上一页/下一页/尾页)
COLUMNS: list[tuple[str, str, int, str]] = [
    ("/gzdt/", "工作动态", 120, "next"),
    ("/tzgg/", "通知公告", 60, "numbers"),
    ("/zcwj/", "政策文件", 45, "numbers"),
    ("/zcjd/", "政策解读", 45, "numbers"),
    ("/rsxx/", "人事信息", 40, "numbers"),
    ("/gsgg/", "公示公告", 40, "numbers"),
    ("/tjxx/", "统计信息", 45, "numbers"),
    ("/ghjh/", "规划计划", 40, "numbers"),
    ("/zwgk/zfxxgknb/", "政府信息公开年报", 30, "numbers"),
    ("/zwgk/fdzdgknr/bmys/", "部门预算", 40, "numbers"),
    ("/zwgk/fdzdgknr/bmjs/", "部门决算", 40, "numbers"),
]
LANDINGS = {"/zwgk/": ("政务公开", ["/zwgk/zfxxgknb/", "/zwgk/fdzdgknr/"]),
            "/zwgk/fdzdgknr/": ("法定主动公开内容", ["/zwgk/fdzdgknr/bmys/", "/zwgk/fdzdgknr/bmjs/"])}
NAV = ["/gzdt/", "/tzgg/", "/zwgk/", "/zcwj/", "/zcjd/", "/rsxx/", "/gsgg/", "/tjxx/", "/ghjh/"]
FIRST_PAGES = [c[0] for c in COLUMNS]
NAME = {c[0]: c[1] for c in COLUMNS} | {p: v[0] for p, v in LANDINGS.items()}


def _article(col: str, j: int) -> tuple[str, str, dt.date]:
    """(path, title, date) of the j-th newest item of a column."""
    n = FIRST_PAGES.index(col)
    day = AS_OF - dt.timedelta(days=2 + 3 * j + n)
    return (f"{col}{day:%Y%m}/t{day:%Y%m%d}_{1000 * (n + 1) + j}.html",
            f"关于{NAME[col]}第{j + 1}项工作的{('通知', '公告', '情况通报')[j % 3]}", day)


def _list_page(col: str, k: int) -> str:
    return col if k == 0 else f"{col}index_{k}.html"


def _nav() -> str:
    links = "".join(f"<li><a href='{p}'>{NAME[p]}</a></li>" for p in NAV)
    return f"<div class='nav'><ul><li><a href='/'>首页</a></li>{links}</ul></div>"


def _pager(col: str, k: int, pages: int, kind: str) -> str:
    """A TRS static pager: 首页 上一页 [1 2 3 …] 下一页 尾页 (the numbers only for ``numbers``)."""
    out = ["<a href='index.html'>首页</a>"]
    if k > 0:
        out.append(f"<a href='{_list_page(col, k - 1).rsplit('/', 1)[1] or 'index.html'}'>上一页</a>")
    if kind == "numbers":
        out += [f"<a href='{_list_page(col, i).rsplit('/', 1)[1] or 'index.html'}'>{i + 1}</a>" for i in range(pages)]
    if k + 1 < pages:
        out.append(f"<a href='index_{k + 1}.html'>下一页</a>")
    out.append(f"<a href='{_list_page(col, pages - 1).rsplit('/', 1)[1] or 'index.html'}'>尾页</a>")
    return f"<div class='page'>{' '.join(out)}</div>"


def portal_routes() -> dict[str, Answer]:
    """The portal: path -> answer."""
    routes: dict[str, Answer] = {}
    meta = "<meta name='SiteName' content='某区人民政府'>"
    for col, name, items, kind in COLUMNS:
        pages = (items + PER_PAGE - 1) // PER_PAGE
        cmeta = meta + f"<meta name='ColumnName' content='{name}'>"
        for k in range(pages):
            rows = "".join(
                f"<li><a href='{path}' target='_blank' title='{title}'>{title}</a><span>{day:%Y-%m-%d}</span></li>"
                for path, title, day in (_article(col, j) for j in range(k * PER_PAGE, min(items, (k + 1) * PER_PAGE))))
            body = (f"{_nav()}<div class='crumb'><a href='/'>首页</a> &gt; <a href='{col}'>{name}</a></div>"
                    f"<ul class='list'>{rows}</ul>{_pager(col, k, pages, kind)}")
            routes[_list_page(col, k)] = Answer(body=page(name, body, cmeta))
        routes[f"{col}index.html"] = routes[col]
        for j in range(items):
            path, title, day = _article(col, j)
            prev_ = f"<a href='{_article(col, j + 1)[0]}'>上一篇：{_article(col, j + 1)[1]}</a>" if j + 1 < items else ""
            next_ = f"<a href='{_article(col, j - 1)[0]}'>下一篇：{_article(col, j - 1)[1]}</a>" if j > 0 else ""
            attachment = f"<a href='{path[:-5]}_fj.pdf'>附件：{title}.pdf</a>" if j % 4 == 0 else ""
            body = (f"{_nav()}<div class='crumb'><a href='/'>首页</a> &gt; <a href='{col}'>{name}</a></div>"
                    f"<h1>{title}</h1><p>发布日期：{day:%Y-%m-%d}</p><p>{'正文内容。' * 30}</p>{attachment}"
                    f"<div class='turn'>{prev_}{next_}</div>")
            routes[path] = Answer(body=page(title, body, meta + f"<meta name='ArticleTitle' content='{title}'>"
                                                               f"<meta name='PubDate' content='{day:%Y-%m-%d}'>"))
            if attachment:
                routes[f"{path[:-5]}_fj.pdf"] = Answer(body=b"%PDF-1.4 ...", content_type="application/pdf")
    for landing, (name, children) in LANDINGS.items():
        blocks = "".join(f"<div class='block'><h3><a href='{c}'>{NAME.get(c) or LANDINGS[c][0]}</a></h3>"
                         f"<a href='{c}'>更多&gt;&gt;</a></div>" for c in children)
        routes[landing] = Answer(body=page(name, f"{_nav()}{blocks}", meta + f"<meta name='ColumnName' content='{name}'>"))
    # the homepage: a 头条 block first (articles of the deep columns), the navigation, then blocks of latest items
    headlines = "".join(f"<li><a href='{_article(c, 0)[0]}'>{_article(c, 0)[1]}</a></li>"
                        for c in ("/zwgk/fdzdgknr/bmys/", "/zwgk/fdzdgknr/bmjs/", "/gzdt/", "/tzgg/"))
    blocks = ""
    for col in ("/gzdt/", "/tzgg/", "/zcwj/"):
        rows = "".join(f"<li><a href='{p}'>{t}</a><span>{d:%m-%d}</span></li>"
                       for p, t, d in (_article(col, j) for j in range(5)))
        blocks += f"<div class='block'><h3>{NAME[col]}</h3><a href='{col}'>更多&gt;&gt;</a><ul>{rows}</ul></div>"
    routes["/"] = Answer(body=page("某区人民政府门户网站", f"<div class='focus'><ul>{headlines}</ul></div>{_nav()}{blocks}",
                                   meta))
    return routes


ROUTES = portal_routes()
ARTICLES = {p for p in ROUTES if "/t20" in p and p.endswith(".html")}
TAILS = {p for p in ROUTES if "index_" in p}


class LoggedSite(LoopbackSite):
    """The portal on loopback, with the order of its GET requests (``log``) and an optional hook per request."""

    def __init__(self, routes: dict[str, Answer], on_get: Callable[[str], None] | None = None):
        self.log: list[str] = []
        lock = threading.Lock()

        def logged(path: str, answer: Answer) -> Callable[[str, int], Answer]:
            def route(method: str, nth: int) -> Answer:
                if method == "GET":
                    with lock:
                        self.log.append(path)
                    if on_get is not None:
                        on_get(path)
                return answer
            return route

        super().__init__({p: logged(p, a) for p, a in routes.items()})


def test_the_site_is_what_the_test_says():
    assert len(ARTICLES) > 500 and len(TAILS) >= 15
    assert len(FIRST_PAGES) == 11 and all(p in ROUTES for p in FIRST_PAGES)


def _columns(store: Store, scan_id: int) -> set[str]:
    """The paths of the column first pages stored as columns by the scan."""
    with store.engine.connect() as c:
        urls = c.execute(select(ColumnRow.c.url).where(ColumnRow.c.scan_id == scan_id)).scalars().all()
    return {"/" + u.split("/", 3)[3].removesuffix("index.html") for u in urls}


def _pages(store: Store, scan_id: int) -> set[str]:
    with store.engine.connect() as c:
        urls = c.execute(select(PageRow.c.url).where(PageRow.c.scan_id == scan_id)).scalars().all()
    return {"/" + u.split("/", 3)[3] for u in urls}


def test_whole_scan_reads_homepage_then_columns_then_tails_then_articles(tmp_path):
    with LoggedSite(ROUTES) as site:
        result, store = scan_site(site.url("/"), str(tmp_path / "sw.db"), as_of=AS_OF)
    log = site.log
    assert result.status == "completed" and log[0] == "/"
    first_article = min(i for i, p in enumerate(log) if p in ARTICLES)
    last_column = max(log.index(p) for p in [*FIRST_PAGES, *LANDINGS])
    assert last_column < first_article, (last_column, first_article, log[:last_column + 1])
    for col in FIRST_PAGES:                              # each column's first page before its tail
        tail = [i for i, p in enumerate(log) if p.startswith(col + "index_")]
        assert not tail or log.index(col) < min(tail), col
    # the tails are taken before the articles (requests run 8 at a time; the 下一页-only chain of 工作动态 goes on
    # beside the articles, each of its pages found on the one before)
    numbered_tails = [i for i, p in enumerate(log) if p in TAILS and not p.startswith("/gzdt/")]
    assert max(numbered_tails) < first_article + 8
    # nothing is left out, nothing read twice
    assert _columns(store, result.scan_id) >= set(FIRST_PAGES)
    assert _pages(store, result.scan_id) == {p for p in ROUTES if not p.endswith(".pdf")}
    assert len(log) == len(set(log))
    assert findings_document(store, result.scan_id)["scan"]["coverage"] == {"complete": True, "cuts": {}}


def test_budget_goes_to_homepage_and_every_column_first_page(tmp_path):
    """max_pages well below the site's size: the homepage and every column's first page are crawled and judged;
    every page found but not crawled is counted in the coverage ledger."""
    budget = 30
    with LoggedSite(ROUTES) as site:
        result, store = scan_site(site.url("/"), str(tmp_path / "sw.db"), as_of=AS_OF, max_pages=budget)
    pages = _pages(store, result.scan_id)
    assert len(pages) <= budget and result.stats.pages <= budget
    assert {"/", *FIRST_PAGES, *LANDINGS} <= pages
    assert set(FIRST_PAGES) <= set(site.log)
    assert _columns(store, result.scan_id) >= set(FIRST_PAGES), "a column was not judged"
    # the budget went to list pages first: at most a few articles were read, and only after the columns
    read_articles = pages & ARTICLES
    assert len(read_articles) <= budget - 1 - len(FIRST_PAGES) - len(LANDINGS)
    # every in-scope page found and not crawled is a max_pages cut, each counted once
    with store.engine.connect() as c:
        only_checked = c.execute(select(TargetRow.c.url).where(
            TargetRow.c.scan_id == result.scan_id, TargetRow.c.internal.is_(False))).scalars().all()
    cut = [u for u in only_checked if not u.endswith(".pdf")]
    doc = findings_document(store, result.scan_id)
    assert doc["scan"]["limited"] is True and result.stats.limited
    assert doc["scan"]["coverage"]["complete"] is False
    assert doc["scan"]["coverage"]["cuts"]["max_pages"]["count"] == len(cut) > 50
    assert set(doc["scan"]["coverage"]["cuts"]) == {"max_pages"}


def test_interrupted_scan_has_judged_every_column(tmp_path):
    """A scan stopped after 20 pages (a stop request, as Ctrl-C or the scheduler's window sends) has read every
    column's first page: the columns are stored, and the articles wait for the resumed scan."""
    stop = threading.Event()
    served = [0]

    def count(path: str) -> None:
        served[0] += 1
        if served[0] == 20:
            stop.set()

    from sitewatch.config import SiteConfig
    with LoggedSite(ROUTES, on_get=count) as site:
        cfg = SiteConfig(name="portal", start_urls=[site.url("/")], rate=0, concurrency=4, timeout=3, retries=1)
        store = Store(str(tmp_path / "sw.db"))
        result = start_scan(cfg, store, as_of=AS_OF, stop=stop)
    assert result.status == "interrupted"
    store.flush()
    assert _columns(store, result.scan_id) >= set(FIRST_PAGES), "a column was not judged"
    assert {"/", *FIRST_PAGES} <= _pages(store, result.scan_id)
    assert len(set(site.log) & ARTICLES) <= 20 - 1 - len(FIRST_PAGES) - len(LANDINGS)


def test_a_short_path_found_later_still_crawls_a_deep_column(tmp_path):
    """max_depth 2: the column two landing pages down (depth 3 by the navigation) is read first by that long path,
    so it is cut as too deep; a homepage article links it too (depth 2), found after it: it is crawled after all."""
    routes = {
        "/": Answer(body=page("首页", "<a href='/zwgk/'>政务公开</a><a href='/news/t20261101_1.html'>头条</a>")),
        "/zwgk/": Answer(body=page("政务公开", "<a href='/zwgk/fdzdgknr/'>法定主动公开内容</a>")),
        "/zwgk/fdzdgknr/": Answer(body=page("法定主动公开内容", "<a href='/zwgk/fdzdgknr/bmys/'>部门预算</a>")),
        "/zwgk/fdzdgknr/bmys/": Answer(body=page("部门预算", "<ul><li><a href='/zwgk/fdzdgknr/bmys/t1.html'>"
                                                          "2026年部门预算</a><span>2026-03-01</span></li></ul>")),
        "/news/t20261101_1.html": Answer(body=page("头条", "<a href='/zwgk/fdzdgknr/bmys/'>部门预算</a>")),
        "/zwgk/fdzdgknr/bmys/t1.html": Answer(body=page("2026年部门预算", "正文")),
    }
    with LoggedSite(routes) as site:
        result, store = scan_site(site.url("/"), str(tmp_path / "sw.db"), as_of=AS_OF, max_depth=2)
    assert "/zwgk/fdzdgknr/bmys/" in _pages(store, result.scan_id)
    cuts = findings_document(store, result.scan_id)["scan"]["coverage"]["cuts"]
    assert cuts["max_depth"]["examples"] == [site.url("/zwgk/fdzdgknr/bmys/t1.html")], cuts


# --- the must-not twins ------------------------------------------------------------------------------------------

def test_site_without_lists_is_crawled_whole_in_depth_order(tmp_path):
    """No column, no list: the order is shallowest first, as before, and every page is read."""
    routes = {"/": Answer(body=page("首页", "".join(f"<a href='/p{i}.html'>第{i}篇</a>" for i in range(8))))}
    depth = {"/": 0}
    for i in range(8):
        routes[f"/p{i}.html"] = Answer(body=page(f"第{i}篇", "".join(f"<a href='/p{i}_{j}.html'>{j}</a>"
                                                                    for j in range(4))))
        depth[f"/p{i}.html"] = 1
        for j in range(4):
            routes[f"/p{i}_{j}.html"] = Answer(body=page(f"{i}-{j}", f"<a href='/p{i}_{j}_x.html'>下一篇</a>"))
            routes[f"/p{i}_{j}_x.html"] = Answer(body=page(f"{i}-{j}-x", "<a href='/'>首页</a>"))
            depth[f"/p{i}_{j}.html"], depth[f"/p{i}_{j}_x.html"] = 2, 3
    with LoggedSite(routes) as site:
        result, store = scan_site(site.url("/"), str(tmp_path / "sw.db"), as_of=AS_OF, concurrency=1)
    assert _pages(store, result.scan_id) == set(routes)
    depths = [depth[p] for p in site.log if p in depth]
    assert depths == sorted(depths)


def test_long_next_page_chain_is_followed_to_its_end(tmp_path):
    """A column of 300 list pages linked only by 下一页, two articles each: every page is read with the default
    settings (pagination keeps the depth), and nothing is cut."""
    pages = 300
    routes = {"/": Answer(body=page("首页", "<a href='/gzdt/'>工作动态</a>"))}
    for k in range(pages):
        rows = "".join(f"<li><a href='/gzdt/t{k}_{j}.html'>第{k}页第{j}条工作动态信息</a>"
                       f"<span>{AS_OF - dt.timedelta(days=k + 1):%Y-%m-%d}</span></li>" for j in range(2))
        more = f"<a href='index_{k + 1}.html'>下一页</a>" if k + 1 < pages else ""
        routes[_list_page("/gzdt/", k)] = Answer(body=page("工作动态", f"<ul>{rows}</ul>{more}",
                                                           "<meta name='ColumnName' content='工作动态'>"))
        for j in range(2):
            routes[f"/gzdt/t{k}_{j}.html"] = Answer(body=page(f"第{k}页第{j}条", "正文"))
    with LoggedSite(routes) as site:
        result, store = scan_site(site.url("/"), str(tmp_path / "sw.db"), as_of=AS_OF)
    assert _pages(store, result.scan_id) == set(routes)
    assert findings_document(store, result.scan_id)["scan"]["coverage"] == {"complete": True, "cuts": {}}


# --- the frontier itself ---------------------------------------------------------------------------------------

def _frontier(max_pages: int = 100, max_depth: int = 30) -> CrawlFrontier:
    return CrawlFrontier(Scope.for_start_urls(["http://h/"]), TrapGuard(), max_depth, max_pages, CrawlStats(),
                         Coverage())


def test_tiers_of_typical_portal_urls():
    col = "http://h/zwgk/tzgg/"
    assert tier_of("http://h/", 0, True) == START
    assert tier_of(col, 1, True) == tier_of(col + "index.html", 2, True) == COLUMN
    assert tier_of("http://h/col/col1229214366/index.html", 2, True) == COLUMN           # Hanweb
    assert tier_of("http://h/zsgkz/gkmlpt/index", 2, True) == COLUMN                      # gkmlpt
    assert tier_of("http://h/list.jsp?cat_id=12", 1, True, text="更多>>") == COLUMN     # a block's 更多
    assert tier_of(col + "index_3.html", 1, True) == LIST_PAGE
    assert tier_of("http://h/col/col9/index.html?uid=3&pageNum=2", 1, True) == LIST_PAGE
    assert tier_of(col + "2.html", 1, True, paged=True) == LIST_PAGE
    assert tier_of(col, 0, True, paged=True) == LIST_PAGE            # a later page of the start URL's own list
    # must not: articles, a numbered article no pager links to, a script serving everything, what is only checked
    assert tier_of(col + "202611/t20261101_1.html", 2, True) == OTHER
    assert tier_of("http://h/art/2026/11/1/art_12_345.html", 2, True) == OTHER
    assert tier_of("http://h/zsgkz/content/post_123.html", 2, True) == OTHER
    assert tier_of(col + "2.html", 2, True) == OTHER
    assert tier_of("http://h/index.php?m=content&c=index&a=show&id=5", 2, True) == OTHER
    assert tier_of("http://other/", 1, False) == tier_of(col, 1, False) == OTHER
    assert tier_of(col + "202611/t20261101_1.html", 2, True, text="更多的工作") == OTHER


REAL = SHARED / "real-pages"


@pytest.mark.skipif(not (REAL / "pingtan.gov.cn").is_dir(), reason="../shared/real-pages is not present")
@pytest.mark.parametrize(("name", "url", "columns", "articles"), [
    ("pingtan.gov.cn/zwgk/ghxx/gzjzqk/index.html", "https://www.pingtan.gov.cn/zwgk/ghxx/gzjzqk/index.html",
     "https://www.pingtan.gov.cn/zwgk/zfxxgk/", "/t2025"),
    ("hd.gov.cn-jsp-derived/list.jsp.html", "http://hdzfxxgk.hd.gov.cn/zfwj/jinqixxgk/index.html",
     "http://hdzfxxgk.hd.gov.cn/zfgb/", "/t2020"),
])
def test_real_pages_links_fall_in_their_tiers(name, url, columns, articles):
    """On real portal pages, the navigation's columns are columns and the list's items are articles."""
    from sitewatch.extract import parse_html
    from sitewatch.urls import is_pagination
    links = [lk for lk in parse_html((REAL / name).read_text(encoding="utf-8"), url).links
             if lk.tag == "a" and not lk.bad and lk.url.startswith(url.split("/", 3)[0] + "//" + url.split("/")[2])]
    tiers = {lk.url: tier_of(lk.url, 1, True, is_pagination(url, lk.url, lk.text), lk.text) for lk in links}
    assert tiers[columns] == COLUMN
    items = [u for u in tiers if articles in u]
    assert items and all(tiers[u] == OTHER for u in items)


def test_budget_is_spent_when_taken_in_tier_order():
    """Charged as URLs are taken: the article queued first is taken last; past the budget a URL is only checked,
    counted as cut; the budget is never exceeded."""
    import asyncio

    async def run() -> list[tuple[str, bool]]:
        f = _frontier(max_pages=3)
        f.add("http://h/", 0, True)
        assert await f.get() == (0, 1, "http://h/", True)
        f.add("http://h/news/t20261101_1.html", 1, None)
        f.add("http://h/tzgg/", 1, None)
        f.add("http://h/tzgg/index_1.html", 1, None, paged=True)
        f.add("http://h/gzdt/", 1, None)
        f.add("http://other/", 1, None)
        f.task_done()
        taken = []
        while f.qsize():
            _, _, url, crawl = await f.get()
            taken.append((url, crawl))
            f.task_done()
        await f.join()
        assert f.stats.limited and f.coverage.count("max_pages") == 2
        return taken

    assert asyncio.run(run()) == [("http://h/tzgg/", True), ("http://h/gzdt/", True),
                                  ("http://h/tzgg/index_1.html", False), ("http://h/news/t20261101_1.html", False),
                                  ("http://other/", False)]


def test_later_tiers_wait_while_a_column_page_is_read():
    """While one worker reads a column page, another is not handed an article (the column may lead to more
    columns); it gets one once the column page is done."""
    import asyncio

    async def run() -> list[str]:
        f = _frontier()
        f.add("http://h/a/", 1, None)
        f.add("http://h/news/t1.html", 1, None)
        order: list[str] = []

        async def column_worker() -> None:
            _, _, url, _ = await f.get()
            order.append(url)
            await asyncio.sleep(0.05)
            f.add("http://h/a/sub/", 2, None)                # the column links a sub-column
            order.append("done " + url)
            f.task_done()
            _, _, url, _ = await f.get()
            order.append(url)
            f.task_done()

        async def other_worker() -> None:
            await asyncio.sleep(0.01)
            _, _, url, _ = await f.get()
            order.append(url)
            f.task_done()

        await asyncio.gather(column_worker(), other_worker())
        await f.join()
        return order

    order = asyncio.run(run())
    assert order.index("done http://h/a/") < order.index("http://h/news/t1.html")
    assert order.index("http://h/a/sub/") < order.index("http://h/news/t1.html")


@pytest.mark.parametrize("queued_late", [False, True])
def test_a_column_page_that_does_not_answer_holds_the_rest_back_only_so_long(monkeypatch, queued_late):
    """HOLD bounds the wait: a column page that takes a second does not stop the articles for a second, whether
    the article was queued before the wait began or while the column page was still being read."""
    import asyncio
    import time

    from sitewatch.crawl import frontier
    monkeypatch.setattr(frontier, "HOLD", 0.05)

    async def run() -> tuple[str, float]:
        f = _frontier()
        f.add("http://h/a/", 1, None)
        if not queued_late:
            f.add("http://h/news/t1.html", 1, None)
        start = time.monotonic()

        async def slow_column() -> None:
            await f.get()
            if queued_late:
                await asyncio.sleep(0.2)
                f.add("http://h/news/t1.html", 2, None)
            await asyncio.sleep(1.0)
            f.task_done()

        async def other() -> tuple[str, float]:
            await asyncio.sleep(0.01)
            _, _, url, _ = await f.get()
            f.task_done()
            return url, time.monotonic() - start

        _, got = await asyncio.gather(slow_column(), other())
        return got

    url, waited = asyncio.run(run())
    assert url == "http://h/news/t1.html"
    assert (0.15 if queued_late else 0.04) < waited < 0.7, waited


def test_frontier_queue_holds_urls_only():
    """The queue's entries are plain tuples of ints, a URL and a flag: nothing per URL beyond the seen digest."""
    f = _frontier()
    for i in range(100):
        f.add(f"http://h/c{i}/t{i}.html", 2, None)
    assert all(type(e) is tuple and len(e) == 5 and isinstance(e[3], str) for e in f._heap)
    assert len(f._seen) == 100 and not f._too_deep

