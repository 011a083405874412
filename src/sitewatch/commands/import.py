"""`sitewatch import`: read a filled-in 整改报告 or 抽查表 workbook back into the store."""

from __future__ import annotations

import argparse

from sitewatch.commands.report import open_store
from sitewatch.store import DB_HELP


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("import", help="read back a filled-in 整改报告 XLSX (units' 整改状态, 整改措施, 完成时间) "
                                      "or 抽查表 XLSX (核查结论)")
    p.add_argument("workbook", metavar="WORKBOOK", help="the XLSX file written by `report` or `spotcheck`, filled in")
    p.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    p.add_argument("--dry-run", action="store_true", help="check the workbook and say what would change; store nothing")
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from sitewatch.declarations import import_workbook
    from sitewatch.reporting.workbook import UNIT_KIND

    store = open_store(args.db, "import")
    r = import_workbook(store, args.workbook, dry_run=args.dry_run)
    what = "unit declarations" if r.kind == UNIT_KIND else "spot-check assessments"
    verb = "would import" if args.dry_run else "imported"
    print(f"sitewatch: {verb} {what} for scan {r.scan.id} ({r.scan.site}, {r.scan.as_of}) from {r.workbook.name}: "
          f"{r.new} new, {r.updated} updated, {r.unchanged} unchanged; {r.blank} rows declare nothing; "
          f"{len(r.rejected)} rows not imported, {len(r.missing)} missing")
    for line in r.rejected + r.missing:
        print(f"  {line}")
    return 1 if r.rejected else 0
