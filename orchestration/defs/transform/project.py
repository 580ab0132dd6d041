"""The dbt project, built once per process.

`prepare_if_dev()` only parses under `dagster dev` / `dg dev`. Everywhere else (CI, Docker,
pytest, `dg check defs`) the manifest must exist first:

    cd dbt_project && uv run dbt parse --quiet      # `make manifest`
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    project.prepare_if_dev()
    return project
