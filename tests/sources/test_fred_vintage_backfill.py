"""With an API key, the FRED asset backfills the vintages FRED replaced (ALFRED): first releases.

Against the fake FRED API (tests/support/fred_api.py, which refuses real-time periods holding
more than 2,000 vintage dates as FRED does), through the real raw asset: weekly claims whose
every first print was revised a week later, 2,301 vintage dates, fetched in windows under the
cap. The current table holds the revised values; raw_fred.observations_history every first
print, dated by FRED (realtime_start, and `_superseded_at` the day its revision came out), so
history is known as it was first published. A rerun adds nothing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import dagster as dg
import duckdb

from orchestration.defs.ingestion.fred.assets import fred_observations
from orchestration.sources import fred
from tests.support.catalog import catalog_requiring
from tests.support.fred_api import FakeFredApi, FakeSeries
from tests.support.resources import crosswind_resources

KEY = "0123456789abcdef0123456789abcdef"
WEEKS = 2_300
FIRST_WEEK = date(1980, 1, 5)  # a Saturday; the last week ends in 2024


def claims() -> FakeSeries:
    """Each week printed 5 days later, revised 7 days after that (the next week's release)."""
    releases = []
    for week in range(WEEKS):
        day = FIRST_WEEK + timedelta(weeks=week)
        releases.append((day, day + timedelta(days=5), str(300_000 + week)))
        releases.append((day, day + timedelta(days=12), str(301_000 + week)))
    return FakeSeries("ICSA", "Number", releases, frequency="Weekly, Ending Saturday")


def test_first_releases_are_backfilled_in_windows_under_the_cap(
    http_server, tmp_path, monkeypatch, no_http_waits
):
    fake = claims()
    assert len(fake.vintage_dates()) > fred.VINTAGE_CAP
    FakeFredApi(http_server, [fake], today=date(2024, 6, 30))
    warehouse_dir = tmp_path / "warehouse"
    for name, value in {
        "CROSSWIND_SOURCE": "live",
        "FRED_API_KEY": KEY,
        "CROSSWIND_FRED_API_URL": http_server.url("/fred"),
        "CROSSWIND_WAREHOUSE_DIR": str(warehouse_dir),
        "CROSSWIND_CATALOG": str(catalog_requiring(["ICSA"], tmp_path / "catalog.yaml")),
    }.items():
        monkeypatch.setenv(name, value)

    result = dg.materialize(
        [fred_observations], raise_on_error=False, resources=crosswind_resources()
    )
    assert result.success, [str(e.event_specific_data) for e in result.get_step_failure_events()]
    meta = result.asset_materializations_for_node("raw_fred__observations")[0].metadata
    assert (meta["new_rows"].value, meta["vintage_rows"].value) == (WEEKS, WEEKS)
    windows = [
        r for r in http_server.requests_to("/fred/series/observations") if r.param("series_id")
    ]
    assert len(windows) == 2  # 2,301 vintage dates: two real-time windows of at most 1,900

    con = duckdb.connect(str(warehouse_dir / "crosswind.duckdb"), read_only=True)
    try:
        week = FIRST_WEEK + timedelta(weeks=1_000)
        current = con.execute(
            "SELECT value, realtime_start FROM raw_fred.observations WHERE date = ?", [week]
        ).fetchall()
        first = con.execute(
            "SELECT value, units, realtime_start, _superseded_at, _change "
            "FROM raw_fred.observations_history WHERE date = ?",
            [week],
        ).fetchall()
        counts = con.execute(
            "SELECT count(*), count(DISTINCT date), min(_change), max(_change) "
            "FROM raw_fred.observations_history"
        ).fetchone()
    finally:
        con.close()
    assert current == [(301_000.0 + 1_000, week + timedelta(days=12))]
    # Known from the day FRED first printed it until its revision came out, in FRED's own time.
    assert first == [
        (
            300_000.0 + 1_000,
            "Number",
            week + timedelta(days=5),
            datetime.combine(week + timedelta(days=12), datetime.min.time()),
            "vintage",
        )
    ]
    assert counts == (WEEKS, WEEKS, "vintage", "vintage")

    again = dg.materialize(
        [fred_observations], raise_on_error=False, resources=crosswind_resources()
    )
    meta = again.asset_materializations_for_node("raw_fred__observations")[0].metadata
    assert (meta["new_rows"].value, meta["vintage_rows"].value) == (0, 0)
