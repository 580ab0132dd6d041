"""crosswind's settings: one Dagster resource, one field per environment variable.

`CrosswindSettings` is the only place that names a variable crosswind reads. The code location
binds it as the resource `settings` (orchestration/definitions.py), so the Dagster UI lists every
setting under Deployment -> Resources; assets, the dbt step, serving and the sensor take it as a
parameter, and the CLI builds it from the environment. Each field holds the variable's text;
`resolve()` validates it once into `Settings`, the typed values the code uses.

Why variables are bound only when set (`from_env`): Dagster resolves an `EnvVar` when a run
starts and fails the run if the variable is unset, so an optional setting left unset keeps its
field default instead. A set variable is bound as an `EnvVar`: the UI shows its name, never
its value (the FRED key shows as `FRED_API_KEY` when set and empty when not), and every run
reads it afresh from its own environment.

Source modules own their endpoints: each declares its override's variable and default
(e.g. `treasury.URL_ENV`, `treasury.DEFAULT_URL`) and reads the value with `settings.value(...)`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from orchestration.lib.errors import CrosswindError

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO_ROOT / "orchestration" / "sample"
# The reviewed series catalog; CROSSWIND_CATALOG points elsewhere (e.g. bench/scale.py's 10x one).
DEFAULT_CATALOG_PATH = REPO_ROOT / "orchestration" / "catalog.yaml"
DEFAULT_MARGIN_FILE = REPO_ROOT / "orchestration" / "sources" / "cme_margin_history.csv"
SOURCE_MODES = ("live", "replay", "sample")
BACKENDS = ("duckdb", "ducklake")
# A DuckLake catalog given as a PostgreSQL connection string (a URI or libpq key=value pairs);
# anything else is a local DuckDB catalog file.
_POSTGRES_PREFIXES = ("postgres:", "postgresql://", "postgres://")
_LIBPQ_KEYS = ("dbname=", "host=", "service=")
DEFAULT_LOCK_TIMEOUT_S = 600.0
# The resource's key in the code location: assets and sensors take a parameter of this name.
RESOURCE_KEY = "settings"


def _setting(variable: str, description: str, default: str = "", secret: bool = False) -> Any:
    """One setting: its variable, what it means, its default (as the variable would hold it)."""
    shown = " Secret: shown only as set (the variable's name) or unset (empty)." if secret else ""
    return Field(
        default=default,
        description=f"{variable}: {description}{shown}",
        json_schema_extra={"variable": variable, "secret": secret},
    )


class CrosswindSettings(dg.ConfigurableResource):
    """crosswind's settings, one per environment variable (README, Configuration). Each field
    shows its variable's name when the variable is set, else the default; empty means unset."""

    source: str = _setting(
        "CROSSWIND_SOURCE", "live, replay (a snapshot folder) or sample (bundled synthetic)", "live"
    )
    snapshot_dir: str = _setting("CROSSWIND_SNAPSHOT_DIR", "snapshot folder read in replay mode")
    warehouse_dir: str = _setting(
        "CROSSWIND_WAREHOUSE_DIR",
        "where the DuckDB files and outputs go; unset: ./warehouse (./warehouse/sample in sample "
        "mode)",
    )
    drops_dir: str = _setting(
        "CROSSWIND_DROPS_DIR", "optional CSV drops folder; unset: <warehouse>/drops"
    )
    margin_file: str = _setting(
        "CROSSWIND_MARGIN_FILE",
        "curated CME margin history; unset: orchestration/sources/cme_margin_history.csv",
    )
    catalog: str = _setting(
        "CROSSWIND_CATALOG", "series catalog file; unset: orchestration/catalog.yaml"
    )
    warehouse_backend: str = _setting(
        "CROSSWIND_WAREHOUSE_BACKEND",
        "duckdb (one file, one writer) or ducklake (a catalog plus Parquet data files)",
        "duckdb",
    )
    ducklake_catalog: str = _setting(
        "CROSSWIND_DUCKLAKE_CATALOG",
        "DuckLake catalog: a PostgreSQL connection string or a local catalog file; unset: "
        "<warehouse>/crosswind.ducklake",
        secret=True,  # a connection string may carry the password
    )
    ducklake_data: str = _setting(
        "CROSSWIND_DUCKLAKE_DATA",
        "DuckLake data files: a folder or an object-storage URL; unset: <warehouse>/lake_data",
    )
    # Unset follows the backend (dev, or ducklake): a default here would be passed to dbt and
    # pin `dev` on a lake (transform/assets.py passes the set settings on).
    dbt_target: str = _setting(
        "CROSSWIND_DBT_TARGET",
        "dbt profile target (dbt_project/profiles.yml); unset: dev, or ducklake when "
        "CROSSWIND_WAREHOUSE_BACKEND=ducklake",
    )
    lock_timeout: str = _setting(
        "CROSSWIND_LOCK_TIMEOUT",
        "seconds a second writer waits for the warehouse write lock before refusing",
        f"{DEFAULT_LOCK_TIMEOUT_S:g}",
    )
    fred_api_key: str = _setting(
        "FRED_API_KEY", "FRED API key; unset: FRED's keyless graph CSV", secret=True
    )
    markets_dir: str = _setting(
        "CROSSWIND_MARKETS_DIR", "live mode: read market bars from this folder, not Yahoo"
    )
    # Endpoint overrides: each source module declares its variable and default (README, Live
    # mode); empty means the service's own address.
    fred_api_url: str = _setting("CROSSWIND_FRED_API_URL", "FRED API root (with a key)")
    fred_csv_url: str = _setting("CROSSWIND_FRED_CSV_URL", "FRED graph CSV (without a key)")
    fiscaldata_url: str = _setting(
        "CROSSWIND_FISCALDATA_URL", "Treasury fiscaldata DTS operating cash balance"
    )
    mof_url: str = _setting("CROSSWIND_MOF_URL", "Japan MOF JGB yields folder")
    ofr_url: str = _setting("CROSSWIND_OFR_URL", "OFR Financial Stress Index file")
    shiller_page_url: str = _setting("CROSSWIND_SHILLER_PAGE_URL", "Shiller's data page")
    shiller_url: str = _setting("CROSSWIND_SHILLER_URL", "pins Shiller's workbook address")
    yahoo_url: str = _setting("CROSSWIND_YAHOO_URL", "Yahoo chart API base")
    # Alerts (docs/alerts.md): channels are optional; the webhook URL and the SMTP password are
    # secrets (the URL's path is the token).
    alert_rules: str = _setting("CROSSWIND_ALERT_RULES", "another alert rules file")
    alert_webhook_url: str = _setting(
        "CROSSWIND_ALERT_WEBHOOK_URL", "Slack-compatible incoming webhook (https)", secret=True
    )
    alert_smtp_host: str = _setting("CROSSWIND_ALERT_SMTP_HOST", "SMTP server for alert email")
    alert_smtp_port: str = _setting("CROSSWIND_ALERT_SMTP_PORT", "SMTP port (STARTTLS)", "587")
    alert_smtp_user: str = _setting("CROSSWIND_ALERT_SMTP_USER", "SMTP login")
    alert_smtp_password: str = _setting(
        "CROSSWIND_ALERT_SMTP_PASSWORD", "SMTP password", secret=True
    )
    alert_smtp_ca_file: str = _setting(
        "CROSSWIND_ALERT_SMTP_CA_FILE", "CA bundle that signs the SMTP server's certificate"
    )
    alert_email_from: str = _setting("CROSSWIND_ALERT_EMAIL_FROM", "alert email sender")
    alert_email_to: str = _setting("CROSSWIND_ALERT_EMAIL_TO", "alert recipients, comma-separated")

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Field name -> the environment variable it holds, in declaration order."""
        return {name: info.json_schema_extra["variable"] for name, info in cls.model_fields.items()}

    @classmethod
    def secret_variables(cls) -> tuple[str, ...]:
        return tuple(
            info.json_schema_extra["variable"]
            for info in cls.model_fields.values()
            if info.json_schema_extra["secret"]
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CrosswindSettings:
        """The resource the code location binds: each variable set in `env` as a `dg.EnvVar`
        (read again when a run starts, shown by name in the UI), the others at their defaults."""
        env = os.environ if env is None else env
        return cls(**{name: dg.EnvVar(var) for name, var in cls.variables().items() if var in env})

    @classmethod
    def from_values(cls, env: Mapping[str, str] | None = None) -> CrosswindSettings:
        """The settings as `env` holds them now (the CLI, tests, anything outside a run)."""
        env = os.environ if env is None else env
        return cls(**{name: env[var] for name, var in cls.variables().items() if var in env})

    def text(self, name: str) -> str:
        """Field `name`'s text; an EnvVar not yet resolved by a run is read as Dagster reads it."""
        value = getattr(self, name)
        return (value.get_value("") or "") if isinstance(value, dg.EnvVar) else value

    def resolve(self) -> Settings:
        """Validated, typed settings; a bad value raises CrosswindError naming its variable."""
        text = {name: self.text(name).strip() for name in self.variables()}
        mode = text["source"].lower() or "live"
        if mode not in SOURCE_MODES:
            raise CrosswindError(
                f"CROSSWIND_SOURCE={mode!r} is not one of {', '.join(SOURCE_MODES)}"
            )
        snapshot = text["snapshot_dir"]
        snapshot_dir = Path(snapshot).expanduser().resolve() if snapshot else None
        if mode == "replay" and snapshot_dir is not None and not snapshot_dir.is_dir():
            raise CrosswindError(f"CROSSWIND_SNAPSHOT_DIR={snapshot} is not a folder")
        # The synthetic sample gets its own default folder so it never mixes with real data.
        default_dir = REPO_ROOT / "warehouse" / ("sample" if mode == "sample" else "")
        warehouse_dir = Path(text["warehouse_dir"] or default_dir).expanduser().resolve()
        drops_dir = Path(text["drops_dir"] or warehouse_dir / "drops").expanduser()
        margin_file = Path(text["margin_file"] or DEFAULT_MARGIN_FILE).expanduser()
        values = {var: self.text(name) for name, var in self.variables().items() if text[name]}
        backend = _backend(text["warehouse_backend"])
        lake = backend == "ducklake"
        return Settings(
            source_mode=mode,
            snapshot_dir=snapshot_dir,
            warehouse_dir=warehouse_dir,
            drops_dir=drops_dir,
            margin_file=margin_file,
            catalog_path=_catalog_file(text["catalog"]),
            lock_timeout_s=_lock_timeout(text["lock_timeout"]),
            backend=backend,
            ducklake_catalog=_ducklake_catalog(text["ducklake_catalog"], warehouse_dir)
            if lake
            else None,
            ducklake_data=_ducklake_data(text["ducklake_data"], warehouse_dir) if lake else None,
            values=values,
        )


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
    """The resolved settings (`CrosswindSettings.resolve()`): what assets, sources and the CLI
    read. `values` holds every setting that is set, by variable, for `value()`."""

    source_mode: str
    snapshot_dir: Path | None
    warehouse_dir: Path
    drops_dir: Path
    margin_file: Path
    catalog_path: Path = DEFAULT_CATALOG_PATH
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    backend: str = "duckdb"
    ducklake_catalog: str | None = field(default=None, repr=False)  # may hold a password
    ducklake_data: str | None = None
    values: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

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

    def value(self, variable: str) -> str:
        """The text of setting `variable` ('' when unset); a variable the resource does not
        declare is a programming error, refused so a typo cannot silently read nothing."""
        if variable not in CrosswindSettings.variables().values():
            raise CrosswindError(f"{variable} is not a crosswind setting (CrosswindSettings)")
        return self.values.get(variable, "")

    def run_tags(self) -> dict[str, str]:
        """What every run is tagged with (orchestration/lib/recovery.py adds them)."""
        snapshot = "none (live)" if self.source_mode == "live" else str(self.replay_dir)
        return {
            "crosswind/mode": self.source_mode,
            "crosswind/snapshot": snapshot,
            "crosswind/warehouse": str(self.warehouse_dir),
            "crosswind/backend": self.backend,
        }


