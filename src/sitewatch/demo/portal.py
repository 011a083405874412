"""A deterministic simulated 镇街 portal (中山市西区办事处) with planted defects and a manifest of verdicts.

`build_portal()` returns every response the demo server gives: static routes keyed by path (plus query where
needed), a few generated routes for crawler traps, the routes of a second "external" host, and `expected`, the
manifest of what a correct scan must report (broken links, must-not-report links, column freshness, mandated
disclosures, traps, robots rules). Nothing depends on the wall clock: all dates derive from `as_of`.

Placeholders in bodies, headers and the manifest: `{ext}` is the base URL of the external host, `{refused}` the
base URL of a loopback port nobody listens on. The server fills them in when it starts.

Column categories follow the shipped rule packs' name keywords (dynamic 14 days, notice 183 days, yearly 365 days);
a column those keywords do not name is "unknown" and gets no freshness verdict. Column verdicts: fresh, stale
(dynamic/notice past the window, or no item dated at all), long_stale (yearly past 365 days), blank, unknown.

Manifest keys: as_of (the snapshot date), start_url_path, prefix, scan_timeout, page_count; broken and not_broken
(path_or_url, reason, found_on, note); columns (name, path, category, expected, newest, window_days, layout, items,
pages, js_pager_only, encoding, charset_in); homepage; disclosures (item, year, expected, path, evidence, document);
traps (kind, entry, pattern, found_on); robots_disallowed; outside_prefix (checked, never crawled); never_fetch;
encodings; history (per planted defect: kind persisting|new|fixed|recurred and the variants it is broken in);
gkmlpt (index, guide, SID, API shape, category tree); page_checks (rule, path, also_on, expected found|not_found|any)
and page_check_rules.

Platform sections: a Guangdong gkmlpt 信息公开目录 under /xqbsc/gkmlpt/ (index page whose lists are filled by
JavaScript from /gkmlpt/api/all/<catId>?page=N&sid=<SID>; its categories are `columns` entries by category name, and
the interpretation of 西区办规〔year〕4号 is published only there) and a Hanweb JCMS column whose rows are CDATA
records in a <datastore>. Page-level plants for the other single-veto indicators: a 咨询投诉 message board (one
unanswered for over 3 months, one answered after more than 5 working days), 办事指南 pages (one complete, two
missing four or more of the ten elements), a misstated fixed political phrase, a hidden link to the external host,
one article body published in two columns, and one page without the footer identity marks.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import html
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, urljoin

PREFIX = "/xqbsc/"
SITE_NAME = "中山市西区办事处"
SITE_SHORT = "西区办事处"
SITE_ID_CODE = "4420000059"
DNS_FAIL_URL = "http://oa.xqbsc.invalid/"
HTML_UTF8 = "text/html; charset=utf-8"

WINDOWS = {"dynamic": 14, "notice": 183, "yearly": 365}
HISTORY_MONTHS = (-3, -2, -1, 0)


@dataclass
class Route:
    """One response of the demo server, with its behaviour."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": HTML_UTF8})
    delay: float = 0.0                    # seconds to wait before answering
    head_status: int | None = None        # status for HEAD when it differs from GET (e.g. 405)
    fail_first_n: int = 0                 # the first N requests get the failure response below
    fail_status: int = 429
    fail_headers: dict[str, str] = field(default_factory=dict)
    fail_body: bytes = b""
    location: str | None = None           # redirect target (path or absolute URL, placeholders allowed)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


@dataclass
class Portal:
    """All responses of the demo site plus the manifest of expected verdicts."""

    routes: dict[str, Route]
    expected: dict[str, Any]
    ext_routes: dict[str, Route]
    as_of: dt.date
    snapshot: dt.date
    month_variant: int
    scale: int
    dynamic: list[Callable[[str, str], Route | None]] = field(default_factory=list, compare=False, repr=False)

    def resolve(self, path: str, query: str = "") -> Route | None:
        """Route for a decoded path and raw query: exact key, then path alone, directory index, generated."""
        if query and f"{path}?{query}" in self.routes:
            return self.routes[f"{path}?{query}"]
        for fn in self.dynamic:
            route = fn(path, query)
            if route is not None:
                return route
        if path in self.routes:
            return self.routes[path]
        if path.endswith("/") and path + "index.html" in self.routes:
            return self.routes[path + "index.html"]
        return None

    def resolve_ext(self, path: str, query: str = "") -> Route | None:
        """Route of the external host; `/ipv6best/<token>/<rest>` mimics an IPv6 proxy rewrite of `/<rest>`."""
        m = re.match(r"^/ipv6best/[0-9a-z]+(/.*)$", path)
        if m:
            path = m.group(1)
        return self.ext_routes.get(path)

    def html_paths(self) -> list[str]:
        """Paths of all static HTML pages answering 200."""
        return sorted(p for p, r in self.routes.items()
                      if r.status == 200 and r.content_type.startswith("text/html"))


# ---------------------------------------------------------------------------------------------------------
# dates


