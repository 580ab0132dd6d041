"""dbt test fixtures: the manifest is prepared once per session (prepare_if_dev is a no-op here)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def dbt_manifest_path():
    """Parse the dbt project (`dbt parse`) so that the dagster-dbt definitions can load."""
    from dagster_dbt import DbtProject

    from orchestration.defs.transform.project import DBT_PROJECT_DIR

    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    project.preparer.prepare(project)
    assert project.manifest_path.exists(), f"dbt parse wrote no manifest at {project.manifest_path}"
    return project.manifest_path


@pytest.fixture(scope="module")
def snapshot_con(snapshot_build):
    """A read-only connection to the session's snapshot build (tests/conftest.py)."""
    import duckdb

    warehouse, _ = snapshot_build
    connection = duckdb.connect(str(warehouse / "crosswind.duckdb"), read_only=True)
    yield connection
    connection.close()


@pytest.fixture
def report_context(snapshot_con):
    """report.Context over the snapshot build's marts as of a given day (no serving copy needed)."""
    from datetime import date

    import pandas as pd

    from orchestration.lib import report

    marts = {
        r[0]
        for r in snapshot_con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'"
        ).fetchall()
    }

    def make(day: str) -> report.Context:
        return report.Context(
            snapshot_con, date.fromisoformat(day), "", None, marts, pd.DataFrame()
        )

    return make
