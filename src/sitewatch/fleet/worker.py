"""Fleet workers: Celery runs the scheduler's jobs (scans, probes, the monthly audit with its reports, look-backs)
on any number of ``sitewatch worker`` processes on any number of machines, all writing one store.

- **The queue is Celery's** (broker: Redis). A message carries only a job id; the job's row in the store
  (``sitewatch.fleet.jobs``) holds the site's config. ``acks_late`` with ``reject_on_worker_lost``: a message is
  acknowledged when its job has ended, so a worker that dies before gives it back (at once when a pool thread
  dies, after the broker's visibility timeout when the whole process or machine is lost). A redelivered message
  whose job is not ``queued`` any more does nothing: claiming a job is a conditional update of its row.
- **One scan of a site at a time across the fleet**: the scheduler's site lock is a lease in Redis
  (``sitewatch.fleet.leases``); a job waiting for it (the monthly audit behind a link scan) waits as it does in one
  process.
- **Work survives workers**: every running job keeps a heartbeat key alive; each worker's watchdog looks, every
  half lease, for jobs marked running whose heartbeat is gone, marks them ``killed`` and queues a ``resume`` of
  the site's unfinished scan, which continues from the stored frontier (``scan --resume``'s path). A job whose
  workers were lost ``max_attempts`` times is not given out again: its scan is marked failed, with the reason.
  A job that raises ends ``failed`` with its error and is never retried by the queue. A worker asked to stop
  (SIGTERM) lets its scans checkpoint; their jobs end ``interrupted`` and a watchdog queues their resumes.
- **Politeness is the fleet's**: every scan a worker runs uses the per-host budget in Redis
  (``SiteConfig.shared_budget``), so 20 sites on one host share one budget whoever fetches them.

Workers run jobs in threads (``-P threads``): a scan waits on politeness far more than it computes (~1.3 ms of CPU
per page against 250 ms between requests at 4 requests/s), and one process keeps one copy of the code and the
rules in memory; run one worker per core or per machine for more.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import celery  # noqa: F401 - the fleet extra; its absence is the one-line error of `sitewatch worker`
import redis

from sitewatch.errors import ConfigError
from sitewatch.fleet import jobs
from sitewatch.fleet.leases import DEFAULT_LEASE, Heartbeat, alive, announce, job_key, reachable, worker_key
from sitewatch.fleet.queue import DEFAULT_VISIBILITY, QUEUE, make_app, send
from sitewatch.resume import resumable_scan
from sitewatch.scheduler import DEFAULT_ACTIONS, Runtime, schedule_settings
from sitewatch.store import Store

log = logging.getLogger("sitewatch.fleet")

DEFAULT_MAX_ATTEMPTS = 3         # workers a job may lose before it is given up
DEFAULT_THREADS = 8


@dataclass
class WorkerContext:
    """What a worker process's jobs share: its name, store, broker, lease and stop request."""

    name: str
    db: str
    broker: str
    store: Store
    client: redis.Redis
    app: Any
    lease: float = DEFAULT_LEASE
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    concurrency: int = DEFAULT_THREADS
    stop: threading.Event = field(default_factory=threading.Event)
    active: dict[int, threading.Event] = field(default_factory=dict)
    guard: threading.Lock = field(default_factory=threading.Lock)

    def stopping(self) -> None:
        """The worker is shutting down: every running job checkpoints and ends."""
        self.stop.set()
        with self.guard:
            for event in self.active.values():
                event.set()


_context: WorkerContext | None = None


def _task(run_id: int) -> str:
    if _context is None:
        raise RuntimeError("sitewatch.job runs only in `sitewatch worker`")
    return run(_context, int(run_id))


def run(ctx: WorkerContext, run_id: int) -> str:
    """Run fleet job ``run_id`` if it is still queued; how it ended."""
    if ctx.stop.is_set():
        from celery.exceptions import Reject

        raise Reject("worker stopping", requeue=True)        # left for another worker, not lost
    engine = ctx.store.engine
    if not ctx.client.set(job_key(run_id), ctx.name, nx=True, px=int(ctx.lease * 1000)):
        log.info("job %d is held by a live worker: a redelivered message, ignored", run_id)
        return "ignored"
    job = jobs.claim(engine, run_id, ctx.name)
    if job is None:
        ctx.client.delete(job_key(run_id))
        log.info("job %d is %s: a redelivered message, ignored", run_id, jobs.status(engine, run_id) or "gone")
        return "ignored"
    stop = threading.Event()
    with ctx.guard:
        ctx.active[run_id] = stop
    if ctx.stop.is_set():
        stop.set()
    status, detail, scan_id = "failed", "", job.scan_id
    try:
        with Heartbeat(ctx.client, run_id, ctx.name, ctx.lease, stop) as beat:
            status, detail, scan_id = _execute(ctx, job, stop, beat)
    except Exception as exc:  # noqa: BLE001 - a failed job is recorded, never retried by the queue
        log.exception("job %d (%s:%s) failed", run_id, job.site, job.kind)
        detail = f"{type(exc).__name__}: {exc}"
    finally:
        with ctx.guard:
            ctx.active.pop(run_id, None)
        jobs.finish(engine, run_id, status, detail, scan_id)
    log.info("job %d (%s:%s) %s%s", run_id, job.site, job.kind, status, f": {detail}" if detail else "")
    return status


