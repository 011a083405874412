"""Rule packs: loading, validation errors, overrides, catalogue."""

import io
from pathlib import Path

import pytest

from sitewatch.errors import ConfigError
from sitewatch.packs import PROVENANCES, SEVERITIES, load_rules, print_rules, render_catalogue
from sitewatch.resources import data_dir

ROOT = Path(__file__).resolve().parents[1]

PUBLIC_IDS = {
    "link.broken", "homepage.stale", "column.stale", "column.long_stale", "column.blank",
    "disclosure.missing", "disclosure.late", "availability.down",
    "veto.columns_stale", "veto.columns_long_stale", "veto.columns_blank",
}
ITEM_IDS = {"budget", "budget_three_public", "final_accounts", "final_accounts_three_public",
            "annual_report", "disclosure_guide", "policy_interpretation"}

GOOD_RULE = """
[pack]
document = "测试文件"
title = "测试"

[[rules]]
id = "local.test"
name_zh = "测试规则"
measures = "a test"
severity = "warn"
source = "测试第一条"
provenance = "P"
threshold = { days = 3 }
"""


def write(tmp_path: Path, text: str, name: str = "local.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_packs_define_the_public_rule_ids_and_items():
    rs = load_rules()
    ids = {r.id for r in rs.rules}
    assert PUBLIC_IDS <= ids
    assert ITEM_IDS == {i.id for i in rs.items}
    for rule in rs.rules:
        assert rule.provenance in PROVENANCES and rule.severity in SEVERITIES and rule.source and rule.name_zh
    for item in rs.items:
        assert item.provenance in PROVENANCES and item.keywords


def test_verified_thresholds_are_the_defaults():
    rs = load_rules()
    assert rs.threshold("homepage.stale", "max_age_days") == 14
    assert rs.threshold("column.stale", "dynamic_days") == 14
    assert rs.threshold("column.stale", "notice_days") == 183
    assert rs.threshold("column.long_stale", "yearly_days") == 365
    assert rs.threshold("veto.columns_stale", "min_columns") == 5
    assert rs.threshold("veto.columns_long_stale", "min_columns") == 10
    assert rs.threshold("veto.columns_blank", "min_columns") == 5
    assert rs.threshold("availability.down", "fail_share") == 0.05
    assert rs.get("homepage.stale").severity == "veto"
    assert rs.get("link.broken").points == 0.1
    assert {c.name: c.window_days for c in rs.categories().values()} == {"dynamic": 14, "notice": 183, "yearly": 365}


def test_extra_pack_adds_rules(tmp_path):
    rs = load_rules([write(tmp_path, GOOD_RULE)])
    assert rs.get("local.test").threshold == {"days": 3}
    assert rs.get("local.test").pack == "local"


@pytest.mark.parametrize("text, key", [
    (GOOD_RULE.replace('severity = "warn"', 'severity = "fatal"'), "rules.local.test.severity"),
    (GOOD_RULE.replace('provenance = "P"', 'provenance = "X"'), "rules.local.test.provenance"),
    (GOOD_RULE.replace("days = 3", 'days = "three"'), "rules.local.test.threshold.days"),
    (GOOD_RULE.replace('name_zh = "测试规则"\n', ""), "rules.local.test.name_zh"),
    (GOOD_RULE.replace('id = "local.test"', 'id = "Local Test"'), "rules.Local Test.id"),
    (GOOD_RULE.replace('severity = "warn"', 'severity = "deduct"'), "rules.local.test.points"),
    (GOOD_RULE + 'colour = "red"\n', "rules.local.test.colour"),
    (GOOD_RULE.replace('title = "测试"\n', ""), "pack.title"),
    (GOOD_RULE.replace('id = "local.test"', 'id = "column.stale"'), "rules.id"),
    (GOOD_RULE + "\n[[items]]\nid = \"x\"\nname_zh = \"x\"\nkind = \"annual\"\nkeywords = [\"x\"]\n"
     "source = \"x\"\nprovenance = \"V\"\n", "items.x.due"),
    ("[pack\ndocument = 1", "invalid TOML"),
])
def test_bad_pack_is_a_one_line_error_naming_file_and_key(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_rules([path])
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(str(path) + ": ")
    assert key in message


def test_overrides_change_values_and_are_validated():
    rs = load_rules(overrides={
        "column.stale": {"threshold": {"dynamic_days": 21}, "keywords": {"dynamic": ["镇街要闻"]}},
        "link.broken": {"severity": "warn"},
        "availability.down": {"enabled": False},
        "items": {"budget": {"due": "04-15", "enabled": False}},
    })
    assert rs.threshold("column.stale", "dynamic_days") == 21
    assert rs.categories()["dynamic"].window_days == 21
    assert rs.keywords("column.stale", "dynamic") == ("镇街要闻",)
    assert rs.severity("link.broken") == "warn"
    assert not rs.enabled("availability.down")
    assert rs.item("budget").due == (4, 15) and not rs.item("budget").enabled
    assert load_rules().threshold("column.stale", "dynamic_days") == 14


@pytest.mark.parametrize("overrides, key", [
    ({"column.stalee": {}}, "column.stalee"),
    ({"column.stale": {"threshold": {"dynamic_dayz": 3}}}, "column.stale.threshold.dynamic_dayz"),
    ({"column.stale": {"threshold": {"dynamic_days": "x"}}}, "column.stale.threshold.dynamic_days"),
    ({"column.stale": {"severity": "bad"}}, "column.stale.severity"),
    ({"column.stale": {"keywords": {"weekly": ["周报"]}}}, "column.stale.threshold.weekly_days"),
    ({"column.blank": {"severity": "deduct"}}, "column.blank.points"),
    ({"items": {"budgte": {}}}, "items.budgte"),
    ({"items": {"budget": {"due": "3/31"}}}, "items.budget.due"),
])
def test_bad_override_is_a_one_line_error(overrides, key):
    with pytest.raises(ConfigError) as exc:
        load_rules(overrides=overrides)
    assert "\n" not in str(exc.value) and key in str(exc.value)


def test_print_rules_table_and_markdown():
    rs = load_rules()
    out = io.StringIO()
    print_rules(rs, markdown=False, file=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:3] == ["id", "severity", "prov"]
    assert any(line.startswith("homepage.stale") and "max_age_days=14" in line for line in lines)
    md = io.StringIO()
    print_rules(rs, markdown=True, file=md)
    assert md.getvalue() == render_catalogue(rs)


def test_catalogue_shows_overridden_values():
    rs = load_rules(overrides={"column.stale": {"threshold": {"dynamic_days": 21}}})
    assert "dynamic_days=21" in render_catalogue(rs)


def test_committed_catalogue_is_current():
    committed = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert committed == render_catalogue(load_rules()), (
        "docs/rules.md is stale: regenerate with `python -m sitewatch.packs --markdown > docs/rules.md`")


def test_packs_are_found_in_the_checkout():
    assert (data_dir("checks") / "gb-2019-19.toml").is_file()
