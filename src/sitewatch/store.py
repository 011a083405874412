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

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.schema import ColumnDefault

from sitewatch.errors import ConfigError, UsageError
from sitewatch.models import Finding

DEFAULT_DB = "sitewatch.db"
DB_HELP = "the store: an SQLite file (default ./sitewatch.db) or postgresql+psycopg://USER[:PASSWORD]@HOST[:PORT]/DBNAME"

# The rows of the unit of work the current asyncio task is in (see ``Store.unit``); None outside one.
_Buffers = dict[tuple[Table, tuple[str, ...]], list[tuple[Any, ...]]]   # (table, column names) -> rows of values
_UNIT: ContextVar[_Buffers | None] = ContextVar("sitewatch_store_unit", default=None)


metadata = MetaData()


def _col(name: str, type_: Any, *args: Any, null: bool = False, **kw: Any) -> Column[Any]:
    """A column, NOT NULL unless ``null``."""
    return Column(name, type_, *args, nullable=null, **kw)


def _id() -> Column[Any]:
    return Column("id", Integer, primary_key=True)


def _scan_id(index: bool = False) -> Column[Any]:
    return _col("scan_id", Integer, ForeignKey("scans.id"), index=index)


ScanRow = Table(
    "scans", metadata, _id(),
    _col("site", Text),
    _col("start_urls", JSON),
    _col("as_of", Date),
    _col("kind", String(20), default="full"),            # full, lookback
    _col("status", String(20), default="running"),       # running, completed, interrupted, failed
    _col("started_at", DateTime),
    _col("finished_at", DateTime, null=True),
    _col("config", JSON, default=dict),
    _col("stats", JSON, default=dict),
)

PageRow = Table(
    "pages", metadata, _id(), _scan_id(index=True),
    _col("url", Text),
    _col("status", Integer, null=True),
    _col("title", Text, default=""),
    _col("encoding", Text, default=""),                  # as the page or its server named it
    _col("content_type", Text, default=""),
    _col("elapsed_ms", Integer, default=0),
    _col("size", Integer, default=0),
    _col("depth", Integer, default=0),
    _col("content_hash", String(40), default=""),
    _col("pub_date", Date, null=True),
    _col("meta", JSON, default=dict),
    _col("etag", Text, null=True),                       # the validators it was served with (conditional requests)
    _col("last_modified", Text, null=True),
    _col("facts", JSON(none_as_null=True), null=True),   # what the page hooks learnt from it (ParsedPage.facts);
                                                         # None: the page must be read again next scan
    _col("reused", String(20), null=True),               # not read this scan: "not_modified" (a 304 answer) or
                                                         # "unchanged" (the same body); its facts were replayed
)

# a Link row for a URL sitewatch built itself (the gkmlpt guide): resumable, never an occurrence
PROBE_TAG = "probe"

LinkRow = Table(                                             # one occurrence of a link on a crawled page
    "links", metadata, _id(), _scan_id(),
    _col("page_url", Text),
    _col("target", Text),
    _col("tag", String(20)),
    _col("text", Text, default=""),
    Index("ix_links_scan_page", "scan_id", "page_url"),     # a page's links: copied when a rescan reuses the page
)

