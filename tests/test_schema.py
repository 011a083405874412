"""Schema versions: a store from sitewatch 0.1.0 is refused until `sitewatch db upgrade`, which keeps every row;
migrations from the baseline reach exactly the schema of a new store, on SQLite and on PostgreSQL; the values a
scan stores (JSON, booleans, dates, big numbers, text from hostile pages) read back the same on both."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from loopback import Answer, LoopbackSite, page
from sqlalchemy import inspect, select

from sitewatch.cli import main
from sitewatch.store import (
    SCHEMA_HEAD,
    VERSION_TABLE,
    PageRow,
    ScanRow,
    Store,
    TargetRow,
    create_store_engine,
    metadata,
    store_version,
)

OLD = Path(__file__).parent / "data" / "store-0.1.0.sql"
TABLES_010 = ["scans", "pages", "links", "targets", "columns", "list_items", "findings", "frontier", "probes",
              "sitewatch_meta"]
KEPT = TABLES_010[:-1]          # 0005 drops sitewatch_meta, which no version ever wrote


def old_store(path: Path) -> Path:
    with sqlite3.connect(path) as c:
        c.executescript(OLD.read_text(encoding="utf-8"))
    return path


def rows(path: Path, tables: list[str] = TABLES_010, like: Path | None = None) -> dict[str, list[tuple]]:
    """Every row of ``tables``; ``like``: only the columns those tables have in that database (a copy made before
    an upgrade that added columns)."""
    with sqlite3.connect(path) as c:
        return {t: c.execute(f'select {", ".join(columns(like, t)) if like else "*"} from "{t}" order by 1').fetchall()
                for t in tables}


def columns(path: Path, table: str) -> list[str]:
    with sqlite3.connect(path) as c:
        return [f'"{r[1]}"' for r in c.execute(f'pragma table_info("{table}")')]


def schema_sql(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as c:
        return c.execute("select type, name, sql from sqlite_master order by name").fetchall()


def schema_diff(engine) -> list:
    """Differences between the database's schema and the models (none when the migrations are right); SQLite
    does not enforce VARCHAR lengths, so revision 0004 leaves them there and type differences are not counted."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as c:
        ctx = MigrationContext.configure(c, opts={
            "compare_type": not sqlite,
            "include_name": lambda name, kind, _parent: not (kind == "table" and name in (VERSION_TABLE,
                                                                                          "apscheduler_jobs"))})
        return compare_metadata(ctx, metadata)


def site() -> dict:
    return {"/s/": Answer(body=page("首页", '<a href="a.html">文章</a><a href="gone.html">坏链</a>')),
            "/s/a.html": Answer(body=page("文章", "正文"))}


