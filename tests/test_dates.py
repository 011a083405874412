"""Date extraction: list text, URLs and article pages."""

from __future__ import annotations

import datetime as dt

import lxml.html
import pytest
from bs4 import BeautifulSoup

from sitewatch.dates import article_date, date_from_url, is_date_text, month_from_url, parse_date

D = dt.date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-18", D(2026, 11, 18)),
        ("2026/11/18", D(2026, 11, 18)),
        ("2026.11.18", D(2026, 11, 18)),
        ("2026年11月18日", D(2026, 11, 18)),
        ("2026年1月8日", D(2026, 1, 8)),
        ("2020年08月02日", D(2020, 8, 2)),
        ("[2026-11-18]", D(2026, 11, 18)),
        ("(2026-11-18)", D(2026, 11, 18)),
        ("【2026-11-18】", D(2026, 11, 18)),
        ("（２０２６－１１－１８）", D(2026, 11, 18)),
        ("２０２６年１１月１８日", D(2026, 11, 18)),
        ("2026-02-02 15:10", D(2026, 2, 2)),
        ("2024-06-25 10:03:27", D(2024, 6, 25)),
        ("\n                 2026-03-10\n            ", D(2026, 3, 10)),
        ("发布日期：2026-11-18", D(2026, 11, 18)),
        ("2026-13-40", None),
        ("2026-02-30", None),
        ("2026-13-40 then 2026-01-02", D(2026, 1, 2)),
        ("索引号 000014348/2020-35428", None),
        ("", None),
        (None, None),
        ("共56页", None),
    ],
)
def test_parse_date_formats(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "url", "expected"),
    [
        ("11-18", "http://h/zwgk/tzgg/202611/t20261118_123.html", D(2026, 11, 18)),
        ("(11-18)", "http://h/art/2026/11/18/art_12_345.html", D(2026, 11, 18)),
        ("[11-18]", "http://h/zwgk/202611/abc.html", D(2026, 11, 18)),
        ("11月18日", "http://h/zwgk/tzgg/202611/t20261120_1.htm", D(2026, 11, 18)),
        ("12-30", "http://h/gzdt/202601/t20260105_9.html", D(2025, 12, 30)),
        ("11-18", "http://h/zwgk/tzgg/index.html", None),
        ("11-18", None, None),
        ("13-45", "http://h/202611/t20261118_1.html", None),
        ("第1-3条", "http://h/202611/t20261118_1.html", None),
    ],
)
def test_month_day_takes_year_from_url(text, url, expected):
    assert parse_date(text, url=url) == expected


def test_full_date_wins_over_url():
    assert parse_date("2025-03-21", url="http://h/202312/t20231228_1.htm") == D(2025, 3, 21)


def test_is_date_text():
    assert is_date_text(" [2026-11-18] ")
    assert is_date_text("2024-06-25 10:03:27")
    assert is_date_text("(11-18)")
    assert not is_date_text("通知 2026-11-18")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.pingtan.gov.cn/zwgk/ghxx/gzjzqk/202503/t20250321_97999.htm", D(2025, 3, 21)),
        ("http://h/hsyw/202306/t20230608_2213652.shtml", D(2023, 6, 8)),
        ("http://www.jiangxi.gov.cn/art/2026/1/8/art_5_123.html", D(2026, 1, 8)),
        ("http://h/a/2026-11/18/c_1.htm", D(2026, 11, 18)),
        ("http://h/zwgk/202611/abc.html", None),
        ("http://h/zwgk/t20261340_1.html", None),
        ("http://h/content/post_9360641.html", None),
        (None, None),
    ],
)
def test_date_from_url(url, expected):
    assert date_from_url(url) == expected


def test_month_from_url_is_first_of_month():
    assert month_from_url("http://h/zwgk/202611/abc.html") == D(2026, 11, 1)
    assert month_from_url("http://h/zwgk/202613/abc.html") is None
    assert month_from_url("http://h/zwgk/tzgg/") is None


ARTICLE = """<html><head><meta name="ArticleTitle" content="关于开展检查的通知">
<meta content="2026-02-02 15:10" name="PubDate"/></head>
<body><p>成文日期：2025-12-01</p><p>发布日期：2026-02-03</p></body></html>"""


def test_article_date_prefers_meta_pubdate():
    assert article_date(ARTICLE) == D(2026, 2, 2)


@pytest.mark.parametrize("name", ["pubdate", "PublishDate", "firstpublishedtime"])
def test_article_date_meta_name_variants(name):
    html = f'<html><head><meta name="{name}" content="2026年11月18日"></head><body></body></html>'
    assert article_date(html) == D(2026, 11, 18)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<p><strong>成文日期</strong>：2020年07月30日</p><p><strong>发布日期</strong>：2020年08月02日</p>", D(2020, 8, 2)),
        ('<span class="spanLeft">发布时间：<em>2024-06-25 10:03:27</em></span>', D(2024, 6, 25)),
        ('<span style="margin-right:10px">日期：2023-06-08 17:21</span>', D(2023, 6, 8)),
        ('<p class="tc"><span id="pubTime">2021年06月10日 17:35</span> 来源：</p>', D(2021, 6, 10)),
        ("<p>成文日期：2020-07-30</p>", None),
        ("<script>var d='发布日期：2020-01-01';</script><p>正文</p>", None),
        ("<p>正文没有日期</p>", None),
    ],
)
def test_article_date_labelled_text(body, expected):
    assert article_date(f"<html><head><title>t</title></head><body>{body}</body></html>") == expected


def test_article_date_accepts_parsed_documents():
    assert article_date(BeautifulSoup(ARTICLE, "lxml")) == D(2026, 2, 2)
    assert article_date(lxml.html.fromstring(ARTICLE)) == D(2026, 2, 2)
