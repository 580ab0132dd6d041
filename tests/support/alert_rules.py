"""A one-rule alert rules file over a test mart, for the alert tests."""

from __future__ import annotations

import copy

from orchestration.lib.alerts.rules import RuleSet, parse_rules

TEST_MART = "fct_test_daily"
# The test mart's contract, as the dbt manifest would give it.
TEST_MARTS = {
    TEST_MART: {
        "date": "date",
        "score": "double",
        "flag": "boolean",
        "other_flag": "boolean",
        "regime": "varchar",
        "stale_inputs": "varchar",
        "asset": "varchar",
        "product": "varchar",
    }
}
RULE_ID = "score_high"
SCORE_RULE = {
    "title": "Score high",
    "why": "test",
    "mart": TEST_MART,
    "metric": {"column": "score"},
    "direction": "above",
    "enter": 70,
    "exit": 60,
    "cooldown_days": 0,
    "message": "{title}: {value:.1f} on {date}",
    "recovery": "{title} back to {value:.1f} after {days} days",
}


def rules_data(**changes) -> dict:
    """The rules file's mapping with SCORE_RULE changed (a None value removes the key)."""
    rule = copy.deepcopy(SCORE_RULE)
    for key, value in changes.items():
        if value is None:
            rule.pop(key, None)
        else:
            rule[key] = value
    return {"rules": {RULE_ID: rule}}


def score_rules(**changes) -> RuleSet:
    return parse_rules(rules_data(**changes), TEST_MARTS)
