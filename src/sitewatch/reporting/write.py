"""The report files of a scan: 整改报告 (HTML, XLSX, CSV) and 领导摘要, written from the store.

Used by ``sitewatch report``, the scheduler and the demo.
"""

from __future__ import annotations

from pathlib import Path

from sitewatch.reporting.data import DEADLINE_DAYS, DEFAULT_DEADLINE_DAYS, build_report, deadline_days
from sitewatch.reporting.render import safe_name, write_html
from sitewatch.reporting.tables import PROBLEM_COLUMNS, write_csv, write_xlsx
from sitewatch.store import ScanRecord, Store


def deadline_note(deadlines: dict[str, int]) -> str:
    """整改时限 as the report states it: each rule's days after first discovery, vetoes, the rest."""
    parts = [f"{rule} {deadline_days(rule, deadlines)} 天" for rule in DEADLINE_DAYS]
    parts.append(f"单项否决 {deadline_days('veto.x', deadlines)} 天")
    return "；".join(parts) + f"；其他 {deadlines.get('*', DEFAULT_DEADLINE_DAYS)} 天"


def write_report(store: Store, scan: ScanRecord, out: Path, deadlines: dict[str, int] | None = None,
                 month: str | None = None) -> list[Path]:
    """Write the four report files for ``scan`` into ``out``; return their paths."""
    deadlines = deadlines or {}
    data = build_report(store, scan, deadlines, month)
    stem = f"{safe_name(scan.site)}-{data.month}"
    ctx = {"r": data, "generated": data.generated, "deadline_note": deadline_note(deadlines)}
    html = write_html(out / f"整改报告-{stem}.html", "rectification.html.j2", **ctx)
    sheets = [("问题清单", PROBLEM_COLUMNS, data.problems)]
    sheets += [(unit, PROBLEM_COLUMNS, rows) for unit, rows in data.by_unit().items()]
    xlsx = write_xlsx(out / f"整改报告-{stem}.xlsx", sheets)
    csv_path = write_csv(out / f"整改报告-{stem}.csv", PROBLEM_COLUMNS, data.problems)
    summary = write_html(out / f"领导摘要-{stem}.html", "summary.html.j2", **ctx)
    return [html, xlsx, csv_path, summary]
