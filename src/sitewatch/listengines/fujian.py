"""Fujian 集约化 platform (TRS-based; ``trt-*`` CSS, avalon ``ms-*`` attributes).

"动静结合": the first pages are in the static HTML as blocks shown by avalon
(``ms-visible="showStatic"``, inside it ``ms-visible="$showStatic(N)"``); later pages come from
a JSON search API (``POST /fjdzapp/search``), so there are no further page URLs to crawl.
``recordCount`` in the page script is the true total. Template rows (``ms-repeat``,
``ms-attr-href``, ``{{ }}``) are ignored.
"""

from __future__ import annotations

from lxml import etree

from sitewatch.listengines._base import declared_total, load_page
from sitewatch.listengines._rows import HtmlElement, extract_rows, has_empty_marker
from sitewatch.models import Listing, ListItem

_MARKERS = ("showStatic", "pageChnlInfo", "list2.trsapi", "quickMode", "fjdzapp")


class FujianEngine:
    """Fujian provincial platform column pages."""

    name = "fujian"

    def detect(self, url: str, html: str) -> bool:
        return "ms-controller" in html and any(marker in html for marker in _MARKERS)

    def parse(self, url: str, html: str, doc: HtmlElement | None = None) -> Listing | None:
        page = load_page(url, html, doc)
        if page is None or page.is_article():
            return None
        static_blocks = [el for el in page.root.iter(etree.Element)
                         if (el.get("ms-visible") or "").replace(" ", "") == "showStatic"]
        items: list[ListItem] = []
        seen: set[str] = set()
        for block in static_blocks or [page.root]:
            for item in extract_rows(block, page.base):
                if item.url not in seen:
                    seen.add(item.url)
                    items.append(item)
        total = declared_total(html)
        empty = not items and (total == 0 or has_empty_marker(page.root))
        if not items and not static_blocks and total is None and not empty:
            return None
        return page.listing(self.name, items=items, total=total, empty_marker=empty)
