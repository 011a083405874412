"""Scheduled monitoring of one or more sites: availability probes, weekly link scans, the monthly audit with
reports, and the look-back some days after each audit.

Jobs live in the store's database (APScheduler ``SQLAlchemyJobStore``) under stable ids ``<site>:<kind>``
(kinds: probe, links, monthly, lookback, resume). A restart re-adds the configured jobs in place, keeps the
stored next run time when the trigger is unchanged, and runs a job missed while the scheduler was down once
(coalesced; the misfire grace time is one period of the job's trigger). One lock per site keeps its scans
apart. A stop request lets running scans checkpoint their frontier; the next start resumes them.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from sitewatch.config import EXECUTORS, SCHEDULE_KEYS, SiteConfig
from sitewatch.errors import ConfigError, UsageError
from sitewatch.lookback import run_lookback, write_lookback
from sitewatch.packs import load_rules
from sitewatch.probes import PROBE_TIMEOUT, probe_round, site_key
from sitewatch.prune import prune
from sitewatch.reporting.write import write_report
from sitewatch.resume import resumable_scan, resume_settings
from sitewatch.rules.availability import availability_findings, thresholds
from sitewatch.scan import resume_scan, start_scan
from sitewatch.store import SCHEDULER_LOCK_KEY, JobRunRow, ScanRecord, Store, describe, scheduler_lock_path

if TYPE_CHECKING:
    from sitewatch.scan import ScanResult

log = logging.getLogger("sitewatch.scheduler")

JOB_FUNC = "sitewatch.scheduler:run_job"
PLAN_LOOKBACKS_FUNC = "sitewatch.scheduler:plan_lookbacks_job"
PLAN_LOOKBACKS_ID = "sitewatch:plan-lookbacks"     # (fleet) look-backs of the audits workers finished
LOOKBACK_PLAN_EVERY = 300                          # seconds
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
PRUNE_RUNS_FUNC = "sitewatch.scheduler:prune_job_runs_job"
PRUNE_RUNS_ID = "sitewatch:prune-job-runs"         # daily: job runs older than JOB_RUNS_KEEP_DAYS, but each job's last
JOB_RUNS_KEEP_DAYS = 90
SCAN_JOBS = ("links", "monthly", "lookback", "resume")

job_runs = JobRunRow                        # the table lives with the store's schema (sitewatch.store)


@dataclass
class ScheduleSettings:
    """A site's ``[schedule]`` table."""

    enabled: bool = True
    timezone: str = "Asia/Shanghai"
    probe_every_minutes: float = 30.0
    probe_jitter_seconds: int = 120
    probe_timeout: float = PROBE_TIMEOUT
    probe_urls: list[str] = field(default_factory=list)
    link_scan: str = "0 3 * * 6"
    monthly: str = "0 2 1 * *"
    lookback_days: int = 15
    report_dir: str = "sitewatch-out"
    keep_scans: int = 0          # completed scans that keep their details after each scan job; 0 = all
    audit_link_cache: bool = False   # the monthly audit reuses the link cache too (by default it re-checks all)
    executor: str = "local"          # "local": jobs run in the scheduler's process; "celery": on fleet workers

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_KINDS = SCHEDULE_KEYS


def schedule_settings(cfg: SiteConfig) -> ScheduleSettings:
    """Validate and read ``cfg.schedule``; errors name the config and the key."""
    where = f"{cfg.source}: schedule"
    s = ScheduleSettings()
    for key, value in cfg.schedule.items():
        kind = _KINDS.get(key)
        if kind is None:
            raise ConfigError(f"{where}.{key}: unknown key (known: {', '.join(sorted(_KINDS))})")
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in ((int, float), int)):
            raise ConfigError(f"{where}.{key}: unexpected value {value!r}")
        if value is True and key in ("link_scan", "monthly"):
            continue
        setattr(s, key, "" if value is False else value)
    try:
        s.tz  # noqa: B018 -- the property raises on an unknown time zone
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}.timezone: unknown time zone {s.timezone!r}") from None
    if s.executor not in EXECUTORS:
        raise ConfigError(f"{where}.executor: must be one of {', '.join(EXECUTORS)}, got {s.executor!r}")
    if s.probe_every_minutes <= 0 or s.probe_jitter_seconds < 0 or s.probe_timeout <= 0 or s.lookback_days < 0 \
            or s.keep_scans < 0:
        raise ConfigError(f"{where}: probe_every_minutes and probe_timeout must be > 0, "
                          "probe_jitter_seconds, lookback_days and keep_scans >= 0")
    for key in ("link_scan", "monthly"):
        expr = getattr(s, key)
        if expr:
            try:
                CronTrigger.from_crontab(expr, timezone=s.tz)
            except ValueError as exc:
                raise ConfigError(f"{where}.{key}: bad cron expression {expr!r} ({exc})") from None
    s.probe_urls = [str(u) for u in s.probe_urls]
    return s


