"""``sitewatch import``: read a filled-in workbook back into the store.

Two workbooks come back (``reporting/workbook.py`` writes both): the 整改报告 workbook, where each unit declares
整改状态, 整改措施 and 完成时间 for its problems, and the 抽查表, where an assessor records a 核查结论 and 备注 for
each sampled finding and page. A workbook names its scan in a hidden properties sheet; each row carries its key
(the finding's fingerprint) in a hidden column.

Only rows that match are imported: a row whose key was edited, a row of another scan or site, a row whose URL no
longer fits its key, an invalid value, or two sheets declaring the same problem differently are each reported on
one line and change nothing. Problems of the scan missing from the workbook are listed. Stored declarations are
replaced only by a new declaration of the same row (a row left blank keeps what was declared before), so importing
the same workbook again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import insert, select, update

from sitewatch.errors import UsageError
from sitewatch.models import Finding
from sitewatch.reporting.data import load_scan_rules, rule_name, unit_of
from sitewatch.reporting.workbook import (
    ASSESSED_LABEL,
    ASSESSMENT_HEADER,
    ASSESSMENTS,
    ASSESSOR_LABEL,
    DECLARED_CANNOT,
    DONE_HEADER,
    KEY_HEADER,
    META_FORMAT,
    META_MARK,
    META_SHEET,
    NOTE_HEADER,
    REMARK_HEADER,
    ROW_KEY_HEADER,
    SPOTCHECK_INFO_SHEET,
    SPOTCHECK_KIND,
    STATUS_HEADER,
    UNIT_KIND,
    UNIT_STATUSES,
    page_key,
)
from sitewatch.safetext import safe_text
from sitewatch.store import DeclarationRow, FindingRow, ScanRecord, ScanRow, Store

URL_HEADERS = ("问题网址", "网址")
_DAY_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


@dataclass
class Declaration:
    key: str
    url: str
    status: str
    note: str
    done_on: dt.date | None
    declared_by: str
    where: str                                  # sheet and row, for messages and the ``source`` column

    def values(self) -> tuple[Any, ...]:
        return self.status, self.note, self.done_on, self.declared_by, self.url


@dataclass
class ImportResult:
    workbook: Path
    kind: str                                   # unit or spotcheck
    scan: ScanRecord
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    blank: int = 0                              # matched rows (once each, whatever the sheets) declaring nothing
    rejected: list[str] = field(default_factory=list)   # one line per row not imported, with the reason
    missing: list[str] = field(default_factory=list)    # one line per row of the scan not in the workbook


@dataclass
class _Meta:
    kind: str
    scan: ScanRecord
    values: dict[str, Any]
    keys: list[str]                             # spot-check: the keys of the rows it was written with


def import_workbook(store: Store, path: str | Path, dry_run: bool = False) -> ImportResult:
    """Read ``path`` (a 整改报告 or 抽查表 workbook sitewatch wrote, filled in) and store what it declares.
    Raises ``UsageError`` (nothing changed) when it is not such a workbook or names a scan this store lacks."""
    workbook = Path(path)
    wb = _open(workbook)
    try:
        meta = _meta(store, wb, workbook)
        result = ImportResult(workbook, meta.kind, meta.scan)
        found = (_read_units(store, wb, meta, result) if meta.kind == UNIT_KIND
                 else _read_spotcheck(store, wb, meta, result))
    finally:
        wb.close()
    if not dry_run:
        _save(store, meta, found, result)
    else:
        _compare(store, meta, found, result)
    return result


# --- opening -------------------------------------------------------------------------------------------------
def _open(path: Path) -> Any:
    from openpyxl import load_workbook  # lazy: only an import reads workbooks
    from openpyxl.utils.exceptions import InvalidFileException

    if not path.is_file():
        raise UsageError(f"import: {path}: no such file")
    try:
        return load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise UsageError(f"import: {path}: not an XLSX workbook ({safe_text(reason)[:160]})") from None


def _meta(store: Store, wb: Any, path: Path) -> _Meta:
    not_ours = (f"import: {path}: not a workbook sitewatch wrote (no {META_SHEET} sheet): only the 整改报告 and "
                "抽查表 XLSX files of `sitewatch report` and `sitewatch spotcheck` can be imported")
    if META_SHEET not in wb.sheetnames:
        raise UsageError(not_ours)
    ws = wb[META_SHEET]
    _whole(ws)
    rows = [r for r in ws.iter_rows(values_only=True) if r and r[0] is not None]
    if not rows or rows[0][0] != META_MARK:
        raise UsageError(not_ours)
    fmt = rows[0][1] if len(rows[0]) > 1 else None
    if not isinstance(fmt, int) or fmt > META_FORMAT:
        raise UsageError(f"import: {path}: written by a newer sitewatch (workbook format {fmt}); upgrade sitewatch")
    values = {str(r[0]): (r[1] if len(r) > 1 else None) for r in rows[1:] if r[0] != "row"}
    keys = [str(r[1]) for r in rows[1:] if r[0] == "row" and len(r) > 1 and r[1]]
    kind = values.get("kind")
    if kind not in (UNIT_KIND, SPOTCHECK_KIND):
        raise UsageError(f"import: {path}: unknown workbook kind {kind!r} in its {META_SHEET} sheet")
    scan_id, site = values.get("scan_id"), str(values.get("site") or "")
    named = f"scan {scan_id} of {site} ({values.get('as_of')})"
    scan = store.scan(scan_id) if isinstance(scan_id, int) else None
    if scan is None or scan.kind != "full":
        raise UsageError(f"import: {path}: written for {named}, which is not in this store; wrong --db?")
    if scan.site != site or scan.started_at.isoformat() != str(values.get("scan_started")):
        raise UsageError(f"import: {path}: written for {named}, but scan {scan.id} of this store is another scan "
                         f"({scan.site}, {scan.as_of}); wrong --db?")
    return _Meta(str(kind), scan, values, keys)


def _whole(ws: Any) -> None:
    """Read every row of a read-only sheet, not only up to the size its file claims (some writers get it wrong)."""
    reset = getattr(ws, "reset_dimensions", None)
    if reset is not None:
        reset()


# --- reading ---------------------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _day(value: Any) -> dt.date:
    """A filled-in date: an Excel date, a day number, or text such as 2026-12-01, 2026/12/1, 2026年12月1日."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and 1 <= value < 2958466:
        return _EXCEL_EPOCH + dt.timedelta(days=int(value))
    text = _text(value)
    for fmt in _DAY_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise ValueError(text)


