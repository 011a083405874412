"""`sitewatch serve`: the web console on the store (docs/console.md); needs the ``console`` extra."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sitewatch.errors import UsageError
from sitewatch.store import DB_HELP, DEFAULT_DB

if TYPE_CHECKING:
    import socket

    from starlette.applications import Starlette

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the web console on the store (pip install \"sitewatch[console]\")")
    p.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}; another than loopback needs --allow-remote)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free port)")
    p.add_argument("--read-only", action="store_true",
                   help="no sign-in: everyone who reaches the console sees it as a leader (read-only)")
    p.add_argument("--allow-remote", action="store_true",
                   help="listen on an address other than loopback (behind the office's HTTPS reverse proxy)")
    p.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDRESS",
                   help="the reverse proxy's address or network, whose X-Forwarded-For/-Proto are believed "
                        "(repeatable; default: none)")
    p.add_argument("--server-name", action="append", default=[], metavar="NAME",
                   help="a host name the console answers to besides loopback (the proxy's public name; repeatable)")
    p.add_argument("--plain-http", action="store_true",
                   help="cookies without the Secure flag, for a browser that refuses them over plain HTTP on "
                        "loopback (loopback only)")
    p.add_argument("--config", action="append", default=[], metavar="SITE.toml",
                   help="a site an admin may scan from the console (repeatable; a file of several sites too); "
                        "sites of the store without one are scanned with the settings of their latest scan")
    p.add_argument("--idle-minutes", type=int, default=30, metavar="N",
                   help="a session ends after N minutes without a request (default 30)")
    p.set_defaults(func=cmd_serve)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def need_extra(command: str) -> None:
    """Exit 2 with one line when the ``console`` extra is not installed."""
    from sitewatch.console import EXTRA, missing

    absent = missing()
    if absent:
        raise UsageError(f"{command} needs the console extra ({', '.join(absent)} not installed): {EXTRA}")


def cmd_serve(args: argparse.Namespace) -> int:
    need_extra("serve")
    import datetime as dt
    import socket

    from sitewatch.console.accounts import count_users
    from sitewatch.console.auth import Policy
    from sitewatch.console.security import networks

    host = args.host.strip("[]")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"serve: --port {args.port}: expected 0 to 65535")
    if not 5 <= args.idle_minutes <= 24 * 60:
        raise UsageError(f"serve: --idle-minutes {args.idle_minutes}: expected 5 to 1440")
    remote = not is_loopback(host)
    if remote and not args.allow_remote:
        raise UsageError(f"serve: --host {args.host} is not a loopback address: the console would be reachable from "
                         "the network; put it behind the office's HTTPS reverse proxy (docs/console.md) and pass "
                         "--allow-remote")
    if remote and args.plain_http:
        raise UsageError("serve: --plain-http is for loopback only (a session cookie must not cross the network "
                         "without HTTPS)")
    try:
        trusted = networks(args.trusted_proxy)
    except ValueError as exc:
        raise UsageError(f"serve: --trusted-proxy {exc}") from None
    names = []
    for name in args.server_name:
        name = name.strip().lower()
        if not name or any(ch in name for ch in "/:@ *") or len(name) > 253:
            raise UsageError(f"serve: --server-name {name!r}: a host name such as console.example.gov.cn")
        names.append(name)
    from sitewatch.config import load_site_configs

    configs = [cfg for file in args.config for cfg in load_site_configs(file)]
    path = args.db or DEFAULT_DB
    if "://" not in path and not Path(path).is_file():
        raise UsageError(f"serve: no database at {path} (pass --db, or create one with sitewatch db upgrade --db "
                         f"{path})")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, args.port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    from sitewatch.console.app import LOOPBACK_HOSTS, create_app

    app = create_app(path, read_only=args.read_only, secure_cookies=not args.plain_http,
                     trusted_proxies=[str(n) for n in trusted],
                     allowed_hosts=[*LOOPBACK_HOSTS, *names, *([host] if remote else [])],
                     policy=Policy(idle=dt.timedelta(minutes=args.idle_minutes)))
    app.state.site_configs = configs
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    print(f"sitewatch: console on http://{shown}:{port}/ (store {path})"
          + ("; read-only, no sign-in" if args.read_only else ""), flush=True)
    if args.read_only and remote:
        print("sitewatch: warning: read-only without sign-in on a network address: anyone who reaches it sees "
              "every problem", file=sys.stderr, flush=True)
    if not args.read_only and count_users(app.state.console.engine) == 0:
        print(f"sitewatch: no accounts yet: sitewatch user add NAME --role admin --db {path}", flush=True)
    return run(app, sock)


def run(app: Starlette, sock: socket.socket) -> int:
    import uvicorn

    # proxy_headers off: the app's TrustedProxy reads them, from --trusted-proxy addresses only
    config = uvicorn.Config(app, proxy_headers=False, server_header=False, log_level="info", access_log=True,
                            lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:           # uvicorn stops on Ctrl-C, then raises it again: the console was stopped
        pass
    print("sitewatch: console stopped", flush=True)
    return 0