# --- job records ----------------------------------------------------------------------------------------
def ensure_job_table(engine: Engine) -> None:
    """The job table is part of every store at the current schema (migration 0003); kept for callers."""
    JobRunRow.create(engine, checkfirst=True)


def _run_started(engine: Engine, job_id: str, site: str, kind: str, scan_id: int | None) -> int:
    with engine.begin() as c:
        pk = c.execute(insert(job_runs).values(job_id=job_id, site=site, kind=kind, scan_id=scan_id,
                                               started_at=dt.datetime.now(), status="running", detail="")
                       ).inserted_primary_key
        assert pk is not None                           # a single-row insert
        run_id: int = pk[0]
        return run_id


def _run_finished(engine: Engine, run_id: int, status: str, detail: str, scan_id: int | None) -> None:
    with engine.begin() as c:
        c.execute(update(job_runs).where(job_runs.c.id == run_id).values(
            status=status, detail=detail[:2000], scan_id=scan_id, finished_at=dt.datetime.now()))


def last_runs(engine: Engine) -> dict[str, Any]:
    """The latest run of every job id."""
    ensure_job_table(engine)
    with engine.connect() as c:
        rows = c.execute(select(job_runs).where(job_runs.c.id.in_(_latest_run_ids())).order_by(job_runs.c.id)).all()
    return {r.job_id: r for r in rows}


def prune_job_runs(engine: Engine, keep_days: int = JOB_RUNS_KEEP_DAYS, now: dt.datetime | None = None) -> int:
    """Delete finished job runs older than ``keep_days`` but the latest of each job (probes every 30 minutes add
    48 rows a site a day: a province's 3,000 sites would add 50 million a year). Returns the rows deleted."""
    cutoff = (now or dt.datetime.now()) - dt.timedelta(days=keep_days)
    with engine.begin() as c:
        return int(c.execute(delete(job_runs).where(
            job_runs.c.started_at < cutoff, job_runs.c.status.not_in(("queued", "running")),
            job_runs.c.id.not_in(_latest_run_ids()))).rowcount or 0)


def _latest_run_ids() -> Select[tuple[int]]:
    """The id of each job's latest run (a subquery)."""
    return select(func.max(job_runs.c.id)).group_by(job_runs.c.job_id)


def prune_job_runs_job() -> None:
    """The scheduler's daily clean-up of old job runs."""
    if _runtime is not None:
        log.info("pruned %d job run(s) older than %d days", prune_job_runs(_runtime.store.engine), JOB_RUNS_KEEP_DAYS)


# --- the jobs -------------------------------------------------------------------------------------------
Outcome = tuple[str, str, int | None]          # status, detail, scan id
Action = Callable[["Runtime", str, int | None], Outcome]


