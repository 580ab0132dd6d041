"""Robert Shiller's monthly workbook `ie_data.xls`: S&P Composite price, dividends, earnings,
CPI, GS10 and CAPE since 1871.

The workbook is laid out for people: a sheet "Data" with a multi-line header whose last line
(row 8 today) starts with "Date", dates written as the number `1871.01`, footnotes under the
last month, and "NA" where CAPE needs ten years of earnings it does not have yet.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import pandas as pd
import xlrd

from orchestration.lib.catalog import Series
from orchestration.lib.errors import SourceFormatError
from orchestration.lib.http import HttpClient
from orchestration.lib.settings import Settings
from orchestration.sources.base import OBSERVATION_COLUMNS, Batch, contained_file

SOURCE = "shiller"
FILE_NAME = "ie_data.xls"
SHEET = "Data"
DEFAULT_URL = (
    "https://img1.wsimg.com/blobby/go/e5e77e0b-59d1-44d9-ab25-4763ac982e53/downloads/ie_data.xls"
)
URL_ENV = "CROSSWIND_SHILLER_URL"
# series id -> the header cell of its column on the "Date" row.
COLUMNS = {
    "SHILLER_PRICE": "P",
    "SHILLER_DIVIDEND": "D",
    "SHILLER_EARNINGS": "E",
    "SHILLER_CPI": "CPI",
    "SHILLER_GS10": "Rate GS10",
    "SHILLER_CAPE": "CAPE",
}
MISSING_TEXT = {"", "NA", "N/A", "#N/A"}
HEADER_SEARCH_ROWS = 30


def month_from_decimal(value: float) -> date:
    """1871.01 -> 1871-01-01. October is stored as 1871.1, so the fraction is rounded x100."""
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a date")
    year = math.floor(value)
    month = round((value - year) * 100)
    if not 1 <= month <= 12:
        raise ValueError(f"{value!r} has no month 01-12 after the point")
    return date(year, month, 1)


def parse_workbook(payload: bytes, series: Sequence[Series] | None = None) -> pd.DataFrame:
    """The workbook -> long observations (units left empty) for the series in COLUMNS."""
    wanted = [s.id for s in series] if series is not None else list(COLUMNS)
    try:
        book = xlrd.open_workbook(file_contents=payload, on_demand=True)
    except Exception as exc:  # xlrd raises XLRDError, struct.error, AssertionError on junk
        raise SourceFormatError(
            SOURCE, f"{FILE_NAME} is not a readable .xls workbook ({type(exc).__name__}: {exc})"
        ) from None
    if SHEET not in book.sheet_names():
        raise SourceFormatError(
            SOURCE, f"{FILE_NAME} has no sheet {SHEET!r} (sheets: {book.sheet_names()})"
        )
    sheet = book.sheet_by_name(SHEET)
    header_row = next(
        (
            r
            for r in range(min(sheet.nrows, HEADER_SEARCH_ROWS))
            if str(sheet.cell_value(r, 0)).strip() == "Date"
        ),
        None,
    )
    if header_row is None:
        raise SourceFormatError(
            SOURCE, f"{FILE_NAME}: no header row starting with 'Date' in sheet {SHEET!r}"
        )
    headers = [str(v).strip() for v in sheet.row_values(header_row)]
    column_of = {}
    for series_id in wanted:
        label = COLUMNS.get(series_id)
        if label is None:
            continue
        if label not in headers:
            raise SourceFormatError(
                SOURCE, f"{FILE_NAME}: header has no {label!r} column (found {headers})", series_id
            )
        column_of[series_id] = headers.index(label)

    dates: list[date] = []
    values: dict[str, list[float]] = {sid: [] for sid in column_of}
    for r in range(header_row + 1, sheet.nrows):
        first = sheet.cell(r, 0)
        if first.ctype != xlrd.XL_CELL_NUMBER:
            break  # footnotes under the last month
        try:
            month = month_from_decimal(first.value)
        except ValueError as exc:
            raise SourceFormatError(
                SOURCE, f"{FILE_NAME} row {r + 1}: impossible date {first.value!r} ({exc})"
            ) from None
        dates.append(month)
        for series_id, col in column_of.items():
            values[series_id].append(_cell_value(sheet, r, col, series_id, month))

    parts = [
        pd.DataFrame(
            {
                "series_id": series_id,
                "date": pd.Series(dates, dtype=object),
                "value": pd.Series(series_values, dtype="float64"),
            }
        )
        for series_id, series_values in values.items()
    ]
    if not parts:
        return pd.DataFrame(
            {"series_id": pd.Series(dtype=object), "date": pd.Series(dtype=object), "value": []}
        )
    return pd.concat(parts, ignore_index=True)


def _cell_value(sheet, row: int, col: int, series_id: str, month: date) -> float:
    if col >= sheet.row_len(row):
        return math.nan
    cell = sheet.cell(row, col)
    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
        return math.nan  # error cells are Excel's #N/A / #DIV/0!: no value that month
    text = str(cell.value).strip()
    if cell.ctype != xlrd.XL_CELL_NUMBER and text.upper() in MISSING_TEXT:
        return math.nan
    try:
        value = float(cell.value) if cell.ctype == xlrd.XL_CELL_NUMBER else float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):  # text "inf"/"nan", 1e400, or a number cell holding inf/NaN
        raise SourceFormatError(
            SOURCE,
            f"{FILE_NAME} row {row + 1} ({month:%Y-%m}): non-numeric value {text!r}",
            series_id,
        )
    return value


class _ShillerSource:
    name = SOURCE

    def __init__(self, mode: str):
        self.mode = mode

    def _payload(self) -> bytes | None:
        raise NotImplementedError

    def fetch(self, series: Sequence[Series], start: date | None = None) -> Batch:
        known = [s for s in series if s.id in COLUMNS]
        absent = [s.id for s in series if s.id not in COLUMNS]
        payload = self._payload()
        if payload is None:
            return Batch(SOURCE, self.mode, _empty(), absent=[s.id for s in series])
        long = parse_workbook(payload, known)
        if start is not None:
            long = long[long["date"] >= start]
        units = {s.id: s.units for s in known}
        long = long.assign(units=long["series_id"].map(units), realtime_start=pd.NaT)
        return Batch(
            SOURCE, self.mode, long[OBSERVATION_COLUMNS].reset_index(drop=True), absent=absent
        )

    def record(self, series: Sequence[Series], dest: Path) -> list[Path]:
        payload = self._payload()
        if payload is None:
            return []
        parse_workbook(payload)  # never record a workbook replay could not read
        folder = Path(dest) / SOURCE
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / FILE_NAME
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(payload)
        tmp.replace(path)
        return [path]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in OBSERVATION_COLUMNS}).astype(
        {"value": "float64"}
    )


class ShillerReplay(_ShillerSource):
    """Reads `<folder>/shiller/ie_data.xls`."""

    def __init__(self, folder: Path, mode: str = "replay"):
        super().__init__(mode)
        self.path = Path(folder) / SOURCE / FILE_NAME

    def _payload(self) -> bytes | None:
        return self.path.read_bytes() if contained_file(self.path, SOURCE) else None


class ShillerLive(_ShillerSource):
    """Downloads the published workbook (or `CROSSWIND_SHILLER_URL`)."""

    def __init__(self, url: str = DEFAULT_URL, client: HttpClient | None = None):
        super().__init__("live")
        self.url = url
        self._client = client

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            self._client = HttpClient(SOURCE)
        return self._client

    def _payload(self) -> bytes:
        return self.client.get(self.url, expect="binary").content


def make_source(settings: Settings, env: Mapping[str, str] | None = None) -> _ShillerSource:
    env = os.environ if env is None else env
    if settings.source_mode == "live":
        return ShillerLive(env.get(URL_ENV) or DEFAULT_URL)
    return ShillerReplay(settings.replay_dir, mode=settings.source_mode)
