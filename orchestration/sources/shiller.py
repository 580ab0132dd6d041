"""Robert Shiller's monthly workbook `ie_data.xls`: S&P Composite price, dividends, earnings,
CPI, GS10 and CAPE since 1871.

The workbook is laid out for people: a sheet "Data" with a multi-line header whose last line
(row 8 today) starts with "Date", dates written as the number `1871.01`, footnotes under the
last month, and "NA" where CAPE needs ten years of earnings it does not have yet. Older uploads
have notes typed into value cells (`Jan 15 long rate is Jan 8 value`): such a cell is read as
missing and reported in `Batch.warnings`, naming the row; it never aborts the source.

Where the workbook lives. Shiller's page (https://shillerdata.com/, a GoDaddy site) links the
current upload under a path that changes with every upload,
`//img1.wsimg.com/blobby/go/<site>/downloads/<upload-id>/ie_data.xls?ver=<upload ms>`, while the
address without the upload folder (`.../downloads/ie_data.xls`) keeps answering 200 with a copy
frozen in 2024. So the live client fetches the page (`CROSSWIND_SHILLER_PAGE_URL`) and follows
its link to `ie_data.xls`; `CROSSWIND_SHILLER_URL` pins a workbook address and skips the page.
No genuine copy of the page's HTML could be found to test against: discovery is built on the
link shape that public scripts and reports quote (plain, protocol-relative, or with JSON-escaped
slashes inside the page's scripts), tested on hand-written pages. If the page changes
and no link is found, the error says to set CROSSWIND_SHILLER_URL.

A frozen copy is made visible, not guessed away: `Batch.newest` holds each series' newest month
in the workbook (before any `start` filter), which the generic frozen-source check compares with
the series' staleness limit.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

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
DEFAULT_PAGE_URL = "https://shillerdata.com/"
PAGE_URL_ENV = "CROSSWIND_SHILLER_PAGE_URL"
URL_ENV = "CROSSWIND_SHILLER_URL"  # pins the workbook address: no page discovery
# A link to the workbook: an absolute, protocol-relative or root-relative URL whose path ends in
# /ie_data.xls, with an optional query (`?ver=...`). A bare "ie_data.xls" in prose is not a link.
WORKBOOK_LINK_RE = re.compile(
    r"""[^\s"'<>()\[\]{},;=]*/ie_data\.xls(?![\w.-])(?:\?[^\s"'<>()\[\]{},;]*)?""", re.I
)
# The upload folder GoDaddy gives each upload; the address without one serves the 2024 copy.
UPLOAD_FOLDER_RE = re.compile(r"/downloads/[^/]+/ie_data\.xls$", re.I)
SHOWN_TEXT = 60  # characters of a note quoted in a warning
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
    if not date.min.year <= year <= date.max.year:  # date() raises OverflowError beyond int32
        raise ValueError(f"{value!r} has no year {date.min.year}-{date.max.year}")
    if not 1 <= month <= 12:
        raise ValueError(f"{value!r} has no month 01-12 after the point")
    return date(year, month, 1)


def parse_workbook(
    payload: bytes, series: Sequence[Series] | None = None, warnings: list[str] | None = None
) -> pd.DataFrame:
    """The workbook -> long observations (units left empty) for the series in COLUMNS.

    Text typed into a value cell becomes NaN and a message in `warnings` (when given).
    """
    notes = warnings if warnings is not None else []
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
            values[series_id].append(_cell_value(sheet, r, col, series_id, month, notes))

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


def _cell_value(
    sheet, row: int, col: int, series_id: str, month: date, warnings: list[str]
) -> float:
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
        pass  # not a number: a note, below
    else:
        if not math.isfinite(value):  # "inf", "nan", 1e400, or a number cell holding inf/NaN
            raise SourceFormatError(
                SOURCE,
                f"{FILE_NAME} row {row + 1} ({month:%Y-%m}): non-numeric value {text!r}",
                series_id,
            )
        return value
    # A person's note where a number belongs (`Jan 15 long rate is Jan 8 value`): the month has
    # no value in this column. The missing-share gate still stops a workbook made of notes.
    shown = text if len(text) <= SHOWN_TEXT else text[: SHOWN_TEXT - 1] + "…"
    warnings.append(
        f"[{SOURCE}/{series_id}] {FILE_NAME} row {row + 1} ({month:%Y-%m}): "
        f"text {shown!r} in a value cell, read as missing"
    )
    return math.nan


