"""FRED (St. Louis Fed): the API via fredapi when a key is set, the keyless graph CSV otherwise,
and a replay reader over `<snapshot>/fred/<ID>.csv`.

The API gives series metadata (units, frequency, last updated, title) and vintages; the graph
CSV gives values only, so its units come from the catalog. Both CSV header styles are read:
`DATE` (old exports) and `observation_date` (new); missing values are `.` (API, old CSV) or
empty (new CSV).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import pandas as pd
from fredapi import Fred

from orchestration.lib.catalog import Series, series_file
from orchestration.lib.errors import (
    CrosswindError,
    SourceError,
    SourceFormatError,
    SourceUnreachable,
)
from orchestration.lib.http import HttpClient, SourceHttpError, looks_like_html
from orchestration.lib.settings import Settings
from orchestration.sources.base import (
    OBSERVATION_COLUMNS,
    Batch,
    contained_file,
    first_few,
    parse_ymd,
)

log = logging.getLogger("crosswind.sources.fred")

SOURCE = "fred"
API_KEY_ENV = "FRED_API_KEY"
API_URL_ENV = "CROSSWIND_FRED_API_URL"
CSV_URL_ENV = "CROSSWIND_FRED_CSV_URL"
DEFAULT_API_URL = "https://api.stlouisfed.org/fred"
DEFAULT_CSV_URL = "https://fred.stlouisfed.org/graph/fredgraph.csv"
# FRED allows about 120 requests a minute per key; 2/s stays clear of it with retries on top.
API_MIN_INTERVAL = 0.5
CSV_MIN_INTERVAL = 0.5
DATE_HEADERS = ("observation_date", "DATE")
MISSING = frozenset({"", "."})
METADATA_FIELDS = ("units", "frequency", "last_updated", "title")


# -- CSV -----------------------------------------------------------------------------------------


def parse_fred_csv(payload: str | bytes, series_id: str, origin: str = "CSV") -> pd.DataFrame:
    """FRED graph CSV -> frame with `date` (datetime.date) and `value` (float, NaN = missing).

    Raises SourceFormatError (naming the series and the first offending values) for HTML, an
    unknown header, a value column that is not `series_id`, bad dates, non-numeric values or
    repeated dates.
    """

    def fail(problem: str) -> SourceFormatError:
        return SourceFormatError(SOURCE, f"{origin}: {problem}", series_id)

    if isinstance(payload, bytes):
        if looks_like_html(payload):
            raise fail("got an HTML page instead of CSV")
        try:
            payload = payload.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise fail(f"not UTF-8 text (first bytes {payload[:16]!r})") from None
    text = payload.lstrip("\ufeff")
    if looks_like_html(text.encode("utf-8", "replace")[:2048]):
        raise fail("got an HTML page instead of CSV")
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if "".join(row).strip()]
    if not rows:
        raise fail("empty file, expected a header `observation_date,<ID>` or `DATE,<ID>`")
    header = [cell.strip() for cell in rows[0]]
    if len(header) != 2 or header[0] not in DATE_HEADERS:
        raise fail(
            f"unknown header {','.join(header)[:80]!r}, expected "
            f"'observation_date,{series_id}' or 'DATE,{series_id}'"
        )
    if header[1].upper() != series_id.upper():
        raise fail(f"value column is {header[1]!r}, expected the series id {series_id!r}")

    dates: list[date] = []
    values: list[float] = []
    bad_dates: list[str] = []
    bad_values: list[str] = []
    ragged: list[int] = []
    for line_no, row in enumerate(rows[1:], start=2):
        if len(row) != 2:
            ragged.append(line_no)
            continue
        raw_date, raw_value = row[0].strip(), row[1].strip()
        day = parse_ymd(raw_date)
        if day is None:
            bad_dates.append(repr(raw_date))
            continue
        value = _value(raw_value)
        if value is None:
            bad_values.append(f"{raw_date}={raw_value!r}")
            continue
        dates.append(day)
        values.append(value)
    if ragged:
        raise fail(f"{len(ragged)} rows without exactly 2 columns (lines {first_few(ragged)})")
    if bad_dates:
        raise fail(
            f"{len(bad_dates)} unparseable dates (YYYY-MM-DD expected): {first_few(bad_dates)}"
        )
    if bad_values:
        raise fail(
            f"{len(bad_values)} non-numeric values ('.' or empty mean missing): "
            f"{first_few(bad_values)}"
        )
    frame = pd.DataFrame(
        {"date": pd.Series(dates, dtype=object), "value": pd.Series(values, dtype="float64")}
    )
    repeated = frame.loc[frame["date"].duplicated(), "date"]
    if not repeated.empty:
        shown = [d.isoformat() for d in repeated.unique()]
        raise fail(f"{len(repeated)} repeated dates: {first_few(shown)}")
    return frame.sort_values("date", kind="stable").reset_index(drop=True)


def _value(raw: str) -> float | None:
    """The float, NaN for FRED's missing markers, None when it is not a number."""
    if raw in MISSING:
        return math.nan
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def format_fred_csv(frame: pd.DataFrame, series_id: str) -> str:
    """The snapshot layout: header `observation_date,<ID>`, ISO dates, empty for missing."""
    lines = [f"observation_date,{series_id}"]
    for day, value in zip(frame["date"], frame["value"], strict=True):
        text = "" if value is None or pd.isna(value) else format(float(value), ".15g")
        lines.append(f"{pd.Timestamp(day).date().isoformat()},{text}")
    return "\n".join(lines) + "\n"


