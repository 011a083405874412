"""The data of the console's problem pages (``/problems``, ``/problems/{fingerprint}``) and of a unit's declaration.

Problem rows come only through ``console.data.visible_problems`` (a unit user: its own 责任科室); a problem that
the user may not see is the same as one that does not exist (the pages answer 404). A declaration made in the
console is a ``declarations`` row of kind ``unit`` keyed by the finding's fingerprint, exactly as ``sitewatch
import`` writes one from a filled-in workbook, so the next look-back verifies it the same way.

The 整改状态 the pages show (``STATES``) is one function, ``console_state``: the scan's 监测状态 (``scan_numbers``:
from the latest look-back of the scan, else the history of scans) with the unit's declaration and, for a declared
已整改, the look-back's verdict (``lookback.declared_vs_verified``) once a look-back ran after the declaration.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update

from sitewatch.console import audit
from sitewatch.console.accounts import UNIT, User
from sitewatch.console.data import sees_unit, visible_problems
from sitewatch.lookback import FAILED, PASSED, TO_CHECK, declared_vs_verified
from sitewatch.models import SEVERITY_ZH, Finding
from sitewatch.packs import RuleSet
from sitewatch.rectification import FIXED, OPEN, PENDING, RECURRED
from sitewatch.reporting.data import load_scan_rules, unit_of
from sitewatch.reporting.workbook import (
    DECLARED_CANNOT,
    DECLARED_FIXED,
    DECLARED_ONGOING,
    UNIT_KIND,
)
from sitewatch.store import DeclarationRow, FindingRow, ScanRecord, Store

DECLARED_FIXED_UNCHECKED = "已整改（待复核）"
# every 整改状态 the console shows, in the order of the filter's list
STATES = (OPEN, DECLARED_ONGOING, DECLARED_CANNOT, DECLARED_FIXED_UNCHECKED, PASSED, FAILED, RECURRED, FIXED, PENDING)
DONE_STATES = frozenset({FIXED, PASSED, DECLARED_FIXED_UNCHECKED})      # not overdue whatever the deadline
# what a unit may declare in the console (未整改 is what it is without a declaration)
DECLARABLE = (DECLARED_FIXED, DECLARED_ONGOING, DECLARED_CANNOT)
NOTE_MAX = 2000
URL_MAX = 2000
SHOWN = 500                                      # rows a problem list shows at most (filter for the rest)
FINGERPRINT = re.compile(r"[0-9a-f]{8,64}")
NEW_URL_LABEL = "整改后网址："


def console_state(monitored: str, declaration: Mapping[str, Any] | None, verdict: str | None) -> str:
    """The 整改状态 shown for a problem: ``monitored`` its 监测状态 (未整改/反复出现/待复核/已整改 of
    ``scan_numbers``), ``declaration`` its unit's declaration (a ``declarations`` row), ``verdict`` the 监测状态
    that a look-back run after the declaration found (None: no look-back since)."""
    declared = str(declaration["status"]) if declaration else ""
    if declared == DECLARED_FIXED:
        if verdict is None:
            return DECLARED_FIXED_UNCHECKED
        if verdict == FAILED:               # a full scan after the declaration still found the problem
            return FAILED
        checked = str(declared_vs_verified(verdict, dict(declaration or {}))["verified"])
        return DECLARED_FIXED_UNCHECKED if checked == TO_CHECK else checked
    if monitored == FIXED:
        return FIXED
    if declared in (DECLARED_ONGOING, DECLARED_CANNOT):
        return declared
    if monitored in (RECURRED, PENDING):
        return monitored
    return OPEN


def _own_lookbacks(store: Store, scan: ScanRecord) -> list[ScanRecord]:
    """The completed look-backs whose baseline is ``scan``, oldest first."""
    return [s for s in store.scans(scan.site, kind="lookback")
            if s.status == "completed" and (s.config or {}).get("baseline") == scan.id]


def _verdicts(lookbacks: Sequence[ScanRecord], declarations: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """For each declared problem, the 监测状态 of the latest look-back started after its declaration."""
    out: dict[str, str] = {}
    for key, d in declarations.items():
        when = d.get("imported_at")
        for lb in lookbacks:
            classified = (lb.stats or {}).get("classification") or {}
            if key in classified and (when is None or lb.started_at >= when):
                out[key] = str(classified[key])
    return out


@dataclass(frozen=True)
class Filters:
    """The GET parameters of ``/problems`` (each empty: no filter)."""

    site: str = ""
    unit: str = ""
    rule: str = ""
    severity: str = ""
    state: str = ""
    overdue: bool = False

    @classmethod
    def of(cls, params: Mapping[str, str]) -> Filters:
        def one(name: str) -> str:
            return str(params.get(name) or "").strip()[:200]
        return cls(site=one("site"), unit=one("unit"), rule=one("rule"), severity=one("severity"),
                   state=one("status"), overdue=one("overdue") in ("1", "on", "yes"))


@dataclass
class ProblemList:
    """What ``/problems`` shows for one site."""

    sites: list[str]                             # sites with a completed full scan
    site: str
    scan: ScanRecord | None
    rows: list[dict[str, Any]] = field(default_factory=list)     # filtered, at most SHOWN
    matched: int = 0                             # rows the filters matched
    total: int = 0                               # rows the user may see in the scan
    units: list[str] = field(default_factory=list)
    rules: list[tuple[str, str]] = field(default_factory=list)   # (id, 中文名)
    severities: list[tuple[str, str]] = field(default_factory=list)
    filters: Filters = field(default_factory=Filters)


def carried_declarations(store: Store, scan: ScanRecord) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The unit declarations that hold for ``scan``'s problems, and the verdicts on them: the scan's own, else the
    latest one made on an earlier full scan of the site. A 已整改 declared before ``scan`` started, on a problem
    ``scan`` still finds, is refuted by it (复核未通过); a 整改中 or 无法整改 holds until the unit says otherwise."""
    own = store.declarations(scan.id, UNIT_KIND)
    declarations: dict[str, dict[str, Any]] = {}
    for earlier in store.scans(scan.site):
        if earlier.id < scan.id and earlier.status == "completed":
            declarations.update(store.declarations(earlier.id, UNIT_KIND))     # later scans override earlier ones
    verdicts: dict[str, str] = {}
    for key, d in declarations.items():
        when = d.get("imported_at")
        if d.get("status") == DECLARED_FIXED and when is not None and scan.started_at is not None \
                and when <= scan.started_at:
            verdicts[key] = FAILED
    declarations.update(own)
    for key in own:
        verdicts.pop(key, None)
    verdicts.update(_verdicts(_own_lookbacks(store, scan), own))
    return declarations, verdicts


