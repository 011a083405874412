"""Fleet jobs in the store (``job_runs``): queued by the scheduler, claimed by one worker, finished by it, or found
dead by another worker's watchdog.

A row's life: ``queued`` (the scheduler inserted it and sent its id to the broker) → ``running`` (one worker
claimed it: a conditional update, so a redelivered message can never run the job twice) → ``ok`` / ``failed`` /
``skipped`` / ``interrupted`` (the worker stopped; the scan checkpointed) / ``down`` (a probe). A worker that dies
leaves ``running``: a watchdog marks it ``killed`` (again a conditional update: one watchdog wins) and queues a
``resume`` job for the site's unfinished scan; an ``interrupted`` row becomes ``requeued`` the same way.

The payload is the site's config table as the TOML file gave it (``SiteConfig.raw``, dates tagged), so a worker on
any machine rebuilds the same ``SiteConfig`` without reading the scheduler's files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.engine import Engine

from sitewatch.config import SiteConfig, config_from_dict
from sitewatch.store import JobRunRow

SCAN_KINDS = ("links", "monthly", "resume")       # jobs that run a crawl (a look-back re-checks a few URLs)
_TAGS = {"$date": dt.date.fromisoformat, "$datetime": dt.datetime.fromisoformat, "$time": dt.time.fromisoformat}


@dataclass(frozen=True)
class FleetJob:
    """One row of ``job_runs`` as a worker needs it."""

    id: int
    site: str
    kind: str
    scan_id: int | None
    status: str
    worker: str | None
    payload: dict[str, Any]


def encode(value: Any) -> Any:
    """A TOML value as JSON: dates, date-times and times tagged (``{"$date": "2026-11-26"}``)."""
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    return value


def decode(value: Any) -> Any:
    """``encode`` reversed."""
    if isinstance(value, dict):
        if len(value) == 1:
            tag, text = next(iter(value.items()))
            if tag in _TAGS and isinstance(text, str):
                return _TAGS[tag](text)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def payload(cfg: SiteConfig, attempt: int = 1) -> dict[str, Any]:
    """What a worker needs to rebuild ``cfg``; ``attempt`` counts the workers the job was given to."""
    return {"source": cfg.source, "table": encode(cfg.raw), "attempt": attempt}


def site_config(data: dict[str, Any]) -> SiteConfig:
    """The ``SiteConfig`` of a job's payload (validated again: a payload is input)."""
    return config_from_dict(decode(data.get("table") or {}), str(data.get("source") or "<fleet job>"))


def queue(engine: Engine, site: str, kind: str, scan_id: int | None, data: dict[str, Any]) -> int | None:
    """A ``queued`` row for ``site:kind``: a new one, or the one already waiting (its message is sent again: a
    broker that lost it, e.g. restarted without persistence, gets it back, and a duplicate is a no-op). None when
    the same job is running (a probe due every 30 minutes does not pile up behind a slow one)."""
    job_id = f"{site}:{kind}"
    now = dt.datetime.now()
    with engine.begin() as c:
        busy = c.execute(select(JobRunRow.c.id, JobRunRow.c.status).where(
            JobRunRow.c.job_id == job_id, JobRunRow.c.status.in_(("queued", "running")))
            .order_by(JobRunRow.c.id)).all()
        if any(status == "running" for _, status in busy):
            return None
        if busy:
            return int(busy[0][0])
        pk = c.execute(insert(JobRunRow).values(
            job_id=job_id, site=site, kind=kind, scan_id=scan_id, started_at=now, queued_at=now, status="queued",
            detail="", payload=data)).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def claim(engine: Engine, run_id: int, worker: str) -> FleetJob | None:
    """Take a queued job for ``worker``; None when it is not queued (a redelivered message, a job that another
    worker claimed or that a watchdog handed over)."""
    with engine.begin() as c:
        done = c.execute(update(JobRunRow).where(JobRunRow.c.id == run_id, JobRunRow.c.status == "queued").values(
            status="running", worker=worker, started_at=dt.datetime.now())).rowcount
        if not done:
            return None
        row = c.execute(select(JobRunRow).where(JobRunRow.c.id == run_id)).one()
    return FleetJob(row.id, row.site, row.kind, row.scan_id, row.status, row.worker, row.payload or {})


def status(engine: Engine, run_id: int) -> str | None:
    with engine.connect() as c:
        value: str | None = c.execute(select(JobRunRow.c.status).where(JobRunRow.c.id == run_id)).scalar()
    return value


def finish(engine: Engine, run_id: int, status: str, detail: str, scan_id: int | None) -> None:
    """Record how a running job ended (never over a watchdog's verdict: a job declared dead stays so)."""
    with engine.begin() as c:
        c.execute(update(JobRunRow).where(JobRunRow.c.id == run_id, JobRunRow.c.status == "running").values(
            status=status, detail=detail[:2000], scan_id=scan_id, finished_at=dt.datetime.now()))


def running(engine: Engine) -> list[FleetJob]:
    """Jobs some worker claimed and has not finished."""
    return _select(engine, JobRunRow.c.status == "running", JobRunRow.c.worker.is_not(None))


def interrupted(engine: Engine) -> list[FleetJob]:
    """Scan jobs a stopping worker interrupted (their scans checkpointed) that nobody took over yet."""
    return _select(engine, JobRunRow.c.status == "interrupted", JobRunRow.c.worker.is_not(None),
                   JobRunRow.c.kind.in_(SCAN_KINDS))


def _select(engine: Engine, *where: Any) -> list[FleetJob]:
    with engine.connect() as c:
        rows = c.execute(select(JobRunRow).where(and_(*where)).order_by(JobRunRow.c.id)).all()
    return [FleetJob(r.id, r.site, r.kind, r.scan_id, r.status, r.worker, r.payload or {}) for r in rows]


def hand_over(engine: Engine, job: FleetJob, status: str, detail: str, scan_id: int | None) -> bool:
    """Mark a dead (``killed``) or interrupted (``requeued``) job as taken over; False when another watchdog, or
    the job's own worker, changed the row first."""
    with engine.begin() as c:
        return bool(c.execute(update(JobRunRow).where(JobRunRow.c.id == job.id, JobRunRow.c.status == job.status)
                              .values(status=status, detail=detail[:2000], scan_id=scan_id,
                                      finished_at=dt.datetime.now())).rowcount)


def per_worker(engine: Engine, since: dt.datetime) -> dict[str, dict[str, int]]:
    """Job counts by worker and status since ``since`` (queued jobs under ``""``: no worker yet)."""
    with engine.connect() as c:
        rows = c.execute(select(JobRunRow.c.worker, JobRunRow.c.status, func.count())
                         .where((JobRunRow.c.started_at >= since) | JobRunRow.c.status.in_(("queued", "running")),
                                JobRunRow.c.queued_at.is_not(None))
                         .group_by(JobRunRow.c.worker, JobRunRow.c.status)).all()
    out: dict[str, dict[str, int]] = {}
    for worker, state, n in rows:
        out.setdefault(worker or "", {})[state] = int(n)
    return out
