#!/usr/bin/env python3
"""Speed and memory: sitewatch vs LinkChecker crawling the same ~3,000-page loopback portal.

The site is sitewatch's demo portal (``sitewatch.demo.build_portal(scale=15)``: a TRS-style 镇街 portal with
nav + footer on every page, paginated column lists, articles, attachments, planted broken links, a slow page and
four crawler traps), served by ``sitewatch.demo.server.serve_portal`` (a threaded ``http.server`` on 127.0.0.1)
with one addition: every response carries a ``LinkChecker`` header, the documented way to let LinkChecker exceed
its 10 requests/s per-host cap (``maxrequestspersecond`` in its config file only takes effect above 10 for hosts
sending that header).

Each tool runs as a child process with the same number of simultaneous requests N:

* sitewatch: ``sitewatch scan URL --rate 0 --concurrency N --timeout 2 --db TMP --json TMP --quiet``, each run in a
  fresh database (in the store of the run before, the scan would be a rescan that reuses unchanged pages)
* LinkChecker: ``linkchecker -f RC -t N -r -1 --check-extern --timeout 2 --no-status -v -o csv/utf-8 URL > TMP``
  with ``RC`` = ``[checking] maxrequestspersecond=1000000`` and ``--no-follow-url`` for the demo's four trap
  patterns (LinkChecker has no trap guard and would crawl them forever; it still checks each trap entry).

Wall time, peak RSS and CPU seconds (user + system) come from ``os.wait4`` in a small launcher process (the
child's ``ru_maxrss`` and ``ru_utime + ru_stime``): Linux carries the resident size of a process before its exec
into ``ru_maxrss``, so a tool started straight from this script, which holds the portal and its server, would be
charged this script's ~80 MB. pages/s = the site's HTML pages reachable from the start page / wall
time (both tools crawl the same pages; each tool's own count of checked URLs is printed too). The broken URLs each
tool reports are compared at the end. With ``--repeat K`` each N is run K times, the two tools alternating, and the
table gives medians: on a shared VM the CPU speed drifts by 20-30% within minutes, so one pair of runs can
flatter either tool.

Both tools run from byte-compiled modules, as ``pip install`` leaves them: the script first compiles the sitewatch
package it imports (a source tree run with ``PYTHONDONTWRITEBYTECODE`` set would otherwise compile its ~60 modules
on every scan: ~0.2 CPU s and ~1 MB of peak memory that an installed sitewatch does not spend).

LinkChecker must be installed in a venv built on the system Python (as root it drops to user ``nobody``, who must be
able to read its interpreter): ``/usr/bin/python3 -m venv VENV && VENV/bin/pip install linkchecker``, then pass
``--linkchecker VENV/bin/linkchecker``.

Usage:
``python bench/bench_linkchecker.py --linkchecker VENV/bin/linkchecker --threads 10 32 [--scale 15] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit


@dataclass
class Run:
    tool: str
    threads: int
    wall: float
    max_rss_mb: float
    cpu: float              # user + system seconds of the child
    checked: int            # URLs the tool reports as checked
    broken: set[str]
    rc: int
    why: dict[str, str] | None = None     # sitewatch: broken URL -> reason
    finals: dict[str, str] | None = None  # sitewatch: broken URL -> final URL of its redirect chain


def serve(scale: int):
    """Build and serve the demo portal; every answer carries a ``LinkChecker`` header."""
    import sitewatch.demo.server as demo_server
    from sitewatch.demo import build_portal

    class Handler(demo_server._Handler):
        def end_headers(self) -> None:
            self.send_header("LinkChecker", "bench")
            super().end_headers()

    demo_server._Handler = Handler          # _Server looks the handler class up when it is created
    portal = build_portal(scale=scale)
    return portal, demo_server.serve_portal(portal)


def reachable_pages(portal, start_path: str) -> int:
    """HTML pages of the site linked (transitively) from the start page, traps and robots-disallowed excluded."""
    import re

    from sitewatch.extract import parse_html

    traps = [re.compile(t["pattern"]) for t in portal.expected["traps"]]
    disallowed = tuple(p for p in portal.expected["robots_disallowed"])
    prefix = portal.expected["prefix"]
    seen, todo, pages = {start_path}, [start_path], 0
    while todo:
        path = todo.pop()
        route = portal.resolve(path)
        if route is None or route.status != 200 or not route.content_type.startswith("text/html"):
            continue
        pages += 1
        for link in parse_html(route.body.decode("utf-8", "replace"), "http://h" + path).links:
            p = urlsplit(link.url)
            if p.netloc != "h" or p.query:
                continue
            q = unquote(p.path)
            if q in seen or not q.startswith(prefix) or q.startswith(disallowed) or any(t.match(q) for t in traps):
                continue
            seen.add(q)
            todo.append(q)
    return pages


def compile_sitewatch() -> Path:
    """Byte-compile the sitewatch package this Python imports (the one the runs import), as pip does."""
    import compileall

    import sitewatch

    package = Path(sitewatch.__file__).parent
    compileall.compile_dir(str(package), quiet=1)
    return package


def median_run(runs: list[Run]) -> Run:
    """The run of median wall time, with the median CPU seconds and the largest peak RSS of all runs."""
    ordered = sorted(runs, key=lambda r: r.wall)
    mid = ordered[(len(ordered) - 1) // 2]
    return Run(mid.tool, mid.threads, statistics.median(r.wall for r in runs), max(r.max_rss_mb for r in runs),
               statistics.median(r.cpu for r in runs), mid.checked, mid.broken, mid.rc, mid.why, mid.finals)


# Runs the tool as its own child and reports what wait4 says of it. Linux counts in a process's ru_maxrss the
# resident size of the memory it had before exec, i.e. of the process that forked it: measured straight from this
# script, whose demo portal and server grow to ~80 MB, every tool would seem to peak at least that high.
_LAUNCHER = """
import os, subprocess, sys, time
started = time.monotonic()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{time.monotonic() - started} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measure(cmd: list[str], stdout_path: Path, cwd: str) -> tuple[float, float, float, int]:
    """Run ``cmd`` through a small launcher; return (wall seconds, peak RSS MB, CPU seconds, exit code)."""
    report = stdout_path.with_suffix(".usage")
    with open(stdout_path, "wb") as out:
        proc = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, str(report), *cmd], stdout=out,
                              stderr=subprocess.DEVNULL, cwd=cwd)
    wall, rss_kb, cpu = report.read_text().split()
    return float(wall), int(rss_kb) / 1024, float(cpu), proc.returncode


