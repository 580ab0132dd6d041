"""The alert step on the real snapshot: its history and summary reproduced by an independent
pandas implementation, reruns that queue nothing, and the marts published with their contract.

The reproduction shares nothing with orchestration/lib/alerts but the rules' parameters: it
reads the marts with pandas, finds the hysteresis state by forward-filling enter/exit signals
(not a day-by-day state machine), merges runs closer than the cool-down, and computes the S&P 500
figures with pandas shifts and rolling windows.
"""

from __future__ import annotations

import shutil
from datetime import date

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.support.resources import crosswind_resources
from tests.support.snapshot import environment

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HORIZON, LEAD_WINDOW = 20, 90


@pytest.fixture(scope="module")
def alerted(snapshot_build, tmp_path_factory):
    """(warehouse dir, [first run, rerun]): the alert step run twice on a copy of the build."""
    from orchestration.defs.alerts.assets import alert_evaluation

    built, _ = snapshot_build
    folder = tmp_path_factory.mktemp("alerts") / "warehouse"
    shutil.copytree(built, folder)
    runs = []
    with environment(CROSSWIND_WAREHOUSE_DIR=str(folder), CROSSWIND_SOURCE="replay"):
        with dg.instance_for_test() as instance:
            for _ in range(2):
                runs.append(
                    dg.materialize(
                        [alert_evaluation], instance=instance, resources=crosswind_resources()
                    )
                )
    assert all(r.success for r in runs)
    return folder, runs


