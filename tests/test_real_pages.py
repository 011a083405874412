"""List engines and date extraction on real portal pages kept beside the repo in ../shared.

Expected counts and (title, date) pairs were read from the HTML by hand, not from the parser.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sitewatch.dates import article_date, date_from_url
from sitewatch.listengines import parse_listing

REAL_PAGES = Path(__file__).resolve().parents[2] / "shared" / "real-pages"

pytestmark = pytest.mark.skipif(not REAL_PAGES.is_dir(), reason="../shared/real-pages is not present")

D = dt.date
ZFXXGKNB = ("pingtan.gov.cn/zwgk/zfxxgk/zfxxgknb/index.html", "https://www.pingtan.gov.cn/zwgk/zfxxgk/zfxxgknb/")
GZJZQK = ("pingtan.gov.cn/zwgk/ghxx/gzjzqk/index.html", "https://www.pingtan.gov.cn/zwgk/ghxx/gzjzqk/")
HD_HOME = ("hd.gov.cn-jsp-derived/index.jsp.html", "http://hdzfxxgk.hd.gov.cn/")
HD_LIST = ("hd.gov.cn-jsp-derived/list.jsp.html", "http://hdzfxxgk.hd.gov.cn/zfwj/jinqixxgk/")

NOT_LISTINGS = [
    ("pingtan.gov.cn/zwgk/zdlyxxgk/czzj/bmyjsgk/bmysgk/202602/t20260202_104942.htm",
     "https://www.pingtan.gov.cn/zwgk/zdlyxxgk/czzj/bmyjsgk/bmysgk/202602/t20260202_104942.htm", D(2026, 2, 2)),
    ("hd.gov.cn-jsp-derived/details.jsp.html",
     "http://hdzfxxgk.hd.gov.cn/gszbm/auto23716/202008/t20200802_1352104.html", D(2020, 8, 2)),
    ("hd.gov.cn-jsp-derived/gkzn.jsp.html", "http://hdzfxxgk.hd.gov.cn/zfxxgkzn/", None),
    ("unverified-clones/hongshan.gov.cn_hsyw_t20230608_2213652.html",
     "https://www.hongshan.gov.cn/hsyw/202306/t20230608_2213652.shtml", D(2023, 6, 8)),
    ("unverified-clones/gz.gov.cn_ysgz_post_9360641.html",
     "https://www.gz.gov.cn/ysgz/xwdt/ysdt/content/post_9360641.html", D(2023, 12, 5)),
    ("unverified-clones/foshan.gov.cn_post_6031144.html",
     "https://www.foshan.gov.cn/sd/content/post_6031144.html", D(2024, 6, 25)),
    ("procurement/ccgp.gov.cn_detail.html", "http://www.ccgp.gov.cn/cggg/detail.htm", D(2021, 6, 10)),
    ("procurement/ccgp-hebei.gov.cn_zbgg_detail.html", "http://www.ccgp-hebei.gov.cn/zbgg/detail.html", D(2021, 10, 11)),
    ("procurement/ccgp-hebei.gov.cn_index_651_header-frame.html", "http://www.ccgp-hebei.gov.cn/wcx/index_651.html", None),
]


def read(relative: str) -> str:
    return (REAL_PAGES / relative).read_text(encoding="utf-8")


def test_pingtan_annual_reports_list():
    listing = parse_listing(ZFXXGKNB[1], read(ZFXXGKNB[0]))
    assert listing is not None
    assert listing.engine == "fujian"
    assert listing.column_name == "政府信息公开年报"
    assert listing.column_key == "https://www.pingtan.gov.cn/zwgk/zfxxgk/zfxxgknb/"
    assert listing.total == 20
    assert listing.empty_marker is False
    assert [(i.title, i.date) for i in listing.items] == [
        (f"平潭综合实验区{year}年度政府信息公开工作年度报告", date)
        for year, date in [
            (2025, D(2026, 3, 10)), (2024, D(2025, 3, 10)), (2023, D(2024, 3, 8)), (2022, D(2023, 2, 20)),
            (2021, D(2022, 2, 8)), (2020, D(2021, 3, 5)), (2019, D(2020, 1, 20)), (2018, D(2019, 1, 10)),
            (2017, D(2018, 1, 23)), (2016, D(2017, 1, 18)),
        ]
    ]
    assert listing.items[0].url == "https://www.pingtan.gov.cn/zwgk/zfxxgk/zfxxgknb/202603/t20260313_105587.htm"
    assert all(i.date_source == "list" for i in listing.items)


def test_pingtan_annual_reports_generic_engine_reads_the_same_rows():
    listing = parse_listing(ZFXXGKNB[1], read(ZFXXGKNB[0]), engine="generic")
    assert listing is not None and listing.engine == "generic"
    assert len(listing.items) == 10
    assert min(i.date for i in listing.items) == D(2017, 1, 18)
    assert max(i.date for i in listing.items) == D(2026, 3, 10)


def test_pingtan_work_progress_list_reads_all_static_blocks():
    listing = parse_listing(GZJZQK[1], read(GZJZQK[0]))
    assert listing is not None
    assert listing.engine == "fujian"
    assert len(listing.items) == 75
    assert listing.total == 107
    assert listing.column_name == "工作进展情况"
    assert listing.empty_marker is False  # "暂无数据" only sits in the avalon error template
    by_url = {i.url: (i.title, i.date) for i in listing.items}
    assert len(by_url) == 75
    assert max(i.date for i in listing.items) == D(2025, 11, 11)
    assert min(i.date for i in listing.items) == D(2021, 4, 16)
    first, last = listing.items[0], listing.items[-1]
    assert (first.title, first.date) == (
        "平潭综合实验区社会事业局关于2025年中小学教育装备产品“双随机、一公开”抽查工作情况的通报", D(2025, 11, 11))
    assert first.url == "https://www.pingtan.gov.cn/zwgk/zdlyxxgk/ssjygk/sjccjg/202511/t20251111_103189.htm"
    assert (last.title, last.date) == (
        "2021年第一季度区公安局治安巡特警支队开展保安单位“双随机”抽查工作情况", D(2021, 4, 16))
    base = "https://www.pingtan.gov.cn/zwgk/ghxx/gzjzqk/"
    assert by_url[base + "202503/t20250321_97999.htm"] == ("区公安局2025年第一季度易制毒化学品企事业抽查工作情况", D(2025, 3, 21))
    assert by_url[base + "202312/t20231228_85447.htm"] == ("区公安局2023年第四季度网吧“双随机”抽查情况", D(2023, 10, 23))
    assert by_url[base + "202210/t20221031_37845.htm"] == ("平潭综合实验区公安局“双随机 一公开”抽查计划表 (2022）", D(2022, 4, 21))
    cross_column = "https://www.pingtan.gov.cn/zwgk/zfxxgk/dfbmptlj/ptzhsyqbm/ptzhsyqjjf/fdzdgknr/gzdt/202504/t20250408_98328.htm"
    assert by_url[cross_column][1] == D(2025, 4, 3)
    assert sum(1 for u in by_url if not u.startswith(base)) == 3
    assert sum(1 for i in listing.items if i.date != date_from_url(i.url)) == 29


def test_handan_information_home_blocks():
    listing = parse_listing(HD_HOME[1], read(HD_HOME[0]))
    assert listing is not None
    assert listing.engine == "generic"
    # 61 dated rows in five blocks (13 + 4 x 12); 7 documents appear in two blocks.
    assert len(listing.items) == 54
    first = listing.items[0]
    assert (first.title, first.date) == ("邯郸市教育局关于印发《全市教育系统安全专项整治三年行动实施方案》的通知", D(2020, 8, 2))
    assert first.url == "http://hdzfxxgk.hd.gov.cn/gszbm/auto23716/202008/t20200802_1352104.html"
    by_url = {i.url: (i.title, i.date) for i in listing.items}
    assert by_url["http://hdzfxxgk.hd.gov.cn/gszbm/auto23692/201808/t20180802_796808.html"] == (
        "邯郸市人民政府令第145号邯郸市建设领域农民工工资保障办法", D(2013, 10, 30))
    assert min(i.date for i in listing.items) == D(2013, 10, 30)
    assert max(i.date for i in listing.items) == D(2020, 8, 2)
    assert "http://hdzfxxgk.hd.gov.cn/zfxxgkzn/" not in by_url  # left-hand menu, no date
    assert "http://hd.gov.cn/wzsm/201709/t20170912_719157.html" not in by_url  # footer 网站声明


def test_handan_column_list_with_trs_pager():
    listing = parse_listing(HD_LIST[1], read(HD_LIST[0]))
    assert listing is not None
    assert listing.engine == "trs"
    assert [(i.title, i.date, i.date_source) for i in listing.items] == [
        ("邯郸市教育局关于印发《邯郸市学校安全工作目标管理考核办法》的通知", D(2020, 8, 5), "list")]
    assert listing.items[0].url == "http://hdzfxxgk.hd.gov.cn/gszbm/auto23716/202008/t20200805_1353179.html"
    assert listing.total == 6348
    assert listing.page_urls == [f"http://hdzfxxgk.hd.gov.cn/zfwj/jinqixxgk/index_{n}.html" for n in range(1, 56)]
    assert listing.column_key == "http://hdzfxxgk.hd.gov.cn/zfwj/jinqixxgk/"
    assert listing.column_name == "邯郸市政府信息公开"


@pytest.mark.parametrize(("relative", "url", "published"), NOT_LISTINGS, ids=[n[0].rsplit("/", 1)[-1] for n in NOT_LISTINGS])
def test_articles_and_other_pages_are_not_listings(relative, url, published):
    html = read(relative)
    assert parse_listing(url, html) is None
    assert article_date(html) == published
