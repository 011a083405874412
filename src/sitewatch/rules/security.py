"""安全、泄密事故等严重问题 (V6), all routed to a human: misstatements, hidden links, duplicated articles."""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from sitewatch.errors import ConfigError
from sitewatch.memo import memo
from sitewatch.models import Finding, normalise_for_fingerprint
from sitewatch.packs import Rule
from sitewatch.rules._page import PageCheck, PageContext, PageView, keyword_regex, normalise_body
from sitewatch.rules.registry import page_check
from sitewatch.urls import join

MISSTATEMENT = "security.misstatement"
HIDDEN_LINK = "security.hidden_link"
DUPLICATE = "security.duplicate_content"
ENTRY_PREFIX = "misstatement."


# -- misstatements -----------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Hit:
    entry: str
    url: str
    wrong: str
    count: int = 0
    contexts: list[str] = field(default_factory=list)


@page_check(MISSTATEMENT, reads=(ENTRY_PREFIX,))
class Misstatements(PageCheck):
    """Wrong forms from the ``misstatement.*`` dictionary entries, matched literally in the page text."""

    def __init__(self, ctx: PageContext):
        super().__init__(ctx)
        ruleset = ctx.ruleset
        self.enabled = ruleset.enabled(MISSTATEMENT)
        self.entries: dict[str, Rule] = {r.id: r for r in ruleset.rules if r.id.startswith(ENTRY_PREFIX) and r.enabled}
        if self.enabled and not any(r.keywords.get("wrong") for r in self.entries.values()):
            raise ConfigError(f"{MISSTATEMENT}: enabled but no {ENTRY_PREFIX}* dictionary entry with wrong forms "
                              f"is loaded; add entries (checks/misstatements.toml or a local pack) or disable the rule")
        self.by_wrong = {re.sub(r"\s+", "", w): r.id
                         for r in self.entries.values() for w in r.keywords.get("wrong", ())}
        self.regex = keyword_regex(self.by_wrong) if self.enabled else None
        self.context = int(ruleset.threshold(MISSTATEMENT, "context_chars")) if self.enabled else 20
        self.hits: dict[tuple[str, str], _Hit] = {}

    # facts of a page: [{"entry": entry id, "wrong": first wrong form met, "count": n, "context": [excerpt, ...]},
    # ...] in the order the entries are first met; None without a hit
    def on_page(self, view: PageView) -> Any:
        if self.regex is None:
            return None
        text = view.compact
        hits: dict[str, dict[str, Any]] = {}
        for m in self.regex.finditer(text):
            wrong = m.group(0)
            entry = self.by_wrong[wrong]
            hit = hits.get(entry)
            if hit is None:
                hit = hits[entry] = {"entry": entry, "wrong": wrong, "count": 0, "context": []}
            hit["count"] += 1
            if len(hit["context"]) < 3:
                hit["context"].append(text[max(0, m.start() - self.context): m.end() + self.context])
        return list(hits.values()) or None

    def absorb(self, url: str, facts: Any) -> None:
        for h in facts or ():
            hit = self.hits.setdefault((h["entry"], url), _Hit(h["entry"], url, h["wrong"]))
            hit.count += h["count"]
            hit.contexts.extend(h["context"][:3 - len(hit.contexts)])

    def findings(self, as_of: dt.date) -> list[Finding]:
        out = []
        for hit in self.hits.values():
            entry = self.entries[hit.entry]
            right = "、".join(entry.keywords.get("right", ())) or entry.name_zh
            out.append(Finding(
                rule=MISSTATEMENT, severity=self.ruleset.severity(MISSTATEMENT), url=hit.url,
                message=f"疑似严重表述错误：“{hit.wrong}”出现{hit.count}次，规范表述为“{right}”（待人工核实）",
                evidence={"matched": hit.wrong, "right": right, "count": hit.count, "context": hit.contexts,
                          "entry": hit.entry, "note": entry.note},
                extra={"item": hit.entry}))
        return out


# -- hidden links (暗链) -------------------------------------------------------------------------------------

_DECL = re.compile(r"([a-zA-Z-]+)\s*:\s*([^;]+)")
_ZERO = re.compile(r"0*(?:\.0*)?(?:px|pt|em|rem|%)?")
_LENGTH = re.compile(r"(-?\d+(?:\.\d+)?)\s*(px|pt|em|rem)?$")
_ANCHORS_WITH_HOST = etree.XPath("descendant-or-self::a[contains(@href, '//')]")   # may name another host
_STYLE_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_SIMPLE_SELECTOR = re.compile(r"^[a-zA-Z0-9]*([.#][\w-]+)$")
_OFFSETS = ("left", "top", "right", "bottom", "margin-left", "margin-top")
_UNIT = {"px": 1.0, None: 1.0, "pt": 1.33, "em": 16.0, "rem": 16.0}


