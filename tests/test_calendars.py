"""Publisher calendars: generated from the `holidays` package, named per series in the catalog."""

from __future__ import annotations

import copy
from datetime import date

import pytest
import yaml

from orchestration.defs.ingestion.catalog.assets import calendar_frames
from orchestration.lib.calendars import CALENDARS
from orchestration.lib.catalog import CATALOG_PATH, load_catalog, parse_catalog
from orchestration.lib.errors import CatalogError


@pytest.fixture(scope="module")
def frames():
    return calendar_frames()


def _closed(holidays_frame, calendar: str) -> set[date]:
    return set(holidays_frame.loc[holidays_frame["calendar"] == calendar, "date"])


def test_every_calendar_is_written_with_its_span(frames):
    spans, days = frames
    assert set(spans["calendar"]) == set(CALENDARS) == set(days["calendar"])
    assert not days.duplicated(["calendar", "date"]).any()
    span = spans.set_index("calendar")
    # SIFMA's calendar starts in 1996 in the package: business days are never invented before.
    assert span.loc["us_bond_market", "first_date"] == date(1996, 1, 1)
    assert span.loc["nyse", "first_date"] == date(1900, 1, 1)
    assert all("holidays" in p for p in span["provider"])


def test_closures_that_differ_between_publishers(frames):
    # Dates checked against the snapshot files: the DTS and EFFR have values on Good Friday
    # and on the days of mourning; SOFR and ON RRP have none on 2024-03-29 nor 2018-12-05; the
    # S&P 500 has no close on any of them; SOFR exists on 2025-01-09 (a bond-market early close).
    _, days = frames
    federal = _closed(days, "us_federal")
    bonds = _closed(days, "us_bond_market")
    nyse = _closed(days, "nyse")
    japan = _closed(days, "japan")
    good_friday, bush, carter = date(2024, 3, 29), date(2018, 12, 5), date(2025, 1, 9)
    assert date(2025, 7, 4) in federal and date(2025, 11, 27) in federal
    assert not {good_friday, bush, carter} & federal
    assert {good_friday, bush} <= bonds and carter not in bonds
    assert {good_friday, bush, carter} <= nyse
    assert date(2024, 10, 14) in bonds and date(2024, 10, 14) not in nyse  # Columbus Day
    # MOF: National Foundation Day and the year-end bank holidays.
    assert {date(2026, 2, 11), date(2025, 12, 31), date(2026, 1, 2)} <= japan


def test_each_series_names_its_release_calendar():
    catalog = load_catalog()
    calendars = {s.id: s.release_calendar for s in catalog.series.values()}
    # defaults per source
    assert calendars["TGA"] == calendars["WALCL"] == "us_federal"
    assert calendars["JGB2Y"] == "japan" and calendars["SPX"] == "nyse"
    # explicit: the New York Fed's rates, the equity indices on FRED
    assert calendars["SOFR"] == calendars["RRPONTSYD"] == "us_bond_market"
    assert calendars["VIXCLS"] == calendars["NASDAQCOM"] == "nyse"
    # H.4.1 is published the next business day (Friday when Thursday is a holiday)
    walcl = catalog.series["WALCL"]
    assert walcl.release_lag_business and walcl.release_lag_days == 1
    assert set(calendars.values()) <= set(CALENDARS)


def test_unknown_release_calendar_is_rejected():
    data = copy.deepcopy(yaml.safe_load(CATALOG_PATH.read_text()))
    data["series"]["SOFR"]["release_calendar"] = "london"
    with pytest.raises(CatalogError, match="release_calendar"):
        parse_catalog(data)
