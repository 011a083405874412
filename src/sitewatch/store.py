"""The store: scans, pages, links, checked targets, list items and findings, in SQLAlchemy 2 (SQLite by default).

The store is the seam between the pipeline's steps: the crawl writes as it goes, checks read pages and
list items and write findings, reports and look-backs read findings without re-crawling. The tables are
SQLAlchemy Core ``Table``s named like their rows (``Page.c.url``); the ORM is not used (its import alone was
~10% of a scan's peak memory).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (JSON, Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text,
                        create_engine, event, func, insert, select, update)
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import DatabaseError

from sitewatch.errors import ConfigError
from sitewatch.models import Finding

DEFAULT_DB = "sitewatch.db"

# The rows of the unit of work the current asyncio task is in (see ``Store.unit``); None outside one.
_UNIT: ContextVar[dict | None] = ContextVar("sitewatch_store_unit", default=None)


metadata = MetaData()


def _col(name: str, type_, *args, null: bool = False, **kw) -> Column:
    """A column, NOT NULL unless ``null``."""
    return Column(name, type_, *args, nullable=null, **kw)


def _id() -> Column:
    return Column("id", Integer, primary_key=True)


def _scan_id(index: bool = False) -> Column:
    return _col("scan_id", Integer, ForeignKey("scans.id"), index=index)


Scan = Table(
    "scans", metadata, _id(),
    _col("site", String(200)),
    _col("start_urls", JSON),
    _col("as_of", Date),
    _col("kind", String(20), default="full"),            # full, lookback
    _col("status", String(20), default="running"),       # running, completed, interrupted
    _col("started_at", DateTime),
    _col("finished_at", DateTime, null=True),
    _col("config", JSON, default=dict),
    _col("stats", JSON, default=dict),
)

Page = Table(
    "pages", metadata, _id(), _scan_id(index=True),
    _col("url", Text),
    _col("status", Integer, null=True),
    _col("title", Text, default=""),
    _col("encoding", String(40), default=""),
    _col("content_type", String(100), default=""),
    _col("elapsed_ms", Integer, default=0),
    _col("size", Integer, default=0),
    _col("depth", Integer, default=0),
    _col("content_hash", String(40), default=""),
    _col("pub_date", Date, null=True),
    _col("meta", JSON, default=dict),
)

PROBE_TAG = "probe"      # a Link row for a URL sitewatch built itself (the gkmlpt guide): resumable, never an occurrence

Link = Table(                                             # one occurrence of a link on a crawled page
    "links", metadata, _id(), _scan_id(),
    _col("page_url", Text),
    _col("target", Text),
    _col("tag", String(20)),
    _col("text", Text, default=""),
    Index("ix_links_scan", "scan_id"),
)

Target = Table(                                           # one checked URL and its verdict, once per scan
    "targets", metadata, _id(), _scan_id(),
    _col("url", Text),
    _col("internal", Boolean, default=False),
    _col("method", String(8), default="GET"),
    _col("status", Integer, null=True),
    _col("verdict", String(20)),
    _col("reason", String(40), default=""),
    _col("detail", Text, default=""),
    _col("final_url", Text, default=""),
    _col("chain", JSON, default=list),
    _col("elapsed_ms", Integer, default=0),
    Index("ix_targets_scan_url", "scan_id", "url"),
    Index("ix_targets_scan_verdict", "scan_id", "verdict"),
)

ColumnRow = Table(
    "columns", metadata, _id(), _scan_id(index=True),
    _col("key", Text),
    _col("name", Text, default=""),
    _col("url", Text),
    _col("engine", String(20), default="generic"),
    _col("total", Integer, null=True),
    _col("empty_marker", Boolean, default=False),
)

ListItemRow = Table(
    "list_items", metadata, _id(), _scan_id(),
    _col("column_key", Text),
    _col("page_url", Text),
    _col("title", Text),
    _col("url", Text),
    _col("date", Date, null=True),
    _col("date_source", String(20), null=True),
    _col("pinned", Boolean, default=False),
    _col("document_number", Text, null=True),
    _col("attachments", JSON, default=list),
    Index("ix_items_scan_column", "scan_id", "column_key"),
)

FindingRow = Table(
    "findings", metadata, _id(), _scan_id(index=True),
    _col("rule", String(60)),
    _col("severity", String(20)),
    _col("url", Text),
    _col("fingerprint", String(32), index=True),
    _col("message", Text),
    _col("found_on", JSON, default=list),
    _col("evidence", JSON, default=dict),
    _col("extra", JSON, default=dict),
)

Frontier = Table(                                         # URLs queued but not yet done, so a scan can resume
    "frontier", metadata, _id(), _scan_id(index=True),
    _col("url", Text),
    _col("depth", Integer, default=0),
    _col("crawl", Boolean, default=True),
)

Probe = Table(                                            # one availability probe of one URL
    "probes", metadata, _id(),
    _col("site", String(200), index=True),
    _col("url", Text),
    _col("at", DateTime, index=True),
    _col("ok", Boolean),
    _col("status", Integer, null=True),
    _col("latency_ms", Integer, null=True),
    _col("error", Text, default=""),
)

Meta = Table(
    "sitewatch_meta", metadata,
    Column("key", String(40), primary_key=True),
    _col("value", Text),
)


@dataclass(frozen=True)
class ScanRecord:
    """One row of ``scans``."""

    id: int
    site: str
    start_urls: list
    as_of: dt.date
    kind: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    config: dict
    stats: dict          # while running: {"runner": {"host", "pid"}} of the process that runs it

    def runner_state(self) -> str:
        """For a scan marked running: "alive" when the process that runs it is alive on this host, "gone" when it
        has ended there (killed, or the machine restarted: only a resume will finish the scan), else "unknown"
        (another host, or a store written before runners were recorded)."""
        runner = (self.stats or {}).get("runner") or {}
        if self.status != "running" or runner.get("host") != socket.gethostname() or not runner.get("pid"):
            return "unknown"
        try:
            os.kill(int(runner["pid"]), 0)
        except ProcessLookupError:
            return "gone"
        except OSError:                     # EPERM: alive, another user's
            pass
        return "alive"


def runner() -> dict[str, Any]:
    """This process, as recorded in a running scan's stats."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA cache_size=-256")
    cur.close()


