"""The workbooks people fill in and hand back: the 整改报告 workbook for units (整改措施, 完成时间, 整改状态) and
the 抽查表 for an assessor (核查结论). ``sitewatch import`` (``declarations.py``) reads them back by what this
module writes: a hidden properties sheet naming the scan, and a hidden key column matching each row to a finding.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl.utils import get_column_letter

from sitewatch.rectification import FIXED, OPEN, PENDING, RECURRED
from sitewatch.reporting.tables import PROBLEM_COLUMNS, Columns, Formula, PlainSheet, Sheet, write_xlsx
from sitewatch.store import ScanRecord

# The hidden sheet that names what a workbook is and which scan it was written for.
META_SHEET = "_sitewatch"
META_MARK = "sitewatch workbook"
META_FORMAT = 1
UNIT_KIND = "unit"                   # the 整改报告 workbook a unit fills in
SPOTCHECK_KIND = "spotcheck"         # the 抽查表 an assessor fills in
KINDS = (UNIT_KIND, SPOTCHECK_KIND)

# What a unit declares.
DECLARED_FIXED = "已整改"
DECLARED_ONGOING = "整改中"
DECLARED_OPEN = "未整改"
DECLARED_CANNOT = "无法整改"
UNIT_STATUSES = (DECLARED_OPEN, DECLARED_ONGOING, DECLARED_FIXED, DECLARED_CANNOT)
# What an assessor concludes (the ``assessment`` of a spot-check row).
ASSESSMENTS = ("属实", "不属实", "无法核实")

KEY_HEADER = "问题标识（导入用，请勿修改）"      # hidden: the finding's fingerprint
ROW_KEY_HEADER = "行标识（导入用，请勿修改）"    # hidden, spot-check: a finding's fingerprint or a page's key
STATUS_HEADER, NOTE_HEADER, DONE_HEADER = "整改状态", "整改措施", "完成时间"
ASSESSMENT_HEADER, REMARK_HEADER = "核查结论", "备注"
ASSESSOR_LABEL, ASSESSED_LABEL = "核查人", "核查日期"
SPOTCHECK_INFO_SHEET = "抽查信息"

# The 整改报告 workbook: the problem list (its 整改状态, sitewatch's own, shown as 监测状态), then the columns a
# unit fills in, then the hidden key.
UNIT_COLUMNS: Columns = (
    *[("监测状态", key) if key == "status" else (header, key) for header, key in PROBLEM_COLUMNS],
    (NOTE_HEADER, "declared_note"), (DONE_HEADER, "declared_done"), (STATUS_HEADER, "declared_status"),
    (KEY_HEADER, "fingerprint"),
)
UNIT_PROMPTS = {
    STATUS_HEADER: "从下拉列表选择；选“无法整改”时请在整改措施中说明原因",
    NOTE_HEADER: "填写已采取或计划采取的整改措施；无法整改的写明原因",
    DONE_HEADER: "填写实际或计划完成日期，如 2026-12-01",
}
SPOTCHECK_PROMPTS = {ASSESSMENT_HEADER: "从下拉列表选择：属实 / 不属实 / 无法核实"}
MONITOR_STATUSES = (OPEN, RECURRED, PENDING, FIXED)


def page_key(url: str) -> str:
    """The key of a spot-checked page's row (a finding's row is keyed by its fingerprint)."""
    return "page:" + hashlib.sha1(url.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def meta_sheet(kind: str, scan: ScanRecord, **extra: Any) -> PlainSheet:
    """The hidden properties sheet: the workbook's kind and the scan it belongs to (id, site, start time: a
    workbook taken to another database with a scan of the same id is told apart)."""
    rows: list[list[Any]] = [[META_MARK, META_FORMAT], ["kind", kind], ["scan_id", scan.id], ["site", scan.site],
                             ["scan_started", scan.started_at.isoformat()], ["as_of", scan.as_of.isoformat()]]
    rows += [[k, v] for k, v in extra.items()]
    return PlainSheet(META_SHEET, rows, widths=(16, 40), state="hidden")


def _summary(site: str, period: str, scan_id: int, generated: str, problems: Sequence[Mapping[str, Any]]
             ) -> PlainSheet:
    """汇总: problems by unit and 监测状态 with the overdue ones, and what each unit declared so far (formulas
    over 问题清单, so they follow as a unit fills it in)."""
    col = {key: get_column_letter(i) for i, (_, key) in enumerate(UNIT_COLUMNS, 1)}
    units = sorted({str(p["unit"]) for p in problems})
    total = Counter(str(p["unit"]) for p in problems)
    overdue = Counter(str(p["unit"]) for p in problems if p.get("overdue"))
    status = Counter((str(p["unit"]), p["status"]) for p in problems)
    head = ["责任科室", "问题数", "已逾期", *[f"监测：{s}" for s in MONITOR_STATUSES],
            *[f"填报：{s}" for s in UNIT_STATUSES], "填报：未填报"]
    rows: list[list[Any]] = [
        [(f"{site}政府网站问题整改台账", "bold")],
        ["监测周期", period], ["扫描编号", scan_id], ["生成时间", generated],
        ["填报说明", "请在“问题清单”（或本科室工作表）中填写整改措施、完成时间，并从下拉列表选择整改状态；"
                 "选“无法整改”时请在整改措施中说明原因。请勿修改或删除隐藏的“问题标识”列和“_sitewatch”工作表。"
                 "填好后交回，由 sitewatch import 导入。已逾期的问题整行标红。“填报”各列按“问题清单”工作表统计。"],
        [],
        [(h, "bold") for h in head],
    ]
    first = len(rows) + 1
    sheet = "'问题清单'!"
    for i, unit in enumerate(units):
        r = first + i
        declared = [Formula(f'=COUNTIFS({sheet}${col["unit"]}:${col["unit"]},$A{r},'
                            f'{sheet}${col["declared_status"]}:${col["declared_status"]},"{s}")')
                    for s in UNIT_STATUSES]
        last = get_column_letter(3 + len(MONITOR_STATUSES) + len(UNIT_STATUSES))
        rows.append([unit, total[unit], overdue[unit], *[status[(unit, s)] for s in MONITOR_STATUSES], *declared,
                     Formula(f"=B{r}-SUM({get_column_letter(4 + len(MONITOR_STATUSES))}{r}:{last}{r})")])
    end = first + len(units) - 1
    sums = [Formula(f"=SUM({get_column_letter(c)}{first}:{get_column_letter(c)}{end})") if units else 0
            for c in range(4 + len(MONITOR_STATUSES), 4 + len(MONITOR_STATUSES) + len(UNIT_STATUSES) + 1)]
    rows.append([("合计", "bold"), len(problems), sum(overdue.values()),
                 *[sum(status[(u, s)] for u in units) for s in MONITOR_STATUSES], *sums])
    return PlainSheet("汇总", rows, widths=(16, 10, 10, *[12] * (len(MONITOR_STATUSES) + len(UNIT_STATUSES) + 1)))


def unit_sheet(title: str, rows: Sequence[Mapping[str, Any]]) -> Sheet:
    return Sheet(title, UNIT_COLUMNS, rows, choices={STATUS_HEADER: UNIT_STATUSES}, date_inputs=(DONE_HEADER,),
                 prompts=UNIT_PROMPTS, hidden=(KEY_HEADER,), mark="overdue")


def write_unit_workbook(path: Path, scan: ScanRecord, site: str, period: str, month: str, generated: str,
                        problems: Sequence[Mapping[str, Any]], declared: Mapping[str, Mapping[str, Any]]) -> Path:
    """The 整改报告 workbook: 汇总, 问题清单 and one sheet per unit, each problem row with the columns a unit fills
    in (already holding what ``declared`` recorded for it), overdue rows marked, and the hidden properties."""
    rows = [{**p, **_declared_cells(declared.get(str(p["fingerprint"])))} for p in problems]
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for p in rows:
        by_unit.setdefault(str(p["unit"]), []).append(p)
    sheets: list[Sheet | PlainSheet] = [_summary(site, period, scan.id, generated, rows), unit_sheet("问题清单", rows)]
    sheets += [unit_sheet(unit, unit_rows) for unit, unit_rows in sorted(by_unit.items())]
    sheets.append(meta_sheet(UNIT_KIND, scan, month=month))
    return write_xlsx(path, sheets)


def _declared_cells(d: Mapping[str, Any] | None) -> dict[str, Any]:
    if not d:
        return {}
    done = d.get("done_on")
    return {"declared_status": d.get("status") or "", "declared_note": d.get("note") or "",
            "declared_done": done if isinstance(done, dt.date) else None}


def write_spotcheck_workbook(path: Path, scan: ScanRecord, columns: Columns, rows: Sequence[Mapping[str, Any]],
                             seed: int, sample_size: int, pages_size: int, total: Mapping[str, int],
                             generated: str, assessor: str = "", assessed: dt.date | None = None) -> Path:
    """The 抽查表: the sampled rows with a 核查结论 dropdown, then 抽查信息 (the scan, seed and sample size, and the
    assessor's name and date: blank to fill in, or ``assessor``/``assessed`` when the conclusions were recorded in
    the console), then the hidden properties with the key of every sampled row."""
    drawn = Counter(str(r["kind"]) for r in rows)
    info = PlainSheet(SPOTCHECK_INFO_SHEET, [
        [(f"{scan.site}政府网站人工抽查表", "bold")],
        ["站点", scan.site], ["扫描编号", scan.id], ["监测日", scan.as_of], ["随机种子", seed],
        ["抽样数量（问题）", sample_size], ["抽样数量（页面）", pages_size],
        ["抽取问题", f"{drawn['问题']} / {total.get('findings', 0)} 个"],
        ["抽取页面", f"{drawn['页面']} / {total.get('pages', 0)} 个"], ["生成时间", generated],
        ["抽样方法", "每类问题、每个栏目至少抽取一项，其余随机抽取；同一扫描、同一数量和随机种子可重现同一份抽查表"],
        ["填写说明", "在“抽查表”的核查结论列选择 属实 / 不属实 / 无法核实，备注写明依据；填写下面的核查人和核查日期；"
                 "请勿修改隐藏的“行标识”列和“_sitewatch”工作表。填好后交回，由 sitewatch import 导入。"],
        [(ASSESSOR_LABEL, "bold"), assessor], [(ASSESSED_LABEL, "bold"), assessed if assessed is not None else ""],
    ], widths=(18, 90))
    table = Sheet("抽查表", columns, rows, choices={ASSESSMENT_HEADER: ASSESSMENTS}, prompts=SPOTCHECK_PROMPTS,
                  hidden=(ROW_KEY_HEADER,))
    meta = meta_sheet(SPOTCHECK_KIND, scan, seed=seed, sample=sample_size, pages=pages_size)
    meta.rows = [*meta.rows, *[["row", r["key"]] for r in rows]]
    return write_xlsx(path, [table, info, meta])
