"""Failure records: what a failed run broke, written where a user looks (warehouse/failures/).

`write_failure_record()` is called by the daemon's run-failure sensor and by `crosswind run`
(orchestration/lib/launch.py) for the runs it launches; whichever comes first writes the record,
the other finds it and writes nothing. `collect()` reads the run's event log for failed
steps (with their error message), failed asset checks (asset, check, severity, description) and
the steps that were skipped because of them, then writes

- `failures/<UTC timestamp>-<run id>.json`: the full record, one file per failed run;
- `failures/latest_failure.md`: the same, readable, replaced atomically each time.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from orchestration.lib.serving import SERVING_FILE, write_text_atomic

FAILURES_DIR = "failures"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
LATEST = "latest_failure.md"


@dataclass
class FailureRecord:
    run_id: str
    job_name: str
    failed_at: str
    run_failure: str
    failed_steps: list[dict] = field(default_factory=list)
    failed_checks: list[dict] = field(default_factory=list)
    skipped_steps: list[str] = field(default_factory=list)
    serving_copy: str = ""
    dagster_ui_path: str = ""


def collect(instance, run, run_failure_message: str, warehouse_dir: Path) -> FailureRecord:
    from dagster import DagsterEventType

    events = instance.all_logs(
        run.run_id,
        of_type={
            DagsterEventType.STEP_FAILURE,
            DagsterEventType.ASSET_CHECK_EVALUATION,
            DagsterEventType.STEP_SKIPPED,
            DagsterEventType.STEP_START,
        },
    )
    failed_steps, failed_checks, skipped, started = [], [], [], set()
    for entry in events:
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.STEP_FAILURE:
            error = getattr(event.event_specific_data, "error", None)
            message = _error_text(error) if error is not None else (event.message or "")
            message = _ANSI.sub("", message)
            user = getattr(event.event_specific_data, "user_failure_data", None)
            failed_steps.append(
                {
                    "step": event.step_key,
                    "error": message[:2000],
                    "description": _ANSI.sub("", getattr(user, "description", None) or ""),
                }
            )
        elif event.event_type == DagsterEventType.STEP_START:
            started.add(event.step_key)
        elif event.event_type == DagsterEventType.STEP_SKIPPED:
            skipped.append(event.step_key)
        else:
            evaluation = event.event_specific_data
            if evaluation is not None and not evaluation.passed:
                failed_checks.append(
                    {
                        "asset": evaluation.asset_key.to_user_string(),
                        "check": evaluation.check_name,
                        "severity": evaluation.severity.value,
                        "description": _ANSI.sub("", evaluation.description or ""),
                    }
                )
    skipped += [step for step in planned_steps(instance, run) if step not in started]
    serving = warehouse_dir / SERVING_FILE
    serving_note = (
        f"{serving} left as published at "
        f"{datetime.fromtimestamp(serving.stat().st_mtime, UTC):%Y-%m-%d %H:%M:%S} UTC"
        if serving.exists()
        else f"{serving} does not exist yet"
    )
    return FailureRecord(
        run_id=run.run_id,
        job_name=run.job_name,
        failed_at=_failed_at(instance, run.run_id),
        run_failure=run_failure_message or "",
        failed_steps=failed_steps,
        failed_checks=failed_checks,
        skipped_steps=sorted(set(skipped)),
        serving_copy=serving_note,
        dagster_ui_path=f"/runs/{run.run_id}",
    )


def _failed_at(instance, run_id: str) -> str:
    """The run's end time (so re-evaluating the sensor rewrites the same record), else now."""
    record = instance.get_run_record_by_id(run_id)
    end = getattr(record, "end_time", None) if record is not None else None
    moment = datetime.fromtimestamp(end, UTC) if end else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _error_text(error) -> str:
    """What the asset raised: Dagster wraps it in a DagsterExecutionStepExecutionError whose
    own message only names the op."""
    while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
        error = error.cause
    return error.message.strip()


def planned_steps(instance, run) -> list[str]:
    """Steps the run meant to execute (those never started were abandoned by the failure)."""
    if run.step_keys_to_execute:
        return list(run.step_keys_to_execute)
    if not run.execution_plan_snapshot_id:
        return []
    snapshot = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    return list(snapshot.step_keys_to_execute or [step.key for step in snapshot.steps])


def to_markdown(record: FailureRecord) -> str:
    lines = [
        f"# Crosswind run FAILED: {record.job_name}",
        "",
        f"- run: `{record.run_id}` (Dagster UI: `{record.dagster_ui_path}`)",
        f"- failed at: {record.failed_at}",
        f"- serving copy: {record.serving_copy} (BI tools keep seeing the last good state)",
        "",
    ]
    errors = [c for c in record.failed_checks if c["severity"] == "ERROR"]
    warnings = [c for c in record.failed_checks if c["severity"] != "ERROR"]
    for title, checks in (("Failing checks (blocking)", errors), ("Warnings", warnings)):
        if not checks:
            continue
        lines += [f"## {title}", "", "| asset | check | severity | description |"]
        lines += ["|---|---|---|---|"]
        lines += [
            f"| {c['asset']} | {c['check']} | {c['severity']} | "
            f"{c['description'].replace('|', '/').replace(chr(10), ' ')[:300]} |"
            for c in checks
        ]
        lines.append("")
    if record.failed_steps:
        lines += ["## Failed steps", ""]
        for step in record.failed_steps:
            lines += [f"- `{step['step']}`:", "", "```text"]
            lines += [(step["description"] or step["error"]).strip(), "```", ""]
    if record.skipped_steps:
        lines += ["## Not run because of the failure", ""]
        lines += [f"- `{s}`" for s in record.skipped_steps]
        lines.append("")
    if record.run_failure:
        lines += ["## Run message", "", record.run_failure, ""]
    lines += [
        "Fix the cause, then re-run `refresh_job` (or re-execute the failed steps from the "
        "run page). See docs/operations.md.",
        "",
    ]
    return "\n".join(lines)


def existing_record(run_id: str, warehouse_dir: Path) -> Path | None:
    """The record already written for `run_id`, if any."""
    found = sorted((warehouse_dir / FAILURES_DIR).glob(f"*-{run_id}.json"))
    return found[0] if found else None


def write_failure_record(record: FailureRecord, warehouse_dir: Path) -> tuple[Path, Path]:
    """Write the run's record and latest_failure.md, once per run: a second call for the same
    run (the sensor after `crosswind run`, or a sensor tick re-evaluated) changes nothing."""
    folder = warehouse_dir / FAILURES_DIR
    latest = folder / LATEST
    written = existing_record(record.run_id, warehouse_dir)
    if written is not None:
        return written, latest
    stamp = record.failed_at.replace("-", "").replace(":", "")
    path = folder / f"{stamp}-{record.run_id}.json"
    write_text_atomic(latest, to_markdown(record))
    # The JSON last: it marks the run as recorded, so a crash in between is redone next time.
    write_text_atomic(path, json.dumps(asdict(record), indent=2) + "\n")
    return path, latest
