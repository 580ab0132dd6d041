"""US Treasury Daily Treasury Statement: the TGA closing balance per day (USD millions).

Live: fiscaldata's `v1/accounting/dts/operating_cash_balance` (no key, JSON, paged, every value
a string, "null" for none). Which row and column hold the TGA level changed over the years:

| era                    | account_type                                      | column            |
|------------------------|---------------------------------------------------|-------------------|
| until ~2020            | "Federal Reserve Account"                         | close_today_bal   |
| ~2020 - 2021-09        | "Treasury General Account (TGA)"                  | close_today_bal   |
| from 2021-10           | "Treasury General Account (TGA) Closing Balance"  | open_today_bal    |

In the newest layout opening and closing balances are separate rows and each carries its
amount in `open_today_bal` ("today's" balance); `close_today_bal` is "null". The closing
balance is the day's level. Replay reads `<snapshot>/treasury/tga_daily.csv`
(`record_date,tga_close_usd_mn`).
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from orchestration.lib.catalog import Series
from orchestration.lib.errors import SourceFormatError
from orchestration.lib.http import HttpClient, SourceHttpError
from orchestration.lib.settings import Settings
from orchestration.sources.base import (
    OBSERVATION_COLUMNS,
    Batch,
    contained_file,
    first_few,
    parse_ymd,
)

log = logging.getLogger("crosswind.sources.treasury")

SOURCE = "treasury"
SERIES_ID = "TGA"
UNITS = "Millions of U.S. Dollars"
DEFAULT_URL = (
    "https://api.fiscaldata.treasury.gov/services/api/fiscal_service/v1/accounting/dts/"
    "operating_cash_balance"
)
URL_ENV = "CROSSWIND_FISCALDATA_URL"
PAGE_SIZE = 10_000  # the API's maximum
FIELDS = ("record_date", "account_type", "close_today_bal", "open_today_bal")
REPLAY_FILE = "tga_daily.csv"
REPLAY_HEADER = ("record_date", "tga_close_usd_mn")
# account_type -> column holding the closing balance, best label first: on a date carrying
# more than one of these, the first wins.
TGA_ROWS: dict[str, str] = {
    "Treasury General Account (TGA) Closing Balance": "open_today_bal",
    "Treasury General Account (TGA)": "close_today_bal",
    "Federal Reserve Account": "close_today_bal",
}
NULLS = frozenset({"", "null"})


def _fail(problem: str) -> SourceFormatError:
    return SourceFormatError(SOURCE, problem, SERIES_ID)


def _amount(raw) -> float | None:
    """fiscaldata's string amount -> float; NaN for "null"; None when it is not a number."""
    if raw is None:
        return math.nan
    text = str(raw).strip()
    if text.lower() in NULLS:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _day(raw) -> date | None:
    return parse_ymd(str(raw).strip())


def tga_from_records(records: Iterable[Mapping]) -> pd.DataFrame:
    """operating_cash_balance records (any era) -> `date`, `value` (USD mn), one row per day."""
    chosen: dict[date, tuple[int, float, str]] = {}
    bad_dates, bad_values, conflicts = [], [], []
    for record in records:
        label = str(record.get("account_type", "")).strip()
        if label not in TGA_ROWS:
            continue
        day = _day(record.get("record_date"))
        if day is None:
            bad_dates.append(repr(record.get("record_date")))
            continue
        column = TGA_ROWS[label]
        raw = record.get(column)
        value = _amount(raw)
        if column == "open_today_bal" and value is not None and math.isnan(value):
            # Closing-balance rows carry the amount in open_today_bal; should a publication ever
            # fill close_today_bal instead, that is the same closing balance.
            other = _amount(record.get("close_today_bal"))
            if other is not None and not math.isnan(other):
                raw, value = record.get("close_today_bal"), other
        if value is None:
            bad_values.append(f"{day}={raw!r}")
            continue
        rank = list(TGA_ROWS).index(label)
        previous = chosen.get(day)
        if previous is None or rank < previous[0]:
            chosen[day] = (rank, value, label)
        elif rank == previous[0] and not _same(previous[1], value):
            conflicts.append(f"{day}: {previous[1]:g} vs {value:g}")
    if bad_dates:
        raise _fail(f"{len(bad_dates)} unparseable record_date values: {first_few(bad_dates)}")
    if bad_values:
        raise _fail(f"{len(bad_values)} non-numeric TGA balances: {first_few(bad_values)}")
    if conflicts:
        raise _fail(f"conflicting TGA closing balances for one date: {first_few(conflicts)}")
    days = sorted(chosen)
    return pd.DataFrame(
        {
            "date": pd.Series(days, dtype=object),
            "value": pd.Series([chosen[d][1] for d in days], dtype="float64"),
        }
    )


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def to_observations(values: pd.DataFrame, start: date | None) -> pd.DataFrame:
    if start is not None:
        values = values[values["date"] >= start]
    frame = pd.DataFrame(
        {
            "series_id": SERIES_ID,
            "date": values["date"].to_numpy(dtype=object),
            "value": values["value"].to_numpy(dtype="float64"),
            "units": UNITS,
            "realtime_start": pd.NaT,
        }
    )
    frame["realtime_start"] = pd.to_datetime(frame["realtime_start"])
    return frame[OBSERVATION_COLUMNS]


