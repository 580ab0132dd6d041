"""dbt staging -> intermediate -> marts as Dagster assets, run with `dbt build`.

dbt tests are asset checks (tests on sources attach to the raw Python assets), and because the
command is `dbt build`, a failing test skips every model downstream of it and fails the step.
Every table dbt built gets its row count and date range (orchestration/lib/asset_metadata.py).
"""

import importlib.metadata
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets
from packaging import version
from pydantic import Field

from orchestration.defs.transform.project import dbt_executable, dbt_project
from orchestration.lib import warehouse
from orchestration.lib.asset_metadata import dbt_table_stats, dbt_tables
from orchestration.lib.dbt_translator import build_dbt_args, make_translator
from orchestration.lib.settings import WRITE_POOL, CrosswindSettings, Warehouse

# What dbt_project/profiles.yml and its DuckLake plugin read: settings the dbt subprocess needs,
# from the resource. Paths go resolved: dbt runs in dbt_project/, not the repository root.
DBT_SETTINGS = (
    "warehouse_dir",
    "dbt_target",
    "warehouse_backend",
    "ducklake_catalog",
    "ducklake_data",
)
# dbt unit tests check the SQL logic on fixed inputs, not the data: they run in `make test`
# (tests/dbt), where the code changes, not in every daily build (~10% of its dbt time).
DAILY_BUILD_EXCLUDE = ("resource_type:unit_test",)
# dagster-dbt gives every run its own dbt target folder (~15 MB each): keep the latest few.
KEEP_RUN_TARGETS = 5

_project = dbt_project()
if not _project.manifest_path.exists():
    raise FileNotFoundError(
        f"dbt manifest not found at {_project.manifest_path}. Build it first: "
        "`cd dbt_project && uv run dbt parse --quiet` (make manifest), or run `dagster dev`."
    )


@contextmanager
def _dbt_env(values: dict[str, str]) -> Iterator[None]:
    """Set variables for the dbt subprocess (DbtCliResource passes os.environ through)."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def dbt_environment(settings: CrosswindSettings) -> dict[str, str]:
    """The variables profiles.yml reads, as this run's settings resource holds them."""
    resolved = settings.resolve()
    variables = CrosswindSettings.variables()
    absolute = {
        "warehouse_dir": str(resolved.warehouse_dir),
        "ducklake_catalog": resolved.ducklake_catalog or "",
        "ducklake_data": resolved.ducklake_data or "",
    }
    values = {name: absolute.get(name) or settings.text(name) for name in DBT_SETTINGS}
    return {variables[name]: value for name, value in values.items() if value}


class DbtBuildConfig(dg.Config):
    """Run-time knobs for the dbt step (Launchpad or `dg launch --config-json`)."""

    vars_json: str = Field(
        default="",
        description='dbt --vars as a JSON object, e.g. {"correlation_windows": [20, 60]}. '
        "Empty: the defaults in dbt_project.yml.",
    )


def dbt_vars(config: DbtBuildConfig) -> dict:
    if not config.vars_json.strip():
        return {}
    try:
        parsed = json.loads(config.vars_json)
    except json.JSONDecodeError as exc:
        raise dg.Failure(f"dbt vars_json is not valid JSON: {exc}", allow_retries=False) from None
    if not isinstance(parsed, dict):
        raise dg.Failure("dbt vars_json must be a JSON object", allow_retries=False)
    return parsed


