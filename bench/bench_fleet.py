#!/usr/bin/env python3
"""A fleet of 25 sites on 1, 2 and 3 workers (issue 19): what a city's round costs in time, CPU, memory, Redis and
PostgreSQL, and whether the per-host budget holds whatever the number of workers.

    python bench/bench_fleet.py [--workers 1 2 3] [--threads 4] [--scale 0.002] [--rate 40] [--concurrency 4]
                                [--repeat 1] [--kind links] [--bucket 5] [--idle 5] [--json OUT.json]

The fleet is tests/fleetsite.py's: 20 path sub-sites ``/<code>/`` of ONE loopback host (as a city portal hosts its
镇街 sites), 5 sites on hosts of their own, and the provincial platform every site links to (a host of its own too).
Each run, for W workers:

* a fresh ``FleetServer`` (in a forked child), a fresh PostgreSQL database in one throwaway cluster (the tests'
  ``PgCluster``: fsync off) and a fresh ``redis-server`` (the tests' ``RedisServer``: no persistence);
* W ``sitewatch worker`` processes (``--threads T``), started and idle until Celery says each is ready; then
  ``--idle`` seconds of idle fleet (the Redis commands an idle worker sends, its CPU);
* the 25 sites' link scans queued as the scheduler queues them (``jobs.queue`` + ``send``; config order: the shared
  host's 20 sites first), each site at ``rate`` requests/s and ``concurrency`` requests at once per host; in a fresh
  database a link scan requests every page and checks every link (the link cache is empty), so its requests are a
  monthly audit's crawl (``--kind monthly`` runs the audits themselves, with their reports);
* the clock stops when no job is ``queued`` or ``running``.

Measured: wall time; pages crawled (sum of the scans' ``pages``) and pages/s; every host's requests from its own
log (arrival times on the system-wide monotonic clock): per-second counts summarised in ``--bucket``-second
buckets, the median per-second count over the host's busy span, the most arrivals in any 1 s window and the most in
flight, against the budget; each worker's CPU seconds (``/proc/<pid>/stat`` utime + stime, split into start-up,
idle and run) and peak RSS (``VmHWM``, read before the worker is stopped); the origin server's CPU; Redis
``INFO commandstats`` and ``total_commands_processed`` (the bench's own INFO calls subtracted), ``used_memory_peak``,
its CPU, and the memory of its keys by kind at the end; PostgreSQL: ``pg_database_size`` after the run and of the
empty schema, rows and total relation size of each table, the most connections to the database seen at once
(sampled every 0.5 s), the cluster's CPU (postmaster and backends, reaped ones included). ``--repeat K`` gives
medians of K runs per W.

The servers are Python's ``http.server`` on the same cores as the workers, Redis and PostgreSQL: on a small machine
the origin competes with the fleet for CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = str(ROOT / "src")
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, SRC)

import redis  # noqa: E402, I001
from conftest import PgCluster, RedisServer, _pg_bindir  # noqa: E402
from fleetsite import DEFAULT_SCALE, FleetServer, max_in_flight, max_in_window, start_worker, stop_workers  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from townsite import TODAY  # noqa: E402

from sitewatch.config import config_from_dict  # noqa: E402
from sitewatch.fleet import jobs  # noqa: E402
from sitewatch.fleet.queue import make_app, send  # noqa: E402
from sitewatch.store import JobRunRow, ScanRow, Store  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
HAVE_BUDGET = (Path(SRC) / "sitewatch" / "fleet" / "budget.py").exists()
TABLES = ("pages", "links", "targets", "list_items", "columns", "findings", "frontier", "scans", "job_runs",
          "cached_targets")


# ---- processes -------------------------------------------------------------------------------------------------

def proc_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds (user + system) of ``pid``; with ``children``, those of its reaped children too."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])            # utime, stime (fields 14 and 15 of stat)
    if children:
        ticks += int(fields[13]) + int(fields[14])       # cutime, cstime
    return ticks / TICK


def proc_hwm_mb(pid: int) -> float:
    """Peak resident set (``VmHWM``) of ``pid`` in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and its live children, plus the children it reaped (a postmaster and its backends)."""
    total = proc_cpu(root, children=True)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == root:                   # ppid
                total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / TICK
        except OSError:                                  # it ended meanwhile (then its parent counts it)
            continue
    return total


def wait_ready(workers: list[subprocess.Popen], work: Path, names: list[str], timeout: float = 90) -> None:
    """Until Celery logs ``<name> ready.`` for every worker (its consumer is on the queue)."""
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending:
        for name in list(pending):
            if re.search(rf"{re.escape(name)} ready\.", (work / f"{name}.log").read_text(errors="replace")):
                pending.discard(name)
        if any(p.poll() is not None for p in workers):
            raise RuntimeError(f"a worker exited before it was ready; see {work}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers {sorted(pending)} not ready after {timeout:g} s; see {work}")
        time.sleep(0.2)


@contextlib.contextmanager
def origin_stderr(path: Path):
    """The forked origin server's stderr to ``path`` (``http.server`` prints every connection a stopping worker
    resets), this process's own stderr back once the server has started."""
    saved = os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)
    restored = False

    def restore() -> None:
        nonlocal restored
        if not restored:
            os.dup2(saved, 2)
            os.close(saved)
            restored = True

    try:
        yield restore
    finally:
        restore()


