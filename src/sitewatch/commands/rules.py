"""`sitewatch rules`: list the active rules (bundled packs, plus a site config's packs and overrides)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sitewatch.config import load_config
from sitewatch.packs import load_rules, print_rules


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("rules", help="list the active rules with thresholds, severity, source and provenance")
    p.add_argument("--config", metavar="SITE.toml", help="apply this site config's rule packs and overrides")
    p.add_argument("--markdown", action="store_true", help="print the Markdown catalogue (docs/rules.md)")
    p.set_defaults(func=cmd_rules)


def cmd_rules(args: argparse.Namespace) -> int:
    packs: list[Path] = []
    overrides: dict[str, Any] = {}
    if args.config:
        cfg = load_config(args.config)
        packs, overrides = [Path(p) for p in cfg.rule_packs], cfg.rule_overrides
    print_rules(load_rules(packs, overrides), markdown=args.markdown)
    return 0
