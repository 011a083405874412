"""服务不实用 (V5): a 办事服务 entry somewhere on the site; 办事指南 pages with their ten elements.

A 办事指南 is a page that presents itself as one: a title segment, an h1/h2 heading or its ArticleTitle names a
guide for one item (居住证签注办事指南), or its column (ColumnName meta, 当前位置 breadcrumb) is a guide column and
its main area has element headings. A page that merely mentions 受理机构/收费/咨询电话 (a news article) is not one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from sitewatch.extract import text_of
from sitewatch.models import Finding
from sitewatch.packs import COLUMN_RULES
from sitewatch.rules._page import (
    PageCheck,
    PageContext,
    PageView,
    entry_link,
    keyword_regex,
    literal_words,
    squash,
    title_segments,
)
from sitewatch.rules.columns import classify
from sitewatch.rules.registry import page_check

NONE = "service.none"
INCOMPLETE = "service.guide_incomplete"
VETO = "veto.service_guides"

# 当前位置 trails: TRS/Fujian div.breadcrumb, Hanweb/others class or id position/location/crumb/dqwz
_CRUMBS = etree.XPath("//*[contains(@class,'crumb') or contains(@class,'position') or contains(@class,'location')"
                      " or contains(@class,'dqwz') or contains(@id,'crumb') or contains(@id,'position')"
                      " or contains(@id,'location') or contains(@id,'dqwz')]")
_CRUMB_TEXT = re.compile(r"(?:当前位置|您的位置|所在位置|现在的位置)\s*[：:]\s*(.{0,120})")
_TRAILING_BRACKETS = re.compile(r"[（(【\[][^（）()【】\[\]]*[）)】\]]$")


@dataclass(slots=True)
class Guide:
    url: str
    title: str
    missing: tuple[str, ...]
    found: int


@page_check(NONE, INCOMPLETE, VETO)
class Services(PageCheck):
    uses = COLUMN_RULES                 # the column categories: a guide in a news column is a report, not a guide

    def __init__(self, ctx: PageContext):
        super().__init__(ctx)
        ruleset = ctx.ruleset
        self.start_url = ctx.site
        self.want_entry = ruleset.enabled(NONE)
        self.want_guides = ruleset.enabled(INCOMPLETE) or ruleset.enabled(VETO)
        self.entry_words = literal_words(ruleset.keywords(NONE, "entry")) if ruleset.has(NONE) else ()
        self.platform_words = literal_words(ruleset.keywords(NONE, "platform")) if ruleset.has(NONE) else ()
        guide_rule = ruleset.get(INCOMPLETE) if ruleset.has(INCOMPLETE) else None
        words = dict(guide_rule.keywords) if guide_rule else {}
        self.guide_words = words.pop("guide", ())
        self.guide_re = keyword_regex(self.guide_words)
        self.elements = [(ws[0], keyword_regex(ws)) for ws in words.values() if ws]
        self.min_elements = int(guide_rule.threshold.get("min_elements", 3)) if guide_rule else 3
        self.pages = 0
        self.entry: dict[str, str] | None = None
        self.guides: dict[str, Guide] = {}

    # facts of a page: {"entry": {"link": url, "text": text}, "guide": {"title": title, "missing": [element, ...],
    # "found": n}}, each key only when it has something (on_page hands on_main the page's column names as
    # "columns" when the page names a guide)
    def on_page(self, view: PageView) -> Any:
        facts: dict[str, Any] = {}
        if self.want_guides and self.guide_re is not None and self.guide_re.search(view.text + view.title):
            facts["columns"] = self._column_names(view)
        if self.want_entry:
            entry = entry_link(view, self.entry_words, self.platform_words)
            if entry is not None:
                facts["entry"] = entry
        return facts

    def on_main(self, view: PageView, early: Any) -> Any:
        facts: dict[str, Any] = early or {}
        columns = facts.pop("columns", None)
        if self.want_guides and self.elements and columns is not None:     # None: no guide word on the page
            guide = self._guide(view, columns)
            if guide is not None:
                facts["guide"] = guide
        return facts or None

    def _guide(self, view: PageView, columns: list[str]) -> dict[str, Any] | None:
        if any(classify(c, self.ruleset) == "dynamic" for c in columns):
            return None                         # a news column: a report about guides is not one
        text = view.main_text
        present = [name for name, rx in self.elements if rx is not None and rx.search(text)]
        in_guide_column = (self.guide_re is not None and any(self.guide_re.search(c) for c in columns)
                           and len(present) >= self.min_elements)
        if not (in_guide_column or self._named_guide(view)):
            return None
        missing = [name for name, _ in self.elements if name not in present]
        title = view.headings[0] if view.headings else view.meta.get("articletitle") or view.title
        return {"title": title[:80], "missing": missing, "found": len(present)}

    def absorb(self, url: str, facts: Any) -> None:
        self.pages += 1
        if not facts:
            return
        entry = facts.get("entry")
        if entry is not None and self.entry is None:           # the first page naming an entry
            self.entry = {"page": url, **entry}
        guide = facts.get("guide")
        if guide is not None and url not in self.guides:        # a page read twice is one guide: the first read
            self.guides[url] = Guide(url, guide["title"], tuple(guide["missing"]), guide["found"])

    def _column_names(self, view: PageView) -> list[str]:
        """The page's column: its ColumnName meta and the last steps of its 当前位置 breadcrumb."""
        names = [view.meta["columnname"]] if view.meta.get("columnname") else []
        for el in _CRUMBS(view.doc)[:3]:
            steps = [s for s in re.split(r"[>＞»›/]|\s{2,}", squash(text_of(el))) if s.strip()]
            names += [s.strip() for s in steps[-2:]]
        m = _CRUMB_TEXT.search(view.text)
        if m:
            names += [s.strip() for s in re.split(r"[>＞»›/]", m.group(1))[-2:] if s.strip()]
        return names

    def _named_guide(self, view: PageView) -> bool:
        """A title segment, h1/h2 or ArticleTitle naming a guide for one item (not the bare column name 办事指南):
        the guide word ends it (a version or year in brackets may follow) after an item name."""
        assert self.guide_re is not None
        texts = title_segments(view.title) + view.headings + [view.meta.get("articletitle", "")]
        for seg in texts:
            seg = _TRAILING_BRACKETS.sub("", seg.strip()).strip("《》 ")
            m = self.guide_re.search(seg)
            if m and m.end() == len(seg) and m.start() > 1:
                return True
        return False

    def findings(self, as_of: dt.date) -> list[Finding]:
        rs = self.ruleset
        out: list[Finding] = []
        if self.want_entry and self.entry is None and self.pages:
            out.append(Finding(
                rule=NONE, severity=rs.severity(NONE), url=self.start_url,
                message=f"在{self.pages}个页面中未发现办事服务入口（办事服务/政务服务链接或政务服务平台链接）；要求：提供办事服务",
                evidence={"pages_checked": self.pages, "keywords": list(rs.keywords(NONE, "entry")),
                          "platform": list(rs.keywords(NONE, "platform"))}))
        total = len(self.elements)
        guides = sorted(self.guides.values(), key=lambda g: g.url)
        if rs.enabled(INCOMPLETE):
            for g in guides:
                if g.missing:
                    out.append(Finding(
                        rule=INCOMPLETE, severity=rs.severity(INCOMPLETE), url=g.url,
                        message=f"办事指南“{g.title}”缺少{len(g.missing)}类要素：{'、'.join(g.missing)}"
                                f"（应具备{total}类要素）",
                        evidence={"missing": list(g.missing), "missing_count": len(g.missing),
                                  "elements": total}))
        if rs.enabled(VETO):
            min_missing = int(rs.threshold(VETO, "min_missing"))
            min_guides = int(rs.threshold(VETO, "min_guides"))
            bad = [g for g in guides if len(g.missing) >= min_missing]
            if len(bad) >= min_guides:
                out.append(Finding(
                    rule=VETO, severity=rs.severity(VETO), url=self.start_url, found_on=[g.url for g in bad],
                    message=f"{len(bad)}个办事指南缺失{min_missing}类以上要素（阈值：{min_guides}个及以上即单项否决）",
                    evidence={"guides": len(bad), "min_guides": min_guides, "min_missing": min_missing,
                              "guides_checked": len(guides),
                              "examples": [{"url": g.url, "missing": list(g.missing)} for g in bad[:20]]}))
        return out
