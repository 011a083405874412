"""List engines on synthetic pages shaped like the real platforms."""

from __future__ import annotations

import datetime as dt
import json

import lxml.html
import pytest

from sitewatch.extract import parse_html
from sitewatch.listengines import ENGINES, ListEngine, engine_by_name, parse_listing
from sitewatch.listengines.gkmlpt import api_date, api_url, discover, parse_api
from sitewatch.listengines.trs import js_pager

D = dt.date
HOST = "http://www.example.gov.cn"

NAV = """
<div class="nav"><ul>
  <li><a href="/">首页</a></li><li><a href="/zwgk/">政务公开</a></li><li><a href="/hdjl/">互动交流</a></li>
</ul></div>"""

GENERIC_LIST = f"""<!DOCTYPE html><html><head>
<meta name="ColumnName" content="通知公告"><title>通知公告_示例区人民政府</title></head>
<body>{NAV}
<div class="position">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk/">政务公开</a> &gt; <a href="./">通知公告</a></div>
<div class="list"><ul>
  <li class="zd"><a href="./202611/t20261101_501.html" title="关于做好2026年冬季安全生产工作的通知">关于做好2026年冬季安全生…</a><span>2026-11-01</span></li>
  <li><a href="./202611/t20261118_502.html">关于公布第三批行政许可事项的公告</a><span>[2026-11-18]</span></li>
  <li><img src="/images/top.gif"><a href="./202610/t20261020_503.html">[置顶]示例区2026年政府信息公开工作要点</a><span>2026/10/20</span></li>
  <li><a href="./202609/t20260930_504.html">关于征求意见的通知</a><span>(09-30)</span>
      <a href="./202609/P020260930123.pdf">征求意见稿.pdf</a><a href="./202609/P020260930124.XLS">附表.XLS</a></li>
  <li><a href="../gsgg/202608/t20260801_505.html">跨栏目发布的公示</a><span>2026年8月1日</span></li>
</ul></div>
<div class="page"><a href="index.html">首页</a> <a href="index_1.html">2</a> <a href="index_2.html">3</a>
  <a href="index_1.html">下一页</a> <a href="index_5.html">尾页</a></div>
<div class="footer"><a href="/wzsm/">网站声明</a> <a href="/lxwm/">联系我们</a></div>
</body></html>"""


def test_generic_reads_dated_rows_and_skips_menus():
    listing = parse_listing(f"{HOST}/zwgk/tzgg/", GENERIC_LIST)
    assert listing is not None
    assert listing.engine == "generic"
    assert [(i.title, i.date) for i in listing.items] == [
        ("关于做好2026年冬季安全生产工作的通知", D(2026, 11, 1)),
        ("关于公布第三批行政许可事项的公告", D(2026, 11, 18)),
        ("示例区2026年政府信息公开工作要点", D(2026, 10, 20)),
        ("关于征求意见的通知", D(2026, 9, 30)),
        ("跨栏目发布的公示", D(2026, 8, 1)),
    ]
    assert [i.pinned for i in listing.items] == [True, False, True, False, False]
    assert all(i.date_source == "list" for i in listing.items)
    assert listing.items[0].url == f"{HOST}/zwgk/tzgg/202611/t20261101_501.html"
    assert listing.items[4].url == f"{HOST}/zwgk/gsgg/202608/t20260801_505.html"
    assert listing.items[3].attachments == [
        ("征求意见稿.pdf", f"{HOST}/zwgk/tzgg/202609/P020260930123.pdf"),
        ("附表.XLS", f"{HOST}/zwgk/tzgg/202609/P020260930124.XLS"),
    ]
    assert listing.column_name == "通知公告"
    assert listing.column_key == f"{HOST}/zwgk/tzgg/"
    assert listing.page_urls == [f"{HOST}/zwgk/tzgg/index_{n}.html" for n in range(1, 6)]
    assert listing.empty_marker is False


