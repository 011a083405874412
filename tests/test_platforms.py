"""Real portal platforms, end to end: each test builds a loopback server shaped like a real platform
(Guangdong gkmlpt, TRS WCM static columns, Zhongshan path sub-sites on one host) and drives a real scan.

Platform shapes follow ../shared/reference/portals.md (§2.1 platform families, §2.4 which date counts,
§2.5 mandated items as attachments, §2.7 real broken-link and false-alarm causes).
"""

import datetime as dt
import json

from conftest import scan_site
from loopback import Answer, LoopbackSite, page
from sqlalchemy import select

from sitewatch.config import SiteConfig
from sitewatch.rules.columns import load_columns
from sitewatch.store import PageRow

AS_OF = dt.date(2026, 11, 26)
CHINA = dt.timezone(dt.timedelta(hours=8))
JSON_TYPE = "application/json;charset=UTF-8"


def epoch(y: int, m: int, d: int, hour: int = 10) -> int:
    """Epoch seconds of a China-time moment, as gkmlpt's ``date`` field carries it."""
    return int(dt.datetime(y, m, d, hour, 30, tzinfo=CHINA).timestamp())


def article(title: str, pub: str, body: str = "<p>正文内容。</p>") -> str:
    head = f'<meta name="ArticleTitle" content="{title}"><meta name="PubDate" content="{pub}">'
    return page(title, f"<h1>{title}</h1><div class='info'>发布日期：{pub}</div><div class='TRS_Editor'>{body}</div>",
                head=head)


def column_page(name: str, rows: list[tuple[str, str, str]], script: str = "") -> str:
    """A TRS-style column page: ``<li><a>title</a><span>date</span></li>`` rows, ColumnName meta."""
    lis = "".join(f'<li><a href="{href}" target="_blank" title="{title}">{title}</a><span>{shown}</span></li>'
                  for href, title, shown in rows)
    return page(name, f'<div class="crumb">首页 &gt; {name}</div><ul class="list">{lis}</ul>{script}',
                head=f'<meta name="ColumnName" content="{name}">')


def of_rule(findings, *rules):
    return [f for f in findings if f.rule in rules]


def requested_paths(site: LoopbackSite) -> set[str]:
    return {p for (_, p) in site.requests}


# ------------------------------------------------------------------------------------------- gkmlpt

