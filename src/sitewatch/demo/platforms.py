"""The demo portal's platform sections: a Guangdong gkmlpt 信息公开目录 and a Hanweb JCMS datastore column.

The gkmlpt catalogue lives under `GKMLPT`: an index page whose lists are filled by JavaScript from
`/gkmlpt/api/all/<catId>?page=N&sid=<SID>` (the static HTML holds no list item), the JSON API pages, the article
pages at `content/3/<n>/post_<id>.html` and the 公开指南. The Hanweb column (政务要闻) carries its rows as CDATA
records inside a `<script type="text/xml"><datastore>`.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import parse_qsl, urljoin

from sitewatch.demo.content import SiteContent
from sitewatch.demo.pages import PageWriter
from sitewatch.demo.site import (
    GK_LEAF_CATEGORY,
    GK_PAGE_SIZE,
    GK_SID,
    GK_TREE,
    GKMLPT,
    HANWEB_COL,
    HANWEB_UNIT,
    PREFIX,
    SITE_NAME,
    Column,
    Route,
    ymd,
)

CHINA_TZ = dt.timezone(dt.timedelta(hours=8))


def _epoch(d: dt.date, hour: int = 10) -> int:
    return int(dt.datetime(d.year, d.month, d.day, hour, 0, tzinfo=CHINA_TZ).timestamp())


# ---------------------------------------------------------------------------------------------------------
# gkmlpt 政府信息公开目录
def gk_api_path(cat: int) -> str:
    """Path of a category's JSON list, without the query."""
    return f"{GKMLPT}api/all/{cat}"


def gk_api_body(content: SiteContent, cat: int, page: int) -> bytes:
    """One page of a category's JSON list, newest first."""
    items = content.gk_visible(cat)
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
            art["display_publish_time"] = f"{ymd(d)} {9 + it.doc_id % 8:02d}:30:00"
        arts.append(art)
    name = dict((c, n) for c, n, _ in GK_TREE)[cat]
    parent = dict((c, p) for c, _, p in GK_TREE)[cat]
    doc = {"articles": arts, "classify": {"id": cat, "name": name, "parent": parent, "post_count": len(items)},
           "page": page, "page_size": GK_PAGE_SIZE, "total": len(items), "sid": GK_SID}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def gk_pages(content: SiteContent, cat: int) -> int:
    """Number of API pages of a category (at least one)."""
    return max(1, -(-len(content.gk_visible(cat)) // GK_PAGE_SIZE))


def gkmlpt_pages(pages: PageWriter) -> None:
    """Index (lists filled by JavaScript only), JSON API pages, article pages, the guide, a script."""
    content = pages.content

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
    pages.add_html(GKMLPT + "index", pages.chrome.page("政府信息公开目录", None, main))
    pages.routes[GKMLPT + "static/js/gkmlpt.js"] = Route(
        body=b"/* gkmlpt list: GET api/all/<catId>?page=N&sid=SID, render articles */\n",
        headers={"Content-Type": "application/javascript"})
    for cat in GK_LEAF_CATEGORY:
        for page in range(1, gk_pages(content, cat) + 1):
            pages.routes[f"{gk_api_path(cat)}?page={page}&sid={GK_SID}"] = Route(
                body=gk_api_body(content, cat, page), headers={"Content-Type": "application/json; charset=utf-8"})
        col = Column(f"gk{cat}", dict((c, n) for c, n, _ in GK_TREE)[cat], GK_LEAF_CATEGORY[cat], "gkmlpt_api",
                     href=GKMLPT + "index")
        items = content.gk_visible(cat)
        for i, it in enumerate(items):
            pages.article(col, it, items[i - 1] if i else None, items[i + 1] if i + 1 < len(items) else None)
    y = content.year
    pages.add_html(GKMLPT + "guide", pages.chrome.page("政府信息公开指南", None, (
        f"<h2>中山市西区办事处政府信息公开指南</h2>\n<p>更新日期：{y}年01月15日</p>\n"
        "<p>为了更好地提供政府信息公开服务，根据《中华人民共和国政府信息公开条例》，编制本指南。</p>\n"
        "<p>一、主动公开：公开的范围、方式和时限</p><p>二、依申请公开：受理机构、申请方式和处理程序</p>\n"
        "<p>三、监督和救济</p>\n"
        f'<p><a href="index">返回政府信息公开目录</a></p>\n'), crumb_last="政府信息公开指南"))


def gk_api_route(content: SiteContent) -> Callable[[str, str], Route | None]:
    """The generated API route: any parameter order; unknown category, page beyond the last or wrong sid answer
    JSON errors."""
    def gk_route(path: str, query: str) -> Route | None:
        m = re.fullmatch(re.escape(GKMLPT) + r"api/all/(\d+)", path)
        if not m:
            return None
        params = dict(parse_qsl(query))
        cat = int(m.group(1))
        json_type = {"Content-Type": "application/json; charset=utf-8"}
        if cat not in GK_LEAF_CATEGORY or params.get("sid") != GK_SID:
            return Route(status=404, body=b'{"code": 404, "msg": "not found"}', headers=json_type)
        page = int(params["page"]) if params.get("page", "1").isdigit() else 1
        return Route(body=gk_api_body(content, cat, max(page, 1)), headers=json_type)

    return gk_route


# ---------------------------------------------------------------------------------------------------------
# Hanweb JCMS datastore column


def hanweb_pages(pages: PageWriter) -> None:
    """The column's list page (rows only inside the datastore) and its article pages."""
    items = pages.content.hanweb_visible()
    records = "".join(
        f'<record><![CDATA[\n<li><a href="{it.path}" target="_blank" title="{html.escape(it.title)}">'
        f'{html.escape(it.title)}</a><span>{ymd(cast(dt.date, it.shown))}</span></li>\n]]></record>\n' for it in items)
    main = (f'<h2 class="col_title">{HANWEB_COL.name}</h2>\n<div class="list_con"><ul class="list">'
            f'<div id="{HANWEB_UNIT}"><script type="text/xml"><datastore>\n<nextgroup><![CDATA[]]></nextgroup>\n'
            f'<recordset>\n{records}</recordset>\n</datastore></script></div>\n</ul></div>\n'
            '<script type="text/javascript">\n'
            f"var jpageConf = {{unitid: {HANWEB_UNIT}, perpage: 15, totalRecord: {len(items)}}};\n</script>\n")
    pages.add_html(PREFIX + "zwyw/index.html", pages.chrome.page(HANWEB_COL.name, HANWEB_COL, main))
    for i, it in enumerate(items):
        pages.article(HANWEB_COL, it, items[i - 1] if i else None, items[i + 1] if i + 1 < len(items) else None)
