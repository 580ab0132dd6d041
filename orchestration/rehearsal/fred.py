"""Fake FRED: the keyless graph CSV and the API (XML or JSON), as FRED documents them.

Each series' values come from the recorded bodies (`fred/api/series/observations/ID.xml`, then
`fred/graph/ID.csv`) and, for dates those lack, from the snapshot (`fred/ID.csv`). FRED keeps
every vintage; the snapshot does not, so a snapshot value is taken to be published once, on its
date plus the catalog's release lag, and never revised. That gives each series its vintage
dates, and with them FRED's real limits:

- observations over a real-time period holding more than 2,000 vintage dates (e.g. every
  vintage, `realtime_start=1776-07-04&realtime_end=9999-12-31`) answer HTTP 400 with FRED's
  vintage-cap error: the recorded `fred/api/errors/vintage_cap_ID.xml` byte for byte when the
  wire has one for that request, else the same message with this series' count;
- a series that neither folder has answers FRED's `The series does not exist.` (HTTP 400);
- a request without an `api_key`, or with one that is not 32 lower-case letters and digits,
  answers FRED's key errors.

Series metadata comes from a recorded `fred/api/series/ID.xml` where there is one; otherwise it is
built from the catalog with FRED's own units label where crosswind knows it (UNITS_LABELS).
The graph CSV is written the way FRED writes it today: `observation_date,ID`, empty = missing.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from xml.sax.saxutils import quoteattr

from orchestration.lib.catalog import Catalog, Series
from orchestration.rehearsal.answers import (
    DERIVED,
    GENERATED,
    MISSING,
    SNAPSHOT,
    WIRE,
    Answer,
    Folder,
    recorded,
)
from orchestration.rehearsal.layout import FRED_CAP_ERROR, WireRequest
from orchestration.rehearsal.loopback import Reply, Request

EARLIEST = date(1776, 7, 4)
LATEST = date(9999, 12, 31)
VINTAGE_CAP = 2000
OBSERVATIONS_LIMIT = 100_000
VINTAGE_DATES_LIMIT = 10_000
API_KEY_RE = re.compile(r"[a-z0-9]{32}")
KEY_HELP = "Read https://fred.stlouisfed.org/docs/api/api_key.html for more information."
# FRED's units labels where they differ from the catalog's wording, as the real API wrote them
# (issue 15). Every other series gets its catalog label: the catalog was written from FRED's
# metadata, but only these two are known to be FRED's exact current text.
UNITS_LABELS = {
    "RRPONTSYD": "Billions of US Dollars",
    "NASDAQCOM": "Index Feb 5, 1971=100",
}
FREQUENCY = {"daily": "Daily", "weekly": "Weekly", "monthly": "Monthly", "quarterly": "Quarterly"}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class FredError(Exception):
    """An answer FRED gives as an error document (HTTP 400 unless said otherwise)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Observation:
    day: date
    value: str  # as FRED writes it: "." for missing
    vintage: date  # first published (realtime_start)
    until: date = LATEST  # realtime_end


@dataclass
class FredSeries:
    series_id: str
    rows: list[Observation] = field(default_factory=list)
    from_wire: bool = False
    wire_metadata: dict[str, str] | None = None

    @cached_property
    def vintages(self) -> list[date]:
        return sorted({row.vintage for row in self.rows})

    @property
    def origin(self) -> str:
        """Where values cut from this series come from."""
        return DERIVED if self.from_wire else SNAPSHOT


