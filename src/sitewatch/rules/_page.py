"""Per-page machinery shared by the page checks: the page view, the check base, the runner fed by the crawler.

``PageChecks`` is fed by the crawler (``on_page``, or ``page_hook`` as a ``Crawler.page_hooks`` entry): it builds
one ``PageView`` per page, hands it to every registered page check (``registry.page_check``), and returns their
findings at the end of the scan.

A check works in two steps. Reading a page gives the page's *facts* (``on_page``, then ``on_main``): small JSON
values (flags, ISO dates, digests, a few short examples, never page bodies) that depend only on the page's URL and
content and on the check's configuration, never on the pages seen before. Folding them into the scan's state
(``absorb``) is the only step that changes the check. The facts are stored with the page, so a rescan that finds
the page unchanged (304, same body hash) hands the stored facts to ``PageChecks.replay`` instead of reading the
page again, and the findings are those of a live read. Stored facts are replayed only under an equal
``PageChecks.fingerprint`` (``FACTS_VERSION``, the rule data the checks read, the start URLs and site hosts).
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from operator import attrgetter
from typing import Any, TypeVar
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from sitewatch.extract import ParsedPage, load_document, text_of, texts_set_aside
from sitewatch.models import Finding
from sitewatch.packs import RuleSet
from sitewatch.rules.registry import PAGE, checks

# bump when the facts of any page check change shape or meaning: facts stored under another version are not replayed
FACTS_VERSION = 2       # 2: a page on which a list was read is a column, however long a paragraph on it

_NO_TEXT = {"script", "style", "noscript", "template"}
_BOILERPLATE_TAGS = {"header", "footer", "nav", "aside"}
_BOILERPLATE_CLASS = re.compile(
    r"(?:^|[\s_\-])(?:header|footer|foot|bottom|nav|navbar|menu|copyright|crumbs?|breadcrumb|sidebar|banner)"
    r"(?=$|[\s_\-\d])", re.I)
_CONTENT_CLASS = re.compile(r"zoom|trs_editor|article|content|detail|con_text|news_?text|view", re.I)
_NON_WORD = re.compile(r"[\W_]+")
_TITLE_SPLIT = re.compile(r"\s*[_|｜\-–—]+\s*")


def keyword_regex(words: Iterable[str]) -> re.Pattern[str] | None:
    """One alternation of literal words, longest first; None for no words."""
    unique = sorted({w for w in words if w}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, unique))) if unique else None


def squash(text: str) -> str:
    return " ".join(text.split())


_PREV_NEXT = re.compile(r"上一篇[：:]|下一篇[：:]")
_DATE = r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}日?"
# "(发布|更新|成文)?(日期|时间)：DATE( hh:mm(:ss)?)?|DATE", with the optional prefix spelled out as two branches
# tried in the same order (same matches): ~35% faster than sre's optional group tried at every position
_DATE_LINE = re.compile(r"(?:发布|更新|成文)(?:日期|时间)[：:]\s*" + _DATE + r"(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?"
                        r"|(?:日期|时间)[：:]\s*" + _DATE + r"(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?|" + _DATE)


def normalise_body(text: str) -> str:
    """Text without spaces, punctuation, dates and the 上一篇/下一篇 navigation: what stays equal when an
    article is republished under another date and column."""
    text = _PREV_NEXT.split(text, 1)[0]
    text = _DATE_LINE.sub("", text)
    return _NON_WORD.sub("", text)


@dataclass(slots=True)
class Examples:
    """A count of pages plus the ``limit`` smallest of their URLs: the same examples (and so the same finding
    fingerprint) whatever order the crawl met the pages in."""

    limit: int
    count: int = 0
    urls: list[str] = field(default_factory=list)

    def add(self, url: str) -> None:
        self.count += 1
        if len(self.urls) < self.limit or url < self.urls[-1]:
            bisect.insort(self.urls, url)
            del self.urls[self.limit:]


@dataclass(slots=True)
class PageView:
    """A parsed page seen by the checks. ``strip`` drops header, navigation and footer blocks; checks run
    ``on_page`` before it (whole page) and ``on_main`` after it (main area, article body)."""

    url: str
    parsed: ParsedPage
    doc: lxml.html.HtmlElement
    title: str
    text: str                         # visible text of the whole body, whitespace collapsed
    compact: str                      # title + body text without whitespace, for literal phrase matching
    meta: dict[str, str]              # every <meta name>, lower-cased name
    main_text: str = ""
    main_links: int = 0
    headings: list[str] = field(default_factory=list)   # h1/h2 texts of the main area
    body_text: str = ""               # densest paragraph block: the article body, if any
    _anchors: tuple[str, str] | None = field(default=None, repr=False)     # see ``anchors``

    @classmethod
    def build(cls, url: str, html: str, parsed: ParsedPage) -> PageView | None:
        """The view of a page; it takes the tree ``parsed`` holds (``strip`` changes it), else parses ``html``."""
        doc = parsed.take_doc()
        if doc is None:
            doc = load_document(html)
        if doc is None:
            return None
        meta = {}
        for m in doc.iter("meta"):
            name = (m.get("name") or "").strip().lower()
            if name and name not in meta:
                meta[name] = (m.get("content") or "").strip()
        body = doc.find("body")
        text = squash(_visible_text(body)) if body is not None else ""
        title = parsed.title
        return cls(url=url, parsed=parsed, doc=doc, title=title, text=text,
                   compact=(title + text).replace(" ", ""), meta=meta)

    def anchors(self) -> tuple[str, str]:
        """The texts and the URLs of the page's links, one a line: a search of each tells whether any anchor can
        match (``entry_link`` walks the links only then)."""
        if self._anchors is None:
            links = self.parsed.links
            self._anchors = ("\n".join(map(_LINK_TEXT, links)), "\n".join(map(_LINK_URL, links)))
        return self._anchors

    def strip(self) -> None:
        """Drop boilerplate blocks, then read the main text, its h1/h2 headings and the article body."""
        body = self.doc.find("body")
        if body is None:
            return
        boilerplate = set(body.iter(*_BOILERPLATE_TAGS))
        boilerplate.update(value.getparent() for value in _CLASS_AND_ID(body) if _BOILERPLATE_CLASS.search(value))
        for el in boilerplate:          # the order does not matter: the same blocks leave the tree
            el.drop_tree()
        self.main_text = squash(_visible_text(body))
        self.main_links = sum(1 for a in body.iter("a") if a.get("href"))
        self.headings = [squash(text_of(h)) for h in islice(body.iter("h1", "h2"), 10)]
        self.body_text = _densest_block(body)


_LINK_TEXT, _LINK_URL = attrgetter("text"), attrgetter("url")
_TEXT_NODES = etree.XPath("descendant::text()", smart_strings=False)
# class and id values (each knows its element): lxml makes a Python object only for these, not for every element
_CLASS_AND_ID = etree.XPath("descendant-or-self::*/@class | descendant-or-self::*/@id")


def _visible_text(el: lxml.html.HtmlElement) -> str:
    """Text of ``el`` in document order without script, style and comment contents, one space between text
    nodes. Script and style texts are set aside while lxml collects the rest, so the tree is unchanged."""
    hidden = list(el.iter(*_NO_TEXT))
    if any(len(node) for node in hidden):           # <noscript>/<template> holding markup: walk the tree
        return " ".join(_texts_outside(el))
    with texts_set_aside(hidden):
        return " ".join(_TEXT_NODES(el))


def _texts_outside(el: lxml.html.HtmlElement) -> Iterator[str]:
    """Text nodes below ``el`` in document order, skipping the subtrees of ``_NO_TEXT`` elements."""
    if el.text and el.tag not in _NO_TEXT:
        yield el.text
    for child in el:
        if isinstance(child.tag, str) and child.tag not in _NO_TEXT:
            yield from _texts_outside(child)
        if child.tail:
            yield child.tail


def _marked(el: lxml.html.HtmlElement, pattern: re.Pattern[str]) -> bool:
    """True when ``pattern`` finds a match in the element's "class id" string."""
    cls, ident = el.get("class"), el.get("id")
    return bool((cls or ident) and pattern.search(f"{cls or ''} {ident or ''}"))


