"""The build warehouse: one writer at a time, DDL from raw_tables, idempotent upserts.

DuckDB allows one writing process per file. Every write goes through `writer()`, which takes an
exclusive file lock beside the database first, so two crosswind processes queue instead of
failing half-way, and a BI tool holding the build file gets a clear error instead of a hang.

On DuckLake (`CROSSWIND_WAREHOUSE_BACKEND=ducklake`, orchestration/lib/lake.py) the same calls
open the lake instead. With a PostgreSQL catalog several processes write at once: no file lock;
DuckLake retries commits that do not conflict, and the shared bookkeeping below retries the
ones that do. A local DuckDB catalog file takes one process at a time, so it keeps the lock.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd

from orchestration.lib import clock, lake
from orchestration.lib.errors import CrosswindError, WarehouseBusy, WarehouseUnwritable
from orchestration.lib.raw_tables import ALL_TABLES, HISTORY_SUFFIX, SOURCE_TABLES, RawTable
from orchestration.lib.settings import Warehouse, lock_timeout_s

log = logging.getLogger("crosswind.warehouse")

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
_NO_SPACE_TEXT = ("No space left on device", "Disk quota exceeded", "database or disk is full")
_READ_ONLY_TEXT = ("Read-only file system", "Permission denied")


@contextmanager
def write_lock(warehouse_path: Path, timeout_s: float | None = None) -> Iterator[None]:
    """Hold the warehouse's exclusive write lock; wait up to `timeout_s` (default: the setting
    CROSSWIND_LOCK_TIMEOUT, read now), then refuse clearly.

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
        _raise_if_unwritable(exc, folder)
        raise
    try:
        _acquire(handle, lock_path, lock_timeout_s() if timeout_s is None else timeout_s)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}")
            handle.flush()
        except OSError as exc:
            fcntl.flock(handle, fcntl.LOCK_UN)
            _raise_if_unwritable(exc, folder)
            raise
        try:
            yield
        except Exception as exc:
            _raise_if_unwritable(exc, folder)
            raise
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


def _raise_if_unwritable(exc: BaseException, folder: Path) -> None:
    """Raise the one-line error when `exc` is a full disk or a read-only `folder`."""
    clear = _unwritable(exc, folder)
    if clear is not None:
        raise clear from clear.__cause__


def _target(where: Warehouse | Path) -> Warehouse:
    """A bare path is a DuckDB build file (the default backend)."""
    return where if isinstance(where, Warehouse) else Warehouse("duckdb", Path(where))


def exists(where: Warehouse | Path) -> bool:
    """Whether anything was ever written (a PostgreSQL catalog is asked when opened)."""
    target = _target(where)
    if not target.is_lake:
        return target.path.exists()
    return target.postgres_catalog or Path(target.catalog or "").exists()


def lock_for(where: Warehouse | Path, timeout_s: float | None = None):
    """The local write lock a writer of `where` takes; none where several writers are allowed."""
    target = _target(where)
    return nullcontext() if target.concurrent_writers else write_lock(target.path, timeout_s)