@pytest.fixture(scope="module")
def con(alerted):
    folder, _ = alerted
    connection = duckdb.connect(str(folder / "crosswind.duckdb"), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def rules():
    from orchestration.defs.alerts.assets import RULES

    return RULES


# --- the independent reproduction ----------------------------------------------------------------


def metric(con, rule, as_of: pd.Timestamp | None) -> pd.Series:
    frame = con.execute(f"SELECT * FROM marts.{rule.mart}").df()
    for column, wanted in rule.where.items():
        frame = frame[frame[column] == wanted]
    m = rule.metric
    if m.levels:
        values = frame[m.column].map(m.levels)
    elif m.count_true:
        flags = frame[list(m.count_true)]
        values = flags.fillna(False).astype(int).sum(axis=1).where(flags.notna().any(axis=1))
    elif m.count_items:
        values = frame[m.count_items].fillna("").map(lambda s: len(s.split(",")) if s else 0)
    else:
        values = frame[m.column].astype(float)
    index = pd.DatetimeIndex(pd.to_datetime(frame[rule.date_column]))
    series = pd.Series(values.to_numpy(dtype=float), index=index).dropna().groupby(level=0)
    series = series.max() if rule.direction == "above" else series.min()
    dates = index.unique().sort_values()
    series = series.reindex(dates)
    if rule.between_events is not None:
        end = max(dates.max(), as_of) if as_of is not None else dates.max()
        series = series.reindex(pd.date_range(dates.min(), end)).fillna(rule.between_events)
    if m.rolling_sum:
        series = series.rolling(m.rolling_sum, min_periods=1).sum()
    return series


def episodes(rule, series: pd.Series) -> list[dict]:
    up = rule.direction == "above"
    entered = series >= rule.enter if up else series <= rule.enter
    exited = series <= rule.exit if up else series >= rule.exit
    signal = pd.Series(np.where(entered, 1.0, np.where(exited, 0.0, np.nan)), series.index)
    active = signal.ffill().fillna(0).astype(bool)
    starts = list(series.index[active & ~active.shift(fill_value=False)])
    ends = list(series.index[~active & active.shift(fill_value=False)])
    cooldown = pd.Timedelta(days=rule.cooldown_days)
    dates = series.index
    found, i = [], 0
    while i < len(starts):
        first, runs = starts[i], 1
        while True:
            exit_day = ends[i] if i < len(ends) else None
            following = starts[i + 1] if i + 1 < len(starts) else None
            clear = None
            if exit_day is not None:
                window = dates[(dates >= exit_day) & (dates - exit_day >= cooldown)]
                if following is not None:
                    window = window[window < following]
                clear = window[0] if len(window) else None
            if clear is None and following is not None and exit_day is not None:
                i, runs = i + 1, runs + 1  # re-entered within the cool-down: same alert
                continue
            break
        span = series[(series.index >= first) & ((series.index < clear) if clear else True)]
        peak = span.max() if up else span.min()
        found.append({"fired": first, "cleared": clear, "runs": runs, "peak": peak})
        i += 1
    return found


def sp500(con) -> pd.DataFrame:
    frame = con.execute(
        "SELECT date, close FROM marts.fct_asset_returns_daily WHERE asset = 'sp500' "
        "AND close IS NOT NULL ORDER BY date"
    ).df()
    frame["date"] = pd.to_datetime(frame["date"])
    close = frame["close"]
    frame["ret"] = close.shift(-HORIZON) / close - 1
    ahead_min = close[::-1].rolling(HORIZON, min_periods=HORIZON).min()[::-1].shift(-1)
    frame["dd"] = (ahead_min / close - 1).clip(upper=0)
    return frame


def reproduce(con, rules) -> tuple[pd.DataFrame, pd.DataFrame]:
    daily = {r.id: metric(con, r, None) for r in rules.rules.values() if r.between_events is None}
    as_of = max(s.index.max() for s in daily.values())
    spx = sp500(con)
    bench = con.execute(
        "SELECT benchmark_index, episode_number, start_date FROM marts.fct_stress_episodes "
        "WHERE episode_kind = 'benchmark_top_decile'"
    ).df()
    bench["start_date"] = pd.to_datetime(bench["start_date"])
    history, summary = [], []
    for rule in rules.rules.values():
        series = daily.get(rule.id)
        if series is None:
            series = metric(con, rule, as_of)
        eps = episodes(rule, series)
        known = series.dropna()
        first, last = known.index.min(), known.index.max()
        for n, e in enumerate(eps, 1):
            base = spx[spx["date"] <= e["fired"]].tail(1)
            history.append(
                {
                    "rule_id": rule.id,
                    "episode_number": n,
                    "fired_date": e["fired"],
                    "cleared_date": e["cleared"],
                    "reentries": e["runs"] - 1,
                    "peak_value": e["peak"],
                    "sp500_return_20d": base["ret"].iloc[0],
                    "sp500_max_drawdown_20d": base["dd"].iloc[0],
                }
            )
        mine = pd.DataFrame([h for h in history if h["rule_id"] == rule.id])
        in_episode = pd.Series(False, index=known.index)
        for e in eps:
            in_episode |= (known.index >= e["fired"]) & (
                (known.index < e["cleared"]) if e["cleared"] is not None else True
            )
        period = spx[(spx["date"] >= first) & (spx["date"] <= last)]
        window = pd.Timedelta(days=LEAD_WINDOW)
        leads = []
        for start in bench["start_date"]:
            if start - window < first or start > last:
                continue
            fires = [
                e["fired"]
                for e in eps
                if e["fired"] <= start and (e["cleared"] is None or e["cleared"] >= start - window)
            ]
            leads.append((start - max(fires)).days if fires else None)
        durations = [(e["cleared"] - e["fired"]).days for e in eps if e["cleared"] is not None]
        years = ((last - first).days + 1) / 365.25
        summary.append(
            {
                "rule_id": rule.id,
                "fires": len(eps),
                "fires_per_year": len(eps) / years,
                "median_duration_days": np.median(durations) if durations else np.nan,
                "share_of_days_active": in_episode.mean(),
                "sp500_avg_return_20d_after_fire": mine["sp500_return_20d"].mean()
                if len(mine)
                else np.nan,
                "sp500_avg_return_20d_all_days": period["ret"].mean(),
                "sp500_avg_max_drawdown_20d_after_fire": mine["sp500_max_drawdown_20d"].mean()
                if len(mine)
                else np.nan,
                "sp500_avg_max_drawdown_20d_all_days": period["dd"].mean(),
                "benchmark_episodes": len(leads),
                "benchmark_episodes_preceded": sum(x is not None for x in leads),
                "median_lead_days": np.median([x for x in leads if x is not None])
                if any(x is not None for x in leads)
                else np.nan,
            }
        )
    return pd.DataFrame(history), pd.DataFrame(summary).set_index("rule_id")


# --- the tests ----------------------------------------------------------------------------------


def test_history_and_summary_are_reproduced_independently(con, rules):
    expected_history, expected_summary = reproduce(con, rules)
    history = con.execute(
        "SELECT rule_id, episode_number, fired_date, cleared_date, reentries, peak_value, "
        "sp500_return_20d, sp500_max_drawdown_20d FROM marts.fct_alert_history "
        "ORDER BY rule_id, episode_number"
    ).df()
    expected_history = expected_history.sort_values(["rule_id", "episode_number"])
    assert len(history) == len(expected_history) > 100
    for column in ("fired_date", "cleared_date"):
        got = pd.to_datetime(history[column]).tolist()
        want = pd.to_datetime(expected_history[column]).tolist()
        assert [None if pd.isna(x) else x for x in got] == [
            None if pd.isna(x) else x for x in want
        ], column
    for column in ("reentries", "peak_value", "sp500_return_20d", "sp500_max_drawdown_20d"):
        np.testing.assert_allclose(
            history[column].astype(float), expected_history[column].astype(float), rtol=1e-9
        )
    summary = con.execute("SELECT * FROM marts.fct_alert_summary").df().set_index("rule_id")
    assert sorted(summary.index) == sorted(rules.rules)
    for column in expected_summary.columns:
        np.testing.assert_allclose(
            summary.loc[expected_summary.index, column].astype(float),
            expected_summary[column].astype(float),
            rtol=1e-9,
            err_msg=column,
        )


def test_every_rule_has_fired_in_the_backtest_and_february_2026_is_seen(con):
    fires = dict(con.execute("SELECT rule_id, fires FROM marts.fct_alert_summary").fetchall())
    assert all(n > 0 for n in fires.values()), fires
    active = {
        r[0]
        for r in con.execute(
            "SELECT rule_id FROM marts.fct_alert_history WHERE fired_date <= DATE '2026-02-12' "
            "AND coalesce(cleared_date, DATE '2100-01-01') > DATE '2026-02-12'"
        ).fetchall()
    }
    assert {"synchronized_selloff", "margin_hike"} <= active


def test_a_rerun_queues_nothing_and_the_state_matches_the_replay(alerted, con):
    _, (first, rerun) = alerted

    def queued(result):
        [event] = [
            e
            for e in result.get_asset_materialization_events()
            if e.asset_key == dg.AssetKey(["alerts", "notifications"])
        ]
        return event.materialization.metadata["queued_this_run"].value

    open_now = dict(
        con.execute(
            "SELECT rule_id, fired_date FROM marts.fct_alert_history WHERE is_open"
        ).fetchall()
    )
    assert queued(first) == len(open_now) > 0  # the first evaluation announces what is active
    assert queued(rerun) == 0
    state = dict(
        con.execute(
            "SELECT rule_id, open_fired_date FROM alerts.rule_state "
            "WHERE open_fired_date IS NOT NULL"
        ).fetchall()
    )
    assert state == open_now
    checks = {c.check_name: c.passed for c in rerun.get_asset_check_evaluations()}
    assert checks == {"replays_every_rule": True, "episodes_ordered_and_disjoint": True}


def test_the_alert_marts_are_published_with_their_contract(alerted, tmp_path):
    from orchestration.lib import serving
    from orchestration.lib.alerts.backtest import TABLES

    folder, _ = alerted
    result = serving.publish(folder / "crosswind.duckdb", folder)
    published = duckdb.connect(str(result.path), read_only=True)
    try:
        for contract in TABLES:
            assert result.tables[contract.name] > 0
            described = published.execute(f"DESCRIBE marts.{contract.name}").fetchall()
            assert [(c[0], c[1]) for c in described] == [
                (name, kind.split()[0]) for name, kind in contract.columns
            ]
            assert (result.exports_dir / f"{contract.name}.parquet").is_file()
    finally:
        published.close()


def test_the_contract_refuses_rows_that_break_it(alerted, tmp_path):
    from orchestration.lib.alerts.backtest import HISTORY

    folder, _ = alerted
    copy = tmp_path / "copy.duckdb"
    shutil.copy(folder / "crosswind.duckdb", copy)
    bad = duckdb.connect(str(copy))
    try:
        row = bad.execute(f"SELECT * FROM {HISTORY.qualified} WHERE NOT is_open LIMIT 1").df()
        for change in (
            {"episode_number": 999, "cleared_date": date(1900, 1, 1)},  # cleared before it fired
            {"episode_number": 998, "is_open": True},  # open but cleared
            {"episode_number": 997, "sp500_max_drawdown_20d": 0.1},  # a positive drawdown
            {"fire_message": None},  # NOT NULL (and a duplicate key)
        ):
            broken = row.assign(**change)
            bad.register("broken", broken)
            with pytest.raises(duckdb.ConstraintException):
                bad.execute(f"INSERT INTO {HISTORY.qualified} SELECT * FROM broken")
            bad.unregister("broken")
    finally:
        bad.close()
