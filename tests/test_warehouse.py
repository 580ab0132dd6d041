"""The build warehouse: upserts are idempotent, revisions are counted and logged, writers queue."""

from __future__ import annotations

import multiprocessing
import time
from datetime import date

import pandas as pd
import pytest

from orchestration.lib import warehouse
from orchestration.lib.errors import CrosswindError, WarehouseBusy
from orchestration.lib.raw_tables import FRED


def _frame(values: dict[str, float], series: str = "WALCL") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_id": series,
            "date": [date.fromisoformat(d) for d in values],
            "value": list(values.values()),
            "units": "Millions of U.S. Dollars",
            "realtime_start": pd.NaT,
        }
    )


def test_upsert_is_idempotent_and_counts_revisions(tmp_path):
    path = tmp_path / "w.duckdb"
    with warehouse.writer(path) as con:
        first = warehouse.upsert(
            con, FRED, _frame({"2026-01-07": 1.0, "2026-01-14": 2.0}), "replay"
        )
        again = warehouse.upsert(
            con, FRED, _frame({"2026-01-07": 1.0, "2026-01-14": 2.0}), "replay"
        )
        revised = warehouse.upsert(
            con, FRED, _frame({"2026-01-14": 2.5, "2026-01-21": 3.0}), "replay"
        )
        rows = con.execute("SELECT date, value FROM raw_fred.observations ORDER BY date").fetchall()
        log = con.execute("SELECT date, old_value, new_value FROM raw_meta.revision_log").fetchall()
    assert (first.new_rows, first.revised_rows) == (2, 0)
    assert (again.new_rows, again.revised_rows, again.unchanged_rows) == (0, 0, 2)
    assert (revised.new_rows, revised.revised_rows) == (1, 1)
    assert [v for _, v in rows] == [1.0, 2.5, 3.0]
    assert log == [(date(2026, 1, 14), 2.0, 2.5)]


def test_failed_upsert_rolls_back(tmp_path):
    path = tmp_path / "w.duckdb"
    with warehouse.writer(path) as con:
        warehouse.upsert(con, FRED, _frame({"2026-01-07": 1.0}), "replay")
        duplicated = _frame({"2026-01-14": 2.0, "2026-01-21": 3.0})
        duplicated.loc[1, "date"] = date(2026, 1, 14)
        with pytest.raises(CrosswindError, match="repeats keys"):
            warehouse.upsert(con, FRED, duplicated, "replay")
        # A revision plus a row DuckDB cannot cast: the revision must not survive either.
        broken = _frame({"2026-01-07": 9.0, "2026-01-21": 3.0}).astype({"value": object})
        broken.loc[1, "value"] = "not a number"
        with pytest.raises(Exception):  # noqa: B017 - DuckDB's conversion error type varies
            warehouse.upsert(con, FRED, broken, "replay")
        rows = con.execute("SELECT date, value FROM raw_fred.observations").fetchall()
    assert rows == [(date(2026, 1, 7), 1.0)]


def test_sample_and_real_data_never_mix(tmp_path):
    path = tmp_path / "w.duckdb"
    with warehouse.writer(path) as con:
        warehouse.guard_source_mode(con, "sample")
        warehouse.guard_source_mode(con, "sample")
        with pytest.raises(CrosswindError, match="synthetic"):
            warehouse.guard_source_mode(con, "replay")


def _hold_lock(path, seconds, ready):
    with warehouse.write_lock(path):
        ready.set()
        time.sleep(seconds)


def test_second_writer_waits_then_refuses_clearly(tmp_path):
    path = tmp_path / "w.duckdb"
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(path, 3, ready))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(WarehouseBusy, match="another crosswind process"):
            with warehouse.write_lock(path, timeout_s=0.5):
                pass
        # Once the holder is done, the next writer gets in.
        holder.join(10)
        with warehouse.write_lock(path, timeout_s=1):
            pass
    finally:
        holder.kill()
