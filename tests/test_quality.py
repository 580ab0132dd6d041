"""The quality gates name the source, the series and the offending values."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from orchestration.defs.ingestion.cme.assets import RULES as CME_RULES
from orchestration.lib import warehouse
from orchestration.lib.catalog import load_catalog
from orchestration.lib.quality import (
    Stored,
    data_age_within_limit,
    dropped_rows,
    month_activity,
    month_activity_in,
    rows_dropped_outcome,
    source_not_frozen,
    step_excess,
    stuck_periods,
    stuck_periods_from,
    validate_batch,
)
from orchestration.lib.raw_tables import CME, FRED, MARKETS, TREASURY
from orchestration.lib.source_rules import DEFAULT_RULES, catalog_series, series_plausibility

TODAY = date(2026, 3, 1)
CATALOG = load_catalog()


def _fred(series: str, values, units: str, start=date(2026, 1, 1)) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_id": series,
            "date": [start + timedelta(days=i) for i in range(len(values))],
            "value": values,
            "units": units,
            "realtime_start": pd.NaT,
        }
    )


def _bars(series: str, closes, start=date(2026, 2, 2)) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_id": series,
            "date": [start + timedelta(days=i) for i in range(len(closes))],
            "open": np.nan,
            "high": np.nan,
            "low": np.nan,
            "close": closes,
            "volume": np.nan,
            "units": "Index",
        }
    )


def _margins(rows) -> pd.DataFrame:
    """rows: (product, effective_date, maintenance, unit, previous maintenance)."""
    return pd.DataFrame(
        [
            {
                "product": p,
                "effective_date": d,
                "initial_margin": np.nan,
                "maintenance_margin": m,
                "unit": u,
                "previous_maintenance_margin": prev,
                "source_file": "notice.pdf",
            }
            for p, d, m, u, prev in rows
        ]
    )


def _tracked(source: str, *ids: str):
    return [t for t in catalog_series(CATALOG, source, DEFAULT_RULES) if t.id in ids]


def _by_name(outcomes):
    return {o.name: o for o in outcomes}


def _gate(batch, table=FRED, source="fred", **kw):
    return _by_name(validate_batch(batch, table, CATALOG, TODAY, source, **kw))


def test_good_batch_passes_every_gate():
    batch = pd.concat(
        [
            _fred("WALCL", [6_600_000.0] * 30, "Millions of U.S. Dollars"),
            _fred("RRPONTSYD", [5.0] * 29 + [np.nan], "Billions of U.S. Dollars"),
        ]
    )
    outcomes = _gate(batch, tracked=_tracked("fred", "WALCL", "RRPONTSYD"))
    assert all(o.passed for o in outcomes.values()), [o.summary for o in outcomes.values()]


def test_units_change_by_1000_is_caught_and_named():
    # WALCL delivered in billions while labelled millions: 6.6 "millions" = 0.0066 bn.
    batch = _fred("WALCL", [6_600_000.0] * 10 + [6_600.0] * 2, "Millions of U.S. Dollars")
    outcome = _gate(batch)["magnitude_in_range"]
    assert not outcome.passed
    assert "fred/WALCL" in outcome.summary and "6600.0" in outcome.summary
    assert outcome.details["rows"] == 2


def test_relabelled_units_convert_instead_of_failing():
    # WTREGEN published in billions (before 2025) converts through its own label.
    batch = _fred("WTREGEN", [750.0] * 5, "Billions of U.S. Dollars")
    assert _gate(batch)["magnitude_in_range"].passed


def test_unknown_units_label_fails():
    batch = _fred("WALCL", [6_600_000.0] * 3, "Thousands of Euros")
    assert not _gate(batch)["magnitude_in_range"].passed


def test_duplicate_keys_and_future_dates_fail():
    batch = _fred("SOFR", [4.3, 4.31, 4.32], "Percent")
    batch.loc[2, "date"] = batch.loc[1, "date"]
    future = _fred("DGS2", [3.9], "Percent", start=TODAY + timedelta(days=3))
    outcomes = _gate(pd.concat([batch, future]))
    assert not outcomes["unique_keys"].passed
    assert "SOFR" in outcomes["unique_keys"].summary
    assert not outcomes["no_future_dates"].passed
    assert "DGS2" in outcomes["no_future_dates"].summary


def test_missing_columns_short_circuit():
    batch = _fred("SOFR", [4.3], "Percent").rename(columns={"date": "DATE"})
    outcomes = validate_batch(batch, FRED, CATALOG, TODAY, "fred")
    assert [o.name for o in outcomes] == ["expected_columns"]
    assert not outcomes[0].passed and "date" in outcomes[0].summary


def test_missing_share_is_judged_per_series():
    batch = _fred("WALCL", [6_600_000.0] * 15 + [np.nan] * 15, "Millions of U.S. Dollars")
    outcome = _gate(batch)["missing_share"]
    assert not outcome.passed and "WALCL: 50.0% missing" in outcome.summary


def test_bars_use_close_and_margins_their_unit():
    out = _gate(_bars("SPX", [6900.0, 690_000.0]), MARKETS, "markets")
    assert not out["magnitude_in_range"].passed and "SPX" in out["magnitude_in_range"].summary

    margins = _margins(
        [
            ("SI", date(2026, 1, 13), 9.0, "pct_notional", np.nan),
            ("SI", date(2026, 1, 20), 11.0, "percent_of_something", np.nan),
        ]
    )
    out = _gate(margins, CME, "cme", rules=CME_RULES)
    assert not out["magnitude_in_range"].passed
    assert out["magnitude_in_range"].details["rows"] == 1


# -- dates before a series' start -----------------------------------------------------------------


def test_a_year_one_row_is_refused_naming_the_series_and_its_first_date():
    batch = _fred("WALCL", [6_600_000.0] * 3, "Millions of U.S. Dollars")
    batch.loc[0, "date"] = date(1, 1, 1)
    outcome = _gate(batch)["no_dates_before_start"]
    assert not outcome.passed and outcome.blocking
    assert "[fred/WALCL] 1 rows with dates before the series' first_date" in outcome.summary
    assert "0001-01-01" in outcome.summary and "first_date 2002-12-18" in outcome.summary


def test_margin_dates_are_judged_against_the_products_first_date():
    margins = _margins([("GC", date(1950, 1, 3), 1000.0, "usd_per_contract", np.nan)])
    outcome = _gate(margins, CME, "cme", rules=CME_RULES)["no_dates_before_start"]
    assert not outcome.passed and "cme/GC" in outcome.summary


# -- jumps between consecutive values ---------------------------------------------------------


def test_step_excess_needs_every_limit_exceeded():
    nan = math.nan
    # x10 with only a relative limit of x e: 2.30 / 1.0
    assert step_excess([10.0], [1.0], np.array([1.0]), np.array([nan]))[0] == pytest.approx(
        math.log(10)
    )
    # a rate from 0.05 to 0.5 (x10) moves only 0.45 pp: under a 1.75 pp limit
    assert step_excess([0.5], [0.05], np.array([1.0]), np.array([1.75]))[0] < 1
    # across zero the relative step is infinite; only the absolute one decides
    assert step_excess([-36.98], [18.27], np.array([1.0]), np.array([20.0]))[0] == pytest.approx(
        55.25 / 20
    )
    assert math.isnan(step_excess([1.0], [nan], np.array([1.0]), np.array([nan]))[0])


def test_a_one_row_decimal_slip_in_a_market_close_is_blocked():
    closes = [7_800.12, 7_790.55, 778.576, 7_801.30, 7_812.00]
    outcome = _gate(_bars("SPX", closes), MARKETS, "markets")["plausible_changes"]
    assert not outcome.passed and outcome.blocking
    assert outcome.summary.startswith("[markets/SPX] 2 rows step beyond the catalog's jump limit")
    assert "7790.55 (2026-02-03) -> 778.576 (x0.0999)" in outcome.summary
    assert outcome.details["rows"] == 2  # into the slip and back out of it


def test_the_first_value_of_a_window_is_compared_with_the_last_stored_one():
    # Every value of the window /10, so the batch alone is smooth: only the stored value shows it.
    batch = _bars("SPX", [780.0, 781.0, 782.0], start=date(2026, 2, 10))
    stored = Stored(
        rows=pd.DataFrame(columns=MARKETS.names),
        before=_bars("SPX", [7_795.0], start=date(2026, 2, 9)),
    )
    outcome = _gate(batch, MARKETS, "markets", stored=stored)["plausible_changes"]
    assert not outcome.passed and outcome.details["rows"] == 1
    assert "SPX 2026-02-10: 7795 (2026-02-09) -> 780" in outcome.summary


def test_tga_in_billions_is_caught_by_range_and_by_the_jump_from_the_stored_value():
    def tga(values, start):
        return _fred("TGA", values, "Millions of U.S. Dollars", start)[TREASURY.names]

    batch = tga([812.4, 815.0, 790.1], date(2026, 2, 2))  # billions, labelled millions
    stored = Stored(pd.DataFrame(columns=TREASURY.names), tga([805_000.0], date(2026, 1, 30)))
    outcomes = _gate(batch, TREASURY, "treasury", stored=stored)
    assert not outcomes["magnitude_in_range"].passed
    assert outcomes["magnitude_in_range"].details["rows"] == 3
    jump = outcomes["plausible_changes"]
    assert not jump.passed and jump.blocking and "treasury/TGA" in jump.summary


def test_wti_below_zero_is_a_warning_not_a_block():
    batch = _fred("DCOILWTICO", [18.27, -36.98, 10.01], "Dollars per Barrel")
    outcome = _gate(batch)["plausible_changes"]
    assert not outcome.passed and not outcome.blocking
    assert "(warn)" in outcome.summary


def test_accepted_history_is_not_judged_again_on_a_full_reread():
    history = _fred("DCOILWTICO", [18.27, -36.98, 10.01, 12.0], "Dollars per Barrel")
    stored = Stored(rows=history.copy(), before=pd.DataFrame(columns=FRED.names))
    outcome = _gate(history, stored=stored)["plausible_changes"]
    assert outcome.passed, outcome.summary


def test_a_typo_in_the_previous_margin_is_caught_against_the_previous_row():
    margins = _margins(
        [
            ("GC", date(2025, 4, 11), 29_088.0, "usd_per_contract", np.nan),
            ("GC", date(2025, 10, 21), 31_000.0, "usd_per_contract", 290.88),
        ]
    )
    outcomes = _gate(margins, CME, "cme", rules=CME_RULES)
    jump = outcomes["plausible_changes"]
    assert not jump.passed and jump.blocking
    assert "[cme/GC]" in jump.summary and "claims previous 290.88" in jump.summary
    assert outcomes["magnitude_in_range"].passed  # 290.88 USD is a possible margin by itself


def test_a_previous_margin_outside_its_units_range_is_out_of_range():
    margins = _margins([("SI", date(2026, 1, 13), 11.0, "pct_notional", 1_000.0)])
    outcome = _gate(margins, CME, "cme", rules=CME_RULES)["magnitude_in_range"]
    assert not outcome.passed and "cme/SI" in outcome.summary


def test_margins_are_compared_only_within_one_unit():
    margins = _margins(
        [
            ("SI", date(2025, 10, 21), 13_000.0, "usd_per_contract", np.nan),
            ("SI", date(2026, 1, 13), 10.0, "pct_notional", np.nan),
            ("SI", date(2026, 2, 3), 1_100.0, "pct_notional", np.nan),  # 10 % typed as 1100
        ]
    )
    outcomes = _gate(margins, CME, "cme", rules=CME_RULES)
    assert not outcomes["magnitude_in_range"].passed
    jump = outcomes["plausible_changes"]
    assert jump.details["rows"] == 1 and "SI 2026-02-03" in jump.summary


# -- series present, rows dropped ---------------------------------------------------------------


def test_a_required_series_without_values_is_an_error_an_optional_one_a_warning():
    batch = _fred("WALCL", [6_600_000.0] * 3, "Millions of U.S. Dollars")
    empty_rrp = _fred("RRPONTSYD", [np.nan] * 3, "Billions of U.S. Dollars")
    tracked = _tracked("fred", "WALCL", "RRPONTSYD", "SP500")
    outcome = _gate(pd.concat([batch, empty_rrp]), tracked=tracked)["series_present"]
    assert not outcome.passed and outcome.blocking
    assert outcome.summary.startswith("[fred/RRPONTSYD] required series without any value")
    assert "optional series not supplied: SP500" in outcome.summary

    outcome = _gate(batch, tracked=_tracked("fred", "WALCL", "SP500"))["series_present"]
    assert not outcome.passed and not outcome.blocking


def test_empty_margin_history_fails_naming_each_product_and_where_margins_come_from():
    empty = _margins([]).reindex(columns=CME.names)
    # The shipped catalog: margin products are optional (no open CME feed), so a WARN.
    outcome = _gate(empty, CME, "cme", rules=CME_RULES)["series_present"]
    assert not outcome.passed and not outcome.blocking
    assert outcome.summary.startswith("[cme/GC,SI] optional series not supplied: GC, SI")
    assert "CROSSWIND_MARGIN_FILE" in outcome.summary  # the source says where margins come from
    # Marked required (a user with a margin history in place): an ERROR.
    strict = [
        dataclasses.replace(t, required=True)
        for t in CME_RULES.tracked(load_catalog(), "cme", CME_RULES)
    ]
    outcome = _gate(empty, CME, "cme", rules=CME_RULES, tracked=strict)["series_present"]
    assert not outcome.passed and outcome.blocking
    assert outcome.summary.startswith("[cme/GC,SI] required series without any value")
    assert "CROSSWIND_MARGIN_FILE" in outcome.summary


def _walcl_weeks(n: int, start=date(2025, 10, 1)) -> pd.DataFrame:
    return _fred(
        "WALCL", [6_580_000.0 + 1_000 * i for i in range(n)], "Millions of U.S. Dollars", start
    ).assign(date=[start + timedelta(weeks=i) for i in range(n)])


@pytest.mark.parametrize(
    ("kept", "blocking"),
    [(slice(0, 9), False), (slice(0, 5), True)],  # one row removed; half the history cut
)
def test_rows_the_source_stopped_carrying_are_reported(kept, blocking):
    stored_rows = _walcl_weeks(10)
    batch = stored_rows.iloc[kept].reset_index(drop=True)
    stored = Stored(stored_rows, pd.DataFrame(columns=FRED.names))
    outcome = _gate(batch, tracked=_tracked("fred", "WALCL"), stored=stored)["no_rows_dropped"]
    assert not outcome.passed and outcome.blocking is blocking
    assert outcome.summary.startswith("[fred/WALCL] the source no longer carries")
    assert "crosswind reconcile --sources fred" in outcome.summary
    assert outcome.details["rows"] == 10 - len(batch)


def test_reconcile_turns_dropped_rows_into_deletions():
    stored_rows = _walcl_weeks(10)
    batch = stored_rows.iloc[:5]
    doomed = dropped_rows(batch, FRED, Stored(stored_rows, pd.DataFrame(columns=FRED.names)))
    assert sorted(doomed["date"]) == sorted(stored_rows["date"].iloc[5:])
    by_id = {t.id: t for t in _tracked("fred", "WALCL")}
    outcome = rows_dropped_outcome(doomed, FRED, by_id, "fred", reconcile=True)
    assert outcome.passed and "reconcile: deleting 5 stored rows" in outcome.summary


# -- after the write: fresh, frozen ---------------------------------------------------------------


@pytest.mark.parametrize("age_days,stale", [(5, False), (40, True)])
def test_data_age_warns_without_blocking(age_days, stale):
    outcome = data_age_within_limit(
        {"SOFR": TODAY - timedelta(days=age_days)}, _tracked("fred", "SOFR"), TODAY, "fred"
    )
    assert outcome.passed is not stale
    assert outcome.blocking is False


def test_a_source_with_no_rows_is_never_fresh():
    tracked = _tracked("fred", "SOFR", "SP500")
    outcome = data_age_within_limit({}, tracked, TODAY, "fred")
    assert (
        not outcome.passed
        and "no rows at all" in outcome.summary
        and "SOFR has no rows" in (outcome.summary)
    )
    assert not source_not_frozen({}, tracked, TODAY, "fred").passed
    # Margin products have no staleness limit, but an empty margin history is still not fresh.
    products = CME_RULES.tracked(CATALOG, "cme", CME_RULES)
    assert not data_age_within_limit({}, products, TODAY, "cme").passed
    assert source_not_frozen({"GC": date(2020, 1, 2)}, products, TODAY, "cme").passed


def test_a_frozen_workbook_fails_source_not_frozen():
    tracked = catalog_series(CATALOG, "shiller", DEFAULT_RULES)
    last = {t.id: date(2024, 5, 1) for t in tracked}
    outcome = source_not_frozen(last, tracked, date(2026, 11, 30), "shiller")
    assert not outcome.passed and not outcome.blocking
    assert outcome.summary.startswith("[shiller] frozen: newest observation 2024-05-01 is 943 d")
    last["SHILLER_PRICE"] = date(2026, 10, 1)
    assert source_not_frozen(last, tracked, date(2026, 11, 30), "shiller").passed


# -- stuck series ---------------------------------------------------------------------------------


def _business_days(start: date, n: int) -> list[date]:
    days, day = [], start
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _history(series_id: str, values, start=date(2018, 1, 1)) -> pd.DataFrame:
    return pd.DataFrame(
        {"series_id": series_id, "date": _business_days(start, len(values)), "value": values}
    )


def test_an_interpolated_stretch_of_a_lively_series_is_flagged_with_its_period():
    rng = np.random.default_rng(7)
    walk = 4 + np.cumsum(rng.normal(0, 0.04, 6 * 261)).round(2)
    start, end = 2 * 261, 2 * 261 + 150  # about seven months, straight line, rounded
    walk[start:end] = np.linspace(walk[start], walk[start] - 0.6, end - start).round(2)
    periods = stuck_periods(_history("BAMLH0A0HYM2", walk))
    assert len(periods) == 1
    period = periods[0]
    assert period.series_id == "BAMLH0A0HYM2" and period.kind == "stuck"
    days = _business_days(date(2018, 1, 1), len(walk))
    assert days[start] - timedelta(days=31) <= period.start <= days[start] + timedelta(days=31)
    assert days[end - 1] - timedelta(days=31) <= period.end <= days[end - 1] + timedelta(days=31)


def test_series_flat_by_nature_stay_quiet():
    # An administered rate: flat between decisions, every month, for years.
    steps = np.repeat([0.15, 0.40, 0.90, 1.65, 2.40, 3.15, 3.90, 4.65, 5.40], 130)
    # A creeping quiet regime: few direction changes everywhere, not only in one stretch.
    rng = np.random.default_rng(3)
    quiet = 0.1 + np.cumsum(rng.choice([0.0, 0.0, 0.0, 0.001], 5 * 261)).round(3)
    history = pd.concat([_history("IORB", steps), _history("JGB1Y", quiet)])
    assert stuck_periods(history) == []


def _activity_both_ways(table, frame: pd.DataFrame, catalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """month_activity_in (DuckDB) and month_activity (pandas) of the same stored rows."""
    con = duckdb.connect()
    try:
        con.execute(f"CREATE SCHEMA {table.schema}")
        cols = ", ".join(f'"{n}" {ddl}' for n, ddl in table.all_columns)
        con.execute(f"CREATE TABLE {table.qualified} ({cols})")
        con.register("rows", frame.reindex(columns=[n for n, _ in table.all_columns]))
        con.execute(f"INSERT INTO {table.qualified} SELECT * FROM rows")
        daily = sorted(frame[table.series_column].unique())
        in_sql = month_activity_in(con, table, daily, catalog)
        history = warehouse.series_history(con, table, daily)
    finally:
        con.close()
    stored = series_plausibility(history, table, catalog)["stored"]
    history = history.rename(columns={table.series_column: "series_id", table.date_column: "date"})
    in_pandas = month_activity(history.assign(value=stored)[["series_id", "date", "value"]])
    return in_sql, in_pandas


def _same_activity(in_sql: pd.DataFrame, in_pandas: pd.DataFrame) -> None:
    assert not in_pandas.empty
    pd.testing.assert_frame_equal(
        in_sql.astype({"first": "datetime64[ns]", "last": "datetime64[ns]"}),
        in_pandas.astype({"first": "datetime64[ns]", "last": "datetime64[ns]"}),
        check_dtype=False,
    )


def test_the_warehouse_counts_moves_and_reversals_as_pandas_does():
    """Units labels with different factors (a move below 1e-9 of the value in one unit is a
    move in another), missing values, an unknown label, a flat stretch: both agree, and the
    interpolated stretch is found from either."""
    catalog = load_catalog()
    rng = np.random.default_rng(11)
    walk = 4 + np.cumsum(rng.normal(0, 0.04, 4 * 261)).round(2)
    walk[400:560] = np.linspace(walk[400], walk[400] - 0.6, 160).round(2)
    lively = _history("BAMLH0A0HYM2", walk).assign(units="Percent")
    dollars = _history("WALCL", 7e6 + np.cumsum(rng.normal(0, 1e3, 300)).round(0))
    dollars = dollars.assign(units="Millions of U.S. Dollars")
    dollars.loc[10:40, "value"] = 7e6  # flat
    dollars.loc[50, "value"] = np.nan  # missing
    dollars.loc[60:70, "units"] = "Furlongs"  # unknown label: not a stored value
    frame = pd.concat([lively, dollars], ignore_index=True)
    frame["value"] = frame["value"].astype("float64")
    in_sql, in_pandas = _activity_both_ways(FRED, frame, catalog)
    _same_activity(in_sql, in_pandas)
    assert stuck_periods_from(in_sql) == stuck_periods_from(in_pandas) != []


@pytest.mark.integration
def test_on_the_snapshot_the_warehouse_month_activity_equals_pandas(snapshot_ingestion):
    warehouse_dir, result = snapshot_ingestion
    assert result.success
    catalog = load_catalog()
    for table in (FRED, MARKETS):
        rows = pd.DataFrame(
            _snapshot_rows(warehouse_dir, f"SELECT * FROM {table.qualified}"),
            columns=[n for n, _ in table.all_columns],
        )
        in_sql, in_pandas = _activity_both_ways(table, rows, catalog)
        _same_activity(in_sql, in_pandas)


# -- on the real snapshot -------------------------------------------------------------------------


def _snapshot_rows(warehouse_dir, sql: str) -> list:
    con = duckdb.connect(str(warehouse_dir / "crosswind.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.integration
def test_on_the_snapshot_only_the_interpolated_hy_oas_is_stuck(snapshot_ingestion):
    warehouse_dir, result = snapshot_ingestion
    assert result.success
    stuck = _snapshot_rows(
        warehouse_dir,
        "SELECT series_id, period_start, period_end FROM raw_meta.flagged_periods "
        "WHERE kind = 'stuck'",
    )
    assert [s for s, *_ in stuck] == ["BAMLH0A0HYM2"]  # quiet on IORB, SOFR, EFFR, JGB, silver
    _, start, end = stuck[0]
    assert start.year == 2021 and end.year == 2023
    check = next(
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "series_not_stuck" and e.asset_key.path == ["raw_fred", "observations"]
    )
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert f"BAMLH0A0HYM2 {start}..{end}" in check.description


@pytest.mark.integration
def test_the_snapshot_passes_every_blocking_gate_and_warns_only_where_history_jumps(
    snapshot_ingestion,
):
    """The calibration holds on real history: no ERROR anywhere; the only jump warnings are
    the steps the catalog documents (WTI below zero, claims and unemployment in 2020)."""
    warehouse_dir, result = snapshot_ingestion
    errors = [
        e.description
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert errors == []
    jumps = _snapshot_rows(
        warehouse_dir,
        "SELECT series_id, period_start FROM raw_meta.flagged_periods WHERE kind = 'jump' "
        "ORDER BY ALL",
    )
    assert jumps == [
        ("DCOILWTICO", date(2020, 4, 20)),
        ("DCOILWTICO", date(2020, 4, 21)),
        ("ICSA", date(2020, 3, 21)),
        ("UNRATE", date(2020, 4, 1)),
    ]