# -- replay file ---------------------------------------------------------------------------------


def parse_tga_csv(payload: bytes | str, origin: str = REPLAY_FILE) -> pd.DataFrame:
    """`record_date,tga_close_usd_mn` -> `date`, `value`; empty value = missing."""
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _fail(f"{origin}: not UTF-8 text") from None
    rows = [r for r in csv.reader(io.StringIO(payload, newline="")) if any(c.strip() for c in r)]
    if not rows:
        raise _fail(f"{origin}: empty file")
    if tuple(c.strip() for c in rows[0]) != REPLAY_HEADER:
        header = ",".join(rows[0])[:80] if rows else ""
        raise _fail(f"{origin}: header {header!r}, expected {','.join(REPLAY_HEADER)!r}")
    days, values, bad_dates, bad_values = [], [], [], []
    for row in rows[1:]:
        if len(row) != 2:
            bad_values.append(repr(",".join(row)))
            continue
        day, value = _day(row[0]), _amount(row[1])
        if day is None:
            bad_dates.append(repr(row[0]))
        elif value is None:
            bad_values.append(f"{row[0].strip()}={row[1].strip()!r}")
        else:
            days.append(day)
            values.append(value)
    if bad_dates:
        raise _fail(f"{origin}: {len(bad_dates)} unparseable dates: {first_few(bad_dates)}")
    if bad_values:
        raise _fail(f"{origin}: {len(bad_values)} non-numeric rows: {first_few(bad_values)}")
    frame = pd.DataFrame(
        {"date": pd.Series(days, dtype=object), "value": pd.Series(values, dtype="float64")}
    )
    repeated = frame.loc[frame["date"].duplicated(), "date"]
    if not repeated.empty:
        raise _fail(f"{origin}: repeated dates: {first_few([d.isoformat() for d in repeated])}")
    return frame.sort_values("date", kind="stable").reset_index(drop=True)


def format_tga_csv(values: pd.DataFrame) -> str:
    lines = [",".join(REPLAY_HEADER)]
    for day, value in zip(values["date"], values["value"], strict=True):
        text = "" if pd.isna(value) else f"{float(value):.3f}"
        lines.append(f"{day.isoformat()},{text}")
    return "\n".join(lines) + "\n"


# -- sources -------------------------------------------------------------------------------------


class _TreasurySource:
    name = SOURCE
    mode = "live"

    def _values(self, start: date | None) -> pd.DataFrame | None:
        """The TGA `date`/`value` frame; None when the source has none (no replay file)."""
        raise NotImplementedError

    def fetch(self, series: Sequence[Series], start: date | None = None) -> Batch:
        absent = [s.id for s in series if s.id != SERIES_ID]
        if len(absent) == len(series):
            return Batch(SOURCE, self.mode, to_observations(_no_values(), None), absent=absent)
        values = self._values(start)
        if values is None:
            empty = to_observations(_no_values(), None)
            return Batch(SOURCE, self.mode, empty, absent=[SERIES_ID, *absent])
        return Batch(SOURCE, self.mode, to_observations(values, start), absent=absent)

    def record(self, series: Sequence[Series], dest: Path) -> list[Path]:
        if not any(s.id == SERIES_ID for s in series):
            return []
        values = self._values(None)
        if values is None:
            log.warning("treasury/TGA: not available, nothing recorded")
            return []
        folder = Path(dest) / SOURCE
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / REPLAY_FILE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(format_tga_csv(values), encoding="utf-8", newline="")
        tmp.replace(path)
        log.info("treasury/TGA: %d daily balances -> %s", len(values), path)
        return [path]