def newest_dates(frame: pd.DataFrame) -> dict[str, date]:
    """Series id -> its newest month with a value (long observation frame)."""
    valued = frame[frame["value"].notna()]
    return {str(k): v for k, v in valued.groupby("series_id")["date"].max().items()}


def find_workbook_url(page: str, page_url: str) -> str:
    """The address of the current `ie_data.xls` linked from Shiller's page.

    Accepts the link as an attribute (`href="//img1.wsimg.com/.../ie_data.xls?ver=1"`), HTML-
    escaped (`&amp;`) or JSON-escaped in a script (`https:\\/\\/...`, `\\u002F`). Several
    distinct links: the one in an upload folder with the highest `ver` (the upload time in ms).
    """
    text = html.unescape(page)
    text = re.sub(r"\\u002[fF]", "/", text).replace("\\/", "/")
    links = {urljoin(page_url, m.group(0)) for m in WORKBOOK_LINK_RE.finditer(text)}
    if not links:
        raise SourceFormatError(
            SOURCE,
            f"no link to {FILE_NAME} on {page_url} (the page changed?); set {URL_ENV} to the "
            "workbook's address",
        )
    return max(links, key=_link_rank)


def _link_rank(url: str) -> tuple[bool, int, str]:
    parts = urlsplit(url)
    versions = parse_qs(parts.query).get("ver", [""])
    version = int(versions[0]) if versions[0].isdigit() else -1
    return bool(UPLOAD_FOLDER_RE.search(parts.path)), version, url


class _ShillerSource:
    name = SOURCE

    def __init__(self, mode: str):
        self.mode = mode

    def _payload(self) -> bytes | None:
        raise NotImplementedError

    def _source_warnings(self) -> list[str]:
        """Warnings about where the workbook came from (live: a frozen-looking address)."""
        return []

    def fetch(self, series: Sequence[Series], start: date | None = None) -> Batch:
        known = [s for s in series if s.id in COLUMNS]
        absent = [s.id for s in series if s.id not in COLUMNS]
        payload = self._payload()
        if payload is None:
            return Batch(SOURCE, self.mode, _empty(), absent=[s.id for s in series])
        warnings = self._source_warnings()
        long = parse_workbook(payload, known, warnings)
        newest = newest_dates(long)  # the whole workbook: a frozen copy shows whatever `start`
        if start is not None:
            long = long[long["date"] >= start]
        units = {s.id: s.units for s in known}
        long = long.assign(units=long["series_id"].map(units), realtime_start=pd.NaT)
        return Batch(
            SOURCE,
            self.mode,
            long[OBSERVATION_COLUMNS].reset_index(drop=True),
            absent=absent,
            newest=newest,
            warnings=warnings,
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
    """Finds the current workbook on Shiller's page and downloads it.

    `workbook_url` (CROSSWIND_SHILLER_URL) pins the workbook and skips the page. After a fetch,
    `workbook_url` is the address the workbook came from.
    """

    def __init__(
        self,
        page_url: str = DEFAULT_PAGE_URL,
        workbook_url: str | None = None,
        client: HttpClient | None = None,
    ):
        super().__init__("live")
        self.page_url = page_url
        self.pinned_url = workbook_url
        self.workbook_url = workbook_url
        self._client = client

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            self._client = HttpClient(SOURCE)
        return self._client

    def discover(self) -> str:
        """GET the page, return the workbook link on it."""
        page = self.client.get(self.page_url).content
        if not page.strip():
            raise SourceFormatError(SOURCE, f"{self.page_url}: empty page, expected HTML")
        return find_workbook_url(page.decode("utf-8", "replace"), self.page_url)

    def _payload(self) -> bytes:
        self.workbook_url = self.pinned_url or self.discover()
        return self.client.get(self.workbook_url, expect="binary").content

    def _source_warnings(self) -> list[str]:
        path = urlsplit(self.workbook_url or "").path
        if path.lower().endswith("/downloads/ie_data.xls"):
            return [
                f"[{SOURCE}] {self.workbook_url}: an address without an upload folder, like the "
                "one known to serve a copy frozen in 2024; check the workbook's newest month"
            ]
        return []


def make_source(settings: Settings) -> _ShillerSource:
    if settings.source_mode == "live":
        return ShillerLive(
            settings.value(PAGE_URL_ENV) or DEFAULT_PAGE_URL, settings.value(URL_ENV) or None
        )
    return ShillerReplay(settings.replay_dir, mode=settings.source_mode)
