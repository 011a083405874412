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