def open_engine(db: str | Path) -> Engine:
    """Open (creating if needed) a store. ``db`` is a file path or an SQLAlchemy URL."""
    url = str(db)
    if "://" not in url:
        path = Path(url)
        if path.exists() and path.is_dir():
            raise ConfigError(f"--db {db}: is a directory, expected a database file")
        if path.parent and not path.parent.exists():
            raise ConfigError(f"--db {db}: folder {path.parent} does not exist")
        url = f"sqlite:///{path}"
    engine = create_engine(url, json_serializer=_json)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        metadata.create_all(engine)
        with engine.begin() as c:     # stores made before 2026-11-28: links were indexed on (scan_id, target)
            if engine.dialect.has_index(c, "links", "ix_links_scan_target"):
                c.exec_driver_sql("DROP INDEX ix_links_scan_target")
            for index in Link.indexes:
                index.create(c, checkfirst=True)
    except DatabaseError as exc:
        raise ConfigError(f"--db {db}: not a sitewatch database ({exc.orig})") from None
    return engine


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _converter(col) -> Any:
    """How SQLAlchemy's SQLite dialect stores a column's Python value (None for as-is)."""
    if isinstance(col.type, JSON):
        return _json                                   # None included: JSON 'null', as SQLAlchemy does
    if isinstance(col.type, DateTime):
        return lambda v: None if v is None else v.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(col.type, Date):
        return lambda v: None if v is None else v.isoformat()
    return None


_CONVERTERS: dict[Any, dict[str, Any]] = {}


