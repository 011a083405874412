"""The monthly overview of many sites (市政府网站月度监测报告): one row per site, from the latest completed full audit
of the month, every count from ``reporting.data.scan_numbers`` (never recounted here).

No verdict without a measurement: a site with no completed full audit in the month is 未监测 (its row says what
its latest scan of the month did: failed, still running, interrupted, or none at all); a site whose audit crawled no
page is 无法评定 (``ScanNumbers.conclusion``) unless a 单项否决 was measured (an unreachable homepage is 不合格).
Neither is ever 合格, and the header counts them apart from the judged sites.

Bounded for a province: the scans of the month are read once as bare (id, site, status) rows; then one pass per
site computes that site's ``ScanNumbers`` (its own findings and history only) and keeps a row of counts, so no
more than one site's findings are held at once; the rule set is loaded once per distinct (packs, overrides).
A site's cost is that of its own report's numbers: it grows with the site's findings and history, not with the
number of sites. Measured on SQLite, a shared 2-core machine (synthetic sites written through the store API,
20–400 findings an audit; tests/test_city_report.py times 100): 7 ms per site with 2 audits each (100 sites:
0.8 s; 1,000 sites: 7.7 s, peak memory 68 MB against 64 MB for 100), 25 ms per site with 12 monthly audits each;
so 3,000 sites with a year of history take about 75 s.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from sitewatch.models import DEDUCT, REVIEW, VETO, WARN
from sitewatch.packs import RuleSet
from sitewatch.reporting.data import NOT_JUDGED, NOT_MEASURED, load_scan_rules, pages_crawled, scan_numbers
from sitewatch.reporting.render import safe_name
from sitewatch.store import ScanRecord, ScanRow, Store

PASSED, FAILED = "合格", "不合格"
CONCLUSIONS = (FAILED, PASSED, NOT_JUDGED, NOT_MEASURED)     # the table's order of conclusions
SEVERITIES = (VETO, DEDUCT, WARN, REVIEW)
_STATE_ZH = {"failed": "失败", "running": "进行中", "interrupted": "已中断"}
_REGION_ENDS = "省市州盟县"          # a derived region name ends with one of these (中山市, 广东省)
_ERROR_CHARS = 120


@dataclass(frozen=True)
class SiteRow:
    """One site's line of the overview: counts copied from its audit's ``ScanNumbers``, or none (未监测)."""

    site: str
    homepage: str
    conclusion: str                              # 合格 / 不合格 / 无法评定 / 未监测
    note: str = ""                               # 备注: what the month's scans did when it is worth saying
    scan: int | None = None                      # the audit the row shows (None: no completed audit that month)
    as_of: dt.date | None = None
    pages: int | None = None
    problems: int | None = None
    by_severity: Mapping[str, int] = field(default_factory=dict)
    vetoes: int = 0                              # 单项否决 indicators at 否决
    veto_names: tuple[str, ...] = ()
    score: float | None = None
    measured: bool = False
    previous: int | None = None                  # the previous audit's problems (None: first audit)
    rectification: Mapping[str, int] = field(default_factory=dict)   # 整改状态 → count, of those problems
    overdue: int | None = None
    report: str | None = None                    # the site's 整改报告 written beside the overview (a file name)
    last_audit: dt.date | None = None            # for a 未监测 site: its latest completed audit of any month

    @property
    def cells(self) -> dict[str, Any]:
        """The row as the workbook's columns (``OVERVIEW_COLUMNS``) read it."""
        rect = self.rectification
        return {"site": self.site, "url": self.homepage, "as_of": self.as_of, "scan": self.scan,
                "pages": self.pages, "problems": self.problems,
                **{f"sev_{s}": self.by_severity.get(s, 0) if self.scan is not None else None for s in SEVERITIES},
                "vetoes": self.vetoes if self.scan is not None else None, "veto_names": "、".join(self.veto_names),
                "score": self.score, "conclusion": self.conclusion, "previous": self.previous,
                "fixed": rect.get("已整改"), "open": rect.get("未整改"), "recurred": rect.get("反复出现"),
                "pending": rect.get("待复核"), "overdue": self.overdue, "note": self.note,
                "failed": self.conclusion == FAILED}


OVERVIEW_COLUMNS = (
    ("序号", "no"), ("站点名称", "site"), ("首页", "url"), ("检查日期", "as_of"), ("扫描编号", "scan"),
    ("抓取页面数", "pages"), ("问题数", "problems"), ("单项否决问题", "sev_veto"), ("扣分问题", "sev_deduct"),
    ("提醒问题", "sev_warn"), ("待核实问题", "sev_review"), ("否决指标数", "vetoes"), ("否决指标", "veto_names"),
    ("估算得分", "score"), ("总体结论", "conclusion"), ("上期问题数", "previous"), ("已整改", "fixed"),
    ("未整改", "open"), ("反复出现", "recurred"), ("待复核", "pending"), ("已逾期", "overdue"), ("备注", "note"),
)


