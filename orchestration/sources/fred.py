"""FRED (St. Louis Fed): its web service when FRED_API_KEY is set, the keyless graph CSV
otherwise, and a replay reader over `<snapshot>/fred/<ID>.csv`.

The API gives series metadata (units, frequency, last updated, title) and, where the catalog
sets `vintages: true`, every vintage (ALFRED); the graph CSV gives values only, so its units
come from the catalog. Both CSV header styles are read: `DATE` (old exports) and
`observation_date` (new); missing values are `.` (API, old CSV) or empty (new CSV).

**The API is called directly, in XML, through lib/http.HttpClient; fredapi is not used.**
fredapi's public interface fetches with a bare `urlopen` (no timeout, retry, pacing or
redaction; every HTTP error becomes a ValueError carrying only FRED's message, the status lost),
so the rule that every request goes through HttpClient could only be kept by overriding its
private, name-mangled `_Fred__fetch_data`. Its methods also cannot express what crosswind needs:
`get_series` drops `realtime_start`; `get_series_all_releases` asks for every vintage at once
(FRED answers HTTP 400 above 2,000 vintage dates: DGS10, DGS2, VIXCLS, RRPONTSYD), takes no
`observation_start` and drops `realtime_end`; nothing pages past FRED's row limits. Measured
against a loopback server with realistic bodies (DGS10, 16,144 daily observations): full
history is 2 requests and 1.65 MB either way, 2.9 s through fredapi (a pandas `to_datetime`
per row) against 0.28 s here; a 30-day lookback is 2 requests and 3.2 KB either way. A
`vintages: true` series costs one more request here (/series/vintagedates) per fetch. XML
rather than JSON: the same requests and about the same bytes, and the genuine bodies crosswind
is rehearsed on (`../shared/wire/fred/api`) and FRED's error envelope are XML.

Requests, per series in catalog order, paced about 2/s (each with `file_type=xml&api_key=…`):

1. `GET {root}/series?series_id=ID` — metadata; HTTP 400 "The series does not exist." means
   the series is absent.
2. `vintages: false` (default): `GET {root}/series/observations?series_id=ID` (+
   `observation_start=YYYY-MM-DD` on a lookback) — current values.
   `vintages: true`: `GET {root}/series/vintagedates?series_id=ID&realtime_start=1776-07-04&
   realtime_end=9999-12-31`, then one `GET {root}/series/observations?series_id=ID&
   realtime_start=A&realtime_end=B` (+ `observation_start`) per window of at most
   VINTAGES_PER_REQUEST vintage dates (`FredApi.vintages`).

Any list FRED pages (`count` > rows sent) is followed with `offset=N`.

Replay layout: `fred/<ID>.csv` (`observation_date,<ID>` or `DATE,<ID>`), read unchanged; an API
recording adds a third column `realtime_start` where known and `fred/<ID>.series.json` with the
series metadata, so replaying it gives the live run's raw rows.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from orchestration.lib.catalog import Catalog, Series, load_catalog, series_file
from orchestration.lib.errors import (
    CatalogError,
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
    read_window,
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
REALTIME_HEADER = "realtime_start"  # optional third column of an API recording
METADATA_SUFFIX = ".series.json"  # `fred/<ID>.series.json`: an API recording's series metadata
MISSING = frozenset({"", "."})
METADATA_FIELDS = ("units", "frequency", "last_updated", "title")
# FRED's real-time bounds: the earliest start it accepts, and the end of "still current".
EARLIEST_REALTIME = date(1776, 7, 4)
OPEN_END = date(9999, 12, 31)
# FRED refuses observations for a real-time period holding more than 2,000 vintage dates. The
# margin covers a vintage published between the vintagedates call and the last window, and the
# vintage current at a window's start, should FRED count it too.
VINTAGE_CAP = 2_000
VINTAGES_PER_REQUEST = 1_900
VINTAGE_COLUMNS = ["date", "value", "realtime_start", "realtime_end"]


# -- CSV -----------------------------------------------------------------------------------------


def parse_fred_csv(payload: str | bytes, series_id: str, origin: str = "CSV") -> pd.DataFrame:
    """FRED graph CSV -> frame with `date` (datetime.date) and `value` (float, NaN = missing).

    An API recording's third column `realtime_start` (ISO date or empty) adds that column
    (datetime64, NaT where empty). Raises SourceFormatError (naming the series and the first
    offending values) for HTML, an unknown header, a value column that is not `series_id`, bad
    dates, non-numeric values or repeated dates.
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
    with_realtime = len(header) == 3 and header[2] == REALTIME_HEADER
    if not (len(header) == 2 or with_realtime) or header[0] not in DATE_HEADERS:
        raise fail(
            f"unknown header {','.join(header)[:80]!r}, expected "
            f"'observation_date,{series_id}' or 'DATE,{series_id}'"
        )
    if header[1].upper() != series_id.upper():
        raise fail(f"value column is {header[1]!r}, expected the series id {series_id!r}")

    width = len(header)
    dates: list[date] = []
    values: list[float] = []
    realtime: list[date | None] = []
    bad_dates: list[str] = []
    bad_values: list[str] = []
    ragged: list[int] = []
    for line_no, row in enumerate(rows[1:], start=2):
        if len(row) != width:
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
        if with_realtime:
            raw_realtime = row[2].strip()
            published = parse_ymd(raw_realtime) if raw_realtime else None
            if raw_realtime and published is None:
                bad_dates.append(repr(raw_realtime))
                continue
            realtime.append(published)
        dates.append(day)
        values.append(value)
    if ragged:
        raise fail(
            f"{len(ragged)} rows without exactly {width} columns (lines {first_few(ragged)})"
        )
    if bad_dates:
        raise fail(
            f"{len(bad_dates)} unparseable dates (YYYY-MM-DD expected): {first_few(bad_dates)}"
        )
    if bad_values:
        raise fail(
            f"{len(bad_values)} non-numeric values ('.' or empty mean missing): "
            f"{first_few(bad_values)}"
        )
    columns = {"date": pd.Series(dates, dtype=object), "value": pd.Series(values, dtype="float64")}
    if with_realtime:
        columns[REALTIME_HEADER] = pd.to_datetime(pd.Series(realtime, dtype=object))
    frame = pd.DataFrame(columns)
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
    """The snapshot layout: header `observation_date,<ID>`, ISO dates, empty for missing.

    A frame with known `realtime_start` values (an API recording) adds that third column.
    """
    with_realtime = REALTIME_HEADER in frame and frame[REALTIME_HEADER].notna().any()
    lines = [f"observation_date,{series_id}" + (f",{REALTIME_HEADER}" if with_realtime else "")]
    realtime = frame[REALTIME_HEADER] if with_realtime else [None] * len(frame)
    for day, value, published in zip(frame["date"], frame["value"], realtime, strict=True):
        text = "" if value is None or pd.isna(value) else format(float(value), ".15g")
        line = f"{pd.Timestamp(day).date().isoformat()},{text}"
        if with_realtime:
            line += "," + ("" if pd.isna(published) else pd.Timestamp(published).date().isoformat())
        lines.append(line)
    return "\n".join(lines) + "\n"


