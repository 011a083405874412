"""Bad input gets one clear line (what and where) and exit 2 before any work starts, and nothing is stored.

Each case is a mistake a user made: a typo inside a known section, an impossible date, an endless timeout,
an output path that cannot be written."""

from __future__ import annotations

import sqlite3

import pytest
from loopback import Answer, LoopbackSite, page

from sitewatch.cli import main
from sitewatch.config import load_config

GOOD = """
[site]
name = "西区办事处"
start_urls = ["{url}"]
unit = "党政办"

[scope]
prefixes = ["/xqbsc/"]

[politeness]
concurrency = 2
rate = 0

[columns."工作动态"]
unit = "综合办"

[disclosures.approvals.budget]
2026 = 2026-02-10
"""

TYPOS = [
    ('[columns."工作动态"]\nunit = "综合办"', '[columns."工作动态"]\nunti = "综合办"', "columns.工作动态.unti", "'unit'"),
    ('prefixes = ["/xqbsc/"]', 'prefixs = ["/xqbsc/"]', "scope.prefixs", "'prefixes'"),
    ("concurrency = 2", "concurency = 2", "politeness.concurency", "'concurrency'"),
    ('prefixes = ["/xqbsc/"]', 'exclude = ["/xqbsc/old/"]', "scope.exclude", "'excludes'"),
    ("[disclosures.approvals.budget]", "[disclosures.approvals.budgt]", "disclosures.approvals.budgt", "'budget'"),
    ("2026 = 2026-02-10", '2026 = "2026-02-30"', "disclosures.approvals.budget.2026", "2026-02-30"),
    ("rate = 0", "rate = inf", "rate", "finite"),
    ("concurrency = 2", "concurrency = 2\ntimeout = nan", "timeout", "timeout"),
    ("[scope]", "[scopes]", "scopes", "[scope]"),
]


@pytest.fixture
def site():
    with LoopbackSite({"/xqbsc/": Answer(body=page("西区", "首页"))}) as s:
        yield s


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def scans_in(db) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as c:
        return c.execute("select count(*) from scans").fetchone()[0]


def test_good_config_loads(tmp_path, site):
    path = tmp_path / "site.toml"
    path.write_text(GOOD.format(url=site.url("/xqbsc/")), encoding="utf-8")
    cfg = load_config(path)
    assert cfg.disclosures["approvals"]["budget"]["2026"] == "2026-02-10"


@pytest.mark.parametrize("old,new,where,hint", TYPOS, ids=[t[2] for t in TYPOS])
def test_config_mistakes_are_one_line_exit_2_and_store_nothing(old, new, where, hint, tmp_path, site, capsys):
    text = GOOD.format(url=site.url("/xqbsc/"))
    assert old in text
    path = tmp_path / "site.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    db = tmp_path / "sw.db"
    code, err = run(capsys, "scan", "--config", str(path), "--db", str(db), "--quiet")
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and where in err and hint in err, err
    assert str(path) in err
    assert scans_in(db) == 0
    assert site.requests == {} or all(p == "/robots.txt" for _, p in site.requests)


def test_config_with_a_bom_is_read(tmp_path, site):
    path = tmp_path / "site.toml"
    path.write_bytes("\ufeff".encode() + GOOD.format(url=site.url("/xqbsc/")).encode("utf-8"))
    assert load_config(path).name == "西区办事处"


@pytest.mark.parametrize("argv,where", [
    (["--timeout", "inf"], "timeout"),
    (["--timeout", "0"], "timeout"),
    (["--rate", "nan"], "rate"),
    (["--concurrency", "0"], "concurrency"),
    (["--json", "{missing}/out.json"], "--json"),
    (["--json", "{tmp}"], "--json"),
    (["--config", "{tmp}"], "is a folder"),
])
def test_bad_flags_fail_before_any_request(argv, where, tmp_path, site, capsys):
    argv = [a.format(missing=tmp_path / "nope", tmp=tmp_path) for a in argv]
    db = tmp_path / "sw.db"
    code, err = run(capsys, "scan", site.url("/xqbsc/"), "--db", str(db), "--quiet", *argv)
    assert code == 2 and where in err and len(err.strip().splitlines()) == 1, err
    assert scans_in(db) == 0 and not site.requests


def test_report_out_on_an_existing_file_is_refused(tmp_path, site, capsys):
    db = tmp_path / "sw.db"
    assert main(["scan", site.url("/xqbsc/"), "--db", str(db), "--quiet", "--rate", "0"]) in (0, 3)
    target = tmp_path / "reports.txt"
    target.write_text("keep me", encoding="utf-8")
    code, err = run(capsys, "report", "--db", str(db), "--out", str(target))
    assert code == 2 and "is a file" in err and target.read_text(encoding="utf-8") == "keep me"


def test_schedule_typo_is_caught_by_scan_too(tmp_path, site, capsys):
    path = tmp_path / "site.toml"
    path.write_text(GOOD.format(url=site.url("/xqbsc/")) + '\n[schedule]\nmonthy = "0 6 1 * *"\n', encoding="utf-8")
    code, err = run(capsys, "scan", "--config", str(path), "--db", str(tmp_path / "sw.db"), "--quiet")
    assert code == 2 and "schedule.monthy" in err and "'monthly'" in err


def test_every_accepted_key_is_in_the_config_reference():
    """docs/config.md is the one reference: every key the loader accepts is documented there."""
    from pathlib import Path

    from sitewatch.config import KNOWN_KEYS, SCHEDULE_KEYS

    doc = (Path(__file__).resolve().parents[1] / "docs" / "config.md").read_text(encoding="utf-8")
    for section, keys in KNOWN_KEYS.items():
        for key in keys:
            assert f"`{key}`" in doc, f"{section}.{key} is not documented in docs/config.md"
    for key in SCHEDULE_KEYS:
        assert f"`{key}`" in doc, f"schedule.{key} is not documented in docs/config.md"
