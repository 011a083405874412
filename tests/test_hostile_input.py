"""Crawled pages are untrusted input: random URLs and HTML never crash extraction or normalisation, and text
from a page is inert in every output a person reads (terminal, XLSX, CSV)."""

from __future__ import annotations

import asyncio
import csv
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from sitewatch.crawl.fetch import Fetcher
from sitewatch.crawl.politeness import Politeness
from sitewatch.dates import article_date
from sitewatch.extract import css_links, parse_html, sitemap_links
from sitewatch.listengines import parse_listing
from sitewatch.reporting.tables import write_csv, write_xlsx
from sitewatch.safetext import InertWriter, safe_text
from sitewatch.urls import TrapGuard, classify_href, is_list_page_url, is_pagination, malformed, normalize

BASE = "http://www.example.gov.cn/xqbsc/gzdt/index.html"
HOSTILE = "标题\x1b[2J\x1b]0;pwned\x07\u202eexe.txt\x00\x0b\x85"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

url_chars = st.sampled_from(list("abcxyz019/:.?#&=%[]@!$'()*+,;~-_ \t\n\\{}<>\"|^`") + ["中", "文", "\x00", "\u202e", "ü"])
url_like = st.one_of(
    st.text(url_chars, max_size=60),
    st.builds(lambda a, b: a + b, st.sampled_from(["http://", "https://", "//", "HTTP://[", "http://[::1", "ftp://",
                                                    "javascript:", "mailto:", "http://127.0.0.1:", "./", "../", ""]),
              st.text(url_chars, max_size=50)),
)

html_parts = st.sampled_from([
    "<a href='", "'>", "</a>", "<li>", "</li>", "<span>2026-11-", "</span>", "<meta name='PubDate' content='",
    "<title>", "</title>", "<base href='", "<ul>", "</ul>", "<dl><dd>", "下一页", "2026年11月3日", "<script>", "</script>",
    "<!--", "-->", "<![CDATA[", "]]>", "<datastore><record>", "</record></datastore>", "&#x0;", "&#55296;", "\x00",
    "\u202e", "<form action='", "<iframe src='", "<img src='", "<link href='", "\ud800", "index_1.html", "t20261101_1.html",
    "<meta http-equiv='refresh' content='0;url=", "createPageHTML(5, 0, 'index', 'html')", "文号：西府规〔2026〕1号",
])
html_like = st.lists(st.one_of(html_parts, st.text(max_size=12), url_like), max_size=40).map("".join)

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(url_like, st.sampled_from([None, BASE, "http://[::1]/a/", "https://例子.中国/a/b?c=1"]))
def test_url_functions_never_crash(raw, base):
    n = normalize(raw, base)
    classify_href(raw)
    malformed(raw)
    is_list_page_url(raw)
    is_pagination(BASE, raw, "下一页")
    TrapGuard().admit(raw)
    if n is not None:
        assert n.startswith(("http://", "https://"))
        assert normalize(n) is not None          # a normalised URL stays a URL


@FAST
@given(html_like)
@example("<base href='A://['>")        # found by this test: a malformed base crashed the list engines
@example("\x1f<script></script>'>")    # found by this test: a control character beside a dropped script
def test_extraction_never_crashes(html):
    page = parse_html(html, BASE)
    for link in page.links:
        assert isinstance(link.url, str)
    parse_listing(BASE, html)
    article_date(html)
    css_links(html, BASE)
    sitemap_links(html, BASE)


@FAST
@given(st.text(max_size=80))
def test_safe_text_leaves_no_control_or_bidi_character(text):
    assert not CONTROL.search(safe_text(text).replace("\t", "").replace("\n", ""))
    assert "\n" not in safe_text(text) and "\t" not in safe_text(text)


@pytest.mark.parametrize("url", ["http://[x/", "http://[::1/", "http://a:99999/", "http://%zz/", "http:///x",
                                 "http://exa mple.com/", "http://127.0.0.1:0/"])
def test_malformed_urls_are_a_verdict_not_a_crash_or_a_request(url):
    async def go():
        fetcher = Fetcher(Politeness(concurrency=1, rate=0, obey_robots=True), timeout=1, retries=0)
        try:
            return await fetcher.fetch(url), fetcher.requests
        finally:
            await fetcher.aclose()

    res, requests = asyncio.run(go())
    assert res.error == "invalid_url" and requests == 0


def test_terminal_output_is_inert(capsys):
    import sys
    w = InertWriter(sys.stdout)
    print("site: " + HOSTILE, file=w)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out and "\x00" not in out
    assert "\\x1b[2J" in out and "\\u202e" in out and out.endswith("\n")


def test_xlsx_and_csv_take_control_characters(tmp_path):
    rows = [{"a": HOSTILE, "b": "=HYPERLINK(\"http://evil\")"}]
    xlsx = write_xlsx(tmp_path / "t.xlsx", [("表\x1b", (("标题", "a"), ("公式", "b")), rows)])
    ws = load_workbook(xlsx).active
    assert "\\x1b[2J" in ws["A2"].value and "\x1b" not in ws["A2"].value
    assert ws["B2"].data_type == "s"
    path = write_csv(tmp_path / "t.csv", (("标题", "a"), ("公式", "b")), rows)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        got = list(csv.reader(fh))[1]
    assert not CONTROL.search(got[0]) and got[1].startswith("'=")
