"""`sitewatch spotcheck`: a reproducible random sample of findings and pages for a human check (抽查)."""

from __future__ import annotations

import argparse

from sitewatch.commands.report import DEFAULT_OUT, open_store, select_scan
from sitewatch.errors import UsageError
from sitewatch.paths import output_dir
from sitewatch.store import DB_HELP


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("spotcheck",
                       help="draw a reproducible, stratified sample of findings and pages to check by hand")
    p.add_argument("--sample", type=int, required=True, metavar="N", help="number of findings to draw")
    p.add_argument("--seed", type=int, required=True, metavar="S",
                   help="random seed: the same seed gives the same sample")
    p.add_argument("--pages", type=int, metavar="M", help="number of pages to draw (default: N)")
    p.add_argument("--scan", metavar="ID|latest", default="latest", help="scan to sample (default: latest)")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help=f"output folder (default ./{DEFAULT_OUT})")
    p.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    p.set_defaults(func=cmd_spotcheck)


def cmd_spotcheck(args: argparse.Namespace) -> int:
    from sitewatch.prune import PRUNED
    from sitewatch.spotcheck import sample, write_spotcheck

    if args.sample < 0 or (args.pages is not None and args.pages < 0):
        raise UsageError("spotcheck: --sample and --pages must be 0 or more")
    store = open_store(args.db, "spotcheck")
    scan = select_scan(store, args.scan, None, "spotcheck")
    pruned = (scan.stats or {}).get(PRUNED)
    if pruned and args.pages != 0:
        raise UsageError(f"spotcheck: the pages of scan {scan.id} were deleted by `sitewatch prune` on {pruned}; "
                         "sample a later scan, or pass --pages 0")
    rows = sample(store, scan, args.sample, args.seed, args.pages)
    paths = write_spotcheck(store, scan, rows, args.seed, output_dir(args.out, "spotcheck --out"), args.sample,
                            args.sample if args.pages is None else args.pages)
    kinds = [r["kind"] for r in rows]
    print(f"sitewatch: spot-check of scan {scan.id} ({scan.site}), seed {args.seed}: "
          f"{kinds.count('问题')} findings, {kinds.count('页面')} pages")
    for p in paths:
        print(f"  {p}")
    return 0
