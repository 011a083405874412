#!/usr/bin/env python3
"""Rescans at the cost of what changed (issue 17): what an unchanged rescan and a rescan after 5% of the pages
changed cost against the first scan, on a loopback portal of more than 5,000 pages, with the findings compared.

    python bench/bench_rescan.py [--site town demo] [--repeat 3] [--changed 0.05] [--demo-scale 25]
                                 [--query-variants 1000] [--town-scale 1]

Two sites, each served on loopback from this process (the town site from a forked child):

* ``town``: the test suite's independent town site (tests/townsite.py, 5,381 pages at 1x), served like nginx in
  front of a TRS portal: static pages and files carry ``ETag``/``Last-Modified`` and answer a matching conditional
  GET with 304; the 404 page, redirects, the soft-404 page and the WAF's transient failures carry none.
  ``TownServer.change`` edits a fraction of the pages (a paragraph added, a new modification time).
* ``demo``: sitewatch's demo portal, ``build_portal(scale=25)`` (5,048 pages reachable from the start page), whose
  static routes carry validators too; the change swaps in ``build_portal(scale=25, changed=0.05, seed=...)``.

Each run uses a fresh database and the same server (same port, so the same site name and URLs) for:

* A: the first scan;
* B: an unchanged rescan with the link cache (default 7 days);
* C: an unchanged rescan with ``--link-cache-days 0`` (every external link and attachment requested again);
* then 5% of the pages change; D: the rescan as the monthly audit runs it (``--link-cache-days 0``: every page
  asked; the weekly scan, with the link cache, does not ask an article measured within the cache's age unless a
  finding names it, so an article edited in place is seen within the age, not at once);
* E: a full scan of the changed site into a fresh database, whose findings D must equal.

Every ``sitewatch scan`` runs as a child process through bench_linkchecker's launcher (``os.wait4``: CPU = user +
system seconds of the scan process, its peak RSS, wall time), with politeness lifted for loopback
(``--rate 0 --concurrency 8``). Before each scan the server is reset (the town site's server process is restarted,
the demo server's per-route state cleared), so that each scan meets the planted transient failures anew, and its
own counts (requests, 304s, body and header bytes sent) are read after it. With ``--repeat K`` the table gives
medians of the K runs, and ratios are medians of each run's ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from bench_linkchecker import measure  # noqa: E402, I001

SCANS = {
    "A": "first scan",
    "B": "unchanged rescan, link cache 7 days",
    "C": "unchanged rescan, --link-cache-days 0",
    "D": "rescan after the change (monthly audit: --link-cache-days 0)",
    "E": "full scan of the changed site, fresh DB",
}


@dataclass
class Scan:
    label: str
    wall: float
    cpu: float
    rss_mb: float
    rc: int
    scan_id: int
    requests: int               # sitewatch's scan.requests
    bytes_received: int         # sitewatch's scan.bytes_received (body bytes over the wire)
    pages: int
    reused: int
    conditional: dict[str, Any]
    findings: list[dict[str, Any]]
    server: dict[str, int]      # the servers' own counts: requests, not_modified, body_bytes, header_bytes


@dataclass
class Run:
    site: str
    scans: dict[str, Scan] = field(default_factory=dict)
    planted: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)


# ---- the sites ---------------------------------------------------------------------------------------------------

class TownTarget:
    """The town site (tests/townsite.py) in a forked server process."""

    name = "town"

    def __init__(self, scale: float, timeout: float) -> None:
        import townsite

        self.as_of = townsite.TODAY.isoformat()
        self.timeout = timeout
        self.srv = townsite.TownServer(scale=scale)
        self.srv.site.warm()                  # 304s answered from the files' lengths, as nginx does from stat()
        self.srv.__enter__()
        self.start_url = self.srv.start_url
        self.pages = len(self.srv.site.expected_pages())

    def describe(self) -> str:
        return f"town site {self.start_url}: {self.pages} pages in scope"

    def args(self, work: Path) -> list[str]:
        return [self.start_url]

    def before_scan(self) -> None:
        self.srv.site.warm()
        self.srv.restart()
        self.srv.reset_counts()

    def server_counts(self) -> dict[str, int]:
        counts = self.srv.counts()
        return {k: counts["city"][k] + counts["province"][k] for k in counts["city"]}

    def change(self, fraction: float, seed: int) -> list[str]:
        return self.srv.site.change(fraction, seed)     # served from the next restart on

    def close(self) -> None:
        self.srv.__exit__(None, None, None)


class DemoTarget:
    """The demo portal served from threads of this process, its answers counted."""

    name = "demo"

    def __init__(self, scale: int, seed: int, query_variants: int = 1000) -> None:
        import sitewatch.demo.server as demo_server
        from sitewatch.demo import build_portal

        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        _counting_handler(demo_server).bench = self
        self.scale, self.seed, self.query_variants = scale, seed, query_variants
        self.build = build_portal
        self.portal = build_portal(scale=scale)
        self.server = demo_server.serve_portal(self.portal)
        self.start_url = self.server.start_url
        self.as_of = str(self.server.expected.get("as_of", "2026-11-26"))
        self.timeout = float(self.server.expected.get("scan_timeout", 2))

    def describe(self) -> str:
        from bench_linkchecker import reachable_pages

        n = reachable_pages(self.portal, self.portal.expected["prefix"])
        return f"demo portal scale {self.scale} {self.start_url}: {n} pages reachable from the start page"

    def args(self, work: Path) -> list[str]:
        """A site config: the demo's name, prefix and unit (as `sitewatch demo` scans it), and the calendar trap's
        query-variant bound lifted (the variants admitted under the bound depend on the crawl order; 0: the default
        bound)."""
        cfg = work / "demo.toml"
        exp = self.server.expected
        cfg.write_text(f'[site]\nname = "{exp.get("site_name", "西区办事处")}"\nstart_urls = ["{self.start_url}"]\n'
                       f'unit = "党政办"\n\n[scope]\nprefixes = ["{exp.get("prefix", "/xqbsc/")}"]\n\n'
                       + (f"[crawl]\nmax_query_variants = {self.query_variants}\n" if self.query_variants else ""),
                       encoding="utf-8")
        return ["--config", str(cfg)]

    def before_scan(self) -> None:
        self.server.reset()
        with self.lock:
            self.counts.clear()

    def server_counts(self) -> dict[str, int]:
        with self.lock:
            return {k: self.counts[k] for k in ("requests", "not_modified", "body_bytes", "header_bytes")}

    def change(self, fraction: float, seed: int) -> list[str]:
        self.server.portal = self.build(scale=self.scale, changed=fraction, seed=seed)
        return [self.server.base_url + p for p in self.server.portal.changed]

    def close(self) -> None:
        self.server.stop()


def _counting_handler(demo_server: Any) -> Any:
    """The demo server's handler class, replaced (once) by one that counts what it sends for the current target."""
    if getattr(demo_server._Handler, "bench", False) is not False:
        return demo_server._Handler

    class Counting(demo_server._Handler):  # type: ignore[name-defined,misc]
        bench: DemoTarget | None = None

        def flush_headers(self) -> None:
            n = sum(len(b) for b in getattr(self, "_headers_buffer", ()))
            if self.bench is not None:
                with self.bench.lock:
                    self.bench.counts["header_bytes"] += n
            super().flush_headers()

        def _send(self, status: int, headers: dict[str, str], body: bytes, head: bool) -> None:
            if self.bench is not None:
                with self.bench.lock:
                    c = self.bench.counts
                    c["requests"] += 1
                    c["not_modified"] += status == 304
                    c["body_bytes"] += 0 if head or status == 304 else len(body)
            super()._send(status, headers, body, head)

    demo_server._Handler = Counting       # _Server looks the handler class up when it is created
    return Counting