def _decorated(user: User, store: Store, scan: ScanRecord, today: dt.date) -> list[dict[str, Any]]:
    """The visible problem rows of ``scan`` with their declaration (its own, or carried from an earlier scan),
    console 整改状态 and overdue state (today)."""
    rows = visible_problems(user, store, scan)
    declarations, verdicts = carried_declarations(store, scan)
    for r in rows:
        d = declarations.get(r["fingerprint"])
        r["declaration"] = d
        r["state"] = console_state(r["status"], d, verdicts.get(r["fingerprint"]))
        r["overdue"] = r["deadline"] < today.isoformat() and r["state"] not in DONE_STATES
    return rows


def problem_list(user: User, store: Store, filters: Filters, today: dt.date) -> ProblemList:
    """The problems of the latest completed full scan of the chosen site (default: the first by name) that
    ``user`` may see, filtered. A unit user's unit filter is its own unit, whatever was asked."""
    sites = sorted({s.site for s in store.scans() if s.status == "completed"})
    site = filters.site if filters.site in sites else (sites[0] if sites else "")
    if user.role == UNIT:
        filters = Filters(site, user.unit or "", filters.rule, filters.severity, filters.state, filters.overdue)
    out = ProblemList(sites=sites, site=site, scan=None, filters=filters)
    scan = store.latest_scan(site) if site else None
    if scan is None:
        return out
    out.scan = scan
    rows = _decorated(user, store, scan, today)
    out.total = len(rows)
    out.units = sorted({str(r["unit"]) for r in rows})
    out.rules = sorted({(str(r["rule"]), str(r["type"])) for r in rows})
    out.severities = [(k, v) for k, v in SEVERITY_ZH.items() if any(r["severity"] == k for r in rows)]
    picked = [r for r in rows
              if (not filters.unit or r["unit"] == filters.unit)
              and (not filters.rule or r["rule"] == filters.rule)
              and (not filters.severity or r["severity"] == filters.severity)
              and (not filters.state or r["state"] == filters.state)
              and (not filters.overdue or r["overdue"])]
    out.matched = len(picked)
    out.rows = picked[:SHOWN]
    return out


