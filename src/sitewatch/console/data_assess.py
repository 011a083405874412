"""What the console's spot-check (抽查) pages read and write: the completed scans to sample, the sample itself
(``spotcheck.sample``, the same function ``sitewatch spotcheck`` uses: the same scan, sizes and seed give the same
rows), the 核查结论 recorded for it (``declarations`` rows of kind spotcheck, the rows ``sitewatch import`` writes
from a filled-in 抽查表), and the signed checklist (``spotcheck.write_spotcheck`` filled with them)."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from sitewatch.console.audit import Actor, record
from sitewatch.prune import PRUNED
from sitewatch.reporting.workbook import ASSESSMENTS, SPOTCHECK_KIND
from sitewatch.spotcheck import sample, with_conclusions, write_spotcheck
from sitewatch.store import AuditRow, DeclarationRow, ScanRecord, Store

DEFAULT_SAMPLE = 20          # findings drawn when the form does not say (pages: the same)
MAX_SAMPLE = 500             # a checklist a person works through; more is a mistake
MAX_SEED = 2**31 - 1
MAX_REMARK = 2000
DRAW, ASSESS = "spotcheck.draw", "spotcheck.assess"


class AssessError(ValueError):
    """A draw or a conclusion that cannot be made; the message is shown to the user (Chinese)."""


def completed_scans(store: Store) -> list[ScanRecord]:
    """The completed full scans, newest first (the scans a spot-check may sample)."""
    return [s for s in reversed(store.scans()) if s.status == "completed"]


def completed_scan(store: Store, scan_id: int) -> ScanRecord | None:
    scan = store.scan(scan_id)
    return scan if scan is not None and scan.kind == "full" and scan.status == "completed" else None


@dataclass(frozen=True)
class Sizes:
    """The sample sizes of a draw: findings and pages."""

    sample: int = DEFAULT_SAMPLE
    pages: int = DEFAULT_SAMPLE


def check_sizes(scan: ScanRecord, sample_size: int, pages: int) -> Sizes:
    if not (0 <= sample_size <= MAX_SAMPLE and 0 <= pages <= MAX_SAMPLE):
        raise AssessError(f"抽样数量应为 0 到 {MAX_SAMPLE} 之间的整数。")
    pruned = (scan.stats or {}).get(PRUNED)
    if pruned and pages:
        raise AssessError(f"该次扫描的页面记录已于 {pruned} 清理，只能抽查问题（页面数量填 0）。")
    return Sizes(sample_size, pages)


def check_seed(seed: int) -> int:
    if not 0 <= seed <= MAX_SEED:
        raise AssessError(f"随机种子应为 0 到 {MAX_SEED} 之间的整数。")
    return seed


def record_draw(store: Store, scan: ScanRecord, seed: int, sizes: Sizes, by: Actor, now: dt.datetime) -> None:
    """The draw's audit row: which scan, seed and sizes, so that the same sample can be opened again."""
    with store.engine.begin() as c:
        record(c, by, DRAW, f"scan {scan.id} seed {seed}",
               {"scan_id": scan.id, "site": scan.site, "seed": seed, "sample": sizes.sample, "pages": sizes.pages},
               at=now)


def drawn_sizes(store: Store, scan_id: int, seed: int) -> Sizes | None:
    """The sizes of the latest recorded draw of ``scan_id`` with ``seed``; None when it was never drawn."""
    with store.engine.connect() as c:
        rows = c.execute(select(AuditRow.c.detail).where(AuditRow.c.action == DRAW,
                                                         AuditRow.c.target == f"scan {scan_id} seed {seed}")
                         .order_by(AuditRow.c.id.desc()).limit(1)).all()
    for (detail,) in rows:
        try:
            return Sizes(int(detail["sample"]), int(detail["pages"]))
        except (KeyError, TypeError, ValueError):
            return None
    return None


