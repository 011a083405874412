"""Generic engine: plain ``ul/li``, ``table/tr`` and ``dl/dd`` lists of dated links.

Heuristic for "is this a listing page": the page is not a single document (no article-shaped
URL such as ``t20261118_1.html`` / ``post_1.html`` / ``art_1_2.html``, no ``ArticleTitle``
meta tag, so an article's "related links" box of dated items is never taken for a column),
and it shows at least one dated link row, or it says 暂无信息/暂无数据 (an empty column).
Every dated row on the page is an item, so a tabbed home page yields the union of its blocks.
Links without a date nearby (menus, breadcrumbs, pagers) are never items.
"""

from __future__ import annotations

from sitewatch.listengines._base import Page, load_page
from sitewatch.listengines._rows import HtmlElement, extract_rows, has_empty_marker, visible_page_urls
from sitewatch.models import Listing


class GenericEngine:
    """Fallback for any HTML list."""

    name = "generic"

    def detect(self, url: str, html: str) -> bool:
        return True

    def parse(self, url: str, html: str, doc: HtmlElement | None = None) -> Listing | None:
        page = load_page(url, html, doc)
        if page is None or page.is_article():
            return None
        return listing_from_page(page, self.name)


def listing_from_page(page: Page, engine: str, *, require_rows: bool = True) -> Listing | None:
    """Rows, visible pager links and empty marker of a page; None when it has neither rows nor marker."""
    items = extract_rows(page.root, page.base)
    empty = not items and has_empty_marker(page.root)
    if require_rows and not items and not empty:
        return None
    return page.listing(engine, items=items, empty_marker=empty,
                        page_urls=visible_page_urls(page.root, page.base, page.url))