def _write_atomically(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(path)
    return path


def write_fred_csv(frame: pd.DataFrame, series_id: str, dest: Path) -> Path:
    """Write `dest/fred/<ID>.csv` atomically (temp file, then rename)."""
    folder = Path(dest) / SOURCE
    folder.mkdir(parents=True, exist_ok=True)
    return _write_atomically(series_file(folder, series_id), format_fred_csv(frame, series_id))


def write_series_metadata(metadata: Mapping, series_id: str, dest: Path) -> Path | None:
    """Write `dest/fred/<ID>.series.json` (an API recording's metadata); with none, remove it.

    Removing keeps a keyless recording over an older API one from replaying stale metadata.
    """
    folder = Path(dest) / SOURCE
    folder.mkdir(parents=True, exist_ok=True)
    path = series_file(folder, series_id, METADATA_SUFFIX)
    if not metadata:
        path.unlink(missing_ok=True)
        return None
    fields = {name: metadata.get(name) for name in METADATA_FIELDS}
    return _write_atomically(path, json.dumps(fields, indent=2, ensure_ascii=False) + "\n")


def read_series_metadata(path: Path, series_id: str) -> dict:
    """The metadata an API recording stored next to its CSV (see write_series_metadata)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SourceFormatError(
            SOURCE, f"{path}: unreadable series metadata ({type(exc).__name__})", series_id
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("units"), str):
        raise SourceFormatError(SOURCE, f"{path}: series metadata without units", series_id)
    return {name: None if data.get(name) is None else str(data[name]) for name in METADATA_FIELDS}


# -- units ---------------------------------------------------------------------------------------


def resolve_units(catalog: Catalog, s: Series, label: str | None, origin: str) -> str:
    """The catalog's unit_labels key for the units label FRED published for `s`."""
    if not label or not label.strip():
        raise SourceFormatError(SOURCE, f"{origin}: series metadata has no units", s.id)
    try:
        return catalog.resolve_units(s, label)
    except CatalogError as exc:
        raise SourceFormatError(SOURCE, f"{origin}: {exc}", s.id) from None


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


def to_vintage_rows(
    series_id: str, vintages: pd.DataFrame, units: str, start: date | None
) -> pd.DataFrame:
    """VINTAGE_COLUMNS -> OBSERVATION_COLUMNS + `realtime_end` (both datetime64)."""
    frame = to_observations(series_id, vintages, units, start)
    ends = vintages if start is None else vintages[vintages["date"] >= start]
    frame["realtime_end"] = pd.to_datetime(ends["realtime_end"].to_numpy(dtype=object))
    return frame


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if not p.empty]
    if not parts:
        return empty_observations()
    return pd.concat(parts, ignore_index=True)[OBSERVATION_COLUMNS]


