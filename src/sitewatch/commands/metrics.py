"""`sitewatch metrics`: the fleet's numbers as Prometheus text (workers, queue depth, jobs per worker, failures,
requests/s and requests in flight per host, scan durations), printed or written to a file."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from sitewatch.store import DB_HELP, DEFAULT_DB


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("metrics", help="the fleet's numbers as Prometheus text (stdout, or a file kept up to date)")
    p.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    p.add_argument("--broker", metavar="REDIS_URL",
                   help="the fleet's Redis; default $SITEWATCH_BROKER or redis://127.0.0.1:6379/0")
    p.add_argument("--out", metavar="FILE.prom",
                   help="write here (replaced atomically, e.g. node_exporter's textfile collector folder)")
    p.add_argument("--every", type=float, metavar="SECONDS", help="with --out: rewrite it every SECONDS until stopped")
    p.set_defaults(func=cmd_metrics)


def cmd_metrics(args: argparse.Namespace) -> int:
    from sitewatch.errors import UsageError

    out = Path(args.out) if args.out else None
    if args.every is not None and (out is None or not 1 <= args.every <= 86400):
        raise UsageError("metrics: --every needs --out and 1..86400 seconds")
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        raise UsageError(f"metrics: --out {out}: " + ("is a folder" if out.is_dir() else
                                                    f"folder {out.parent} does not exist"))
    from sitewatch.fleet import EXTRA

    try:
        from sitewatch.fleet.leases import reachable
        from sitewatch.fleet.view import fleet_view, metrics_text
    except ImportError as exc:
        raise UsageError(f"metrics: the fleet extra is not installed ({exc.name} is missing): {EXTRA}") from None
    from sitewatch.commands.worker import broker_url
    from sitewatch.store import Store

    broker = broker_url(args.broker)
    store = Store(args.db or DEFAULT_DB)
    reachable(broker, "metrics")
    while True:
        text = metrics_text(fleet_view(store.engine, broker))
        if out is None:
            print(text, end="")
            return 0
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
        if args.every is None:
            return 0
        time.sleep(args.every)
