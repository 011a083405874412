"""Mandated disclosures: ``disclosure.missing`` and ``disclosure.late`` for every mandated item of the packs
(annual items, items that must be present, and the interpretation every policy document needs).

Title normalisation, year extraction, matching list items to items and due dates are pure: list items in,
assessments out; ``check_disclosures`` turns the assessments into findings; the site check reads the crawled
columns, the dated article pages and what names an item outside any list (``load_standalone``).
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import Text, cast, or_, select

from sitewatch.crawl.listings import GKMLPT_GUIDE
from sitewatch.memo import memo
from sitewatch.models import REVIEW, Finding, ListItem
from sitewatch.packs import DisclosureItem, RuleSet
from sitewatch.rules._site import SiteData
from sitewatch.rules.columns import classify, items_with_columns, site_columns
from sitewatch.rules.links import failed_probes
from sitewatch.rules.registry import site_check
from sitewatch.store import LinkRow, PageRow, Store, TargetRow

DISCLOSURE_MISSING = "disclosure.missing"
DISCLOSURE_LATE = "disclosure.late"

OK = "ok"
MISSING = "missing"
LATE = "late"
NOT_DUE = "not_due"

_QUOTES = "“”‘’\"'「」『』〝〞＂｀`"
_QUOTE_TABLE = str.maketrans("", "", _QUOTES)
_SPACE_RE = re.compile(r"\s+")
_CN_DIGITS = str.maketrans("〇零○一二三四五六七八九", "001123456789")
_YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})年|([〇零○一二三四五六七八九]{4})年")
_BARE_YEAR_RE = re.compile(r"(?<![\d〔\[【(])((?:19|20)\d{2})(?![\d〕\]】)])")
_DOCNO_RE = re.compile(r"([\u4e00-\u9fff]{1,8})[〔\[【(]\s*((?:19|20)\d{2})\s*[〕\]】)]\s*第?(\d{1,4})\s*号")
_BOOK_TITLE_RE = re.compile(r"《([^《》]{2,})》")
_DOC_SUFFIX_RE = re.compile(r"的(通知|通告|公告|决定|意见|批复|函)$")
_PAREN_RE = re.compile(r"\([^()]*\)$")
_EXT_RE = re.compile(r"\.[A-Za-z0-9]{1,5}$")


@memo()
def normalise_title(text: str) -> str:
    """NFKC (full-width to half-width), drop whitespace and quotes: “三公”经费, "三公"经费, 「三公」 → 三公经费.
    Memoised: the rule keywords are normalised again for every title they are looked for in."""
    return _SPACE_RE.sub("", unicodedata.normalize("NFKC", text)).translate(_QUOTE_TABLE)


def _year_spans(norm: str) -> list[tuple[int, int, int]]:
    spans = []
    for m in _YEAR_RE.finditer(norm):
        year = int(m[1]) if m[1] else int(m[2].translate(_CN_DIGITS))
        spans.append((m.start(), m.end(), year))
    if not spans:
        spans = [(m.start(), m.end(), int(m[1])) for m in _BARE_YEAR_RE.finditer(norm)]
    return spans


def extract_years(text: str) -> list[int]:
    """Years named in a title, in order: 2026年, 2026年度, 二〇二六年; a bare 2026 only when no 年 form."""
    return [year for _, _, year in _year_spans(normalise_title(text))]


def _bound_years(norm: str, words: Iterable[str]) -> set[int]:
    """Years that belong to the keyword: the nearest year before each occurrence, else the first after."""
    spans = _year_spans(norm)
    years: set[int] = set()
    for word in words:
        for m in re.finditer(re.escape(normalise_title(word)), norm):
            before = [y for s, e, y in spans if e <= m.start()]
            after = [y for s, e, y in spans if s >= m.end()]
            if before:
                years.add(before[-1])
            elif after:
                years.add(after[0])
    return years


def match_years(item: DisclosureItem, text: str) -> set[int] | None:
    """None when ``text`` is not this item; else the years it is for (empty when it names none)."""
    norm = normalise_title(text)
    if not norm or any(normalise_title(w) in norm for w in item.exclude):
        return None
    for group in item.keywords:
        if not any(normalise_title(w) in norm for w in group):
            return None
    return _bound_years(norm, item.keywords[0])


def candidate_texts(item: ListItem) -> list[tuple[str, str]]:
    """(text, url) pairs an inspector would read: title, attachment link texts and attachment file names."""
    out = [(item.title, item.url)]
    for text, url in item.attachments:
        if text and text.strip():
            out.append((text, url))
        name = _EXT_RE.sub("", unquote(posixpath.basename(urlsplit(url).path)))
        if name:
            out.append((name, url))
    return out


@dataclass(frozen=True, slots=True)
class Match:
    """A list item (or one of its attachments) that is a given mandated item."""

    text: str
    url: str
    date: dt.date | None
    years: frozenset[int]
    attachment: bool = False        # an attachment's text or file name, not the item's own title


def find_matches(item: DisclosureItem, items: Iterable[ListItem]) -> list[Match]:
    """Every title, attachment text or file name that is ``item``, one per (url, text)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for li in items:
        for text, url in candidate_texts(li):
            years = match_years(item, text)
            if years is None or (url, text) in seen:
                continue
            seen.add((url, text))
            out.append(Match(text, url, li.date, frozenset(years), attachment=url != li.url))
    return out


