"""`sitewatch report`: the monthly rectification report and the leadership summary, from the store."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sitewatch.errors import UsageError
from sitewatch.paths import output_dir
from sitewatch.store import DB_HELP, DEFAULT_DB, ScanRecord, Store

DEFAULT_OUT = "sitewatch-out"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="render the rectification report (HTML, XLSX, CSV) and leadership summary")
    p.add_argument("--scan", metavar="ID|latest", default="latest", help="scan to report on (default: latest)")
    p.add_argument("--month", metavar="YYYY-MM", help="report on the latest completed scan of this month")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help=f"output folder (default ./{DEFAULT_OUT})")
    p.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    p.add_argument("--deadline", action="append", metavar="[RULE=]DAYS",
                   help="整改时限 in days after first discovery, for one rule (link.broken=10, veto.*=5) or for all")
    p.set_defaults(func=cmd_report)


def open_store(db: str | None, command: str) -> Store:
    """The store at ``db``; a missing file is an error (reports never create an empty database)."""
    path = db or DEFAULT_DB
    if "://" not in path and not Path(path).is_file():
        raise UsageError(f"{command}: no database at {path} (run `sitewatch scan` first or pass --db)")
    return Store(path)


def parse_deadlines(values: list[str] | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values or []:
        rule, _, days = v.rpartition("=")
        if not days.isdigit():
            raise UsageError(f"report: --deadline {v!r}: expected DAYS or RULE=DAYS")
        out[rule or "*"] = int(days)
    return out


def select_scan(store: Store, scan: str | None, month: str | None, command: str) -> ScanRecord:
    """The scan named by --scan (an id or ``latest``), limited to --month when given."""
    if month and not _MONTH.match(month):
        raise UsageError(f"{command}: --month {month!r}: expected YYYY-MM")
    if scan and scan != "latest":
        if not scan.isdigit():
            raise UsageError(f"{command}: --scan {scan!r}: expected a scan id or 'latest'")
        found = store.scan(int(scan))
        if found is None or found.kind != "full":
            raise UsageError(f"{command}: no scan with id {scan} in the store")
        if month and found.as_of.strftime("%Y-%m") != month:
            raise UsageError(f"{command}: scan {scan} is of {found.as_of}, not of {month}")
        return found
    rows = [s for s in store.scans() if s.status == "completed"]
    if month:
        rows = [s for s in rows if s.as_of.strftime("%Y-%m") == month]
    if not rows:
        where = f" for {month}" if month else ""
        raise UsageError(f"{command}: no completed scan in the store{where}")
    return rows[-1]


def cmd_report(args: argparse.Namespace) -> int:
    from sitewatch.reporting.write import write_report

    store = open_store(args.db, "report")
    scan = select_scan(store, args.scan, args.month, "report")
    paths = write_report(store, scan, output_dir(args.out, "report --out"), parse_deadlines(args.deadline), args.month)
    print(f"sitewatch: report of scan {scan.id} ({scan.site}, as of {scan.as_of.isoformat()}, "
          f"{len(store.findings(scan.id))} problems)")
    for p in paths:
        print(f"  {p}")
    return 0


