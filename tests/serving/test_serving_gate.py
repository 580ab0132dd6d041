"""The gate: a failing upstream check leaves the serving copy byte-for-byte unchanged, and the
failure sensor writes a record naming the failing check. Runs the real serving/report assets in
an ephemeral Dagster instance, with a stand-in for the dbt marts (synthetic rows)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.events import DagsterEventType

from orchestration.defs.automation.sensors import failure_record_sensor
from orchestration.defs.serving.assets import (
    REPORT_KEY,
    SERVING_KEY,
    VIEWS_CHECK,
    daily_report,
    serving_copy,
)
from orchestration.defs.transform.assets import MART_KEYS
from orchestration.lib import serving
from tests.serving.synthetic_marts import build_synthetic_warehouse, marts_state
from tests.support.resources import crosswind_resources

pytestmark = pytest.mark.slow
CHECK = "stand_in_range_test"
RUN_FAILURE = DagsterEventType.RUN_FAILURE


def stand_in_marts(warehouse_dir: Path, *, generation: int, check_passes: bool):
    """Plays the dbt step: writes the marts, then reports a blocking check on one of them."""
    specs = [dg.AssetSpec(key, group_name="marts") for key in MART_KEYS]
    checked = specs[0].key

    @dg.multi_asset(
        name="stand_in_dbt_marts",
        specs=specs,
        check_specs=[dg.AssetCheckSpec(CHECK, asset=checked, blocking=True)],
    )
    def _marts():
        build_synthetic_warehouse(
            warehouse_dir / "crosswind.duckdb", days=200 + 100 * generation, generation=generation
        )
        for spec in specs:
            yield dg.MaterializeResult(asset_key=spec.key)
        yield dg.AssetCheckResult(
            asset_key=checked,
            check_name=CHECK,
            passed=check_passes,
            severity=dg.AssetCheckSeverity.ERROR,
            description=None if check_passes else "value 99 outside [-1, 25] (simulated)",
        )

    return _marts


def _digests(folder: Path) -> dict[str, str]:
    files = [folder / "serving.duckdb", *sorted((folder / "exports").iterdir())]
    return {p.name: serving.file_digest(p) for p in files}


def test_failing_check_keeps_serving_copy_and_writes_failure_record(warehouse_env):
    instance = dg.DagsterInstance.ephemeral()
    wh = warehouse_env

    def run(generation, passes, selection=None):
        assets = [
            stand_in_marts(wh, generation=generation, check_passes=passes),
            serving_copy,
            daily_report,
        ]
        return dg.materialize(
            assets,
            instance=instance,
            selection=selection,
            raise_on_error=False,
            resources=crosswind_resources(),
        )

    # 1. all checks pass: published, report written
    first = run(1, True)
    assert first.success
    assert marts_state(wh / "serving.duckdb")["generations"] == [1]
    report_meta = first.asset_materializations_for_node(daily_report.op.name)[0].metadata
    assert "Crosswind daily" in report_meta["summary"].value
    assert (wh / "reports" / "latest.html").exists()
    published = _digests(wh)

    # 2. the check on a mart fails: the serving step is skipped, nothing changes on disk
    second = run(2, False)
    assert not second.success
    assert not second.asset_materializations_for_node(serving_copy.op.name)
    assert _digests(wh) == published

    # the failure sensor writes a record naming the check and what was skipped
    context = dg.build_run_status_sensor_context(
        sensor_name=failure_record_sensor.name,
        dagster_instance=instance,
        dagster_run=second.dagster_run,
        dagster_event=next(e for e in second.all_events if e.event_type == RUN_FAILURE),
        resources=crosswind_resources(),
    ).for_run_failure()
    failure_record_sensor(context)
    records = list((wh / "failures").glob("*.json"))
    assert len(records) == 1 and second.run_id in records[0].name
    record = json.loads(records[0].read_text())
    assert record["failed_checks"][0]["check"] == CHECK
    assert "simulated" in record["failed_checks"][0]["description"]
    assert any("stand_in_dbt_marts" in s["step"] for s in record["failed_steps"])
    assert any("serving" in s for s in record["skipped_steps"])
    latest = (wh / "failures" / "latest_failure.md").read_text()
    assert CHECK in latest and "FAILED" in latest and "left as published" in latest

    # 3. publishing alone (as from the UI) is refused while that check's last result is a failure
    third = run(2, True, selection=[SERVING_KEY])
    assert not third.success
    failure = next(e for e in third.all_events if e.event_type_value == "STEP_FAILURE")
    assert CHECK in failure.event_specific_data.error.message or CHECK in str(
        failure.event_specific_data.user_failure_data
    )
    assert _digests(wh) == published

    # 4. the check passes again: the new state is published
    fourth = run(2, True)
    assert fourth.success
    assert marts_state(wh / "serving.duckdb")["generations"] == [2]
    assert _digests(wh) != published
    meta = fourth.asset_materializations_for_node(serving_copy.op.name)[0].metadata
    assert meta["storage_version"].value == "v1.0.0"
    assert meta["marts"].value == len(MART_KEYS)  # every mart (created from its dbt contract)
    assert fourth.asset_materializations_for_node(daily_report.op.name)[0].asset_key == REPORT_KEY


def test_a_view_that_cannot_be_created_fails_its_check_and_publishes_nothing(warehouse_env):
    instance = dg.DagsterInstance.ephemeral()
    wh = warehouse_env
    marts = stand_in_marts(wh, generation=1, check_passes=True)
    assert dg.materialize(
        [marts, serving_copy], instance=instance, resources=crosswind_resources()
    ).success
    published = _digests(wh)
    with duckdb.connect(str(wh / "crosswind.duckdb")) as con:  # dbt renamed a column
        con.execute(
            "ALTER TABLE marts.fct_cross_asset_regime_daily RENAME COLUMN is_hedge_failure TO hf"
        )
    result = dg.materialize(
        [marts, serving_copy],
        instance=instance,
        selection=[SERVING_KEY],
        raise_on_error=False,
        resources=crosswind_resources(),
    )
    assert not result.success
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == VIEWS_CHECK]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "bi.selloff_days" in check.description and "is_hedge_failure" in check.description
    assert _digests(wh) == published  # the previous set stays current, byte for byte
