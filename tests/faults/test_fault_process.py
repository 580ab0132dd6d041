"""Process faults: SIGKILL mid-write, two refreshes at once, readers holding the files.

Real processes (`python -m tests.faults.child_refresh`), real signals, real file locks.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration.lib import warehouse
from orchestration.lib.catalog import load_catalog
from tests.faults import harness

pytestmark = pytest.mark.faults

REPO_ROOT = Path(__file__).resolve().parents[2]
OBS = "raw_fred.observations"
# Enough history that the upsert takes a few hundred ms, little enough that the quality gate
# (Great Expectations, before any write) stays within a few seconds.
BIG_FIRST_DAY = date(1930, 1, 1)
# RRPONTSYD is already loaded (only its re-read window is fetched, and revised); the others are
# new, so their whole history is inserted.
# Each history starts at the series' catalog first_date (older rows are refused).
BIG_SERIES = ("RRPONTSYD", "UNRATE", "DGS10", "EFFR", "DGS2")


def _child(source: str = "fred", stderr=subprocess.PIPE, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.child_refresh", source],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def _wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"child exited before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _outcome(proc: subprocess.Popen, timeout: float = 120) -> tuple[dict, str]:
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"child printed no result (rc {proc.returncode}):\n{out}\n{err[-3000:]}"
    return json.loads(lines[-1]), err


def _write_big_fred(snapshot: Path) -> dict[str, int]:
    """Long daily histories; RRPONTSYD also revises the values in its re-read window."""
    days, day = [], BIG_FIRST_DAY
    while day <= harness.LAST_DAY:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    sizes = {}
    catalog = load_catalog()
    for n, series_id in enumerate(BIG_SERIES):
        first = catalog.series[series_id].first_date
        rows = [(d, f"{1 + n + (i % 97) / 100:.2f}") for i, d in enumerate(days) if d >= first]
        (snapshot / "fred" / f"{series_id}.csv").write_text(harness.fred_csv(series_id, rows))
        sizes[series_id] = len(rows)
    return sizes


def _data(db: Path) -> list:
    return harness.data_rows(db, OBS)


def _revisions(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM raw_meta.revision_log").fetchone()[0]
    except duckdb.CatalogException:
        return 0
    finally:
        con.close()


# -- SIGKILL in the middle of the raw upsert -----------------------------------------------------


def _counts(rows: list) -> dict[str, int]:
    counts: dict[str, int] = {}
    for series_id, *_ in rows:
        counts[series_id] = counts.get(series_id, 0) + 1
    return counts


def test_sigkill_mid_upsert_keeps_old_or_new_state_and_rerun_recovers(replay_wh, tmp_path):
    old_rows, old_revisions = _data(replay_wh.db), _revisions(replay_wh.db)
    _write_big_fred(replay_wh.snapshot)
    backup = tmp_path / "before.duckdb"
    shutil.copy(replay_wh.db, backup)
    sentinels = tmp_path / "sentinels"
    sentinels.mkdir()
    committed = None
    for delay in (0.05, 0.02, 0.0):  # shrink the delay if the upsert finished first
        for f in sentinels.iterdir():
            f.unlink()
        proc = _child(CW_TEST_SENTINELS=str(sentinels))
        deadline = time.monotonic() + 120
        while not (sentinels / "upsert-start").exists():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the child never reached the upsert"
            time.sleep(0.002)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        if not (sentinels / "upsert-done").exists():
            break
        # Too late, the write had committed. Remember that state, restore, try sooner.
        committed = _data(replay_wh.db)
        shutil.copy(backup, replay_wh.db)
        Path(str(replay_wh.db) + ".wal").unlink(missing_ok=True)
    else:
        pytest.fail("could not land a SIGKILL inside warehouse.upsert")

    after_kill = _data(replay_wh.db)  # the file opens: its WAL replayed or discarded
    after_kill_revisions = _revisions(replay_wh.db)
    # The lock died with the process: the rerun does not wait, and loads everything once.
    result = replay_wh.run("fred")
    assert result.success, harness.failure_text(result)
    complete = _data(replay_wh.db)
    assert len(complete) == len({(r[0], r[1]) for r in complete})
    assert _counts(complete)["EFFR"] > 18_000 and _counts(complete)["DGS2"] > 12_000
    assert committed is None or committed == complete
    # One complete state after the kill: the old one, or - had the kill landed inside COMMIT -
    # the new one. Never a mix, and the revision log moves with the rows.
    assert after_kill in (old_rows, complete)
    if after_kill == old_rows:
        assert after_kill_revisions == old_revisions
    assert _revisions(replay_wh.db) > old_revisions  # RRPONTSYD's revised window, logged once
    rerun = replay_wh.run("fred", downstream=False)
    meta = rerun.asset_materializations_for_node("raw_fred__observations")[0].metadata
    assert meta["new_rows"].value == 0 and meta["revised_rows"].value == 0


# -- two refreshes at once -----------------------------------------------------------------------


def test_two_refreshes_at_once_the_second_waits_and_both_succeed(replay_wh, tmp_path):
    _add_a_day(replay_wh.snapshot)
    hold = tmp_path / "hold"
    # The first stops inside the write lock, just before its upsert ...
    first = _child(CW_TEST_HOLD_UNTIL=str(hold))
    _wait_for(hold.exists, first, "the first refresh took the lock")
    # ... the second starts and must queue behind it ...
    log = tmp_path / "second.stderr"
    with open(log, "w") as err:
        second = _child(stderr=err)
        waiting = f"waiting for the warehouse write lock (pid {first.pid}"
        _wait_for(lambda: waiting in log.read_text(), second, "the second refresh to wait")
        # ... and goes on once the first is done.
        Path(str(hold) + ".release").write_text("")
        (one, _), (two, _) = _outcome(first), _outcome(second)
    assert one["success"], one["failure"]
    assert two["success"], two["failure"]
    rows = _data(replay_wh.db)
    assert len(rows) == len({(r[0], r[1]) for r in rows})  # no key twice
    # Both loaded the same file: the state is what one load gives.
    result = replay_wh.run("fred")
    meta = result.asset_materializations_for_node("raw_fred__observations")[0].metadata
    assert meta["new_rows"].value == 0 and meta["revised_rows"].value == 0
    assert _data(replay_wh.db) == rows


def test_refresh_refuses_clearly_when_the_lock_is_held_too_long(replay_wh):
    before = replay_wh.state()
    _add_a_day(replay_wh.snapshot)
    with warehouse.write_lock(replay_wh.db, timeout_s=5):
        outcome, _ = _outcome(_child(CROSSWIND_LOCK_TIMEOUT="1"))
    assert not outcome["success"]
    for needle in (
        "another crosswind process has held",
        "crosswind.duckdb.lock",
        "for over 1s",
        "no data was changed",
    ):
        assert needle in outcome["failure"], outcome["failure"]
    assert replay_wh.state() == before
    result = replay_wh.run("fred")
    assert result.success, harness.failure_text(result)


# -- readers holding the files -------------------------------------------------------------------

READER = textwrap.dedent(
    """
    import sys, time, duckdb
    from pathlib import Path
    con = duckdb.connect(sys.argv[1], read_only=True)
    query = "SELECT count(*), sum(n), sum(total) FROM marts.fct_fault_rollup"
    first = con.execute(query).fetchone()
    Path(sys.argv[2]).write_text(repr(first))
    while not Path(sys.argv[3]).exists():
        time.sleep(0.01)
    again = con.execute(query).fetchone()
    print(repr(first), repr(again), flush=True)
    """
)


def _reader(db: Path, tmp: Path) -> tuple[subprocess.Popen, Path]:
    ready, go = tmp / "reader-ready", tmp / "reader-go"
    proc = subprocess.Popen(
        [sys.executable, "-c", READER, str(db), str(ready), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return proc, go


def _add_a_day(snapshot: Path) -> None:
    rows = [*harness.fred_series()["RRPONTSYD"], (date(2026, 2, 2), "4.4")]
    (snapshot / "fred" / "RRPONTSYD.csv").write_text(harness.fred_csv("RRPONTSYD", rows))


def test_bi_reader_on_the_serving_copy_never_blocks_a_refresh(replay_wh, tmp_path):
    serving_file = replay_wh.dir / "serving.duckdb"
    old = harness.fingerprint(serving_file)
    reader, go = _reader(serving_file, tmp_path)
    try:
        _add_a_day(replay_wh.snapshot)
        started = time.monotonic()
        result = replay_wh.run("fred")  # ingest + mart + publish, reader still attached
        assert result.success, harness.failure_text(result)
        assert time.monotonic() - started < 30
        go.write_text("")
        out, err = reader.communicate(timeout=30)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 0, err
    first, again = out.strip().split(") (")
    assert first + ")" == "(" + again, "the reader's view changed under it"
    new = harness.fingerprint(serving_file)
    assert new["marts.fct_fault_rollup"] != old["marts.fct_fault_rollup"]  # new state published
    assert not list(replay_wh.dir.glob(".serving.duckdb.tmp-*"))


def test_bi_tool_holding_the_build_file_gets_a_clear_error_and_nothing_changes(replay_wh, tmp_path):
    before = replay_wh.state()
    _add_a_day(replay_wh.snapshot)
    reader, go = _reader(replay_wh.db, tmp_path)
    try:
        result = replay_wh.run("fred")
        assert not result.success
        text = harness.failure_text(result)
        for needle in (
            "cannot open",
            "crosswind.duckdb",
            "Close tools that hold the build file",
            "serving.duckdb",
        ):
            assert needle in text, text
        assert replay_wh.state() == before
    finally:
        go.write_text("")
        reader.communicate(timeout=30)
    result = replay_wh.run("fred")
    assert result.success, harness.failure_text(result)
    assert ("RRPONTSYD", date(2026, 2, 2), 4.4, "Billions of U.S. Dollars") in _data(replay_wh.db)
