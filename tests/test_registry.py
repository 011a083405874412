"""The check registry and the packs hold each other: every pack rule has its check, every check its pack rule;
each rule id lives in one module; 整改 deadlines come from the packs only."""

import datetime as dt
import re
from pathlib import Path

import pytest

from sitewatch.errors import ConfigError
from sitewatch.packs import load_rules
from sitewatch.reporting.data import deadline_days, deadline_note
from sitewatch.rules import PAGE, PROBES, SITE, checks, owner, produced_ids
from sitewatch.rules.registry import RegisteredCheck

SRC = Path(__file__).resolve().parents[1] / "src" / "sitewatch"


def test_every_enabled_pack_rule_has_a_registered_check():
    rs = load_rules()
    orphans = [r.id for r in rs.rules if r.enabled and owner(r.id) is None]
    assert orphans == [], f"pack rules without a check: {orphans}"


def test_every_registered_rule_id_has_a_pack_rule():
    rs = load_rules()
    missing = [rule_id for rule_id in produced_ids() if not rs.has(rule_id)]
    assert missing == [], f"checks producing rule ids no pack defines: {missing}"


def test_dictionary_entries_and_aggregates_belong_to_their_family():
    # misstatement.* entries are data read by security.misstatement, never finding ids of their own
    entry = owner("misstatement.xi_thought")
    assert entry is not None and entry.reads == ("misstatement.",) and "security.misstatement" in entry.produces
    assert not any(r.startswith("misstatement.") for r in produced_ids())
    # the veto aggregates are produced by the check of the rules they aggregate
    columns = owner("veto.columns_stale")
    assert columns is owner("column.stale") and columns is not None and columns.stage == SITE
    services = owner("veto.service_guides")
    assert services is owner("service.guide_incomplete") and services is not None and services.stage == PAGE


def test_each_check_declares_its_stage_once():
    stages = {c.name: c.stage for c in checks()}
    assert set(stages.values()) == {PAGE, SITE, PROBES}
    assert owner("availability.down").stage == PROBES
    assert len(produced_ids()) == len(set(produced_ids()))        # one owner per rule id
    assert all(isinstance(c, RegisteredCheck) and c.produces for c in checks())


def _module_of(check: RegisteredCheck) -> Path:
    return SRC.joinpath(*check.name.split(".")[1:-1]).with_suffix(".py")


def test_rule_id_strings_appear_only_in_their_rule_module():
    """Other modules import the id constants. Allowed elsewhere: packs.py (the pack format names the column rules
    whose keyword tables are the column categories, and documents override examples) and the demo portal's
    planted-defect manifest (expected findings, like a test)."""
    rs = load_rules()
    ids = {r.id for r in rs.rules if not r.id.startswith("misstatement.")}
    allowed = {SRC / "packs.py"}
    stray = []
    for path in sorted(SRC.rglob("*.py")):
        if path in allowed or "demo" in path.relative_to(SRC).parts:
            continue
        text = path.read_text(encoding="utf-8")
        for rule_id in sorted(ids):
            if re.search(rf"[\"']{re.escape(rule_id)}[\"']", text):
                home = owner(rule_id)
                if home is None or _module_of(home) != path:
                    stray.append(f"{path.relative_to(SRC)}: {rule_id}")
    assert stray == []


def test_deadlines_come_from_the_packs():
    rs = load_rules()
    d = rs.deadlines
    assert (d.default, d.veto) == (15, 7)
    assert rs.deadline_days("availability.down") == 3                # its own
    assert rs.deadline_days("column.long_stale") == 30
    assert rs.deadline_days("homepage.stale") == d.veto              # a 单项否决 rule
    assert rs.deadline_days("interaction.unanswered") == d.veto      # severity veto: the note's 单项否决 days
    assert rs.deadline_days("veto.columns_blank") == d.veto
    assert rs.deadline_days("link.broken") == d.default
    assert rs.deadline_days("no.such_rule") == d.default


def test_report_deadlines_and_their_note_agree():
    rs = load_rules()
    note = deadline_note(rs)
    assert "单项否决 7 天" in note and note.endswith("其他 15 天") and "站点无法访问 3 天" in note
    assert not re.search(r"[a-z]+\.[a-z_]+", note)                   # Chinese names, no rule ids
    for rule in rs.rules:
        if rule.severity == "veto" and rule.deadline_days is None:
            assert deadline_days(rule.id, rs) == 7
    over = {"veto.*": 5, "link.broken": 2, "*": 20}
    assert deadline_days("service.none", rs, over) == 5
    assert deadline_days("link.broken", rs, over) == 2
    assert deadline_days("column.blank", rs, over) == 20
    note = deadline_note(rs, over)
    assert "链接" in note and "单项否决 5 天" in note and note.endswith("其他 20 天")


def test_deadline_overrides_and_validation(tmp_path):
    rs = load_rules(overrides={"column.stale": {"deadline_days": 9}})
    assert rs.deadline_days("column.stale") == 9
    with pytest.raises(ConfigError, match=r"column.stale.deadline_days: must be at least 1 day"):
        load_rules(overrides={"column.stale": {"deadline_days": 0}})
    twice = tmp_path / "local.toml"
    twice.write_text('[pack]\ndocument = "x"\ntitle = "x"\n\n[deadlines]\ndefault = 10\nveto = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"local.toml: deadlines: already defined in pack 'gb-2019-19'"):
        load_rules([twice])
    bad = tmp_path / "bad.toml"
    bad.write_text('[pack]\ndocument = "x"\ntitle = "x"\n\n[deadlines]\ndefault = 10\nlater = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.toml: deadlines.later: unknown key"):
        load_rules([bad])


def test_availability_thresholds_are_the_packs():
    from sitewatch.rules.availability import thresholds

    th = thresholds(load_rules(overrides={"availability.down": {"threshold": {"fail_share": 0.1}}}))
    assert (th.fail_share, th.probes_per_day, th.monitor_days) == (0.1, 20, 7)
    assert dt.timedelta(days=th.monitor_days) == dt.timedelta(weeks=1)
