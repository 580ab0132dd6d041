"""The one place that reads crosswind's environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.lib.errors import CrosswindError

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO_ROOT / "orchestration" / "sample"
# The reviewed series catalog; CROSSWIND_CATALOG points elsewhere (e.g. bench/scale.py's 10x one).
DEFAULT_CATALOG_PATH = REPO_ROOT / "orchestration" / "catalog.yaml"
SOURCE_MODES = ("live", "replay", "sample")
BACKENDS = ("duckdb", "ducklake")
# A DuckLake catalog given as a PostgreSQL connection string (a URI or libpq key=value pairs);
# anything else is a local DuckDB catalog file.
_POSTGRES_PREFIXES = ("postgres:", "postgresql://", "postgres://")
_LIBPQ_KEYS = ("dbname=", "host=", "service=")


@dataclass(frozen=True)
class Warehouse:
    """Where the build warehouse lives: a DuckDB file, or a DuckLake (catalog + data files).

    `path` is the DuckDB build file; on DuckLake no data lives there, but the local write lock
    is still taken beside it (`path`.lock) for what stays single-writer on one machine.
    """

    backend: str
    path: Path
    # DuckLake: "postgres:<conninfo>" or a local catalog file; may hold a password: not in repr
    catalog: str | None = field(default=None, repr=False)
    data: str | None = None  # DuckLake: the data folder (or object-storage URL)

    @property
    def is_lake(self) -> bool:
        return self.backend == "ducklake"

    @property
    def postgres_catalog(self) -> bool:
        return self.is_lake and (self.catalog or "").startswith("postgres:")

    @property
    def concurrent_writers(self) -> bool:
        """Several processes may write at once: only DuckLake on a PostgreSQL catalog. A DuckDB
        file, and a DuckLake on a local DuckDB catalog file, take one process at a time."""
        return self.postgres_catalog


@dataclass(frozen=True)
class Settings:
    source_mode: str
    snapshot_dir: Path | None
    warehouse_dir: Path
    drops_dir: Path
    margin_file: Path
    catalog_path: Path = DEFAULT_CATALOG_PATH
    backend: str = "duckdb"
    ducklake_catalog: str | None = field(default=None, repr=False)  # may hold a password
    ducklake_data: str | None = None

    @property
    def warehouse_path(self) -> Path:
        return self.warehouse_dir / "crosswind.duckdb"

    @property
    def warehouse(self) -> Warehouse:
        """The build warehouse every writer, reader, dbt and the publish step use."""
        return Warehouse(
            self.backend, self.warehouse_path, self.ducklake_catalog, self.ducklake_data
        )

    @property
    def replay_dir(self) -> Path:
        """Where replay readers read: the snapshot (replay mode) or the bundled sample (sample)."""
        if self.source_mode == "sample":
            return SAMPLE_DIR
        if self.snapshot_dir is None:
            raise CrosswindError(
                "CROSSWIND_SOURCE=replay needs CROSSWIND_SNAPSHOT_DIR (e.g. ../shared/snapshot)"
            )
        return self.snapshot_dir


def catalog_path(env: Mapping[str, str] | None = None) -> Path:
    """The series catalog file: CROSSWIND_CATALOG, else the repository's catalog.yaml.

    Separate from `load_settings` so reading the catalog never fails on an unrelated setting.
    """
    env = os.environ if env is None else env
    value = env.get("CROSSWIND_CATALOG", "").strip()
    return Path(value).expanduser().resolve() if value else DEFAULT_CATALOG_PATH


def warehouse_backend(env: Mapping[str, str] | None = None) -> str:
    """CROSSWIND_WAREHOUSE_BACKEND: `duckdb` (default, one file) or `ducklake`.

    Separate from `load_settings` so definitions can choose pools and the executor at load time
    without failing on an unrelated setting.
    """
    env = os.environ if env is None else env
    backend = (env.get("CROSSWIND_WAREHOUSE_BACKEND") or "duckdb").strip().lower() or "duckdb"
    if backend not in BACKENDS:
        raise CrosswindError(
            f"CROSSWIND_WAREHOUSE_BACKEND={backend!r} is not one of {', '.join(BACKENDS)}"
        )
    return backend


def concurrent_writers(env: Mapping[str, str] | None = None) -> bool:
    """Whether the configured warehouse takes several writing processes at once (see Warehouse)."""
    env = os.environ if env is None else env
    if warehouse_backend(env) != "ducklake":
        return False
    return _ducklake_catalog(env.get("CROSSWIND_DUCKLAKE_CATALOG"), Path(".")).startswith(
        "postgres:"
    )


# The Dagster pool of everything that must write alone: dbt, the publish and, where the warehouse
# takes one writer, the ingestion. Its limit (1) is `concurrency: pools: default_limit` in
# orchestration/dagster.yaml, installed into DAGSTER_HOME.
WRITE_POOL = "duckdb_write"


def ingest_pool(step: str, env: Mapping[str, str] | None = None) -> str:
    """The pool of a raw ingestion step (`step`: its op name).

    One writer at a time: the single-writer pool. Several (DuckLake on PostgreSQL): a pool of
    the step's own, so different sources ingest at once while the same source never runs twice
    at once across runs (DuckLake has no primary key to stop two runs inserting the same rows).
    """
    return f"ingest__{step}" if concurrent_writers(env) else WRITE_POOL


def _ducklake_catalog(value: str | None, warehouse_dir: Path) -> str:
    """CROSSWIND_DUCKLAKE_CATALOG as DuckLake's ATTACH wants it: `postgres:<conninfo>` for a
    PostgreSQL connection string, else the absolute path of a local DuckDB catalog file
    (default: <warehouse>/crosswind.ducklake)."""
    value = (value or "").strip()
    if not value:
        return str(warehouse_dir / "crosswind.ducklake")
    lowered = value.lower()
    if lowered.startswith("postgres:") and not lowered.startswith("postgres://"):
        return "postgres:" + value.split(":", 1)[1]
    if lowered.startswith(_POSTGRES_PREFIXES) or any(k in lowered for k in _LIBPQ_KEYS):
        return "postgres:" + value
    return str(Path(value).expanduser().resolve())


def _ducklake_data(value: str | None, warehouse_dir: Path) -> str:
    """CROSSWIND_DUCKLAKE_DATA: a folder (made absolute, ends in /) or an object-storage URL."""
    value = (value or "").strip()
    if "://" in value:
        return value if value.endswith("/") else value + "/"
    folder = Path(value).expanduser().resolve() if value else warehouse_dir / "lake_data"
    return str(folder) + "/"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    mode = env.get("CROSSWIND_SOURCE", "live").strip().lower() or "live"
    if mode not in SOURCE_MODES:
        raise CrosswindError(f"CROSSWIND_SOURCE={mode!r} is not one of {', '.join(SOURCE_MODES)}")
    snapshot = env.get("CROSSWIND_SNAPSHOT_DIR")
    snapshot_dir = Path(snapshot).expanduser().resolve() if snapshot else None
    if mode == "replay" and snapshot_dir is not None and not snapshot_dir.is_dir():
        raise CrosswindError(f"CROSSWIND_SNAPSHOT_DIR={snapshot} is not a folder")
    # The synthetic sample gets its own default folder so it never mixes with real data.
    default_dir = REPO_ROOT / "warehouse" / ("sample" if mode == "sample" else "")
    warehouse_dir = Path(env.get("CROSSWIND_WAREHOUSE_DIR") or default_dir)
    warehouse_dir = warehouse_dir.expanduser().resolve()
    drops_dir = Path(env.get("CROSSWIND_DROPS_DIR") or warehouse_dir / "drops").expanduser()
    margin_file = Path(
        env.get("CROSSWIND_MARGIN_FILE")
        or REPO_ROOT / "orchestration" / "sources" / "cme_margin_history.csv"
    ).expanduser()
    backend = warehouse_backend(env)
    lake = backend == "ducklake"
    return Settings(
        mode,
        snapshot_dir,
        warehouse_dir,
        drops_dir,
        margin_file,
        catalog_path(env),
        backend,
        _ducklake_catalog(env.get("CROSSWIND_DUCKLAKE_CATALOG"), warehouse_dir) if lake else None,
        _ducklake_data(env.get("CROSSWIND_DUCKLAKE_DATA"), warehouse_dir) if lake else None,
    )