TargetRow = Table(                                           # one checked URL and its verdict, once per scan
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

FrontierRow = Table(                                         # URLs queued but not yet done, so a scan can resume
    "frontier", metadata, _id(), _scan_id(index=True),
    _col("url", Text),
    _col("depth", Integer, default=0),
    _col("crawl", Boolean, default=True),
)

ProbeRow = Table(                                            # one availability probe of one URL
    "probes", metadata, _id(),
    _col("site", Text, index=True),
    _col("url", Text),
    _col("at", DateTime, index=True),
    _col("ok", Boolean),
    _col("status", Integer, null=True),
    _col("latency_ms", Integer, null=True),
    _col("error", Text, default=""),
)

JobRunRow = Table(                                           # one run of a scheduled job (sitewatch.scheduler)
    "job_runs", metadata, _id(),
    _col("job_id", Text, index=True),
    _col("site", Text),
    _col("kind", String(20)),
    _col("scan_id", Integer, null=True),
    _col("started_at", DateTime),
    _col("finished_at", DateTime, null=True),
    _col("status", String(20), index=True),                # queued, running, ok, failed, skipped, interrupted,
    _col("detail", Text, default=""),                      # killed, requeued (a fleet job resumed by another)
    _col("worker", Text, null=True),                       # the fleet worker that ran it (None: the scheduler)
    _col("queued_at", DateTime, null=True),                # when the scheduler queued it for the fleet
    _col("payload", JSON, null=True),                      # a fleet job's site config table (sitewatch.fleet.jobs)
)

DeclarationRow = Table(                                       # what a person declared on a workbook sitewatch wrote
    "declarations", metadata, _id(), _scan_id(),
    _col("kind", String(20)),                              # unit: a unit's 整改 declaration; spotcheck: 核查结论
    _col("key", String(64)),                               # the finding's fingerprint (or a spot-checked page's key)
    _col("url", Text, default=""),
    _col("status", Text),                                  # 整改状态 (已整改, 整改中 …) or 核查结论 (属实 …)
    _col("note", Text, default=""),                        # 整改措施, or the assessor's 备注
    _col("done_on", Date, null=True),                      # 完成时间, or 核查日期
    _col("declared_by", Text, default=""),                 # the unit (责任科室), or the assessor (核查人)
    _col("source", Text, default=""),                      # workbook file, sheet and row it was read from
    _col("imported_at", DateTime),
    Index("ix_declarations_scan_kind_key", "scan_id", "kind", "key", unique=True),
)

CachedTargetRow = Table(                                     # a target whose result came from the link cache
    "cached_targets", metadata, _id(), _scan_id(),
    _col("url", Text),                                     # its targets row in this scan holds the reused result
    _col("measured_at", DateTime),                         # when that result was measured (no request this scan)
    _col("measured_scan", Integer),                        # the scan that measured it
    Index("ix_cached_targets_scan_url", "scan_id", "url"),
)

# --- the web console (sitewatch.console, docs/console.md) ---------------------------------------------------------
UserRow = Table(                                             # one account of the console
    "users", metadata, _id(),
    _col("username", Text),
    _col("role", String(20)),                              # admin, unit, leader, assessor (console.accounts.ROLES)
    _col("unit", Text, null=True),                         # role unit: the 责任科室 it answers for
    _col("password_hash", Text),                           # argon2id, encoded with its parameters and salt
    _col("disabled", Boolean, default=False),
    _col("created_at", DateTime),
    _col("updated_at", DateTime),
    _col("password_changed_at", DateTime),
    _col("last_login_at", DateTime, null=True),
    Index("ix_users_username", "username", unique=True),
)

SessionRow = Table(                                          # a signed-in browser (server side: logout ends it here)
    "sessions", metadata, _id(),
    _col("token_hash", String(64)),                        # SHA-256 of the cookie's random token (never the token)
    _col("user_id", Integer, ForeignKey("users.id"), index=True),
    _col("created_at", DateTime),
    _col("last_seen_at", DateTime),                        # idle expiry counts from here
    _col("expires_at", DateTime),                          # absolute expiry
    _col("csrf_secret", String(64)),                       # every form of the session carries it
    _col("address", Text, default=""),                     # the client address it signed in from
    Index("ix_sessions_token_hash", "token_hash", unique=True),
)

LoginThrottleRow = Table(                                    # failed sign-ins counted per user name and per address
    "login_throttle", metadata, _id(),
    _col("kind", String(10)),                              # user, address
    _col("key", Text),                                     # SHA-256 of the user name as typed, or the address
    _col("failures", Integer, default=0),                  # failures since first_at
    _col("first_at", DateTime),                            # start of the counting window
    _col("locked_until", DateTime, null=True),
    _col("lockouts", Integer, default=0),                  # how many times it was locked
    Index("ix_login_throttle_kind_key", "kind", "key", unique=True),
)

AuditRow = Table(                                            # who did what and when (never changed or deleted)
    "audit_log", metadata, _id(),
    _col("at", DateTime, index=True),
    _col("actor", Text, default=""),                       # a user name, "cli:<system user>", or "" (anonymous)
    _col("role", String(20), default=""),
    _col("address", Text, default=""),                     # the client address (a command run: "")
    _col("action", String(60)),                            # login.ok, login.failed, user.add … (console.audit)
    _col("target", Text, default=""),                      # what it acted on: a user name, a problem, a scan
    _col("detail", JSON, default=dict),
)

# The schema's version: the Alembic revision (src/sitewatch/migrations/versions) the tables above are at. A new
# store is created at it; an older one is refused until ``sitewatch db upgrade`` (store_version below).
SCHEMA_HEAD = "0010"
VERSION_TABLE = "alembic_version"
_version = Table(VERSION_TABLE, MetaData(), Column("version_num", String(32), primary_key=True))


@dataclass(frozen=True)
class ScanRecord:
    """One row of ``scans``."""

    id: int
    site: str
    start_urls: list[str]
    as_of: dt.date
    kind: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    config: dict[str, Any]
    stats: dict[str, Any]          # while running: {"runner": {"host", "pid"}} of the process that runs it

    def runner_state(self) -> str:
        """For a scan marked running: "alive" when the process that runs it is alive on this host, "gone" when it
        has ended there (killed, or the machine restarted: only a resume will finish the scan), else "unknown"
        (another host, or a store written before runners were recorded)."""
        return runner_state(self.status, self.stats)


def runner_state(status: str, stats: dict[str, Any] | None) -> str:
    """``ScanRecord.runner_state`` of a scan row's status and stats."""
    runner = (stats or {}).get("runner") or {}
    if status != "running" or runner.get("host") != socket.gethostname() or not runner.get("pid"):
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


# How long a write waits for another writer's lock before it fails (SQLite busy_timeout, PostgreSQL lock_timeout):
# a scan that meets a longer lock fails (status "failed") rather than waiting without end.
LOCK_WAIT_MS = 10_000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT_MS)}")
    cur.execute("PRAGMA cache_size=-256")
    cur.close()


