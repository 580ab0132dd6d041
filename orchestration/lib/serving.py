"""The serving set: what BI tools and Parquet readers open, published atomically as one set.

DuckDB allows one writer per file and a reader blocks a writer, so BI tools never open the build
file (`crosswind.duckdb`). After the marts and every check upstream of them passed, `publish()`
writes a complete new set into a folder of its own, then switches one pointer:

    warehouse/publishes/<id>/serving.duckdb           marts + `bi` views + `meta`, storage v1.0.0
    warehouse/publishes/<id>/exports/<mart>.parquet   one file per mart (publish id in its footer)
    warehouse/publishes/<id>/exports/_manifest.json   the set's files and row counts, written last
    warehouse/current -> publishes/<id>               the pointer, replaced by one rename
    warehouse/serving.duckdb -> current/serving.duckdb                stable paths, made once
    warehouse/exports/<mart>.parquet -> ../current/exports/<mart>.parquet
    warehouse/exports/_manifest.json -> ../current/exports/_manifest.json

1. Under the warehouse write lock, what a killed publish left is removed (`clean_leftovers`).
2. The build file is attached READ_ONLY to an in-memory DuckDB (a DuckLake build: its latest
   snapshot, pinned, so one publish copies one version; its id goes in `meta.publish_info`);
   the new `serving.duckdb` is written
   with `STORAGE_VERSION 'v1.0.0'` (readable by every DuckDB 1.x driver): every table of schema
   `marts`, the `meta` tables (publish info, row counts, `inputs`: each input's newest
   observation), the `bi` views; row counts are checked against the build, and a view that
   cannot be created stops the publish here.
3. One Parquet file per mart, then the manifest; every file and folder is fsynced.
4. `current` is switched by `os.replace` of a new symlink: the commit point. A reader, or a kill,
   before it finds the previous set whole; after it, the new set whole.
5. The stable links are made if missing; sets older than the previous one are removed.

Readers: `serving.duckdb` is resolved when a BI tool opens it, and an open connection keeps its
file to the end of its session. A reader loading several Parquet files resolves `current` once
(`current_set()`, or the `exports_dir` in `exports/_manifest.json`) and reads every file from
that folder; the previous set stays on disk until the next publish, so a reader that resolved
just before a switch still finishes on complete files. In `exports/`, crosswind only ever touches
links into `../current/` and, from the layout before sets, the files its old manifest lists.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.lib import lake
from orchestration.lib.errors import CrosswindError
from orchestration.lib.settings import Warehouse
from orchestration.lib.warehouse import exists, write_lock

log = logging.getLogger("crosswind.serving")

SERVING_FILE = "serving.duckdb"
EXPORTS_DIR = "exports"
PUBLISHES_DIR = "publishes"
CURRENT = "current"
MANIFEST = "_manifest.json"
MARTS_SCHEMA = "marts"
# Sets kept besides the current one: a reader that resolved `current` just before a switch
# reads complete files until the publish after next.
KEEP_PREVIOUS = 1
PUBLISH_ID_KEY = "crosswind_publish_id"  # in meta.publish_info and every Parquet footer
# Files written with this storage version open in DuckDB 1.0.0 and every later 1.x release
# (the DuckDB CLI, the Python/R/Node/JDBC/ODBC drivers, Metabase's and Evidence's DuckDB
# connectors). DuckDB 1.5 still writes it on request; verified by tests/serving.
STORAGE_VERSION = "v1.0.0"


class ServingError(CrosswindError):
    """The serving copy could not be published; the previous copy is unchanged."""


class ViewsNotCreated(ServingError):
    """A `bi` view could not be created on the new copy: a mart or column it reads is gone."""

    def __init__(self, failed: Mapping[str, str]):
        self.failed = dict(failed)
        listed = "; ".join(f"bi.{view}: {error}" for view, error in self.failed.items())
        super().__init__(
            f"serving copy NOT published (the previous set stays current): {len(self.failed)} "
            f"bi view(s) cannot be created, a mart or column they read was renamed or dropped "
            f"(fix BI_VIEWS in orchestration/lib/serving.py or the mart): {listed}"
        )


# Views BI dashboards (and the daily report) start from, in creation order: a view may read the
# ones above it. Every view must be created: one that cannot be (a mart or column it reads was
# renamed or dropped) stops the publish before the switch (ViewsNotCreated).
BI_VIEWS: dict[str, str] = {
    # THE as-of date of the serving set: the newest day with both the stress score and an S&P 500
    # close (a trading day the warehouse can describe stress and markets for). Later days only
    # carry single inputs (a Saturday FX quote, an index published a day early). Fallbacks keep
    # a partial warehouse readable; `rule` says which one applied.
    "as_of": """
        SELECT coalesce(
                   max(date) FILTER (WHERE stress_score IS NOT NULL AND sp500_close IS NOT NULL),
                   max(date) FILTER (WHERE stress_score IS NOT NULL),
                   max(date)) AS as_of_date,
               CASE WHEN count(*) FILTER (WHERE stress_score IS NOT NULL
                                            AND sp500_close IS NOT NULL) > 0
                        THEN 'newest day with the stress score and an S&P 500 close'
                    WHEN count(*) FILTER (WHERE stress_score IS NOT NULL) > 0
                        THEN 'newest day with the stress score (no S&P 500 close yet)'
                    ELSE 'newest day of the dashboard mart (no stress score yet)' END AS rule,
               max(date) AS newest_row_date
        FROM marts.mart_market_dashboard_daily""",
    # Every figure of the as-of day; NULL where an input is missing or past its staleness limit
    # on that day (`*_age_days` and bi.input_health say which).
    "dashboard_latest": """
        SELECT * FROM marts.mart_market_dashboard_daily
        WHERE date = (SELECT as_of_date FROM bi.as_of)""",
    # Each input of the catalog (and each margin product) with its age on the as-of date.
    "input_health": """
        SELECT i.input, i.source, i.description, i.frequency, i.required, i.staleness_days,
               i.first_date, i.last_date, i.observations, i.source_mode, i.loaded_at,
               i.stuck_periods, a.as_of_date, a.as_of_date - i.last_date AS age_days,
               CASE WHEN i.last_date IS NULL AND i.required THEN 'missing'
                    WHEN i.last_date IS NULL THEN 'not supplied'
                    WHEN i.staleness_days IS NULL THEN 'event history'
                    WHEN a.as_of_date - i.last_date > i.staleness_days THEN 'stale'
                    ELSE 'fresh' END AS status
        FROM meta.inputs i CROSS JOIN bi.as_of a""",
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
    publish_id: str
    folder: Path
    storage_version: str = STORAGE_VERSION
    info: dict[str, str] = field(default_factory=dict)
    # exports/<name> files crosswind did not write and therefore left alone (no link made)
    not_linked: list[str] = field(default_factory=list)
    inputs: int = 0  # rows of meta.inputs (catalog series and margin products)


def serving_path(warehouse_dir: Path) -> Path:
    return warehouse_dir / SERVING_FILE


def exports_path(warehouse_dir: Path) -> Path:
    return warehouse_dir / EXPORTS_DIR


def current_set(warehouse_dir: Path) -> Path | None:
    """The folder of the current set, resolved once: read every file of one set from here."""
    try:
        return Path(warehouse_dir) / os.readlink(Path(warehouse_dir) / CURRENT)
    except OSError:
        return None


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


def mart_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    """The tables in schema `marts` of the attached database `catalog`, by name."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
        "ORDER BY table_name",
        [catalog, MARTS_SCHEMA],
    ).fetchall()
    return [r[0] for r in rows]


