"""Guangdong 政府信息公开目录 (gkmlpt): a JavaScript-only catalogue fed by a JSON API.

The crawler fetches; this module only reads. ``discover`` finds the site id (SID) and the
category tree in the ``/gkmlpt/index`` page, ``api_url`` builds
``<site prefix>/gkmlpt/api/all/<catId>?page=N&sid=<SID>``, and ``parse_api`` turns one API
response into a Listing.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

from sitewatch.dates import parse_date
from sitewatch.listengines._rows import HtmlElement
from sitewatch.models import Listing, ListItem

CHINA_TZ = dt.timezone(dt.timedelta(hours=8))

_SID = re.compile(r"""\bSID\s*[:=]\s*['"]?(\d+)""")
_CONFIG_START = re.compile(r"window\s*\.\s*_CONFIG\s*=\s*")
_TREE_START = re.compile(r"""['"]?TREE['"]?\s*:\s*""")
_UNQUOTED_KEY = re.compile(r"""([{,]\s*)([A-Za-z_$][\w$]*)\s*:""")
_SINGLE_QUOTED = re.compile(r"""'((?:[^'\\]|\\.)*)'""")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_DATE_FIELDS = ("display_publish_time", "date", "publish_time", "first_publish_time", "created_at")


@dataclass(slots=True)
class GkmlptCategory:
    """One node of the catalogue tree."""

    id: int | str
    name: str
    parent: int | str | None = None
    children: list[int | str] = field(default_factory=list)


@dataclass(slots=True)
class GkmlptSite:
    """A gkmlpt catalogue: where it lives, its SID and its categories by id."""

    prefix: str
    sid: str
    categories: dict[int | str, GkmlptCategory] = field(default_factory=dict)

    @property
    def leaves(self) -> list[GkmlptCategory]:
        """Categories without children: the ones whose API lists hold documents."""
        return [c for c in self.categories.values() if not c.children]


class GkmlptEngine:
    """Recognises gkmlpt pages; their lists come from the API, so ``parse`` gives None."""

    name = "gkmlpt"

    def detect(self, url: str, html: str) -> bool:
        return "/gkmlpt/" in url or ("_CONFIG" in html and "gkmlpt" in html)

    def parse(self, url: str, html: str, doc: HtmlElement | None = None) -> Listing | None:
        return None


def site_prefix(index_url: str) -> str:
    """``https://www.zs.gov.cn/zsgkz`` for ``https://www.zs.gov.cn/zsgkz/gkmlpt/index#123``."""
    url = index_url.split("#", 1)[0]
    cut = url.find("/gkmlpt")
    if cut >= 0:
        return url[:cut]
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def discover(index_url: str, html: str) -> GkmlptSite | None:
    """SID and category tree of a gkmlpt index page; None when the page is not one."""
    config = _js_object_after(html, _CONFIG_START)
    sid = None
    if isinstance(config, dict):
        for key in ("SID", "sid", "SITE_ID", "siteId"):
            if config.get(key) not in (None, ""):
                sid = str(config[key])
                break
    if sid is None:
        m = _SID.search(html)
        sid = m.group(1) if m else None
    if sid is None:
        return None
    tree: Any = None
    if isinstance(config, dict):
        tree = config.get("TREE") or config.get("tree") or config.get("CATEGORIES")
    if tree is None:
        tree = _js_object_after(html, _TREE_START)
    site = GkmlptSite(prefix=site_prefix(index_url), sid=sid)
    _add_nodes(site.categories, tree, None)
    return site


def _add_nodes(out: dict[int | str, GkmlptCategory], nodes: Any, parent: int | str | None) -> None:
    if isinstance(nodes, dict):
        nodes = nodes.get("children") or nodes.get("list") or list(nodes.values())
    if not isinstance(nodes, list):
        return
    for node in nodes:
        if not isinstance(node, dict) or node.get("id") is None:
            continue
        cat_id = node["id"]
        node_parent = node.get("parent", node.get("parent_id", parent))
        if node_parent in (0, "0", "", None):
            node_parent = parent
        category = out.get(cat_id) or GkmlptCategory(id=cat_id, name=str(node.get("name") or node.get("title") or ""))
        category.parent = node_parent
        out[cat_id] = category
        children = node.get("children") or []
        for child in children:
            child_id = child.get("id") if isinstance(child, dict) else child
            if child_id is not None and child_id not in category.children:
                category.children.append(child_id)
        _add_nodes(out, [c for c in children if isinstance(c, dict)], cat_id)
    for category in list(out.values()):
        if category.parent is not None and category.parent in out:
            siblings = out[category.parent].children
            if category.id not in siblings:
                siblings.append(category.id)


def _js_object_after(html: str, start: re.Pattern[str]) -> Any:
    m = start.search(html)
    if not m:
        return None
    text = _balanced(html, m.end())
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    relaxed = _SINGLE_QUOTED.sub(lambda q: json.dumps(q.group(1).replace("\\'", "'")), text)
    relaxed = _UNQUOTED_KEY.sub(r'\1"\2":', relaxed)
    relaxed = _TRAILING_COMMA.sub(r"\1", relaxed)
    try:
        return json.loads(relaxed)
    except ValueError:
        return None


def _balanced(text: str, pos: int) -> str | None:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text) or text[pos] not in "{[":
        return None
    depth = 0
    quote: str | None = None
    i = pos
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return text[pos: i + 1]
        i += 1
    return None