def connect(where: Warehouse | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    target = _target(where)
    if target.is_lake:
        return lake.connect(target, read_only=read_only)
    path = target.path
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        _raise_if_unwritable(exc, path.parent)
        # DuckDB's lock message names the holding PID: say which program that is.
        holder = re.search(r"\(PID (\d+)\)", str(exc))
        who = f"it is open in {_describe(int(holder.group(1)))}" if holder else str(exc)
        raise WarehouseBusy(
            f"cannot open {path}: {who}. Close tools that hold the build file; "
            "BI tools should read warehouse/serving.duckdb instead"
        ) from None


@contextmanager
def writer(where: Warehouse | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection that may write: a DuckDB file (or a DuckLake) under the local write lock, a
    DuckLake on PostgreSQL without it. A bare path is a DuckDB file."""
    with lock_for(where):
        con = connect(where)
        try:
            ensure_tables(con)
            yield con
        except duckdb.TransactionException as exc:
            if not is_conflict(exc):
                raise
            detail = str(exc).strip().splitlines()[-1]
            raise WarehouseBusy(
                "[ducklake] another process committed a conflicting change to the same table at "
                f"the same moment ({detail}); this write was rolled back, nothing of it was kept: "
                "rerun"
            ) from None
        finally:
            con.close()


@contextmanager
def reader(where: Warehouse | Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A short read of the build warehouse, or None when it does not exist yet."""
    if not exists(where):
        yield None
        return
    target = _target(where)
    # A DuckLake on PostgreSQL is opened read-write: a first run creates its catalog tables, and
    # a reader there blocks nobody.
    with lock_for(target):
        con = connect(target, read_only=not target.concurrent_writers)
        try:
            yield con
        finally:
            con.close()


def is_lake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether `con`'s default catalog is a DuckLake (no PRIMARY KEY, no RETURNING there)."""
    row = con.execute(
        "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return row is not None and row[0] == "ducklake"


def portable_ddl(con: duckdb.DuckDBPyConnection, statement: str) -> str:
    """`statement` for `con`'s warehouse: on DuckLake, which has no PRIMARY KEY, UNIQUE or CHECK
    constraints, without them (the writers keep keys unique with delete-then-insert)."""
    if not is_lake(con):
        return statement
    out, i = [], 0
    while i < len(statement):
        match = re.compile(r",?\s*\b(PRIMARY KEY|UNIQUE|CHECK)\b\s*", re.I).match(statement, i)
        if match is None:
            out.append(statement[i])
            i += 1
            continue
        i = match.end()
        if i < len(statement) and statement[i] == "(":  # skip the balanced parenthesis
            depth = 0
            while i < len(statement):
                depth += {"(": 1, ")": -1}.get(statement[i], 0)
                i += 1
                if depth == 0:
                    break
        if not match.group(0).startswith(","):
            out.append(" ")
    return re.sub(r"[ \t]+([,)\n])", r"\1", "".join(out))


def upsert_row(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key: dict[str, object],
    values: list,
    on_conflict: str,
) -> None:
    """Insert one row of `table`, replacing the row with the same `key`: `on_conflict` (an
    `ON CONFLICT ... DO UPDATE` clause) on a DuckDB file, delete-then-insert on DuckLake."""
    marks = ", ".join("?" for _ in values)
    if not is_lake(con):
        con.execute(f"INSERT INTO {table} VALUES ({marks}) {on_conflict}", values)
        return
    where = " AND ".join(f'"{k}" = ?' for k in key)
    con.execute(f"DELETE FROM {table} WHERE {where}", list(key.values()))
    con.execute(f"INSERT INTO {table} VALUES ({marks})", values)


def _primary_key(con: duckdb.DuckDBPyConnection, columns) -> str:
    """`, PRIMARY KEY (...)` on a DuckDB file; DuckLake has no key constraints (the upsert and
    the unique-key checks keep keys unique there)."""
    if is_lake(con):
        return ""
    return ", PRIMARY KEY (" + ", ".join(f'"{c}"' for c in columns) + ")"


CONFLICT_RETRIES = 8


def is_conflict(exc: BaseException) -> bool:
    """A DuckLake commit that lost to another writer's conflicting change (safe to rerun)."""
    return isinstance(exc, duckdb.TransactionException) and "conflict" in str(exc).lower()


T = TypeVar("T")


def retry_conflicts(con: duckdb.DuckDBPyConnection, work: Callable[[], T]) -> T:
    """Run `work` (one transaction, idempotent) again when a concurrent DuckLake writer won a
    conflicting commit: the rerun reads the winner's rows. A DuckDB file never conflicts."""
    for attempt in range(CONFLICT_RETRIES):
        try:
            return work()
        except duckdb.TransactionException as exc:
            if not is_conflict(exc) or attempt == CONFLICT_RETRIES - 1:
                raise
            log.info("concurrent DuckLake commit, retrying (%s)", str(exc).splitlines()[-1])
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    lake_con = is_lake(con)

    def create() -> None:
        for table in ALL_TABLES:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.schema}")
            cols = ", ".join(f'"{name}" {ddl}' for name, ddl in table.all_columns)
            key = _primary_key(con, table.key)
            con.execute(f"CREATE TABLE IF NOT EXISTS {table.qualified} ({cols}{key})")
        if lake_con:  # shared bookkeeping made up front: concurrent first creates would conflict
            ensure_revision_log(con)
            _ensure_flagged_periods(con)
            _ensure_ingest_state(con)
            _ensure_warehouse_info(con)

    def create_in_one_transaction() -> None:
        with _transaction(con):
            create()

    if lake_con:
        retry_conflicts(con, create_in_one_transaction)
    else:
        create()
    present = {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND table_name LIKE ?",
            [f"%{HISTORY_SUFFIX}"],
        ).fetchall()
    }
    for table in SOURCE_TABLES.values():
        if table.history not in present:
            # create_history skips a table a concurrent DuckLake writer made meanwhile
            retry_conflicts(con, lambda table=table: create_history(con, table))


def create_history(con: duckdb.DuckDBPyConnection, table: RawTable) -> int:
    """Create `table`'s history table and fill it from raw_meta.revision_log: one transaction.

    A warehouse from before the history tables logged only each replaced *value* and when it
    was replaced. Each logged version becomes a history row: its value, the current row's other
    columns (units) where the row still exists, `realtime_start` unknown (NULL). When it was
    first loaded was never recorded: it is taken as the key's previous logged change, else the
    table's first recorded load, so an as-of build may show an old value slightly earlier than
    crosswind loaded it, but never a revised value before crosswind loaded that. Returns rows.
    """
    cols = ", ".join(f'"{name}" {ddl}' for name, ddl in table.history_columns)
    with _transaction(con):
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ?",
            [table.schema, table.history.split(".", 1)[1]],
        ).fetchone()[0]
        if exists:  # made by an earlier run (or, on DuckLake, a concurrent writer)
            return 0
        con.execute(f"CREATE TABLE {table.history} ({cols})")
        logged = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'raw_meta' AND table_name = 'revision_log'"
        ).fetchone()[0]
        if not logged or table.value_column is None:
            return 0
        ensure_revision_log(con)  # adds `change` to a log older than deletions
        key_match = f'c."{table.series_column}" = l.series_id AND c."{table.date_column}" = l.date'
        values = []
        for name, _ in table.all_columns:
            if name == table.series_column:
                values.append("l.series_id")
            elif name == table.date_column:
                values.append("l.date")
            elif name == table.value_column:
                values.append("l.old_value")
            elif name == "_loaded_at":
                values.append(
                    "coalesce(lag(l.revised_at) OVER (PARTITION BY l.series_id, l.date "
                    "ORDER BY l.revised_at), first_load.at)"
                )
            elif name == "realtime_start":
                values.append("NULL")
            else:
                values.append(f'c."{name}"')
        names = ", ".join(f'"{name}"' for name, _ in table.history_columns)
        rows = con.execute(
            f"INSERT INTO {table.history} ({names}) "
            f"SELECT {', '.join(values)}, l.revised_at, coalesce(l.change, 'revised') "
            f"FROM {REVISION_LOG} l LEFT JOIN {table.qualified} c ON {key_match} "
            f"CROSS JOIN (SELECT least((SELECT min(_loaded_at) FROM {table.qualified}), "
            f"(SELECT min(revised_at) FROM {REVISION_LOG} WHERE table_name = $name)) AS at) "
            "AS first_load WHERE l.table_name = $name",
            {"name": table.qualified},
        ).fetchone()[0]
    if rows:
        log.info("%s: %d logged revisions kept as history rows", table.history, rows)
    return rows


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


