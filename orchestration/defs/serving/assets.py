"""Serving: the BI copy of the marts (+ Parquet exports) and the daily HTML report.

`serving/duckdb` depends on every dbt mart; it runs only after they (and their dbt tests) built
in the same run, and it refuses to publish when any blocking check upstream of it last failed.
`serving/daily_report` reads the published copy read-only, so it never touches the build file.
"""

import dagster as dg

from orchestration.defs.alerts.assets import ALERT_MART_KEYS
from orchestration.defs.transform.assets import MART_KEYS
from orchestration.lib import serving
from orchestration.lib.raw_assets import SYNTHETIC_NOTE, input_problems
from orchestration.lib.settings import WRITE_POOL, CrosswindSettings

SERVING_KEY = dg.AssetKey(["serving", "duckdb"])
REPORT_KEY = dg.AssetKey(["serving", "daily_report"])
OWNERS = ["team:crosswind"]
CONSISTENCY_CHECK = "copy_matches_build"
VIEWS_CHECK = "bi_views_created"


def _upstream_check_keys(context: dg.AssetExecutionContext) -> list[dg.AssetCheckKey]:
    """Every asset check on every ancestor of the serving asset (raw checks and dbt tests)."""
    try:  # the code location's full graph (set for runs launched from the UI, schedule, CLI)
        graph = context.repository_def.asset_graph
    except Exception:  # in-process executions without a repository (tests): CheckError
        graph = context.job_def.asset_layer.asset_graph
    seen: set[dg.AssetKey] = set()
    todo = list(graph.get(SERVING_KEY).parent_keys)
    while todo:
        key = todo.pop()
        if key in seen or not graph.has(key):
            continue
        seen.add(key)
        todo.extend(graph.get(key).parent_keys)
    checks = {check for key in seen for check in graph.get(key).check_keys}
    # A subset run's job graph drops the checks of unselected assets: find them in the event log.
    checks |= serving.check_keys_from_latest_runs(context.instance, seen)
    return sorted(checks, key=lambda c: (c.asset_key.to_user_string(), c.name))


def _tables_md(result: serving.PublishResult) -> str:
    lines = ["| mart | rows | parquet bytes |", "|---|---:|---:|"]
    lines += [
        f"| {name} | {rows:,} | {result.export_bytes.get(name, 0):,} |"
        for name, rows in result.tables.items()
    ]
    return "\n".join(lines)


