"""Read one HTML page: its links (every tag that loads or points somewhere), title, base, robots meta."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import lxml.html
from lxml import etree

from sitewatch.memo import memo
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
    "html": ("manifest",),
    "applet": ("archive", "code"),
    "form": ("action",),
    "button": ("formaction",),
    "input": ("formaction",),
}
FORM_TAGS = frozenset({"form", "button", "input"})
_SKIP_LINK_RELS = {"dns-prefetch", "preconnect", "alternate", "canonical", "search", "prefetch", "preload",
                   "manifest", "pingback", "shortlink", "edituri", "wlwmanifest"}
GOV_META = {"sitename", "sitedomain", "siteidcode", "columnname", "columndescription", "columnkeywords",
            "columntype", "articletitle", "pubdate", "contentsource", "keywords", "author", "description", "url",
            "firstpublishedtime", "publishdate"}
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"]*))\s*\)|@import\s+["']([^"']+)["']""", re.I)
_HTML_MANIFEST = re.compile(r"""<html\b[^>]*\bmanifest\s*=\s*["']?([^"'\s>]+)""", re.I)
_SITEMAP_LOC = re.compile(r"<loc>\s*([^<]+?)\s*</loc>", re.I)
_REFRESH = re.compile(r"^\s*\d*\s*[;,]?\s*(?:url\s*=\s*)?['\"]?([^'\"]*)['\"]?\s*$", re.I)


def html_parser(**options: Any) -> lxml.html.HTMLParser:
    """An lxml HTML parser whose elements are ``lxml.html`` classes chosen in C: lxml.html's own parser calls
    a Python lookup for every element Python touches. Form controls get the plain ``HtmlElement`` class."""
    parser = etree.HTMLParser(**options)
    parser.set_element_class_lookup(etree.ElementDefaultClassLookup(
        element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment, pi=lxml.html.HtmlProcessingInstruction,
        entity=lxml.html.HtmlEntity))
    return cast(lxml.html.HTMLParser, parser)   # builds lxml.html elements, as lxml.html's parser does


# pages are handed to lxml re-encoded as UTF-8 with the encoding stated: ~40% faster than parsing a str, and
# neither an XML declaration nor a <meta charset> of the original bytes can make lxml decode them again
# neither is an ID table built (collect_ids): nothing looks elements up by XPath id(), and it costs ~7% of a parse
_PARSER = html_parser(encoding="utf-8", collect_ids=False)


def text_of(el: lxml.html.HtmlElement) -> str:
    """``el.text_content()`` (every text node below it, no tail), serialised by lxml without an XPath run;
    an element without children is just its text."""
    if len(el):
        return etree.tostring(el, method="text", encoding=str, with_tail=False)
    return el.text or ""


MAX_LINKS_PER_PAGE = 10_000   # links read from one page; the rest are counted (coverage cut link_cap), not followed

@dataclass(slots=True)
class Link:
    url: str            # normalised absolute URL to check (the href as written when ``bad`` is set)
    tag: str
    text: str           # anchor text / alt text (trimmed, at most 200 chars)
    bad: str | None = None   # "file_scheme" or "invalid_url": broken for every visitor, never fetched


def resolve_href(raw: str, base: str | None) -> tuple[str | None, str | None]:
    """(normalised URL, None) for a fetchable href; (href, reason) for one that is broken as written;
    (None, None) for a scheme sitewatch does not check (ftp:, news: ...)."""
    url = normalize(raw, base)
    if url is not None:
        return url, None
    h = raw.strip()
    scheme = h.split(":", 1)[0].lower() if ":" in h[:12] else ""
    if scheme == "file":
        return h, "file_scheme"
    if scheme in ("http", "https", ""):
        return h, "invalid_url"
    return None, None


def _href_target(raw: str, base: str | None) -> tuple[str | None, str | None, str | None]:
    """(why it is skipped, or None; the URL to check; why it is broken as written) of an ``href``/``src``."""
    why = classify_href(raw)
    if why == "scheme" and raw.strip()[:5].lower() == "file:":
        why = None
    if why:
        return why, None, None
    target, bad = resolve_href(raw, base)
    return (None, target, bad) if target is not None else ("unsupported", None, None)


# The same for a base that the href's resolution depends on only in part (see ``urls.normalize``): None for an
# absolute href, the base's root for a root-relative one, the base's folder for a relative path. A page's
# navigation links repeat on every page of the site, so one table lookup replaces five calls per link.
_href_target_memo = memo()(_href_target)
_ABSOLUTE = ("http://", "https://")


def css_links(text: str, base: str) -> list[Link]:
    """``url(...)`` and ``@import`` references of a stylesheet."""
    out: list[Link] = []
    seen: set[str] = set()
    for m in _CSS_URL.finditer(text):
        raw = (m.group(1) or m.group(2) or m.group(3) or m.group(4) or "").strip()
        if not raw or classify_href(raw):
            continue
        url, bad = resolve_href(raw, base)
        if url and url not in seen:
            seen.add(url)
            out.append(Link(url, "css", "", bad))
    return out