@dataclass
class Runtime:
    """What running jobs need and cannot pickle: the store, the configs, the locks, the stop flag."""

    db: str
    store: Store
    sites: dict[str, SiteConfig]
    settings: dict[str, ScheduleSettings]
    stop: threading.Event
    actions: dict[str, Action]
    locks: dict[str, threading.Lock] = field(default_factory=dict)
    scheduler: BackgroundScheduler | None = None
    # fleet: the site lock is a lease every worker sees (sitewatch.fleet.leases); jobs are queued, not run
    lock_factory: Callable[[str], Any] | None = None
    enqueue: Callable[[str, str, int | None], str] | None = None
    active: int = 0
    idle: threading.Condition = field(default_factory=threading.Condition)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is running (jobs must not touch the scheduler while it shuts down)."""
        with self.idle:
            return self.idle.wait_for(lambda: self.active == 0, timeout)


_runtime: Runtime | None = None


def run_job(site: str, kind: str, scan_id: int | None = None) -> None:
    """Entry point of every stored job: run ``kind`` for ``site`` and record how it ended."""
    rt = _runtime
    if rt is None:
        log.error("job %s:%s fired outside a running scheduler", site, kind)
        return
    if site not in rt.sites:
        log.warning("job %s:%s: site is no longer in the config; skipped", site, kind)
        return
    if rt.enqueue is not None:
        try:
            log.info("job %s:%s %s", site, kind, rt.enqueue(site, kind, scan_id))
        except Exception:  # noqa: BLE001 - a broker error must not stop the scheduler; the next run tries again
            log.exception("job %s:%s could not be queued", site, kind)
        return
    with rt.idle:
        rt.active += 1
    status, detail, sid = "failed", "", scan_id
    run_id = None
    try:
        run_id = _run_started(rt.store.engine, f"{site}:{kind}", site, kind, scan_id)
        if rt.stop.is_set():
            status, detail = "skipped", "scheduler stopping"
        else:
            status, detail, sid = rt.actions[kind](rt, site, scan_id)
    except Exception as exc:  # noqa: BLE001 - a failed job must not stop the scheduler
        log.exception("job %s:%s failed", site, kind)
        detail = f"{type(exc).__name__}: {exc}"
    finally:
        if run_id is not None:
            _run_finished(rt.store.engine, run_id, status, detail, sid)
        with rt.idle:
            rt.active -= 1
            rt.idle.notify_all()
    log.info("job %s:%s %s%s", site, kind, status, f": {detail}" if detail else "")


class site_lock:
    """Hold the site's scan lock; ``wait`` blocks until it is free (or the scheduler stops). On a fleet worker
    the lock is the site's lease in Redis, held across every worker."""

    def __init__(self, rt: Runtime, site: str, wait: bool):
        self.lock = rt.lock_factory(site) if rt.lock_factory else rt.locks.setdefault(site, threading.Lock())
        self.rt, self.wait, self.held = rt, wait, False

    def __enter__(self) -> bool:
        if not self.wait:
            self.held = self.lock.acquire(blocking=False)
        else:
            while not self.held and not self.rt.stop.is_set():
                self.held = self.lock.acquire(timeout=0.5)
        return self.held

    def __exit__(self, *exc: object) -> None:
        if self.held:
            self.lock.release()


def _scan_outcome(result: ScanResult) -> Outcome:
    if result.status != "completed":
        return "interrupted", "stopped; frontier checkpointed", result.scan_id
    return "ok", f"{result.stats.pages} pages, {len(result.findings)} findings", result.scan_id


def do_probe(rt: Runtime, site: str, _scan_id: int | None) -> Outcome:
    s = rt.settings[site]
    results = probe_round(rt.store, rt.sites[site], s.probe_urls, s.probe_timeout)
    failed = [r for r in results if not r.ok]
    detail = f"{len(results) - len(failed)}/{len(results)} ok"
    if failed:
        detail += "; " + "; ".join(f"{r.url}: {r.error}" for r in failed)
    return ("ok" if not failed else "down"), detail, None


@contextmanager
def job_store(rt: Runtime) -> Iterator[Store]:
    """A store of the job's own (a scan's buffered rows are its own), its connections closed when the job ends: a
    worker runs thousands of jobs, and a store left to the garbage collector keeps its connections open."""
    store = Store(rt.db)
    try:
        yield store
    finally:
        store.engine.dispose()


def do_link_scan(rt: Runtime, site: str, _scan_id: int | None) -> Outcome:
    with site_lock(rt, site, wait=False) as held, job_store(rt) as store:
        if not held:
            return "skipped", "another scan of this site is running", None
        status, detail, scan_id = _scan_outcome(start_scan(rt.sites[site], store, kind="links", stop=rt.stop))
        return status, detail + (_prune_old(rt, site, store) if status == "ok" else ""), scan_id


def do_monthly(rt: Runtime, site: str, _scan_id: int | None) -> Outcome:
    with site_lock(rt, site, wait=True) as held, job_store(rt) as store:
        if not held:
            return "skipped", "scheduler stopping", None
        result = start_scan(audit_config(rt.sites[site]), store, kind="full", stop=rt.stop)
        if result.status != "completed":
            return _scan_outcome(result)
        return "ok", after_audit(rt, site, store, result.scan_id), result.scan_id


def audit_config(cfg: SiteConfig) -> SiteConfig:
    """The settings of a monthly audit: the site's, with the link cache off (every link requested again) unless
    ``[schedule] audit_link_cache``. The weekly link scan uses the cache as ``[crawl] link_cache_days`` says."""
    if schedule_settings(cfg).audit_link_cache:
        return cfg
    return replace(cfg, link_cache_days=0)