def newest_date(con: duckdb.DuckDBPyConnection, not_after: date) -> date:
    """The newest observation in any source table, at most `not_after` (its fallback)."""
    parts = " UNION ALL ".join(
        f'SELECT max("{t.date_column}") AS d FROM {t.qualified} WHERE "{t.date_column}" <= $day'
        for t in SOURCE_TABLES.values()
    )
    newest = con.execute(f"SELECT max(d) FROM ({parts})", {"day": not_after}).fetchone()[0]
    return newest or not_after


@dataclass(frozen=True)
class UpsertStats:
    rows_in_batch: int
    new_rows: int
    revised_rows: int
    unchanged_rows: int
    deleted_rows: int = 0
    vintage_rows: int = 0  # FRED vintages added to the history (see `upsert`)


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection, **frames: pd.DataFrame) -> Iterator[None]:
    """One transaction with `frames` registered as views by name; rolled back on any error."""
    for name, frame in frames.items():
        con.register(name, frame)
    try:
        con.execute("BEGIN TRANSACTION")
        yield
        con.execute("COMMIT")
    except Exception:
        try:
            con.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass  # a COMMIT that failed (a DuckLake conflict) already ended the transaction
        raise
    finally:
        for name in frames:
            con.unregister(name)


def upsert(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    frame: pd.DataFrame,
    source_mode: str,
    *,
    delete: pd.DataFrame | None = None,
    vintages: pd.DataFrame | None = None,
) -> UpsertStats:
    """Insert new keys, replace changed values, leave identical rows untouched; one transaction.

    Bitemporal: a revised or deleted row moves, as it was, to `table.history` (`_superseded_at`
    = this load, `_change` revised / deleted), so every version crosswind held stays readable
    as of any past time (dbt var `as_of`, `crosswind asof`); the old and new value are also
    logged in raw_meta.revision_log. `delete` (rows with the table's key columns) removes stored
    rows in the same transaction. `vintages` (FRED: the table's columns plus `realtime_end`) are
    versions the source itself replaced: each one not stored yet, by key and `realtime_start`,
    is added to the history (`_change` 'vintage', `_superseded_at` = the day after
    `realtime_end`), so history crosswind never saw is known as it was first published.
    """
    names = table.names
    dupes = frame.duplicated(list(table.key), keep=False)
    if dupes.any():
        sample = frame.loc[dupes, list(table.key)].head(3).to_dict("records")
        raise CrosswindError(f"{table.qualified}: batch repeats keys {sample}; nothing written")
    loaded_at = _now()
    incoming = frame[names].copy()
    incoming["source_mode"] = source_mode
    incoming["_loaded_at"] = loaded_at
    key_match = " AND ".join(f't."{k}" = b."{k}"' for k in table.key)
    compared = [n for n in names if n not in table.key]
    changed = " OR ".join(f't."{c}" IS DISTINCT FROM b."{c}"' for c in compared)
    doomed = (delete if delete is not None else pd.DataFrame(columns=list(table.key)))[
        list(table.key)
    ]
    old = _vintage_frame(table, vintages)
    cols = ", ".join(f'"{n}"' for n, _ in table.all_columns)
    with _transaction(con, cw_batch=incoming, cw_delete=doomed, cw_vintages=old):
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
        if (revised or len(doomed)) and table.value_column:
            ensure_revision_log(con)
        if revised:
            if table.value_column:
                con.execute(
                    f"INSERT INTO {REVISION_LOG} SELECT '{table.qualified}', "
                    f'b."{table.series_column}", b."{table.date_column}", '
                    f't."{table.value_column}", b."{table.value_column}", b._loaded_at, '
                    f"'revised' FROM cw_cmp b JOIN {table.qualified} t ON {key_match} "
                    "WHERE b._status = 'revised'"
                )
            _supersede(con, table, "cw_cmp b WHERE b._status = 'revised'", "revised", loaded_at)
        deleted = 0
        if len(doomed):
            if table.value_column:
                con.execute(
                    f"INSERT INTO {REVISION_LOG} SELECT '{table.qualified}', "
                    f'b."{table.series_column}", b."{table.date_column}", '
                    f"b.\"{table.value_column}\", NULL, ?, 'deleted' "
                    f"FROM {table.qualified} b SEMI JOIN cw_delete t ON {key_match}",
                    [loaded_at],
                )
            _supersede(con, table, "cw_delete b WHERE TRUE", "deleted", loaded_at)
            deleted = con.execute(
                f"DELETE FROM {table.qualified} b WHERE EXISTS "
                f"(SELECT 1 FROM cw_delete t WHERE {key_match})"
            ).fetchone()[0]
        # Delete + insert, not INSERT OR REPLACE: DuckLake tables have no primary key to replace on.
        if revised:
            con.execute(
                f"DELETE FROM {table.qualified} t WHERE EXISTS (SELECT 1 FROM cw_cmp b "
                f"WHERE {key_match} AND b._status = 'revised')"
            )
        con.execute(
            f"INSERT INTO {table.qualified} ({cols}) "
            f"SELECT {cols} FROM cw_cmp WHERE _status <> 'same'"
        )
        added = _add_vintages(con, table, source_mode, loaded_at) if len(old) else 0
    return UpsertStats(len(incoming), new, revised, same, deleted, added)