def write_fred_csv(frame: pd.DataFrame, series_id: str, dest: Path) -> Path:
    """Write `dest/fred/<ID>.csv` atomically (temp file, then rename)."""
    folder = Path(dest) / SOURCE
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{series_id}.csv"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(format_fred_csv(frame, series_id), encoding="utf-8", newline="")
    tmp.replace(path)
    return path


# -- frames --------------------------------------------------------------------------------------


def empty_observations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_id": pd.Series(dtype=object),
            "date": pd.Series(dtype=object),
            "value": pd.Series(dtype="float64"),
            "units": pd.Series(dtype=object),
            "realtime_start": pd.Series(dtype="datetime64[ns]"),
        }
    )


def to_observations(
    series_id: str,
    values: pd.DataFrame,
    units: str,
    start: date | None,
) -> pd.DataFrame:
    """`date`/`value` (+ optional `realtime_start`) frame -> OBSERVATION_COLUMNS rows."""
    if start is not None:
        values = values[values["date"] >= start]
    realtime = (
        pd.to_datetime(values["realtime_start"]).to_numpy()
        if "realtime_start" in values
        else pd.NaT
    )
    frame = pd.DataFrame(
        {
            "series_id": series_id,
            "date": values["date"].to_numpy(dtype=object),
            "value": values["value"].to_numpy(dtype="float64"),
            "units": units,
            "realtime_start": realtime,
        }
    )
    frame["realtime_start"] = pd.to_datetime(frame["realtime_start"])
    return frame[OBSERVATION_COLUMNS]


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if not p.empty]
    if not parts:
        return empty_observations()
    return pd.concat(parts, ignore_index=True)[OBSERVATION_COLUMNS]


class _FredSource:
    name = SOURCE
    mode = "live"

    def _values(self, s: Series, start: date | None) -> tuple[pd.DataFrame, str, dict] | None:
        """(date/value frame, units label, metadata) for one series; None when it is absent."""
        raise NotImplementedError

    def fetch(self, series: Sequence[Series], start: date | None = None) -> Batch:
        parts, absent, metadata = [], [], {}
        for s in series:
            got = self._values(s, start)
            if got is None:
                absent.append(s.id)
                continue
            values, units, meta = got
            parts.append(to_observations(s.id, values, units, start))
            if meta:
                metadata[s.id] = meta
        return Batch(SOURCE, self.mode, _concat(parts), absent=absent, series_metadata=metadata)

    def record(self, series: Sequence[Series], dest: Path) -> list[Path]:
        """Write each series' full history; one bad series does not stop the others."""
        written, failures = [], []
        for s in series:
            try:
                got = self._values(s, None)
            except SourceUnreachable:
                raise  # the network is gone: every other series would wait and fail the same way
            except SourceError as exc:
                log.error("%s", exc)
                failures.append(f"{s.id}: {exc.problem}")
                continue
            if got is None:
                log.warning("fred/%s: not available from this source, nothing recorded", s.id)
                continue
            path = write_fred_csv(got[0], s.id, dest)
            log.info("fred/%s: %d observations -> %s", s.id, len(got[0]), path)
            written.append(path)
        if failures:
            raise SourceError(
                SOURCE,
                f"{len(failures)} of {len(series)} series failed ({len(written)} recorded): "
                + "; ".join(failures),
            )
        return written


