"""Precision on real page shapes: each false finding seen on real portals, with its must-report twin.

The pages imitate the shape of real portal pages (TRS/Fujian article pages: meta tags, the column name as the
<title>, the article title in a div, a 当前位置 breadcrumb, a body of 详见附件。 and one attachment; a 信息公开
指南 column page; nginx and CMS error pages; procurement notices), written here by hand.
"""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import SHARED, scan_site
from loopback import Answer, LoopbackSite, page

from sitewatch.crawl.fetch import FetchResult
from sitewatch.crawl.verdict import BROKEN, OK, judge
from sitewatch.extract import parse_html

SITE_ID = "4420000045"


def trs_article(title: str, *, column: str = "工作动态", crumbs: tuple[str, ...] = ("首页", "政务公开"),
                body: str = "<p>详见附件。</p>", attachment: str | None = None, pub: str = "2026-11-20 09:30",
                docno: str | None = None, title_tag: str = "column", home: str = "/s/") -> str:
    """A TRS/Fujian article page: <title> is the column name (``title_tag="article"``: the article title and the
    site, as on 洪山区's TRS site), the article title sits in div.article_title."""
    head_title = f"\n\t\t{column}_\n\t\t中山市西区办事处\n\t" if title_tag == "column" else f"{title} - 中山市西区办事处门户网站"
    trail = "".join(f'<li><a href="{home}" title="{c}">{c}</a></li>' for c in (*crumbs, column))
    att = f'<ul class="fj"><li><a href="./P020261120549903987969.pdf">{attachment}</a></li></ul>' if attachment else ""
    meta_docno = (f'<div class="xxgk_info"><span>文　号：</span><span>{docno}</span></div>' if docno else "")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f'<meta name="SiteName" content="中山市西区办事处"/><meta name="SiteDomain" content="www.zs.gov.cn"/>'
        f'<meta name="SiteIDCode" content="{SITE_ID}"/><meta name="ColumnName" content="{column}"/>'
        f'<meta name="ArticleTitle" content="{title}"/><meta name="PubDate" content="{pub}"/>'
        f'<meta name="ContentSource" content="西区办事处"/>'
        f"<title>{head_title}</title></head><body>"
        f'<div class="header"><ul class="nav"><li><a href="{home}">首页</a></li></ul></div>'
        '<div class="breadcrumb" role="navigation" des="当前位置"><span>当前位置：</span>'
        f"<ul>{trail}</ul></div>"
        f'<div class="article_component"><div class="article_title text_align_center">{title}</div>'
        f'<div class="article_attr"><span>发布时间：{pub}</span>{meta_docno}</div>'
        f'<div class="article_area"><div class="TRS_Editor">{body}</div></div>{att}</div>'
        '<div class="footer"><p>主办单位：中山市西区办事处 网站标识码：' + SITE_ID + "</p></div>"
        "</body></html>")


def verdict_of(html: str, url: str = "http://127.0.0.1/s/t.html"):
    parsed = parse_html(html, url)
    return judge(FetchResult(url=url, status=200, final_url=url, content_type="text/html", body=html.encode()),
                 title=parsed.title, text_len=parsed.text_len, text_sample=parsed.text_sample,
                 refresh=parsed.refresh)


# ---------------------------------------------------------------- soft 404: phrases, never a number

NUMBERED_ARTICLES = {
    "/s/jb/t20261120_404.html": trs_article("西区街道工作简报（第404期）", column="工作简报", title_tag="article"),
    "/s/tz/t20240404_404123.html": trs_article("关于西区2024040401号议案办理情况的通报", column="通知公告", title_tag="article"),
    "/s/gb/404.html": trs_article("404路公交线路调整公告", column="公示公告", title_tag="article"),
}
ERROR_PAGES = {
    "/s/gone1.html": "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center>"
                     "<hr><center>nginx</center></body></html>",
    "/s/gone2.html": page("页面不存在", '<div class="error"><p>抱歉，您访问的页面不存在或已被删除！</p>'
                                       '<a href="/">返回首页</a></div>'),
    "/s/gone3.html": page("中山市西区办事处", "<div class='err'><h2>HTTP 404 错误</h2><p>请检查网址是否正确。</p></div>"),
    "/s/gone4.html": page("404", "<div><img src='/images/404.png'><p>返回首页</p></div>"),
}