class Fetched(NamedTuple):
    """One series as a FRED source delivers it."""

    values: pd.DataFrame  # date, value (+ realtime_start where known)
    units: str  # the catalog's unit_labels key for the label the values arrived with
    metadata: dict  # FRED's series metadata (METADATA_FIELDS) from the API or its recording
    # VINTAGE_COLUMNS: the vintages FRED has replaced (`vintages: true` series through the API)
    replaced: pd.DataFrame | None = None


class FredBatchError(SourceError):
    """Some series of a batch failed; `failures` holds each one's own error."""

    def __init__(self, failures: list[SourceError], not_tried: list[str], total: int, outcome: str):
        self.failures = failures
        self.not_tried = not_tried
        # Series failing the same way (a bad key fails them all) share one line.
        groups: dict[str, list[str]] = {}
        for failure in failures:
            groups.setdefault(failure.problem, []).append(failure.series or "?")
        parts = [f"[{SOURCE}/{','.join(ids)}] {problem}" for problem, ids in groups.items()]
        if not_tried:
            parts.append(
                f"stopped there, the service being unreachable: {len(not_tried)} series not "
                f"tried ({first_few(not_tried)})"
            )
        super().__init__(
            SOURCE, f"{len(failures)} of {total} series failed ({outcome}): " + "; ".join(parts)
        )


