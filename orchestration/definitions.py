"""The Dagster code location: autoloads orchestration/defs and applies project-wide settings."""

import warnings
from functools import cache
from pathlib import Path

import dagster as dg

from orchestration.defs.automation.schedules import with_freshness
from orchestration.lib.recovery import executor_for_backend


@dg.definitions
def defs() -> dg.Definitions:
    return _build()


# Built once per process. Dagster calls `defs` six times in one `dg launch` (to find the job,
# to check the run's arguments, to plan it, ...), and each call would rebuild every spec and
# the repository (~0.6 s each, ~3 s a run). The modules under defs/ are imported once per
# process anyway, so a later call could only ever rebuild the same objects; returning the same
# Definitions also keeps Dagster's caches on it (repository, asset graph, jobs). A new code
# location process (a UI reload, the next run) builds afresh; no component here keeps defs state
# that Dagster could reload inside a running process.
@cache
def _build() -> dg.Definitions:
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
