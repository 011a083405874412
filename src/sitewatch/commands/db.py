"""`sitewatch db`: the store's schema version, and upgrading a store written by an older sitewatch."""

from __future__ import annotations

import argparse

from sitewatch.errors import UsageError
from sitewatch.store import DB_HELP, DEFAULT_DB


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("db", help="show or upgrade the store's schema version")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    for name, text in (("upgrade", "migrate the store to this version's schema (an SQLite file is copied first)"),
                       ("current", "print the store's schema version and this version's")):
        a = actions.add_parser(name, help=text)
        a.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
        if name == "upgrade":
            a.add_argument("--no-backup", action="store_true", help="do not copy an SQLite file before migrating")
            a.add_argument("--force", action="store_true",
                           help="upgrade even when a scan is marked running or a scheduler holds the store "
                                "(only when no sitewatch uses it any more)")
    p.set_defaults(func=cmd_db)


def cmd_db(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sitewatch.store import SCHEMA_HEAD, create_store_engine, describe, is_older, store_version, upgrade_store

    if not args.action:
        raise UsageError("db: give an action: upgrade or current")
    db = args.db or DEFAULT_DB
    if args.action == "current":
        if "://" not in db and not Path(db).is_file():
            raise UsageError(f"db current: no database at {db} (pass --db)")
        engine = create_store_engine(db)
        try:
            version = store_version(engine)
            where = describe(engine)
        finally:
            engine.dispose()
        state = ("empty" if version is None else "up to date" if version == SCHEMA_HEAD
                 else "older: run sitewatch db upgrade" if is_older(version)
                 else "newer than this sitewatch")
        print(f"{where}: schema {version or '-'} (this sitewatch: {SCHEMA_HEAD}; {state})")
        return 0
    before, after, backup = upgrade_store(db, backup=not args.no_backup, force=args.force)
    if before == after:
        print(f"{db}: schema {after}, up to date")
    elif before is None:
        print(f"{db}: new store created at schema {after}")
    else:
        print(f"{db}: upgraded from schema {before} to {after}" + (f"; the previous file is kept as {backup}"
                                                                    if backup else ""))
    return 0