@pytest.mark.parametrize("path", sorted(NUMBERED_ARTICLES))
def test_a_number_containing_404_is_not_a_soft_404(path):
    assert verdict_of(NUMBERED_ARTICLES[path]).verdict == OK


@pytest.mark.parametrize("path", sorted(ERROR_PAGES))
def test_error_phrases_stay_soft_404s(path):
    v = verdict_of(ERROR_PAGES[path])
    assert (v.verdict, v.reason) == (BROKEN, "soft404")


def test_soft_404_through_a_scan(db):
    links = "".join(f'<a href="{p}">{p}</a>' for p in (*NUMBERED_ARTICLES, *ERROR_PAGES))
    routes = {"/s/": Answer(body=page("首页", links))}
    routes.update({p: Answer(body=html) for p, html in {**NUMBERED_ARTICLES, **ERROR_PAGES}.items()})
    with LoopbackSite(routes) as site:
        result, _ = scan_site(site.url("/s/"), db)
    broken = {f.url: f for f in result.findings if f.rule == "link.broken"}
    assert set(broken) == {site.url(p) for p in ERROR_PAGES}
    assert all(f.evidence.get("error") == "soft404" for f in broken.values())


# ---------------------------------------------------------------- 信息公开指南 as a standalone page; guessed URLs

REAL_PAGES = SHARED / "real-pages"
GKZN = REAL_PAGES / "hd.gov.cn-jsp-derived" / "gkzn.jsp.html"
AS_OF = dt.date(2026, 11, 26)


def guide_items(findings):
    return [f for f in findings if f.rule.startswith("disclosure.") and f.extra.get("item") == "disclosure_guide"]


def gkzn_shape(site_name: str = "邯郸市人民政府") -> str:
    """The hd.gov.cn 指南 page shape: ColumnName/ColumnType meta, <title>site-政府信息公开指南, a department list."""
    depts = "".join(f'<li><a href="./{i}/">{n}</a></li>' for i, n in enumerate(("市发展和改革委员会", "市教育局", "市公安局")))
    return ("<html><head><meta charset='utf-8'>"
            f'<meta name="SiteName" content="{site_name}"><meta name="ColumnName" content="政府信息公开指南">'
            '<meta name="ColumnType" content="信息公开指南">'
            f"<title>{site_name}-政府信息公开指南</title></head><body>"
            '<div class="zwxxgk_left"><h3><a href="./">公开指南</a></h3></div>'
            f'<div class="zwxxgk_right"><div class="bm_list"><ul>{depts}</ul></div></div></body></html>')


def xxgk_home(nav_guide: bool) -> str:
    """An 信息公开 home: left navigation (指南/制度/法定主动公开内容/年报) and a dated list block."""
    nav = ['<li><a href="/s/zfxxgkzd/">政府信息公开制度</a></li>', '<li><a href="/s/fdzdgknr/">法定主动公开内容</a></li>',
           '<li><a href="/s/zfxxgknb/">政府信息公开年报</a></li>']
    if nav_guide:
        nav.insert(0, '<li><a href="/s/zfxxgkzn/">政府信息公开指南</a></li>')
    rows = '<li><a href="/s/zfwj/202611/t20261120_1.html">关于做好冬季安全生产工作的通知</a><span>2026-11-20</span></li>'
    return page("邯郸市人民政府信息公开", f'<div class="left_nav"><ul>{"".join(nav)}</ul></div>'
                                         f'<div class="jqxxgk"><ul>{rows}</ul></div>')


def run(db, routes, start="/s/"):
    with LoopbackSite(routes) as site:
        result, _ = scan_site(site.url(start), db, as_of=AS_OF)
    return result.findings, site