def publish(
    build: Warehouse | Path,
    warehouse_dir: Path | None = None,
    *,
    info: Mapping[str, str] | None = None,
    require_views: bool = True,
) -> PublishResult:
    """Write a new serving set from the build warehouse and make it current with one rename.

    `build` is the build file (a path) or the configured `Warehouse` (a DuckDB file or a
    DuckLake). Raises ServingError (the current set untouched) when the build has no marts, and
    ViewsNotCreated when a `bi` view cannot be created. `require_views=False` is for stand-in
    marts that are not the dbt project's (the fault harness): views that fail are then skipped
    and listed in `skipped_views`.
    """
    started = time.perf_counter()
    target = build if isinstance(build, Warehouse) else Warehouse("duckdb", Path(build))
    build_path = target.path
    warehouse_dir = Path(warehouse_dir or build_path.parent)
    if not exists(target):
        where = lake.describe(target) if target.is_lake else str(build_path)
        raise ServingError(f"no build warehouse at {where}; run the refresh first")
    with ExitStack() as locks:
        locks.enter_context(write_lock(build_path))
        if warehouse_dir.resolve() != build_path.parent.resolve():  # publishers of this folder
            locks.enter_context(write_lock(warehouse_dir / build_path.name))
        clean_leftovers(warehouse_dir)
        now = datetime.now(UTC)
        published_at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        publish_id = f"{now:%Y%m%dT%H%M%S%fZ}-{os.getpid()}"
        folder = warehouse_dir / PUBLISHES_DIR / publish_id
        meta = {PUBLISH_ID_KEY: publish_id, **(info or {})}
        try:
            folder.mkdir(parents=True)
            tables, views, skipped, inputs = _build_copy(
                target, folder / SERVING_FILE, published_at, meta
            )
            if skipped and require_views:
                raise ViewsNotCreated(skipped)
            export_bytes = _export_parquet(
                folder / SERVING_FILE, folder / EXPORTS_DIR, tables, publish_id
            )
            _write_manifest(folder, publish_id, published_at, tables, export_bytes)
            for written in (folder / EXPORTS_DIR, folder, folder.parent):
                _fsync(written)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # never current: nobody can see it
            raise
        _switch_current(warehouse_dir, publish_id)
        not_linked = _link_stable_paths(warehouse_dir, tables)
        _prune(warehouse_dir)
    return PublishResult(
        path=serving_path(warehouse_dir),
        exports_dir=exports_path(warehouse_dir),
        tables=tables,
        views=views,
        skipped_views=skipped,
        bytes=(folder / SERVING_FILE).stat().st_size,
        export_bytes=export_bytes,
        seconds=round(time.perf_counter() - started, 3),
        published_at=published_at,
        publish_id=publish_id,
        folder=folder,
        info=dict(info or {}),
        not_linked=not_linked,
        inputs=inputs,
    )