class _FredSource:
    name = SOURCE
    mode = "live"

    def _values(self, s: Series, start: date | None) -> Fetched | None:
        """One series on or after `start`; None when the source does not have it."""
        raise NotImplementedError

    def _each(
        self, series: Sequence[Series], start: date | None, keep: Callable[[Series, Fetched], None]
    ) -> tuple[list[str], list[SourceError], list[str]]:
        """Fetch every series, handing each to `keep`: (absent, failures, not tried).

        A failing series does not stop the others, so one error never hides the rest; an
        unreachable service does (every other series would wait through the same retries).
        """
        absent: list[str] = []
        failures: list[SourceError] = []
        for i, s in enumerate(series):
            try:
                got = self._values(s, start)
            except SourceUnreachable as exc:
                failures.append(exc)
                return absent, failures, [t.id for t in series[i + 1 :]]
            except SourceError as exc:
                failures.append(exc)
                continue
            if got is None:
                absent.append(s.id)
            else:
                keep(s, got)
        return absent, failures, []

    def fetch(self, series: Sequence[Series], start: date | None = None) -> Batch:
        """Every series, or an error naming each failing one: a partial batch is never returned.

        The raw asset would otherwise write some series fresh and leave the others stale behind
        a successful materialization; failing whole keeps the warehouse at its last complete
        state, and the next run refetches everything (lookback windows are small).
        """
        parts, replaced, metadata = [], [], {}

        def keep(s: Series, got: Fetched) -> None:
            parts.append(to_observations(s.id, got.values, got.units, start))
            if got.replaced is not None:
                replaced.append(to_vintage_rows(s.id, got.replaced, got.units, start))
            if got.metadata:
                metadata[s.id] = got.metadata

        absent, failures, not_tried = self._each(series, start, keep)
        if len(failures) == 1 and not not_tried:
            raise failures[0]  # already names its series; keeps its type and HTTP status
        if failures:
            raise FredBatchError(failures, not_tried, len(series), "batch not written")
        vintages = pd.concat(replaced, ignore_index=True) if replaced else None
        return Batch(
            SOURCE,
            self.mode,
            _concat(parts),
            absent=absent,
            series_metadata=metadata,
            vintages=vintages,
        )

    def record(self, series: Sequence[Series], dest: Path) -> list[Path]:
        """Write each series' full history; one bad series does not stop the others.

        The CSV carries `realtime_start` where known, and API metadata goes to
        `<ID>.series.json`, so replaying the recording gives the live run's raw rows.
        """
        written: list[Path] = []

        def keep(s: Series, got: Fetched) -> None:
            path = write_fred_csv(got.values, s.id, dest)
            meta_path = write_series_metadata(got.metadata, s.id, dest)
            log.info("fred/%s: %d observations -> %s", s.id, len(got.values), path)
            written.extend(p for p in (path, meta_path) if p is not None)

        absent, failures, not_tried = self._each(series, None, keep)
        for series_id in absent:
            log.warning("fred/%s: not available from this source, nothing recorded", series_id)
        if failures:
            for failure in failures:
                log.error("%s", failure)
            raise FredBatchError(
                failures, not_tried, len(series), f"{len(written)} file(s) recorded"
            )
        return written


# -- replay --------------------------------------------------------------------------------------


class FredReplaySource(_FredSource):
    """Reads `<folder>/fred/<ID>.csv`; series without a file are reported in `Batch.absent`.

    `<ID>.series.json` next to it (an API recording) gives the published units and metadata.
    """

    def __init__(self, folder: Path, mode: str = "replay", catalog: Catalog | None = None):
        self.folder = Path(folder) / SOURCE
        self.mode = mode
        self._catalog = catalog

    def _values(self, s: Series, start: date | None) -> Fetched | None:
        path = series_file(self.folder, s.id)
        if contained_file(path, SOURCE, s.id) is None:
            return None
        payload = read_window(path, start, DATE_HEADERS)  # as the live `cosd` filter sends it
        values = parse_fred_csv(payload, s.id, origin=str(path))
        meta_path = series_file(self.folder, s.id, METADATA_SUFFIX)
        if contained_file(meta_path, SOURCE, s.id) is None:
            return Fetched(values, s.units, {})
        metadata = read_series_metadata(meta_path, s.id)
        catalog = self._catalog or load_catalog()
        return Fetched(
            values, resolve_units(catalog, s, metadata["units"], str(meta_path)), metadata
        )


# -- keyless graph CSV ---------------------------------------------------------------------------


class FredCsvSource(_FredSource):
    """The keyless graph CSV (`fredgraph.csv?id=ID`); units come from the catalog."""

    def __init__(self, base_url: str = DEFAULT_CSV_URL, client: HttpClient | None = None):
        self.base_url = base_url
        self.client = client or HttpClient(SOURCE, min_interval=CSV_MIN_INTERVAL)

    def _values(self, s: Series, start: date | None) -> Fetched | None:
        params = {"id": s.id}
        if start is not None:
            params["cosd"] = start.isoformat()  # graph CSV's own start filter; we filter too
        try:
            response = self.client.get(self.base_url, params=params, series=s.id, expect="csv")
        except SourceHttpError as exc:
            if exc.status == 404:
                return None
            raise
        return Fetched(parse_fred_csv(response.content, s.id, origin="graph CSV"), s.units, {})


# -- API: FRED's web service in XML --------------------------------------------------------------


def error_message(body: bytes) -> str | None:
    """The message of FRED's error envelope `<error code="400" message="..."/>`, else None."""
    root = _parse_xml(body)
    if root is None or root.tag != "error":
        return None
    return root.get("message")