def _densest_block(root: lxml.html.HtmlElement) -> str:
    """Text of the element holding the most paragraph text (or a content-classed block) with few links."""
    scores: dict[lxml.html.HtmlElement, int] = {}
    texts: dict[lxml.html.HtmlElement, str] = {}
    for p in root.iter("p"):
        parent = p.getparent()
        if parent is not None:
            n = len(squash(text_of(p)))
            if n:
                scores[parent] = scores.get(parent, 0) + n
    for el in root.iter("div", "td", "article", "section"):
        if el not in scores and _marked(el, _CONTENT_CLASS):
            texts[el] = squash(text_of(el))
            scores[el] = len(texts[el])
    for el, _ in sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:5]:
        text = texts[el] if el in texts else squash(text_of(el))
        if not text:
            continue
        linked = sum(len(squash(text_of(a))) for a in el.iter("a"))
        if linked <= 0.3 * len(text):
            return text
    return ""


def literal_words(words: Iterable[str]) -> tuple[str, ...]:
    """Words to find as substrings with ``any_word`` (empty words dropped, each once)."""
    return tuple(dict.fromkeys(w for w in words if w))


def any_word(words: tuple[str, ...], text: str) -> bool:
    """True when one of ``words`` occurs in ``text``: what ``keyword_regex(words).search`` tells, several times
    faster on URLs (an alternation starting with "/" tries every slash)."""
    return any(w in text for w in words)