def shift_months(d: dt.date, months: int) -> dt.date:
    """Same day `months` months away, clamped to the month's length."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _ymd(d: dt.date) -> str:
    return d.strftime("%Y-%m-%d")


def _cn_date(d: dt.date) -> str:
    return f"{d.year}年{d.month:02d}月{d.day:02d}日"


# ---------------------------------------------------------------------------------------------------------
# content vocabulary

COMMUNITIES = ["沙朗", "后山", "隆平", "长洲", "烟洲", "翠景", "彩虹", "富华", "金叶", "岐港"]
DYN_TEMPLATES = [
    "西区召开{topic}工作部署会",
    "西区{c}社区开展{act}活动",
    "西区办事处主要领导带队检查{chk}工作",
    "西区举办{event}",
    "西区{c}社区“{act}”志愿服务活动温暖开展",
    "西区推进{topic}工作取得新成效",
    "市领导到西区调研{topic}工作",
    "西区召开{topic}专题会议",
]
TOPICS = ["安全生产", "城市更新", "森林防火", "三防", "人居环境整治", "文明城市创建", "基层治理", "营商环境优化",
          "消防安全", "燃气安全", "食品安全", "防溺水", "老旧小区改造", "垃圾分类", "禁毒宣传", "信访维稳"]
ACTS = ["邻里节", "政策宣讲", "长者关爱", "垃圾分类宣传", "反诈宣传", "义诊", "亲子阅读", "消防演练", "敬老慰问", "法律咨询"]
CHECKS = ["节前安全生产", "燃气安全", "消防安全", "在建工地", "三防备汛", "食品安全", "校园周边安全"]
EVENTS = ["2026年“百千万工程”推进会", "社区运动会", "民营企业座谈会", "“粤菜师傅”技能培训", "青年人才招聘会",
          "长者饭堂开放日", "非遗文化进社区展演", "“香山书香”读书节"]
NOTICE_TEMPLATES = [
    "关于{topic}工作的通知",
    "关于开展{year}年度{topic}专项检查的公告",
    "西区{year}年{topic}资金拟安排项目公示",
    "关于西区{c}社区{road}道路施工临时交通管制的通告",
    "关于征集{year}年西区民生实事项目的公告",
    "关于做好{year}年{topic}有关工作的通知",
]
ROADS = ["彩虹大道", "富华道", "沙朗路", "翠景北路", "隆平路", "升华路", "长洲北路"]
PUBLIC_TEMPLATES = [
    "西区{c}社区{year}年低保对象名单公示",
    "西区{year}年城乡居民临时救助情况公示",
    "西区{c}社区集体资产处置结果公示",
    "西区{year}年度先进个人拟表彰名单公示",
]
OTHER_FILE_TEMPLATES = [
    "西区办事处关于{year}年{topic}工作安排的函",
    "西区办事处关于印发{topic}工作要点的通知",
    "西区办事处关于做好{topic}有关工作的函",
]
FILE_TEMPLATES = [
    "中山市西区办事处关于印发《西区{year}年{topic}工作方案》的通知",
    "中山市西区办事处关于成立西区{topic}工作领导小组的通知",
    "中山市西区办事处关于调整{topic}工作机制的通知",
]
HR_TEMPLATES = [
    "中山市西区办事处{year}年公开招聘{n}名{job}公告",
    "中山市西区办事处{year}年公开招聘{job}拟聘用人员公示",
    "西区办事处干部任前公示",
    "中山市西区办事处{year}年公开招聘{job}面试成绩及体检名单",
]
JOBS = ["社区工作者", "网格员", "综合执法辅助人员", "专职消防员", "财政辅助人员", "退役军人服务站工作人员"]
STAT_TEMPLATES = [
    "西区{year}年{m}月主要经济指标",
    "西区{year}年1—{m}月规模以上工业增加值情况",
    "西区{year}年{m}月社会消费品零售总额情况",
]
PLAN_TITLES = [
    "中山市西区办事处{year}年工作计划",
    "西区“十四五”规划中期评估报告",
    "中山市西区办事处{year}年工作总结",
    "西区{year}年重点项目建设计划",
]
TOPIC_TEMPLATES = [
    "西区创建全国文明城市{n}问",
    "学习贯彻党的二十届四中全会精神专题（{n}）",
    "西区“百千万工程”专题报道（{n}）",
    "扫黑除恶常态化专题宣传（{n}）",
]
SERVICE_TEMPLATES = [
    "西区{svc}服务须知",
    "西区{svc}常见问题解答",
    "西区{svc}办理地点及时间",
]
SERVICES = ["居住证办理", "老年人优待证办理", "城乡居民医保参保", "残疾人两项补贴申请", "临时救助申请",
            "生育登记", "退役军人优待证申领", "就业登记", "灵活就业社保缴费"]
BODY_SENTENCES = [
    "会议强调，要坚持以人民为中心的发展思想，切实把各项工作抓实抓细抓到位。",
    "各社区、各部门要提高政治站位，压实工作责任，确保各项任务按时保质完成。",
    "下一步，西区将持续深化“百千万工程”，推动城乡区域协调发展。",
    "活动现场气氛热烈，居民群众纷纷表示受益匪浅。",
    "此次检查共排查各类隐患{n}处，已当场整改{k}处，其余隐患已责令限期整改。",
    "西区各社区党委积极发动党员志愿者参与，共服务群众{n}人次。",
    "请各相关单位认真贯彻执行，执行中遇到的问题请及时向西区办事处反映。",
    "如有疑问，请于工作日上午8:30—12:00、下午14:30—17:30致电咨询。",
    "本公示期为5个工作日，如对公示内容有异议，可在公示期内以书面形式向西区办事处反映。",
]


def _fill(rng: random.Random, template: str, year: int) -> str:
    return template.format(
        topic=rng.choice(TOPICS), c=rng.choice(COMMUNITIES), act=rng.choice(ACTS), chk=rng.choice(CHECKS),
        event=rng.choice(EVENTS), year=year, road=rng.choice(ROADS), n=rng.randint(2, 12), job=rng.choice(JOBS),
        m=rng.randint(1, 12), svc=rng.choice(SERVICES),
    )


def _body(rng: random.Random, k: int = 3) -> str:
    out = []
    for _ in range(k):
        n = rng.randint(12, 260)
        out.append(rng.choice(BODY_SENTENCES).format(n=n, k=max(1, n // 2)))
    return "".join(f"<p>{html.escape(s)}</p>\n" for s in out)


# ---------------------------------------------------------------------------------------------------------
# site model


@dataclass
class Column:
    key: str
    name: str
    category: str                  # dynamic | notice | yearly | unknown
    layout: str                    # ul | dl | table | undated | blank_text | blank_ul
    per_page: int = 15
    js_pager_only: bool = False
    encoding: str = "utf-8"
    charset_in: str = "header"     # header | meta | none
    href: str | None = None        # column URL when it is not /xqbsc/<key>/ (gkmlpt categories)


@dataclass
class Item:
    col: str
    title: str
    url_date: dt.date | None
    shown: dt.date | None
    doc_id: int
    pinned: bool = False
    docno: str | None = None
    attachments: list[tuple[str, str]] = field(default_factory=list)   # (link text, href relative to article)
    extra_links: list[tuple[str, str]] = field(default_factory=list)   # (text, href) in the body
    body: str = ""
    encoding: str | None = None
    charset_in: str | None = None
    path_override: str | None = None   # platform URL shapes (gkmlpt post_<id>, Hanweb art_<unit>_<id>)

    @property
    def path(self) -> str:
        if self.path_override:
            return self.path_override
        if self.url_date is None:
            return f"{PREFIX}{self.col}/content_{self.doc_id}.html"
        d = self.url_date
        return f"{PREFIX}{self.col}/{d:%Y%m}/t{d:%Y%m%d}_{self.doc_id}.html"


COLUMNS: list[Column] = [
    Column("gzdt", "工作动态", "dynamic", "ul", js_pager_only=True),
    Column("sqdt", "社区动态", "dynamic", "ul"),
    Column("djdt", "党建动态", "dynamic", "ul"),
    Column("tzgg", "通知公告", "notice", "dl"),
    Column("gsgg", "公示公告", "notice", "ul"),
    Column("qtwj", "其他文件", "notice", "undated"),
    Column("zcwj", "政策文件", "notice", "table"),
    Column("zcjd", "政策解读", "notice", "ul"),
    Column("rsxx", "人事信息", "yearly", "table"),
    Column("ghjh", "规划计划", "yearly", "ul"),
    Column("tjxx", "统计数据", "unknown", "ul"),
    Column("czyjs", "财政预决算", "unknown", "ul"),
    Column("ndbg", "政府信息公开年报", "unknown", "dl", encoding="gbk", charset_in="header"),
    Column("xxgkzn", "政府信息公开指南", "unknown", "ul", encoding="gb2312", charset_in="meta"),
    Column("ztzl", "专题专栏", "unknown", "ul"),
    Column("bmfw", "便民服务", "unknown", "ul"),
    Column("zjdc", "征集调查", "unknown", "blank_text"),
    Column("zxft", "在线访谈", "unknown", "blank_ul"),
]
COL = {c.key: c for c in COLUMNS}


# ---------------------------------------------------------------------------------------------------------
# platform sections and page-level checks (gkmlpt catalogue, Hanweb datastore column, veto-indicator pages)

GKMLPT = PREFIX + "gkmlpt/"
GK_SID = "2412"
GK_PAGE_SIZE = 10
CHINA_TZ = dt.timezone(dt.timedelta(hours=8))
# the category tree of window._CONFIG: (id, name, parent id or 0); leaves hold documents
GK_TREE = [(2000, "政务动态", 0), (3000, "文件资料", 0), (3001, "镇街文件", 3000), (3002, "文件解读", 3000),
           (4000, "财政信息", 0), (4001, "部门预算决算", 4000)]
GK_LEAF_CATEGORY = {2000: "dynamic", 3001: "notice", 3002: "notice", 4001: "unknown"}
HANWEB_COL = Column("zwyw", "政务要闻", "dynamic", "hanweb_datastore")
HANWEB_UNIT = 4061
ZXLY = PREFIX + "zxly/"          # 咨询投诉 message board (a separate system: its list page lacks the identity marks)
BSZN = PREFIX + "bszn/"          # 办事指南
GUIDE_ELEMENTS = ["事项名称", "设定依据", "申请条件", "办理材料", "办理地点", "办理机构", "收费标准", "办理时间",
                  "联系电话", "办理流程"]
MISSTATEMENT_WRONG = "习近平新时代中国特色社会主意思想"
MISSTATEMENT_RIGHT = "习近平新时代中国特色社会主义思想"
PAGE_CHECK_RULES = ("interaction.unanswered", "interaction.slow_reply", "service.guide_incomplete",
                    "security.misstatement", "security.hidden_link", "security.duplicate_content",
                    "identity.mark_missing")
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


def _epoch(d: dt.date, hour: int = 10) -> int:
    return int(dt.datetime(d.year, d.month, d.day, hour, 0, tzinfo=CHINA_TZ).timestamp())


def _working_days_between(start: dt.date, end: dt.date) -> int:
    """Weekdays after ``start`` up to and including ``end``."""
    return sum(1 for k in range(1, (end - start).days + 1) if (start + dt.timedelta(days=k)).weekday() < 5)


# (key, base count per scale unit, newest offset in days before as_of, span in days)
BULK = [
    ("gzdt", 60, 1, 365), ("sqdt", 17, 3, 400), ("djdt", 15, 5, 700), ("tzgg", 30, 9, 720),
    ("gsgg", 8, 200, 900), ("qtwj", 6, 0, 0), ("zcwj", 12, 30, 900), ("rsxx", 10, 120, 1000), ("tjxx", 10, 60, 900),
    ("ztzl", 12, 20, 800), ("bmfw", 10, 45, 900),
]
TEMPLATES = {
    "gzdt": DYN_TEMPLATES, "sqdt": DYN_TEMPLATES, "djdt": ["西区{c}社区党委开展主题党日活动", "西区召开党建工作领导小组会议",
                                                            "西区机关党委开展{act}志愿服务", "西区举办基层党组织书记培训班"],
    "tzgg": NOTICE_TEMPLATES, "gsgg": PUBLIC_TEMPLATES, "qtwj": OTHER_FILE_TEMPLATES, "zcwj": FILE_TEMPLATES, "rsxx": HR_TEMPLATES,
    "tjxx": STAT_TEMPLATES, "ztzl": TOPIC_TEMPLATES, "bmfw": SERVICE_TEMPLATES,
}

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
RAR = b"Rar!\x1a\x07\x00" + b"\x00" * 64
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")
MIME = {"pdf": "application/pdf", "xls": "application/vnd.ms-excel", "rar": "application/x-rar-compressed",
        "png": "image/png", "jpg": "image/jpeg", "doc": "application/msword"}


def _file_route(name: str) -> Route:
    ext = name.rsplit(".", 1)[-1].lower()
    body = {"pdf": PDF, "xls": XLS, "rar": RAR, "png": PNG, "jpg": PNG}.get(ext, b"\x00" * 32)
    return Route(body=body, headers={"Content-Type": MIME.get(ext, "application/octet-stream")})


# ---------------------------------------------------------------------------------------------------------
# planted defects, with the months (variants) in which each one is broken


@dataclass
class Defect:
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


# ---------------------------------------------------------------------------------------------------------
# page rendering


class _Page:
    """Renders pages of the sub-site with the shared header, navigation and footer."""

    def __init__(self, portal_cols: list[Column], extra_nav: list[tuple[str, str]] | None = None) -> None:
        self.cols = portal_cols
        self.extra_nav = extra_nav or []      # (href, name) after the columns: 政务要闻, 信息公开目录

    def head(self, title: str, column: str | None, *, charset_meta: str | None = "utf-8",
             extra_meta: dict[str, str] | None = None, identity: bool = True) -> str:
        metas = []
        if charset_meta == "utf-8":
            metas.append('<meta charset="utf-8" />')
        elif charset_meta:
            metas.append(f'<meta http-equiv="Content-Type" content="text/html; charset={charset_meta}" />')
        metas += [
            f'<meta name="SiteName" content="{SITE_NAME}" />',
            '<meta name="SiteDomain" content="www.zs.gov.cn" />',
        ]
        if identity:
            metas.append(f'<meta name="SiteIDCode" content="{SITE_ID_CODE}" />')
        if column:
            metas += [f'<meta name="ColumnName" content="{column}" />', f'<meta name="ColumnType" content="{column}" />']
        for k, v in (extra_meta or {}).items():
            metas.append(f'<meta name="{k}" content="{html.escape(v)}" />')
        return ("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n" + "\n".join(metas)
                + f"\n<title>{html.escape(title)}</title>\n"
                '<link rel="stylesheet" type="text/css" href="/xqbsc/images/style.css" />\n</head>\n')

    def header(self) -> str:
        nav = "".join(f'<li><a href="{PREFIX}{c.key}/">{c.name}</a></li>' for c in self.cols)
        nav += "".join(f'<li><a href="{href}">{name}</a></li>' for href, name in self.extra_nav)
        return (
            '<body>\n<a name="top" id="top"></a>\n<div class="header">\n'
            f'<div class="logo"><a href="{PREFIX}"><img src="{PREFIX}images/logo.png" alt="{SITE_NAME}" /></a></div>\n'
            '<div class="top_link"><a href="/">中山市人民政府</a></div>\n'
            f'<ul class="nav">\n<li class="on"><a href="{PREFIX}">首页</a></li>{nav}\n</ul>\n</div>\n'
        )

    def footer(self, identity: bool = True) -> str:
        marks = (f'<p>网站标识码：{SITE_ID_CODE}　粤ICP备05021338号　粤公网安备 44200002443026号</p>\n'
                 if identity else "")
        return (
            '<div class="footer">\n<div class="foot_link">'
            f'<a href="{PREFIX}wzdt.html">网站地图</a> | <a href="{PREFIX}lxwm.html">联系我们</a> | '
            '<a href="#top">返回顶部</a></div>\n'
            f'<p>主办单位：{SITE_NAME}　地址：中山市西区彩虹大道23号　电话：0760-88776655</p>\n'
            + marks +
            '<p><a href="{ext}/ok.html" target="_blank" title="党政机关">'
            f'<img src="{PREFIX}images/red.png" alt="党政机关" /></a></p>\n'
            '</div>\n</body>\n</html>\n'
        )

    def crumbs(self, col: Column | None, last: str | None = None) -> str:
        parts = [f'<a href="{PREFIX}">首页</a>']
        if col:
            parts.append(f'<a href="{col.href or f"{PREFIX}{col.key}/"}">{col.name}</a>')
        if last:
            parts.append(last)
        return '<div class="crumb">当前位置：' + " &gt; ".join(parts) + "</div>\n"

    def page(self, title: str, col: Column | None, main: str, *, charset_meta: str | None = "utf-8",
             extra_meta: dict[str, str] | None = None, crumb_last: str | None = None, identity: bool = True) -> str:
        """A page of the sub-site; ``identity=False`` drops the 网站标识码/ICP/公网安备 marks (and SiteIDCode)."""
        full_title = f"{title}_{SITE_NAME}" if title != SITE_NAME else title
        return (self.head(full_title, col.name if col else None, charset_meta=charset_meta, extra_meta=extra_meta,
                          identity=identity)
                + self.header() + self.crumbs(col, crumb_last) + f'<div class="main">\n{main}</div>\n'
                + self.footer(identity))


def _a(href: str, text: str, **attrs: str) -> str:
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f'<a href="{html.escape(href, quote=True)}"{extra}>{html.escape(text)}</a>'


def _rel(from_dir: str, item_path: str) -> str:
    """Relative href from a column directory (``/xqbsc/gzdt/``) to an item inside it, TRS style."""
    if item_path.startswith(from_dir):
        return "./" + item_path[len(from_dir):]
    return item_path


JS_PAGER = """<script type="text/javascript">
function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt){
  if(_nPageCount == null || _nPageCount<=1){ return; }
  var nCurrIndex = _nCurrIndex || 0;
  if(nCurrIndex == 0) document.write("<span class=\\"now\\">1</span>&nbsp;");
  else document.write("<a href=\\""+_sPageName+"."+_sPageExt+"\\">1</a>&nbsp;");
  for(var i=1; i<_nPageCount; i++){
    if(nCurrIndex == i) document.write("<span class=\\"now\\">"+(i+1)+"</span>&nbsp;");
    else document.write("<a href=\\""+_sPageName+"_"+i+"."+_sPageExt+"\\">"+(i+1)+"</a>&nbsp;");
  }
}
</script>
"""
JS_PAGER_FRAGMENT = '"+_sPageName+"_"+i+"."+_sPageExt+"'


# ---------------------------------------------------------------------------------------------------------
# builder


class _Builder:
    def __init__(self, as_of: dt.date, month_variant: int, scale: int) -> None:
        if month_variant > 0:
            raise ValueError("month_variant must be 0 or negative")
        if scale < 1:
            raise ValueError("scale must be >= 1")
        self.as_of = as_of
        self.variant = month_variant
        self.scale = scale
        self.snapshot = shift_months(as_of, month_variant)
        self.year = as_of.year if as_of >= dt.date(as_of.year, 3, 1) else as_of.year - 1
        self.rng = random.Random(f"sitewatch-demo/{scale}")
        self.routes: dict[str, Route] = {}
        self.html: dict[str, str] = {}          # path -> rendered text, for found_on scanning
        self.items: dict[str, list[Item]] = {c.key: [] for c in COLUMNS}
        self.next_id = 5001
        self.pg = _Page(COLUMNS, extra_nav=[(PREFIX + "zwyw/", HANWEB_COL.name),
                                            (GKMLPT + "index", "信息公开目录")])
        self.next_xid = 8000
        self.special: dict[str, str] = {}       # names of paths picked at build time
        self.defects = planted_defects(self.year)
        self.defect_by_target = {d.target: d for d in self.defects}

    # -- items ------------------------------------------------------------------------------------------
    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def make_items(self) -> None:
        y = self.year
        for key, base, newest, span in BULK:
            n = base * self.scale
            rng = random.Random(f"sitewatch-demo/{key}/{self.scale}")
            for i in range(n):
                if COL[key].layout == "undated":
                    url_date = shown = None
                    title_year = y
                else:
                    off = newest + (round(i * span / (n - 1)) if n > 1 else 0)
                    url_date = self.as_of - dt.timedelta(days=off)
                    shown = url_date
                    if i > 0 and rng.random() < 0.4:
                        shown = url_date - dt.timedelta(days=rng.randint(1, 45))
                    title_year = url_date.year
                title = _fill(rng, rng.choice(TEMPLATES[key]), title_year)
                it = Item(key, title, url_date, shown, self._id(), body=_body(rng, rng.randint(2, 5)))
                if key == "zcwj":
                    it.docno = f"西区办〔{title_year}〕{n - i + 10}号"
                self.items[key].append(it)
        # 党建动态: newest URL date is recent but the displayed date is backdated past the window
        dj = self.items["djdt"][0]
        assert dj.url_date is not None
        dj.shown = dj.url_date - dt.timedelta(days=25)
        # 通知公告: an old pinned row on top, and a deleted document that is still listed
        pinned = Item("tzgg", "关于进一步规范西区办事处政务服务窗口办事时间的通告", self.as_of - dt.timedelta(days=500),
                      self.as_of - dt.timedelta(days=500), self._id(), pinned=True, body=_body(self.rng))
        self.items["tzgg"].insert(0, pinned)
        stub = Item("tzgg", "关于西区2025年秋季学位申请有关事项的通知", dt.date(2025, 10, 20), dt.date(2025, 10, 20), 2207)
        self.items["tzgg"].append(stub)
        self.special["stub"] = stub.path
        self._policy_items(y)
        self._finance_items(y)
        self._report_items(y)
        self._plan_items(y)
        for lst in self.items.values():
            for it in lst:
                col = COL[it.col]
                it.encoding = it.encoding or col.encoding
                it.charset_in = it.charset_in or col.charset_in
        # one 人事信息 article in GB18030 with no charset declared anywhere
        self.items["gzdt"][-1].extra_links.append(("2024年中秋国庆节前安全生产工作会议",
                                                   f"{PREFIX}gzdt/202409/t20240912_3301.html"))
        self.items["tzgg"][-2].extra_links.append(("信息公开编辑平台", "{refused}/zfxxgk/index.html"))
        self.items["ztzl"][-1].extra_links.append(("政务公开（旧版）", f"{PREFIX}old/zwgk.html"))
        hr = self.items["rsxx"][1]
        hr.encoding, hr.charset_in = "gb18030", "none"
        self.special["gb18030_article"] = hr.path
        # a 规范性文件 whose interpretation is published only in the gkmlpt catalogue
        d4 = dt.date(y, 6, 15)
        reg4 = Item("zcwj", "中山市西区办事处关于印发《西区社区养老服务设施建设管理办法》的通知", d4, d4, self._xid(),
                    docno=f"西区办规〔{y}〕4号", body="<p>各社区：</p><p>现将《西区社区养老服务设施建设管理办法》印发给你们，"
                    "请认真贯彻执行。</p>", encoding="utf-8", charset_in="header")
        self.items["zcwj"].append(reg4)
        self.special["reg4"] = reg4.path
        self._page_check_items()
        self._gk_items(y)
        self._hanweb_items()

    def _policy_items(self, y: int) -> None:
        d1, d3, d0 = dt.date(y, 3, 16), dt.date(y, 9, 8), dt.date(y - 1, 6, 10)
        reg1 = Item("zcwj", "中山市西区办事处关于印发《西区社区微改造项目管理办法》的通知", d1, d1, self._id(),
                    docno=f"西区办规〔{y}〕1号", body="<p>各社区、办事处各部门：</p><p>现将《西区社区微改造项目管理办法》印发给你们，请认真贯彻执行。</p>")
        reg3 = Item("zcwj", "中山市西区办事处关于印发《西区老旧小区加装电梯财政补助实施细则》的通知", d3, d3, self._id(),
                    docno=f"西区办规〔{y}〕3号", body="<p>各社区：</p><p>现将《西区老旧小区加装电梯财政补助实施细则》印发给你们，请遵照执行。</p>")
        reg0 = Item("zcwj", "中山市西区办事处关于印发《西区困难群众临时救助实施办法》的通知", d0, d0, self._id(),
                    docno=f"西区办规〔{y - 1}〕2号", body="<p>各社区：</p><p>现将《西区困难群众临时救助实施办法》印发给你们，请遵照执行。</p>")
        jd1 = Item("zcjd", "《西区社区微改造项目管理办法》政策解读", d1, d1, self._id(),
                   body="<p>一、起草背景</p><p>为规范社区微改造项目管理……</p><p>二、主要内容</p><p>《办法》共五章二十条……</p>")
        jd0 = Item("zcjd", "图解：《西区困难群众临时救助实施办法》", d0, d0, self._id(),
                   body="<p>一图读懂临时救助的对象、标准和申请流程。</p>")
        jd_old = Item("zcjd", "《西区“十四五”时期城市更新工作方案》解读", dt.date(y - 2, 11, 3), dt.date(y - 2, 11, 3),
                      self._id(), body="<p>方案明确了城市更新的总体目标和重点任务。</p>")
        reg1.extra_links.append(("相关解读：《西区社区微改造项目管理办法》政策解读", jd1.path))
        jd1.extra_links.append((f"原文：西区办规〔{y}〕1号", reg1.path))
        reg0.extra_links.append(("相关解读：图解《西区困难群众临时救助实施办法》", jd0.path))
        jd0.extra_links.append((f"原文：西区办规〔{y - 1}〕2号", reg0.path))
        self.items["zcwj"] += [reg1, reg3, reg0]
        self.items["zcjd"] += [jd1, jd0, jd_old]
        self.special.update(reg1=reg1.path, reg3=reg3.path, reg0=reg0.path, jd1=jd1.path, jd0=jd0.path)

    def _finance_items(self, y: int) -> None:
        d = dt.date(y, 3, 18)
        budget = Item("czyjs", f"西区办事处{y}年部门预算及“三公”经费预算", d, d, self._id(), body="<p>详见附件。</p>")
        budget.attachments = [
            (f"西区办事处{y}年部门预算.pdf", f"./P0{y}0318377102419820.pdf"),
            (f"{y}年一般公共预算“三公”经费支出表.XLS", f"./P0{y}0318377102418843.XLS"),
            (f"{y}年部门预算绩效目标表.pdf", f"./P0{y}0318377102416591.pdf"),
            (f"{y}年预算说明.pdf", f"{PREFIX}附件/{y}年预算说明.pdf"),
            (f"{y}年政府采购预算表.pdf", f"{PREFIX}附件/不存在.pdf"),
        ]
        d_prev = dt.date(y - 1, 3, 20)
        budget_prev = Item("czyjs", f"西区办事处{y - 1}年部门预算", d_prev, d_prev, self._id(), body="<p>详见附件。</p>")
        budget_prev.attachments = [
            (f"{y - 1}年部门预算.pdf", f"./P0{y - 1}0320512230017733.pdf"),
            (f"{y - 1}年“三公”经费预算情况说明.pdf", f"./P0{y - 1}0320512230019210.pdf"),
        ]
        d_fin = dt.date(y, 8, 20)
        final = Item("czyjs", f"西区办事处{y - 1}年部门决算", d_fin, d_fin, self._id(), body="<p>详见附件。</p>")
        final.attachments = [
            (f"{y - 1}年部门决算.pdf", f"./P0{y}0820330415561127.pdf"),
            (f"{y - 1}年部门决算公开表.rar", f"./P0{y}0820330415563390.rar"),
        ]
        d_fin2 = dt.date(y - 1, 8, 25)
        final_prev = Item("czyjs", f"西区办事处{y - 2}年部门决算及“三公”经费决算", d_fin2, d_fin2, self._id(),
                          body="<p>详见附件。</p>")
        final_prev.attachments = [(f"{y - 2}年部门决算公开表.XLS", f"./P0{y - 1}0825104488201354.XLS")]
        d_b2 = dt.date(y - 2, 3, 22)
        budget_p2 = Item("czyjs", f"西区办事处{y - 2}年部门预算及“三公”经费预算", d_b2, d_b2, self._id(),
                         body="<p>详见附件。</p>")
        budget_p2.attachments = [(f"{y - 2}年部门预算.pdf", f"./P0{y - 2}0322771200345512.pdf")]
        self.items["czyjs"] += [final, budget, final_prev, budget_prev, budget_p2]
        self.special.update(budget=budget.path, budget_prev=budget_prev.path, final=final.path,
                            final_prev=final_prev.path)

    def _report_items(self, y: int) -> None:
        for k in range(1, 6):
            yr = y - k
            pub = dt.date(yr + 1, 2, 20) if k == 1 else dt.date(yr + 1, 1, 20 + k)
            it = Item("ndbg", f"中山市西区办事处{yr}年政府信息公开工作年度报告", pub, pub, self._id(),
                      body="<p>一、总体情况</p><p>二、主动公开政府信息情况</p><p>三、收到和处理政府信息公开申请情况</p>"
                           "<p>四、政府信息公开行政复议、行政诉讼情况</p><p>五、存在的主要问题及改进情况</p><p>六、其他需要报告的事项</p>")
            self.items["ndbg"].append(it)
            self.special[f"ndbg{yr}"] = it.path
        for k in range(3):
            yr = y - k
            pub = dt.date(yr, 1, 15)
            it = Item("xxgkzn", f"中山市西区办事处政府信息公开指南（{yr}年）", pub, pub, self._id(),
                      body="<p>为了更好地提供政府信息公开服务，根据《中华人民共和国政府信息公开条例》，编制本指南。</p>"
                           "<p>一、主动公开</p><p>二、依申请公开</p><p>三、监督和救济</p>")
            self.items["xxgkzn"].append(it)
            self.special[f"guide{yr}"] = it.path

    def _plan_items(self, y: int) -> None:
        for k, title in enumerate(PLAN_TITLES):
            d = self.as_of - dt.timedelta(days=626 + 90 * k)
            self.items["ghjh"].append(Item("ghjh", title.format(year=d.year), d, d, self._id(), body=_body(self.rng)))

    def visible(self, it: Item) -> bool:
        return it.url_date is None or it.url_date <= self.snapshot

    def col_items(self, key: str) -> list[Item]:
        lst = [it for it in self.items[key] if self.visible(it)]
        pinned = [it for it in lst if it.pinned]
        rest = [it for it in lst if not it.pinned]
        rest.sort(key=lambda it: (it.url_date or dt.date.min, it.doc_id), reverse=True)
        return pinned + rest

    # -- routes -----------------------------------------------------------------------------------------
    def add_html(self, path: str, text: str, *, encoding: str = "utf-8", charset_in: str = "header",
                 **kw: Any) -> Route:
        ctype = f"text/html; charset={encoding}" if charset_in == "header" else "text/html"
        route = Route(body=text.encode(encoding), headers={"Content-Type": ctype}, **kw)
        self.routes[path] = route
        self.html[path] = text
        return route

    def add_file(self, path: str, **kw: Any) -> Route:
        route = _file_route(path)
        for k, v in kw.items():
            setattr(route, k, v)
        self.routes[path] = route
        return route

    def defect_route(self, d: Defect) -> None:
        """Serve a planted defect as broken or, in months where it is fixed, as working."""
        if not d.target.startswith("/"):
            return
        path = d.target
        broken = d.broken(self.variant)
        if path in self.routes:
            return
        ok_page = self.pg.page("办事服务", None, "<p>本页面提供相关办事服务信息。</p>\n")
        if d.reason == "404":
            if not broken:
                if path.endswith((".pdf", ".jpg")):
                    self.add_file(path)
                else:
                    self.add_html(path, ok_page)
            return
        if d.reason == "500":
            if broken:
                self.routes[path] = Route(status=500, body=b"<html><body><h1>500 Internal Server Error</h1></body></html>")
            else:
                self.add_html(path, ok_page)
        elif d.reason == "timeout":
            self.add_html(path, self.pg.page("网上办事大厅", None, "<p>欢迎使用网上办事大厅。</p>\n"),
                          delay=5.0 if broken else 0.0)

    def build(self) -> Portal:
        self.make_items()
        self.column_pages()
        self.article_pages()
        self.home_page()
        self.misc_pages()
        self.gkmlpt_pages()
        self.hanweb_pages()
        self.message_board()
        self.guide_pages()
        self.city_pages()
        self.behaviour_routes()
        for d in self.defects:
            self.defect_route(d)
        expected = self.manifest()
        return Portal(self.routes, expected, self.ext_routes(), self.as_of, self.snapshot, self.variant, self.scale,
                      self.dynamic_routes())

    # -- column list pages ------------------------------------------------------------------------------
    def column_pages(self) -> None:
        for col in COLUMNS:
            items = self.col_items(col.key)
            d = f"{PREFIX}{col.key}/"
            charset_meta = "utf-8" if col.encoding == "utf-8" else (col.encoding if col.charset_in == "meta" else None)
            if col.layout in ("blank_text", "blank_ul"):
                inner = ('<div class="list_con"><p class="no_data">暂无信息</p></div>\n' if col.layout == "blank_text"
                         else '<div class="list_con"><ul class="list">\n</ul></div>\n')
                self.add_html(d + "index.html", self.pg.page(col.name, col, f"<h2>{col.name}</h2>\n" + inner))
                continue
            pages = [items[i:i + col.per_page] for i in range(0, len(items), col.per_page)] or [[]]
            n = len(pages)
            for p, chunk in enumerate(pages):
                main = f'<h2 class="col_title">{col.name}</h2>\n' + self.list_html(col, chunk, d)
                main += self.pager(col, n, p)
                if col.key == "ztzl" and p == 0:
                    main += ('<div class="zt_more"><a href="/xqbsc/ztzl/cjwmcs/index.html">创建全国文明城市专题</a> '
                             '<a href="/xqbsc/ztzl/zxzt/index.html">学习教育专题</a></div>\n')
                if col.key == "bmfw" and p == 0:
                    main += '<div class="bs_more"><a href="/xqbsc/loop/a.html">更多办事指南</a></div>\n'
                name = "index.html" if p == 0 else f"index_{p}.html"
                self.add_html(d + name, self.pg.page(col.name, col, main, charset_meta=charset_meta),
                              encoding=col.encoding, charset_in=col.charset_in)

    def list_html(self, col: Column, chunk: list[Item], d: str) -> str:
        rows = []
        if col.layout in ("ul", "undated"):
            for it in chunk:
                href = _rel(d, it.path)
                pin = '<em class="zd">[置顶]</em>' if it.pinned else ""
                date = f'<span class="date">{_ymd(it.shown)}</span>' if it.shown and col.layout == "ul" else ""
                cls = ' class="top"' if it.pinned else ""
                rows.append(f'<li{cls}>{pin}'
                            f'{_a(href, it.title, target="_blank", title=html.escape(it.title))}'
                            f'<em id="rel_{it.doc_id}"></em>{date}</li>')
            return '<div class="list_con"><ul class="list">\n' + "\n".join(rows) + "\n</ul></div>\n"
        if col.layout == "dl":
            for it in chunk:
                pin = '<em class="zd">[置顶]</em>' if it.pinned else ""
                rows.append(f'<dd class="bt">{pin}{_a(_rel(d, it.path), it.title, target="_blank")}</dd>'
                            f'<dd class="rq">\n      {_ymd(it.shown) if it.shown else ""}\n    </dd>')
            return '<dl class="xxgk_list">\n<dt>标题</dt><dt>发布日期</dt>\n' + "\n".join(rows) + "\n</dl>\n"
        if col.layout == "table":
            for it in chunk:
                idx = f"007262135/{it.url_date.year if it.url_date else self.year}-{it.doc_id:05d}"
                rows.append(f'<tr><td class="mc">{_a(_rel(d, it.path), it.title, target="_blank", title=html.escape(it.title))}</td>'
                            f'<td>{idx}</td><td>{SITE_NAME}</td><td>{_ymd(it.shown) if it.shown else ""}</td></tr>')
            return ('<table class="zfxxgk_table">\n<tr><th>名称</th><th>索引号</th><th>发布机构</th><th>发布日期</th></tr>\n'
                    + "\n".join(rows) + "\n</table>\n")
        raise ValueError(col.layout)

    def pager(self, col: Column, n: int, p: int) -> str:
        if n <= 1:
            return ""
        js = (JS_PAGER + f'<div class="page"><script type="text/javascript">\nvar countPage = {n};\n'
              f'var currentPage = {p};\ncreatePageHTML({n}, {p}, "index", "html");\n</script></div>\n')
        if col.js_pager_only:
            return js
        links = []
        links.append('<a href="index.html">首页</a>')
        if p > 0:
            links.append(f'<a href="{"index.html" if p == 1 else f"index_{p - 1}.html"}">上一页</a>')
        if p < n - 1:
            links.append(f'<a href="index_{p + 1}.html">下一页</a>')
        links.append(f'<a href="index_{n - 1}.html">尾页</a>')
        return js + '<div class="page_link">' + "&nbsp;".join(links) + f"&nbsp;共{n}页</div>\n"

    # -- articles ---------------------------------------------------------------------------------------
    def article_pages(self) -> None:
        for col in COLUMNS:
            items = self.col_items(col.key)
            for i, it in enumerate(items):
                if it.path == self.special.get("stub"):
                    continue
                prev_it = items[i - 1] if i > 0 else None
                next_it = items[i + 1] if i + 1 < len(items) else None
                self.article(col, it, prev_it, next_it)

    def article(self, col: Column, it: Item, prev_it: Item | None, next_it: Item | None) -> None:
        meta = {"ArticleTitle": it.title, "ContentSource": SITE_SHORT}
        if it.url_date:
            meta["PubDate"] = f"{_ymd(it.url_date)} {9 + it.doc_id % 8:02d}:{it.doc_id % 60:02d}"
        info = f'<div class="info">发布日期：{_ymd(it.shown)}　' if it.shown else '<div class="info">'
        info += '来源：西区办事处　【字体：<a href="javascript:void(0);">大</a> <a href="javascript:void(0);">中</a> ' \
                '<a href="javascript:void(0);">小</a>】</div>\n'
        xxgk = ""
        if it.docno or col.key in ("czyjs", "ndbg", "xxgkzn"):
            rows = [("索引号", f"007262135/{it.url_date.year if it.url_date else self.year}-{it.doc_id:05d}"),
                    ("发布机构", SITE_NAME), ("名称", it.title)]
            if it.docno:
                rows.append(("文号", it.docno))
            if it.url_date:
                rows += [("成文日期", _cn_date(it.url_date)), ("发布日期", _cn_date(it.shown or it.url_date))]
            xxgk = '<table class="xxgk_meta">' + "".join(f"<tr><th>{k}：</th><td>{html.escape(v)}</td></tr>"
                                                         for k, v in rows) + "</table>\n"
        body = it.body or "<p>详见附件。</p>"
        for text, href in it.extra_links:
            body += f'<p>{_a(href, text)}</p>\n'
        atts = ""
        if it.attachments:
            atts = '<div class="fj"><p>附件：</p><ul>' + "".join(
                f'<li>{_a(h, t, target="_blank")}</li>' for t, h in it.attachments) + "</ul></div>\n"
        share = ('<div class="share">分享到：<a href="javascript:void(0);" ms-attr-href="share.sina">微博</a> '
                 '<a href="javascript:void(0);" ms-attr-href="share.wechat">微信</a> '
                 '<a href="javascript:window.print();">打印本页</a> <a href="javascript:window.close();">关闭窗口</a></div>\n')
        nav = '<div class="prevnext">'
        nav += f'<p>上一篇：{_a(prev_it.path, prev_it.title)}</p>' if prev_it else "<p>上一篇：没有了</p>"
        nav += f'<p>下一篇：{_a(next_it.path, next_it.title)}</p>' if next_it else "<p>下一篇：没有了</p>"
        nav += "</div>\n"
        main = (f'<div class="article">\n{xxgk}<h1>{html.escape(it.title)}</h1>\n{info}'
                f'<div class="view TRS_Editor">\n{body}</div>\n{atts}{share}{nav}</div>\n')
        charset_meta = "utf-8" if it.encoding == "utf-8" else (it.encoding if it.charset_in == "meta" else None)
        text = self.pg.page(it.title, col, main, charset_meta=charset_meta, extra_meta=meta, crumb_last="正文")
        self.add_html(it.path, text, encoding=it.encoding or "utf-8", charset_in=it.charset_in or "header")
        d = it.path.rsplit("/", 1)[0] + "/"
        for _, href in it.attachments:
            target = urljoin(d, href)
            if target not in self.defect_by_target:
                self.add_file(target)

    # -- homepage ---------------------------------------------------------------------------------------
    def home_page(self) -> None:
        def block(key: str, k: int) -> str:
            col = COL[key]
            rows = []
            for it in self.col_items(key)[:k]:
                date = f"<span>{_ymd(it.shown)}</span>" if it.shown else ""
                rows.append(f'<li>{_a(it.path, it.title, target="_blank")}{date}</li>')
            return (f'<div class="block"><div class="bt"><h3>{col.name}</h3>'
                    f'<a href="{PREFIX}{key}/" class="more">更多&gt;&gt;</a></div>\n<ul>\n'
                    + "\n".join(rows) + "\n</ul></div>\n")

        top = self.col_items("gzdt")[0]
        sid = hashlib.md5(f"home/{self.snapshot}".encode()).hexdigest()[:16].upper()
        main = (
            '<div class="banner">'
            f'<img src="{PREFIX}images/banner_2026.jpg" alt="西区风光" />'
            '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="" /></div>\n'
            f'<div class="tpxw">{_a(top.path, top.title)}</div>\n'
            + block("gzdt", 7) + block("tzgg", 6) + block("zcwj", 5) + block("sqdt", 4)
            + '<div class="block"><h3>办事服务</h3><ul>'
            f'<li><a href="{PREFIX}zwfw/bsdt.html">网上办事大厅</a></li>'
            f'<li><a href="{PREFIX}zwfw/bgxz.html">表格下载</a></li>'
            f'<li><a href="{PREFIX}zwfw/jgcx.html">办件结果查询</a></li>'
            f'<li><a href="{PREFIX}ldzc/index.html">领导之窗</a></li>'
            f'<li><a href="{PREFIX}xxgk.html">政府信息公开</a></li>'
            f'<li><a href="{BSZN}index.html">办事指南</a></li>'
            f'<li><a href="{ZXLY}index.html">咨询投诉</a></li>'
            f'<li><a href="{PREFIX}hdjl/index.html;jsessionid={sid}">互动交流</a></li>'
            f'<li><a href="{PREFIX}calendar?month={self.snapshot:%Y-%m}">活动日历</a></li>'
            f'<li><a href="{PREFIX}search/?page=1">站内搜索</a></li>'
            "</ul></div>\n"
            '<div class="block"><h3>热点回顾</h3><ul>'
            f'<li><a href="{PREFIX}gzdt/202409/t20240912_3301.html">西区召开2024年中秋国庆节前安全生产工作会议</a></li>'
            '<li class="tpl" style="display:none"><a href="{{ item.url }}">{{ item.title }}</a></li>'
            '<li><a href="data:text/plain;base64,5pqC5peg5L+h5oGv">暂无信息</a></li>'
            "</ul></div>\n"
            '<div class="yqlj"><h3>友情链接</h3>'
            '<a href="/">中山市人民政府</a> <a href="/dyz/">大涌镇</a> '
            '<a href="/zwgk/jgzn/xqbsc_old.html">西区办事处机构职能（旧版）</a> '
            '<a href="{ext}/ok.html" target="_blank">广东政务服务网</a> '
            '<a href="{ext}/gone.html" target="_blank">中山市西区文化站</a> '
            '<a href="{ext}/ipv6best/x7a72968723868/ok.html" target="_blank">广东省人民政府</a> '
            f'<a href="{DNS_FAIL_URL}" target="_blank">内部办公系统</a>'
            "</div>\n"
        )
        self.add_html(PREFIX + "index.html", self.pg.page(SITE_NAME, None, main))

    # -- other pages ------------------------------------------------------------------------------------
    def misc_pages(self) -> None:
        pg = self.pg
        # 联系我们
        self.add_html(PREFIX + "lxwm.html", pg.page("联系我们", None, (
            "<h2>联系我们</h2>\n<p>地址：中山市西区彩虹大道23号</p>\n"
            '<p>电话：<a href="tel:0760-88776655">0760-88776655</a>　'
            '邮箱：<a href="mailto:xqbsc@zs.gov.cn">xqbsc@zs.gov.cn</a></p>\n'
            '<p><a hhref="javascript:;" class="wx">微信公众号</a> '
            '<a ms-attr-href="logoutUrl">退出登录</a></p>\n'
            f'<p><a href="{PREFIX}zwfw/bgxz.html">表格下载</a> <a href="{DNS_FAIL_URL}">内部办公系统</a> '
            '<a href="/zwgk/jgzn/xqbsc_old.html">机构职能（旧版）</a> '
            '<a href="{refused}/zfxxgk/index.html">信息公开编辑平台</a> '
            f'<a href="{PREFIX}private/neibu.html">内部通讯录</a> '
            '<a href="{ext}/ipv6best/x966fd3868/ok.html">广东省人民政府</a></p>\n')))
        # 网站地图 (with the relative link into the repeating-segment trap)
        cols = "".join(f'<li><a href="{PREFIX}{c.key}/index.html">{c.name}</a></li>' for c in COLUMNS)
        self.add_html(PREFIX + "wzdt.html", pg.page("网站地图", None, (
            f'<h2>网站地图</h2>\n<ul class="map">{cols}</ul>\n'
            f'<p><a href="{PREFIX}xxgk.html">政府信息公开</a> <a href="{PREFIX}old/zwgk.html">政务公开（旧版）</a> '
            '<a href="a/">专题汇编</a> <a href="search/?page=1">站内搜索</a> '
            '<a href="{ext}/gone.html">中山市西区文化站</a> '
            f'<a href="{DNS_FAIL_URL}">内部办公系统</a></p>\n')))
        # robots-disallowed page, linked from 联系我们
        self.add_html(PREFIX + "private/neibu.html", pg.page("内部通讯录", None, "<p>内部资料，请勿外传。</p>\n"))
        # soft 404 and a working sibling
        self.add_html(PREFIX + "ztzl/cjwmcs/index.html", (
            '<!DOCTYPE html><html><head><meta charset="utf-8" /><title>页面不存在</title></head>'
            '<body><div class="err"><h1>抱歉，您访问的页面不存在或已被删除！</h1>'
            f'<p><a href="{PREFIX}">返回首页</a></p></div></body></html>'))
        self.add_html(PREFIX + "ztzl/zxzt/index.html", pg.page("学习教育专题", None,
                                                                "<h2>学习教育专题</h2>\n<p>专题内容持续更新中。</p>\n"))
        # deleted document stub
        self.add_html(self.special["stub"], '<html><head><meta http-equiv="refresh" content="0;URL=../" /></head></html>')
        # 领导之窗 (fixed in month 0)
        if not self.defect_by_target[f"{PREFIX}ldzc/index.html"].broken(self.variant):
            self.add_html(PREFIX + "ldzc/index.html", pg.page("领导之窗", None, (
                "<h2>领导之窗</h2>\n<p>主任：王建华　主持办事处全面工作。</p>\n"
                "<p>副主任：李晓敏　负责经济发展、财政、统计等方面工作。</p>\n")))
        # redirect loop and redirect chains
        self.routes[PREFIX + "loop/a.html"] = Route(status=302, location=PREFIX + "loop/b.html", headers={})
        self.routes[PREFIX + "loop/b.html"] = Route(status=302, location=PREFIX + "loop/a.html", headers={})
        self.routes[PREFIX + "old/zwgk.html"] = Route(status=301, location=PREFIX + "old2/zwgk.html", headers={})
        self.routes[PREFIX + "old2/zwgk.html"] = Route(status=302, location=PREFIX + "xxgk/zwgk_new.html", headers={})
        self.routes[PREFIX + "xxgk.html"] = Route(status=301, location=PREFIX + "xxgk/", headers={})
        self.routes[PREFIX + "xxgk/"] = Route(status=302, location=PREFIX + "xxgkzn/index.html", headers={})
        # non-ASCII attachment that exists; images; stylesheet
        self.add_file(f"{PREFIX}附件/{self.year}年预算说明.pdf")
        self.add_file(PREFIX + "images/logo.png")
        self.add_file(PREFIX + "images/red.png")
        self.routes[PREFIX + "images/style.css"] = Route(body=b"body{font-size:14px}\n",
                                                         headers={"Content-Type": "text/css"})
        # 互动交流 pages (static versions; session-id variants are generated)
        for name in ("index.html", "zxzx_1.html", "zxzx_2.html"):
            self.add_html(PREFIX + "hdjl/" + name, self.hdjl_page(name, "0"))

    def hdjl_page(self, name: str, sid: str) -> str:
        links = " ".join(f'<a href="{n};jsessionid={sid}">{t}</a>' for n, t in
                         (("index.html", "互动首页"), ("zxzx_1.html", "咨询投诉"), ("zxzx_2.html", "意见征集")))
        return self.pg.page("互动交流", None, (
            f"<h2>互动交流</h2>\n<p>{links}</p>\n<ul><li>关于彩虹大道夜间施工噪音的咨询<span>已回复</span></li>"
            "<li>关于长者饭堂就餐时间的建议<span>已回复</span></li></ul>\n"))

    def city_pages(self) -> None:
        city = ('<!DOCTYPE html><html><head><meta charset="utf-8" /><meta name="SiteName" content="中山市人民政府" />'
                '<title>中山市人民政府门户网站</title></head><body><h1>中山市人民政府</h1>'
                '<ul><li><a href="/zwgk/index.html">政务公开</a></li><li><a href="/zmhd/index.html">政民互动</a></li>'
                f'<li><a href="{PREFIX}">西区办事处</a></li><li><a href="/dyz/">大涌镇</a></li></ul></body></html>')
        self.add_html("/index.html", city)
        self.add_html("/zwgk/index.html", city.replace("<h1>中山市人民政府</h1>", "<h1>政务公开</h1>"))
        self.add_html("/zmhd/index.html", city.replace("<h1>中山市人民政府</h1>", "<h1>政民互动</h1>"))
        dyz = ('<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk" />'
               '<title>中山市大涌镇人民政府</title></head><body><h1>大涌镇</h1>'
               '<ul><li><a href="/dyz/dyml/index.html">主动公开目录</a></li><li><a href="/">中山市人民政府</a></li></ul>'
               '</body></html>')
        self.add_html("/dyz/index.html", dyz, encoding="gbk", charset_in="meta")
        self.add_html("/dyz/dyml/index.html", dyz.replace("<h1>大涌镇</h1>", "<h1>主动公开目录</h1>"),
                      encoding="gbk", charset_in="meta")
        self.routes["/robots.txt"] = Route(body=b"User-agent: *\nDisallow: /xqbsc/private/\nDisallow: /zmhd/\n",
                                           headers={"Content-Type": "text/plain"})

    def behaviour_routes(self) -> None:
        """Behaviours that must not be reported: HEAD 405, 429 once, WAF blip."""
        head405 = urljoin(self.special["budget"], f"./P0{self.year}0318377102419820.pdf")
        if head405 in self.routes:
            self.routes[head405].head_status = 405
        self.special["head405"] = head405
        tz = [it for it in self.col_items("tzgg") if not it.pinned]
        r429 = self.routes[tz[1].path]
        r429.fail_first_n, r429.fail_status = 1, 429
        r429.fail_headers = {"Retry-After": "1", "Content-Type": "text/html; charset=utf-8"}
        r429.fail_body = b"<html><body>Too Many Requests</body></html>"
        self.special["429"] = tz[1].path
        waf_item = self.col_items("gzdt")[2]
        waf = self.routes[waf_item.path]
        waf.fail_first_n, waf.fail_status, waf.fail_body = 1, 200, b"\r\n"
        waf.fail_headers = {"Content-Type": "text/html; charset=utf-8"}
        self.special["waf"] = waf_item.path

    def ext_routes(self) -> dict[str, Route]:
        ok = ('<!DOCTYPE html><html><head><meta charset="utf-8" /><title>广东政务服务网</title></head>'
              '<body><p>欢迎访问</p></body></html>').encode()
        spam = ('<!DOCTYPE html><html><head><meta charset="utf-8" /><title>在线娱乐城</title></head>'
                '<body><p>注册即送彩金</p></body></html>').encode()
        return {"/ok.html": Route(body=ok), "/": Route(body=ok), "/casino.html": Route(body=spam)}

    # -- generated (infinite) routes --------------------------------------------------------------------
    def dynamic_routes(self) -> list[Callable[[str, str], Route | None]]:
        pg = self.pg
        hdjl_page = self.hdjl_page

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
            return html_route(pg.page(f"活动日历 {d:%Y年%m月}", None, (
                f"<h2>活动日历 {d.year}年{d.month}月</h2>\n<p>本月暂无活动安排。</p>\n"
                f'<p><a href="?month={prev:%Y-%m}">上一月</a> <a href="?month={nxt:%Y-%m}">下一月</a></p>\n')))

        def session_trap(path: str, query: str) -> Route | None:
            m = re.fullmatch(re.escape(PREFIX) + r"hdjl/(index\.html|zxzx_[12]\.html);jsessionid=([0-9A-Za-z]+)", path)
            if not m:
                return None
            sid = hashlib.md5(f"{path}?{query}".encode()).hexdigest()[:16].upper()
            return html_route(hdjl_page(m.group(1), sid))

        def repeat_trap(path: str, query: str) -> Route | None:
            if not re.fullmatch(re.escape(PREFIX) + r"a/(a/)*(index\.html)?", path):
                return None
            return html_route(pg.page("专题汇编", None, (
                '<h2>专题汇编</h2>\n<p><a href="a/">下一级专题</a> '
                f'<a href="{PREFIX}ztzl/index.html">专题专栏</a></p>\n')))

        def query_trap(path: str, query: str) -> Route | None:
            if path != PREFIX + "search/":
                return None
            m = re.fullmatch(r"page=(\d+)", query or "page=1")
            if not m:
                return None
            n = int(m.group(1))
            return html_route(pg.page("站内搜索", None, (
                f"<h2>站内搜索</h2>\n<p>第{n}页，未找到相关结果。</p>\n"
                f'<p><a href="?page={max(n - 1, 1)}">上一页</a> <a href="?page={n + 1}">下一页</a></p>\n')))

        return [calendar_trap, session_trap, repeat_trap, query_trap, self.gk_route]

    # -- manifest ---------------------------------------------------------------------------------------
    def links_of(self, page_path: str, text: str) -> set[str]:
        out = set()
        for m in re.finditer(r'\s(?:href|src)="([^"]*)"', text):
            raw = html.unescape(m.group(1)).strip()
            if not raw or raw.startswith(("#", "javascript:", "mailto:", "tel:", "data:", "{{")):
                continue
            if raw.startswith(("{ext}", "{refused}", "http://", "https://")):
                out.add(raw.split("#", 1)[0])
            else:
                out.add(urljoin(page_path, raw).split("#", 1)[0])
        return out

    def found_on(self) -> dict[str, list[str]]:
        disallowed = PREFIX + "private/"
        index: dict[str, list[str]] = {}
        for path, text in sorted(self.html.items()):
            if not path.startswith(PREFIX) or path.startswith(disallowed):
                continue
            for link in self.links_of(path, text):
                index.setdefault(link, []).append(path)
        return index

    def manifest(self) -> dict[str, Any]:
        index = self.found_on()

        def where(target: str) -> list[str]:
            return sorted(index.get(target, []))

        broken = [{"path_or_url": d.target, "reason": d.reason, "found_on": where(d.target), "note": d.note}
                  for d in self.defects if d.broken(self.variant)]
        y = self.year
        sp = self.special
        not_broken = [
            {"path_or_url": sp["head405"], "reason": "head_405", "found_on": where(sp["head405"]),
             "note": "HEAD answers 405, GET 200"},
            {"path_or_url": sp["429"], "reason": "429_once", "found_on": where(sp["429"]),
             "note": "first request 429 with Retry-After: 1, then 200"},
            {"path_or_url": PREFIX + "xxgk.html", "reason": "redirect_chain_ok", "found_on": where(PREFIX + "xxgk.html"),
             "note": "301 -> 302 -> 200"},
            {"path_or_url": sp["waf"], "reason": "waf_blip", "found_on": where(sp["waf"]),
             "note": "first request a 2-byte body with 200, then the page"},
            {"path_or_url": f"{PREFIX}附件/{y}年预算说明.pdf", "reason": "non_ascii_ok",
             "found_on": where(f"{PREFIX}附件/{y}年预算说明.pdf")},
            {"path_or_url": "{ext}/ok.html", "reason": "external_ok", "found_on": where("{ext}/ok.html")},
            {"path_or_url": "{ext}/ipv6best/x7a72968723868/ok.html", "reason": "ipv6_proxy",
             "found_on": where("{ext}/ipv6best/x7a72968723868/ok.html"), "note": "proxy token differs per page"},
            {"path_or_url": "{ext}/ipv6best/x966fd3868/ok.html", "reason": "ipv6_proxy",
             "found_on": where("{ext}/ipv6best/x966fd3868/ok.html")},
            {"path_or_url": "/", "reason": "outside_prefix_ok", "found_on": where("/")},
            {"path_or_url": "/dyz/", "reason": "outside_prefix_ok", "found_on": where("/dyz/")},
            {"path_or_url": urljoin(sp["budget"], f"./P0{y}0318377102418843.XLS"), "reason": "uppercase_extension",
             "found_on": [sp["budget"]]},
            {"path_or_url": urljoin(sp["final"], f"./P0{y}0820330415563390.rar"), "reason": "archive_attachment",
             "found_on": [sp["final"]]},
            {"path_or_url": "javascript:void(0);", "reason": "pseudo_link", "found_on": ["(every article)"]},
            {"path_or_url": "javascript:;", "reason": "hhref_typo", "found_on": [PREFIX + "lxwm.html"],
             "note": '<a hhref="javascript:;"> is not a link'},
            {"path_or_url": "mailto:xqbsc@zs.gov.cn", "reason": "pseudo_link", "found_on": [PREFIX + "lxwm.html"]},
            {"path_or_url": "tel:0760-88776655", "reason": "pseudo_link", "found_on": [PREFIX + "lxwm.html"]},
            {"path_or_url": "data:text/plain;base64,5pqC5peg5L+h5oGv", "reason": "pseudo_link",
             "found_on": [PREFIX + "index.html"]},
            {"path_or_url": "data:image/gif;base64,R0lGODlhAQABAAAAACw=", "reason": "pseudo_link",
             "found_on": [PREFIX + "index.html"]},
            {"path_or_url": "share.sina", "reason": "template_attribute", "found_on": ["(every article)"],
             "note": 'ms-attr-href="share.sina"'},
            {"path_or_url": "logoutUrl", "reason": "template_attribute", "found_on": [PREFIX + "lxwm.html"]},
            {"path_or_url": "{{ item.url }}", "reason": "template_placeholder", "found_on": [PREFIX + "index.html"]},
            {"path_or_url": "#top", "reason": "fragment", "found_on": ["(every page)"]},
            {"path_or_url": JS_PAGER_FRAGMENT, "reason": "script_fragment", "found_on": ["(list pages with a pager)"],
             "note": "string concatenation inside the createPageHTML script"},
            {"path_or_url": "{ext}/casino.html", "reason": "hidden_link_target", "found_on": where("{ext}/casino.html"),
             "note": "answers 200: the hidden link is a page-check finding, not a broken link"},
        ]
        columns = []
        for col in COLUMNS:
            items = self.col_items(col.key)
            dated = [it.shown for it in items if it.shown]
            newest = max(dated) if dated else None
            if col.layout.startswith("blank"):
                verdict = "blank"
            elif col.category == "unknown":
                verdict = "unknown"
            elif newest is None:
                verdict = "stale"
            elif (self.snapshot - newest).days <= WINDOWS[col.category]:
                verdict = "fresh"
            else:
                verdict = "long_stale" if col.category == "yearly" else "stale"
            n_pages = max(1, -(-len(items) // col.per_page)) if items else 1
            entry = {"name": col.name, "path": f"{PREFIX}{col.key}/", "category": col.category, "expected": verdict,
                     "newest": _ymd(newest) if newest else None,
                     "window_days": WINDOWS.get(col.category), "layout": col.layout, "items": len(items),
                     "pages": [f"{PREFIX}{col.key}/index.html"] + [f"{PREFIX}{col.key}/index_{p}.html"
                                                                    for p in range(1, n_pages)],
                     "js_pager_only": col.js_pager_only, "encoding": col.encoding, "charset_in": col.charset_in}
            notes = []
            if items and items[0].pinned:
                notes.append("pinned old row on top")
            if col.layout == "undated":
                notes.append("no item carries a date anywhere: counts as not updated")
            if col.key == "djdt":
                notes.append("newest URL date is recent but its displayed date is not")
            if notes:
                entry["notes"] = notes
            columns.append(entry)
        columns += self.platform_columns()
        home_dates = [it.shown for key in ("gzdt", "tzgg", "zcwj", "sqdt") for it in self.col_items(key)[:7]
                      if it.shown]
        home_newest = max(home_dates)
        disclosures = self.disclosures()
        pages = self.html_under_prefix()
        return {
            "as_of": _ymd(self.snapshot),
            "month_variant": self.variant,
            "scale": self.scale,
            "site_name": SITE_NAME,
            "start_url_path": PREFIX,
            "prefix": PREFIX,
            "scan_timeout": 2,
            "page_count": len(pages),
            "broken": broken,
            "not_broken": not_broken,
            "columns": columns,
            "homepage": "fresh" if (self.snapshot - home_newest).days <= WINDOWS["dynamic"] else "stale",
            "homepage_newest": _ymd(home_newest),
            "disclosures": disclosures,
            "traps": [
                {"kind": "calendar", "entry": f"{PREFIX}calendar?month={self.snapshot:%Y-%m}",
                 "pattern": r"^/xqbsc/calendar\?month=\d{4}-\d{2}$", "found_on": [PREFIX + "index.html"]},
                {"kind": "session_id", "entry": f"{PREFIX}hdjl/index.html;jsessionid=…",
                 "pattern": r"^/xqbsc/hdjl/[^;]+;jsessionid=[0-9A-Z]+$", "found_on": [PREFIX + "index.html"],
                 "note": "every link on these pages carries a new jsessionid"},
                {"kind": "repeating_segment", "entry": f"{PREFIX}a/", "pattern": r"^/xqbsc/a/(a/)+",
                 "found_on": [PREFIX + "wzdt.html"], "note": "relative link a/ on a page served at any depth"},
                {"kind": "endless_query", "entry": f"{PREFIX}search/?page=1", "pattern": r"^/xqbsc/search/\?page=\d+$",
                 "found_on": [PREFIX + "index.html", PREFIX + "wzdt.html"]},
            ],
            "robots_disallowed": [PREFIX + "private/neibu.html"],
            "outside_prefix": ["/", "/dyz/", "/zwgk/jgzn/xqbsc_old.html"],
            "never_fetch": [PREFIX + "private/neibu.html", "/zwgk/index.html", "/zmhd/index.html",
                            "/dyz/dyml/index.html"],
            "encodings": {
                "gbk_header_only": f"{PREFIX}ndbg/index.html",
                "gb2312_meta_only": f"{PREFIX}xxgkzn/index.html",
                "gb18030_undeclared": sp["gb18030_article"],
                "gbk_meta_only_outside": "/dyz/index.html",
            },
            "history": self.history(),
            "gkmlpt": {
                "index": GKMLPT + "index", "guide": GKMLPT + "guide", "sid": GK_SID, "page_size": GK_PAGE_SIZE,
                "api": GKMLPT + "api/all/<catId>?page=N&sid=" + GK_SID,
                "categories": {str(c): n for c, n, _ in GK_TREE},
                "leaves": [str(c) for c in GK_LEAF_CATEGORY],
            },
            "page_checks": self.page_checks(),
            "page_check_rules": list(PAGE_CHECK_RULES),
        }

    def html_under_prefix(self) -> list[str]:
        return sorted(p for p, r in self.routes.items() if p.startswith(PREFIX) and r.status == 200
                      and r.content_type.startswith("text/html") and not p.startswith(PREFIX + "private/"))

    def disclosures(self) -> list[dict[str, Any]]:
        y, sp = self.year, self.special
        return [
            {"item": "budget", "item_zh": "部门预算", "year": y, "expected": "present", "evidence": "title",
             "path": sp["budget"], "note": "title variant 部门预算及“三公”经费预算"},
            {"item": "budget_sangong", "item_zh": "“三公”经费预算", "year": y, "expected": "present",
             "evidence": "title+attachment", "path": sp["budget"]},
            {"item": "budget", "item_zh": "部门预算", "year": y - 1, "expected": "present", "evidence": "title",
             "path": sp["budget_prev"]},
            {"item": "budget_sangong", "item_zh": "“三公”经费预算", "year": y - 1, "expected": "present",
             "evidence": "attachment", "path": sp["budget_prev"],
             "note": "三公 appears only in an attachment name"},
            {"item": "final_accounts", "item_zh": "部门决算", "year": y - 1, "expected": "present", "evidence": "title",
             "path": sp["final"]},
            {"item": "final_accounts_sangong", "item_zh": "“三公”经费决算", "year": y - 1, "expected": "missing",
             "path": sp["final"], "note": "决算 published without its 三公 part"},
            {"item": "final_accounts", "item_zh": "部门决算", "year": y - 2, "expected": "present", "evidence": "title",
             "path": sp["final_prev"]},
            {"item": "final_accounts_sangong", "item_zh": "“三公”经费决算", "year": y - 2, "expected": "present",
             "evidence": "title", "path": sp["final_prev"]},
            {"item": "annual_report", "item_zh": "政府信息公开工作年度报告", "year": y - 1, "expected": "late",
             "published": f"{y}-02-20", "due": f"{y}-01-31", "path": sp[f"ndbg{y - 1}"]},
            {"item": "annual_report", "item_zh": "政府信息公开工作年度报告", "year": y - 2, "expected": "present",
             "path": sp[f"ndbg{y - 2}"]},
            {"item": "guide", "item_zh": "政府信息公开指南", "year": y, "expected": "present", "path": sp[f"guide{y}"]},
            {"item": "interpretation", "item_zh": "政策解读", "year": y, "document": f"西区办规〔{y}〕1号",
             "expected": "present", "path": sp["reg1"], "interpretation_path": sp["jd1"]},
            {"item": "interpretation", "item_zh": "政策解读", "year": y, "document": f"西区办规〔{y}〕3号",
             "expected": "missing", "path": sp["reg3"]},
            {"item": "interpretation", "item_zh": "政策解读", "year": y - 1, "document": f"西区办规〔{y - 1}〕2号",
             "expected": "present", "path": sp["reg0"], "interpretation_path": sp["jd0"]},
        ] + ([
            {"item": "interpretation", "item_zh": "政策解读", "year": y, "document": f"西区办规〔{y}〕4号",
             "expected": "present", "path": sp["reg4"], "interpretation_path": sp["gk_jd4"], "only_in": "gkmlpt",
             "note": "the interpretation is published only in the gkmlpt catalogue (JSON API, no static link)"},
        ] if dt.date(y, 6, 16) <= self.snapshot else [])

    def platform_columns(self) -> list[dict[str, Any]]:
        """Manifest entries of the gkmlpt leaf categories (by category name) and the Hanweb datastore column."""
        def verdict(category: str, newest: dt.date | None, n: int) -> str:
            if n == 0:
                return "blank"
            if category == "unknown":
                return "unknown"
            if newest is None:
                return "stale"
            if (self.snapshot - newest).days <= WINDOWS[category]:
                return "fresh"
            return "long_stale" if category == "yearly" else "stale"

        out = []
        names = {c: n for c, n, _ in GK_TREE}
        for cat, category in GK_LEAF_CATEGORY.items():
            items = self.gk_visible(cat)
            newest = max((it.shown for it in items if it.shown), default=None)
            out.append({
                "name": names[cat], "path": f"{GKMLPT}index#{cat}", "category": category,
                "expected": verdict(category, newest, len(items)), "newest": _ymd(newest) if newest else None,
                "window_days": WINDOWS.get(category), "layout": "gkmlpt_api", "items": len(items),
                "pages": [GKMLPT + "index"],
                "api_pages": [f"{self.gk_api_path(cat)}?page={p}&sid={GK_SID}" for p in range(1, self.gk_pages(cat) + 1)],
                "js_pager_only": True, "encoding": "utf-8", "charset_in": "header", "platform": "gkmlpt",
                "notes": ["lists are filled by JavaScript from the JSON API: the static HTML has no list items"],
            })
        items = self.hanweb_visible()
        newest = max((it.shown for it in items if it.shown), default=None)
        out.append({
            "name": HANWEB_COL.name, "path": f"{PREFIX}{HANWEB_COL.key}/", "category": HANWEB_COL.category,
            "expected": verdict(HANWEB_COL.category, newest, len(items)), "newest": _ymd(newest) if newest else None,
            "window_days": WINDOWS.get(HANWEB_COL.category), "layout": HANWEB_COL.layout, "items": len(items),
            "pages": [f"{PREFIX}{HANWEB_COL.key}/index.html"], "js_pager_only": False, "encoding": "utf-8",
            "charset_in": "header", "platform": "hanweb",
            "notes": ["rows are CDATA records inside <script type=\"text/xml\"><datastore>"],
        })
        return out

    def history(self) -> list[dict[str, Any]]:
        return [{"path_or_url": d.target, "reason": d.reason, "kind": d.kind,
                 "broken_in": list(d.broken_in), "status_by_variant": {str(v): "broken" if v in d.broken_in else "ok"
                                                                       for v in HISTORY_MONTHS}}
                for d in self.defects]

    # -- page-check plants inside existing articles --------------------------------------------------------
    def _page_check_items(self) -> None:
        """Misstatement, hidden link and duplicated article, planted in articles visible in every month."""
        mis, ok = self.items["gzdt"][20], self.items["gzdt"][22]
        mis.body += (f"<p>会议强调，要坚持以{MISSTATEMENT_WRONG}为指导，全面贯彻党的二十大和二十届历次全会精神，"
                     "扎实推进各项工作。</p>\n")
        ok.body += (f"<p>会议要求，要坚持以{MISSTATEMENT_RIGHT}为指导，深入学习贯彻党的二十大精神，"
                    "推动各项工作落地见效。</p>\n")
        hid = self.items["ztzl"][3]
        hid.body += ('<div style="display:none"><a href="{ext}/casino.html">在线娱乐城</a> '
                     '<a href="{ext}/casino.html">真人棋牌</a></div>\n')
        dup_a, dup_b = self.items["sqdt"][6], self.items["djdt"][4]
        dup_b.title = dup_a.title = "西区“社区吹哨、部门报到”机制提升基层治理效能"
        dup_a.body = dup_b.body = f"<p>{DUPLICATE_BODY}</p>\n"
        self.special.update(misstatement=mis.path, misstatement_ok=ok.path, hidden_link=hid.path,
                            duplicate_a=dup_a.path, duplicate_b=dup_b.path)

    def _xid(self) -> int:
        """Ids of the platform sections (kept apart so the ids of the original items never move)."""
        self.next_xid += 1
        return self.next_xid

    # -- gkmlpt 政府信息公开目录 ----------------------------------------------------------------------------
    def _gk_items(self, y: int) -> None:
        """Items of the gkmlpt leaf categories, relative to as_of (shown when dated on or before the snapshot)."""
        def post(cat: int, title: str, d: dt.date, body: str, docno: str | None = None) -> Item:
            pid = 3100000 + self._xid()
            it = Item(f"gk{cat}", title, d, d, pid, docno=docno, body=body,
                      path_override=f"{GKMLPT}content/3/{pid // 1000}/post_{pid}.html")
            self.gk[cat].append(it)
            return it

        self.gk: dict[int, list[Item]] = {c: [] for c in GK_LEAF_CATEGORY}
        rng = random.Random("sitewatch-demo/gkmlpt/2000")
        for i in range(21):                          # 政务动态: every 10 days, so fresh in every month
            d = self.as_of - dt.timedelta(days=2 + 10 * i)
            post(2000, _fill(rng, rng.choice(DYN_TEMPLATES), d.year), d, _body(rng, rng.randint(2, 4)))
        rng = random.Random("sitewatch-demo/gkmlpt/3001")
        for i in range(6):                           # 镇街文件: every 28 days, 文号 from the API
            d = self.as_of - dt.timedelta(days=4 + 28 * i)
            post(3001, _fill(rng, rng.choice(OTHER_FILE_TEMPLATES), d.year), d, _body(rng, 2),
                 docno=f"西区办函〔{d.year}〕{40 - i * 3}号")
        # 文件解读: the interpretation of 西区办规〔y〕4号 exists ONLY here (the document is in the static 政策文件)
        d4 = dt.date(y, 6, 16)
        jd4 = post(3002, "《西区社区养老服务设施建设管理办法》政策解读", d4,
                   "<p>一、制定背景</p><p>为规范社区养老服务设施的规划、建设和管理……</p>"
                   "<p>二、主要内容</p><p>《办法》共六章二十四条……</p>")
        jd4.extra_links.append((f"原文：西区办规〔{y}〕4号", self.special["reg4"]))
        post(3002, "《西区社区微改造项目管理办法》问答", dt.date(y, 3, 20),
             "<p>问：哪些项目可以申请社区微改造？</p><p>答：……</p>")
        self.special["gk_jd4"] = jd4.path
        b = post(4001, f"西区办事处{y}年部门预算", dt.date(y, 3, 18), "<p>详见附件。</p>")
        b.attachments = [(f"西区办事处{y}年部门预算.pdf", f"./P0{y}0318600112340001.pdf")]
        f = post(4001, f"西区办事处{y - 1}年部门决算", dt.date(y, 8, 20), "<p>详见附件。</p>")
        f.attachments = [(f"{y - 1}年部门决算.pdf", f"./P0{y}0820600112340002.pdf")]
        post(4001, f"西区办事处{y - 2}年部门决算", dt.date(y - 1, 8, 25), "<p>详见附件。</p>")

    def gk_visible(self, cat: int) -> list[Item]:
        lst = [it for it in self.gk[cat] if self.visible(it)]
        return sorted(lst, key=lambda it: (it.url_date, it.doc_id), reverse=True)

    def gk_api_path(self, cat: int) -> str:
        return f"{GKMLPT}api/all/{cat}"

    def gk_api_body(self, cat: int, page: int) -> bytes:
        items = self.gk_visible(cat)
        chunk = items[(page - 1) * GK_PAGE_SIZE: page * GK_PAGE_SIZE]
        arts = []
        for it in chunk:
            d = it.url_date
            assert d is not None
            art: dict[str, Any] = {
                "id": it.doc_id, "title": it.title, "url": it.path,
                "identifier": f"007262135/{d.year}-{it.doc_id % 100000:05d}",
                "document_number": it.docno or "", "is_top": 0,
                "attachment": [{"name": t, "url": urljoin(it.path, h)} for t, h in it.attachments],
            }
            if cat == 2000 or cat == 4001:               # epoch seconds, as most gkmlpt sites send
                art["date"] = _epoch(d, 9 + it.doc_id % 8)
            else:                                      # a display string, as some templates send
                art["display_publish_time"] = f"{_ymd(d)} {9 + it.doc_id % 8:02d}:30:00"
            arts.append(art)
        name = dict((c, n) for c, n, _ in GK_TREE)[cat]
        parent = dict((c, p) for c, _, p in GK_TREE)[cat]
        doc = {"articles": arts, "classify": {"id": cat, "name": name, "parent": parent, "post_count": len(items)},
               "page": page, "page_size": GK_PAGE_SIZE, "total": len(items), "sid": GK_SID}
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")

    def gk_pages(self, cat: int) -> int:
        return max(1, -(-len(self.gk_visible(cat)) // GK_PAGE_SIZE))

    def gkmlpt_pages(self) -> None:
        """Index (lists filled by JavaScript only), JSON API pages, article pages, the guide, a script."""
        def node(c: int, n: str, p: int) -> str:
            kids = ", ".join(node(k, kn, kp) for k, kn, kp in GK_TREE if kp == c)
            return f"{{id: {c}, name: '{n}', parent: {p}, children: [{kids}]}}"

        tree = ", ".join(node(c, n, p) for c, n, p in GK_TREE if p == 0)
        main = (
            '<div class="gkml">\n<div class="gkml_top"><h2>政府信息公开目录</h2>'
            f'<a href="guide">政府信息公开指南</a> <a href="{PREFIX}ndbg/">政府信息公开年报</a> '
            f'<a href="{PREFIX}xxgkzn/">政府信息公开制度</a></div>\n'
            '<div class="gkml_tree" id="tree"></div>\n'
            '<div class="gkml_list"><table class="table-list" id="gkml_list"><tbody></tbody></table>'
            '<div class="page" id="page"></div></div>\n</div>\n'
            f"<script type=\"text/javascript\">\nwindow._CONFIG = {{SID: '{GK_SID}', DOMAIN: 'www.zs.gov.cn', "
            f"SITE_NAME: '{SITE_NAME}', PAGE_SIZE: {GK_PAGE_SIZE}, TREE: [{tree}]}};\n</script>\n"
            f'<script type="text/javascript" src="{GKMLPT}static/js/gkmlpt.js"></script>\n'
        )
        self.add_html(GKMLPT + "index", self.pg.page("政府信息公开目录", None, main))
        self.routes[GKMLPT + "static/js/gkmlpt.js"] = Route(
            body=b"/* gkmlpt list: GET api/all/<catId>?page=N&sid=SID, render articles */\n",
            headers={"Content-Type": "application/javascript"})
        for cat in GK_LEAF_CATEGORY:
            for page in range(1, self.gk_pages(cat) + 1):
                self.routes[f"{self.gk_api_path(cat)}?page={page}&sid={GK_SID}"] = Route(
                    body=self.gk_api_body(cat, page), headers={"Content-Type": "application/json; charset=utf-8"})
            col = Column(f"gk{cat}", dict((c, n) for c, n, _ in GK_TREE)[cat], GK_LEAF_CATEGORY[cat], "gkmlpt_api",
                         href=GKMLPT + "index")
            items = self.gk_visible(cat)
            for i, it in enumerate(items):
                self.article(col, it, items[i - 1] if i else None, items[i + 1] if i + 1 < len(items) else None)
        y = self.year
        self.add_html(GKMLPT + "guide", self.pg.page("政府信息公开指南", None, (
            f"<h2>中山市西区办事处政府信息公开指南</h2>\n<p>更新日期：{y}年01月15日</p>\n"
            "<p>为了更好地提供政府信息公开服务，根据《中华人民共和国政府信息公开条例》，编制本指南。</p>\n"
            "<p>一、主动公开：公开的范围、方式和时限</p><p>二、依申请公开：受理机构、申请方式和处理程序</p>\n"
            "<p>三、监督和救济</p>\n"
            f'<p><a href="index">返回政府信息公开目录</a></p>\n'), crumb_last="政府信息公开指南"))

    def gk_route(self, path: str, query: str) -> Route | None:
        """The API for any parameter order; unknown category, page beyond the last or wrong sid answer JSON errors."""
        m = re.fullmatch(re.escape(GKMLPT) + r"api/all/(\d+)", path)
        if not m:
            return None
        params = dict(parse_qsl(query))
        cat = int(m.group(1))
        json_type = {"Content-Type": "application/json; charset=utf-8"}
        if cat not in GK_LEAF_CATEGORY or params.get("sid") != GK_SID:
            return Route(status=404, body=b'{"code": 404, "msg": "not found"}', headers=json_type)
        page = int(params["page"]) if params.get("page", "1").isdigit() else 1
        return Route(body=self.gk_api_body(cat, max(page, 1)), headers=json_type)

    # -- Hanweb JCMS datastore column -------------------------------------------------------------------------
    def _hanweb_items(self) -> None:
        rng = random.Random("sitewatch-demo/hanweb")
        self.hanweb: list[Item] = []
        for i in range(14):                          # every 9 days: fresh in every month
            d = self.as_of - dt.timedelta(days=6 + 9 * i)
            iid = self._xid()
            self.hanweb.append(Item("zwyw", _fill(rng, rng.choice(DYN_TEMPLATES), d.year), d, d, iid,
                                    body=_body(rng, rng.randint(2, 4)),
                                    path_override=f"{PREFIX}art/{d.year}/{d.month}/{d.day}/art_{HANWEB_UNIT}_{iid}.html"))

    def hanweb_visible(self) -> list[Item]:
        return [it for it in self.hanweb if self.visible(it)]

    def hanweb_pages(self) -> None:
        items = self.hanweb_visible()
        records = "".join(
            f'<record><![CDATA[\n<li><a href="{it.path}" target="_blank" title="{html.escape(it.title)}">'
            f'{html.escape(it.title)}</a><span>{_ymd(cast(dt.date, it.shown))}</span></li>\n]]></record>\n' for it in items)
        main = (f'<h2 class="col_title">{HANWEB_COL.name}</h2>\n<div class="list_con"><ul class="list">'
                f'<div id="{HANWEB_UNIT}"><script type="text/xml"><datastore>\n<nextgroup><![CDATA[]]></nextgroup>\n'
                f'<recordset>\n{records}</recordset>\n</datastore></script></div>\n</ul></div>\n'
                '<script type="text/javascript">\n'
                f"var jpageConf = {{unitid: {HANWEB_UNIT}, perpage: 15, totalRecord: {len(items)}}};\n</script>\n")
        self.add_html(PREFIX + "zwyw/index.html", self.pg.page(HANWEB_COL.name, HANWEB_COL, main))
        for i, it in enumerate(items):
            self.article(HANWEB_COL, it, items[i - 1] if i else None, items[i + 1] if i + 1 < len(items) else None)

    # -- 咨询投诉 message board -------------------------------------------------------------------------------
    def message_board(self) -> None:
        """Answered, slow (> 5 working days), unanswered for > 3 months, and a new one not yet due."""
        snap = self.snapshot
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
        self.messages: dict[str, dict[str, Any]] = {}
        for n, (key, title, asked, replied, question) in enumerate(msgs, start=1):
            path = f"{ZXLY}content_{n}.html"
            status = "已回复" if replied else "未回复"
            self.messages[key] = {"path": path, "asked": _ymd(asked), "replied": _ymd(replied) if replied else None,
                                  "working_days": _working_days_between(asked, replied) if replied else None}
            reply = (f"<tr><th>回复单位</th><td>{SITE_SHORT}</td></tr>"
                     f"<tr><th>回复时间</th><td>{_ymd(replied)} 16:20:05</td></tr>"
                     "<tr><th>回复内容</th><td>您好！您反映的问题已转交相关部门处理，感谢您对西区工作的关心和支持。</td></tr>"
                     if replied else "<tr><th>回复时间</th><td></td></tr><tr><th>回复内容</th><td>暂未回复</td></tr>")
            main = (f'<h2>咨询投诉</h2>\n<table class="ly_detail"><tr><th>留言标题</th><td>{title}</td></tr>'
                    f"<tr><th>留言人</th><td>匿名</td></tr><tr><th>留言时间</th><td>{_ymd(asked)} 10:2{n}:31</td></tr>"
                    f"<tr><th>留言内容</th><td>{question}</td></tr><tr><th>状态</th><td>{status}</td></tr>"
                    f'{reply}</table>\n<p><a href="index.html">返回留言列表</a></p>\n')
            self.add_html(path, self.pg.page(title, None, main, crumb_last="咨询投诉"))
            rows.append(f'<tr><td><a href="content_{n}.html" target="_blank">{title}</a></td>'
                        f"<td>{_ymd(asked)}</td><td>{_ymd(replied) if replied else '—'}</td><td>{status}</td></tr>")
        main = ('<h2>咨询投诉</h2>\n<p>留言须知：本平台留言将在5个工作日内答复。</p>\n'
                '<table class="ly_list"><tr><th>标题</th><th>留言时间</th><th>回复时间</th><th>状态</th></tr>\n'
                + "\n".join(rows) + "\n</table>\n")
        self.add_html(ZXLY + "index.html", self.pg.page("咨询投诉", None, main, crumb_last="咨询投诉", identity=False))

    # -- 办事指南 -------------------------------------------------------------------------------------------
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

    def guide_pages(self) -> None:
        links = []
        for name, svc, missing in self.GUIDES:
            rows = "".join(f"<tr><th>{k}</th><td>{self.GUIDE_TEXT[k].format(svc=svc)}</td></tr>"
                           for k in GUIDE_ELEMENTS if k not in missing)
            title = f"{svc}办事指南"
            self.add_html(BSZN + name, self.pg.page(title, None, (
                f'<h2>{title}</h2>\n<table class="bszn">{rows}</table>\n<p><a href="index.html">返回办事指南</a></p>\n'),
                crumb_last="办事指南"))
            links.append(f'<li><a href="{name}">{title}</a></li>')
        self.add_html(BSZN + "index.html", self.pg.page("办事指南", None, (
            '<h2>办事指南</h2>\n<ul class="bszn_list">' + "".join(links) + "</ul>\n"), crumb_last="办事指南"))

    def page_checks(self) -> list[dict[str, Any]]:
        """Expected verdicts of the page-level checks: found, not_found (compliant), any (no verdict)."""
        sp, m = self.special, self.messages
        lst = ZXLY + "index.html"
        guides = {svc: (BSZN + name, missing) for name, svc, missing in self.GUIDES}
        out: list[dict[str, Any]] = [
            {"rule": "interaction.unanswered", "path": m["unanswered"]["path"], "also_on": [lst], "expected": "found",
             "asked": m["unanswered"]["asked"], "note": "未回复 for more than 3 months (within the last year)"},
            {"rule": "interaction.slow_reply", "path": m["slow"]["path"], "also_on": [lst], "expected": "found",
             "asked": m["slow"]["asked"], "replied": m["slow"]["replied"],
             "working_days": m["slow"]["working_days"], "note": "answered after more than 5 working days"},
            {"rule": "interaction.slow_reply", "path": m["prompt"]["path"], "expected": "not_found",
             "asked": m["prompt"]["asked"], "replied": m["prompt"]["replied"],
             "working_days": m["prompt"]["working_days"]},
            {"rule": "interaction.slow_reply", "path": m["old"]["path"], "expected": "not_found",
             "asked": m["old"]["asked"], "replied": m["old"]["replied"], "working_days": m["old"]["working_days"]},
            {"rule": "interaction.unanswered", "path": m["recent"]["path"], "expected": "not_found",
             "asked": m["recent"]["asked"], "note": "asked the day before, not yet due"},
            {"rule": "interaction.slow_reply", "path": m["recent"]["path"], "expected": "not_found",
             "asked": m["recent"]["asked"], "note": "asked the day before, not yet due"},
        ]
        for _svc, (path, missing) in guides.items():
            entry = {"rule": "service.guide_incomplete", "path": path, "expected": "found" if missing else "not_found",
                     "missing": missing}
            if not missing:
                entry["note"] = "all ten elements"
            out.append(entry)
        out += [
            {"rule": "service.guide_incomplete", "path": sp[f"guide{self.year}"], "expected": "not_found",
             "note": "政府信息公开指南 is not a 办事指南"},
            {"rule": "security.misstatement", "path": sp["misstatement"], "expected": "found",
             "wrong": MISSTATEMENT_WRONG, "right": MISSTATEMENT_RIGHT},
            {"rule": "security.misstatement", "path": sp["misstatement_ok"], "expected": "not_found",
             "note": "the phrase written correctly"},
            {"rule": "security.hidden_link", "path": sp["hidden_link"], "expected": "found",
             "target": "{ext}/casino.html", "note": '<div style="display:none"> around links to the external host'},
            {"rule": "security.hidden_link", "path": PREFIX + "index.html", "expected": "not_found",
             "note": "a hidden client-side template row ({{ item.url }}) is not a link"},
            {"rule": "security.duplicate_content", "path": sp["duplicate_a"], "also_on": [sp["duplicate_b"]],
             "expected": "found", "chars": len(DUPLICATE_BODY), "note": "same body in 社区动态 and 党建动态"},
            {"rule": "security.duplicate_content", "path": sp["budget"], "expected": "not_found",
             "note": "short shared body 详见附件 (< 300 characters), also in the gkmlpt copy"},
            {"rule": "identity.mark_missing", "path": lst, "expected": "found",
             "note": "no 网站标识码, ICP备案 or 公网安备 in the footer (and no SiteIDCode meta)"},
            {"rule": "identity.mark_missing", "path": PREFIX + "index.html", "expected": "not_found"},
            {"rule": "identity.mark_missing", "path": m["slow"]["path"], "expected": "not_found"},
            {"rule": "identity.mark_missing", "path": PREFIX + "ztzl/cjwmcs/index.html", "expected": "any",
             "note": "error page of a planted soft 404"},
            {"rule": "identity.mark_missing", "path": sp["stub"], "expected": "any",
             "note": "meta-refresh stub of a deleted document"},
        ]
        return out


def build_portal(*, as_of: dt.date = dt.date(2026, 11, 26), month_variant: int = 0, scale: int = 1) -> Portal:
    """Build the demo portal as it looks `month_variant` months before `as_of` (0 = that month)."""
    return _Builder(as_of, month_variant, scale).build()
