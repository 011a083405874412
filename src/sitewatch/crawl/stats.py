"""The counts of one crawl run, kept by the frontier, the reader and the recorder, reported by the scan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CrawlStats:
    pages: int = 0                 # HTML pages fetched and parsed
    checked: int = 0               # URLs checked (pages included)
    cached: int = 0                # of those, results taken from the link cache without a request (crawl/linkcache.py)
    reused: int = 0                # of the pages, those not read again: unchanged since the last scan (pagecache.py)
    links: int = 0                 # link occurrences recorded
    broken: int = 0                # broken URLs
    skipped_robots: int = 0
    traps: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    seconds: float = 0.0
    limited: bool = False          # max_pages reached
    hook_errors: int = 0           # pages a list engine or page check could not read
    rendered: int = 0              # pages re-rendered in Chromium ([crawl] render_js, crawl/render.py)
    render_failed: int = 0         # pages whose rendering failed or timed out (their static HTML was used)
    throttle: list[dict[str, Any]] = field(default_factory=list)   # the hosts' politeness (Politeness.report)
    coverage: dict[str, Any] = field(default_factory=dict)   # every cut of the work, by kind (crawl/coverage.py)
    bytes_received: int = 0        # body bytes over the wire (before content decoding)
    conditional: dict[str, Any] = field(default_factory=dict)   # conditional requests (PageCache.report)

    def to_json(self) -> dict[str, Any]:
        d = dict(vars(self))
        d["pages_per_second"] = round(self.pages / self.seconds, 1) if self.seconds else None
        return d

    def trap(self, kind: str) -> None:
        """Count one URL (or page) a crawler trap of ``kind`` kept from the crawl."""
        self.traps[kind] = self.traps.get(kind, 0) + 1
