"""CROSSWIND_CATALOG: the settings choose the catalog file; unset, it is the repository's."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestration.lib.catalog import CATALOG_PATH, dump_catalog, load_catalog
from orchestration.lib.errors import CatalogError
from orchestration.lib.settings import DEFAULT_CATALOG_PATH, catalog_path, load_settings

REPO_CATALOG = Path(__file__).resolve().parents[1] / "orchestration" / "catalog.yaml"


def _small_catalog(folder: Path) -> Path:
    """The repository's catalog with one extra series, written to `folder/catalog.yaml`."""
    data = yaml.safe_load(REPO_CATALOG.read_text(encoding="utf-8"))
    data["series"]["WALCL_S01"] = {**data["series"]["WALCL"], "description": "test copy"}
    path = folder / "catalog.yaml"
    path.write_text(dump_catalog(data), encoding="utf-8")
    return path


def test_default_catalog_is_the_repository_file(monkeypatch):
    monkeypatch.delenv("CROSSWIND_CATALOG", raising=False)
    assert CATALOG_PATH == DEFAULT_CATALOG_PATH == REPO_CATALOG
    assert load_settings({}).catalog_path == REPO_CATALOG
    assert catalog_path({"CROSSWIND_CATALOG": "  "}) == REPO_CATALOG
    assert load_catalog() is load_catalog(CATALOG_PATH)  # one cached read, same object
    assert "WALCL_S01" not in load_catalog().series


def test_crosswind_catalog_overrides_the_default(tmp_path, monkeypatch):
    path = _small_catalog(tmp_path)
    monkeypatch.setenv("CROSSWIND_CATALOG", str(path))
    assert load_settings().catalog_path == path.resolve()
    assert "WALCL_S01" in load_catalog().series
    # An explicit path still wins over the variable.
    assert "WALCL_S01" not in load_catalog(CATALOG_PATH).series
    monkeypatch.delenv("CROSSWIND_CATALOG")
    assert "WALCL_S01" not in load_catalog().series


def test_relative_override_resolves_against_the_working_directory(tmp_path, monkeypatch):
    _small_catalog(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert catalog_path({"CROSSWIND_CATALOG": "catalog.yaml"}) == tmp_path / "catalog.yaml"


def test_catalog_path_ignores_unrelated_bad_settings(tmp_path, monkeypatch):
    """Reading the catalog does not depend on e.g. a bad CROSSWIND_SOURCE."""
    monkeypatch.setenv("CROSSWIND_SOURCE", "bogus")
    monkeypatch.setenv("CROSSWIND_CATALOG", str(_small_catalog(tmp_path)))
    assert "WALCL_S01" in load_catalog().series


def test_missing_override_file_names_the_path(tmp_path, monkeypatch):
    missing = tmp_path / "nope.yaml"
    monkeypatch.setenv("CROSSWIND_CATALOG", str(missing))
    with pytest.raises(CatalogError, match=r"nope\.yaml"):
        load_catalog()


def test_cache_clear_rereads(tmp_path):
    path = _small_catalog(tmp_path)
    first = load_catalog(path)
    assert load_catalog(path) is first
    load_catalog.cache_clear()
    assert load_catalog(path) is not first
