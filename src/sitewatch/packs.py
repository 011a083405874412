"""Rule packs (``checks/*.toml``): loading, validation, site-config overrides and the catalogue.

A pack is one source document. It holds ``[pack]`` (document, title, optional url/note), ``[[rules]]``
(one checkable rule each, with a stable dotted id) and ``[[items]]`` (mandated disclosure items used by
``disclosure.missing`` / ``disclosure.late``). The code implements measurements (``sitewatch.rules``); the
numbers, keywords, severities, 整改 deadlines and sources live in the packs.

整改时限 (days after a problem was first found): a rule's ``deadline_days``, else the ``[deadlines]`` table's
``veto`` for a 单项否决 rule (severity veto), else its ``default``. Exactly one loaded pack defines ``[deadlines]``
(the bundled 国办秘函〔2019〕19号 pack).

Overrides (from the site config) are a mapping keyed by rule id, plus the reserved key ``items``::

    {
        "column.stale": {"threshold": {"dynamic_days": 21},      # replace numbers, known keys only
                         "keywords": {"dynamic": ["镇街要闻"]},    # replace a keyword list
                         "severity": "deduct", "points": 0.5,     # change the verdict weight
                         "deadline_days": 10,                      # 整改时限
                         "enabled": False},                        # switch a rule off
        "items": {"budget": {"due": "04-15", "approval_days": 20, "keywords": [["预算"]],
                             "exclude": ["决算"], "grace_days": 5, "enabled": False}},
    }
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sitewatch.errors import ConfigError
from sitewatch.models import DEDUCT, REVIEW, SEVERITY_ZH, VETO, WARN
from sitewatch.resources import data_dir

SEVERITIES = (VETO, DEDUCT, WARN, REVIEW)
PROVENANCES = {"V": "read in a source text", "P": "partly verified", "R": "recalled, not verified"}
ITEM_KINDS = ("annual", "present", "per_document")
COLUMN_RULES = ("column.stale", "column.long_stale")
EXEMPT = "exempt"

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_ITEM_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_MD_RE = re.compile(r"^(\d{2})-(\d{2})$")

_PACK_KEYS = {"document": True, "title": True, "url": False, "note": False}
_RULE_KEYS = {
    "id": True, "name_zh": True, "measures": True, "severity": True, "source": True, "provenance": True,
    "ref": False, "points": False, "threshold": False, "keywords": False, "note": False, "deadline_days": False,
}
_DEADLINE_KEYS = {"default": True, "veto": True}
_ITEM_KEYS = {
    "id": True, "name_zh": True, "kind": True, "keywords": True, "source": True, "provenance": True,
    "exclude": False, "year_offset": False, "due": False, "approval": False, "approval_days": False,
    "implied_by": False, "due_provenance": False, "note": False, "document_columns": False,
    "interpretation_columns": False, "grace_days": False, "lookback_days": False, "document_titles": False,
}
_RULE_OVERRIDE_KEYS = ("threshold", "keywords", "severity", "points", "deadline_days", "enabled")
_ITEM_OVERRIDE_KEYS = ("keywords", "exclude", "due", "approval_days", "grace_days", "lookback_days", "enabled")


@dataclass(frozen=True, slots=True)
class Pack:
    """One rule pack file: the source document it encodes."""

    id: str
    document: str
    title: str
    path: Path
    url: str | None = None
    note: str | None = None


@dataclass(slots=True)
class Rule:
    """One rule: id, Chinese name, thresholds, severity, source and provenance."""

    id: str
    name_zh: str
    measures: str
    severity: str
    source: str
    provenance: str
    pack: str
    ref: str | None = None
    points: float | None = None
    threshold: dict[str, int | float] = field(default_factory=dict)
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    note: str | None = None
    deadline_days: int | None = None        # 整改时限; None: the [deadlines] default of its severity
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Deadlines:
    """The ``[deadlines]`` table: 整改时限 in days of a 单项否决 rule and of any other rule without its own."""

    default: int
    veto: int
    pack: str


@dataclass(slots=True)
class DisclosureItem:
    """A mandated disclosure item and its year rule.

    ``annual``: the item for content year ``due_year + year_offset`` is due on ``due`` (MM-DD) of the due
    year, or ``approval_days`` after the approval date the site config gives. ``present``: any year.
    ``per_document``: every policy document needs a matching item (an interpretation).
    """

    id: str
    name_zh: str
    kind: str
    keywords: tuple[tuple[str, ...], ...]
    source: str
    provenance: str
    pack: str
    exclude: tuple[str, ...] = ()
    year_offset: int = 0
    due: tuple[int, int] | None = None
    approval: str | None = None
    approval_days: int | None = None
    implied_by: str | None = None
    due_provenance: str | None = None
    note: str | None = None
    document_columns: tuple[str, ...] = ()
    interpretation_columns: tuple[str, ...] = ()
    document_titles: tuple[str, ...] = ()   # title endings of a normative document (办法, 规定 …), per_document
    grace_days: int = 0
    lookback_days: int = 0
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Category:
    """A column category: the rule judging it, its window and its name keywords."""

    name: str
    rule_id: str
    window_days: int
    keywords: tuple[str, ...]


class RuleSet:
    """The active rules and disclosure items after packs and overrides are merged."""

    def __init__(self, packs: list[Pack], rules: list[Rule], items: list[DisclosureItem], deadlines: Deadlines):
        self.packs = packs
        self._rules = {r.id: r for r in rules}
        self._items = {i.id: i for i in items}
        self.deadlines = deadlines

    @property
    def rules(self) -> list[Rule]:
        return list(self._rules.values())

    @property
    def items(self) -> list[DisclosureItem]:
        return list(self._items.values())

    def get(self, rule_id: str) -> Rule:
        """The rule with this id; ``KeyError`` when no pack defines it."""
        return self._rules[rule_id]

    def has(self, rule_id: str) -> bool:
        return rule_id in self._rules

    def enabled(self, rule_id: str) -> bool:
        """True when the rule exists and is not switched off."""
        rule = self._rules.get(rule_id)
        return rule is not None and rule.enabled

    def threshold(self, rule_id: str, key: str) -> int | float:
        return self._rules[rule_id].threshold[key]

    def keywords(self, rule_id: str, key: str) -> tuple[str, ...]:
        return self._rules[rule_id].keywords.get(key, ())

    def severity(self, rule_id: str) -> str:
        return self._rules[rule_id].severity

    def item(self, item_id: str) -> DisclosureItem:
        return self._items[item_id]

    def deadline_days(self, rule_id: str) -> int:
        """整改时限 of the rule's problems: its own, else the 单项否决 or the default one of ``[deadlines]``
        (a rule no pack defines takes the default)."""
        rule = self._rules.get(rule_id)
        if rule is None:
            return self.deadlines.default
        if rule.deadline_days is not None:
            return rule.deadline_days
        return self.deadlines.veto if rule.severity == VETO else self.deadlines.default

    def categories(self) -> dict[str, Category]:
        """Column categories defined by the keyword tables of the column rules."""
        out: dict[str, Category] = {}
        for rule_id in COLUMN_RULES:
            rule = self._rules.get(rule_id)
            if rule is None:
                continue
            for name, words in rule.keywords.items():
                if name == EXEMPT:
                    continue
                out[name] = Category(name, rule_id, int(rule.threshold[f"{name}_days"]), words)
        return out

    def exempt_keywords(self) -> tuple[str, ...]:
        return tuple(w for rule_id in COLUMN_RULES if rule_id in self._rules
                     for w in self._rules[rule_id].keywords.get(EXEMPT, ()))


def load_rules(extra_packs: Iterable[Path] = (), overrides: Mapping[str, Any] | None = None) -> RuleSet:
    """Load the bundled packs, then ``extra_packs``, then apply site-config ``overrides``.

    Raises ``ConfigError`` (one line naming the file and the key) on an invalid pack or override.
    """
    paths = sorted(data_dir("checks").glob("*.toml")) + [Path(p) for p in extra_packs]
    packs: list[Pack] = []
    rules: list[Rule] = []
    items: list[DisclosureItem] = []
    seen_rules: dict[str, Path] = {}
    seen_items: dict[str, Path] = {}
    deadlines: Deadlines | None = None
    for path in paths:
        pack, prules, pitems, pdeadlines = _load_pack(path)
        if pdeadlines is not None:
            if deadlines is not None:
                raise ConfigError(f"{path}: deadlines: already defined in pack {deadlines.pack!r}")
            deadlines = pdeadlines
        for rule in prules:
            if rule.id in seen_rules:
                raise ConfigError(f"{path}: rules.id: {rule.id!r} is already defined in {seen_rules[rule.id]}")
            seen_rules[rule.id] = path
        for item in pitems:
            if item.id in seen_items:
                raise ConfigError(f"{path}: items.id: {item.id!r} is already defined in {seen_items[item.id]}")
            seen_items[item.id] = path
        packs.append(pack)
        rules.extend(prules)
        items.extend(pitems)
    if deadlines is None:
        raise ConfigError(f"{paths[-1] if paths else 'rule packs'}: deadlines: no pack defines the [deadlines] table")
    ruleset = RuleSet(packs, rules, items, deadlines)
    for item in items:
        if item.implied_by and item.implied_by not in seen_items:
            raise ConfigError(f"{seen_items[item.id]}: items.{item.id}.implied_by: unknown item {item.implied_by!r}")
    _check_categories(ruleset, seen_rules)
    if overrides:
        apply_overrides(ruleset, overrides)
    return ruleset


def apply_overrides(ruleset: RuleSet, overrides: Mapping[str, Any], origin: str = "site config") -> None:
    """Apply an override mapping (shape in the module docstring) in place; validate every key."""
    for key, value in overrides.items():
        if key == "items":
            if not isinstance(value, Mapping):
                raise ConfigError(f"{origin}: items: must be a table")
            for item_id, ov in value.items():
                _override_item(ruleset, item_id, ov, origin)
            continue
        if not ruleset.has(key):
            raise ConfigError(f"{origin}: {key}: unknown rule id")
        if not isinstance(value, Mapping):
            raise ConfigError(f"{origin}: {key}: must be a table")
        _override_rule(ruleset.get(key), value, origin)
    _check_categories(ruleset, {})


def _override_rule(rule: Rule, ov: Mapping[str, Any], origin: str) -> None:
    where = f"{origin}: {rule.id}"
    for key, value in ov.items():
        if key not in _RULE_OVERRIDE_KEYS:
            raise ConfigError(f"{where}.{key}: unknown key (allowed: {', '.join(_RULE_OVERRIDE_KEYS)})")
        if key == "threshold":
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}.threshold: must be a table")
            for tkey, tval in value.items():
                if tkey not in rule.threshold:
                    known = ", ".join(rule.threshold) or "none"
                    raise ConfigError(f"{where}.threshold.{tkey}: unknown threshold (known: {known})")
                rule.threshold[tkey] = _number(tval, f"{where}.threshold.{tkey}")
        elif key == "keywords":
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}.keywords: must be a table")
            for kkey, kval in value.items():
                rule.keywords[kkey] = _str_list(kval, f"{where}.keywords.{kkey}")
        elif key == "severity":
            rule.severity = _severity(value, f"{where}.severity")
        elif key == "points":
            rule.points = _number(value, f"{where}.points")
        elif key == "deadline_days":
            rule.deadline_days = _days(value, f"{where}.deadline_days")
        else:
            rule.enabled = _bool(value, f"{where}.enabled")
    if rule.severity == DEDUCT and rule.points is None:
        raise ConfigError(f"{where}.points: required when severity is deduct")


def _override_item(ruleset: RuleSet, item_id: str, ov: Any, origin: str) -> None:
    where = f"{origin}: items.{item_id}"
    try:
        item = ruleset.item(item_id)
    except KeyError:
        raise ConfigError(f"{where}: unknown disclosure item") from None
    if not isinstance(ov, Mapping):
        raise ConfigError(f"{where}: must be a table")
    for key, value in ov.items():
        if key not in _ITEM_OVERRIDE_KEYS:
            raise ConfigError(f"{where}.{key}: unknown key (allowed: {', '.join(_ITEM_OVERRIDE_KEYS)})")
        if key == "keywords":
            item.keywords = _keyword_groups(value, f"{where}.keywords")
        elif key == "exclude":
            item.exclude = _str_list(value, f"{where}.exclude")
        elif key == "due":
            item.due = _month_day(value, f"{where}.due")
        elif key == "enabled":
            item.enabled = _bool(value, f"{where}.enabled")
        else:
            setattr(item, key, _int(value, f"{where}.{key}"))


def _check_categories(ruleset: RuleSet, files: Mapping[str, Path]) -> None:
    for rule_id in COLUMN_RULES:
        if not ruleset.has(rule_id):
            continue
        rule = ruleset.get(rule_id)
        for name in rule.keywords:
            if name != EXEMPT and f"{name}_days" not in rule.threshold:
                origin = files.get(rule_id, "site config")
                raise ConfigError(f"{origin}: {rule_id}.threshold.{name}_days: missing window for category {name!r}")


def _load_pack(path: Path) -> tuple[Pack, list[Rule], list[DisclosureItem], Deadlines | None]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read rule pack: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {_one_line(str(exc))}") from None
    where = str(path)
    for key in data:
        if key not in ("pack", "rules", "items", "deadlines"):
            raise ConfigError(f"{where}: {key}: unknown top-level key (allowed: pack, rules, items, deadlines)")
    head = data.get("pack")
    if not isinstance(head, dict):
        raise ConfigError(f"{where}: pack: missing [pack] table")
    _check_keys(head, _PACK_KEYS, f"{where}: pack")
    pack = Pack(
        id=path.stem,
        document=_str(head["document"], f"{where}: pack.document"),
        title=_str(head["title"], f"{where}: pack.title"),
        path=path,
        url=_opt_str(head.get("url"), f"{where}: pack.url"),
        note=_opt_str(head.get("note"), f"{where}: pack.note"),
    )
    rules = [_parse_rule(r, i, pack, where) for i, r in enumerate(_table_list(data, "rules", where))]
    items = [_parse_item(r, i, pack, where) for i, r in enumerate(_table_list(data, "items", where))]
    deadlines = None
    if "deadlines" in data:
        raw = data["deadlines"]
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: deadlines: must be a table ([deadlines])")
        _check_keys(raw, _DEADLINE_KEYS, f"{where}: deadlines")
        deadlines = Deadlines(default=_days(raw["default"], f"{where}: deadlines.default"),
                              veto=_days(raw["veto"], f"{where}: deadlines.veto"), pack=pack.id)
    return pack, rules, items, deadlines


def _table_list(data: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{where}: {key}: must be an array of tables ([[{key}]])")
    return value


def _parse_rule(raw: dict[str, Any], index: int, pack: Pack, file: str) -> Rule:
    where = f"{file}: " + _label("rules", raw, index)
    _check_keys(raw, _RULE_KEYS, where)
    rule_id = _str(raw["id"], f"{where}.id")
    if not _ID_RE.match(rule_id):
        raise ConfigError(f"{where}.id: must be dotted lower-case words such as 'column.stale' (got {rule_id!r})")
    threshold_raw = raw.get("threshold", {})
    if not isinstance(threshold_raw, dict):
        raise ConfigError(f"{where}.threshold: must be a table of numbers")
    keywords_raw = raw.get("keywords", {})
    if not isinstance(keywords_raw, dict):
        raise ConfigError(f"{where}.keywords: must be a table of string lists")
    rule = Rule(
        id=rule_id,
        name_zh=_str(raw["name_zh"], f"{where}.name_zh"),
        measures=_str(raw["measures"], f"{where}.measures"),
        severity=_severity(raw["severity"], f"{where}.severity"),
        source=_str(raw["source"], f"{where}.source"),
        provenance=_provenance(raw["provenance"], f"{where}.provenance"),
        pack=pack.id,
        ref=_opt_str(raw.get("ref"), f"{where}.ref"),
        points=None if raw.get("points") is None else _number(raw["points"], f"{where}.points"),
        threshold={k: _number(v, f"{where}.threshold.{k}") for k, v in threshold_raw.items()},
        keywords={k: _str_list(v, f"{where}.keywords.{k}") for k, v in keywords_raw.items()},
        note=_opt_str(raw.get("note"), f"{where}.note"),
        deadline_days=None if raw.get("deadline_days") is None
        else _days(raw["deadline_days"], f"{where}.deadline_days"),
    )
    if rule.severity == DEDUCT and rule.points is None:
        raise ConfigError(f"{where}.points: required when severity is deduct")
    return rule


def _parse_item(raw: dict[str, Any], index: int, pack: Pack, file: str) -> DisclosureItem:
    where = f"{file}: " + _label("items", raw, index)
    _check_keys(raw, _ITEM_KEYS, where)
    item_id = _str(raw["id"], f"{where}.id")
    if not _ITEM_ID_RE.match(item_id):
        raise ConfigError(f"{where}.id: must be lower_case_words (got {item_id!r})")
    kind = _str(raw["kind"], f"{where}.kind")
    if kind not in ITEM_KINDS:
        raise ConfigError(f"{where}.kind: must be one of {', '.join(ITEM_KINDS)} (got {kind!r})")
    due = raw.get("due")
    if kind == "annual" and due is None:
        raise ConfigError(f"{where}.due: required for kind 'annual' (MM-DD)")
    approval_days = raw.get("approval_days")
    due_prov = raw.get("due_provenance")
    return DisclosureItem(
        id=item_id,
        name_zh=_str(raw["name_zh"], f"{where}.name_zh"),
        kind=kind,
        keywords=_keyword_groups(raw["keywords"], f"{where}.keywords"),
        source=_str(raw["source"], f"{where}.source"),
        provenance=_provenance(raw["provenance"], f"{where}.provenance"),
        pack=pack.id,
        exclude=_str_list(raw.get("exclude", []), f"{where}.exclude", allow_empty=True),
        year_offset=_int(raw.get("year_offset", 0), f"{where}.year_offset"),
        due=None if due is None else _month_day(due, f"{where}.due"),
        approval=_opt_str(raw.get("approval"), f"{where}.approval"),
        approval_days=None if approval_days is None else _int(approval_days, f"{where}.approval_days"),
        implied_by=_opt_str(raw.get("implied_by"), f"{where}.implied_by"),
        due_provenance=None if due_prov is None else _provenance(due_prov, f"{where}.due_provenance"),
        note=_opt_str(raw.get("note"), f"{where}.note"),
        document_columns=_str_list(raw.get("document_columns", []), f"{where}.document_columns", allow_empty=True),
        interpretation_columns=_str_list(raw.get("interpretation_columns", []), f"{where}.interpretation_columns",
                                         allow_empty=True),
        document_titles=_str_list(raw.get("document_titles", []), f"{where}.document_titles", allow_empty=True),
        grace_days=_int(raw.get("grace_days", 0), f"{where}.grace_days"),
        lookback_days=_int(raw.get("lookback_days", 0), f"{where}.lookback_days"),
    )


def _label(section: str, raw: Mapping[str, Any], index: int) -> str:
    ident = raw.get("id")
    return f"{section}.{ident}" if isinstance(ident, str) and ident else f"{section}[{index}]"


def _check_keys(raw: Mapping[str, Any], spec: Mapping[str, bool], where: str) -> None:
    for key in raw:
        if key not in spec:
            raise ConfigError(f"{where}.{key}: unknown key")
    for key, required in spec.items():
        if required and key not in raw:
            raise ConfigError(f"{where}.{key}: missing required key")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: must be a non-empty string")
    return value


def _opt_str(value: Any, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _number(value: Any, where: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: must be a number (got {value!r})")
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: must be an integer (got {value!r})")
    return value


def _days(value: Any, where: str) -> int:
    days = _int(value, where)
    if days < 1:
        raise ConfigError(f"{where}: must be at least 1 day (got {days})")
    return days


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: must be true or false (got {value!r})")
    return value


def _severity(value: Any, where: str) -> str:
    if value not in SEVERITIES:
        raise ConfigError(f"{where}: must be one of {', '.join(SEVERITIES)} (got {value!r})")
    return str(value)


def _provenance(value: Any, where: str) -> str:
    if value not in PROVENANCES:
        raise ConfigError(f"{where}: must be one of V, P, R (got {value!r})")
    return str(value)


def _str_list(value: Any, where: str, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: must be a list of non-empty strings")
    if not value and not allow_empty:
        raise ConfigError(f"{where}: must not be empty")
    return tuple(value)


def _keyword_groups(value: Any, where: str) -> tuple[tuple[str, ...], ...]:
    """A flat list is one any-of group; a list of lists is several groups that must all match."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return (_str_list(value, where),)
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: must be a list of strings or a list of string lists")
    return tuple(_str_list(v, f"{where}[{i}]") for i, v in enumerate(value))


