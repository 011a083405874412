"""Spot-check (抽查): a reproducible, stratified random sample of a scan's findings and pages for a human check.

The same scan, sizes and seed always give the same sample. Each rule and each column is represented at least
once when the sample is large enough; the rest is drawn at random.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import Row, select

from sitewatch.models import Finding
from sitewatch.reporting.data import description, load_scan_rules, location, rule_name
from sitewatch.reporting.render import safe_name, write_html
from sitewatch.reporting.workbook import ROW_KEY_HEADER, page_key, write_spotcheck_workbook
from sitewatch.rules.columns import COLUMN_BLANK, COLUMN_LONG_STALE, COLUMN_STALE, HOMEPAGE_STALE
from sitewatch.rules.disclosures import DISCLOSURE_LATE, DISCLOSURE_MISSING
from sitewatch.rules.links import LINK_BROKEN
from sitewatch.store import PageRow, ScanRecord, Store

T = TypeVar("T")

SPOTCHECK_COLUMNS = (
    ("序号", "no"), ("类型", "kind"), ("规则/栏目", "stratum"), ("网址", "url"), ("标题/问题描述", "what"),
    ("所在页面/栏目", "location"), ("核查要点", "check"), ("核查结论", "assessment"), ("备注", "remark"),
    (ROW_KEY_HEADER, "key"),
)
CHECK_HINT = {
    LINK_BROKEN: "打开链接，确认是否仍无法访问或内容错误",
    HOMEPAGE_STALE: "查看首页最新信息的发布日期",
    COLUMN_STALE: "查看栏目最新信息的发布日期是否超过更新周期",
    COLUMN_LONG_STALE: "查看栏目最新信息的发布日期是否超过一年",
    COLUMN_BLANK: "确认栏目是否确无内容",
    DISCLOSURE_MISSING: "在网站及公开目录中查找该事项",
    DISCLOSURE_LATE: "核对事项的实际发布日期与应公开日期",
}
PAGE_HINT = "打开页面，核对标题、发布日期、正文、附件与链接是否正常"


def stratified_sample(items: Sequence[T], n: int, seed: int, strata: Callable[[T], Sequence[str]],
                      key: Callable[[T], str]) -> list[T]:
    """``n`` items: first one per stratum (strata in the order ``strata`` lists them, rules before columns),
    then random others. Deterministic for the same items, ``n`` and ``seed`` whatever the input order."""
    if n <= 0 or not items:
        return []
    pool = sorted(items, key=key)
    rng = random.Random(seed)
    rng.shuffle(pool)
    order: list[str] = []
    for it in sorted(items, key=key):
        for s in strata(it):
            if s not in order:
                order.append(s)
    order.sort(key=lambda s: (not s.startswith("rule:"), s))
    chosen: list[int] = []
    covered: set[str] = set()
    for stratum in order:
        if len(chosen) >= n:
            break
        if stratum in covered:
            continue
        idx = next(i for i, it in enumerate(pool) if stratum in strata(it) and i not in chosen)
        chosen.append(idx)
        covered.update(strata(pool[idx]))
    for i in range(len(pool)):
        if len(chosen) >= n:
            break
        if i not in chosen:
            chosen.append(i)
    return [pool[i] for i in chosen]


def finding_strata(f: Finding) -> list[str]:
    out = [f"rule:{f.rule}"]
    if f.extra.get("column"):
        out.append(f"column:{f.extra['column']}")
    return out


def page_section(page: Row[Any]) -> str:
    """The stratum of a ``pages`` row: its column, else its first path segment."""
    meta = page.meta or {}
    name = meta.get("columnname") or meta.get("ColumnName")
    if name:
        return f"column:{name}"
    parts = [p for p in urlsplit(page.url).path.split("/") if p]
    return f"section:/{parts[0]}/" if len(parts) > 1 else "section:/"


def sample(store: Store, scan: ScanRecord, n: int, seed: int, pages: int | None = None) -> list[dict[str, Any]]:
    """Checklist rows: ``n`` findings then ``pages`` pages (default ``n``), each stratified."""
    ruleset = load_scan_rules(scan)
    findings = stratified_sample(store.findings(scan.id), n, seed, finding_strata, lambda f: f.fingerprint)
    with store.engine.connect() as c:
        page_rows = c.execute(select(PageRow).where(PageRow.c.scan_id == scan.id)).all()
    picked_pages = stratified_sample(page_rows, n if pages is None else pages, seed,
                                     lambda p: [page_section(p)], lambda p: p.url)
    rows: list[dict[str, Any]] = []
    for f in findings:
        column = f"／{f.extra['column']}" if f.extra.get("column") else ""
        rows.append({"kind": "问题", "stratum": rule_name(ruleset, f.rule) + column,
                     "url": f.url, "what": description(f), "location": location(f),
                     "check": CHECK_HINT.get(f.rule, "人工核实该问题是否属实"), "assessment": "", "remark": "",
                     "rule": f.rule, "column": f.extra.get("column"), "key": f.fingerprint})
    for p in picked_pages:
        section = page_section(p).split(":", 1)[1]
        rows.append({"kind": "页面", "stratum": section, "url": p.url, "what": p.title or "（无标题）",
                     "location": f"HTTP {p.status}" if p.status else "", "check": PAGE_HINT, "assessment": "",
                     "remark": "", "rule": None, "column": section, "key": page_key(p.url)})
    for i, r in enumerate(rows, 1):
        r["no"] = i
    return rows


def with_conclusions(rows: list[dict[str, Any]], declared: dict[str, dict[str, Any]]
                     ) -> tuple[list[dict[str, Any]], str, dt.date | None]:
    """The checklist ``rows`` with the 核查结论 and 备注 recorded for them (``declared``: ``Store.declarations`` of
    kind spotcheck, by row key), and the 核查人 (the assessors who recorded them, in order of first record) and
    核查日期 (the latest day one was recorded) to sign the checklist with."""
    out, names, days = [], [], []
    for r in rows:
        d = declared.get(str(r["key"]))
        if d is None:
            out.append(dict(r))
            continue
        out.append({**r, "assessment": d.get("status") or "", "remark": d.get("note") or ""})
        if d.get("declared_by") and d["declared_by"] not in names:
            names.append(str(d["declared_by"]))
        if d.get("done_on"):
            days.append(d["done_on"])
    return out, "、".join(names), max(days) if days else None


def write_spotcheck(store: Store, scan: ScanRecord, rows: list[dict[str, Any]], seed: int, out_dir: Path,
                    sample_size: int | None = None, pages_size: int | None = None, assessor: str = "",
                    assessed: dt.date | None = None) -> list[Path]:
    """Write 抽查表-<site>-<date>-seed<S>.html and .xlsx (the sample sizes asked for: by default, what was drawn).
    The rows' ``assessment`` and ``remark`` are written as they are (blank for the assessor to fill in, or what
    was recorded: ``with_conclusions``); ``assessor`` and ``assessed`` fill 核查人 and 核查日期 (blank by default)."""
    stem = f"抽查表-{safe_name(scan.site)}-{scan.as_of.isoformat()}-seed{seed}"
    generated = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    total = {"findings": len(store.findings(scan.id)), "pages": store.count(PageRow, scan.id)}
    kinds = [r["kind"] for r in rows]
    sample_size = kinds.count("问题") if sample_size is None else sample_size
    pages_size = kinds.count("页面") if pages_size is None else pages_size
    html = write_html(out_dir / f"{stem}.html", "spotcheck.html.j2", scan=scan, rows=rows, seed=seed,
                      total=total, generated=generated, sample_size=sample_size, pages_size=pages_size,
                      assessor=assessor, assessed=assessed)
    xlsx = write_spotcheck_workbook(out_dir / f"{stem}.xlsx", scan, SPOTCHECK_COLUMNS, rows, seed, sample_size,
                                    pages_size, total, generated, assessor=assessor, assessed=assessed)
    return [html, xlsx]

