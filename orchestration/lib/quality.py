"""Quality gates for raw batches, built on Great Expectations.

Every batch is validated *before* it is written: a failing blocking expectation means the
warehouse is never touched. Each outcome names the source, the series and the offending values.
Three checks run *after* the write, on what the warehouse then holds: `data_age_within_limit`,
`source_not_frozen` and `series_not_stuck` (warnings: the data stays visible, the marts NULL and
flag values past their staleness limit). Each check says what implements it (`engine`: Great
Expectations for the expectations validated on the batch, pandas / Python for the rest).

What "fresh" means, everywhere: a series is fresh when its newest observation is no older than
its staleness limit + release lag + one period, as of today (live) or as of the newest
observation the warehouse holds from any source (replay and sample, which replay a fixed past).
A source or required series with no rows is never fresh. This is the data's own age; the
Dagster freshness policy on every asset only says the asset was refreshed on schedule
(orchestration/defs/automation/schedules.py).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

import numpy as np
import pandas as pd

from orchestration.lib.catalog import Catalog
from orchestration.lib.raw_tables import RawTable
from orchestration.lib.source_rules import DEFAULT_RULES, SourceRules, Tracked

MAX_EXAMPLES = 5
# A handful of rows says nothing about a series' missing share; judge only real windows.
MIN_ROWS_FOR_MISSING_SHARE = 20
# A source correcting a bad row drops one or two; more from a required series is a cut history.
MAX_QUIET_DROPS = 2
EPOCH = pd.Timestamp("1970-01-01")

# The stuck check, on each daily series' own history, month by month. A month is judged when it
# has enough daily moves; it is "lifeless" when its moves change direction at most twice (an
# interpolated line, a repeated value, a creeping copy). A run of lifeless months is flagged only
# when the series is lively in a typical month of its whole history *and* in the months around
# the run, so series flat by nature or by policy stay quiet: quiet regimes (JGB yields under
# zero-rate policy, silver pegged in the 1960s) by their context, rates the catalog marks
# `administered` (IORB, SOFR, EFFR) by being skipped. On ../shared/snapshot this flags exactly
# BAMLH0A0HYM2 2021-04-01..2023-06-30 (tests/test_quality.py).
STUCK_MIN_MOVES = 15
STUCK_MAX_REVERSALS = 2
STUCK_MIN_MONTHS = 3
STUCK_CONTEXT_MONTHS = 24
STUCK_CONTEXT_MIN_MONTHS = 6
STUCK_LIVELY_REVERSALS = 6


GX = "Great Expectations"
PANDAS = "pandas"
PYTHON = "Python"


@dataclass(frozen=True)
class CheckSpec:
    name: str
    description: str
    blocking: bool = True
    engine: str = PANDAS  # what decides the outcome (GX: a Great Expectations expectation)


CHECKS = (
    CheckSpec("expected_columns", "The batch has every column of the raw table."),
    CheckSpec("dates_parseable", "Every row has a valid date."),
    CheckSpec("unique_keys", "No key (series, date) appears twice in the batch.", engine=GX),
    CheckSpec(
        "no_future_dates",
        "No observation is dated after today (plus the source's grace days, e.g. margin "
        "changes announced ahead).",
    ),
    CheckSpec(
        "no_dates_before_start",
        "No observation is dated before its series' first_date in the catalog (a year-1 row "
        "would stretch every calendar to year 1).",
        engine=GX,
    ),
    CheckSpec(
        "magnitude_in_range",
        "Every value, converted with its units label, lies in the catalog range for its series "
        "(catches a millions/billions change).",
        engine=GX,
    ),
    CheckSpec(
        "plausible_changes",
        "No step between consecutive values of a series (stored units, the last stored value "
        "before the window included) goes beyond the catalog's jump limit, and a previous value "
        "a row states matches the real previous row: catches decimal and units slips. ERROR "
        "where the catalog says block, WARN where history shows such steps.",
        engine=GX,
    ),
    CheckSpec("missing_share", "Missing values stay under each series' catalog limit.", engine=GX),
    CheckSpec(
        "series_present",
        "Every series (or margin product) the source should carry has values in this fetch: "
        "ERROR for a required one, WARN for an optional one.",
    ),
    CheckSpec(
        "no_rows_dropped",
        "The source still carries every row the warehouse holds in the fetched window: more "
        f"than {MAX_QUIET_DROPS} rows gone from a required series is an ERROR (a cut history), "
        "fewer or from an optional series a WARN. `crosswind reconcile` (or run config "
        "`reconcile: true`) deletes them, logged in raw_meta.revision_log.",
    ),
    CheckSpec(
        "data_age_within_limit",
        "The data's own age, not the refresh schedule: each series' newest observation is no "
        "older than its staleness limit plus release lag (warning: stale data is shown, not "
        "blocked); a required series with no rows is stale. The asset's freshness policy only "
        "says it was refreshed on schedule.",
        blocking=False,
        engine=PYTHON,
    ),
    CheckSpec(
        "source_not_frozen",
        "At least one series of the source is fresh, and the source has rows at all (warning: "
        "a frozen copy, e.g. a workbook that stopped updating, keeps loading without errors).",
        blocking=False,
        engine=PYTHON,
    ),
    CheckSpec(
        "series_not_stuck",
        "No daily series has months where it barely moves against the months around it (an "
        "interpolated or repeated copy); the periods are kept in raw_meta.flagged_periods.",
        blocking=False,
    ),
)
AFTER_WRITE = frozenset({"data_age_within_limit", "source_not_frozen", "series_not_stuck"})


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


@dataclass(frozen=True)
class Stored:
    """What the warehouse already holds around a batch (rows in the raw table's columns).

    `rows`: every stored row of the fetched window of each series (all of it after a full
    fetch); `before`: per series, the last stored row with a value before its window, so the
    first step of a lookback batch is judged too.
    """

    rows: pd.DataFrame
    before: pd.DataFrame


def _day_numbers(values: pd.Series) -> pd.Series:
    # GE compares datetimes element by element (seconds per batch); day numbers are vectorised.
    return (pd.to_datetime(values, errors="coerce") - EPOCH).dt.days.astype("float64")


def _at_least(exp, column_a: str, column_b: str):
    """Row by row, column_a >= column_b where both are known."""
    return exp.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=column_a, column_B=column_b, or_equal=True, ignore_row_if="either_value_is_missing"
    )


def validate_batch(
    frame: pd.DataFrame,
    table: RawTable,
    catalog: Catalog,
    today: date,
    source: str,
    *,
    rules: SourceRules = DEFAULT_RULES,
    tracked: Sequence[Tracked] | None = None,
    stored: Stored | None = None,
    reconcile: bool = False,
) -> list[Outcome]:
    """Run the blocking checks on a batch before it is written.

    `stored` (None: nothing stored yet) lets the batch be judged against the warehouse: steps
    from the last stored value, rows the source no longer carries. With `reconcile`, rows the
    source dropped are reported as deletions to apply, not as a failure.
    """
    tracked = rules.tracked(catalog, source, rules) if tracked is None else tracked
    by_id = {t.id: t for t in tracked}
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
    work["_day"] = (work["_date"] - EPOCH).dt.days.astype("float64")
    plausible = rules.plausibility(work, table, catalog)
    for column in ("stored", "min", "max", "scale", "claimed_prev"):
        work[f"_{column}"] = plausible[column]
    first_days = {t.id: float((t.first_date - EPOCH.date()).days) for t in tracked}
    work["_first_day"] = work[sid].map(first_days).astype("float64")
    work["_jump_excess"], work["_prev"], work["_prev_day"] = _steps(
        work, table, catalog, rules, by_id, stored
    )
    horizon = pd.Timestamp(today + timedelta(days=rules.future_grace_days))

    exp = gx.expectations
    expectations = [
        exp.ExpectTableColumnsToMatchSet(column_set=[*table.names], exact_match=False),
        exp.ExpectColumnValuesToNotBeNull(column="_day"),
        exp.ExpectCompoundColumnsToBeUnique(column_list=list(table.key)),
        exp.ExpectColumnValuesToBeBetween(column="_day", max_value=float((horizon - EPOCH).days)),
        _at_least(exp, "_day", "_first_day"),
        _at_least(exp, "_stored", "_min"),
        _at_least(exp, "_max", "_stored"),
        # A previous value a row states (CME) lies in the same range as the value itself.
        _at_least(exp, "_claimed_prev", "_min"),
        _at_least(exp, "_max", "_claimed_prev"),
        # The step's excess over its limit (1 = at the limit); NaN rows are not judged.
        exp.ExpectColumnValuesToBeBetween(column="_jump_excess", max_value=1.0),
    ]
    # One expectation for every series' missing share (a row_condition per series would cost a
    # pandas query per series): each row carries its series' share and limit.
    share_limits = _missing_share_limits(work, table, catalog)
    if share_limits:
        series_col = work[sid]
        work["_missing_limit"] = series_col.map(share_limits).astype("float64")
        work["_missing_share"] = work[vcol].isna().groupby(series_col).transform("mean")
        expectations.append(_at_least(exp, "_missing_limit", "_missing_share"))
    results = _validate(work, expectations) if len(work) else []

    def failed_rows(kind: str, column: str) -> list:
        """Failing row numbers of the expectations of `kind` on `column` (column_A for pairs)."""
        idx: list = []
        for r in results:
            kwargs = r.expectation_config.kwargs
            if r.expectation_config.type != kind or not (
                kwargs.get("column") == column or kwargs.get("column_A") == column
            ):
                continue
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
            failed_rows("expect_compound_columns_to_be_unique", None),  # no single column
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
    pair = "expect_column_pair_values_a_to_be_greater_than_b"
    early = failed_rows(pair, "_day")
    outcomes.append(
        _outcome(
            "no_dates_before_start",
            early,
            work,
            table,
            source,
            "dates before the series' first_date in the catalog",
            [dcol],
            first_dates={t.id: t.first_date for t in tracked},
        )
    )
    out_of_range = sorted(
        set(failed_rows(pair, "_stored"))
        | set(failed_rows(pair, "_max"))
        | set(failed_rows(pair, "_claimed_prev"))
    )
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
            [vcol, "units" if "units" in work else "unit", "_min", "_max"]
            + (["_claimed_prev"] if work["_claimed_prev"].notna().any() else [])
            if vcol
            else [],
        )
    )
    outcomes.append(
        _jump_outcome(
            failed_rows("expect_column_values_to_be_between", "_jump_excess"),
            work,
            table,
            source,
            by_id,
        )
    )
    share_fail = []
    if share_limits:
        over = work.loc[failed_rows(pair, "_missing_limit")]
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
    outcomes.append(series_present(work, table, tracked, source, rules.absent_hint))
    outcomes.append(
        rows_dropped_outcome(dropped_rows(frame, table, stored), table, by_id, source, reconcile)
    )
    return outcomes


def _outcome(
    name: str,
    index: list,
    work: pd.DataFrame,
    table: RawTable,
    source: str,
    what: str,
    cols: list,
    first_dates: dict | None = None,
) -> Outcome:
    if not index:
        return Outcome(name, True, True, f"no {what}")
    series = sorted({str(s) for s in work.loc[index, table.series_column]})
    examples = _examples(work, index, table, cols)
    if first_dates:
        examples = [
            f"{e} (first_date {first_dates.get(s)})"
            for e, s in zip(examples, work.loc[index, table.series_column], strict=False)
        ]
    return Outcome(
        name,
        False,
        True,
        f"[{source}/{','.join(series[:5])}] {len(index)} rows with {what}, e.g. {examples[0]}",
        {"rows": len(index), "series": series, "examples": examples},
    )


# -- steps between consecutive values -------------------------------------------------------------


def _stored_frame(
    rows: pd.DataFrame, table: RawTable, catalog: Catalog, rules: SourceRules
) -> pd.DataFrame:
    """Warehouse rows as (series, day, value in stored units, scale)."""
    if rows is None or rows.empty:
        return pd.DataFrame(columns=["series", "day", "value", "scale"])
    rows = rows.reset_index(drop=True)
    plausible = rules.plausibility(rows, table, catalog)
    return pd.DataFrame(
        {
            "series": rows[table.series_column].to_numpy(),
            "day": _day_numbers(rows[table.date_column]).to_numpy(),
            "value": plausible["stored"].to_numpy(dtype="float64"),
            "scale": plausible["scale"].to_numpy(),
        }
    )


def _limit_columns(series: pd.Series, by_id: dict[str, Tracked]) -> tuple[pd.Series, pd.Series]:
    logs, abses = {}, {}
    for series_id in series.dropna().unique():
        jump = by_id[series_id].jump if series_id in by_id else None
        logs[series_id] = jump.max_log if jump and jump.max_log else math.nan
        abses[series_id] = jump.max_abs if jump and jump.max_abs else math.nan
    return series.map(logs).astype("float64"), series.map(abses).astype("float64")


def step_excess(new, old, max_log, max_abs):
    """How far a step from `old` to `new` goes beyond its limits (> 1: implausible).

    The smaller of |ln(new/old)| / max_log (infinite when a value is <= 0) and |new - old| /
    max_abs, over the limits given; NaN when no limit is given.
    """
    new, old = np.asarray(new, dtype="float64"), np.asarray(old, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        positive = (new > 0) & (old > 0)
        log_step = np.where(positive, np.abs(np.log(np.where(positive, new / old, 1.0))), np.inf)
        log_excess = np.where(np.isnan(max_log), np.nan, log_step / max_log)
        abs_excess = np.abs(new - old) / max_abs
    excess = np.fmin(log_excess, abs_excess)
    return np.where(np.isnan(new) | np.isnan(old), np.nan, excess)


def _steps(
    work: pd.DataFrame,
    table: RawTable,
    catalog: Catalog,
    rules: SourceRules,
    by_id: dict[str, Tracked],
    stored: Stored | None,
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per batch row: the excess of its step (and of its claimed previous value), the previous
    value and its day. A step is judged only when one of its ends is new or revised, so the
    history already accepted is not judged again on every full re-read."""
    sid = table.series_column
    batch = pd.DataFrame(
        {
            "series": work[sid],
            "day": work["_day"],
            "value": work["_stored"],
            "scale": work["_scale"],
            "claimed": work["_claimed_prev"],
            "row": work.index,
        }
    )
    old = _stored_frame(stored.rows if stored else None, table, catalog, rules)
    if len(old):
        known = old.drop_duplicates(["series", "day"]).rename(columns={"value": "old"})
        known = known[["series", "day", "old"]].assign(had=True)
        batch = batch.merge(known, on=["series", "day"], how="left")
        equal = (batch["old"] == batch["value"]) | (batch["old"].isna() & batch["value"].isna())
        batch["changed"] = ~(batch["had"].notna() & equal)
    else:
        batch["changed"] = True
    before = _stored_frame(stored.before if stored else None, table, catalog, rules)
    before = before.assign(claimed=np.nan, row=-1, changed=False)
    seq = pd.concat(
        [before, batch[batch["value"].notna() & batch["day"].notna()]], ignore_index=True
    )
    seq = seq.sort_values(["series", "day"], kind="stable")
    grouped = seq.groupby(["series", "scale"], sort=False, dropna=False)
    seq["prev"] = grouped["value"].shift(1)
    seq["prev_day"] = grouped["day"].shift(1)
    seq["prev_changed"] = grouped["changed"].shift(1).astype("boolean").fillna(False)
    max_log, max_abs = _limit_columns(seq["series"], by_id)
    step = step_excess(seq["value"], seq["prev"], max_log.to_numpy(), max_abs.to_numpy())
    claimed = step_excess(seq["claimed"], seq["prev"], max_log.to_numpy(), max_abs.to_numpy())
    judged = (seq["changed"].astype(bool) | seq["prev_changed"].astype(bool)).to_numpy()
    # A stated previous value is always checked: it can be wrong while the value is unchanged.
    excess = np.fmax(np.where(judged, step, np.nan), claimed)
    mine = (seq["row"] >= 0).to_numpy()
    index = seq.loc[mine, "row"].astype(int).to_numpy()
    out_excess = pd.Series(np.nan, index=work.index, dtype="float64")
    out_prev = pd.Series(np.nan, index=work.index, dtype="float64")
    out_prev_day = pd.Series(np.nan, index=work.index, dtype="float64")
    out_excess.iloc[index] = excess[mine]
    out_prev.iloc[index] = seq.loc[mine, "prev"].to_numpy(dtype="float64")
    out_prev_day.iloc[index] = seq.loc[mine, "prev_day"].to_numpy(dtype="float64")
    return out_excess, out_prev, out_prev_day


def _jump_outcome(
    index: list, work: pd.DataFrame, table: RawTable, source: str, by_id: dict[str, Tracked]
) -> Outcome:
    name = "plausible_changes"
    if not index:
        return Outcome(name, True, True, "no implausible changes between consecutive values")
    sid, dcol = table.series_column, table.date_column
    steps = []
    for i in index:
        row = work.loc[i]
        prev_day = EPOCH + pd.Timedelta(days=float(row["_prev_day"]))
        with np.errstate(over="ignore"):
            change = (
                f"x{row['_stored'] / row['_prev']:.3g}"
                if row["_prev"] > 0 and row["_stored"] > 0
                else f"{row['_stored'] - row['_prev']:+.6g}"
            )
        detail = (
            f"{row[sid]} {row[dcol]}: {row['_prev']:.6g} ({prev_day.date()}) -> "
            f"{row['_stored']:.6g} ({change})"
        )
        if pd.notna(row["_claimed_prev"]):
            detail += f", claims previous {row['_claimed_prev']:.6g}"
        jump = by_id[row[sid]].jump
        steps.append(
            {
                "series_id": str(row[sid]),
                "date": str(row[dcol]),
                "detail": detail,
                "blocking": bool(jump.blocking),
            }
        )
    blocking = any(s["blocking"] for s in steps)
    series = sorted({s["series_id"] for s in steps})
    limits = "; ".join(
        f"{s}: {_limit_text(by_id[s])}" for s in series[:MAX_EXAMPLES] if by_id[s].jump
    )
    return Outcome(
        name,
        False,
        blocking,
        f"[{source}/{','.join(series[:5])}] {len(steps)} rows step beyond the catalog's jump "
        f"limit (a decimal or units slip?), e.g. {steps[0]['detail']}; limits {limits}",
        {
            "rows": len(steps),
            "series": series,
            "examples": [s["detail"] for s in steps[:MAX_EXAMPLES]],
            "steps": steps,
        },
    )


def _limit_text(t: Tracked) -> str:
    parts = []
    if t.jump.max_log:
        parts.append(f"x{math.exp(t.jump.max_log):.3g}")
    if t.jump.max_abs:
        parts.append(f"{t.jump.max_abs:g} stored units")
    return " and ".join(parts) + ("" if t.jump.blocking else " (warn)")


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


# -- what the source carries vs what the warehouse holds ----------------------------------------


def series_present(
    frame: pd.DataFrame, table: RawTable, tracked: Sequence[Tracked], source: str, hint: str = ""
) -> Outcome:
    """Every tracked series has values in the batch: ERROR for a required one, WARN otherwise."""
    rows = frame if table.value_column is None else frame[frame[table.value_column].notna()]
    have = set(rows[table.series_column])
    required = [t.id for t in tracked if t.required and t.id not in have]
    optional = [t.id for t in tracked if not t.required and t.id not in have]
    if not required and not optional:
        return Outcome("series_present", True, True, f"all {len(tracked)} series have values")
    parts = []
    if required:
        parts.append(
            f"required series without any value in this fetch (file missing, empty or cut?): "
            f"{', '.join(required)}"
        )
        if hint:
            parts[-1] += f" ({hint})"
    if optional:
        parts.append(f"optional series not supplied: {', '.join(optional)}")
        if hint and not required and not have:
            parts[-1] += f" ({hint})"  # the source gave nothing at all: say where data comes from
    shown = ",".join((required or optional)[:5])
    return Outcome(
        "series_present",
        False,
        bool(required),
        f"[{source}/{shown}] " + "; ".join(parts),
        {"required_missing": required, "optional_missing": optional},
    )


def dropped_rows(frame: pd.DataFrame, table: RawTable, stored: Stored | None) -> pd.DataFrame:
    """Stored rows with a value, in the fetched window, that the batch no longer carries."""
    if stored is None or stored.rows.empty:
        return pd.DataFrame(columns=list(table.key))
    rows = stored.rows
    if table.value_column is not None:
        rows = rows[rows[table.value_column].notna()]
    keys = list(table.key)
    have = frame[keys].copy()
    have[table.date_column] = _day_numbers(have[table.date_column])
    probe = rows[keys].copy()
    probe[table.date_column] = _day_numbers(probe[table.date_column])
    hit = probe.merge(have.drop_duplicates().assign(_hit=True), on=keys, how="left")["_hit"]
    return rows[hit.isna().to_numpy()].reset_index(drop=True)


def rows_dropped_outcome(
    dropped: pd.DataFrame,
    table: RawTable,
    by_id: dict[str, Tracked],
    source: str,
    reconcile: bool = False,
) -> Outcome:
    name = "no_rows_dropped"
    if dropped.empty:
        return Outcome(name, True, True, "the source still carries every stored row")
    sid, dcol = table.series_column, table.date_column
    per_series = []
    error = False
    for series_id, group in dropped.groupby(sid, sort=True):
        dates = sorted(pd.Timestamp(d).date() for d in group[dcol])
        required = by_id[series_id].required if series_id in by_id else False
        error |= required and len(dates) > MAX_QUIET_DROPS
        span = f"{dates[0]}" if len(dates) == 1 else f"{dates[0]}..{dates[-1]}"
        per_series.append(f"{series_id}: {len(dates)} rows ({span})")
    series = sorted({str(s) for s in dropped[sid]})
    if reconcile:
        return Outcome(
            name,
            True,
            True,
            f"[{source}] reconcile: deleting {len(dropped)} stored rows the source no longer "
            f"carries: " + "; ".join(per_series),
            {"rows": len(dropped), "series": series, "per_series": per_series, "deleted": True},
        )
    return Outcome(
        name,
        False,
        error,
        f"[{source}/{','.join(series[:5])}] the source no longer carries {len(dropped)} rows the "
        f"warehouse holds (kept; `crosswind reconcile --sources {source}` deletes them): "
        + "; ".join(per_series),
        {"rows": len(dropped), "series": series, "per_series": per_series},
    )


# -- after the write: data age, frozen sources, stuck series -------------------------------------


def _judged_for_age(tracked: Sequence[Tracked]) -> list[Tracked]:
    return [t for t in tracked if not t.discontinued and t.max_age_days is not None]


def data_age_within_limit(
    last_dates: dict, tracked: Sequence[Tracked], as_of: date, source: str
) -> Outcome:
    """Warn about series whose last observation is older than the catalog allows."""
    stale = []
    if not last_dates:
        stale.append("no rows at all")
    for t in _judged_for_age(tracked):
        last = last_dates.get(t.id)
        if last is None:
            if t.required:
                stale.append(f"{t.id} has no rows")
            continue
        age = (as_of - last).days
        if age > t.max_age_days:
            stale.append(f"{t.id} last {last} ({age} d old > {t.max_age_days} d)")
    return Outcome(
        "data_age_within_limit",
        not stale,
        False,
        f"[{source}] data too old (stale) as of {as_of}: " + "; ".join(stale)
        if stale
        else f"every series' newest data within its age limit as of {as_of}",
        {"stale": stale, "as_of": str(as_of)},
    )


def source_not_frozen(
    last_dates: dict, tracked: Sequence[Tracked], as_of: date, source: str
) -> Outcome:
    """Warn when no series of the source is fresh: the whole source stopped updating."""
    name = "source_not_frozen"
    if not last_dates:
        return Outcome(name, False, False, f"[{source}] no rows at all: never fresh", {})
    newest = max(last_dates.values())
    age = (as_of - newest).days
    judged = _judged_for_age(tracked)
    details = {"newest": str(newest), "age_days": age, "as_of": str(as_of)}
    if not judged:
        return Outcome(
            name, True, False, f"newest row {newest} (no staleness limit: event history)", details
        )
    fresh = [
        t
        for t in judged
        if t.id in last_dates and (as_of - last_dates[t.id]).days <= t.max_age_days
    ]
    if fresh:
        return Outcome(
            name,
            True,
            False,
            f"newest observation {newest} ({age} d old as of {as_of}); {len(fresh)} of "
            f"{len(judged)} series within their staleness limit",
            details,
        )
    limits = sorted({t.max_age_days for t in judged})
    shown = f"{limits[0]} d" if len(limits) == 1 else f"{limits[0]}-{limits[-1]} d"
    return Outcome(
        name,
        False,
        False,
        f"[{source}] frozen: newest observation {newest} is {age} d old as of {as_of}, beyond "
        f"every series' staleness limit ({shown}); values past it are NULL and flagged in the "
        "marts",
        details,
    )


@dataclass(frozen=True)
class FlaggedPeriod:
    series_id: str
    start: date
    end: date
    kind: str
    detail: str


def stuck_periods(history: pd.DataFrame) -> list[FlaggedPeriod]:
    """Runs of months where a daily series barely moves against the months around it.

    `history`: columns series_id, date, value (stored units), the daily series to judge.
    """
    return stuck_periods_from(month_activity(history))


def month_activity(history: pd.DataFrame) -> pd.DataFrame:
    """Per (series_id, month): `moves` (day-on-day changes), `reversals` (moves whose direction
    differs from the series' previous nonzero move) and the `first` and `last` date.

    `history`: columns series_id, date, value (stored units). `month_activity_in` computes the
    same in the warehouse."""
    if history.empty:
        return _no_activity()
    frame = history.dropna(subset=["value"]).sort_values(["series_id", "date"], kind="stable")
    frame = frame.assign(date=pd.to_datetime(frame["date"])).reset_index(drop=True)
    ids = frame["series_id"]
    value = frame["value"].astype("float64")
    move = value.groupby(ids).diff()
    moved = move.abs() > 1e-9 * value.abs().clip(lower=1.0)
    sign = np.sign(move).where(moved)
    last_sign = sign.groupby(ids).ffill().groupby(ids).shift(1)
    frame["move"] = move.notna()
    frame["reversal"] = moved & last_sign.notna() & (sign != last_sign)
    frame["month"] = frame["date"].dt.to_period("M")
    return frame.groupby(["series_id", "month"]).agg(
        moves=("move", "sum"),
        reversals=("reversal", "sum"),
        first=("date", "min"),
        last=("date", "max"),
    )


def _no_activity() -> pd.DataFrame:
    index = pd.MultiIndex.from_arrays(
        [pd.Index([], dtype=object), pd.PeriodIndex([], freq="M")], names=["series_id", "month"]
    )
    return pd.DataFrame(
        {"moves": [], "reversals": [], "first": [], "last": []}, index=index
    ).astype(
        {
            "moves": "int64",
            "reversals": "int64",
            "first": "datetime64[ns]",
            "last": "datetime64[ns]",
        }
    )


# month_activity as one query on the stored rows: at 100x (6,300 series, ~40 M daily rows) the
# pandas version spent ~35 s per source loading and grouping them on every changed batch.
MONTH_ACTIVITY_SQL = """
WITH factors AS (
    SELECT unnest($labels::VARCHAR[]) AS label, unnest($factors::DOUBLE[]) AS factor
), stored AS (
    SELECT t."{series}" AS series_id, t."{date}" AS date, t."{value}" * f.factor AS value
    FROM {table} t JOIN factors f ON t.units = f.label
    WHERE t."{series}" IN (SELECT unnest($series::VARCHAR[])) AND t."{value}" IS NOT NULL
), moves AS (
    SELECT *, value - lag(value) OVER (PARTITION BY series_id ORDER BY date) AS move
    FROM stored WHERE NOT isnan(value)
), signed AS (
    SELECT *, CASE WHEN abs(move) > 1e-9 * greatest(abs(value), 1.0) THEN sign(move) END AS sgn
    FROM moves
), reversals AS (
    SELECT *, last_value(sgn IGNORE NULLS) OVER (
        PARTITION BY series_id ORDER BY date ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS last_sign
    FROM signed
)
SELECT series_id, date_trunc('month', date) AS month,
    count(move) AS moves,
    count(*) FILTER (WHERE sgn IS NOT NULL AND last_sign IS NOT NULL AND sgn <> last_sign)
        AS reversals,
    min(date) AS first, max(date) AS last
FROM reversals GROUP BY ALL ORDER BY series_id, month
"""


def month_activity_in(
    con, table: RawTable, series_ids: Sequence[str], catalog: Catalog
) -> pd.DataFrame:
    """`month_activity` of these series' stored rows, computed by DuckDB (or DuckLake), with
    values in the stored unit as `series_plausibility` converts them (units label -> factor;
    rows with an unknown label count as missing)."""
    if table.value_column is None or not series_ids:
        return _no_activity()
    stored_labels = con.execute(f"SELECT DISTINCT units FROM {table.qualified}").fetchall()
    factors = catalog.unit_factors(row[0] for row in stored_labels)
    sql = MONTH_ACTIVITY_SQL.format(
        table=table.qualified,
        series=table.series_column,
        date=table.date_column,
        value=table.value_column,
    )
    params = {
        "labels": list(factors),
        "factors": list(factors.values()),
        "series": list(series_ids),
    }
    months = con.execute(sql, params).df()
    if months.empty:
        return _no_activity()
    months["month"] = pd.to_datetime(months["month"]).dt.to_period("M")
    for column in ("first", "last"):
        months[column] = pd.to_datetime(months[column])
    return months.astype({"moves": "int64", "reversals": "int64"}).set_index(["series_id", "month"])


def stuck_periods_from(months: pd.DataFrame) -> list[FlaggedPeriod]:
    """The stuck runs in `month_activity` output (see `stuck_periods`)."""
    if months.empty:
        return []
    judged_all = months[months["moves"] >= STUCK_MIN_MOVES]
    # A run needs STUCK_MIN_MONTHS lifeless months: skip the series with fewer (most of them).
    lifeless = (judged_all["reversals"] <= STUCK_MAX_REVERSALS).groupby(level=0).sum()
    candidates = set(lifeless.index[lifeless >= STUCK_MIN_MONTHS])
    months = months[months.index.get_level_values(0).isin(candidates)]
    out = []
    for series_id, per_month in months.groupby(level=0):
        per_month = per_month.droplevel(0)
        judged = per_month[per_month["moves"] >= STUCK_MIN_MOVES]
        if judged.empty or judged["reversals"].median() < STUCK_LIVELY_REVERSALS:
            continue  # not a lively series to begin with
        lifeless = judged["reversals"] <= STUCK_MAX_REVERSALS
        for run in _runs([m for m, dead in lifeless.items() if dead]):
            if len(run) < STUCK_MIN_MONTHS:
                continue
            first, last = run[0], run[-1]
            around = judged["reversals"][
                ((judged.index >= first - STUCK_CONTEXT_MONTHS) & (judged.index < first))
                | ((judged.index > last) & (judged.index <= last + STUCK_CONTEXT_MONTHS))
            ]
            if len(around) < STUCK_CONTEXT_MIN_MONTHS:
                continue
            typical = float(around.median())
            if typical < STUCK_LIVELY_REVERSALS:
                continue
            inside = judged.loc[run]
            out.append(
                FlaggedPeriod(
                    series_id=str(series_id),
                    start=inside["first"].min().date(),
                    end=inside["last"].max().date(),
                    kind="stuck",
                    detail=f"{len(run)} months with at most {STUCK_MAX_REVERSALS} direction "
                    f"changes a month in {int(inside['moves'].sum())} daily moves; the "
                    f"{STUCK_CONTEXT_MONTHS} months around change direction {typical:g} times a "
                    "month",
                )
            )
    return out


def _runs(months: list) -> list[list]:
    """Consecutive calendar months grouped into runs."""
    runs: list[list] = []
    for month in months:
        if runs and (month - runs[-1][-1]).n == 1:
            runs[-1].append(month)
        else:
            runs.append([month])
    return runs


def stuck_outcome(periods: Sequence[FlaggedPeriod], judged: int, source: str) -> Outcome:
    name = "series_not_stuck"
    if not periods:
        return Outcome(name, True, False, f"no stuck stretch in {judged} daily series")
    texts = [f"{p.series_id} {p.start}..{p.end} ({p.detail})" for p in periods]
    series = sorted({p.series_id for p in periods})
    return Outcome(
        name,
        False,
        False,
        f"[{source}/{','.join(series[:5])}] barely moves against its own history (interpolated "
        f"or repeated values?): " + "; ".join(texts),
        {"periods": texts, "series": series},
    )