def _attach_build(con: duckdb.DuckDBPyConnection, build: Warehouse) -> dict[str, str]:
    """Attach the build warehouse READ_ONLY as `build`; returns what meta should say about it."""
    if not build.is_lake:
        con.execute(f"ATTACH {_sql_str(str(build.path))} AS build (READ_ONLY)")
        return {"build_file": str(build.path)}
    # The latest snapshot, pinned: every mart comes from one version even if a writer commits.
    lake.attach(con, build, alias="build_latest", read_only=True)
    snapshot = con.execute("SELECT max(snapshot_id) FROM build_latest.snapshots()").fetchone()[0]
    con.execute("USE memory")
    con.execute("DETACH build_latest")
    lake.attach(con, build, alias="build", snapshot=snapshot)
    con.execute("USE memory")
    return {"build_file": lake.describe(build), "ducklake_snapshot": str(snapshot)}


def _build_copy(
    build: Warehouse, tmp: Path, published_at: str, info: Mapping[str, str]
) -> tuple[dict[str, int], list[str], dict[str, str], int]:
    """(mart row counts, views created, views that failed with their error, meta.inputs rows)."""
    con = duckdb.connect(config=dict(lake.NO_DOWNLOADS))
    try:
        origin = _attach_build(con, build)
        names = mart_tables(con, "build")
        if not names:
            raise ServingError(
                f"{origin['build_file']} has no tables in schema {MARTS_SCHEMA}; build the dbt "
                "marts first"
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
        con.execute("CREATE SCHEMA meta")
        meta = {
            "published_at": published_at,
            "storage_version": STORAGE_VERSION,
            "written_by_duckdb": duckdb.__version__,
            **origin,
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
        inputs = _write_inputs(con)
        con.execute("CREATE SCHEMA bi")
        views: list[str] = []
        skipped: dict[str, str] = {}
        for view, sql in BI_VIEWS.items():
            try:
                con.execute(f"CREATE VIEW bi.{view} AS {sql}")
                views.append(view)
            except duckdb.Error as exc:  # a mart or column it needs is missing
                skipped[view] = str(exc).splitlines()[0][:300]
        con.execute("CHECKPOINT serving")
        con.execute("USE memory")
        con.execute("DETACH serving")
        con.execute("DETACH build")
    finally:
        con.close()
    if tmp.with_name(tmp.name + ".wal").exists():
        raise ServingError(f"{tmp} still has a write-ahead log after CHECKPOINT")
    return tables, views, skipped, inputs


INPUT_COLUMNS = (
    ("input", "VARCHAR"),  # catalog series id, or margin product
    ("source", "VARCHAR"),
    ("description", "VARCHAR"),
    ("frequency", "VARCHAR"),  # 'event' for margin products: one row per change
    ("required", "BOOLEAN"),
    ("staleness_days", "INTEGER"),  # NULL: no limit (event histories)
    ("first_date", "DATE"),
    ("last_date", "DATE"),  # newest observation with a value; NULL: none loaded
    ("observations", "BIGINT"),
    ("source_mode", "VARCHAR"),  # live / replay / sample, of the newest load
    ("loaded_at", "TIMESTAMP"),
    ("stuck_periods", "VARCHAR"),  # raw_meta.flagged_periods of kind 'stuck', 'start..end; ...'
)


def _build_has(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'build' "
            "AND schema_name = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _write_inputs(con: duckdb.DuckDBPyConnection) -> int:
    """meta.inputs: every input the catalog names (and every margin product), with its newest
    observation in the build file's raw tables. Empty when the build has no raw layer (marts
    built elsewhere): readers then say that input health is unknown."""
    from orchestration.lib.raw_tables import SERIES_CATALOG, SOURCE_TABLES

    columns = ", ".join(f"{name} {kind}" for name, kind in INPUT_COLUMNS)
    con.execute(f"CREATE TABLE meta.inputs ({columns})")
    if not _build_has(con, SERIES_CATALOG.qualified):
        return 0
    observed = [
        f"SELECT {t.series_column} AS input, count({t.value_column}) AS observations, "
        f"min({t.date_column}) FILTER ({t.value_column} IS NOT NULL) AS first_date, "
        f"max({t.date_column}) FILTER ({t.value_column} IS NOT NULL) AS last_date, "
        "arg_max(source_mode, _loaded_at) AS source_mode, max(_loaded_at) AS loaded_at "
        f"FROM build.{t.qualified} GROUP BY ALL"
        for t in SOURCE_TABLES.values()
        if _build_has(con, t.qualified)
    ]
    wanted = [
        "SELECT series_id AS input, source, description, frequency, required, staleness_days "
        f"FROM build.{SERIES_CATALOG.qualified}"
    ]
    if _build_has(con, "raw_meta.margin_products"):
        wanted.append(
            "SELECT product, 'cme', description, 'event', NULL, NULL "
            "FROM build.raw_meta.margin_products"
        )
    stuck = "SELECT NULL::VARCHAR AS input, NULL::VARCHAR AS stuck_periods WHERE false"
    if _build_has(con, "raw_meta.flagged_periods"):
        stuck = (
            "SELECT series_id AS input, string_agg(period_start || '..' || period_end, '; ' "
            "ORDER BY period_start) AS stuck_periods FROM build.raw_meta.flagged_periods "
            "WHERE kind = 'stuck' GROUP BY ALL"
        )
    observed_sql = " UNION ALL ".join(observed) or (
        "SELECT NULL AS input, 0 AS observations, NULL::DATE AS first_date, NULL::DATE AS "
        "last_date, NULL AS source_mode, NULL::TIMESTAMP AS loaded_at WHERE false"
    )
    con.execute(
        f"""INSERT INTO meta.inputs
        WITH wanted AS ({" UNION ALL ".join(wanted)}), observed AS ({observed_sql}),
             stuck AS ({stuck})
        SELECT w.input, w.source, w.description, w.frequency, w.required, w.staleness_days,
               o.first_date, o.last_date, coalesce(o.observations, 0), o.source_mode,
               o.loaded_at, s.stuck_periods
        FROM wanted w LEFT JOIN observed o USING (input) LEFT JOIN stuck s USING (input)
        ORDER BY w.source, w.input"""
    )
    return con.execute("SELECT count(*) FROM meta.inputs").fetchone()[0]


def _export_parquet(
    serving_file: Path, folder: Path, tables: Iterable[str], publish_id: str
) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}
    con = duckdb.connect(str(serving_file), read_only=True)
    try:
        for name in tables:
            sizes[name] = _export_one(con, name, folder / f"{name}.parquet", publish_id)
    finally:
        con.close()
    return sizes


def _export_one(con: duckdb.DuckDBPyConnection, name: str, out: Path, publish_id: str) -> int:
    """One mart as zstd Parquet, its publish id in the footer (`parquet_kv_metadata()`)."""
    con.execute(
        f"COPY {MARTS_SCHEMA}.{_q(name)} TO {_sql_str(str(out))} (FORMAT parquet, "
        f"COMPRESSION zstd, KV_METADATA {{{PUBLISH_ID_KEY}: {_sql_str(publish_id)}}})"
    )
    _fsync(out)
    return out.stat().st_size


def _write_manifest(
    folder: Path, publish_id: str, published_at: str, tables: dict, sizes: dict
) -> None:
    """The set's last file: a set without it was never completed."""
    exports = folder / EXPORTS_DIR
    payload = {
        "publish_id": publish_id,
        "published_at": published_at,
        # relative to the warehouse folder; `file` is relative to this manifest's folder
        "exports_dir": f"{PUBLISHES_DIR}/{folder.name}/{EXPORTS_DIR}",
        "serving_copy": f"{PUBLISHES_DIR}/{folder.name}/{SERVING_FILE}",
        "tables": {
            n: {"rows": r, "file": f"{n}.parquet", "bytes": sizes[n]} for n, r in tables.items()
        },
    }
    (exports / MANIFEST).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    _fsync(exports / MANIFEST)


def _read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / EXPORTS_DIR / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


# -- the pointer, the stable links, the leftovers ------------------------------------------------


def _switch_current(warehouse_dir: Path, publish_id: str) -> None:
    """The commit point: `current` names the new set, by one atomic rename of a symlink."""
    tmp = warehouse_dir / f".{CURRENT}.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(f"{PUBLISHES_DIR}/{publish_id}", tmp)
    os.replace(tmp, warehouse_dir / CURRENT)
    _fsync(warehouse_dir)


def _ensure_link(path: Path, target: str) -> None:
    if path.is_symlink() and os.readlink(path) == target:
        return
    tmp = path.with_name(f".{path.name}.link-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, path)  # atomic: a reader finds the old entry or the link


def _ours(path: Path, legacy: set[str]) -> bool:
    """An entry of exports/ that crosswind wrote: a link into ../current/, or a pre-set export."""
    if path.is_symlink():
        return os.readlink(path).startswith(f"../{CURRENT}/")
    return path.name in legacy and path.is_file()


def _legacy_exports(exports: Path) -> set[str]:
    """Files the layout before sets wrote into exports/, as its own manifest lists them."""
    manifest = exports / MANIFEST
    if manifest.is_symlink() or not manifest.is_file():
        return set()
    try:
        tables = json.loads(manifest.read_text()).get("tables", {})
        return {MANIFEST, *(str(t.get("file", "")) for t in tables.values())} - {""}
    except (OSError, ValueError, AttributeError):
        return {MANIFEST}


def _link_stable_paths(warehouse_dir: Path, tables: Iterable[str]) -> list[str]:
    """serving.duckdb and exports/<mart>.parquet as links through `current`; returns the names
    in exports/ left alone because crosswind did not write them."""
    # A .wal beside serving.duckdb could only come from a tool that opened the copy read-write;
    # it belongs to an old file and must not be replayed onto the current one.
    serving_path(warehouse_dir).with_name(SERVING_FILE + ".wal").unlink(missing_ok=True)
    _ensure_link(serving_path(warehouse_dir), f"{CURRENT}/{SERVING_FILE}")
    exports = exports_path(warehouse_dir)
    exports.mkdir(exist_ok=True)
    legacy = _legacy_exports(exports)
    wanted = [f"{name}.parquet" for name in tables]
    not_linked = []
    for name in wanted:
        path = exports / name
        if os.path.lexists(path) and not _ours(path, legacy):
            log.warning("exports/%s was not written by crosswind: left alone, not linked", name)
            not_linked.append(name)
            continue
        _ensure_link(path, f"../{CURRENT}/{EXPORTS_DIR}/{name}")
    for entry in exports.iterdir():
        if entry.name not in wanted and entry.name != MANIFEST and _ours(entry, legacy):
            entry.unlink()  # a mart that is no longer published
    _ensure_link(exports / MANIFEST, f"../{CURRENT}/{EXPORTS_DIR}/{MANIFEST}")  # last: legacy
    _fsync(exports)
    return not_linked


def _prune(warehouse_dir: Path) -> list[Path]:
    """Remove sets that are neither current nor among the KEEP_PREVIOUS before it, and any
    set that was never completed (no manifest: a publish that was killed or failed)."""
    root = warehouse_dir / PUBLISHES_DIR
    if not root.is_dir():
        return []
    current = current_set(warehouse_dir)
    current_name = current.name if current is not None else None
    sets = sorted(d for d in root.iterdir() if d.is_dir() and not d.is_symlink())
    complete = [d for d in sets if _read_manifest(d) is not None]
    if current_name is None:
        keep = {d.name for d in complete}  # no pointer (yet): keep every complete set
    else:
        older = sorted(d.name for d in complete if d.name < current_name)
        keep = {current_name, *older[max(0, len(older) - KEEP_PREVIOUS) :]}
    removed = [d for d in sets if d.name not in keep]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def clean_leftovers(warehouse_dir: Path) -> list[str]:
    """Remove what a killed publish left and re-make the stable links; call under the lock.

    Returns what was removed. A publish killed before its switch leaves an incomplete set (the
    current one is untouched); one killed just after it may leave links unmade: both healed here.
    """
    warehouse_dir = Path(warehouse_dir)
    if not warehouse_dir.is_dir():
        return []
    link = warehouse_dir / CURRENT
    if os.path.lexists(link) and not link.is_symlink():
        raise ServingError(
            f"{link} is not crosswind's pointer but a real folder (copied without keeping "
            "symlinks?); move it away and publish again"
        )
    exports = exports_path(warehouse_dir)
    temps = [
        *warehouse_dir.glob(f".{SERVING_FILE}.tmp-*"),  # the layout before sets
        *warehouse_dir.glob(f".{SERVING_FILE}.link-*"),
        *warehouse_dir.glob(f".{CURRENT}.tmp-*"),
        *exports.glob(".tmp-[0-9]*"),  # the layout before sets
        *exports.glob(f".{MANIFEST}.tmp-*"),
        *exports.glob(".*.link-*"),
    ]
    for path in temps:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    removed = [str(p.relative_to(warehouse_dir)) for p in temps]
    removed += [str(p.relative_to(warehouse_dir)) for p in _prune(warehouse_dir)]
    current = current_set(warehouse_dir)
    manifest = _read_manifest(current) if current is not None else None
    if manifest is not None:
        _link_stable_paths(warehouse_dir, list(manifest.get("tables", {})))
    for path in removed:
        log.info("removed %s, left by an interrupted publish", path)
    return removed


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