def _length(value: str) -> float | None:
    m = _LENGTH.match(value.replace("!important", "").strip())
    return float(m.group(1)) * _UNIT[m.group(2)] if m else None


def hiding_reason(style: str, min_offset: float) -> str | None:
    """Why an inline style hides its element, or None."""
    decl = {k.lower(): v.strip().lower().replace("!important", "").strip() for k, v in _DECL.findall(style)}
    if not decl:
        return None
    if decl.get("display", "").startswith("none"):
        return "display:none"
    if decl.get("visibility", "").startswith(("hidden", "collapse")):
        return "visibility:hidden"
    if "font-size" in decl and _ZERO.fullmatch(decl["font-size"]):
        return f"font-size:{decl['font-size']}"
    if "opacity" in decl and _ZERO.fullmatch(decl["opacity"]):
        return "opacity:0"
    if decl.get("position") in ("absolute", "fixed"):
        for prop in _OFFSETS:
            n = _length(decl.get(prop, ""))
            if n is not None and n <= -min_offset:
                return f"position:{decl['position']};{prop}:{decl[prop]}"
    n = _length(decl.get("text-indent", ""))
    if n is not None and n <= -min_offset:
        return f"text-indent:{decl['text-indent']}"
    if decl.get("overflow", "").startswith("hidden"):
        for prop in ("height", "width", "max-height", "max-width"):
            n = _length(decl.get(prop, ""))
            if n is not None and n <= 1:
                return f"{prop}:{decl[prop]};overflow:hidden"
    return None


def is_gov_host(host: str) -> bool:
    return host == "gov.cn" or host.endswith((".gov.cn", ".政务", ".xn--zfr164b"))


@memo()
def _host(url: str) -> str:
    """The lower-cased host of an absolute URL (the same nav and footer links recur on every page)."""
    return (urlsplit(url).hostname or "").lower()


@page_check(HIDDEN_LINK)
class HiddenLinks(PageCheck):
    def __init__(self, ctx: PageContext):
        super().__init__(ctx)
        ruleset = ctx.ruleset
        self.enabled = ruleset.enabled(HIDDEN_LINK)
        self.site_hosts = {h.lower() for h in ctx.site_hosts if h}
        self.allowed = tuple(h.lower() for h in ruleset.keywords(HIDDEN_LINK, "allowed")) if self.enabled else ()
        self.min_offset = float(ruleset.threshold(HIDDEN_LINK, "min_offset_px")) if self.enabled else 500.0
        self.max_links = int(ruleset.threshold(HIDDEN_LINK, "max_links")) if self.enabled else 20
        self.pages: dict[str, list[dict[str, str]]] = {}
        self.counts: dict[str, int] = {}
        self._foreign_hosts: dict[str, bool] = {}

    def _foreign(self, host: str) -> bool:
        foreign = self._foreign_hosts.get(host)
        if foreign is None:
            foreign = self._foreign_hosts[host] = not (
                host in self.site_hosts or is_gov_host(host)
                or any(host == a or host.endswith("." + a) for a in self.allowed))
        return foreign

    # facts of a page: {"count": n, "links": [{"href": url, "text": text, "hidden_by": reason}, ...] (the first
    # max_links)}; None without a hidden link
    def on_page(self, view: PageView) -> Any:
        if not self.enabled:
            return None
        base = view.parsed.base or view.url
        sheet: dict[str, str] | None = None
        cache: dict[lxml.html.HtmlElement, str | None] = {}
        count = 0
        found: list[dict[str, str]] = []
        for a in _ANCHORS_WITH_HOST(view.doc):
            href = (a.get("href") or "").strip()
            if "//" not in href[:8]:
                continue
            url = join(base, href)
            host = _host(url)
            if not host or not self._foreign(host):
                continue
            if sheet is None:
                sheet = _page_styles(view.doc, self.min_offset)
            reason = None
            for el in [a, *a.iterancestors()]:
                if el.tag in ("body", "html"):
                    break
                if el not in cache:
                    cache[el] = self._hidden(el, sheet)
                reason = cache[el]
                if reason:
                    break
            if reason:
                count += 1
                if len(found) < self.max_links:
                    found.append({"href": url, "text": " ".join(a.text_content().split())[:80], "hidden_by": reason})
        return {"count": count, "links": found} if count else None

    def absorb(self, url: str, facts: Any) -> None:
        if not facts:
            return
        self.counts[url] = self.counts.get(url, 0) + facts["count"]
        found = self.pages.setdefault(url, [])
        found.extend(dict(link) for link in facts["links"][:self.max_links - len(found)])

    def _hidden(self, el: lxml.html.HtmlElement, sheet: dict[str, str]) -> str | None:
        if el.get("hidden") is not None:
            return "hidden attribute"
        style = el.get("style")
        if style:
            why = hiding_reason(style, self.min_offset)
            if why:
                return why
        if sheet:
            for cls in (el.get("class") or "").split():
                if "." + cls in sheet:
                    return f".{cls} {{{sheet['.' + cls]}}}"
            ident = el.get("id")
            if ident and "#" + ident in sheet:
                return f"#{ident} {{{sheet['#' + ident]}}}"
        return None

    def findings(self, as_of: dt.date) -> list[Finding]:
        out = []
        for url, links in self.pages.items():
            hosts = sorted({urlsplit(x["href"]).hostname or "" for x in links})
            out.append(Finding(
                rule=HIDDEN_LINK, severity=self.ruleset.severity(HIDDEN_LINK), url=url,
                message=f"疑似暗链：{self.counts[url]}个被样式隐藏的链接指向非政府网站（{'、'.join(hosts[:5])}）（待人工核实）",
                evidence={"links": links, "count": self.counts[url], "hosts": hosts}))
        return out


