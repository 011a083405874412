"""Default crawl settings, shared by the site config (``config.py``) and the HTTP stack (``crawl/``).

A module of plain values, so that reading a config never imports the HTTP stack.
"""

from __future__ import annotations

from sitewatch import __version__

DEFAULT_TIMEOUT = 15.0         # seconds; the national availability rule counts a page not loaded in 15 s as down
DEFAULT_RETRIES = 2            # extra attempts after a transient failure (5xx, connection reset, timeout once)
DEFAULT_USER_AGENT = f"Mozilla/5.0 (compatible; sitewatch/{__version__}; government website self-check)"
DEFAULT_CONCURRENCY = 4        # simultaneous requests per host
DEFAULT_RATE = 4.0             # requests per second per host (0 = unlimited)

# Adaptive politeness (crawl/politeness.py's HostLimiter and fleet/budget.py's shared limiter use the same numbers)
MAX_CRAWL_DELAY = 10.0         # a robots.txt Crawl-delay above this is capped
BACKOFF_START = 0.5            # seconds: the first back-off of a host without a rate cap (rate 0) waits this long
MAX_ADAPTIVE_DELAY = 8.0       # seconds: back-offs double the interval up to this (a Crawl-delay may be longer)
RECOVERY_STEP = 0.25           # requests/s given back to a backed-off host per clean, fast answer
MIN_ADAPTIVE_DELAY = 0.01      # seconds: a recovering host without a rate cap is unlimited again below this
