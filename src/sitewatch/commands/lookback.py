"""`sitewatch lookback`: re-verify an earlier scan's problems without a full crawl (回头看)."""

from __future__ import annotations

import argparse
import math

from sitewatch.commands.report import DEFAULT_OUT, open_store
from sitewatch.config import MAX_TIMEOUT, parse_as_of
from sitewatch.errors import UsageError
from sitewatch.paths import output_dir
from sitewatch.store import DB_HELP


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("lookback", help="re-check the problems of an earlier scan (回头看) and report their status")
    p.add_argument("--since", required=True, metavar="SCAN|YYYY-MM-DD",
                   help="the scan whose problems to re-check: an id, or a date (the last scan on or before it)")
    p.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help=f"output folder (default ./{DEFAULT_OUT})")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="the day date rules are judged for (default: today)")
    p.add_argument("--timeout", type=float, default=15.0, metavar="S", help="seconds per request (default 15)")
    p.add_argument("--config", metavar="FILE",
                   help="the site's config: its [network] proxy, allow and ca_bundle and its TLS and user-agent "
                        "settings apply to the re-checks (default: the environment's proxy, internal addresses "
                        "only if the scanned site is on such a network)")
    p.set_defaults(func=cmd_lookback)


def cmd_lookback(args: argparse.Namespace) -> int:
    from sitewatch.lookback import resolve_since, run_lookback, write_lookback
    from sitewatch.rectification import STATUSES

    out = output_dir(args.out, "lookback --out")
    if not (math.isfinite(args.timeout) and 0 < args.timeout <= MAX_TIMEOUT):
        raise UsageError(f"lookback --timeout: must be > 0 and <= {MAX_TIMEOUT:g} seconds, got {args.timeout}")
    store = open_store(args.db, "lookback")
    baseline = resolve_since(store, args.since)
    as_of = parse_as_of(args.as_of) if args.as_of else None
    cfg = None
    if args.config:
        from sitewatch.config import load_site_configs

        sites = load_site_configs(args.config)
        cfg = next((c for c in sites if baseline.site in (c.name, *c.start_urls[:1])), sites[0])
    result = run_lookback(store, baseline, as_of, args.timeout, cfg=cfg)
    paths = write_lookback(store, result, out)
    counts = "，".join(f"{s} {result.counts.get(s, 0)}" for s in STATUSES)
    print(f"sitewatch: look-back {result.scan_id} of scan {baseline.id} ({baseline.site}, {baseline.as_of}): {counts}")
    for p in paths:
        print(f"  {p}")
    return 0