@dataclass(frozen=True, slots=True)
class Due:
    """Which year of an item is required, and by when."""

    year: int
    due: dt.date
    basis: str  # "approval" (approval date + N days, from the site config) or "default" (the pack's MM-DD)


def due_for_year(item: DisclosureItem, year: int, approvals: Mapping[str, Mapping[Any, Any]] | None = None) -> Due:
    """Due date of the item for content ``year``; an approval date from the site config takes precedence."""
    approved = _approval_date(item, year, approvals or {})
    if approved is not None and item.approval_days is not None:
        return Due(year, approved + dt.timedelta(days=item.approval_days), "approval")
    assert item.due is not None
    month, day = item.due
    return Due(year, dt.date(year - item.year_offset, month, day), "default")


def _approval_date(item: DisclosureItem, year: int, approvals: Mapping[str, Mapping[Any, Any]]) -> dt.date | None:
    if not item.approval:
        return None
    table = approvals.get(item.approval) or {}
    value = table.get(str(year), table.get(year))
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    return None


def required_due(item: DisclosureItem, as_of: dt.date,
                 approvals: Mapping[str, Mapping[Any, Any]] | None = None) -> Due | None:
    """The most recent instance of an annual item whose due date has passed (is before ``as_of``)."""
    for year in range(as_of.year + 1, as_of.year - 4, -1):
        due = due_for_year(item, year, approvals)
        if due.due < as_of:
            return due
    return None


@dataclass(frozen=True, slots=True)
class Assessment:
    """The verdict on one mandated item: ok, missing, late or not_due."""

    item: DisclosureItem
    status: str
    year: int | None = None
    due: Due | None = None
    found: Match | None = None
    implied_by_found: Match | None = None  # the parent item (e.g. 部门预算) when this one (三公) was not found


def assess_item(item: DisclosureItem, items: list[ListItem], as_of: dt.date,
                approvals: Mapping[str, Mapping[Any, Any]] | None = None,
                ruleset: RuleSet | None = None) -> Assessment:
    """Assess an ``annual`` or ``present`` item against all list items of the site."""
    matches = find_matches(item, items)
    if item.kind == "present":
        best = _earliest(matches)
        return Assessment(item, OK if best else MISSING, found=best)
    due = required_due(item, as_of, approvals)
    if due is None:
        return Assessment(item, NOT_DUE)
    for_year = [m for m in matches if due.year in m.years]
    on_time = [m for m in for_year if m.date is None or m.date <= due.due]
    if on_time:
        return Assessment(item, OK, due.year, due, _earliest(on_time))
    if for_year:
        return Assessment(item, LATE, due.year, due, _earliest(for_year))
    parent = None
    if item.implied_by and ruleset is not None:
        parent_item = ruleset.item(item.implied_by)
        parent = _earliest([m for m in find_matches(parent_item, items) if due.year in m.years])
    return Assessment(item, MISSING, due.year, due, implied_by_found=parent)


