"""`sitewatch prune`: old scans lose their detail rows, keep everything reports and look-backs read."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest
from test_reports import ROOT, SITE, build_store

from sitewatch.cli import main
from sitewatch.store import ColumnRow, LinkRow, ListItemRow, PageRow, Store, TargetRow


def detail_counts(store: Store, scan_id: int) -> tuple[int, ...]:
    return tuple(store.count(t, scan_id) for t in (LinkRow, PageRow, TargetRow, ColumnRow, ListItemRow))


def test_prune_keeps_the_latest_scans_of_each_site_whole_and_the_findings_of_all(tmp_path, capsys, store_db):
    db = store_db
    sqlite = "://" not in db
    store, ids = build_store(db)
    store.add_rows(LinkRow, ("scan_id", "page_url", "target", "tag", "text"),
                   [(ids[0], f"{ROOT}p{i}.html", f"{ROOT}t{i}.html", "a", "链接") for i in range(5000)])
    other = store.new_scan("东区", ["http://127.0.0.2/"], dt.date(2026, 9, 1), {})
    store.add(PageRow, scan_id=other, url="http://127.0.0.2/", status=200, title="东区首页")
    store.finish_scan(other, "completed", {"pages": 1})
    stopped = store.new_scan(SITE, [ROOT], dt.date(2026, 12, 1), {})         # interrupted: must stay resumable
    store.add(PageRow, scan_id=stopped, url=ROOT, status=200, title="西区首页")
    store.finish_scan(stopped, "interrupted", {"pages": 1})
    findings = {i: store.findings(i) for i in ids}
    kept = detail_counts(store, ids[2])
    store.engine.dispose()

    assert main(["prune", "--db", db, "--keep", "1", "--dry-run"]) == 0
    assert "would delete the details of 2 scan(s) (1, 2): 5,002 links, 6 pages, 2 targets" in capsys.readouterr().out
    assert store.count(LinkRow, ids[0]) == 5001

    assert main(["prune", "--db", db, "--keep", "1", "--vacuum"]) == 0
    out = capsys.readouterr().out
    assert "deleted the details of 2 scan(s) (1, 2)" in out
    if sqlite:
        before, after = (float(x) for x in re.search(r"database file ([\d.]+) MB -> ([\d.]+) MB", out).groups())
        assert after < before and after * 1e6 == pytest.approx(os.path.getsize(db), abs=1e5)
    store = Store(db)
    for i in ids[:2]:
        assert detail_counts(store, i) == (0, 0, 0, 2, 2)                    # columns and list items stay
        assert store.scan(i).stats["details_pruned"] == dt.date.today().isoformat()
        assert store.scan(i).stats["pages"] == 3
    assert detail_counts(store, ids[2]) == kept
    assert {i: store.findings(i) for i in ids} == findings
    assert store.count(PageRow, other) == 1 and store.count(PageRow, stopped) == 1

    assert main(["prune", "--db", db, "--keep", "1"]) == 0
    assert "nothing to delete" in capsys.readouterr().out
    out_dir = tmp_path / "out"
    assert main(["report", "--db", db, "--scan", str(ids[0]), "--out", str(out_dir)]) == 0
    assert any(p.suffix == ".html" for p in out_dir.iterdir())


def test_spotcheck_of_a_pruned_scan_says_so_and_prune_refuses_bad_input(tmp_path, capsys):
    db = str(tmp_path / "sw.db")
    _, ids = build_store(db)
    assert main(["prune", "--db", db, "--keep", "2"]) == 0
    capsys.readouterr()
    assert main(["spotcheck", "--db", db, "--scan", str(ids[0]), "--sample", "2", "--seed", "1",
                 "--out", str(tmp_path / "o")]) == 2
    assert f"pages of scan {ids[0]} were deleted by `sitewatch prune`" in capsys.readouterr().err
    assert main(["spotcheck", "--db", db, "--scan", str(ids[0]), "--sample", "2", "--seed", "1", "--pages", "0",
                 "--out", str(tmp_path / "o")]) == 0
    for argv in (["prune", "--db", db, "--keep", "0"], ["prune", "--db", str(tmp_path / "none.db")],
                 ["prune", "--db", db, "--site", "东区"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("sitewatch: error: prune:") and err.count("\n") == 1
