"""The build warehouse: one writer at a time, DDL from raw_tables, idempotent upserts.

DuckDB allows one writing process per file. Every write goes through `writer()`, which takes an
exclusive file lock beside the database first, so two crosswind processes queue instead of
failing half-way, and a BI tool holding the build file gets a clear error instead of a hang.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.lib.errors import CrosswindError, WarehouseBusy
from orchestration.lib.raw_tables import ALL_TABLES, RawTable

log = logging.getLogger("crosswind.warehouse")

LOCK_TIMEOUT_S = float(os.environ.get("CROSSWIND_LOCK_TIMEOUT", "600"))


@contextmanager
def write_lock(warehouse_path: Path, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the warehouse's exclusive write lock; wait up to `timeout_s`, then refuse clearly."""
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = warehouse_path.with_name(warehouse_path.name + ".lock")
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        announced = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not announced:
                    handle.seek(0)
                    log.warning("waiting for the warehouse write lock (%s)", handle.read().strip())
                    announced = True
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"another crosswind process has held {lock_path} "
                        f"for over {timeout_s:.0f}s; "
                        "wait for it to finish or stop it (no data was changed)"
                    ) from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        # DuckDB's lock message names the holding PID; say what to do about it.
        raise WarehouseBusy(
            f"cannot open {path}: {exc}. Close tools that hold the build file; "
            "BI tools should read warehouse/serving.duckdb instead"
        ) from None


@contextmanager
def writer(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with write_lock(path):
        con = connect(path)
        try:
            ensure_tables(con)
            yield con
        finally:
            con.close()


@contextmanager
def reader(path: Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A short read of the build file, or None when the warehouse does not exist yet."""
    if not path.exists():
        yield None
        return
    with write_lock(path):
        con = connect(path, read_only=True)
        try:
            yield con
        finally:
            con.close()


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in ALL_TABLES:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.schema}")
        cols = ", ".join(f'"{name}" {ddl}' for name, ddl in table.all_columns)
        key = ", ".join(f'"{k}"' for k in table.key)
        con.execute(f"CREATE TABLE IF NOT EXISTS {table.qualified} ({cols}, PRIMARY KEY ({key}))")


def latest_dates(con: duckdb.DuckDBPyConnection | None, table: RawTable) -> dict[str, date]:
    """Last loaded date per series (or product); empty when nothing is loaded yet."""
    if con is None:
        return {}
    try:
        rows = con.execute(
            f'SELECT "{table.series_column}", max("{table.date_column}") FROM {table.qualified} '
            "GROUP BY 1"
        ).fetchall()
    except duckdb.CatalogException:
        return {}
    return {series: last for series, last in rows}


@dataclass(frozen=True)
class UpsertStats:
    rows_in_batch: int
    new_rows: int
    revised_rows: int
    unchanged_rows: int


def upsert(
    con: duckdb.DuckDBPyConnection, table: RawTable, frame: pd.DataFrame, source_mode: str
) -> UpsertStats:
    """Insert new keys, replace changed values, leave identical rows untouched; one transaction.

    A revised value replaces the old one and the old value is kept in raw_meta.revision_log, so
    a revision is visible and nothing is silently lost.
    """
    names = table.names
    dupes = frame.duplicated(list(table.key), keep=False)
    if dupes.any():
        sample = frame.loc[dupes, list(table.key)].head(3).to_dict("records")
        raise CrosswindError(f"{table.qualified}: batch repeats keys {sample}; nothing written")
    incoming = frame[names].copy()
    incoming["source_mode"] = source_mode
    incoming["_loaded_at"] = datetime.now(UTC).replace(tzinfo=None)
    key_match = " AND ".join(f't."{k}" = b."{k}"' for k in table.key)
    compared = [n for n in names if n not in table.key]
    changed = " OR ".join(f't."{c}" IS DISTINCT FROM b."{c}"' for c in compared)
    con.register("cw_batch", incoming)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE cw_cmp AS SELECT b.*, "
            f"CASE WHEN t.\"{table.key[0]}\" IS NULL THEN 'new' "
            f"WHEN {changed} THEN 'revised' ELSE 'same' END AS _status "
            f"FROM cw_batch b LEFT JOIN {table.qualified} t ON {key_match}"
        )
        new, revised, same = con.execute(
            "SELECT count(*) FILTER (_status = 'new'), count(*) FILTER (_status = 'revised'), "
            "count(*) FILTER (_status = 'same') FROM cw_cmp"
        ).fetchone()
        if revised and table.value_column:
            con.execute(
                "CREATE TABLE IF NOT EXISTS raw_meta.revision_log (table_name VARCHAR, "
                "series_id VARCHAR, date DATE, old_value DOUBLE, new_value DOUBLE, "
                "revised_at TIMESTAMP)"
            )
            con.execute(
                f"INSERT INTO raw_meta.revision_log SELECT '{table.qualified}', "
                f'b."{table.series_column}", b."{table.date_column}", t."{table.value_column}", '
                f'b."{table.value_column}", b._loaded_at FROM cw_cmp b '
                f"JOIN {table.qualified} t ON {key_match} WHERE b._status = 'revised'"
            )
        cols = ", ".join(f'"{n}"' for n, _ in table.all_columns)
        con.execute(
            f"INSERT OR REPLACE INTO {table.qualified} ({cols}) "
            f"SELECT {cols} FROM cw_cmp WHERE _status <> 'same'"
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("cw_batch")
    return UpsertStats(len(incoming), new, revised, same)


def replace_all(
    con: duckdb.DuckDBPyConnection, table: RawTable, frame: pd.DataFrame, source_mode: str
) -> int:
    """Replace a small reference table (the catalog) in one transaction."""
    incoming = frame[table.names].copy()
    incoming["source_mode"] = source_mode
    incoming["_loaded_at"] = datetime.now(UTC).replace(tzinfo=None)
    con.register("cw_ref", incoming)
    try:
        con.execute("BEGIN TRANSACTION")
        # A warehouse made before a column was added to the reference table gains it here.
        for name, ddl in table.all_columns:
            con.execute(f'ALTER TABLE {table.qualified} ADD COLUMN IF NOT EXISTS "{name}" {ddl}')
        con.execute(f"DELETE FROM {table.qualified}")
        con.execute(f"INSERT INTO {table.qualified} BY NAME SELECT * FROM cw_ref")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("cw_ref")
    return len(incoming)


def guard_source_mode(con: duckdb.DuckDBPyConnection, source_mode: str) -> None:
    """Refuse to mix synthetic sample rows with real data in one warehouse."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS raw_meta.warehouse_info "
        "(key VARCHAR PRIMARY KEY, value VARCHAR)"
    )
    row = con.execute(
        "SELECT value FROM raw_meta.warehouse_info WHERE key = 'data_kind'"
    ).fetchone()
    kind = "synthetic" if source_mode == "sample" else "real"
    if row is None:
        con.execute("INSERT INTO raw_meta.warehouse_info VALUES ('data_kind', ?)", [kind])
    elif row[0] != kind:
        raise CrosswindError(
            f"this warehouse holds {row[0]} data and CROSSWIND_SOURCE={source_mode} would add "
            f"{kind} data; point CROSSWIND_WAREHOUSE_DIR at another folder"
        )