def _month_day(value: Any, where: str) -> tuple[int, int]:
    m = _MD_RE.match(value) if isinstance(value, str) else None
    if not m or not (1 <= int(m[1]) <= 12 and 1 <= int(m[2]) <= 31):
        raise ConfigError(f"{where}: must be a month-day such as \"03-31\" (got {value!r})")
    return int(m[1]), int(m[2])


# ---------------------------------------------------------------- catalogue

_OVERRIDE_DOC = """\
## Overriding values in a site config

The site config may change rule values without editing the packs, under `[rules.overrides]`. Keys are rule
ids, plus `items` for disclosure items. Only keys that already exist can be overridden; anything else is a
one-line error naming the key.

```toml
[rules]
packs = ["local-rules.toml"]          # extra packs, same format as checks/*.toml

[rules.overrides."column.stale".threshold]
dynamic_days = 21                      # replace a number of the threshold table

[rules.overrides."column.stale".keywords]
dynamic = ["工作动态", "镇街要闻"]       # replace a keyword list (dynamic, notice, exempt; yearly on column.long_stale)

[rules.overrides."link.broken"]
severity = "warn"                      # veto | deduct | warn | review; deduct needs points
deadline_days = 10                     # 整改时限 in days
enabled = false                        # switch a rule off

[rules.overrides.items.budget]
due = "04-15"                          # default due month-day when no approval date is known
approval_days = 20
enabled = false                        # e.g. the office is not a budget unit
# also: keywords, exclude, grace_days, lookback_days
```

The same as a Python mapping:
`{"column.stale": {"threshold": {"dynamic_days": 21}}, "items": {"budget": {"enabled": False}}}`.

Column names can be pinned to a category in the site config (`[columns."领导之窗"] category = "yearly"`,
or `"none"` to never judge it); a pinned name wins over the keywords. Approval (批复) dates of budgets and final
accounts are given per content year (`[disclosures.approvals.budget] 2026 = 2026-02-10`); the item is then due
`approval_days` after that date instead of on the default month-day.
"""


