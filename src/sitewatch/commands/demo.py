"""`sitewatch demo`: serve the bundled simulated portal on loopback, scan it, write every output; with ``--serve``,
then open the web console on the demo store (demo accounts with random passwords, printed)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

DEMO_ROLES = (("demo-admin", "admin"), ("demo-leader", "leader"), ("demo-assessor", "assessor"),
              ("demo-unit", "unit"))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="serve the bundled simulated portal on loopback, scan it and write the outputs")
    p.add_argument("--out", metavar="DIR", default="sitewatch-demo", help="output folder (default ./sitewatch-demo)")
    p.add_argument("--db", metavar="PATH", help="database file (default DIR/sitewatch.db)")
    p.add_argument("--keep-serving", action="store_true", help="keep the demo portal running after the scan")
    p.add_argument("--serve", action="store_true",
                   help="then open the web console on the demo store (127.0.0.1, a free port; demo accounts with "
                        "random passwords are printed; needs the console extra)")
    p.add_argument("--port", type=int, default=0, metavar="N", help="the console's port with --serve (default: free)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from sitewatch.demo.run import run_demo

    if args.serve:
        from sitewatch.commands.serve import need_extra

        need_extra("demo --serve")                  # before the demo runs, not after
    out = Path(args.out)
    db = str(Path(args.db) if args.db else out / "sitewatch.db")
    rc = run_demo(out, db=args.db, keep_serving=args.keep_serving)
    if not args.serve:
        extra = "" if importlib.util.find_spec("starlette") else 'pip install "sitewatch[console]", then '
        print(f"sitewatch demo: to open the web console on the demo data: {extra}sitewatch demo --serve "
              f"(or: sitewatch user add NAME --role admin --db {db}, then sitewatch serve --db {db})")
        return rc
    print("sitewatch demo: console accounts of the demo store (these passwords are for this demo store only):")
    for name, role, unit, password in demo_accounts(db):
        print(f"  {name:14} {role:9} {password}" + (f"  ({unit})" if unit else ""))
    from sitewatch.commands.serve import cmd_serve

    return cmd_serve(argparse.Namespace(db=db, host="127.0.0.1", port=args.port, read_only=False,
                                        allow_remote=False, trusted_proxy=[], server_name=[], plain_http=False,
                                        idle_minutes=30, config=[]))


def demo_password() -> str:
    """A random password the console's rules accept."""
    import secrets
    import string

    body = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))
    return f"{body}-{secrets.choice(string.ascii_uppercase)}{secrets.choice(string.ascii_lowercase)}" \
           f"{secrets.choice(string.digits)}"


def demo_accounts(db: str) -> list[tuple[str, str, str | None, str]]:
    """One account per role in the demo store (the unit user: the unit with the most problems); (name, role, unit,
    password)."""
    from sitewatch.console import accounts  # lazy: the console extra (argon2)
    from sitewatch.console.audit import Actor
    from sitewatch.reporting.data import scan_numbers
    from sitewatch.store import Store

    store = Store(db)
    latest = store.latest_scan()
    units = dict(scan_numbers(store, latest).by_unit) if latest is not None else {}
    unit = max(units, key=lambda u: units[u]) if units else "党政办"
    out = []
    for name, role in DEMO_ROLES:
        password = demo_password()
        while accounts.password_problem(password, name) is not None:
            password = demo_password()
        accounts.add_user(store.engine, name, role, unit if role == "unit" else None, password, Actor("cli:demo"))
        out.append((name, role, unit if role == "unit" else None, password))
    store.engine.dispose()
    return out
