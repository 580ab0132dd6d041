"""DuckLake on a real PostgreSQL catalog under the fault suite's three checks.

Two sources writing at the same moment, a BI reader during a refresh, a writer SIGKILLed inside
its commit: each ends with a clear outcome (success, or an error that says what), nothing the
warehouse held is lost, and a rerun recovers. Real processes, real PostgreSQL, real signals.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration.lib import lake, warehouse
from orchestration.lib.catalog import load_catalog
from tests.faults import harness
from tests.lake.conftest import Lake

pytestmark = [pytest.mark.faults, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
NEW_DAY = date(2026, 2, 2)
REVISED_DAY = date(2026, 1, 29)


def _child(source: str, *flags: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.child_refresh", source, *flags],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _outcome(proc: subprocess.Popen, timeout: float = 180) -> tuple[dict, str]:
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"child printed no result (rc {proc.returncode}):\n{out}\n{err[-3000:]}"
    return json.loads(lines[-1]), err


def _wait(condition, procs: list[subprocess.Popen], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for proc in procs:
            assert proc.poll() is None, (
                f"child exited before {what}: {proc.communicate()[1][-3000:]}"
            )
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _query(target, sql: str) -> list:
    con = warehouse.connect(target, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _new_day_and_revision(lake_: Lake) -> None:
    """FRED RRPONTSYD and the TGA each get a new day and a revised value on REVISED_DAY."""
    rrp = dict(harness.fred_series()["RRPONTSYD"])
    rrp[REVISED_DAY] = "9.9"
    rrp[NEW_DAY] = "4.4"
    (lake_.snapshot / "fred" / "RRPONTSYD.csv").write_text(
        harness.fred_csv("RRPONTSYD", sorted(rrp.items()))
    )
    tga = dict(harness.tga_values())
    tga[REVISED_DAY] = 777_000.0
    tga[NEW_DAY] = 812_000.0
    (lake_.snapshot / "treasury" / "tga_daily.csv").write_text(harness.tga_csv(sorted(tga.items())))


def _duplicate_keys(target) -> dict[str, int]:
    """Rows beyond one per key in every raw source table (DuckLake has no primary key)."""
    from orchestration.lib.raw_tables import SOURCE_TABLES

    out = {}
    for table in SOURCE_TABLES.values():
        key = ", ".join(f'"{k}"' for k in table.key)
        con = warehouse.connect(target, read_only=True)
        try:
            extra = con.execute(
                f"SELECT count(*) - count(DISTINCT ({key})) FROM {table.qualified}"
            ).fetchone()[0]
        except duckdb.CatalogException:  # a source never loaded here
            continue
        finally:
            con.close()
        out[table.qualified] = extra
    return out


def test_two_sources_ingest_at_the_same_moment_and_nothing_is_lost(pg_lake):
    """FRED and the TGA reach their writes together (a barrier), both re-read in full, so both
    write the shared bookkeeping (revision log, ingest state, flagged periods) at once."""
    _new_day_and_revision(pg_lake)
    barrier = pg_lake.dir.parent / "barrier"
    barrier.mkdir()
    procs = [_child(s, "--full", CW_TEST_BARRIER=str(barrier)) for s in ("fred", "treasury")]
    _wait(
        lambda: all((barrier / f"{s}.ready").exists() for s in ("fred", "treasury")),
        procs,
        "both writers at the barrier",
    )
    (barrier / "go").touch()
    outcomes = [_outcome(p) for p in procs]
    # (1) a clear outcome: both succeed (DuckLake retries the commits that do not conflict,
    # crosswind reruns the shared bookkeeping that does)
    for (result, err), source in zip(outcomes, ("fred", "treasury"), strict=True):
        assert result["success"], f"{source}: {result['failure']}\n{err[-2000:]}"
    # (2) nothing lost: both sources' new and revised rows, both revisions logged, both full
    # re-reads recorded, no key twice
    target = pg_lake.target
    fred = harness.data_rows(target, "raw_fred.observations", "series_id, date, value")
    assert ("RRPONTSYD", NEW_DAY, 4.4) in fred and ("RRPONTSYD", REVISED_DAY, 9.9) in fred
    tga = _query(target, "SELECT date, value FROM raw_treasury.operating_cash_balance")
    assert any(d == NEW_DAY for d, _ in tga) and any(d == REVISED_DAY for d, _ in tga)
    revised = _query(
        target, "SELECT table_name, date FROM raw_meta.revision_log WHERE change = 'revised'"
    )
    assert {t for t, d in revised if d == REVISED_DAY} == {
        "raw_fred.observations",
        "raw_treasury.operating_cash_balance",
    }
    full = dict(_query(target, "SELECT source, last_full_fetch FROM raw_meta.ingest_state"))
    assert {"fred", "treasury"} <= set(full)
    assert set(_duplicate_keys(target).values()) == {0}
    after = pg_lake.state()
    # (3) a rerun succeeds and changes nothing
    for source in ("fred", "treasury"):
        result = harness.run(source, downstream=False)
        assert result.success, harness.failure_text(result)
    assert pg_lake.state().build == after.build


def test_bi_reader_during_a_refresh_never_blocks_and_sees_one_version(pg_lake):
    """A BI reader pinned to a snapshot and one on the latest query the lake while a refresh
    (ingest, mart rebuild, publish) commits: no error, no wait, never a half-built state."""
    target = pg_lake.target
    rollup_sql = "SELECT sum(n) FROM marts.fct_fault_rollup"
    raw_sql = (
        "SELECT (SELECT count(*) FROM raw_fred.observations) + "
        "(SELECT count(*) FROM raw_treasury.operating_cash_balance) + "
        "(SELECT count(*) FROM raw_mof.jgb_yields) + (SELECT count(*) FROM raw_cme.margin_changes)"
    )
    con = lake.connect(target, read_only=True)
    (snapshot,) = con.execute("SELECT max(snapshot_id) FROM crosswind.snapshots()").fetchone()
    con.close()
    pinned = lake.connect(target, snapshot=snapshot)
    latest = lake.connect(target, read_only=True)
    try:
        old = pinned.execute(rollup_sql).fetchone()[0]
        assert old == pinned.execute(raw_sql).fetchone()[0]  # the rollup counts every raw row
        _new_day_and_revision(pg_lake)
        proc = _child("fred", "--downstream")
        seen, slowest = set(), 0.0
        while proc.poll() is None:
            started = time.perf_counter()
            assert pinned.execute(rollup_sql).fetchone()[0] == old  # the pinned version holds
            # The latest: one statement, one snapshot: the rollup is either the old one or the
            # rebuilt one, never a mix (sum(n) of the rollup = the raw rows it was built from).
            latest.execute("BEGIN TRANSACTION")
            rollup, raw = latest.execute(f"SELECT ({rollup_sql}), ({raw_sql})").fetchone()
            latest.execute("COMMIT")
            assert rollup in (old, raw), (rollup, raw)
            seen.add(rollup)
            slowest = max(slowest, time.perf_counter() - started)
            time.sleep(0.05)
        result, err = _outcome(proc)
        # (1) the refresh succeeded with readers attached; no reader query failed or waited on it
        assert result["success"], f"{result['failure']}\n{err[-2000:]}"
        assert slowest < 10, f"a reader query took {slowest:.1f}s during the refresh"
        # (2) nothing lost: the new rows are there for a new reader, the pinned one still old
        (new,) = latest.execute(rollup_sql).fetchone()
        assert new == old + 1 and latest.execute(raw_sql).fetchone()[0] == new
        assert pinned.execute(rollup_sql).fetchone()[0] == old
    finally:
        pinned.close()
        latest.close()
    # (3) the refresh again, readers gone: nothing new, same state
    before = pg_lake.state()
    result = harness.run("fred")
    assert result.success, harness.failure_text(result)
    assert pg_lake.state().build == before.build


def _big_fred(snapshot: Path) -> None:
    """Long daily histories for new series, so the upsert's commit takes a while."""
    catalog = load_catalog()
    days, day = [], date(1990, 1, 1)
    while day <= harness.LAST_DAY:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    for n, series_id in enumerate(("UNRATE", "DGS10", "EFFR", "DGS2")):
        first = catalog.series[series_id].first_date
        rows = [(d, f"{1 + n + (i % 97) / 100:.2f}") for i, d in enumerate(days) if d >= first]
        (snapshot / "fred" / f"{series_id}.csv").write_text(harness.fred_csv(series_id, rows))