def entry_link(view: PageView, text_words: tuple[str, ...], url_words: tuple[str, ...],
               exclude_words: tuple[str, ...] = ()) -> dict[str, str] | None:
    """The first anchor of the page whose text names an entry (咨询/办事 …, not an excluded word) or whose URL is a
    known platform: ``{"link": url, "text": anchor text}`` (facts of the page: its own URL is not repeated). Words
    come from ``literal_words``."""
    texts, urls = view.anchors()
    if not (any_word(text_words, texts) or any_word(url_words, urls)):
        return None                     # most pages: no link can match, a few searches instead of a few per link
    for link in view.parsed.links:
        if link.tag not in ("a", "area"):
            continue
        text = link.text
        if (text and any_word(text_words, text) and not any_word(exclude_words, text)) \
                or any_word(url_words, link.url):
            return {"link": link.url, "text": text}
    return None


def title_segments(title: str) -> list[str]:
    return [s for s in _TITLE_SPLIT.split(title) if s]


@dataclass(frozen=True, slots=True)
class PageContext:
    """What a page check knows of the scan: the rule set, the start URLs, the site's own hosts."""

    ruleset: RuleSet
    start_urls: list[str]
    site_hosts: frozenset[str] = frozenset()

    @property
    def site(self) -> str:
        """The first start URL: the target of site-wide page findings."""
        return self.start_urls[0] if self.start_urls else ""


class PageCheck:
    """A page check: facts per page, folded into the scan's state, findings at the end. Registered with
    ``registry.page_check``.

    ``on_page`` and ``on_main`` read one page and return its facts; they never change the check. ``absorb`` folds
    one page's facts into the check's state, live or replayed from an earlier scan: it must behave the same for
    ``facts`` and ``json.loads(json.dumps(facts))``, and never change ``facts``.
    """

    produces: tuple[str, ...] = ()      # set by the registration
    reads: tuple[str, ...] = ()         # set by the registration: rule-id prefixes of dictionary entries it reads
    uses: tuple[str, ...] = ()          # further rule ids whose data its facts depend on (not produced, not read)

    def __init__(self, ctx: PageContext):
        self.ruleset = ctx.ruleset

    def on_page(self, view: PageView) -> Any:
        """Facts of the whole page, before boilerplate is stripped (JSON types; None for nothing)."""
        return None

    def on_main(self, view: PageView, early: Any) -> Any:
        """The page's facts: ``early`` (what ``on_page`` returned) completed from the main area, after
        boilerplate is stripped (JSON types; None for nothing)."""
        return early

    def absorb(self, url: str, facts: Any) -> None:
        """Fold one page's facts (None: the page gave none) into the scan's state: the only place it changes."""

    def basis(self) -> Any:
        """What the facts depend on besides the page (JSON types): the data of the rules the check produces, reads
        as dictionary entries, or uses; None while none of the rules it produces is enabled (its facts are None)."""
        rs = self.ruleset
        if not any(rs.enabled(r) for r in self.produces):
            return None
        ids = {*self.produces, *self.uses}
        return [[r.id, r.enabled, dict(r.threshold), {k: list(v) for k, v in r.keywords.items()}]
                for r in sorted(rs.rules, key=lambda r: r.id) if r.id in ids or r.id.startswith(self.reads)]

    def findings(self, as_of: dt.date) -> list[Finding]:
        return []

    def notes(self) -> list[str]:
        """Judgements skipped, for the command line (e.g. the domain of a loopback start host)."""
        return []


MAX_ERRORS = 20
C = TypeVar("C", bound=PageCheck)