def render_catalogue(ruleset: RuleSet) -> str:
    """The Markdown catalogue of rules, column categories and disclosure items (``docs/rules.md``)."""
    out = io.StringIO()
    w = out.write
    w("# sitewatch rule catalogue\n\n")
    w("Generated from the rule packs in `checks/` by `sitewatch rules --markdown`; do not edit by hand.\n\n")
    w("Provenance: **V** read in a source text; **P** partly verified (secondary or local source); "
      "**R** recalled, not verified — confirm against the original before relying on it.\n\n")
    w("Severity: " + "; ".join(f"`{s}` {SEVERITY_ZH[s]}" for s in SEVERITIES) + ".\n\n")
    d = ruleset.deadlines
    w(f"整改时限 (deadline, days after a problem was first found): a rule's own `deadline_days`, else {d.veto} for "
      f"a 单项否决 (veto) rule, else {d.default} (`[deadlines]` of pack {d.pack}).\n\n")
    w("## Rules\n\n")
    w("| id | ref | 名称 | measures | threshold | severity | deadline | prov. | pack |\n")
    w("|---|---|---|---|---|---|---|---|---|\n")
    for rule in ruleset.rules:
        w(f"| `{rule.id}` | {rule.ref or ''} | {_md(rule.name_zh)} | {_md(rule.measures)} | "
          f"{_md(_threshold_text(rule))} | {_severity_text(rule)} | {ruleset.deadline_days(rule.id)} | "
          f"{rule.provenance} | {rule.pack} |\n")
    w("\n## Sources\n\n")
    for pack in ruleset.packs:
        w(f"### {pack.id}: {pack.document} {pack.title}\n\n")
        if pack.url:
            w(f"Original: <{pack.url}>\n\n")
        if pack.note:
            w(f"{pack.note}\n\n")
        for rule in ruleset.rules:
            if rule.pack == pack.id:
                w(f"- `{rule.id}` [{rule.provenance}] {rule.source}")
                w(f" — {rule.note}\n" if rule.note else "\n")
        for item in ruleset.items:
            if item.pack == pack.id:
                w(f"- item `{item.id}` [{item.provenance}] {item.source}")
                w(f" — {item.note}\n" if item.note else "\n")
        w("\n")
    w("## Column categories\n\n")
    w("A column is classified by the longest keyword found in its normalised name; names matching no keyword "
      "are not judged. Exempt keywords (never judged): "
      + "、".join(ruleset.exempt_keywords()) + ".\n\n")
    w("| category | rule | window (days) | keywords |\n|---|---|---|---|\n")
    for cat in ruleset.categories().values():
        w(f"| `{cat.name}` | `{cat.rule_id}` | {cat.window_days} | {'、'.join(cat.keywords)} |\n")
    w("\n## Mandated disclosure items\n\n")
    w("Keywords: every group must match (any word of a group); `exclude` words reject a title. "
      "Matched against item titles, attachment link texts and attachment file names; items that must be "
      "present (any year) also against page titles, ColumnName/ArticleTitle meta and link texts.\n\n")
    w("| item | 名称 | year rule | due | keywords | exclude | prov. (due) |\n|---|---|---|---|---|---|---|\n")
    for item in ruleset.items:
        groups = " + ".join("(" + "|".join(g) + ")" for g in item.keywords)
        prov = item.provenance + (f" ({item.due_provenance})" if item.due_provenance else "")
        w(f"| `{item.id}` | {_md(item.name_zh)} | {_md(_year_rule_text(item))} | {_md(_due_text(item))} | "
          f"{_md(groups)} | {_md('、'.join(item.exclude))} | {prov} |\n")
    w("\n")
    w(_OVERRIDE_DOC)
    return out.getvalue()


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _threshold_text(rule: Rule) -> str:
    return ", ".join(f"{k}={v}" for k, v in rule.threshold.items())


