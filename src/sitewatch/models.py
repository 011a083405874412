"""Plain data types shared by the crawl, the checks and the reports.

The pipeline: the crawl produces pages, links and list items; checks turn them into findings;
reports render findings. These types are the seams between those steps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

FINDINGS_SCHEMA = "sitewatch.findings/1"

# Severity values used in findings and rule packs.
VETO = "veto"        # 单项否决
DEDUCT = "deduct"    # 扣分
WARN = "warn"        # 提醒
REVIEW = "review"    # 待核实 (needs a human)
SEVERITY_ZH = {VETO: "单项否决", DEDUCT: "扣分", WARN: "提醒", REVIEW: "待核实"}


@dataclass(slots=True)
class ListItem:
    """One entry of a column's list: what an inspector sees on a listing page."""

    title: str
    url: str                              # absolute URL of the item (article or attachment)
    date: dt.date | None = None           # the date that counts for freshness
    date_source: str | None = None        # "list", "url", "article", "api"
    pinned: bool = False                  # 置顶
    attachments: Sequence[tuple[str, str]] = field(default_factory=list)  # (link text, absolute url)
    document_number: str | None = None    # 文号, when the platform gives it


@dataclass(slots=True)
class Listing:
    """What a list engine read from one listing page (or one API column)."""

    engine: str                           # "generic", "trs", "gkmlpt", "hanweb", "fujian"
    items: list[ListItem]
    page_urls: list[str] = field(default_factory=list)  # other pages of the same column to crawl
    total: int | None = None              # the declared item count, when the page states it
    column_name: str | None = None
    column_key: str | None = None         # stable id of the column (listing directory or API category)
    empty_marker: bool = False            # the page says 暂无信息 / 暂无数据


@dataclass(slots=True)
class Finding:
    """One problem, tied to the rule it breaks. Serialised as an entry of the findings JSON."""

    rule: str
    severity: str
    url: str
    message: str
    found_on: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # rule-specific keys: column, last_update, item, year ...

    @property
    def fingerprint(self) -> str:
        """Stable id of the same problem across scans: rule + normalised target + column/item/year."""
        parts = [self.rule, normalise_for_fingerprint(self.url)]
        for key in ("column", "item", "year", "document"):
            if self.extra.get(key) is not None:
                parts.append(f"{key}={self.extra[key]}")
        return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity,
            "url": self.url,
            "found_on": list(self.found_on),
            "evidence": dict(self.evidence),
            "message": self.message,
        }
        out.update(self.extra)
        out["fingerprint"] = self.fingerprint
        return out


def normalise_for_fingerprint(url: str) -> str:
    """Drop scheme and a trailing slash so http/https and dir/ variants fingerprint alike."""
    u = url.split("#", 1)[0]
    for prefix in ("https://", "http://"):
        if u.startswith(prefix):
            u = u[len(prefix):]
            break
    return u.rstrip("/").lower()