def _supersede(
    con: duckdb.DuckDBPyConnection, table: RawTable, matches: str, change: str, at: datetime
) -> None:
    """Copy the stored rows that `matches` ("<relation> b WHERE <condition>", joined on the key)
    names to the history, superseded `at`: called before they are replaced or deleted."""
    key_match = " AND ".join(f't."{k}" = b."{k}"' for k in table.key)
    stored = ", ".join(f't."{n}"' for n, _ in table.all_columns)
    history_cols = ", ".join(f'"{n}"' for n, _ in table.history_columns)
    con.execute(
        f"INSERT INTO {table.history} ({history_cols}) SELECT {stored}, ?, ? "
        f"FROM {table.qualified} t WHERE EXISTS (SELECT 1 FROM {matches} AND {key_match})",
        [at, change],
    )


VINTAGE_END = "realtime_end"  # the last day a source's vintage was current (FRED's realtime_end)


def _vintage_frame(table: RawTable, vintages: pd.DataFrame | None) -> pd.DataFrame:
    """`vintages` reduced to the table's columns plus `realtime_end`; checked for repeats."""
    columns = [*table.names, VINTAGE_END]
    if vintages is None or vintages.empty:
        return pd.DataFrame(columns=columns)
    if "realtime_start" not in table.names:
        raise CrosswindError(f"{table.qualified} keeps no realtime_start: it takes no vintages")
    version = [*table.key, "realtime_start"]
    dupes = vintages.duplicated(version, keep=False)
    if dupes.any():
        sample = vintages.loc[dupes, version].head(3).to_dict("records")
        raise CrosswindError(f"{table.qualified}: vintages repeat {sample}; nothing written")
    return vintages[columns].reset_index(drop=True)