@dataclass
class Overview:
    """What the monthly overview shows."""

    title: str
    region: str
    month: str                                   # YYYY-MM
    rows: list[SiteRow]
    generated: str = field(default_factory=lambda: dt.datetime.now().strftime("%Y-%m-%d %H:%M"))
    seconds: float = 0.0                         # time spent on the sites (for the command's line)

    @property
    def month_zh(self) -> str:
        return month_label(self.month)

    @property
    def counts(self) -> dict[str, int]:
        """Sites by 总体结论, every conclusion of ``CONCLUSIONS`` (0 when none)."""
        got = Counter(r.conclusion for r in self.rows)
        return {c: got[c] for c in CONCLUSIONS}

    @property
    def figures(self) -> dict[str, Any]:
        """The header's figures: sites, each conclusion, the 不合格 split, 合格率 of the judged sites, totals."""
        c = self.counts
        judged = c[PASSED] + c[FAILED]
        audited = [r for r in self.rows if r.scan is not None]
        return {"sites": len(self.rows), "passed": c[PASSED], "failed": c[FAILED], "not_judged": c[NOT_JUDGED],
                "not_measured": c[NOT_MEASURED], "unrated": c[NOT_JUDGED] + c[NOT_MEASURED], "judged": judged,
                "vetoed": sum(1 for r in self.rows if r.conclusion == FAILED and r.vetoes),
                "low_score": sum(1 for r in self.rows if r.conclusion == FAILED and not r.vetoes),
                "pass_rate": f"{c[PASSED] / judged:.1%}" if judged else "—",
                "audited": len(audited), "problems": sum(r.problems or 0 for r in audited),
                "overdue": sum(r.overdue or 0 for r in audited)}


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """The first and last day of ``month`` (YYYY-MM)."""
    year, mon = (int(x) for x in month.split("-"))
    first = dt.date(year, mon, 1)
    return first, (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def store_sites(store: Store) -> dict[str, str]:
    """Every site in the store (scans of any kind), by name, with the homepage of its latest scan."""
    latest = select(func.max(ScanRow.c.id)).group_by(ScanRow.c.site)
    with store.engine.connect() as c:
        rows = c.execute(select(ScanRow.c.site, ScanRow.c.start_urls).where(ScanRow.c.id.in_(latest))).all()
    return {site: (urls or [""])[0] for site, urls in sorted(rows)}


def last_audits(store: Store) -> dict[str, dt.date]:
    """Each site's latest completed full audit day, of any month."""
    with store.engine.connect() as c:
        rows = c.execute(select(ScanRow.c.site, func.max(ScanRow.c.as_of))
                         .where(ScanRow.c.kind == "full", ScanRow.c.status == "completed")
                         .group_by(ScanRow.c.site)).all()
    return {site: day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)) for site, day in rows}


def latest_month(store: Store, sites: Iterable[str]) -> str | None:
    """The month of the latest completed full audit of any of ``sites`` (None: none has one)."""
    wanted = set(sites)
    days = [d for site, d in last_audits(store).items() if site in wanted]
    return max(days).strftime("%Y-%m") if days else None


def month_scans(store: Store, month: str) -> dict[str, list[tuple[int, str]]]:
    """The full scans of ``month`` (by as-of day), per site: (id, status), oldest first. No config, no stats."""
    first, last = month_bounds(month)
    with store.engine.connect() as c:
        rows = c.execute(select(ScanRow.c.id, ScanRow.c.site, ScanRow.c.status)
                         .where(ScanRow.c.kind == "full", ScanRow.c.as_of >= first, ScanRow.c.as_of <= last)
                         .order_by(ScanRow.c.id)).all()
    out: dict[str, list[tuple[int, str]]] = {}
    for scan_id, site, status in rows:
        out.setdefault(site, []).append((scan_id, status))
    return out


def derive_region(names: Iterable[str]) -> str:
    """The region of a set of site names: their common beginning, up to its last 省/市/州/盟/县 (中山市西区,
    中山市石岐街道 → 中山市); empty when they share none (or a name is a URL)."""
    names = [n for n in names if n]
    if not names or any("://" in n for n in names):
        return ""
    common = names[0]
    for n in names[1:]:
        while not n.startswith(common):
            common = common[:-1]
    cut = max(common.rfind(ch) for ch in _REGION_ENDS)
    return common[:cut + 1] if cut >= 0 else ""


class _Rules:
    """The rule set of each scan, loaded once per distinct (packs, overrides): a province's sites share a few."""

    def __init__(self) -> None:
        self._sets: dict[str, RuleSet] = {}

    def of(self, scan: ScanRecord) -> RuleSet:
        cfg = scan.config or {}
        key = json.dumps([cfg.get("rule_packs") or [], cfg.get("rule_overrides") or {}], sort_keys=True, default=str)
        if key not in self._sets:
            self._sets[key] = load_scan_rules(scan)
        return self._sets[key]


