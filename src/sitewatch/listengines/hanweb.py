"""大汉 Hanweb JCMS lists: rows are CDATA HTML inside ``<script type="text/xml"><datastore>``.

Paging: ``<totalpage>`` (or ``<totalrecord>`` / per-page size) with the unit id of the list
(``<div id="N">`` around the datastore) gives ``index.html?uid=N&pageNum=K`` URLs.
"""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from sitewatch.dates import date_from_url
from sitewatch.listengines._base import declared_total, load_page
from sitewatch.listengines._rows import HtmlElement, clean_text, extract_rows, parse_html, real_href
from sitewatch.models import Listing, ListItem

_RECORD = re.compile(r"<record\b[^>]*>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>", re.I | re.S)
_TOTAL_PAGE = re.compile(r"<totalpage>\s*(\d+)\s*</totalpage>", re.I)
_PER_PAGE = re.compile(r"(?:<perpage>\s*|\bperpage\s*[:=]\s*['\"]?)(\d+)", re.I)
_UNIT_ID = re.compile(r"<div\b[^>]*\bid\s*=\s*['\"]?(\d+)['\"]?[^>]*>\s*<script\b[^>]*type\s*=\s*['\"]?text/xml", re.I)
_UNIT_PARAM = re.compile(r"\bunitid=(\d+)", re.I)


class HanwebEngine:
    """Hanweb JCMS column pages."""

    name = "hanweb"

    def detect(self, url: str, html: str) -> bool:
        return "<datastore" in html or "<recordset" in html

    def parse(self, url: str, html: str, doc: HtmlElement | None = None) -> Listing | None:
        records = _RECORD.findall(html)
        page = load_page(url, html, doc)
        if page is None or page.is_article():
            return None
        items: list[ListItem] = []
        seen: set[str] = set()
        for record in records:
            for item in _record_items(record, page.base):
                if item.url not in seen:
                    seen.add(item.url)
                    items.append(item)
        total = declared_total(html)
        total_pages = _total_pages(html, total)
        return page.listing(self.name, items=items, total=total,
                            page_urls=_page_urls(url, html, total_pages),
                            empty_marker=not items and (total == 0 or not records))


def _record_items(record: str, base: str) -> list[ListItem]:
    """Items of one CDATA record; a record without a shown date still gives its link (URL date)."""
    root = parse_html(f"<html><body>{_wrap(record)}</body></html>")
    if root is None:
        return []
    items = extract_rows(root, base)
    if items:
        return items
    for a in root.iter("a"):
        href = real_href(a)
        title = clean_text(a.get("title")) or clean_text(a.text_content())
        if href and title:
            url = urljoin(base, href)
            date = date_from_url(url)
            return [ListItem(title=title, url=url, date=date, date_source="url" if date else None)]
    return []


def _wrap(record: str) -> str:
    head = record.lstrip()[:4].lower()
    if head.startswith(("<tr", "<td")):
        return f"<table>{record}</table>"
    if head.startswith("<li"):
        return f"<ul>{record}</ul>"
    return record


def _total_pages(html: str, total: int | None) -> int | None:
    m = _TOTAL_PAGE.search(html)
    if m:
        return int(m.group(1))
    per_page = _PER_PAGE.search(html)
    if total is not None and per_page and int(per_page.group(1)) > 0:
        return math.ceil(total / int(per_page.group(1)))
    return None


def _page_urls(url: str, html: str, total_pages: int | None) -> list[str]:
    if not total_pages or total_pages < 2:
        return []
    m = _UNIT_ID.search(html) or _UNIT_PARAM.search(html)
    if not m:
        return []
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    keep = [(k, v) for k, v in query if k not in ("uid", "pageNum")]
    current = dict(query).get("pageNum", "1")
    return [urlunsplit((parts.scheme, parts.netloc, parts.path,
                        urlencode(keep + [("uid", m.group(1)), ("pageNum", str(n))]), ""))
            for n in range(1, total_pages + 1) if str(n) != current]
