"""`sitewatch status`: scheduled jobs, how each last ran, the latest scan and availability of every site."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sitewatch.safetext import safe_text
from sitewatch.store import DB_HELP, DEFAULT_DB

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from sitewatch.reporting.numbers import Rectification, ScanNumbers


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="show scheduled jobs, their last runs, latest scans and availability")
    p.add_argument("--config", metavar="SITE.toml", help="limit to the sites of this config")
    p.add_argument("--db", metavar="PATH|URL", help=DB_HELP)
    p.add_argument("--broker", metavar="REDIS_URL",
                   help="a fleet's Redis: also show live workers, the broker's queue and per-host budget use "
                        "(default $SITEWATCH_BROKER when set)")
    p.add_argument("--fleet", action="store_true",
                   help="only the fleet section (a province's thousands of sites each take a block otherwise)")
    p.set_defaults(func=cmd_status)


def _when(value: dt.date | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone().replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def stored_jobs(engine: Engine) -> list[Any]:
    """The jobs in the database's job store (none when no scheduler ever ran on it)."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from sqlalchemy import inspect

    if not inspect(engine).has_table("apscheduler_jobs"):
        return []
    store = SQLAlchemyJobStore(engine=engine)
    try:
        jobs: list[Any] = store.get_all_jobs()
        return jobs
    except Exception:  # noqa: BLE001 - unreadable job states are reported by the scheduler itself
        return []


def rectification_line(rect: Rectification) -> str:
    """已整改 5, 未整改 34, …: every status of a rectification with its count."""
    return ", ".join(f"{k} {v}" for k, v in rect.counts.items())


def print_numbers(n: ScanNumbers) -> None:
    """The latest completed audit's counts, as the reports show them (``reporting.numbers``)."""
    kinds = ", ".join(f"{k} {v}" for k, v in n.by_severity.items())
    score = "-" if n.score is None else f"{n.score}"
    print(f"  latest audit: scan {n.scan} (as of {n.as_of}): problems {n.problems}" + (f" ({kinds})" if kinds else "")
          + f"; score {score}; conclusion {n.conclusion}")
    rect = n.rectification
    if rect is not None:
        source = f"look-back {rect.lookback}" if rect.lookback is not None else "compared"
        print(f"    problems of scan {rect.baseline} ({rect.total}, {source}): {rectification_line(rect)}")


def fleet_lines(engine: Engine, broker: str | None) -> list[str]:
    """The fleet section: when a broker is named, or fleet jobs are in the store (nothing for a single office)."""
    from sqlalchemy import select

    from sitewatch.store import JobRunRow

    with engine.connect() as c:
        fleet_jobs = c.execute(select(JobRunRow.c.id).where(JobRunRow.c.queued_at.is_not(None)).limit(1)).first()
    if broker is None and fleet_jobs is None:
        return []
    from sitewatch.fleet import EXTRA

    try:
        from sitewatch.fleet.leases import reachable
        from sitewatch.fleet.view import fleet_view, status_lines
    except ImportError as exc:
        return [f"fleet: not shown ({exc.name} is missing: {EXTRA})"]
    if broker:
        reachable(broker, "status")
    return ["", *status_lines(fleet_view(engine, broker))]


