"""Serving fixtures: a serving set published from the real dbt marts' shapes and data."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestration.lib import serving
from tests.support.contracts import create_contract_marts


@pytest.fixture(scope="session", params=["contracts", "snapshot"])
def published_copy(request, tmp_path_factory) -> tuple[str, Path]:
    """(kind, warehouse folder) of a serving set published by the real publisher (every bi view
    created, or ViewsNotCreated) from the dbt project's marts, twice:

    - "contracts": every mart created empty from its dbt contract (manifest.json): fast, always
      available, exactly the columns dbt builds;
    - "snapshot": the real snapshot's `dbt build` (session fixture; skipped with the reason when
      ../shared/snapshot is absent), with its raw layer, so meta.inputs is filled.
    """
    warehouse = tmp_path_factory.mktemp(f"published_{request.param}") / "warehouse"
    if request.param == "contracts":
        build = warehouse / "crosswind.duckdb"
        warehouse.mkdir(parents=True)
        with duckdb.connect(str(build)) as con:
            create_contract_marts(con)
    else:
        built, _ = request.getfixturevalue("snapshot_build")
        build = built / "crosswind.duckdb"
    serving.publish(build, warehouse)  # every bi view, or ViewsNotCreated
    return request.param, warehouse
