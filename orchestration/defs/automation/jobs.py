import dagster as dg

# The main job: every asset once, raw sources first, then dbt, then serving.
refresh_job = dg.define_asset_job(
    "refresh_job",
    selection=dg.AssetSelection.all(),
    description="Materialize everything once: ingest every source, run the quality gates, "
    "build the dbt marts.",
)
