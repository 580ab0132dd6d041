"""Builds the raw ingestion assets: fetch -> validate (blocking) -> write -> after-write checks.

The blocking checks run on the batch *before* anything is written, so a failing gate leaves the
warehouse exactly as it was and stops everything downstream in the run. What differs between
sources (lookback, grace days, extra tables, what "a series" is) comes from the `SourceRules`
each source's definitions module passes in; this module knows no source by name.

Windows: a series never loaded is read in full; afterwards each series is re-read from its own
last date minus its lookback (so one discontinued series no longer drags every other window
back). Every `rules.full_fetch_every_days` (7: weekly) a run re-reads each source in full, which
applies revisions older than the window and reports rows the source stopped carrying. Run config
`full_history: true` does that now; `reconcile: true` also deletes those rows (`crosswind
reconcile`), each deletion logged in raw_meta.revision_log.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import pandas as pd

from orchestration.lib import clock, prefetch, warehouse
from orchestration.lib.asset_metadata import ENGINE, raw_definition_metadata, raw_stats
from orchestration.lib.catalog import Catalog, load_catalog
from orchestration.lib.errors import SourceError
from orchestration.lib.quality import (
    AFTER_WRITE,
    CHECKS,
    CheckSpec,
    FlaggedPeriod,
    Outcome,
    Stored,
    data_age_within_limit,
    dropped_rows,
    month_activity,
    month_activity_in,
    source_not_frozen,
    stuck_outcome,
    stuck_periods_from,
    validate_batch,
)
from orchestration.lib.raw_tables import SOURCE_TABLES, RawTable
from orchestration.lib.settings import CrosswindSettings, Settings, ingest_pool
from orchestration.lib.source_rules import (
    DEFAULT_RULES,
    SourceRules,
    Tracked,
    series_plausibility,
)
from orchestration.sources.base import Batch
from orchestration.sources.registry import make_source

OWNERS = ["team:crosswind"]
SYNTHETIC_NOTE = "SYNTHETIC sample data (orchestration/sample), not real market data"
# Failed checks that mean an input is missing, frozen or stuck: the daily report lists them.
INPUT_HEALTH_CHECKS = ("series_present", "source_not_frozen", "series_not_stuck")


@dataclass(frozen=True)
class RawStep:
    """What a raw ingestion step reads, for a fetch started before the step (lib/prefetch.py)."""

    source: str
    table: RawTable
    rules: SourceRules


# op name (= step key) -> its RawStep, filled by build_raw_asset
RAW_STEPS: dict[str, RawStep] = {}


def step_name(table: RawTable) -> str:
    return f"{table.schema}__{table.table}"


class IngestConfig(dg.Config):
    """Run config of every raw asset (Launchpad, or `crosswind reconcile`)."""

    full_history: bool = False
    """Re-read every series' whole history now instead of the lookback window."""
    reconcile: bool = False
    """Re-read in full and delete stored rows the source no longer carries (logged)."""


def check_specs(key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """The gates of a raw asset, each saying what implements it and when it runs."""
    return [
        dg.AssetCheckSpec(
            c.name,
            asset=key,
            blocking=c.blocking,
            description=f"{c.description} [{c.engine}, {_when(c)}]",
            metadata={ENGINE: c.engine, "runs": _when(c)},
        )
        for c in CHECKS
    ]


def _when(check: CheckSpec) -> str:
    if check.name in AFTER_WRITE:
        return "after the write, warns"
    return "on the batch before the write; an ERROR blocks it"


def to_check_result(key: dg.AssetKey, outcome: Outcome) -> dg.AssetCheckResult:
    severity = dg.AssetCheckSeverity.ERROR if outcome.blocking else dg.AssetCheckSeverity.WARN
    metadata = {"summary": outcome.summary}
    for name, value in outcome.details.items():
        metadata[name] = dg.MetadataValue.json(value) if isinstance(value, list | dict) else value
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=outcome.name,
        passed=outcome.passed,
        severity=severity,
        metadata=metadata,
        description=outcome.summary,
    )


def window_starts(
    tracked: Sequence[Tracked], last: dict[str, date], full: bool
) -> dict[str, date | None]:
    """Each series' own window start: None (whole history) when new or `full`."""
    return {
        t.id: None if full or t.id not in last else last[t.id] - timedelta(days=t.lookback_days)
        for t in tracked
    }


@dataclass(frozen=True)
class FetchPlan:
    """What a raw step fetches: its series and each one's window start (None: full history)."""

    tracked: Sequence[Tracked]
    starts: dict[str, date | None]
    full: bool
    day: date


@dataclass(frozen=True)
class Fetched:
    plan: FetchPlan
    batch: Batch
    seconds: float


