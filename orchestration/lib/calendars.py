"""Publisher holiday calendars, generated at run time from the maintained `holidays` package.

A series' business-day release lag ("1bd" in orchestration/catalog.yaml) counts business days
of its publisher's calendar (the catalog field `release_calendar`). The catalog asset writes
these calendars into raw_meta.calendars / raw_meta.calendar_holidays; dbt derives business days,
publication dates, quarter ends and the equity trading calendar from them. No date is typed here.

Why `holidays` (python-holidays) and which of its calendars, checked against the snapshot:
  us_federal      US federal legal holidays (`holidays.US()`, public category only). The Fed
                  (H.4.1, H.15, EFFR, IORB) and the Treasury (Daily Treasury Statement) publish on
                  these days: the DTS has statements for Good Friday and for the government
                  closures by executive order (2025-01-09, 2018-12-05; EFFR too), so the
                  `government` category (which adds those closures) would delay them wrongly.
  us_bond_market  SIFMA's recommended full closes (`financial_holidays("USGS")`, US government
                  securities; from 1996): the New York Fed publishes SOFR on these business days
                  (no SOFR and no ON RRP for Good Friday 2024-03-29 or 2018-12-05; SOFR for
                  2025-01-09, an early close, exists).
  nyse            NYSE closures including the special ones (`financial_holidays("XNYS")`:
                  2018-12-05, 2025-01-09, 9/11, Hurricane Sandy); it equals the dates of the
                  snapshot's S&P 500 closes exactly since 1971.
  japan           Japanese national and bank holidays (`holidays.JP`, public + bank: MOF does not
                  publish on 31 Dec - 3 Jan either).
pandas_market_calendars / exchange_calendars cover NYSE and SIFMA as well but not US federal or
Japanese bank holidays, and pull in far more dependencies; `holidays` covers all four.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import holidays

CalendarName = Literal["us_federal", "us_bond_market", "nyse", "japan"]

# The span written to raw_meta: wide enough for every history the marts read (the 10-year yield
# starts in 1962, the S&P 500 in 1927) and clipped to each calendar's own supported years.
FIRST_YEAR = 1900
LAST_YEAR = 2099


@dataclass(frozen=True)
class PublisherCalendar:
    name: str
    description: str
    provider: str  # the package call, shown in the warehouse so a reader can check it

    def _holiday_class(self) -> type[holidays.HolidayBase]:
        return type(self._build(years=[]))

    def _build(self, years) -> holidays.HolidayBase:
        if self.name == "us_federal":
            return holidays.US(years=years, categories=(holidays.PUBLIC,))
        if self.name == "us_bond_market":
            return holidays.financial_holidays("USGS", years=years)
        if self.name == "nyse":
            return holidays.financial_holidays("XNYS", years=years)
        if self.name == "japan":
            return holidays.JP(years=years, categories=(holidays.PUBLIC, holidays.BANK))
        raise ValueError(f"unknown calendar {self.name!r}")

    def years(self) -> range:
        cls = self._holiday_class()
        return range(max(FIRST_YEAR, cls.start_year), min(LAST_YEAR, cls.end_year) + 1)

    def holidays(self) -> list[tuple[date, str]]:
        """(date, name) of every holiday in the covered years, weekends included as published."""
        return sorted(self._build(years=self.years()).items())


CALENDARS: dict[str, PublisherCalendar] = {
    c.name: c
    for c in (
        PublisherCalendar(
            "us_federal",
            "US federal holidays: Fed (H.4.1, H.15) and Treasury (DTS) publication days",
            "holidays.US(categories=PUBLIC)",
        ),
        PublisherCalendar(
            "us_bond_market",
            "SIFMA US bond-market full closes: New York Fed SOFR and ON RRP publication days",
            "holidays.financial_holidays('USGS')",
        ),
        PublisherCalendar(
            "nyse",
            "NYSE closures, special closures included: the equity trading calendar",
            "holidays.financial_holidays('XNYS')",
        ),
        PublisherCalendar(
            "japan",
            "Japanese national and bank holidays: Ministry of Finance publication days",
            "holidays.JP(categories=PUBLIC, BANK)",
        ),
    )
}

# The calendar a source's release lags count on unless a series names another one.
SOURCE_DEFAULT_CALENDAR: dict[str, CalendarName] = {
    "fred": "us_federal",
    "treasury": "us_federal",
    "mof": "japan",
    "markets": "nyse",
    "shiller": "us_federal",
    "drops": "us_federal",
    "ofr": "us_federal",
}
