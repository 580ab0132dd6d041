"""The serving copy: what BI tools open, published atomically from the build warehouse.

DuckDB allows one writer per file and a reader blocks a writer, so BI tools never open the build
file (`crosswind.duckdb`). After the marts and every check upstream of them passed, `publish()`:

1. takes the build file's write lock (no ingestion or dbt write runs meanwhile) and attaches the
   build file READ_ONLY to an in-memory DuckDB;
2. attaches a new temporary file `.serving.duckdb.tmp-<pid>` with `STORAGE_VERSION 'v1.0.0'`
   (readable by every DuckDB 1.x driver, from 1.0.0 on), copies every table of schema `marts`,
   adds the `bi` convenience views and the `meta` publish tables, CHECKPOINTs and detaches;
3. verifies the copy (row counts equal the build file's), writes one Parquet file per mart into a
   temporary folder, fsyncs, then `os.replace`s the new file onto `serving.duckdb` and each
   Parquet file onto `exports/<mart>.parquet`.

`os.replace` is atomic on POSIX: a BI reader that opened `serving.duckdb` before the rename keeps
its file descriptor on the old inode and sees the old state to the end of its session; a reader
opening after it sees the new state. Nobody sees a half-built file, and the publisher never waits
for readers. If anything fails before the rename, the temporary files are removed and the
published copy and exports are left exactly as they were.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.lib.errors import CrosswindError
from orchestration.lib.warehouse import write_lock

log = logging.getLogger("crosswind.serving")

SERVING_FILE = "serving.duckdb"
EXPORTS_DIR = "exports"
MARTS_SCHEMA = "marts"
# Files written with this storage version open in DuckDB 1.0.0 and every later 1.x release
# (the DuckDB CLI, the Python/R/Node/JDBC/ODBC drivers, Metabase's and Evidence's DuckDB
# connectors). DuckDB 1.5 still writes it on request; verified by tests/serving.
STORAGE_VERSION = "v1.0.0"


class ServingError(CrosswindError):
    """The serving copy could not be published; the previous copy is unchanged."""


# Views BI dashboards start from. Each is created only when the marts it reads exist, so a mart
# that is not built yet (or renamed) drops its view instead of failing the publish.
BI_VIEWS: dict[str, str] = {
    # The newest row often lacks inputs not yet published (e.g. TGA is out, H.4.1 is not), so
    # the KPI row is the newest one with net liquidity, stress score and S&P 500 all present.
    "dashboard_latest": """
        SELECT * FROM marts.mart_market_dashboard_daily
        WHERE date = (
            SELECT coalesce(max(date) FILTER (WHERE net_liquidity_bn IS NOT NULL
                AND stress_score IS NOT NULL AND sp500_close IS NOT NULL), max(date))
            FROM marts.mart_market_dashboard_daily)""",
    "dashboard_last_365d": """
        SELECT * FROM marts.mart_market_dashboard_daily
        WHERE date > (SELECT max(date) FROM marts.mart_market_dashboard_daily)
                     - INTERVAL 365 DAY""",
    "net_liquidity_vs_sp500": """
        SELECT n.date, n.net_liquidity_bn, n.net_liquidity_change_4w_bn, n.net_liquidity_z_1y,
               r.close AS sp500_close, r.return_1d AS sp500_return_1d
        FROM marts.fct_net_liquidity_daily n
        JOIN marts.fct_asset_returns_daily r ON r.date = n.date AND r.asset = 'sp500'""",
    "stress_regime_daily": """
        SELECT date, stress_score, regime, pillars_available, pillar_net_liquidity_z,
               pillar_sofr_iorb_z, pillar_move_z, pillar_yen_carry_z, pillar_hy_oas_z
        FROM marts.fct_liquidity_pillars_daily""",
    "correlation_matrix_latest": """
        WITH latest AS (
            SELECT window_days, max(date) AS date FROM marts.fct_cross_asset_correlation_daily
            GROUP BY window_days)
        SELECT c.date, c.window_days, c.asset_a AS row_asset, c.asset_b AS col_asset, c.correlation
        FROM marts.fct_cross_asset_correlation_daily c JOIN latest USING (window_days, date)
        UNION ALL
        SELECT c.date, c.window_days, c.asset_b, c.asset_a, c.correlation
        FROM marts.fct_cross_asset_correlation_daily c JOIN latest USING (window_days, date)""",
    "selloff_days": """
        SELECT date, equity_return_1d, share_assets_down, n_assets_down, n_assets_tracked,
               n_havens_losing, avg_pairwise_correlation_20d, is_synchronized_selloff,
               is_hedge_failure
        FROM marts.fct_cross_asset_regime_daily
        WHERE is_synchronized_selloff OR is_hedge_failure""",
    "margin_changes_recent": """
        SELECT product, effective_date, direction, pct_change, previous_margin, new_margin,
               margin_unit, fwd_return_1d, fwd_return_5d, fwd_return_20d, fwd_return_60d,
               max_drawdown_20d
        FROM marts.fct_margin_events
        WHERE effective_date > (SELECT max(effective_date) FROM marts.fct_margin_events)
              - INTERVAL 730 DAY""",
}


@dataclass(frozen=True)
class PublishResult:
    path: Path
    exports_dir: Path
    tables: dict[str, int]
    views: list[str]
    skipped_views: dict[str, str]
    bytes: int
    export_bytes: dict[str, int]
    seconds: float
    published_at: str
    storage_version: str = STORAGE_VERSION
    info: dict[str, str] = field(default_factory=dict)


def serving_path(warehouse_dir: Path) -> Path:
    return warehouse_dir / SERVING_FILE


def exports_path(warehouse_dir: Path) -> Path:
    return warehouse_dir / EXPORTS_DIR


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mart_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
        "ORDER BY table_name",
        [catalog, MARTS_SCHEMA],
    ).fetchall()
    return [r[0] for r in rows]


def _remove_stale_temps(folder: Path, prefix: str) -> None:
    """Temp files left by a publisher that was killed (its pid no longer runs) are garbage."""
    for path in folder.glob(prefix + "*"):
        pid = path.name.rsplit("-", 1)[-1].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
            log.info("removing %s left by a stopped publisher", path)
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def publish(
    build_path: Path,
    warehouse_dir: Path | None = None,
    *,
    info: Mapping[str, str] | None = None,
    take_lock: bool = True,
) -> PublishResult:
    """Build a new serving copy + Parquet exports from the build file and swap them into place.

    Raises ServingError (leaving the published copy untouched) when the build file has no marts.
    """
    started = time.perf_counter()
    warehouse_dir = warehouse_dir or build_path.parent
    target = serving_path(warehouse_dir)
    exports = exports_path(warehouse_dir)
    if not build_path.exists():
        raise ServingError(f"no build warehouse at {build_path}; run the refresh first")
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(warehouse_dir, f".{SERVING_FILE}.tmp-")
    if exports.exists():
        _remove_stale_temps(exports, ".tmp-")
    pid = os.getpid()
    tmp = warehouse_dir / f".{SERVING_FILE}.tmp-{pid}"
    tmp_exports = exports / f".tmp-{pid}"
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    published_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lock = write_lock(build_path) if take_lock else nullcontext()
    try:
        with lock:
            tables, views, skipped = _build_copy(build_path, tmp, published_at, info or {})
            export_bytes = _export_parquet(tmp, tmp_exports, tables)
            _fsync(tmp)
            # A .wal beside serving.duckdb could only come from a tool that opened the copy
            # read-write; it belongs to the old file and must not be replayed onto the new one.
            target.with_name(target.name + ".wal").unlink(missing_ok=True)
            os.replace(tmp, target)
            for name in tables:
                os.replace(tmp_exports / f"{name}.parquet", exports / f"{name}.parquet")
            for old in exports.glob("*.parquet"):
                if old.stem not in tables:
                    old.unlink()
            _write_json_atomic(
                exports / "_manifest.json",
                {
                    "published_at": published_at,
                    "serving_copy": str(target),
                    "tables": {n: {"rows": r, "file": f"{n}.parquet"} for n, r in tables.items()},
                },
            )
            _fsync(warehouse_dir)
            _fsync(exports)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        shutil.rmtree(tmp_exports, ignore_errors=True)
    return PublishResult(
        path=target,
        exports_dir=exports,
        tables=tables,
        views=views,
        skipped_views=skipped,
        bytes=target.stat().st_size,
        export_bytes=export_bytes,
        seconds=round(time.perf_counter() - started, 3),
        published_at=published_at,
        info=dict(info or {}),
    )


def _build_copy(
    build_path: Path, tmp: Path, published_at: str, info: Mapping[str, str]
) -> tuple[dict[str, int], list[str], dict[str, str]]:
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {_sql_str(str(build_path))} AS build (READ_ONLY)")
        names = _mart_tables(con, "build")
        if not names:
            raise ServingError(
                f"{build_path} has no tables in schema {MARTS_SCHEMA}; build the dbt marts first"
            )
        con.execute(
            f"ATTACH {_sql_str(str(tmp))} AS serving (STORAGE_VERSION {_sql_str(STORAGE_VERSION)})"
        )
        con.execute("USE serving")
        con.execute(f"CREATE SCHEMA {MARTS_SCHEMA}")
        tables: dict[str, int] = {}
        for name in names:
            con.execute(
                f"CREATE TABLE {MARTS_SCHEMA}.{_q(name)} AS "
                f"SELECT * FROM build.{MARTS_SCHEMA}.{_q(name)}"
            )
            copied = con.execute(f"SELECT count(*) FROM {MARTS_SCHEMA}.{_q(name)}").fetchone()[0]
            source = con.execute(
                f"SELECT count(*) FROM build.{MARTS_SCHEMA}.{_q(name)}"
            ).fetchone()[0]
            if copied != source:
                raise ServingError(f"copy of {name} has {copied} rows, build has {source}")
            tables[name] = copied
        con.execute("CREATE SCHEMA bi")
        views: list[str] = []
        skipped: dict[str, str] = {}
        for view, sql in BI_VIEWS.items():
            try:
                con.execute(f"CREATE VIEW bi.{view} AS {sql}")
                views.append(view)
            except duckdb.Error as exc:  # a mart or column it needs is missing
                skipped[view] = str(exc).splitlines()[0][:200]
        con.execute("CREATE SCHEMA meta")
        meta = {
            "published_at": published_at,
            "storage_version": STORAGE_VERSION,
            "written_by_duckdb": duckdb.__version__,
            "build_file": str(build_path),
            **{k: str(v) for k, v in info.items()},
        }
        # No PRIMARY KEY / UNIQUE anywhere in the copy: DuckDB 1.5 serializes index metadata
        # that DuckDB 1.0 cannot read even with STORAGE_VERSION 'v1.0.0' (found by opening a
        # copy with duckdb==1.0.0). CREATE TABLE AS copies no constraints from the marts.
        con.execute("CREATE TABLE meta.publish_info (key VARCHAR, value VARCHAR)")
        con.executemany("INSERT INTO meta.publish_info VALUES (?, ?)", list(meta.items()))
        con.execute(
            "CREATE TABLE meta.tables (table_name VARCHAR, row_count BIGINT, parquet_file VARCHAR)"
        )
        con.executemany(
            "INSERT INTO meta.tables VALUES (?, ?, ?)",
            [(n, r, f"{EXPORTS_DIR}/{n}.parquet") for n, r in tables.items()],
        )
        con.execute("CHECKPOINT serving")
        con.execute("USE memory")
        con.execute("DETACH serving")
        con.execute("DETACH build")
    finally:
        con.close()
    if tmp.with_name(tmp.name + ".wal").exists():
        raise ServingError(f"{tmp} still has a write-ahead log after CHECKPOINT")
    return tables, views, skipped


def _export_parquet(serving_file: Path, folder: Path, tables: Iterable[str]) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}
    con = duckdb.connect(str(serving_file), read_only=True)
    try:
        for name in tables:
            out = folder / f"{name}.parquet"
            con.execute(
                f"COPY {MARTS_SCHEMA}.{_q(name)} TO {_sql_str(str(out))} "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
            _fsync(out)
            sizes[name] = out.stat().st_size
    finally:
        con.close()
    return sizes


def _write_json_atomic(path: Path, payload: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    _fsync(tmp)
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file so readers see the old or the new content, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --- the gate ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedCheck:
    asset: str
    check: str
    run_id: str
    description: str

    def __str__(self) -> str:
        text = f"{self.asset} :: {self.check} (run {self.run_id[:8]})"
        return f"{text}: {self.description}" if self.description else text


def failed_blocking_checks(instance, check_keys: Iterable) -> list[FailedCheck]:
    """The checks whose latest *completed* evaluation failed with ERROR severity.

    Dagster already skips the serving step when an upstream step fails in the same run; this
    is the second lock on the door for runs that select the serving asset alone (from the UI)
    after an earlier run's dbt test or raw check failed: the marts on disk are then not the
    verified ones, so nothing is published until the failing check passes again.
    """
    from dagster import AssetCheckSeverity
    from dagster._core.storage.asset_check_execution_record import (
        COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES,
    )

    keys = list(check_keys)
    if not keys:
        return []
    storage = instance.event_log_storage
    latest = storage.get_latest_asset_check_execution_by_key(keys)
    failed: list[FailedCheck] = []
    for key in keys:
        record = latest.get(key)
        if record is not None and record.status not in (
            COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES
        ):
            history = storage.get_asset_check_execution_history(
                key, limit=1, status=COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES
            )
            record = history[0] if history else None
        if record is None or record.event is None or record.event.dagster_event is None:
            continue
        evaluation = record.event.dagster_event.event_specific_data
        if getattr(evaluation, "passed", True):
            continue
        if getattr(evaluation, "severity", AssetCheckSeverity.ERROR) != AssetCheckSeverity.ERROR:
            continue
        description = getattr(evaluation, "description", None) or ""
        failed.append(
            FailedCheck(key.asset_key.to_user_string(), key.name, record.run_id, description)
        )
    return failed


def check_keys_from_latest_runs(instance, asset_keys: Iterable) -> set:
    """Check keys evaluated in the runs that last materialized `asset_keys`.

    A run that selects only the serving asset sees its upstream assets without their checks in
    the job's asset graph, so the checks are also discovered from the event log: the dbt run that
    last built a mart also evaluated that mart's tests.
    """
    from dagster import DagsterEventType

    keys = list(asset_keys)
    wanted = set(keys)
    latest = instance.get_latest_materialization_events(keys)
    run_ids = {entry.run_id for entry in latest.values() if entry is not None}
    found = set()
    for run_id in run_ids:
        for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data if entry.dagster_event else None
            if evaluation is not None and evaluation.asset_key in wanted:
                found.add(evaluation.asset_check_key)
    return found


def file_digest(path: Path) -> str:
    """sha256 of a file (tests and the operating guide use it to show a copy is unchanged)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
