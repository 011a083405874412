"""The `sitewatch` command line: one subcommand per module in ``sitewatch.commands``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import NoReturn

from sitewatch import __version__, commands
from sitewatch.errors import ConfigError, SitewatchError, UsageError
from sitewatch.safetext import InertWriter


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit code 2
        where = self.prog.removeprefix("sitewatch").strip()
        raise UsageError(f"{where}: {message}" if where else message)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with ``argv`` naming a command, of that command only, so that a run
    imports what it uses and nothing else (a scan starts ~0.15 s sooner)."""
    parser = _Parser(prog="sitewatch", description="Monitoring and audit of Chinese government portals.")
    parser.add_argument("--version", action="version", version=f"sitewatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    names = sorted(info.name for info in pkgutil.iter_modules(commands.__path__))
    first = next((a for a in argv or () if not a.startswith("-")), None)
    for name in [first] if first in names else names:
        importlib.import_module(f"sitewatch.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. Everything it prints (and logs to the standard streams) goes through ``InertWriter``:
    text from crawled pages can never drive the terminal or forge log lines."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = InertWriter(out), InertWriter(err)
    try:
        return _run(argv)
    finally:
        sys.stdout, sys.stderr = out, err


def _run(argv: list[str] | None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 2
        code: int = args.func(args)
        return code
    except (UsageError, ConfigError) as exc:
        print(f"sitewatch: error: {exc}", file=sys.stderr)
        return 2
    except SitewatchError as exc:
        print(f"sitewatch: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except Exception as exc:
        db_error = sys.modules.get("sqlalchemy.exc")
        if db_error is None or not isinstance(exc, db_error.SQLAlchemyError):
            raise
        from sitewatch.store import db_reason  # lazy: heavy dependency (SQLAlchemy), loaded only on its errors

        print(f"sitewatch: error: database error: {db_reason(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sitewatch: interrupted; what was stored is kept", file=sys.stderr)
        return 130