class SchemaError(ConfigError):
    """The store's schema is not the one this version writes (older: ``sitewatch db upgrade``; newer: upgrade
    sitewatch)."""


def _url(db: str | Path) -> str:
    """The SQLAlchemy URL of ``db`` (a file path or a URL), checked."""
    url = str(db)
    if "://" in url:
        if not url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ConfigError(f"--db {db}: unsupported database URL (use a file path, sqlite:///PATH or "
                              "postgresql+psycopg://USER@HOST/DBNAME)")
        return url.replace("postgresql://", "postgresql+psycopg://", 1)
    path = Path(url)
    if path.exists() and path.is_dir():
        raise ConfigError(f"--db {db}: is a directory, expected a database file")
    if path.parent and not path.parent.exists():
        raise ConfigError(f"--db {db}: folder {path.parent} does not exist")
    return f"sqlite:///{path}"


def create_store_engine(db: str | Path) -> Engine:
    """An engine on ``db`` (file path or URL), without looking at the schema."""
    url = _url(db)
    pg = {} if url.startswith("sqlite") else {
        "pool_pre_ping": True,            # a scheduler outlives server restarts and idle-connection reapers
        "connect_args": {"options": f"-c lock_timeout={int(LOCK_WAIT_MS)}", "connect_timeout": 10}}
    try:
        engine = create_engine(url, json_serializer=_json, **pg)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"--db {db}: {exc.name} is not installed (pip install \"sitewatch[postgres]\")") from None
    except ArgumentError as exc:
        raise ConfigError(f"--db {db}: not a database URL ({exc})") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine, "before_cursor_execute", _no_nul, retval=True)
    return engine


def _scrub(value: Any) -> Any:
    return value.replace("\x00", "\ufffd") if type(value) is str and "\x00" in value else value


def _no_nul(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool
            ) -> tuple[str, Any]:
    """PostgreSQL text holds no NUL character, and a crawled page may carry one (in a title, a link text): it is
    stored as U+FFFD, the replacement character, as a decoder marks what it could not read."""
    if executemany:
        parameters = [_scrub_row(p) for p in parameters]
    elif parameters:
        parameters = _scrub_row(parameters)
    return statement, parameters


