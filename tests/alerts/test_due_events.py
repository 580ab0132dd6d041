"""What is announced, given what was: first evaluations, gaps between runs, revised history."""

from __future__ import annotations

import math
from datetime import date, timedelta

from orchestration.lib.alerts.evaluate import Evaluation, RuleSeries, replay
from orchestration.lib.alerts.store import StoredState, due_events
from tests.support.alert_rules import RULE_ID, score_rules

RULE = score_rules(cooldown_days=2).rules[RULE_ID]
START = date(2026, 3, 2)


def day(i: int) -> date:
    return START + timedelta(days=i)


def evaluation(values) -> Evaluation:
    dates = [day(i) for i in range(len(values))]
    series = RuleSeries(
        dates, [math.nan if v is None else float(v) for v in values], [None] * len(values)
    )
    return Evaluation(RULE, series, replay(RULE, series))


def announced(events) -> list[tuple[str, int]]:
    return [(e.kind, (e.event_date - START).days) for e in events]


def test_a_first_evaluation_announces_only_what_is_active():
    history = [80, 50, 50, 50, 50, 75, 75]  # an alert that ended, then one still active
    assert announced(due_events(evaluation(history), None)) == [("fire", 5)]
    assert announced(due_events(evaluation(history[:5]), None)) == []


def test_alerts_that_came_and_went_between_two_runs_are_both_announced():
    state = StoredState(evaluated_through=day(1), open_fired_date=None)
    events = due_events(evaluation([50, 50, 80, 50, 50, 50, 50]), state)
    assert announced(events) == [("fire", 2), ("recovery", 5)]


def test_a_revised_start_date_does_not_announce_the_same_alert_again():
    # announced as firing on day 3; revised data now start it on day 2, or on day 4
    for values in ([50, 50, 80, 80, 80], [50, 50, 50, 50, 80]):
        state = StoredState(evaluated_through=day(4), open_fired_date=day(3))
        assert due_events(evaluation(values), state) == []


def test_an_announced_alert_that_a_revision_removed_is_recovered():
    state = StoredState(evaluated_through=day(3), open_fired_date=day(3))
    events = due_events(evaluation([50, 50, 50, 50, 55]), state)
    assert announced(events) == [("recovery", 4)]
    assert "back to 55.0" in events[0].text