def _add_vintages(
    con: duckdb.DuckDBPyConnection, table: RawTable, source_mode: str, loaded_at: datetime
) -> int:
    """Add the vintages in view cw_vintages that neither table holds yet (key, realtime_start).

    A vintage that the current table still holds with the same realtime_start is left there:
    the source dropped the row since, which `reconcile` handles (logged as deleted).
    """
    same = " AND ".join(f'h."{k}" = v."{k}"' for k in table.key)
    names = table.names
    history_cols = ", ".join(f'"{n}"' for n, _ in table.history_columns)
    values = ", ".join(
        f'CAST(v."{n}" AS DATE)' if n == "realtime_start" else f'v."{n}"' for n in names
    )
    rows = con.execute(
        f"INSERT INTO {table.history} ({history_cols}) "
        f"SELECT {values}, ?, ?, CAST(v.{VINTAGE_END} AS DATE) + INTERVAL 1 DAY, 'vintage' "
        f"FROM cw_vintages v WHERE NOT EXISTS (SELECT 1 FROM {table.history} h WHERE {same} "
        "AND h.realtime_start IS NOT DISTINCT FROM CAST(v.realtime_start AS DATE)) "
        f"AND NOT EXISTS (SELECT 1 FROM {table.qualified} h WHERE {same} "
        "AND h.realtime_start = CAST(v.realtime_start AS DATE))",
        [source_mode, loaded_at],
    ).fetchone()[0]
    return rows


def _now() -> datetime:
    """The load time stored in `_loaded_at` (naive UTC), from the warehouse's clock."""
    return clock.now().astimezone(UTC).replace(tzinfo=None)


# -- raw_meta bookkeeping: revisions and deletions, flagged periods, full re-reads --------------

REVISION_LOG = "raw_meta.revision_log"
FLAGGED_PERIODS = "raw_meta.flagged_periods"
INGEST_STATE = "raw_meta.ingest_state"


