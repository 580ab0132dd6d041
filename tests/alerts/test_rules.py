"""The alert rules file is reviewed and validated on load, like the catalog."""

from __future__ import annotations

import pytest
import yaml

from orchestration.lib.alerts.rules import (
    DEFAULT_RULES_PATH,
    AlertRulesError,
    load_rules,
    parse_rules,
)
from tests.support.alert_rules import TEST_MARTS, rules_data


def refused(data, match: str) -> str:
    with pytest.raises(AlertRulesError, match=match) as info:
        parse_rules(data, TEST_MARTS)
    return str(info.value)


def test_the_repositorys_rules_load_against_the_dbt_manifest(dbt_manifest_path):
    ruleset = load_rules(DEFAULT_RULES_PATH, dbt_manifest_path)
    assert len(ruleset.rules) >= 9
    kinds = {r.mart for r in ruleset.rules.values()}
    assert {"fct_liquidity_pillars_daily", "fct_margin_events", "fct_net_liquidity_daily"} <= kinds


def test_a_valid_rule_parses():
    rule = parse_rules(rules_data(), TEST_MARTS).rules["score_high"]
    assert rule.entered(70) and not rule.entered(69.9)
    assert rule.exited(60) and not rule.exited(60.1)


@pytest.mark.parametrize(
    ("direction", "enter", "exit_"),
    [("above", 60, 70), ("above", 70, 70), ("below", -300, -400), ("below", -300, -300)],
)
def test_exit_beyond_or_at_enter_is_refused(direction, enter, exit_):
    text = refused(rules_data(direction=direction, enter=enter, exit=exit_), "hysteresis")
    assert f"exit {exit_}" in text and "score_high" in text


@pytest.mark.parametrize("level", [float("nan"), float("inf"), "high", None])
def test_levels_must_be_finite_numbers(level):
    refused(rules_data(enter=level), "enter")


def test_levels_a_metric_can_never_reach_are_refused():
    bool_rule = rules_data(metric={"column": "flag"}, enter=2, exit=0)
    refused(bool_rule, r"boolean .* within 0\.\.1")
    refused(rules_data(metric={"count_true": ["flag", "other_flag"]}, enter=3, exit=0), "can reach")
    mapped = {"column": "regime", "levels": {"calm": 0, "stress": 2}}
    refused(rules_data(metric=mapped, enter=2, exit=-1), "could never clear")
    # an event mart whose quiet days sit between the levels would never clear
    refused(rules_data(between_events=65, date_column="date"), "between_events")


def test_unknown_mart_and_columns_are_refused_with_the_rule_named():
    refused(
        rules_data(mart="fct_nowhere_daily"),
        r"rules\.score_high\.mart: no mart 'fct_nowhere_daily'",
    )
    refused(rules_data(metric={"column": "scroe"}), "metric column 'scroe' is not a column")
    refused(rules_data(where={"assett": "sp500"}), "where column 'assett'")
    refused(rules_data(detail="nope"), "detail column 'nope'")
    refused(rules_data(date_column="score"), "is not a DATE")
    refused(rules_data(metric={"column": "regime"}), "give levels")
    refused(rules_data(metric={"count_items": "score"}), "not a text column")


def test_identifiers_that_could_inject_sql_are_refused():
    refused(rules_data(mart='fct_x"; DROP TABLE y; --'), "must match")
    refused(rules_data(metric={"column": "score OR 1=1"}), "must match")


def test_templates_may_only_use_the_documented_fields():
    refused(rules_data(message="{value.__class__.__mro__}"), "not one of")
    refused(rules_data(message="{secret}"), "not one of")
    refused(rules_data(recovery="{detail:.1f}"), "does not render")
    refused(rules_data(message="{value!r}"), "no conversions")


def test_unknown_and_missing_keys_are_refused():
    refused(rules_data(cooldown="5d"), "cooldown")
    refused(rules_data(cooldown_days=None), "cooldown_days")
    refused({"rules": {}}, "no rule")
    refused({"rulez": {}}, "rules")


def test_duplicate_keys_aliases_and_oversize_files_are_refused(tmp_path, dbt_manifest_path):
    text = yaml.safe_dump(rules_data(), sort_keys=False)
    twice = text.replace("    enter: 70\n", "    enter: 70\n    enter: 50\n")
    assert twice != text
    path = tmp_path / "alerts.yaml"
    path.write_text(twice)
    load_rules.cache_clear()
    with pytest.raises(
        AlertRulesError,
        match=r"\[rules/enter\] .* line 10: duplicate key 'enter' \(first on line 9\)",
    ):
        load_rules(path, dbt_manifest_path)
    path.write_text("rules:\n  a: &x {title: t}\n  b: *x\n")
    with pytest.raises(AlertRulesError, match="anchors are not allowed"):
        load_rules(path, dbt_manifest_path)
    path.write_text("rules: {}\n" + "#" * 300_000)
    with pytest.raises(AlertRulesError, match="larger than"):
        load_rules(path, dbt_manifest_path)


def test_validation_errors_never_quote_the_file(tmp_path, dbt_manifest_path):
    secret_like = "hooks.slack.com/services/T0/B0/abcdef"
    data = rules_data(title=secret_like * 10)  # too long: refused
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump(data))
    load_rules.cache_clear()
    with pytest.raises(AlertRulesError) as info:
        load_rules(path, dbt_manifest_path)
    assert "title" in str(info.value) and secret_like not in str(info.value)
