"""The build warehouse: one writer at a time, DDL from raw_tables, idempotent upserts.

DuckDB allows one writing process per file. Every write goes through `writer()`, which takes an
exclusive file lock beside the database first, so two crosswind processes queue instead of
failing half-way, and a BI tool holding the build file gets a clear error instead of a hang.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.lib.errors import CrosswindError, WarehouseBusy, WarehouseUnwritable
from orchestration.lib.raw_tables import ALL_TABLES, RawTable

log = logging.getLogger("crosswind.warehouse")

LOCK_TIMEOUT_S = float(os.environ.get("CROSSWIND_LOCK_TIMEOUT", "600"))
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
_NO_SPACE_TEXT = ("No space left on device", "Disk quota exceeded", "database or disk is full")
_READ_ONLY_TEXT = ("Read-only file system", "Permission denied")


@contextmanager
def write_lock(warehouse_path: Path, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the warehouse's exclusive write lock; wait up to `timeout_s`, then refuse clearly.

    A holder that is not the process that took the lock (a child that inherited it, left
    running after its parent was killed) is refused at once: waiting would not end. A full
    disk or a read-only folder met while the lock is held is reported in one line.
    """
    folder = warehouse_path.parent
    lock_path = warehouse_path.with_name(warehouse_path.name + ".lock")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+")  # closed in the finally below
    except OSError as exc:
        clear = _unwritable(exc, folder)
        if clear is None:
            raise
        raise clear from clear.__cause__
    try:
        _acquire(handle, lock_path, timeout_s)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}")
            handle.flush()
        except OSError as exc:
            fcntl.flock(handle, fcntl.LOCK_UN)
            clear = _unwritable(exc, folder)
            if clear is None:
                raise
            raise clear from clear.__cause__
        try:
            yield
        except Exception as exc:
            clear = _unwritable(exc, folder)
            if clear is None:
                raise
            raise clear from clear.__cause__
        finally:
            try:
                handle.seek(0)
                handle.truncate()
            except OSError:  # a full disk cannot stop the unlock; a stale note names a dead pid
                pass
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def _acquire(handle, lock_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    announced, dead_polls = False, 0
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        handle.seek(0)
        note = handle.read().strip()  # "pid N since T", written by the process that took it
        owner = _note_pid(note)
        # A new holder writes its note just after taking the lock: a dead pid that is still
        # named a few polls later means the lock went to a process that never wrote one.
        dead_polls = dead_polls + 1 if owner is not None and not process_alive(owner) else 0
        if dead_polls >= 3:
            others = [pid for pid in lock_holders(lock_path) if pid != os.getpid()]
            holders = ", ".join(_describe(pid) for pid in others) or "an unknown process"
            raise WarehouseBusy(
                f"[warehouse] {lock_path} is still held by {holders} although pid {owner}, "
                "which took it, is gone (a leftover of a killed run?): stop that process and "
                "rerun (no data was changed)"
            )
        if not announced and timeout_s > 0:
            log.warning("waiting for the warehouse write lock (%s)", note)
            announced = True
        if time.monotonic() >= deadline and not dead_polls:
            who = f" ({_describe(owner)}, {note.split(' since ')[-1]})" if owner else ""
            raise WarehouseBusy(
                f"another crosswind process has held {lock_path} for over {timeout_s:.0f}s"
                f"{who}; wait for it to finish or stop it (no data was changed)"
            )
        time.sleep(0.2)


def _note_pid(note: str) -> int | None:
    parts = note.split()
    return int(parts[1]) if len(parts) > 1 and parts[0] == "pid" and parts[1].isdigit() else None


def process_alive(pid: int, since: float | None = None) -> bool:
    """Whether `pid` runs and, where /proc tells, started no later than `since` (epoch s): a
    younger process merely reused the pid of the one we are asking about."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True  # no /proc (macOS): existence is all we know
    if fields[0] == "Z":
        return False  # killed, not yet reaped
    if since is not None:
        try:
            boot = next(
                float(line.split()[1])
                for line in Path("/proc/stat").read_text().splitlines()
                if line.startswith("btime ")
            )
        except (OSError, StopIteration):
            return True
        if boot + int(fields[19]) / os.sysconf("SC_CLK_TCK") > since + 2:
            return False
    return True


def _describe(pid: int) -> str:
    try:
        cmd = (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return f"pid {pid}"
    cmd = " ".join(cmd.split())
    return f"pid {pid} ({cmd[:80]}{'...' if len(cmd) > 80 else ''})" if cmd else f"pid {pid}"


def lock_holders(path: Path) -> list[int]:
    """Processes with `path` open (Linux /proc; empty where it cannot be read)."""
    target = os.path.realpath(path)
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if any(os.readlink(fd) == target for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
        except OSError:
            continue
    return sorted(found)


def _unwritable(exc: BaseException, folder: Path) -> CrosswindError | None:
    """One line for a full disk or a read-only folder found anywhere in `exc`'s chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    kind = found = None
    while current is not None and id(current) not in seen and kind is None:
        seen.add(id(current))
        found = current  # the error that says so: shown as the cause, not a later one
        code = getattr(current, "errno", None)
        name = getattr(current, "filename", None)
        text = str(current)
        # Only failures in this folder: dbt's target/ or DAGSTER_HOME may live elsewhere.
        here = str(folder) in text if name is None else str(name).startswith(str(folder))
        if here and (code in NO_SPACE or any(t in text for t in _NO_SPACE_TEXT)):
            kind = "full"
        elif here and (code in READ_ONLY or any(t in text for t in _READ_ONLY_TEXT)):
            kind = "read-only"
        current = current.__cause__ or current.__context__
    if kind == "full":
        try:
            free = f"{shutil.disk_usage(folder).free / 1e6:,.1f} MB free"
        except OSError:
            free = "free space unknown"
        clear = WarehouseUnwritable(
            f"[warehouse] no space left on device in {folder} ({free}): the write stopped, its "
            "transaction was rolled back and the serving copy is unchanged; free space and rerun"
        )
    elif kind == "read-only":
        clear = WarehouseUnwritable(
            f"[warehouse] cannot write in {folder}: read-only (file system or permissions); "
            "nothing was changed. Make it writable or point CROSSWIND_WAREHOUSE_DIR elsewhere"
        )
    else:
        return None
    clear.__cause__ = found
    return clear


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        clear = _unwritable(exc, path.parent)
        if clear is not None:
            raise clear from clear.__cause__
        # DuckDB's lock message names the holding PID: say which program that is.
        holder = re.search(r"\(PID (\d+)\)", str(exc))
        who = f"it is open in {_describe(int(holder.group(1)))}" if holder else str(exc)
        raise WarehouseBusy(
            f"cannot open {path}: {who}. Close tools that hold the build file; "
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