def ensure_revision_log(con: duckdb.DuckDBPyConnection) -> None:
    """Every revised or deleted raw value: old value, new value (NULL when deleted), when."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw_meta")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {REVISION_LOG} (table_name VARCHAR, series_id VARCHAR, "
        "date DATE, old_value DOUBLE, new_value DOUBLE, revised_at TIMESTAMP, change VARCHAR)"
    )
    # Warehouses from before deletions were logged: their rows were all revisions.
    con.execute(
        f"ALTER TABLE {REVISION_LOG} ADD COLUMN IF NOT EXISTS change VARCHAR DEFAULT 'revised'"
    )


def stored_window(
    con: duckdb.DuckDBPyConnection | None, table: RawTable, starts: dict[str, date | None]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows in each series' window, each series' last row with a value before its window).

    `starts` maps a series (or product) to its window start; None = its whole history.
    """
    empty = pd.DataFrame(columns=table.names)
    if con is None or not starts:
        return empty, empty
    # ISO text, cast in SQL: a column of only NULLs would otherwise have no DATE type.
    windows = pd.DataFrame(
        {
            "series": pd.Series(list(starts), dtype="string"),
            "start": pd.Series(
                [d.isoformat() if d else None for d in starts.values()], dtype="string"
            ),
        }
    )
    cols = ", ".join(f't."{n}"' for n in table.names)
    s, d = table.series_column, table.date_column
    value = f' AND t."{table.value_column}" IS NOT NULL' if table.value_column else ""
    con.register("cw_windows", windows)
    try:
        rows = con.execute(
            f'SELECT {cols} FROM {table.qualified} t JOIN cw_windows w ON t."{s}" = w.series '
            f'WHERE w.start IS NULL OR t."{d}" >= CAST(w.start AS DATE)'
        ).df()
        before = con.execute(
            f'SELECT {cols} FROM {table.qualified} t JOIN cw_windows w ON t."{s}" = w.series '
            f'WHERE t."{d}" < CAST(w.start AS DATE){value} '
            f'QUALIFY row_number() OVER (PARTITION BY t."{s}" ORDER BY t."{d}" DESC) = 1'
        ).df()
    except duckdb.CatalogException:
        return empty, empty
    finally:
        con.unregister("cw_windows")
    return rows, before


def series_history(
    con: duckdb.DuckDBPyConnection, table: RawTable, series_ids: list[str]
) -> pd.DataFrame:
    """Every stored row of these series (the table's columns), for checks on whole histories."""
    if not series_ids:
        return pd.DataFrame(columns=table.names)
    cols = ", ".join(f'"{n}"' for n in table.names)
    return con.execute(
        f'SELECT {cols} FROM {table.qualified} WHERE "{table.series_column}" IN '
        f'(SELECT unnest(?::VARCHAR[])) ORDER BY "{table.series_column}", "{table.date_column}"',
        [series_ids],
    ).df()


def replace_flagged_periods(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    kind: str,
    series_ids: list[str],
    periods: list,
    *,
    keep_others: bool = False,
) -> int:
    """Make raw_meta.flagged_periods hold exactly `periods` of `kind` for these series.

    Rows already there are kept as they are (with their first `flagged_at`), so a rerun that
    finds the same periods changes nothing. With `keep_others`, nothing is removed (events such
    as a reported jump stay listed after the step is no longer re-read). Returns rows inserted.
    """
    _ensure_flagged_periods(con)
    found = pd.DataFrame(
        [(p.series_id, p.start, p.end, p.kind, p.detail) for p in periods],
        columns=["series_id", "period_start", "period_end", "kind", "detail"],
    )

    def replace() -> int:  # one transaction; rerun whole when a concurrent writer conflicts
        with _transaction(con, cw_periods=found):
            if not keep_others:
                con.execute(
                    f"DELETE FROM {FLAGGED_PERIODS} f WHERE kind = ? AND table_name = ? "
                    "AND series_id IN (SELECT unnest(?::VARCHAR[])) AND NOT EXISTS (SELECT 1 "
                    "FROM cw_periods p WHERE p.series_id = f.series_id AND p.period_start = "
                    "f.period_start AND p.period_end = f.period_end AND p.detail = f.detail)",
                    [kind, table.qualified, series_ids],
                )
            return con.execute(
                f"INSERT INTO {FLAGGED_PERIODS} SELECT p.series_id, p.period_start, "
                "p.period_end, p.kind, p.detail, ?, ? FROM cw_periods p WHERE NOT EXISTS "
                f"(SELECT 1 FROM {FLAGGED_PERIODS} f WHERE f.series_id = p.series_id AND "
                "f.kind = p.kind AND f.period_start = p.period_start AND "
                "f.period_end = p.period_end)",
                [table.qualified, _now()],
            ).fetchone()[0]

    return retry_conflicts(con, replace)