def cmd_status(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from sitewatch.config import load_site_configs
    from sitewatch.errors import UsageError
    from sitewatch.packs import load_rules
    from sitewatch.probes import site_key
    from sitewatch.reporting.data import scan_numbers
    from sitewatch.reporting.numbers import lookback_rectification
    from sitewatch.rules.availability import UNREACHABLE, recent_availability, thresholds, unreachable_line
    from sitewatch.scan import findings_document
    from sitewatch.scheduler import last_runs
    from sitewatch.store import ProbeRow, Store, TargetRow

    path = args.db or DEFAULT_DB
    if "://" not in path and not Path(path).is_file():
        raise UsageError(f"status: no database at {path} (pass --db)")
    store = Store(path)
    configs = load_site_configs(args.config) if args.config else []
    homepages = {site_key(c): c.start_urls[0] for c in configs if c.start_urls}
    jobs = stored_jobs(store.engine)
    runs = last_runs(store.engine)
    sites = list(homepages) or sorted({j.args[0] for j in jobs if j.args} | {r.site for r in runs.values()}
                                      | {s.site for s in store.scans(kind=None)})
    print(f"sitewatch: status of {path} (times are local)")
    fleet = fleet_lines(store.engine, args.broker or os.environ.get("SITEWATCH_BROKER"))
    for line in fleet:
        print(line)
    if args.fleet:
        if not fleet:
            raise UsageError("status --fleet: no fleet jobs in this store and no broker named (--broker)")
        return 0
    for site in sites:
        print(f"\n{site}")
        ids = sorted({j.id for j in jobs if j.args and j.args[0] == site}
                     | {k for k, r in runs.items() if r.site == site})
        by_id = {j.id: j for j in jobs}
        for job_id in ids:
            job, run = by_id.get(job_id), runs.get(job_id)
            nxt = _when(job.next_run_time) if job else "not scheduled"
            last = (f"last {_when(run.started_at)} {run.status}" + (f" ({run.detail})" if run.detail else "")
                    if run else "never ran")
            print(f"  {job_id:<24} next {nxt:<19}  {last[:160]}")
        scans = store.scans(site, kind=None)
        if scans:
            s = scans[-1]
            findings = store.findings(s.id)
            counts = Counter(f.severity for f in findings)
            with store.engine.connect() as c:
                verdicts: dict[str, int] = dict(c.execute(
                    select(TargetRow.c.verdict, func.count()).where(TargetRow.c.scan_id == s.id)
                    .group_by(TargetRow.c.verdict)).all())
            print(f"  latest scan {s.id} ({s.kind}, as of {s.as_of}) {s.status}, started {_when(s.started_at)}")
            if s.status == "running" and s.runner_state() == "gone":
                print(f"    but its process ({s.stats['runner']['pid']}) has ended: continue it with "
                      f"sitewatch scan --resume {s.id}")
            if s.status == "failed":
                print(f"    {safe_text(str((s.stats or {}).get('error', 'error not recorded')))}: continue it with "
                      f"sitewatch scan --resume {s.id}")
            if s.kind == "lookback":       # its stored findings are the problems left open, not a scan's findings
                rect = lookback_rectification(store, s)
                print(f"    look-back of scan {rect.baseline}: {rectification_line(rect)}")
            else:
                print("    targets: " + (", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())) or "none")
                      + "; findings: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))
            if s.status == "completed" and s.kind in ("full", "links"):     # a look-back crawls nothing on purpose
                doc = findings_document(store, s.id)
                cov = doc["scan"]["coverage"]
                if cov["cuts"]:
                    print("    not covered: " + ", ".join(f"{k} {v['count']}" for k, v in cov["cuts"].items()))
                elif cov["complete"]:
                    print("    coverage: complete")
                reach = unreachable_line(doc)
                if reach:
                    vetoed = any(f.rule == UNREACHABLE and f.severity == "veto" for f in findings)
                    verdict = "不合格" if vetoed else ("无法评定" if not doc["scan"].get("pages") else "")
                    print(f"    {reach}" + (f" (verdict {verdict})" if verdict else ""))
            audit = store.latest_scan(site)
            if audit is not None:
                print_numbers(scan_numbers(store, audit))
        else:
            print("  no scan yet")
        now = dt.datetime.now()
        home = homepages.get(site)
        rules = load_rules()
        days = thresholds(rules).monitor_days
        av = recent_availability(store, site, [home] if home else None, rules, now)
        with store.engine.connect() as c:
            last_probe = c.execute(select(ProbeRow).where(ProbeRow.c.site == site)
                                   .order_by(ProbeRow.c.at.desc()).limit(1)).first()
        if av.probes:
            print(f"  availability, last {days} days: {av.failures}/{av.probes} failed ({av.share:.1%}), "
                  f"{len(av.outages)} outage(s)" + (f"; ≥{av.threshold:.0%}: 单项否决" if av.veto else ""))
        else:
            print(f"  availability, last {days} days: not monitored (no probes)")
        if last_probe:
            print(f"  last probe {_when(last_probe.at)} {'ok' if last_probe.ok else 'FAIL ' + last_probe.error}")
    return 0