def _earliest(matches: list[Match]) -> Match | None:
    if not matches:
        return None
    # on the same day the item's own page names it better than one of its attachments
    return min(matches, key=lambda m: (m.date is None, m.date or dt.date.max, m.attachment, m.url))


# ---------------------------------------------------------------- policy documents and interpretations

@dataclass(frozen=True, slots=True)
class DocumentNumber:
    """A 文号 such as 中西府规〔2024〕1号, split so that variants of the issuer prefix still compare equal."""

    prefix: str
    year: int
    number: int

    def __str__(self) -> str:
        return f"{self.prefix}〔{self.year}〕{self.number}号"

    @property
    def regulatory(self) -> bool:
        """True for a 行政规范性文件 number (…规〔YYYY〕N号)."""
        return self.prefix.endswith("规")

    def same(self, other: DocumentNumber) -> bool:
        return (self.year, self.number) == (other.year, other.number) and (
            self.prefix.endswith(other.prefix[-2:]) or other.prefix.endswith(self.prefix[-2:]))


def document_numbers(text: str) -> list[DocumentNumber]:
    """All 文号 in a text; brackets 〔〕[]【】() and full-width forms are accepted."""
    return [DocumentNumber(m[1], int(m[2]), int(m[3])) for m in _DOCNO_RE.finditer(normalise_title(text))]


def core_title(title: str) -> str:
    """The name a 解读 refers to: the first 《…》, else the title without 关于印发 … 的通知 and its 文号."""
    norm = normalise_title(title)
    book = _BOOK_TITLE_RE.search(norm)
    if book:
        return book[1]
    text = _DOCNO_RE.sub("", norm)
    while _PAREN_RE.search(text):
        text = _PAREN_RE.sub("", text)
    if "印发" in text:
        text = text.rsplit("印发", 1)[1]
    elif "关于" in text:
        text = text.split("关于", 1)[1]
    return _DOC_SUFFIX_RE.sub("", text).strip("《》")


_TITLE_SEP_RE = re.compile(r"\s*[_|｜]\s*|\s+[-–—]\s+")
_ISSUED_RE = re.compile(r"(印发|发布|颁布)")

BASIS_NUMBER = "number"     # a 规〔YYYY〕N号 文号
BASIS_COLUMN = "column"     # an item of a 规范性文件 column
BASIS_TITLE = "title"       # only the title form says so (《…办法》, 关于印发《…规定》的通知): to be confirmed


def normative_title(title: str, forms: Iterable[str]) -> bool:
    """True when ``title`` is the title of a normative document by its form: it ends with one of ``forms``
    (办法, 规定, 细则 …) after a name, either alone (XX管理办法, 《XX规定》, 关于XX的实施意见) or as what a
    关于印发《…》的通知 issues. A title quoting a document inside other words (我区出台《XX办法》) or merely
    containing a form word (…规定动作…, 关于开展…的通知) is not one. Site-name suffixes (XX办法_西区办事处) are
    ignored."""
    forms = [normalise_title(f) for f in forms if f]
    if not forms:
        return False
    norm = normalise_title(title)
    for text in dict.fromkeys((norm, _TITLE_SEP_RE.split(title.strip(), 1)[0])):
        text = _DOCNO_RE.sub("", normalise_title(text))
        while _PAREN_RE.search(text):
            text = _PAREN_RE.sub("", text)
        if _ISSUED_RE.search(text):
            text = _DOC_SUFFIX_RE.sub("", _ISSUED_RE.split(text)[-1])
        text = text.strip()
        if text.startswith("《") and text.endswith("》"):
            text = text[1:-1]
        if "《" in text or "》" in text:
            continue
        if any(text.endswith(f) and len(text) >= len(f) + 2 for f in forms):
            return True
    return False


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """A policy document that needs an interpretation; ``basis`` says how it was recognised (BASIS_*)."""

    item: ListItem
    column: str | None
    number: DocumentNumber | None
    core: str
    basis: str = BASIS_NUMBER

    @property
    def label(self) -> str:
        return str(self.number) if self.number else self.core