def _ensure_flagged_periods(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw_meta")
    key = _primary_key(con, ["series_id", "kind", "period_start", "period_end"])
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {FLAGGED_PERIODS} (series_id VARCHAR, period_start DATE, "
        f"period_end DATE, kind VARCHAR, detail VARCHAR, table_name VARCHAR, "
        f"flagged_at TIMESTAMP{key})"
    )


def flagged_periods(con: duckdb.DuckDBPyConnection, table: RawTable, kind: str) -> list[tuple]:
    """(series_id, period_start, period_end, kind, detail) kept for `table`, oldest first."""
    try:
        return con.execute(
            f"SELECT series_id, period_start, period_end, kind, detail FROM {FLAGGED_PERIODS} "
            "WHERE table_name = ? AND kind = ? ORDER BY series_id, period_start",
            [table.qualified, kind],
        ).fetchall()
    # No table yet. DuckDB may say so as an InvalidInputException: its replacement scan then
    # finds this very function, a Python object named like the missing table.
    except (duckdb.CatalogException, duckdb.InvalidInputException):
        return []


def last_full_fetch(con: duckdb.DuckDBPyConnection | None, source: str) -> date | None:
    """The day a source was last read in full (None: never, or no warehouse yet)."""
    if con is None:
        return None
    try:
        row = con.execute(
            f"SELECT last_full_fetch FROM {INGEST_STATE} WHERE source = ?", [source]
        ).fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


def record_full_fetch(con: duckdb.DuckDBPyConnection, source: str, day: date) -> None:
    _ensure_ingest_state(con)

    def record() -> None:  # delete + insert: DuckLake has no key to INSERT OR REPLACE on
        with _transaction(con):
            con.execute(f"DELETE FROM {INGEST_STATE} WHERE source = ?", [source])
            con.execute(f"INSERT INTO {INGEST_STATE} VALUES (?, ?)", [source, day])

    retry_conflicts(con, record)


def _ensure_ingest_state(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw_meta")
    key = _primary_key(con, ["source"])
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {INGEST_STATE} (source VARCHAR, last_full_fetch DATE{key})"
    )


def replace_all(
    con: duckdb.DuckDBPyConnection, table: RawTable, frame: pd.DataFrame, source_mode: str
) -> int:
    """Replace a small reference table (the catalog) in one transaction."""
    incoming = frame[table.names].copy()
    incoming["source_mode"] = source_mode
    incoming["_loaded_at"] = _now()
    with _transaction(con, cw_ref=incoming):
        # A warehouse made before a column was added to the reference table gains it here.
        for name, ddl in table.all_columns:
            con.execute(f'ALTER TABLE {table.qualified} ADD COLUMN IF NOT EXISTS "{name}" {ddl}')
        con.execute(f"DELETE FROM {table.qualified}")
        con.execute(f"INSERT INTO {table.qualified} BY NAME SELECT * FROM cw_ref")
    return len(incoming)


def _ensure_warehouse_info(con: duckdb.DuckDBPyConnection) -> None:
    key = _primary_key(con, ["key"])
    con.execute(
        f"CREATE TABLE IF NOT EXISTS raw_meta.warehouse_info (key VARCHAR, value VARCHAR{key})"
    )


def guard_source_mode(con: duckdb.DuckDBPyConnection, source_mode: str) -> None:
    """Refuse to mix synthetic sample rows with real data in one warehouse."""
    _ensure_warehouse_info(con)
    kind = "synthetic" if source_mode == "sample" else "real"

    def claim() -> str | None:  # the first source to write says what the warehouse holds
        with _transaction(con):
            row = con.execute(
                "SELECT value FROM raw_meta.warehouse_info WHERE key = 'data_kind'"
            ).fetchone()
            if row is None:
                con.execute("INSERT INTO raw_meta.warehouse_info VALUES ('data_kind', ?)", [kind])
        return None if row is None else row[0]

    stored = retry_conflicts(con, claim)
    if stored is not None and stored != kind:
        raise CrosswindError(
            f"this warehouse holds {stored} data and CROSSWIND_SOURCE={source_mode} would add "
            f"{kind} data; point CROSSWIND_WAREHOUSE_DIR at another folder"
        )
