"""The catalog's plausibility fields: every series has a first date and a jump limit that can
see a decimal slip; a limit that could not is refused at load."""

from __future__ import annotations

import copy
import math

import pytest
import yaml

from orchestration.lib.catalog import CATALOG_PATH, load_catalog, parse_catalog
from orchestration.lib.errors import CatalogError


@pytest.fixture
def raw():
    return yaml.safe_load(CATALOG_PATH.read_text())


def test_every_series_can_see_a_decimal_slip():
    catalog = load_catalog()
    for series in catalog.series.values():
        assert series.first_date.year >= 1700, series.id
        jump = series.jump
        assert jump.max_log is None or jump.max_log < math.log(10), series.id
    assert catalog.margins.jump.max_log < math.log(10)
    assert all(p.required for p in catalog.margins.products.values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"jump": {"max_log": 2.5}}, "max_log"),  # x12: a x10 slip would pass
        ({"jump": {"on_breach": "warn"}}, "jump needs max_log, max_abs or both"),
        ({"jump": {"max_abs": 1, "on_breach": "maybe"}}, "on_breach"),
        ({"first_date": "sometime"}, "first_date"),
    ],
)
def test_a_limit_that_could_not_work_is_refused(raw, change, message):
    data = copy.deepcopy(raw)
    data["series"]["SOFR"].update(change)
    with pytest.raises(CatalogError, match=message):
        parse_catalog(data)


@pytest.mark.parametrize("field", ["first_date", "jump"])
def test_a_series_without_plausibility_fields_is_refused(raw, field):
    data = copy.deepcopy(raw)
    del data["series"]["WALCL"][field]
    with pytest.raises(CatalogError, match=field):
        parse_catalog(data)