def draws(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    """The latest recorded draws (newest first, one per scan and seed) to open again."""
    with store.engine.connect() as c:
        rows = c.execute(select(AuditRow).where(AuditRow.c.action == DRAW).order_by(AuditRow.c.id.desc())
                         .limit(limit * 5)).all()
    seen: set[str] = set()
    out = []
    for r in rows:
        if r.target in seen or not isinstance(r.detail, dict):
            continue
        seen.add(r.target)
        out.append({**r.detail, "at": r.at, "actor": r.actor})
        if len(out) >= limit:
            break
    return out


@dataclass
class Checklist:
    """A drawn sample with what was recorded for it."""

    scan: ScanRecord
    seed: int
    sizes: Sizes
    rows: list[dict[str, Any]]              # spotcheck.sample's rows, with ``declared`` (the stored row or None)

    @property
    def concluded(self) -> int:
        return sum(1 for r in self.rows if r["declared"] is not None)


def checklist(store: Store, scan: ScanRecord, seed: int, sizes: Sizes) -> Checklist:
    rows = sample(store, scan, sizes.sample, seed, sizes.pages)
    declared = store.declarations(scan.id, SPOTCHECK_KIND)
    for r in rows:
        r["declared"] = declared.get(str(r["key"]))
    return Checklist(scan, seed, sizes, rows)


def conclude(store: Store, scan: ScanRecord, seed: int, sizes: Sizes, key: str, assessment: str, remark: str,
             by: Actor, now: dt.datetime) -> dict[str, Any]:
    """Store an assessor's 核查结论 and 备注 for the sampled row ``key`` (a ``declarations`` row of kind spotcheck,
    as ``sitewatch import`` stores one from the 抽查表: 核查人 the assessor, 核查日期 today), with its audit row.
    Returns the row of the sample it concluded."""
    if assessment not in ASSESSMENTS:
        raise AssessError(f"核查结论应为 {' / '.join(ASSESSMENTS)} 之一。")
    remark = remark.strip()
    if len(remark) > MAX_REMARK:
        raise AssessError(f"备注不超过 {MAX_REMARK} 个字符。")
    rows = {str(r["key"]): r for r in sample(store, scan, sizes.sample, seed, sizes.pages)}
    row = rows.get(key)
    if row is None:
        raise AssessError("该行不在这份抽查表中（抽查表已变化？请刷新页面）。")
    values = {"status": assessment, "note": remark, "done_on": now.date(), "declared_by": by.name,
              "url": str(row["url"]), "source": f"console: {by.name}", "imported_at": now.replace(microsecond=0)}
    with store.engine.begin() as c:
        stored = c.execute(select(DeclarationRow.c.id, DeclarationRow.c.status, DeclarationRow.c.note).where(
            DeclarationRow.c.scan_id == scan.id, DeclarationRow.c.kind == SPOTCHECK_KIND,
            DeclarationRow.c.key == key)).first()
        if stored is None:
            c.execute(insert(DeclarationRow).values(scan_id=scan.id, kind=SPOTCHECK_KIND, key=key, **values))
        else:
            c.execute(update(DeclarationRow).where(DeclarationRow.c.id == stored.id).values(**values))
        detail: dict[str, Any] = {"scan_id": scan.id, "seed": seed, "no": row["no"], "key": key,
                                  "assessment": assessment, "remark": remark[:200]}
        if stored is not None:
            detail["before"] = stored.status
        record(c, by, ASSESS, f"scan {scan.id} #{row['no']} {row['url']}"[:500], detail, at=now)
    return row


def export(store: Store, scan: ScanRecord, seed: int, sizes: Sizes, fmt: str) -> tuple[str, bytes]:
    """The signed 抽查表 (``fmt`` html or xlsx) as ``sitewatch spotcheck`` writes it, filled with the recorded
    conclusions, 核查人 and 核查日期: (file name, contents)."""
    rows = sample(store, scan, sizes.sample, seed, sizes.pages)
    filled, assessor, assessed = with_conclusions(rows, store.declarations(scan.id, SPOTCHECK_KIND))
    with tempfile.TemporaryDirectory(prefix="sitewatch-spotcheck-") as tmp:
        paths = write_spotcheck(store, scan, filled, seed, Path(tmp), sizes.sample, sizes.pages,
                                assessor=assessor, assessed=assessed)
        path = next(p for p in paths if p.suffix == f".{fmt}")
        return path.name, path.read_bytes()
