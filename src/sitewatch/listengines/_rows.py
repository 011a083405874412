"""Shared HTML helpers of the list engines: parsing, dated link rows, column metadata, pagers."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree

from sitewatch.dates import date_from_url, is_date_text, parse_date
from sitewatch.extract import html_parser, text_of, xml_safe
from sitewatch.memo import memo
from sitewatch.models import ListItem
from sitewatch.urls import is_attachment, join

HtmlElement = lxml.html.HtmlElement

ROW_TAGS = frozenset({"li", "tr", "dl", "dd", "p"})
CONTAINER_TAGS = frozenset({"ul", "ol", "table", "tbody", "thead", "body", "html", "form", "nav"})
MAX_ROW_DEPTH = 4
EMPTY_MARKERS = re.compile(r"暂无(?:相关)?(?:信息|数据|内容|记录|文章)|没有(?:相关)?记录|没有找到相关")

_WS = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")
_ANY_YEAR_URL = "/2000/"
_ELLIPSIS = ("…", "...", "..", "……")
_LABEL = re.compile(r"^\s*(?:发布|更新|公开|成文)?(?:日期|时间)\s*[:：]\s*")
_TRAILING_DATE = re.compile(
    r"[\s\[(（【]*((?:\d{4}\s*(?:[-/.]|年)\s*)?\d{1,2}\s*(?:[-/.]|月)\s*\d{1,2}\s*日?"
    r"(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?)[\s\])）】]*$"
)
_DROPPED_TAGS = frozenset({"script", "style", "noscript", "template", "textarea"})
_TEMPLATE_ATTRS = ("ms-repeat", "ms-each", "ms-for", "v-for", "x-for", "ng-repeat")   # attribute name prefixes
_PINNED_CLASS = re.compile(r"(?:^|[\s_-])(?:zd|zhiding|istop|is-top|settop|top-item|ding)(?:$|[\s_-])", re.I)
_PINNED_IMG = re.compile(r"zhiding|置顶|(?:^|[/_.-])(?:top|zd|ding)\d*\.(?:gif|png|jpe?g)", re.I)
_ARTICLE_URL = re.compile(
    r"(?:/t\d{8}_\d+(?:_\d+)?\.s?html?|/m?post_\d+\.html|/art_\d+_\d+\.html|/content_\d+\.s?html?"
    r"|/\d{6}/[0-9a-f]{32}\.s?html?)(?:$|[?#])",
    re.I,
)
_PAGE_PARAMS = frozenset({"page", "pagenum", "pageno", "pageindex", "cur_page", "currentpage", "curpage",
                          "p", "pn", "startrecord", "endrecord", "start"})
_INDEX_PAGE = re.compile(r"^index(?:_(\d+))?\.(s?html?|jsp|php|aspx?)$", re.I)
_PAGER_WORDS = frozenset({"下一页", "下页", "尾页", "末页", "最后一页", "上一页", "上页", "首页", "第一页",
                          ">", ">>", "»"})


_TEXT_PARSER = html_parser(encoding="utf-8", remove_comments=True, collect_ids=False)
_BYTES_PARSER = html_parser(remove_comments=True, collect_ids=False)


def parse_html(html: str | bytes) -> HtmlElement | None:
    """Parse a whole page with lxml; None for an empty document."""
    data = html.encode("utf-8", "surrogatepass") if isinstance(html, str) else html
    if not data.strip():
        return None
    parser = _TEXT_PARSER if isinstance(html, str) else _BYTES_PARSER
    try:
        return lxml.html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError):
        return None


def copy_without_comments(doc: HtmlElement) -> HtmlElement:
    """A private copy of a tree parsed with comments, as ``parse_html`` gives it: comments dropped, their
    surrounding text joined."""
    root = copy.deepcopy(doc)
    for comment in list(root.iter(etree.Comment)):
        comment.drop_tree()
    return root


def clean_text(text: str | None) -> str:
    """Whitespace-collapsed text (nbsp and ideographic spaces included)."""
    return _WS.sub(" ", text or "").strip()


def base_url(root: HtmlElement, page_url: str) -> str:
    """The URL relative links resolve against (honours ``<base href>``)."""
    for base in root.iter("base"):
        href = (base.get("href") or "").strip()
        if href:
            try:
                return urljoin(page_url, href)
            except ValueError:          # a malformed base (e.g. an unclosed IPv6 bracket): links resolve as if none
                return page_url
    return page_url


def drop_templates(root: HtmlElement) -> None:
    """Remove script/style and client-side template subtrees (avalon ``ms-repeat``, ``v-for`` …)."""
    doomed = []
    for el in root.iter(etree.Element):
        if el.tag in _DROPPED_TAGS:
            doomed.append(el)
            continue
        for name in el.keys():
            if name.startswith(_TEMPLATE_ATTRS):
                doomed.append(el)
                break
    for el in doomed:
        parent = el.getparent()
        if parent is None:
            continue
        try:
            el.drop_tree()
        except ValueError:      # a control character in the texts drop_tree joins: join them cleaned
            prev = el.getprevious()
            if prev is not None:
                prev.tail = xml_safe(prev.tail)
            else:
                parent.text = xml_safe(parent.text)
            el.tail = xml_safe(el.tail)
            el.drop_tree()


def real_href(a: HtmlElement) -> str | None:
    """The link target, or None for javascript:, anchors, mail, template placeholders and malformed URLs
    (an editor's typo such as ``http://[bad`` must not lose the rest of the list)."""
    href = (a.get("href") or "").strip()
    if not href or href.startswith("#") or "{{" in href or "${" in href:
        return None
    lowered = href.lower()
    if lowered.startswith(("javascript:", "mailto:", "tel:", "data:", "about:")):
        return None
    return href if _well_formed(href) else None


@memo()
def _well_formed(href: str) -> bool:
    try:
        urlsplit(href)
    except ValueError:
        return False
    return True


@memo()
def looks_like_article_url(url: str) -> bool:
    """True for URLs shaped like a single document (TRS ``t2026…_N``, NFCMS ``post_N``, Hanweb ``art_``)."""
    return _ARTICLE_URL.search(url) is not None


def meta_content(root: HtmlElement, name: str) -> str | None:
    """Content of ``<meta name=…>`` (case-insensitive name), stripped, or None."""
    wanted = name.lower()
    for meta in root.iter("meta"):
        if (meta.get("name") or "").strip().lower() == wanted:
            content = clean_text(meta.get("content"))
            if content:
                return content
    return None


def _date_chunk(text: str | None, item_url: str | None) -> dt.date | None:
    """The date a short text node shows on its own (optionally labelled 发布日期：), else None."""
    if not text or len(text) > 200:
        return None
    return _date_chunk_cached(text, item_url)


@memo()
def _date_chunk_cached(text: str, item_url: str | None) -> dt.date | None:
    chunk = text.strip()
    if not chunk or len(chunk) > 40 or not _DIGIT.search(chunk):
        return None
    chunk = _LABEL.sub("", chunk)
    if not is_date_text(chunk):
        return None
    return parse_date(chunk, url=item_url)


def _link_title(a: HtmlElement, item_url: str) -> tuple[str, dt.date | None]:
    """Title of a link and a date shown inside it (``<font class="cont_tit02">``), if any."""
    pieces: list[str] = []
    inner_date: dt.date | None = None
    for el in a.iter(etree.Element):
        texts = [el.text] if el is a else [el.text, el.tail]
        for text in texts:
            if not text:
                continue
            found = _date_chunk(text, item_url) if inner_date is None else None
            if found is not None:
                inner_date = found
            else:
                pieces.append(text)
    text = clean_text("".join(pieces))
    if inner_date is None:
        m = _TRAILING_DATE.search(text)
        if m and m.start() > 0:
            found = parse_date(m.group(1), url=item_url)
            if found is not None:
                inner_date = found
                text = text[: m.start()].strip()
    attr_title = clean_text(a.get("title"))
    if attr_title and "{{" not in attr_title:
        stem = text.rstrip("…. ")
        if not text or text.endswith(_ELLIPSIS) or (len(attr_title) > len(text) and attr_title.startswith(stem)):
            text = attr_title
    return text, inner_date


def _is_pinned(row: HtmlElement, title: str) -> bool:
    if "置顶" in title[:6]:
        return True
    for el in row.iter(etree.Element):
        cls = el.get("class")
        if cls and _PINNED_CLASS.search(cls):
            return True
        if el.tag == "img":
            marker = " ".join(filter(None, (el.get("src"), el.get("alt"), el.get("title"))))
            if _PINNED_IMG.search(marker):
                return True
        elif el.text and "置顶" in el.text and len(el.text.strip()) <= 6:
            return True
    return False


def _strip_pinned_prefix(title: str) -> str:
    return re.sub(r"^[\[【(（]?置顶[\]】)）]?\s*", "", title)


def extract_rows(scope: HtmlElement, base: str) -> list[ListItem]:
    """Every dated link row under ``scope``, in document order, one item per row.

    A row is the nearest ancestor (at most ``MAX_ROW_DEPTH`` levels up) of a link that shows a
    date as a text chunk of its own (``<span>2026-11-18</span>``, a ``<dd>``/``<td>`` cell) or
    inside the link. It must hold one content link, or be a ``li/tr/dl/dd/p`` with at most
    three content links and two dates; list containers (``ul``, ``table`` …) are never rows.
    Links without a date nearby (menus, breadcrumbs, pagers) are not items.
    """
    dates, links, anchors = _count_dates_and_links(scope)

    rows: dict[HtmlElement, list[tuple[HtmlElement, str]]] = {}
    order: list[HtmlElement] = []
    for a, href in anchors:
        url = join(base, href)
        row = _row_of(a, dates, links, url)
        if row is None:
            continue
        if row not in rows:
            rows[row] = []
            order.append(row)
        rows[row].append((a, url))

    items: list[ListItem] = []
    seen: set[str] = set()
    for row in order:
        item = _item_from_row(row, rows[row])
        if item is not None and item.url not in seen:
            seen.add(item.url)
            items.append(item)
    return items


def _count_dates_and_links(scope: HtmlElement
                           ) -> tuple[dict[HtmlElement, int], dict[HtmlElement, int], list[tuple[HtmlElement, str]]]:
    """Per element (zero counts left out): the date text chunks in its subtree, each its own text node
    (month-day dates count too, a dummy URL supplying the year), and the content links in it; plus the
    anchors with a real href, in document order."""
    dates: dict[HtmlElement, int] = {}
    links: dict[HtmlElement, int] = {}
    anchors: list[tuple[HtmlElement, str]] = []
    for el in reversed(list(scope.iter(etree.Element))):
        n_dates = 1 if _date_chunk(el.text, _ANY_YEAR_URL) is not None else 0
        n_links = 0
        for child in el:
            tail = child.tail
            if tail and _date_chunk(tail, _ANY_YEAR_URL) is not None:
                n_dates += 1
            if isinstance(child.tag, str):
                n_dates += dates.get(child, 0)
                n_links += links.get(child, 0)
        if el.tag == "a":
            href = real_href(el)
            if href is not None:
                anchors.append((el, href))
                if not is_attachment(href) and (el.get("title") or text_of(el).strip()):
                    n_links += 1
        if n_dates:
            dates[el] = n_dates
        if n_links:
            links[el] = n_links
    anchors.reverse()
    return dates, links, anchors


def _row_of(a: HtmlElement, dates: dict[HtmlElement, int], links: dict[HtmlElement, int], url: str
            ) -> HtmlElement | None:
    if dates.get(a, 0):
        inner = _link_title(a, url)[1]
    else:
        m = _TRAILING_DATE.search(clean_text(text_of(a)))
        inner = parse_date(m.group(1), url=url) if m and m.start() > 0 else None
    if inner is not None:
        parent = a.getparent()
        return parent if parent is not None and parent.tag not in CONTAINER_TAGS else a
    el = a.getparent()
    depth = 0
    while el is not None and depth < MAX_ROW_DEPTH:
        if el.tag in CONTAINER_TAGS:
            return None
        if el.tag == "dd" and not dates.get(el, 0) and _sibling_date_cell(el, dates, links) is not None:
            return el
        n_dates = dates.get(el, 0)
        if n_dates:
            n_links = links.get(el, 0)
            if n_links <= 1 or (el.tag in ROW_TAGS and n_links <= 3 and n_dates <= 2) or el.tag == "tr":
                return el
            return None
        el = el.getparent()
        depth += 1
    return None


def _sibling_date_cell(cell: HtmlElement, dates: dict[HtmlElement, int] | None = None,
                       links: dict[HtmlElement, int] | None = None) -> HtmlElement | None:
    """The ``<dd>`` right after a title ``<dd>`` that holds only its date (``<dd>标题</dd><dd>2026-03-10</dd>``)."""
    nxt = cell.getnext()
    if nxt is None or nxt.tag != "dd":
        return None
    if dates is not None and links is not None:
        return nxt if dates.get(nxt, 0) and not links.get(nxt, 0) and not nxt.findall(".//a") else None
    return nxt if not nxt.findall(".//a") and _date_chunk(clean_text(nxt.text_content()), None) else None


def _item_from_row(row: HtmlElement, row_links: list[tuple[HtmlElement, str]]) -> ListItem | None:
    attachments: list[tuple[str, str]] = []
    candidates: list[tuple[HtmlElement, str, str, dt.date | None]] = []
    for a, url in row_links:
        title, inner_date = _link_title(a, url)
        if is_attachment(url):
            attachments.append((title or url.rsplit("/", 1)[-1], url))
        candidates.append((a, url, title, inner_date))
    content = [c for c in candidates if c[2] and not is_attachment(c[1])] or [c for c in candidates if c[2]]
    if not content:
        return None
    a, url, title, inner_date = max(content, key=lambda c: len(c[2]))
    in_link = set(a.iter(etree.Element))
    shown: list[dt.date] = [inner_date] if inner_date is not None else []
    for el in row.iter(etree.Element):
        texts = [] if el in in_link else [el.text]
        if el is not row and (el is a or el not in in_link):
            texts.append(el.tail)
        for text in texts:
            found = _date_chunk(text, url)
            if found is not None:
                shown.append(found)
    if not shown and row.tag == "dd":
        cell = _sibling_date_cell(row)
        found = _date_chunk(clean_text(cell.text_content()), url) if cell is not None else None
        if found is not None:
            shown.append(found)
    date: dt.date | None
    date_source: str | None
    if shown:
        date, date_source = max(shown), "list"
    else:
        date = date_from_url(url)
        date_source = "url" if date else None
    pinned = _is_pinned(row, title)
    if pinned:
        title = _strip_pinned_prefix(title)
    return ListItem(title=title, url=url, date=date, date_source=date_source, pinned=pinned,
                    attachments=attachments)


def column_key(url: str) -> str:
    """The column's directory URL (``…/tzgg/`` for ``…/tzgg/index_3.html``); page params dropped.

    A script list (``list.jsp?cat_id=15971&cur_page=2``) keeps its path and non-page parameters.
    """
    parts = urlsplit(url)
    path = parts.path or "/"
    last = path.rsplit("/", 1)[-1]
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if k.lower() not in _PAGE_PARAMS)
    if path.endswith("/") or _INDEX_PAGE.match(last):
        path = path[: path.rfind("/") + 1]
    elif "." in last:
        if not query:
            path = path[: path.rfind("/") + 1]
    else:
        path += "/"
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))


