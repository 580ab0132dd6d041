"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import pytest

from tests.support.http_server import LocalHttpServer


@pytest.fixture
def http_server():
    """A started `LocalHttpServer` on 127.0.0.1 (scripted replies, request log); stopped after."""
    with LocalHttpServer() as server:
        yield server


# --- warehouse and snapshot fixtures ------------------------------------------------------------

from pathlib import Path  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT_DIR = (REPO_ROOT / ".." / "shared" / "snapshot").resolve()


@pytest.fixture
def warehouse_env(tmp_path, monkeypatch):
    """An empty warehouse folder in tmp, selected through the environment like a user would."""
    folder = tmp_path / "warehouse"
    monkeypatch.setenv("CROSSWIND_WAREHOUSE_DIR", str(folder))
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    return folder


@pytest.fixture
def snapshot_dir():
    if not (SNAPSHOT_DIR / "README.md").is_file():
        pytest.skip(f"real snapshot not found at {SNAPSHOT_DIR} (only present on project machines)")
    return SNAPSHOT_DIR