# -- replay --------------------------------------------------------------------------------------


class FredReplaySource(_FredSource):
    """Reads `<folder>/fred/<ID>.csv`; series without a file are reported in `Batch.absent`."""

    def __init__(self, folder: Path, mode: str = "replay"):
        self.folder = Path(folder) / SOURCE
        self.mode = mode

    def _values(self, s: Series, start: date | None):
        path = series_file(self.folder, s.id)
        if contained_file(path, SOURCE, s.id) is None:
            return None
        return parse_fred_csv(path.read_bytes(), s.id, origin=str(path)), s.units, {}


# -- keyless graph CSV ---------------------------------------------------------------------------


class FredCsvSource(_FredSource):
    """The keyless graph CSV (`fredgraph.csv?id=ID`); units come from the catalog."""

    def __init__(self, base_url: str = DEFAULT_CSV_URL, client: HttpClient | None = None):
        self.base_url = base_url
        self.client = client or HttpClient(SOURCE, min_interval=CSV_MIN_INTERVAL)

    def _values(self, s: Series, start: date | None):
        params = {"id": s.id}
        if start is not None:
            params["cosd"] = start.isoformat()  # graph CSV's own start filter; we filter too
        try:
            response = self.client.get(self.base_url, params=params, series=s.id, expect="csv")
        except SourceHttpError as exc:
            if exc.status == 404:
                return None
            raise
        return parse_fred_csv(response.content, s.id, origin="graph CSV"), s.units, {}


# -- API via fredapi -----------------------------------------------------------------------------


class _FredapiOverHttp(Fred):
    """fredapi.Fred with its transport replaced by our HttpClient.

    fredapi builds the URLs and parses the XML; we do the HTTP. Its own transport is a bare
    urllib `urlopen` without a timeout that turns every HTTP error into a ValueError (status
    lost, so 429 and 400 look alike) and formats the API key into the URL it raises with.
    `_Fred__fetch_data` is fredapi's private, name-mangled fetch: checked at construction.
    """

    def __init__(self, api_key: str, root_url: str, client: HttpClient):
        # Fred.__init__ is skipped on purpose: with HTTP(S)_PROXY set it installs a global
        # urllib opener, a process-wide side effect we don't need since urllib is never used.
        self.api_key = api_key
        self.root_url = root_url.rstrip("/")
        self.proxies = None
        self.client = client
        self.series_id: str | None = None  # for error messages

    def _Fred__fetch_data(self, url: str) -> ET.Element:  # overrides fredapi transport
        response = self.client.get(url, params={"api_key": self.api_key}, series=self.series_id)
        body = response.content or b""
        if not body.strip() or looks_like_html(body):
            what = "an empty response" if not body.strip() else "an HTML page"
            raise SourceFormatError(SOURCE, f"API returned {what} instead of XML", self.series_id)
        root = _parse_xml(body)
        if root is None:
            raise SourceFormatError(
                SOURCE,
                f"API response is not XML (starts {body[:60].decode('utf-8', 'replace')!r})",
                self.series_id,
            )
        if root.tag == "error":
            message = self.client.redact(str(root.get("message")))
            raise SourceError(SOURCE, f"API error: {message}", self.series_id)
        if root.tag == "observations":
            _check_complete(root, self.series_id)
        return root


def _parse_xml(body: bytes) -> ET.Element | None:
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        return None


def _check_complete(root: ET.Element, series_id: str | None) -> None:
    """fredapi never pages observations: fail loudly rather than load a truncated history."""
    try:
        count, offset = int(root.get("count", "0")), int(root.get("offset", "0"))
    except ValueError:
        return
    if count > offset + len(root):
        raise SourceFormatError(
            SOURCE,
            f"API returned {len(root)} of {count} observation rows (limit reached); "
            "history would be truncated",
            series_id,
        )