def do_resume(rt: Runtime, site: str, scan_id: int | None) -> Outcome:
    with site_lock(rt, site, wait=True) as held, job_store(rt) as store:
        if not held or scan_id is None:
            return "skipped", "scheduler stopping" if not held else "no scan id", scan_id
        scan = store.scan(scan_id)
        if scan is None or scan.status == "completed":
            return "skipped", f"scan {scan_id} is not resumable", scan_id
        cfg, kept = resume_settings(scan, rt.sites[site])
        if kept:     # the config changed since the scan started: the scan finishes as it began
            log.warning("%s: resuming scan %d with the settings it started with; the config's %s apply from the "
                        "next scan", site, scan_id, ", ".join(key for key, _, _ in kept))
        result = resume_scan(store, scan_id, cfg, stop=rt.stop)
        if result.status == "completed" and scan.kind == "full":
            return "ok", after_audit(rt, site, store, scan_id), scan_id
        return _scan_outcome(result)


def do_lookback(rt: Runtime, site: str, scan_id: int | None) -> Outcome:
    with site_lock(rt, site, wait=True) as held, job_store(rt) as store:
        if not held:
            return "skipped", "scheduler stopping", scan_id
        baseline = store.scan(scan_id) if scan_id else store.latest_scan(site)
        if baseline is None:
            return "skipped", "no completed audit to look back on", scan_id
        out = Path(rt.settings[site].report_dir) / _safe(site)
        return "ok", run_lookback_reports(store, baseline, out, rt.sites[site].timeout, rt.sites[site]), baseline.id


DEFAULT_ACTIONS: dict[str, Action] = {"probe": do_probe, "links": do_link_scan, "monthly": do_monthly,
                                      "resume": do_resume, "lookback": do_lookback}


def after_audit(rt: Runtime, site: str, store: Store, scan_id: int) -> str:
    """After a monthly audit: add the availability veto of the week before, write reports, plan the look-back."""
    cfg, s = rt.sites[site], rt.settings[site]
    scan = store.scan(scan_id)
    assert scan is not None
    day = dt.datetime.combine(scan.as_of, dt.time())
    ruleset = load_rules([Path(p) for p in cfg.rule_packs], cfg.rule_overrides)
    window = dt.timedelta(days=thresholds(ruleset).monitor_days)      # the pack's monitoring window
    extra = availability_findings(store, cfg, day - window, day, ruleset)
    if extra:
        store.save_findings(scan_id, store.findings(scan_id) + extra)
    stored = store.scan(scan_id)
    assert stored is not None
    paths = write_reports(store, stored, Path(s.report_dir) / _safe(site))
    notes = [f"{len(store.findings(scan_id))} findings", f"{len(paths)} report files"]
    if s.lookback_days and rt.scheduler is None:
        notes.append("look-back planned by the scheduler")
    elif s.lookback_days and rt.scheduler is not None:
        if rt.stop.is_set():
            notes.append("look-back planned at the next start")
        else:
            when = plan_lookback(rt.scheduler, site, scan_id,
                                 dt.datetime.now(s.tz) + dt.timedelta(days=s.lookback_days))
            notes.append(f"look-back on {when:%Y-%m-%d %H:%M}")
    return ", ".join(notes) + _prune_old(rt, site, store)


def _prune_old(rt: Runtime, site: str, store: Store) -> str:
    """``keep_scans``: delete the detail rows of the site's older scans (findings stay); a note for the job log."""
    keep = rt.settings[site].keep_scans
    if not keep:
        return ""
    pruned = prune(store, keep, site).scans
    return f", details of {len(pruned)} older scan(s) pruned" if pruned else ""


def plan_lookback(scheduler: BackgroundScheduler, site: str, scan_id: int, when: dt.datetime) -> dt.datetime:
    scheduler.add_job(JOB_FUNC, "date", run_date=when, args=[site, "lookback", scan_id], id=f"{site}:lookback",
                      name=f"{site}:lookback", replace_existing=True, coalesce=True, max_instances=1,
                      misfire_grace_time=None)
    return when


def write_reports(store: Store, scan: ScanRecord, out: Path) -> list[Path]:
    """The rectification report and leadership summary of ``scan``."""
    return write_report(store, scan, out)


