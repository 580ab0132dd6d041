"""Alert test fixtures: the dbt manifest the rules are checked against."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def dbt_manifest_path():
    from orchestration.defs.transform.project import dbt_project

    path = dbt_project().manifest_path
    assert path.exists(), f"no dbt manifest at {path}: run `make manifest`"
    return path
