"""Units labels as FRED writes them resolve to the catalog's units through one normaliser; the
FRED-only catalog field `vintages`."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import pandas as pd
import pytest
import yaml

from orchestration.lib.catalog import (
    CATALOG_PATH,
    load_catalog,
    normalize_units_label,
    parse_catalog,
)
from orchestration.lib.errors import CatalogError
from orchestration.lib.quality import validate_batch
from orchestration.lib.raw_tables import FRED

CATALOG = load_catalog()

# FRED's own labels (series metadata `units`), the catalog key each resolves to, stored unit.
FRED_LABELS = [
    ("Index Feb 5, 1971=100", "Index Feb 5, 1971=100", "index"),  # NASDAQCOM
    ("Billions of US Dollars", "Billions of U.S. Dollars", "usd_bn"),  # RRPONTSYD
    ("Millions of U.S. Dollars", "Millions of U.S. Dollars", "usd_bn"),  # WALCL
    ("Billions of Dollars", "Billions of Dollars", "usd_bn"),  # GDP
    ("Percent", "Percent", "percent"),
    ("Thousands of Persons", "Thousands of Persons", "thousands"),  # PAYEMS
    ("Index 2015=100", "Index 2015=100", "index"),
    ("Index Jan 2006=100", "Index Jan 2006=100", "index"),  # DTWEXBGS
    ("U.S. Dollars to One Euro", "U.S. Dollars to One Euro", "usd_per_eur"),  # DEXUSEU
    ("Japanese Yen to One U.S. Dollar", "Japanese Yen to One U.S. Dollar", "jpy_per_usd"),
    ("Number", "Number", "count"),  # ICSA
    ("Dollars per Barrel", "Dollars per Barrel", "usd"),  # DCOILWTICO
    ("Index", "Index", "index"),  # VIXCLS, SP500
]


@pytest.mark.parametrize(("label", "key", "stored"), FRED_LABELS)
def test_fred_labels_resolve_to_catalog_units(label, key, stored):
    assert CATALOG.unit_key(label) == key
    assert CATALOG.unit(label).stored == stored


@pytest.mark.parametrize(
    ("variant", "key"),
    [
        ("billions of u.s. dollars", "Billions of U.S. Dollars"),
        ("Billions  of US\u00a0Dollars ", "Billions of U.S. Dollars"),
        ("Millions of U. S. Dollars", "Millions of U.S. Dollars"),
        ("Millions of U.S Dollars", "Millions of U.S. Dollars"),
        ("Index Feb. 5, 1971 = 100", "Index Feb 5, 1971=100"),
        ("Index Feb 5,1971=100", "Index Feb 5, 1971=100"),
        ("Japanese Yen to One US Dollar", "Japanese Yen to One U.S. Dollar"),
    ],
)
def test_spelling_variants_resolve_to_the_same_unit(variant, key):
    assert CATALOG.unit_key(variant) == key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Index 2015=100", "Index"),  # a rebased index is a reviewed change, not a spelling
        ("Index 2015=100", "Index 2017=100"),
        ("Millions of Dollars", "Billions of Dollars"),
        ("Index 1.5=100", "Index 15=100"),  # decimal points are not abbreviation dots
        ("Number", "Thousands of Number"),
    ],
)
def test_different_units_never_normalise_alike(a, b):
    assert normalize_units_label(a) != normalize_units_label(b)


def test_unknown_label_names_the_series_and_the_label():
    assert (
        CATALOG.unit_key("Millions of Euros") is None and CATALOG.unit("Millions of Euros") is None
    )
    with pytest.raises(CatalogError) as err:
        CATALOG.resolve_units(CATALOG.series["WALCL"], "Millions of Euros")
    assert "'Millions of Euros'" in str(err.value) and "WALCL" in str(err.value)


def test_a_label_of_another_kind_of_unit_is_refused():
    with pytest.raises(CatalogError, match="'Percent' of NASDAQCOM means percent, but the catalog"):
        CATALOG.resolve_units(CATALOG.series["NASDAQCOM"], "Percent")
    assert CATALOG.resolve_units(CATALOG.series["WTREGEN"], "Billions of US Dollars") == (
        "Billions of U.S. Dollars"  # the pre-2025 label converts with its own factor
    )


def test_every_catalog_series_label_resolves_to_itself():
    for s in CATALOG.series.values():
        assert CATALOG.resolve_units(s, s.units) == s.units


def test_labels_that_normalise_alike_are_refused_in_the_catalog():
    data = yaml.safe_load(CATALOG_PATH.read_text())
    data = copy.deepcopy(data)
    data["unit_labels"]["Billions of US Dollars"] = {"stored": "usd_bn", "factor": 1}
    with pytest.raises(CatalogError, match="are the same label"):
        parse_catalog(data)


def test_fred_labels_pass_the_magnitude_gate_with_their_own_factor():
    """NASDAQCOM published as `Index Feb 5, 1971=100` once failed `values outside the range`."""
    start = date(2026, 1, 5)
    rows = [
        ("NASDAQCOM", "Index Feb 5, 1971=100", 23_000.5),
        ("RRPONTSYD", "Billions of US Dollars", 5.2),
        ("WALCL", "Millions of U.S. Dollars", 6_605_909.0),
    ]
    frame = pd.DataFrame(
        [
            {
                "series_id": sid,
                "date": start + timedelta(days=i),
                "value": value,
                "units": CATALOG.resolve_units(CATALOG.series[sid], label),
                "realtime_start": pd.NaT,
            }
            for sid, label, value in rows
            for i in range(3)
        ]
    )
    outcomes = {o.name: o for o in validate_batch(frame, FRED, CATALOG, date(2026, 2, 1), "fred")}
    assert outcomes["magnitude_in_range"].passed, outcomes["magnitude_in_range"].summary
    # A real millions/billions slip is still caught: the label, not the value, was changed.
    slipped = frame.assign(units="Millions of U.S. Dollars")
    outcomes = {o.name: o for o in validate_batch(slipped, FRED, CATALOG, date(2026, 2, 1), "fred")}
    assert not outcomes["magnitude_in_range"].passed


def test_vintages_is_a_fred_only_catalog_field():
    data = yaml.safe_load(CATALOG_PATH.read_text())
    assert {s.id for s in CATALOG.series.values() if s.vintages} == {
        "PAYEMS",
        "UNRATE",
        "GDP",
        "ICSA",
    }
    data["series"]["JGB2Y"]["vintages"] = True
    with pytest.raises(CatalogError, match="vintages: true is for FRED series only"):
        parse_catalog(data)
