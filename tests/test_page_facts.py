"""Page facts (issue 17): what each page check learns from one page, stored with the page and replayed when a rescan
finds the page unchanged.

* facts are JSON values: a JSON round trip gives them back equal, for every check, on every real portal page and
  every demo portal page;
* facts depend only on the page: a page read after others gives the facts it gives read first;
* replaying the round-tripped facts of a scan gives exactly the findings of the live read (all pages replayed, or
  some), on real pages and on pages made to trip every page rule;
* ``fingerprint`` changes with what facts depend on (rule data, start URLs, hosts, ``FACTS_VERSION``), not
  otherwise.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from conftest import SHARED

from sitewatch.config import SiteConfig
from sitewatch.demo import build_portal
from sitewatch.demo.run import DEMO_AS_OF
from sitewatch.encoding import decode_html
from sitewatch.extract import parse_html
from sitewatch.packs import load_rules
from sitewatch.rules import PAGE, PageChecks, _page, checks
from sitewatch.rules.interaction import Interaction
from sitewatch.rules.services import Services

AS_OF = dt.date(2026, 11, 26)
REAL_PAGES = SHARED / "real-pages"
SITE = "https://www.xq.gov.cn/"
CHECK_NAMES = {c.run.__name__ for c in checks(PAGE)}

# -- pages ------------------------------------------------------------------------------------------------------

FOOTER = ('<div class="footer"><p>主办单位：西区办事处 电话：0760-88776655 <a href="/lxwm.html">联系我们</a></p>'
          '<p>网站标识码：4420000012 粤ICP备05021338号-1 粤公网安备 44200002443026号</p>'
          '<p><a href="/dzjg.html"><img src="/red.png" alt="党政机关"></a></p></div>')
NAV = ('<div class="nav"><a href="/">首页</a> <a href="/hdjl/">在线咨询</a> <a href="/bsfw/">办事服务</a></div>')
BODY = ("西区办事处召开2026年安全生产工作会议，传达学习上级有关文件精神，部署下一阶段安全生产重点工作。"
        "会议要求各社区、各部门压实安全生产责任，深入开展隐患排查整治，加强燃气、消防、交通等重点领域监管，"
        "确保辖区安全形势持续稳定。会议强调，要坚持人民至上、生命至上，以更高标准、更严要求抓好各项安全措施落实，"
        "切实保障人民群众生命财产安全，为经济社会高质量发展营造良好环境。"
        "会后，与会人员还就近期辖区安全检查中发现的问题进行了深入交流，并明确了整改责任人和完成时限。")


def page(title: str, main: str, *, meta: dict[str, str] | None = None, footer: str = FOOTER, nav: str = NAV,
         head: str = "") -> str:
    tags = {"SiteName": "西区办事处", "SiteDomain": "www.xq.gov.cn", "SiteIDCode": "4420000012", **(meta or {})}
    metas = "".join(f'<meta name="{k}" content="{v}">' for k, v in tags.items())
    return (f"<html><head><meta charset='utf-8'>{metas}<title>{title}_西区办事处</title>{head}</head>"
            f"<body><div class='header'>{nav}</div><div class='main'>{main}</div>{footer}</body></html>")


def article(title: str, body: str = BODY, **meta: str) -> str:
    tags = {"ArticleTitle": title, "PubDate": "2026-11-20 09:00", "ContentSource": "西区办事处", **meta}
    return page(title, f"<h1>{title}</h1><div class='view TRS_Editor'><p>{body}</p></div>", meta=tags)


MESSAGES = """<h2>咨询留言</h2><table class="list">
<tr><th>留言标题</th><th>留言时间</th><th>回复时间</th><th>状态</th></tr>
<tr><td><a href="/hdjl/m1.html">彩虹大道夜间施工噪音</a></td><td>2026-07-01</td><td></td><td>处理中</td></tr>
<tr><td><a href="/hdjl/m2.html">长者饭堂就餐时间</a></td><td>2026-11-02</td><td>2026-11-04</td><td>已回复</td></tr>
<tr><td><a href="/hdjl/m4.html">垃圾清运</a></td><td>2026-02-02</td><td>2026-05-20</td><td>已回复</td></tr>
<tr><td><a href="/hdjl/s1.html">慢</a></td><td>2026-11-02</td><td>2026-11-10</td><td>已回复</td></tr>
</table>"""
ROWS = ("<ul><li><a href='/hdjl/b.html'>道路积水</a> 留言时间：2026-05-04 状态：未回复</li>"
        "<li><a href='/hdjl/m1.html'>彩虹大道夜间施工噪音</a> 留言时间：2026-07-01 回复时间：2026-07-03</li></ul>")
GUIDE = ("<h1>居住证签注办事指南</h1><table><tr><th>事项名称</th><td>居住证签注</td></tr>"
         "<tr><th>受理条件</th><td>持有居住证</td></tr><tr><th>申请材料</th><td>居住证原件</td></tr></table>")
THIN_GUIDE = "<h1>{}办事指南</h1><p>办理地点：西区行政服务中心。</p><p>联系电话：0760-88776655。</p>"
HIDDEN_LINKS = ('<p>欢迎</p><div style="display:none"><a href="http://casino-bet.example.com/">博彩</a></div>'
                '<span class="hid"><a href="http://loan.example.org/">贷款</a></span>'
                '<div style="display:none"><a href="http://www.gd.gov.cn/">政府</a></div>')
HIDDEN_FRAMES = ('<iframe src="http://bad.example.com/x.html" width="0" height="0"></iframe>'
                 '<div class="ad"><iframe src="http://worse.example.com/y"></iframe></div>'
                 '<iframe src="http://tianqi.example.com/w" width="260" height="26"></iframe>')
WRONG = "深入学习贯彻习近平新时代中国特色社会主意思想，热烈庆祝中华人民 共合国成立77周年，中华人民共合国万岁。"


def hostile_pages() -> list[tuple[str, str]]:
    """(url, html) of pages made to trip every page rule, and their compliant twins; some URLs come twice."""
    bare = '<div class="footer"><p>版权所有</p></div>'
    return [
        (SITE, page("首页", "<ul>" + "".join(f"<li><a href='/gzdt/t{i}.html'>文章{i}</a></li>" for i in range(6))
                    + "</ul>")),
        (SITE + "hdjl/", page("咨询留言", MESSAGES)),
        (SITE + "hdjl/list.html", page("咨询留言", ROWS)),
        (SITE + "hdjl/e.html", page("来信详情", "<h1>关于小区停车的咨询</h1><p>来信时间：2026-06-01</p>"
                                               "<p>状态：待回复</p>")),
        (SITE + "hdjl/form.html", page("我要写信", "<form><textarea name='q'></textarea></form>", nav="")),
        (SITE + "bszn/full.html", page("居住证签注办事指南", GUIDE)),
        *[(SITE + f"bszn/g{i}.html", page(f"{n}办事指南", THIN_GUIDE.format(n), meta={"ColumnName": "办事指南"}))
          for i, n in enumerate(["医保参保", "灵活就业", "残疾人补贴", "优待证", "老年证", "低保申请"])],
        (SITE + "gzdt/t20261120_1.html", page("关于办事指南的报道", f"<p>{BODY}发布办事指南。</p>",
                                              meta={"ColumnName": "工作动态"})),
        (SITE + "gzdt/t20261120_2.html", article("安全生产工作会议")),
        (SITE + "tzgg/t20261121_7.html", article("另一标题")),
        (SITE + "gkmlpt/content/0/1/t20261120_2.html", article("安全生产工作会议（目录）")),
        (SITE + "gzdt/t20261122_8.html", article("会议", BODY + WRONG, PubDate="")),
        (SITE + "hidden.html", page("暗链", HIDDEN_LINKS, head="<style>.hid{visibility:hidden}</style>")),
        (SITE + "frames.html", page("框架", HIDDEN_FRAMES, head="<style>.ad{display:none}</style>")),
        (SITE + "bare.html", page("联系我们", "<p>地址</p>", footer=bare, meta={"SiteIDCode": "4420000099"})),
        ("http://www.xq.gov.cn/plain.html", page("明文", "<p>明文页面</p>", nav="")),
        (SITE + "mixed.html", page("混合", '<img src="http://img.xq.gov.cn/a.png"><script src="http://x.cn/a.js">'
                                           '</script><img src="/b.png">')),
        (SITE + "hdjl/", page("咨询留言", MESSAGES)),                         # a page read twice
        (SITE + "hidden.html", page("暗链", HIDDEN_LINKS, head="<style>.hid{visibility:hidden}</style>")),
        (SITE + "gzdt/t20261122_8.html", article("会议", WRONG + BODY)),
        (SITE + "empty.html", ""),                                             # no document: not counted
    ]


def real_pages() -> list[tuple[str, str]]:
    if not REAL_PAGES.is_dir():
        pytest.skip("../shared/real-pages is not present")
    files = sorted(REAL_PAGES.rglob("*.htm*"))
    # half the pages over http: identity.https and identity.mixed_content both see pages
    return [(f"{'https' if i % 2 else 'http'}://www.xq.gov.cn/real/{p.relative_to(REAL_PAGES)}",
             p.read_text(encoding="utf-8")) for i, p in enumerate(files)]


def demo_pages() -> tuple[str, list[tuple[str, str]]]:
    """The start URL and (url, html) of every HTML page of the demo portal (this month), in path order."""
    portal = build_portal(as_of=DEMO_AS_OF)
    base = "http://127.0.0.1:8000"
    out = []
    for path, route in sorted(portal.routes.items()):
        content_type = route.headers.get("Content-Type") or ""
        if route.status == 200 and route.body and "html" in content_type:
            text, _ = decode_html(route.body.replace(b"{ext}", b"http://127.0.0.2:8001")
                                  .replace(b"{refused}", b"http://127.0.0.3:9"), content_type)
            out.append((base + path, text))
    return base + str(portal.expected["start_url_path"]), out


def new_checks(start: str = SITE, overrides: dict[str, Any] | None = None, **cfg: Any) -> PageChecks:
    return PageChecks(load_rules(overrides=overrides), SiteConfig(**cfg), [start])


def read(pc: PageChecks, url: str, html: str) -> dict[str, Any] | None:
    return pc.on_page(url, html, parse_html(html, url))


def roundtrip(value: Any) -> Any:
    """What a store gives back: keys sorted (as a JSONB column would), so no check may rely on their order."""
    return json.loads(json.dumps(value, ensure_ascii=False, sort_keys=True))


def findings(pc: PageChecks) -> list[tuple[Any, ...]]:
    return [(f.rule, f.severity, f.url, f.message, f.found_on, f.evidence, f.extra) for f in pc.findings(AS_OF)]


# -- facts are JSON and of the page alone ---------------------------------------------------------------------

def assert_json_facts(facts: dict[str, Any] | None) -> None:
    assert facts is not None
    assert set(facts) <= CHECK_NAMES
    for key, value in facts.items():
        assert value is not None, key                      # a check without facts is left out
        assert roundtrip(value) == value, key               # no tuples, dates, bytes, sets, non-str keys
    assert len(json.dumps(facts, ensure_ascii=False).encode()) < 4096     # small: never page text


@pytest.mark.parametrize("source", ["real", "demo", "hostile"])
def test_facts_are_json_and_depend_only_on_the_page(source):
    start, pages = (SITE, real_pages()) if source == "real" else demo_pages() if source == "demo" \
        else (SITE, hostile_pages())
    pages = [(u, h) for u, h in pages if h]
    seen = new_checks(start)
    for url, html in pages:
        in_sequence = read(seen, url, html)
        assert_json_facts(in_sequence)
        assert in_sequence == read(new_checks(start), url, html), url       # read first or after the others
    assert seen.errors == [] and seen.pages == len(pages)


def test_every_check_has_facts_somewhere():
    start, pages = demo_pages()
    pc = new_checks(start)
    keys: set[str] = set()
    for url, html in [*pages, *hostile_pages()]:
        keys |= set(read(pc, url, html) or {})
    assert keys == CHECK_NAMES


def test_facts_of_a_guide_a_message_table_and_hidden_links():
    pc = new_checks()
    full = read(pc, SITE + "bszn/full.html", page("居住证签注办事指南", GUIDE))
    assert full is not None
    assert full["Services"]["guide"]["title"] == "居住证签注办事指南" and full["Services"]["guide"]["found"] == 3
    assert full["Services"]["entry"] == {"link": SITE + "bsfw/", "text": "办事服务"}
    assert full["Interaction"]["channel"] == {"link": SITE + "hdjl/", "text": "在线咨询"}
    table = read(pc, SITE + "hdjl/", page("咨询留言", MESSAGES))
    assert table is not None
    assert table["Interaction"]["messages"][0] == {"url": SITE + "hdjl/m1.html", "title": "彩虹大道夜间施工噪音",
                                                   "asked": "2026-07-01", "replied": None, "state": "pending",
                                                   "status": "处理中"}
    hidden = read(pc, SITE + "hidden.html", page("暗链", HIDDEN_LINKS, head="<style>.hid{visibility:hidden}</style>"))
    assert hidden is not None and hidden["HiddenLinks"]["count"] == 2
    assert [x["href"] for x in hidden["HiddenLinks"]["links"]] == ["http://casino-bet.example.com/",
                                                                   "http://loan.example.org/"]
    dup = read(pc, SITE + "gzdt/t20261120_2.html", article("安全生产工作会议"))
    assert dup is not None and set(dup["Duplicates"]) == {"digest", "chars", "title"}
    assert len(dup["Duplicates"]["digest"]) == 24 and dup["Identity"] == {"ids": ["4420000012"], "kind": "article"}


def test_page_hook_stores_the_facts_and_a_failing_check_makes_the_page_volatile(monkeypatch):
    pc = new_checks()
    html = page("咨询留言", MESSAGES)
    parsed = parse_html(html, SITE + "hdjl/")
    asyncio.run(pc.page_hook(SITE + "hdjl/", html, parsed, 1))
    assert not parsed.volatile and parsed.facts["checks"] == read(new_checks(), SITE + "hdjl/", html)

    def boom(self, view):
        raise ValueError("odd page")

    monkeypatch.setattr(_page.PageCheck, "on_page", boom)       # the checks without an on_page of their own
    parsed = parse_html(html, SITE + "hdjl/")
    asyncio.run(pc.page_hook(SITE + "hdjl/", html, parsed, 1))
    assert parsed.volatile and "checks" not in parsed.facts
    assert pc.errors == [(SITE + "hdjl/", "ValueError: odd page")]


# -- replay --------------------------------------------------------------------------------------------------

def live_and_replayed(start: str, pages: list[tuple[str, str]], replay_every: int = 1, **cfg: Any
                      ) -> tuple[PageChecks, PageChecks]:
    """Two PageChecks fed the same pages in the same order: one reads every page, the other replays the stored
    (JSON round-tripped) facts of every page but every ``replay_every``-th one, which it reads (1: replays all)."""
    live, other = new_checks(start, **cfg), new_checks(start, **cfg)
    for i, (url, html) in enumerate(pages):
        stored = roundtrip(read(live, url, html))
        if replay_every > 1 and i % replay_every == 0:
            assert roundtrip(read(other, url, html)) == stored
        else:
            other.replay(url, stored)
    return live, other


def assert_same(live: PageChecks, other: PageChecks) -> None:
    assert other.pages == live.pages
    assert findings(other) == findings(live)
    assert other.notes == live.notes
    assert live.errors == [] and other.errors == []


@pytest.mark.parametrize("replay_every", [1, 2, 3])
def test_replayed_facts_give_the_findings_of_a_live_read(replay_every):
    pages = hostile_pages()
    live, other = live_and_replayed(SITE, pages, replay_every)
    assert_same(live, other)
    rules = {f[0] for f in findings(live)}
    assert rules >= {"identity.mark_missing", "identity.meta_missing", "identity.inconsistent", "identity.https",
                     "identity.mixed_content", "interaction.unanswered", "interaction.slow_reply",
                     "service.guide_incomplete", "veto.service_guides", "security.misstatement",
                     "security.hidden_link", "security.hidden_iframe", "security.duplicate_content"}, rules
    assert live.pages == len(pages) - 1                             # the empty page has no document


def test_replay_on_real_pages_and_the_demo_portal():
    if REAL_PAGES.is_dir():
        pages = real_pages()
        assert_same(*live_and_replayed(SITE, pages))
        assert_same(*live_and_replayed(SITE, pages, 2))
    start, pages = demo_pages()
    live, other = live_and_replayed(start, pages, prefixes=["/xqbsc/"])
    assert_same(live, other)
    assert len(findings(live)) >= 10
    assert_same(*live_and_replayed(start, pages, 3, prefixes=["/xqbsc/"]))


def test_a_site_without_channel_entry_or_marks_is_judged_the_same_replayed():
    nav = '<div class="nav"><a href="/">首页</a> <a href="/xf/">网上信访</a></div>'
    pages = [(SITE, page("首页", "<p>欢迎</p>", nav=nav, footer="")),
             (SITE + "xf/", page("网上信访", "<p>信访渠道不算咨询建言渠道</p>", nav=nav, footer=""))]
    live, other = live_and_replayed(SITE, pages)
    assert {"interaction.no_channel", "service.none"} <= {f[0] for f in findings(live)}
    assert_same(live, other)


def test_a_replayed_page_without_facts_is_still_counted():
    pc = new_checks()
    pc.replay(SITE + "a.html", {})
    pc.replay(SITE + "b.html", None)                 # a page without a document: not counted
    assert pc.pages == 1
    [f] = [f for f in pc.findings(AS_OF) if f.rule == "interaction.no_channel"]
    assert f.evidence["pages_checked"] == 1


def test_the_first_channel_and_entry_win_whether_read_or_replayed():
    first = page("首页", "<p>欢迎</p>", nav='<div><a href="/zxzx/">我要咨询</a><a href="/zwfw/">政务服务</a></div>')
    second = page("栏目", "<p>栏目</p>")
    live, other = live_and_replayed(SITE, [(SITE, first), (SITE + "lm/", second)], 2)
    assert live.get(Interaction).channel == {"page": SITE, "link": SITE + "zxzx/", "text": "我要咨询"}
    assert other.get(Interaction).channel == live.get(Interaction).channel
    assert other.get(Services).entry == live.get(Services).entry == {"page": SITE, "link": SITE + "zwfw/",
                                                                      "text": "政务服务"}


# -- fingerprint ------------------------------------------------------------------------------------------------

def test_fingerprint_is_stable_for_one_config():
    a, b = new_checks(), new_checks()
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 16 and int(a.fingerprint(), 16) >= 0
    for url, html in hostile_pages():
        read(a, url, html)
    assert a.fingerprint() == b.fingerprint()                    # reading pages changes nothing it hashes


@pytest.mark.parametrize("overrides", [
    {"interaction.unanswered": {"threshold": {"max_days": 60}}},
    {"security.hidden_link": {"threshold": {"max_links": 5}}},
    {"security.duplicate_content": {"threshold": {"min_chars": 100}}},
    {"identity.mark_missing": {"threshold": {"max_pages": 3}}},
    {"interaction.no_channel": {"keywords": {"channel": ["咨询"]}}},
    {"service.guide_incomplete": {"keywords": {"guide": ["服务指南"]}}},
    {"misstatement.prc_name": {"keywords": {"wrong": ["中华人民共合国"]}}},
    {"misstatement.prc_name": {"enabled": False}},
    {"security.hidden_iframe": {"enabled": False}},
    {"column.stale": {"keywords": {"dynamic": ["新闻"]}}},          # Services reads the column categories
])
def test_fingerprint_changes_with_the_rule_data_facts_depend_on(overrides):
    assert new_checks(overrides=overrides).fingerprint() != new_checks().fingerprint()


def test_fingerprint_changes_with_the_context_and_the_version(monkeypatch):
    base = new_checks().fingerprint()
    assert new_checks("https://www.other.gov.cn/").fingerprint() != base
    assert new_checks(extra_hosts=["cdn.xq.gov.cn"]).fingerprint() != base
    assert new_checks(prefixes=["https://static.xq.example/"]).fingerprint() != base
    monkeypatch.setattr(_page, "FACTS_VERSION", _page.FACTS_VERSION + 1)
    assert new_checks().fingerprint() != base


def test_fingerprint_ignores_what_facts_do_not_depend_on():
    base = new_checks().fingerprint()
    assert new_checks(overrides={"security.hidden_link": {"severity": "warn"}}).fingerprint() == base
    assert new_checks(overrides={"link.broken": {"enabled": False}}).fingerprint() == base     # a site rule
    assert new_checks(name="另一个名字").fingerprint() == base


def test_a_list_page_with_a_long_paragraph_is_a_column_not_an_article():
    """The 政策文件 list's last page carried a 250-character note: it was judged an article and drew findings for
    missing ArticleTitle, PubDate and ContentSource. A page on which a list was read is a column; its must-not twin,
    the same page with no list read, stays an article."""
    items = "".join(f'<li><a href="/zcwj/t2026010{i}_{i}.html">关于印发第{i}号文件的通知</a><span>2026-01-0{i}</span></li>'
                    for i in range(1, 8))
    html = page("政策文件", f"<ul class='list'>{items}</ul><p>{BODY}</p>", meta={"ColumnName": "政策文件"})
    url = "http://127.0.0.1/zcwj/index_3.html"
    kinds = []
    for list_items in (7, 0):
        checks = PageChecks(load_rules(), SiteConfig(start_urls=["http://127.0.0.1/"]), ["http://127.0.0.1/"])
        parsed = parse_html(html, url)
        parsed.list_items = list_items
        facts = checks.on_page(url, html, parsed)
        assert facts is not None
        kinds.append(facts["Identity"]["kind"])
    assert kinds == ["column", "article"]
