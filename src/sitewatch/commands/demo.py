"""`sitewatch demo`: serve the bundled simulated portal on loopback, scan it, write every output."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="serve the bundled simulated portal on loopback, scan it and write the outputs")
    p.add_argument("--out", metavar="DIR", default="sitewatch-demo", help="output folder (default ./sitewatch-demo)")
    p.add_argument("--db", metavar="PATH", help="database file (default DIR/sitewatch.db)")
    p.add_argument("--keep-serving", action="store_true", help="keep the demo portal running after the scan")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from sitewatch.demo.run import run_demo
    return run_demo(Path(args.out), db=args.db, keep_serving=args.keep_serving)
