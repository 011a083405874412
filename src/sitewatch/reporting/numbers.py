"""The numbers of a scan: what each count means, and the one place it is worked out.

Every output that shows a count takes it from a ``ScanNumbers`` (built by ``reporting.data.scan_numbers``, which
adds the veto table and the score to what this module works out from the store) or, for a look-back, from a
``Rectification`` (``lookback_rectification``): the 整改报告 (HTML, XLSX, CSV), the 领导摘要, the 回头看, the findings
JSON (``summary`` and ``numbers``) and ``sitewatch status``. What the counts mean:

- **problem**: one finding of the scan. A scan stores one finding per fingerprint, so problems = findings =
  distinct fingerprints. A report may group problem rows for display; the count stays the number of findings.
- **by rule / by severity / by unit**: the problems split by rule id (the JSON's ``summary``), by severity, and
  by 责任科室 (``reporting.data.unit_of``).
- **score, deducted, vetoes, conclusion**: the 100-point estimate, the number of 单项否决 indicators at 否决, the
  总体结论 (``reporting.data``: ``estimate_score``, ``veto_table``, ``scan_conclusion``).
- **rectification** (上期问题整改情况): how the problems of the previous completed full scan (the baseline) stand in
  this scan. The statuses come from the latest evidence: the look-back that re-checked the baseline's problems
  after this scan (its ``latest`` is this scan), else this scan compared with the earlier scans
  (``rectification.classify``). Of the baseline's ``total`` problems each is 已整改, 未整改, 反复出现 or 待复核
  (only a look-back leaves one undecided); 新发现 counts this scan's problems never seen before, and 反复出现
  also counts this scan's problems that were fixed once and came back. A look-back decides each problem by its
  re-check; one it cannot re-check is decided by the latest full scan when one was made after the baseline
  (``settle``), and stays 待复核 only when none was.
- **整改状态 of this scan's problems** (``statuses``, ``by_status``: the problem list's column): the same
  comparison, then the look-backs that re-checked them (the one above, then the latest look-back of this scan
  itself); a problem new in this scan shows as 未整改.
- **overdue** (已逾期, ``overdue``, ``overdue_by_unit``): this scan's problems whose 整改时限 (首次发现 plus the
  rule's days) is before the scan's as-of day and whose 整改状态 is not 已整改: the problem list's 已逾期 mark
  (``reporting.data.is_overdue``), with the rules' default 整改时限. Counted with the 整改状态 only (0 when
  ``follow_up=False``); not in the findings JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sitewatch.rectification import FIXED, NEW, OPEN, PENDING, RECURRED, STATUSES, classify
from sitewatch.store import ScanRecord, Store

ROW_STATUSES = tuple(s for s in STATUSES if s != NEW)      # what the problem list's 整改状态 column can say
JSON_STATUS_KEYS = {FIXED: "fixed", OPEN: "open", RECURRED: "recurred", PENDING: "pending", NEW: "new"}


def status_counts(statuses: Mapping[str, str], keys: Sequence[str] = STATUSES) -> dict[str, int]:
    """Every status of ``keys`` (in that order) with the number of fingerprints holding it."""
    return {s: sum(1 for v in statuses.values() if v == s) for s in keys}


@dataclass(frozen=True)
class Rectification:
    """How the problems of a baseline scan stand now (see the module's docstring)."""

    baseline: int                          # the scan whose problems are followed
    baseline_as_of: dt.date
    total: int                             # the baseline's problems
    statuses: Mapping[str, str]            # fingerprint → status: the baseline's problems and the new ones
    compared_with: int | None = None       # the full scan the baseline was compared with (None: none after it)
    lookback: int | None = None            # the look-back whose re-checks decided (None: full scans only)

    @property
    def counts(self) -> dict[str, int]:
        """Each status of ``rectification.STATUSES`` with its count (a status no problem has counts 0)."""
        return status_counts(self.statuses)

    @property
    def fixed(self) -> int:
        return self.counts[FIXED]

    @property
    def open(self) -> int:
        return self.counts[OPEN]

    @property
    def recurred(self) -> int:
        return self.counts[RECURRED]

    @property
    def pending(self) -> int:
        return self.counts[PENDING]

    @property
    def new(self) -> int:
        return self.counts[NEW]

    @property
    def source_zh(self) -> str:
        """Where the statuses come from, as a report says it."""
        if self.lookback is not None:
            return f"回头看复核（编号 {self.lookback}）"
        return f"扫描比对（编号 {self.compared_with}）" if self.compared_with is not None else "—"

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "baseline_as_of": self.baseline_as_of.isoformat(), "total": self.total,
                **{JSON_STATUS_KEYS[s]: n for s, n in self.counts.items()},
                "compared_with": self.compared_with, "lookback": self.lookback}


