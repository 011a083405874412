"""Spot-check: same seed ⇒ same sample, every rule and column represented, checklist files with empty verdicts."""

from __future__ import annotations

from openpyxl import load_workbook
from test_reports import EVIL, ROOT, build_store

from sitewatch.cli import main
from sitewatch.models import WARN, Finding
from sitewatch.spotcheck import sample, stratified_sample
from sitewatch.store import PageRow


def many_findings() -> list[Finding]:
    out = []
    for i in range(30):
        out.append(Finding("link.broken", "deduct", f"{ROOT}l{i}.html", "链接无法访问"))
    for col in ("工作动态", "通知公告", "政策文件"):
        for i in range(3):
            out.append(Finding("column.stale", WARN, f"{ROOT}{col}/{i}/", "栏目不更新",
                               extra={"column": f"{col}{i}", "max_age_days": 14}))
    out.append(Finding("column.blank", WARN, f"{ROOT}blank/", "空白栏目", extra={"column": "空白栏"}))
    return out


def test_same_seed_same_sample_any_input_order():
    items = many_findings()

    def strata(f):
        return [f"rule:{f.rule}"] + ([f"column:{f.extra['column']}"] if f.extra.get("column") else [])

    a = stratified_sample(items, 8, 42, strata, lambda f: f.fingerprint)
    b = stratified_sample(list(reversed(items)), 8, 42, strata, lambda f: f.fingerprint)
    c = stratified_sample(items, 8, 43, strata, lambda f: f.fingerprint)
    assert [f.fingerprint for f in a] == [f.fingerprint for f in b]
    assert [f.fingerprint for f in a] != [f.fingerprint for f in c]
    assert len(a) == 8 and len({f.fingerprint for f in a}) == 8


def test_every_rule_then_every_column():
    items = many_findings()

    def strata(f):
        return [f"rule:{f.rule}"] + ([f"column:{f.extra['column']}"] if f.extra.get("column") else [])

    for seed in range(20):
        small = stratified_sample(items, 3, seed, strata, lambda f: f.fingerprint)
        assert {f.rule for f in small} == {"link.broken", "column.stale", "column.blank"}
        big = stratified_sample(items, 12, seed, strata, lambda f: f.fingerprint)
        assert {f.extra.get("column") for f in big} >= {f.extra["column"] for f in items if f.extra.get("column")}
    assert stratified_sample(items, 100, 1, strata, lambda f: f.fingerprint).__len__() == len(items)
    assert stratified_sample(items, 0, 1, strata, lambda f: f.fingerprint) == []


def test_sample_from_store_pages_stratified(tmp_path):
    store, ids = build_store(str(tmp_path / "s.db"))
    for i in range(10):
        store.add(PageRow, scan_id=ids[2], url=f"{ROOT}zwgk/{i}.html", status=200, title=f"公开{i}")
    store.flush()
    rows = sample(store, store.scan(ids[2]), 4, 7, pages=3)
    findings = [r for r in rows if r["kind"] == "问题"]
    pages = [r for r in rows if r["kind"] == "页面"]
    assert len(findings) == 4 and len(pages) == 3
    assert len({r["rule"] for r in findings}) == 4                # 4 of the 6 rules, none twice
    assert {r["stratum"] for r in pages} == {"/", "/col/", "/zwgk/"}
    assert rows == sample(store, store.scan(ids[2]), 4, 7, pages=3)
    assert all(r["assessment"] == "" and r["remark"] == "" for r in rows)


def test_spotcheck_cli_files(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    store, ids = build_store(db)
    out = tmp_path / "out"
    assert main(["spotcheck", "--sample", "6", "--seed", "3", "--db", db, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    html_path = out / "抽查表-西区-2026-11-26-seed3.html"
    assert str(html_path) in printed and "6 findings, 3 pages" in printed
    html = html_path.read_text(encoding="utf-8")
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "核查结论" in html and "备注" in html and html.count('data-kind="问题"') == 6
    ws = load_workbook(out / "抽查表-西区-2026-11-26-seed3.xlsx").active
    header = [c.value for c in ws[1]]
    assert header[-3:-1] == ["核查结论", "备注"] and ws.column_dimensions["J"].hidden     # then the hidden row key
    body = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(body) == 9 and all(r[-3] in (None, "") and r[-2] in (None, "") for r in body)
    assert EVIL in {r[4] for r in body}                              # the hostile page title, as text
    rules = {r[2].split("／")[0] for r in body if r[1] == "问题"}
    assert len(rules) == 6                                            # six rules in the scan, one each
    # reproducible through the CLI too
    assert main(["spotcheck", "--sample", "6", "--seed", "3", "--db", db, "--out", str(tmp_path / "again")]) == 0
    again = list(load_workbook(tmp_path / "again" / "抽查表-西区-2026-11-26-seed3.xlsx").active.iter_rows(values_only=True))
    assert again[1:] == body


def test_spotcheck_bad_scan_exits_2(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    build_store(db)
    assert main(["spotcheck", "--sample", "3", "--seed", "1", "--scan", "77", "--db", db]) == 2
    assert "no scan with id 77" in capsys.readouterr().err
    assert main(["spotcheck", "--sample", "3", "--db", db]) == 2
    assert "--seed" in capsys.readouterr().err
