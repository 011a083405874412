"""The independent 镇街 test site (tests/townsite.py) crawled whole with default crawl flags.

Ground truth comes from the site model, never from sitewatch: the exact page set, the planted broken links
and their twins, the stale and blank columns and their twins.
"""

from __future__ import annotations

import socket
import tomllib
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from conftest import scan_site
from sqlalchemy import select
from townsite import (
    BLANK_COLUMNS,
    BLANK_TWINS,
    COLUMNS,
    FRESH_TWINS,
    LANDINGS,
    SITE,
    STALE_COLUMNS,
    TODAY,
    TownServer,
    TownSite,
    reachable_pages,
)

from sitewatch.scan import findings_document

RULES = tomllib.loads((Path(__file__).resolve().parents[1] / "checks" / "gb-2019-19.toml").read_text(encoding="utf-8"))
STALE_WINDOW = next(r for r in RULES["rules"] if r["id"] == "column.stale")["threshold"]
WINDOW = {"dynamic": STALE_WINDOW["dynamic_days"], "notice": STALE_WINDOW["notice_days"]}


def _model() -> TownSite:
    return TownSite("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3")


# ---- the model itself ----------------------------------------------------------------------------------------------

def test_model_size_and_shape():
    site = _model()
    pages = site.expected_pages()
    assert len(pages) >= 5000
    assert len(site.columns) == len(COLUMNS) == 36 and len(LANDINGS) == 8
    chain = [c for c in site.columns.values() if c.pager == "next"]
    assert [(c.name, c.n_pages) for c in chain] == [("工作动态", 200)]
    sizes = sorted((len(c.docs) for c in site.columns.values()), reverse=True)
    assert sizes[0] >= 4000 and sizes[1] >= 500 and sum(1 for n in sizes if n <= 3) >= 10 and sizes[-1] == 0
    assert {c.encoding for c in site.columns.values()} == {"utf-8", "gbk"}
    assert {c.pager for c in site.columns.values()} == {"next", "create", "hdvar", "numbers", "none"}
    assert len(pages) == 1 + len(LANDINGS) + sum(
        1 + (c.n_pages if c.n_pages > 1 else 0) + len(c.docs) for c in site.columns.values())
    assert len(site.planted_broken) == 7 and len(site.twins) == 8


def test_model_pages_are_exactly_what_a_visitor_reaches():
    """Follow the rendered links (and what the pager scripts write) from the homepage: the model's page set."""
    site = _model()
    reached = reachable_pages(site)
    expected = site.expected_pages()
    assert reached == expected, (sorted(expected - reached)[:20], sorted(reached - expected)[:20])


def test_model_stale_and_blank_columns_against_the_rule_windows():
    site = _model()
    by_name = {c.name: c for c in site.columns.values()}
    for name, category in STALE_COLUMNS.items():
        assert (TODAY - by_name[name].newest).days > WINDOW[category], name
    for name, category in FRESH_TWINS.items():
        col = by_name[name]
        if category == "exempt":
            assert (TODAY - col.newest).days > WINDOW["dynamic"] and "往期" in name
        else:
            assert (TODAY - col.newest).days <= WINDOW[category], name
    assert all(not by_name[n].docs for n in BLANK_COLUMNS)
    assert all(1 <= len(by_name[n].docs) <= 2 for n in BLANK_TWINS)
    assert any("暂无信息" in d.title for d in by_name["网站管理"].docs)


def test_server_answers_as_planted():
    with TownServer(in_process=True) as srv:
        site = srv.site

        def get(url, method="GET"):
            req = urllib.request.Request(url, method=method)
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.status, r.read(), r.headers
            except urllib.error.HTTPError as e:
                return e.code, e.read(), e.headers

        status, body, _ = get(srv.start_url)
        assert status == 200 and "工作动态".encode() in body
        gbk = site.columns["zwgk/fdzdgknr/zcwj"]
        status, body, headers = get(srv.origin + gbk.dir)
        assert status == 200 and "charset" not in headers["Content-Type"]
        assert "政策文件".encode("gbk") in body and "政策文件".encode() not in body
        assert get(srv.origin + site.head405, "HEAD")[0] == 405 and get(srv.origin + site.head405)[0] == 200
        assert get(srv.origin + site.missing_attachment)[0] == 404
        status, body, _ = get(srv.origin + site.soft404_path)
        assert status == 200 and "您访问的页面不存在".encode() in body
        assert get(srv.origin + SITE + "xxgk/")[0] == 200          # urllib follows the 301
        port = int(site.refused.rsplit(":", 1)[1])
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2)


# ---- the crawl ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def crawled(town_scan):
    """One scan of the whole site with default crawl flags (politeness relaxed for loopback only; conftest)."""
    srv, result, store = town_scan
    return srv.site, result, store


def _stored_pages(store, scan_id) -> set[str]:
    from sitewatch.store import Page
    with store.engine.connect() as c:
        return {r.url for r in c.execute(select(Page.c.url).where(Page.c.scan_id == scan_id))}


def _verdicts(store, scan_id, urls) -> dict[str, str]:
    """How the crawl judged some URLs (verdict/reason), to tell a page never fetched from one judged broken."""
    from sitewatch.store import Target
    with store.engine.connect() as c:
        rows = c.execute(select(Target.c.url, Target.c.verdict, Target.c.reason)
                         .where(Target.c.scan_id == scan_id, Target.c.url.in_(list(urls))))
        return {r.url: f"{r.verdict}/{r.reason}" for r in rows}


def _rules(result) -> Counter:
    return Counter(f.rule for f in result.findings)


