"""TRS WCM static lists: ``index.html``, ``index_1.html`` … with a JavaScript pager.

The pager is written by script (``createPageHTML(56, 0, "index", "html")`` or
``var countPage = 56``), so the page count comes from the script even when no link is visible.
``index_1`` is the second page (zero-based).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sitewatch.listengines._base import declared_total, load_page
from sitewatch.listengines._rows import HtmlElement, column_key, other_pages, static_page_range
from sitewatch.listengines.generic import listing_from_page
from sitewatch.models import Listing

_CREATE_PAGE = re.compile(r"createPageHTML\s*\(([^()]*)\)")
_COUNT_PAGE = re.compile(r"\bcountPage\s*=\s*(\d+)")
_PAGER_SUFFIX = re.compile(r"index[\"'\s+_]*[^;\n]{0,40}?\b(shtml|html|htm)\b")
_SUFFIXES = ("shtml", "html", "htm")


class TrsEngine:
    """Static TRS column pages."""

    name = "trs"

    def detect(self, url: str, html: str) -> bool:
        return "createPageHTML(" in html or "countPage" in html

    def parse(self, url: str, html: str, doc: HtmlElement | None = None) -> Listing | None:
        page = load_page(url, html, doc)
        if page is None or page.is_article():
            return None
        pager = js_pager(html)
        listing = listing_from_page(page, self.name, require_rows=pager is None)
        if listing is None:
            return None
        if pager is not None:
            count, prefix, suffix = pager
            suffix = suffix or _suffix_of(url)
            pages = static_page_range(column_key(url).split("?", 1)[0], count, suffix, prefix)
            listing.page_urls = other_pages(pages + listing.page_urls, url)
        listing.total = declared_total(html)
        return listing


def js_pager(html: str) -> tuple[int, str, str | None] | None:
    """(page count, file prefix, suffix or None) from ``createPageHTML(…)`` or ``var countPage=N``."""
    for m in _CREATE_PAGE.finditer(html):
        numbers: list[int] = []
        strings: list[str] = []
        for arg in m.group(1).split(","):
            arg = arg.strip()
            if arg.isdigit():
                numbers.append(int(arg))
            elif len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'":
                strings.append(arg[1:-1])
        if not numbers:
            continue
        suffix = next((s for s in strings if s.lower() in _SUFFIXES), None)
        prefix = "index"
        if suffix is not None:
            position = strings.index(suffix)
            if position > 0 and re.fullmatch(r"[\w-]+", strings[position - 1]):
                prefix = strings[position - 1]
        return numbers[0], prefix, suffix
    count = _COUNT_PAGE.search(html)
    if count:
        tail = html[count.end(): count.end() + 3000]
        found = _PAGER_SUFFIX.search(tail)
        return int(count.group(1)), "index", found.group(1) if found else None
    return None


def _suffix_of(url: str) -> str:
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    ext = last.rsplit(".", 1)[-1].lower() if "." in last else ""
    return ext if ext in _SUFFIXES else "html"