def norm(url: str) -> str:
    return unquote(url.split("#", 1)[0])


def run_sitewatch(start: str, threads: int, work: Path, sitewatch: str) -> Run:
    db, js = work / f"sw-{threads}.db", work / f"sw-{threads}.json"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"), js):
        stale.unlink(missing_ok=True)   # a first scan each time: in the last run's store it would be a rescan
    cmd = [sitewatch, "scan", start, "--rate", "0", "--concurrency", str(threads), "--timeout", "2",
           "--db", str(db), "--json", str(js), "--quiet"]
    wall, rss, cpu, rc = measure(cmd, work / f"sw-{threads}.out", str(work))
    doc = json.loads(js.read_text(encoding="utf-8"))
    broken: set[str] = set()
    why: dict[str, str] = {}
    finals: dict[str, str] = {}
    for f in doc["findings"]:
        if f["rule"] != "link.broken":
            continue
        ev = f.get("evidence", {})
        reason = ev.get("error") or f"HTTP {ev.get('status')}"
        u = norm(f["url"])
        broken.add(u)
        why[u] = reason
        if ev.get("final_url"):
            why[u] += " via redirect"
            finals[u] = norm(ev["final_url"])
    return Run("sitewatch", threads, wall, rss, cpu, doc["scan"]["checked"], broken, rc, why, finals)


