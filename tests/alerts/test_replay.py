"""The one evaluation: hysteresis, cool-down and recovery on hand-made series."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd

from orchestration.lib.alerts.evaluate import RuleSeries, _to_series, replay
from tests.support.alert_rules import RULE_ID, score_rules

START = date(2026, 1, 1)


def make_rule(**changes):
    return score_rules(**changes).rules[RULE_ID]


def series(values, start=START) -> RuleSeries:
    dates = [start + timedelta(days=i) for i in range(len(values))]
    return RuleSeries(
        dates, [math.nan if v is None else float(v) for v in values], [None] * len(values)
    )


def spans(episodes):
    return [
        ((e.fired_date - START).days, e.cleared_date and (e.cleared_date - START).days)
        for e in episodes
    ]


def test_a_value_hovering_at_the_enter_level_fires_once():
    hovering = [69.9, 70.1, 69.8, 70.2, 69.95, 70.0, 65, 61, 70.5, 62]
    episodes = replay(make_rule(), series(hovering))
    assert spans(episodes) == [(1, None)]  # never back to 60: one alert, still open
    assert episodes[0].peak_value == 70.5


def test_without_hysteresis_the_same_values_would_flip_four_times():
    # the same hovering values with exit just under enter: every dip is a recovery
    episodes = replay(make_rule(exit=69.99), series([69.9, 70.1, 69.8, 70.2, 69.95, 70.0]))
    assert len(episodes) == 3


def test_recovery_waits_for_the_cool_down_and_a_reentry_continues_the_alert():
    rule = make_rule(cooldown_days=3)
    values = [50, 72, 59, 58, 71, 55, 55, 55, 55, 50, 72]
    episodes = replay(rule, series(values))
    # fired day 1; back past exit day 2; re-entered day 4 (within 3 days): same alert;
    # back past exit day 5; clear 3 days later (day 8); day 10 is a new alert
    assert spans(episodes) == [(1, 8), (10, None)]
    first = episodes[0]
    assert first.reentries == 1 and first.exit_date == START + timedelta(days=5)
    assert first.clear_value == 55


def test_unknown_values_hold_the_state():
    episodes = replay(make_rule(), series([75, None, None, 65, None, 55]))
    assert spans(episodes) == [(0, 5)]
    # a NULL day is not "back below exit": the cool-down counts from a real value
    episodes = replay(make_rule(cooldown_days=2), series([75, 55, None, None, None]))
    assert spans(episodes) == [(0, 3)]


def test_direction_below_mirrors_the_levels():
    rule = make_rule(direction="below", enter=-350, exit=-100)
    episodes = replay(rule, series([0, -349, -351, -200, -101, -400, -100, -20]))
    assert spans(episodes) == [(2, 6)]
    assert episodes[0].peak_value == -400


def test_event_marts_are_spread_over_calendar_days_and_the_largest_event_of_a_day_counts():
    rule = make_rule(
        metric={"column": "score"},
        between_events=0,
        enter=15,
        exit=0,
        cooldown_days=5,
        detail="product",
    )
    events = pd.DataFrame(
        {
            "d": [date(2026, 1, 2), date(2026, 1, 2), date(2026, 1, 5), date(2026, 1, 20)],
            "v": [10.0, 20.0, 16.0, 30.0],
            "detail": ["GC", "SI", "GC", "SI"],
        }
    )
    built = _to_series(rule, events, as_of=date(2026, 1, 31))
    assert built.dates[0] == date(2026, 1, 2) and built.dates[-1] == date(2026, 1, 31)
    assert len(built.dates) == 30 and built.values[1] == 0.0
    assert built.details[0] == "SI" and built.values[0] == 20.0
    episodes = replay(rule, built)
    # 01-02 fires (SI 20 %), 01-05 re-enters within the cool-down, clears 5 days after 01-06;
    # 01-20 fires again and clears after 01-21 + 5
    got = [(e.fired_date.day, e.cleared_date.day, e.fire_detail, e.reentries) for e in episodes]
    assert got == [(2, 11, "SI", 1), (20, 26, "SI", 0)]


def test_rolling_sums_count_flagged_rows():
    flags = pd.DataFrame(
        {
            "d": [START + timedelta(days=i) for i in range(8)],
            "v": [1.0, 0.0, 0.0, 1.0, 0.0, math.nan, 0.0, 0.0],
            "detail": [None] * 8,
        }
    )
    rule = make_rule(metric={"column": "score", "rolling_sum": 3}, enter=2, exit=0)
    built = _to_series(rule, flags, None)
    assert built.values == [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