def run_lookback_reports(store: Store, baseline: ScanRecord, out: Path, timeout: float,
                         cfg: SiteConfig | None = None) -> str:
    result = run_lookback(store, baseline, dt.date.today(), timeout, cfg=cfg)
    paths = write_lookback(store, result, out)
    return f"look-back of scan {baseline.id}: " + ", ".join(f"{k} {v}" for k, v in result.counts.items() if v) + \
        f"; {len(paths)} files"


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80] or "site"


def plan_missing_lookbacks(rt: Runtime) -> None:
    """Plan the look-back of each site's latest scheduled audit when a stop prevented it, or (fleet) when the
    audit ran on a worker, which has no scheduler to plan it in."""
    if rt.scheduler is None:
        return
    latest_scans = {site: rt.store.latest_scan(site) for site, s in rt.settings.items() if s.lookback_days}
    ids = [scan.id for scan in latest_scans.values() if scan is not None]
    with rt.store.engine.connect() as c:           # (only the latest scans' jobs: a fleet runs this every 5 min)
        audits = {r.scan_id for r in c.execute(select(job_runs.c.scan_id).where(
            job_runs.c.scan_id.in_(ids), job_runs.c.kind.in_(("monthly", "resume")), job_runs.c.status == "ok"))}
    for site, latest in latest_scans.items():
        s = rt.settings[site]
        if latest is None or latest.id not in audits \
                or rt.scheduler.get_job(f"{site}:lookback") is not None \
                or any((lb.config or {}).get("baseline") == latest.id
                       for lb in rt.store.scans(site, kind="lookback")):
            continue
        due = (latest.finished_at or dt.datetime.now()).astimezone(s.tz) + dt.timedelta(days=s.lookback_days)
        log.info("planning the look-back of scan %d of %s", latest.id, site)
        plan_lookback(rt.scheduler, site, latest.id, max(due, dt.datetime.now(s.tz)))


def plan_lookbacks_job() -> None:
    """A fleet scheduler's periodic job: the look-backs of audits the workers finished."""
    if _runtime is not None:
        plan_missing_lookbacks(_runtime)


def _executor(settings: dict[str, ScheduleSettings]) -> str:
    """The one executor every site of the config names."""
    names = {s.executor for s in settings.values()} or {"local"}
    if len(names) > 1:
        raise ConfigError(f"schedule.executor: the sites of one config must name the same executor, got "
                          f"{', '.join(sorted(names))}")
    return names.pop()


# --- the scheduler --------------------------------------------------------------------------------------
def period_seconds(trigger: BaseTrigger, now: dt.datetime) -> int:
    """One period of ``trigger`` (at least a minute): the misfire grace time that lets a missed run run once."""
    if isinstance(trigger, IntervalTrigger):
        return max(60, int(trigger.interval_length + (trigger.jitter or 0)))
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + dt.timedelta(seconds=1)) if first else None
    return max(60, int((second - first).total_seconds())) if first and second else 31 * 86400


def trigger_key(trigger: BaseTrigger) -> tuple[Any, ...]:
    if isinstance(trigger, IntervalTrigger):
        return ("interval", trigger.interval_length, trigger.jitter, str(trigger.timezone))
    if isinstance(trigger, CronTrigger):
        return ("cron", str(trigger), str(trigger.timezone))
    return (type(trigger).__name__, str(trigger))


def planned_jobs(site: str, s: ScheduleSettings) -> dict[str, BaseTrigger]:
    """The recurring jobs of one site, by job id."""
    if not s.enabled:
        return {}
    jobs: dict[str, BaseTrigger] = {f"{site}:probe": IntervalTrigger(
        seconds=s.probe_every_minutes * 60, jitter=s.probe_jitter_seconds or None, timezone=s.tz)}
    if s.link_scan:
        jobs[f"{site}:links"] = CronTrigger.from_crontab(s.link_scan, timezone=s.tz)
    if s.monthly:
        jobs[f"{site}:monthly"] = CronTrigger.from_crontab(s.monthly, timezone=s.tz)
    return jobs


class _Scheduler(BackgroundScheduler):  # type: ignore[misc]  # apscheduler 3 has no type information
    """Never hands due jobs to executors that are shutting down (which would skip the run yet advance the job)."""

    def _process_jobs(self) -> float | None:
        if self.state != STATE_RUNNING:
            return None
        wait: float | None = super()._process_jobs()
        return wait


