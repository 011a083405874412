"""The demo portal's planted defects: what a correct scan must report, and the traps it must not fall into.

Planted broken links (`planted_defects`, each with the simulated months in which it is broken: persisting, new,
fixed or recurred), behaviours that must not be reported (HEAD 405, one 429, a WAF blip, redirect chains),
crawler traps (an endless calendar, session ids in URLs, a repeating path segment, an endless query), pages outside
the prefix and a robots-disallowed page, column quirks (a backdated newest row, a deleted document still listed,
an undeclared GB18030 article) and page-level plants for the single-veto indicators: a 咨询投诉 message board (one
message unanswered for over 3 months, one answered after more than 5 working days), 办事指南 pages (one complete,
two missing four or more of the ten elements), a misstated fixed political phrase, a hidden link to the external
host, one article body published in two columns, and one page without the footer identity marks.

`manifest.py` records all of them in the portal's `expected` manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from sitewatch.demo.content import SiteContent
from sitewatch.demo.pages import Chrome, PageWriter
from sitewatch.demo.site import (
    BSZN,
    COL,
    DNS_FAIL_URL,
    PREFIX,
    SITE_SHORT,
    ZXLY,
    Item,
    Route,
    shift_months,
    ymd,
)

HISTORY_MONTHS = (-3, -2, -1, 0)      # the simulated months a defect's history covers, oldest first

# page-level plants: the checks they exercise, the words they plant, the working days of message replies
PAGE_CHECK_RULES = ("interaction.unanswered", "interaction.slow_reply", "service.guide_incomplete",
                    "security.misstatement", "security.hidden_link", "security.duplicate_content",
                    "identity.mark_missing")
GUIDE_ELEMENTS = ["事项名称", "设定依据", "申请条件", "办理材料", "办理地点", "办理机构", "收费标准", "办理时间",
                  "联系电话", "办理流程"]
MISSTATEMENT_WRONG = "习近平新时代中国特色社会主意思想"
MISSTATEMENT_RIGHT = "习近平新时代中国特色社会主义思想"
DUPLICATE_BODY = (
    "为深入推进城乡社区治理现代化，西区坚持党建引领，以“网格化管理、精细化服务”为抓手，整合社区党员、楼长、志愿者等力量，"
    "建立“社区吹哨、部门报到”的联动工作机制。今年以来，各社区累计走访辖区居民一万二千余户，收集民生诉求六百余条，"
    "已办结五百八十余条，办结率超过百分之九十五。下一步，西区将继续完善“居民议事厅”协商机制，推动老旧小区改造、"
    "加装电梯、长者饭堂等民生实事落地见效，持续提升群众的获得感、幸福感、安全感。同时，西区将加强对社区工作者的培训，"
    "提高依法办事、联系群众、化解矛盾的能力，确保各项惠民政策不折不扣落到实处，让居民群众在家门口就能办成事、办好事。"
    "据统计，西区十个社区已全部建成党群服务中心，配备专职社区工作者二百一十名、网格员三百六十名，"
    "形成了“十五分钟便民服务圈”，居民满意度连续三年保持在百分之九十以上。"
)
# Chinese public holidays to keep the "working days" of message replies unambiguous (generous ranges)
_HOLIDAYS = ((1, 1, 1, 3), (1, 20, 2, 28), (4, 3, 4, 7), (5, 1, 5, 6), (6, 1, 6, 22), (9, 14, 10, 9))


def _near_holiday(d: dt.date) -> bool:
    return any((m1, d1) <= (d.month, d.day) <= (m2, d2) for m1, d1, m2, d2 in _HOLIDAYS)


def add_working_days(d: dt.date, n: int) -> dt.date:
    """``n`` weekdays after ``d`` (callers keep the range clear of public holidays)."""
    while n > 0:
        d += dt.timedelta(days=1)
        if d.weekday() < 5:
            n -= 1
    return d


def _working_days_between(start: dt.date, end: dt.date) -> int:
    """Weekdays after ``start`` up to and including ``end``."""
    return sum(1 for k in range(1, (end - start).days + 1) if (start + dt.timedelta(days=k)).weekday() < 5)


# ---------------------------------------------------------------------------------------------------------
# planted broken links, with the months (variants) in which each one is broken


@dataclass
class Defect:
    """A planted broken link and the simulated months in which it is broken."""

    target: str          # path on the demo host, or URL with a placeholder
    reason: str
    kind: str            # persisting | new | fixed | recurred (compared with the month before)
    broken_in: tuple[int, ...]
    note: str = ""

    def broken(self, variant: int) -> bool:
        return max(variant, HISTORY_MONTHS[0]) in self.broken_in


ALL = HISTORY_MONTHS


def planted_defects(year: int) -> list[Defect]:
    """Every planted broken link with the months in which it is broken."""
    return [
        Defect(f"{PREFIX}gzdt/202409/t20240912_3301.html", "404", "persisting", ALL, "deleted article still linked"),
        Defect(f"{PREFIX}czyjs/{year}03/P0{year}0318377102416591.pdf", "404", "persisting", ALL,
               "missing PDF attachment"),
        Defect(f"{PREFIX}zwfw/bgxz.html", "500", "persisting", ALL, "server error"),
        Defect(f"{PREFIX}zwfw/bsdt.html", "timeout", "new", (0,), "answers after 5 s"),
        Defect("{refused}/zfxxgk/index.html", "refused", "persisting", ALL, "retired editor port"),
        Defect(DNS_FAIL_URL, "dns", "persisting", ALL, ".invalid never resolves"),
        Defect(f"{PREFIX}loop/a.html", "loop", "persisting", ALL, "a.html -> b.html -> a.html"),
        Defect(f"{PREFIX}old/zwgk.html", "redirect_to_404", "persisting", ALL, "301 -> 302 -> 404"),
        Defect(f"{PREFIX}ztzl/cjwmcs/index.html", "soft404", "persisting", ALL, "200 with 页面不存在"),
        Defect(f"{PREFIX}tzgg/202510/t20251020_2207.html", "deleted_stub", "persisting", ALL,
               "meta refresh to ../ with a tiny body"),
        Defect(f"{PREFIX}images/banner_2026.jpg", "404", "recurred", (-3, 0), "broken image; fixed in -2, back in 0"),
        Defect("{ext}/gone.html", "404", "persisting", ALL, "external link gone"),
        Defect(f"{PREFIX}附件/不存在.pdf", "404", "new", (0,), "non-ASCII path"),
        Defect("/zwgk/jgzn/xqbsc_old.html", "404", "persisting", ALL, "outside the prefix on the city host"),
        Defect(f"{PREFIX}ldzc/index.html", "404", "fixed", (-3, -2, -1), "领导之窗 restored in 0"),
        Defect(f"{PREFIX}zwfw/jgcx.html", "500", "fixed", (-1,), "fixed in 0"),
    ]


def plant_in_articles(content: SiteContent) -> None:
    """Alter the generated articles: column quirks, links to planted targets, page-check plants."""
    items, special = content.items, content.special
    # 党建动态: newest URL date is recent but the displayed date is backdated past the window
    dj = items["djdt"][0]
    assert dj.url_date is not None
    dj.shown = dj.url_date - dt.timedelta(days=25)
    # 通知公告: a deleted document that is still listed
    tzgg = COL["tzgg"]
    stub = Item("tzgg", "关于西区2025年秋季学位申请有关事项的通知", dt.date(2025, 10, 20), dt.date(2025, 10, 20), 2207,
                encoding=tzgg.encoding, charset_in=tzgg.charset_in)
    items["tzgg"].append(stub)
    special["stub"] = stub.path
    # links to planted broken targets inside article bodies
    items["gzdt"][-1].extra_links.append(("2024年中秋国庆节前安全生产工作会议",
                                          f"{PREFIX}gzdt/202409/t20240912_3301.html"))
    items["tzgg"][-2].extra_links.append(("信息公开编辑平台", "{refused}/zfxxgk/index.html"))
    items["ztzl"][-1].extra_links.append(("政务公开（旧版）", f"{PREFIX}old/zwgk.html"))
    # one 人事信息 article in GB18030 with no charset declared anywhere
    hr = items["rsxx"][1]
    hr.encoding, hr.charset_in = "gb18030", "none"
    special["gb18030_article"] = hr.path
    # misstatement, hidden link and duplicated article, planted in articles visible in every month
    mis, ok = items["gzdt"][20], items["gzdt"][22]
    mis.body += (f"<p>会议强调，要坚持以{MISSTATEMENT_WRONG}为指导，全面贯彻党的二十大和二十届历次全会精神，"
                 "扎实推进各项工作。</p>\n")
    ok.body += (f"<p>会议要求，要坚持以{MISSTATEMENT_RIGHT}为指导，深入学习贯彻党的二十大精神，"
                "推动各项工作落地见效。</p>\n")
    hid = items["ztzl"][3]
    hid.body += ('<div style="display:none"><a href="{ext}/casino.html">在线娱乐城</a> '
                 '<a href="{ext}/casino.html">真人棋牌</a></div>\n')
    dup_a, dup_b = items["sqdt"][6], items["djdt"][4]
    dup_b.title = dup_a.title = "西区“社区吹哨、部门报到”机制提升基层治理效能"
    dup_a.body = dup_b.body = f"<p>{DUPLICATE_BODY}</p>\n"
    special.update(misstatement=mis.path, misstatement_ok=ok.path, hidden_link=hid.path,
                   duplicate_a=dup_a.path, duplicate_b=dup_b.path)


# ---------------------------------------------------------------------------------------------------------
# planted routes


def defect_route(pages: PageWriter, d: Defect) -> None:
    """Serve a planted defect as broken or, in months where it is fixed, as working."""
    if not d.target.startswith("/"):
        return
    path = d.target
    broken = d.broken(pages.content.variant)
    if path in pages.routes:
        return
    ok_page = pages.chrome.page("办事服务", None, "<p>本页面提供相关办事服务信息。</p>\n")
    if d.reason == "404":
        if not broken:
            if path.endswith((".pdf", ".jpg")):
                pages.add_file(path)
            else:
                pages.add_html(path, ok_page)
        return
    if d.reason == "500":
        if broken:
            pages.routes[path] = Route(status=500, body=b"<html><body><h1>500 Internal Server Error</h1></body></html>")
        else:
            pages.add_html(path, ok_page)
    elif d.reason == "timeout":
        pages.add_html(path, pages.chrome.page("网上办事大厅", None, "<p>欢迎使用网上办事大厅。</p>\n"),
                       delay=5.0 if broken else 0.0)


def plant_pages(pages: PageWriter, defects: list[Defect]) -> None:
    """Robots-disallowed page, soft 404, deleted-document stub, 领导之窗, redirects, 互动交流 session pages."""
    content, chrome = pages.content, pages.chrome
    by_target = {d.target: d for d in defects}
    # robots-disallowed page, linked from 联系我们
    pages.add_html(PREFIX + "private/neibu.html", chrome.page("内部通讯录", None, "<p>内部资料，请勿外传。</p>\n"))
    # soft 404 and a working sibling
    pages.add_html(PREFIX + "ztzl/cjwmcs/index.html", (
        '<!DOCTYPE html><html><head><meta charset="utf-8" /><title>页面不存在</title></head>'
        '<body><div class="err"><h1>抱歉，您访问的页面不存在或已被删除！</h1>'
        f'<p><a href="{PREFIX}">返回首页</a></p></div></body></html>'))
    pages.add_html(PREFIX + "ztzl/zxzt/index.html", chrome.page("学习教育专题", None,
                                                                "<h2>学习教育专题</h2>\n<p>专题内容持续更新中。</p>\n"))
    # deleted document stub
    pages.add_html(content.special["stub"],
                   '<html><head><meta http-equiv="refresh" content="0;URL=../" /></head></html>')
    # 领导之窗 (fixed in month 0)
    if not by_target[f"{PREFIX}ldzc/index.html"].broken(content.variant):
        pages.add_html(PREFIX + "ldzc/index.html", chrome.page("领导之窗", None, (
            "<h2>领导之窗</h2>\n<p>主任：王建华　主持办事处全面工作。</p>\n"
            "<p>副主任：李晓敏　负责经济发展、财政、统计等方面工作。</p>\n")))
    # redirect loop and redirect chains
    routes = pages.routes
    routes[PREFIX + "loop/a.html"] = Route(status=302, location=PREFIX + "loop/b.html", headers={})
    routes[PREFIX + "loop/b.html"] = Route(status=302, location=PREFIX + "loop/a.html", headers={})
    routes[PREFIX + "old/zwgk.html"] = Route(status=301, location=PREFIX + "old2/zwgk.html", headers={})
    routes[PREFIX + "old2/zwgk.html"] = Route(status=302, location=PREFIX + "xxgk/zwgk_new.html", headers={})
    routes[PREFIX + "xxgk.html"] = Route(status=301, location=PREFIX + "xxgk/", headers={})
    routes[PREFIX + "xxgk/"] = Route(status=302, location=PREFIX + "xxgkzn/index.html", headers={})
    # non-ASCII attachment that exists
    pages.add_file(f"{PREFIX}附件/{content.year}年预算说明.pdf")
    # 互动交流 pages (static versions; session-id variants are generated)
    for name in ("index.html", "zxzx_1.html", "zxzx_2.html"):
        pages.add_html(PREFIX + "hdjl/" + name, hdjl_page(chrome, name, "0"))


def hdjl_page(chrome: Chrome, name: str, sid: str) -> str:
    """A 互动交流 page whose every link carries the session id ``sid``."""
    links = " ".join(f'<a href="{n};jsessionid={sid}">{t}</a>' for n, t in
                     (("index.html", "互动首页"), ("zxzx_1.html", "咨询投诉"), ("zxzx_2.html", "意见征集")))
    return chrome.page("互动交流", None, (
        f"<h2>互动交流</h2>\n<p>{links}</p>\n<ul><li>关于彩虹大道夜间施工噪音的咨询<span>已回复</span></li>"
        "<li>关于长者饭堂就餐时间的建议<span>已回复</span></li></ul>\n"))


def outside_pages(pages: PageWriter) -> None:
    """Pages of the city host outside the prefix (one GBK town site), and robots.txt."""
    city = ('<!DOCTYPE html><html><head><meta charset="utf-8" /><meta name="SiteName" content="中山市人民政府" />'
            '<title>中山市人民政府门户网站</title></head><body><h1>中山市人民政府</h1>'
            '<ul><li><a href="/zwgk/index.html">政务公开</a></li><li><a href="/zmhd/index.html">政民互动</a></li>'
            f'<li><a href="{PREFIX}">西区办事处</a></li><li><a href="/dyz/">大涌镇</a></li></ul></body></html>')
    pages.add_html("/index.html", city)
    pages.add_html("/zwgk/index.html", city.replace("<h1>中山市人民政府</h1>", "<h1>政务公开</h1>"))
    pages.add_html("/zmhd/index.html", city.replace("<h1>中山市人民政府</h1>", "<h1>政民互动</h1>"))
    dyz = ('<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk" />'
           '<title>中山市大涌镇人民政府</title></head><body><h1>大涌镇</h1>'
           '<ul><li><a href="/dyz/dyml/index.html">主动公开目录</a></li><li><a href="/">中山市人民政府</a></li></ul>'
           '</body></html>')
    pages.add_html("/dyz/index.html", dyz, encoding="gbk", charset_in="meta")
    pages.add_html("/dyz/dyml/index.html", dyz.replace("<h1>大涌镇</h1>", "<h1>主动公开目录</h1>"),
                   encoding="gbk", charset_in="meta")
    pages.routes["/robots.txt"] = Route(body=b"User-agent: *\nDisallow: /xqbsc/private/\nDisallow: /zmhd/\n",
                                        headers={"Content-Type": "text/plain"})


def behaviour_routes(pages: PageWriter) -> None:
    """Behaviours that must not be reported: HEAD 405, 429 once, WAF blip."""
    content, routes, special = pages.content, pages.routes, pages.content.special
    head405 = urljoin(special["budget"], f"./P0{content.year}0318377102419820.pdf")
    if head405 in routes:
        routes[head405].head_status = 405
    special["head405"] = head405
    tz = [it for it in content.col_items("tzgg") if not it.pinned]
    r429 = routes[tz[1].path]
    r429.fail_first_n, r429.fail_status = 1, 429
    r429.fail_headers = {"Retry-After": "1", "Content-Type": "text/html; charset=utf-8"}
    r429.fail_body = b"<html><body>Too Many Requests</body></html>"
    special["429"] = tz[1].path
    waf_item = content.col_items("gzdt")[2]
    waf = routes[waf_item.path]
    waf.fail_first_n, waf.fail_status, waf.fail_body = 1, 200, b"\r\n"
    waf.fail_headers = {"Content-Type": "text/html; charset=utf-8"}
    special["waf"] = waf_item.path


def ext_routes() -> dict[str, Route]:
    """The "external" host: a working page (also behind an IPv6 proxy path) and the hidden link's spam page."""
    ok = ('<!DOCTYPE html><html><head><meta charset="utf-8" /><title>广东政务服务网</title></head>'
          '<body><p>欢迎访问</p></body></html>').encode()
    spam = ('<!DOCTYPE html><html><head><meta charset="utf-8" /><title>在线娱乐城</title></head>'
            '<body><p>注册即送彩金</p></body></html>').encode()
    return {"/ok.html": Route(body=ok), "/": Route(body=ok), "/casino.html": Route(body=spam)}