def _page_styles(doc: lxml.html.HtmlElement, min_offset: float) -> dict[str, str]:
    """Simple class and id selectors of the page's own <style> blocks whose declarations hide elements."""
    out: dict[str, str] = {}
    for st in doc.iter("style"):
        for selectors, body in _STYLE_RULE.findall(st.text or ""):
            why = hiding_reason(body, min_offset)
            if not why:
                continue
            for sel in selectors.split(","):
                m = _SIMPLE_SELECTOR.match(sel.strip())
                if m:
                    out[m.group(1)] = why
    return out


# -- duplicated articles (一稿多发) ---------------------------------------------------------------------------

_ITEM_ID = re.compile(r"[^/]*\d[^/]*$")


@dataclass(slots=True)
class _Body:
    """One article body; the URL list and key set exist only once a second page shows it (most never do)."""

    title: str
    chars: int
    first_url: str
    first_key: str
    urls: list[str] | None = None
    keys: set[str] | None = None


@page_check(DUPLICATE)
class Duplicates(PageCheck):
    def __init__(self, ctx: PageContext):
        super().__init__(ctx)
        ruleset = ctx.ruleset
        self.enabled = ruleset.enabled(DUPLICATE)
        self.min_chars = int(ruleset.threshold(DUPLICATE, "min_chars")) if self.enabled else 200
        self.max_urls = int(ruleset.threshold(DUPLICATE, "max_urls")) if self.enabled else 50
        self.bodies: dict[bytes, _Body] = {}

    # facts of a page: {"digest": hex digest of the normalised body, "chars": its length, "title": page title}; None
    # for a page without an article body of min_chars
    def on_main(self, view: PageView, early: Any) -> Any:
        if not self.enabled:
            return None
        norm = normalise_body(view.body_text)
        if len(norm) < self.min_chars:
            return None
        return {"digest": hashlib.blake2b(norm.encode(), digest_size=12).hexdigest(), "chars": len(norm),
                "title": view.title[:80]}

    def absorb(self, url: str, facts: Any) -> None:
        if not facts:
            return
        digest = bytes.fromhex(facts["digest"])
        key = normalise_for_fingerprint(url)
        body = self.bodies.get(digest)
        if body is None:
            self.bodies[digest] = _Body(facts["title"], facts["chars"], url, key)
            return
        if body.keys is None:
            if key == body.first_key:
                return
            body.keys, body.urls = {body.first_key}, [body.first_url]
        if key not in body.keys:
            body.keys.add(key)
            urls = body.urls
            assert urls is not None                     # set together with body.keys
            bisect.insort(urls, url)                    # the first max_urls in URL order, whatever the crawl order
            if len(urls) > self.max_urls:
                urls.pop()
            if url == urls[0]:
                body.title = facts["title"]

    def findings(self, as_of: dt.date) -> list[Finding]:
        """One finding per body shown at ≥ 2 item URLs; URL, title and order independent of the crawl order."""
        out = []
        for body in self.bodies.values():
            if body.keys is None or len({_item_id(k) for k in body.keys}) < 2:
                continue
            assert body.urls is not None                # set together with body.keys
            out.append(Finding(
                rule=DUPLICATE, severity=self.ruleset.severity(DUPLICATE), url=body.urls[0], found_on=list(body.urls),
                message=f"疑似一稿多发：同一正文（{body.chars}字，比对下限{self.min_chars}字）在{len(body.keys)}个网址发布"
                        "（待人工核实）",
                evidence={"urls": list(body.urls), "count": len(body.keys), "chars": body.chars,
                          "title": body.title, "min_chars": self.min_chars}))
        return sorted(out, key=lambda f: f.url)


