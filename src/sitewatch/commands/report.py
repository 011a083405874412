"""`sitewatch report`: the monthly rectification report and the leadership summary of one scan, or the monthly
overview of every site (``--all-sites``), from the store."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from sitewatch.errors import ConfigError, UsageError
from sitewatch.paths import output_dir
from sitewatch.store import DB_HELP, DEFAULT_DB, ScanRecord, Store

DEFAULT_OUT = "sitewatch-out"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="render the rectification report (HTML, XLSX, CSV) and leadership summary, "
                                      "or with --all-sites the monthly overview of every site")
    p.add_argument("--scan", metavar="ID|latest", help="scan to report on (default: latest)")
    p.add_argument("--month", metavar="YYYY-MM", help="report on the latest completed scan of this month (with "
                   "--all-sites: the overview's month; default the month of the latest audit of those sites)")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help=f"output folder (default ./{DEFAULT_OUT})")
    p.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    p.add_argument("--deadline", action="append", metavar="[RULE=]DAYS",
                   help="整改时限 in days after first discovery, for one rule (link.broken=10, veto.*=5) or for all")
    p.add_argument("--all-sites", action="store_true",
                   help="instead of one scan's report: the monthly overview of every site (网站月度监测报告, HTML and "
                        "XLSX), one row per site from its latest completed full audit of the month")
    p.add_argument("--config", metavar="SITES.toml",
                   help="with --all-sites: the sites of this config, audited or not (default: every site in the store)")
    p.add_argument("--region", metavar="NAME", help="with --all-sites: the region in the title, e.g. 中山市 "
                   "(default: what every site name begins with, up to its last 省/市/州/盟/县)")
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

    if args.all_sites:
        return cmd_overview(args)
    for flag, value in (("--config", args.config), ("--region", args.region)):
        if value is not None:
            raise UsageError(f"report: {flag} goes with --all-sites (the overview of every site)")
    store = open_store(args.db, "report")
    scan = select_scan(store, args.scan, args.month, "report")
    paths = write_report(store, scan, output_dir(args.out, "report --out"), parse_deadlines(args.deadline), args.month)
    print(f"sitewatch: report of scan {scan.id} ({scan.site}, as of {scan.as_of.isoformat()}, "
          f"{len(store.findings(scan.id))} problems)")
    for p in paths:
        print(f"  {p}")
    return 0




def config_sites(path: str) -> dict[str, str]:
    """The sites of a config, in its order: the name their scans are stored under → homepage."""
    from sitewatch.config import load_site_configs

    sites: dict[str, str] = {}
    for cfg in load_site_configs(path):
        if not cfg.start_urls:
            raise ConfigError(f"{cfg.source}: site.start_urls: a site of the overview needs its homepage")
        sites.setdefault(cfg.name or cfg.start_urls[0], cfg.start_urls[0])     # as probes.site_key names it
    return sites


def cmd_overview(args: argparse.Namespace) -> int:
    """``report --all-sites``: the monthly overview. A month with no completed audit at all is still written
    (every site 未监测, said on standard error): it is the record that the month was not monitored. Without
    --month, the month of the latest audit of the sites; with no audit at all there is no month to take."""
    from sitewatch.reporting.overview import latest_month, store_sites
    from sitewatch.reporting.write import write_overview

    if args.scan is not None:
        raise UsageError("report: --all-sites and --scan cannot be used together "
                         "(--all-sites reports each site's latest audit of --month)")
    if args.deadline:
        raise UsageError("report: --deadline goes with one scan's report, not --all-sites "
                         "(已逾期 there uses the rules' 整改时限, as the site's own report does by default)")
    if args.month and not _MONTH.match(args.month):
        raise UsageError(f"report: --month {args.month!r}: expected YYYY-MM")
    sites = config_sites(args.config) if args.config else None
    store = open_store(args.db, "report")
    names = list(sites) if sites is not None else list(store_sites(store))
    if not names:
        raise UsageError("report: --all-sites: no site in the store (run `sitewatch scan` first or pass --config)")
    month = args.month or latest_month(store, names)
    if month is None:
        raise UsageError("report: --all-sites: none of the sites has a completed full audit; pass --month YYYY-MM "
                         "to list every site as 未监测")
    data, paths = write_overview(store, output_dir(args.out, "report --out"), month, sites, args.region)
    f = data.figures
    chosen = "" if args.month else " (the month of the latest audit; --month chooses another)"
    print(f"sitewatch: overview of {month}{chosen}: {f['sites']} sites, 合格 {f['passed']}, 不合格 {f['failed']}, "
          f"未监测 {f['not_measured']}, 无法评定 {f['not_judged']} ({data.seconds:.1f} s)")
    if not f["audited"]:
        print(f"sitewatch: warning: no site has a completed full audit in {month}: every site is listed as 未监测",
              file=sys.stderr)
    for p in paths:
        print(f"  {p}")
    return 0
