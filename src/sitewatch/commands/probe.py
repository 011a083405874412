"""`sitewatch probe`: one availability probe round (homepage and key pages) for every site of a config."""

from __future__ import annotations

import argparse
import datetime as dt

from sitewatch.store import DB_HELP, DEFAULT_DB


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("probe", help="probe each site's homepage and key pages once and log the result")
    p.add_argument("--config", required=True, metavar="SITE.toml", help="site config; key pages: schedule.probe_urls")
    p.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    p.add_argument("--timeout", type=float, metavar="S", help="seconds before a probe fails (default: config or 15)")
    p.set_defaults(func=cmd_probe)


def cmd_probe(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sitewatch.config import load_site_configs
    from sitewatch.errors import UsageError
    from sitewatch.packs import load_rules
    from sitewatch.probes import probe_round, site_key
    from sitewatch.rules.availability import recent_availability, thresholds
    from sitewatch.scheduler import schedule_settings
    from sitewatch.store import Store
    from sitewatch.urls import display_url

    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("probe: --timeout must be > 0")
    configs = load_site_configs(args.config)
    for cfg in configs:
        if not cfg.start_urls:
            raise UsageError(f"probe: {cfg.source}: site.start_urls is required")
    store = Store(args.db or DEFAULT_DB)
    down = 0
    now = dt.datetime.now()
    for cfg in configs:
        s = schedule_settings(cfg)
        site = site_key(cfg)
        results = probe_round(store, cfg, s.probe_urls, args.timeout or s.probe_timeout)
        print(f"sitewatch: probe of {site} at {now:%Y-%m-%d %H:%M:%S}")
        for r in results:
            state = "ok" if r.ok else f"FAIL {r.error}"
            print(f"  {display_url(r.url)}  {r.status or '-'}  {r.latency_ms} ms  {state}")
            down += not r.ok
        rules = load_rules([Path(p) for p in cfg.rule_packs], cfg.rule_overrides)
        av = recent_availability(store, site, [cfg.start_urls[0]], rules, now)
        print(f"  homepage, last {thresholds(rules).monitor_days} days: {av.failures}/{av.probes} failed "
              f"({av.share:.1%})" + (f"  ≥{av.threshold:.0%}: 单项否决" if av.veto else ""))
    return 1 if down else 0