def test_guide_page_linked_from_the_navigation_is_found(db):
    routes = {"/s/": Answer(body=xxgk_home(True)), "/s/zfxxgkzn/": Answer(body=gkzn_shape()),
              "/s/zfwj/202611/t20261120_1.html": Answer(body=trs_article("关于做好冬季安全生产工作的通知"))}
    findings, _ = run(db, routes)
    assert guide_items(findings) == []


def test_no_guide_anywhere_is_missing(db):
    routes = {"/s/": Answer(body=xxgk_home(False)),
              "/s/zfwj/202611/t20261120_1.html": Answer(body=trs_article("关于做好冬季安全生产工作的通知"))}
    findings, _ = run(db, routes)
    [f] = guide_items(findings)
    assert f.rule == "disclosure.missing" and f.evidence["found_url"] is None


def test_a_navigation_link_to_a_missing_guide_does_not_count(db):
    routes = {"/s/": Answer(body=xxgk_home(True)),
              "/s/zfwj/202611/t20261120_1.html": Answer(body=trs_article("关于做好冬季安全生产工作的通知"))}
    findings, site = run(db, routes)
    [f] = guide_items(findings)
    assert f.rule == "disclosure.missing"
    [broken] = [f for f in findings if f.rule == "link.broken" and f.url == site.url("/s/zfxxgkzn/")]
    assert broken.found_on == [site.url("/s/")]


@pytest.mark.skipif(not GKZN.is_file(), reason="../shared/real-pages is not present")
def test_real_hd_guide_page_reached_only_by_a_link_without_guide_words_is_found(db):
    """The real 邯郸 指南 page (ColumnName 政府信息公开指南), reached by a link reading only 指南."""
    home = page("信息公开", '<div class="left_nav"><a href="/zfxxgkzn/">指南</a></div>')
    routes = {"/": Answer(body=home), "/zfxxgkzn/": Answer(body=GKZN.read_text(encoding="utf-8"))}
    findings, site = run(db, routes, start="/")
    assert guide_items(findings) == []


def test_guide_found_evidence_is_the_page_and_its_title():
    from sitewatch.models import ListItem
    from sitewatch.packs import load_rules
    from sitewatch.rules.disclosures import OK as DOK
    from sitewatch.rules.disclosures import assess_item

    rs = load_rules()
    item = rs.item("disclosure_guide")
    page_item = ListItem(title="邯郸市人民政府-政府信息公开指南", url="http://hdzfxxgk.hd.gov.cn/zfxxgkzn/")
    a = assess_item(item, [page_item], AS_OF)
    assert a.status == DOK and (a.found.url, a.found.text) == (page_item.url, page_item.title)
    news = ListItem(title="区政务服务中心发布办事指南", url="http://x/t.html")
    assert assess_item(item, [news], AS_OF).status != DOK


GK_TREE = "[{id: 1, name: '政府文件', parent: 0, children: [{id: 2, name: '其他文件', parent: 1, children: []}]}]"


def gkmlpt_site(guide: Answer | None, *, linked: bool = False) -> dict[str, Answer]:
    """A Guangdong 镇街 sub-site: homepage, the JavaScript-only gkmlpt catalogue, its JSON API, one document."""
    header = '<a href="guide">政府信息公开指南</a>' if linked else ""
    index = page("政府信息公开目录", f'<div class="gkml_top"><h2>政府信息公开目录</h2>{header}</div>'
                                     '<div class="gkml_tree" id="tree"></div>'
                                     f"<script>window._CONFIG = {{SID: '759001', TREE: {GK_TREE}}};</script>")
    doc_url = "/zsxq/gkmlpt/content/0/1/post_1.html"
    api = ('{"articles": [{"id": 1, "title": "关于做好冬季安全生产工作的通知", "url": "%s", '
           '"display_publish_time": "2026-11-20 09:30:00", "document_number": "", "attachment": []}], '
           '"classify": {"id": 2, "name": "其他文件", "post_count": 1}, "page": 1, "total": 1}')
    routes = {"/zsxq/": Answer(body=page("西区办事处", '<a href="/zsxq/gkmlpt/index">政府信息公开目录</a>')),
              "/zsxq/gkmlpt/index": Answer(body=index),
              doc_url: Answer(body=trs_article("关于做好冬季安全生产工作的通知", column="其他文件", home="/zsxq/"))}
    routes["__api__"] = api  # the API answer, completed with the document's absolute URL by run_gkmlpt
    if guide is not None:
        routes["/zsxq/gkmlpt/guide"] = guide
    return routes