# ---- one scan, one run -------------------------------------------------------------------------------------------

def scan(target: TownTarget | DemoTarget, label: str, db: Path, work: Path, extra: list[str],
         concurrency: int) -> Scan:
    out = work / f"{label}.json"
    argv = [sys.executable, "-m", "sitewatch", "scan", *target.args(work), "--db", str(db), "--json", str(out),
            "--as-of", target.as_of, "--rate", "0", "--concurrency", str(concurrency),
            "--timeout", str(target.timeout), "--quiet", *extra]
    target.before_scan()
    wall, rss, cpu, rc = measure(argv, work / f"{label}.out", str(work))
    if not out.exists():
        raise SystemExit(f"scan {label} wrote no findings (exit {rc}); see {work / (label + '.out')}")
    doc = json.loads(out.read_text(encoding="utf-8"))
    s = doc["scan"]
    return Scan(label, wall, cpu, rss, rc, s["id"], s["requests"], s["bytes_received"], s["pages"], s["reused"],
                s.get("conditional") or {}, doc["findings"], target.server_counts())


def _finding_key(f: dict[str, Any]) -> str:
    return json.dumps(f, ensure_ascii=False, sort_keys=True)


def same_findings(a: Scan, b: Scan) -> tuple[bool, str]:
    """Whether two scans' findings lists are equal; else a short account of the difference."""
    if a.findings == b.findings:
        return True, f"{len(a.findings)} findings, identical"
    ca, cb = Counter(map(_finding_key, a.findings)), Counter(map(_finding_key, b.findings))
    only_a, only_b = ca - cb, cb - ca
    if not only_a and not only_b:
        return True, f"{len(a.findings)} findings, identical as a multiset (order differs)"
    lines = [f"{sum(only_a.values())} only in {a.label}, {sum(only_b.values())} only in {b.label}"]
    lines += [f"    {a.label}: {k[:300]}" for k in list(only_a)[:4]]
    lines += [f"    {b.label}: {k[:300]}" for k in list(only_b)[:4]]
    return False, "\n".join(lines)