def _catalog_file(value: str) -> Path:
    value = value.strip()
    return Path(value).expanduser().resolve() if value else DEFAULT_CATALOG_PATH


def _lock_timeout(value: str) -> float:
    text = value.strip() or f"{DEFAULT_LOCK_TIMEOUT_S:g}"
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise CrosswindError(f"CROSSWIND_LOCK_TIMEOUT={value!r} is not a number of seconds >= 0")
    return seconds


def catalog_path(env: Mapping[str, str] | None = None) -> Path:
    """The series catalog file: CROSSWIND_CATALOG, else the repository's catalog.yaml.

    Separate from `load_settings` so reading the catalog never fails on an unrelated setting.
    """
    return _catalog_file(CrosswindSettings.from_values(env).catalog)


def lock_timeout_s(env: Mapping[str, str] | None = None) -> float:
    """CROSSWIND_LOCK_TIMEOUT in seconds, read when a lock is taken (not at import)."""
    return _lock_timeout(CrosswindSettings.from_values(env).lock_timeout)


def warehouse_backend(env: Mapping[str, str] | None = None) -> str:
    """CROSSWIND_WAREHOUSE_BACKEND: `duckdb` (default, one file) or `ducklake`.

    Separate from `load_settings` so definitions can choose pools and the executor at load time
    without failing on an unrelated setting.
    """
    return _backend(CrosswindSettings.from_values(env).warehouse_backend)


def _backend(value: str) -> str:
    backend = value.strip().lower() or "duckdb"
    if backend not in BACKENDS:
        raise CrosswindError(
            f"CROSSWIND_WAREHOUSE_BACKEND={backend!r} is not one of {', '.join(BACKENDS)}"
        )
    return backend


def concurrent_writers(env: Mapping[str, str] | None = None) -> bool:
    """Whether the configured warehouse takes several writing processes at once (see Warehouse)."""
    settings = CrosswindSettings.from_values(env)
    if _backend(settings.warehouse_backend) != "ducklake":
        return False
    return _ducklake_catalog(settings.ducklake_catalog, Path(".")).startswith("postgres:")


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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The settings as the environment (or `env`) holds them now, validated."""
    return CrosswindSettings.from_values(env).resolve()
