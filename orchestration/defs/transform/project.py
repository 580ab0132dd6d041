"""The dbt project, built once per process.

`prepare_if_dev()` parses under every `dg` command (dg sets DAGSTER_IS_DEV_CLI, `dg launch`
included) and under `dagster dev`, which costs ~5 s per launch; so it is called only when a dbt
file is newer than the manifest. Everywhere else (CI, Docker, pytest) the manifest must exist
first:

    cd dbt_project && uv run dbt parse --quiet      # `make manifest` (part of `make install`)
"""

from __future__ import annotations

import os
import shutil
import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"
# What `dbt parse` reads (the top-level *.yml and these folders); a change to any of them makes
# the manifest stale. The Makefile's `manifest` rule lists the same inputs.
PARSED_FOLDERS = ("models", "macros", "tests", "seeds", "snapshots", "analyses")


def manifest_is_stale(project_dir: Path, manifest_path: Path) -> bool:
    if not manifest_path.exists():
        return True
    built = manifest_path.stat().st_mtime
    files = list(project_dir.glob("*.yml"))
    files += [f for folder in PARSED_FOLDERS for f in (project_dir / folder).rglob("*")]
    return any(f.is_file() and f.stat().st_mtime > built for f in files)


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    if manifest_is_stale(Path(project.project_dir), Path(project.manifest_path)):
        project.prepare_if_dev()
    return project


def dbt_executable() -> str:
    """dbt from this interpreter's virtualenv, so a venv that is not activated still finds it."""
    beside_python = os.path.join(sys.prefix, "bin", "dbt")
    return beside_python if os.path.exists(beside_python) else (shutil.which("dbt") or "dbt")
