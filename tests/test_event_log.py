"""The event log crosswind installs in DAGSTER_HOME: Dagster's SQLite files, written with one
kept-open connection per database (orchestration/lib/event_log.py, lib/instance.py)."""

import os
import sqlite3

import dagster as dg

from orchestration.lib import event_log
from orchestration.lib.event_log import PooledSqliteEventLogStorage
from orchestration.lib.instance import MARKER, SHIPPED_CONFIG, installed_config, prepare_home

CHECKS = 12


@dg.asset(check_specs=[dg.AssetCheckSpec(f"c{i}", asset="a") for i in range(CHECKS)])
def a():
    yield dg.Output(None)
    for i in range(CHECKS):
        yield dg.AssetCheckResult(check_name=f"c{i}", passed=i != 3, asset_key="a")


JOB = dg.Definitions(assets=[a], jobs=[dg.define_asset_job("j", selection=[a])]).resolve_job_def(
    "j"
)


def _run(instance):
    return JOB.execute_in_process(instance=instance, raise_on_error=False)


def test_the_installed_instance_writes_dagsters_files_through_kept_connections(tmp_path):
    home = prepare_home(tmp_path / "dagster home's")  # a space and a quote in the path
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, PooledSqliteEventLogStorage)
        result = _run(instance)
        # Where Dagster's default storage puts them, so older runs and the UI read them.
        assert (home / "history" / "runs" / f"{result.run_id}.db").exists()
        assert (home / "history" / "runs" / "index.db").exists()
        engines = dict(storage._engines)
        assert set(engines) == {result.run_id, "index"}
        _run(instance)
        assert storage._engines["index"] is engines["index"]  # reused, not rebuilt per event
        logs = instance.all_logs(result.run_id)

    # Another process (here: a fresh instance, as the UI would open) reads the same events.
    with dg.DagsterInstance.from_config(str(home)) as reader:
        assert [e.dagster_event_type for e in reader.all_logs(result.run_id)] == [
            e.dagster_event_type for e in logs
        ]
        check = reader.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("a"), "c3")]
        )[dg.AssetCheckKey(dg.AssetKey("a"), "c3")]
        assert check.event.dagster_event.event_specific_data.passed is False
        assert len(reader.get_runs()) == 2


def test_the_same_events_as_dagsters_own_sqlite_storage(tmp_path):
    counts = []
    for pooled in (False, True):
        home = tmp_path / str(pooled)
        if pooled:
            prepare_home(home)
        else:
            home.mkdir()
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage) is pooled
            run_id = _run(instance).run_id
            counts.append(sorted(str(e.dagster_event_type) for e in instance.all_logs(run_id)))
    assert counts[0] == counts[1] and len(counts[0]) > 3 * CHECKS


def test_open_databases_are_bounded_and_closed_on_wipe_and_dispose(tmp_path, monkeypatch):
    monkeypatch.setattr(event_log, "KEEP_OPEN", 3)
    home = prepare_home(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        run_ids = [_run(instance).run_id for _ in range(4)]
        assert len(storage._engines) == 3 and "index" in storage._engines
        instance.wipe()
        assert list(storage._engines) == ["index"]  # reopened to empty it; run files closed
        assert not any((home / "history" / "runs" / f"{r}.db").exists() for r in run_ids)
        _run(instance)  # still usable after a wipe
        assert storage._engines
    assert storage._engines == {}  # the instance's dispose closed them


def test_a_forked_child_opens_its_own_connections(tmp_path, monkeypatch):
    home = prepare_home(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        first = _run(instance)
        parent_index = storage._engines["index"]
        monkeypatch.setattr(os, "getpid", lambda: storage._engines_pid + 1)
        second = _run(instance)
        assert storage._engines["index"] is not parent_index
        assert {first.run_id, second.run_id} <= {r.run_id for r in instance.get_runs()}


def test_prepare_home_installs_the_block_upgrades_its_own_copies_and_keeps_yours(tmp_path):
    home = tmp_path / "home"
    prepare_home(home)
    text = (home / "dagster.yaml").read_text()
    assert text == installed_config(home) and text.startswith(SHIPPED_CONFIG.read_text())
    assert str((home / "history" / "runs").resolve()) in text

    (home / "dagster.yaml").write_text(SHIPPED_CONFIG.read_text())  # an earlier version's copy
    prepare_home(home)
    assert (home / "dagster.yaml").read_text() == installed_config(home)

    moved = tmp_path / "moved"
    (home).rename(moved)  # a moved folder gets its new path
    prepare_home(moved)
    assert str(moved.resolve()) in (moved / "dagster.yaml").read_text()

    own = "telemetry:\n  enabled: false\n"
    assert not own.startswith(MARKER)
    (moved / "dagster.yaml").write_text(own)
    prepare_home(moved)
    assert (moved / "dagster.yaml").read_text() == own


def test_every_event_is_committed_when_written(tmp_path):
    """Nothing waits in a kept connection: a plain SQLite reader sees every event at once."""
    home = prepare_home(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run_id = _run(instance).run_id
        written = len(instance.all_logs(run_id))
        con = sqlite3.connect(home / "history" / "runs" / f"{run_id}.db")
        assert con.execute("select count(*) from event_logs").fetchone()[0] == written
        con.close()
