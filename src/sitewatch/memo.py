"""Memo tables of the crawl's hot paths (URL resolution, date chunks, hosts), dropped when a crawl ends so that
the check phase reuses their memory instead of adding to the peak."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

_TABLES: list = []


def memo(maxsize: int = 1024) -> Callable:
    """``functools.lru_cache(maxsize)``, registered for :func:`clear`."""
    def wrap(fn):
        cached = lru_cache(maxsize=maxsize)(fn)
        _TABLES.append(cached)
        return cached
    return wrap


def clear() -> None:
    """Empty every memo table."""
    for table in _TABLES:
        table.cache_clear()
