"""An independent, realistic test site: the 西区办事处 sub-site (``/xqbsc/``) of a city portal, and its server.

Written from what real portals look like (TRS static lists ``index.html``, ``index_1.html`` … with a
``createPageHTML`` or inline ``var countPage`` pager, a "下一页"-only chain, 邯郸-style 信息公开 tables,
Fujian ``<dl><dd>`` lists, TRS article pages with the government ``<meta>`` set, ``P0…pdf`` attachments, older
columns in GBK) and NOT from the bundled demo generator. The model is deterministic (seeded) and knows its own
ground truth: the exact set of in-scope HTML pages, the planted broken links and their must-not-report twins,
the stale and blank columns and their twins.

Hosts: the city portal (``A``, the sub-site lives under ``/xqbsc/``, a few city pages outside it), a provincial
platform (``B``, external links) and a port nobody listens on (connection refused).

The city host answers like the nginx in front of a TRS portal, whose pages are static files the CMS writes: every
page and file (home, landings, list pages, articles, attachments, images, CSS/JS, the deleted-document stub) carries
``Last-Modified`` (the file's modification time: an article's publishing time, the time the CMS last regenerated
the list pages and the home page, ...) and an nginx ``ETag``, and a matching ``If-None-Match`` /
``If-Modified-Since`` gets ``304 Not Modified`` (``sitewatch.demo.conditional``). Dynamic answers carry no
validators: the 404 error page, redirects, the soft-404 page (an application's error page answering 200) and the
WAF's transient blips and 503s. A query string does not make a static file dynamic (nginx serves the file, with its
validators). ``TownSite.change`` edits a chosen part of the pages between two scans (a paragraph added, a new
modification time) and lists the URLs that changed: the ground truth of a rescan.

The sub-site's folder, name, 网站标识码 and 文号 issuer are parameters (``TownSite(..., prefix="/dqbsc/",
name="东区办事处")``, default the 西区办事处 above), and ``scale`` shrinks it to ~100 pages: tests/fleetsite.py
serves 25 such sites.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing
import random
import re
import socket
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urljoin, urlsplit

from loopback import send

from sitewatch.demo import conditional as cond

TODAY = dt.date(2026, 11, 26)          # the monitoring day the ground truth is computed for
SITE = "/xqbsc/"
SITE_NAME = "西区办事处"
CITY = "中山市"
SITE_ID = "4420000069"
BEIJING = dt.timezone(dt.timedelta(hours=8))
# modification times of the static files: the CMS regenerated the list pages, landings and home page on the
# monitoring day's early morning publishing run; images, CSS and JS date from the site's last redesign
GENERATED = dt.datetime(TODAY.year, TODAY.month, TODAY.day, 6, 30, tzinfo=BEIJING)
ASSETS_MTIME = dt.datetime(2023, 4, 18, 15, 12, tzinfo=BEIJING)
STUB_MTIME = dt.datetime(2024, 2, 20, 17, 5, tzinfo=BEIJING)
EDIT_DELAY = dt.timedelta(hours=1)      # a change lands this long after everything else on the site
REVISION = "本页内容已修订，修订编号："     # the paragraph a change adds ("this page was revised, revision number:")
THIN_BELOW = 0.05                     # scales below this thin the small columns too (TownSite)
MIN_DOCS = {"gzdt": 2, "tzgg": 4, "ztzl/wzgl": 2}    # the documents a column's planted pages and twins need

# code, name, layout, pager, per page, documents, age of the newest in days, mean gap in days, encoding
# layouts: li (TRS ul/li + span date), font (stats.gov.cn <font> in the link), table (邯郸 信息公开 table),
#          dl (Pingtan Fujian dl/dd), undated (no dates shown), blank-marker (暂无信息), blank-empty (empty <ul>)
# pagers: next (only 首页/上一页/下一页 links), create (createPageHTML script), hdvar (邯郸 inline var countPage),
#         numbers (static numbered links + 尾页), none
COLUMNS: list[tuple] = [
    ("gzdt", "工作动态", "li", "next", 20, 4000, 1, 0.45, "utf-8"),
    ("tzgg", "通知公告", "li", "create", 20, 600, 4, 2.5, "utf-8"),
    ("zwhd", "政务活动", "font", "create", 15, 25, 9, 6, "utf-8"),
    ("sqdt", "社区动态", "li", "hdvar", 15, 40, 20, 7, "utf-8"),
    ("bscgk/bsjj", "办事处简介", "li", "none", 20, 1, 300, 1, "utf-8"),
    ("bscgk/ldzc", "领导之窗", "undated", "none", 20, 3, 200, 30, "utf-8"),
    ("bscgk/nsjg", "内设机构", "li", "none", 20, 2, 250, 60, "utf-8"),
    ("djgz/djdt", "党建动态", "li", "numbers", 15, 90, 5, 3, "utf-8"),
    ("djgz/lzjs", "廉政建设", "li", "create", 20, 8, 40, 30, "utf-8"),
    ("sqfc/dmsq", "东明社区", "li", "create", 20, 6, 10, 40, "utf-8"),
    ("sqfc/xhsq", "西华社区", "li", "create", 20, 4, 35, 40, "utf-8"),
    ("sqfc/ntsq", "南塘社区", "li", "create", 20, 3, 80, 40, "utf-8"),
    ("sqfc/bgsq", "北岗社区", "li", "create", 20, 5, 20, 40, "utf-8"),
    ("sqfc/xqsq", "新桥社区", "li", "create", 20, 2, 150, 40, "utf-8"),
    ("sqfc/hpsq", "和平社区", "li", "create", 20, 4, 60, 40, "utf-8"),
    ("ztzl/xczx", "乡村振兴", "li", "create", 20, 1, 120, 1, "utf-8"),
    ("ztzl/cjwmcs", "创建文明城市", "blank-marker", "none", 20, 0, 0, 0, "utf-8"),
    ("ztzl/ljfl", "垃圾分类", "blank-empty", "none", 20, 0, 0, 0, "utf-8"),
    ("ztzl/wzgl", "网站管理", "li", "create", 20, 2, 60, 30, "utf-8"),
    ("ztzl/aqsc", "安全生产", "li", "create", 20, 12, 15, 20, "utf-8"),
    ("ztzl/wqdt", "往期动态", "li", "create", 20, 30, 700, 20, "utf-8"),
    ("bmfw/bszn", "办事指南", "table", "create", 10, 20, 25, 30, "utf-8"),
    ("bmfw/xzxz", "下载中心", "li", "create", 20, 10, 50, 60, "utf-8"),
    ("zwgk/zfxxgkzn", "政府信息公开指南", "li", "create", 20, 1, 330, 1, "utf-8"),
    ("zwgk/zfxxgkzd", "政府信息公开制度", "li", "create", 20, 2, 500, 400, "utf-8"),
    ("zwgk/zfxxgknb", "政府信息公开年报", "dl", "none", 20, 0, 0, 0, "utf-8"),
    ("zwgk/fdzdgknr/jgzn", "机构职能", "table", "create", 20, 3, 200, 200, "utf-8"),
    ("zwgk/fdzdgknr/ghjh", "规划计划", "li", "create", 20, 6, 100, 180, "utf-8"),
    ("zwgk/fdzdgknr/rsxx", "人事信息", "li", "create", 20, 10, 150, 120, "utf-8"),
    ("zwgk/fdzdgknr/zcwj", "政策文件", "table", "create", 20, 70, 200, 25, "gbk"),
    ("zwgk/fdzdgknr/gsgg", "公示公告", "li", "create", 20, 50, 170, 20, "gbk"),
    ("zwgk/fdzdgknr/zcjd", "政策解读", "table", "create", 20, 30, 12, 25, "utf-8"),
    ("zwgk/fdzdgknr/czzj/bmys", "部门预算", "li", "create", 20, 0, 0, 0, "utf-8"),
    ("zwgk/fdzdgknr/czzj/bmjs", "部门决算", "li", "create", 20, 0, 0, 0, "utf-8"),
    ("zwgk/fdzdgknr/czzj/sgjf", "三公经费", "li", "create", 20, 0, 0, 0, "utf-8"),
    ("zwgk/ysqgk", "依申请公开", "li", "none", 20, 1, 800, 1, "utf-8"),
]
# parent columns: landing pages with one block per child column
LANDINGS = {
    "bscgk": "办事处概况", "djgz": "党建工作", "sqfc": "社区风采", "ztzl": "专题专栏", "bmfw": "便民服务",
    "zwgk": "政务公开", "zwgk/fdzdgknr": "法定主动公开内容", "zwgk/fdzdgknr/czzj": "财政资金",
}
NAV = [("bscgk", "办事处概况"), ("gzdt", "工作动态"), ("tzgg", "通知公告"), ("xxgk", "信息公开"),
       ("djgz", "党建工作"), ("sqfc", "社区风采"), ("ztzl", "专题专栏"), ("bmfw", "便民服务")]

STALE_COLUMNS = {"社区动态": "dynamic", "政策文件": "notice"}     # newest item older than the rule's window
FRESH_TWINS = {"政务活动": "dynamic", "公示公告": "notice", "往期动态": "exempt"}
BLANK_COLUMNS = {"创建文明城市", "垃圾分类"}
BLANK_TWINS = {"乡村振兴", "网站管理"}                          # one item / an item whose title says 暂无信息

COMMUNITIES = ["东明社区", "西华社区", "南塘社区", "北岗社区", "新桥社区", "和平社区"]
ACTS = ["召开安全生产工作部署会", "开展垃圾分类入户宣传活动", "组织党员志愿者清洁家园", "开展消防安全隐患大排查",
        "举办长者饭堂开放日活动", "召开基层治理工作推进会", "开展防范电信诈骗宣传", "走访慰问困难群众",
        "开展“三小场所”安全检查", "举办邻里文化节", "召开人大代表联络站座谈会", "开展防汛防台应急演练",
        "推进老旧小区改造工作", "开展食品安全专项检查", "举行新时代文明实践活动", "开展出租屋专项整治行动",
        "召开民生微实事项目评审会", "开展禁毒宣传进社区活动", "组织退役军人座谈会", "开展登革热防控大扫除"]
NOTICES = ["关于开展{y}年度{w}工作的通知", "关于{w}的公告", "关于做好{w}有关事项的通知", "{y}年{w}实施方案",
           "关于公布{w}结果的公示", "关于征集{w}意见建议的公告"]
TOPICS = ["城乡居民医疗保险参保登记", "退役军人信息采集", "适龄儿童入学资格审核", "城镇老旧小区改造", "民生微实事项目",
          "困难群众临时救助", "残疾人两项补贴发放", "第七次全国人口普查", "防汛防旱防风", "冬季安全生产",
          "垃圾分类示范小区评选", "居家养老服务补贴", "高龄津贴发放", "社区网格员招聘", "森林防火"]
SENTENCES = [
    "为切实做好相关工作，进一步提升辖区群众的获得感、幸福感和安全感，{s}高度重视，迅速部署落实。",
    "会议强调，各社区、各部门要提高政治站位，压实工作责任，确保各项任务按时保质完成。",
    "活动现场，工作人员通过发放宣传资料、现场讲解等方式，向居民群众普及相关知识，共发放宣传资料{n}份。",
    "下一步，{s}将继续坚持以人民为中心的发展思想，持续加大工作力度，推动各项工作落地见效。",
    "此次行动共出动工作人员{n}人次，检查各类场所{m}家，发现并督促整改问题隐患{k}处。",
    "各社区居委会要结合实际，认真组织实施，及时收集和反馈工作中遇到的问题。",
    "据悉，该项目总投资约{n}万元，惠及周边居民{m}户，预计年底前全面完工。",
    "与会人员围绕议题进行了深入讨论，并就下一阶段的重点工作提出了具体意见和建议。",
]


# small columns carry the documents their names promise
FIXED_TITLES = {
    "zwgk/zfxxgkzn": ["{s}政府信息公开指南"],
    "zwgk/zfxxgkzd": ["{s}政府信息公开工作制度", "{s}政府信息公开保密审查制度"],
    "zwgk/ysqgk": ["{s}依申请公开政府信息流程"],
    "bscgk/bsjj": ["{s}简介"],
    "bscgk/nsjg": ["{s}内设机构及职能", "{s}下属事业单位设置情况"],
    "zwgk/fdzdgknr/jgzn": ["{s}机构职能", "{s}领导分工", "{s}办公地址及办公时间"],
    "zwgk/fdzdgknr/ghjh": ["{s}{y}年工作计划", "{s}{y}年工作总结", "{s}“十四五”发展规划中期评估"],
    "zwgk/fdzdgknr/rsxx": ["{s}{y}年公开招聘社区工作者公告", "关于{s}干部任免的通知", "{s}{y}年公开招聘拟聘用人员公示"],
}


@dataclass
class Doc:
    id: int
    column: Column
    date: dt.date                 # the date in the URL (tYYYYMMDD_) and in the PubDate meta
    shown: dt.date                # the date the list shows (often backdated on real sites)
    title: str
    body: int = 3                 # number of paragraphs
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (link text, file name next to the page)
    links: list[tuple[str, str]] = field(default_factory=list)        # (text, href) inside the body
    text: str | None = None       # fixed body text (planted pages)
    docno: str | None = None
    pinned: bool = False

    @property
    def folder(self) -> str:
        return f"{self.column.dir}{self.date:%Y%m}/"

    @property
    def path(self) -> str:
        return f"{self.folder}t{self.date:%Y%m%d}_{self.id}.html"


@dataclass
class Column:
    code: str
    name: str
    layout: str
    pager: str
    per_page: int
    encoding: str
    docs: list[Doc] = field(default_factory=list)
    prefix: str = SITE            # the sub-site's folder

    @property
    def dir(self) -> str:
        return f"{self.prefix}{self.code}/"

    @property
    def parent(self) -> str | None:
        return self.code.rsplit("/", 1)[0] if "/" in self.code else None

    @property
    def n_pages(self) -> int:
        return max(1, -(-len(self.docs) // self.per_page))

    def page_docs(self, k: int) -> list[Doc]:
        return self.docs[k * self.per_page:(k + 1) * self.per_page]

    def page_path(self, k: int) -> str:
        return self.dir + ("index.html" if k == 0 else f"index_{k}.html")

    @property
    def blank(self) -> bool:
        return self.layout.startswith("blank")

    @property
    def newest(self) -> dt.date | None:
        return max((d.shown for d in self.docs), default=None)


class TownSite:
    """The model: columns, documents, planted problems, and how each URL answers."""

    def __init__(self, origin: str, province: str, refused: str, seed: int = 13, *, scale: float = 1.0,
                 conditional: bool = True, prefix: str = SITE, name: str = SITE_NAME, site_id: str = SITE_ID,
                 short: str | None = None, ages: Mapping[str, int] | None = None):
        """``scale`` multiplies the document count of the big columns (工作动态, 通知公告: at least 100 documents)
        and divides their publishing interval (0.1: ~1,000 pages instead of ~5,400). Below ``THIN_BELOW`` (0.05)
        the small columns thin too, by ``scale / THIN_BELOW`` (at least one document each, or what a planted
        page needs), as do the years of the disclosure columns; every planted problem and twin stays. Pages:

        ======  =====  =====  =====  =====  =====  =====
        scale   1      0.1    0.05   0.01   0.005  0.002
        pages   5,381  1,034  793    206    140    108
        ======  =====  =====  =====  =====  =====  =====

        (~100 is the floor: the home page, 8 landings and 36 column lists are 45 pages, and most columns keep
        one document.) ``conditional`` False: no validators, never 304 (a server that sends none).

        ``prefix`` is the sub-site's folder on its host (``"/"``: a site of its own host, with no city page),
        ``name`` its name in titles and text, ``site_id`` its 网站标识码, ``short`` the issuer of its 文号 (``西办``,
        default the name's first character + 办); with a different ``seed`` two sub-sites differ in every
        title, date and id. ``ages``: the age in days of a column's newest document, by column code, instead of the
        one in ``COLUMNS`` (a stale column stays stale only while its age stays beyond the rule's window)."""
        if not (prefix.startswith("/") and prefix.endswith("/")):
            raise ValueError(f"prefix must start and end with '/': {prefix!r}")
        self.origin, self.province, self.refused = origin, province, refused
        self.prefix, self.name, self.site_id = prefix, name, site_id
        self.short = short or name[0] + "办"
        self.old_site = "/old/" if prefix == "/" else prefix.rstrip("/") + "_old/"   # a dead link to a former site
        self.scale = scale
        self.thin = min(1.0, scale / THIN_BELOW)
        self.conditional = conditional
        self.rng = random.Random(seed)
        self.columns: dict[str, Column] = {}
        self.edits: dict[str, tuple[str, dt.datetime]] = {}   # changed file -> (revision code, modification time)
        self.changed: list[str] = []                          # absolute URLs of the pages changed so far, sorted
        self._lengths: dict[str, int] = {}                    # file -> body length (its ETag without rendering it)
        self._mtimes: dict[str, dt.datetime] = {}             # attachment -> modification time
        for code, title, layout, pager, per_page, n, age, gap, enc in COLUMNS:
            age = (ages or {}).get(code, age)
            if scale != 1 and n >= 100:
                n, gap = max(MIN_DOCS.get(code, 1), round(n * scale)), min(gap / scale, 365)
            elif self.thin < 1 and n:
                n = max(MIN_DOCS.get(code, 1), round(n * self.thin))
            col = Column(code, title, layout, pager, per_page, enc, prefix=prefix)
            self.columns[code] = col
            if n:
                self._fill(col, n, age, gap)
        self._disclosures()
        self._ids()
        self.planted_broken: dict[str, str] = {}     # absolute URL -> what is wrong
        self.twins: dict[str, str] = {}              # absolute URL -> why it must not be reported
        self.routes: dict[str, tuple] = {}
        self._plant()
        self._route()

    # ---- content -------------------------------------------------------------------------------------------
    def _fill(self, col: Column, n: int, age: int, gap: float) -> None:
        rng = self.rng
        day = TODAY - dt.timedelta(days=age)
        for i in range(n):
            if i:
                day -= dt.timedelta(days=int(rng.expovariate(1 / gap)) if gap >= 1 else int(rng.random() < gap))
            shown = day if i == 0 or rng.random() > 0.3 else day - dt.timedelta(days=rng.randint(1, 5))
            col.docs.append(Doc(0, col, day, shown, self._title(col, day), body=rng.randint(2, 6)))
        if col.code == "bmfw/xzxz":
            for d in col.docs:
                d.title = d.title.replace("的通知", "申请表下载").replace("的公告", "表格下载")
                d.attachments.append((d.title + ".doc", f"P0{d.date:%Y%m%d}{rng.randrange(10**11, 10**12)}.doc"))
        if col.code == "ztzl/wzgl":
            col.docs[1].title = "关于整改“暂无信息”空白栏目的通知"
        if col.code == "zwgk/fdzdgknr/zcwj":
            for k, d in enumerate(col.docs):
                d.docno = f"{self.short}〔{d.date.year}〕{len(col.docs) - k}号"
        if col.code == "tzgg":
            pinned = col.docs.pop(min(37, len(col.docs) - 1))     # 置顶: an older notice sorted first
            pinned.title = "关于公布" + self.name + "便民服务热线的通告"
            col.docs.insert(0, pinned)
            pinned.pinned = True
        for d in col.docs[1::53]:
            d.attachments.append((d.title + ".pdf", f"P0{d.date:%Y%m%d}{rng.randrange(10**11, 10**12)}.pdf"))

    def _title(self, col: Column, day: dt.date) -> str:
        rng = self.rng
        fixed = FIXED_TITLES.get(col.code)
        if fixed:
            return rng.choice(fixed).format(y=day.year, s=self.name)
        if col.code in ("gzdt", "zwhd", "sqdt", "djgz/djdt", "ztzl/wqdt") or col.code.startswith("sqfc/"):
            who = col.name if col.code.startswith("sqfc/") else rng.choice([self.name] + COMMUNITIES)
            return who + rng.choice(ACTS)
        if col.code == "zwgk/fdzdgknr/zcjd":
            return f"《关于{rng.choice(TOPICS)}的通知》政策解读"
        if col.code == "bscgk/ldzc":
            return rng.choice(["主任", "副主任", "党工委书记", "党工委副书记", "人大工委主任"]) + "简介"
        return rng.choice(NOTICES).format(y=day.year, w=rng.choice(TOPICS))

    def _disclosures(self) -> None:
        rng = self.rng
        nb, ys, js, sg = (self.columns[c] for c in ("zwgk/zfxxgknb", "zwgk/fdzdgknr/czzj/bmys",
                                                    "zwgk/fdzdgknr/czzj/bmjs", "zwgk/fdzdgknr/czzj/sgjf"))
        def years(last: int, n: int) -> range:        # the n years up to last (thinned: at least 3)
            return range(last, last - (n if self.thin >= 1 else max(3, round(n * self.thin))), -1)

        for y in years(2025, 9):
            day = dt.date(y + 1, 1, rng.randint(8, 28))
            nb.docs.append(Doc(0, nb, day, day - dt.timedelta(days=rng.choice([0, 0, 3])),
                               f"{self.name}{y}年政府信息公开工作年度报告", body=8))
        for y in years(2026, 8):
            day = dt.date(y, 3, rng.randint(1, 20))
            title = f"{y}年{CITY}{self.name}部门预算"
            ys.docs.append(Doc(0, ys, day, day, title, body=0, text="详见附件。",
                               attachments=[(title + ".pdf", f"P0{day:%Y%m%d}{rng.randrange(10**11, 10**12)}.pdf")]))
            t2 = f"{y}年{self.name}“三公”经费预算情况说明"
            sg.docs.append(Doc(0, sg, day, day, t2, body=2, text=f"{y}年“三公”经费预算数为{rng.randint(20, 90)}.{rng.randint(10, 99)}万元，"
                               "其中：因公出国（境）费0万元，公务接待费、公务用车购置及运行费详见附表。"))
        final = years(2025, 8)
        for y in final:
            day = dt.date(y + 1, 8, rng.randint(5, 28))
            title = f"{y}年度{CITY}{self.name}部门决算"
            ext = "XLS" if y == final[-1] else "pdf"            # the oldest item attaches an upper-case .XLS
            js.docs.append(Doc(0, js, day, day, title, body=0, text="详见附件。",
                               attachments=[(f"{title}.{ext}", f"P0{day:%Y%m%d}{rng.randrange(10**11, 10**12)}.{ext}")]))
            sg.docs.append(Doc(0, sg, day, day, f"{y}年度{self.name}“三公”经费决算情况说明", body=2))
        sg.docs.sort(key=lambda d: d.date, reverse=True)

    def _ids(self) -> None:
        docs = sorted((d for c in self.columns.values() for d in c.docs), key=lambda d: (d.date, d.column.code))
        for i, d in enumerate(docs):
            d.id = 1_100_000 + i * 3 + self.rng.randint(0, 2)

    def all_docs(self) -> list[Doc]:
        return [d for c in self.columns.values() for d in c.docs]

    # ---- planted problems and twins ------------------------------------------------------------------------------
    def _plant(self) -> None:
        o, gz, tz = self.origin, self.columns["gzdt"], self.columns["tzgg"]
        gone = f"{self.prefix}gzdt/202301/t20230105_1000001.html"
        soft = f"{self.prefix}tzgg/202405/t20240510_1000002.html"
        stub = f"{self.prefix}zwgk/fdzdgknr/zcjd/202402/t20240220_1000003.html"
        self.soft404_path, self.stub_path = soft, stub
        self.planted_broken = {
            o + gone: "404: a deleted document still linked from an article",
            o + soft: "soft 404: HTTP 200 saying 您访问的页面不存在",
            o + stub: "deleted-document stub: tiny page with a meta refresh to its listing",
            self.refused + "/": "external host refuses connections",
            self.province + "/zwfw/old.html": "external 404",
            o + self.old_site: "same host, outside the sub-site: 404" if self.prefix != "/" else "old site: 404",
        }
        # article bodies that carry the broken links
        carrier, long_doc, busy = _spread(tz.docs, 5, 8, 15)       # (with few documents: distinct ones)
        issue, blip = _spread(gz.docs, 60, 120)
        carrier.links = [("去年工作情况", gone), ("原通知", soft)]
        _spread(self.columns["zwgk/fdzdgknr/zcjd"].docs, 3)[0].links = [("政策原文", stub)]
        ys = self.columns["zwgk/fdzdgknr/czzj/bmys"]
        budget_2024 = next(d for d in ys.docs if d.date.year == 2024)
        self.missing_attachment = budget_2024.folder + budget_2024.attachments[0][1]
        self.planted_broken[o + self.missing_attachment] = "404 attachment of the 2024 budget"
        # twins
        issue.title, issue.body = f"《{self.name}工作简报》第404期", 2
        issue.text = ("本期要目：一、" + self.name + "召开安全生产工作部署会；二、各社区开展垃圾分类宣传；"
                      "三、民生微实事项目进展情况。编辑：党政办公室。")
        long_doc.title = f"关于{TODAY.year}年第三季度政府网站自查情况的通报"
        long_doc.text = ("经自查，本季度共检测页面一万余个，发现“404”错误链接12条、“您访问的页面不存在”提示页面3个，"
                         "已全部整改完毕。" + "各科室要加强对所负责栏目的日常巡查，确保链接可用、内容准确、更新及时。" * 40)
        xz = self.columns["bmfw/xzxz"].docs[0]
        self.head405 = xz.folder + xz.attachments[0][1]
        js = self.columns["zwgk/fdzdgknr/czzj/bmjs"]
        old = next(d for d in js.docs if d.attachments[0][1].endswith(".XLS"))
        self.upper_xls = old.folder + old.attachments[0][1]
        # transient failures a retry gets past (portals.md: WAF blips of a few bytes, a 503 under load)
        self.flaky = {blip.path: "blip", busy.path: "503"}
        self._hits: dict[str, int] = {}
        self._lock = threading.Lock()
        self.twins = {
            o + blip.path: "first answer is a 2-byte WAF blip, then the article",
            o + busy.path: "first answer is HTTP 503, then the article",
            o + issue.path: "title is an issue number containing 404",
            o + long_doc.path: "long article that mentions 404 and 页面不存在",
            o + f"{self.prefix}xxgk/": "301 to the 政务公开 landing page",
            self.province + "/redirect/zsxq": "external 301 to a 200 page",
            o + self.head405: "attachment answering HEAD 405, GET 200",
            o + self.upper_xls: "attachment with an upper-case .XLS extension",
        }

    # ---- URL table ------------------------------------------------------------------------------------------------
    def _route(self) -> None:
        r = self.routes
        r[self.prefix] = r[self.prefix + "index.html"] = ("home",)
        for code in LANDINGS:
            r[f"{self.prefix}{code}/"] = r[f"{self.prefix}{code}/index.html"] = ("landing", code)
        for col in self.columns.values():
            r[col.dir] = ("list", col, 0)
            for k in range(col.n_pages):
                r[col.page_path(k)] = ("list", col, k)
            for d in col.docs:
                r[d.path] = ("doc", d)
                for _, name in d.attachments:
                    ctype = {"pdf": "application/pdf", "doc": "application/msword"}.get(
                        name.rsplit(".", 1)[-1].lower(), "application/vnd.ms-excel")
                    r[d.folder + name] = ("file", ctype, 4000 + len(name) * 37)
                    self._mtimes[d.folder + name] = self.published(d)
        r[f"{self.prefix}xxgk/"] = ("redirect", self.origin + f"{self.prefix}zwgk/")
        r[self.soft404_path] = ("soft404",)
        r[self.stub_path] = ("stub",)
        del r[self.missing_attachment]
        r[self.head405] = ("file", "application/msword", 9000, 405)
        r[f"{self.prefix}images/logo.png"] = ("file", "image/png", 2400)
        r[f"{self.prefix}images/zd.gif"] = ("file", "image/gif", 300)
        r[f"{self.prefix}images/red.png"] = ("file", "image/png", 3100)
        r[f"{self.prefix}css/style.css"] = ("css",)
        r[f"{self.prefix}js/common.js"] = ("file", "application/javascript", 1500)
        if self.prefix != "/":
            r["/"] = ("city",)

    # ---- ground truth ---------------------------------------------------------------------------------------------
    def expected_pages(self) -> set[str]:
        """Every in-scope HTML page a visitor can reach (JS-pager links as a browser renders them)."""
        paths = {self.prefix} | {f"{self.prefix}{code}/" for code in LANDINGS}
        for col in self.columns.values():
            paths.add(col.dir)
            if col.n_pages > 1:
                paths.update(col.page_path(k) for k in range(col.n_pages))
            paths.update(d.path for d in col.docs)
        return {self.origin + p for p in paths}

    def js_links(self, path: str) -> list[str]:
        """Links a browser's pager script writes into a list page (all other pages of the column)."""
        route = self.routes.get(path)
        if not route or route[0] != "list" or route[1].pager not in ("create", "hdvar") or route[1].n_pages < 2:
            return []
        return [route[1].page_path(k) for k in range(route[1].n_pages)]

    # ---- answers --------------------------------------------------------------------------------------------------
    def answer(self, path: str, flaky: bool = True, request: Mapping[str, str] | None = None,
               ) -> tuple[int, dict[str, str], bytes, int | None]:
        """(status, headers, body, status for HEAD or None) of a path on the city host; ``flaky=False`` skips
        the planted transient failures (the first request to a flaky page fails). ``request``: the request's
        headers, for a conditional GET (a 304 without a body when its validators match the file's)."""
        path = path.split("?", 1)[0].split("#", 1)[0]
        route = self.routes.get(path)
        html = {"Content-Type": "text/html"}
        if flaky and path in self.flaky:
            with self._lock:
                self._hits[path] = self._hits.get(path, 0) + 1
                first = self._hits[path] == 1
            if first and self.flaky[path] == "blip":
                return 200, html, b"\r\n", None
            if first:
                return 503, html, b"<html><body>503 Service Temporarily Unavailable</body></html>", None
        if route is None:
            return 404, {"Content-Type": "text/html"}, _NOT_FOUND, None
        mtime = self.mtime(path) if self.conditional else None
        if mtime is None:
            return self._answer(path, route)
        file = file_of(path)
        length = self._lengths.get(file)
        if request is not None and length is not None:        # nginx answers a 304 from the file's metadata
            tags = cond.validators(mtime, length)
            if cond.not_modified(request, tags["ETag"], mtime):
                return 304, tags, b"", None
        status, headers, body, head = self._answer(path, route)
        self._lengths[file] = len(body)
        tags = cond.validators(mtime, len(body))
        if request is not None and cond.not_modified(request, tags["ETag"], mtime):
            return 304, tags, b"", None
        return status, {**headers, **tags}, body, head

    def _answer(self, path: str, route: tuple) -> tuple[int, dict[str, str], bytes, int | None]:
        html = {"Content-Type": "text/html"}
        kind = route[0]
        if kind == "redirect":
            return 301, {"Location": route[1], "Content-Type": "text/html"}, b"", None
        if kind == "file":
            size = route[2]
            body = (path.encode() * (size // len(path) + 1))[:size]
            return 200, {"Content-Type": route[1]}, body, (route[3] if len(route) > 3 else None)
        if kind == "css":
            return 200, {"Content-Type": "text/css"}, b"body{font:14px/1.6 'Microsoft YaHei'}.list li{height:36px}", None
        if kind == "soft404":
            text = ("<html><head><meta charset='utf-8'><title>提示信息</title></head><body><div class='tip'>"
                    f"对不起，您访问的页面不存在或已被删除！<a href='{self.prefix}'>返回首页</a></div></body></html>")
            return 200, html, text.encode(), None
        if kind == "stub":
            return 200, html, b'<html><head><meta http-equiv="refresh" content="0;URL=../" /></head><body></body></html>', None
        if kind == "city":
            return 200, html, self.render_city().encode(), None
        if kind == "home":
            text, enc = self.render_home(), "utf-8"
        elif kind == "landing":
            text, enc = self.render_landing(route[1]), "utf-8"
        elif kind == "list":
            text, enc = self.render_list(route[1], route[2]), route[1].encoding
        else:
            text, enc = self.render_doc(route[1]), route[1].column.encoding
        edit = self.edits.get(file_of(path))
        if edit is not None:
            note = "".join(f"&#{ord(ch)};" for ch in REVISION) + edit[0]
            text = text.replace('<div class="footer">', f'<p class="revision">{note}</p>\n<div class="footer">', 1)
        return 200, html, text.encode(enc, "xmlcharrefreplace"), None

    # ---- static files: modification times and changes -------------------------------------------------------------
    @staticmethod
    def published(d: Doc) -> dt.datetime:
        """A document's publishing time (its PubDate meta), the modification time of its page and attachments."""
        return dt.datetime(d.date.year, d.date.month, d.date.day, 9 + d.id % 8, d.id % 60, tzinfo=BEIJING)

    def mtime(self, path: str) -> dt.datetime | None:
        """The modification time of the static file serving ``path`` (query and fragment dropped); None for a
        dynamic answer (404, redirect, the soft-404 page), which carries no validators."""
        path = path.split("?", 1)[0].split("#", 1)[0]
        route = self.routes.get(path)
        if route is None or route[0] in ("redirect", "soft404"):
            return None
        edit = self.edits.get(file_of(path))
        if edit is not None:
            return edit[1]
        kind = route[0]
        if kind == "doc":
            return self.published(route[1])
        if kind == "file":
            return self._mtimes.get(path, ASSETS_MTIME)
        if kind == "css":
            return ASSETS_MTIME
        if kind == "stub":
            return STUB_MTIME
        return GENERATED                        # home, landing, list and the city's page: the last publishing run

    def warm(self) -> None:
        """Learn the length of every static file not known yet, so that a 304 is answered from the file's metadata
        (as nginx does) instead of rendering the page: the serving process then spends on a 304 what nginx does."""
        for path in self.routes:
            if self.conditional and file_of(path) not in self._lengths and self.mtime(path) is not None:
                self.answer(path, flaky=False)

    def changeable(self) -> list[str]:
        """The static HTML files (home, landings, list pages, articles) that ``change`` may edit, sorted; a folder
        URL (``.../``) is served by its ``index.html``."""
        return sorted({file_of(p) for p, r in self.routes.items()
                       if r[0] in ("home", "landing", "list", "doc") and p.startswith(self.prefix)})

    def change(self, changed: float | Collection[str], seed: int = 0) -> list[str]:
        """Edit a fraction of the changeable files (drawn with ``seed``), or the files given: each gets one added
        paragraph (numeric character references, no link, no date: no finding depends on it) and a modification
        time after everything else on the site, so new validators. Returns the absolute URLs of the in-scope pages
        that changed (a folder and its ``index.html`` both, when both are linked), also added to ``changed``."""
        pool = self.changeable()
        if isinstance(changed, (int, float)):
            if not 0 <= changed <= 1:
                raise ValueError(f"changed fraction must be between 0 and 1, not {changed}")
            k = max(1, round(changed * len(pool))) if changed > 0 else 0
            files = set(random.Random(f"town-changes/{seed}").sample(pool, k))
        else:
            files = {file_of(p) for p in changed}
            unknown = sorted(files - set(pool))
            if unknown:
                raise ValueError(f"not a changeable page of the site: {', '.join(unknown[:5])}")
        stamps = [GENERATED, *(self.published(d) for d in self.all_docs()), *(e[1] for e in self.edits.values())]
        stamp = max(stamps) + EDIT_DELAY
        for f in files:
            self.edits[f] = (hashlib.sha256(f"{seed}/{f}".encode()).hexdigest()[:8], stamp)
            self._lengths.pop(f, None)
        urls = sorted(u for u in self.expected_pages() if file_of(u[len(self.origin):]) in files)
        self.changed = sorted({*self.changed, *urls})
        return urls

    # ---- rendering ------------------------------------------------------------------------------------------------
    def _head(self, title: str, enc: str, meta: dict[str, str], fujian: bool = False) -> str:
        charset = ('<meta charset="utf-8" name="viewport" content="width=device-width, initial-scale=1.0">'
                   if enc == "utf-8" else '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">')
        metas = {"SiteName": f"{CITY}人民政府门户网站", "SiteDomain": urlsplit(self.origin).netloc,
                 "SiteIDCode": self.site_id, **meta}
        tags = "\n".join(f'<meta name="{k}" content="{v}"/>' for k, v in metas.items())
        controller = ' ms-controller="list"' if fujian else ""
        return (f"<!DOCTYPE html>\n<html>\n<head>\n{charset}\n<meta http-equiv=\"X-UA-Compatible\" content=\"IE=Edge\" />\n"
                f"{tags}\n<title>{title}</title>\n<link href=\"{self.prefix}css/style.css\" rel=\"stylesheet\" type=\"text/css\">\n"
                f"<script src=\"{self.prefix}js/common.js\"></script>\n</head>\n<body{controller}>\n")

    def _top(self) -> str:
        nav = "".join(f'<li><a href="{self.prefix}{code}/">{name}</a></li>' for code, name in NAV)
        return (f'<div class="top"><div class="w1200"><a href="/">{CITY}人民政府门户网站</a> | '
                f'<a href="{self.province}/">广东政务服务网</a><span class="date">{TODAY:%Y年%m月%d日}</span></div></div>\n'
                f'<div class="header"><a href="{self.prefix}"><img src="{self.prefix}images/logo.png" alt="{CITY}{self.name}"></a></div>\n'
                f'<div class="nav"><ul><li><a href="{self.prefix}">首页</a></li>{nav}'
                f'<li><a href="{self.province}/hdjl/index.html" target="_blank">互动交流</a></li></ul></div>\n')

    def _foot(self) -> str:
        return (f'<div class="footer"><p><a href="/">{CITY}人民政府</a> | '
                f'<a href="{self.province}/hdjl/index.html" target="_blank">我要写信</a> | '
                f'<a href="javascript:void(0);" onclick="addFavorite()">加入收藏</a></p>'
                f"<p>主办：{CITY}{self.name}　承办：{self.name}党政办公室　联系电话：0760-88000000</p>"
                f"<p>网站标识码：{self.site_id}　粤ICP备05085493号　粤公网安备44200002000123号</p>"
                f'<p><img src="{self.prefix}images/red.png" alt="党政机关" width="55" height="68"></p></div>\n'
                "<script>var _trs_uv='';</script>\n</body>\n</html>\n")

    def _crumb(self, code: str, last: str | None = None) -> str:
        parts = [f'<a href="{self.prefix}">首页</a>']
        acc = []
        for seg in code.split("/"):
            acc.append(seg)
            c = "/".join(acc)
            name = LANDINGS.get(c) or (self.columns[c].name if c in self.columns else c)
            parts.append(f'<a href="{self.prefix}{c}/">{name}</a>')
        if last:
            parts.append(last)
        return f'<div class="position">当前位置：{" &gt; ".join(parts)}</div>\n'

    def _row(self, col: Column, d: Doc, rel: str, layout: str | None = None) -> str:
        layout = layout or col.layout
        href = rel + d.path[len(col.dir):] if rel else d.path
        t = d.title
        short = t if len(t) <= 28 else t[:27] + "…"
        pin = f'<img src="{self.prefix}images/zd.gif" alt="置顶">' if d.pinned else ""
        if layout == "font":
            return (f'<li><a href="{href}" target="_blank"><font class="cont_tit03">{t}</font>'
                    f'<font class="cont_tit02">{d.shown:%Y-%m-%d}</font></a></li>\n')
        if layout == "table":
            idx = f"{self.site_id[:9]}/{d.date.year}-{d.id % 100000:05d}"
            return (f'<tr>\n<td height="35"><a href="{self.origin if rel == "" else ""}{href}" title="{t}">\n{t}\n</a></td>\n'
                    f'<td height="35">{idx}</td>\n<td height="35">{CITY}{self.name}</td>\n'
                    f'<td height="35">{d.shown:%Y-%m-%d}</td>\n</tr>\n')
        if layout == "dl":
            return (f'<dl>\n<dd class="trt-col-sm-24 slb-trt-col-24 text_align_left">\n'
                    f'<a href="{href}" target="_blank" title="{t}">{t}</a>\n</dd>\n'
                    f'<dd class="trt-col-4 trt-col-sm-24 slb-trt-col-24 text_align_left">\n    {d.shown:%Y-%m-%d}\n</dd>\n</dl>\n')
        if layout == "undated":
            return f'<li><a href="{href}" target="_blank" title="{t}">{t}</a></li>\n'
        return (f'<li>{pin}<a href="{href}" target="_blank" title="{t}">{short}</a>'
                f'<em id="rel_{d.id}"></em><span class="bf-pass">{d.shown:%Y-%m-%d}</span></li>\n')

    def _pager(self, col: Column, k: int) -> str:
        n = col.n_pages
        if col.pager == "create":
            return (f'<div class="page"><script type="text/javascript">\n'
                    f'createPageHTML({n}, {k}, "index", "html");\n</script></div>\n')
        if col.pager == "hdvar":
            return ('<div class="page"><script language="javascript">\n'
                    f"var countnum= {len(col.docs)};\nvar currentPage={k};\nvar prevPage=currentPage-1\n"
                    f"var nextPage=currentPage+1\nvar countPage={n}\nvar endPage=countPage-1\n"
                    'document.write("<a href=\\"index.html\\" target=\\"_self\\" >首页</a>&nbsp;&nbsp;");\n'
                    "if(countPage>1&&currentPage!=(countPage-1))\n"
                    '    document.write("<a href=\\"index"+"_"+nextPage+"."+"html\\" target=\\"_self\\">下一页</a>");\n'
                    "</script></div>\n")
        if col.pager == "numbers" and n > 1:
            links = [f'<a href="{col.page_path(i)[len(col.dir):]}">{i + 1}</a>' if i != k else f"<span>{i + 1}</span>"
                     for i in range(n)]
            return (f'<div class="page">共{n}页 <a href="index.html">首页</a> {" ".join(links)} '
                    f'<a href="index_{n - 1}.html">尾页</a></div>\n')
        if col.pager == "next" and n > 1:
            parts = []
            if k > 0:
                parts.append('<a href="index.html">首页</a>')
                prev = "index.html" if k == 1 else f"index_{k - 1}.html"
                parts.append(f'<a href="{prev}">上一页</a>')
            if k < n - 1:
                parts.append(f'<a href="index_{k + 1}.html">下一页</a>')
            return f'<div class="page">{" ".join(parts)}</div>\n'
        return ""

    def render_list(self, col: Column, k: int) -> str:
        meta = {"ColumnName": col.name, "ColumnDescription": col.name, "ColumnKeywords": col.name,
                "ColumnType": col.name}
        out = [self._head(f"{col.name}_{CITY}{self.name}", col.encoding, meta, fujian=col.layout == "dl"),
               self._top(), '<div class="main w1200">\n', self._left(col), '<div class="right">\n',
               self._crumb(col.code)]
        docs = col.page_docs(k)
        if col.layout == "blank-marker":
            out.append('<ul class="list">\n<li class="nodata">暂无信息</li>\n</ul>\n')
        elif col.layout == "blank-empty":
            out.append('<ul class="list">\n</ul>\n')
        elif col.layout == "table":
            out.append('<table class="xxgk"><tbody><tr><th width="47%">名称</th><th width="21%">索引号</th>'
                       '<th width="19%">发布机构</th><th width="12%">发布日期</th></tr>\n')
            out.extend(self._row(col, d, "") for d in docs)
            out.append("</tbody></table>\n")
        elif col.layout == "dl":
            out.append('<div class="tabs info_tabs"><div class="rules_tabs_01"><dl><dt>标题</dt><dt>发布日期</dt></dl></div>\n'
                       '<div class="rules_tabs_01 rules_tabs_no_bg" ms-visible="showStatic">\n')
            out.extend(self._row(col, d, "./") for d in docs)
            out.append(f"</div></div>\n<script>var pageChnlInfo={{recordCount:'{len(col.docs)}'}};</script>\n")
        else:
            out.append('<ul class="list">\n')
            out.extend(self._row(col, d, "./") for d in docs)
            out.append("</ul>\n")
        out.append(self._pager(col, k))
        out.append("</div></div>\n")
        out.append(self._foot())
        return "".join(out)

    def _left(self, col: Column) -> str:
        parent = col.parent
        if parent is None:
            return ""
        siblings = [c for c in self.columns.values() if c.parent == parent]
        on = ' class="on"'
        items = "".join(f'<li{on if c is col else ""}><a href="{c.dir}">{c.name}</a></li>' for c in siblings)
        return f'<div class="left info_menu_list"><h3>{LANDINGS[parent]}</h3><ul>{items}</ul></div>\n'

    def render_doc(self, d: Doc) -> str:
        col = d.column
        pub = f"{d.date:%Y-%m-%d} {9 + d.id % 8:02d}:{d.id % 60:02d}"
        meta = {"ColumnName": col.name, "ColumnType": col.name, "ArticleTitle": d.title, "PubDate": pub,
                "ContentSource": f"{self.name}党政办公室", "Url": self.origin + d.path}
        out = [self._head(f"{d.title}_{CITY}{self.name}", col.encoding, meta), self._top(), '<div class="main w1200">\n',
               self._crumb(col.code, "正文")]
        if col.code.startswith("zwgk/"):
            out.append('<div class="xxgk-meta"><table>'
                       f"<tr><td><strong>索引号</strong>：{self.site_id[:9]}/{d.date.year}-{d.id % 100000:05d}</td>"
                       f"<td><strong>分类</strong>：{col.name}</td></tr>"
                       f"<tr><td><strong>发布机构</strong>：{CITY}{self.name}</td><td><strong>成文日期</strong>：{d.date:%Y年%m月%d日}</td></tr>"
                       f"<tr><td><strong>名称</strong>：{d.title}</td><td><strong>发布日期</strong>：{d.date:%Y年%m月%d日}</td></tr>"
                       f"<tr><td><strong>文号</strong>：{d.docno or '无'}</td><td></td></tr></table></div>\n")
        out.append(f'<div class="article"><h1>{d.title}</h1>\n<div class="info">发布时间：{pub}　来源：{self.name}'
                   f'　<a href="javascript:void(0);" ms-attr-href="share.sina">分享</a></div>\n'
                   '<div class="view TRS_UEDITOR trs_paper_default trs_web"><div class="TRS_Editor">\n')
        if d.text:
            out.append(f"<p>{d.text}</p>\n")
        rng = random.Random(d.id)
        for _ in range(d.body):
            sent = "".join(rng.choice(SENTENCES).format(s=self.name, n=rng.randint(50, 900), m=rng.randint(10, 300),
                                                       k=rng.randint(1, 40)) for _ in range(rng.randint(2, 5)))
            out.append(f'<p style="text-indent:2em;">{sent}</p>\n')
        for text, href in d.links:
            out.append(f'<p>相关链接：<a href="{href}" target="_blank">{text}</a></p>\n')
        out.append("</div></div>\n")
        if d.attachments:
            out.append('<div class="fj"><p>附件：</p><ul>')
            out.extend(f'<li><a href="./{name}" target="_blank">{text}</a></li>' for text, name in d.attachments)
            out.append("</ul></div>\n")
        out.append('<div class="tools"><a href="javascript:window.print()">【打印本页】</a>'
                   '<a href="javascript:window.close()">【关闭窗口】</a></div></div></div>\n')
        out.append(self._foot())
        return "".join(out)

    def _block(self, title: str, more: str, docs: list[Doc], n: int) -> str:
        rows = "".join(f'<li><a href="{d.path}" target="_blank" title="{d.title}"><p>{d.title}</p></a>'
                       f"<span>{d.shown:%Y-%m-%d}</span></li>\n" for d in docs[:n])
        return (f'<div class="block"><div class="bt"><h3>{title}</h3><a class="more" href="{more}">更多&gt;&gt;</a></div>\n'
                f'<ul>\n{rows}</ul></div>\n')

    def render_landing(self, code: str) -> str:
        name = LANDINGS[code]
        meta = {"ColumnName": name, "ColumnDescription": name, "ColumnKeywords": name, "ColumnType": name}
        out = [self._head(f"{name}_{CITY}{self.name}", "utf-8", meta), self._top(), '<div class="main w1200">\n',
               self._crumb(code)]
        children = [c for c in self.columns.values() if c.parent == code]
        subs = [c for c in LANDINGS if c.rsplit("/", 1)[0] == code and c != code and "/" in c]
        out.append('<div class="left info_menu_list"><ul>'
                   + "".join(f'<li><a href="{self.prefix}{s}/">{LANDINGS[s]}</a></li>' for s in subs)
                   + "".join(f'<li><a href="{c.dir}">{c.name}</a></li>' for c in children) + "</ul></div>\n")
        for c in children:
            if c.docs:
                out.append(self._block(c.name, c.dir, c.docs, 5))
        out.append("</div>\n")
        out.append(self._foot())
        return "".join(out)

    def render_home(self) -> str:
        meta = {"ColumnName": "首页", "ColumnType": "首页"}
        cols = self.columns
        out = [self._head(f"{CITY}{self.name}", "utf-8", meta), self._top(), '<div class="main w1200">\n']
        out.append(self._block("工作动态", cols["gzdt"].dir, cols["gzdt"].docs, 8))
        out.append(self._block("通知公告", cols["tzgg"].dir, cols["tzgg"].docs[1:], 8))
        out.append(self._block("党建动态", cols["djgz/djdt"].dir, cols["djgz/djdt"].docs, 6))
        zw = sorted((d for c in cols.values() if c.code.startswith("zwgk/") for d in c.docs),
                    key=lambda d: d.shown, reverse=True)
        out.append(self._block("政务公开", f"{self.prefix}xxgk/", zw, 6))
        quick = [("zwgk/zfxxgkzn", "政府信息公开指南"), ("zwgk/zfxxgkzd", "政府信息公开制度"),
                 ("zwgk/zfxxgknb", "政府信息公开年报"), ("zwgk/fdzdgknr", "法定主动公开内容"), ("zwgk/ysqgk", "依申请公开")]
        out.append('<div class="xxgk-nav"><ul>' + "".join(f'<li><a href="{self.prefix}{c}/">{n}</a></li>' for c, n in quick)
                   + "</ul></div>\n")
        out.append('<div class="ztzl"><ul>' + "".join(f'<li><a href="{c.dir}">{c.name}</a></li>'
                                                      for c in cols.values() if c.code.startswith("ztzl/")) + "</ul></div>\n")
        out.append('<div class="sqfc"><ul>' + "".join(f'<li><a href="{c.dir}">{c.name}</a></li>'
                                                      for c in cols.values() if c.code.startswith("sqfc/"))
                   + f'<li><a href="{cols["sqdt"].dir}">社区动态</a></li><li><a href="{cols["zwhd"].dir}">政务活动</a></li>'
                   + "</ul></div>\n")
        links = [(self.province + "/", "广东省人民政府"), (self.province + "/redirect/zsxq", f"{CITY}{self.name[:2]}"),
                 (self.province + "/zwfw/old.html", "政务服务旧版"), (self.refused + "/", "市民服务中心"),
                 (self.old_site, f"{self.name}旧版网站")]
        out.append('<div class="yqlj"><h3>友情链接</h3><ul>' + "".join(
            f'<li><a href="{u}" target="_blank">{t}</a></li>' for u, t in links) + "</ul></div>\n")
        out.append("</div>\n")
        out.append(self._foot())
        return "".join(out)

    def render_city(self) -> str:
        return (f"<html><head><meta charset='utf-8'><title>{CITY}人民政府门户网站</title></head><body>"
                f"<h1>{CITY}人民政府门户网站</h1><a href='{self.prefix}'>{self.name}</a></body></html>")


def _spread(docs: list[Doc], *wanted: int) -> list[Doc]:
    """The documents at the wanted (increasing) positions, moved towards the end as far as a short column needs to
    keep them distinct and inside it (a column of 4: positions 1, 2, 3 for 5, 8, 15)."""
    n, k = len(docs), len(wanted)
    return [docs[min(i, n - (k - j))] for j, i in enumerate(wanted)]


def file_of(path: str) -> str:
    """The file nginx serves for a path: a folder's ``index.html``."""
    return path + "index.html" if path.endswith("/") else path


_NOT_FOUND = (b"<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center>"
              b"<hr><center>nginx</center></body></html>")


def province_answer(path: str) -> tuple[int, dict[str, str], bytes, int | None]:
    """The provincial platform host (external links)."""
    html = {"Content-Type": "text/html; charset=utf-8"}
    path = path.split("?", 1)[0]
    if path == "/":
        return 200, html, "<html><head><title>广东省人民政府</title></head><body><h1>广东省人民政府门户网站</h1></body></html>".encode(), None
    if path == "/hdjl/index.html":
        return 200, html, ("<html><head><title>互动交流 - 12345政务服务便民热线</title></head><body>"
                           "<h1>我要写信</h1><form method='post' action='/hdjl/submit'><textarea name='c'></textarea>"
                           "</form></body></html>").encode(), None
    if path == "/redirect/zsxq":
        return 301, {"Location": "/", "Content-Type": "text/html"}, b"", None
    return 404, html, _NOT_FOUND, None


# ---- serving -----------------------------------------------------------------------------------------------------

# the servers' own counts, per host (city 0, province 1), in memory shared with the serving child process
REQUESTS, NOT_MODIFIED, BODY_BYTES, HEADER_BYTES = range(4)
_COUNTS = ("requests", "not_modified", "body_bytes", "header_bytes")


def _handler(answer, counts, host: int):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        server_version = "nginx"
        sys_version = ""

        def log_message(self, *a):
            pass

        def flush_headers(self):
            n = sum(len(b) for b in getattr(self, "_headers_buffer", ()))
            with counts.get_lock():
                counts[host * 4 + HEADER_BYTES] += n
            super().flush_headers()

        def _serve(self, method: str) -> None:
            # a conditional GET may get 304; a HEAD is answered in full (sitewatch sends no conditional HEAD)
            status, headers, body, head_status = answer(self.path, request=self.headers if method == "GET" else None)
            if method == "HEAD" and head_status:      # a HEAD refused by the application in front: no validators
                status = head_status
                headers = {k: v for k, v in headers.items() if k not in ("ETag", "Last-Modified")}
            with counts.get_lock():
                counts[host * 4 + REQUESTS] += 1
                counts[host * 4 + NOT_MODIFIED] += status == 304
                counts[host * 4 + BODY_BYTES] += 0 if method == "HEAD" or status == 304 else len(body)
            send(self, method, status, headers, body)

        def do_GET(self):
            self._serve("GET")

        def do_HEAD(self):
            self._serve("HEAD")

    return Handler


def _listen() -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


def _refused_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _server(sock: socket.socket, answer, counts, host: int) -> ThreadingHTTPServer:
    srv = ThreadingHTTPServer(sock.getsockname(), _handler(answer, counts, host), bind_and_activate=False)
    srv.socket.close()
    srv.socket = sock
    srv.daemon_threads = True
    return srv


def _province(path: str, request=None):
    return province_answer(path)


def _serve_both(site: TownSite, city: socket.socket, province: socket.socket, counts) -> None:
    a, b = _server(city, site.answer, counts, 0), _server(province, _province, counts, 1)
    threading.Thread(target=b.serve_forever, daemon=True).start()
    a.serve_forever()


class TownServer:
    """Serves the model: the city host and the provincial host, in a child process (fork) so the crawler under
    test does not share an interpreter lock with the server; ``in_process=True`` serves from threads instead.

    The listening sockets belong to this object, so the URLs stay the same while the served site changes:
    ``change(0.05, seed=1)`` edits 5% of the pages (``TownSite.change``) and returns the changed URLs, and
    ``restart()`` serves the model afresh (the planted transient failures fail once more). ``counts()`` is what
    the servers answered: requests, 304s, body and header bytes, per host."""

    def __init__(self, seed: int = 13, in_process: bool = False, *, scale: float = 1.0, conditional: bool = True):
        self._city, self._province = _listen(), _listen()
        self.origin = f"http://127.0.0.1:{self._city.getsockname()[1]}"
        province = f"http://127.0.0.1:{self._province.getsockname()[1]}"
        refused = f"http://127.0.0.1:{_refused_port()}"
        self.site = TownSite(self.origin, province, refused, seed, scale=scale, conditional=conditional)
        self.in_process = in_process
        self._proc = None
        self._servers: list[ThreadingHTTPServer] = []
        self._counts = multiprocessing.get_context("fork").Array("q", 8)

    @property
    def start_url(self) -> str:
        return self.origin + self.site.prefix

    def _answer(self, path: str, flaky: bool = True, request=None):
        return self.site.answer(path, flaky, request)          # the site served now (``change`` may edit it)

    def _start(self) -> None:
        if self.in_process:
            self._servers = [_server(self._city, self._answer, self._counts, 0),
                             _server(self._province, _province, self._counts, 1)]
            for s in self._servers:
                threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        else:
            ctx = multiprocessing.get_context("fork")
            self._proc = ctx.Process(target=_serve_both, args=(self.site, self._city, self._province, self._counts),
                                     daemon=True)
            self._proc.start()

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.join(5)
            self._proc = None
        for s in self._servers:
            s.shutdown()
        self._servers = []

    def restart(self) -> None:
        """Serve the model afresh on the same sockets (the child process holds a copy of it)."""
        self._stop()
        self.site._hits.clear()
        self._start()

    def change(self, changed: float | Collection[str], seed: int = 0) -> list[str]:
        """Edit pages of the site (``TownSite.change``) and serve the changed site; the changed URLs."""
        urls = self.site.change(changed, seed)
        if not self.in_process:
            self.restart()
        return urls

    def counts(self) -> dict[str, dict[str, int]]:
        """What the servers answered since the start or ``reset_counts``, per host (``city``, ``province``)."""
        with self._counts.get_lock():
            values = list(self._counts)
        return {host: dict(zip(_COUNTS, values[i * 4:i * 4 + 4], strict=True))
                for i, host in enumerate(("city", "province"))}

    def reset_counts(self) -> None:
        with self._counts.get_lock():
            for i in range(len(self._counts)):
                self._counts[i] = 0

    def __enter__(self) -> TownServer:
        self._start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop()
        self._city.close()
        self._province.close()


_HREF = re.compile(rb'\shref="([^"]*)"')


def reachable_pages(site: TownSite) -> set[str]:
    """Pages a visitor reaches from the homepage by following the rendered links (and what the JS pagers write),
    computed from the rendered bytes without any sitewatch code: checks ``expected_pages`` of the model."""
    prefix = site.origin + site.prefix
    start = site.origin + site.prefix
    seen, pages, todo = {start}, set(), [start]
    while todo:
        url = todo.pop()
        path = url[len(site.origin):]
        status, headers, body, _ = site.answer(path, flaky=False)
        if status == 301:
            url = urljoin(url, headers["Location"])
            path = url[len(site.origin):]
            status, headers, body, _ = site.answer(path, flaky=False)
        route = site.routes.get(path)
        if status != 200 or not route or route[0] not in ("home", "landing", "list", "doc"):
            continue
        pages.add(url)
        hrefs = [h.decode("ascii") for h in _HREF.findall(body)] + site.js_links(path)
        for h in hrefs:
            if h.startswith(("javascript:", "mailto:", "#")):
                continue
            target = urljoin(url, h).split("#", 1)[0]
            if target.startswith(prefix) and target not in seen:
                seen.add(target)
                todo.append(target)
    return pages