def test_generic_column_key_and_pages_from_a_later_page():
    listing = parse_listing(f"{HOST}/zwgk/tzgg/index_2.html", GENERIC_LIST)
    assert listing.column_key == f"{HOST}/zwgk/tzgg/"
    assert listing.page_urls[0] == f"{HOST}/zwgk/tzgg/index.html"
    assert f"{HOST}/zwgk/tzgg/index_2.html" not in listing.page_urls
    assert len(listing.page_urls) == 5


def test_generic_column_name_falls_back_to_breadcrumb_then_title():
    no_meta = GENERIC_LIST.replace('<meta name="ColumnName" content="通知公告">', "")
    assert parse_listing(f"{HOST}/zwgk/tzgg/", no_meta).column_name == "通知公告"
    no_crumb = no_meta.replace('class="position">当前位置：', 'class="x">')
    no_crumb = no_crumb.replace("<title>通知公告_示例区人民政府</title>", "<title>公示公告_示例区人民政府</title>")
    assert parse_listing(f"{HOST}/zwgk/tzgg/", no_crumb).column_name == "公示公告"


def test_generic_honours_base_href():
    html = """<html><head><base href="http://cdn.example.gov.cn/site/zwgk/"></head><body><ul>
      <li><a href="tzgg/202611/t20261118_1.html">通知一</a><span>2026-11-18</span></li></ul></body></html>"""
    listing = parse_listing(f"{HOST}/zwgk/tzgg/", html)
    assert listing.items[0].url == "http://cdn.example.gov.cn/site/zwgk/tzgg/202611/t20261118_1.html"


@pytest.mark.parametrize(
    "rows",
    [
        # stats.gov.cn style: title and date inside the link
        '<ul class="center_list_contlist"><li><a href="./202001/t20200109_1.html"><font class="cont_tit03">2019年统计公报</font>'
        '<font class="cont_tit02">2020-01-09</font></a></li></ul>',
        # TRS 信息公开 table
        "<table><tr><th>名称</th><th>索引号</th><th>发布机构</th><th>发布日期</th></tr>"
        '<tr><td><a href="./202001/t20200109_1.html" title="2019年统计公报">2019年统计公报</a></td>'
        "<td>000014348/2020-35428</td><td>统计局</td><td>2020-01-09</td></tr></table>",
        # Pingtan 信息公开 dl rows, date with surrounding whitespace
        '<div><dl><dt>标题</dt><dt>发布日期</dt></dl><dl><dd><a href="./202001/t20200109_1.html">2019年统计公报</a></dd>'
        "<dd>\n      2020-01-09\n   </dd></dl></div>",
        # date written into the link text
        '<ul><li><a href="./202001/t20200109_1.html">2019年统计公报 2020-01-09</a></li></ul>',
        # 年月日 in a <i>
        '<ul><li><a href="./202001/t20200109_1.html">2019年统计公报</a><i>2020年1月9日</i></li></ul>',
    ],
    ids=["font-in-link", "table", "dl-dd", "date-in-link-text", "cjk-date"],
)
def test_generic_row_layouts(rows):
    listing = parse_listing(f"{HOST}/tjsj/tjgb/", f"<html><body>{NAV}{rows}</body></html>")
    assert listing is not None
    assert [(i.title, i.date, i.url) for i in listing.items] == [
        ("2019年统计公报", D(2020, 1, 9), f"{HOST}/tjsj/tjgb/202001/t20200109_1.html")]


def test_generic_nav_only_page_is_not_a_listing():
    assert parse_listing(f"{HOST}/zwgk/", f"<html><body>{NAV}<p>欢迎访问</p></body></html>") is None