SID = "7550"
GKMLPT_INDEX = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>西区街道办事处政府信息公开目录</title>
<script>
window._CONFIG = {{
  SID: '{SID}',
  SITE_NAME: '中山市西区街道办事处',
  TREE: [
    {{id: 10, name: '法定主动公开内容', parent: 0, children: [
      {{id: 11, name: '工作动态', parent: 10}},
      {{id: 12, name: '通知公告', parent: 10}}
    ]}},
    {{id: 13, name: '政府信息公开年报', parent: 0, children: []}},
  ],
}};
</script></head><body><div id="app"></div><script src="/town/gkmlpt/static/js/app.js"></script></body></html>"""


def _post(post_id: int, title: str, **dates) -> dict:
    return {"id": post_id, "title": title, "url": f"/town/gkmlpt/content/1/{post_id}/post_{post_id}.html",
            "identifier": f"007033485/2026-{post_id:05d}", "publisher": "西区街道办事处", "document_number": "",
            "attachment": [], **dates}


# (catId, page) -> articles; 工作动态 has 5 posts over 2 API pages (3 + 2)
GKMLPT_PAGES = {
    (11, 1): [_post(1101, "西区开展秋季消防安全检查", date=epoch(2026, 10, 20)),
              _post(1102, "西区召开社区网格化治理推进会", date=epoch(2026, 10, 12),
                    display_publish_time="2026-10-12 15:10:00"),
              _post(1103, "西区举办重阳敬老活动", date=epoch(2026, 10, 1))],
    (11, 2): [_post(1104, "西区开展防汛演练", date=epoch(2026, 9, 15)),
              _post(1105, "西区推进垃圾分类工作", date=epoch(2026, 9, 1))],
    (12, 1): [_post(1201, "关于西区2026年冬季道路施工的通告", date=epoch(2026, 11, 18)),
              _post(1202, "关于开展2026年度征兵工作的通知", date=epoch(2026, 8, 3))],
    (13, 1): [_post(1301, "西区2025年政府信息公开工作年度报告", date=epoch(2026, 1, 20)),
              _post(1302, "西区2024年政府信息公开工作年度报告", date=epoch(2025, 1, 22))],
}
GKMLPT_TOTALS = {11: 5, 12: 2, 13: 2}
GKMLPT_NAMES = {11: "工作动态", 12: "通知公告", 13: "政府信息公开年报"}


def gkmlpt_routes() -> dict:
    routes = {
        "/town/": Answer(body=page("中山市西区街道办事处", '<div class="nav"><a href="/town/">首页</a>'
                                   '<a href="/town/gkmlpt/index">政府信息公开目录</a></div>')),
        "/town/gkmlpt/index": Answer(body=GKMLPT_INDEX),
        "/town/gkmlpt/static/js/app.js": Answer(body="/* gkmlpt app */", content_type="application/javascript"),
        "/town/gkmlpt/guide": Answer(body=article("中山市西区街道办事处政府信息公开指南", "2025-03-01",
                                                  "<p>为了更好地提供政府信息公开服务，编制本指南。</p>")),
    }
    for (cat, n), posts in GKMLPT_PAGES.items():
        data = {"articles": posts, "classify": {"id": cat, "name": GKMLPT_NAMES[cat], "post_count": GKMLPT_TOTALS[cat]}}
        routes[f"/town/gkmlpt/api/all/{cat}?page={n}&sid={SID}"] = Answer(
            body=json.dumps(data, ensure_ascii=False), content_type=JSON_TYPE)
        for post in posts:
            shown = post.get("display_publish_time") or dt.datetime.fromtimestamp(post["date"], CHINA).strftime("%Y-%m-%d")
            routes[post["url"]] = Answer(body=article(post["title"], shown[:10]))
    return routes


def test_gkmlpt_catalogue_read_through_its_api_drives_columns_freshness_and_disclosures(tmp_path):
    from sitewatch.cli import main

    out = tmp_path / "findings.json"
    with LoopbackSite(gkmlpt_routes()) as site:
        rc = main(["scan", site.url("/town/"), "--db", str(tmp_path / "sw.db"), "--as-of", "2026-11-26",
                   "--json", str(out), "--rate", "0", "--concurrency", "8", "--timeout", "2", "-q"])
        requests = dict(site.requests)
    assert rc == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    findings = doc["findings"]

    # the API was asked for every page of every leaf category, once; never for the parent node
    for cat, n in GKMLPT_PAGES:
        assert requests.get(("GET", f"/town/gkmlpt/api/all/{cat}?page={n}&sid={SID}")) == 1, (cat, n)
    assert not any("/api/all/10" in p for _, p in requests)
    # every article the API listed was visited, and the guide page too
    for posts in GKMLPT_PAGES.values():
        for post in posts:
            assert requests.get(("GET", post["url"])) == 1, post["url"]
    assert requests.get(("GET", "/town/gkmlpt/guide")) == 1

    # columns are not blank: their items came from the API (HTML holds none)
    assert [f for f in findings if f["rule"] == "column.blank"] == []
    # exactly the stale category is reported, dated by its newest API item
    stale = [f for f in findings if f["rule"] in ("column.stale", "column.long_stale")]
    assert [(f["rule"], f["column"]) for f in stale] == [("column.stale", "工作动态")], stale
    (f,) = stale
    assert f["last_update"] == "2026-10-20"
    assert f["evidence"]["age_days"] == (AS_OF - dt.date(2026, 10, 20)).days
    assert f["evidence"]["items"] == 5             # both API pages read
    assert f["evidence"]["column_key"].endswith("/town/gkmlpt/index#11")
    # the 2025 annual report (published 2026-01-20, due 2026-01-31) and the guide exist only in gkmlpt
    disclosures = {f["item"] for f in findings if f["rule"] in ("disclosure.missing", "disclosure.late")}
    assert "annual_report" not in disclosures
    assert "disclosure_guide" not in disclosures
    assert not [f for f in findings if f["rule"] == "link.broken"]


# -------------------------------------------------------------------------------------- sub-site scope

def test_nothing_outside_the_sub_site_prefix_is_crawled(db):
    routes = {
        "/town/": Answer(body=page("西区街道", '<a href="/town/tzgg/index.html">通知公告</a>'
                                  '<a href="/city/index.html">中山市人民政府</a><a href="/sibling/">石岐街道</a>'
                                  '<a href="/sibling/gkmlpt/index">石岐信息公开目录</a>'
                                  '<a href="/townhall/">同名前缀</a>')),
        "/town/tzgg/index.html": Answer(body=column_page("通知公告", [
            ("./202611/t20261120_1.html", "关于冬季防火的通知", "2026-11-20")])),
        "/town/tzgg/202611/t20261120_1.html": Answer(body=article("关于冬季防火的通知", "2026-11-20",
                                                                  '<a href="/city/zwgk/index.html">市政务公开</a>')),
        "/city/index.html": Answer(body=page("中山市人民政府", '<a href="/city/news/1.html">市新闻</a>'
                                             '<a href="/town/">西区</a>')),
        "/city/zwgk/index.html": Answer(body=page("市政务公开", '<a href="/city/zwgk/deep.html">deep</a>')),
        "/sibling/": Answer(body=page("石岐街道", '<a href="/sibling/a.html">石岐新闻</a>')),
        "/sibling/gkmlpt/index": Answer(body=GKMLPT_INDEX.replace("/town/", "/sibling/")),
        "/townhall/": Answer(body=page("另一个站点", '<a href="/townhall/x.html">x</a>')),
    }
    with LoopbackSite(routes) as site:
        result, store = scan_site(site.url("/town/"), db)
        requests = dict(site.requests)
        outside = {p for (_, p) in requests if not p.startswith("/town/") and p != "/robots.txt"}
        # checked (exactly one request each), never crawled
        assert outside == {"/city/index.html", "/city/zwgk/index.html", "/sibling/", "/sibling/gkmlpt/index",
                           "/townhall/"}
        for p in outside:
            assert site.hits(p) == 1, (p, site.hits(p))
        # their own links, and the sibling catalogue's API, were never requested
        for p in ("/city/news/1.html", "/city/zwgk/deep.html", "/sibling/a.html", "/townhall/x.html"):
            assert site.hits(p) == 0, p
        assert not any("/api/" in p for _, p in requests)
    with store.engine.connect() as c:
        parsed = {r.url for r in c.execute(select(PageRow).where(PageRow.c.scan_id == result.scan_id))}
    assert parsed == {site.url("/town/"), site.url("/town/tzgg/index.html"),
                      site.url("/town/tzgg/202611/t20261120_1.html")}
    assert result.stats.pages == 3
    assert of_rule(result.findings, "link.broken") == []


# ------------------------------------------------------------------------------------ real-world noise

def test_deleted_document_meta_refresh_stub_is_broken(db):
    stub = '<html><head><meta http-equiv="refresh" content="0;URL=../" /></head><body></body></html>'
    routes = {
        "/s/": Answer(body=page("首页", '<a href="/s/gzdt/index.html">工作动态</a>')),
        "/s/gzdt/index.html": Answer(body=column_page("工作动态", [
            ("./202611/t20261118_2.html", "西区开展安全生产检查", "2026-11-18"),
            ("./202603/t20260321_1.html", "已删除的旧文档", "2026-03-21")])),
        "/s/gzdt/202611/t20261118_2.html": Answer(body=article("西区开展安全生产检查", "2026-11-18")),
        "/s/gzdt/202603/t20260321_1.html": Answer(body=stub),
    }
    with LoopbackSite(routes) as site:
        result, _ = scan_site(site.url("/s/"), db)
    broken = {f.url: f for f in of_rule(result.findings, "link.broken")}
    gone = site.url("/s/gzdt/202603/t20260321_1.html")
    assert set(broken) == {gone}
    assert broken[gone].evidence["error"] == "deleted_stub"
    assert broken[gone].found_on == [site.url("/s/gzdt/index.html")]


def test_waf_blip_is_not_reported_and_the_page_is_crawled(db):
    real = article("西区召开工作会议", "2026-11-20",
                   '<p>会议部署了下一阶段工作。</p><a href="/s/gzdt/202611/t20261121_2.html">相关新闻</a>')

    def blip_then_page(method, n):
        return Answer(body=b"\r\n") if (method, n) == ("GET", 1) else Answer(body=real)

    routes = {
        "/s/": Answer(body=page("首页", '<a href="/s/gzdt/202611/t20261120_1.html">西区召开工作会议</a>')),
        "/s/gzdt/202611/t20261120_1.html": blip_then_page,
        "/s/gzdt/202611/t20261121_2.html": Answer(body=article("相关新闻", "2026-11-21")),
    }
    with LoopbackSite(routes) as site:
        result, store = scan_site(site.url("/s/"), db)
        assert site.hits("/s/gzdt/202611/t20261120_1.html") >= 2          # retried after the blip
        assert site.hits("/s/gzdt/202611/t20261121_2.html") == 1          # its link was followed
    assert of_rule(result.findings, "link.broken") == []
    with store.engine.connect() as c:
        titles = {r.url: r.title for r in c.execute(select(PageRow).where(PageRow.c.scan_id == result.scan_id))}
    assert titles[site.url("/s/gzdt/202611/t20261120_1.html")] == "西区召开工作会议"


def test_template_placeholders_are_never_requested(db):
    body = ('<div ms-controller="share"><a href="javascript:void(0);" ms-attr-href="share.sina">分享到微博</a></div>'
            '<a ms-attr-href="logoutUrl">退出登录</a>'
            '<ul ms-repeat-el="list"><li><a ms-attr-href="el.url" href="{{el.url}}">{{el.title}}</a></li></ul>'
            '<a href="{{ item.link }}"><img src="{{item.pic}}" alt="图"></a>'
            '<a hhref="javascript:;" class="btn">打印</a><a hhref="print.html">打印本页</a>'
            '<a href="/s/ok.html">正常链接</a>')
    routes = {"/s/": Answer(body=page("首页", body)), "/s/ok.html": Answer(body=page("正常", "正文"))}
    with LoopbackSite(routes) as site:
        result, _ = scan_site(site.url("/s/"), db)
        paths = requested_paths(site)
    assert ("GET", "/s/ok.html") in site.requests
    for bad in ("share.sina", "logoutUrl", "el.url", "{{", "%7B", "item.pic", "item.link", "print.html", "javascript"):
        assert not any(bad in p for p in paths), (bad, paths)
    assert of_rule(result.findings, "link.broken") == []


def test_trs_js_pager_pages_without_visible_links_are_read(db):
    pager = '<div class="page"><script>createPageHTML(4, 0, "index", "html");</script></div>'
    routes = {"/s/": Answer(body=page("首页", '<a href="/s/tzgg/index.html">通知公告</a>'))}
    expected_items = 0
    for n in range(4):
        name = "index.html" if n == 0 else f"index_{n}.html"
        rows = []
        for k in range(2):
            day = dt.date(2026, 11, 20) - dt.timedelta(days=30 * n + 10 * k)
            href = f"./{day:%Y%m}/t{day:%Y%m%d}_{100 + 2 * n + k}.html"
            title = f"通知第{n}页第{k}条"
            rows.append((href, title, day.isoformat()))
            routes[f"/s/tzgg/{href[2:]}"] = Answer(body=article(title, day.isoformat()))
            expected_items += 1
        routes[f"/s/tzgg/{name}"] = Answer(body=column_page("通知公告", rows, pager.replace(", 0,", f", {n},")))
    with LoopbackSite(routes) as site:
        result, store = scan_site(site.url("/s/"), db)
        for n in (1, 2, 3):
            assert site.hits(f"/s/tzgg/index_{n}.html") == 1, n
        assert site.hits("/s/tzgg/index_4.html") == 0
    columns, _, _ = load_columns(store, result.scan_id, SiteConfig())
    (col,) = [c for c in columns if c.name == "通知公告"]
    assert len(col.items) == expected_items == 8
    assert of_rule(result.findings, "link.broken", "column.stale", "column.blank") == []


def test_pinned_old_row_on_top_of_a_fresh_list_is_not_stale(db):
    routes = {
        "/s/": Answer(body=page("首页", '<a href="/s/gzdt/index.html">工作动态</a><a href="/s/jddt/index.html">镇街动态</a>')),
        "/s/gzdt/index.html": Answer(body=column_page("工作动态", [
            ("./202401/t20240105_9.html", "【置顶】关于开展2024年网站自查的通知", "2024-01-05"),
            ("./202611/t20261120_2.html", "西区开展冬季安全检查", "2026-11-20"),
            ("./202611/t20261110_1.html", "西区召开季度工作会议", "2026-11-10")])),
        # control: a dynamic column whose rows are all old is judged stale in the same scan
        "/s/jddt/index.html": Answer(body=column_page("镇街动态", [
            ("./202609/t20260910_3.html", "西区秋季运动会", "2026-09-10"),
            ("./202608/t20260801_4.html", "西区暑期活动", "2026-08-01")])),
    }
    for path, title, day in (("gzdt/202401/t20240105_9.html", "关于开展2024年网站自查的通知", "2024-01-05"),
                             ("gzdt/202611/t20261120_2.html", "西区开展冬季安全检查", "2026-11-20"),
                             ("gzdt/202611/t20261110_1.html", "西区召开季度工作会议", "2026-11-10"),
                             ("jddt/202609/t20260910_3.html", "西区秋季运动会", "2026-09-10"),
                             ("jddt/202608/t20260801_4.html", "西区暑期活动", "2026-08-01")):
        routes[f"/s/{path}"] = Answer(body=article(title, day))
    with LoopbackSite(routes) as site:
        result, _ = scan_site(site.url("/s/"), db)
    stale = {f.extra["column"]: f for f in of_rule(result.findings, "column.stale")}
    assert set(stale) == {"镇街动态"}
    assert stale["镇街动态"].extra["last_update"] == "2026-09-10"


def test_displayed_list_date_decides_over_url_and_page_date(db):
    routes = {
        "/s/": Answer(body=page("首页", '<a href="/s/zwyw/index.html">政务要闻</a>')),
        "/s/zwyw/index.html": Answer(body=column_page("政务要闻", [
            ("./202611/t20261120_5.html", "西区党工委召开专题会议", "2026-05-01"),
            ("./202611/t20261115_4.html", "西区开展基层调研", "2026-04-20")])),
        # the article pages carry the (newer) URL date as PubDate; the list shows the older date
        "/s/zwyw/202611/t20261120_5.html": Answer(body=article("西区党工委召开专题会议", "2026-11-20")),
        "/s/zwyw/202611/t20261115_4.html": Answer(body=article("西区开展基层调研", "2026-11-15")),
    }
    with LoopbackSite(routes) as site:
        result, _ = scan_site(site.url("/s/"), db)
    stale = of_rule(result.findings, "column.stale")
    assert [f.extra["column"] for f in stale] == ["政务要闻"]
    assert stale[0].extra["last_update"] == "2026-05-01"
    assert stale[0].extra["max_age_days"] == 14


def test_mandated_item_present_only_as_an_attachment_is_found(db):
    attachment = ('<p>详见附件。</p><ul class="fj"><li><a href="./P020260318549903987969.pdf" target="_blank">'
                  '2026年部门预算.pdf</a></li></ul>')
    routes = {
        "/s/": Answer(body=page("首页", '<a href="/s/czyjs/index.html">财政预决算</a>')),
        "/s/czyjs/index.html": Answer(body=column_page("财政预决算", [
            ("./202603/t20260318_77.html", "西区街道办事处", "2026-03-18")])),
        "/s/czyjs/202603/t20260318_77.html": Answer(body=article("西区街道办事处", "2026-03-18", attachment)),
        "/s/czyjs/202603/P020260318549903987969.pdf": Answer(body=b"%PDF-1.4 budget", content_type="application/pdf"),
    }
    with LoopbackSite(routes) as site:
        result, _ = scan_site(site.url("/s/"), db)
        assert site.hits("/s/czyjs/202603/P020260318549903987969.pdf") >= 1
    assert of_rule(result.findings, "link.broken") == []
    budget = [f for f in of_rule(result.findings, "disclosure.missing", "disclosure.late") if f.extra["item"] == "budget"]
    assert budget == [], [f.message for f in budget]