def _same_url(cell: str, url: str) -> bool:
    """Whether a URL cell still shows the URL its key names (percent-decoded, as a report may display it)."""
    if not cell:
        return True
    full = {url, unquote(url), safe_text(url, keep_lines=True), safe_text(unquote(url), keep_lines=True)}
    if cell.endswith("…"):                      # shown shortened: its start must be the URL's
        return any(u.startswith(cell[:-1]) for u in full)
    return bool({cell, unquote(cell)} & full)


def _table_rows(ws: Any, key_header: str) -> Iterator[tuple[int, dict[str, Any]]] | None:
    """(row number, {header: value}) of a table sheet whose header row has ``key_header``; None for other sheets."""
    _whole(ws)
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None)
    if not header or key_header not in [_text(h) for h in header]:
        return None
    names = [_text(h) for h in header]

    def gen() -> Iterator[tuple[int, dict[str, Any]]]:
        for n, row in enumerate(rows, 2):
            values = {name: row[i] if i < len(row) else None for i, name in enumerate(names) if name}
            if any(_text(v) for v in values.values()):
                yield n, values
    return gen()


def _foreign(store: Store, scan: ScanRecord, key: str) -> str:
    """Why a key matches no row of ``scan``: the scan (of which site) it belongs to, else an edited key."""
    with store.engine.connect() as c:
        other = c.execute(select(ScanRow.c.id, ScanRow.c.site, ScanRow.c.as_of)
                          .join(FindingRow, FindingRow.c.scan_id == ScanRow.c.id)
                          .where(FindingRow.c.fingerprint == key, ScanRow.c.kind == "full", ScanRow.c.id != scan.id)
                          .order_by(ScanRow.c.id.desc()).limit(1)).first()
    if other is not None:
        return f"is a row of scan {other.id} ({other.site}, {other.as_of}), not of scan {scan.id}"
    return f"matches no row of scan {scan.id} (the key was edited, or the row comes from another workbook)"