class PageChecks:
    """Every registered page check of one scan, fed by the crawler: pages read now (``on_page``, ``page_hook``)
    and pages read in an earlier scan and unchanged since (``replay`` of the facts ``on_page`` returned then).

    ``site_cfg`` is a ``SiteConfig`` (or anything with ``extra_hosts``/``prefixes``); its hosts and the start
    hosts count as the site's own (hidden-link detection). Raises ``ConfigError`` when a check's pack data is
    unusable (``security.misstatement`` enabled without dictionary entries).
    """

    def __init__(self, ruleset: RuleSet, site_cfg: Any, start_urls: list[str]):
        self.start_urls = list(start_urls) or list(getattr(site_cfg, "start_urls", []) or [])
        hosts = {urlsplit(u).hostname or "" for u in self.start_urls}
        hosts |= {h.lower() for h in getattr(site_cfg, "extra_hosts", None) or []}
        hosts |= {urlsplit(p).hostname or "" for p in getattr(site_cfg, "prefixes", None) or []}
        self.ctx = PageContext(ruleset, self.start_urls, frozenset(hosts - {""}))
        self.checks: list[PageCheck] = [c.run(self.ctx) for c in checks(PAGE)]
        self.keys = [type(c).__name__ for c in self.checks]      # a check's facts are stored under its class name
        self.pages = 0
        self.errors: list[tuple[str, str]] = []

    def get(self, kind: type[C]) -> C:
        """The scan's instance of the page check class ``kind``."""
        return next(c for c in self.checks if isinstance(c, kind))

    def on_page(self, url: str, html: str, parsed: ParsedPage) -> dict[str, Any] | None:
        """Read one in-scope HTML page (``parsed`` is ``parse_html(html, url)``) and fold its facts into the checks.

        Returns the page's facts by check (class name; a check whose facts are None is left out), to be stored
        and handed to ``replay`` when a later scan finds the page unchanged; None when the page has no document
        (it is not counted). A check that raises on the page folds nothing of it; the others still do, then the
        first error is raised again."""
        view = PageView.build(url, html, parsed)
        if view is None:
            return None
        self.pages += 1
        error: Exception | None = None
        early: list[Any] = []
        for check in self.checks:
            try:
                early.append(check.on_page(view))
            except Exception as exc:  # noqa: BLE001 - raised again below, once the other checks are done
                early.append(_FAILED)
                error = error or exc
        view.strip()
        out: dict[str, Any] = {}
        for key, check, first in zip(self.keys, self.checks, early, strict=True):
            if first is _FAILED:
                continue
            try:
                facts = check.on_main(view, first)
                check.absorb(url, facts)
            except Exception as exc:  # noqa: BLE001 - raised again below, once the other checks are done
                error = error or exc
                continue
            if facts is not None:
                out[key] = facts
        if error is not None:
            raise error
        return out

    def replay(self, url: str, facts: dict[str, Any] | None) -> None:
        """A page read in an earlier scan and unchanged since: count it and fold in the facts ``on_page`` returned
        for it then (a check missing from ``facts`` gave None). None (a page without a document) is not counted.
        Only for facts stored under this ``fingerprint()``."""
        if facts is None:
            return
        self.pages += 1
        for key, check in zip(self.keys, self.checks, strict=True):
            check.absorb(url, facts.get(key))

    async def page_hook(self, url: str, html: str, parsed: ParsedPage, scan_id: int) -> None:
        """``Crawler.page_hooks`` adapter: the page's facts go to ``parsed.facts["checks"]``. A page a check
        failed on is counted in ``errors`` and marked ``volatile`` (read again next scan, its facts are not
        stored); it never stops the crawl."""
        try:
            facts = self.on_page(url, html, parsed)
        except Exception as exc:  # noqa: BLE001 - one odd page must not stop the scan
            parsed.volatile = True
            if len(self.errors) < MAX_ERRORS:
                self.errors.append((url, f"{type(exc).__name__}: {exc}"[:300]))
            return
        parsed.facts["checks"] = facts

    def fingerprint(self) -> str:
        """A short hex digest of everything the facts depend on besides the page: ``FACTS_VERSION``, the rule data
        of every enabled page check, the start URLs and the site's hosts. Stored facts are replayed only when it
        is equal."""
        basis = {"version": FACTS_VERSION, "start_urls": self.start_urls, "site_hosts": sorted(self.ctx.site_hosts),
                 "checks": {key: check.basis() for key, check in zip(self.keys, self.checks, strict=True)}}
        return hashlib.sha256(json.dumps(basis, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]

    def findings(self, as_of: dt.date) -> list[Finding]:
        """Findings of every enabled page rule, judged as of ``as_of``."""
        return [f for check in self.checks for f in check.findings(as_of)]

    @property
    def notes(self) -> list[str]:
        """Judgements that were skipped, e.g. the domain of a loopback start host."""
        return [n for check in self.checks for n in check.notes()]


_FAILED = object()      # the on_page result of a check that raised
