"""The dbt project, built once per process.

`prepare_if_dev()` only parses under `dagster dev` / `dg dev`. Everywhere else (CI, Docker,
pytest, `dg check defs`) the manifest must exist first:

    cd dbt_project && uv run dbt parse --quiet      # `make manifest`
"""

from __future__ import annotations

import os
import shutil
import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    project.prepare_if_dev()
    return project


def dbt_executable() -> str:
    """dbt from this interpreter's virtualenv, so a venv that is not activated still finds it."""
    beside_python = os.path.join(sys.prefix, "bin", "dbt")
    return beside_python if os.path.exists(beside_python) else (shutil.which("dbt") or "dbt")