class SiteScheduler:
    """All sites of a config in one process, jobs persisted in the store's database."""

    def __init__(self, db: str, configs: list[SiteConfig], *, stop: threading.Event | None = None,
                 actions: dict[str, Action] | None = None, workers: int | None = None,
                 executor: str | None = None, broker: str | None = None):
        sites: dict[str, SiteConfig] = {}
        for cfg in configs:
            if not cfg.start_urls:
                raise ConfigError(f"{cfg.source}: site.start_urls is required for scheduling")
            name = site_key(cfg)
            if name in sites:
                raise ConfigError(f"{cfg.source}: two sites named {name!r}; give each a distinct site.name")
            sites[name] = cfg
        self.db = str(db)
        self.store = Store(self.db)
        ensure_job_table(self.store.engine)
        self.stop = stop or threading.Event()
        self.runtime = Runtime(db=self.db, store=self.store, sites=sites,
                               settings={n: schedule_settings(c) for n, c in sites.items()}, stop=self.stop,
                               actions={**DEFAULT_ACTIONS, **(actions or {})})
        self.workers = workers or max(4, 3 * len(sites))
        self.executor = executor or _executor(self.runtime.settings)
        if self.executor not in EXECUTORS:
            raise UsageError(f"schedule: --executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}")
        if self.executor == "celery":
            bare = [c.source for c in configs if not c.raw]
            if bare:
                raise ConfigError(f"{bare[0]}: executor 'celery' queues a site's config table: read the sites "
                                  "from a config file")
            self.runtime.enqueue = self._celery_enqueue(broker or DEFAULT_BROKER)
        self.scheduler: BackgroundScheduler | None = None
        self._lock_file: TextIO | None = None
        self._lock_conn: Connection | None = None

    def start(self, run_now: Sequence[str] = (), paused: bool = False) -> None:
        """Start; ``run_now`` names job kinds (monthly, links, probe) or ids to run at once; ``paused`` runs nothing
        until ``self.scheduler.resume()``."""
        global _runtime
        if _runtime is not None:
            raise UsageError("schedule: a scheduler is already running in this process")
        self._acquire_db_lock()
        self.scheduler = _Scheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.store.engine)},
            executors={"default": ThreadPoolExecutor(self.workers)},
            job_defaults={"coalesce": True, "max_instances": 1})
        self.runtime.scheduler = self.scheduler
        _runtime = self.runtime
        self.scheduler.start(paused=True)
        self._reconcile()
        self.scheduler.add_job(PRUNE_RUNS_FUNC, CronTrigger(hour=4, minute=17, timezone=self._tz()), id=PRUNE_RUNS_ID,
                               name=PRUNE_RUNS_ID, replace_existing=True, coalesce=True, max_instances=1,
                               misfire_grace_time=86400)
        if self.executor == "celery":       # the workers' watchdogs resume what a lost worker left
            self.scheduler.add_job(PLAN_LOOKBACKS_FUNC, IntervalTrigger(seconds=LOOKBACK_PLAN_EVERY),
                                   id=PLAN_LOOKBACKS_ID, name=PLAN_LOOKBACKS_ID, replace_existing=True,
                                   coalesce=True, max_instances=1, next_run_time=dt.datetime.now(dt.UTC))
        else:
            self._resume_interrupted()
            plan_missing_lookbacks(self.runtime)
        now = dt.datetime.now(dt.UTC)
        for job in self.scheduler.get_jobs():
            if job.id in run_now or job.id.rpartition(":")[2] in run_now:
                job.modify(next_run_time=now)
        if not paused:
            self.scheduler.resume()

    def shutdown(self) -> None:
        """Ask running jobs to stop (scans checkpoint), wait for them, release the database."""
        global _runtime
        self.stop.set()
        self.runtime.wait_idle()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        _runtime = None
        self._release_db_lock()

    def jobs(self) -> list[Any]:
        """The sites' jobs (not the scheduler's own housekeeping)."""
        return [j for j in self.scheduler.get_jobs() if j.args] if self.scheduler else []

    def _reconcile(self) -> None:
        assert self.scheduler is not None
        now = dt.datetime.now(dt.UTC)
        wanted: dict[str, BaseTrigger] = {}
        for site, s in self.runtime.settings.items():
            wanted.update(planned_jobs(site, s))
        existing = {j.id: j for j in self.scheduler.get_jobs()}
        for job_id, _job in existing.items():
            site, _, kind = job_id.rpartition(":")
            one_shot = kind in ("lookback", "resume") and site in self.runtime.sites
            if job_id not in wanted and not one_shot:
                log.info("removing job %s (no longer in the config)", job_id)
                self.scheduler.remove_job(job_id)
        for job_id, trigger in wanted.items():
            site, _, kind = job_id.rpartition(":")
            old = existing.get(job_id)
            keep = (old is not None and old.next_run_time is not None
                    and trigger_key(old.trigger) == trigger_key(trigger))
            extra = {"next_run_time": old.next_run_time} if keep and old is not None else {}
            self.scheduler.add_job(JOB_FUNC, trigger, args=[site, kind], id=job_id, name=job_id,
                                   replace_existing=True, coalesce=True, max_instances=1,
                                   misfire_grace_time=period_seconds(trigger, now), **extra)

    def _resume_interrupted(self) -> None:
        """Queue a resume of each site's latest scan if it was interrupted or its scheduler died mid-scan."""
        assert self.scheduler is not None
        engine = self.store.engine
        with engine.begin() as c:
            dead = c.execute(select(job_runs).where(job_runs.c.status == "running")).all()
            c.execute(update(job_runs).where(job_runs.c.status == "running").values(
                status="killed", detail="scheduler stopped without finishing this job", finished_at=dt.datetime.now()))
        for site in self.runtime.sites:
            scan = resumable_scan(self.store, site)
            if scan is None:
                continue
            owned = any(r.site == site and r.kind in SCAN_JOBS and r.started_at <= scan.started_at for r in dead)
            if scan.status == "running" and not owned and scan.runner_state() != "gone":
                log.warning("scan %d of %s is marked running by another process; not resuming it", scan.id, site)
                continue
            log.info("scan %d of %s was %s: resuming it", scan.id, site, scan.status)
            self.scheduler.add_job(JOB_FUNC, "date", run_date=dt.datetime.now(dt.UTC),
                                   args=[site, "resume", scan.id], id=f"{site}:resume", name=f"{site}:resume",
                                   replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=None)

    def _tz(self) -> ZoneInfo:
        return next(iter(self.runtime.settings.values())).tz if self.runtime.settings else ZoneInfo("Asia/Shanghai")

    def _celery_enqueue(self, broker: str) -> Callable[[str, str, int | None], str]:
        """Jobs go to the fleet's queue: a ``queued`` row with the site's config, its id on the broker."""
        from sitewatch.fleet import EXTRA

        try:
            import celery  # noqa: F401 - the fleet extra's queue

            from sitewatch.fleet import jobs
            from sitewatch.fleet.leases import reachable
            from sitewatch.fleet.queue import make_app, send
        except ImportError as exc:
            raise UsageError(f"schedule: executor 'celery' needs the fleet extra ({exc.name} is missing): "
                             f"{EXTRA}") from None
        reachable(broker, "schedule")
        app = make_app(broker)
        engine = self.store.engine

        def enqueue(site: str, kind: str, scan_id: int | None) -> str:
            run_id = jobs.queue(engine, site, kind, scan_id, jobs.payload(self.runtime.sites[site]))
            if run_id is None:
                return "not queued: the same job is running"
            send(app, run_id)
            return f"queued as job {run_id}"
        return enqueue

    def _acquire_db_lock(self) -> None:
        """One scheduler per database: an advisory lock on a file next to an SQLite store, a PostgreSQL
        advisory lock (held by a connection kept for the scheduler's lifetime) on a PostgreSQL one. Both are
        released by the operating system or the server when the process dies."""
        engine = self.store.engine
        if engine.dialect.name == "postgresql":
            conn = engine.connect()
            held = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({SCHEDULER_LOCK_KEY})").scalar()
            conn.commit()
            if not held:
                conn.close()
                raise UsageError(f"schedule: another scheduler is already running on {describe(engine)}")
            self._lock_conn = conn
            return
        path = scheduler_lock_path(engine)
        if path is None:
            return
        import fcntl  # lazy: POSIX only, for the lock file of an SQLite store
        f = open(path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise UsageError(f"schedule: another scheduler is already running on {self.db}") from None
        self._lock_file = f

    def _release_db_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        if self._lock_conn is not None:
            try:
                self._lock_conn.exec_driver_sql(f"SELECT pg_advisory_unlock({SCHEDULER_LOCK_KEY})")
                self._lock_conn.commit()
            finally:
                self._lock_conn.invalidate()          # never back to the pool with the lock
                self._lock_conn.close()
                self._lock_conn = None
