"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import pytest

from tests.support.http_server import LocalHttpServer


@pytest.fixture
def http_server():
    """A started `LocalHttpServer` on 127.0.0.1 (scripted replies, request log); stopped after."""
    with LocalHttpServer() as server:
        yield server


@pytest.fixture
def no_http_waits(monkeypatch):
    """Live clients neither pace (FRED) nor sleep between retries: local servers answer at once."""
    from orchestration.lib.http import HttpClient
    from orchestration.sources import fred

    monkeypatch.setattr(fred, "CSV_MIN_INTERVAL", 0.0)
    monkeypatch.setattr(fred, "API_MIN_INTERVAL", 0.0)
    original_init = HttpClient.__init__

    def no_wait(self, *args, **kw):
        kw["sleep"] = lambda seconds: None
        original_init(self, *args, **kw)

    monkeypatch.setattr(HttpClient, "__init__", no_wait)


# --- warehouse and snapshot fixtures ------------------------------------------------------------

import shutil  # noqa: E402

from tests.support.snapshot import (  # noqa: E402
    SNAPSHOT_DIR,
    dbt_build,
    ingest_snapshot,
    snapshot_present,
)


@pytest.fixture
def warehouse_env(tmp_path, monkeypatch):
    """An empty warehouse folder in tmp, selected through the environment like a user would."""
    folder = tmp_path / "warehouse"
    monkeypatch.setenv("CROSSWIND_WAREHOUSE_DIR", str(folder))
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    return folder


@pytest.fixture
def snapshot_dir():
    if not snapshot_present():
        pytest.skip(f"real snapshot not found at {SNAPSHOT_DIR} (only present on project machines)")
    return SNAPSHOT_DIR


@pytest.fixture(scope="session")
def snapshot_ingestion(tmp_path_factory):
    """(warehouse dir, materialize result): every raw asset loaded from the real snapshot once.

    Read-only for tests: copy the folder before changing anything in it.
    """
    if not snapshot_present():
        pytest.skip(f"real snapshot not found at {SNAPSHOT_DIR} (only present on project machines)")
    return ingest_snapshot(tmp_path_factory.mktemp("snapshot_raw"))


@pytest.fixture(scope="session")
def snapshot_raw_warehouse(snapshot_ingestion):
    warehouse, result = snapshot_ingestion
    assert result.success, "snapshot ingestion failed"
    return warehouse


@pytest.fixture(scope="session")
def snapshot_build(snapshot_raw_warehouse, tmp_path_factory):
    """(warehouse dir, seconds): a copy of the raw snapshot warehouse with the whole dbt build."""
    work = tmp_path_factory.mktemp("snapshot_build")
    warehouse = work / "warehouse"
    shutil.copytree(snapshot_raw_warehouse, warehouse)
    proc, seconds = dbt_build(warehouse, work)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    return warehouse, seconds
