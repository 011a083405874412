"""XLSX (openpyxl) and CSV (UTF-8 with BOM, so Excel reads Chinese) writers for report tables.

Every sheet is written row by row (write-only openpyxl: a 10,000-problem report never holds a workbook of cells in
memory). Write-only sheets still take data validations (dropdowns, date checks), print setup, hidden columns and
sheets, and styles given before a row is written, which is all a workbook to be filled in needs.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.properties import PageSetupProperties

from sitewatch.safetext import safe_text
from sitewatch.urls import display_urls_in

Columns = Sequence[tuple[str, str]]          # (header, row key)

PROBLEM_COLUMNS: Columns = (
    ("序号", "no"), ("问题类型", "type"), ("依据", "basis"), ("问题网址", "url"), ("所在页面/栏目", "location"),
    ("问题描述", "description"), ("首次发现", "first_found"), ("责任科室", "unit"), ("整改时限", "deadline"),
    ("整改状态", "status"), ("严重程度", "severity_zh"), ("规则编号", "rule"),
)
_WIDTHS = {"序号": 6, "问题网址": 48, "所在页面/栏目": 40, "问题描述": 60, "依据": 24, "核查结论": 18, "备注": 30,
           "整改措施": 40, "完成时间": 12, "整改状态": 14, "首次发现": 11, "整改时限": 11,
           "站点名称": 22, "首页": 36, "检查日期": 11, "否决指标": 26}
# Columns holding a day: written as Excel dates (sortable, filterable), never as text.
DATE_HEADERS = frozenset({"首次发现", "整改时限", "完成时间", "核查日期"})
DATE_FORMAT = "yyyy-mm-dd"
_FILL_FILL = PatternFill("solid", fgColor="FFF2CC")       # the header of a column a reader fills in
_MARK_FILL = PatternFill("solid", fgColor="FADBD8")       # a marked row (overdue)
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_FORMULA_START = ("=", "+", "-", "@")
_HEAD_FONT = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DDE4EE")
_HEAD_ALIGN = Alignment(vertical="center", wrap_text=True)
_TEXT_ALIGN = Alignment(vertical="top", wrap_text=True)
_LINK_FONT = Font(color="1F4F99", underline="single")
_LINKED = ("http://", "https://")


# Columns for tools, not readers (a rule's id such as ``link.broken``): hidden in workbooks, kept in the CSV export.
MACHINE_HEADERS = ("规则编号",)


def _cell_text(value: Any) -> Any:
    """A cell's value; text with control characters (illegal in XLSX) and bidi overrides shown as escapes, and
    every URL in it as people read it (``urls.display_url``: 附件 rather than %E9%99%84%E4%BB%B6)."""
    if value is None:
        return ""
    return safe_text(display_urls_in(value), keep_lines=True) if isinstance(value, str) else value


def _sheet_title(name: str, used: set[str]) -> str:
    base = _SHEET_BAD.sub("_", safe_text(name)).strip("'") or "未指定"
    title, n = base[:31], 2
    while title in used:
        suffix = f"({n})"
        title, n = base[:31 - len(suffix)] + suffix, n + 1
    used.add(title)
    return title


@dataclass
class Sheet:
    """A table sheet: one header row, then one row per mapping; and what it offers whoever fills it in."""

    title: str
    columns: Columns
    rows: Iterable[Mapping[str, Any]]
    choices: Mapping[str, Sequence[str]] = field(default_factory=dict)   # header -> the values of its dropdown
    date_inputs: Collection[str] = ()            # headers of columns to fill in with a date (validated)
    prompts: Mapping[str, str] = field(default_factory=dict)             # header -> input message shown on entry
    hidden: Collection[str] = ()                 # headers of hidden columns (a row's key for ``sitewatch import``)
    mark: str | None = None                      # row key: rows where it is true are highlighted (overdue)


class Formula(str):
    """Cell text that is a formula on purpose (every other text is written as text, never run)."""


@dataclass
class PlainSheet:
    """A free-form sheet (a summary, a header block, the workbook's properties): rows of values, no autofilter.
    A ``Formula`` value is a formula; a ``(value, "bold")`` pair is a bold cell."""

    title: str
    rows: Sequence[Sequence[Any]]
    widths: Sequence[int] = ()
    state: str = "visible"                       # "hidden": read by ``sitewatch import``, not shown


# A write-only sheet has column_dimensions, auto_filter, data_validations, sheet_state, sheet_properties and
# HeaderFooter at run time (copied from the ordinary sheet's setup); types-openpyxl leaves them out, so the
# functions below take it as ``Any``.
def _print_setup(ws: Any, title_rows: str | None) -> None:
    """A4 landscape, as wide as one page, the header row repeated on every page, page numbers in the footer."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"                    # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0                    # as many pages down as the rows need
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.HeaderFooter.oddFooter.center.text = "&A　第 &P 页，共 &N 页"
    if title_rows:
        ws.print_title_rows = title_rows


def _day(value: Any) -> Any:
    """A date column's value as a date (an ISO day's text included); anything else as it is."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str) and _ISO_DAY.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _fill(ws: Any, sheet: Sheet) -> None:
    """Write a sheet row by row (write-only: a 10,000-problem report must not hold a workbook of cells in memory)."""
    columns = sheet.columns
    for c, (header, _) in enumerate(columns, 1):
        dim = ws.column_dimensions[get_column_letter(c)]
        dim.width = _WIDTHS.get(header, 14)
        dim.hidden = header in sheet.hidden or header in MACHINE_HEADERS
    ws.freeze_panes = "A2"
    _print_setup(ws, "1:1")
    inputs = set(sheet.choices) | set(sheet.date_inputs)
    head = []
    for h, _ in columns:
        cell = WriteOnlyCell(ws, value=h)
        cell.font = _HEAD_FONT
        cell.fill = _FILL_FILL if h in inputs else _HEAD_FILL
        cell.alignment = _HEAD_ALIGN
        head.append(cell)
    ws.append(head)
    dates = {key for h, key in columns if h in DATE_HEADERS}
    n = 1
    for row in sheet.rows:
        mark = bool(sheet.mark and row.get(sheet.mark))
        out = []
        for _, key in columns:
            value = _cell_text(_day(row.get(key)) if key in dates else row.get(key))
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, str):
                cell.data_type = "s"          # never a formula, whatever the text starts with
                cell.alignment = _TEXT_ALIGN
            elif isinstance(value, dt.date):
                cell.number_format = DATE_FORMAT
                cell.alignment = _TEXT_ALIGN
            if mark:
                cell.fill = _MARK_FILL
            raw = row.get(key)
            if key == "url" and isinstance(raw, str) and raw.lower().startswith(_LINKED) and raw.isprintable():
                cell.hyperlink = raw          # the exact URL; the cell shows it decoded
                cell.font = _LINK_FONT
            out.append(cell)
        ws.append(out)
        n += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{n}"
    _validate(ws, sheet, max(n, 2))


def _validate(ws: Any, sheet: Sheet, last: int) -> None:
    """Dropdowns and date checks on the fill-in columns, from row 2 to the last row (at least one row)."""
    for c, (header, _) in enumerate(sheet.columns, 1):
        ref = f"{get_column_letter(c)}2:{get_column_letter(c)}{last}"
        if header in sheet.choices:
            dv = DataValidation(type="list", formula1='"' + ",".join(sheet.choices[header]) + '"', allow_blank=True,
                                showErrorMessage=True, errorTitle=header,
                                error="请从下拉列表中选择：" + "、".join(sheet.choices[header]))
        elif header in sheet.date_inputs:
            dv = DataValidation(type="date", operator="between", formula1="DATE(2000,1,1)",
                                formula2="DATE(2099,12,31)", allow_blank=True, showErrorMessage=True,
                                errorTitle=header, error="请填写日期，如 2026-12-01")
        else:
            continue
        if header in sheet.prompts:
            dv.showInputMessage = True
            dv.promptTitle, dv.prompt = header, sheet.prompts[header]
        dv.add(ref)
        ws.data_validations.append(dv)


def _plain(ws: Any, sheet: PlainSheet) -> None:
    for c, width in enumerate(sheet.widths, 1):
        ws.column_dimensions[get_column_letter(c)].width = width
    ws.sheet_state = sheet.state
    _print_setup(ws, None)
    for values in sheet.rows:
        out = []
        for value in values:
            bold = isinstance(value, tuple)
            value = value[0] if isinstance(value, tuple) else value
            text = _cell_text(value)
            cell = WriteOnlyCell(ws, value=text)
            if isinstance(text, str) and not isinstance(value, Formula):
                cell.data_type = "s"
                cell.alignment = _TEXT_ALIGN
            elif isinstance(text, dt.date):
                cell.number_format = DATE_FORMAT
            if bold:
                cell.font = _HEAD_FONT
            out.append(cell)
        ws.append(out)


def write_xlsx(path: Path, sheets: Sequence[Sheet | PlainSheet | tuple[str, Columns, Iterable[Mapping[str, Any]]]]
               ) -> Path:
    """One sheet per entry: a ``Sheet`` (or a (title, columns, rows) tuple) has a bold frozen header, an
    autofilter, typed dates and print setup; a ``PlainSheet`` is written as it is."""
    wb = Workbook(write_only=True)
    used: set[str] = set()
    for sheet in sheets:
        if isinstance(sheet, tuple):
            sheet = Sheet(*sheet)
        ws = wb.create_sheet(_sheet_title(sheet.title, used))
        if isinstance(sheet, PlainSheet):
            _plain(ws, sheet)
        else:
            _fill(ws, sheet)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    wb.save(tmp)
    tmp.replace(path)
    return path


def csv_safe(value: Any) -> str:
    """Text for a CSV cell: control and bidi characters escaped, URLs shown decoded (``urls.display_url``); a
    leading = + - @ gets a quote mark so spreadsheets do not run it as a formula."""
    text = "" if value is None else safe_text(display_urls_in(str(value)), keep_lines=True)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(path: Path, columns: Columns, rows: Iterable[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([h for h, _ in columns])
        for row in rows:
            w.writerow([csv_safe(row.get(key)) for _, key in columns])
    tmp.replace(path)
    return path
