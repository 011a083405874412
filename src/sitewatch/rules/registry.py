"""The check registry: every check registered once, under the rule ids its findings carry.

A check declares, beside its code, when it runs and which rules it implements:

- ``@page_check(ids…)`` on a ``PageCheck`` class: one instance per scan, fed each crawled page during the crawl
  (small facts per page, never bodies), asked for its findings at the end (``rules._page.PageChecks``);
- ``@site_check(ids…)`` on a function of ``SiteData``: run over the store after the crawl (``scan.run_checks``);
- ``@probe_check(ids…)`` on a function: run over the probe log after a monthly scan (the scheduler).

``reads`` names rule-id prefixes of pack entries the check reads as data without producing findings under
their ids (``misstatement.`` entries are the dictionary of ``security.misstatement``). The consistency test
(tests/test_rules.py) holds the packs and the registry together: every enabled pack rule is produced or read by
a registered check, every produced id has a pack rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

PAGE = "page"        # per crawled page, during the crawl
SITE = "site"        # over the store, after the crawl
PROBES = "probes"    # over the availability probe log, after a monthly scan
STAGES = (PAGE, SITE, PROBES)


@dataclass(frozen=True, slots=True)
class RegisteredCheck:
    """One check: its stage, the rule ids it produces, the entry prefixes it reads, and its code."""

    name: str
    stage: str
    produces: tuple[str, ...]
    reads: tuple[str, ...]
    run: Any             # a PageCheck subclass (PAGE) or a function (SITE, PROBES)


_CHECKS: dict[str, RegisteredCheck] = {}
_OWNER: dict[str, str] = {}

T = TypeVar("T")


def _register(stage: str, produces: tuple[str, ...], reads: tuple[str, ...]) -> Callable[[T], T]:
    def add(obj: T) -> T:
        name = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
        for rule_id in produces:
            if _OWNER.get(rule_id, name) != name:
                raise RuntimeError(f"rule {rule_id!r} is registered twice: {_OWNER[rule_id]} and {name}")
            _OWNER[rule_id] = name
        _CHECKS[name] = RegisteredCheck(name, stage, produces, reads, obj)
        if stage == PAGE:
            obj.produces = produces  # type: ignore[attr-defined]   # the class knows its rule ids
            obj.reads = reads  # type: ignore[attr-defined]         # and the dictionary entries it reads
        return obj
    return add


def page_check(*produces: str, reads: tuple[str, ...] = ()) -> Callable[[T], T]:
    """Register a ``PageCheck`` class run on every crawled page."""
    return _register(PAGE, produces, reads)


def site_check(*produces: str, reads: tuple[str, ...] = ()) -> Callable[[T], T]:
    """Register a function ``(SiteData) -> list[Finding]`` run over the store after the crawl."""
    return _register(SITE, produces, reads)


def probe_check(*produces: str) -> Callable[[T], T]:
    """Register a function run over the availability probe log."""
    return _register(PROBES, produces, ())


def checks(stage: str | None = None) -> list[RegisteredCheck]:
    """The registered checks (of one stage), in registration order."""
    return [c for c in _CHECKS.values() if stage is None or c.stage == stage]


def produced_ids(stage: str | None = None) -> tuple[str, ...]:
    """Every rule id a registered check (of one stage) produces."""
    return tuple(r for c in checks(stage) for r in c.produces)


def owner(rule_id: str) -> RegisteredCheck | None:
    """The check producing ``rule_id``, or the one reading it as a dictionary entry; None when none does."""
    name = _OWNER.get(rule_id)
    if name is not None:
        return _CHECKS[name]
    return next((c for c in _CHECKS.values() if any(rule_id.startswith(p) for p in c.reads)), None)