class FredFake:
    def __init__(self, wire: Folder, snapshot: Folder, catalog: Catalog, today: date):
        self.wire = wire
        self.snapshot = snapshot
        self.catalog = catalog
        self.today = today
        self._series: dict[str, FredSeries | None] = {}

    # -- the two services ------------------------------------------------------------------------

    def graph_csv(self, request: Request, key: WireRequest) -> Answer:
        exact = recorded(self.wire, key)
        if exact is not None:
            return exact
        series = self.series(key.ident)
        if series is None:
            return Answer(Reply.text(f"Series {key.ident} not found", status=404), MISSING)
        try:
            start = _date(request.param("cosd"), EARLIEST, "cosd")
            end = _date(request.param("coed"), LATEST, "coed")
        except FredError as exc:
            return Answer(Reply.text(exc.message, status=400), GENERATED)
        lines = [f"observation_date,{series.series_id}"]
        for row in series.rows:
            if start <= row.day <= end and row.vintage <= self.today:
                lines.append(f"{row.day.isoformat()},{'' if row.value == '.' else row.value}")
        return Answer(Reply.csv("\n".join(lines) + "\n"), series.origin)

    def api(self, request: Request, key: WireRequest) -> Answer:
        as_json = (request.param("file_type") or "xml") == "json"
        try:
            _check_key(request.param("api_key"))
            if request.param("file_type") not in (None, "xml", "json"):
                raise FredError("Bad Request.  Variable file_type is not one of: xml, json.")
            if not request.param("series_id"):
                raise FredError("Bad Request.  Variable series_id is not set.")
            exact = recorded(self.wire, key)
            if exact is not None:
                return exact
            series = self.series(key.ident)
            if series is None:
                raise FredError("Bad Request.  The series does not exist.")
            handler: Callable | None = {
                "series": self._series_info,
                "series/observations": self._observations,
                "series/vintagedates": self._vintage_dates,
            }.get(key.endpoint)
            if handler is None:
                return _error(
                    f"Bad Request.  The rehearsal does not fake fred/{key.endpoint}.",
                    as_json,
                    MISSING,
                )
            origin = series.origin
            if key.endpoint == "series" and series.wire_metadata is not None:
                origin = DERIVED
            return Answer(handler(request, series, as_json), origin)
        except VintageCapError as exc:
            if not as_json and exc.genuine is not None:
                return Answer(Reply.raw(exc.genuine, "text/xml; charset=UTF-8", 400), exc.origin)
            return _error(exc.message, as_json, exc.origin, exc.status)
        except FredError as exc:
            return _error(exc.message, as_json, GENERATED, exc.status)

    # -- endpoints -------------------------------------------------------------------------------

    def _series_info(self, request: Request, series: FredSeries, as_json: bool) -> Reply:
        start, end = self._realtime(request, self.today, self.today)
        attrs = dict(series.wire_metadata or self._metadata(series))
        attrs.update(realtime_start=start.isoformat(), realtime_end=_iso(end))
        outer = {"realtime_start": start.isoformat(), "realtime_end": _iso(end)}
        if as_json:
            return Reply.json({**outer, "seriess": [attrs]})
        return Reply.xml(_xml_document("seriess", outer, [("series", attrs, None)], indent="  "))

    def _observations(self, request: Request, series: FredSeries, as_json: bool) -> Reply:
        for name, allowed in (("units", "lin"), ("output_type", "1")):
            value = request.param(name)
            if value not in (None, allowed):
                raise FredError(
                    f"Bad Request.  The rehearsal fakes {name}={allowed} only (got {value!r})."
                )
        if request.param("frequency"):
            raise FredError("Bad Request.  The rehearsal does not aggregate (frequency).")
        observation_start = _date(request.param("observation_start"), EARLIEST, "observation_start")
        observation_end = _date(request.param("observation_end"), LATEST, "observation_end")
        limit, offset = _paging(request, OBSERVATIONS_LIMIT)
        vintage_text = request.param("vintage_dates")
        if vintage_text:
            wanted = sorted(
                {_date(t.strip(), None, "vintage_dates") for t in vintage_text.split(",")}
            )
            self._cap(series, len(wanted), wanted[0], wanted[-1])
            start, end = wanted[0], wanted[-1]
            rows = [r for r in series.rows if any(r.vintage <= v <= r.until for v in wanted)]
        else:
            start, end = self._realtime(request, self.today, self.today)
            vintages = series.vintages
            in_period = bisect_right(vintages, end) - bisect_left(vintages, start)
            self._cap(series, in_period, start, end)
            rows = [r for r in series.rows if r.vintage <= end and r.until >= start]
        rows = [r for r in rows if observation_start <= r.day <= observation_end]
        rows.sort(key=lambda r: (r.day, r.vintage), reverse=_descending(request))
        page = rows[offset : offset + limit]
        outer = {
            "realtime_start": start.isoformat(),
            "realtime_end": _iso(end),
            "observation_start": observation_start.isoformat(),
            "observation_end": _iso(observation_end),
            "units": "lin",
            "output_type": "1",
            "file_type": "json" if as_json else "xml",
            "order_by": "observation_date",
            "sort_order": "desc" if _descending(request) else "asc",
            "count": str(len(rows)),
            "offset": str(offset),
            "limit": str(limit),
        }
        items = [
            {
                "realtime_start": max(r.vintage, start).isoformat(),
                "realtime_end": _iso(min(r.until, end)),
                "date": r.day.isoformat(),
                "value": r.value,
            }
            for r in page
        ]
        if as_json:
            numeric = {k: int(outer[k]) for k in ("output_type", "count", "offset", "limit")}
            return Reply.json({**outer, **numeric, "observations": items})
        return Reply.xml(
            _xml_document("observations", outer, [("observation", i, None) for i in items])
        )

    def _vintage_dates(self, request: Request, series: FredSeries, as_json: bool) -> Reply:
        start, end = self._realtime(request, EARLIEST, LATEST)
        limit, offset = _paging(request, VINTAGE_DATES_LIMIT)
        dates = [v for v in series.vintages if start <= v <= end]
        if _descending(request):
            dates.reverse()
        page = [d.isoformat() for d in dates[offset : offset + limit]]
        outer = {
            "realtime_start": start.isoformat(),
            "realtime_end": _iso(end),
            "order_by": "vintage_date",
            "sort_order": "desc" if _descending(request) else "asc",
            "count": str(len(dates)),
            "offset": str(offset),
            "limit": str(limit),
        }
        if as_json:
            numeric = {k: int(outer[k]) for k in ("count", "offset", "limit")}
            return Reply.json({**outer, **numeric, "vintage_dates": page})
        return Reply.xml(
            _xml_document("vintage_dates", outer, [("vintage_date", {}, d) for d in page])
        )

    # -- rules -----------------------------------------------------------------------------------

    def _realtime(self, request: Request, start: date, end: date) -> tuple[date, date]:
        start = _date(request.param("realtime_start"), start, "realtime_start")
        end = _date(request.param("realtime_end"), end, "realtime_end")
        if start > end:
            raise FredError(
                "Bad Request.  The real-time start date is after the real-time end date."
            )
        return start, end

    def _cap(self, series: FredSeries, count: int, start: date, end: date) -> None:
        """FRED's vintage cap; a recorded cap error for every vintage proves the series has more."""
        genuine = None
        if (start, end) == (EARLIEST, LATEST):
            genuine = self.wire.read(FRED_CAP_ERROR.format(series_id=series.series_id))
        if count <= VINTAGE_CAP and genuine is None:
            return
        raise VintageCapError(
            f"Bad Request.  There are {count} vintage dates in the specified real-time period: "
            f"{start.isoformat()} to {_iso(end)}.  This exceeds the maximum number of vintage "
            f"dates allowed for this file type ({VINTAGE_CAP}).",
            genuine,
        )

    def _metadata(self, series: FredSeries) -> dict[str, str]:
        entry: Series | None = self.catalog.series.get(series.series_id)
        first = series.rows[0].day.isoformat() if series.rows else ""
        last = series.rows[-1] if series.rows else None
        frequency = FREQUENCY.get(entry.frequency, "") if entry else ""
        if frequency == "Weekly" and last is not None:
            frequency = f"Weekly, Ending {WEEKDAYS[last.day.weekday()]}"
        units = UNITS_LABELS.get(series.series_id) or (entry.units if entry else "")
        return {
            "id": series.series_id,
            "realtime_start": "",
            "realtime_end": "",
            "title": (entry.description if entry else series.series_id),
            "observation_start": first,
            "observation_end": last.day.isoformat() if last else "",
            "frequency": frequency,
            "frequency_short": frequency[:1],
            "units": units,
            "units_short": units,
            "seasonal_adjustment": "Not Seasonally Adjusted",
            "seasonal_adjustment_short": "NSA",
            "last_updated": f"{max(series.vintages, default=self.today).isoformat()} 15:16:02-05",
            "popularity": "50",
            "notes": "crosswind rehearsal: metadata built from the crosswind catalog.",
        }

    # -- the values ------------------------------------------------------------------------------

    def series(self, series_id: str) -> FredSeries | None:
        if series_id not in self._series:
            self._series[series_id] = self._load(series_id)
        return self._series[series_id]

    def _load(self, series_id: str) -> FredSeries | None:
        found = FredSeries(series_id)
        by_day: dict[date, Observation] = {}
        published = self._publication_rule(series_id)
        snapshot = self.snapshot.read(f"fred/{series_id}.csv")
        if snapshot is not None:
            for day, value in _graph_rows(snapshot, series_id):
                by_day[day] = Observation(day, value, published(day))
        graph = self.wire.read(f"fred/graph/{series_id}.csv")
        if graph is not None:
            found.from_wire = True
            for day, value in _graph_rows(graph, series_id):
                by_day[day] = Observation(day, value, published(day))
        api = _document(self.wire, "fred/api/series/observations", series_id)
        if api is not None:
            found.from_wire = True
            by_day.update({row.day: row for row in _api_rows(api)})
        metadata = _document(self.wire, "fred/api/series", series_id)
        if metadata is not None:
            found.wire_metadata = {k: str(v) for k, v in metadata["seriess"][0].items()}
        if not by_day and found.wire_metadata is None:
            return None
        found.rows = [by_day[d] for d in sorted(by_day)]
        return found

    def _publication_rule(self, series_id: str) -> Callable[[date], date]:
        """Observation date -> the day FRED first published it, from the catalog's lag."""
        entry = self.catalog.series.get(series_id)
        if entry is None:
            return lambda day: day
        lag = entry.release_lag_days
        if not entry.release_lag_business:
            return lambda day: day + timedelta(days=lag)

        def business(day: date) -> date:
            left = lag
            while left > 0:
                day += timedelta(days=1)
                left -= day.weekday() < 5
            return day

        return business