def run_linkchecker(start: str, threads: int, work: Path, linkchecker: str, no_follow: list[str]) -> Run:
    rc_file = work / "linkcheckerrc"
    rc_file.write_text("[checking]\nmaxrequestspersecond=1000000\n", encoding="utf-8")
    rc_file.chmod(0o644)
    cmd = [linkchecker, "-f", str(rc_file), "-t", str(threads), "-r", "-1", "--check-extern", "--timeout", "2",
           "--no-status", "-v", "-o", "csv/utf-8"]
    for pattern in no_follow:
        cmd += ["--no-follow-url", pattern]
    out = work / f"lc-{threads}.csv"
    # cwd: a directory user nobody can enter (LinkChecker drops root privileges to nobody)
    wall, rss, cpu, rc = measure(cmd + [start], out, tempfile.gettempdir())
    rows = [line for line in out.read_text(encoding="utf-8", errors="replace").splitlines()
            if line and not line.startswith("# ")]
    checked: set[str] = set()
    broken: set[str] = set()
    for r in csv.DictReader(io.StringIO("\n".join(rows)), delimiter=";"):
        url = norm(r.get("url") or r.get("urlname") or "")
        checked.add(url)
        if r.get("valid") == "False":
            broken.add(url)
    return Run("LinkChecker", threads, wall, rss, cpu, len(checked), broken, rc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--linkchecker", default=shutil.which("linkchecker") or "linkchecker",
                    help="LinkChecker executable (in a venv on the system Python)")
    ap.add_argument("--sitewatch", default=str(Path(sys.executable).with_name("sitewatch")),
                    help="sitewatch executable (default: next to this Python)")
    ap.add_argument("--threads", type=int, nargs="+", default=[10, 32], help="simultaneous requests N")
    ap.add_argument("--scale", type=int, default=15, help="demo portal scale (15 = ~3,000 pages)")
    ap.add_argument("--skip-linkchecker", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool and N, alternating; medians reported")
    args = ap.parse_args(argv)

    print(f"sitewatch byte-compiled: {compile_sitewatch()}", flush=True)
    portal, server = serve(args.scale)
    work = Path(tempfile.mkdtemp(prefix="bench-lc-"))
    work.chmod(0o755)
    try:
        start = server.start_url
        pages = reachable_pages(portal, portal.expected["prefix"])
        # the trap patterns are anchored path regexes; LinkChecker matches --no-follow-url against the whole URL
        no_follow = [t["pattern"].lstrip("^") for t in portal.expected["traps"]]
        print(f"site: {start}  {len(portal.html_paths())} HTML routes, {pages} pages reachable from the start page; "
              f"{os.cpu_count()} CPUs", flush=True)
        runs: list[tuple[Run, Run | None]] = []
        for n in args.threads:
            sws: list[Run] = []
            lcs: list[Run] = []
            for k in range(args.repeat):
                sws.append(run_sitewatch(start, n, work, args.sitewatch))
                sw = sws[-1]
                print(f"  sitewatch   N={n} #{k + 1}: {sw.wall:.1f} s, {sw.cpu:.1f} CPU s, {sw.max_rss_mb:.0f} MB, "
                      f"rc={sw.rc}", flush=True)
                server.reset()
                if not args.skip_linkchecker:
                    lcs.append(run_linkchecker(start, n, work, args.linkchecker, no_follow))
                    lc = lcs[-1]
                    print(f"  LinkChecker N={n} #{k + 1}: {lc.wall:.1f} s, {lc.cpu:.1f} CPU s, {lc.max_rss_mb:.0f} MB, "
                          f"rc={lc.rc}", flush=True)
                    server.reset()
            runs.append((median_run(sws), median_run(lcs) if lcs else None))

        print()
        what = f"median of {args.repeat} runs" if args.repeat > 1 else "one run"
        print(f"| N  | tool        | wall s | pages/s | CPU s | URLs checked | peak RSS MB | broken URLs |  ({what})")
        print("|----|-------------|-------:|--------:|------:|-------------:|------------:|------------:|")
        for sw, lc in runs:
            for r in (sw, lc):
                if r is not None:
                    print(f"| {r.threads:<2} | {r.tool:<11} | {r.wall:6.1f} | {pages / r.wall:7.1f} | {r.cpu:5.1f} | "
                          f"{r.checked:12d} | {r.max_rss_mb:11.0f} | {len(r.broken):11d} |")
        print()
        for sw, lc in runs:
            if lc is None:
                continue
            print(f"N={sw.threads}: sitewatch / LinkChecker pages/s = {lc.wall / sw.wall:.1f}x, "
                  f"CPU per page = {sw.cpu / lc.cpu:.2f}x, peak RSS = {sw.max_rss_mb / lc.max_rss_mb:.2f}x")
            # LinkChecker reports a redirect chain under its final URL, sitewatch under the link as written
            finals = sw.finals or {}
            both = {u for u in sw.broken if u in lc.broken or finals.get(u) in lc.broken}
            lc_only = lc.broken - sw.broken - {finals[u] for u in both if u in finals}
            print(f"  broken URLs: sitewatch {len(sw.broken)}, LinkChecker {len(lc.broken)}, both {len(both)}")
            for u in sorted(sw.broken - both)[:20]:
                print(f"    only sitewatch:   {u}  [{(sw.why or {}).get(u, '')}]")
            for u in sorted(lc_only)[:20]:
                print(f"    only LinkChecker: {u}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