def _parse_xml(body: bytes) -> ET.Element | None:
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        return None


def api_client(api_key: str, **options) -> HttpClient:
    """The HttpClient FRED's API needs: paced ~2/s, the key redacted, FRED's messages quoted."""
    options.setdefault("min_interval", API_MIN_INTERVAL)
    return HttpClient(SOURCE, redact=(api_key,), error_message=error_message, **options)


def _int_attr(root: ET.Element, name: str) -> int | None:
    try:
        return int(root.get(name, ""))
    except ValueError:
        return None


def _dates(texts: list[str | None], what: str, series_id: str) -> list[date]:
    days = [parse_ymd(t) if t else None for t in texts]
    bad = [repr(t) for t, d in zip(texts, days, strict=True) if d is None]
    if bad:
        raise SourceFormatError(
            SOURCE,
            f"API: {len(bad)} unparseable {what} (YYYY-MM-DD expected): {first_few(bad)}",
            series_id,
        )
    return days


def parse_observations_xml(root: ET.Element, series_id: str) -> pd.DataFrame:
    """`<observations>` -> VINTAGE_COLUMNS (dates as datetime.date, `.` as NaN)."""
    rows = [child.attrib for child in root if child.tag == "observation"]
    raw_values = [r.get("value", "") for r in rows]
    values = [_value(v.strip()) for v in raw_values]
    bad = [
        f"{r.get('date')}={v!r}"
        for r, v, x in zip(rows, raw_values, values, strict=True)
        if x is None
    ]
    if bad:
        raise SourceFormatError(
            SOURCE,
            f"API: {len(bad)} non-numeric values ('.' means missing): {first_few(bad)}",
            series_id,
        )
    return pd.DataFrame(
        {
            "date": pd.Series(
                _dates([r.get("date") for r in rows], "dates", series_id), dtype=object
            ),
            "value": pd.Series(values, dtype="float64"),
            "realtime_start": pd.Series(
                _dates([r.get("realtime_start") for r in rows], "realtime_start", series_id),
                dtype=object,
            ),
            "realtime_end": pd.Series(
                _dates([r.get("realtime_end") for r in rows], "realtime_end", series_id),
                dtype=object,
            ),
        }
    )


def parse_series_xml(root: ET.Element, series_id: str) -> dict:
    """`<seriess><series .../></seriess>` -> METADATA_FIELDS (None where FRED sent nothing)."""
    series = root.find("series")
    if series is None:
        raise SourceFormatError(SOURCE, "API: series metadata holds no <series>", series_id)
    if (series.get("id") or "").upper() != series_id.upper():
        raise SourceFormatError(
            SOURCE, f"API: metadata is for series {series.get('id')!r}, not {series_id}", series_id
        )
    return {name: series.get(name) for name in METADATA_FIELDS}


def vintage_windows(
    vintage_dates: Sequence[date], per_request: int = VINTAGES_PER_REQUEST
) -> list[tuple[date, date]]:
    """Real-time periods covering every vintage, each holding at most `per_request` of them.

    Consecutive periods touch (the next starts the day after one ends), the first starts at the
    first vintage and the last ends at 9999-12-31, so together they are the whole history.
    """
    if not 0 < per_request <= VINTAGE_CAP:
        raise ValueError(f"per_request must be 1..{VINTAGE_CAP}, not {per_request}")
    days = sorted(set(vintage_dates))
    starts = days[::per_request]
    ends = [s - timedelta(days=1) for s in starts[1:]] + [OPEN_END] if starts else []
    return list(zip(starts, ends, strict=True))


