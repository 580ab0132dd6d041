"""Daily market bars (gold, silver, MOVE, USD/JPY, crypto, index proxies) behind a provider.

A provider returns one symbol's bars; the `MarketsSource` wrapper turns catalog series into a
`Batch` in BAR_COLUMNS. Two providers ship:

- `CsvFolderProvider(folder)` reads `<folder>/<SERIES_ID>.csv` (`date,close` or
  `date,open,high,low,close[,volume]`). Replay and sample mode use it over `<replay_dir>/markets`;
  live mode uses it when `CROSSWIND_MARKETS_DIR` names a folder (a vendor export, say).
- `YahooChartProvider` (live mode's default) reads Yahoo Finance's v8 chart API through the
  project's `HttpClient` (timeouts, retries, pacing), at `CROSSWIND_YAHOO_URL` (default
  https://query1.finance.yahoo.com), mapping our ids to Yahoo symbols through the catalog
  `live` field. It stores Yahoo's unadjusted `close`: the adjusted one is rewritten back through
  history at every dividend, so it is not what was known on the day.
"""

from __future__ import annotations

import io
import json
import math
import time as time_module
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from orchestration.lib.catalog import Series, series_file
from orchestration.lib.errors import SourceError, SourceFormatError, SourceUnreachable
from orchestration.lib.http import HttpClient, SourceHttpError
from orchestration.lib.settings import Settings
from orchestration.sources.base import BAR_COLUMNS, Batch, contained_file, read_window

SOURCE = "markets"
FOLDER_ENV = "CROSSWIND_MARKETS_DIR"
PRICE_COLUMNS = ["open", "high", "low", "close", "volume"]
# Yahoo's own CSV export writes "null" for a day without a quote.
MISSING_TEXT = {"", "null", "nan", "NaN", "."}

YAHOO_URL_ENV = "CROSSWIND_YAHOO_URL"
YAHOO_DEFAULT_URL = "https://query1.finance.yahoo.com"
CHART_PATH = "/v8/finance/chart/"
# Yahoo answers 429 "Too Many Requests" to clients that do not look like a browser (public
# clients' threads, 2024-2025); the chart endpoint itself needs no cookie or crumb.
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/138.0.0.0 Safari/537.36"
)
YAHOO_MIN_INTERVAL = 1.0  # seconds between two requests: one symbol a second, never a burst
# Yahoo refuses a daily range longer than 100 years ("Only 100 years worth of day granularity
# data are allowed to be fetched per request"), so "full history" is the last 99.
FULL_HISTORY = timedelta(days=99 * 365)
PRICE_ONLY = ["open", "high", "low", "close"]


def read_dated_csv(
    payload: bytes,
    *,
    source: str,
    series: str,
    file_name: str,
    required: Sequence[str],
    optional: Sequence[str] = (),
    month_dates: bool = False,
) -> pd.DataFrame:
    """A `date,<numbers>` CSV -> frame with `date` (datetime.date) and float columns.

    Header names are matched without regard to case or surrounding spaces; unknown extra
    columns are ignored. Raises SourceFormatError on bad encoding, a missing required column,
    an unparseable date, or a non-numeric or non-finite value. Duplicate dates are kept: the
    quality gate reports them with context. `month_dates` also accepts `YYYY-MM` (first of the
    month).
    """
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceFormatError(source, f"{file_name}: not UTF-8 text", series) from None
    if text.lstrip()[:1] == "<":
        raise SourceFormatError(source, f"{file_name}: an HTML/XML page, not CSV", series)
    try:
        raw = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SourceFormatError(source, f"{file_name}: not a CSV table ({exc})", series) from None
    raw = raw.fillna("")  # short rows: the cells they lack are empty, not the text "nan"
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = [c for c in ("date", *required) if c not in raw.columns]
    if missing:
        raise SourceFormatError(
            source,
            f"{file_name}: header {list(raw.columns)} lacks {missing} "
            f"(expected date,{','.join(required)})",
            series,
        )
    text_dates = raw["date"].str.strip()
    dates = pd.to_datetime(text_dates, format="%Y-%m-%d", errors="coerce")
    if month_dates:
        dates = dates.fillna(pd.to_datetime(text_dates, format="%Y-%m", errors="coerce"))
    if dates.isna().any():
        at = int(dates.isna().to_numpy().argmax())
        raise SourceFormatError(
            source,
            f"{file_name} line {at + 2}: unparseable date {raw['date'].iloc[at]!r} "
            "(expected YYYY-MM-DD)",
            series,
        )
    out = pd.DataFrame({"date": pd.Series(dates.dt.date.to_numpy(), dtype=object)})
    for column in (*required, *optional):
        if column not in raw.columns:
            out[column] = pd.Series(float("nan"), index=out.index, dtype="float64")
            continue
        cells = raw[column].str.strip()
        blank = cells.isin(MISSING_TEXT)
        numbers = pd.to_numeric(cells.where(~blank), errors="coerce")
        for bad, what in (
            (numbers.isna() & ~blank, "non-numeric"),
            # "inf", "Infinity" and 1e400 parse as numbers but are no price or level.
            (numbers.isin([math.inf, -math.inf]), "non-finite"),
        ):
            if bad.any():
                at = int(bad.to_numpy().argmax())
                raise SourceFormatError(
                    source,
                    f"{file_name} line {at + 2} ({text_dates.iloc[at]}): {what} {column} "
                    f"{raw[column].iloc[at]!r}",
                    series,
                )
        out[column] = numbers.astype("float64").to_numpy()
    return out


