"""Quality gates for raw batches, built on Great Expectations.

Every batch is validated *before* it is written: a failing blocking expectation means the
warehouse is never touched. Each outcome names the source, the series and the offending values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

import pandas as pd

from orchestration.lib.catalog import Catalog
from orchestration.lib.raw_tables import RawTable

MAX_EXAMPLES = 5
# A handful of rows says nothing about a series' missing share; judge only real windows.
MIN_ROWS_FOR_MISSING_SHARE = 20
# Extra slack on freshness beyond staleness + release lag: one period of the series.
PERIOD_DAYS = {"daily": 3, "weekly": 7, "monthly": 31, "quarterly": 92}
# Margin changes are announced ahead of their effective date.
FUTURE_GRACE_DAYS = {"raw_cme.margin_changes": 30}


@dataclass(frozen=True)
class CheckSpec:
    name: str
    description: str
    blocking: bool = True


CHECKS = (
    CheckSpec("expected_columns", "The batch has every column of the raw table."),
    CheckSpec("dates_parseable", "Every row has a valid date."),
    CheckSpec("unique_keys", "No key (series, date) appears twice in the batch."),
    CheckSpec("no_future_dates", "No observation is dated after today."),
    CheckSpec(
        "magnitude_in_range",
        "Every value, converted with its units label, lies in the catalog range for its series "
        "(catches a millions/billions change).",
    ),
    CheckSpec("missing_share", "Missing values stay under each series' catalog limit."),
    CheckSpec(
        "freshness",
        "Each series' last observation is no older than its staleness limit plus release lag "
        "(warning: stale data is shown, not blocked).",
        blocking=False,
    ),
)


@dataclass
class Outcome:
    name: str
    passed: bool
    blocking: bool
    summary: str
    details: dict = field(default_factory=dict)


@cache
def _gx():
    """Great Expectations, imported on first use: it costs seconds to import."""
    # GE logs every datasource it builds at INFO; the outcome summary is what matters.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return gx, context


def _validate(frame: pd.DataFrame, expectations: list) -> list:
    gx, context = _gx()
    # GE hashes the whole frame to name the batch; text columns as categories hash ~10x faster.
    frame = frame.drop(columns=["_date"], errors="ignore")
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    frame = frame.astype(dict.fromkeys(text, "category"))
    name = f"cw_{id(frame)}"
    source = context.data_sources.add_or_update_pandas(name)
    batch_def = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
    suite = gx.ExpectationSuite(name=name)
    for expectation in expectations:
        suite.add_expectation(expectation)
    try:
        result = batch_def.get_batch(batch_parameters={"dataframe": frame}).validate(
            suite, result_format="COMPLETE"
        )
    finally:
        context.data_sources.delete(name)
    return result.results


def _examples(frame: pd.DataFrame, index: list, table: RawTable, cols: list[str]) -> list[str]:
    rows = frame.loc[list(index)[:MAX_EXAMPLES]]
    out = []
    for _, row in rows.iterrows():
        what = ", ".join(f"{c}={row[c]!r}" for c in cols if c in row)
        out.append(f"{row.get(table.series_column)} {row.get(table.date_column)}: {what}")
    return out


def validate_batch(
    frame: pd.DataFrame,
    table: RawTable,
    catalog: Catalog,
    today: date,
    source: str,
) -> list[Outcome]:
    """Run the blocking checks on a batch before it is written."""
    outcomes: list[Outcome] = []
    missing_cols = [c for c in table.names if c not in frame.columns]
    if missing_cols:
        outcomes.append(
            Outcome(
                "expected_columns",
                False,
                True,
                f"[{source}] batch lacks columns {missing_cols}; got {list(frame.columns)}",
            )
        )
        # Nothing else can be judged without the columns.
        return outcomes
    gx, _ = _gx()
    work = frame[table.names].reset_index(drop=True).copy()
    sid, dcol, vcol = table.series_column, table.date_column, table.value_column
    work["_date"] = pd.to_datetime(work[dcol], errors="coerce")
    # GE compares datetimes element by element (seconds per batch); day numbers are vectorised.
    work["_day"] = (work["_date"] - pd.Timestamp("1970-01-01")).dt.days.astype("float64")
    ranges = _ranges(work, table, catalog)
    work["_stored"] = ranges["stored"]
    work["_min"] = ranges["min"]
    work["_max"] = ranges["max"]
    horizon = pd.Timestamp(today + timedelta(days=FUTURE_GRACE_DAYS.get(table.qualified, 0)))

    exp = gx.expectations
    expectations = [
        exp.ExpectTableColumnsToMatchSet(column_set=[*table.names], exact_match=False),
        exp.ExpectColumnValuesToNotBeNull(column="_day"),
        exp.ExpectCompoundColumnsToBeUnique(column_list=list(table.key)),
        exp.ExpectColumnValuesToBeBetween(
            column="_day", max_value=float((horizon - pd.Timestamp("1970-01-01")).days)
        ),
        exp.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="_stored",
            column_B="_min",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
        exp.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="_max",
            column_B="_stored",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
    ]
    # One expectation for every series' missing share (a row_condition per series would cost a
    # pandas query per series): each row carries its series' share and limit.
    share_limits = _missing_share_limits(work, table, catalog)
    if share_limits:
        series_col = work[sid]
        work["_missing_limit"] = series_col.map(share_limits).astype("float64")
        work["_missing_share"] = work[vcol].isna().groupby(series_col).transform("mean")
        expectations.append(
            exp.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="_missing_limit",
                column_B="_missing_share",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            )
        )
    results = _validate(work, expectations) if len(work) else []
    by_type: dict[str, list] = {}
    for r in results:
        by_type.setdefault(r.expectation_config.type, []).append(r)

    def failed_rows(kind: str) -> list:
        idx: list = []
        for r in by_type.get(kind, []):
            if not r.success:
                idx.extend(r.result.get("unexpected_index_list") or [])
        return sorted(set(idx))

    outcomes.append(Outcome("expected_columns", True, True, "all columns present"))

    unparsed = work.index[work["_date"].isna()].tolist()
    outcomes.append(
        _outcome(
            "dates_parseable", unparsed, work, table, source, "unparseable or missing dates", [dcol]
        )
    )
    outcomes.append(
        _outcome(
            "unique_keys",
            failed_rows("expect_compound_columns_to_be_unique"),
            work,
            table,
            source,
            f"duplicate keys {list(table.key)}",
            [vcol] if vcol else [],
        )
    )
    future = work.index[work["_date"] > horizon].tolist()
    outcomes.append(
        _outcome(
            "no_future_dates", future, work, table, source, f"dates after {horizon.date()}", [dcol]
        )
    )
    # The magnitude and missing-share expectations share a GE type: split failures by cause.
    pair_failures = failed_rows("expect_column_pair_values_a_to_be_greater_than_b")
    stored = work["_stored"]
    magnitude_bad = stored.notna() & ((stored < work["_min"]) | (stored > work["_max"]))
    out_of_range = [i for i in pair_failures if magnitude_bad.at[i]]
    if vcol:
        # Unknown units or series give no stored value: as suspect as an out-of-range one.
        unknown = work.index[work["_min"].notna() & work["_stored"].isna() & work[vcol].notna()]
        out_of_range = sorted(set(out_of_range) | set(unknown.tolist()))
    outcomes.append(
        _outcome(
            "magnitude_in_range",
            out_of_range,
            work,
            table,
            source,
            "values outside the catalog range (a units change?)",
            [vcol, "units" if "units" in work else "unit", "_min", "_max"] if vcol else [],
        )
    )
    share_fail = []
    if share_limits:
        over = work.loc[[i for i in pair_failures if not magnitude_bad.at[i]]]
        for series_id, share in over.groupby(sid)["_missing_share"].first().items():
            limit = share_limits[series_id]
            share_fail.append(f"{series_id}: {share * 100:.1f}% missing > {limit:.0%}")
    outcomes.append(
        Outcome(
            "missing_share",
            not share_fail,
            True,
            f"[{source}] too many missing values: " + "; ".join(share_fail)
            if share_fail
            else "missing shares within limits",
            {"failing_series": share_fail},
        )
    )
    return outcomes


def _outcome(
    name: str, index: list, work: pd.DataFrame, table: RawTable, source: str, what: str, cols: list
) -> Outcome:
    if not index:
        return Outcome(name, True, True, f"no {what}")
    series = sorted({str(s) for s in work.loc[index, table.series_column]})
    examples = _examples(work, index, table, cols)
    return Outcome(
        name,
        False,
        True,
        f"[{source}/{','.join(series[:5])}] {len(index)} rows with {what}, e.g. {examples[0]}",
        {"rows": len(index), "series": series, "examples": examples},
    )


def _ranges(work: pd.DataFrame, table: RawTable, catalog: Catalog) -> pd.DataFrame:
    """Stored value and the catalog range per row; unknown units leave `stored` empty."""
    out = pd.DataFrame(index=work.index, columns=["stored", "min", "max"], dtype="float64")
    if table.value_column is None:
        return out
    value = pd.to_numeric(work[table.value_column], errors="coerce")
    if table.qualified == "raw_cme.margin_changes":
        bounds = work["unit"].map(lambda u: catalog.margins.units.get(u, (None, None)))
        out["min"] = [b[0] for b in bounds]
        out["max"] = [b[1] for b in bounds]
        known = work["unit"].isin(list(catalog.margins.units))
        out["stored"] = value.where(known)
        # An unknown unit has no range: flag it through min with a NaN stored value.
        out.loc[~known, "min"] = 0.0
        return out.astype("float64")  # the bounds lists hold None for unknown units
    # Look each distinct series and units label up once, then map (per-row Python is slow).
    ids = work[table.series_column]
    known_ids = {i: catalog.series[i].range for i in ids.dropna().unique() if i in catalog.series}
    out["min"] = ids.map({i: r[0] for i, r in known_ids.items()}).astype("float64")
    out["max"] = ids.map({i: r[1] for i, r in known_ids.items()}).astype("float64")
    labels = work["units"]
    factors = {}
    for label in labels.dropna().unique():
        unit = catalog.unit(label) if isinstance(label, str) else None
        if unit:
            factors[label] = unit.factor
    out["stored"] = value * labels.map(factors).astype("float64")
    # Unknown series: no range to judge; mark like an unknown unit so it is reported.
    unknown = ~ids.isin(list(known_ids))
    out.loc[unknown, "min"] = 0.0
    out.loc[unknown, "stored"] = float("nan")
    return out


def _missing_share_limits(work: pd.DataFrame, table: RawTable, catalog: Catalog) -> dict:
    if table.value_column is None:
        return {}
    counts = work[table.series_column].value_counts()
    limits = {}
    for series_id, n in counts.items():
        spec = catalog.series.get(series_id)
        if n >= MIN_ROWS_FOR_MISSING_SHARE:
            limits[series_id] = spec.max_missing_share if spec else 0.05
    return limits


def freshness(
    last_dates: dict, table: RawTable, catalog: Catalog, as_of: date, source: str
) -> Outcome:
    """Warn about series whose last observation is older than the catalog allows."""
    stale = []
    for series_id, last in sorted(last_dates.items()):
        spec = catalog.series.get(series_id)
        if spec is None or spec.discontinued or last is None:
            continue
        allowed = spec.staleness_days + spec.release_lag_days + PERIOD_DAYS[spec.frequency]
        age = (as_of - last).days
        if age > allowed:
            stale.append(f"{series_id} last {last} ({age} d old > {allowed} d)")
    return Outcome(
        "freshness",
        not stale,
        False,
        f"[{source}] stale as of {as_of}: " + "; ".join(stale) if stale else f"fresh as of {as_of}",
        {"stale": stale, "as_of": str(as_of)},
    )
