"""整改状态: how each problem of an earlier scan stands now, from the fingerprints of the scans only.

Pure (no store, no network): the look-back (``lookback.py``) stores these statuses and the reports
(``reporting/``) show them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

FIXED = "已整改"
OPEN = "未整改"
RECURRED = "反复出现"
NEW = "新发现"
PENDING = "待复核"
STATUSES = (OPEN, RECURRED, PENDING, NEW, FIXED)


def _recurred(presence: Sequence[bool]) -> bool:
    """True when the problem was present, then absent, then present again."""
    if True not in presence:
        return False
    first = presence.index(True)
    return not all(presence[first:])


def classify(history: Sequence[Collection[str]], current: Collection[str], baseline: Collection[str] | None = None,
             pending: Collection[str] = ()) -> dict[str, str]:
    """Status of every problem of ``baseline`` (default: the last of ``history``) and of ``current``.

    ``history``: fingerprint sets of earlier scans, oldest first. ``current``: the fingerprints open now.
    已整改 = in the baseline, not open now; 反复出现 = open now after having been absent in a scan since it
    first appeared; 未整改 = open in the baseline and now; 新发现 = open now, never seen before;
    待复核 = could not be re-verified (``pending``).
    """
    base = set(baseline if baseline is not None else (history[-1] if history else ()))
    cur, todo = set(current), set(pending)
    out: dict[str, str] = {}
    for fp in sorted(base | cur | todo):
        if fp in todo:
            out[fp] = PENDING
        elif fp not in cur:
            out[fp] = FIXED
        elif _recurred([fp in s for s in history] + [True]):
            out[fp] = RECURRED
        elif fp in base:
            out[fp] = OPEN
        else:
            out[fp] = NEW
    return out
