"""The demo portal's page templates: the shared chrome, column lists, pagers, articles, the homepage, site pages.

`Chrome` renders the TRS-style frame every page of the sub-site shares (head with the identity metas, header with
the navigation, breadcrumb, footer with the 网站标识码/ICP/公网安备 marks). `PageWriter` renders the pages of the
site's content into routes and keeps each page's text for the manifest's `found_on` index. Paths in `reserved`
belong to the planted defects (`defects.py`): the writer links to them but never serves them.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Collection
from typing import Any
from urllib.parse import urljoin

from sitewatch.demo.content import SiteContent
from sitewatch.demo.site import (
    BSZN,
    COL,
    COLUMNS,
    DNS_FAIL_URL,
    GKMLPT,
    HANWEB_COL,
    PREFIX,
    SITE_ID_CODE,
    SITE_NAME,
    SITE_SHORT,
    ZXLY,
    Column,
    Item,
    Route,
    cn_date,
    item_time,
    ymd,
)

# ---------------------------------------------------------------------------------------------------------
# the chrome every page shares


class Chrome:
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
            metas += [f'<meta name="ColumnName" content="{column}" />',
                      f'<meta name="ColumnType" content="{column}" />']
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


def link(href: str, text: str, **attrs: str) -> str:
    """An <a> element, its href and text escaped."""
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f'<a href="{html.escape(href, quote=True)}"{extra}>{html.escape(text)}</a>'


def relative_href(from_dir: str, item_path: str) -> str:
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
# attachments and images (bodies with the right magic bytes)

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
RAR = b"Rar!\x1a\x07\x00" + b"\x00" * 64
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")
MIME = {"pdf": "application/pdf", "xls": "application/vnd.ms-excel", "rar": "application/x-rar-compressed",
        "png": "image/png", "jpg": "image/jpeg", "doc": "application/msword"}


def file_route(name: str) -> Route:
    """A file's response: a few bytes of its type and the Content-Type its extension implies."""
    ext = name.rsplit(".", 1)[-1].lower()
    body = {"pdf": PDF, "xls": XLS, "rar": RAR, "png": PNG, "jpg": PNG}.get(ext, b"\x00" * 32)
    return Route(body=body, headers={"Content-Type": MIME.get(ext, "application/octet-stream")})


# ---------------------------------------------------------------------------------------------------------
# the site's pages


