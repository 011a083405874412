"""Date extraction from list rows, URLs and article pages (Chinese government portals).

Everything here runs on every crawled page, so the regexes are compiled once and the
functions work on plain strings.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

__all__ = [
    "parse_date",
    "is_date_text",
    "date_from_url",
    "month_from_url",
    "year_hint_from_url",
    "article_date",
    "normalise_text",
]

MIN_YEAR = 1990
MAX_YEAR = 2100

_FULLWIDTH: dict[int, int | str] = {ord(c): ord(c) - 0xFEE0 for c in "０１２３４５６７８９－／．："}
_FULLWIDTH.update({ord("（"): "(", ord("）"): ")", ord("【"): "[", ord("】"): "]",
                   ord("［"): "[", ord("］"): "]", ord("\u3000"): " ", ord("\xa0"): " ",
                   ord("〔"): "[", ord("〕"): "]"})

_FULL_DATE = re.compile(
    r"(?<!\d)(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})(?!\d)"
)
_MONTH_DAY = re.compile(
    r"(?<![\d\-/.:])(?:(\d{2})\s*[-/]\s*(\d{2})|(\d{1,2})\s*月\s*(\d{1,2})\s*日?)(?![\d\-/.])"
)
_TIME = r"(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?"
_DATE_ONLY = re.compile(
    r"^[\s\[(]*(?:\d{4}\s*(?:[-/.]|年)\s*\d{1,2}\s*(?:[-/.]|月)\s*\d{1,2}\s*日?"
    r"|\d{1,2}\s*[-/]\s*\d{1,2}|\d{1,2}\s*月\s*\d{1,2}\s*日?)" + _TIME + r"[\s\])]*$"
)

_URL_TRS = re.compile(r"[/_]t((?:19|20)\d{2})(\d{2})(\d{2})_")
_URL_HANWEB = re.compile(r"/art/((?:19|20)\d{2})/(\d{1,2})/(\d{1,2})/")
_URL_DASHED = re.compile(r"/((?:19|20)\d{2})-(\d{2})/(\d{2})/")
_URL_EIGHT = re.compile(r"/((?:19|20)\d{2})(\d{2})(\d{2})/")
_URL_MONTH = re.compile(r"/((?:19|20)\d{2})(\d{2})/")
_URL_YEAR = re.compile(r"/((?:19|20)\d{2})/")

_META = re.compile(r"<meta\b[^>]*>", re.I)
_META_NAME = re.compile(r"""\bname\s*=\s*["']?([\w:.-]+)""", re.I)
_META_CONTENT = re.compile(r"""\bcontent\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_PUBDATE_META_NAMES = ("pubdate", "publishdate", "firstpublishedtime", "publishtime",
                      "publish_date", "article:published_time", "dc.date.issued")
_SCRIPT_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_ENTITY_SPACE = re.compile(r"&nbsp;|&#160;|&ensp;|&emsp;", re.I)
_PUBTIME_ID = re.compile(r"""<[^>]+\bid\s*=\s*["']?pubtime["']?[^>]*>\s*([^<]{6,40})""", re.I)
_LABELLED = [
    re.compile(r"(?:发布日期|发布时间|发文日期|公开日期|发表时间|发表日期|更新时间)\s*[:：]?\s*"
               r"[\[(（【]?\s*(\d{4}\s*(?:[-/.．]|年)\s*\d{1,2}\s*(?:[-/.．]|月)\s*\d{1,2})"),
    re.compile(r"(?<!成文)(?<!生效)(?<!废止)(?<!印发)(?<!实施)(?<!截止)(?<!出生)(?<!履约)"
               r"(?:日期|时间)\s*[:：]\s*[\[(（【]?\s*"
               r"(\d{4}\s*(?:[-/.．]|年)\s*\d{1,2}\s*(?:[-/.．]|月)\s*\d{1,2})"),
]


def normalise_text(text: str) -> str:
    """Map full-width digits, punctuation and brackets to ASCII; nbsp/ideographic space to space."""
    return text.translate(_FULLWIDTH)


def _make_date(year: int, month: int, day: int) -> dt.date | None:
    if not (MIN_YEAR <= year <= MAX_YEAR):
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def parse_date(text: str | None, *, url: str | None = None) -> dt.date | None:
    """First valid date in ``text``.

    Full dates (``2026-11-18``, ``2026/11/18``, ``2026.11.18``, ``2026年1月8日``, bracketed,
    full-width, with trailing time) win. A month-day only date (``11-18``, ``11月18日``) takes
    its year from ``url``; without a year in the URL it gives None. Impossible dates are skipped.
    """
    if not text:
        return None
    text = normalise_text(text)
    for m in _FULL_DATE.finditer(text):
        found = _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if found:
            return found
    if url is None:
        return None
    hint = date_from_url(url) or month_from_url(url)
    year = hint.year if hint else year_hint_from_url(url)
    if year is None:
        return None
    for m in _MONTH_DAY.finditer(text):
        month, day = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        found = _make_date(year, int(month), int(day))
        if found is None:
            continue
        if hint and (found - hint).days > 183:
            found = _make_date(year - 1, found.month, found.day) or found
        return found
    return None


def is_date_text(text: str) -> bool:
    """True when the whole text is just a date (optionally bracketed, with a time)."""
    return bool(text) and _DATE_ONLY.match(normalise_text(text)) is not None


def date_from_url(url: str | None) -> dt.date | None:
    """Day-precise date in a URL: TRS ``t20261118_``, Hanweb ``/art/2026/11/18/``, ``/2026-11/18/``."""
    if not url:
        return None
    for pattern in (_URL_TRS, _URL_HANWEB, _URL_DASHED, _URL_EIGHT):
        m = pattern.search(url)
        if m:
            found = _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            if found:
                return found
    return None


def month_from_url(url: str | None) -> dt.date | None:
    """Weak fallback: the 1st of the month of a ``/YYYYMM/`` folder in the URL."""
    if not url:
        return None
    for m in _URL_MONTH.finditer(url):
        found = _make_date(int(m.group(1)), int(m.group(2)), 1)
        if found:
            return found
    return None


def year_hint_from_url(url: str | None) -> int | None:
    """Year from a URL's day date, month folder or ``/YYYY/`` folder, for month-day dates."""
    hint = date_from_url(url) or month_from_url(url)
    if hint:
        return hint.year
    m = _URL_YEAR.search(url or "")
    return int(m.group(1)) if m else None


def _as_html(source: Any) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, bytes):
        return source.decode("utf-8", "replace")
    from lxml import etree  # lazy: only for a parsed element; plain dates never load lxml

    if isinstance(source, etree._Element):
        return etree.tostring(source, encoding="unicode", method="html")
    return str(source)


def article_date(source: Any) -> dt.date | None:
    """Publish date of an article page (HTML text, BeautifulSoup or lxml element).

    Order: ``<meta name="PubDate">`` (also ``pubdate``, ``publishdate``, ``firstpublishedtime``),
    an element with ``id="pubTime"``, then labelled text (发布日期：/发布时间：/日期：, not 成文日期).
    """
    html = _as_html(source)
    head_end = html.lower().find("</head>")
    head = html if head_end < 0 else html[:head_end]
    for tag in _META.findall(head) or _META.findall(html):
        name = _META_NAME.search(tag)
        if not name or name.group(1).lower() not in _PUBDATE_META_NAMES:
            continue
        content = _META_CONTENT.search(tag)
        if content:
            found = parse_date(next(g for g in content.groups() if g is not None))
            if found:
                return found
    m = _PUBTIME_ID.search(html)
    if m:
        found = parse_date(m.group(1))
        if found:
            return found
    text = _TAG.sub(" ", _SCRIPT_STYLE.sub(" ", html))
    text = normalise_text(_ENTITY_SPACE.sub(" ", text))
    for pattern in _LABELLED:
        for m in pattern.finditer(text):
            found = parse_date(m.group(1))
            if found:
                return found
    return None