# ---------------------------------------------------------------------------------------------------------
# crawler traps: generated (infinite) routes


def trap_routes(chrome: Chrome) -> list[Callable[[str, str], Route | None]]:
    """Endless calendar, session ids in URLs, a repeating path segment, an endless query."""

    def html_route(text: str) -> Route:
        return Route(body=text.encode("utf-8"))

    def calendar_trap(path: str, query: str) -> Route | None:
        if path != PREFIX + "calendar":
            return None
        m = re.fullmatch(r"month=(\d{4})-(\d{2})", query)
        if not m or not 1 <= int(m.group(2)) <= 12:
            return None
        d = dt.date(int(m.group(1)), int(m.group(2)), 1)
        prev, nxt = shift_months(d, -1), shift_months(d, 1)
        return html_route(chrome.page(f"活动日历 {d:%Y年%m月}", None, (
            f"<h2>活动日历 {d.year}年{d.month}月</h2>\n<p>本月暂无活动安排。</p>\n"
            f'<p><a href="?month={prev:%Y-%m}">上一月</a> <a href="?month={nxt:%Y-%m}">下一月</a></p>\n')))

    def session_trap(path: str, query: str) -> Route | None:
        m = re.fullmatch(re.escape(PREFIX) + r"hdjl/(index\.html|zxzx_[12]\.html);jsessionid=([0-9A-Za-z]+)", path)
        if not m:
            return None
        sid = hashlib.md5(f"{path}?{query}".encode()).hexdigest()[:16].upper()
        return html_route(hdjl_page(chrome, m.group(1), sid))

    def repeat_trap(path: str, query: str) -> Route | None:
        if not re.fullmatch(re.escape(PREFIX) + r"a/(a/)*(index\.html)?", path):
            return None
        return html_route(chrome.page("专题汇编", None, (
            '<h2>专题汇编</h2>\n<p><a href="a/">下一级专题</a> '
            f'<a href="{PREFIX}ztzl/index.html">专题专栏</a></p>\n')))

    def query_trap(path: str, query: str) -> Route | None:
        if path != PREFIX + "search/":
            return None
        m = re.fullmatch(r"page=(\d+)", query or "page=1")
        if not m:
            return None
        n = int(m.group(1))
        return html_route(chrome.page("站内搜索", None, (
            f"<h2>站内搜索</h2>\n<p>第{n}页，未找到相关结果。</p>\n"
            f'<p><a href="?page={max(n - 1, 1)}">上一页</a> <a href="?page={n + 1}">下一页</a></p>\n')))

    return [calendar_trap, session_trap, repeat_trap, query_trap]