@dataclass(frozen=True, slots=True)
class InterpretationCheck:
    """The verdict on one policy document: ok, missing, late or not_due."""

    document: PolicyDocument
    status: str
    due: dt.date | None
    found: Match | None = None


def _has_any(norm: str, words: Iterable[str]) -> bool:
    return any(normalise_title(w) in norm for w in words)


def _words(item: DisclosureItem) -> tuple[str, ...]:
    return tuple(w for group in item.keywords for w in group)


def policy_documents(item: DisclosureItem, items_with_columns: Iterable[tuple[ListItem, str | None]],
                     title_skip_columns: Iterable[str] = ()) -> list[PolicyDocument]:
    """List items that are policy documents: a 规 文号, an item of a 规范性文件 column, or (basis ``title``,
    to be confirmed) a title of a normative form (``item.document_titles``) outside ``title_skip_columns``
    (news columns: a report is not the document)."""
    skip = {normalise_title(c) for c in title_skip_columns if c}
    out: dict[str, PolicyDocument] = {}
    for li, column in items_with_columns:
        col = normalise_title(column or "")
        title = normalise_title(li.title)
        if li.url in out or _has_any(title, _words(item)) or (col and _has_any(col, item.interpretation_columns)):
            continue
        numbers = document_numbers(li.document_number or "") or document_numbers(li.title)
        if any(n.regulatory for n in numbers):
            basis = BASIS_NUMBER
        elif col and _has_any(col, item.document_columns):
            basis = BASIS_COLUMN
        elif col not in skip and normative_title(li.title, item.document_titles):
            basis = BASIS_TITLE
        else:
            continue
        number = next((n for n in numbers if n.regulatory), numbers[0] if numbers else None)
        core = core_title(_TITLE_SEP_RE.split(li.title.strip(), 1)[0]) if basis == BASIS_TITLE else core_title(li.title)
        out[li.url] = PolicyDocument(li, column, number, core, basis)
    return list(out.values())


def interpretation_candidates(item: DisclosureItem, items_with_columns: Iterable[tuple[ListItem, str | None]]
                              ) -> list[ListItem]:
    """List items that are interpretations: a 解读 keyword in the title, or an item of a 政策解读 column."""
    out = []
    for li, column in items_with_columns:
        col = normalise_title(column or "")
        if _has_any(normalise_title(li.title), _words(item)) or (col and _has_any(col, item.interpretation_columns)):
            out.append(li)
    return out


def _refers_to(text: str, doc: PolicyDocument) -> bool:
    norm = normalise_title(text).replace("《", "").replace("》", "")
    if len(doc.core) >= 4 and doc.core in norm:
        return True
    return doc.number is not None and any(doc.number.same(n) for n in document_numbers(text))


