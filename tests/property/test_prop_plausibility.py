"""Property tests for the units and jump checks: a slip by 10^k, either way, on every series.

Where a slip is undetectable in principle, and how this test handles it: the catalog's max_log
is below ln 10 for every series (the catalog refuses more), so the relative part of the jump
test always sees a slip by 10^k (k != 0). A series that lives near zero also has a max_abs, and
a step must exceed both: a slip of a value v is then seen only when |v| * |10^k - 1| > max_abs
(SOFR at 0.05 % slipping to 0.005 % moves 0.045 pp, less than the steps the Fed itself makes;
ON RRP at 5 bn, ADP's monthly change, remittances near zero likewise). The range catches what
leaves [min, max]. So the expected verdict is computed from that rule, independently of the
code, and the test asserts the gate's verdict equals it for every series, in both directions:
every detectable slip is caught (ERROR where the catalog says block) and no slip or clean
series is flagged beyond the rule. Draws within a hair of a boundary are skipped (`assume`).
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from orchestration.defs.ingestion.cme.assets import RULES as CME_RULES
from orchestration.lib.catalog import load_catalog
from orchestration.lib.quality import Stored, validate_batch
from orchestration.lib.raw_tables import CME, SOURCE_TABLES

pytestmark = pytest.mark.property

CATALOG = load_catalog()
SERIES = sorted(CATALOG.series.values(), key=lambda s: s.id)
TODAY = date(2026, 3, 1)
FIRST_DAY = date(2025, 6, 2)  # after every series' first_date
SLIPS = [k for k in range(-3, 4) if k]
SETTINGS = settings(
    max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def _level(series, u: float) -> float:
    """A value inside the series' range: log-uniform for positive ranges, else uniform."""
    lo, hi = series.range
    if lo > 0:
        return lo * (hi / lo) ** u
    value = lo + u * (hi - lo)
    return value if abs(value) > 1e-6 else hi / 2


def _expected(series, level: float, k: int) -> tuple[bool, bool]:
    """(caught, blocking) by the rule in the module docstring, not by the code under test."""
    slipped = level * 10.0**k
    lo, hi = series.range
    by_range = not lo <= slipped <= hi
    jump = series.jump
    step = abs(level) * abs(10.0**k - 1)
    if jump.max_abs is not None:
        assume(abs(step - jump.max_abs) > 1e-9 * jump.max_abs)  # no draws on the boundary
    by_jump = jump.max_abs is None or step > jump.max_abs
    return by_range or by_jump, by_range or (by_jump and jump.blocking)


def _rows(series, stored_values: list[float], start: date) -> list[dict]:
    factor = CATALOG.unit_labels[series.units].factor
    return [
        {
            "series_id": series.id,
            "date": start + timedelta(days=i),
            "raw": value / factor,
            "units": series.units,
        }
        for i, value in enumerate(stored_values)
    ]


def _frame(source: str, rows: list[dict]) -> pd.DataFrame:
    table = SOURCE_TABLES[source]
    frame = pd.DataFrame(rows, columns=["series_id", "date", "raw", "units"])
    frame[table.value_column] = frame.pop("raw").astype("float64")
    for column in table.names:
        if column not in frame:
            frame[column] = pd.NaT if column == "realtime_start" else np.nan
    return frame[table.names]


def _flagged(outcomes) -> tuple[set[str], set[str]]:
    """(series any check flagged, series flagged with ERROR)."""
    by_name = {o.name: o for o in outcomes}
    flagged, errors = set(), set()
    magnitude = by_name["magnitude_in_range"]
    flagged |= set(magnitude.details.get("series", []))
    errors |= set(magnitude.details.get("series", []))
    for step in by_name["plausible_changes"].details.get("steps", []):
        flagged.add(step["series_id"])
        if step["blocking"]:
            errors.add(step["series_id"])
    return flagged, errors


@SETTINGS
@given(
    st.lists(
        st.tuples(st.floats(0, 1), st.sampled_from(SLIPS), st.booleans()),
        min_size=len(SERIES),
        max_size=len(SERIES),
    ),
    st.booleans(),
)
def test_a_slip_by_ten_to_the_k_is_caught_exactly_where_it_can_be(draws, whole_window):
    """Per series: a clean run, or one slipped value inside the batch, or (whole_window) every
    value of a lookback window slipped, judged against the last stored value before it."""
    expected: dict[str, tuple[bool, bool]] = {}
    batches: dict[str, list[dict]] = {}
    before: dict[str, list[dict]] = {}
    for series, (u, k, slip) in zip(SERIES, draws, strict=True):
        level = _level(series, u)
        if not slip:
            values = [level] * 5
            expected[series.id] = (False, False)
        elif whole_window:
            values = [level * 10.0**k] * 3
            before.setdefault(series.source, []).extend(
                _rows(series, [level], FIRST_DAY - timedelta(days=1))
            )
            expected[series.id] = _expected(series, level, k)
        else:
            values = [level, level, level * 10.0**k, level, level]
            expected[series.id] = _expected(series, level, k)
        batches.setdefault(series.source, []).extend(_rows(series, values, FIRST_DAY))
    for source, rows in batches.items():
        table = SOURCE_TABLES[source]
        stored = Stored(pd.DataFrame(columns=table.names), _frame(source, before.get(source, [])))
        outcomes = validate_batch(
            _frame(source, rows), table, CATALOG, TODAY, source, stored=stored
        )
        flagged, errors = _flagged(outcomes)
        for series_id in {r["series_id"] for r in rows}:
            caught, blocking = expected[series_id]
            assert (series_id in flagged) is caught, (series_id, expected[series_id], outcomes)
            assert (series_id in errors) is blocking, (series_id, expected[series_id])


@SETTINGS
@given(
    st.sampled_from(sorted(CATALOG.margins.products)),
    st.sampled_from(sorted(CATALOG.margins.units)),
    st.floats(0, 1),
    st.sampled_from(SLIPS),
    st.booleans(),
)
def test_a_margin_slip_or_a_mistyped_previous_margin_is_always_caught(
    product, unit, u, k, in_previous
):
    """Margins have no absolute limit, so every slip by 10^k is caught: in the margin itself
    (the steps into and out of it) or in the previous margin a row claims."""
    lo, hi = CATALOG.margins.units[unit]
    level = lo * (hi / lo) ** u
    margins = [level, level * 1.05, level * 1.05, level]
    previous = [math.nan, level, level * 1.05, level * 1.05]
    if in_previous:
        previous[2] = previous[2] * 10.0**k
    else:
        margins[2] = margins[2] * 10.0**k
        previous[3] = margins[2]  # the row after claims the slipped value, consistently
    frame = pd.DataFrame(
        {
            "product": product,
            "effective_date": [FIRST_DAY + timedelta(days=30 * i) for i in range(4)],
            "initial_margin": np.nan,
            "maintenance_margin": margins,
            "unit": unit,
            "previous_maintenance_margin": previous,
            "source_file": "notice.pdf",
        }
    )
    outcomes = validate_batch(frame, CME, CATALOG, TODAY, "cme", rules=CME_RULES)
    flagged, errors = _flagged(outcomes)
    assert product in flagged and product in errors