def _defaults(table, keys: tuple[str, ...]) -> dict[str, Any]:
    """Python-side defaults of the columns a row leaves out (what ``insert()`` would fill in)."""
    out = {}
    for col in table.columns:
        d = col.default
        if col.name not in keys and d is not None and not col.primary_key:
            out[col.name] = d.arg(None) if d.is_callable else d.arg
    return out


def _driver_insert(c, table, keys: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert buffered rows (values in ``keys`` order) through the SQLite driver, stored exactly as SQLAlchemy
    stores them: a crawl writes ~35 rows per page, and SQLAlchemy's per-row processing cost more than SQLite."""
    conv = _CONVERTERS.get(table)
    if conv is None:
        conv = _CONVERTERS[table] = {col.name: f for col in table.columns if (f := _converter(col))}
    fns = [conv.get(k) for k in keys]
    if any(fns):
        rows = [tuple(v if f is None else f(v) for f, v in zip(fns, r)) for r in rows]
    defaults = _defaults(table, keys)
    if defaults:
        extra = tuple(conv[k](v) if k in conv else v for k, v in defaults.items())
        rows = [r + extra for r in rows]
    cols = keys + tuple(defaults)
    c.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                      rows)


class Store:
    """Write and read one database. Writes are buffered and flushed in batches."""

    BATCH = 2000

    def __init__(self, db: str | Path = DEFAULT_DB):
        self.engine = open_engine(db)
        self._buffers: dict[tuple[Any, tuple[str, ...]], list[tuple]] = {}   # (table, column names) -> values
        self._pending = 0
        self._last_flush = time.monotonic()

    # --- scans -------------------------------------------------------------------------------
    def new_scan(self, site: str, start_urls: list[str], as_of: dt.date, config: dict, kind: str = "full") -> int:
        with self.engine.begin() as c:
            return c.execute(insert(Scan).values(site=site, start_urls=start_urls, as_of=as_of, kind=kind,
                                                 status="running", started_at=dt.datetime.now(),
                                                 config=config, stats={"runner": runner()})).inserted_primary_key[0]

    def finish_scan(self, scan_id: int, status: str, stats: dict) -> None:
        self.flush()
        with self.engine.begin() as c:
            c.execute(update(Scan).where(Scan.c.id == scan_id).values(status=status, stats=stats,
                                                                    finished_at=dt.datetime.now()))

    def scan(self, scan_id: int) -> ScanRecord | None:
        rows = self._scans(Scan.c.id == scan_id)
        return rows[0] if rows else None

    def scans(self, site: str | None = None, kind: str | None = "full") -> list[ScanRecord]:
        return self._scans(*([Scan.c.site == site] if site else []), *([Scan.c.kind == kind] if kind else []))

    def _scans(self, *where) -> list[ScanRecord]:
        with self.engine.connect() as c:
            return [ScanRecord(**r._mapping) for r in c.execute(select(Scan).where(*where).order_by(Scan.c.id))]

    def latest_scan(self, site: str | None = None, status: str | None = "completed") -> ScanRecord | None:
        rows = [s for s in self.scans(site) if status is None or s.status == status]
        return rows[-1] if rows else None

    # --- buffered writes ---------------------------------------------------------------------
    def add(self, table, **row) -> None:
        """Buffer a row; call :meth:`maybe_flush` at a consistent point (e.g. after each fetched URL)."""
        unit = _UNIT.get()
        buffers = self._buffers if unit is None else unit
        buffers.setdefault((table, tuple(row)), []).append(tuple(row.values()))
        if unit is None:
            self._pending += 1

    def add_rows(self, table, keys: tuple[str, ...], rows: list[tuple]) -> None:
        """Buffer many rows at once, each a tuple of values for the columns ``keys``."""
        unit = _UNIT.get()
        (self._buffers if unit is None else unit).setdefault((table, keys), []).extend(rows)
        if unit is None:
            self._pending += len(rows)

    @contextmanager
    def unit(self) -> Iterator[None]:
        """A unit of work (one crawled URL with everything its page hooks add): the rows the current asyncio task
        adds inside it are held apart and join the flush buffer together when it ends without an exception, so
        a flush (which other tasks may trigger while this one awaits) never writes a part of it. Ended by an
        exception (a cancelled or interrupted crawl), its rows are dropped: the URL was not done."""
        rows: dict = {}
        token = _UNIT.set(rows)
        try:
            yield
        finally:
            _UNIT.reset(token)
        for key, values in rows.items():
            self._buffers.setdefault(key, []).extend(values)
            self._pending += len(values)

    def maybe_flush(self) -> None:
        if self._pending >= self.BATCH or (self._pending and time.monotonic() - self._last_flush > 1.0):
            self.flush()

    def flush(self) -> None:
        """Write every buffered row in one transaction, so a crash never leaves half a page behind.

        (A writer thread was tried, 2026-11-27: the GIL hand-offs cost more CPU than SQLite's own work saved.)"""
        if not self._pending:
            return
        buffers, self._buffers, self._pending = self._buffers, {}, 0
        raw = self.engine.dialect.name == "sqlite"
        with self.engine.begin() as c:
            for (table, keys), rows in buffers.items():
                if rows and raw:
                    _driver_insert(c, table, keys, rows)
                elif rows:
                    c.execute(insert(table), [dict(zip(keys, r)) for r in rows])
        self._last_flush = time.monotonic()

    # --- reads used by checks and reports ------------------------------------------------------
    def broken_targets(self, scan_id: int) -> list[tuple[Row, list[str], list[str]]]:
        """Each broken target, with every page it appears on (sorted) and its non-empty link texts (first seen
        first): one pass over the scan's links, so the links need no index on their target. A probe's row
        (``PROBE_TAG``) is no occurrence: a target only sitewatch asked for appears on no page."""
        self.flush()
        broken = (Target.c.scan_id == scan_id) & (Target.c.verdict == "broken")
        with self.engine.connect() as c:
            rows = c.execute(select(Target).where(broken).order_by(Target.c.url, Target.c.id)).all()
            targets = [t for i, t in enumerate(rows) if i == 0 or rows[i - 1].url != t.url]   # a row twice: once
            pages: dict[str, set[str]] = {t.url: set() for t in targets}
            texts: dict[str, dict[str, None]] = {t.url: {} for t in targets}
            if targets:
                occurrences = (select(Link.c.target, Link.c.page_url, Link.c.text)
                               .where(Link.c.scan_id == scan_id, Link.c.tag != PROBE_TAG,
                                      Link.c.target.in_(select(Target.c.url).where(broken)))
                               .order_by(Link.c.id))
                for target, page, text in c.execute(occurrences):
                    pages[target].add(page)
                    if text:
                        texts[target].setdefault(text)
        return [(t, sorted(pages[t.url]), list(texts[t.url])) for t in targets]

    def save_findings(self, scan_id: int, findings: Iterable[Finding]) -> None:
        rows = [dict(scan_id=scan_id, rule=f.rule, severity=f.severity, url=f.url, fingerprint=f.fingerprint,
                     message=f.message, found_on=f.found_on, evidence=f.evidence, extra=f.extra) for f in findings]
        with self.engine.begin() as c:
            c.execute(FindingRow.delete().where(FindingRow.c.scan_id == scan_id))
            if rows:
                c.execute(insert(FindingRow), rows)

    def findings(self, scan_id: int) -> list[Finding]:
        with self.engine.connect() as c:
            rows = c.execute(select(FindingRow).where(FindingRow.c.scan_id == scan_id).order_by(FindingRow.c.id)).all()
        return [Finding(rule=r.rule, severity=r.severity, url=r.url, message=r.message, found_on=list(r.found_on or []),
                        evidence=dict(r.evidence or {}), extra=dict(r.extra or {})) for r in rows]

    def count(self, table, scan_id: int, *where) -> int:
        with self.engine.connect() as c:
            return c.execute(select(func.count()).select_from(table).where(table.c.scan_id == scan_id, *where)).scalar_one()