def check_interpretations(item: DisclosureItem, items_with_columns: Iterable[tuple[ListItem, str | None]],
                          as_of: dt.date, title_skip_columns: Iterable[str] = ()) -> list[InterpretationCheck]:
    """Each policy document with the interpretation found for it (by 《title》 or 文号), or why not."""
    pairs = list(items_with_columns)
    docs = policy_documents(item, pairs, title_skip_columns)
    interps = interpretation_candidates(item, pairs)
    grace = dt.timedelta(days=item.grace_days)
    out = []
    for doc in docs:
        date = doc.item.date
        if item.lookback_days and date is not None and date < as_of - dt.timedelta(days=item.lookback_days):
            continue
        due = date + grace if date is not None else None
        found = [Match(text, url, doc.item.date, frozenset())
                 for text, url in candidate_texts(doc.item)[1:] if _has_any(normalise_title(text), _words(item))]
        found += [Match(li.title, li.url, li.date, frozenset()) for li in interps
                  if li.url != doc.item.url and _refers_to(li.title, doc)]
        best = _earliest(found)
        if best is None:
            status = NOT_DUE if due is not None and due >= as_of else MISSING
        elif due is not None and best.date is not None and best.date > due:
            status = LATE
        else:
            status = OK
        out.append(InterpretationCheck(doc, status, due, best))
    return out


# ---------------------------------------------------------------- findings

@site_check(DISCLOSURE_MISSING, DISCLOSURE_LATE)
def disclosures(site: SiteData) -> list[Finding]:
    """Every enabled mandated item over the crawled lists, the article pages and the standalone pages."""
    if not site.pages:          # no page crawled: nothing was looked for, so nothing is "missing"
        return []
    pairs, standalone, cfg = _site_inputs(site)
    found = check_disclosures(pairs, site.as_of, site.ruleset, cfg, standalone=standalone)
    _add_guide_probes(found, failed_probes(site.store, site.scan_id))
    return found


def _site_inputs(site: SiteData) -> tuple[list[tuple[ListItem, str | None]], list[ListItem], dict[str, Any]]:
    """The (item, column) pairs, the standalone pages and the site settings the disclosure checks read."""
    cols, _, articles = site_columns(site)
    pairs = items_with_columns(cols) + [(item, None) for item in articles]
    present = [w for i in site.ruleset.items if i.enabled and i.kind == "present" for w in i.keywords[0]]
    standalone = load_standalone(site.store, site.scan_id, present)
    return pairs, standalone, {"url": site.site_url, "pinned": site.pinned, **site.cfg.disclosures}


def found_disclosures(site: SiteData) -> dict[str, Assessment]:
    """Each enabled annual or present item assessed as the check assesses it, by item id: what a report names for
    an item that was found in time (title, URL, date, year), since no finding records it."""
    if not site.pages:
        return {}
    pairs, standalone, cfg = _site_inputs(site)
    items, pages, approvals, _ = _assessment_inputs(pairs, site.ruleset, cfg, standalone)
    return {item.id: assess_item(item, items + pages if item.kind == "present" else items, site.as_of, approvals,
                                 site.ruleset)
            for item in site.ruleset.items if item.enabled and item.kind != "per_document"}


def _assessment_inputs(pairs: list[tuple[ListItem, str | None]], ruleset: RuleSet, cfg: Mapping[str, Any],
                       standalone: Iterable[ListItem]
                       ) -> tuple[list[ListItem], list[ListItem], Mapping[str, Any], set[str]]:
    """The list items that count (news columns left out), the standalone pages, the approvals, the news columns."""
    news = {name for _, name in pairs if name and classify(name, ruleset, cfg.get("pinned")) == "dynamic"}
    items = [li for li, name in pairs if name not in news]
    return items, list(standalone), cfg.get("approvals") or {}, news