def test_generic_article_with_related_links_is_not_a_listing():
    html = f"""<html><head><meta name="ArticleTitle" content="关于开展检查的通知"></head><body>{NAV}
      <div class="TRS_Editor"><p>正文。</p></div>
      <div class="related"><h3>相关链接</h3><ul>
        <li><a href="../202610/t20261010_1.html">相关通知一</a><span>2026-10-10</span></li>
        <li><a href="../202609/t20260909_2.html">相关通知二</a><span>2026-09-09</span></li></ul></div></body></html>"""
    assert parse_listing(f"{HOST}/zwgk/tzgg/202611/t20261118_9.html", html) is None
    assert parse_listing(f"{HOST}/zwgk/tzgg/detail.html", html) is None


def test_generic_empty_column_marker():
    html = f'<html><body>{NAV}<div class="list"><ul></ul><p class="empty">暂无信息</p></div></body></html>'
    listing = parse_listing(f"{HOST}/zwgk/rsxx/", html)
    assert listing is not None
    assert listing.items == [] and listing.empty_marker is True


def test_hidden_or_template_empty_text_is_not_a_marker():
    html = f"""<html><body>{NAV}<ul><li><a href="./202611/t20261118_1.html">通知</a><span>2026-11-18</span></li></ul>
      <div ms-if="error">暂无数据</div><div style="display:none">暂无数据</div></body></html>"""
    assert parse_listing(f"{HOST}/zwgk/tzgg/", html).empty_marker is False


TRS_LIST = f"""<html><head><meta name="ColumnName" content="工作动态"></head><body>{NAV}
<ul class="list">
  <li><a href="./202611/t20261118_11.shtml" title="区领导调研重点项目">区领导调研重点项目</a><span>2026-11-18</span></li>
  <li><a href="./202611/t20261117_10.shtml" title="召开安全生产会议">召开安全生产会议</a><span>2026-11-17</span></li>
</ul>
<script>var countnum = 195; createPageHTML(10, 2, "index", "shtml");</script>
</body></html>"""


def test_trs_pages_from_create_page_html():
    listing = parse_listing(f"{HOST}/xwzx/gzdt/index_2.shtml", TRS_LIST)
    assert listing is not None
    assert listing.engine == "trs"
    assert listing.total == 195
    assert listing.column_key == f"{HOST}/xwzx/gzdt/"
    expected = [f"{HOST}/xwzx/gzdt/index.shtml"] + [f"{HOST}/xwzx/gzdt/index_{n}.shtml" for n in range(1, 10) if n != 2]
    assert listing.page_urls == expected
    assert [i.date for i in listing.items] == [D(2026, 11, 18), D(2026, 11, 17)]


def test_trs_count_page_variable_and_empty_first_page():
    html = f"""<html><body>{NAV}<table></table><script>
      var countPage = 3; var currentPage = 0;
      document.write("<a href=\\"index"+"_"+nextPage+"."+"htm\\">下一页</a>");</script></body></html>"""
    listing = parse_listing(f"{HOST}/zwgk/zcwj/", html)
    assert listing is not None and listing.engine == "trs"
    assert listing.items == []
    assert listing.page_urls == [f"{HOST}/zwgk/zcwj/index_1.htm", f"{HOST}/zwgk/zcwj/index_2.htm"]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ('createPageHTML(56, 0, "index", "html");', (56, "index", "html")),
        ("createPageHTML('page_div', 7, 1, 'list', 'htm', 120);", (7, "list", "htm")),
        ("function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt){}", None),
        ("var countPage=56\nvar x;", (56, "index", None)),
    ],
)
def test_js_pager(script, expected):
    assert js_pager(f"<script>{script}</script>") == expected