def test_a_0_1_0_store_is_refused_until_upgraded_and_the_upgrade_keeps_every_row(tmp_path, capsys):
    db = old_store(tmp_path / "old.db")
    before, ddl = rows(db), schema_sql(db)
    with LoopbackSite(site()) as s:
        assert main(["scan", s.url("/s/"), "--db", str(db), "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "older schema" in err and f"sitewatch db upgrade --db {db}" in err
        assert main(["report", "--db", str(db), "--scan", "1", "--out", str(tmp_path / "r")]) == 2
        capsys.readouterr()
        assert (rows(db), schema_sql(db)) == (before, ddl)                  # refused: untouched

        assert main(["db", "current", "--db", str(db)]) == 0
        assert "schema unversioned" in capsys.readouterr().out
        assert main(["db", "upgrade", "--db", str(db)]) == 0
        out = capsys.readouterr().out
        assert f"upgraded from schema unversioned to {SCHEMA_HEAD}" in out
        backup = tmp_path / "old.db.before-unversioned"
        assert backup.exists() and rows(backup) == before
        assert before["sitewatch_meta"] == [] and rows(db, KEPT, like=backup) == {t: before[t] for t in KEPT}
        engine = create_store_engine(db)
        assert "sitewatch_meta" not in inspect(engine).get_table_names()
        assert store_version(engine) == SCHEMA_HEAD and schema_diff(engine) == []
        assert {ix["name"] for ix in inspect(engine).get_indexes("links")} == {"ix_links_scan_page"}
        engine.dispose()
        assert main(["db", "upgrade", "--db", str(db)]) == 0
        assert "up to date" in capsys.readouterr().out

        store = Store(db)                                     # the 0.1.0 rows read as this version reads them
        assert store.scan(1).config["max_pages"] == 100 and store.scan(1).as_of == dt.date(2026, 11, 20)
        [(target, pages, texts)] = store.broken_targets(1)
        assert (target.url, pages, texts) == ("http://127.0.0.1:1/gone.html", ["http://127.0.0.1:1/"], ["失效链接"])
        assert main(["report", "--db", str(db), "--scan", "1", "--out", str(tmp_path / "r")]) == 0
        assert main(["scan", s.url("/s/"), "--db", str(db), "--quiet"]) == 0
        capsys.readouterr()
    assert [r.status for r in Store(db).scans()] == ["completed", "interrupted", "completed"]


def test_migrations_from_the_baseline_reach_the_schema_of_a_new_store(store_db):
    from alembic import command
    from alembic.config import Config

    engine = create_store_engine(store_db)
    cfg = Config()
    cfg.set_main_option("script_location", "sitewatch:migrations")
    with engine.begin() as c:
        cfg.attributes["connection"] = c
        command.upgrade(cfg, "0001")
        c.exec_driver_sql("INSERT INTO scans (site, start_urls, as_of, kind, status, started_at, config, stats) VALUES "
                          "('示例镇', '[\"http://a/\"]', '2026-11-20', 'full', 'completed', '2026-11-20 09:00:00', "
                          "'{}', '{\"pages\": 3}')")
        c.exec_driver_sql("INSERT INTO links (scan_id, page_url, target, tag, text) VALUES "
                          "(1, 'http://a/', 'http://a/b', 'a', '链接')")
        c.exec_driver_sql("DROP TABLE alembic_version")          # as 0.1.0 left it: no version
    assert store_version(engine) == "unversioned"
    assert main(["db", "upgrade", "--db", store_db]) == 0
    assert store_version(engine) == SCHEMA_HEAD
    assert schema_diff(engine) == []
    store = Store(store_db)
    assert store.scan(1).stats == {"pages": 3} and store.scan(1).site == "示例镇"
    new = create_store_engine(store_db.replace("sitewatch.db", "new.db")) if "://" not in store_db else None
    if new is not None:                                          # and a new store is created at the head revision
        Store(str(new.url.database))
        assert store_version(new) == SCHEMA_HEAD and schema_diff(new) == []
    engine.dispose()


def test_a_store_from_a_newer_sitewatch_is_refused(tmp_path, capsys):
    db = tmp_path / "s.db"
    Store(db).engine.dispose()
    with sqlite3.connect(db) as c:
        c.execute(f"update {VERSION_TABLE} set version_num = '0099'")
    assert main(["status", "--db", str(db)]) == 2
    assert "written by a newer sitewatch (schema 0099" in capsys.readouterr().err
    assert main(["db", "upgrade", "--db", str(db)]) == 2
    assert "newer sitewatch" in capsys.readouterr().err


def test_the_schema_head_is_the_last_migration():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", "sitewatch:migrations")
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_HEAD


def test_bad_database_urls_are_one_line_errors(tmp_path, capsys):
    for db, says in (("mysql://u@h/d", "unsupported database URL"), (str(tmp_path), "is a directory"),
                     ("postgresql+psycopg://nobody@127.0.0.1:1/none", "cannot open the database")):
        assert main(["scan", "http://127.0.0.1:1/", "--db", db, "--quiet"]) == 2, db
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err


def test_what_a_scan_stores_reads_back_the_same(store_db):
    """JSON (nested, big numbers), booleans, dates, a 300-character site name, a server's 150-character
    Content-Type and a page title with a NUL character (PostgreSQL text cannot hold one: U+FFFD)."""
    store = Store(store_db)
    site = "某" * 300
    config = {"big": 2 ** 53 + 1, "nested": {"list": [1, "二", None, True]}, "float": 0.1}
    sid = store.new_scan(site, ["http://a/"], dt.date(2026, 2, 28), config)
    store.add(PageRow, scan_id=sid, url="http://a/", status=200, title="标题\x00尾", content_type="text/html; " + "x" * 150,
              encoding="gb18030", pub_date=dt.date(2026, 2, 27), meta={"k": "\x00值"})
    store.add(TargetRow, scan_id=sid, url="http://a/", internal=True, verdict="ok", chain=[["http://a/x", 302]])
    store.finish_scan(sid, "completed", {"pages": 1, "big": 2 ** 40})
    scan = store.scan(sid)
    assert (scan.site, scan.config, scan.as_of, scan.stats) == (site, config, dt.date(2026, 2, 28),
                                                                {"pages": 1, "big": 2 ** 40})
    with store.engine.connect() as c:
        p = c.execute(select(PageRow)).one()
        t = c.execute(select(TargetRow)).one()
        done = c.execute(select(ScanRow.c.finished_at)).scalar()
    assert p.title in ("标题\x00尾", "标题\ufffd尾") and p.meta == {"k": "\x00值"}
    assert p.pub_date == dt.date(2026, 2, 27) and len(p.content_type) == 161
    assert t.internal is True and t.chain == [["http://a/x", 302]] and isinstance(done, dt.datetime)


def test_a_small_scan_and_its_report_on_each_database(store_db, tmp_path, capsys):
    with LoopbackSite(site()) as s:
        assert main(["scan", s.url("/s/"), "--db", store_db, "--quiet", "--json", str(tmp_path / "f.json")]) == 0
        assert main(["report", "--db", store_db, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "completed" in out
    store = Store(store_db)
    scan = store.latest_scan()
    assert scan.stats["pages"] == 2 and scan.stats["broken"] == 1
    assert any(f.url == s.url("/s/gone.html") for f in store.findings(scan.id))
    assert any(p.suffix == ".html" for p in (tmp_path / "out").rglob("*"))


def test_db_upgrade_is_refused_while_a_scan_or_a_scheduler_uses_the_store(tmp_path, capsys):
    """An office upgrades sitewatch while last night's scan still runs (or the scheduler service still holds the
    store): migrating under them would change the schema beneath a live process. Refused, on one line naming the
    scan, the store untouched; a scan whose process has ended does not hold the upgrade back; --force overrides."""
    import fcntl
    import json
    import os
    import socket
    import subprocess

    db = old_store(tmp_path / "old.db")

    def mark_running(runner: dict | None) -> None:
        with sqlite3.connect(db) as c:
            c.execute("delete from scans where id = 99")
            c.execute("insert into scans (id, site, start_urls, as_of, kind, status, started_at, config, stats) "
                      "values (99, '某镇', '[\"http://a/\"]', '2026-11-20', 'full', 'running', "
                      "'2026-11-20 09:00:00', '{}', ?)", (json.dumps({"runner": runner} if runner else {}),))

    def refused(*extra: str) -> str:
        before = rows(db), schema_sql(db)
        assert main(["db", "upgrade", "--db", str(db), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and (rows(db), schema_sql(db)) == before
        assert not list(tmp_path.glob("old.db.before-*"))              # not even the backup was written
        return err

    mark_running({"host": socket.gethostname(), "pid": os.getpid()})           # alive: this very process
    assert "scan 99 of 某镇 is running (process" in refused()
    mark_running({"host": "other-host", "pid": 4242})                          # on another machine
    err = refused()
    assert "scan 99 of 某镇 is marked running by process 4242 on host other-host" in err and "--force" in err
    mark_running(None)                                                          # written before runners were
    assert "scan 99" in refused()

    ended = subprocess.Popen(["true"])
    ended.wait()
    mark_running({"host": socket.gethostname(), "pid": ended.pid})            # crashed: its process has ended
    with open(f"{db}.scheduler.lock", "a+") as lock:                           # but a scheduler holds the store
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert "a scheduler is running on it" in refused()
    assert main(["db", "upgrade", "--db", str(db)]) == 0                      # the scheduler stopped: upgraded
    assert "upgraded from schema unversioned" in capsys.readouterr().out

    db = old_store(tmp_path / "forced.db")
    mark_running({"host": "other-host", "pid": 4242})
    assert main(["db", "upgrade", "--db", str(db), "--force"]) == 0
    assert Store(db).scan(99).status == "running"                               # kept: a resume decides its fate