def _execute(ctx: WorkerContext, job: jobs.FleetJob, stop: threading.Event, beat: Heartbeat
             ) -> tuple[str, str, int | None]:
    try:
        cfg = jobs.site_config(job.payload)
    except ConfigError as exc:
        return "failed", f"the job's config is not valid: {exc}", job.scan_id
    cfg.shared_budget = ctx.broker
    rt = Runtime(db=ctx.db, store=ctx.store, sites={job.site: cfg}, settings={job.site: schedule_settings(cfg)},
                 stop=stop, actions=DEFAULT_ACTIONS, lock_factory=beat.site_lease)
    action = rt.actions.get(job.kind)
    if action is None:
        return "failed", f"unknown job kind {job.kind!r}", job.scan_id
    return action(rt, job.site, job.scan_id)


# --- the watchdog -----------------------------------------------------------------------------------------
def watch_once(ctx: WorkerContext) -> list[int]:
    """Take over the jobs whose worker is gone and the scans a stopping worker interrupted; the new job ids."""
    engine = ctx.store.engine
    queued: list[int] = []
    running = jobs.running(engine)
    live = alive(ctx.client, [j.id for j in running])
    for job in running:
        if job.id not in live:
            queued += _take_over(ctx, job, "killed", f"worker {job.worker} lost: no heartbeat for {ctx.lease:g} s")
    for job in jobs.interrupted(engine):
        queued += _take_over(ctx, job, "requeued", f"interrupted on {job.worker}; resumed by another job")
    return queued


def _take_over(ctx: WorkerContext, job: jobs.FleetJob, status: str, why: str) -> list[int]:
    engine = ctx.store.engine
    scan = resumable_scan(ctx.store, job.site) if job.kind in jobs.SCAN_KINDS else None
    attempt = int(job.payload.get("attempt") or 1)
    if status == "killed" and attempt >= ctx.max_attempts:
        why += f"; given up after {attempt} lost workers"
    if not jobs.hand_over(engine, job, status, why, scan.id if scan else job.scan_id):
        return []
    log.warning("job %d (%s:%s): %s", job.id, job.site, job.kind, why)
    if status == "killed" and attempt >= ctx.max_attempts:
        if scan is not None:
            ctx.store.finish_scan(scan.id, "failed", {**(scan.stats or {}), "error": why})
        return []
    if job.kind == "probe":          # the next probe is due within the hour: a lost one is simply not measured
        return []
    data = {**job.payload, "attempt": attempt + 1 if status == "killed" else attempt}
    scan_id: int | None
    if scan is not None:
        kind, scan_id = "resume", scan.id
    elif job.kind == "resume":       # its scan ended meanwhile (or was never there): nothing left to do
        return []
    else:
        kind, scan_id = job.kind, job.scan_id       # lost before its scan began (or a look-back): run it again
    run_id = jobs.queue(engine, job.site, kind, scan_id, data)
    if run_id is None:
        return []
    send(ctx.app, run_id)
    return [run_id]


def _announce(ctx: WorkerContext) -> None:
    """This worker's heartbeat: its host, pid, threads and the jobs it runs now."""
    with ctx.guard:
        active = sorted(ctx.active)
    announce(ctx.client, ctx.name, {"host": socket.gethostname(), "pid": os.getpid(), "threads": ctx.concurrency,
                                    "jobs": active}, ctx.lease)


def _watchdog(ctx: WorkerContext) -> None:
    period = max(0.5, ctx.lease / 2)
    while not ctx.stop.wait(period * random.uniform(0.8, 1.2)):        # workers do not all look at once
        try:
            _announce(ctx)
            watch_once(ctx)
        except Exception:  # noqa: BLE001 - the watchdog must outlive a passing Redis or database error
            log.exception("watchdog round failed; trying again")


# --- the worker process -------------------------------------------------------------------------------------
def serve(db: str, broker: str, *, name: str | None = None, concurrency: int = DEFAULT_THREADS,
          lease: float = DEFAULT_LEASE, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
          visibility_timeout: float = DEFAULT_VISIBILITY, loglevel: str = "INFO") -> int:
    """Run a worker until it is stopped (SIGTERM or Ctrl-C: running scans checkpoint first)."""
    global _context
    store = Store(db)                # schema errors before anything runs
    client = reachable(broker, "worker")
    if store.engine.dialect.name == "sqlite":
        log.warning("worker on an SQLite store (%s): fine on one machine; a fleet shares one PostgreSQL store", db)
    name = name or f"sitewatch@{socket.gethostname()}.{os.getpid()}"
    app = make_app(broker, visibility_timeout, task=_task)
    ctx = WorkerContext(name=name, db=db, broker=broker, store=store, client=client, app=app, lease=lease,
                        max_attempts=max_attempts, concurrency=concurrency)
    from celery.signals import worker_shutting_down

    def on_shutdown(**_: Any) -> None:
        log.info("worker %s stopping: running scans checkpoint", name)
        ctx.stopping()

    worker_shutting_down.connect(on_shutdown, weak=False)
    _context = ctx
    _announce(ctx)
    watchdog = threading.Thread(target=_watchdog, args=(ctx,), name="watchdog", daemon=True)
    watchdog.start()
    code = 0
    try:
        app.worker_main(["worker", "-P", "threads", "-c", str(concurrency), "-n", name, "-Q", QUEUE,
                         "--loglevel", loglevel, "--without-gossip", "--without-mingle"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    finally:
        ctx.stopping()
        watchdog.join(timeout=5)
        client.delete(worker_key(name))
        _context = None
    return code
