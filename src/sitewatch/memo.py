"""Memo tables of the crawl's hot paths (URL resolution, date chunks, hosts), dropped when a crawl ends so that
the check phase reuses their memory instead of adding to the peak."""

from __future__ import annotations

from collections.abc import Callable
from functools import _lru_cache_wrapper, lru_cache
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

_TABLES: list[_lru_cache_wrapper[Any]] = []


def memo(maxsize: int = 1024) -> Callable[[F], F]:
    """``functools.lru_cache(maxsize)``, registered for :func:`clear`; the memoised function keeps its signature."""
    def wrap(fn: F) -> F:
        cached = lru_cache(maxsize=maxsize)(fn)
        _TABLES.append(cached)
        return cast(F, cached)
    return wrap


def clear() -> None:
    """Empty every memo table."""
    for table in _TABLES:
        table.cache_clear()
