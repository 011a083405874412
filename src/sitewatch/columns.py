"""Column classification: map a column name to a freshness category of the rule packs."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from sitewatch.errors import ConfigError
from sitewatch.packs import EXEMPT, RuleSet

_SPACE_RE = re.compile(r"\s+")


def normalise_name(name: str) -> str:
    """NFKC (full-width to half-width), no whitespace, no decorative brackets around the whole name."""
    text = _SPACE_RE.sub("", unicodedata.normalize("NFKC", name))
    return text.strip("[]【】<>《》·-_|>»")  # noqa: B005 -- a set of bracket characters, stripped one by one


def classify(name: str, ruleset: RuleSet, pinned: Mapping[str, str | None] | None = None) -> str | None:
    """The category of a column (``dynamic``, ``notice``, ``yearly`` …) or None when it is not judged.

    A name pinned in the site config wins (compared after normalisation; pin to ``none`` or ``exempt`` to
    never judge it). Otherwise the longest keyword found in the name decides; a name containing an exempt keyword
    (历史 …) is not judged.
    """
    norm = normalise_name(name)
    if pinned:
        for pinned_name, category in pinned.items():
            if normalise_name(pinned_name) == norm:
                if category in (EXEMPT, "none", None):
                    return None
                if category not in ruleset.categories():
                    known = ", ".join([*ruleset.categories(), "none"])
                    raise ConfigError(f"site config: columns.{pinned_name}: unknown category {category!r} "
                                      f"(known: {known})")
                return category
    if not norm or any(word in norm for word in ruleset.exempt_keywords()):
        return None
    best: tuple[int, int, str] | None = None
    for cat in ruleset.categories().values():
        for word in cat.keywords:
            if word in norm:
                score = (2 if norm == word else 1, len(word), cat.name)
                if best is None or score[:2] > best[:2]:
                    best = score
    return best[2] if best else None