def _scrub_row(params: Any) -> Any:
    if isinstance(params, dict):
        return {k: _scrub(v) for k, v in params.items()}
    if isinstance(params, (list, tuple)):
        return type(params)(_scrub(v) for v in params)
    return params


def store_version(engine: Engine) -> str | None:
    """The schema revision of the store (None: empty database; "unversioned": a sitewatch 0.1.0 store written
    before migrations existed)."""
    with engine.connect() as c:
        insp = inspect(c)
        if insp.has_table(VERSION_TABLE):
            return c.execute(select(_version.c.version_num)).scalar() or "unversioned"
        return "unversioned" if insp.has_table("scans") else None


def is_older(version: str | None) -> bool:
    """Whether a store at ``version`` (``store_version``) needs ``sitewatch db upgrade``."""
    return version == "unversioned" or bool(version and version.isdigit() and int(version) < int(SCHEMA_HEAD))


def describe(engine: Engine) -> str:
    """The store as a user names it: its file, or its URL without a password."""
    if engine.dialect.name == "sqlite":
        return str(engine.url.database)
    return engine.url.render_as_string(hide_password=True)


def open_engine(db: str | Path) -> Engine:
    """Open a store, creating its tables (at ``SCHEMA_HEAD``) in an empty database. ``db`` is a file path or an
    SQLAlchemy URL. A store at an older schema is refused with the command that upgrades it (``SchemaError``):
    a migration is a step its owner takes on purpose, with every process that writes it stopped."""
    engine = create_store_engine(db)
    try:
        version = store_version(engine)
        if version is None:
            with engine.begin() as c:
                metadata.create_all(c)
                _version.create(c, checkfirst=True)
                if c.execute(select(_version.c.version_num)).scalar() is None:
                    c.execute(insert(_version).values(version_num=SCHEMA_HEAD))
            version = SCHEMA_HEAD
    except OperationalError as exc:
        engine.dispose()
        raise ConfigError(f"--db {db}: cannot open the database ({db_reason(exc)})") from None
    except DatabaseError as exc:
        engine.dispose()
        raise ConfigError(f"--db {db}: not a sitewatch database ({db_reason(exc)})") from None
    if version != SCHEMA_HEAD:
        engine.dispose()
        if is_older(version):
            raise SchemaError(f"--db {db}: the store has an older schema ({version}, this sitewatch writes "
                              f"{SCHEMA_HEAD}); upgrade it first: sitewatch db upgrade --db {db}")
        raise SchemaError(f"--db {db}: the store was written by a newer sitewatch (schema {version}, this one "
                          f"knows up to {SCHEMA_HEAD}); upgrade sitewatch")
    return engine


def upgrade_store(db: str | Path, backup: bool = True, force: bool = False) -> tuple[str | None, str, Path | None]:
    """Migrate the store to ``SCHEMA_HEAD`` (creating it when empty) in one transaction where the database
    allows (PostgreSQL; SQLite as far as its DDL does). An SQLite file is first copied to ``<file>.before-<version>``
    when ``backup``. Refused while another sitewatch uses the store (``in_use``) unless ``force``. Returns
    (version before, version after, backup path)."""
    from alembic import command  # lazy: heavy dependency, used by upgrades only
    from alembic.config import Config

    engine = create_store_engine(db)
    try:
        before = store_version(engine)
        saved = None
        if before in (None, SCHEMA_HEAD):
            if before is None:
                engine.dispose()
                open_engine(db).dispose()
            return before, SCHEMA_HEAD, None
        if not is_older(before):
            raise SchemaError(f"--db {db}: the store was written by a newer sitewatch (schema {before}, this one "
                              f"knows up to {SCHEMA_HEAD}); upgrade sitewatch")
        busy = None if force else in_use(engine)
        if busy:
            raise UsageError(f"db upgrade: --db {db}: {busy}; its process would meet a schema changed under it. "
                             "Let it finish or stop it (a scan checkpoints on Ctrl-C), then upgrade; --force "
                             "upgrades anyway (only when no sitewatch uses this database any more)")
        if backup and engine.dialect.name == "sqlite":
            saved = _sqlite_backup(engine, before)
        cfg = Config()
        cfg.set_main_option("script_location", "sitewatch:migrations")
        with engine.begin() as c:
            cfg.attributes["connection"] = c
            if before == "unversioned":
                command.stamp(cfg, "0001")
            command.upgrade(cfg, "head")
        return before, store_version(engine) or SCHEMA_HEAD, saved
    except OperationalError as exc:
        raise ConfigError(f"--db {db}: cannot upgrade the store ({db_reason(exc)}); it is unchanged") from None
    finally:
        engine.dispose()


