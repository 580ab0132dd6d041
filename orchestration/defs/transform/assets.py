"""dbt staging -> intermediate -> marts as Dagster assets, run with `dbt build`.

dbt tests are asset checks (tests on sources attach to the raw Python assets), and because the
command is `dbt build`, a failing test skips every model downstream of it and fails the step.
"""

import importlib.metadata
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets
from packaging import version
from pydantic import Field

from orchestration.defs.transform.project import dbt_executable, dbt_project
from orchestration.lib import warehouse
from orchestration.lib.dbt_translator import build_dbt_args, make_translator
from orchestration.lib.settings import WRITE_POOL, load_settings

WAREHOUSE_ENV = "CROSSWIND_WAREHOUSE_DIR"
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
def _dbt_env(name: str, value: str) -> Iterator[None]:
    """Set one variable for the dbt subprocess (DbtCliResource passes os.environ through)."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


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
    fetch_column_metadata need (the adapter argument is optional in dagster-dbt)."""

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
    context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig
):
    """Staging views, intermediate alignment and the marts BI reads, built with `dbt build`."""
    settings = load_settings()
    # dbt writes the same file as the ingestion: same path, same exclusive write lock.
    with (
        _dbt_env(WAREHOUSE_ENV, str(settings.warehouse_dir)),
        warehouse.write_lock(settings.warehouse_path),
    ):
        target = Path(_project.project_dir) / "target"
        cli_vars = dbt_vars(config)
        try:
            invocation = dbt.cli(
                build_dbt_args(exclude=DAILY_BUILD_EXCLUDE, dbt_vars=cli_vars), context=context
            )
            yield from invocation.stream()
            if not cli_vars:
                keep_partial_parse(Path(invocation.target_path), target)
        finally:
            prune_run_targets(target, f"{context.op_def.name}-")


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
