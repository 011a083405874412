"""What a site check reads: the stored scan, its site config, the monitoring day and the rule set.

Site checks (``registry.site_check``) run over the store after the crawl. Data several checks need (the columns
and their items) is loaded once per scan through ``cached``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sitewatch.config import SiteConfig
from sitewatch.packs import RuleSet
from sitewatch.store import PageRow, Store

T = TypeVar("T")


@dataclass
class SiteData:
    """One stored scan seen by the site checks."""

    store: Store
    scan_id: int
    cfg: SiteConfig
    as_of: dt.date
    ruleset: RuleSet
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def site_url(self) -> str:
        """The first start URL: the target of site-wide findings."""
        return self.cfg.start_urls[0]

    @property
    def pinned(self) -> dict[str, str]:
        """Column names the site config pins to a category."""
        return {name: c.category for name, c in self.cfg.columns.items() if c.category}

    @property
    def pages(self) -> int:
        """Pages the crawl stored (none: nothing was looked for)."""
        return self.cached("pages", lambda: self.store.count(PageRow, self.scan_id))

    def cached(self, key: str, load: Callable[[], T]) -> T:
        """``load()`` once per scan under ``key``."""
        if key not in self._cache:
            self._cache[key] = load()
        return cast("T", self._cache[key])