def api_url(index_url: str, cat_id: int | str, page: int, sid: str | int) -> str:
    """``<site prefix>/gkmlpt/api/all/<catId>?page=N&sid=<SID>``."""
    return f"{site_prefix(index_url)}/gkmlpt/api/all/{cat_id}?page={page}&sid={sid}"


def api_date(value: Any) -> dt.date | None:
    """A gkmlpt date: epoch seconds (or milliseconds), in China time, or a date string."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value
        if seconds <= 0:
            return None
        return dt.datetime.fromtimestamp(seconds, CHINA_TZ).date()
    return parse_date(str(value))


def _attachments(raw: Any, base: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for entry in raw or []:
        if isinstance(entry, str):
            out.append((entry.rsplit("/", 1)[-1], urljoin(base, entry)))
        elif isinstance(entry, dict):
            link = entry.get("url") or entry.get("link") or entry.get("path") or entry.get("file")
            if link:
                name = entry.get("name") or entry.get("title") or str(link).rsplit("/", 1)[-1]
                out.append((str(name), urljoin(base, str(link))))
    return out


def parse_api(api_url: str, data: dict[str, Any], column_name: str | None) -> Listing:
    """One ``/gkmlpt/api/all/<catId>`` response as a Listing.

    Item dates prefer ``display_publish_time`` (what the page shows) over ``date``.
    ``total`` is ``classify.post_count`` (or ``total``); page size is ``page_size``/``per_page``
    when given, else the number of articles on this page, so the other API pages are known.
    """
    articles = data.get("articles") or []
    items: list[ListItem] = []
    for article in articles:
        if not isinstance(article, dict):
            continue
        url = article.get("url") or article.get("link")
        if not url:
            continue
        date = None
        for key in _DATE_FIELDS:
            date = api_date(article.get(key))
            if date is not None:
                break
        items.append(ListItem(
            title=str(article.get("title") or "").strip(),
            url=urljoin(api_url, str(url)),
            date=date,
            date_source="api" if date else None,
            pinned=bool(article.get("is_top") or article.get("top")),
            attachments=_attachments(article.get("attachment") or article.get("attachments"), api_url),
            document_number=((str(article["document_number"]).strip() or None)
                             if article.get("document_number") else None),
        ))
    classify = data.get("classify")
    if not isinstance(classify, dict):
        classify = {}
    total_raw = classify.get("post_count", data.get("total"))
    total = int(total_raw) if isinstance(total_raw, (int, str)) and str(total_raw).isdigit() else None

    parts = urlsplit(api_url)
    query = dict(parse_qsl(parts.query))
    current = int(query.get("page", "1") or 1)
    size_raw = data.get("page_size") or data.get("per_page") or data.get("pageSize")
    page_size = int(size_raw) if size_raw else len(articles)
    page_urls: list[str] = []
    if total and page_size:
        pages = math.ceil(total / page_size)
        base = api_url.split("?", 1)[0]
        sid = query.get("sid", "")
        page_urls = [f"{base}?page={n}&sid={sid}" for n in range(1, pages + 1) if n != current]
    cat_id = parts.path.rstrip("/").rsplit("/", 1)[-1]
    name = column_name or (classify.get("name") if classify else None)
    return Listing(engine="gkmlpt", items=items, page_urls=page_urls, total=total,
                   column_name=name, column_key=f"{site_prefix(api_url)}/gkmlpt/index#{cat_id}",
                   empty_marker=total == 0 or (not items and current == 1))
