"""The report files of a scan: 整改报告 (HTML, XLSX, CSV) and 领导摘要, written from the store; and the monthly
overview of many sites (市政府网站月度监测报告, HTML and XLSX).

Used by ``sitewatch report``, the scheduler and the demo.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sitewatch.reporting.data import build_report
from sitewatch.reporting.overview import OVERVIEW_COLUMNS, Overview, build_overview
from sitewatch.reporting.render import safe_name, write_html
from sitewatch.reporting.tables import PROBLEM_COLUMNS, PlainSheet, Sheet, write_csv, write_xlsx
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


def write_overview(store: Store, out: Path, month: str, sites: Mapping[str, str] | None = None,
                   region: str | None = None) -> tuple[Overview, list[Path]]:
    """Write the monthly overview of ``sites`` (default: every site in the store) into ``out``: the HTML page and a
    workbook with the same table (see ``reporting.overview``). A site's 整改报告 already in ``out`` is linked."""
    data = build_overview(store, month, sites, region, beside=out)
    stem = f"{safe_name(data.region) + '-' if data.region else ''}{month}"
    html = write_html(out / f"网站月度监测报告-{stem}.html", "overview.html.j2", o=data, generated=data.generated)
    f = data.figures
    head = PlainSheet("总体情况", [
        [(data.title, "bold")], ["监测月份", data.month_zh], ["生成时间", data.generated],
        ["纳入监测网站", f["sites"]], ["合格", f["passed"]], ["不合格", f["failed"]],
        ["其中单项否决", f["vetoed"]], ["其中得分低于 60 分", f["low_score"]],
        ["未监测", f["not_measured"]], ["无法评定", f["not_judged"]], ["合格率（已评定网站）", f["pass_rate"]],
        ["本月问题合计", f["problems"]], ["已逾期", f["overdue"]],
        ["说明", "每个网站取本月最近一次已完成的全站监测；未监测（本月无已完成的监测）和无法评定（未抓取到页面）的网站"
               "不作合格判断，不计入合格率。各数字与该网站当月的整改报告一致。"],
    ], widths=(22, 90))
    rows = [{**r.cells, "no": i} for i, r in enumerate(data.rows, 1)]
    table = Sheet("各网站监测情况", OVERVIEW_COLUMNS, rows, mark="failed")
    xlsx = write_xlsx(out / f"网站月度监测报告-{stem}.xlsx", [table, head])
    return data, [html, xlsx]