class BarProvider(Protocol):
    """Daily bars for one catalog series; None when the provider does not have it."""

    name: str

    def bars(self, series: Series, start: date | None = None) -> pd.DataFrame | None:
        """Columns date (datetime.date), open, high, low, close, volume (floats, NaN = none)."""
        ...


class CsvFolderProvider:
    """`<folder>/<SERIES_ID>.csv`, as in the snapshot's `markets/` folder."""

    name = "csv-folder"

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, series: Series) -> Path:
        return series_file(self.folder, series.id)

    def bars(self, series: Series, start: date | None = None) -> pd.DataFrame | None:
        path = self.path(series)
        if contained_file(path, SOURCE, series.id) is None:
            return None
        frame = read_dated_csv(
            read_window(path, start, ("date",)),  # as Yahoo's `period1` sends it
            source=SOURCE,
            series=series.id,
            file_name=str(path),
            required=["close"],
            optional=["open", "high", "low", "volume"],
        )
        if start is not None:
            frame = frame[frame["date"] >= start]
        return frame[["date", *PRICE_COLUMNS]]


class YahooChartProvider:
    """Yahoo Finance's v8 chart API: `GET {base}/v8/finance/chart/{symbol}`, one symbol a call.

    Our ids map to Yahoo symbols through the catalog `live` field. `clock` gives "now" (the end of
    the requested range, and whether today's session has closed); `sleep` (pacing and backoff of
    the default client) and `client` are injectable so tests never wait.
    """

    name = "yahoo-chart"

    def __init__(
        self,
        base_url: str = YAHOO_DEFAULT_URL,
        client: HttpClient | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time_module.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.client = client or HttpClient(
            SOURCE, min_interval=YAHOO_MIN_INTERVAL, max_retries=3, backoff_base=2.0, sleep=sleep
        )
        self.client.session.headers["User-Agent"] = BROWSER_USER_AGENT
        self._clock = clock

    def chart_url(self, symbol: str) -> str:
        return self.base_url + CHART_PATH + quote(symbol, safe="")

    def bars(self, series: Series, start: date | None = None) -> pd.DataFrame | None:
        symbol = series.live or series.id
        now = self._clock()
        period2 = int(now.timestamp())
        if start is None:
            period1 = period2 - int(FULL_HISTORY.total_seconds())
        else:
            # A day early: exchanges east of UTC stamp a day's bar before UTC midnight (JPY=X
            # starts at 00:00 London, 23:00 UTC in summer); the frame is cut at `start` below.
            period1 = int(datetime.combine(start - timedelta(days=1), time(), UTC).timestamp())
        params = {
            "period1": str(period1),
            "period2": str(period2),
            "interval": "1d",
            "includePrePost": "false",
        }
        try:
            response = self.client.get(
                self.chart_url(symbol), params=params, series=series.id, expect="json"
            )
        except SourceHttpError as exc:
            hint = (
                f" Check the catalog `live` symbol of {series.id}, or set {FOLDER_ENV} to a "
                "folder of <ID>.csv bars."
                if exc.status == 404
                else ""
            )
            raise SourceHttpError(
                SOURCE,
                f"Yahoo refused the daily chart of {symbol!r}: "
                f"{_yahoo_error(exc.problem, exc.status)}.{hint}",
                series.id,
                status=exc.status,
            ) from None
        except SourceUnreachable as exc:
            raise SourceUnreachable(
                SOURCE,
                f"{exc.problem} Or set {FOLDER_ENV} to a folder of <ID>.csv bars instead of Yahoo.",
                series.id,
            ) from None
        frame = bars_from_chart(response.json(), symbol=symbol, series_id=series.id, now=now)
        if start is not None:
            return frame[frame["date"] >= start].reset_index(drop=True)
        if frame.empty:
            raise SourceError(SOURCE, f"Yahoo returned no daily bars for {symbol!r}", series.id)
        return frame


def bars_from_chart(payload, *, symbol: str, series_id: str, now: datetime) -> pd.DataFrame:
    """A v8 chart reply -> daily bars (date, open, high, low, close, volume), oldest first.

    - A timestamp is the bar's start in Unix seconds; its date in `meta.exchangeTimezoneName`
      is the trading day (crypto: UTC midnight; futures and indices: New York; FX: London).
    - `null` in a quote array is no value; a bar without any price is dropped (Yahoo pads
      some days with nulls).
    - Two bars on one trading day: the later wins (after the close Yahoo repeats the day as a
      separate "live" row).
    - The bar of a session still open at `now` is dropped: its close is only the last trade.
    """

    def fail(problem: str) -> SourceFormatError:
        return SourceFormatError(SOURCE, f"Yahoo chart of {symbol!r}: {problem}", series_id)

    chart = payload.get("chart") if isinstance(payload, dict) else None
    if not isinstance(chart, dict):
        raise fail("not a chart reply (no `chart` object)")
    if chart.get("error"):
        raise SourceError(
            SOURCE, f"Yahoo has no chart for {symbol!r}: {_describe(chart['error'])}", series_id
        )
    results = chart.get("result")
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        raise fail("`chart.result` is empty")
    result = results[0]
    meta = result.get("meta") if isinstance(result.get("meta"), dict) else {}
    granularity = meta.get("dataGranularity")
    if granularity not in (None, "1d"):
        raise fail(f"bars of {granularity!r}, not daily (1d)")
    zone = _exchange_zone(meta, fail)
    stamps = result.get("timestamp") or []  # absent when the range holds no bar
    if not isinstance(stamps, list) or not all(_is_int(t) for t in stamps):
        raise fail("`timestamp` is not a list of Unix seconds")
    indicators = result.get("indicators")
    quotes = indicators.get("quote") if isinstance(indicators, dict) else None
    if not isinstance(quotes, list) or not quotes or not isinstance(quotes[0], dict):
        raise fail("no `indicators.quote` object")
    days = [datetime.fromtimestamp(t, zone).date() for t in stamps]
    frame = pd.DataFrame({"date": pd.Series(days, dtype=object), "stamp": stamps})
    for column in PRICE_COLUMNS:
        frame[column] = _quote_values(quotes[0].get(column), days, column, fail)
    frame = frame[frame[PRICE_ONLY].notna().any(axis=1)]
    open_day = _open_session_day(meta, zone, now)
    if open_day is not None:
        frame = frame[frame["date"] != open_day]
    frame = frame.sort_values("stamp", kind="stable").drop_duplicates("date", keep="last")
    return frame[["date", *PRICE_COLUMNS]].reset_index(drop=True)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _quote_values(values, days: list[date], column: str, fail) -> list[float]:
    """One `indicators.quote` array -> floats, NaN for null; a missing array is all NaN."""
    if values is None:
        return [math.nan] * len(days)
    if not isinstance(values, list) or len(values) != len(days):
        size = len(values) if isinstance(values, list) else type(values).__name__
        raise fail(f"indicators.quote.{column} has {size} values for {len(days)} timestamps")
    out = []
    for day, value in zip(days, values, strict=True):
        number = math.nan if value is None else _finite(value)
        if number is None:
            raise fail(f"{column} on {day} is {value!r}, not a finite number")
        out.append(number)
    return out


def _finite(value) -> float | None:
    """A JSON number as a finite float; None for text, booleans, Infinity/NaN and overflow."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _exchange_zone(meta: Mapping, fail) -> timezone | ZoneInfo:
    """The exchange's time zone: its IANA name, else the fixed `gmtoffset` Yahoo also sends."""
    name = meta.get("exchangeTimezoneName")
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    offset = meta.get("gmtoffset")
    if _is_int(offset) and abs(offset) < 86_400:
        return timezone(timedelta(seconds=offset))
    raise fail(
        f"meta names no exchange time zone (exchangeTimezoneName={name!r}): cannot date bars"
    )


def _open_session_day(meta: Mapping, zone, now: datetime) -> date | None:
    """The trading day of `meta.currentTradingPeriod.regular` while it is still open at `now`."""
    period = meta.get("currentTradingPeriod")
    regular = period.get("regular") if isinstance(period, dict) else None
    end = regular.get("end") if isinstance(regular, dict) else None
    if not _is_int(end) or now.timestamp() >= end:
        return None
    # A session's end falls on its trading day (futures open the evening before).
    return datetime.fromtimestamp(end - 1, zone).date()


def _describe(error) -> str:
    """Yahoo's error object `{"code": ..., "description": ...}` as `code: description`."""
    if isinstance(error, dict):
        parts = [str(error.get(k)) for k in ("code", "description") if error.get(k)]
        if parts:
            return ": ".join(parts)
    return str(error)[:200]


def _yahoo_error(problem: str, status: int) -> str:
    """`HTTP <status>: <code>: <description>` from the JSON body an HTTP error quotes."""
    at = problem.find('{"chart"')
    try:
        error = json.loads(problem[at:])["chart"]["error"] if at >= 0 else None
    except (ValueError, KeyError, TypeError):
        error = None
    return f"HTTP {status}: {_describe(error)}" if error else problem


def _empty_bars() -> pd.DataFrame:
    frame = pd.DataFrame({"date": pd.Series(dtype=object)})
    for column in PRICE_COLUMNS:
        frame[column] = pd.Series(dtype="float64")
    return frame


class MarketsSource:
    name = SOURCE

    def __init__(self, provider: BarProvider, mode: str):
        self.provider = provider
        self.mode = mode

    def fetch(self, series: Sequence[Series], start: date | None = None) -> Batch:
        parts, absent = [], []
        for s in series:
            bars = self.provider.bars(s, start)
            if bars is None:
                absent.append(s.id)
                continue
            parts.append(bars.assign(series_id=s.id, units=s.units)[BAR_COLUMNS])
        frame = (
            pd.concat(parts, ignore_index=True)
            if parts
            else _empty_bars().assign(series_id=pd.Series(dtype=object), units=None)[BAR_COLUMNS]
        )
        return Batch(SOURCE, self.mode, frame, absent=absent)

    def record(self, series: Sequence[Series], dest: Path) -> list[Path]:
        folder = Path(dest) / SOURCE
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for s in series:
            bars = self.provider.bars(s)
            if bars is None:
                continue
            path = folder / f"{s.id}.csv"
            tmp = path.with_suffix(".tmp")
            bars.to_csv(tmp, columns=["date", *PRICE_COLUMNS], index=False, lineterminator="\n")
            tmp.replace(path)
            written.append(path)
        return written


def make_source(settings: Settings) -> MarketsSource:
    if settings.source_mode != "live":
        return MarketsSource(CsvFolderProvider(settings.replay_dir / SOURCE), settings.source_mode)
    folder = settings.value(FOLDER_ENV)
    if folder:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise SourceError(SOURCE, f"{FOLDER_ENV}={folder} is not a folder")
        return MarketsSource(CsvFolderProvider(path), "live")
    return MarketsSource(
        YahooChartProvider(settings.value(YAHOO_URL_ENV) or YAHOO_DEFAULT_URL), "live"
    )