def check_disclosures(items_with_columns: Iterable[tuple[ListItem, str | None]], as_of: dt.date,
                      ruleset: RuleSet, site_cfg: Mapping[str, Any] | None = None,
                      standalone: Iterable[ListItem] = ()) -> list[Finding]:
    """disclosure.missing / disclosure.late for every enabled mandated item.

    ``standalone``: what names an item outside the lists (page titles and column names of standalone pages,
    navigation and footer link texts; see ``load_standalone``); it counts for items of kind ``present``
    (the 信息公开指南), whose year and date do not matter.

    Items of news columns (category ``dynamic``) are not taken as disclosures: a report on a 预算 meeting
    is not the budget. ``site_cfg`` keys used: ``url`` (the site's URL, target of the findings),
    ``approvals`` (``{"budget": {"2026": date}, "final_accounts": {...}}``: 批复 dates; the item is then
    due ``approval_days`` later), ``pinned`` (column name → category, as for ``classify``).
    """
    cfg = site_cfg or {}
    pairs = list(items_with_columns)
    items, pages, approvals, news = _assessment_inputs(pairs, ruleset, cfg, standalone)
    site_url = str(cfg.get("url") or "")
    findings: list[Finding] = []
    for item in ruleset.items:
        if not item.enabled:
            continue
        if item.kind == "per_document":
            for check in check_interpretations(item, pairs, as_of, title_skip_columns=news):
                finding = _interpretation_finding(check, item, as_of, ruleset)
                if finding:
                    findings.append(finding)
            continue
        seen = items + pages if item.kind == "present" else items
        finding = _disclosure_finding(assess_item(item, seen, as_of, approvals, ruleset), site_url, as_of, ruleset)
        if finding:
            findings.append(finding)
    return findings


def _disclosure_finding(a: Assessment, site_url: str, as_of: dt.date, ruleset: RuleSet) -> Finding | None:
    rule_id = {MISSING: DISCLOSURE_MISSING, LATE: DISCLOSURE_LATE}.get(a.status)
    if rule_id is None or not ruleset.enabled(rule_id):
        return None
    item = a.item
    label = f"{a.year}年度{item.name_zh}" if a.year is not None else item.name_zh
    due = a.due.due if a.due else None
    severity = ruleset.severity(rule_id)
    if a.status == LATE:
        assert a.found is not None and a.found.date is not None and due is not None
        message = (f"{label}应于 {due} 前公开，实际发布 {a.found.date}，逾期 {(a.found.date - due).days} 天"
                   f"（监测日 {as_of}）")
    elif a.implied_by_found is not None:
        severity = REVIEW
        parent = ruleset.item(item.implied_by).name_zh if item.implied_by else ""
        message = (f"未在标题、附件名中找到{label}，已找到{a.year}年度{parent}“{a.implied_by_found.text}”，"
                   f"请核实其中是否包含{item.name_zh}（监测日 {as_of}）")
    elif due is not None:
        message = f"未找到{label}（应于 {due} 前公开，监测日 {as_of}）"
    else:
        message = f"未找到{label}（监测日 {as_of}）"
    found = a.found or a.implied_by_found
    return Finding(
        rule=rule_id,
        severity=severity,
        url=site_url,
        message=message,
        found_on=[found.url] if found else [],
        evidence={
            "due": _iso(due),
            "due_basis": a.due.basis if a.due else None,
            "due_provenance": item.due_provenance if a.due and a.due.basis == "default" else item.provenance,
            "found_url": found.url if found else None,
            "found_date": _iso(found.date) if found else None,
            "found_text": found.text if found else None,
            "provenance": item.provenance,
            "source": item.source,
        },
        extra={"item": item.id, "year": a.year, "document": None},
    )


