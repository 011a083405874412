"""How the reports lay out their rows (no numbers of their own: every count comes from the report data)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def problem_groups(problems: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The problem rows in their order, in runs of one problem type and severity: a run's heading names the type
    once (severity, basis and 整改时限 when every row of the run shares them), so that the rows need no column
    for them. ``rows`` keep their numbers (序号), as in the XLSX and CSV."""
    groups: list[dict[str, Any]] = []
    for p in problems:
        key = (p["rule"], p.get("severity_zh"))
        if not groups or groups[-1]["key"] != key:
            groups.append({"key": key, "type": p["type"], "rule": p["rule"], "severity_zh": p.get("severity_zh"),
                           "rows": []})
        groups[-1]["rows"].append(p)
    for g in groups:
        rows = g["rows"]
        g["count"] = len(rows)
        bases = {r.get("basis") or "" for r in rows}
        days = {r.get("deadline_days") for r in rows}
        g["basis"] = bases.pop() if len(bases) == 1 else None            # None: each row shows its own
        g["deadline_days"] = days.pop() if len(days) == 1 else None
    return groups
