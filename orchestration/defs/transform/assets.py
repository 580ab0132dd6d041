"""dbt staging -> intermediate -> marts as Dagster assets, run with `dbt build`.

dbt tests are asset checks (tests on sources attach to the raw Python assets), and because the
command is `dbt build`, a failing test skips every model downstream of it and fails the step.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.transform.project import dbt_executable, dbt_project
from orchestration.lib import warehouse
from orchestration.lib.dbt_translator import build_dbt_args, make_translator
from orchestration.lib.settings import load_settings

WAREHOUSE_ENV = "CROSSWIND_WAREHOUSE_DIR"

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


@dbt_assets(
    manifest=_project.manifest_path,
    project=_project,
    dagster_dbt_translator=make_translator(),
    name="crosswind_dbt_models",
    pool="duckdb_write",
)
def crosswind_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Staging views, intermediate alignment and the marts BI reads, built with `dbt build`."""
    settings = load_settings()
    # dbt writes the same file as the ingestion: same path, same exclusive write lock.
    with (
        _dbt_env(WAREHOUSE_ENV, str(settings.warehouse_dir)),
        warehouse.write_lock(settings.warehouse_path),
    ):
        yield from dbt.cli(build_dbt_args(), context=context).stream()


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[crosswind_dbt_models],
        resources={
            "dbt": DbtCliResource(
                project_dir=_project,
                profiles_dir=_project.profiles_dir,
                dbt_executable=dbt_executable(),
            )
        },
    )