SCHEDULER_LOCK_KEY = 0x5175E3A7C4ED       # PostgreSQL advisory lock of "one scheduler per database"


def scheduler_lock_path(engine: Engine) -> Path | None:
    """The file whose advisory lock a scheduler holds on an SQLite store (None for other databases)."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    return Path(f"{path}.scheduler.lock") if path and path != ":memory:" else None


def in_use(engine: Engine) -> str | None:
    """Who else uses the store, read without changing it: a scheduler holding its single-instance lock, or a scan
    marked running whose process is alive on this host or cannot be checked from here (another host, or a scan
    from before runners were recorded). A scan whose process has ended (killed, the machine restarted) does not
    count: it stays ``running`` until a resume, which the upgraded store allows."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as c:
            free = c.exec_driver_sql(f"SELECT pg_try_advisory_lock({SCHEDULER_LOCK_KEY})").scalar()
            if free:
                c.exec_driver_sql(f"SELECT pg_advisory_unlock({SCHEDULER_LOCK_KEY})")
            c.commit()
        if not free:
            return "a scheduler is running on it (it holds the scheduler lock)"
    lock = scheduler_lock_path(engine)
    if lock is not None and lock.exists():
        import fcntl
        with open(lock, "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return f"a scheduler is running on it (it holds {lock})"
            fcntl.flock(f, fcntl.LOCK_UN)
    try:
        with engine.connect() as c:
            rows = c.exec_driver_sql("SELECT id, site, stats FROM scans WHERE status = 'running' ORDER BY id").all()
    except DatabaseError:
        return None                       # no scans table: nothing can be running
    for scan_id, site, stats in rows:
        if isinstance(stats, str):
            try:
                stats = json.loads(stats)
            except ValueError:
                stats = {}
        stats = stats if isinstance(stats, dict) else {}
        state = runner_state("running", stats)
        runner = stats.get("runner") or {}
        if state == "alive":
            return f"scan {scan_id} of {site} is running (process {runner.get('pid')})"
        if state == "unknown":
            by = (f"process {runner.get('pid')} on host {runner.get('host')}" if runner.get("pid")
                  else "a process sitewatch did not record")
            return (f"scan {scan_id} of {site} is marked running by {by}, which cannot be checked from here "
                    "(if it has ended, --force)")
    return None


def _sqlite_backup(engine: Engine, version: str) -> Path:
    """A consistent copy of an SQLite store (the SQLite backup API: WAL contents included)."""
    import sqlite3  # lazy: only for the backup of an SQLite store

    src = Path(str(engine.url.database))
    dest = src.with_name(f"{src.name}.before-{version}")
    n = 1
    while dest.exists():
        n += 1
        dest = src.with_name(f"{src.name}.before-{version}.{n}")
    with sqlite3.connect(src) as a, sqlite3.connect(dest) as b:
        a.backup(b)
    a.close()
    b.close()
    return dest


def db_reason(exc: Exception) -> str:
    """A database error's message on one line, without SQLAlchemy's statement and background link."""
    orig = getattr(exc, "orig", None) or exc
    return " ".join(str(orig).split()) or type(orig).__name__


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _converter(col: Column[Any]) -> Any:
    """How SQLAlchemy's SQLite dialect stores a column's Python value (None for as-is)."""
    if isinstance(col.type, JSON):
        if col.type.none_as_null:                      # None is SQL NULL
            return lambda v: None if v is None else _json(v)
        return _json                                   # None included: JSON 'null', as SQLAlchemy does
    if isinstance(col.type, DateTime):
        return lambda v: None if v is None else v.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(col.type, Date):
        return lambda v: None if v is None else v.isoformat()
    return None


_CONVERTERS: dict[Any, dict[str, Any]] = {}


def _defaults(table: Table, keys: tuple[str, ...]) -> dict[str, Any]:
    """Python-side defaults of the columns a row leaves out (what ``insert()`` would fill in)."""
    out: dict[str, Any] = {}
    for col in table.columns:
        d = col.default
        if col.name not in keys and isinstance(d, ColumnDefault) and not col.primary_key:   # Python-side ones
            out[col.name] = d.arg(None) if d.is_callable else d.arg
    return out


def _driver_insert(c: Connection, table: Table, keys: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Insert buffered rows (values in ``keys`` order) through the SQLite driver, stored exactly as SQLAlchemy
    stores them: a crawl writes ~35 rows per page, and SQLAlchemy's per-row processing cost more than SQLite."""
    conv = _CONVERTERS.get(table)
    if conv is None:
        conv = _CONVERTERS[table] = {col.name: f for col in table.columns if (f := _converter(col))}
    fixes = [(i, f) for i, k in enumerate(keys) if (f := conv.get(k))]
    if fixes:                           # only the few columns with a converter (JSON, dates), not every value
        def fixed(row: tuple[Any, ...]) -> tuple[Any, ...]:
            values = list(row)
            for i, f in fixes:
                values[i] = f(values[i])
            return tuple(values)
        rows = [fixed(r) for r in rows]
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
        self._buffers: _Buffers = {}
        self._pending = 0
        self._last_flush = 0.0          # the first finished URL is written at once (a scan killed early keeps it)

    # --- scans -------------------------------------------------------------------------------
    def new_scan(self, site: str, start_urls: list[str], as_of: dt.date, config: dict[str, Any],
                 kind: str = "full") -> int:
        with self.engine.begin() as c:
            pk = c.execute(insert(ScanRow).values(site=site, start_urls=start_urls, as_of=as_of, kind=kind,
                                               status="running", started_at=dt.datetime.now(),
                                               config=config, stats={"runner": runner()})).inserted_primary_key
            assert pk is not None                       # a single-row insert
            scan_id: int = pk[0]
            return scan_id

    def finish_scan(self, scan_id: int, status: str, stats: dict[str, Any]) -> None:
        self.flush()
        with self.engine.begin() as c:
            c.execute(update(ScanRow).where(ScanRow.c.id == scan_id).values(status=status, stats=stats,
                                                                    finished_at=dt.datetime.now()))

    def scan(self, scan_id: int) -> ScanRecord | None:
        rows = self._scans(ScanRow.c.id == scan_id)
        return rows[0] if rows else None

    def scans(self, site: str | None = None, kind: str | None = "full") -> list[ScanRecord]:
        return self._scans(*([ScanRow.c.site == site] if site else []), *([ScanRow.c.kind == kind] if kind else []))

    def _scans(self, *where: ColumnElement[bool]) -> list[ScanRecord]:
        with self.engine.connect() as c:
            return [ScanRecord(**r._mapping) for r in c.execute(select(ScanRow).where(*where).order_by(ScanRow.c.id))]

    def latest_scan(self, site: str | None = None, status: str | None = "completed") -> ScanRecord | None:
        rows = [s for s in self.scans(site) if status is None or s.status == status]
        return rows[-1] if rows else None

    # --- buffered writes ---------------------------------------------------------------------
    def add(self, table: Table, **row: Any) -> None:
        """Buffer a row; call :meth:`maybe_flush` at a consistent point (e.g. after each fetched URL)."""
        unit = _UNIT.get()
        buffers = self._buffers if unit is None else unit
        buffers.setdefault((table, tuple(row)), []).append(tuple(row.values()))
        if unit is None:
            self._pending += 1

    def add_rows(self, table: Table, keys: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
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
        rows: _Buffers = {}
        token = _UNIT.set(rows)
        try:
            yield
        finally:
            _UNIT.reset(token)
        for key, values in rows.items():
            self._buffers.setdefault(key, []).extend(values)
            self._pending += len(values)

    def drop_unit(self) -> None:
        """Drop the rows the current unit of work holds so far (its URL was cancelled: not done)."""
        unit = _UNIT.get()
        if unit is not None:
            unit.clear()

    def discard(self) -> None:
        """Drop the buffered rows (after a failed write: the URLs they belong to were not done)."""
        self._buffers, self._pending = {}, 0

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
                    c.execute(insert(table), [dict(zip(keys, r, strict=False)) for r in rows])
        self._last_flush = time.monotonic()

    # --- reads used by checks and reports ------------------------------------------------------
    def broken_targets(self, scan_id: int) -> list[tuple[Row[Any], list[str], list[str]]]:
        """Each broken target, with every page it appears on (sorted) and its non-empty link texts (first seen
        first): one pass over the scan's links, so the links need no index on their target. A probe's row
        (``PROBE_TAG``) is no occurrence: a target only sitewatch asked for appears on no page."""
        self.flush()
        broken = (TargetRow.c.scan_id == scan_id) & (TargetRow.c.verdict == "broken")
        with self.engine.connect() as c:
            rows = c.execute(select(TargetRow).where(broken).order_by(TargetRow.c.url, TargetRow.c.id)).all()
            targets = [t for i, t in enumerate(rows) if i == 0 or rows[i - 1].url != t.url]   # a row twice: once
            pages: dict[str, set[str]] = {t.url: set() for t in targets}
            texts: dict[str, dict[str, None]] = {t.url: {} for t in targets}
            if targets:
                occurrences = (select(LinkRow.c.target, LinkRow.c.page_url, LinkRow.c.text)
                               .where(LinkRow.c.scan_id == scan_id, LinkRow.c.tag != PROBE_TAG,
                                      LinkRow.c.target.in_(select(TargetRow.c.url).where(broken)))
                               .order_by(LinkRow.c.id))
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

    def columns(self, scan_id: int) -> list[Row[Any]]:
        """The scan's columns, one row per column key, sorted by key.

        Pages of one column can describe it differently (a list page announcing the total, a block of it on
        another page that does not); each description is stored, and the one kept does not depend on which page
        the crawl happened to read first: the largest announced total, then the smallest URL and name."""
        with self.engine.connect() as c:
            rows = c.execute(select(ColumnRow).where(ColumnRow.c.scan_id == scan_id)).all()
        best: dict[str, Row[Any]] = {}
        for r in sorted(rows, key=lambda r: (r.key, r.total is None, -(r.total or 0), r.url or "", r.name or "",
                                             r.engine or "", bool(r.empty_marker))):
            best.setdefault(r.key, r)
        return list(best.values())

    def findings(self, scan_id: int) -> list[Finding]:
        with self.engine.connect() as c:
            rows = c.execute(select(FindingRow).where(FindingRow.c.scan_id == scan_id).order_by(FindingRow.c.id)).all()
        return [Finding(rule=r.rule, severity=r.severity, url=r.url, message=r.message, found_on=list(r.found_on or []),
                        evidence=dict(r.evidence or {}), extra=dict(r.extra or {})) for r in rows]

    def declarations(self, scan_id: int, kind: str) -> dict[str, dict[str, Any]]:
        """What was declared on the workbooks of a scan (``kind``: unit or spotcheck), by row key (a finding's
        fingerprint, a page's key): status, note, done_on, declared_by, source, imported_at, url."""
        with self.engine.connect() as c:
            rows = c.execute(select(DeclarationRow).where(DeclarationRow.c.scan_id == scan_id,
                                                          DeclarationRow.c.kind == kind)).all()
        return {r.key: dict(r._mapping) for r in rows}

    def count(self, table: Table, scan_id: int, *where: ColumnElement[bool]) -> int:
        with self.engine.connect() as c:
            n: int = c.execute(select(func.count()).select_from(table).where(table.c.scan_id == scan_id, *where)
                               ).scalar_one()
            return n