def column_name(root: HtmlElement) -> str | None:
    """``<meta name="ColumnName">``, else the breadcrumb's last element, else the ``<title>``'s first part."""
    name = meta_content(root, "ColumnName")
    if name:
        return name
    crumb = breadcrumb_last(root)
    if crumb:
        return crumb
    for title in root.iter("title"):
        text = clean_text(title.text_content())
        if text:
            return re.split(r"\s*[_|｜—–-]\s*", text, maxsplit=1)[0] or text
    return None


_CRUMB_HINT = re.compile(r"breadcrumb|crumb|position|location|dqwz|curpos|weizhi|nav_path|navpath", re.I)
_CRUMB_SPLIT = re.compile(r"\s*(?:>>|->|>|»|＞|›|/|→)\s*")


def breadcrumb_last(root: HtmlElement) -> str | None:
    """Last element of the 当前位置 breadcrumb."""
    for el in root.iter(etree.Element):
        cls = (el.get("class") or "") + " " + (el.get("id") or "")
        own = el.text or ""
        if not (_CRUMB_HINT.search(cls) or "当前位置" in own or "您的位置" in own):
            continue
        link_texts = [clean_text(a.text_content()) for a in el.iter("a")]
        link_texts = [t for t in link_texts if t]
        text = clean_text(el.text_content())
        text = re.sub(r"^.*?(?:当前位置|您的位置|你的位置|您现在的位置)\s*[:：]?", "", text)
        tail = [p for p in _CRUMB_SPLIT.split(text) if p]
        if tail and link_texts and tail[-1] != link_texts[-1] and len(tail[-1]) <= 30:
            return tail[-1]
        if link_texts:
            return link_texts[-1]
        if tail:
            return tail[-1]
    return None


