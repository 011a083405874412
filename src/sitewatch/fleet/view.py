"""The fleet in view: workers, jobs per worker, queue depth and per-host budget use, for ``sitewatch status`` and
for operators as Prometheus text (``sitewatch metrics``, e.g. into node_exporter's textfile collector).

Read from the store (job rows, scans: what happened) and from Redis (live workers, the broker's queue, the per-host
request counters the shared politeness budget keeps: what happens now). Host names come from crawled links:
untrusted text, escaped in every label."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sitewatch.fleet import jobs
from sitewatch.fleet.budget import host_usage
from sitewatch.fleet.leases import connect, workers
from sitewatch.safetext import safe_text
from sitewatch.store import JobRunRow, ScanRow

RECENT = dt.timedelta(hours=24)          # job counts cover this long
BUDGET_WINDOW = 60                       # seconds: a host's request rate is averaged over this


@dataclass
class HostUse:
    host: str
    rate: float            # requests/s over the window
    in_flight: int
    delay: float           # the host's shared back-off interval (0: never backed off)
    crawl_delay: float     # robots.txt's Crawl-delay (0: none)
    paused_for: float      # seconds left of a Retry-After pause


@dataclass
class FleetView:
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)     # alive workers (their heartbeat)
    jobs: dict[str, dict[str, int]] = field(default_factory=dict)        # worker -> status -> count (recent)
    queued: int = 0                                                      # job rows waiting for a worker
    broker_queue: int | None = None                                      # messages on the broker's queue
    hosts: list[HostUse] = field(default_factory=list)
    scans: list[tuple[str, str, float]] = field(default_factory=list)    # site, kind, seconds of its latest scan
    failures: dict[tuple[str, str], int] = field(default_factory=dict)   # (site, kind) -> failed/killed (recent)


def fleet_view(engine: Engine, broker: str | None, now: dt.datetime | None = None) -> FleetView:
    """What the store and (when ``broker`` names the fleet's Redis) Redis say about the fleet now."""
    now = now or dt.datetime.now()
    view = FleetView(jobs=jobs.per_worker(engine, now - RECENT))
    with engine.connect() as c:
        view.queued = int(c.execute(select(func.count()).select_from(JobRunRow)
                                    .where(JobRunRow.c.status == "queued")).scalar_one())
        for site, kind, n in c.execute(
                select(JobRunRow.c.site, JobRunRow.c.kind, func.count())
                .where(JobRunRow.c.status.in_(("failed", "killed")), JobRunRow.c.started_at >= now - RECENT)
                .group_by(JobRunRow.c.site, JobRunRow.c.kind)):
            view.failures[(site, kind)] = int(n)
        latest = select(ScanRow.c.site, ScanRow.c.kind, func.max(ScanRow.c.id).label("id")).where(
            ScanRow.c.status == "completed").group_by(ScanRow.c.site, ScanRow.c.kind).subquery()
        for site, kind, started, finished in c.execute(
                select(ScanRow.c.site, ScanRow.c.kind, ScanRow.c.started_at, ScanRow.c.finished_at)
                .join(latest, ScanRow.c.id == latest.c.id).order_by(ScanRow.c.site, ScanRow.c.kind)):
            if started and finished:
                view.scans.append((site, kind, max(0.0, (finished - started).total_seconds())))
    if broker is not None:
        from sitewatch.fleet.queue import QUEUE

        client = connect(broker)
        try:
            view.workers = workers(client)
            view.broker_queue = int(client.llen(QUEUE))
        finally:
            client.close()
        view.hosts = host_use(broker)
    return view


def host_use(broker: str) -> list[HostUse]:
    """Per-host requests/s, requests in flight and learned state, busiest first, from the shared budget."""
    out = [HostUse(u.host, u.requests / u.window_s, u.in_flight, u.delay, u.crawl_delay, u.paused_for)
           for u in host_usage(broker, BUDGET_WINDOW)]
    return sorted(out, key=lambda h: (-h.rate, -h.in_flight, h.host))


def status_lines(view: FleetView, top: int = 10) -> list[str]:
    """The fleet section of ``sitewatch status``."""
    lines = [f"fleet: {len(view.workers)} worker(s) alive, {view.queued} job(s) queued"
             + (f" ({view.broker_queue} message(s) on the broker)" if view.broker_queue is not None else "")]
    names = sorted(set(view.workers) | {w for w in view.jobs if w})
    for name in names:
        info = view.workers.get(name)
        counts = view.jobs.get(name, {})
        state = (f"alive on {info.get('host')} (pid {info.get('pid')}), running job(s) "
                 f"{', '.join(map(str, info.get('jobs') or [])) or 'none'}") if info else "not seen (stopped or lost)"
        lines.append(f"  worker {name}: {state}; last 24 h: "
                     + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no jobs"))
    for (site, kind), n in sorted(view.failures.items()):
        lines.append(f"  failed or lost in the last 24 h: {site}:{kind} x{n}")
    if view.hosts:
        lines.append(f"  host budget use (last {BUDGET_WINDOW} s):")
        lines += [f"    {h.host:<40} {h.rate:6.2f} requests/s, {h.in_flight} in flight" + _learned(h)
                  for h in view.hosts[:top]]
    return lines


def _learned(h: HostUse) -> str:
    parts = [f"backed off to {h.delay:g} s" if h.delay else "", f"Crawl-delay {h.crawl_delay:g} s" if h.crawl_delay
             else "", f"paused {h.paused_for:.0f} s more" if h.paused_for else ""]
    return "".join(f"; {p}" for p in parts if p)


def _label(value: str) -> str:
    """A Prometheus label value: control and bidi characters spelled out (``safetext``), then backslash and quote
    escaped as the text format wants."""
    return safe_text(str(value)).replace("\\", "\\\\").replace('"', '\\"')


def _num(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else "NaN"


def metrics_text(view: FleetView) -> str:
    """The Prometheus text exposition (format 0.0.4) of ``view``."""
    out: list[str] = []

    def family(name: str, kind: str, helptext: str, samples: list[tuple[dict[str, str], float]]) -> None:
        out.append(f"# HELP {name} {helptext}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            out.append(f"{name}{{{inner}}} {_num(value)}" if inner else f"{name} {_num(value)}")

    family("sitewatch_workers_alive", "gauge", "Workers whose heartbeat is alive.", [({}, len(view.workers))])
    family("sitewatch_queue_depth", "gauge", "Jobs queued and not yet claimed by a worker.", [({}, view.queued)])
    if view.broker_queue is not None:
        family("sitewatch_broker_queue_length", "gauge", "Messages waiting on the broker's queue.",
               [({}, view.broker_queue)])
    family("sitewatch_jobs", "gauge", "Jobs by worker and status, last 24 hours (queued: no worker yet).",
           [({"worker": w or "-", "status": s}, n) for w, counts in sorted(view.jobs.items())
            for s, n in sorted(counts.items())])
    family("sitewatch_job_failures", "gauge", "Jobs failed or lost with their worker, last 24 hours.",
           [({"site": s, "kind": k}, n) for (s, k), n in sorted(view.failures.items())])
    family("sitewatch_host_requests_per_second", "gauge",
           f"Requests per second to each host by the whole fleet, over the last {BUDGET_WINDOW} s.",
           [({"host": h.host}, h.rate) for h in view.hosts])
    family("sitewatch_host_in_flight", "gauge", "Requests in flight to each host across the fleet.",
           [({"host": h.host}, h.in_flight) for h in view.hosts])
    family("sitewatch_host_delay_seconds", "gauge", "Each host's shared back-off interval (0: not backed off).",
           [({"host": h.host}, h.delay) for h in view.hosts])
    family("sitewatch_scan_duration_seconds", "gauge", "Duration of each site's latest completed scan by kind.",
           [({"site": s, "kind": k}, sec) for s, k, sec in view.scans])
    return "\n".join(out) + "\n"
