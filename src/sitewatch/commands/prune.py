"""`sitewatch prune`: keep the database small by deleting the detail rows of old scans."""

from __future__ import annotations

import argparse
from pathlib import Path

from sitewatch.commands.report import open_store
from sitewatch.errors import UsageError
from sitewatch.store import DB_HELP, DEFAULT_DB

DEFAULT_KEEP = 6


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("prune", help="delete the links, pages and checked targets of old scans (findings stay)")
    p.add_argument("--keep", type=int, default=DEFAULT_KEEP, metavar="N",
                   help=f"completed scans per site that keep their details (default {DEFAULT_KEEP})")
    p.add_argument("--site", metavar="SITE", help="only this site (its name, or its start URL when unnamed)")
    p.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    p.add_argument("--vacuum", action="store_true", help="then shrink the database file (SQLite VACUUM)")
    p.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    p.set_defaults(func=cmd_prune)


def cmd_prune(args: argparse.Namespace) -> int:
    from sitewatch.prune import prune

    if args.keep < 1:
        raise UsageError(f"prune: --keep must be 1 or more, not {args.keep}")
    store = open_store(args.db, "prune")
    if args.site and not store.scans(args.site, kind=None):
        sites = sorted({s.site for s in store.scans(kind=None)})
        raise UsageError(f"prune: --site {args.site!r}: no scans of it in the store "
                         f"(sites: {', '.join(sites) or 'none'})")
    result = prune(store, args.keep, args.site, dry_run=args.dry_run)
    rows = ", ".join(f"{n:,} {table}" for table, n in result.rows.items() if n) or "no rows"
    verb = "would delete" if args.dry_run else "deleted"
    if result.scans:
        ids = ", ".join(map(str, result.scans))
        print(f"sitewatch: prune {verb} the details of {len(result.scans)} scan(s) ({ids}): {rows}; "
              f"scans, findings, columns and list items stay")
    else:
        print(f"sitewatch: prune: nothing to delete (every site has at most {args.keep} completed scans with details)")
    path = None if "://" in (args.db or "") else Path(args.db or DEFAULT_DB)
    if args.vacuum and not args.dry_run and store.engine.dialect.name == "sqlite":
        with store.engine.connect() as c:      # the write-ahead log folded in first, so the sizes compare
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            before = path.stat().st_size if path else 0
            c.exec_driver_sql("VACUUM")
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        if path:
            print(f"  database file {before / 1e6:,.1f} MB -> {path.stat().st_size / 1e6:,.1f} MB")
    elif result.scans and not args.dry_run:
        print("  the file keeps its size and new scans reuse the space; --vacuum shrinks it now")
    return 0
