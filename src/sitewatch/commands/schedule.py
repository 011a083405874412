"""`sitewatch schedule`: run every site's monitoring schedule (probes, link scans, monthly audit, look-back)."""

from __future__ import annotations

import argparse
import logging

from sitewatch.store import DB_HELP, DEFAULT_DB


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("schedule", help="run the monitoring schedule of every site in a config until stopped")
    p.add_argument("--config", required=True, metavar="SITE.toml", help="site config; [[sites]] for several sites")
    p.add_argument("--db", metavar="PATH|URL", help=DB_HELP + "; jobs are stored in it")
    p.add_argument("--run-now", action="append", default=[], metavar="KIND|JOB_ID",
                   help="run these jobs at once (monthly, links, probe, or an id like SITE:monthly); repeatable")
    p.add_argument("--executor", choices=("local", "celery"),
                   help="run jobs here (local) or queue them for `sitewatch worker` processes (celery); "
                        "default: the config's [schedule] executor, else local")
    p.add_argument("--broker", metavar="REDIS_URL",
                   help="the fleet's Redis (executor celery); default $SITEWATCH_BROKER or redis://127.0.0.1:6379/0")
    p.add_argument("--verbose", "-v", action="store_true", help="log every request-level detail")
    p.set_defaults(func=cmd_schedule)


def cmd_schedule(args: argparse.Namespace) -> int:
    from sitewatch.commands.worker import broker_url
    from sitewatch.config import load_site_configs
    from sitewatch.resume import stop_on_signals
    from sitewatch.scheduler import SiteScheduler

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    configs = load_site_configs(args.config)
    with stop_on_signals() as stop:
        sched = SiteScheduler(args.db or DEFAULT_DB, configs, stop=stop, executor=args.executor,
                              broker=broker_url(args.broker))
        sched.start(args.run_now)
        log = logging.getLogger("sitewatch.scheduler")
        for job in sched.jobs():
            log.info("job %s: next run %s", job.id, job.next_run_time)
        try:
            while not stop.wait(1.0):
                pass
        finally:
            log.info("stopping: waiting for running jobs to checkpoint")
            sched.shutdown()
    log.info("stopped")
    return 0