FUJIAN_LIST = """<!DOCTYPE html><html ms-controller="windowRoot"><head><meta name="ColumnName" content="部门预算"></head>
<body><div class="breadcrumb"><span>当前位置：</span><ul><li><a href="../">财政资金</a></li><li><a href="./">部门预算</a></li></ul></div>
<div class="list_base trt-row" ms-controller="list">
  <div ms-visible="showStatic">
    <div ms-visible="$showStatic(1)"><ul>
      <li><a href="./202602/t20260202_104942.htm" target="_blank" title="2026年度平潭综合实验区行政服务中心部门预算">2026年度平潭综合实验区行政服务中心部门预算</a>
          <em id="rel_104942"></em><span class="bf-pass">2026-02-02</span></li>
      <li><a href="./202602/t20260201_104900.htm" title="2026年度某局部门预算">2026年度某局部门预算</a><em id="rel_104900"></em><span class="bf-pass">2026-02-01</span></li>
    </ul></div>
    <div ms-visible="$showStatic(3)"><ul>
      <li><a href="./202502/t20250210_90001.htm" title="2025年度某局部门预算">2025年度某局部门预算</a><em></em><span class="bf-pass">2025-02-10</span></li>
    </ul></div>
  </div>
  <div ms-visible="!showStatic">
    <ul ms-if="list.length==0"><div ms-if="error">暂无数据</div></ul>
    <ul ms-if="list.length>0"><li ms-repeat="list"><a ms-attr-href="el.chnldocurl" ms-attr-title="el.doctitle_cp" ms-text="el.doctitle"></a>
      <span ms-text="el.docreltime | date2('yyyy-MM-dd')" class="bf-pass"></span></li></ul>
    <ul><li><a href="{{el.url}}">{{el.title}}</a><span>2026-01-01</span></li></ul>
  </div>
</div>
<script>var pageChnlInfo={ quickMode:"动静结合", maxStaticIndex: 5, recordCount:'757', prepage:15 };</script>
</body></html>"""


def test_fujian_static_blocks_and_record_count():
    listing = parse_listing("https://www.pingtan.gov.cn/zwgk/zdlyxxgk/czzj/bmyjsgk/bmysgk/", FUJIAN_LIST)
    assert listing is not None
    assert listing.engine == "fujian"
    assert listing.total == 757
    assert [(i.title, i.date) for i in listing.items] == [
        ("2026年度平潭综合实验区行政服务中心部门预算", D(2026, 2, 2)),
        ("2026年度某局部门预算", D(2026, 2, 1)),
        ("2025年度某局部门预算", D(2025, 2, 10)),
    ]
    assert listing.page_urls == []
    assert listing.empty_marker is False
    assert listing.column_name == "部门预算"


def test_fujian_empty_column():
    html = FUJIAN_LIST.replace("recordCount:'757'", "recordCount:'0'")
    start, end = html.index('<div ms-visible="$showStatic(1)">'), html.index('<div ms-visible="!showStatic">')
    html = html[:start] + "</div>" + html[end:]
    listing = parse_listing("https://www.pingtan.gov.cn/zwgk/xx/", html)
    assert listing.engine == "fujian"
    assert listing.items == [] and listing.total == 0 and listing.empty_marker is True


HANWEB_LIST = f"""<html><head><title>部门预算 - 示例市人民政府</title></head><body>{NAV}
<div id="4578"><script type="text/xml"><datastore>
<nextgroup><![CDATA[<a href="/module/web/jpage/dataproxy.jsp?page=1&webid=1&path=/&columnid=123&unitid=4578&webname=x&permissiontype=0"></a>]]></nextgroup>
<recordset>
<record><![CDATA[<li><a href="/art/2026/11/18/art_123_9001.html" title="2026年部门预算公开" target="_blank">2026年部门预算公开</a><span>2026-11-18</span></li>]]></record>
<record><![CDATA[<li><a href="/art/2026/2/3/art_123_9000.html" title="2026年三公经费预算">2026年三公经费预算</a><span>02-03</span></li>]]></record>
<record><![CDATA[<tr><td><a href="/art/2025/1/9/art_123_8999.html">2025年部门预算公开</a></td></tr>]]></record>
</recordset></datastore></script></div>
<script>var totalrecord = 0;</script>
<script type="text/xml"><totalrecord>45</totalrecord><totalpage>3</totalpage></script>
</body></html>"""


