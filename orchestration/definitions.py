"""The Dagster code location: autoloads orchestration/defs and applies project-wide settings."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    # Steps share one DuckDB file; running them in one process, in order, avoids writer
    # contention and the seconds of start-up a process per step would cost.
    return dg.Definitions.merge(loaded, dg.Definitions(executor=dg.in_process_executor))