def merge_vintage_pieces(pieces: pd.DataFrame) -> pd.DataFrame:
    """Join again the vintage rows that a real-time window boundary cut in two.

    FRED clips each row's real-time period to the one asked for, so a value current across two
    windows comes back as two rows with the same date and value, the second starting the day
    after the first ends. The result is what one request for the whole period would give.
    """
    if pieces.empty:
        return pieces[VINTAGE_COLUMNS].reset_index(drop=True)
    frame = pieces[VINTAGE_COLUMNS].drop_duplicates()
    frame = frame.sort_values(["date", "realtime_start"], kind="stable").reset_index(drop=True)
    start = frame["realtime_start"].map(date.toordinal)
    end = frame["realtime_end"].map(date.toordinal)
    value = frame["value"]
    continues = (
        frame["date"].eq(frame["date"].shift())
        & start.eq(end.shift() + 1)
        & (value.eq(value.shift()) | (value.isna() & value.shift().isna()))
    )
    group = (~continues).cumsum()
    merged = frame.groupby(group, sort=False).agg(
        date=("date", "first"),
        value=("value", "first"),
        realtime_start=("realtime_start", "first"),
        realtime_end=("realtime_end", "last"),
    )
    return merged.reset_index(drop=True)


def latest_vintage(vintages: pd.DataFrame) -> pd.DataFrame:
    """Vintage rows -> the current value per date and the day FRED first published it.

    Current = still valid at the open end (9999-12-31): an observation FRED later dropped is
    not current. `realtime_start` is datetime64 like every other source's column.
    """
    current = vintages[vintages["realtime_end"] == OPEN_END]
    current = current.sort_values(["date", "realtime_start"], kind="stable")
    current = current.drop_duplicates("date", keep="last")
    return pd.DataFrame(
        {
            "date": current["date"].to_numpy(dtype=object),
            "value": current["value"].to_numpy(dtype="float64"),
            "realtime_start": pd.to_datetime(current["realtime_start"].to_numpy(dtype=object)),
        }
    )


class FredApi:
    """FRED's web service, one method per endpoint crosswind uses: XML, paged, key redacted."""

    def __init__(self, api_key: str, root_url: str, client: HttpClient):
        self.api_key = api_key
        self.root_url = root_url.rstrip("/")
        self.client = client

    def series(self, series_id: str) -> dict | None:
        """`/series`: METADATA_FIELDS; None when FRED says the series does not exist."""
        try:
            root = self._get("series", {"series_id": series_id}, series_id, "seriess")
        except SourceHttpError as exc:
            if exc.status in (400, 404) and "does not exist" in exc.problem.lower():
                return None
            raise
        return parse_series_xml(root, series_id)

    def observations(
        self,
        series_id: str,
        *,
        observation_start: date | None = None,
        realtime: tuple[date, date] | None = None,
    ) -> pd.DataFrame:
        """`/series/observations`, every page: VINTAGE_COLUMNS.

        Without `realtime` FRED answers with today's values, each row's real-time period being
        today (not when it was published).
        """
        params: dict = {"series_id": series_id}
        if realtime is not None:
            params["realtime_start"], params["realtime_end"] = (d.isoformat() for d in realtime)
        if observation_start is not None:
            params["observation_start"] = observation_start.isoformat()
        roots = self._paged("series/observations", params, series_id, "observations")
        frames = [parse_observations_xml(root, series_id) for root in roots]
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def vintage_dates(self, series_id: str) -> list[date]:
        """`/series/vintagedates` over all time: the days the series' values were published."""
        params = {
            "series_id": series_id,
            "realtime_start": EARLIEST_REALTIME.isoformat(),
            "realtime_end": OPEN_END.isoformat(),
        }
        roots = self._paged("series/vintagedates", params, series_id, "vintage_dates")
        texts = [(child.text or "").strip() for root in roots for child in root]
        return _dates(texts, "vintage dates", series_id)

    def vintages(
        self,
        series_id: str,
        observation_start: date | None = None,
        per_request: int = VINTAGES_PER_REQUEST,
    ) -> pd.DataFrame:
        """Every vintage (ALFRED) of a series: VINTAGE_COLUMNS, one row per value and the
        real-time period it was current (`realtime_end` 9999-12-31 = still current).

        FRED refuses (HTTP 400) observations for a real-time period holding more than 2,000
        vintage dates, so this asks /series/vintagedates first, then /series/observations once
        per window of at most `per_request` vintage dates, and joins rows a window boundary cut:
        the same rows one unlimited request would give.
        """
        windows = vintage_windows(self.vintage_dates(series_id), per_request)
        pieces = [
            self.observations(series_id, observation_start=observation_start, realtime=window)
            for window in windows
        ]
        if not pieces:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in VINTAGE_COLUMNS}).astype(
                {"value": "float64"}
            )
        return merge_vintage_pieces(pd.concat(pieces, ignore_index=True))

    # -- transport -------------------------------------------------------------------------------

    def _get(self, endpoint: str, params: dict, series_id: str, tag: str) -> ET.Element:
        response = self.client.get(
            f"{self.root_url}/{endpoint}",
            params={**params, "file_type": "xml", "api_key": self.api_key},
            series=series_id,
        )
        body = response.content or b""
        where = f"API {endpoint}"
        if not body.strip() or looks_like_html(body):
            what = "an empty response" if not body.strip() else "an HTML page"
            raise SourceFormatError(SOURCE, f"{where} returned {what} instead of XML", series_id)
        root = _parse_xml(body)
        if root is None:
            head = self.client.redact(body[:60].decode("utf-8", "replace"))
            raise SourceFormatError(
                SOURCE, f"{where} response is not XML (starts {head!r})", series_id
            )
        if root.tag == "error":  # FRED's envelope, should it ever come with a 2xx status
            message = self.client.redact(" ".join(str(root.get("message")).split()))
            raise SourceError(SOURCE, f"{where} error: {message}", series_id)
        if root.tag != tag:
            raise SourceFormatError(
                SOURCE, f"{where} answered <{root.tag}> where <{tag}> was expected", series_id
            )
        return root

    def _paged(self, endpoint: str, params: dict, series_id: str, tag: str) -> list[ET.Element]:
        """Every page of a list FRED pages (`count`, `offset`, `limit` on the root element)."""
        roots: list[ET.Element] = []
        received = 0
        while True:
            page = {**params, "offset": received} if received else params
            root = self._get(endpoint, page, series_id, tag)
            roots.append(root)
            received += len(root)
            count = _int_attr(root, "count")
            if count is None or received >= count:
                return roots
            if len(root) == 0:
                raise SourceFormatError(
                    SOURCE,
                    f"API {endpoint}: {count} rows announced, none sent from offset {received}; "
                    "history would be truncated",
                    series_id,
                )