def test_whole_site_is_crawled_with_default_flags(crawled):
    site, result, store = crawled
    got = _stored_pages(store, result.scan_id)
    expected = site.expected_pages()
    missing, extra = sorted(expected - got), sorted(got - expected)
    judged = _verdicts(store, result.scan_id, missing[:10])
    assert not missing and not extra, (
        f"{len(got)} pages crawled, {len(expected)} in the model; {len(missing)} missing, e.g. "
        f"{[(u, judged.get(u, 'never fetched')) for u in missing[:10]]}; "
        f"{len(extra)} not in the model, e.g. {extra[:10]}")
    assert result.stats.pages == len(expected)
    assert not _column_differences(site, store, result.scan_id, chain=True)
    doc = findings_document(store, result.scan_id)
    assert doc["scan"]["coverage"] == {"complete": True, "cuts": {}}, doc["scan"]["coverage"]


def test_a_bound_that_cuts_the_site_is_shown(tmp_path):
    """The same site under --max-pages 1000: the cut is counted and shown, never a silent 'completed'."""
    with TownServer() as srv:
        result, store = scan_site(srv.start_url, str(tmp_path / "sw.db"), as_of=TODAY, timeout=5, retries=1,
                                  max_pages=1000)
        expected = len(srv.site.expected_pages())
    cov = findings_document(store, result.scan_id)["scan"]["coverage"]
    assert cov["complete"] is False
    assert result.stats.pages <= 1000            # the budget counts in-scope URLs, some of them broken
    # URLs found but not crawled; pages only they link to were never even found, so this is a lower bound
    assert 0 < cov["cuts"]["max_pages"]["count"] < expected - 1000
    assert findings_document(store, result.scan_id)["scan"]["limited"] is True


def _columns_as_read(store, scan_id) -> dict[str, tuple[set[str], object]]:
    """Column name -> (item URLs, newest item date) as sitewatch stored them."""
    from sitewatch.config import SiteConfig
    from sitewatch.scan import load_columns
    columns, _, _ = load_columns(store, scan_id, SiteConfig())
    return {c.name: ({i.url for i in c.items}, max((i.date for i in c.items if i.date), default=None))
            for c in columns}


def _column_differences(site, store, scan_id, chain: bool) -> list:
    read = _columns_as_read(store, scan_id)
    diffs = []
    for col in site.columns.values():
        if (col.pager == "next") != chain:
            continue
        urls, newest = read.get(col.name, (set(), None))
        model = {site.origin + d.path for d in col.docs}
        want_newest = None if col.layout == "undated" else col.newest     # an undated list shows no date
        if urls != model or newest != want_newest:
            diffs.append((col.name, len(model - urls), len(urls - model), str(want_newest), str(newest)))
    return diffs


def test_columns_are_read_as_the_model_lists_them(crawled):
    """Every column (the 下一页 chain apart): all its items, its newest shown date; TRS/邯郸/Fujian/font layouts,
    createPageHTML, var countPage and numbered pagers, GBK columns, a 置顶 row out of date order."""
    site, result, store = crawled
    assert not _column_differences(site, store, result.scan_id, chain=False)


def test_crawl_stays_inside_the_model(crawled):
    """Whatever the crawl reached is a page of the model (no soft-404, stub or redirect recorded as a page)."""
    site, result, store = crawled
    got = _stored_pages(store, result.scan_id)
    assert got <= site.expected_pages(), sorted(got - site.expected_pages())[:20]
    assert result.status == "completed"


def test_every_planted_broken_link_is_reported(crawled):
    site, result, _ = crawled
    reported = {f.url for f in result.findings if f.rule == "link.broken"}
    missed = {u: why for u, why in site.planted_broken.items() if u not in reported}
    assert not missed, missed


def test_no_broken_link_beyond_the_planted_ones(crawled):
    """No false broken link anywhere on the site (the twins have their own tests below)."""
    site, result, _ = crawled
    extra = {f.url: f.message for f in result.findings
             if f.rule == "link.broken" and f.url not in site.planted_broken and f.url not in site.twins}
    assert not extra, extra


TWINS = ["long article that mentions 404", "301 to the 政务公开 landing page", "external 301", "HEAD 405",
         "upper-case .XLS", "2-byte WAF blip", "HTTP 503", "title is an issue number containing 404"]


@pytest.mark.parametrize("twin", TWINS)
def test_twins_are_not_reported(crawled, twin):
    site, result, _ = crawled
    (url,) = [u for u, why in site.twins.items() if why.startswith(twin) or twin in why]
    flagged = [f.message for f in result.findings if f.url == url]
    assert not flagged, (url, flagged)
    if url in site.expected_pages():                 # a twin that is a page of the site is crawled as one
        _, result, store = crawled
        assert url in _stored_pages(store, result.scan_id), (url, _verdicts(store, result.scan_id, [url]))


def test_stale_columns_and_not_their_twins(crawled):
    _, result, _ = crawled
    stale = {f.extra["column"]: f for f in result.findings if f.rule == "column.stale"}
    assert set(STALE_COLUMNS) <= set(stale), sorted(stale)
    for name, category in STALE_COLUMNS.items():
        assert stale[name].extra["category"] == category
        assert stale[name].extra["max_age_days"] == WINDOW[category]
    assert not set(FRESH_TWINS) & set(stale)
    assert set(stale) == set(STALE_COLUMNS), sorted(stale)


def test_blank_columns_and_not_their_twins(crawled):
    _, result, _ = crawled
    blank = {f.extra["column"] for f in result.findings if f.rule == "column.blank"}
    assert blank == BLANK_COLUMNS, sorted(blank)
    assert not BLANK_TWINS & blank


def test_homepage_is_fresh_and_no_veto(crawled):
    _, result, _ = crawled
    rules = _rules(result)
    assert rules["homepage.stale"] == 0
    assert not [r for r in rules if r.startswith("veto.")], rules