class FredApiSource(_FredSource):
    """FRED API through fredapi: metadata per series and each value's vintage date.

    Observations come from `get_series_all_releases` (every vintage), reduced to the latest
    value per date; its `realtime_start` is when that value was published, which the
    point-in-time rule needs. Requests are paced at about 2 per second.
    """

    def __init__(
        self,
        api_key: str,
        root_url: str = DEFAULT_API_URL,
        client: HttpClient | None = None,
    ):
        if not api_key:
            raise CrosswindError(f"{API_KEY_ENV} is empty")
        if not hasattr(Fred, "_Fred__fetch_data"):  # pragma: no cover - guards a fredapi upgrade
            raise CrosswindError(
                "the installed fredapi no longer has Fred.__fetch_data, which crosswind replaces "
                "to send requests through its own HTTP client; pin fredapi to 0.5.x"
            )
        self.client = client or HttpClient(SOURCE, min_interval=API_MIN_INTERVAL, redact=(api_key,))
        self._fred = _FredapiOverHttp(api_key, root_url, self.client)

    def _values(self, s: Series, start: date | None):
        self._fred.series_id = s.id
        try:
            info = self._call(s.id, self._fred.get_series_info, s.id)
            if info is None:
                return None
            metadata = {
                name: (None if pd.isna(info.get(name)) else str(info.get(name)))
                for name in METADATA_FIELDS
            }
            if not metadata["units"]:
                raise SourceFormatError(SOURCE, "series metadata has no units", s.id)
            releases = self._call(s.id, self._fred.get_series_all_releases, s.id)
        finally:
            self._fred.series_id = None
        return _latest_vintage(releases, s.id), metadata["units"], metadata

    def _call(self, series_id: str, method, *args):
        """Run one fredapi call; a series FRED does not have is None, parse errors are ours."""
        try:
            return method(*args)
        except SourceHttpError as exc:
            if exc.status in (400, 404) and "does not exist" in exc.problem.lower():
                return None
            raise
        except SourceError as exc:
            if "does not exist" in exc.problem.lower():
                return None
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # fredapi's own parsing (float(), date parsing) failed on what the API sent; its
            # messages never carry the URL, but keep ours short and unchained anyway.
            problem = f"API payload not understood by fredapi: {type(exc).__name__}: {exc}"
        raise SourceFormatError(SOURCE, self.client.redact(problem)[:300], series_id)


def _latest_vintage(releases: pd.DataFrame, series_id: str) -> pd.DataFrame:
    """All vintages -> one row per date: the latest value and when it was published."""
    if releases is None or releases.empty:
        return pd.DataFrame(
            {"date": pd.Series(dtype=object), "value": [], "realtime_start": []}
        ).astype({"value": "float64", "realtime_start": "datetime64[ns]"})
    missing = {"date", "value", "realtime_start"} - set(releases.columns)
    if missing:
        raise SourceFormatError(SOURCE, f"fredapi returned no {sorted(missing)} columns", series_id)
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(releases["date"]),
            "value": pd.to_numeric(releases["value"], errors="coerce").astype("float64"),
            "realtime_start": pd.to_datetime(releases["realtime_start"]),
        }
    )
    frame = frame.sort_values(["date", "realtime_start"], kind="stable")
    frame = frame.drop_duplicates("date", keep="last").reset_index(drop=True)
    frame["date"] = frame["date"].dt.date
    return frame


# -- choice --------------------------------------------------------------------------------------


def make_source(settings: Settings, env: Mapping[str, str] | None = None) -> _FredSource:
    """Live: the API when FRED_API_KEY is set, else the graph CSV. Replay/sample: the files."""
    env = os.environ if env is None else env
    if settings.source_mode != "live":
        return FredReplaySource(settings.replay_dir, mode=settings.source_mode)
    api_key = (env.get(API_KEY_ENV) or "").strip()
    if api_key:
        return FredApiSource(api_key, env.get(API_URL_ENV) or DEFAULT_API_URL)
    return FredCsvSource(env.get(CSV_URL_ENV) or DEFAULT_CSV_URL)