def _pages(db: Path, scan_id: int) -> dict[str, str | None]:
    with sqlite3.connect(db) as c:
        return dict(c.execute("select url, reused from pages where scan_id = ?", (scan_id,)).fetchall())


def planted_check(db: Path, scan_id: int, full_db: Path, full_id: int, planted: list[str]) -> dict[str, Any]:
    """Of the planted changed URLs: how many are pages of the site (crawled by the full scan ``full_id``), how many
    of those scan ``scan_id`` crawled (must be all), and how many of those it reused instead of reading (must be 0).
    A changed page that no link reaches (the demo's hidden Hanweb articles) is crawled by neither."""
    reused, full = _pages(db, scan_id), _pages(full_db, full_id)
    pages = [u for u in planted if u in full]
    crawled = [u for u in pages if u in reused]
    wrongly = [u for u in crawled if reused[u] is not None]
    return {"planted": len(planted), "pages": len(pages), "crawled": len(crawled), "reused": len(wrongly),
            "not_crawled": sorted(set(pages) - set(crawled))[:5], "reused_examples": wrongly[:5]}


def one_run(target: TownTarget | DemoTarget, fraction: float, seed: int, concurrency: int) -> Run:
    run = Run(target.name)
    with tempfile.TemporaryDirectory(prefix="bench-rescan-") as tmp:
        work = Path(tmp)
        db = work / "sw.db"
        for label, extra in (("A", []), ("B", []), ("C", ["--link-cache-days", "0"])):
            run.scans[label] = scan(target, label, db, work, extra, concurrency)
            report(run.scans[label])
        run.planted = target.change(fraction, seed)
        print(f"    changed {len(run.planted)} page URLs ({fraction:.0%} of the changeable files, seed {seed})",
              flush=True)
        run.scans["D"] = scan(target, "D", db, work, ["--link-cache-days", "0"], concurrency)
        report(run.scans["D"])
        run.scans["E"] = scan(target, "E", work / "full.db", work, [], concurrency)
        report(run.scans["E"])
        sc = run.scans
        run.checks["B=A"] = same_findings(sc["A"], sc["B"])
        run.checks["C=A"] = same_findings(sc["A"], sc["C"])
        run.checks["D=E"] = same_findings(sc["E"], sc["D"])
        run.checks["planted"] = planted_check(db, sc["D"].scan_id, work / "full.db", sc["E"].scan_id, run.planted)
        for k in ("B=A", "C=A", "D=E"):
            print(f"    findings {k}: {run.checks[k][1]}", flush=True)
        p = run.checks["planted"]
        print(f"    D: {p['crawled']} of the {p['pages']} planted URLs that are pages of the site (E crawled them; "
              f"{p['planted']} planted) crawled, {p['reused']} of them reused "
              f"(must be 0){' e.g. ' + str(p['reused_examples']) if p['reused'] else ''}"
              f"{' not crawled e.g. ' + str(p['not_crawled']) if p['not_crawled'] else ''}", flush=True)
    return run


def report(s: Scan) -> None:
    c = s.conditional
    print(f"    {s.label} ({SCANS[s.label]}): rc={s.rc} {s.wall:.1f} s, {s.cpu:.2f} CPU s, {s.rss_mb:.0f} MB, "
          f"{s.requests} requests (server {s.server['requests']}, 304: {s.server['not_modified']}), "
          f"{s.bytes_received / 1e6:.2f} MB (server body {s.server['body_bytes'] / 1e6:.2f} MB, headers "
          f"{s.server['header_bytes'] / 1e6:.2f} MB), {s.pages} pages, {s.reused} reused, canaries "
          f"{c.get('canaries', 0)}, changed {c.get('changed', 0)}, stored {c.get('stored', 0)}, sent {c.get('sent', 0)}"
          f"{', off: ' + c['off'] if c.get('off') else ''}", flush=True)


# ---- the summary -------------------------------------------------------------------------------------------------

def med(values: list[float]) -> float:
    return statistics.median(values)