@dataclass(frozen=True)
class ScanNumbers:
    """Every count of one scan that an output shows (see the module's docstring). Treat the mappings as read-only."""

    scan: int
    as_of: dt.date
    measured: bool                              # False: no page crawled (no score, conclusion 无法评定)
    problems: int
    by_rule: Mapping[str, int]                  # rule id → problems, by rule id (the findings JSON's summary)
    by_type: tuple[tuple[str, str, int], ...]   # (rule id, Chinese name, problems), most severe rule first
    by_severity: Mapping[str, int]
    by_unit: Mapping[str, int]                  # 责任科室 → problems, by name
    score: float | None                         # None when nothing was measured
    deducted: float
    score_lines: tuple[Mapping[str, Any], ...]  # the deduction table: indicator, count, each, points
    veto: tuple[Mapping[str, Any], ...]         # the 单项否决 table (rows of reporting.data.veto_table)
    conclusion: str
    statuses: Mapping[str, str] = field(default_factory=dict)    # fingerprint → 整改状态 (ROW_STATUSES)
    rectification: Rectification | None = None  # the previous full scan's problems (None: first scan)
    lookbacks: tuple[int, ...] = ()             # the look-backs whose re-checks the statuses took
    overdue: int = 0                            # problems past their 整改时限 and not 已整改
    overdue_by_unit: Mapping[str, int] = field(default_factory=dict)    # 责任科室 → overdue problems, by name

    @property
    def vetoes(self) -> int:
        """单项否决 indicators at 否决."""
        return sum(1 for v in self.veto if v["band"] == "否决")

    @property
    def veto_bands(self) -> dict[str, str]:
        return {str(v["rule"]): str(v["band"]) for v in self.veto}

    @property
    def by_status(self) -> dict[str, int]:
        """整改状态 of this scan's problems, each of ROW_STATUSES with its count."""
        return status_counts(self.statuses, ROW_STATUSES)

    def to_json(self) -> dict[str, Any]:
        """The findings JSON's ``numbers`` (docs/findings-schema.md); ``summary`` is ``by_rule``."""
        return {"problems": self.problems, "by_severity": dict(self.by_severity), "by_unit": dict(self.by_unit),
                "by_status": {JSON_STATUS_KEYS[s]: n for s, n in self.by_status.items()},
                "score": self.score, "deducted": self.deducted, "vetoes": self.vetoes, "conclusion": self.conclusion,
                "rectification": self.rectification.to_json() if self.rectification else None}


def fingerprints(store: Store, scan: ScanRecord) -> set[str]:
    return {f.fingerprint for f in store.findings(scan.id)}


def settle(history: Sequence[Collection[str]], baseline: Collection[str], rechecked: Mapping[str, bool | None],
           latest: Collection[str] | None) -> tuple[dict[str, str], dict[str, bool]]:
    """A look-back's statuses. ``rechecked``: each baseline fingerprint's re-check (True still open, False gone, None
    could not tell); ``latest``: the fingerprints of the latest full scan after the baseline (None: there is none).

    A re-check decides; a problem the re-check could not tell is decided by the latest full scan (returned in the
    second mapping: True when that scan still found it); with no such scan it stays 待复核. The latest scan's
    problems not in the baseline are 新发现 (or 反复出现).
    """
    base = set(baseline)
    settled = ({fp: fp in latest for fp, still in rechecked.items() if still is None}
               if latest is not None else {})
    still_open = {fp for fp, still in rechecked.items() if still} | {fp for fp, there in settled.items() if there}
    pending = {fp for fp, still in rechecked.items() if still is None and fp not in settled}
    new = set(latest or ()) - base
    return classify(history, still_open | new, base, pending), settled


def _lookbacks(store: Store, scan: ScanRecord) -> list[ScanRecord]:
    return [s for s in store.scans(scan.site, kind="lookback") if s.status == "completed"]


def lookback_rectification(store: Store, lookback: ScanRecord) -> Rectification:
    """The rectification a stored look-back found: its baseline's problems and its latest scan's new ones."""
    cfg, stats = lookback.config or {}, lookback.stats or {}
    baseline = store.scan(int(cfg["baseline"]))
    if baseline is None:
        raise KeyError(cfg["baseline"])
    latest = cfg.get("latest")
    return Rectification(baseline=baseline.id, baseline_as_of=baseline.as_of, total=len(fingerprints(store, baseline)),
                         statuses=dict(stats.get("classification") or {}),
                         compared_with=int(latest) if latest is not None else None, lookback=lookback.id)


def follow(store: Store, scan: ScanRecord, current: Collection[str], history: Sequence[ScanRecord]
           ) -> tuple[dict[str, str], Rectification | None, tuple[int, ...]]:
    """The 整改状态 of ``scan``'s problems (fingerprints ``current``), the rectification of the previous scan's
    problems, and the look-backs used. ``history``: the completed full scans before ``scan``, oldest first."""
    sets = [fingerprints(store, s) for s in history]
    compared = classify(sets, current) if sets else {}
    previous = history[-1] if history else None
    cur = set(current)
    lookbacks = _lookbacks(store, scan)
    after = [lb for lb in lookbacks if previous is not None and (lb.config or {}).get("baseline") == previous.id
             and (lb.config or {}).get("latest") == scan.id]
    own = [lb for lb in lookbacks if (lb.config or {}).get("baseline") == scan.id]
    rect: Rectification | None = None
    if after:
        rect = lookback_rectification(store, after[-1])
    elif previous is not None:
        rect = Rectification(baseline=previous.id, baseline_as_of=previous.as_of, total=len(sets[-1]),
                             statuses=compared, compared_with=scan.id)
    statuses = {fp: compared.get(fp, OPEN) for fp in cur}
    used = sorted(after[-1:] + own[-1:], key=lambda s: s.id)
    for lb in used:
        checked = (lb.stats or {}).get("classification") or {}
        statuses.update({fp: checked[fp] for fp in cur if fp in checked})
    rows = {fp: (OPEN if st == NEW else st) for fp, st in statuses.items()}
    return rows, rect, tuple(lb.id for lb in used)