def test_hanweb_cdata_records():
    listing = parse_listing(f"{HOST}/col/col123/index.html", HANWEB_LIST)
    assert listing is not None
    assert listing.engine == "hanweb"
    assert [(i.title, i.date, i.date_source) for i in listing.items] == [
        ("2026年部门预算公开", D(2026, 11, 18), "list"),
        ("2026年三公经费预算", D(2026, 2, 3), "list"),
        ("2025年部门预算公开", D(2025, 1, 9), "url"),
    ]
    assert listing.items[0].url == f"{HOST}/art/2026/11/18/art_123_9001.html"
    assert listing.total == 45
    assert listing.page_urls == [f"{HOST}/col/col123/index.html?uid=4578&pageNum=2",
                                 f"{HOST}/col/col123/index.html?uid=4578&pageNum=3"]
    assert listing.column_key == f"{HOST}/col/col123/"
    assert listing.column_name == "部门预算"


GKMLPT_INDEX = """<!DOCTYPE html><html><head><title>中山市港口镇人民政府信息公开目录</title>
<script>
window._CONFIG = {
  SID: '755034',
  SITE_NAME: '中山市港口镇人民政府',
  TREE: [
    {id: 2511, name: '机构职能', parent: 0, children: [
      {id: 2512, name: '机构概况', parent: 2511},
      {id: 2513, name: '领导信息', parent: 2511}
    ]},
    {id: 2520, name: '财政预决算', parent: 0, children: []},
  ],
};
</script></head><body><div id="app"></div><script src="/gkmlpt/static/js/app.js"></script></body></html>"""

GKMLPT_API = json.loads("""{
  "articles": [
    {"id": 2417055, "title": "中山市港口镇2026年部门预算", "url": "https://www.zs.gov.cn/zsgkz/gkmlpt/content/2/2417/post_2417055.html",
     "date": 1763481600, "display_publish_time": 1700000000, "document_number": "港府〔2026〕3号", "identifier": "007033485/2026-00012",
     "publisher": "港口镇财政分局",
     "attachment": [{"name": "2026年部门预算.pdf", "url": "/zsgkz/attachment/0/471/471942/2417055.pdf"}]},
    {"id": 2417001, "title": "中山市港口镇2025年部门决算", "url": "https://www.zs.gov.cn/zsgkz/gkmlpt/content/2/2417/post_2417001.html",
     "date": "2025-08-30 10:00:00", "document_number": "", "attachment": []}
  ],
  "classify": {"id": 2520, "name": "财政预决算", "post_count": 45},
  "page_size": 20
}""")


def test_gkmlpt_discover_reads_sid_and_tree():
    site = discover("https://www.zs.gov.cn/zsgkz/gkmlpt/index", GKMLPT_INDEX)
    assert site is not None
    assert site.sid == "755034"
    assert site.prefix == "https://www.zs.gov.cn/zsgkz"
    assert site.categories[2511].name == "机构职能"
    assert site.categories[2511].children == [2512, 2513]
    assert site.categories[2513].parent == 2511
    assert site.categories[2520].parent is None
    assert sorted(c.id for c in site.leaves) == [2512, 2513, 2520]
    assert discover("https://www.zs.gov.cn/zsgkz/gkmlpt/index", "<html><body>no config</body></html>") is None


def test_gkmlpt_discover_sid_without_config_object():
    html = "<script>var CFG = { SID: '123' };</script>"
    site = discover("https://www.zs.gov.cn/zschq/gkmlpt/index#2511", html)
    assert site.sid == "123" and site.prefix == "https://www.zs.gov.cn/zschq" and site.categories == {}


def test_gkmlpt_api_url():
    assert api_url("https://www.zs.gov.cn/zsgkz/gkmlpt/index#2520", 2520, 2, "755034") == \
        "https://www.zs.gov.cn/zsgkz/gkmlpt/api/all/2520?page=2&sid=755034"


