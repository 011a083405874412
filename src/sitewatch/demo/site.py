"""The demo portal's structure: its addresses, columns, articles, platform sections and what the server serves.

The simulated 镇街 portal (中山市西区办事处) lives under `PREFIX` on a city host. `COLUMNS` are its TRS-style
columns, each with a category from the shipped rule packs' name keywords (dynamic, notice, yearly; "unknown" when
no keyword names it) and a list layout. An `Item` is one dated article of a column. Two platform sections sit beside
the TRS columns: a Guangdong gkmlpt 信息公开目录 under `GKMLPT` (its lists are filled by JavaScript from a JSON API)
and a Hanweb JCMS column (`HANWEB_COL`) whose rows are CDATA records in a <datastore>. `Route` is one response of the
demo server; `Portal` is all of them plus the manifest of expected verdicts.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PREFIX = "/xqbsc/"
SITE_NAME = "中山市西区办事处"
SITE_SHORT = "西区办事处"
SITE_ID_CODE = "4420000059"
DNS_FAIL_URL = "http://oa.xqbsc.invalid/"   # a retired internal host linked from the portal; never resolves
HTML_UTF8 = "text/html; charset=utf-8"


# ---------------------------------------------------------------------------------------------------------
# what the server serves


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
    last_modified: dt.datetime | None = None   # a static file's mtime: the server sends validators, answers 304

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
    changed: list[str] = field(default_factory=list)   # paths changed by `demo.changes.change_pages`, sorted

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


CST = dt.timezone(dt.timedelta(hours=8), "CST")


def build_time(snapshot: dt.date) -> dt.datetime:
    """When the simulated site was last generated: late on its snapshot day (China time), after every article."""
    return dt.datetime(snapshot.year, snapshot.month, snapshot.day, 23, 0, tzinfo=CST)


def ymd(d: dt.date) -> str:
    return d.strftime("%Y-%m-%d")


def cn_date(d: dt.date) -> str:
    return f"{d.year}年{d.month:02d}月{d.day:02d}日"


# ---------------------------------------------------------------------------------------------------------
# columns and articles


@dataclass
class Column:
    """A column (栏目) of the portal: its URL key, name, freshness category and list layout."""

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
    """One article of a column: the date in its URL and the date its list row shows may differ."""

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


def item_time(it: Item) -> dt.datetime | None:
    """When an article was published (its PubDate, China time); None for an undated one."""
    d = it.url_date or it.shown
    if d is None:
        return None
    return dt.datetime(d.year, d.month, d.day, 9 + it.doc_id % 8, it.doc_id % 60, tzinfo=CST)


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
# platform sections and other systems under the prefix

GKMLPT = PREFIX + "gkmlpt/"
GK_SID = "2412"
GK_PAGE_SIZE = 10
# the category tree of window._CONFIG: (id, name, parent id or 0); leaves hold documents
GK_TREE = [(2000, "政务动态", 0), (3000, "文件资料", 0), (3001, "镇街文件", 3000), (3002, "文件解读", 3000),
           (4000, "财政信息", 0), (4001, "部门预算决算", 4000)]
GK_LEAF_CATEGORY = {2000: "dynamic", 3001: "notice", 3002: "notice", 4001: "unknown"}
HANWEB_COL = Column("zwyw", "政务要闻", "dynamic", "hanweb_datastore")
HANWEB_UNIT = 4061
ZXLY = PREFIX + "zxly/"          # 咨询投诉 message board (a separate system: its list page lacks the identity marks)
BSZN = PREFIX + "bszn/"          # 办事指南
