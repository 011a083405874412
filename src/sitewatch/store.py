"""The store: scans, pages, links, checked targets, list items and findings, in SQLAlchemy 2 (SQLite by default).

The store is the seam between the pipeline's steps: the crawl writes as it goes, checks read pages and
list items and write findings, reports and look-backs read findings without re-crawling.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text,
                        create_engine, event, func, insert, select, update)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sitewatch.errors import ConfigError
from sitewatch.models import Finding

DEFAULT_DB = "sitewatch.db"
SCHEMA_VERSION = 1


class Base(DeclarativeBase):
    pass


class Scan(Base):
    __tablename__ = "scans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(200))
    start_urls: Mapped[list] = mapped_column(JSON)
    as_of: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20), default="full")          # full, lookback
    status: Mapped[str] = mapped_column(String(20), default="running")     # running, completed, interrupted
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    stats: Mapped[dict] = mapped_column(JSON, default=dict)


class Page(Base):
    __tablename__ = "pages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    title: Mapped[str] = mapped_column(Text, default="")
    encoding: Mapped[str] = mapped_column(String(40), default="")
    content_type: Mapped[str] = mapped_column(String(100), default="")
    elapsed_ms: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(Integer, default=0)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str] = mapped_column(String(40), default="")
    pub_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    meta: Mapped[dict] = mapped_column(JSON, default=dict)


class Link(Base):
    """One occurrence of a link on a crawled page."""

    __tablename__ = "links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"))
    page_url: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    tag: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (Index("ix_links_scan_target", "scan_id", "target"),)


class Target(Base):
    """One checked URL and its verdict (each URL is checked once per scan)."""

    __tablename__ = "targets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"))
    url: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    method: Mapped[str] = mapped_column(String(8), default="GET")
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    verdict: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(40), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    final_url: Mapped[str] = mapped_column(Text, default="")
    chain: Mapped[list] = mapped_column(JSON, default=list)
    elapsed_ms: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (Index("ix_targets_scan_url", "scan_id", "url"), Index("ix_targets_scan_verdict", "scan_id", "verdict"))


class ColumnRow(Base):
    __tablename__ = "columns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"), index=True)
    key: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(Text)
    engine: Mapped[str] = mapped_column(String(20), default="generic")
    total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    empty_marker: Mapped[bool] = mapped_column(Boolean, default=False)


class ListItemRow(Base):
    __tablename__ = "list_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"))
    column_key: Mapped[str] = mapped_column(Text)
    page_url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    date_source: Mapped[str | None] = mapped_column(String(20), nullable=True)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    document_number: Mapped[str | None] = mapped_column(Text, nullable=True)
    attachments: Mapped[list] = mapped_column(JSON, default=list)
    __table_args__ = (Index("ix_items_scan_column", "scan_id", "column_key"),)


class FindingRow(Base):
    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"), index=True)
    rule: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(32), index=True)
    message: Mapped[str] = mapped_column(Text)
    found_on: Mapped[list] = mapped_column(JSON, default=list)
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)


class Frontier(Base):
    """URLs queued but not yet done, so an interrupted scan can resume."""

    __tablename__ = "frontier"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    crawl: Mapped[bool] = mapped_column(Boolean, default=True)


class Probe(Base):
    """One availability probe of one URL."""

    __tablename__ = "probes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(200), index=True)
    url: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")


class Meta(Base):
    __tablename__ = "sitewatch_meta"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


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
    engine = create_engine(url, json_serializer=lambda o: json.dumps(o, ensure_ascii=False, default=str))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        Base.metadata.create_all(engine)
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
    for col in table.__table__.columns:
        d = col.default
        if col.name not in keys and d is not None and not col.primary_key:
            out[col.name] = d.arg(None) if d.is_callable else d.arg
    return out


def _driver_insert(c, table, keys: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert buffered rows (values in ``keys`` order) through the SQLite driver, stored exactly as SQLAlchemy
    stores them: a crawl writes ~35 rows per page, and SQLAlchemy's per-row processing cost more than SQLite."""
    conv = _CONVERTERS.get(table)
    if conv is None:
        conv = _CONVERTERS[table] = {col.name: f for col in table.__table__.columns if (f := _converter(col))}
    fns = [conv.get(k) for k in keys]
    if any(fns):
        rows = [tuple(v if f is None else f(v) for f, v in zip(fns, r)) for r in rows]
    defaults = _defaults(table, keys)
    if defaults:
        extra = tuple(conv[k](v) if k in conv else v for k, v in defaults.items())
        rows = [r + extra for r in rows]
    cols = keys + tuple(defaults)
    c.exec_driver_sql(f"INSERT INTO {table.__tablename__} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
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
                                                 config=config, stats={})).inserted_primary_key[0]

    def finish_scan(self, scan_id: int, status: str, stats: dict) -> None:
        self.flush()
        with self.engine.begin() as c:
            c.execute(update(Scan).where(Scan.id == scan_id).values(status=status, stats=stats,
                                                                    finished_at=dt.datetime.now()))

    def scan(self, scan_id: int) -> Scan | None:
        with Session(self.engine, expire_on_commit=False) as s:
            return s.get(Scan, scan_id)

    def scans(self, site: str | None = None, kind: str | None = "full") -> list[Scan]:
        with Session(self.engine, expire_on_commit=False) as s:
            q = select(Scan).order_by(Scan.id)
            if site:
                q = q.where(Scan.site == site)
            if kind:
                q = q.where(Scan.kind == kind)
            return list(s.scalars(q))

    def latest_scan(self, site: str | None = None, status: str | None = "completed") -> Scan | None:
        rows = [s for s in self.scans(site) if status is None or s.status == status]
        return rows[-1] if rows else None

    # --- buffered writes ---------------------------------------------------------------------
    def add(self, table, **row) -> None:
        """Buffer a row; call :meth:`maybe_flush` at a consistent point (e.g. after each fetched URL)."""
        self._buffers.setdefault((table, tuple(row)), []).append(tuple(row.values()))
        self._pending += 1

    def add_rows(self, table, keys: tuple[str, ...], rows: list[tuple]) -> None:
        """Buffer many rows at once, each a tuple of values for the columns ``keys``."""
        self._buffers.setdefault((table, keys), []).extend(rows)
        self._pending += len(rows)

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
    def broken_targets(self, scan_id: int) -> Iterator[tuple[Target, list[str]]]:
        """Each broken target once, with every page it appears on."""
        self.flush()
        with self.engine.connect() as c:
            targets = c.execute(select(Target).where(Target.scan_id == scan_id, Target.verdict == "broken")
                                .order_by(Target.url)).all()
            for t in targets:
                pages = c.execute(select(Link.page_url).where(Link.scan_id == scan_id, Link.target == t.url)
                                  .distinct().order_by(Link.page_url)).scalars().all()
                yield t, list(pages)

    def link_texts(self, scan_id: int, target: str) -> list[str]:
        with self.engine.connect() as c:
            return [t for t in c.execute(select(Link.text).where(Link.scan_id == scan_id, Link.target == target)
                                         .distinct()).scalars() if t]

    def save_findings(self, scan_id: int, findings: Iterable[Finding]) -> None:
        rows = [dict(scan_id=scan_id, rule=f.rule, severity=f.severity, url=f.url, fingerprint=f.fingerprint,
                     message=f.message, found_on=f.found_on, evidence=f.evidence, extra=f.extra) for f in findings]
        with self.engine.begin() as c:
            c.execute(FindingRow.__table__.delete().where(FindingRow.scan_id == scan_id))
            if rows:
                c.execute(insert(FindingRow), rows)

    def findings(self, scan_id: int) -> list[Finding]:
        with self.engine.connect() as c:
            rows = c.execute(select(FindingRow).where(FindingRow.scan_id == scan_id).order_by(FindingRow.id)).all()
        return [Finding(rule=r.rule, severity=r.severity, url=r.url, message=r.message, found_on=list(r.found_on or []),
                        evidence=dict(r.evidence or {}), extra=dict(r.extra or {})) for r in rows]

    def count(self, table, scan_id: int, *where) -> int:
        with self.engine.connect() as c:
            return c.execute(select(func.count()).select_from(table).where(table.scan_id == scan_id, *where)).scalar_one()
