"""The incremental build gives the same numbers as a full rebuild, on the real snapshot.

The warehouse is built from the snapshot minus its last two trading days, with two values far
in the past (older than any window: an S&P 500 close in 2010, a 10-year yield in 2005) 3 %
off; then the missing days come back together with the revisions of those values, and dbt
builds again, incrementally. The raw layer then holds the full snapshot, so every mart must
equal the session's full build of it (row counts, every column, doubles within 1e-9). Data
tests are left out of these builds (~half their time): the comparison is the check, and the
session build runs them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tests.support.snapshot import dbt_build

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NO_TESTS = ("--exclude", "resource_type:test", "resource_type:unit_test")
# Raw tables holding daily rows (the monthly Shiller and CME change tables are left whole).
DAILY_RAW = (
    "raw_market.daily_bars",
    "raw_fred.observations",
    "raw_treasury.operating_cash_balance",
    "raw_mof.jgb_yields",
    "raw_ofr.financial_stress_index",
)
TRIMMED_DAYS = 2
CORRELATION = "fct_cross_asset_correlation_daily"
# Old values (older than any window) that the first build sees wrong and a reload revises.
REVISED = (
    ("raw_market.daily_bars", "close", "SPX", "2010-06-01"),
    ("raw_fred.observations", "value", "DGS10", "2005-03-01"),
)


def _build(warehouse: Path, work: Path, *args: str) -> str:
    proc, _ = dbt_build(warehouse, work, *NO_TESTS, *args)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    return proc.stdout


def _cut_date(con) -> str:
    """The first of the snapshot's last TRIMMED_DAYS S&P 500 dates."""
    return str(
        con.execute(
            "select min(date) from (select distinct date from raw_market.daily_bars "
            f"where series_id = 'SPX' order by date desc limit {TRIMMED_DAYS})"
        ).fetchone()[0]
    )


def _marts(con) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
        ).fetchall()
    ]


def _assert_same_marts(built: Path, reference: Path) -> None:
    con = duckdb.connect()
    try:
        con.execute(f"attach '{built}' as built (read_only)")
        con.execute(f"attach '{reference}' as ref (read_only)")
        names = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where database_name = 'ref' "
                "and schema_name = 'marts' order by 1"
            ).fetchall()
        ]
        assert len(names) >= 17
        for table in names:
            columns = con.execute(
                "select column_name, data_type from duckdb_columns() where database_name = 'ref' "
                f"and schema_name = 'marts' and table_name = '{table}' order by column_index"
            ).fetchall()
            numeric = {c for c, t in columns if t in ("DOUBLE", "FLOAT")}
            # sorted on every column, doubles rounded: float noise cannot reorder the rows
            order = ", ".join(f"round({c}, 6)" if c in numeric else c for c, _ in columns)
            got = con.execute(f"select * from built.marts.{table} order by {order}").df()
            want = con.execute(f"select * from ref.marts.{table} order by {order}").df()
            assert len(got) == len(want), f"{table}: {len(got)} rows, full rebuild {len(want)}"
            for column, _ in columns:
                if column in numeric:
                    a = got[column].to_numpy(dtype=float)
                    b = want[column].to_numpy(dtype=float)
                    assert np.array_equal(np.isnan(a), np.isnan(b)), f"{table}.{column} NULLs"
                    assert np.allclose(a, b, rtol=0, atol=1e-9, equal_nan=True), (
                        f"{table}.{column}: max difference "
                        f"{np.nanmax(np.abs(a - b)):.3g} from the full rebuild"
                    )
                else:
                    assert got[column].equals(want[column]), f"{table}.{column} differs"
    finally:
        con.close()


def _recomputed(log: str) -> tuple[int, int, str]:
    """(pairs recomputed, pairs, from) as the incremental build logs them."""
    match = re.search(rf"{CORRELATION}: recomputing (\d+) of (\d+) pairs, from (\S+)", log)
    assert match, f"no recompute summary in the dbt log:\n{log[-3000:]}"
    return int(match[1]), int(match[2]), match[3]


def test_incremental_equals_full_rebuild(snapshot_raw_warehouse, snapshot_build, tmp_path):
    warehouse = tmp_path / "warehouse"
    shutil.copytree(snapshot_raw_warehouse, warehouse)
    db = warehouse / "crosswind.duckdb"
    full_raw = snapshot_raw_warehouse / "crosswind.duckdb"

    # 1. the snapshot minus its last days, with two old values wrong, built from scratch
    con = duckdb.connect(str(db))
    cut = _cut_date(con)
    for table in DAILY_RAW:
        con.execute(f"delete from {table} where date >= cast(? as date)", [cut])
    for table, column, series_id, day in REVISED:
        con.execute(
            f"update {table} set {column} = {column} * 1.03 where series_id = ? and date = ?",
            [series_id, day],
        )
    con.close()
    _build(warehouse, tmp_path / "cold")

    # 2. an unchanged input recomputes nothing
    unchanged = _build(warehouse, tmp_path / "unchanged", "--select", CORRELATION)
    assert _recomputed(unchanged) == (0, 45, "-")

    # 3. the missing days arrive and the old values are revised to the snapshot's (as a reload
    #    does: new value, new _loaded_at); the raw layer now equals the full snapshot's
    con = duckdb.connect(str(db))
    con.execute(f"attach '{full_raw}' as full_raw (read_only)")
    for table in DAILY_RAW:
        con.execute(
            f"insert into {table} select * from full_raw.{table} where date >= cast(? as date)",
            [cut],
        )
    for table, column, series_id, day in REVISED:
        con.execute(
            f"update {table} as t set {column} = f.{column}, _loaded_at = now() "
            f"from full_raw.{table} as f where t.series_id = f.series_id and t.date = f.date "
            "and t.series_id = ? and t.date = ?",
            [series_id, day],
        )
    con.close()
    refresh = _build(warehouse, tmp_path / "refresh")

    # every pair gets the new days; the pairs of us10y and sp500 from the older revision on
    pairs, total, start = _recomputed(refresh)
    assert (pairs, total) == (45, 45) and start == "2005-03-01", (pairs, total, start)

    # 4. the same raw data, every model built in full (the session's build of the snapshot)
    reference, _ = snapshot_build
    _assert_same_marts(db, reference / "crosswind.duckdb")