class VintageCapError(FredError):
    def __init__(self, message: str, genuine: bytes | None):
        super().__init__(message)
        self.genuine = genuine
        self.origin = WIRE if genuine is not None else GENERATED


def _graph_rows(payload: bytes, series_id: str) -> list[tuple[date, str]]:
    """A FRED graph CSV (either header style) -> (date, value as FRED's API writes it)."""
    reader = csv.reader(io.StringIO(payload.decode("utf-8-sig")))
    header = next(reader, [])
    if len(header) != 2 or header[1].strip().upper() != series_id.upper():
        raise ValueError(f"fred/{series_id}.csv: header {header!r} is not 'observation_date,ID'")
    rows = []
    for row in reader:
        if len(row) == 2 and row[0].strip():
            value = row[1].strip()
            rows.append((date.fromisoformat(row[0].strip()), value if value else "."))
    return rows


def _document(folder: Folder, endpoint: str, series_id: str) -> dict | None:
    """A recorded plain reply, XML or JSON, as FRED's JSON shape: root attributes plus a list
    of child attribute dicts under the plural tag (`observations`, `seriess`)."""
    payload = folder.read(f"{endpoint}/{series_id}.xml")
    if payload is not None:
        root = ET.fromstring(payload)
        return {**root.attrib, root.tag: [dict(child.attrib) for child in root]}
    payload = folder.read(f"{endpoint}/{series_id}.json")
    return json.loads(payload) if payload is not None else None


