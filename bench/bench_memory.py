"""Peak memory of a scan against hostile pages, each served on 127.0.0.1 (issue: memory bounded by the caps).

    python bench/bench_memory.py [--runs 3] [--cases links_200k body_80mb gzip_bomb bombs_64]

Each case runs ``sitewatch scan`` through bench_linkchecker's launcher: peak RSS is the scan's ``ru_maxrss`` read
by ``os.wait4`` (so it excludes this process, which serves the pages), wall time from the launcher. Prints one row
per case: median, min and max over the runs, and what the scan's coverage ledger recorded (the caps must show up
there, never silently).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench_linkchecker import measure

MB = 1024 * 1024
_BOMB = gzip.compress(b"<html><body>" + b"A" * (400 * MB) + b"</body></html>", compresslevel=9)


def links_page(n: int) -> bytes:
    return ("<html><head><title>links</title></head><body>"
            + "".join(f'<a href="/s/x{i}.html">{i}</a>' for i in range(n)) + "</body></html>").encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    case = ""

    def log_message(self, *a):
        pass

    def do_GET(self):
        path = self.path
        headers = {"Content-Type": "text/html; charset=utf-8"}
        if path == "/s/":
            if self.case == "links_200k":
                body = links_page(200_000)
            elif self.case == "body_80mb":
                body = b"<html><head><title>big</title></head><body>" + b"<p>abc</p>" * (8 * MB) + b"</body></html>"
            elif self.case == "bombs_64":
                body = ("<html><body>" + "".join(f'<a href="/s/b{i}.html">{i}</a>' for i in range(64))
                        + "</body></html>").encode()
            else:
                body, headers["Content-Encoding"] = _BOMB, "gzip"
        elif path.startswith("/s/b"):
            body, headers["Content-Encoding"] = _BOMB, "gzip"
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


def run_case(case: str) -> tuple[float, float, dict]:
    handler = type("H", (Handler,), {"case": case})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/s/"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "f.json")
        argv = [sys.executable, "-m", "sitewatch", "scan", url, "--db", os.path.join(tmp, "sw.db"), "--json", out,
                "--rate", "0", "--concurrency", "16", "--timeout", "30", "--quiet"]
        # through bench_linkchecker's launcher: a child's ru_maxrss counts the memory it had before exec, and this
        # process holds the bomb
        wall, rss_mb, _cpu, _rc = measure(argv, Path(tmp) / "scan.out", tmp)
        cov = json.load(open(out, encoding="utf-8"))["scan"]["coverage"] if os.path.exists(out) else {}
    server.shutdown()
    server.server_close()
    return wall, rss_mb, {k: v["count"] for k, v in (cov.get("cuts") or {}).items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cases", nargs="+", default=["links_200k", "body_80mb", "gzip_bomb", "bombs_64"])
    args = ap.parse_args()
    print("| case | wall s (median) | peak RSS MB (median, min-max) | coverage cuts |")
    print("|---|---:|---:|---|")
    for case in args.cases:
        runs = [run_case(case) for _ in range(args.runs)]
        rss = [r[1] for r in runs]
        print(f"| {case} | {statistics.median(r[0] for r in runs):.1f} | {statistics.median(rss):.0f} "
              f"({min(rss):.0f}-{max(rss):.0f}) | {runs[-1][2]} |", flush=True)


if __name__ == "__main__":
    main()