def run_gkmlpt(db, routes):
    api = routes.pop("__api__")
    with LoopbackSite(routes) as site:
        site.routes["/zsxq/gkmlpt/api/all/2"] = Answer(body=api % site.url("/zsxq/gkmlpt/content/0/1/post_1.html"),
                                                      content_type="application/json")
        result, store = scan_site(site.url("/zsxq/"), db, as_of=AS_OF)
    return result.findings, site, store


def test_a_guessed_gkmlpt_guide_that_404s_is_a_probe_not_a_broken_link(db):
    findings, site, store = run_gkmlpt(db, gkmlpt_site(None))
    from sitewatch.store import TargetRow
    with store.engine.connect() as c:        # the guide was probed, and answered 404
        verdicts = {r.url: r.verdict for r in c.execute(TargetRow.select())}
    assert verdicts[site.url("/zsxq/gkmlpt/guide")] == "broken"
    assert [f for f in findings if f.rule == "link.broken"] == []
    [missing] = guide_items(findings)
    assert missing.rule == "disclosure.missing"
    assert missing.evidence["probed"] == [{"url": site.url("/zsxq/gkmlpt/guide"), "status": 404}]
    assert "已探测" in missing.message


def test_a_guide_link_that_was_not_followed_measures_nothing(db):
    """robots.txt keeps the crawler off the guide: its link text alone does not make the guide found."""
    routes = {"/robots.txt": Answer(body="User-agent: *\nDisallow: /s/zfxxgkzn/\n", content_type="text/plain"),
              "/s/": Answer(body=xxgk_home(True)), "/s/zfxxgkzn/": Answer(body=gkzn_shape()),
              "/s/zfwj/202611/t20261120_1.html": Answer(body=trs_article("关于做好冬季安全生产工作的通知"))}
    findings, _ = run(db, routes)
    [f] = guide_items(findings)
    assert f.rule == "disclosure.missing" and "probed" not in f.evidence


def test_a_linked_gkmlpt_guide_that_404s_is_a_broken_link(db):
    findings, site, _ = run_gkmlpt(db, gkmlpt_site(None, linked=True))
    [broken] = [f for f in findings if f.rule == "link.broken"]
    assert broken.url == site.url("/zsxq/gkmlpt/guide") and broken.found_on == [site.url("/zsxq/gkmlpt/index")]


def test_a_guessed_gkmlpt_guide_that_exists_is_found_by_its_title(db):
    guide = Answer(body=page("中山市西区办事处政府信息公开指南（2026年）",
                             "<h2>中山市西区办事处政府信息公开指南</h2><p>一、主动公开</p><p>二、依申请公开</p>"))
    findings, _, _ = run_gkmlpt(db, gkmlpt_site(guide))
    assert guide_items(findings) == [] and [f for f in findings if f.rule == "link.broken"] == []


# ---------------------------------------------------------------- procurement notices are not budgets

PROCUREMENT_TITLES = [
    "西区街道办事处2026年度部门预算审核服务的比价公告",
    "西区街道办事处2026年部门预算编制服务采购项目成交公告",
    "中山市西区办事处2025年度部门决算审计服务询价公告",
    "2026年部门预算及“三公”经费预算评审服务竞争性磋商公告",
    "2026年度部门预算绩效评价服务项目招标公告",
    "西区办事处2026年部门预算审核服务项目中标结果公示",
]
BUDGET_TITLES = {
    "2026年度平潭综合实验区行政服务中心部门预算": "budget",
    "XX街道办事处2025年部门决算公开": "final_accounts",
    "2024年部门预算及\"三公\"经费预算": "budget_three_public",
    "西区办事处2026年部门预算（含政府采购预算）": "budget",
}


