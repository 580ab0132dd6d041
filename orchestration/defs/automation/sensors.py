"""Failed runs leave a record a user will find: warehouse/failures/latest_failure.md (+ JSON)."""

import dagster as dg

from orchestration.lib.failures import collect, write_failure_record
from orchestration.lib.settings import CrosswindSettings


@dg.run_failure_sensor(
    name="failure_record_sensor",
    description="Writes warehouse/failures/<timestamp>-<run_id>.json and latest_failure.md with "
    "the failed steps, the failing checks and what was skipped, for every failed run in this "
    "code location.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def failure_record_sensor(context: dg.RunFailureSensorContext, settings: CrosswindSettings) -> None:
    warehouse_dir = settings.resolve().warehouse_dir
    message = context.failure_event.message if context.failure_event else ""
    record = collect(context.instance, context.dagster_run, message, warehouse_dir)
    path, latest = write_failure_record(record, warehouse_dir)
    context.log.info(
        f"run {record.run_id} failed: {len(record.failed_steps)} step(s), "
        f"{len(record.failed_checks)} failing check(s); wrote {path} and {latest}"
    )
