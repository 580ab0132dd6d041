import dagster as dg

# The main job: every asset once, raw sources first, then dbt, then serving and the report.
refresh_job = dg.define_asset_job(
    "refresh_job",
    selection=dg.AssetSelection.all(),
    description="Materialize everything once: ingest every source, run the quality gates, "
    "build the dbt marts, publish the serving copy + Parquet exports, write the daily report. "
    "A failing blocking check skips everything downstream: the serving copy stays as it was.",
)

# Re-publish the serving copy and the report from the marts already built (e.g. after fixing a
# check and re-running dbt). The serving asset still refuses while any upstream check fails.
publish_job = dg.define_asset_job(
    "publish_job",
    selection=dg.AssetSelection.groups("serving"),
    description="Publish warehouse/serving.duckdb + exports and write the daily report from the "
    "current marts (no ingestion, no dbt).",
)
