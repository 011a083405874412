"""Read one HTML page: its links (every tag that loads or points somewhere), title, base, robots meta."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import lxml.html
from lxml import etree

from sitewatch.urls import classify_href, normalize

# tag -> attributes that hold a URL to check
LINK_ATTRS: dict[str, tuple[str, ...]] = {
    "a": ("href",),
    "area": ("href",),
    "img": ("src",),
    "script": ("src",),
    "link": ("href",),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "source": ("src",),
    "video": ("src",),
    "audio": ("src",),
    "track": ("src",),
}
_SKIP_LINK_RELS = {"dns-prefetch", "preconnect", "alternate", "canonical", "search", "prefetch", "preload",
                   "manifest", "pingback", "shortlink", "edituri", "wlwmanifest"}
GOV_META = {"sitename", "sitedomain", "siteidcode", "columnname", "columndescription", "columnkeywords",
            "columntype", "articletitle", "pubdate", "contentsource", "keywords", "author", "description", "url",
            "firstpublishedtime", "publishdate"}
_REFRESH = re.compile(r"^\s*\d*\s*[;,]?\s*(?:url\s*=\s*)?['\"]?([^'\"]*)['\"]?\s*$", re.I)


@dataclass(slots=True)
class Link:
    url: str            # normalised absolute URL to check
    tag: str
    text: str           # anchor text / alt text (trimmed, at most 200 chars)


@dataclass(slots=True)
class ParsedPage:
    title: str = ""
    base: str = ""
    links: list[Link] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)   # why some hrefs were not fetched, e.g. {"scheme": 3}
    nofollow: bool = False
    refresh: str | None = None        # meta refresh target (absolute), if any
    text_len: int = 0                 # visible text length, for soft-404 and WAF-blip heuristics
    text_sample: str = ""             # first part of the visible text
    meta: dict[str, str] = field(default_factory=dict)   # government <meta> tags: SiteName, ColumnName, PubDate ...


def parse_html(text: str, url: str) -> ParsedPage:
    """Parse a decoded HTML page. Links are resolved against <base href> and de-duplicated per page."""
    page = ParsedPage(base=url)
    if not text.strip():
        return page
    try:
        doc = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        try:
            doc = lxml.html.document_fromstring(text.encode("utf-8", "replace"))
        except (etree.ParserError, ValueError):
            return page
    base = url
    for b in doc.iter("base"):
        href = b.get("href")
        if href:
            base = normalize(href, url) or url
            break
    page.base = base
    title_el = doc.find(".//title")
    if title_el is not None and title_el.text:
        page.title = " ".join(title_el.text.split())[:300]
    for m in doc.iter("meta"):
        name = (m.get("name") or "").lower()
        equiv = (m.get("http-equiv") or "").lower()
        if name in GOV_META and m.get("content"):
            page.meta[name] = m.get("content", "").strip()[:300]
        if name == "robots" and "nofollow" in (m.get("content") or "").lower():
            page.nofollow = True
        elif equiv == "refresh":
            mm = _REFRESH.match(m.get("content") or "")
            if mm and mm.group(1).strip():
                page.refresh = normalize(mm.group(1).strip(), base)
    seen: set[str] = set()
    skipped: dict[str, int] = {}
    links = page.links
    for el in doc.iter(*LINK_ATTRS):
        tag = el.tag
        if tag == "link":
            rel = (el.get("rel") or "").lower().split()
            if any(r in _SKIP_LINK_RELS for r in rel):
                continue
        for attr in LINK_ATTRS[tag]:
            raw = el.get(attr)
            if raw is None:
                continue
            why = classify_href(raw)
            if why:
                skipped[why] = skipped.get(why, 0) + 1
                continue
            target = normalize(raw, base)
            if target is None:
                skipped["unsupported"] = skipped.get("unsupported", 0) + 1
                continue
            if target in seen:
                continue
            seen.add(target)
            if tag == "a" or tag == "area":
                label = el.text_content() if tag == "a" else (el.get("alt") or "")
            else:
                label = el.get("alt") or el.get("title") or ""
            links.append(Link(target, tag, " ".join(label.split())[:200]))
    if page.refresh and page.refresh not in seen:
        links.append(Link(page.refresh, "meta-refresh", ""))
    page.skipped = skipped
    body = doc.find("body")
    if body is not None:
        for bad in body.iter("script", "style"):
            bad.text = None
        visible = " ".join(body.text_content().split())
        page.text_len = len(visible)
        page.text_sample = visible[:600]
    return page