# --- one problem ----------------------------------------------------------------------------------------------
@dataclass
class ProblemDetail:
    scan: ScanRecord
    finding: Finding
    row: dict[str, Any]                          # the problem row (problem_rows) with declaration, state, overdue
    rule: dict[str, Any]                         # id, name_zh, document, ref, threshold, measures, deadline_days
    history: list[dict[str, Any]]                # scan, as_of, kind, event
    declarations: list[dict[str, Any]]           # every unit declaration of this problem, newest scan first


def _find(user: User, store: Store, fingerprint: str) -> tuple[ScanRecord, Finding] | None:
    """The problem ``fingerprint`` of a site's latest completed full scan, when ``user`` may see it."""
    if not FINGERPRINT.fullmatch(fingerprint):
        return None
    with store.engine.connect() as c:
        scan_ids = set(c.execute(select(FindingRow.c.scan_id).where(FindingRow.c.fingerprint == fingerprint))
                       .scalars())
    for site in sorted({s.site for s in store.scans() if s.id in scan_ids}):
        scan = store.latest_scan(site)
        if scan is None or scan.id not in scan_ids:
            continue
        for f in store.findings(scan.id):
            if f.fingerprint == fingerprint and sees_unit(user, unit_of(f, scan.config or {})):
                return scan, f
    return None


def _rule_info(ruleset: RuleSet, f: Finding, days: int) -> dict[str, Any]:
    info: dict[str, Any] = {"id": f.rule, "name_zh": f.rule, "document": "", "ref": "", "threshold": {},
                            "measures": "", "deadline_days": days}
    if ruleset.has(f.rule):
        rule = ruleset.get(f.rule)
        docs = {p.id: f"{p.document} {p.title}".strip() for p in ruleset.packs}
        info.update(name_zh=rule.name_zh, document=docs.get(rule.pack, rule.pack), ref=rule.ref or "",
                    threshold=dict(rule.threshold), measures=rule.measures)
    return info


def _history(store: Store, scan: ScanRecord, fingerprint: str) -> list[dict[str, Any]]:
    """The problem across the site's completed full scans up to ``scan`` (首次发现, 未再发现, 再次出现) and the
    look-backs that re-checked it."""
    with store.engine.connect() as c:
        present = set(c.execute(select(FindingRow.c.scan_id).where(FindingRow.c.fingerprint == fingerprint))
                      .scalars())
    events: list[dict[str, Any]] = []
    seen = before = False
    for s in store.scans(scan.site):
        if s.status != "completed" or s.id > scan.id:
            continue
        now = s.id in present
        event = ("首次发现" if now and not seen else "再次出现" if now and not before
                 else "未再发现" if before and not now else "仍存在" if now else "")
        if event:
            events.append({"scan": s.id, "as_of": s.as_of, "kind": "全站扫描", "event": event})
        seen, before = seen or now, now
    for lb in store.scans(scan.site, kind="lookback"):
        classified = (lb.stats or {}).get("classification") or {}
        if lb.status == "completed" and fingerprint in classified:
            base = (lb.config or {}).get("baseline")
            events.append({"scan": lb.id, "as_of": lb.as_of, "kind": "回头看",
                           "event": f"复核：{classified[fingerprint]}（基准扫描编号 {base}）"})
    return sorted(events, key=lambda e: (e["as_of"], e["scan"]))


def problem_detail(user: User, store: Store, fingerprint: str, today: dt.date) -> ProblemDetail | None:
    """One problem as ``user`` may see it; None when there is no such problem or it is another unit's."""
    found = _find(user, store, fingerprint)
    if found is None:
        return None
    scan, f = found
    row = next(r for r in _decorated(user, store, scan, today) if r["fingerprint"] == fingerprint)
    with store.engine.connect() as c:
        declared = [dict(r._mapping) for r in c.execute(
            select(DeclarationRow).where(DeclarationRow.c.kind == UNIT_KIND, DeclarationRow.c.key == fingerprint)
            .order_by(DeclarationRow.c.scan_id.desc()))]
    site_scans = {s.id for s in store.scans(scan.site)}
    return ProblemDetail(scan=scan, finding=f, row=row,
                         rule=_rule_info(load_scan_rules(scan), f, int(row["deadline_days"])),
                         history=_history(store, scan, fingerprint),
                         declarations=[d for d in declared if d["scan_id"] in site_scans])