@pytest.mark.parametrize("title", PROCUREMENT_TITLES)
def test_a_procurement_notice_is_no_budget_or_final_accounts(title):
    from sitewatch.packs import load_rules
    from sitewatch.rules.disclosures import match_years

    rs = load_rules()
    for item_id in ("budget", "budget_three_public", "final_accounts", "final_accounts_three_public"):
        assert match_years(rs.item(item_id), title) is None, (item_id, title)


@pytest.mark.parametrize("title", sorted(BUDGET_TITLES))
def test_real_budget_titles_still_match(title):
    from sitewatch.packs import load_rules
    from sitewatch.rules.disclosures import match_years

    assert match_years(load_rules().item(BUDGET_TITLES[title]), title)


@pytest.mark.skipif(not (REAL_PAGES / "procurement").is_dir(), reason="../shared/real-pages is not present")
@pytest.mark.parametrize("name", ["ccgp.gov.cn_detail.html", "ccgp-hebei.gov.cn_zbgg_detail.html"])
def test_real_procurement_pages_are_no_budget(name):
    from sitewatch.models import ListItem
    from sitewatch.packs import load_rules
    from sitewatch.rules.disclosures import candidate_texts, match_years

    html = (REAL_PAGES / "procurement" / name).read_text(encoding="utf-8")
    parsed = parse_html(html, "http://www.ccgp.gov.cn/cggg/detail.htm")
    atts = [(link.text, link.url) for link in parsed.links if link.url.endswith((".docx", ".pdf", ".doc"))]
    li = ListItem(title=parsed.title, url="http://www.ccgp.gov.cn/cggg/detail.htm", attachments=atts)
    rs = load_rules()
    for text, _ in candidate_texts(li):
        assert all(match_years(rs.item(i), text) is None
                   for i in ("budget", "budget_three_public", "final_accounts", "final_accounts_three_public"))


def budget_site(budget_title: str | None) -> dict[str, Answer]:
    """A 镇街 site: a 政府采购 column with a procurement notice for the budget review, maybe a 部门预算 column."""
    notice = PROCUREMENT_TITLES[0]
    cols = {"/s/zfcg/": ("政府采购", [("/s/zfcg/202602/t20260210_11.html", notice, "2026-02-10")])}
    if budget_title:
        cols["/s/bmys/"] = ("部门预算", [("/s/bmys/202602/t20260202_12.html", budget_title, "2026-02-02")])
    routes = {"/s/": Answer(body=page("西区办事处", "".join(f'<a href="{u}">{n}</a>' for u, (n, _) in cols.items())))}
    for url, (name, rows) in cols.items():
        lis = "".join(f'<li><a href="{h}">{t}</a><span>{d}</span></li>' for h, t, d in rows)
        routes[url] = Answer(body=page(name, f'<div class="list"><ul>{lis}</ul></div>', f'<meta name="ColumnName" content="{name}">'))
        for h, t, d in rows:
            routes[h] = Answer(body=trs_article(t, column=name, pub=f"{d} 10:00", attachment=f"{t}.pdf"))
    return routes


def budget_findings(findings):
    return [f for f in findings if f.rule.startswith("disclosure.") and f.extra.get("item") == "budget"]


def test_scan_a_procurement_notice_does_not_stand_for_the_budget(db):
    findings, _ = run(db, budget_site(None))
    [f] = budget_findings(findings)
    assert f.rule == "disclosure.missing" and f.extra["year"] == 2026 and f.evidence["found_url"] is None


def test_scan_a_real_budget_title_is_the_budget(db):
    findings, _ = run(db, budget_site("2026年度平潭综合实验区行政服务中心部门预算"))
    assert budget_findings(findings) == []


# ---------------------------------------------------------------- 办事指南: a page that presents itself as one

ALL_ELEMENTS = ("<table class='bszn'><tr><td>事项名称</td><td>居住证签注</td></tr><tr><td>设定依据</td><td>《居住证暂行条例》</td></tr>"
                "<tr><td>申请条件</td><td>在本市居住满半年</td></tr><tr><td>申请材料</td><td>居民身份证</td></tr>"
                "<tr><td>办理地点</td><td>西区行政服务中心</td></tr><tr><td>办理机构</td><td>西区派出所</td></tr>"
                "<tr><td>收费标准</td><td>不收费</td></tr><tr><td>办理时间</td><td>工作日 8:30-12:00</td></tr>"
                "<tr><td>咨询电话</td><td>0760-88888888</td></tr><tr><td>办理流程</td><td>受理、审核、办结</td></tr></table>")