def plan_fetch(
    con,
    source: str,
    table: RawTable,
    catalog: Catalog,
    rules: SourceRules,
    config: IngestConfig,
) -> FetchPlan:
    """The windows of one source's fetch, from what the warehouse (`con`, None if new) holds."""
    tracked = rules.tracked(catalog, source, rules)
    day = clock.today()
    last = warehouse.latest_dates(con, table)
    previous_full = warehouse.last_full_fetch(con, source)
    due = previous_full is None or (day - previous_full).days >= rules.full_fetch_every_days
    full = config.full_history or config.reconcile or (bool(last) and due)
    return FetchPlan(tracked, window_starts(tracked, last, full), full, day)


def fetch_planned(
    source: str, plan: FetchPlan, settings: Settings, rules: SourceRules, table: RawTable
) -> Fetched:
    started = time.perf_counter()
    batch = fetch_new(source, plan.tracked, plan.starts, settings, rules, table)
    return Fetched(plan, batch, time.perf_counter() - started)


def fetch_new(
    source: str,
    tracked: Sequence[Tracked],
    starts: dict[str, date | None],
    settings: Settings,
    rules: SourceRules,
    table: RawTable,
) -> Batch:
    """Fetch every tracked series from its own window start."""
    client = make_source(source, settings)
    groups: dict[date | None, list[Tracked]] = {}
    if rules.one_payload:
        # One download serves every series: read it once from the earliest start, trim below.
        earliest = None if None in starts.values() else min(starts.values(), default=None)
        groups[earliest] = list(tracked)
    else:
        for t in tracked:
            groups.setdefault(starts[t.id], []).append(t)
    # Series never loaded (whole history) first, then by window start: a stable request order.
    order = sorted(groups, key=lambda start: (start is not None, start or date.min))
    batches = [
        client.fetch([t.series for t in groups[start] if t.series is not None], start)
        for start in order
    ] or [client.fetch([], None)]
    frames = [b.frame for b in batches if len(b.frame)]
    frame = pd.concat(frames, ignore_index=True) if frames else batches[0].frame.iloc[0:0]
    if len(frame):
        ids = frame[table.series_column]
        begin = ids.map({k: v for k, v in starts.items() if v is not None})
        dates = pd.to_datetime(frame[table.date_column], errors="coerce")
        outside = begin.notna() & (dates < pd.to_datetime(begin))
        frame = frame[~outside.fillna(False)].reset_index(drop=True)
    vintages = [b.vintages for b in batches if b.vintages is not None and len(b.vintages)]
    return Batch(
        source=source,
        mode=batches[0].mode,
        frame=frame,
        absent=sorted({a for b in batches for a in b.absent}),
        series_metadata={k: v for b in batches for k, v in b.series_metadata.items()},
        newest={k: v for b in batches for k, v in b.newest.items()},
        warnings=[w for b in batches for w in b.warnings],
        vintages=pd.concat(vintages, ignore_index=True) if vintages else None,
    )


def _series_table(frame: pd.DataFrame, table: RawTable) -> str:
    if frame.empty:
        return "(no rows)"
    grouped = frame.groupby(table.series_column)[table.date_column].agg(["min", "max", "count"])
    lines = ["| series | first | last | rows |", "|---|---|---|---:|"]
    lines += [
        f"| {s} | {_day(r['min'])} | {_day(r['max'])} | {r['count']:,} |"
        for s, r in grouped.iterrows()
    ]
    return "\n".join(lines)


def _day(value) -> str:
    """A date as YYYY-MM-DD, whether it arrived as a date, a timestamp or text."""
    return str(pd.Timestamp(value).date()) if pd.notna(value) else ""


def _windows_text(starts: dict[str, date | None]) -> dict[str, str]:
    return {k: "full history" if v is None else f"since {v}" for k, v in starts.items()}


def _warned_jumps(outcomes: list[Outcome]) -> list[FlaggedPeriod]:
    """Steps the catalog lets through with a warning: kept as flagged periods for dbt."""
    jumps = [o for o in outcomes if o.name == "plausible_changes"]
    steps = [s for o in jumps for s in o.details.get("steps", [])]
    return [
        FlaggedPeriod(
            s["series_id"],
            date.fromisoformat(s["date"][:10]),
            date.fromisoformat(s["date"][:10]),
            "jump",
            s["detail"],
        )
        for s in steps
        if not s["blocking"]
    ]