class FredApiSource(_FredSource):
    """FRED's API: series metadata and published units for every series, current values by
    default, and every vintage (in windows under FRED's cap) where the catalog sets `vintages`.

    `realtime_start` is when FRED first published the stored value for `vintages: true`
    series, NULL otherwise (the catalog's release lag dates publication). The vintages FRED has
    replaced (first releases and intermediate revisions) go to `Batch.vintages`, which the raw
    asset keeps in raw_fred.observations_history: the series' history as it was published.
    """

    def __init__(
        self,
        api_key: str,
        root_url: str = DEFAULT_API_URL,
        client: HttpClient | None = None,
        catalog: Catalog | None = None,
    ):
        if not api_key:
            raise CrosswindError(f"{API_KEY_ENV} is empty")
        self.client = client or api_client(api_key)
        self.api = FredApi(api_key, root_url, self.client)
        self._catalog = catalog

    def _values(self, s: Series, start: date | None) -> Fetched | None:
        metadata = self.api.series(s.id)
        if metadata is None:
            return None
        catalog = self._catalog or load_catalog()
        units = resolve_units(catalog, s, metadata["units"], "API series metadata")
        if not s.vintages:
            values = self.api.observations(s.id, observation_start=start)[["date", "value"]]
            return Fetched(values, units, metadata)
        vintages = self.api.vintages(s.id, observation_start=start)
        replaced = vintages[vintages["realtime_end"] != OPEN_END].reset_index(drop=True)
        return Fetched(latest_vintage(vintages), units, metadata, replaced)


# -- choice --------------------------------------------------------------------------------------


def make_source(settings: Settings) -> _FredSource:
    """Live: the API when FRED_API_KEY is set, else the graph CSV. Replay/sample: the files."""
    if settings.source_mode != "live":
        return FredReplaySource(settings.replay_dir, mode=settings.source_mode)
    api_key = settings.value(API_KEY_ENV).strip()
    if api_key:
        return FredApiSource(api_key, settings.value(API_URL_ENV) or DEFAULT_API_URL)
    return FredCsvSource(settings.value(CSV_URL_ENV) or DEFAULT_CSV_URL)
