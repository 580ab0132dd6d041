"""OFR Financial Stress Index: a published benchmark for crosswind's stress score, never an input.

The Office of Financial Research publishes the whole index as one CSV,
https://www.financialresearch.gov/financial-stress-index/data/fsi.csv (override:
CROSSWIND_OFR_URL), one row per business day:

    Date,OFR FSI,Credit,Equity valuation,Safe assets,Funding,Volatility,United States,
    Other advanced economies,Emerging markets
    2000-01-03,2.14,0.54,-0.051,0.67,0.472,0.509,1.769,0.521,-0.15

ISO dates, up to three decimals, 0 = average stress. The five categories (credit ... volatility)
add up to the index, and so do the three regions. OFR says the file "publishes with data that is
current from two business days prior" (catalog release_lag 2bd) and revises past values as its
inputs are revised, so a reload replaces them. Columns are matched by name, not position.

Replay reads `<snapshot>/ofr/fsi.csv`, the same bytes; `record` writes them unchanged once they
parse. One GET per fetch (no query string): the file always holds the full history.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from orchestration.lib.catalog import Series
from orchestration.lib.errors import SourceFormatError
from orchestration.lib.http import HttpClient
from orchestration.lib.settings import Settings
from orchestration.sources.base import (
    OBSERVATION_COLUMNS,
    Batch,
    contained_file,
    empty_observations,
    first_few,
)
from orchestration.sources.markets import read_dated_csv

log = logging.getLogger("crosswind.sources.ofr")

SOURCE = "ofr"
FILE_NAME = "fsi.csv"
DEFAULT_URL = "https://www.financialresearch.gov/financial-stress-index/data/fsi.csv"
URL_ENV = "CROSSWIND_OFR_URL"
# The file's header cell (after `Date`) -> catalog series id.
COLUMNS = {
    "OFR FSI": "OFR_FSI",
    "Credit": "OFR_FSI_CREDIT",
    "Equity valuation": "OFR_FSI_EQUITY_VALUATION",
    "Safe assets": "OFR_FSI_SAFE_ASSETS",
    "Funding": "OFR_FSI_FUNDING",
    "Volatility": "OFR_FSI_VOLATILITY",
    "United States": "OFR_FSI_UNITED_STATES",
    "Other advanced economies": "OFR_FSI_OTHER_ADVANCED",
    "Emerging markets": "OFR_FSI_EMERGING_MARKETS",
}
SERIES_COLUMNS = {series_id: column for column, series_id in COLUMNS.items()}
# The five categories add up to the index (so do the three regions).
CATEGORIES = (
    "OFR_FSI_CREDIT",
    "OFR_FSI_EQUITY_VALUATION",
    "OFR_FSI_SAFE_ASSETS",
    "OFR_FSI_FUNDING",
    "OFR_FSI_VOLATILITY",
)
REGIONS = ("OFR_FSI_UNITED_STATES", "OFR_FSI_OTHER_ADVANCED", "OFR_FSI_EMERGING_MARKETS")
INDEX_SERIES = "OFR_FSI"


def parse_fsi_csv(payload: bytes, origin: str = FILE_NAME) -> pd.DataFrame:
    """The published file -> one column per series id (NaN = empty cell) and `date`, by date.

    Raises SourceFormatError for a page that is not the file, a header missing any published
    column, an unparseable date or value, or a date given twice (two versions of one day).
    """
    wide = read_dated_csv(
        payload,
        source=SOURCE,
        series=INDEX_SERIES,
        file_name=origin,
        required=[column.lower() for column in COLUMNS],
    )
    repeated = wide.loc[wide["date"].duplicated(), "date"]
    if not repeated.empty:
        raise SourceFormatError(
            SOURCE,
            f"{origin}: repeated dates {first_few([d.isoformat() for d in repeated])}",
            INDEX_SERIES,
        )
    wide = wide.rename(columns={column.lower(): sid for column, sid in COLUMNS.items()})
    return wide.sort_values("date", kind="stable").reset_index(drop=True)


def to_observations(
    wide: pd.DataFrame, series: Sequence[Series], start: date | None
) -> pd.DataFrame:
    """Wide file -> the long observation frame for the requested series, on or after `start`."""
    if start is not None:
        wide = wide[wide["date"] >= start]
    parts = [
        pd.DataFrame(
            {
                "series_id": s.id,
                "date": wide["date"].to_numpy(dtype=object),
                "value": wide[s.id].to_numpy(dtype="float64"),
                "units": s.units,
            }
        )
        for s in series
    ]
    frame = pd.concat(parts, ignore_index=True) if parts else empty_observations()
    frame["realtime_start"] = pd.NaT
    return frame[OBSERVATION_COLUMNS]


class _OfrSource:
    name = SOURCE

    def __init__(self, mode: str):
        self.mode = mode

    def _payload(self) -> bytes | None:
        """The file's bytes; None when this source has none (no replay file)."""
        raise NotImplementedError

    def fetch(self, series: Sequence[Series], start: date | None = None) -> Batch:
        known = [s for s in series if s.id in SERIES_COLUMNS]
        absent = [s.id for s in series if s.id not in SERIES_COLUMNS]
        if not known:  # nothing this source publishes: no request
            return Batch(SOURCE, self.mode, empty_observations(), absent=absent)
        payload = self._payload()
        if payload is None:
            return Batch(SOURCE, self.mode, empty_observations(), absent=[s.id for s in series])
        wide = parse_fsi_csv(payload, origin=self.origin)
        return Batch(SOURCE, self.mode, to_observations(wide, known, start), absent=absent)

    def record(self, series: Sequence[Series], dest: Path) -> list[Path]:
        if not any(s.id in SERIES_COLUMNS for s in series):
            return []
        payload = self._payload()
        if payload is None:
            log.warning("ofr/%s: not available, nothing recorded", INDEX_SERIES)
            return []
        wide = parse_fsi_csv(payload, origin=self.origin)  # never record what replay can't read
        folder = Path(dest) / SOURCE
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / FILE_NAME
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(payload)
        tmp.replace(path)
        log.info("ofr/%s: %d days -> %s", INDEX_SERIES, len(wide), path)
        return [path]

    @property
    def origin(self) -> str:
        raise NotImplementedError


class OfrReplaySource(_OfrSource):
    """Reads `<folder>/ofr/fsi.csv`."""

    def __init__(self, folder: Path, mode: str = "replay"):
        super().__init__(mode)
        self.path = Path(folder) / SOURCE / FILE_NAME

    @property
    def origin(self) -> str:
        return str(self.path)

    def _payload(self) -> bytes | None:
        return self.path.read_bytes() if contained_file(self.path, SOURCE) else None


class OfrLiveSource(_OfrSource):
    """Downloads the published file (or `CROSSWIND_OFR_URL`) through the project's HttpClient."""

    def __init__(self, url: str = DEFAULT_URL, client: HttpClient | None = None):
        super().__init__("live")
        self.url = url
        self.client = client or HttpClient(SOURCE)

    @property
    def origin(self) -> str:
        return FILE_NAME

    def _payload(self) -> bytes:
        return self.client.get(self.url, series=INDEX_SERIES, expect="csv").content


def make_source(settings: Settings) -> _OfrSource:
    if settings.source_mode == "live":
        return OfrLiveSource(settings.value(URL_ENV) or DEFAULT_URL)
    return OfrReplaySource(settings.replay_dir, mode=settings.source_mode)
