"""`sitewatch worker`: run the fleet's jobs (scans, probes, audits with their reports, look-backs) queued by a
scheduler with ``[schedule] executor = "celery"``, on this machine, until stopped."""

from __future__ import annotations

import argparse
import logging
import os

from sitewatch.store import DB_HELP, DEFAULT_DB

BROKER_HELP = "the fleet's Redis (broker and shared politeness budget); default $SITEWATCH_BROKER or " \
              "redis://127.0.0.1:6379/0"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("worker", help="run fleet jobs queued by `sitewatch schedule` (executor celery) until stopped")
    p.add_argument("--db", metavar="PATH|URL", help=DB_HELP + "; the fleet's one store (PostgreSQL)")
    p.add_argument("--broker", metavar="REDIS_URL", help=BROKER_HELP)
    p.add_argument("--threads", type=int, default=8, metavar="N",
                   help="jobs run at once by this worker (default 8: scans mostly wait on politeness)")
    p.add_argument("--name", metavar="NAME", help="this worker's name (default sitewatch@HOST.PID)")
    p.add_argument("--lease", type=float, default=60.0, metavar="SECONDS",
                   help="a lost worker's jobs are taken over this long after its last heartbeat (default 60)")
    p.add_argument("--max-attempts", type=int, default=3, metavar="N",
                   help="workers a job may lose before it is given up and its scan marked failed (default 3)")
    p.add_argument("--verbose", "-v", action="store_true", help="log every request-level detail")
    p.set_defaults(func=cmd_worker)


def broker_url(arg: str | None) -> str:
    from sitewatch.scheduler import DEFAULT_BROKER

    return arg or os.environ.get("SITEWATCH_BROKER") or DEFAULT_BROKER


def cmd_worker(args: argparse.Namespace) -> int:
    from sitewatch.errors import UsageError

    if not 1 <= args.threads <= 256:
        raise UsageError(f"worker: --threads must be 1..256, got {args.threads}")
    if not 1.0 <= args.lease <= 3600.0:
        raise UsageError(f"worker: --lease must be 1..3600 seconds, got {args.lease:g}")
    if args.max_attempts < 1:
        raise UsageError(f"worker: --max-attempts must be >= 1, got {args.max_attempts}")
    from sitewatch.fleet import EXTRA

    try:
        from sitewatch.fleet.worker import serve
    except ImportError as exc:
        raise UsageError(f"worker: the fleet extra is not installed ({exc.name} is missing): {EXTRA}") from None
    db = args.db or DEFAULT_DB
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    return serve(db, broker_url(args.broker), name=args.name, concurrency=args.threads, lease=args.lease,
                 max_attempts=args.max_attempts, loglevel="DEBUG" if args.verbose else "INFO")