# ---------------------------------------------------------------------------------------------------------
# page-level plants: 咨询投诉 message board, 办事指南


def message_board(pages: PageWriter) -> dict[str, dict[str, Any]]:
    """Answered, slow (> 5 working days), unanswered for > 3 months, and a new one not yet due.

    Returns each message's path, dates and working days to reply, by key, for the manifest."""
    snap = pages.content.snapshot
    slow_ask = snap - dt.timedelta(days=45)
    while slow_ask.weekday() != 0 or any(_near_holiday(slow_ask + dt.timedelta(days=k)) for k in range(22)):
        slow_ask -= dt.timedelta(days=1)
    prompt_ask = snap - dt.timedelta(days=20)
    while prompt_ask.weekday() > 2:
        prompt_ask -= dt.timedelta(days=1)
    old_ask = snap - dt.timedelta(days=200)
    while old_ask.weekday() > 2:
        old_ask -= dt.timedelta(days=1)
    msgs = [  # key, title, asked, replied (None = 未回复), question
        ("recent", "关于翠景社区长者饭堂就餐时间的咨询", snap - dt.timedelta(days=1), None,
         "请问翠景社区长者饭堂周末是否开放？"),
        ("prompt", "关于彩虹大道夜间施工噪音的投诉", prompt_ask, add_working_days(prompt_ask, 1),
         "彩虹大道晚上十一点后仍在施工，噪音很大，请有关部门处理。"),
        ("slow", "关于沙朗社区路灯损坏的反映", slow_ask, add_working_days(slow_ask, 12),
         "沙朗社区富华道段有三盏路灯损坏多日，夜间出行不便。"),
        ("unanswered", "关于隆平路积水问题的反映", snap - dt.timedelta(days=130), None,
         "隆平路每逢下雨就严重积水，希望尽快疏通排水管道。"),
        ("old", "关于办理居住证所需材料的咨询", old_ask, add_working_days(old_ask, 3),
         "外来务工人员办理居住证需要准备哪些材料？"),
    ]
    rows = []
    messages: dict[str, dict[str, Any]] = {}
    for n, (key, title, asked, replied, question) in enumerate(msgs, start=1):
        path = f"{ZXLY}content_{n}.html"
        status = "已回复" if replied else "未回复"
        messages[key] = {"path": path, "asked": ymd(asked), "replied": ymd(replied) if replied else None,
                         "working_days": _working_days_between(asked, replied) if replied else None}
        reply = (f"<tr><th>回复单位</th><td>{SITE_SHORT}</td></tr>"
                 f"<tr><th>回复时间</th><td>{ymd(replied)} 16:20:05</td></tr>"
                 "<tr><th>回复内容</th><td>您好！您反映的问题已转交相关部门处理，感谢您对西区工作的关心和支持。</td></tr>"
                 if replied else "<tr><th>回复时间</th><td></td></tr><tr><th>回复内容</th><td>暂未回复</td></tr>")
        main = (f'<h2>咨询投诉</h2>\n<table class="ly_detail"><tr><th>留言标题</th><td>{title}</td></tr>'
                f"<tr><th>留言人</th><td>匿名</td></tr><tr><th>留言时间</th><td>{ymd(asked)} 10:2{n}:31</td></tr>"
                f"<tr><th>留言内容</th><td>{question}</td></tr><tr><th>状态</th><td>{status}</td></tr>"
                f'{reply}</table>\n<p><a href="index.html">返回留言列表</a></p>\n')
        pages.add_html(path, pages.chrome.page(title, None, main, crumb_last="咨询投诉"))
        rows.append(f'<tr><td><a href="content_{n}.html" target="_blank">{title}</a></td>'
                    f"<td>{ymd(asked)}</td><td>{ymd(replied) if replied else '—'}</td><td>{status}</td></tr>")
    main = ('<h2>咨询投诉</h2>\n<p>留言须知：本平台留言将在5个工作日内答复。</p>\n'
            '<table class="ly_list"><tr><th>标题</th><th>留言时间</th><th>回复时间</th><th>状态</th></tr>\n'
            + "\n".join(rows) + "\n</table>\n")
    pages.add_html(ZXLY + "index.html",
                   pages.chrome.page("咨询投诉", None, main, crumb_last="咨询投诉", identity=False))
    return messages