def _item_id(key: str) -> str:
    """The last path segment when it carries a number (post_123.html, t20240101_5.html): the CMS item id."""
    path = urlsplit("//" + key).path
    m = _ITEM_ID.search(path)
    return m.group(0) if m else key


# -- hidden frames (挂马) ------------------------------------------------------------------------------------

HIDDEN_FRAME = "security.hidden_iframe"
_FRAMES = etree.XPath("descendant-or-self::*[self::iframe or self::frame][@src]")


@page_check(HIDDEN_FRAME)
class HiddenFrames(PageCheck):
    """Frames of a host that is neither the site's nor a government one, hidden from the reader: too small to see
    (width or height at most ``max_size_px``), or hidden by an inline or page-level style of the frame or of an
    element around it. A page that loads another site unseen is the mark of 挂马."""

    def __init__(self, ctx: PageContext):
        super().__init__(ctx)
        ruleset = ctx.ruleset
        self.enabled = ruleset.enabled(HIDDEN_FRAME)
        self.site_hosts = {h.lower() for h in ctx.site_hosts}
        th = ruleset.get(HIDDEN_FRAME).threshold if self.enabled else {}
        self.max_size = float(th.get("max_size_px", 0))
        self.min_offset = float(th.get("min_offset_px", 0))
        self.max_frames = int(th.get("max_frames", 0))
        self.pages: dict[str, list[dict[str, str]]] = {}
        self.counts: dict[str, int] = {}

    # facts of a page: {"count": n, "frames": [{"src": url, "tag": tag, "hidden_by": reason}, ...] (the first
    # max_frames)}; None without a hidden frame
    def on_page(self, view: PageView) -> Any:
        if not self.enabled:
            return None
        base = view.parsed.base or view.url
        sheet: dict[str, str] | None = None
        count = 0
        found: list[dict[str, str]] = []
        for frame in _FRAMES(view.doc):
            url = join(base, (frame.get("src") or "").strip())
            host = _host(url)
            if not host or host in self.site_hosts or is_gov_host(host):
                continue
            if sheet is None:
                sheet = _page_styles(view.doc, self.min_offset)
            reason = self._tiny(frame) or next(
                (why for el in [frame, *frame.iterancestors()] if el.tag not in ("body", "html")
                 for why in [self._hidden(el, sheet)] if why), None)
            if reason:
                count += 1
                if len(found) < self.max_frames:
                    found.append({"src": url, "tag": str(frame.tag), "hidden_by": reason})
        return {"count": count, "frames": found} if count else None

    def absorb(self, url: str, facts: Any) -> None:
        if not facts:
            return
        self.counts[url] = self.counts.get(url, 0) + facts["count"]
        found = self.pages.setdefault(url, [])
        found.extend(dict(frame) for frame in facts["frames"][:self.max_frames - len(found)])

    def _tiny(self, frame: lxml.html.HtmlElement) -> str | None:
        """``width``/``height`` (attribute or inline style) at most ``max_size`` pixels."""
        decl = {k.lower(): v.strip() for k, v in _DECL.findall(frame.get("style") or "")}
        for prop in ("width", "height"):
            for value in (decl.get(prop), frame.get(prop)):
                n = _length(value or "")
                if n is not None and n <= self.max_size:
                    return f"{prop}:{value}"
        return None

    def _hidden(self, el: lxml.html.HtmlElement, sheet: dict[str, str]) -> str | None:
        if el.get("hidden") is not None:
            return "hidden attribute"
        why = hiding_reason(el.get("style") or "", self.min_offset)
        if why:
            return why
        for key in [f".{c}" for c in (el.get("class") or "").split()] + ([f"#{el.get('id')}"] if el.get("id") else []):
            if key in sheet:
                return f"{key} {{{sheet[key]}}}"
        return None

    def findings(self, as_of: dt.date) -> list[Finding]:
        out = []
        for url, frames in sorted(self.pages.items()):
            hosts = sorted({urlsplit(x["src"]).hostname or "" for x in frames})
            out.append(Finding(
                rule=HIDDEN_FRAME, severity=self.ruleset.severity(HIDDEN_FRAME), url=url,
                message=f"疑似网页挂马：{self.counts[url]}个隐藏的框架加载非政府网站（{'、'.join(hosts[:5])}）（待人工核实）",
                evidence={"frames": frames, "count": self.counts[url], "hosts": hosts}))
        return out
