"""Page rules (V4 互动, V5 办事, V6 严重问题, 47号 site identity) on pages served by a loopback server.

Whole-site cases run the real crawler with ``PageChecks.page_hook``; cases whose pages link to outside hosts
fetch the pages from the loopback server and feed ``on_page`` directly, so no test leaves the machine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import tracemalloc

import httpx
import lxml.html
import pytest
from loopback import Answer, LoopbackSite

from sitewatch.config import SiteConfig
from sitewatch.crawl.engine import Crawler
from sitewatch.errors import ConfigError
from sitewatch.extract import parse_html
from sitewatch.packs import load_rules
from sitewatch.rules import PAGE, PageChecks, produced_ids
from sitewatch.rules.interaction import Interaction
from sitewatch.rules.security import hiding_reason
from sitewatch.rules.services import Services
from sitewatch.store import Store
from sitewatch.workdays import working_days_between

AS_OF = dt.date(2026, 11, 26)          # a Thursday
SITE_ID = "4420000012"
FOOTER = (
    '<div class="footer"><p>主办单位：中山市西区办事处　电话：0760-88776655　<a href="/lxwm.html">联系我们</a></p>'
    f'<p>网站标识码：{SITE_ID}　粤ICP备05021338号-1　粤公网安备 44200002443026号</p>'
    '<p><a href="/dzjg.html"><img src="/red.png" alt="党政机关"></a></p></div>'
)
NAV = ('<div class="nav"><a href="/">首页</a> <a href="/hdjl/">在线咨询</a> <a href="/bsfw/">办事服务</a> '
       '<a href="/lxwm.html">联系我们</a></div>')
ARTICLE_BODY = ("西区办事处召开2026年安全生产工作会议，传达学习上级有关文件精神，部署下一阶段安全生产重点工作。"
                "会议要求各社区、各部门压实安全生产责任，深入开展隐患排查整治，加强燃气、消防、交通等重点领域监管，"
                "确保辖区安全形势持续稳定。会议强调，要坚持人民至上、生命至上，以更高标准、更严要求抓好各项安全措施落实，"
                "切实保障人民群众生命财产安全，为经济社会高质量发展营造良好环境。"
                "会后，与会人员还就近期辖区安全检查中发现的问题进行了深入交流，并明确了整改责任人和完成时限。")


def gov_page(title: str, main: str = "", *, meta: dict[str, str] | None = None, column: str | None = None,
             footer: str = FOOTER, nav: str = NAV, head: str = "") -> str:
    tags = {"SiteName": "中山市西区办事处", "SiteDomain": "www.zs.gov.cn", "SiteIDCode": SITE_ID}
    if column:
        tags["ColumnName"] = column
    tags.update(meta or {})
    metas = "".join(f'<meta name="{k}" content="{v}">' for k, v in tags.items() if v is not None)
    return (f"<html><head><meta charset='utf-8'>{metas}<title>{title}_西区办事处</title>{head}</head>"
            f"<body><div class='header'>{nav}</div><div class='main'>{main}</div>{footer}</body></html>")


def article(title: str, body: str = ARTICLE_BODY, **meta: str) -> str:
    tags = {"ArticleTitle": title, "PubDate": "2026-11-20 09:00", "ContentSource": "西区办事处", **meta}
    return gov_page(title, f"<h1>{title}</h1><div class='view TRS_Editor'><p>{body}</p></div>", meta=tags,
                    column="工作动态")


def column_page(name: str, links: list[tuple[str, str]]) -> str:
    items = "".join(f'<li><a href="{h}">{t}</a><span>2026-11-20</span></li>' for h, t in links)
    return gov_page(name, f"<h2>{name}</h2><ul class='list'>{items}</ul>", column=name)


def base_site(**extra: str | Answer) -> dict[str, Answer]:
    """A small compliant site: homepage, a column, an article, the channel and service pages."""
    routes: dict[str, str | Answer] = {
        "/": column_page("首页", [("/gzdt/", "工作动态"), ("/gzdt/t20261120_1.html", "安全生产工作会议"),
                                  ("/hdjl/", "在线咨询"), ("/bsfw/", "办事服务"), ("/lxwm.html", "联系我们")]),
        "/gzdt/": column_page("工作动态", [("/gzdt/t20261120_1.html", "安全生产工作会议")]),
        "/gzdt/t20261120_1.html": article("安全生产工作会议"),
        "/hdjl/": gov_page("在线咨询", "<h2>在线咨询</h2><p>请留言。</p>"),
        "/bsfw/": gov_page("办事服务", "<h2>办事服务</h2><p>请前往政务服务网办理。</p>"),
        "/lxwm.html": gov_page("联系我们", "<h2>联系我们</h2><p>地址：彩虹大道23号</p>"),
        "/dzjg.html": gov_page("党政机关网站标识", "<p>党政机关</p>"),
    }
    routes.update(extra)
    return {k: (Answer(body=v) if isinstance(v, str) else v) for k, v in routes.items()}


def crawl(tmp_path, routes: dict[str, Answer], *, overrides: dict | None = None, start_urls: list[str] | None = None,
          as_of: dt.date = AS_OF):
    """Crawl the loopback site with PageChecks hooked into the crawler; return (findings, base url, checks)."""
    with LoopbackSite(routes) as site:
        cfg = SiteConfig(name="t", start_urls=[site.url("/")], rate=0, concurrency=4, timeout=2, retries=0)
        checks = PageChecks(load_rules(overrides=overrides), cfg, start_urls or cfg.start_urls)
        store = Store(str(tmp_path / "t.db"))
        scan_id = store.new_scan("t", cfg.start_urls, as_of, cfg.to_json())
        asyncio.run(Crawler(cfg, store, scan_id, page_hooks=[checks.page_hook]).run())
        assert checks.errors == []
        return checks.findings(as_of), site.base, checks


def feed(routes: dict[str, Answer], paths: list[str], *, start: str | None = None, as_url=None,
         overrides: dict | None = None, as_of: dt.date = AS_OF):
    """Fetch pages from the loopback site and feed them to ``on_page``; ``as_url`` may rewrite the page URL."""
    with LoopbackSite(routes) as site:
        checks = PageChecks(load_rules(overrides=overrides), SiteConfig(), [start or site.url("/")])
        for path in paths:
            resp = httpx.get(site.url(path))
            url = as_url(site.url(path)) if as_url else site.url(path)
            checks.on_page(url, resp.text, parse_html(resp.text, url))
        return checks.findings(as_of), site.base, checks


def of(findings, rule: str):
    return [f for f in findings if f.rule == rule]


# -- the compliant site -----------------------------------------------------------------------------------

def test_compliant_site_has_no_page_findings_but_http(tmp_path):
    findings, base, checks = crawl(tmp_path, base_site())
    assert checks.pages == 7
    assert [f.rule for f in findings] == ["identity.https"]
    assert checks.notes == ["identity.domain: 127.0.0.1 is a loopback or IP-address host, not judged"]


def test_every_page_rule_is_in_the_packs_with_source_and_provenance():
    rs = load_rules()
    for rule_id in produced_ids(PAGE):
        rule = rs.get(rule_id)
        assert rule.name_zh and rule.measures and rule.source and rule.provenance in "VPR"
    assert rs.get("veto.service_guides").provenance == "R"
    assert rs.threshold("veto.service_guides", "min_missing") == 4
    assert rs.threshold("veto.service_guides", "min_guides") == 5
    assert rs.threshold("interaction.unanswered", "max_days") == 92
    assert rs.threshold("interaction.slow_reply", "max_working_days") == 5
    assert {rs.severity(r) for r in ("interaction.no_channel", "interaction.unanswered", "service.none",
                                     "veto.service_guides")} == {"veto"}
    assert {rs.severity(r) for r in produced_ids(PAGE) if r.startswith("security.")} == {"review"}


# -- V4 互动回应差 ----------------------------------------------------------------------------------------

def test_no_channel_is_a_veto(tmp_path):
    nav = '<div class="nav"><a href="/">首页</a> <a href="/bsfw/">办事服务</a> <a href="/xf/">网上信访</a></div>'
    routes = {"/": Answer(body=gov_page("首页", "<p>欢迎</p>", nav=nav)),
              "/bsfw/": Answer(body=gov_page("办事服务", "<p>办事</p>", nav=nav)),
              "/xf/": Answer(body=gov_page("网上信访", "<p>信访渠道不算咨询建言渠道</p>", nav=nav))}
    findings, base, _ = crawl(tmp_path, routes)
    [f] = of(findings, "interaction.no_channel")
    assert f.severity == "veto" and f.url == base + "/" and f.evidence["pages_checked"] == 3


def test_link_to_the_city_platform_is_a_channel(tmp_path):
    nav = '<div class="nav"><a href="/zmhd/index.html">政民互动平台</a> <a href="/bsfw/">办事服务</a></div>'
    routes = {"/": Answer(body=gov_page("首页", "<p>欢迎</p>", nav=nav.replace("政民互动平台", "市级平台"))),
              "/zmhd/index.html": Answer(body=gov_page("平台", "<p>平台</p>"))}
    findings, _, checks = crawl(tmp_path, routes)
    assert of(findings, "interaction.no_channel") == []
    assert checks.get(Interaction).channel["link"].endswith("/zmhd/index.html")


MESSAGE_TABLE = """<h2>咨询留言</h2><table class="list">
<tr><th>留言标题</th><th>留言时间</th><th>回复时间</th><th>状态</th></tr>
<tr><td><a href="/hdjl/m1.html">彩虹大道夜间施工噪音</a></td><td>2026-07-01</td><td></td><td>处理中</td></tr>
<tr><td><a href="/hdjl/m2.html">长者饭堂就餐时间</a></td><td>2026-11-02</td><td>2026-11-04</td><td>已回复</td></tr>
<tr><td><a href="/hdjl/m3.html">路灯损坏</a></td><td>2026-11-01</td><td></td><td>处理中</td></tr>
<tr><td><a href="/hdjl/m4.html">垃圾清运</a></td><td>2026-02-02</td><td>2026-05-20</td><td>已回复</td></tr>
<tr><td><a href="/hdjl/m5.html">学位咨询</a></td><td>2024-03-01</td><td>2024-03-02</td><td>已回复</td></tr>
</table>"""


def test_unanswered_messages_in_a_table(tmp_path):
    findings, base, _ = crawl(tmp_path, base_site(**{"/hdjl/": gov_page("咨询留言", MESSAGE_TABLE)}))
    got = {f.url.removeprefix(base): f for f in of(findings, "interaction.unanswered")}
    assert set(got) == {"/hdjl/m1.html", "/hdjl/m4.html"}
    m1 = got["/hdjl/m1.html"]
    assert m1.severity == "veto" and m1.found_on == [base + "/hdjl/"]
    assert m1.evidence == {"asked": "2026-07-01", "replied": None, "status": "处理中", "days": 148, "max_days": 92}
    assert "148天" in m1.message and "92天" in m1.message
    assert got["/hdjl/m4.html"].evidence["replied"] == "2026-05-20" and got["/hdjl/m4.html"].evidence["days"] == 107
    assert of(findings, "interaction.slow_reply") == []


def test_list_rows_with_labels_and_a_message_page(tmp_path):
    rows = ("<ul>"
            "<li><a href='/hdjl/a.html'>噪音扰民</a> 留言时间：2026-03-02 回复时间：2026-03-03</li>"
            "<li><a href='/hdjl/b.html'>道路积水</a> 留言时间：2026-05-04 状态：未回复</li>"
            "<li><a href='/hdjl/c.html'>社保转移</a> 提问时间：2025-06-01 状态：未答复</li>"
            "<li><a href='/hdjl/d.html'>公园开放</a> 留言时间：2024-01-05 状态：未回复</li>"
            "</ul>")
    detail = gov_page("来信详情", "<h1>关于小区停车的咨询</h1><p>来信时间：2026-06-01</p><p>状态：待回复</p>")
    findings, base, _ = crawl(tmp_path, base_site(**{"/hdjl/": gov_page("咨询留言", rows),
                                                     "/hdjl/e.html": detail},
                                                  **{"/": column_page("首页", [("/hdjl/", "在线咨询"),
                                                                               ("/hdjl/e.html", "停车"),
                                                                               ("/bsfw/", "办事服务")])}))
    got = {f.url.removeprefix(base): f.evidence["days"] for f in of(findings, "interaction.unanswered")}
    # 2025-06-01 unanswered: overdue since 2025-09 and still overdue within the last year; 2024-01-05 too
    assert got == {"/hdjl/b.html": 206, "/hdjl/c.html": 543, "/hdjl/d.html": 1056, "/hdjl/e.html": 178}


def test_recent_or_old_answered_messages_are_compliant(tmp_path):
    table = MESSAGE_TABLE.split("<tr><td><a href=\"/hdjl/m1.html\">")[0] + (
        "<tr><td><a href='/hdjl/n1.html'>新留言</a></td><td>2026-10-01</td><td></td><td>处理中</td></tr>"
        "<tr><td><a href='/hdjl/n2.html'>旧留言</a></td><td>2025-01-02</td><td>2025-06-30</td><td>已回复</td></tr>"
        "<tr><td><a href='/hdjl/n3.html'>已办</a></td><td>2026-01-05</td><td>2026-01-09</td><td>已回复</td></tr>"
        "</table>")
    findings, _, _ = crawl(tmp_path, base_site(**{"/hdjl/": gov_page("咨询留言", table)}))
    assert of(findings, "interaction.unanswered") == [] and of(findings, "interaction.slow_reply") == []


def test_slow_reply_counts_working_days_of_the_official_calendar(tmp_path):
    table = ("<table><tr><th>标题</th><th>提问时间</th><th>答复时间</th></tr>"
             "<tr><td><a href='/hdjl/s1.html'>慢</a></td><td>2026-11-02</td><td>2026-11-10</td></tr>"   # Mon -> Tue+1w
             "<tr><td><a href='/hdjl/s2.html'>快</a></td><td>2026-11-06</td><td>2026-11-13</td></tr>"   # Fri -> Fri
             "<tr><td><a href='/hdjl/s3.html'>国庆</a></td><td>2026-09-30</td><td>2026-10-09</td></tr>"  # 7 weekdays, 2 worked
             "</table>")
    findings, base, _ = crawl(tmp_path, base_site(**{"/hdjl/": gov_page("咨询留言", table)}))
    [f] = of(findings, "interaction.slow_reply")
    assert f.url == base + "/hdjl/s1.html" and f.severity == "warn"
    assert f.evidence["working_days"] == 6 and f.evidence["max_working_days"] == 5
    assert "按国务院节假日安排计" in f.message and f.evidence["calendar"] == "State Council holiday arrangement"
    assert working_days_between(dt.date(2026, 11, 6), dt.date(2026, 11, 13)) == (5, [])
    assert working_days_between(dt.date(2026, 11, 7), dt.date(2026, 11, 9)) == (1, [])
    assert working_days_between(dt.date(2026, 9, 30), dt.date(2026, 10, 9)) == (2, [])     # 国庆/中秋 off
    assert working_days_between(dt.date(2026, 9, 19), dt.date(2026, 9, 20)) == (1, [])     # a Sunday worked (调休)


def test_a_year_without_a_known_holiday_arrangement_is_counted_monday_to_friday_and_said_so(tmp_path):
    table = ("<table><tr><th>标题</th><th>提问时间</th><th>答复时间</th></tr>"
             "<tr><td><a href='/hdjl/s1.html'>跨年</a></td><td>2026-12-28</td><td>2027-01-06</td></tr>"
             "</table>")
    findings, _, _ = crawl(tmp_path, base_site(**{"/hdjl/": gov_page("咨询留言", table)}), as_of=dt.date(2027, 1, 20))
    [f] = of(findings, "interaction.slow_reply")
    assert f.evidence["working_days"] == 7                    # 12-29..31 on the official calendar, 2027-01-01..06 Mon-Fri: 3 + 4
    assert "2027年节假日安排未知，按周一至周五计" in f.message and "2027" in f.evidence["calendar"]


# -- V5 服务不实用 ----------------------------------------------------------------------------------------

COMPLETE_GUIDE = """<h1>居住证签注办事指南</h1><table>
<tr><th>事项名称</th><td>居住证签注</td></tr><tr><th>设定依据</th><td>《居住证暂行条例》</td></tr>
<tr><th>受理条件</th><td>持有居住证</td></tr><tr><th>申请材料</th><td>居住证原件</td></tr>
<tr><th>受理地点</th><td>西区行政服务中心</td></tr><tr><th>实施机构</th><td>公安分局</td></tr>
<tr><th>收费标准</th><td>不收费</td></tr><tr><th>办理时间</th><td>工作日</td></tr>
<tr><th>咨询电话</th><td>0760-88776655</td></tr><tr><th>办理程序</th><td>申请、受理、办结</td></tr></table>"""


def thin_guide(name: str) -> str:
    return gov_page(f"{name}办事指南", f"<h1>{name}办事指南</h1><p>办理地点：西区行政服务中心。</p>"
                                      "<p>联系电话：0760-88776655。</p><p>请携带身份证前往办理。</p>")


def guide_site(n_thin: int) -> dict[str, Answer]:
    names = ["医保参保", "灵活就业", "残疾人补贴", "优待证", "老年证", "低保申请"][:n_thin]
    links = [(f"/bszn/g{i}.html", f"{n}办事指南") for i, n in enumerate(names)] + [("/bszn/full.html", "居住证签注")]
    pages = {f"/bszn/g{i}.html": thin_guide(n) for i, n in enumerate(names)}
    pages["/bszn/full.html"] = gov_page("居住证签注办事指南", COMPLETE_GUIDE)
    pages["/bsfw/"] = column_page("办事指南", links)
    return base_site(**pages)


def test_incomplete_guides_and_the_veto(tmp_path):
    findings, base, _ = crawl(tmp_path, guide_site(5))
    incomplete = of(findings, "service.guide_incomplete")
    assert len(incomplete) == 5 and all(f.severity == "warn" for f in incomplete)
    assert all(f.url.startswith(base + "/bszn/g") for f in incomplete)
    assert incomplete[0].evidence["missing"] == ["事项名称", "设定依据", "申请条件", "办理材料", "办理机构",
                                                 "收费标准", "办理时间", "办理流程"]
    [veto] = of(findings, "veto.service_guides")
    assert veto.severity == "veto" and veto.evidence["guides"] == 5 and len(veto.found_on) == 5


def test_four_thin_guides_stay_below_the_veto_and_the_threshold_is_configurable(tmp_path):
    findings, _, _ = crawl(tmp_path, guide_site(4))
    assert len(of(findings, "service.guide_incomplete")) == 4 and of(findings, "veto.service_guides") == []
    findings, _, _ = crawl(tmp_path, guide_site(2), overrides={"veto.service_guides": {"threshold": {"min_guides": 2}}})
    assert of(findings, "veto.service_guides")[0].evidence["min_guides"] == 2


def test_complete_guide_with_synonyms_and_the_column_page_are_compliant(tmp_path):
    findings, _, checks = crawl(tmp_path, guide_site(0))
    assert of(findings, "service.guide_incomplete") == [] and of(findings, "veto.service_guides") == []
    assert [g.url.rsplit("/", 1)[1] for g in checks.get(Services).guides.values()] == ["full.html"]


def test_no_service_entry_is_a_veto(tmp_path):
    nav = '<div class="nav"><a href="/">首页</a> <a href="/hdjl/">在线咨询</a></div>'
    routes = {"/": Answer(body=gov_page("首页", "<p>欢迎</p>", nav=nav)),
              "/hdjl/": Answer(body=gov_page("在线咨询", "<p>留言</p>", nav=nav))}
    findings, base, _ = crawl(tmp_path, routes)
    [f] = of(findings, "service.none")
    assert f.severity == "veto" and f.url == base + "/"


# -- V6 严重问题 -----------------------------------------------------------------------------------------

def test_misstatement_is_reported_with_context(tmp_path):
    text = "深入学习贯彻习近平新时代中国特色社会主意思想，热烈庆祝中华人民 共合国成立77周年。"
    findings, base, _ = crawl(tmp_path, base_site(**{"/gzdt/t20261120_1.html": article("会议", ARTICLE_BODY + text)}))
    got = {f.evidence["entry"]: f for f in of(findings, "security.misstatement")}
    assert set(got) == {"misstatement.xi_thought", "misstatement.prc_name"}
    f = got["misstatement.prc_name"]
    assert f.severity == "review" and f.url == base + "/gzdt/t20261120_1.html"
    assert f.evidence["matched"] == "中华人民共合国" and f.evidence["right"] == "中华人民共和国"
    assert "热烈庆祝中华人民共合国成立" in f.evidence["context"][0]
    assert "待人工核实" in f.message


def test_right_forms_are_not_misstatements(tmp_path):
    text = ("深入学习贯彻习近平新时代中国特色社会主义思想，增强政治意识、大局意识、核心意识、看齐意识，"
            "坚定道路自信、理论自信、制度自信、文化自信，学习二十届三中全会精神，中华人民共和国成立77周年。")
    findings, _, _ = crawl(tmp_path, base_site(**{"/gzdt/t20261120_1.html": article("会议", ARTICLE_BODY + text)}))
    assert of(findings, "security.misstatement") == []


def test_dictionary_entries_are_documented_and_never_inside_their_right_form():
    rs = load_rules()
    entries = [r for r in rs.rules if r.id.startswith("misstatement.")]
    assert len(entries) >= 10
    for e in entries:
        assert e.keywords["wrong"] and e.keywords["right"] and e.note and e.severity == "review"
        for wrong in e.keywords["wrong"]:
            assert all(wrong not in right for right in e.keywords["right"]), (e.id, wrong)
    assert "SAMPLE" in rs.packs[[p.id for p in rs.packs].index("misstatements")].path.read_text(encoding="utf-8")


def test_an_empty_dictionary_is_an_error_not_silence():
    off = {r.id: {"enabled": False} for r in load_rules().rules if r.id.startswith("misstatement.")}
    with pytest.raises(ConfigError, match="security.misstatement"):
        PageChecks(load_rules(overrides=off), SiteConfig(), ["http://127.0.0.1/"])
    off["security.misstatement"] = {"enabled": False}
    PageChecks(load_rules(overrides=off), SiteConfig(), ["http://127.0.0.1/"])


HIDDEN = gov_page("首页", (
    "<p>欢迎访问</p>"
    '<div style="display:none"><a href="http://casino-bet.example.com/">博彩</a></div>'
    '<div style="position:absolute; left:-9999px; top:0"><a href="https://pills.example.net/a">药品</a></div>'
    '<span class="hid"><a href="http://loan.example.org/">贷款</a></span>'
    '<p><a href="http://tiny.example.com/" style="font-size:0px">x</a></p>'
    '<div style="height:0;overflow:hidden"><a href="http://zero.example.com/">零高</a></div>'
), head="<style>.hid{visibility:hidden}</style>")
VISIBLE = gov_page("首页", (
    '<p><a href="http://www.example.com/">合作单位</a></p>'
    '<div style="display:none"><a href="http://www.gd.gov.cn/">广东省人民政府</a>'
    '<a href="http://service.weibo.com/share">分享到微博</a><a href="/local.html">本站</a></div>'
    '<div style="position:absolute;left:-20px"><a href="http://near.example.com/">浮动</a></div>'))


def test_hidden_links_to_foreign_hosts():
    findings, base, _ = feed({"/": Answer(body=HIDDEN)}, ["/"])
    [f] = of(findings, "security.hidden_link")
    assert f.severity == "review" and f.url == base + "/" and f.evidence["count"] == 5
    reasons = {x["href"]: x["hidden_by"] for x in f.evidence["links"]}
    assert reasons["http://casino-bet.example.com/"] == "display:none"
    assert reasons["https://pills.example.net/a"] == "position:absolute;left:-9999px"
    assert reasons["http://loan.example.org/"].startswith(".hid")
    assert reasons["http://tiny.example.com/"] == "font-size:0px"
    assert reasons["http://zero.example.com/"] == "height:0;overflow:hidden"


def test_visible_gov_allowed_and_slightly_offset_links_are_not_hidden_links():
    findings, _, _ = feed({"/": Answer(body=VISIBLE)}, ["/"])
    assert of(findings, "security.hidden_link") == []
    assert hiding_reason("display: block; color: red", 500) is None
    assert hiding_reason("font-size:0.8em", 500) is None
    assert hiding_reason("visibility:hidden !important", 500) == "visibility:hidden"


def test_duplicate_article_bodies(tmp_path):
    extra = {"/tzgg/t20261121_7.html": article("另一标题", ARTICLE_BODY),
             "/gzdt/t20261122_8.html": article("不同文章", ARTICLE_BODY.replace("安全生产", "森林防火")),
             "/gzdt/t20261123_9.html": article("短文", "短文内容。"),
             "/": column_page("首页", [("/gzdt/t20261120_1.html", "会议"), ("/tzgg/t20261121_7.html", "另一"),
                                       ("/gzdt/t20261122_8.html", "不同"), ("/gzdt/t20261123_9.html", "短文"),
                                       ("/hdjl/", "在线咨询"), ("/bsfw/", "办事服务")])}
    findings, base, _ = crawl(tmp_path, base_site(**extra))
    [f] = of(findings, "security.duplicate_content")
    assert f.severity == "review"
    assert sorted(u.removeprefix(base) for u in f.evidence["urls"]) == ["/gzdt/t20261120_1.html",
                                                                       "/tzgg/t20261121_7.html"]
    assert f.evidence["count"] == 2 and f.evidence["chars"] >= 200


def test_same_item_under_two_paths_is_not_a_duplicate(tmp_path):
    extra = {"/gkmlpt/content/0/1/t20261120_1.html": article("安全生产工作会议"),
             "/gzdt/": column_page("工作动态", [("/gzdt/t20261120_1.html", "会议"),
                                               ("/gkmlpt/content/0/1/t20261120_1.html", "会议（目录）")])}
    findings, _, checks = crawl(tmp_path, base_site(**extra))
    assert checks.pages == 8 and of(findings, "security.duplicate_content") == []


# -- site identity --------------------------------------------------------------------------------------

def test_missing_marks_are_aggregated_per_mark(tmp_path):
    bare = '<div class="footer"><p>版权所有</p></div>'
    routes = base_site(**{"/lxwm.html": gov_page("联系我们", "<p>地址</p>", footer=bare),
                          "/gzdt/": gov_page("工作动态", "<ul>" + "".join(
                              f"<li><a href='/gzdt/t20261120_1.html?x={i}'>x</a></li>" for i in range(5)) + "</ul>",
                              column="工作动态", footer=bare.replace("版权所有", "主办单位：西区办事处"))})
    findings, base, _ = crawl(tmp_path, routes)
    got = {f.extra["item"]: f for f in of(findings, "identity.mark_missing")}
    assert set(got) == {"site_id", "icp", "psb", "conac", "host"}
    assert got["site_id"].evidence["pages_missing"] == 2
    assert sorted(got["site_id"].found_on) == [base + "/gzdt/", base + "/lxwm.html"]
    assert got["host"].found_on == [base + "/lxwm.html"]      # the column page names 主办单位
    assert "2/" in got["icp"].message and "ICP备案号" in got["icp"].message


def test_meta_tags_by_page_kind(tmp_path):
    routes = base_site(**{"/gzdt/t20261120_1.html": article("会议", PubDate=None, ContentSource=None),
                          "/gzdt/": column_page("工作动态", [(f"/gzdt/gone{i}.html", "会议") for i in range(5)]).replace(
                              '<meta name="ColumnName" content="工作动态">', "").replace(
                              '<meta name="SiteDomain" content="www.zs.gov.cn">', "")})
    findings, base, _ = crawl(tmp_path, routes)
    got = {f.extra["item"]: f for f in of(findings, "identity.meta_missing")}
    assert set(got) == {"PubDate", "ContentSource", "SiteDomain", "ColumnName"}
    assert got["PubDate"].found_on == [base + "/gzdt/t20261120_1.html"]
    assert got["ColumnName"].found_on == [base + "/gzdt/"] and got["SiteDomain"].found_on == [base + "/gzdt/"]


def test_inconsistent_site_id(tmp_path):
    other = article("会议").replace(f'content="{SITE_ID}"', 'content="4420000099"')
    findings, _, _ = crawl(tmp_path, base_site(**{"/gzdt/t20261120_1.html": other}))
    [f] = of(findings, "identity.inconsistent")
    assert set(f.evidence["values"]) == {SITE_ID, "4420000099"}
    assert f.evidence["values"]["4420000099"]["pages"] == 1


def test_domain_https_and_notes():
    findings, _, checks = feed(base_site(), ["/"], start="http://www.xiqu-zs.com/")
    [d] = of(findings, "identity.domain")
    assert d.evidence["host"] == "www.xiqu-zs.com" and ".gov.cn" in d.message
    assert of(findings, "identity.https")[0].evidence["http_start_urls"] == ["http://www.xiqu-zs.com/"]
    findings, _, checks = feed(base_site(), ["/"], start="https://www.zs.gov.cn/xqbsc/",
                               as_url=lambda u: u.replace("http://", "https://"))
    assert of(findings, "identity.domain") == [] and of(findings, "identity.https") == []
    assert checks.notes == []


def test_mixed_content_on_https_pages():
    routes = base_site(**{"/": gov_page("首页", '<img src="http://img.zs.gov.cn/a.png"><script src="/app.js"></script>'
                                              '<a href="http://www.gd.gov.cn/">链接不算</a>'),
                          "/ok.html": gov_page("无混合", '<img src="/b.png"><img src="https://img.zs.gov.cn/c.png">')})
    findings, base, _ = feed(routes, ["/", "/ok.html"], start="https://www.zs.gov.cn/",
                             as_url=lambda u: u.replace("http://", "https://"))
    [f] = of(findings, "identity.mixed_content")
    assert f.evidence["pages"] == 1 and f.evidence["examples"][0]["resource"] == "http://img.zs.gov.cn/a.png"
    assert f.url.endswith("/") and not f.url.endswith("ok.html")


# -- robustness -----------------------------------------------------------------------------------------

def test_memory_does_not_grow_with_page_bodies():
    checks = PageChecks(load_rules(), SiteConfig(), ["https://www.zs.gov.cn/"])
    filler = "".join(f"<p>第{i}段：" + "政务公开内容" * 40 + "</p>" for i in range(60))     # ~ 90 KB per page

    def one(i: int) -> None:
        url = f"https://www.zs.gov.cn/gzdt/t20261120_{i}.html"
        html = gov_page(f"文章{i}", f"<h1>文章{i}</h1><div class='view'>{filler}<p>编号{i}</p></div>")
        checks.on_page(url, html, parse_html(html, url))

    one(0)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(1, 101):
        one(i)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 200 * 1024, grown          # 100 pages of ~90 KB: a few hundred bytes of facts each


def test_page_checks_take_the_tree_parse_html_left_unchanged():
    html = gov_page("x", "<style>.a{display:none}</style><p>可见<script>var s = 1;</script>文字</p>")
    parsed = parse_html(html, "http://127.0.0.1/a.html")
    assert "var s" not in parsed.text_sample and "可见文字" in parsed.text_sample
    assert "var s = 1;" in lxml.html.tostring(parsed.doc, encoding=str)
    checks = PageChecks(load_rules(), SiteConfig(), ["http://127.0.0.1/"])
    checks.on_page("http://127.0.0.1/a.html", html, parsed)
    assert parsed.doc is None and checks.pages == 1


def test_a_broken_check_never_stops_the_crawl(tmp_path, monkeypatch):
    def boom(self, view, early):
        raise RuntimeError("boom")

    monkeypatch.setattr(Services, "on_main", boom)
    checks = PageChecks(load_rules(), SiteConfig(), ["http://127.0.0.1/"])
    parsed = parse_html(gov_page("x"), "http://127.0.0.1/")
    asyncio.run(checks.page_hook("http://127.0.0.1/", gov_page("x"), parsed, 1))
    assert checks.errors == [("http://127.0.0.1/", "RuntimeError: boom")]
    # the page is read again next scan (no facts stored); the other checks still took it in
    assert parsed.volatile and "checks" not in parsed.facts
    assert checks.get(Services).pages == 0 and checks.get(Interaction).pages == 1 and checks.pages == 1


def test_page_view_reads_text_in_document_order_without_scripts():
    from sitewatch.rules._page import PageView

    html = ("<html><head><title>T</title><style>p{}</style></head><body><div><p>问<b>题</b></p>：答复<!-- c -->内容"
            "<script>var x = '隐藏';</script><noscript><p>请启用脚本</p></noscript>完</div>"
            "<div class='footer'>版权所有</div></body></html>")
    url = "http://127.0.0.1/a/t20260101_1.html"
    view = PageView.build(url, html, parse_html(html, url))
    assert view.text == "问 题 ：答复 内容 完 版权所有"
    assert "<script>" in lxml.html.tostring(view.doc, encoding=str) and "隐藏" in lxml.html.tostring(view.doc, encoding=str)
    view.strip()
    assert view.main_text == "问 题 ：答复 内容 完"