class PageWriter:
    """Renders the site's content into routes (path -> response) and keeps every page's text."""

    def __init__(self, content: SiteContent, reserved: Collection[str]) -> None:
        self.content = content
        self.reserved = reserved                # paths the planted defects serve (or leave unserved)
        self.routes: dict[str, Route] = {}
        self.html: dict[str, str] = {}          # path -> rendered text, for found_on scanning
        self.chrome = Chrome(COLUMNS, extra_nav=[(PREFIX + "zwyw/", HANWEB_COL.name),
                                                 (GKMLPT + "index", "信息公开目录")])

    def add_html(self, path: str, text: str, *, encoding: str = "utf-8", charset_in: str = "header",
                 **kw: Any) -> Route:
        ctype = f"text/html; charset={encoding}" if charset_in == "header" else "text/html"
        route = Route(body=text.encode(encoding), headers={"Content-Type": ctype}, **kw)
        self.routes[path] = route
        self.html[path] = text
        return route

    def add_file(self, path: str, **kw: Any) -> Route:
        route = file_route(path)
        for k, v in kw.items():
            setattr(route, k, v)
        self.routes[path] = route
        return route

    # -- column list pages ------------------------------------------------------------------------------
    def column_pages(self) -> None:
        for col in COLUMNS:
            items = self.content.col_items(col.key)
            d = f"{PREFIX}{col.key}/"
            charset_meta = "utf-8" if col.encoding == "utf-8" else (col.encoding if col.charset_in == "meta" else None)
            if col.layout in ("blank_text", "blank_ul"):
                inner = ('<div class="list_con"><p class="no_data">暂无信息</p></div>\n' if col.layout == "blank_text"
                         else '<div class="list_con"><ul class="list">\n</ul></div>\n')
                self.add_html(d + "index.html", self.chrome.page(col.name, col, f"<h2>{col.name}</h2>\n" + inner))
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
                self.add_html(d + name, self.chrome.page(col.name, col, main, charset_meta=charset_meta),
                              encoding=col.encoding, charset_in=col.charset_in)

    def list_html(self, col: Column, chunk: list[Item], d: str) -> str:
        rows = []
        if col.layout in ("ul", "undated"):
            for it in chunk:
                href = relative_href(d, it.path)
                pin = '<em class="zd">[置顶]</em>' if it.pinned else ""
                date = f'<span class="date">{ymd(it.shown)}</span>' if it.shown and col.layout == "ul" else ""
                cls = ' class="top"' if it.pinned else ""
                rows.append(f'<li{cls}>{pin}'
                            f'{link(href, it.title, target="_blank", title=html.escape(it.title))}'
                            f'<em id="rel_{it.doc_id}"></em>{date}</li>')
            return '<div class="list_con"><ul class="list">\n' + "\n".join(rows) + "\n</ul></div>\n"
        if col.layout == "dl":
            for it in chunk:
                pin = '<em class="zd">[置顶]</em>' if it.pinned else ""
                rows.append(f'<dd class="bt">{pin}{link(relative_href(d, it.path), it.title, target="_blank")}</dd>'
                            f'<dd class="rq">\n      {ymd(it.shown) if it.shown else ""}\n    </dd>')
            return '<dl class="xxgk_list">\n<dt>标题</dt><dt>发布日期</dt>\n' + "\n".join(rows) + "\n</dl>\n"
        if col.layout == "table":
            for it in chunk:
                idx = f"007262135/{it.url_date.year if it.url_date else self.content.year}-{it.doc_id:05d}"
                a = link(relative_href(d, it.path), it.title, target="_blank", title=html.escape(it.title))
                rows.append(f'<tr><td class="mc">{a}</td>'
                            f'<td>{idx}</td><td>{SITE_NAME}</td><td>{ymd(it.shown) if it.shown else ""}</td></tr>')
            return ('<table class="zfxxgk_table">\n'
                    '<tr><th>名称</th><th>索引号</th><th>发布机构</th><th>发布日期</th></tr>\n'
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
            items = self.content.col_items(col.key)
            for i, it in enumerate(items):
                if it.path == self.content.special.get("stub"):
                    continue
                prev_it = items[i - 1] if i > 0 else None
                next_it = items[i + 1] if i + 1 < len(items) else None
                self.article(col, it, prev_it, next_it)

    def article(self, col: Column, it: Item, prev_it: Item | None, next_it: Item | None) -> None:
        meta = {"ArticleTitle": it.title, "ContentSource": SITE_SHORT}
        if it.url_date:
            meta["PubDate"] = f"{ymd(it.url_date)} {9 + it.doc_id % 8:02d}:{it.doc_id % 60:02d}"
        info = f'<div class="info">发布日期：{ymd(it.shown)}　' if it.shown else '<div class="info">'
        info += '来源：西区办事处　【字体：<a href="javascript:void(0);">大</a> <a href="javascript:void(0);">中</a> ' \
                '<a href="javascript:void(0);">小</a>】</div>\n'
        xxgk = ""
        if it.docno or col.key in ("czyjs", "ndbg", "xxgkzn"):
            rows = [("索引号", f"007262135/{it.url_date.year if it.url_date else self.content.year}-{it.doc_id:05d}"),
                    ("发布机构", SITE_NAME), ("名称", it.title)]
            if it.docno:
                rows.append(("文号", it.docno))
            if it.url_date:
                rows += [("成文日期", cn_date(it.url_date)), ("发布日期", cn_date(it.shown or it.url_date))]
            xxgk = '<table class="xxgk_meta">' + "".join(f"<tr><th>{k}：</th><td>{html.escape(v)}</td></tr>"
                                                         for k, v in rows) + "</table>\n"
        body = it.body or "<p>详见附件。</p>"
        for text, href in it.extra_links:
            body += f'<p>{link(href, text)}</p>\n'
        atts = ""
        if it.attachments:
            atts = '<div class="fj"><p>附件：</p><ul>' + "".join(
                f'<li>{link(h, t, target="_blank")}</li>' for t, h in it.attachments) + "</ul></div>\n"
        share = ('<div class="share">分享到：<a href="javascript:void(0);" ms-attr-href="share.sina">微博</a> '
                 '<a href="javascript:void(0);" ms-attr-href="share.wechat">微信</a> '
                 '<a href="javascript:window.print();">打印本页</a> '
                 '<a href="javascript:window.close();">关闭窗口</a></div>\n')
        nav = '<div class="prevnext">'
        nav += f'<p>上一篇：{link(prev_it.path, prev_it.title)}</p>' if prev_it else "<p>上一篇：没有了</p>"
        nav += f'<p>下一篇：{link(next_it.path, next_it.title)}</p>' if next_it else "<p>下一篇：没有了</p>"
        nav += "</div>\n"
        main = (f'<div class="article">\n{xxgk}<h1>{html.escape(it.title)}</h1>\n{info}'
                f'<div class="view TRS_Editor">\n{body}</div>\n{atts}{share}{nav}</div>\n')
        charset_meta = "utf-8" if it.encoding == "utf-8" else (it.encoding if it.charset_in == "meta" else None)
        text = self.chrome.page(it.title, col, main, charset_meta=charset_meta, extra_meta=meta, crumb_last="正文")
        route = self.add_html(it.path, text, encoding=it.encoding or "utf-8", charset_in=it.charset_in or "header")
        # the page shows its neighbours' titles, so the CMS wrote it again when a newer neighbour was published
        times = [t for t in (item_time(x) for x in (it, prev_it, next_it) if x is not None) if t is not None]
        route.last_modified = max(times, default=None)
        d = it.path.rsplit("/", 1)[0] + "/"
        for _, href in it.attachments:
            target = urljoin(d, href)
            if target not in self.reserved:
                self.add_file(target, last_modified=item_time(it))

    # -- homepage ---------------------------------------------------------------------------------------
    def home_page(self) -> None:
        def block(key: str, k: int) -> str:
            col = COL[key]
            rows = []
            for it in self.content.col_items(key)[:k]:
                date = f"<span>{ymd(it.shown)}</span>" if it.shown else ""
                rows.append(f'<li>{link(it.path, it.title, target="_blank")}{date}</li>')
            return (f'<div class="block"><div class="bt"><h3>{col.name}</h3>'
                    f'<a href="{PREFIX}{key}/" class="more">更多&gt;&gt;</a></div>\n<ul>\n'
                    + "\n".join(rows) + "\n</ul></div>\n")

        top = self.content.col_items("gzdt")[0]
        sid = hashlib.md5(f"home/{self.content.snapshot}".encode()).hexdigest()[:16].upper()
        main = (
            '<div class="banner">'
            f'<img src="{PREFIX}images/banner_2026.jpg" alt="西区风光" />'
            '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="" /></div>\n'
            f'<div class="tpxw">{link(top.path, top.title)}</div>\n'
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
            f'<li><a href="{PREFIX}calendar?month={self.content.snapshot:%Y-%m}">活动日历</a></li>'
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
        self.add_html(PREFIX + "index.html", self.chrome.page(SITE_NAME, None, main))

    # -- other pages ------------------------------------------------------------------------------------
    def site_pages(self) -> None:
        """联系我们, 网站地图, and the images and stylesheet of the chrome."""
        chrome = self.chrome
        # 联系我们
        self.add_html(PREFIX + "lxwm.html", chrome.page("联系我们", None, (
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
        self.add_html(PREFIX + "wzdt.html", chrome.page("网站地图", None, (
            f'<h2>网站地图</h2>\n<ul class="map">{cols}</ul>\n'
            f'<p><a href="{PREFIX}xxgk.html">政府信息公开</a> <a href="{PREFIX}old/zwgk.html">政务公开（旧版）</a> '
            '<a href="a/">专题汇编</a> <a href="search/?page=1">站内搜索</a> '
            '<a href="{ext}/gone.html">中山市西区文化站</a> '
            f'<a href="{DNS_FAIL_URL}">内部办公系统</a></p>\n')))
        self.add_file(PREFIX + "images/logo.png")
        self.add_file(PREFIX + "images/red.png")
        self.routes[PREFIX + "images/style.css"] = Route(body=b"body{font-size:14px}\n",
                                                         headers={"Content-Type": "text/css"})