@dg.asset(
    key=SERVING_KEY,
    deps=[*MART_KEYS, *ALERT_MART_KEYS],
    group_name="serving",
    kinds={"duckdb", "parquet"},
    owners=OWNERS,
    pool=WRITE_POOL,
    description="warehouse/serving.duckdb: a read-only copy of every mart (+ `bi` views, `meta` "
    f"publish info) in DuckDB storage version {serving.STORAGE_VERSION} (opens in DuckDB 1.0+), "
    "and one Parquet file per mart in warehouse/exports/, published together as one set after "
    "all upstream checks pass (a new folder under warehouse/publishes/, then one switch of "
    "warehouse/current). BI tools read this, never the build file.",
    check_specs=[
        dg.AssetCheckSpec(
            CONSISTENCY_CHECK,
            asset=SERVING_KEY,
            description="Every mart in the serving copy and its Parquet export has the build "
            "file's row count (checked before the copy is swapped in).",
        ),
        dg.AssetCheckSpec(
            VIEWS_CHECK,
            asset=SERVING_KEY,
            description="Every `bi` view BI tools and the daily report read was created on the "
            "new copy. A view that cannot be (a mart column it reads was renamed or dropped) "
            "fails this check and stops the publish before the switch: the previous set stays.",
        ),
    ],
)
def serving_copy(
    context: dg.AssetExecutionContext, settings: CrosswindSettings
) -> dg.MaterializeResult:
    settings = settings.resolve()
    checks = _upstream_check_keys(context)
    failed = serving.failed_blocking_checks(context.instance, checks)
    if failed:
        raise dg.Failure(
            description="serving copy NOT published (the previous one stays in place): "
            f"{len(failed)} upstream check(s) last failed: " + "; ".join(map(str, failed[:10])),
            metadata={"failed_checks": [f"{f.asset} :: {f.check}" for f in failed]},
            allow_retries=False,
        )
    context.log.info(f"gate passed: {len(checks)} upstream checks, none failing")
    try:
        result = serving.publish(
            settings.warehouse,
            settings.warehouse_dir,
            info={"source_mode": settings.source_mode, "run_id": context.run_id},
        )
    except serving.ViewsNotCreated as exc:
        yield dg.AssetCheckResult(
            check_name=VIEWS_CHECK,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=str(exc),
            metadata={"views_not_created": dg.MetadataValue.json(exc.failed)},
        )
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    context.log.info(
        f"published {result.path} ({result.bytes:,} bytes, {len(result.tables)} marts) "
        f"in {result.seconds:.2f}s"
    )
    metadata = {
        "path": dg.MetadataValue.path(str(result.path)),
        "exports": dg.MetadataValue.path(str(result.exports_dir)),
        "published_at": result.published_at,
        "publish_id": result.publish_id,
        "set_folder": dg.MetadataValue.path(str(result.folder)),
        "storage_version": result.storage_version,
        "bytes": result.bytes,
        "publish_seconds": result.seconds,
        "marts": len(result.tables),
        "rows_total": sum(result.tables.values()),
        "tables": dg.MetadataValue.md(_tables_md(result)),
        "bi_views": dg.MetadataValue.json(result.views),
        "inputs_tracked": result.inputs,
        "upstream_checks_passed": len(checks),
        "source_mode": settings.source_mode,
    }
    if result.not_linked:
        context.log.warning(
            f"exports/ holds files crosswind did not write under mart names, left alone: "
            f"{result.not_linked}; read those marts from {result.folder / serving.EXPORTS_DIR}"
        )
        metadata["exports_left_alone"] = dg.MetadataValue.json(result.not_linked)
    if settings.source_mode == "sample":
        metadata["data"] = SYNTHETIC_NOTE
    yield dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=CONSISTENCY_CHECK,
                passed=True,
                metadata={"marts": len(result.tables), "rows": sum(result.tables.values())},
            ),
            dg.AssetCheckResult(
                check_name=VIEWS_CHECK, passed=True, metadata={"views": len(result.views)}
            ),
        ],
    )


@dg.asset(
    key=REPORT_KEY,
    deps=[SERVING_KEY],
    group_name="serving",
    kinds={"plotly", "html"},
    owners=OWNERS,
    description="warehouse/reports/{as-of date}.html and latest.html: one self-contained HTML "
    "page (plotly inlined, opens offline), every figure as of one date (`bi.as_of`), with the "
    "input-health table (each input's last observation, age, staleness limit, source mode), net "
    "liquidity vs the S&P 500, the five pillar z-scores and stress regime, the cross-asset "
    "correlation heatmap and selloff days, recent margin changes with what followed, and the "
    "stress score vs the official indices. Reads the published serving copy.",
)
def daily_report(
    context: dg.AssetExecutionContext, settings: CrosswindSettings
) -> dg.MaterializeResult:
    # Imported here: plotly is needed by this step only, not to load the code location.
    from orchestration.lib import report as report_lib

    settings = settings.resolve()
    written = report_lib.write_report(
        serving.serving_path(settings.warehouse_dir),
        settings.warehouse_dir / "reports",
        synthetic=settings.source_mode == "sample",
        input_problems=input_problems(context.instance),
    )
    context.log.info(f"wrote {written.path} ({written.bytes:,} bytes, {written.charts} charts)")
    return dg.MaterializeResult(
        metadata={
            "summary": dg.MetadataValue.md(written.summary_md),
            "report": dg.MetadataValue.path(str(written.path)),
            "latest": dg.MetadataValue.path(str(written.latest)),
            "as_of": written.as_of,
            "charts": written.charts,
            "bytes": written.bytes,
        }
    )