def has_empty_marker(root: HtmlElement) -> bool:
    """True when visible text says 暂无信息/暂无数据/暂无内容/没有记录 (client-side templates ignored)."""
    for el in root.iter(etree.Element):
        for text in (el.text, el.tail):
            if text and EMPTY_MARKERS.search(text):
                holder = el if text is el.text else el.getparent()
                if holder is not None and not _hidden_or_template(holder):
                    return True
    return False


def _hidden_or_template(el: HtmlElement) -> bool:
    node: HtmlElement | None = el
    while node is not None:
        for name, value in node.attrib.items():
            if name.startswith(("ms-if", "v-if", "v-show", "ms-visible", "x-show", "ng-if")):
                return True
            if name == "style" and re.search(r"display\s*:\s*none", value, re.I):
                return True
        node = node.getparent()
    return False


def visible_page_urls(root: HtmlElement, base: str, page_url: str) -> list[str]:
    """Other pages of the same column from visible pager links (index_N, 下一页, 尾页, numbers).

    When links show ``index_K.*``, the whole static range ``index.*`` … ``index_{max K}.*`` is
    returned, because pagers only show a window of numbers around the current page.
    """
    key = column_key(page_url)
    found: list[str] = []
    max_index = -1
    suffix = None
    for a in root.iter("a"):
        href = real_href(a)
        if href is None:
            continue
        text = clean_text(text_of(a))
        if not (text in _PAGER_WORDS or text.isdigit() or "index" in href):
            continue
        url = join(base, href).split("#", 1)[0]
        last = urlsplit(url).path.rsplit("/", 1)[-1]
        m = _INDEX_PAGE.match(last)
        same_column = column_key(url) == key
        if not same_column:
            continue
        if m and (m.group(1) or text in _PAGER_WORDS or text.isdigit()):
            if m.group(1):
                max_index = max(max_index, int(m.group(1)))
                suffix = m.group(2)
            found.append(url)
        elif (text in _PAGER_WORDS or text.isdigit()) and (m or urlsplit(url).query):
            found.append(url)
    if max_index > 0 and suffix:
        found = static_page_range(key.split("?", 1)[0], max_index + 1, suffix) + found
    return other_pages(found, page_url)


def static_page_range(directory: str, count: int, suffix: str = "html", prefix: str = "index") -> list[str]:
    """TRS static pages of a column: ``index.html``, ``index_1.html`` … ``index_{count-1}.html``."""
    pages = [f"{directory}{prefix}.{suffix}"]
    pages.extend(f"{directory}{prefix}_{i}.{suffix}" for i in range(1, count))
    return pages


def other_pages(urls: Iterable[str], page_url: str) -> list[str]:
    """Deduplicated URLs in order, without the current page (``dir/`` == ``dir/index.*``)."""
    current = _page_identity(page_url)
    out: list[str] = []
    seen = {current}
    for url in urls:
        ident = _page_identity(url)
        if ident in seen:
            continue
        seen.add(ident)
        out.append(url)
    return out


@memo()
def _page_identity(url: str) -> str:
    parts = urlsplit(url.split("#", 1)[0])
    path = parts.path or "/"
    last = path.rsplit("/", 1)[-1]
    m = _INDEX_PAGE.match(last)
    if m and not m.group(1):
        path = path[: path.rfind("/") + 1]
    return urlunsplit(("", parts.netloc.lower(), path, parts.query, ""))
