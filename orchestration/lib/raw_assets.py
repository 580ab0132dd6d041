"""Builds the raw ingestion assets: fetch -> validate (blocking) -> upsert -> report.

The checks run on the batch *before* anything is written, so a failing gate leaves the
warehouse exactly as it was and stops everything downstream in the run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import timedelta

import dagster as dg
import pandas as pd

from orchestration.lib import clock, warehouse
from orchestration.lib.catalog import Catalog, Series, load_catalog
from orchestration.lib.errors import SourceError
from orchestration.lib.quality import CHECKS, Outcome, freshness, validate_batch
from orchestration.lib.raw_tables import FRED_METADATA, RawTable
from orchestration.lib.settings import Settings, load_settings
from orchestration.sources.base import Batch
from orchestration.sources.registry import make_source

OWNERS = ["team:crosswind"]
# After the first full load, re-read this much history so revisions are picked up.
LOOKBACK_DAYS = {"daily": 30, "weekly": 70, "monthly": 400, "quarterly": 800}
SYNTHETIC_NOTE = "SYNTHETIC sample data (orchestration/sample), not real market data"


def check_specs(key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(c.name, asset=key, blocking=c.blocking, description=c.description)
        for c in CHECKS
    ]


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


def fetch_new(
    source: str, table: RawTable, series: Sequence[Series], settings: Settings
) -> tuple[Batch, dict]:
    """Full history for series never loaded, a lookback window for the rest."""
    with warehouse.reader(settings.warehouse_path) as con:
        last = warehouse.latest_dates(con, table)
    client = make_source(source, settings)
    if source == "cme":
        start = min(last.values()) - timedelta(days=400) if last else None
        return client.fetch([], start), {"cme": str(start) if start else "full history"}
    fresh = [s for s in series if s.id not in last]
    known = [s for s in series if s.id in last]
    batches = []
    windows: dict[str, str] = {}
    if fresh:
        batches.append(client.fetch(fresh, None))
        windows.update({s.id: "full history" for s in fresh})
    if known:
        start = min(last[s.id] - timedelta(days=LOOKBACK_DAYS[s.frequency]) for s in known)
        batches.append(client.fetch(known, start))
        windows.update({s.id: f"since {start}" for s in known})
    frames = [b.frame for b in batches if len(b.frame)]
    frame = pd.concat(frames, ignore_index=True) if frames else batches[0].frame.iloc[0:0]
    merged = Batch(
        source=source,
        mode=batches[0].mode,
        frame=frame,
        absent=sorted({a for b in batches for a in b.absent}),
        series_metadata={k: v for b in batches for k, v in b.series_metadata.items()},
        newest={k: v for b in batches for k, v in b.newest.items()},
        warnings=[w for b in batches for w in b.warnings],
    )
    return merged, windows


def _series_table(frame: pd.DataFrame, table: RawTable) -> str:
    if frame.empty:
        return "(no rows)"
    grouped = frame.groupby(table.series_column)[table.date_column].agg(["min", "max", "count"])
    lines = ["| series | first | last | rows |", "|---|---|---|---|"]
    lines += [f"| {s} | {r['min']} | {r['max']} | {r['count']} |" for s, r in grouped.iterrows()]
    return "\n".join(lines)


def run_raw_ingestion(
    context: dg.AssetExecutionContext,
    source: str,
    table: RawTable,
    key: dg.AssetKey,
    catalog: Catalog,
    settings: Settings,
) -> Iterator:
    series = catalog.for_source(source)
    started = time.perf_counter()
    try:
        batch, windows = fetch_new(source, table, series, settings)
    except SourceError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    fetched = time.perf_counter()
    context.log.info(
        f"{source}: fetched {len(batch.frame)} rows for "
        f"{batch.frame[table.series_column].nunique()} "
        f"series ({settings.source_mode}); absent: {batch.absent or 'none'}"
    )
    for warning in batch.warnings:
        context.log.warning(warning)
    today = clock.today()
    outcomes = validate_batch(batch.frame, table, catalog, today, source)
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
    with warehouse.writer(settings.warehouse_path) as con:
        warehouse.guard_source_mode(con, settings.source_mode)
        stats = warehouse.upsert(con, table, batch.frame, settings.source_mode)
        if batch.series_metadata:
            meta = pd.DataFrame(
                [{"series_id": k, **v} for k, v in batch.series_metadata.items()]
            ).reindex(columns=FRED_METADATA.names)
            warehouse.upsert(con, FRED_METADATA, meta, settings.source_mode)
        last_after = warehouse.latest_dates(con, table)
    written = time.perf_counter()
    dates = pd.to_datetime(batch.frame[table.date_column]) if len(batch.frame) else None
    # Replayed data is judged against its own end, not against today's calendar.
    as_of = today if settings.source_mode == "live" else max(last_after.values(), default=today)
    outcomes.append(freshness(last_after, table, catalog, as_of, source))
    checked = time.perf_counter()
    metadata = {
        "source_mode": settings.source_mode,
        "rows_in_batch": stats.rows_in_batch,
        "new_rows": stats.new_rows,
        "revised_rows": stats.revised_rows,
        "unchanged_rows": stats.unchanged_rows,
        "first_date": str(dates.min().date()) if dates is not None else "",
        "last_date": str(dates.max().date()) if dates is not None else "",
        "series_loaded": len(last_after),
        "absent_series": dg.MetadataValue.json(batch.absent),
        "source_warnings": dg.MetadataValue.json(batch.warnings),
        "fetch_windows": dg.MetadataValue.json(windows),
        "batch_by_series": dg.MetadataValue.md(_series_table(batch.frame, table)),
        # Where the step's time went (read by bench/run.py for its per-stage breakdown).
        "seconds_fetch": round(fetched - started, 4),
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
    if source == "fred":
        yield dg.MaterializeResult(
            asset_key=dg.AssetKey([FRED_METADATA.schema, FRED_METADATA.table]),
            metadata={"series_with_metadata": len(batch.series_metadata)},
        )


def build_raw_asset(
    source: str, table: RawTable, *, group: str, description: str
) -> dg.AssetsDefinition:
    """One Dagster asset per source, writing `table` with the quality gates attached."""
    key = dg.AssetKey([table.schema, table.table])
    specs = [
        dg.AssetSpec(
            key,
            description=description,
            group_name=group,
            kinds={"python", "duckdb"},
            owners=OWNERS,
            metadata={"table": table.qualified, "key": list(table.key)},
        )
    ]
    if source == "fred":
        specs.append(
            dg.AssetSpec(
                [FRED_METADATA.schema, FRED_METADATA.table],
                description="FRED series metadata (title, units, frequency, last updated) "
                "from the API; empty when the keyless CSV or a snapshot is used.",
                group_name=group,
                kinds={"python", "duckdb"},
                owners=OWNERS,
            )
        )

    @dg.multi_asset(
        name=f"{table.schema}__{table.table}",
        specs=specs,
        check_specs=check_specs(key),
        pool="duckdb_write",
        can_subset=False,
    )
    def _ingest(context):
        yield from run_raw_ingestion(context, source, table, key, load_catalog(), load_settings())

    return _ingest