class CrosswindDbtCliResource(DbtCliResource):
    """dagster-dbt's CLI resource minus two start-up costs this project does not use (~3 s a run,
    measured in bench/): a `dbt --version` subprocess to learn the version (read from the
    installed package instead), and an in-process dbt adapter that only fetch_row_counts /
    fetch_column_metadata need (the adapter argument is optional in dagster-dbt). Row counts
    come from one query after the build instead (with_table_stats)."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


@dbt_assets(
    manifest=_project.manifest_path,
    project=_project,
    dagster_dbt_translator=make_translator(),
    name="crosswind_dbt_models",
    pool=WRITE_POOL,
)
def crosswind_dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    config: DbtBuildConfig,
    settings: CrosswindSettings,
):
    """Staging views, intermediate alignment and the marts BI reads, built with `dbt build`."""
    # dbt writes the same file as the ingestion: same path, same exclusive write lock.
    build = settings.resolve().warehouse
    with _dbt_env(dbt_environment(settings)), warehouse.write_lock(build.path):
        target = Path(_project.project_dir) / "target"
        cli_vars = dbt_vars(config)
        try:
            invocation = dbt.cli(
                build_dbt_args(exclude=DAILY_BUILD_EXCLUDE, dbt_vars=cli_vars), context=context
            )
            yield from with_table_stats(
                invocation.stream(), invocation.manifest, build, context.log
            )
            if not cli_vars:
                keep_partial_parse(Path(invocation.target_path), target)
        finally:
            prune_run_targets(target, f"{context.op_def.name}-")


def with_table_stats(events, manifest: Mapping, build: Warehouse | Path, log) -> Iterator:
    """The dbt events, each table's materialization with its row count and date range.

    DuckDB lets no other process read the file while dbt writes it, so the numbers come from
    one query after dbt exits: the events are held until then (logs still stream) and yielded
    in their order, so every check result still follows its asset's materialization. A failed
    build yields what it did build, then raises. A failed query only costs the numbers."""
    held, error = [], None
    try:
        for event in events:
            held.append(event)
    except Exception as exc:  # a failed model or test: record what was built, then fail
        error = exc
    built = {
        i: str(_metadata_value(event.metadata.get("unique_id")))
        for i, event in enumerate(held)
        if isinstance(event, dg.Output | dg.AssetMaterialization)
    }
    stats = {}
    try:
        tables = dbt_tables(manifest, list(built.values()))
        if tables:
            con = warehouse.connect(build, read_only=True)
            try:
                stats = dbt_table_stats(con, tables)
            finally:
                con.close()
    except Exception as exc:
        log.warning(f"row counts and date ranges not recorded: {exc}")
    for i, event in enumerate(held):
        found = stats.get(built.get(i))
        yield event.with_metadata({**event.metadata, **found.metadata()}) if found else event
    if error is not None:
        raise error


def _metadata_value(value):
    return getattr(value, "value", value)


# The marts (dbt folder models/marts): what the serving copy publishes and waits for.
MART_KEYS = sorted(spec.key for spec in crosswind_dbt_models.specs if spec.group_name == "marts")


def keep_partial_parse(run_target: Path, project_target: Path) -> bool:
    """Make this run's dbt parse state the one the next run starts from.

    dagster-dbt seeds each run's target folder with target/partial_parse.msgpack. dbt discards
    that state whenever the profile differs from the parse that wrote it (the warehouse path is
    part of the profile), re-parsing the whole project (~2-3 s). Copying the run's state back
    means only the first run on a given warehouse pays for it. Runs with --vars are skipped:
    vars are part of the state too."""
    fresh = run_target / "partial_parse.msgpack"
    kept = project_target / "partial_parse.msgpack"
    if not fresh.exists() or (kept.exists() and kept.stat().st_mtime >= fresh.stat().st_mtime):
        return False
    staging = kept.with_name(f".{kept.name}.{os.getpid()}.tmp")
    shutil.copyfile(fresh, staging)
    os.replace(staging, kept)  # atomic: a concurrent run reads the old or the new file
    return True


def prune_run_targets(target: Path, prefix: str, keep: int = KEEP_RUN_TARGETS) -> list[Path]:
    """Delete all but the `keep` newest per-run dbt target folders named `prefix*`."""
    runs = sorted(
        (p for p in target.glob(f"{prefix}*") if p.is_dir()), key=lambda p: p.stat().st_mtime
    )
    stale = runs[:-keep] if keep > 0 else runs
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return stale


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[crosswind_dbt_models],
        resources={
            "dbt": CrosswindDbtCliResource(
                project_dir=_project,
                profiles_dir=_project.profiles_dir,
                dbt_executable=dbt_executable(),
            )
        },
    )
