"""The series catalog is the reviewed source of truth: it must load, and reject bad entries."""

from __future__ import annotations

import copy

import pytest
import yaml

from orchestration.lib.catalog import CATALOG_PATH, load_catalog, parse_catalog
from orchestration.lib.errors import CatalogError

REQUIRED_FRED = (
    "WALCL RRPONTSYD WRESBAL SOFR IORB EFFR DGS2 DGS10 DEXJPUS BAMLH0A0HYM2 VIXCLS SP500 "
    "NASDAQCOM DJIA DCOILWTICO CBBTCUSD GDP NCBEILQ027S PAYEMS UNRATE ICSA"
).split()


@pytest.fixture
def raw():
    return yaml.safe_load(CATALOG_PATH.read_text())


def test_catalog_lists_every_series_the_marts_need():
    catalog = load_catalog()
    fred = {s.id for s in catalog.for_source("fred")}
    assert set(REQUIRED_FRED) <= fred
    assert fred & {"WTREGEN", "WDTGAL"}
    assert catalog.stored_value("WALCL", 6_745_699, "Millions of U.S. Dollars") == pytest.approx(
        6745.699
    )
    assert catalog.stored_value("RRPONTSYD", 120.0, None) == 120.0


@pytest.mark.parametrize(
    "bad_id", ["WALCL'; DROP TABLE x; --", "../../etc/passwd", "a/b", "walcl", 'X"Y', ""]
)
def test_series_ids_that_could_inject_sql_or_paths_are_rejected(raw, bad_id):
    data = copy.deepcopy(raw)
    data["series"][bad_id] = data["series"]["WALCL"]
    with pytest.raises(CatalogError, match="series id"):
        parse_catalog(data)


def test_unknown_units_label_and_inverted_range_are_rejected(raw):
    data = copy.deepcopy(raw)
    data["series"]["WALCL"]["units"] = "Millions of Euros"
    with pytest.raises(CatalogError, match="unit_labels"):
        parse_catalog(data)
    data = copy.deepcopy(raw)
    data["series"]["WALCL"]["range"] = [15000, 500]
    with pytest.raises(CatalogError, match="min < max"):
        parse_catalog(data)


def test_staleness_must_outlast_release_lag_plus_a_period(raw):
    data = copy.deepcopy(raw)
    data["series"]["GDP"]["staleness_days"] = 200  # 120 d lag + 92 d quarter: lapses every year
    with pytest.raises(CatalogError, match="staleness_days 200"):
        parse_catalog(data)


def test_a_catalog_is_parsed_once_per_version_of_its_file(tmp_path):
    """Unchanged: the same parsed object (a 100x catalog takes ~4 s to parse). Edited: the new
    content, without a cache_clear (a long-lived code server sees the edit)."""
    path = tmp_path / "catalog.yaml"
    text = CATALOG_PATH.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    first = load_catalog(path)
    assert load_catalog(path) is first
    data = yaml.safe_load(text)
    series_id = next(iter(data["series"]))
    data["series"][series_id]["description"] = "edited while the process runs"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    edited = load_catalog(path)
    assert edited is not first
    assert edited.series[series_id].description == "edited while the process runs"