def _declared(where: str, key: str, url: str, status: str, note: str, done: Any, by: str, choices: Sequence[str],
              status_header: str, note_header: str, result: ImportResult) -> Declaration | None:
    """One row's declaration, or None (blank, or invalid: then reported in ``result``)."""
    if not (status or note or _text(done)):
        return None
    if not status:
        result.rejected.append(f"{where}: {status_header} is empty (choose one of {'/'.join(choices)}): not imported")
        return None
    if status not in choices:
        result.rejected.append(f"{where}: {status_header} {status!r} is not one of {'/'.join(choices)}: not imported")
        return None
    if status == DECLARED_CANNOT and not note:
        result.rejected.append(f"{where}: {DECLARED_CANNOT} needs the reason in {note_header}: not imported")
        return None
    day = None
    if _text(done):
        try:
            day = _day(done)
        except ValueError:
            result.rejected.append(f"{where}: {DONE_HEADER if status_header == STATUS_HEADER else ASSESSED_LABEL} "
                                   f"{_text(done)!r} is not a date (e.g. 2026-12-01): not imported")
            return None
    return Declaration(key, url, status, note, day, by, where)


def _merge(found: dict[str, Declaration], d: Declaration, result: ImportResult) -> None:
    """One declaration per row key: the same problem declared alike on two sheets counts once; differently, not
    at all (which one holds cannot be told)."""
    before = found.get(d.key)
    if before is None:
        found[d.key] = d
    elif before.values() != d.values() and before.where != "conflict":
        result.rejected.append(f"{d.where}: declares {d.url} differently from {before.where}: neither is imported")
        found[d.key] = Declaration(d.key, d.url, "", "", None, "", "conflict")


def _keyed_rows(wb: Any, key_header: str) -> Iterator[tuple[str, dict[str, Any], str, str]]:
    """(where, row, key, URL) of every table row of the sheets that have a ``key_header`` column."""
    for name in wb.sheetnames:
        if name == META_SHEET:
            continue
        table = _table_rows(wb[name], key_header)
        if table is None:
            continue
        for n, row in table:
            yield (f"{name} row {n}", row, _text(row.get(key_header)),
                   _text(next((row[h] for h in URL_HEADERS if h in row), "")))


def _read_units(store: Store, wb: Any, meta: _Meta, result: ImportResult) -> dict[str, Declaration]:
    scan = meta.scan
    findings = {f.fingerprint: f for f in store.findings(scan.id)}
    cfg = scan.config or {}
    found: dict[str, Declaration] = {}
    present: set[str] = set()
    for where, row, key, url in _keyed_rows(wb, KEY_HEADER):
        status, note = _text(row.get(STATUS_HEADER)), _text(row.get(NOTE_HEADER))
        if not key:
            if status or note or _text(row.get(DONE_HEADER)):
                result.rejected.append(f"{where}: no 问题标识 (the hidden key column was cleared, or the row was "
                                       "added by hand): not imported")
            continue
        f = findings.get(key)
        if f is None:
            result.rejected.append(f"{where}: 问题标识 {safe_text(key)[:40]} {_foreign(store, scan, key)}: "
                                   "not imported")
            continue
        if not _same_url(url, f.url):
            result.rejected.append(f"{where}: 问题网址 {safe_text(url)[:120]} is not the URL of the problem its "
                                   f"问题标识 names ({f.url}): not imported")
            continue
        present.add(key)
        d = _declared(where, key, f.url, status, note, row.get(DONE_HEADER), unit_of(f, cfg), UNIT_STATUSES,
                      STATUS_HEADER, NOTE_HEADER, result)
        if d is not None:
            _merge(found, d, result)
    result.blank = len(present - found.keys())
    ruleset = load_scan_rules(scan)
    for key, f in sorted(findings.items(), key=lambda kv: (kv[1].rule, kv[1].url)):
        if key not in present:
            result.missing.append(f"missing: {rule_name(ruleset, f.rule)} {f.url} ({unit_of(f, cfg)}): not in the "
                                  "workbook, nothing declared for it")
    return {k: d for k, d in found.items() if d.where != "conflict"}


def _info(wb: Any) -> dict[str, Any]:
    """The label/value pairs of the 抽查信息 sheet (核查人, 核查日期 filled in by the assessor)."""
    if SPOTCHECK_INFO_SHEET not in wb.sheetnames:
        return {}
    ws = wb[SPOTCHECK_INFO_SHEET]
    _whole(ws)
    return {_text(r[0]): (r[1] if len(r) > 1 else None)
            for r in ws.iter_rows(values_only=True) if r and r[0] is not None}