def _severity_text(rule: Rule) -> str:
    text = rule.severity if rule.points is None else f"{rule.severity} ({rule.points:g})"
    return text if rule.enabled else f"{text}, disabled"


def _year_rule_text(item: DisclosureItem) -> str:
    if item.kind == "present":
        return "present (any year)"
    if item.kind == "per_document":
        return "one per policy document"
    offset = f"{item.year_offset:+d}" if item.year_offset else ""
    return f"year Y{offset} due in Y"


def _due_text(item: DisclosureItem) -> str:
    parts = []
    if item.due:
        parts.append(f"{item.due[0]:02d}-{item.due[1]:02d}")
    if item.approval_days is not None:
        parts.append(f"approval + {item.approval_days} days when known")
    if item.kind == "per_document":
        parts.append(f"grace {item.grace_days} days")
    return "; ".join(parts) or "—"


def print_rules(ruleset: RuleSet, markdown: bool = False, file: TextIO | None = None) -> None:
    """Print the active rules: the Markdown catalogue, or an aligned plain-text table."""
    out = file if file is not None else sys.stdout
    if markdown:
        out.write(render_catalogue(ruleset))
        return
    header = ("id", "severity", "prov", "threshold", "名称")
    rows = [header] + [
        (r.id, _severity_text(r), r.provenance, _threshold_text(r) or "-", r.name_zh) for r in ruleset.rules
    ]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        cells = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row[:-1])]
        out.write("  ".join(cells + [row[-1]]).rstrip() + "\n")
    enabled_items = [i.id for i in ruleset.items if i.enabled]
    out.write(f"\ndisclosure items: {', '.join(enabled_items)}\n")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def main(argv: list[str] | None = None) -> int:
    """``python -m sitewatch.packs [--markdown]``: print the bundled rules."""
    parser = argparse.ArgumentParser(prog="python -m sitewatch.packs")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    print_rules(load_rules(), markdown=args.markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