def test_writer_killed_mid_commit_leaves_old_or_new_and_rerun_recovers(pg_lake):
    target = pg_lake.target
    before = harness.data_rows(target, "raw_fred.observations")
    _big_fred(pg_lake.snapshot)
    sentinels = pg_lake.dir.parent / "sentinels"
    sentinels.mkdir()
    proc = _child("fred", CW_TEST_SENTINELS=str(sentinels))
    _wait(lambda: (sentinels / "upsert-start").exists(), [proc], "the upsert", timeout=180)
    time.sleep(0.05)  # inside the upsert's transaction: ~40k new rows take it longer than this
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    committed = (sentinels / "upsert-done").exists()
    # (1)+(2) PostgreSQL rolled the killed transaction back: the lake opens, and holds exactly
    # the rows from before the write (or, had it committed, all of the new ones); no key twice
    after_kill = harness.data_rows(target, "raw_fred.observations")
    if committed:  # the machine was faster than the kill: then all of it is there
        assert set(before) < set(after_kill)
    else:
        assert after_kill == before
    assert set(_duplicate_keys(target).values()) == {0}
    # (3) the rerun is not blocked by anything the killed writer held, and loads everything
    started = time.monotonic()
    result = harness.run("fred")
    assert result.success, harness.failure_text(result)
    assert time.monotonic() - started < 120
    rows = harness.data_rows(target, "raw_fred.observations")
    assert set(before) <= set(rows)
    loaded = {series for series, *_ in rows}
    assert {"UNRATE", "DGS10", "EFFR", "DGS2"} <= loaded
    assert set(_duplicate_keys(target).values()) == {0}
    # and a second rerun finds nothing left to do
    state = pg_lake.state()
    assert harness.run("fred").success
    assert pg_lake.state().build == state.build
