"""Publishing the serving set: all of it or nothing, a kill at any moment, users' files untouched.

The serving copy, every Parquet export and the manifest are one set in a folder of their own
(`warehouse/publishes/<id>/`), made current by switching one symlink. A real child process runs
a Dagster run (on-disk instance) of ingestion + mart + publish and is SIGKILLed at three moments
of the publish: after some Parquet files of the new set, just before the switch, just after it.
Each time: (a) the killed run is marked failed, naming the step it died in, when the next run
starts; (b) what readers see is one whole set, the old one before the switch and the new one
after it, with every file of it present, and before the switch the serving copy and exports are
byte-identical to before the kill; (c) the next run cleans up and publishes the new data.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.lib import serving
from tests.faults import harness

pytestmark = pytest.mark.faults

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVING_STEP = "serving__fault_copy"
NEW_DAY = (date(2026, 2, 2), "4.4")


def _add_a_day(snapshot: Path) -> None:
    rows = [*harness.fred_series()["RRPONTSYD"], NEW_DAY]
    (snapshot / "fred" / "RRPONTSYD.csv").write_text(harness.fred_csv("RRPONTSYD", rows))


def _child(home: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.child_publish"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "DAGSTER_HOME": str(home), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=180)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"child printed no result (rc {proc.returncode}):\n{err[-3000:]}"
    return json.loads(lines[-1])


def _parquet_id(path: Path) -> str:
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT value FROM parquet_kv_metadata(?) WHERE key = ?",
            [str(path), serving.PUBLISH_ID_KEY.encode()],
        ).fetchall()
    finally:
        con.close()
    return rows[0][0].decode() if rows else "(none)"


def visible_set(warehouse_dir: Path) -> tuple[str, dict[str, int]]:
    """What readers see, checked to be one whole set: (publish id, rows per mart).

    Through the set's folder (resolved once, as docs/bi_cookbook.md tells Parquet readers) and
    through the stable paths BI tools open: every file exists and carries the same publish id.
    """
    folder = serving.current_set(warehouse_dir)
    assert folder is not None and folder.is_dir(), "no current set"
    manifest = json.loads((folder / "exports" / "_manifest.json").read_text())
    publish_id = manifest["publish_id"]
    assert folder.name == publish_id
    rows = {}
    for name, entry in manifest["tables"].items():
        for path in (folder / "exports" / entry["file"], warehouse_dir / "exports" / entry["file"]):
            assert _parquet_id(path) == publish_id, f"{path} belongs to another publish"
        rows[name] = entry["rows"]
    stable = json.loads((warehouse_dir / "exports" / "_manifest.json").read_text())
    assert stable["publish_id"] == publish_id
    con = duckdb.connect(str(serving.serving_path(warehouse_dir)), read_only=True)
    try:
        info = dict(con.execute("SELECT key, value FROM meta.publish_info").fetchall())
        counted = {n: con.execute(f'SELECT count(*) FROM marts."{n}"').fetchone()[0] for n in rows}
    finally:
        con.close()
    assert info[serving.PUBLISH_ID_KEY] == publish_id
    assert counted == rows
    return publish_id, rows


def _sets(warehouse_dir: Path) -> list[str]:
    return sorted(p.name for p in (warehouse_dir / "publishes").iterdir())


def _temporaries(warehouse_dir: Path) -> list[str]:
    return sorted(p.name for p in [*warehouse_dir.glob(".*"), *warehouse_dir.glob("exports/.*")])


def _run_status(home: Path, run_id: str) -> tuple[dg.DagsterRunStatus, str]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(run_id)
        failures = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        return run.status, " ".join(e.dagster_event.message or "" for e in failures)


def _started_runs(home: Path) -> list[str]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        started = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        return [r.run_id for r in started]


def _three_marts(db: Path) -> None:
    """Two more marts beside the stand-in rollup, so a kill can land between two exports."""
    with duckdb.connect(str(db)) as con:
        for name in ("fct_fault_extra_a", "fct_fault_extra_b"):
            con.execute(f"CREATE TABLE marts.{name} AS SELECT * FROM marts.fct_fault_rollup")
    serving.publish(db, require_views=False)  # stand-in marts: no bi views


@pytest.mark.parametrize("point", ["export:2", "switch", "switched"])
def test_sigkill_mid_publish_leaves_one_whole_set_and_the_next_run_cleans_up(
    replay_wh, tmp_path, point
):
    home = tmp_path / "dagster_home"
    home.mkdir()
    _three_marts(replay_wh.db)
    old_id, old_rows = visible_set(replay_wh.dir)
    before = replay_wh.state()
    _add_a_day(replay_wh.snapshot)
    sentinel = tmp_path / "paused"

    proc = _child(home, CW_TEST_PAUSE_AT=point, CW_TEST_SENTINEL=str(sentinel))
    deadline = time.monotonic() + 120
    while not sentinel.exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"the child never reached {point}"
        time.sleep(0.01)
    during = visible_set(replay_wh.dir)  # a reader at the moment of the kill
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # (b) one whole set: the old one until the switch, the new one from it on
    after = visible_set(replay_wh.dir)
    assert after == during
    if point == "switched":
        assert after[0] != old_id and after[1] == old_rows  # same marts, new publish
    else:
        assert after[0] == old_id
        state = replay_wh.state()
        assert (state.serving, state.serving_file, state.exports) == (
            before.serving,
            before.serving_file,
            before.exports,
        )
    # The kill left its run STARTED and, before the switch, a set that is not current.
    [killed] = _started_runs(home)
    if point != "switched":
        assert len(_sets(replay_wh.dir)) > 1

    # (a) + (c): the next run marks the killed one failed, cleans up and publishes the new data.
    outcome = _finish(_child(home))
    assert outcome["success"]
    status, message = _run_status(home, killed)
    assert status == dg.DagsterRunStatus.FAILURE
    assert f"pid {proc.pid}" in message and "killed" in message, message
    assert SERVING_STEP in message, message
    new_id, _ = visible_set(replay_wh.dir)
    assert new_id not in (old_id, after[0])
    assert _sets(replay_wh.dir)[-1] == new_id and len(_sets(replay_wh.dir)) == 2  # + previous
    assert _temporaries(replay_wh.dir) == []
    assert ("RRPONTSYD", NEW_DAY[0], 4.4, "Billions of U.S. Dollars") in harness.data_rows(
        replay_wh.db, "raw_fred.observations"
    )
    rollup = harness.fingerprint(serving.serving_path(replay_wh.dir))["marts.fct_fault_rollup"]
    assert rollup != before.serving["marts.fct_fault_rollup"]  # the new day is published
    assert _started_runs(home) == []


def test_a_users_own_files_in_exports_survive_every_publish(replay_wh):
    exports = replay_wh.dir / "exports"
    mine = {
        "my_analysis.parquet": b"PAR1 not crosswind's PAR1",
        "notes.txt": b"keep me",
        "fct_fault_rollup.csv": b"a,b\n1,2\n",
    }
    for name, payload in mine.items():
        (exports / name).write_bytes(payload)
    (exports / "mine").mkdir()
    (exports / "mine" / "deep.parquet").write_bytes(b"x")
    _add_a_day(replay_wh.snapshot)
    for _ in range(2):  # a publish, and one that also prunes the set before it
        result = replay_wh.run("fred")
        assert result.success, harness.failure_text(result)
    for name, payload in mine.items():
        assert (exports / name).read_bytes() == payload, name
    assert (exports / "mine" / "deep.parquet").read_bytes() == b"x"
    visible_set(replay_wh.dir)


def test_a_user_file_named_like_a_mart_is_left_alone_and_reported(replay_wh):
    exports = replay_wh.dir / "exports"
    (exports / "fct_fault_rollup.parquet").unlink()  # crosswind's link
    (exports / "fct_fault_rollup.parquet").write_bytes(b"the user's own file")
    result = serving.publish(replay_wh.db, require_views=False)  # stand-in marts
    assert result.not_linked == ["fct_fault_rollup.parquet"]
    assert (exports / "fct_fault_rollup.parquet").read_bytes() == b"the user's own file"
    assert (result.folder / "exports" / "fct_fault_rollup.parquet").is_file()  # set complete
    assert serving.current_set(replay_wh.dir) == result.folder


def test_a_current_pointer_copied_as_a_real_folder_is_refused_clearly(replay_wh):
    link = replay_wh.dir / "current"
    target = serving.current_set(replay_wh.dir)
    link.unlink()
    link.mkdir()  # what a copy that follows symlinks leaves
    before = replay_wh.state()
    _add_a_day(replay_wh.snapshot)
    result = replay_wh.run("fred")
    assert not result.success
    text = harness.failure_text(result)
    assert "is not crosswind's pointer but a real folder" in text, text
    assert str(link) in text
    assert replay_wh.state().exports == before.exports
    link.rmdir()
    os.symlink(os.path.relpath(target, replay_wh.dir), link)
    result = replay_wh.run("fred")
    assert result.success, harness.failure_text(result)
    visible_set(replay_wh.dir)