def sitemap_links(text: str, base: str) -> list[Link]:
    """``<loc>`` entries of a sitemap or sitemap index."""
    out: list[Link] = []
    for m in _SITEMAP_LOC.finditer(text):
        url = normalize(m.group(1).strip().replace("&amp;", "&"), base)
        if url:
            out.append(Link(url, "sitemap", ""))
    return out


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
    list_items: int = 0               # items the list engines read on the page (set by the listing collector)
    # what the page hooks learnt from the page, JSON types only, by hook (stored with the page: a rescan that finds
    # the page unchanged replays them instead of reading the page again); ``volatile``: some of it came from
    # elsewhere than the page (an API the page names), so the page is read again every scan
    facts: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    volatile: bool = False
    # the page's lxml tree, shared by the crawler's page hooks while the page is processed (a hook that changes
    # it calls ``take_doc``)
    doc: lxml.html.HtmlElement | None = field(default=None, repr=False, compare=False)

    def take_doc(self) -> lxml.html.HtmlElement | None:
        """The shared tree for a reader that changes it; later readers parse the text themselves."""
        doc, self.doc = self.doc, None
        return doc


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:          # lone surrogates
        return text.encode("utf-8", "replace")


def load_document(text: str) -> lxml.html.HtmlElement | None:
    """The lxml document of a decoded HTML page, or None when there is nothing to parse."""
    if not text.strip():
        return None
    try:
        return lxml.html.document_fromstring(_utf8(text), parser=_PARSER)
    except (etree.ParserError, ValueError):
        return None


def parse_html(text: str, url: str) -> ParsedPage:
    """Parse a decoded HTML page. Links are resolved against <base href> and de-duplicated per page.
    The tree is left unchanged on ``doc`` for the page hooks."""
    page = ParsedPage(base=url)
    doc = page.doc = load_document(text)
    if doc is None:
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
    # what urls._base_key gives for this base: the root for a root-relative href, the folder for a relative one
    root = base[:base.find("/", base.find("//") + 2) + 1] or base
    folder = None if "?" in base or "#" in base or ";" in base or base.count("/") < 3 else base[:base.rfind("/") + 1]
    for el in doc.iter(*LINK_ATTRS):
        tag = cast(str, el.tag)                         # iter() by tag names yields elements only
        if tag == "link":
            rel = (el.get("rel") or "").lower().split()
            if any(r in _SKIP_LINK_RELS for r in rel):
                continue
        for attr in LINK_ATTRS[tag]:
            raw = el.get(attr)
            if raw is None:
                continue
            if len(links) >= MAX_LINKS_PER_PAGE:
                skipped["link_cap"] = skipped.get("link_cap", 0) + 1
                continue
            if tag == "applet":
                codebase = el.get("codebase")
                applet_base = normalize(codebase, base) if codebase else base
                raw = raw.split(",")[0]
                target, bad = resolve_href(raw, applet_base or base)
            else:
                if raw.startswith(_ABSOLUTE):
                    why, target, bad = _href_target_memo(raw, None)
                elif raw.startswith("/") and not raw.startswith("//"):
                    why, target, bad = _href_target_memo(raw, root)
                elif folder is None or raw[:1] in ("?", "#", "") or raw.startswith("//"):
                    why, target, bad = _href_target(raw, base)
                else:
                    why, target, bad = _href_target_memo(raw, folder)
                if why:
                    skipped[why] = skipped.get(why, 0) + 1
                    continue
            if target is None:
                skipped["unsupported"] = skipped.get("unsupported", 0) + 1
                continue
            if target in seen:
                continue
            seen.add(target)
            if tag == "a" or tag == "area":
                label = text_of(el) if tag == "a" else (el.get("alt") or "")
            else:
                label = el.get("alt") or el.get("title") or ""
            links.append(Link(target, tag, " ".join(label.split())[:200], bad))
    if "manifest" in text[:4096]:
        manifest = _HTML_MANIFEST.search(text[:4096])
        if manifest and doc.get("manifest") is None:
            target, bad = resolve_href(manifest.group(1), base)
            if target and target not in seen:
                seen.add(target)
                links.append(Link(target, "html", "", bad))
    if page.refresh and page.refresh not in seen:
        links.append(Link(page.refresh, "meta-refresh", ""))
    page.skipped = skipped
    body = doc.find("body")
    if body is not None:
        visible = " ".join(_text_without_scripts(body).split())
        page.text_len = len(visible)
        page.text_sample = visible[:600]
    return page


def _text_without_scripts(body: lxml.html.HtmlElement) -> str:
    """The text of ``body`` without script and style contents."""
    with texts_set_aside(body.iter("script", "style")):
        return text_of(body)


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str | None) -> str | None:
    """``text`` without the characters lxml's setters refuse (its HTML parser keeps some control characters)."""
    return _NOT_XML.sub("", text) if text else text


@contextmanager
def texts_set_aside(elements: Iterable[lxml.html.HtmlElement]) -> Iterator[None]:
    """Blank the text of ``elements`` while the block runs (so lxml's serialisers skip it) and put it back
    after, so the page hooks get the tree as parsed."""
    hidden = [(el, el.text) for el in elements if el.text]
    for el, _ in hidden:
        el.text = None
    try:
        yield
    finally:
        for el, text in hidden:
            try:
                el.text = text
            except ValueError:      # the parser kept a control character that lxml's setter refuses
                el.text = xml_safe(text)