# ---- Redis -------------------------------------------------------------------------------------------------------

class RedisWatch:
    """INFO readings of the fleet's Redis, with the bench's own commands counted so they can be taken out."""

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url)
        self.own = Counter()           # command -> calls this object made

    def info(self, section: str) -> dict[str, Any]:
        self.own["info"] += 1
        return self.client.info(section)

    def commandstats(self) -> dict[str, dict[str, int]]:
        raw = self.info("commandstats")
        return {k.removeprefix("cmdstat_"): {"calls": int(v["calls"]), "usec": int(v["usec"])} for k, v in raw.items()}

    def snapshot(self) -> dict[str, Any]:
        """Counters at one moment (five INFO calls, counted)."""
        stats, memory, cpu = self.info("stats"), self.info("memory"), self.info("cpu")
        return {"total": int(stats["total_commands_processed"]), "commands": self.commandstats(),
                "cpu": float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
                "cpu_user": float(cpu["used_cpu_user"]),
                "used_memory": int(memory["used_memory"]), "peak": int(memory["used_memory_peak"]),
                "own": dict(self.own), "clients": int(self.info("clients")["connected_clients"])}

    def keys_by_kind(self) -> dict[str, dict[str, int]]:
        """Keys now in Redis grouped by kind (digits and host names folded), with their ``MEMORY USAGE``."""
        out: dict[str, dict[str, int]] = {}
        for key in self.client.scan_iter(count=1000):
            name = key.decode(errors="replace")
            kind = re.sub(r"sitewatch:host:[^:]+://[^:]+(:\d+)?", "sitewatch:host:<host>", name)
            kind = re.sub(r"\d+", "N", kind)
            kind = re.sub(r"sitewatch:(site|worker):.*", r"sitewatch:\1:<name>", kind)
            entry = out.setdefault(kind, {"keys": 0, "bytes": 0})
            entry["keys"] += 1
            entry["bytes"] += int(self.client.memory_usage(key, samples=0) or 0)
        return out


def delta_commands(before: dict[str, Any], after: dict[str, Any]) -> tuple[int, dict[str, int]]:
    """Commands Redis ran for the fleet between two snapshots: the total and per command, the bench's own INFO calls
    out. Redis counts the commands a Lua script calls as commands too (in ``total_commands_processed`` and in
    ``commandstats``), besides the ``EVALSHA`` itself."""
    own = after["own"].get("info", 0) - before["own"].get("info", 0)
    per = {c: v["calls"] - before["commands"].get(c, {}).get("calls", 0) for c, v in after["commands"].items()}
    per["info"] = per.get("info", 0) - own
    per = {c: n for c, n in per.items() if n > 0}
    return after["total"] - before["total"] - own, per


def delta_usec(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """Microseconds Redis spent in each command between two snapshots (a script's include its commands')."""
    out = {c: v["usec"] - before["commands"].get(c, {}).get("usec", 0) for c, v in after["commands"].items()}
    return {c: n for c, n in out.items() if n > 0 and c != "info"}


# ---- PostgreSQL --------------------------------------------------------------------------------------------------

def pg_sizes(store: Store) -> dict[str, Any]:
    with store.engine.connect() as c:
        size = int(c.execute(text("SELECT pg_database_size(current_database())")).scalar())
        tables = {}
        for t in TABLES:
            rows = c.execute(text(f"SELECT count(*) FROM {t}")).scalar()       # noqa: S608 - fixed names
            total = c.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar()
            tables[t] = {"rows": int(rows), "bytes": int(total)}
    return {"db_bytes": size, "tables": tables}


def pg_connections(store: Store) -> int:
    with store.engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"))
                   .scalar()) - 1                           # not this one


def postmaster_pid(cluster: PgCluster) -> int:
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


# ---- the request logs ----------------------------------------------------------------------------------------------

def per_second(records, t0: float) -> Counter:
    return Counter(int(r.mono - t0) for r in records)


def over_concurrency(records, concurrency: int) -> list[float]:
    """For each arrival the host counted beyond ``concurrency`` in flight: how long (ms) until the soonest of the
    other requests open at that moment was logged as answered. The server logs an answer once it is sent, so a
    client may read it, free its slot and send the next request a moment before: a margin of a few ms is that
    race, not a slot taken twice."""
    out = []
    for r in records:
        if r.in_flight > concurrency:
            ends = [o.end for o in records if o is not r and o.mono <= r.mono < o.end]
            if ends:
                out.append(round(1000 * (min(ends) - r.mono), 2))
    return out


