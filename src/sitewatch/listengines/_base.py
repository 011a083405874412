"""The list-engine interface and the page wrapper every HTML engine starts from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sitewatch.listengines._rows import (
    HtmlElement,
    base_url,
    column_key,
    column_name,
    copy_without_comments,
    drop_templates,
    looks_like_article_url,
    meta_content,
    parse_html,
)
from sitewatch.models import Listing

_TOTAL_PATTERNS = (
    re.compile(r"\brecordCount\s*[:=]\s*['\"]?(\d+)", re.I),
    re.compile(r"\bcountnum\s*[:=]\s*['\"]?(\d+)", re.I),
    re.compile(r"<totalrecord>\s*(\d+)\s*</totalrecord>", re.I),
)


@runtime_checkable
class ListEngine(Protocol):
    """Reads one platform's listing pages."""

    name: str

    def detect(self, url: str, html: str) -> bool:
        """Cheap check (substrings, no parsing) that the page may belong to this platform."""
        ...

    def parse(self, url: str, html: str, doc: HtmlElement | None = None) -> Listing | None:
        """The listing on the page, or None when the page is not a listing page. ``doc`` is the page's
        tree as the crawler parsed it (left unchanged), to spare a second parse."""
        ...


@dataclass(slots=True)
class Page:
    """A parsed page with templates removed, and the URL its links resolve against."""

    url: str
    root: HtmlElement
    base: str

    def is_article(self) -> bool:
        """Single-document page: article-shaped URL or an ``ArticleTitle`` meta tag."""
        return looks_like_article_url(self.url) or meta_content(self.root, "ArticleTitle") is not None

    def listing(self, engine: str, **fields: Any) -> Listing:
        """A Listing with this page's column name and key filled in."""
        fields.setdefault("column_name", column_name(self.root))
        fields.setdefault("column_key", column_key(self.url))
        return Listing(engine=engine, **fields)


def load_page(url: str, html: str, doc: HtmlElement | None = None) -> Page | None:
    """Parse ``html`` (or copy its already parsed ``doc``) and drop scripts and client-side templates; None
    for an empty document or an article-shaped URL (engines treat both as "not a listing page")."""
    if looks_like_article_url(url):
        return None   # a single document is never a listing: skip the parse (most pages of a site)
    root = copy_without_comments(doc) if doc is not None else parse_html(html)
    if root is None:
        return None
    drop_templates(root)
    return Page(url=url, root=root, base=base_url(root, url))


def declared_total(html: str) -> int | None:
    """Item count the page script declares (``recordCount``, ``countnum``, ``<totalrecord>``)."""
    low = html.lower()
    if "recordcount" not in low and "countnum" not in low and "<totalrecord>" not in low:
        return None     # a case-insensitive search of the whole page costs ten times the substring tests
    for pattern in _TOTAL_PATTERNS:
        m = pattern.search(html)
        if m:
            return int(m.group(1))
    return None