def _read_spotcheck(store: Store, wb: Any, meta: _Meta, result: ImportResult) -> dict[str, Declaration]:
    scan = meta.scan
    findings: dict[str, Finding] = {f.fingerprint: f for f in store.findings(scan.id)}
    sampled = set(meta.keys)
    info = _info(wb)
    assessor = _text(info.get(ASSESSOR_LABEL))
    assessed = info.get(ASSESSED_LABEL)
    found: dict[str, Declaration] = {}
    present: set[str] = set()
    for where, row, key, url in _keyed_rows(wb, ROW_KEY_HEADER):
        status, note = _text(row.get(ASSESSMENT_HEADER)), _text(row.get(REMARK_HEADER))
        if not key:
            if status or note:
                result.rejected.append(f"{where}: no 行标识 (the hidden key column was cleared, or the row was "
                                       "added by hand): not imported")
            continue
        if key not in sampled:
            why = ("is a page this sample did not draw" if key.startswith("page:")
                   else _foreign(store, scan, key) if key not in findings
                   else f"is a problem of scan {scan.id} this sample did not draw")
            result.rejected.append(f"{where}: 行标识 {safe_text(key)[:40]} {why}: not imported")
            continue
        f = findings.get(key)
        expected = f.url if f is not None else None
        if (f is None and key != page_key(url)) or (expected is not None and not _same_url(url, expected)):
            result.rejected.append(f"{where}: 网址 {safe_text(url)[:120]} is not the URL its 行标识 names: "
                                   "not imported")
            continue
        present.add(key)
        d = _declared(where, key, expected or url, status, note, assessed if (status or note) else None,
                      assessor, ASSESSMENTS, ASSESSMENT_HEADER, REMARK_HEADER, result)
        if d is not None:
            _merge(found, d, result)
    result.blank = len(present - found.keys())
    for key in meta.keys:
        if key not in present:
            f = findings.get(key)
            what = f"{f.url}" if f is not None else f"page {key}"
            result.missing.append(f"missing: sampled row {what}: not in the workbook, nothing assessed for it")
    return {k: d for k, d in found.items() if d.where != "conflict"}


# --- storing ---------------------------------------------------------------------------------------------------
def _stored(store: Store, meta: _Meta) -> dict[str, Any]:
    with store.engine.connect() as c:
        rows = c.execute(select(DeclarationRow).where(DeclarationRow.c.scan_id == meta.scan.id,
                                                      DeclarationRow.c.kind == meta.kind)).all()
    return {r.key: r for r in rows}


def _same(row: Any, d: Declaration) -> bool:
    return (row.status, row.note, row.done_on, row.declared_by, row.url) == d.values()


def _compare(store: Store, meta: _Meta, found: dict[str, Declaration], result: ImportResult) -> None:
    stored = _stored(store, meta)
    for key, d in found.items():
        row = stored.get(key)
        if row is None:
            result.new += 1
        elif _same(row, d):
            result.unchanged += 1
        else:
            result.updated += 1


def _save(store: Store, meta: _Meta, found: dict[str, Declaration], result: ImportResult) -> None:
    """Insert new declarations and replace changed ones, in one transaction; an unchanged one keeps its time."""
    now = dt.datetime.now().replace(microsecond=0)
    with store.engine.begin() as c:
        stored = {r.key: r for r in c.execute(select(DeclarationRow).where(
            DeclarationRow.c.scan_id == meta.scan.id, DeclarationRow.c.kind == meta.kind)).all()}
        for key, d in sorted(found.items()):
            values = {"status": d.status, "note": d.note, "done_on": d.done_on, "declared_by": d.declared_by,
                      "url": d.url, "source": f"{result.workbook.name}: {d.where}", "imported_at": now}
            row = stored.get(key)
            if row is None:
                c.execute(insert(DeclarationRow).values(scan_id=meta.scan.id, kind=meta.kind, key=key, **values))
                result.new += 1
            elif _same(row, d):
                result.unchanged += 1
            else:
                c.execute(update(DeclarationRow).where(DeclarationRow.c.id == row.id).values(**values))
                result.updated += 1
