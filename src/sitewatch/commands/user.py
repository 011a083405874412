"""`sitewatch user`: console accounts (add, passwd, disable, enable, list); needs the ``console`` extra."""

from __future__ import annotations

import argparse
import sys

from sitewatch.errors import UsageError
from sitewatch.store import DB_HELP, DEFAULT_DB

ROLES = ("admin", "unit", "leader", "assessor")      # sitewatch.console.accounts.ROLES (not imported: lazy)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("user", help="manage the web console's accounts (pip install \"sitewatch[console]\")")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    add = actions.add_parser("add", help="add an account (the password is asked for, never given on the command line)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES,
                     help="admin; unit (sees and answers for its own 责任科室 only); leader (read-only); assessor")
    add.add_argument("--unit", metavar="责任科室", help="the unit of a unit account, as the reports name it")
    passwd = actions.add_parser("passwd", help="set a new password (the account's sessions end)")
    passwd.add_argument("username")
    for a in (add, passwd):
        a.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of standard input instead of asking")
    for name, text in (("disable", "disable an account (its sessions end at once)"),
                       ("enable", "enable a disabled account again")):
        actions.add_parser(name, help=text).add_argument("username")
    actions.add_parser("list", help="list the accounts")
    for a in actions.choices.values():
        a.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    p.set_defaults(func=cmd_user)


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of standard input, or asked twice on the terminal (not echoed)."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
        if not password:
            raise UsageError("user: --password-stdin: standard input gave no password")
        return password
    import getpass

    if not sys.stdin.isatty():
        raise UsageError("user: no terminal to ask the password on; pipe it with --password-stdin")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise UsageError("user: the two passwords differ; nothing changed")
    return first


def cmd_user(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sitewatch.commands.serve import need_extra

    if not args.action:
        raise UsageError("user: give an action: add, passwd, disable, enable or list")
    need_extra("user")
    from sitewatch.console import accounts
    from sitewatch.console.audit import command_actor
    from sitewatch.store import Store

    path = args.db or DEFAULT_DB
    if "://" not in path and not Path(path).is_file():
        raise UsageError(f"user: no database at {path} (pass --db, or create one with sitewatch db upgrade --db "
                         f"{path})")
    engine = Store(path).engine
    by = command_actor()
    if args.action == "list":
        users = accounts.list_users(engine)
        if not users:
            print(f"no accounts in {path}; add one with: sitewatch user add NAME --role admin")
        for u in users:
            last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never"
            print(f"{u.username:<20} {u.role:<9} {(u.unit or '-'):<12} {'disabled' if u.disabled else 'enabled':<8} "
                  f"last sign-in {last}; password set {u.password_changed_at:%Y-%m-%d}")
        return 0
    if args.action == "add":
        name = accounts.check_username(args.username)
        unit = accounts.check_role(args.role, args.unit)
        if accounts.get_user(engine, name) is not None:
            raise UsageError(f"user add: user {name!r} exists (sitewatch user passwd {name} sets a new password)")
        password = read_password(args.password_stdin)
        user = accounts.add_user(engine, name, args.role, unit, password, by)
        print(f"added {user.username} ({user.role}" + (f", unit {user.unit}" if user.unit else "") + ")")
        if user.unit:
            known = unit_names(path)
            if known and user.unit not in known:
                print(f"note: no problem of the latest scans names the unit {user.unit!r} (units: "
                      f"{', '.join(sorted(known))})", file=sys.stderr)
        return 0
    if accounts.get_user(engine, args.username) is None:
        raise UsageError(f"user {args.action}: no user {args.username!r}")
    if args.action == "passwd":
        password = read_password(args.password_stdin)
        user = accounts.set_password(engine, args.username, password, by)
        print(f"password of {user.username} changed; its sessions ended")
    else:
        user = accounts.set_disabled(engine, args.username, args.action == "disable", by)
        print(f"{user.username} {'disabled; its sessions ended' if user.disabled else 'enabled'}")
    return 0


def unit_names(db: str) -> set[str]:
    """The 责任科室 of the problems of each site's latest completed full scan."""
    from sitewatch.reporting.data import latest_units
    from sitewatch.store import Store

    return latest_units(Store(db))