def _stuck_check(
    con,
    table: RawTable,
    tracked: Sequence[Tracked],
    catalog: Catalog,
    rules: SourceRules,
    source: str,
    changed: bool,
) -> Outcome:
    daily = [t.id for t in tracked if t.frequency == "daily" and not t.administered]
    if not changed:  # nothing written: the periods found last time still hold
        kept = [FlaggedPeriod(*row) for row in warehouse.flagged_periods(con, table, "stuck")]
        return stuck_outcome([p for p in kept if p.series_id in daily], len(daily), source)
    if rules.plausibility is series_plausibility:  # stored value = raw x the label's factor
        months = month_activity_in(con, table, daily, catalog)
    else:  # a source's own conversion, in pandas
        history = warehouse.series_history(con, table, daily)
        converted = pd.DataFrame(
            {
                "series_id": history[table.series_column],
                "date": history[table.date_column],
                "value": rules.plausibility(history, table, catalog)["stored"],
            }
        )
        months = month_activity(converted)
    periods = stuck_periods_from(months)
    warehouse.replace_flagged_periods(con, table, "stuck", daily, periods)
    return stuck_outcome(periods, len(daily), source)


def run_raw_ingestion(
    context: dg.AssetExecutionContext,
    source: str,
    table: RawTable,
    key: dg.AssetKey,
    catalog: Catalog,
    settings: Settings,
    rules: SourceRules = DEFAULT_RULES,
    config: IngestConfig | None = None,
) -> Iterator:
    config = config or IngestConfig()
    started = time.perf_counter()
    # Live runs on the in-process executor started this fetch with every other source's when
    # the run began (lib/prefetch.py): take it, waiting if it is still on the wire.
    pending = prefetch.take(context.run_id, step_name(table), settings)
    try:
        if pending is not None:
            fetch = pending.result()
        else:
            with warehouse.reader(settings.warehouse) as con:
                plan = plan_fetch(con, source, table, catalog, rules, config)
            fetch = fetch_planned(source, plan, settings, rules, table)
    except SourceError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    tracked, starts, full, day, batch = (
        fetch.plan.tracked,
        fetch.plan.starts,
        fetch.plan.full,
        fetch.plan.day,
        fetch.batch,
    )
    with warehouse.reader(settings.warehouse) as con:
        in_window, before = warehouse.stored_window(con, table, starts)
    stored = Stored(in_window, before)
    fetched = time.perf_counter()
    context.log.info(
        f"{source}: fetched {len(batch.frame)} rows for "
        f"{batch.frame[table.series_column].nunique()} series ({settings.source_mode}"
        f"{', full history' if full else ''}); absent: {batch.absent or 'none'}"
    )
    outcomes = validate_batch(
        batch.frame,
        table,
        catalog,
        day,
        source,
        rules=rules,
        tracked=tracked,
        stored=stored,
        reconcile=config.reconcile,
    )
    for warning in batch.warnings:
        context.log.warning(warning)
    validated = time.perf_counter()
    failed = [o for o in outcomes if o.blocking and not o.passed]
    if failed:
        for outcome in outcomes:
            yield to_check_result(key, outcome)
        raise dg.Failure(
            description=f"[{source}] batch rejected, warehouse unchanged: "
            + " | ".join(o.summary for o in failed),
            metadata={"failed_checks": [o.name for o in failed]},
            allow_retries=False,
        )
    doomed = dropped_rows(batch.frame, table, stored) if config.reconcile else None
    with warehouse.writer(settings.warehouse) as con:
        warehouse.guard_source_mode(con, settings.source_mode)
        stats = warehouse.upsert(
            con, table, batch.frame, settings.source_mode, delete=doomed, vintages=batch.vintages
        )
        if rules.metadata_table is not None and batch.series_metadata:
            meta = pd.DataFrame(
                [{"series_id": k, **v} for k, v in batch.series_metadata.items()]
            ).reindex(columns=rules.metadata_table.names)
            warehouse.upsert(con, rules.metadata_table, meta, settings.source_mode)
        if all(start is None for start in starts.values()) and len(batch.frame):
            warehouse.record_full_fetch(con, source, day)
        warned = _warned_jumps(outcomes)
        if warned:
            warehouse.replace_flagged_periods(
                con, table, "jump", sorted({p.series_id for p in warned}), warned, keep_others=True
            )
        written = time.perf_counter()
        last_after = warehouse.latest_dates(con, table)
        # Replay and sample replay a fixed past: judge them as of the newest observation the
        # warehouse holds from any source, not against today's calendar.
        as_of = day if settings.source_mode == "live" else warehouse.newest_date(con, day)
        outcomes.append(data_age_within_limit(last_after, tracked, as_of, source))
        # What the source publishes now, where it says (Batch.newest): a frozen copy must show
        # even when the warehouse already holds newer rows from an earlier, current copy.
        outcomes.append(source_not_frozen({**last_after, **batch.newest}, tracked, as_of, source))
        changed = bool(stats.new_rows or stats.revised_rows or stats.deleted_rows)
        outcomes.append(_stuck_check(con, table, tracked, catalog, rules, source, changed))
        # Rows and dates of the whole table after the write (one query, ~ms).
        written_tables = [table] if rules.metadata_table is None else [table, rules.metadata_table]
        table_stats = raw_stats(con, written_tables)
    checked = time.perf_counter()
    for outcome in outcomes:
        if outcome.name in AFTER_WRITE and not outcome.passed:
            context.log.warning(outcome.summary)
    dates = pd.to_datetime(batch.frame[table.date_column]) if len(batch.frame) else None
    metadata = {
        **table_stats[table].metadata(),
        "source_mode": settings.source_mode,
        "rows_in_batch": stats.rows_in_batch,
        "new_rows": stats.new_rows,
        "revised_rows": stats.revised_rows,
        "unchanged_rows": stats.unchanged_rows,
        "deleted_rows": stats.deleted_rows,
        "vintage_rows": stats.vintage_rows,
        "full_history": full,
        "batch_first_date": str(dates.min().date()) if dates is not None else "",
        "batch_last_date": str(dates.max().date()) if dates is not None else "",
        "series_loaded": len(last_after),
        "absent_series": dg.MetadataValue.json(batch.absent),
        "source_warnings": dg.MetadataValue.json(batch.warnings),
        "fetch_windows": dg.MetadataValue.json(_windows_text(starts)),
        "batch_by_series": dg.MetadataValue.md(_series_table(batch.frame, table)),
        # Where the step's time went (read by bench/run.py for its per-stage breakdown).
        # (a prefetched batch: its own fetch time; waiting for it counts under `seconds_wait`)
        "seconds_fetch": round(fetch.seconds if pending else fetched - started, 4),
        "seconds_wait": round(fetched - started, 4) if pending else 0.0,
        "seconds_checks": round(validated - fetched + checked - written, 4),
        "seconds_write": round(written - validated, 4),
    }
    if settings.source_mode == "sample":
        metadata["data"] = SYNTHETIC_NOTE
    yield dg.MaterializeResult(
        asset_key=key,
        metadata=metadata,
        check_results=[to_check_result(key, o) for o in outcomes],
    )
    if rules.metadata_table is not None:
        yield dg.MaterializeResult(
            asset_key=dg.AssetKey([rules.metadata_table.schema, rules.metadata_table.table]),
            metadata={
                **table_stats[rules.metadata_table].metadata(),
                "series_with_metadata": len(batch.series_metadata),
            },
        )


