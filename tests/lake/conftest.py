"""DuckLake on a real PostgreSQL catalog: one server per session, one database per test.

The good state (fred, treasury, mof, cme + the fault suite's stand-in mart and serving copy) is
loaded once into a template database; each test gets `CREATE DATABASE ... TEMPLATE` of it and a
copy of the warehouse folder. The data folder is shared: DuckLake never rewrites a data file (a
write adds new files), so clones that add files side by side never see each other's.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestration.lib.settings import Warehouse, load_settings
from tests.faults import harness
from tests.faults.conftest import BASE_ENV
from tests.support import postgres

LAKE_ENV = ("CROSSWIND_WAREHOUSE_BACKEND", "CROSSWIND_DUCKLAKE_CATALOG", "CROSSWIND_DUCKLAKE_DATA")


@pytest.fixture(scope="session")
def pg_server():
    bindir = postgres.find_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, postgres, psql) not found: "
            "`apt-get install postgresql` (.ci/run installs it)"
        )
    server = postgres.start(bindir)
    try:
        yield server
    finally:
        server.stop()


def lake_env(mp: pytest.MonkeyPatch, snapshot: Path, folder: Path, uri: str, data: Path) -> None:
    for name in (*BASE_ENV, *LAKE_ENV):
        mp.delenv(name, raising=False)
    mp.setenv("CROSSWIND_SOURCE", "replay")
    mp.setenv("CROSSWIND_SNAPSHOT_DIR", str(snapshot))
    mp.setenv("CROSSWIND_WAREHOUSE_DIR", str(folder))
    mp.setenv("CROSSWIND_CATALOG", str(harness.write_catalog(folder.parent / "catalog.yaml")))
    mp.setenv("CROSSWIND_WAREHOUSE_BACKEND", "ducklake")
    mp.setenv("CROSSWIND_DUCKLAKE_CATALOG", uri)
    mp.setenv("CROSSWIND_DUCKLAKE_DATA", str(data))


@pytest.fixture(scope="session")
def lake_template(pg_server, tmp_path_factory) -> tuple[str, Path, Path, Path]:
    """(template database, snapshot, warehouse folder, data folder) with the good state."""
    root = tmp_path_factory.mktemp("lake_template")
    snapshot = harness.write_snapshot(root / "snapshot")
    folder, data = root / "warehouse", root / "lake_data"
    name = "lake_template"
    uri = pg_server.create_database(name)
    with pytest.MonkeyPatch.context() as mp:
        lake_env(mp, snapshot, folder, uri, data)
        for source in ("fred", "treasury", "mof"):
            result = harness.run(source, downstream=False)
            assert result.success, harness.failure_text(result)
        result = harness.run("cme")
        assert result.success, harness.failure_text(result)
    return name, snapshot, folder, data


@dataclass
class Lake:
    server: postgres.PostgresServer
    database: str
    snapshot: Path
    dir: Path
    data: Path

    @property
    def uri(self) -> str:
        return self.server.conninfo(self.database)

    @property
    def target(self) -> Warehouse:
        return load_settings().warehouse

    def state(self) -> harness.State:
        """harness.state() with the build read from the lake instead of a DuckDB file."""
        local = harness.state(self.dir)
        return harness.State(
            build=harness.fingerprint(self.target),
            serving=local.serving,
            serving_file=local.serving_file,
            exports=local.exports,
        )


@pytest.fixture
def pg_lake(pg_server, lake_template, tmp_path, monkeypatch) -> Lake:
    template, snapshot_src, folder_src, data = lake_template
    database = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.psql(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
    snapshot, folder = tmp_path / "snapshot", tmp_path / "warehouse"
    shutil.copytree(snapshot_src, snapshot)
    shutil.copytree(folder_src, folder, symlinks=True, ignore=shutil.ignore_patterns("*.lock"))
    lake_env(monkeypatch, snapshot, folder, pg_server.conninfo(database), data)
    return Lake(pg_server, database, snapshot, folder, data)
