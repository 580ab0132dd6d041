"""Run by test_fault_publish in a subprocess: one Dagster run, through crosswind's executor, of
the harness's FRED ingestion, stand-in mart and real publish, on the on-disk instance in
DAGSTER_HOME. Prints one JSON line: {"success": ..., "run_id": ...}.

    python -m tests.faults.child_publish

`CW_TEST_PAUSE_AT=<point>` makes the child write its pid to `CW_TEST_SENTINEL=<file>` and wait
for the parent's SIGKILL at that point of the publish:

- `export:N`: the N-th Parquet file of the new set was just written;
- `switch`: the new set is complete, `current` not yet switched;
- `switched`: `current` was just switched, the stable links not yet checked nor old sets pruned.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import dagster as dg

from orchestration.lib import serving
from orchestration.lib.recovery import crosswind_executor
from tests.faults.harness import ASSETS, fault_rollup, fault_serving_copy
from tests.support.resources import crosswind_resources


def _pause() -> None:
    Path(os.environ["CW_TEST_SENTINEL"]).write_text(str(os.getpid()))
    while True:
        signal.pause()  # until the parent's SIGKILL


def _instrument(point: str) -> None:
    if point.startswith("export:"):
        nth, original, written = int(point.split(":")[1]), serving._export_one, []

        def export_one(*args, **kwargs):
            size = original(*args, **kwargs)
            written.append(size)
            if len(written) == nth:
                _pause()
            return size

        serving._export_one = export_one
    elif point == "switch":
        serving._switch_current = lambda *args: _pause()
    elif point == "switched":
        original_switch = serving._switch_current

        def switch_current(*args):
            original_switch(*args)
            _pause()

        serving._switch_current = switch_current


def fault_refresh_job() -> dg.JobDefinition:
    defs = dg.Definitions(
        assets=[ASSETS["fred"], fault_rollup, fault_serving_copy],
        jobs=[dg.define_asset_job("fault_refresh")],
        executor=crosswind_executor,
        resources=crosswind_resources(),
    )
    return defs.resolve_job_def("fault_refresh")


def main() -> int:
    if os.environ.get("CW_TEST_PAUSE_AT"):
        _instrument(os.environ["CW_TEST_PAUSE_AT"])
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(dg.reconstructable(fault_refresh_job), instance=instance)
        sys.stdout.write(json.dumps({"success": result.success, "run_id": result.run_id}) + "\n")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