def build_raw_asset(
    source: str,
    table: RawTable,
    *,
    group: str,
    description: str,
    rules: SourceRules = DEFAULT_RULES,
) -> dg.AssetsDefinition:
    """One Dagster asset per source, writing `table` with the quality gates attached."""
    key = dg.AssetKey([table.schema, table.table])
    RAW_STEPS[step_name(table)] = RawStep(source, table, rules)
    specs = [
        dg.AssetSpec(
            key,
            description=description,
            group_name=group,
            kinds={"python", "duckdb"},
            owners=OWNERS,
            metadata=raw_definition_metadata(table),
        )
    ]
    if rules.metadata_table is not None:
        specs.append(
            dg.AssetSpec(
                [rules.metadata_table.schema, rules.metadata_table.table],
                description=rules.metadata_description,
                group_name=group,
                kinds={"python", "duckdb"},
                owners=OWNERS,
                metadata=raw_definition_metadata(rules.metadata_table),
            )
        )

    def _ingest(context, config: IngestConfig, settings: CrosswindSettings):
        resolved = settings.resolve()
        catalog = load_catalog(resolved.catalog_path)
        yield from run_raw_ingestion(context, source, table, key, catalog, resolved, rules, config)

    # Dagster reads the config and resource classes from the annotations, which this module's
    # postponed annotations leave as strings.
    _ingest.__annotations__.update(config=IngestConfig, settings=CrosswindSettings)
    return dg.multi_asset(
        name=step_name(table),
        specs=specs,
        check_specs=check_specs(key),
        pool=ingest_pool(step_name(table)),
        can_subset=False,
    )(_ingest)


def input_problems(instance: dg.DagsterInstance) -> list[str]:
    """The latest failed input-health checks (missing, frozen, stuck) of every raw asset."""
    from dagster._core.storage.asset_check_execution_record import (
        COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES,
    )

    keys = [
        dg.AssetCheckKey(dg.AssetKey([t.schema, t.table]), name)
        for t in SOURCE_TABLES.values()
        for name in INPUT_HEALTH_CHECKS
    ]
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    problems = []
    for check_key in keys:
        record = latest.get(check_key)
        if record is None or record.status not in COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES:
            continue
        event = record.event.dagster_event if record.event is not None else None
        evaluation = event.event_specific_data if event is not None else None
        if evaluation is not None and not evaluation.passed and evaluation.description:
            problems.append(evaluation.description)
    return problems
