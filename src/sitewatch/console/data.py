"""What the console's pages show, read from the store: the numbers come from ``reporting.data.scan_numbers`` (the
one source every report, the findings JSON and ``sitewatch status`` use), the problem rows from
``reporting.data.problem_rows``; a unit user's rows and counts are those of its own 责任科室 only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sitewatch.console.accounts import UNIT, User
from sitewatch.reporting.data import load_scan_rules, problem_rows, scan_numbers
from sitewatch.reporting.numbers import ScanNumbers
from sitewatch.store import ScanRecord, Store

SHOWN_PROBLEMS = 20          # problem rows the overview lists per site


def sees_unit(user: User, unit: str) -> bool:
    """Whether ``user`` may see a problem of ``unit`` (责任科室): a unit user its own only, other roles all."""
    return user.role != UNIT or (user.unit is not None and unit == user.unit)


def visible_problems(user: User, store: Store, scan: ScanRecord, numbers: ScanNumbers | None = None
                     ) -> list[dict[str, Any]]:
    """The problem rows of ``scan`` (``reporting.data.problem_rows``: most severe first, with 责任科室, 整改状态,
    整改时限) that ``user`` may see. Every page and export that lists problems goes through here."""
    numbers = numbers or scan_numbers(store, scan)
    findings = store.findings(scan.id)
    rows = problem_rows(store, scan, findings, load_scan_rules(scan), dict(numbers.statuses))
    return [r for r in rows if sees_unit(user, str(r["unit"]))]


def visible_count(user: User, numbers: ScanNumbers) -> int:
    """The problems of a scan ``user`` may see, from the scan's numbers (a unit: its own 责任科室's count)."""
    if user.role == UNIT:
        return int(numbers.by_unit.get(user.unit or "", 0))
    return numbers.problems


@dataclass(frozen=True)
class SiteOverview:
    """One site on the 首页: its latest completed full scan (the audit the reports show) and its numbers."""

    site: str
    scan: ScanRecord | None                 # None: no completed full scan yet
    latest: ScanRecord                      # the site's latest scan of any kind or status (one may be running)
    numbers: ScanNumbers | None = None
    problems: int = 0                       # the problems the user may see (``visible_count``)
    rows: list[dict[str, Any]] = field(default_factory=list)    # the first SHOWN_PROBLEMS of them

    @property
    def home(self) -> str:
        urls = (self.scan or self.latest).start_urls or []
        return str(urls[0]) if urls else ""


def overview(store: Store, user: User) -> list[SiteOverview]:
    """Every site of the store, by name, with its latest audit as ``user`` may see it."""
    latest: dict[str, ScanRecord] = {}
    for s in store.scans(kind=None):
        latest[s.site] = s                          # ordered by id: the last one wins
    out = []
    for site in sorted(latest):
        audit = store.latest_scan(site)
        if audit is None:
            out.append(SiteOverview(site=site, scan=None, latest=latest[site]))
            continue
        numbers = scan_numbers(store, audit)
        rows = visible_problems(user, store, audit, numbers)
        out.append(SiteOverview(site=site, scan=audit, latest=latest[site], numbers=numbers,
                                problems=visible_count(user, numbers), rows=rows[:SHOWN_PROBLEMS]))
    return out