# --- declaring ------------------------------------------------------------------------------------------------
def may_declare(user: User) -> bool:
    """Who declares: a unit user for its own problems, an admin for any unit's (a leader or assessor never)."""
    return user.role in (UNIT, "admin")


def declaration_problem(status: str, note: str, new_url: str, done: str) -> str:
    """What is wrong with a submitted declaration (Chinese), or ""."""
    if status not in DECLARABLE:
        return "请选择整改状态（" + "、".join(DECLARABLE) + "）。"
    if not note.strip():
        return "请填写整改措施（无法整改时写明原因）。"
    if len(note) > NOTE_MAX:
        return f"整改措施不能超过 {NOTE_MAX} 个字。"
    if new_url and (len(new_url) > URL_MAX or not re.match(r"https?://[^\s]+$", new_url, re.I)):
        return "整改后网址须以 http:// 或 https:// 开头，且不含空格。"
    if done:
        try:
            dt.date.fromisoformat(done)
        except ValueError:
            return "完成时间须为日期（如 2026-12-01）。"
    return ""


def declare(store: Store, user: User, fingerprint: str, status: str, note: str, new_url: str, done: str,
            actor: audit.Actor, now: dt.datetime) -> bool:
    """Write (or replace) the unit declaration of the problem ``fingerprint`` for its scan, with its audit row in
    the same transaction. False when ``user`` may not see (or declare) it; the caller checks the input first."""
    found = _find(user, store, fingerprint) if may_declare(user) else None
    if found is None:
        return False
    scan, f = found
    text = note.strip() + (f"\n{NEW_URL_LABEL}{new_url.strip()}" if new_url.strip() else "")
    values = {"status": status, "note": text, "done_on": dt.date.fromisoformat(done) if done else None,
              "declared_by": unit_of(f, scan.config or {}), "url": f.url, "source": f"console: {user.username}",
              "imported_at": now.replace(microsecond=0)}
    with store.engine.begin() as c:
        row = c.execute(select(DeclarationRow).where(DeclarationRow.c.scan_id == scan.id,
                                                     DeclarationRow.c.kind == UNIT_KIND,
                                                     DeclarationRow.c.key == fingerprint)).first()
        if row is None:
            c.execute(insert(DeclarationRow).values(scan_id=scan.id, kind=UNIT_KIND, key=fingerprint, **values))
        else:
            c.execute(update(DeclarationRow).where(DeclarationRow.c.id == row.id).values(**values))
        audit.record(c, actor, "problem.declare", f"{scan.site} 扫描 {scan.id} 问题 {fingerprint}",
                     {"网址": f.url, "责任科室": values["declared_by"], "原状态": row.status if row else "未填报",
                      "新状态": status, "整改措施": text[:500]}, at=now)
    return True


# --- the audit log as CSV -------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ (or a tab or carriage return, which some
    spreadsheets skip before reading a formula) gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


AUDIT_CSV_HEADER = ("时间", "操作人", "角色", "来源地址", "操作", "操作代码", "对象", "详情")


def audit_csv(rows: Iterable[Mapping[str, Any]], roles_zh: Mapping[str, str]) -> bytes:
    """The audit rows as CSV, UTF-8 with a BOM (Excel opens it as Chinese text), formula-like cells neutralised."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(AUDIT_CSV_HEADER)
    for r in rows:
        detail = "；".join(f"{k}：{v}" for k, v in (r.get("detail") or {}).items())
        w.writerow([_cell(v) for v in (r["at"].strftime("%Y-%m-%d %H:%M:%S"), r["actor"],
                                       roles_zh.get(r["role"], r["role"]), r["address"],
                                       audit.ACTIONS_ZH.get(r["action"], r["action"]), r["action"], r["target"],
                                       detail)])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")