def _interpretation_finding(check: InterpretationCheck, item: DisclosureItem, as_of: dt.date,
                            ruleset: RuleSet) -> Finding | None:
    rule_id = {MISSING: DISCLOSURE_MISSING, LATE: DISCLOSURE_LATE}.get(check.status)
    if rule_id is None or not ruleset.enabled(rule_id):
        return None
    doc = check.document
    published = f"，发布 {doc.item.date}" if doc.item.date else ""
    number = f"（{doc.number}{published}）" if doc.number else (f"（{published[1:]}）" if published else "")
    what = f"政策文件《{doc.core}》{number}"
    if check.status == LATE:
        assert check.found is not None and check.found.date is not None
        message = f"{what}的解读材料发布于 {check.found.date}，晚于应发布日期 {check.due}（监测日 {as_of}）"
    else:
        message = f"{what}未找到配套政策解读（按《》标题或文号查找，监测日 {as_of}）"
    severity = ruleset.severity(rule_id)
    if doc.basis == BASIS_TITLE:        # recognised by its title form only: is it a 规范性文件? a human decides
        severity = REVIEW
        message += "；该文件按标题形式推定为规范性文件，文号中无“规”字，请核实"
    year = doc.number.year if doc.number else (doc.item.date.year if doc.item.date else None)
    return Finding(
        rule=rule_id,
        severity=severity,
        url=doc.item.url,
        message=message,
        found_on=[check.found.url] if check.found else [],
        evidence={
            "due": _iso(check.due),
            "found_url": check.found.url if check.found else None,
            "found_date": _iso(check.found.date) if check.found else None,
            "document_title": doc.item.title,
            "document_date": _iso(doc.item.date),
            "column": doc.column,
            "document_basis": doc.basis,
            "provenance": item.provenance,
            "source": item.source,
        },
        extra={"item": item.id, "year": year, "document": doc.label},
    )


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _add_guide_probes(findings: list[Finding], probes: list[dict[str, Any]]) -> None:
    """A missing 信息公开指南 names the guessed guide URLs that were probed and did not answer (evidence.probed)."""
    guides = [p for p in probes if p["url"].endswith(GKMLPT_GUIDE)]
    for f in findings:
        if guides and f.rule == "disclosure.missing" and f.extra.get("item") == "disclosure_guide":
            f.evidence["probed"] = guides
            f.message += "（已探测 " + "、".join(
                f"{p['url']}：{'HTTP ' + str(p['status']) if 'status' in p else p['error']}" for p in guides) + "）"


def load_standalone(store: Store, scan_id: int, words: Sequence[str]) -> list[ListItem]:
    """What names a mandated item outside any list: crawled pages whose title, ColumnName or ArticleTitle holds
    one of ``words`` (a 信息公开指南 column page that is the guide, the gkmlpt guide) and link texts holding one
    (navigation, footer, a catalogue's header). Pages that answered broken do not count, nor link texts whose
    target was not checked and found working (a link that was not followed measures nothing).
    Undated: used for items that must be present, not for the annual ones (a date decides those)."""
    words = [w for w in dict.fromkeys(words) if w]
    if not words:
        return []
    broken = select(TargetRow.c.url).where(TargetRow.c.scan_id == scan_id, TargetRow.c.verdict == "broken")
    working = select(TargetRow.c.url).where(TargetRow.c.scan_id == scan_id, TargetRow.c.verdict.in_(("ok", "warning")))
    meta_text = cast(PageRow.c.meta, Text)      # stored as JSON text, non-ASCII as is
    out: list[ListItem] = []
    seen: set[tuple[str, str]] = set()
    with store.engine.connect() as c:
        pages = select(PageRow.c.url, PageRow.c.title, PageRow.c.meta).where(
            PageRow.c.scan_id == scan_id, PageRow.c.url.not_in(broken),
            or_(*[PageRow.c.title.contains(w) for w in words], *[meta_text.contains(w) for w in words]))
        for r in c.execute(pages.order_by(PageRow.c.id)):
            meta = r.meta or {}
            for text in (r.title, meta.get("articletitle"), meta.get("columnname")):
                if text and any(w in text for w in words) and (r.url, text) not in seen:
                    seen.add((r.url, text))
                    out.append(ListItem(title=text, url=r.url))
        links = select(LinkRow.c.target, LinkRow.c.text).where(
            LinkRow.c.scan_id == scan_id, LinkRow.c.tag == "a", LinkRow.c.target.in_(working),
            or_(*[LinkRow.c.text.contains(w) for w in words]))
        for link in c.execute(links.order_by(LinkRow.c.id)):
            if (link.target, link.text) not in seen:
                seen.add((link.target, link.text))
                out.append(ListItem(title=link.text, url=link.target))
    return out
