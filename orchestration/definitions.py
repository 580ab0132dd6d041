"""The Dagster code location: autoloads orchestration/defs and applies project-wide settings."""

import warnings
from pathlib import Path

import dagster as dg

from orchestration.defs.automation.schedules import with_freshness
from orchestration.lib.recovery import executor_for_backend


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    # Steps that share one DuckDB file run in one process, in order: no writer contention and
    # none of the start-up a process per step costs. Where the warehouse takes concurrent
    # writers (DuckLake on PostgreSQL), independent steps run in parallel processes. Either
    # executor first fails runs whose process was killed and cleans up after a killed publish.
    merged = dg.Definitions.merge(loaded, dg.Definitions(executor=executor_for_backend()))
    # One daily freshness policy on every asset (raw, dbt, serving), so stale ones show in the UI.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # map_asset_specs is "preview" in 1.13
        return merged.map_asset_specs(func=with_freshness)