def _no_values() -> pd.DataFrame:
    return pd.DataFrame({"date": pd.Series(dtype=object), "value": pd.Series(dtype="float64")})


class TreasuryReplaySource(_TreasurySource):
    """Reads `<folder>/treasury/tga_daily.csv`."""

    def __init__(self, folder: Path, mode: str = "replay"):
        self.path = Path(folder) / SOURCE / REPLAY_FILE
        self.mode = mode

    def _values(self, start: date | None) -> pd.DataFrame | None:
        if contained_file(self.path, SOURCE, SERIES_ID) is None:
            return None
        return parse_tga_csv(self.path.read_bytes(), origin=str(self.path))


class TreasuryDtsLiveSource(_TreasurySource):
    """fiscaldata operating_cash_balance, every page, both account-label eras."""

    def __init__(self, url: str = DEFAULT_URL, client: HttpClient | None = None):
        self.url = url
        self.client = client or HttpClient(SOURCE)

    def _values(self, start: date | None) -> pd.DataFrame:
        return tga_from_records(self.records(start))

    def records(self, start: date | None = None) -> list[dict]:
        """Every record on or after `start`, all pages, with the schema checked per page.

        fiscaldata's documented envelope: `data` (the records), `meta` (`count` on this page,
        `total-count`, `total-pages`, `labels`, `dataTypes`, `dataFormats`) and `links`. Paging
        goes by `meta.total-pages`; `count` and `total-count`, where sent, must add up, so a
        page cut short is an error, not a silently missing day. Zero pages is a valid answer:
        the DTS for day D appears on the next business day, so a run before then finds nothing
        new since the last load.
        """
        params = {
            "fields": ",".join(FIELDS),
            "sort": "record_date",
            "page[size]": str(PAGE_SIZE),
        }
        if start is not None:
            params["filter"] = f"record_date:gte:{start.isoformat()}"
        records: list[dict] = []
        page, total_pages, total_count = 1, None, None
        while True:
            payload = self._page(params, page, total_pages)
            meta = payload.get("meta")
            meta = meta if isinstance(meta, dict) else {}
            pages = meta.get("total-pages")
            if not isinstance(pages, int) or pages < 0:
                raise _fail(f"page {page}: no meta.total-pages in the response")
            total_pages = pages if total_pages is None else total_pages
            if total_count is None and isinstance(meta.get("total-count"), int):
                total_count = meta["total-count"]
            data = payload.get("data")
            if not isinstance(data, list):
                raise _fail(f"page {page}: no `data` list in the response")
            if not data and page <= total_pages:
                raise _fail(f"page {page} of {total_pages} is empty")
            count = meta.get("count")
            if isinstance(count, int) and count != len(data):
                raise _fail(f"page {page}: meta.count says {count} records, `data` has {len(data)}")
            for i, record in enumerate(data):
                missing = [f for f in FIELDS if not isinstance(record, dict) or f not in record]
                if missing:
                    raise _fail(
                        f"page {page} row {i + 1}: schema changed, missing {missing} "
                        f"(has {sorted(record)[:8] if isinstance(record, dict) else record!r})"
                    )
            records.extend(data)
            if page >= total_pages:
                if total_count is not None and total_count != len(records):
                    raise _fail(
                        f"{total_pages} pages held {len(records)} records, "
                        f"meta.total-count says {total_count}"
                    )
                return records
            page += 1

    def _page(self, params: dict, page: int, total_pages: int | None) -> dict:
        try:
            response = self.client.get(
                self.url,
                params={**params, "page[number]": str(page)},
                series=SERIES_ID,
                expect="json",
            )
        except SourceHttpError as exc:
            if page > 1 and exc.status == 404:
                raise _fail(f"page {page} of {total_pages} missing (HTTP 404)") from None
            raise
        payload = response.json()
        if not isinstance(payload, dict):
            raise _fail(f"page {page}: expected a JSON object, got {type(payload).__name__}")
        return payload


def make_source(settings: Settings) -> _TreasurySource:
    if settings.source_mode == "live":
        return TreasuryDtsLiveSource(settings.value(URL_ENV) or DEFAULT_URL)
    return TreasuryReplaySource(settings.replay_dir, mode=settings.source_mode)
