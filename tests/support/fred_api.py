"""A fake of FRED's web service (XML) on the loopback test server.

It answers the three endpoints crosswind calls the way FRED does:

- `/fred/series?series_id=ID`: `<seriess><series id units frequency last_updated title/>`;
  HTTP 400 `<error message="Bad Request.  The series does not exist."/>` for unknown ids;
- `/fred/series/vintagedates`: the days a series' values were published, paged (`count`,
  `offset`, `limit`);
- `/fred/series/observations`: the values current in the requested real-time period
  (`realtime_start`/`realtime_end`, both today when absent), each row's period clipped to it as
  ALFRED does, filtered by `observation_start`, paged; and HTTP 400 with FRED's own message
  when the period holds more than 2,000 vintage dates (the vintage cap).

A series is its release history: (observation date, published on, value as FRED writes it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from xml.sax.saxutils import quoteattr

from tests.support.http_server import LocalHttpServer, RecordedRequest, Reply

OPEN_END = date(9999, 12, 31)
VINTAGE_CAP = 2_000
MISSING_SERIES = (
    '<?xml version="1.0" encoding="utf-8" ?>\n'
    '<error code="400" message="Bad Request.  The series does not exist." />\n'
)


def cap_error(count: int, start: str, end: str) -> str:
    """FRED's reply (HTTP 400) to a real-time period with too many vintage dates."""
    message = (
        f"Bad Request.  There are {count} vintage dates in the specified real-time period: "
        f"{start} to {end}.  This exceeds the maximum number of vintage dates allowed for this "
        f"file type ({VINTAGE_CAP})."
    )
    return (
        '<?xml version="1.0" encoding="utf-8" ?>\n'
        f'<error code="400" message={quoteattr(message)} />\n'
    )


@dataclass
class FakeSeries:
    id: str
    units: str
    releases: list[tuple[date, date, str]]  # (observation date, published on, value text)
    frequency: str = "Daily"
    title: str = "A FRED series"
    last_updated: str = "2026-02-12 15:16:02-06"

    def vintage_dates(self) -> list[date]:
        return sorted({published for _, published, _ in self.releases})

    def periods(self) -> list[tuple[date, date, date, str]]:
        """(date, realtime_start, realtime_end, value): each value and when it was current.

        A republished identical value is no new period, as in ALFRED.
        """
        by_date: dict[date, list[tuple[date, str]]] = {}
        for day, published, value in self.releases:
            by_date.setdefault(day, []).append((published, value))
        out = []
        for day in sorted(by_date):
            changes: list[tuple[date, str]] = []
            for published, value in sorted(by_date[day]):
                if not changes or changes[-1][1] != value:
                    changes.append((published, value))
            for i, (start, value) in enumerate(changes):
                end = changes[i + 1][0] - timedelta(days=1) if i + 1 < len(changes) else OPEN_END
                out.append((day, start, end, value))
        return out


class FakeFredApi:
    """Routes /fred/series, /fred/series/vintagedates and /fred/series/observations."""

    def __init__(
        self,
        server: LocalHttpServer,
        series: Iterable[FakeSeries],
        *,
        today: date,
        page_limit: int = 100_000,
        root: str = "/fred",
    ):
        self.series = {s.id: s for s in series}
        self.broken: dict[str, Reply] = {}  # series id -> the reply every endpoint gives it
        self.today = today
        self.page_limit = page_limit
        self.root = root
        for path, answer in (
            ("series", self._series),
            ("series/vintagedates", self._vintagedates),
            ("series/observations", self._observations),
        ):
            server.route_fn(f"{root}/{path}", self._for_series(answer))

    def _for_series(self, answer: Callable[[RecordedRequest, FakeSeries], Reply]):
        """Broken series get their reply, unknown ones FRED's "does not exist", others `answer`."""

        def handler(request: RecordedRequest) -> Reply:
            series_id = request.param("series_id") or ""
            if (broken := self.broken.get(series_id)) is not None:
                return broken
            if series_id not in self.series:
                return Reply.xml(MISSING_SERIES, status=400)
            return answer(request, self.series[series_id])

        return handler

    def _series(self, request: RecordedRequest, s: FakeSeries) -> Reply:
        today = self.today.isoformat()
        return Reply.xml(
            '<?xml version="1.0" encoding="utf-8" ?>\n'
            f'<seriess realtime_start="{today}" realtime_end="{today}">\n'
            f'  <series id="{s.id}" realtime_start="{today}" realtime_end="{today}" '
            f"title={quoteattr(s.title)} frequency={quoteattr(s.frequency)} "
            f"units={quoteattr(s.units)} last_updated={quoteattr(s.last_updated)} "
            'seasonal_adjustment="Not Seasonally Adjusted" popularity="80" notes="..." />\n'
            "</seriess>\n"
        )

    def _page(self, request: RecordedRequest, rows: list, default_limit: int) -> tuple:
        offset = int(request.param("offset") or 0)
        limit = min(int(request.param("limit") or default_limit), self.page_limit)
        return rows[offset : offset + limit], offset, limit

    def _vintagedates(self, request: RecordedRequest, s: FakeSeries) -> Reply:
        start = request.param("realtime_start") or "1776-07-04"
        end = request.param("realtime_end") or "9999-12-31"
        days = [d for d in s.vintage_dates() if start <= d.isoformat() <= end]
        page, offset, limit = self._page(request, days, 10_000)
        body = "".join(f"  <vintage_date>{d.isoformat()}</vintage_date>\n" for d in page)
        return Reply.xml(
            '<?xml version="1.0" encoding="utf-8" ?>\n'
            f'<vintage_dates realtime_start="{start}" realtime_end="{end}" '
            f'order_by="vintage_date" sort_order="asc" count="{len(days)}" offset="{offset}" '
            f'limit="{limit}">\n{body}</vintage_dates>\n'
        )

    def _observations(self, request: RecordedRequest, s: FakeSeries) -> Reply:
        today = self.today.isoformat()
        start = date.fromisoformat(request.param("realtime_start") or today)
        end = date.fromisoformat(request.param("realtime_end") or today)
        vintages = [d for d in s.vintage_dates() if start <= d <= end]
        if len(vintages) > VINTAGE_CAP:
            return Reply.xml(cap_error(len(vintages), start.isoformat(), end.isoformat()), 400)
        first = date.fromisoformat(request.param("observation_start") or "1600-01-01")
        rows = [
            (day, max(rs, start), min(re, end), value)
            for day, rs, re, value in s.periods()
            if rs <= end and re >= start and day >= first
        ]
        page, offset, limit = self._page(request, rows, 100_000)
        body = "".join(
            f'  <observation realtime_start="{rs.isoformat()}" realtime_end="{re.isoformat()}" '
            f'date="{day.isoformat()}" value="{value}"/>\n'
            for day, rs, re, value in page
        )
        return Reply.xml(
            '<?xml version="1.0" encoding="utf-8" ?>\n'
            f'<observations realtime_start="{start.isoformat()}" '
            f'realtime_end="{end.isoformat()}" observation_start="{first.isoformat()}" '
            'observation_end="9999-12-31" units="lin" output_type="1" file_type="xml" '
            f'order_by="observation_date" sort_order="asc" count="{len(rows)}" '
            f'offset="{offset}" limit="{limit}">\n{body}</observations>\n'
        )
