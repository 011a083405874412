"""One source of numbers: the 整改报告 (HTML, XLSX, CSV), the 领导摘要, the 回头看, the findings JSON and
`sitewatch status` show the same counts for the same scans.

The demo's three simulated months are scanned once for the module (``sitewatch demo``: three full scans, then the
look-back of the second month's problems after the third scan, as a monthly cycle runs); every scan's report and
JSON are rendered, and each count they show is read back (the templates carry the counts in ``data-`` attributes;
each is also checked against the text it labels) and compared with ``reporting.numbers`` and with each other.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from sitewatch.cli import main
from sitewatch.demo.run import run_demo
from sitewatch.rectification import FIXED, NEW, OPEN, PENDING, RECURRED, STATUSES
from sitewatch.reporting.data import build_report, scan_numbers
from sitewatch.reporting.numbers import JSON_STATUS_KEYS, ROW_STATUSES, ScanNumbers, lookback_rectification
from sitewatch.reporting.write import write_report
from sitewatch.scan import findings_document
from sitewatch.store import Store

COUNT_KEYS = ("problems", "previous", "score", "deducted", *JSON_STATUS_KEYS.values(), "by-rule", "conclusion")
VOID = {"br", "img", "meta", "link", "input", "hr", "col", "wbr"}


class Counted(HTMLParser):
    """Every element carrying a count (``data-problems``, ``data-fixed`` …): its data attributes and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[dict[str, str], list[str]]] = []
        self.open: list[tuple[str, list[str] | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        data = {k[5:]: v or "" for k, v in attrs if k.startswith("data-")}
        text: list[str] | None = None
        if any(k in data for k in COUNT_KEYS):
            text = []
            self.found.append((data, text))
        self.open.append((tag, text))

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            if self.open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, text in self.open:
            if text is not None:
                text.append(data)


def counted(html: str) -> list[tuple[dict[str, str], str]]:
    parser = Counted()
    parser.feed(html)
    return [(data, "".join(text)) for data, text in parser.found]


def shown(html: str, key: str) -> list[str]:
    """Every value of ``data-<key>`` in the page, each checked to be printed in the element it labels."""
    out = []
    for data, text in counted(html):
        if key in data:
            value = data[key]
            if value and key in ("problems", "previous", "score"):
                assert re.search(rf"(?<![\d.]){re.escape(value)}(?![\d.])", text), (key, value, text)
            out.append(value)
    return out


def one(html: str, key: str) -> str:
    values = set(shown(html, key))
    assert len(values) == 1, (key, values)
    return values.pop()


def rect_shown(html: str) -> dict[str, int]:
    return {k: int(one(html, k)) for k in ("previous", *JSON_STATUS_KEYS.values())}


def rect_expected(n: ScanNumbers) -> dict[str, int]:
    r = n.rectification
    assert r is not None
    return {"previous": r.total, **{JSON_STATUS_KEYS[s]: c for s, c in r.counts.items()}}


def score_text(score: float | None) -> str:
    return "" if score is None else str(score)


def sheet_rows(ws: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Header and data rows of a table sheet (the header is the first row starting with 序号)."""
    rows = list(ws.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r and r[0] == "序号")
    return [str(h) for h in rows[at]], [r for r in rows[at + 1:] if any(v not in (None, "") for v in r)]


def column(header: list[str], rows: list[tuple[Any, ...]], name: str) -> list[Any]:
    i = header.index(name)
    return [r[i] for r in rows]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("numbers")
    with contextlib.redirect_stdout(io.StringIO()):
        run_demo(out / "demo")
        store = Store(out / "demo" / "sitewatch.db")
        scans = store.scans()
        assert len(scans) == 3
        reports: dict[int, Path] = {}
        for s in scans:
            reports[s.id] = out / f"scan{s.id}"
            write_report(store, s, reports[s.id])
        status = io.StringIO()
        with contextlib.redirect_stdout(status):
            assert main(["status", "--db", str(out / "demo" / "sitewatch.db")]) == 0
    [lookback] = store.scans(kind="lookback")
    return {"store": store, "scans": scans, "lookback": lookback, "reports": reports, "demo": out / "demo",
            "numbers": {s.id: scan_numbers(store, s) for s in scans},
            "json": {s.id: json.loads(json.dumps(findings_document(store, s.id), default=str)) for s in scans},
            "status": status.getvalue()}


def files(demo: dict[str, Any], scan_id: int, prefix: str, suffix: str) -> Path:
    [path] = demo["reports"][scan_id].glob(f"{prefix}-*{suffix}")
    return path


def test_the_numbers_are_the_findings(demo):
    """problems = findings = distinct fingerprints; by rule, severity and unit each add up to it; the JSON's
    summary and numbers are the computation's."""
    store = demo["store"]
    for s in demo["scans"]:
        n, doc = demo["numbers"][s.id], demo["json"][s.id]
        findings = store.findings(s.id)
        assert n.problems == len(findings) == len({f.fingerprint for f in findings}) > 30
        assert n.by_rule == dict(sorted(Counter(f.rule for f in findings).items())) == doc["summary"]
        for split in (n.by_rule, n.by_severity, n.by_unit, n.by_status):
            assert sum(split.values()) == n.problems
        assert sum(c for _, _, c in n.by_type) == n.problems
        assert doc["numbers"] == json.loads(json.dumps(n.to_json()))
        assert doc["numbers"]["problems"] == len(doc["findings"]) == sum(doc["summary"].values())


def test_rectification_adds_up(demo):
    """Of the previous scan's problems each has one status; the new ones are this scan's problems not in it."""
    store = demo["store"]
    first, *later = demo["scans"]
    assert demo["numbers"][first.id].rectification is None
    for prev, s in zip(demo["scans"], later, strict=False):
        r = demo["numbers"][s.id].rectification
        assert r is not None and r.baseline == prev.id
        before = {f.fingerprint for f in store.findings(prev.id)}
        now = {f.fingerprint for f in store.findings(s.id)}
        assert r.total == len(before)
        assert sum(1 for fp in before if r.statuses[fp] in (FIXED, OPEN, RECURRED, PENDING)) == r.total
        assert r.new + sum(1 for fp in now - before if r.statuses[fp] == RECURRED) == len(now - before)
        assert r.fixed == len(before - now)            # the look-back re-checks agree with the scan here
    # the last month's rectification is the look-back's, the one before it compared the two scans
    assert demo["numbers"][later[-1].id].rectification.lookback == demo["lookback"].id
    assert demo["numbers"][later[0].id].rectification.lookback is None


def test_rectification_report_shows_the_numbers(demo):
    for s in demo["scans"]:
        n = demo["numbers"][s.id]
        html = files(demo, s.id, "整改报告", ".html").read_text(encoding="utf-8")
        assert int(one(html, "problems")) == n.problems
        assert json.loads(one(html, "by-rule")) == n.by_rule
        text = re.sub(r"<[^>]+>", "", html.split("一、总体情况")[1].split("（一）")[0])
        for _, name, c in n.by_type:
            assert f"{name} {c} 个" in text
        assert one(html, "score") == score_text(n.score) and float(one(html, "deducted")) == n.deducted
        assert one(html, "conclusion") == n.conclusion
        if n.rectification is None:
            assert not shown(html, "previous")
        else:
            assert rect_shown(html) == rect_expected(n)


def test_rectification_tables_show_the_numbers(demo):
    for s in demo["scans"]:
        n = demo["numbers"][s.id]
        wb = load_workbook(files(demo, s.id, "整改报告", ".xlsx"))
        header, rows = sheet_rows(wb["问题清单"])
        assert len(rows) == n.problems
        assert Counter(column(header, rows, "规则编号")) == Counter(n.by_rule)
        assert Counter(column(header, rows, "责任科室")) == Counter(n.by_unit)
        statuses = Counter(column(header, rows, "监测状态"))     # the workbook's 整改状态 is the unit's own column
        assert {st: statuses.get(st, 0) for st in ROW_STATUSES} == n.by_status and sum(statuses.values()) == n.problems
        for unit, count in n.by_unit.items():
            assert len(sheet_rows(wb[unit])[1]) == count
        with files(demo, s.id, "整改报告", ".csv").open(encoding="utf-8-sig", newline="") as fh:
            table = list(csv.reader(fh))
        header, rows = table[0], [tuple(r) for r in table[1:]]
        assert len(rows) == n.problems
        assert Counter(column(header, rows, "规则编号")) == Counter(n.by_rule)
        statuses = Counter(column(header, rows, "整改状态"))
        assert {st: statuses.get(st, 0) for st in ROW_STATUSES} == n.by_status


def test_summary_shows_the_numbers(demo):
    for s in demo["scans"]:
        n = demo["numbers"][s.id]
        html = files(demo, s.id, "领导摘要", ".html").read_text(encoding="utf-8")
        assert int(one(html, "problems")) == n.problems
        assert one(html, "score") == score_text(n.score) and one(html, "conclusion") == n.conclusion
        r = n.rectification
        assert int(one(html, "fixed")) == (r.fixed if r else 0) and int(one(html, "previous")) == (r.total if r else 0)
        changes = re.sub(r"<[^>]+>", "", html.split("与上期相比")[-1])
        if r is None:
            continue
        m = re.search(r"上期 (\d+) 个问题中已整改 (\d+) 个、未整改 (\d+) 个", changes)
        assert m and tuple(map(int, m.groups())) == (r.total, r.fixed, r.open)
        m = re.search(r"新发现问题 (\d+) 个", changes)
        assert (int(m.group(1)) if m else 0) == r.new


def test_trend_shows_each_months_numbers(demo):
    """The 摘要's trend points are each month's own numbers, as that month's report showed them."""
    store, scans = demo["store"], demo["scans"]
    trend = build_report(store, scans[-1]).trend
    assert [p["id"] for p in trend] == [s.id for s in scans]
    for p in trend:
        n = demo["numbers"][p["id"]]
        assert (p["problems"], p["score"], p["vetoes"], p["conclusion"]) == (n.problems, n.score, n.vetoes,
                                                                              n.conclusion)


def test_lookback_shows_the_reports_numbers(demo):
    """The 回头看 of last month's problems and this month's 整改报告 and 摘要 say the same (the issue saw 40 vs 39
    problems, 已整改 3 vs 6)."""
    store, lb = demo["store"], demo["lookback"]
    current = demo["scans"][-1]
    n = demo["numbers"][current.id]
    rect = lookback_rectification(store, lb)
    assert rect == n.rectification
    [html_path] = demo["demo"].glob("回头看-*.html")
    html = html_path.read_text(encoding="utf-8")
    assert rect_shown(html) == rect_expected(n)
    assert int(one(html, "problems")) == n.problems
    report = files(demo, current.id, "整改报告", ".html").read_text(encoding="utf-8")
    summary = files(demo, current.id, "领导摘要", ".html").read_text(encoding="utf-8")
    assert rect_shown(report) == rect_shown(html)
    assert one(summary, "fixed") == one(html, "fixed") and one(summary, "previous") == one(html, "previous")
    assert one(report, "problems") == one(summary, "problems") == one(html, "problems")
    # its table: one row per problem of the baseline and per new one, each status as counted
    [xlsx] = demo["demo"].glob("回头看-*.xlsx")
    header, rows = sheet_rows(load_workbook(xlsx).active)
    got = Counter(column(header, rows, "复核结果"))
    assert {s: got.get(s, 0) for s in STATUSES} == rect.counts
    assert len(rows) == len(rect.statuses)
    # what it could not re-check, the scan after the baseline decided
    assert rect.pending == 0 and rect.counts[NEW] == n.rectification.new


def test_json_and_status_show_the_numbers(demo):
    current = demo["scans"][-1]
    n, doc = demo["numbers"][current.id], demo["json"][current.id]
    r = n.rectification
    assert doc["numbers"]["rectification"] == {**{k: v for k, v in rect_expected(n).items() if k != "previous"},
                                               "total": r.total, "baseline": r.baseline,
                                               "baseline_as_of": r.baseline_as_of.isoformat(),
                                               "compared_with": current.id, "lookback": demo["lookback"].id}
    out = demo["status"]
    m = re.search(r"latest audit: scan (\d+) \(as of ([\d-]+)\): problems (\d+) \(([^)]*)\); score ([\d.]+|-); "
                  r"conclusion (\S+)", out)
    assert m, out
    assert int(m.group(1)) == current.id and int(m.group(3)) == n.problems == len(doc["findings"])
    assert dict((k, int(v)) for k, v in (p.split() for p in m.group(4).split(", "))) == n.by_severity
    assert m.group(5) == (str(n.score) if n.score is not None else "-") and m.group(6) == n.conclusion
    m = re.search(rf"problems of scan {r.baseline} \((\d+), look-back {demo['lookback'].id}\): (.+)", out)
    assert m, out
    assert int(m.group(1)) == r.total
    assert dict((k, int(v)) for k, v in (p.split() for p in m.group(2).split(", "))) == r.counts
    # the look-back itself, the latest scan of the site, shows the same counts
    m = re.search(rf"look-back of scan {r.baseline}: (.+)", out)
    assert m and dict((k, int(v)) for k, v in (p.split() for p in m.group(1).split(", "))) == r.counts
