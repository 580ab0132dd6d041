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
    dbt_target: str = _setting(
        "CROSSWIND_DBT_TARGET", "dbt profile target (dbt_project/profiles.yml)", "dev"
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
        return Settings(
            source_mode=mode,
            snapshot_dir=snapshot_dir,
            warehouse_dir=warehouse_dir,
            drops_dir=drops_dir,
            margin_file=margin_file,
            catalog_path=_catalog_file(text["catalog"]),
            lock_timeout_s=_lock_timeout(text["lock_timeout"]),
            values=values,
        )


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
    values: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def warehouse_path(self) -> Path:
        return self.warehouse_dir / "crosswind.duckdb"

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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The settings as the environment (or `env`) holds them now, validated."""
    return CrosswindSettings.from_values(env).resolve()
