import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "sitewatch.db")


def scan_site(start_url, db_path, *, as_of=dt.date(2026, 11, 26), **overrides):
    """Run a real scan (fast politeness for loopback) and return (result, store)."""
    from sitewatch.config import SiteConfig
    from sitewatch.scan import run_scan
    from sitewatch.store import Store

    cfg = SiteConfig(name="test", start_urls=[start_url] if isinstance(start_url, str) else list(start_url),
                     rate=0, concurrency=8, timeout=2, retries=1)
    for k, v in overrides.items():
        setattr(cfg, k, v)
    store = Store(db_path)
    return run_scan(cfg, store, as_of=as_of), store
