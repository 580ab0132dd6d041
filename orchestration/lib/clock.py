"""The warehouse's clock: "today" is the calendar date in UTC, in Python and in dbt alike.

Python reads it here (`today()`); dbt reads it from the `warehouse_today()` macro
(dbt_project/macros/clock.sql), which computes the same UTC date in SQL. Neither follows the
process time zone: DuckDB's `current_date` does (the `TZ` variable), so a build in Los Angeles
used to stop one day earlier than a build in UTC from the same input.

Why UTC rather than the schedule's America/New_York: it needs no time-zone database, has no
daylight-saving jumps, and at the scheduled hour (18:30 New York, 22:30/23:30 UTC) both name the
same day, so the daily refresh sees the same "today" either way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

WAREHOUSE_TIME_ZONE = "UTC"


def now() -> datetime:
    """The current instant, time-zone aware (UTC)."""
    return datetime.now(UTC)


def today() -> date:
    """The warehouse's today: the UTC calendar date."""
    return now().date()
