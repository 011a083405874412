"""XLSX (openpyxl) and CSV (UTF-8 with BOM, so Excel reads Chinese) writers for report tables."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from sitewatch.safetext import safe_text
from sitewatch.urls import display_urls_in

Columns = Sequence[tuple[str, str]]          # (header, row key)

PROBLEM_COLUMNS: Columns = (
    ("序号", "no"), ("问题类型", "type"), ("依据", "basis"), ("问题网址", "url"), ("所在页面/栏目", "location"),
    ("问题描述", "description"), ("首次发现", "first_found"), ("责任科室", "unit"), ("整改时限", "deadline"),
    ("整改状态", "status"), ("严重程度", "severity_zh"), ("规则编号", "rule"),
)
_WIDTHS = {"序号": 6, "问题网址": 48, "所在页面/栏目": 40, "问题描述": 60, "依据": 24, "核查结论": 18, "备注": 30}
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_FORMULA_START = ("=", "+", "-", "@")
_HEAD_FONT = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DDE4EE")
_HEAD_ALIGN = Alignment(vertical="center", wrap_text=True)
_TEXT_ALIGN = Alignment(vertical="top", wrap_text=True)
_LINK_FONT = Font(color="1F4F99", underline="single")
_LINKED = ("http://", "https://")


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


def _fill(ws: WriteOnlyWorksheet, columns: Columns, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write a sheet row by row (write-only: a 10,000-problem report must not hold a workbook of cells in memory)."""
    for c, (header, _) in enumerate(columns, 1):
        # a write-only sheet has column_dimensions and auto_filter at run time; types-openpyxl leaves them out
        ws.column_dimensions[get_column_letter(c)].width = _WIDTHS.get(header, 14)  # type: ignore[attr-defined]
    ws.freeze_panes = "A2"
    head = []
    for h, _ in columns:
        cell = WriteOnlyCell(ws, value=h)
        cell.font = _HEAD_FONT
        cell.fill = _HEAD_FILL
        cell.alignment = _HEAD_ALIGN
        head.append(cell)
    ws.append(head)
    n = 1
    for row in rows:
        out = []
        for _, key in columns:
            value = _cell_text(row.get(key))
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, str):
                cell.data_type = "s"          # never a formula, whatever the text starts with
                cell.alignment = _TEXT_ALIGN
            raw = row.get(key)
            if key == "url" and isinstance(raw, str) and raw.lower().startswith(_LINKED) and raw.isprintable():
                cell.hyperlink = raw          # the exact URL; the cell shows it decoded
                cell.font = _LINK_FONT
            out.append(cell)
        ws.append(out)
        n += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{n}"  # type: ignore[attr-defined]  # as above


def write_xlsx(path: Path, sheets: Sequence[tuple[str, Columns, Sequence[Mapping[str, Any]]]]) -> Path:
    """One sheet per (title, columns, rows), each with a bold frozen header and an autofilter."""
    wb = Workbook(write_only=True)
    used: set[str] = set()
    for title, columns, rows in sheets:
        _fill(wb.create_sheet(_sheet_title(title, used)), columns, rows)
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
