"""Raw assets end to end through Dagster: load, gate, reject bad batches without losing rows."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import dagster as dg
import duckdb
import pytest

from orchestration.defs.ingestion.fred.assets import fred_observations
from orchestration.lib.quality import CHECKS
from tests.support.catalog import catalog_requiring
from tests.support.resources import crosswind_resources

WALCL = ["2026-01-07,6580000", "2026-01-14,6590000", "2026-01-21,6600000", "2026-01-28,6610000"]
RRP = ["2026-01-26,5.1", "2026-01-27,.", "2026-01-28,4.9"]


def _write_snapshot(root, walcl=WALCL, rrp=RRP, header="observation_date"):
    fred = root / "fred"
    fred.mkdir(parents=True, exist_ok=True)
    (fred / "WALCL.csv").write_text("\n".join([f"{header},WALCL", *walcl]) + "\n")
    (fred / "RRPONTSYD.csv").write_text("\n".join([f"{header},RRPONTSYD", *rrp]) + "\n")


@pytest.fixture
def replay_env(tmp_path, warehouse_env, monkeypatch):
    snap = tmp_path / "snapshot"
    _write_snapshot(snap)
    monkeypatch.setenv("CROSSWIND_SOURCE", "replay")
    monkeypatch.setenv("CROSSWIND_SNAPSHOT_DIR", str(snap))
    catalog = catalog_requiring(["WALCL", "RRPONTSYD"], tmp_path / "catalog.yaml")
    monkeypatch.setenv("CROSSWIND_CATALOG", str(catalog))
    return snap, warehouse_env / "crosswind.duckdb"


def _materialize():
    return dg.materialize(
        [fred_observations], raise_on_error=False, resources=crosswind_resources()
    )


def _checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def _table_fingerprint(path) -> tuple[int, str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT series_id, date, value, units FROM raw_fred.observations ORDER BY 1, 2"
        ).fetchall()
    finally:
        con.close()
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


def test_first_load_then_idempotent_rerun(replay_env):
    _, db = replay_env
    first = _materialize()
    assert first.success
    failed = {name for name, passed in _checks(first).items() if not passed}
    # The catalog's other fred series are optional here and not supplied: a warning, no more.
    assert failed == {"series_present"}, _checks(first)
    warning = next(e for e in first.get_asset_check_evaluations() if not e.passed)
    assert warning.severity == dg.AssetCheckSeverity.WARN
    assert "optional series not supplied: WTREGEN" in warning.description
    assert set(_checks(first)) == {c.name for c in CHECKS}
    meta = first.asset_materializations_for_node("raw_fred__observations")[0].metadata
    assert meta["new_rows"].value == 7 and meta["revised_rows"].value == 0
    assert meta["batch_first_date"].value == "2026-01-07"
    assert meta["batch_last_date"].value == "2026-01-28"
    # the whole table after the write: its rows and date range
    assert meta["dagster/row_count"].value == 7
    assert (meta["first_date"].value, meta["last_date"].value) == ("2026-01-07", "2026-01-28")
    before = _table_fingerprint(db)

    again = _materialize()
    meta = again.asset_materializations_for_node("raw_fred__observations")[0].metadata
    assert meta["new_rows"].value == 0 and meta["unchanged_rows"].value > 0
    assert meta["dagster/row_count"].value == 7  # the table, not this run's batch
    assert _table_fingerprint(db) == before


def test_revision_replaces_value(replay_env):
    snap, db = replay_env
    assert _materialize().success
    _write_snapshot(snap, walcl=[*WALCL[:-1], "2026-01-28,6615000"])
    result = _materialize()
    meta = result.asset_materializations_for_node("raw_fred__observations")[0].metadata
    assert meta["revised_rows"].value == 1
    con = duckdb.connect(str(db), read_only=True)
    value = con.execute(
        "SELECT value FROM raw_fred.observations WHERE series_id='WALCL' AND date='2026-01-28'"
    ).fetchone()[0]
    con.close()
    assert value == 6615000


@pytest.mark.parametrize(
    "walcl,failing_check,message",
    [
        # Units switched to billions while still labelled millions: the gate catches it.
        ([*WALCL[:-1], "2026-01-28,6610"], "magnitude_in_range", "warehouse unchanged"),
        ([*WALCL, "2099-01-07,6610000"], "no_future_dates", "warehouse unchanged"),
        # A repeated date is already refused by the parser, before any gate runs.
        ([*WALCL, "2026-01-28,6610000"], None, "repeated dates"),
    ],
)
def test_bad_batch_is_rejected_and_rows_are_kept(replay_env, walcl, failing_check, message):
    snap, db = replay_env
    assert _materialize().success
    before = _table_fingerprint(db)

    _write_snapshot(snap, walcl=walcl)
    bad = _materialize()
    assert not bad.success
    if failing_check:
        assert _checks(bad)[failing_check] is False
    failure = bad.get_step_failure_events()[0].event_specific_data.error.message
    assert message in failure and "fred/WALCL" in failure
    assert _table_fingerprint(db) == before

    _write_snapshot(snap)
    assert _materialize().success


def test_old_fred_header_loads_the_same(replay_env):
    snap, db = replay_env
    _write_snapshot(snap, header="DATE")
    assert _materialize().success
    assert _table_fingerprint(db)[0] == 7


def test_definitions_load_with_checks_on_every_raw_asset():
    from orchestration.definitions import defs

    d = defs()
    graph = d.resolve_asset_graph()
    raw_keys = [k for k in graph.get_all_asset_keys() if k.path[0].startswith("raw_")]
    checks = {(c.asset_key, c.name) for c in graph.asset_check_keys}
    for key in raw_keys:
        if key.path[-1] in {"series_metadata", "unit_labels", "margin_products"}:
            continue  # written by the same step as a gated sibling
        assert any(k == key for k, _ in checks), f"{key} has no checks"
    assert d.resolve_job_def("refresh_job") is not None


@pytest.mark.slow
def test_dg_check_defs_passes():
    # As `uv run` would: the project's venv first on PATH, for the dbt executable.
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, "-m", "dagster_dg_cli.cli", "check", "defs"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_reconcile_command_rereads_in_full_and_deletes_what_the_source_dropped(replay_env, capsys):
    from orchestration.cli import main

    snap, db = replay_env
    assert _materialize().success
    _write_snapshot(snap, walcl=WALCL[:-1])  # the source no longer carries 2026-01-28
    assert main(["reconcile", "--sources", "fred", "--check"]) == 0
    out = capsys.readouterr().out
    assert "[fred] 0 new, 0 revised, 0 deleted" in out
    assert "WALCL: 1 rows (2026-01-28)" in out
    assert _table_fingerprint(db)[0] == 7

    assert main(["reconcile", "--sources", "fred"]) == 0
    assert "1 deleted" in capsys.readouterr().out
    assert _table_fingerprint(db)[0] == 6
