"""Daily market bars (gold, silver, MOVE, USD/JPY, crypto, index proxies) behind a provider.

A provider returns one symbol's bars; the `MarketsSource` wrapper turns catalog series into a
`Batch` in BAR_COLUMNS. Two providers ship:

- `CsvFolderProvider(folder)` reads `<folder>/<SYMBOL>.csv` (`date,close` or
  `date,open,high,low,close[,volume]`). Replay and sample mode use it over `<replay_dir>/markets`;
  live mode uses it when `CROSSWIND_MARKETS_DIR` names a folder (a vendor export, say).
- `YFinanceProvider` downloads from Yahoo Finance through yfinance, an optional extra
  (`pip install 'crosswind[online]'`), mapping our ids through the catalog `live` field.
"""

from __future__ import annotations

import io
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Protocol

import pandas as pd

from orchestration.lib.catalog import Series, series_file
from orchestration.lib.errors import SourceError, SourceFormatError, SourceUnreachable
from orchestration.lib.settings import Settings
from orchestration.sources.base import BAR_COLUMNS, Batch

SOURCE = "markets"
FOLDER_ENV = "CROSSWIND_MARKETS_DIR"
PRICE_COLUMNS = ["open", "high", "low", "close", "volume"]
# Yahoo's own CSV export writes "null" for a day without a quote.
MISSING_TEXT = {"", "null", "nan", "NaN", "."}


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
        if not path.is_file():
            return None
        frame = read_dated_csv(
            path.read_bytes(),
            source=SOURCE,
            series=series.id,
            file_name=str(path),
            required=["close"],
            optional=["open", "high", "low", "volume"],
        )
        if start is not None:
            frame = frame[frame["date"] >= start]
        return frame[["date", *PRICE_COLUMNS]]


class YFinanceProvider:
    """Yahoo Finance via yfinance; our ids map to Yahoo symbols through the catalog `live` field.

    yfinance does its own HTTP (it needs Yahoo's cookie dance), so it cannot go through
    `HttpClient`; this class adds the pacing and turns its failures into SourceErrors.
    """

    name = "yfinance"

    def __init__(self, min_interval: float = 1.0, sleep: Callable[[float], None] = time.sleep):
        self.min_interval = min_interval
        self._sleep = sleep
        self._last_call = 0.0

    @staticmethod
    def _yfinance(series_id: str):
        try:
            import yfinance
        except ImportError:
            raise SourceError(
                SOURCE,
                "the online market-data provider needs yfinance, an optional extra: install it "
                "with `uv sync --extra online` or `pip install 'crosswind[online]'`, or set "
                f"{FOLDER_ENV} to a folder of <SYMBOL>.csv bar files",
                series_id,
            ) from None
        return yfinance

    def bars(self, series: Series, start: date | None = None) -> pd.DataFrame | None:
        yf = self._yfinance(series.id)
        symbol = series.live or series.id
        wait = self._last_call + self.min_interval - time.monotonic()
        if wait > 0:
            self._sleep(wait)
        self._last_call = time.monotonic()
        try:
            kwargs = {"start": start.isoformat()} if start else {"period": "max"}
            history = yf.Ticker(symbol).history(
                interval="1d", auto_adjust=False, actions=False, **kwargs
            )
        except Exception as exc:  # yfinance raises many types; none of them are ours
            raise SourceUnreachable(
                SOURCE,
                f"yfinance download of {symbol} failed: {type(exc).__name__}: {exc}",
                series.id,
            ) from None
        if history is None or history.empty:
            if start is not None:
                return _empty_bars()  # nothing new since `start` (weekend, holiday)
            raise SourceUnreachable(SOURCE, f"yfinance returned no bars for {symbol}", series.id)
        history = history.rename(columns=str.lower)
        if "close" not in history.columns:
            raise SourceFormatError(
                SOURCE,
                f"yfinance bars for {symbol} have no Close ({list(history.columns)})",
                series.id,
            )
        index = pd.DatetimeIndex(history.index)
        # The index is in the exchange's time zone: its calendar date is the trading day.
        frame = pd.DataFrame({"date": pd.Series(index.date, dtype=object)})
        for column in PRICE_COLUMNS:
            if column in history.columns:
                values = pd.to_numeric(history[column], errors="coerce")
                frame[column] = values.to_numpy(dtype="float64")
            else:
                frame[column] = float("nan")
        if start is not None:
            frame = frame[frame["date"] >= start]
        return frame.reset_index(drop=True)


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


def make_source(settings: Settings, env: Mapping[str, str] | None = None) -> MarketsSource:
    env = os.environ if env is None else env
    if settings.source_mode != "live":
        return MarketsSource(CsvFolderProvider(settings.replay_dir / SOURCE), settings.source_mode)
    folder = env.get(FOLDER_ENV)
    if folder:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise SourceError(SOURCE, f"{FOLDER_ENV}={folder} is not a folder")
        return MarketsSource(CsvFolderProvider(path), "live")
    return MarketsSource(YFinanceProvider(), "live")
