"""The `sitewatch` command line: one subcommand per module in ``sitewatch.commands``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from sitewatch import __version__, commands
from sitewatch.errors import ConfigError, SitewatchError, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        where = self.prog.removeprefix("sitewatch").strip()
        raise UsageError(f"{where}: {message}" if where else message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sitewatch", description="Monitoring and audit of Chinese government portals.")
    parser.add_argument("--version", action="version", version=f"sitewatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"sitewatch.commands.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 2
        return args.func(args)
    except (UsageError, ConfigError) as exc:
        print(f"sitewatch: error: {exc}", file=sys.stderr)
        return 2
    except SitewatchError as exc:
        print(f"sitewatch: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("sitewatch: interrupted; what was stored is kept", file=sys.stderr)
        return 130