def host_summary(records, t0: float, concurrency: int) -> dict[str, Any]:
    """A host's requests: count, busy span, median per-second count over it, max in 1 s, max in flight."""
    if not records:
        return {"requests": 0}
    first, last = records[0].mono - t0, records[-1].mono - t0
    counts = per_second(records, t0)
    busy = [counts.get(s, 0) for s in range(int(first), int(last) + 1)]
    gaps = sorted(b.mono - a.mono for a, b in zip(records, records[1:], strict=False))
    return {"requests": len(records), "first": round(first, 2), "last": round(last, 2),
            "min_gap_ms": round(1000 * gaps[0], 1) if gaps else None,
            "p1_gap_ms": round(1000 * gaps[len(gaps) // 100], 1) if gaps else None,
            "mean_rate": round(len(records) / max(last - first, 1e-9), 2) if len(records) > 1 else None,
            "median_per_s": statistics.median(busy), "max_in_1s": max_in_window(records, 1.0),
            "max_in_flight": max_in_flight(records), "over_concurrency_ms": over_concurrency(records, concurrency),
            "methods": dict(Counter(r.method for r in records)),
            "statuses": dict(Counter(r.status for r in records))}


def buckets(logs: dict[str, list], groups: dict[str, list[str]], t0: float, width: float, end: float
            ) -> list[dict[str, Any]]:
    """Requests/s of each group of hosts in ``width``-second buckets from the start of the run to its end."""
    out = []
    n = int(end // width) + 1
    for b in range(n):
        row: dict[str, Any] = {"t": round(b * width, 1)}
        for label, hosts in groups.items():
            count = sum(1 for h in hosts for r in logs[h] if b * width <= r.mono - t0 < (b + 1) * width)
            row[label] = round(count / width, 1)
        out.append(row)
    return out


# ---- one run -------------------------------------------------------------------------------------------------------

@dataclass
class Run:
    workers: int
    threads: int
    rate: float
    concurrency: int
    kind: str
    wall: float = 0.0
    pages: int = 0
    scans: int = 0
    checked: int = 0
    scan_requests: int = 0          # the scans' own count of their requests
    link_rows_counted: int = 0       # the scans' ``links`` stat
    statuses: dict[str, int] = field(default_factory=dict)
    backoffs: dict[str, int] = field(default_factory=dict)     # host role -> back-offs the scans applied
    budget: bool = False             # was sitewatch.fleet.budget there (the shared per-host budget)?
    jobs_per_worker: dict[str, int] = field(default_factory=dict)
    shared_overlap: int = 0          # the most scans of the shared host running at once on different workers
    scan_seconds: float = 0.0        # the jobs' running times summed (what per-second costs of a scan multiply)
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)     # role -> summary
    series: list[dict[str, Any]] = field(default_factory=list)
    worker_cpu: dict[str, dict[str, float]] = field(default_factory=dict)   # name -> start, idle, run, total
    worker_rss: dict[str, float] = field(default_factory=dict)
    origin_cpu: float = 0.0
    redis: dict[str, Any] = field(default_factory=dict)
    pg: dict[str, Any] = field(default_factory=dict)


def site_table(name: str, start_url: str, rate: float, concurrency: int, adaptive: bool, report_dir: str
               ) -> dict[str, Any]:
    return {"site": {"name": name, "start_urls": [start_url], "as_of": TODAY},
            "politeness": {"rate": rate, "concurrency": concurrency, "adaptive": adaptive, "timeout": 5, "retries": 1},
            "schedule": {"executor": "celery", "report_dir": report_dir}}


def overlapping(rows, host_sites: set[str]) -> int:
    spans = [(r.started_at, r.finished_at, r.worker) for r in rows if r.site in host_sites and r.finished_at]
    return max((len({w for s, e, w in spans if s <= start < e}) for start, _, _ in spans), default=0)


def one_run(args: argparse.Namespace, cluster: PgCluster, redis_bin: str, n_workers: int, k: int) -> Run:
    run = Run(n_workers, args.threads, args.rate, args.concurrency, args.kind, budget=HAVE_BUDGET)
    work = Path(tempfile.mkdtemp(prefix=f"fleetbench_w{n_workers}_r{k}_"))
    rds = RedisServer(redis_bin)
    db = cluster.database()
    store = Store(db)
    empty = pg_sizes(store)["db_bytes"]
    pg_root = postmaster_pid(cluster)
    watch = RedisWatch(rds.url(0))
    workers: list[subprocess.Popen] = []
    names = [f"w{i + 1}" for i in range(n_workers)]
    try:
        with origin_stderr(work / "origin.err") as restore, FleetServer(scale=args.scale) as fleet:
            restore()                               # the server (forked) keeps the file; this process its stderr
            sites = fleet.sites()
            origin = fleet._proc.pid if fleet._proc is not None else os.getpid()
            workers = [start_worker(n, db, rds.url(0), work, threads=args.threads) for n in names]
            wait_ready(workers, work, names)
            cpu_ready = {n: proc_cpu(p.pid) for n, p in zip(names, workers, strict=True)}
            idle0 = watch.snapshot()
            time.sleep(args.idle)
            idle1 = watch.snapshot()
            cpu_idle = {n: proc_cpu(p.pid) for n, p in zip(names, workers, strict=True)}
            idle_total, idle_per = delta_commands(idle0, idle1)
            conn_idle = pg_connections(store)
            fleet.reset_log()
            origin0, pg0, redis0 = proc_cpu(origin), tree_cpu(pg_root), watch.snapshot()
            app = make_app(rds.url(0))
            t0, t0_wall = time.monotonic(), dt.datetime.now()
            for s in sites:
                cfg = config_from_dict(site_table(s.name, s.start_url, args.rate, args.concurrency, args.adaptive,
                                                  str(work / "reports")), f"sites.toml: {s.name}")
                run_id = jobs.queue(store.engine, s.name, args.kind, None, jobs.payload(cfg))
                send(app, run_id)
            deadline, last_probe, samples, redis_clients = t0 + args.timeout, 0.0, [], 0
            while True:
                with store.engine.connect() as c:
                    left = dict(c.execute(select(JobRunRow.c.status, func.count()).where(
                        JobRunRow.c.status.in_(("queued", "running"))).group_by(JobRunRow.c.status)).all())
                if not left:
                    break
                now = time.monotonic()
                if now - last_probe >= 0.5:         # connections to the database and scans running, over time
                    samples.append((round(now - t0, 1), left.get("running", 0), pg_connections(store)))
                    redis_clients = max(redis_clients, int(watch.info("clients")["connected_clients"]))
                    last_probe = now
                if any(p.poll() is not None for p in workers):
                    raise RuntimeError(f"a worker died; see {work}")
                if now > deadline:
                    raise RuntimeError(f"the fleet did not finish within {args.timeout:g} s; see {work}")
                time.sleep(0.25)
            t_end = time.monotonic()
            run.wall = t_end - t0
            redis1 = watch.snapshot()
            origin1, pg1 = proc_cpu(origin), tree_cpu(pg_root)
            for n, p in zip(names, workers, strict=True):
                total = proc_cpu(p.pid)
                run.worker_cpu[n] = {"start": round(cpu_ready[n], 2), "idle": round(cpu_idle[n] - cpu_ready[n], 2),
                                     "run": round(total - cpu_idle[n], 2), "total": round(total, 2)}
                run.worker_rss[n] = round(proc_hwm_mb(p.pid), 1)
            keys = watch.keys_by_kind()
            time.sleep(1.0)                         # the last job's worker has returned its connections
            conn_end = pg_connections(store)
            stop_workers(workers)
            workers = []
            run.origin_cpu = round(origin1 - origin0, 2)
        logs = {h: fleet.log(h) for h in fleet.hosts}
    finally:
        stop_workers(workers)
        rds.stop()

    total, per = delta_commands(redis0, redis1)
    # ---- hosts
    city, own, province = fleet.city, list(fleet.own_hosts), fleet.province
    c = args.concurrency
    run.hosts = {"shared": host_summary(logs[city], t0, c), "province": host_summary(logs[province], t0, c)}
    for i, h in enumerate(own):
        run.hosts[f"own{i + 1}"] = host_summary(logs[h], t0, c)
    requests = sum(len(v) for v in logs.values())
    run.series = buckets(logs, {"shared": [city], "own (5)": own, "province": [province]}, t0, args.bucket,
                         max((r.mono - t0 for v in logs.values() for r in v), default=run.wall))
    # ---- the store
    with store.engine.connect() as c:
        rows = c.execute(select(JobRunRow).order_by(JobRunRow.c.id)).all()
        scans = c.execute(select(ScanRow)).all()
    run.statuses = dict(Counter(r.status for r in rows))
    run.scan_seconds = round(sum((r.finished_at - r.started_at).total_seconds() for r in rows
                                 if r.finished_at and r.started_at), 1)
    run.jobs_per_worker = dict(Counter(r.worker for r in rows))
    run.shared_overlap = overlapping(rows, {s.name for s in sites if s.host == city})
    run.scans = len(scans)
    role = {f"http://{city}": "shared", f"http://{province}": "province",
            **{f"http://{h}": f"own{i + 1}" for i, h in enumerate(own)}}
    for sc in scans:
        st = sc.stats or {}
        for t in st.get("throttle") or []:
            name = role.get(t.get("host"), "other")
            run.backoffs[name] = run.backoffs.get(name, 0) + int(t.get("backoffs") or 0)
        run.pages += int(st.get("pages") or 0)
        run.checked += int(st.get("checked") or 0)
        run.scan_requests += int(st.get("requests") or 0)
        run.link_rows_counted += int(st.get("links") or 0)
    sizes = pg_sizes(store)
    # connections per running scan: before the first job ended (afterwards a finished job's connections stay open
    # until the worker's garbage collector frees its store's engine), and over the whole run
    first_end = min(((r.finished_at - t0_wall).total_seconds() for r in rows if r.finished_at), default=run.wall)
    busy = [(t, n, c) for t, n, c in samples if n]
    early = [(c - conn_idle) / n for t, n, c in busy if t < first_end]
    run.pg = {**sizes, "empty_bytes": empty, "cpu": round(pg1 - pg0, 2), "idle_connections": conn_idle,
              "peak_connections": max((c for _, _, c in samples), default=0), "end_connections": conn_end,
              "max_connections_per_running_scan": round(max(((c - conn_idle) / n for _, n, c in busy), default=0), 2),
              "median_connections_per_running_scan": round(med((c - conn_idle) / n for _, n, c in busy), 2),
              "connections_per_scan_before_first_end": round(med(early), 2) if early else None,
              "first_job_end": round(first_end, 1),
              "connections": samples}
    store.engine.dispose()
    scripts = per.get("evalsha", 0) + per.get("eval", 0)
    run.redis = {"commands": total, "per_command": dict(sorted(per.items(), key=lambda kv: -kv[1])),
                 "scripts": scripts, "scripts_per_request": round(scripts / max(requests, 1), 2),
                 "usec": delta_usec(redis0, redis1),
                 "requests": requests, "per_request": round(total / max(requests, 1), 2),
                 "idle_commands_per_s": round(idle_total / args.idle, 1),
                 "idle_cpu_per_s": round((idle1["cpu"] - idle0["cpu"]) / args.idle, 4),
                 "idle_per_command": dict(sorted(idle_per.items(), key=lambda kv: -kv[1])),
                 "used_memory_peak": redis1["peak"], "used_memory_end": redis1["used_memory"],
                 "baseline_memory": redis0["used_memory"], "cpu": round(redis1["cpu"] - redis0["cpu"], 2),
                 "cpu_user": round(redis1["cpu_user"] - redis0["cpu_user"], 2),
                 "clients_idle": redis0["clients"], "clients_peak": redis_clients, "clients_end": redis1["clients"],
                 "keys": keys}
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return run


# ---- Redis's ceiling on this machine ------------------------------------------------------------------------------

def redis_ceiling(redis_bin: str, n: int = 200_000, clients: int = 50) -> list[dict[str, Any]]:
    """What one Redis core carries here: ``redis-benchmark`` (50 connections, no pipelining) against a fresh
    server, for SET and GET, and for the budget's ``take`` script on its costliest path (a lease taken: the
    request goes), over 300 hosts. Client-side ops/s, and the server's own CPU per op (``INFO cpu``), which the
    client's share of the two cores does not inflate."""
    from sitewatch.fleet.budget import COUNT_TTL, HOSTS_KEY, SCRIPTS, SPACING_MARGIN, STATE_TTL, host_keys

    bench = shutil.which("redis-benchmark")
    if bench is None:
        return []
    rds = RedisServer(redis_bin)
    out = []
    try:
        client = redis.Redis.from_url(rds.url(0))
        sha = client.script_load(SCRIPTS["take"])
        state, leases, starts = host_keys("http://h__rand_int__")
        take = ["evalsha", sha, "4", state, leases, starts, HOSTS_KEY, "0", "0", "1000000", "lease__rand_int__",
                "10", str(SPACING_MARGIN), "http://h__rand_int__", str(STATE_TTL), str(COUNT_TTL), "0"]
        cases = {"SET": ["-t", "set"], "GET": ["-t", "get"], "budget take (go)": take}
        for label, spec in cases.items():
            cpu0 = client.info("cpu")
            cmd0 = int(client.info("stats")["total_commands_processed"])
            started = time.monotonic()
            res = subprocess.run([bench, "-p", str(rds.port), "-n", str(n), "-c", str(clients), "-r", "300", "-q",
                                  "--csv", *spec], capture_output=True, text=True, timeout=600)
            wall = time.monotonic() - started
            cpu1 = client.info("cpu")
            cmd1 = int(client.info("stats")["total_commands_processed"])
            cpu = sum(float(cpu1[k]) - float(cpu0[k]) for k in ("used_cpu_user", "used_cpu_sys"))
            rps = None
            for line in res.stdout.splitlines():
                cells = [c.strip('"') for c in line.split(",")]
                if len(cells) > 1 and cells[0] not in ("test",):
                    try:
                        rps = float(cells[1])
                    except ValueError:
                        continue
            out.append({"case": label, "ops_per_s": rps or round(n / wall), "server_us_per_op": round(1e6 * cpu / n, 1),
                        "commands_per_op": round((cmd1 - cmd0 - 2) / n, 1)})
    finally:
        rds.stop()
    return out


# ---- reporting -----------------------------------------------------------------------------------------------------

def med(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def summary_row(runs: list[Run]) -> dict[str, Any]:
    r0 = runs[0]
    own = [f"own{i}" for i in range(1, 6)]

    def h(role: str, key: str) -> list:
        return [r.hosts.get(role, {}).get(key) for r in runs]

    return {
        "W": r0.workers, "threads": r0.threads, "runs": len(runs),
        "wall": med(r.wall for r in runs), "pages": med(r.pages for r in runs),
        "pages_per_s": med(r.pages / r.wall for r in runs),
        "requests": med(r.redis["requests"] for r in runs),
        "req_per_page": med(r.redis["requests"] / max(r.pages, 1) for r in runs),
        "shared_requests": med(h("shared", "requests")), "shared_span": med(
            (r.hosts["shared"]["last"] - r.hosts["shared"]["first"]) for r in runs),
        "shared_median": med(h("shared", "median_per_s")), "shared_max1s": max(h("shared", "max_in_1s")),
        "shared_inflight": max(h("shared", "max_in_flight")),
        "own_median": med(med(r.hosts[o]["median_per_s"] for o in own) for r in runs),
        "own_max1s": max(max(r.hosts[o]["max_in_1s"] for o in own) for r in runs),
        "own_inflight": max(max(r.hosts[o]["max_in_flight"] for o in own) for r in runs),
        "own_last": med(max(r.hosts[o]["last"] for o in own) for r in runs),
        "province_max1s": max(h("province", "max_in_1s")),
        "cpu": med(sum(c["run"] for c in r.worker_cpu.values()) for r in runs),
        "cpu_total": med(sum(c["total"] for c in r.worker_cpu.values()) for r in runs),
        "cpu_start": med(med(c["start"] for c in r.worker_cpu.values()) for r in runs),
        "cpu_ms_per_page": med(1000 * sum(c["run"] for c in r.worker_cpu.values()) / max(r.pages, 1) for r in runs),
        "rss": med(max(r.worker_rss.values()) for r in runs),
        "origin_cpu": med(r.origin_cpu for r in runs),
        "redis_per_request": med(r.redis["per_request"] for r in runs),
        "redis_commands": med(r.redis["commands"] for r in runs),
        "redis_idle_per_s": med(r.redis["idle_commands_per_s"] for r in runs),
        "redis_peak_mb": med(r.redis["used_memory_peak"] / 2**20 for r in runs),
        "redis_cpu": med(r.redis["cpu"] for r in runs),
        "redis_us_per_request": med(1e6 * max(0.0, r.redis["cpu"] - r.redis["idle_cpu_per_s"] * r.wall)
                                    / max(r.redis["requests"], 1) for r in runs),
        "redis_scripts_per_request": med(r.redis["scripts_per_request"] for r in runs),
        "cpu_ms_per_request": med(1000 * sum(c["run"] for c in r.worker_cpu.values()) / max(r.redis["requests"], 1)
                                  for r in runs),
        "backoffs": [r.backoffs for r in runs],
        "scan_seconds": med(r.scan_seconds for r in runs),
        "redis_clients_per_scan": med((r.redis.get("clients_peak", 0) - r.redis.get("clients_idle", 0))
                                      / (r.workers * r.threads) for r in runs),
        "pg_bytes_per_page": med((r.pg["db_bytes"] - r.pg["empty_bytes"]) / max(r.pages, 1) for r in runs),
        "pg_db_mb": med(r.pg["db_bytes"] / 2**20 for r in runs),
        "pg_conn": max(r.pg["peak_connections"] for r in runs),
        "pg_conn_idle": med(r.pg["idle_connections"] for r in runs),
        "pg_conn_end": med(r.pg["end_connections"] for r in runs),
        "pg_conn_per_scan": med(r.pg["median_connections_per_running_scan"] for r in runs),
        "pg_conn_per_scan_early": med(r.pg["connections_per_scan_before_first_end"] for r in runs),
        "pg_cpu": med(r.pg["cpu"] for r in runs),
        "jobs_per_worker": [dict(sorted(r.jobs_per_worker.items())) for r in runs],
        "shared_overlap": [r.shared_overlap for r in runs],
        "statuses": [r.statuses for r in runs],
    }


def table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def report(args: argparse.Namespace, results: dict[int, list[Run]]) -> str:
    rate, conc = args.rate, args.concurrency
    rows = [summary_row(runs) for _, runs in sorted(results.items())]
    out = [f"## fleet of 25 sites: scale {args.scale}, {args.kind} jobs, rate {rate:g}/s and concurrency {conc} "
           f"per host (adaptive {'on' if args.adaptive else 'off'}), {args.threads} threads per worker, medians of "
           f"{args.repeat} run(s)", "",
           "shared per-host budget (sitewatch.fleet.budget): " + (
               "present" if HAVE_BUDGET else "ABSENT: each scan keeps its own per-host limiter"), ""]
    out.append(table(
        ["W", "wall s", "pages", "pages/s", "shared host req/s median / max in 1 s (budget " f"{rate:g})",
         f"in flight (budget {conc})", "own hosts req/s median / max in 1 s", "own hosts done at s",
         "worker CPU s (run)", "CPU ms/page", "RSS MB (max worker)", "Redis cmds/request", "PG bytes/page"],
        [[r["W"], f"{r['wall']:.1f}", int(r["pages"]), f"{r['pages_per_s']:.1f}",
          f"{r['shared_median']:g} / {r['shared_max1s']}", f"{r['shared_inflight']} / {r['own_inflight']}",
          f"{r['own_median']:g} / {r['own_max1s']}", f"{r['own_last']:.1f}", f"{r['cpu']:.1f}",
          f"{r['cpu_ms_per_page']:.2f}", f"{r['rss']:.0f}", f"{r['redis_per_request']:.2f}",
          f"{r['pg_bytes_per_page']:.0f}"] for r in rows]))
    out += ["", "(in flight: shared host / own hosts, the most at once)", ""]
    out.append(table(
        ["W", "requests", "req/page", "shared host requests", "shared busy s", "province max in 1 s",
         "worker start CPU s", "origin CPU s", "Redis cmds", "Redis idle cmds/s (all workers)",
         "Redis scripts/request", "Redis CPU µs/request (net of idle)", "worker CPU ms/request",
         "Redis peak MB", "Redis CPU s", "PG DB MB", "PG conns idle / peak / after",
         "PG conns per running scan: before the first job ended / whole run",
         "PG CPU s"],
        [[r["W"], int(r["requests"]), f"{r['req_per_page']:.2f}", int(r["shared_requests"]),
          f"{r['shared_span']:.1f}", r["province_max1s"], f"{r['cpu_start']:.2f}", f"{r['origin_cpu']:.1f}",
          int(r["redis_commands"]), f"{r['redis_idle_per_s']:.1f}", f"{r['redis_scripts_per_request']:.2f}",
          f"{r['redis_us_per_request']:.0f}", f"{r['cpu_ms_per_request']:.2f}", f"{r['redis_peak_mb']:.2f}",
          f"{r['redis_cpu']:.2f}", f"{r['pg_db_mb']:.1f}",
          f"{r['pg_conn_idle']:g} / {r['pg_conn']} / {r['pg_conn_end']:g}",
          f"{r['pg_conn_per_scan_early']:.2f} / {r['pg_conn_per_scan']:.1f}", f"{r['pg_cpu']:.1f}"] for r in rows]))
    out += ["", "Scan-seconds (the jobs' running times summed) and Redis connections per running scan (peak less "
            "idle, over workers × threads): " + "; ".join(
                f"W={r['W']} {r['scan_seconds']:.0f} s, {r['redis_clients_per_scan']:.1f}" for r in rows)]
    out += ["", "Jobs per worker, most shared-host scans at once on different workers, job statuses, back-offs "
            "(adaptive politeness) per host:"]
    for r in rows:
        out.append(f"- W={r['W']}: {r['jobs_per_worker']}; overlap {r['shared_overlap']}; {r['statuses']}; "
                   f"back-offs {r['backoffs']}")
    # the last run of each W in detail
    for w, runs in sorted(results.items()):
        last = runs[-1]
        out += ["", f"### W={w} (last run): requests/s per {args.bucket:g} s bucket", ""]
        groups = [k for k in last.series[0] if k != "t"] if last.series else []
        out.append(table(["t s", *groups], [[row["t"], *(row[g] for g in groups)] for row in last.series]))
        out += ["", "Hosts:", ""]
        out.append(table(["host", "requests", "first s", "last s", "mean req/s", "median/s", "max in 1 s",
                          "max in flight", "min / 1st pct gap ms", "GET/HEAD"],
                         [[role, s.get("requests"), s.get("first"), s.get("last"), s.get("mean_rate"),
                           s.get("median_per_s"), s.get("max_in_1s"), s.get("max_in_flight"),
                           f"{s.get('min_gap_ms')} / {s.get('p1_gap_ms')}",
                           f"{s.get('methods', {}).get('GET', 0)}/{s.get('methods', {}).get('HEAD', 0)}"]
                          for role, s in last.hosts.items()]))
        over = {role: s["over_concurrency_ms"] for role, s in last.hosts.items() if s.get("over_concurrency_ms")}
        if over:
            out += ["", "Arrivals over the concurrency budget, ms until another open request was logged answered: "
                    + "; ".join(f"{role} {v}" for role, v in over.items())]
        out += ["", "Redis commands (run, top 12): " + ", ".join(
            f"{c} {n}" for c, n in list(last.redis["per_command"].items())[:12])]
        out.append("Redis µs in commands (run, top 8): " + ", ".join(
            f"{c} {n}" for c, n in sorted(last.redis["usec"].items(), key=lambda kv: -kv[1])[:8]))
        out.append("Redis commands (idle, per s): " + ", ".join(
            f"{c} {n / args.idle:.1f}" for c, n in last.redis["idle_per_command"].items()))
        out.append("Redis keys at the end: " + ", ".join(
            f"{k} x{v['keys']} ({v['bytes'] / max(v['keys'], 1):.0f} B each)"
            for k, v in sorted(last.redis["keys"].items())))
        t = last.pg["tables"]
        out.append("PostgreSQL rows (bytes/row incl. indexes): " + ", ".join(
            f"{name} {v['rows']} ({v['bytes'] / max(v['rows'], 1):.0f})" for name, v in t.items() if v["rows"]))
        n = max(last.pages, 1)
        out.append(f"PostgreSQL per page: pages {t['pages']['rows'] / n:.2f}, links {t['links']['rows'] / n:.1f}, "
                   f"targets {t['targets']['rows'] / n:.2f}, list_items {t['list_items']['rows'] / n:.2f} rows; "
                   f"DB {last.pg['db_bytes'] / 2**20:.1f} MB, empty schema {last.pg['empty_bytes'] / 2**20:.1f} MB")
        out.append("Worker CPU s: " + ", ".join(f"{n} {c}" for n, c in last.worker_cpu.items())
                   + "; peak RSS MB: " + ", ".join(f"{n} {v}" for n, v in last.worker_rss.items()))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--threads", type=int, default=4, help="threads per worker (scans at once)")
    ap.add_argument("--scale", type=float, default=DEFAULT_SCALE, help="site size (0.002: ~108-123 pages a site)")
    ap.add_argument("--rate", type=float, default=40, help="requests/s per host (every site's politeness rate)")
    ap.add_argument("--concurrency", type=int, default=4, help="requests at once per host")
    ap.add_argument("--adaptive", action=argparse.BooleanOptionalAction, default=True,
                    help="[politeness] adaptive (the default): back off on 429/503/timeouts")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--kind", choices=("links", "monthly"), default="links")
    ap.add_argument("--bucket", type=float, default=5.0, help="seconds per bucket of the request time series")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds of idle fleet measured before the jobs")
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--redis-ceiling", action="store_true",
                    help="also measure what one Redis carries here (redis-benchmark: SET, GET, the budget's script)")
    ap.add_argument("--json", default=None, help="also write every run's numbers here")
    ap.add_argument("--keep", action="store_true", help="keep the workers' logs")
    args = ap.parse_args(argv)
    bindir, redis_bin = _pg_bindir(), shutil.which("redis-server")
    if bindir is None or redis_bin is None:
        print("needs the PostgreSQL server binaries (initdb, pg_ctl) and redis-server", file=sys.stderr)
        return 2
    cluster = PgCluster(bindir)
    results: dict[int, list[Run]] = defaultdict(list)
    started = dt.datetime.now()
    try:
        for k in range(args.repeat):
            for w in args.workers:          # W alternate within each repetition: the machine's drift spreads out
                run = one_run(args, cluster, redis_bin, w, k)
                results[w].append(run)
                print(f"W={w} run {k + 1}: {run.wall:.1f} s, {run.pages} pages, "
                      f"shared host max {run.hosts['shared']['max_in_1s']} in 1 s, statuses {run.statuses}",
                      file=sys.stderr, flush=True)
    finally:
        cluster.stop()
    print(report(args, results))
    ceiling = redis_ceiling(redis_bin) if args.redis_ceiling else []
    if ceiling:
        print("\n### What one Redis carries on this machine (redis-benchmark, 50 connections, 300 hosts)\n")
        print(table(["operation", "ops/s", "Redis CPU µs/op", "commands/op (inside the script)"],
                    [[c["case"], f"{c['ops_per_s']:.0f}", c["server_us_per_op"], c["commands_per_op"]]
                     for c in ceiling]))
    print(f"\n(started {started:%Y-%m-%d %H:%M}, load average now {os.getloadavg()[0]:.1f})")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "runs": {
            w: [asdict(r) for r in runs] for w, runs in results.items()}, "redis_ceiling": ceiling}, indent=1,
            default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