def _api_rows(document: dict) -> list[Observation]:
    """A recorded observations reply -> rows; those current when recorded stay current."""
    recorded_end = document.get("realtime_end")
    rows = []
    for node in document.get("observations", []):
        until = node.get("realtime_end")
        rows.append(
            Observation(
                date.fromisoformat(node.get("date")),
                node.get("value"),
                date.fromisoformat(node.get("realtime_start")),
                LATEST if until in (None, recorded_end) else date.fromisoformat(until),
            )
        )
    return rows


def _check_key(key: str | None) -> None:
    if key is None:
        raise FredError(f"Bad Request.  Variable api_key is not set.  {KEY_HELP}")
    if not API_KEY_RE.fullmatch(key):
        raise FredError(
            "Bad Request.  The value for variable api_key is not a 32 character alpha-numeric "
            f"lower-case string.  {KEY_HELP}"
        )


def _date(text: str | None, default: date | None, name: str) -> date:
    if text is None or text == "":
        if default is None:
            raise FredError(f"Bad Request.  Variable {name} is not set.")
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FredError(
            f"Bad Request.  Variable {name} is not a valid date (YYYY-MM-DD): {text!r}."
        ) from None


def _paging(request: Request, maximum: int) -> tuple[int, int]:
    try:
        limit = int(request.param("limit") or maximum)
        offset = int(request.param("offset") or 0)
    except ValueError:
        raise FredError("Bad Request.  Variables limit and offset must be integers.") from None
    if not 1 <= limit <= maximum or offset < 0:
        raise FredError(
            f"Bad Request.  Variable limit is not between 1 and {maximum} (or offset < 0)."
        )
    return limit, offset


def _descending(request: Request) -> bool:
    order = request.param("sort_order") or "asc"
    if order not in ("asc", "desc"):
        raise FredError("Bad Request.  Variable sort_order is not one of: asc, desc.")
    return order == "desc"


def _iso(day: date) -> str:
    return day.isoformat()


def _xml_document(
    root: str,
    attrs: dict[str, str],
    children: list[tuple[str, dict[str, str], str | None]],
    indent: str = "  ",
) -> str:
    """FRED's XML: a root element with attributes, one line per child element."""
    lines = ['<?xml version="1.0" encoding="utf-8" ?>', f"<{root}{_attrs(attrs)}>"]
    for tag, child_attrs, text in children:
        if text is None:
            lines.append(f"{indent}<{tag}{_attrs(child_attrs)}/>")
        else:
            lines.append(f"{indent}<{tag}{_attrs(child_attrs)}>{text}</{tag}>")
    lines.append(f"</{root}>")
    return "\n".join(lines) + "\n"


def _attrs(attrs: dict[str, str]) -> str:
    return "".join(f" {k}={quoteattr(str(v))}" for k, v in attrs.items())


def _error(message: str, as_json: bool, origin: str, status: int = 400) -> Answer:
    if as_json:
        return Answer(
            Reply.json({"error_code": status, "error_message": message}, status=status), origin
        )
    document = (
        '<?xml version="1.0" encoding="utf-8" ?>\n'
        f'<error code="{status}" message={quoteattr(message)} />\n'
    )
    return Answer(Reply.xml(document, status=status), origin)