def test_gkmlpt_parse_api():
    url = api_url("https://www.zs.gov.cn/zsgkz/gkmlpt/index", 2520, 1, "755034")
    listing = parse_api(url, GKMLPT_API, "财政预决算")
    assert listing.engine == "gkmlpt"
    assert listing.total == 45
    assert listing.column_name == "财政预决算"
    assert listing.column_key == "https://www.zs.gov.cn/zsgkz/gkmlpt/index#2520"
    first, second = listing.items
    assert first.title == "中山市港口镇2026年部门预算"
    assert first.date == D(2023, 11, 15)  # 1700000000 is 2023-11-14 22:13 UTC, 06:13 the next day in China
    assert first.date_source == "api"
    assert first.document_number == "港府〔2026〕3号"
    assert first.attachments == [("2026年部门预算.pdf", "https://www.zs.gov.cn/zsgkz/attachment/0/471/471942/2417055.pdf")]
    assert second.date == D(2025, 8, 30) and second.document_number is None
    assert listing.page_urls == [
        "https://www.zs.gov.cn/zsgkz/gkmlpt/api/all/2520?page=2&sid=755034",
        "https://www.zs.gov.cn/zsgkz/gkmlpt/api/all/2520?page=3&sid=755034",
    ]


def test_gkmlpt_page_size_defaults_to_articles_on_page():
    data = {"articles": [{"title": f"t{n}", "url": f"/x/post_{n}.html", "date": "2026-01-02"} for n in range(10)],
            "classify": {"post_count": 25}}
    listing = parse_api("https://h/s/gkmlpt/api/all/7?page=2&sid=1", data, None)
    assert listing.page_urls == ["https://h/s/gkmlpt/api/all/7?page=1&sid=1", "https://h/s/gkmlpt/api/all/7?page=3&sid=1"]


def test_gkmlpt_empty_category():
    listing = parse_api("https://h/s/gkmlpt/api/all/7?page=1&sid=1", {"articles": [], "classify": {"post_count": 0}}, "人事信息")
    assert listing.items == [] and listing.total == 0 and listing.empty_marker is True and listing.page_urls == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1700000000, D(2023, 11, 15)), (1700000000000, D(2023, 11, 15)), ("1700000000", D(2023, 11, 15)),
     ("2026-11-18", D(2026, 11, 18)), ("", None), (None, None), (0, None)],
)
def test_gkmlpt_api_date(value, expected):
    assert api_date(value) == expected


def test_gkmlpt_index_page_is_not_an_html_listing():
    assert parse_listing("https://www.zs.gov.cn/zsgkz/gkmlpt/index", GKMLPT_INDEX) is None


def test_registry_and_forced_engine():
    assert [e.name for e in ENGINES] == ["gkmlpt", "hanweb", "fujian", "trs", "generic"]
    assert all(isinstance(e, ListEngine) for e in ENGINES)
    assert engine_by_name("trs").name == "trs"
    with pytest.raises(ValueError):
        engine_by_name("nope")
    forced = parse_listing(f"{HOST}/xwzx/gzdt/index_2.shtml", TRS_LIST, engine="generic")
    assert forced.engine == "generic" and len(forced.items) == 2


def test_detect_is_cheap_substring_logic():
    assert engine_by_name("hanweb").detect("u", HANWEB_LIST)
    assert not engine_by_name("hanweb").detect("u", GENERIC_LIST)
    assert engine_by_name("fujian").detect("u", FUJIAN_LIST)
    assert not engine_by_name("fujian").detect("u", TRS_LIST)
    assert engine_by_name("trs").detect("u", TRS_LIST)


