"""One scan in an OS process of its own, as a fleet worker runs it, for tests/test_fleet_budget.py.

    python tests/fleetscan.py '{"url": ..., "db": ..., "rate": 4, "concurrency": 2, "budget": "redis://...",
                                "robots": true, "timeout": 5, "trace": "/path/trace.json", "wait": true}'

With ``wait``, prints "ready" once imported and starts the scan when a line comes on standard input.
Prints one JSON line: {"ok": true, "pages": …, "throttle": […]} or {"ok": false, "error": "…"} (exit code 1).
With ``trace``, writes [url, reserved start (Redis clock, epoch seconds), sent (time.time())] per request of the
shared budget, so that a test can tell how late after its reserved start a request reached the server.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from typing import Any


def main() -> int:
    args: dict[str, Any] = json.loads(sys.argv[1])
    from sitewatch.config import SiteConfig
    from sitewatch.errors import SitewatchError
    from sitewatch.scan import run_scan
    from sitewatch.store import Store

    trace: list[tuple[str, float, float]] = []
    if args.get("trace"):
        from sitewatch.crawl.fetch import Fetcher
        from sitewatch.urls import host_key

        request = Fetcher._request

        async def traced(self: Fetcher, url: str, *a: Any, **kw: Any) -> Any:
            # runs right after the host's slot was entered, before any other coroutine (no await in between)
            reserved = getattr(self.politeness.limiter(host_key(url)), "_last_start", 0.0)
            trace.append((url, reserved, time.time()))
            return await request(self, url, *a, **kw)

        Fetcher._request = traced  # type: ignore[method-assign]

    cfg = SiteConfig(name=args.get("name", "fleet"), start_urls=[args["url"]], rate=args["rate"],
                     concurrency=args["concurrency"], timeout=args.get("timeout", 5), retries=args.get("retries", 1),
                     obey_robots=args.get("robots", True), shared_budget=args.get("budget"))
    if args.get("wait"):            # started with others: all begin together when the test writes a line
        print("ready", flush=True)
        sys.stdin.readline()
    try:
        result = run_scan(cfg, Store(args["db"]), as_of=dt.date(2026, 11, 26))
        out: dict[str, Any] = {"ok": True, "pages": result.stats.pages, "requests": result.stats.requests,
                               "throttle": result.stats.throttle}
        code = 0
    except SitewatchError as exc:
        out, code = {"ok": False, "error": str(exc)}, 1
    if args.get("trace"):
        with open(args["trace"], "w") as f:
            json.dump(trace, f)
    print(json.dumps(out), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
