"""The report files of a scan: 整改报告 (HTML, XLSX, CSV) and 领导摘要, written from the store.

Used by ``sitewatch report``, the scheduler and the demo.
"""

from __future__ import annotations

from pathlib import Path

from sitewatch.reporting.data import build_report
from sitewatch.reporting.render import safe_name, write_html
from sitewatch.reporting.tables import PROBLEM_COLUMNS, write_csv
from sitewatch.reporting.workbook import UNIT_KIND, write_unit_workbook
from sitewatch.store import ScanRecord, Store


def write_report(store: Store, scan: ScanRecord, out: Path, deadlines: dict[str, int] | None = None,
                 month: str | None = None) -> list[Path]:
    """Write the four report files for ``scan`` into ``out``; return their paths."""
    deadlines = deadlines or {}
    data = build_report(store, scan, deadlines, month)
    stem = f"{safe_name(scan.site)}-{data.month}"
    ctx = {"r": data, "generated": data.generated, "deadline_note": data.deadline_note}
    html = write_html(out / f"整改报告-{stem}.html", "rectification.html.j2", **ctx)
    xlsx = write_unit_workbook(out / f"整改报告-{stem}.xlsx", scan, data.site, data.period, data.month,
                               data.generated, data.problems, store.declarations(scan.id, UNIT_KIND))
    csv_path = write_csv(out / f"整改报告-{stem}.csv", PROBLEM_COLUMNS, data.problems)
    summary = write_html(out / f"领导摘要-{stem}.html", "summary.html.j2", **ctx)
    return [html, xlsx, csv_path, summary]
