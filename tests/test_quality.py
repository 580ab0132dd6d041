"""The blocking quality gates name the source, the series and the offending values."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from orchestration.lib.catalog import load_catalog
from orchestration.lib.quality import freshness, validate_batch
from orchestration.lib.raw_tables import CME, FRED, MARKETS

TODAY = date(2026, 3, 1)


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


def _by_name(outcomes):
    return {o.name: o for o in outcomes}


def test_good_batch_passes_every_gate():
    batch = pd.concat(
        [
            _fred("WALCL", [6_600_000.0] * 30, "Millions of U.S. Dollars"),
            _fred("RRPONTSYD", [5.0] * 29 + [np.nan], "Billions of U.S. Dollars"),
        ]
    )
    outcomes = _by_name(validate_batch(batch, FRED, load_catalog(), TODAY, "fred"))
    assert all(o.passed for o in outcomes.values()), [o.summary for o in outcomes.values()]


def test_units_change_by_1000_is_caught_and_named():
    # WALCL delivered in billions while labelled millions: 6.6 "millions" = 0.0066 bn.
    batch = _fred("WALCL", [6_600_000.0] * 10 + [6_600.0] * 2, "Millions of U.S. Dollars")
    outcome = _by_name(validate_batch(batch, FRED, load_catalog(), TODAY, "fred"))[
        "magnitude_in_range"
    ]
    assert not outcome.passed
    assert "fred/WALCL" in outcome.summary and "6600.0" in outcome.summary
    assert outcome.details["rows"] == 2


def test_relabelled_units_convert_instead_of_failing():
    # WTREGEN published in billions (before 2025) converts through its own label.
    batch = _fred("WTREGEN", [750.0] * 5, "Billions of U.S. Dollars")
    outcome = _by_name(validate_batch(batch, FRED, load_catalog(), TODAY, "fred"))
    assert outcome["magnitude_in_range"].passed


def test_unknown_units_label_fails():
    batch = _fred("WALCL", [6_600_000.0] * 3, "Thousands of Euros")
    outcome = _by_name(validate_batch(batch, FRED, load_catalog(), TODAY, "fred"))
    assert not outcome["magnitude_in_range"].passed


def test_duplicate_keys_and_future_dates_fail():
    batch = _fred("SOFR", [4.3, 4.31, 4.32], "Percent")
    batch.loc[2, "date"] = batch.loc[1, "date"]
    future = _fred("DGS2", [3.9], "Percent", start=TODAY + timedelta(days=3))
    outcomes = _by_name(
        validate_batch(pd.concat([batch, future]), FRED, load_catalog(), TODAY, "fred")
    )
    assert not outcomes["unique_keys"].passed
    assert "SOFR" in outcomes["unique_keys"].summary
    assert not outcomes["no_future_dates"].passed
    assert "DGS2" in outcomes["no_future_dates"].summary


def test_missing_columns_short_circuit():
    batch = _fred("SOFR", [4.3], "Percent").rename(columns={"date": "DATE"})
    outcomes = validate_batch(batch, FRED, load_catalog(), TODAY, "fred")
    assert [o.name for o in outcomes] == ["expected_columns"]
    assert not outcomes[0].passed and "date" in outcomes[0].summary


def test_missing_share_is_judged_per_series():
    batch = _fred("WALCL", [6_600_000.0] * 15 + [np.nan] * 15, "Millions of U.S. Dollars")
    outcome = _by_name(validate_batch(batch, FRED, load_catalog(), TODAY, "fred"))["missing_share"]
    assert not outcome.passed and "WALCL: 50.0% missing" in outcome.summary


def test_bars_use_close_and_margins_their_unit():
    bars = pd.DataFrame(
        {
            "series_id": ["SPX", "SPX"],
            "date": [date(2026, 2, 11), date(2026, 2, 12)],
            "open": np.nan,
            "high": np.nan,
            "low": np.nan,
            "close": [6900.0, 690_000.0],
            "volume": np.nan,
            "units": "Index",
        }
    )
    out = _by_name(validate_batch(bars, MARKETS, load_catalog(), TODAY, "markets"))
    assert not out["magnitude_in_range"].passed and "SPX" in out["magnitude_in_range"].summary

    margins = pd.DataFrame(
        {
            "product": ["SI", "SI"],
            "effective_date": [date(2026, 1, 13), date(2026, 1, 20)],
            "initial_margin": np.nan,
            "maintenance_margin": [9.0, 11.0],
            "unit": ["pct_notional", "percent_of_something"],
            "previous_maintenance_margin": np.nan,
            "source_file": "notice",
        }
    )
    out = _by_name(validate_batch(margins, CME, load_catalog(), TODAY, "cme"))
    assert not out["magnitude_in_range"].passed
    assert out["magnitude_in_range"].details["rows"] == 1


@pytest.mark.parametrize("age_days,stale", [(5, False), (40, True)])
def test_freshness_warns_without_blocking(age_days, stale):
    outcome = freshness(
        {"SOFR": TODAY - timedelta(days=age_days)}, FRED, load_catalog(), TODAY, "fred"
    )
    assert outcome.passed is not stale
    assert outcome.blocking is False