THIN = "<p>办理地点：西区行政服务中心一楼。</p><p>咨询电话：0760-88888888。</p><p>收费标准：不收费。</p>"
NEWS_BODY = ("<p>11月20日，西区召开政务服务工作推进会。会议要求各受理机构进一步规范收费标准，公开咨询电话，"
             "优化办理地点布局，提升群众办事体验。</p>" * 3)
SERVICE_PAGES = {
    # must not be judged: they mention elements but do not present themselves as guides
    "/s/gzdt/202611/t20261120_21.html": trs_article("西区召开政务服务工作推进会", column="工作动态", body=NEWS_BODY),
    "/s/tzgg/202611/t20261120_22.html": trs_article("关于调整不动产登记收费标准的公告", column="通知公告",
                                                    body="<p>受理机构：西区不动产登记中心。</p>" + THIN),
    "/s/gzdt/202611/t20261121_23.html": trs_article("我区发布新版办事指南", column="工作动态", body=NEWS_BODY),
    # guides: by ArticleTitle (the <title> is the column), by the 办事指南 column, and a complete one
    "/s/bszn/202611/t20261120_31.html": trs_article("居住证签注办事指南", column="办事指南", body=THIN),
    "/s/bszn/202611/t20261120_32.html": trs_article("出生医学证明补发", column="办事指南", crumbs=("首页", "办事服务"),
                                                    body=THIN),
    "/s/bszn/202611/t20261120_33.html": trs_article("流动人口婚育证明办事指南（2026年版）", column="服务事项",
                                                    body=ALL_ELEMENTS),
}


def test_guides_are_pages_that_present_themselves_as_guides(db):
    links = "".join(f'<a href="{p}">{p}</a>' for p in SERVICE_PAGES)
    routes = {"/s/": Answer(body=page("西区办事处", f"<div>{links}</div>"))}
    routes.update({p: Answer(body=html) for p, html in SERVICE_PAGES.items()})
    findings, site = run(db, routes)
    incomplete = {f.url: f for f in findings if f.rule == "service.guide_incomplete"}
    assert set(incomplete) == {site.url("/s/bszn/202611/t20261120_31.html"), site.url("/s/bszn/202611/t20261120_32.html")}
    assert all(len(f.evidence["missing"]) == 7 for f in incomplete.values())
    assert "居住证签注办事指南" in incomplete[site.url("/s/bszn/202611/t20261120_31.html")].message


# ---------------------------------------------------------------- normative documents by their title form

def policy_site() -> tuple[dict[str, Answer], dict[str, str]]:
    """政策文件, 政策解读 and 工作动态 columns of a 镇街 site; returns the routes and a name -> path map."""
    docs = {   # name: (column, title, date, 文号)
        "measures": ("政策文件", "中山市西区农村集体资产管理办法", "2026-10-10", "中西府〔2026〕12号"),
        "rules_issued": ("政策文件", "关于印发《西区物业管理实施细则》的通知", "2026-10-12", "中西府〔2026〕13号"),
        "campaign": ("政策文件", "关于开展2026年安全生产大检查的通知", "2026-10-14", "中西府〔2026〕14号"),
        "regulatory": ("政策文件", "中山市西区违法建设查处规定", "2026-10-16", "中西府规〔2026〕3号"),
        "interpretation": ("政策解读", "《西区物业管理实施细则》政策解读", "2026-10-12", None),
        "news_rule": ("工作动态", "区政府召开常务会议 研究部署规定动作落实", "2026-11-20", None),
        "news_issued": ("工作动态", "我区出台农村集体资产管理办法", "2026-11-19", None),
    }
    slugs = {"政策文件": "zcwj", "政策解读": "zcjd", "工作动态": "gzdt"}
    paths, cols = {}, {}
    for i, (name, (col, title, date, docno)) in enumerate(docs.items()):
        path = f"/s/{slugs[col]}/{date[:4]}{date[5:7]}/t{date.replace('-', '')}_{40 + i}.html"
        paths[name] = path
        cols.setdefault(col, []).append((path, title, date, docno))
    routes = {"/s/": Answer(body=page("西区办事处", "".join(f'<a href="/s/{slugs[c]}/">{c}</a>' for c in cols)))}
    for col, rows in cols.items():
        lis = "".join(f'<li><a href="{p}">{t}</a><span>{d}</span></li>' for p, t, d, _ in rows)
        routes[f"/s/{slugs[col]}/"] = Answer(body=page(col, f'<div class="list"><ul>{lis}</ul></div>',
                                                       f'<meta name="ColumnName" content="{col}">'))
        for p, t, d, docno in rows:
            routes[p] = Answer(body=trs_article(t, column=col, pub=f"{d} 10:00", docno=docno,
                                                body="<p>" + "各村（社区）、各部门：现将有关事项通知如下。" * 8 + "</p>"))
    return routes, paths


