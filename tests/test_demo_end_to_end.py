"""The bundled demo portal scanned end to end: every planted problem is found and nothing else."""

import json

import pytest

from sitewatch.cli import main
from sitewatch.demo.run import scan_demo_month, verify
from sitewatch.store import Store


@pytest.fixture(scope="module")
def demo_month(tmp_path_factory):
    """One scan of the current simulated month, read by the tests below (its slow-page timeout alone takes ~4 s)."""
    return scan_demo_month(Store(tmp_path_factory.mktemp("demo") / "demo.db"))


def test_demo_month_findings_match_the_planted_problems(demo_month):
    result, expected = demo_month
    ok, lines = verify(expected, result.findings)
    assert ok, "\n".join(lines)
    assert result.status == "completed"
    rules = {f.rule for f in result.findings}
    assert {"link.broken", "column.stale", "column.long_stale", "column.blank",
            "disclosure.missing", "disclosure.late"} <= rules
    broken = [f for f in result.findings if f.rule == "link.broken"]
    assert len(broken) == len(expected["broken"])
    assert all(f.found_on for f in broken)


def test_verify_catches_a_missed_and_an_extra_link(demo_month):
    result, expected = demo_month
    links = [f for f in result.findings if f.rule == "link.broken"]
    others = [f for f in result.findings if f.rule != "link.broken"]
    ok, lines = verify(expected, links[1:] + others)
    assert not ok and any("MISSED" in line for line in lines)


def test_demo_command_writes_findings_json(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["demo", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    doc = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    assert doc["schema"] == "sitewatch.findings/1"
    assert "14 planted, 14 reported, 0 reported but not planted" in printed
