"""A whole 镇街 site of ~50,000 pages crawled with default crawl flags: pages crawled = pages there, time, memory.

    python bench/bench_scale.py [--scale 10] [--runs 1]

The site is the test suite's independent town site (tests/townsite.py) with every paginated column's document
count multiplied by ``--scale`` and its publishing interval divided by it (10: ~53,000 pages; 工作动态 is a
2,000-page 下一页 chain). Politeness is lifted for loopback (``--rate 0 --concurrency 8``); every other flag is the
default. Peak RSS is the scan process's ``ru_maxrss`` read by a small launcher process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import townsite  # noqa: E402, I001  (the test site lives with the tests)
from bench_linkchecker import measure  # noqa: E402, I001



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    # more documents in every paginated column, published as much more often (the dates span the same years)
    townsite.COLUMNS[:] = [c if c[3] == "none" else (*c[:5], c[5] * args.scale, c[6], c[7] / args.scale, c[8])
                           for c in townsite.COLUMNS]
    rows = []
    with townsite.TownServer() as srv:
        expected = srv.site.expected_pages()
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "f.json")
                argv = [sys.executable, "-m", "sitewatch", "scan", srv.start_url, "--db", os.path.join(tmp, "sw.db"),
                        "--json", out, "--as-of", townsite.TODAY.isoformat(), "--rate", "0", "--concurrency", "8",
                        "--timeout", "10", "--quiet"]
                wall, rss_mb, _cpu, _rc = measure(argv, Path(tmp) / "scan.out", tmp)
                scan = json.load(open(out, encoding="utf-8"))["scan"]
                rows.append((wall, rss_mb, scan["pages"], scan["coverage"]))
    print(f"site: {len(expected)} pages in scope (scale {args.scale})")
    for wall, rss, pages, cov in rows:
        print(f"  crawled {pages} pages in {wall:.1f} s ({pages / wall:.0f} pages/s), peak RSS {rss:.0f} MB, "
              f"coverage complete: {cov['complete']} {cov['cuts'] or ''}")
    if len(rows) > 1:
        print(f"  median wall {statistics.median(r[0] for r in rows):.1f} s, "
              f"median RSS {statistics.median(r[1] for r in rows):.0f} MB")


if __name__ == "__main__":
    main()
