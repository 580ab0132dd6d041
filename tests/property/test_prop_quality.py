"""Property-based tests for the quality gate: any frame gives outcomes, never an exception, and
the outcomes mean something (good batches pass, a units slip is caught)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.defs.ingestion.cme.assets import RULES as CME_RULES
from orchestration.lib.catalog import load_catalog
from orchestration.lib.quality import CHECKS, validate_batch
from orchestration.lib.raw_tables import CME, FRED, MARKETS
from orchestration.lib.source_rules import DEFAULT_RULES, catalog_series

pytestmark = pytest.mark.property

CATALOG = load_catalog()
TODAY = date(2026, 2, 1)
# Great Expectations takes ~0.1-0.3 s per batch: keep the example counts small.
GATE = settings(
    max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
RANDOM_GATE = settings(GATE, max_examples=8)
BLOCKING = {c.name for c in CHECKS if c.blocking}

ids = st.one_of(st.sampled_from(["WALCL", "RRPONTSYD", "DGS10", "TGA"]), st.text(max_size=8))
dates = st.one_of(
    st.dates(date(1950, 1, 1), date(2030, 1, 1)),
    st.none(),
    st.sampled_from(["2024-02-30", "garbage", "", "2026-01-05"]),
)
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.none(), st.sampled_from(["1.5", "x"])
)
# Missing (None/NaN) units labels have their own test below.
units = st.one_of(st.sampled_from(list(CATALOG.unit_labels)), st.text(max_size=10))


@RANDOM_GATE
@given(
    st.lists(st.tuples(ids, dates, values, units), max_size=25),
    st.sets(st.sampled_from(FRED.names), max_size=2),
)
def test_any_frame_gives_outcomes_never_an_exception(rows, dropped):
    frame = pd.DataFrame(rows, columns=["series_id", "date", "value", "units"])
    frame["realtime_start"] = pd.NaT
    frame = frame.drop(columns=sorted(dropped))
    outcomes = validate_batch(frame, FRED, CATALOG, TODAY, "fred")
    names = [o.name for o in outcomes]
    if dropped:
        assert names == ["expected_columns"] and not outcomes[0].passed
    else:
        assert set(names) == BLOCKING - {"data_age_within_limit"} or set(names) == BLOCKING
    for outcome in outcomes:
        assert isinstance(outcome.summary, str) and outcome.summary
        if not outcome.passed:
            assert outcome.summary.startswith("[fred")


@GATE
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["GC", "SI", "HG"]),
            st.dates(date(2000, 1, 1), date(2027, 1, 1)),
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from(["usd_per_contract", "pct_notional", "usd_per_ounce", ""]),
        ),
        max_size=15,
    )
)
def test_any_margin_frame_gives_outcomes(rows):
    frame = pd.DataFrame(rows, columns=["product", "effective_date", "maintenance_margin", "unit"])
    frame["initial_margin"] = frame["maintenance_margin"]
    frame["previous_maintenance_margin"] = None
    frame["source_file"] = "x.pdf"
    outcomes = validate_batch(frame, CME, CATALOG, TODAY, "cme", rules=CME_RULES)
    assert {o.name for o in outcomes} >= {"magnitude_in_range", "unique_keys", "plausible_changes"}


@GATE
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["SPX", "BTC-USD"]),
            st.dates(date(2020, 1, 1), date(2026, 1, 31)),
            st.floats(allow_nan=True, allow_infinity=True),
        ),
        max_size=15,
    )
)
def test_any_bar_frame_gives_outcomes(rows):
    frame = pd.DataFrame(rows, columns=["series_id", "date", "close"])
    for col in ("open", "high", "low", "volume"):
        frame[col] = frame["close"]
    frame["units"] = "Index"
    assert validate_batch(frame, MARKETS, CATALOG, TODAY, "markets")


def _walcl(start: date, weeks: int, values: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_id": "WALCL",
            "date": [start + timedelta(weeks=i) for i in range(weeks)],
            "value": values,
            "units": "Millions of U.S. Dollars",
            "realtime_start": pd.NaT,
        }
    )


WALCL_ONLY = [t for t in catalog_series(CATALOG, "fred", DEFAULT_RULES) if t.id == "WALCL"]


@GATE
@given(
    st.dates(date(2003, 1, 1), date(2025, 1, 1)),
    st.floats(1_000_000, 8_000_000),
    st.lists(st.floats(0.98, 1.02), min_size=1, max_size=30),
    st.data(),
)
def test_in_range_batches_pass_and_a_units_slip_is_caught(start, level, moves, data):
    """Weekly moves of up to 2 % (WALCL's largest week was +24 %) from an in-range level."""
    values = list(level * np.cumprod(moves))
    frame = _walcl(start, len(values), values)
    outcomes = {
        o.name: o for o in validate_batch(frame, FRED, CATALOG, TODAY, "fred", tracked=WALCL_ONLY)
    }
    assert all(o.passed for o in outcomes.values()), {n: o.summary for n, o in outcomes.items()}
    i = data.draw(st.integers(0, len(values) - 1))
    slipped = frame.copy()
    slipped.loc[i, "value"] = values[i] * 1000  # millions reported as thousands
    outcomes = {o.name: o for o in validate_batch(slipped, FRED, CATALOG, TODAY, "fred")}
    assert not outcomes["magnitude_in_range"].passed
    assert outcomes["magnitude_in_range"].details["rows"] == 1
    assert "[fred/WALCL]" in outcomes["magnitude_in_range"].summary


@pytest.mark.parametrize("label", [None, float("nan")])
def test_missing_units_label_is_an_outcome_not_an_exception(label):
    frame = _walcl(date(2025, 1, 1), 3, [6e6, 6.1e6, 6.2e6])
    frame["units"] = [label, "Millions of U.S. Dollars", "Millions of U.S. Dollars"]
    outcomes = {o.name: o for o in validate_batch(frame, FRED, CATALOG, TODAY, "fred")}
    assert not outcomes["magnitude_in_range"].passed