GUIDES = [  # file, service, missing elements
    ("jzz.html", "居住证办理", []),
    ("yddz.html", "老年人优待证办理", ["设定依据", "收费标准", "办理时间", "联系电话", "办理流程"]),
    ("lsjz.html", "临时救助申请", ["设定依据", "办理机构", "收费标准", "办理流程"]),
]
GUIDE_TEXT = {
    "事项名称": "{svc}", "设定依据": "《居住证暂行条例》《广东省流动人口服务管理条例》等有关规定",
    "申请条件": "符合{svc}条件的辖区居民", "办理材料": "1. 居民身份证原件；2. 申请表（现场领取）；3. 近期一寸免冠照片",
    "办理地点": "西区行政服务中心（彩虹大道23号）一楼综合窗口", "办理机构": "中山市西区办事处社会事务办公室",
    "收费标准": "不收费", "办理时间": "周一至周五上午8:30—12:00，下午14:30—17:30（法定节假日除外）",
    "联系电话": "0760-88776600", "办理流程": "申请→受理→审核→办结（即来即办）",
}


def guide_pages(pages: PageWriter) -> None:
    """One complete 办事指南 and two missing several of the ten elements, and their index."""
    links = []
    for name, svc, missing in GUIDES:
        rows = "".join(f"<tr><th>{k}</th><td>{GUIDE_TEXT[k].format(svc=svc)}</td></tr>"
                       for k in GUIDE_ELEMENTS if k not in missing)
        title = f"{svc}办事指南"
        pages.add_html(BSZN + name, pages.chrome.page(title, None, (
            f'<h2>{title}</h2>\n<table class="bszn">{rows}</table>\n<p><a href="index.html">返回办事指南</a></p>\n'),
            crumb_last="办事指南"))
        links.append(f'<li><a href="{name}">{title}</a></li>')
    pages.add_html(BSZN + "index.html", pages.chrome.page("办事指南", None, (
        '<h2>办事指南</h2>\n<ul class="bszn_list">' + "".join(links) + "</ul>\n"), crumb_last="办事指南"))