def summary(runs: list[Run]) -> None:
    k = len(runs)
    site = runs[0].site
    print(f"\n{site}: medians of {k} run{'s' if k > 1 else ''}\n")
    print("| scan | requests (sitewatch / server) | 304s | MB received (sitewatch / server body) | CPU s | wall s "
          "| peak RSS MB | pages | reused | canaries |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label in SCANS:
        ss = [r.scans[label] for r in runs]
        print(f"| {label}: {SCANS[label]} | {med([s.requests for s in ss]):.0f} / "
              f"{med([s.server['requests'] for s in ss]):.0f} | {med([s.server['not_modified'] for s in ss]):.0f} | "
              f"{med([s.bytes_received / 1e6 for s in ss]):.2f} / {med([s.server['body_bytes'] / 1e6 for s in ss]):.2f}"
              f" | {med([s.cpu for s in ss]):.2f} | {med([s.wall for s in ss]):.1f} | {med([s.rss_mb for s in ss]):.0f}"
              f" | {med([s.pages for s in ss]):.0f} | {med([s.reused for s in ss]):.0f} | "
              f"{med([s.conditional.get('canaries', 0) for s in ss]):.0f} |")
    print()
    for label, limit in (("B", (0.20, 0.20, 0.30)), ("C", (0.20, 0.20, None)), ("D", (None, None, None))):
        def ratio(attr: str, label: str = label) -> float:
            return med([getattr(r.scans[label], attr) / getattr(r.scans["A"], attr) for r in runs])

        def srv_ratio(key: str, label: str = label) -> float:
            return med([r.scans[label].server[key] / r.scans["A"].server[key] for r in runs])

        b, cpu, req = ratio("bytes_received"), ratio("cpu"), ratio("requests")
        full = med([(r.scans[label].server["requests"] - r.scans[label].server["not_modified"])
                    / r.scans["A"].server["requests"] for r in runs])
        verdict = ""
        if limit[0] is not None:
            marks = [f"bytes {'ok' if b <= limit[0] else 'NOT MET'} (<= {limit[0]:.0%})",
                     f"CPU {'ok' if cpu <= limit[1] else 'NOT MET'} (<= {limit[1]:.0%})"]
            if limit[2] is not None:
                marks.append(f"requests {'ok' if req <= limit[2] else 'NOT MET'} (<= {limit[2]:.0%})")
            verdict = "; " + ", ".join(marks)
        print(f"{label}/A: bytes {b:.1%} (server body {srv_ratio('body_bytes'):.1%}), CPU {cpu:.1%}, "
              f"requests {req:.1%} (server {srv_ratio('requests'):.1%}; answered in full, not 304: {full:.1%}), "
              f"wall {ratio('wall'):.1%}{verdict}")
    for key in ("B=A", "C=A", "D=E"):
        ok = sum(r.checks[key][0] for r in runs)
        print(f"findings {key}: identical in {ok} of {k} runs")
    crawled = [r.checks["planted"] for r in runs]
    each = ", ".join(f"{p['crawled']} of {p['pages']} crawled ({p['planted']} planted), {p['reused']} reused"
                     for p in crawled)
    good = sum(p["reused"] == 0 and p["crawled"] == p["pages"] for p in crawled)
    print(f"D read every planted change: {good} of {k} runs ({each})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", nargs="+", choices=("town", "demo"), default=["town"])
    ap.add_argument("--repeat", type=int, default=1, help="runs per site (medians reported)")
    ap.add_argument("--changed", type=float, default=0.05, help="fraction of the pages changed before scan D")
    ap.add_argument("--seed", type=int, default=1, help="seed of the change; run k uses seed + k")
    ap.add_argument("--town-scale", type=float, default=1.0, help="the town site's big columns x this (1: 5,381 pages)")
    ap.add_argument("--demo-scale", type=int, default=25, help="demo portal scale (25: 5,048 reachable pages)")
    ap.add_argument("--query-variants", type=int, default=1000,
                    help="demo: [crawl] max_query_variants (0: the default bound, 50)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=5.0, help="town site: seconds before a request fails")
    args = ap.parse_args(argv)
    print(f"{os.cpu_count()} CPUs; {args.repeat} run(s) per site; change {args.changed:.0%}", flush=True)
    ok = True
    for name in args.site:
        runs: list[Run] = []
        for k in range(args.repeat):
            # a fresh server per run: the change of the run before is gone
            target: TownTarget | DemoTarget = (TownTarget(args.town_scale, args.timeout) if name == "town"
                                               else DemoTarget(args.demo_scale, args.seed + k, args.query_variants))
            try:
                if k == 0:
                    print(target.describe(), flush=True)
                print(f"  run {k + 1}:", flush=True)
                runs.append(one_run(target, args.changed, args.seed + k, args.concurrency))
            finally:
                target.close()
        summary(runs)
        ok = ok and all(r.checks[c][0] for r in runs for c in ("B=A", "C=A", "D=E")) and all(
            r.checks["planted"]["reused"] == 0 and r.checks["planted"]["crawled"] == r.checks["planted"]["pages"]
            for r in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