def _state_note(store: Store, scan_id: int, status: str) -> str:
    """What a scan that did not complete is doing, as the 备注 says it (a failed scan's error, shortened)."""
    note = f"扫描（编号 {scan_id}）{_STATE_ZH.get(status, status)}"
    scan = store.scan(scan_id)
    gone = scan is not None and status == "running" and scan.runner_state() == "gone"
    if scan is not None and status == "failed":
        error = str((scan.stats or {}).get("error") or "").strip()
        if error:
            note += "：" + (error if len(error) <= _ERROR_CHARS else error[:_ERROR_CHARS] + "…")
    if gone:
        note += "，但其进程已结束"
    if gone or status in ("failed", "interrupted"):
        note += f"（可用 sitewatch scan --resume {scan_id} 续扫）"
    return note


def site_row(store: Store, site: str, homepage: str, scans: Sequence[tuple[int, str]], rules: _Rules,
             last_audit: dt.date | None = None) -> SiteRow:
    """One site's row from its full scans of the month ``scans`` ((id, status), oldest first)."""
    completed = [scan_id for scan_id, status in scans if status == "completed"]
    later = next(((i, s) for i, s in reversed(scans) if s != "completed"), None)
    if not completed:
        if later is not None:
            note = "本月" + _state_note(store, *later)
        else:
            note = "本月未扫描" + (f"（最近一次监测 {last_audit.isoformat()}）" if last_audit else "")
        return SiteRow(site=site, homepage=homepage, conclusion=NOT_MEASURED, note=note, last_audit=last_audit)
    scan = store.scan(completed[-1])
    assert scan is not None                      # listed a moment ago; scans are never deleted (prune keeps them)
    n = scan_numbers(store, scan, ruleset=rules.of(scan))
    notes = []
    if not n.measured:
        notes.append("本次监测未抓取到任何页面" + ("，仅按已测得的单项否决判定" if n.vetoes else "，无法评定"))
    if later is not None and later[0] > scan.id:
        notes.append("其后的" + _state_note(store, *later))
    rect = n.rectification
    return SiteRow(
        site=site, homepage=(scan.start_urls or [homepage])[0] or homepage, conclusion=n.conclusion,
        note="；".join(notes), scan=scan.id, as_of=scan.as_of, pages=pages_crawled(store, scan),
        problems=n.problems, by_severity=dict(n.by_severity), vetoes=n.vetoes,
        veto_names=tuple(str(v.get("name_zh") or v["rule"]) for v in n.veto if v["band"] == "否决"),
        score=n.score, measured=n.measured, previous=rect.total if rect else None,
        rectification=rect.counts if rect else {}, overdue=n.overdue)


def order_key(row: SiteRow) -> tuple[Any, ...]:
    """不合格 first (the most 单项否决 first, then by score), then 合格 by score ascending, then 无法评定 and 未监测."""
    rank = CONCLUSIONS.index(row.conclusion) if row.conclusion in CONCLUSIONS else len(CONCLUSIONS)
    return rank, -row.vetoes, row.score if row.score is not None else math.inf, row.site


def site_report_name(site: str, month: str) -> str:
    """The file name ``write_report`` gives a site's 整改报告 HTML of ``month``."""
    return f"整改报告-{safe_name(site)}-{month}.html"


def build_overview(store: Store, month: str, sites: Mapping[str, str] | None = None, region: str | None = None,
                   beside: Path | None = None) -> Overview:
    """The overview of ``month``: ``sites`` (name → homepage; default every site in the store), each site's row
    from its latest completed full audit of the month. ``region`` names the title's region (default: derived from
    the site names); ``beside``: the folder the overview is written to, where a site's own 整改报告 is linked
    when it is there."""
    known = store_sites(store)
    wanted = dict(sites) if sites is not None else known
    by_site = month_scans(store, month)
    audits = last_audits(store)
    rules = _Rules()
    started = time.perf_counter()
    rows: list[SiteRow] = []
    for site, homepage in wanted.items():
        row = site_row(store, site, homepage or known.get(site, ""), by_site.get(site, ()), rules, audits.get(site))
        if beside is not None and row.scan is not None and (beside / site_report_name(site, month)).is_file():
            row = replace(row, report=site_report_name(site, month))
        rows.append(row)
    rows.sort(key=order_key)
    region = region if region is not None else derive_region(wanted)
    title = f"{region}政府网站月度监测报告（{month_label(month)}）"
    return Overview(title=title, region=region, month=month, rows=rows, seconds=time.perf_counter() - started)


def month_label(month: str) -> str:
    year, mon = month.split("-")
    return f"{year}年{int(mon)}月"