@pytest.mark.parametrize("name", ["generic", "trs", "fujian", "hanweb"])
def test_the_crawlers_tree_is_read_never_changed(name):
    html, url = {"generic": (GENERIC_LIST, f"{HOST}/zwgk/tzgg/"), "trs": (TRS_LIST, f"{HOST}/xwzx/gzdt/index_2.shtml"),
                 "fujian": (FUJIAN_LIST, "https://www.pingtan.gov.cn/zwgk/xx/"),
                 "hanweb": (HANWEB_LIST, f"{HOST}/col/col123/index.html")}[name]
    html = html.replace("</a><span>", "</a><!-- date --><span>").replace("<span>2026-", "<span>2026<!-- - -->-")
    doc = parse_html(html, url).doc
    before = lxml.html.tostring(doc)
    listing = parse_listing(url, html, doc=doc)
    assert listing == parse_listing(url, html) and listing.engine == name and listing.items
    assert lxml.html.tostring(doc) == before


def test_unparseable_input():
    assert parse_listing(f"{HOST}/x/", "") is None
    assert parse_listing(f"{HOST}/x/", "   ") is None
    assert parse_listing(f"{HOST}/x/", '<?xml version="1.0" encoding="gbk"?><html><body>x</body></html>') is None


def test_generic_query_string_pager_stays_in_its_column():
    html = """<html><body><ul><li><a href="show.jsp?id=5">通知</a><span>2026-11-18</span></li></ul><div>
      <a href="list.jsp?cat_id=7&cur_page=1">首页</a><a href="list.jsp?cat_id=7&cur_page=2">2</a>
      <a href="list.jsp?cat_id=7&cur_page=3">下一页</a><a href="list.jsp?cat_id=8">其他栏目</a><a href="/">首页</a></div></body></html>"""
    listing = parse_listing("http://www.example.gov.cn/info/list.jsp?cat_id=7&cur_page=1", html)
    assert listing.column_key == "http://www.example.gov.cn/info/list.jsp?cat_id=7"
    assert listing.page_urls == ["http://www.example.gov.cn/info/list.jsp?cat_id=7&cur_page=2",
                                 "http://www.example.gov.cn/info/list.jsp?cat_id=7&cur_page=3"]
    assert [(i.title, i.url) for i in listing.items] == [("通知", "http://www.example.gov.cn/info/show.jsp?id=5")]


def test_dl_rows_with_title_and_date_in_sibling_dd_cells():
    html = """<html><head><meta name="ColumnName" content="通知公告"></head><body><dl class="xxgk_list">
    <dt>标题</dt><dt>发布日期</dt>
    <dd class="bt"><em>[置顶]</em><a href="./202507/t20250714_1.html">关于规范窗口办事时间的通告</a></dd><dd class="rq">
      2025-07-14
    </dd>
    <dd class="bt"><a href="./202611/t20261117_2.html">西区2026年防溺水资金拟安排项目公示</a></dd><dd class="rq">2026-11-17</dd>
    </dl></body></html>"""
    listing = parse_listing("http://h.gov.cn/xqbsc/tzgg/index.html", html)
    assert [(i.title, i.date.isoformat(), i.pinned) for i in listing.items] == [
        ("关于规范窗口办事时间的通告", "2025-07-14", True),
        ("西区2026年防溺水资金拟安排项目公示", "2026-11-17", False),
    ]


def test_one_malformed_href_does_not_lose_the_list():
    broken = GENERIC_LIST.replace(
        '<li><a href="./202611/t20261118_502.html">',
        '<li><a href="http://[::1/bad.html">编辑录入错误的链接</a><span>2026-11-10</span></li>\n  '
        '<li><a href="./202611/t20261118_502.html">').replace(
        '<a href="index_1.html">2</a>', '<a href="http://[::1/index_1.html">2</a> <a href="index_1.html">2</a>')
    listing = parse_listing(f"{HOST}/zwgk/tzgg/", broken)
    assert listing is not None
    assert [i.date for i in listing.items] == [D(2026, 11, 1), D(2026, 11, 18), D(2026, 10, 20), D(2026, 9, 30),
                                               D(2026, 8, 1)]
    assert listing.page_urls == [f"{HOST}/zwgk/tzgg/index_{n}.html" for n in range(1, 6)]