def test_scan_normative_documents_by_title_form_need_an_interpretation(db):
    routes, paths = policy_site()
    findings, site = run(db, routes)
    interp = {f.url: f for f in findings if f.extra.get("item") == "policy_interpretation"}
    assert set(interp) == {site.url(paths["measures"]), site.url(paths["regulatory"])}
    by_title = interp[site.url(paths["measures"])]
    assert (by_title.rule, by_title.severity, by_title.evidence["document_basis"]) == ("disclosure.missing", "review", "title")
    assert "请核实" in by_title.message and "中山市西区农村集体资产管理办法" in by_title.message
    by_number = interp[site.url(paths["regulatory"])]
    assert (by_number.severity, by_number.evidence["document_basis"]) == ("warn", "number")


def test_title_form_unit_cases():
    from sitewatch.models import ListItem
    from sitewatch.packs import load_rules
    from sitewatch.rules.disclosures import check_disclosures

    rs = load_rules()
    d = dt.date(2026, 10, 1)

    def item(title, n):
        return ListItem(title=title, url=f"http://x/{n}.html", date=d)

    pairs = [(item("关于印发《西区城市管理规定》的通知", 1), "其他文件"),
             (item("西区城市管理规定_中山市西区办事处", 2), None),
             (item("关于开展2026年安全生产大检查的通知", 3), "其他文件"),
             (item("西区出台城市管理规定", 4), "新闻动态"),
             (item("中山市西区生活垃圾分类管理办法", 5), "其他文件"),
             (item("《中山市西区生活垃圾分类管理办法》解读", 6), "政策解读")]
    found = [f for f in check_disclosures(pairs, AS_OF, rs) if f.extra.get("item") == "policy_interpretation"]
    assert sorted(f.url for f in found) == ["http://x/1.html", "http://x/2.html"]
    assert {f.severity for f in found} == {"review"} and {f.evidence["document_basis"] for f in found} == {"title"}


@pytest.mark.skipif(not (REAL_PAGES / "procurement").is_dir(), reason="../shared/real-pages is not present")
def test_real_pages_that_mention_elements_are_not_guides(db):
    """Real pages naming 收费标准/联系方式/采购人 (a 中标公告, a 成交公告, a news article) are not 办事指南."""
    names = ["procurement/ccgp-hebei.gov.cn_zbgg_detail.html", "procurement/ccgp.gov.cn_detail.html",
             "unverified-clones/hongshan.gov.cn_hsyw_t20230608_2213652.html"]
    routes = {"/s/": Answer(body=page("首页", "".join(f'<a href="/s/p{i}.html">p{i}</a>' for i in range(len(names)))))}
    routes.update({f"/s/p{i}.html": Answer(body=(REAL_PAGES / n).read_text(encoding="utf-8")) for i, n in enumerate(names)})
    findings, _ = run(db, routes)
    assert [f for f in findings if f.rule == "service.guide_incomplete"] == []
