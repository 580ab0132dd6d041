"""FRED: CSV parsing (both header styles), replay, the keyless graph CSV, the API (XML) and
recordings of it."""

from __future__ import annotations

import logging
import math
import traceback
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import SourceError, SourceFormatError, SourceUnreachable
from orchestration.lib.http import USER_AGENT, SourceHttpError
from orchestration.lib.settings import load_settings
from orchestration.sources import fred
from orchestration.sources.base import OBSERVATION_COLUMNS
from tests.support.fred_api import FakeFredApi, FakeSeries
from tests.support.http_server import FakeSleep, Reply, refused_url

KEY = "0123456789abcdef0123456789abcdef"
SNAPSHOT = Path(__file__).resolve().parents[3] / "shared" / "snapshot"
CATALOG = load_catalog()
WALCL, RRP, DGS10 = (CATALOG.series[i] for i in ("WALCL", "RRPONTSYD", "DGS10"))

NEW_CSV = "observation_date,DGS10\n2024-01-02,3.95\n2024-01-03,\n2024-01-04,3.99\n"
OLD_CSV = "DATE,DGS10\r\n2024-01-02,3.95\r\n2024-01-03,.\r\n2024-01-04,3.99\r\n"


# -- parser --------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [NEW_CSV, OLD_CSV, ("\ufeff" + NEW_CSV).encode("utf-8")])
def test_parser_reads_both_header_styles_and_missing_markers(payload):
    frame = fred.parse_fred_csv(payload, "DGS10")
    assert list(frame["date"]) == [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)]
    assert frame["value"].iloc[0] == 3.95 and frame["value"].iloc[2] == 3.99
    assert math.isnan(frame["value"].iloc[1])


def test_parser_sorts_by_date():
    frame = fred.parse_fred_csv("DATE,X\n2024-01-03,2\n2024-01-02,1\n", "X")
    assert list(frame["value"]) == [1.0, 2.0]


def test_parser_accepts_a_header_only_file():
    assert fred.parse_fred_csv("observation_date,X\n", "X").empty


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("date_time,DGS10\n2024-01-02,1\n", "unknown header 'date_time,DGS10'"),
        ("observation_date,DGS10,DGS2\n2024-01-02,1,2\n", "unknown header"),
        ("observation_date,value\n2024-01-02,1\n", "value column is 'value'"),
        ("observation_date,DGS2\n2024-01-02,1\n", "expected the series id 'DGS10'"),
        ("<!DOCTYPE html>\n<html><body>Error</body></html>", "HTML page"),
        ("", "empty file"),
        ("DATE,DGS10\n01/02/2024,1\n2024-13-01,2\n", "2 unparseable dates"),
        ("DATE,DGS10\n2024-01-02,1\n2024-01-03\n", "without exactly 2 columns"),
        ("DATE,DGS10\n2024-01-02,1\n2024-01-02,1\n", "repeated dates: 2024-01-02"),
        ("DATE,DGS10\n2024-01-02,inf\n", "2024-01-02='inf'"),
    ],
)
def test_parser_rejects_bad_payloads(payload, expected):
    with pytest.raises(SourceFormatError) as err:
        fred.parse_fred_csv(payload, "DGS10", origin="test.csv")
    assert err.value.source == "fred" and err.value.series == "DGS10"
    assert expected in str(err.value) and "test.csv" in str(err.value)


def test_parser_names_the_first_few_bad_values():
    bad = "".join(f"2024-01-{d:02d},n/a{d}\n" for d in range(2, 7))
    with pytest.raises(SourceFormatError) as err:
        fred.parse_fred_csv("DATE,DGS10\n2024-01-01,1\n" + bad, "DGS10")
    message = str(err.value)
    assert "5 non-numeric values" in message and "(first 3 of 5)" in message
    assert "2024-01-02='n/a2'" in message and "n/a6" not in message


def test_csv_round_trip_uses_the_snapshot_layout(tmp_path):
    frame = fred.parse_fred_csv(OLD_CSV, "DGS10")
    path = fred.write_fred_csv(frame, "DGS10", tmp_path)
    assert path == tmp_path / "fred" / "DGS10.csv"
    assert path.read_text() == (
        "observation_date,DGS10\n2024-01-02,3.95\n2024-01-03,\n2024-01-04,3.99\n"
    )
    pd.testing.assert_frame_equal(fred.parse_fred_csv(path.read_bytes(), "DGS10"), frame)


# -- replay --------------------------------------------------------------------------------------


def replay_settings(folder: Path):
    return load_settings({"CROSSWIND_SOURCE": "replay", "CROSSWIND_SNAPSHOT_DIR": str(folder)})


def test_replay_reads_files_reports_absent_and_filters_start(tmp_path):
    (tmp_path / "fred").mkdir()
    (tmp_path / "fred" / "DGS10.csv").write_text(OLD_CSV)
    source = fred.make_source(replay_settings(tmp_path))
    assert isinstance(source, fred.FredReplaySource) and source.mode == "replay"

    batch = source.fetch([DGS10, WALCL], start=date(2024, 1, 3))
    assert batch.source == "fred" and batch.mode == "replay"
    assert batch.absent == ["WALCL"]
    assert list(batch.frame.columns) == OBSERVATION_COLUMNS
    assert list(batch.frame["date"]) == [date(2024, 1, 3), date(2024, 1, 4)]
    assert set(batch.frame["units"]) == {"Percent"}  # from the catalog
    assert batch.frame["realtime_start"].isna().all() and batch.series_metadata == {}


def test_replay_bad_file_names_the_file(tmp_path):
    (tmp_path / "fred").mkdir()
    (tmp_path / "fred" / "WALCL.csv").write_text("observation_date,WALCL\n2024-01-03,12x\n")
    with pytest.raises(SourceFormatError, match=r"WALCL\.csv.*2024-01-03='12x'"):
        fred.make_source(replay_settings(tmp_path)).fetch([WALCL])


def test_sample_mode_reads_the_bundled_sample_folder():
    source = fred.make_source(load_settings({"CROSSWIND_SOURCE": "sample"}))
    assert isinstance(source, fred.FredReplaySource) and source.mode == "sample"


@pytest.mark.integration
@pytest.mark.skipif(not (SNAPSHOT / "fred").is_dir(), reason="../shared/snapshot is absent")
def test_every_real_snapshot_file_parses():
    for path in sorted((SNAPSHOT / "fred").glob("*.csv")):
        frame = fred.parse_fred_csv(path.read_bytes(), path.stem, origin=str(path))
        assert len(frame) > 100, path
    will = fred.parse_fred_csv((SNAPSHOT / "fred" / "WILL5000PR.csv").read_bytes(), "WILL5000PR")
    assert will["value"].isna().any()  # '.' rows


# -- keyless graph CSV ---------------------------------------------------------------------------


@pytest.fixture
def fast(monkeypatch):
    """No pacing between requests in tests that don't measure it."""
    monkeypatch.setattr(fred, "CSV_MIN_INTERVAL", 0.0)
    monkeypatch.setattr(fred, "API_MIN_INTERVAL", 0.0)


def live_settings(env=None):
    return load_settings({**(env or {}), "CROSSWIND_SOURCE": "live"})


def test_graph_csv_source_fetches_each_series(http_server, fast):
    csvs = {
        "WALCL": "observation_date,WALCL\n2024-01-03,7713598\n2024-01-10,7681000\n",
        "RRPONTSYD": "DATE,RRPONTSYD\n2024-01-09,.\n2024-01-10,600.1\n",
    }
    http_server.route_fn("/graph/fredgraph.csv", lambda r: Reply.csv(csvs[r.param("id")]))
    env = {"CROSSWIND_FRED_CSV_URL": http_server.url("/graph/fredgraph.csv")}
    source = fred.make_source(live_settings(env))
    assert isinstance(source, fred.FredCsvSource)

    batch = source.fetch([WALCL, RRP], start=date(2024, 1, 9))
    frame = batch.frame.set_index(["series_id", "date"])
    assert frame.loc[("WALCL", date(2024, 1, 10)), "value"] == 7681000
    assert ("WALCL", date(2024, 1, 3)) not in frame.index
    assert math.isnan(frame.loc[("RRPONTSYD", date(2024, 1, 9)), "value"])
    assert frame.loc[("RRPONTSYD", date(2024, 1, 10)), "units"] == "Billions of U.S. Dollars"
    assert frame.loc[("WALCL", date(2024, 1, 10)), "units"] == "Millions of U.S. Dollars"
    sent = http_server.requests_to("/graph/fredgraph.csv")
    assert [r.param("id") for r in sent] == ["WALCL", "RRPONTSYD"]
    assert {r.param("cosd") for r in sent} == {"2024-01-09"}
    assert batch.mode == "live" and batch.series_metadata == {}


def test_graph_csv_html_page_is_a_format_error(http_server, fast):
    http_server.route("/g.csv", Reply.html("<html><head><title>Maintenance</title></head></html>"))
    source = fred.FredCsvSource(http_server.url("/g.csv"))
    with pytest.raises(SourceFormatError) as err:
        source.fetch([WALCL])
    assert err.value.series == "WALCL" and "Maintenance" in str(err.value)


def test_graph_csv_unknown_series_is_absent(http_server, fast):
    http_server.route("/g.csv", Reply.text("Not found", status=404))
    batch = fred.FredCsvSource(http_server.url("/g.csv")).fetch([WALCL])
    assert batch.absent == ["WALCL"] and batch.frame.empty


def test_graph_csv_unreachable_names_host_and_hint(fast):
    source = fred.FredCsvSource(refused_url("/graph/fredgraph.csv"))
    source.client._sleep = FakeSleep()
    with pytest.raises(SourceUnreachable, match="CROSSWIND_SOURCE=sample") as err:
        source.fetch([WALCL])
    assert err.value.series == "WALCL" and "127.0.0.1" in str(err.value)


# -- API: FRED's web service -----------------------------------------------------------------

SERIES_XML = """<?xml version="1.0" encoding="utf-8" ?>
<seriess realtime_start="2024-01-12" realtime_end="2024-01-12">
  <series id="WALCL" realtime_start="2024-01-12" realtime_end="2024-01-12" title="Assets: Total \
Assets: Total Assets (Less Eliminations from Consolidation): Wednesday Level" \
observation_start="2002-12-18" observation_end="2024-01-10" frequency="Weekly, As of Wednesday" \
frequency_short="W" units="Millions of U.S. Dollars" units_short="Mil. of U.S. $" \
seasonal_adjustment="Not Seasonally Adjusted" seasonal_adjustment_short="NSA" \
last_updated="2024-01-11 16:31:02-06" popularity="93" group_popularity="93" \
notes="This series is from the H.4.1 release."/>
</seriess>
"""

# Current values as FRED sends them without realtime parameters: every row's real-time period
# is the day of the request, not when the value was published; "." is FRED's missing value.
OBSERVATIONS_XML = """<?xml version="1.0" encoding="utf-8" ?>
<observations realtime_start="2024-01-12" realtime_end="2024-01-12" \
observation_start="1600-01-01" observation_end="9999-12-31" units="lin" output_type="1" \
file_type="xml" order_by="observation_date" sort_order="asc" count="3" offset="0" limit="100000">
  <observation realtime_start="2024-01-12" realtime_end="2024-01-12" date="2023-12-27" \
value="7758828"/>
  <observation realtime_start="2024-01-12" realtime_end="2024-01-12" date="2024-01-03" \
value="."/>
  <observation realtime_start="2024-01-12" realtime_end="2024-01-12" date="2024-01-10" \
value="7681000"/>
</observations>
"""

MISSING_SERIES_XML = """<?xml version="1.0" encoding="utf-8" ?>
<error code="400" message="Bad Request.  The series does not exist."/>
"""

BAD_KEY_XML = """<?xml version="1.0" encoding="utf-8" ?>
<error code="400" message="Bad Request.  The value for variable api_key is not registered. \
Read https://fred.stlouisfed.org/docs/api/api_key.html for more information."/>
"""

TODAY = date(2026, 2, 13)


def api_source(http_server, **client_kw) -> tuple[fred.FredApiSource, FakeSleep]:
    sleep = FakeSleep()
    client_kw.setdefault("min_interval", 0.0)
    http = fred.api_client(KEY, sleep=sleep, timeout=(1.0, 2.0), **client_kw)
    return fred.FredApiSource(KEY, http_server.url("/fred"), client=http), sleep


def serve_walcl(http_server, *observation_replies: Reply) -> None:
    http_server.route("/fred/series", Reply.xml(SERIES_XML))
    http_server.route(
        "/fred/series/observations", *(observation_replies or (Reply.xml(OBSERVATIONS_XML),))
    )


def daily(series_id: str, units: str, days: int, first=date(2018, 1, 2), **kw) -> FakeSeries:
    """A daily series whose every value was published on its own date: one vintage a day."""
    releases = [
        (first + timedelta(d), first + timedelta(d), f"{2 + d % 50 / 10:.2f}") for d in range(days)
    ]
    return FakeSeries(series_id, units, releases, **kw)


def test_api_source_reads_metadata_and_current_values(http_server):
    serve_walcl(http_server)
    source, _ = api_source(http_server)
    batch = source.fetch([WALCL])

    assert batch.series_metadata == {
        "WALCL": {
            "units": "Millions of U.S. Dollars",
            "frequency": "Weekly, As of Wednesday",
            "last_updated": "2024-01-11 16:31:02-06",
            "title": "Assets: Total Assets: Total Assets (Less Eliminations from "
            "Consolidation): Wednesday Level",
        }
    }
    frame = batch.frame.set_index("date")
    assert list(frame.index) == [date(2023, 12, 27), date(2024, 1, 3), date(2024, 1, 10)]
    assert frame.loc[date(2024, 1, 10), "value"] == 7681000
    assert math.isnan(frame.loc[date(2024, 1, 3), "value"])
    assert set(frame["units"]) == {"Millions of U.S. Dollars"}
    # The request day is not a publication date: without vintages realtime_start stays NULL.
    assert frame["realtime_start"].isna().all()
    assert list(batch.frame.columns) == OBSERVATION_COLUMNS

    sent = http_server.requests
    assert [r.path for r in sent] == ["/fred/series", "/fred/series/observations"]
    assert {r.param("api_key") for r in sent} == {KEY}
    assert {r.param("series_id") for r in sent} == {"WALCL"}
    assert {r.param("file_type") for r in sent} == {"xml"}
    assert sent[1].param("realtime_start") is None and sent[1].param("observation_start") is None
    assert {r.headers.get("User-Agent") for r in sent} == {USER_AGENT}
    assert KEY not in repr(batch.series_metadata) and KEY not in batch.frame.to_csv()


def test_api_lookback_asks_fred_for_the_window_only(http_server):
    serve_walcl(http_server)
    source, _ = api_source(http_server)
    batch = source.fetch([WALCL], start=date(2024, 1, 4))
    assert list(batch.frame["date"]) == [date(2024, 1, 10)]
    [obs] = http_server.requests_to("/fred/series/observations")
    assert obs.param("observation_start") == "2024-01-04"


def test_api_never_asks_for_every_vintage_of_a_daily_series(http_server):
    """RRPONTSYD has 2,605 vintage dates: all of them at once is FRED's HTTP 400."""
    rrp = daily("RRPONTSYD", "Billions of US Dollars", 2_605)
    dgs10 = daily("DGS10", "Percent", 2_100)
    FakeFredApi(http_server, [rrp, dgs10], today=TODAY)
    source, _ = api_source(http_server)

    batch = source.fetch([RRP, DGS10])
    assert batch.frame.groupby("series_id").size().to_dict() == {"DGS10": 2_100, "RRPONTSYD": 2_605}
    assert not [r for r in http_server.requests if r.param("realtime_start")]
    assert not http_server.requests_to("/fred/series/vintagedates")
    # FRED's own wording is kept as metadata; rows carry the catalog label it resolves to.
    assert batch.series_metadata["RRPONTSYD"]["units"] == "Billions of US Dollars"
    assert set(batch.frame.loc[batch.frame["series_id"] == "RRPONTSYD", "units"]) == {
        "Billions of U.S. Dollars"
    }


def test_the_fake_answers_the_vintage_cap_like_fred_and_the_message_is_whole(http_server):
    FakeFredApi(http_server, [daily("RRPONTSYD", "Billions of US Dollars", 2_605)], today=TODAY)
    source, _ = api_source(http_server)
    with pytest.raises(SourceHttpError) as err:
        source.api.observations("RRPONTSYD", realtime=(date(1776, 7, 4), date(9999, 12, 31)))
    assert err.value.status == 400 and err.value.series == "RRPONTSYD"
    assert str(err.value).endswith(
        "HTTP 400 Bad Request: Bad Request. There are 2605 vintage dates in the specified "
        "real-time period: 1776-07-04 to 9999-12-31. This exceeds the maximum number of vintage "
        "dates allowed for this file type (2000)."
    )


def revised_history() -> FakeSeries:
    """Weekly claims, each first print revised the next week; week 3 printed '.' then filled."""
    releases = []
    first = date(2000, 1, 1)
    for week in range(2_300):
        day = first + timedelta(weeks=week)
        releases.append((day, day + timedelta(days=5), str(200_000 + week)))
        releases.append((day, day + timedelta(days=12), str(201_000 + week)))
    releases[6] = (releases[6][0], releases[6][1], ".")
    return FakeSeries("ICSA", "Number", releases, frequency="Weekly, Ending Saturday")


def test_vintage_series_are_fetched_in_windows_under_the_cap(http_server):
    claims = revised_history()
    assert len(claims.vintage_dates()) > fred.VINTAGE_CAP
    FakeFredApi(http_server, [claims], today=TODAY)
    source, _ = api_source(http_server)
    icsa = CATALOG.series["ICSA"]
    assert icsa.vintages

    batch = source.fetch([icsa])
    paths = [r.path for r in http_server.requests]
    assert (
        paths == ["/fred/series", "/fred/series/vintagedates"] + ["/fred/series/observations"] * 2
    )
    windows = [
        (r.param("realtime_start"), r.param("realtime_end"))
        for r in http_server.requests_to("/fred/series/observations")
    ]
    vintages = claims.vintage_dates()
    assert windows[0][0] == vintages[0].isoformat() and windows[-1][1] == "9999-12-31"
    for start, end in windows:
        inside = [d for d in vintages if start <= d.isoformat() <= end]
        assert 0 < len(inside) <= fred.VINTAGES_PER_REQUEST

    frame = batch.frame.set_index("date")
    assert len(frame) == 2_300
    week = date(2000, 1, 1) + timedelta(weeks=1000)
    assert frame.loc[week, "value"] == 201_000 + 1000  # the revision, not the first print
    assert frame.loc[week, "realtime_start"] == pd.Timestamp(week + timedelta(days=12))
    assert frame.loc[date(2000, 1, 22), "value"] == 201_003  # '.' first, filled a week later
    assert set(frame["units"]) == {"Number"}


def test_an_unchanged_revision_keeps_its_first_publication_date(http_server):
    day = date(2025, 10, 1)
    gdp = FakeSeries(
        "GDP",
        "Billions of Dollars",
        [(day, date(2026, 1, 29), "31000.5"), (day, date(2026, 2, 26), "31000.5")],
        frequency="Quarterly",
    )
    FakeFredApi(http_server, [gdp], today=TODAY)
    source, _ = api_source(http_server)
    frame = source.fetch([CATALOG.series["GDP"]]).frame
    assert frame["realtime_start"].tolist() == [pd.Timestamp("2026-01-29")]


def test_api_pages_long_lists(http_server):
    claims = revised_history()
    FakeFredApi(http_server, [claims], today=TODAY, page_limit=1_000)
    source, _ = api_source(http_server)
    vintages = source.api.vintages("ICSA")
    offsets = [r.param("offset") for r in http_server.requests_to("/fred/series/vintagedates")]
    assert len(claims.vintage_dates()) == 2_301  # each revision day is the next first print
    assert offsets == [None, "1000", "2000"]
    pages = [r.param("offset") for r in http_server.requests_to("/fred/series/observations")]
    assert pages.count(None) == 2 and pages[1] == "1000"  # 2 windows, each paged
    pd.testing.assert_frame_equal(vintages, truth_frame(claims))


def truth_frame(fake: FakeSeries) -> pd.DataFrame:
    """What one unlimited all-vintages request would give, in fred.VINTAGE_COLUMNS."""
    rows = [(d, float("nan" if v == "." else v), rs, re) for d, rs, re, v in fake.periods()]
    return pd.DataFrame(rows, columns=fred.VINTAGE_COLUMNS)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Millions of Euros", "units label 'Millions of Euros' of WALCL is not in the catalog"),
        ("Percent", "units label 'Percent' of WALCL means percent, but the catalog stores WALCL"),
        ("", "series metadata has no units"),
    ],
)
def test_api_units_label_must_resolve_to_the_series_unit(http_server, label, expected):
    http_server.route(
        "/fred/series",
        Reply.xml(SERIES_XML.replace('units="Millions of U.S. Dollars"', f'units="{label}"')),
    )
    source, _ = api_source(http_server)
    with pytest.raises(SourceFormatError) as err:
        source.fetch([WALCL])
    assert err.value.series == "WALCL" and expected in str(err.value)
    assert not http_server.requests_to("/fred/series/observations")


def test_a_batch_failure_names_every_failing_series(http_server):
    api = FakeFredApi(http_server, [daily("DGS2", "Percent", 30)], today=TODAY)
    api.broken = {
        "DGS10": Reply.xml(BAD_KEY_XML.replace("api_key is not registered", "x is odd"), 400),
        "RRPONTSYD": Reply.html("<html><head><title>Bad gateway</title></head></html>", 403),
    }
    source, _ = api_source(http_server)
    with pytest.raises(fred.FredBatchError) as err:
        source.fetch([DGS10, CATALOG.series["DGS2"], RRP])
    message = str(err.value)
    assert message.startswith("[fred] 2 of 3 series failed (batch not written): ")
    assert "[fred/DGS10]" in message and "x is odd" in message
    assert "[fred/RRPONTSYD]" in message and "HTTP 403" in message and "Bad gateway" in message
    assert [f.series for f in err.value.failures] == ["DGS10", "RRPONTSYD"]
    # DGS2 was still fetched (its outcome is known), but no partial batch is returned.
    assert http_server.requests_to("/fred/series/observations")


def test_an_unreachable_service_stops_the_batch_and_says_what_was_not_tried(fast):
    http = fred.api_client(KEY, min_interval=0.0, sleep=FakeSleep())
    source = fred.FredApiSource(KEY, refused_url("/fred"), client=http)
    with pytest.raises(fred.FredBatchError) as err:
        source.fetch([WALCL, RRP, DGS10])
    message = str(err.value)
    assert "[fred/WALCL] cannot reach 127.0.0.1" in message and "connection refused" in message
    assert "2 series not tried (RRPONTSYD, DGS10)" in message


def test_api_retries_503_then_succeeds(http_server):
    serve_walcl(http_server, Reply(503), Reply.xml(OBSERVATIONS_XML))
    source, sleep = api_source(http_server)
    assert len(source.fetch([WALCL]).frame) == 3
    assert len(sleep.calls) == 1
    assert len(http_server.requests_to("/fred/series/observations")) == 2


def test_api_source_is_paced(http_server):
    serve_walcl(http_server)
    source, sleep = api_source(http_server, min_interval=0.5)
    source.fetch([WALCL])
    assert len(sleep.calls) == 1 and 0.3 < sleep.calls[0] <= 0.5  # 2 requests, 1 pause


def test_default_api_client_paces_at_about_two_per_second():
    source = fred.make_source(live_settings({"FRED_API_KEY": KEY}))
    assert isinstance(source, fred.FredApiSource)
    assert source.client.min_interval == pytest.approx(0.5)
    assert source.api.root_url == fred.DEFAULT_API_URL
    env = {"FRED_API_KEY": KEY, "CROSSWIND_FRED_API_URL": "http://127.0.0.1:9/mirror/fred/"}
    assert fred.make_source(live_settings(env)).api.root_url == "http://127.0.0.1:9/mirror/fred"
    assert isinstance(fred.make_source(live_settings()), fred.FredCsvSource)


def test_api_unknown_series_is_absent(http_server):
    http_server.route("/fred/series", Reply.xml(MISSING_SERIES_XML, status=400))
    source, _ = api_source(http_server)
    batch = source.fetch([WALCL])
    assert batch.absent == ["WALCL"] and batch.frame.empty


def test_api_page_announced_but_not_sent_is_refused(http_server):
    truncated = OBSERVATIONS_XML.replace('count="3"', 'count="250000"')
    serve_walcl(
        http_server,
        Reply.xml(truncated),
        Reply.xml(truncated.split("<observation ")[0] + "</observations>"),
    )
    source, _ = api_source(http_server)
    with pytest.raises(SourceFormatError, match="250000 rows announced, none sent from offset 3"):
        source.fetch([WALCL])


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply.html("<html><head><title>Oops</title></head></html>"), "HTML page"),
        (Reply.text("{not xml"), "not XML"),
        (Reply.xml(SERIES_XML), "answered <seriess> where <observations> was expected"),
        (Reply.xml(OBSERVATIONS_XML.replace('value="7681000"', 'value="n/a"')), "2024-01-10='n/a'"),
        (
            Reply.xml(OBSERVATIONS_XML.replace('date="2024-01-10"', 'date="2024-01-32"')),
            "'2024-01-32'",
        ),
    ],
)
def test_api_bad_payloads_are_format_errors(http_server, reply, expected):
    serve_walcl(http_server, reply)
    source, _ = api_source(http_server)
    with pytest.raises(SourceFormatError, match=expected) as err:
        source.fetch([WALCL])
    assert err.value.series == "WALCL" and err.value.__context__ is None


def test_api_key_never_leaks(http_server, caplog):
    caplog.set_level(logging.DEBUG)
    http_server.route("/fred/series", Reply.xml(BAD_KEY_XML, status=400))
    source, _ = api_source(http_server)
    with pytest.raises(SourceError) as err:
        source.fetch([WALCL])
    assert "api_key is not registered. Read https://fred.stlouisfed.org" in str(err.value)
    http_server.route("/fred/series", Reply(500, f"internal error for {KEY}"))
    with pytest.raises(SourceUnreachable) as err2:
        source.fetch([WALCL])
    http_server.route("/fred/series", Reply.xml(f'<error code="400" message="bad {KEY}"/>', 400))
    with pytest.raises(SourceError) as err3:
        source.fetch([WALCL])
    assert "bad ***" in str(err3.value)
    for exc in (err.value, err2.value, err3.value):
        assert KEY not in "".join(traceback.format_exception(exc))
    assert caplog.records and all(KEY not in r.getMessage() for r in caplog.records)


# -- recording in API mode -------------------------------------------------------------------


def test_api_record_keeps_units_realtime_and_metadata_and_replays_the_same(http_server, tmp_path):
    claims = revised_history()
    walcl = FakeSeries(
        "WALCL",
        "Millions of U.S. Dollars",
        [
            (date(2026, 1, 28), date(2026, 1, 29), "6605909"),
            (date(2026, 2, 4), date(2026, 2, 5), "."),
        ],
        frequency="Weekly, As of Wednesday",
    )
    FakeFredApi(http_server, [claims, walcl], today=TODAY)
    source, _ = api_source(http_server)
    icsa = CATALOG.series["ICSA"]
    live = source.fetch([icsa, WALCL])

    paths = source.record([icsa, WALCL], tmp_path)
    assert sorted(p.name for p in paths) == [
        "ICSA.csv",
        "ICSA.series.json",
        "WALCL.csv",
        "WALCL.series.json",
    ]
    text = (tmp_path / "fred" / "ICSA.csv").read_text()
    assert text.startswith("observation_date,ICSA,realtime_start\n2000-01-01,201000,2000-01-13\n")
    # No vintages asked: the snapshot's two-column layout, exactly as before.
    assert (tmp_path / "fred" / "WALCL.csv").read_text() == (
        "observation_date,WALCL\n2026-01-28,6605909\n2026-02-04,\n"
    )
    replay = fred.make_source(replay_settings(tmp_path)).fetch([icsa, WALCL])
    pd.testing.assert_frame_equal(replay.frame, live.frame)
    assert replay.series_metadata == live.series_metadata
    assert replay.mode == "replay" and live.mode == "live"


def test_replay_resolves_a_recorded_units_label_and_refuses_an_unknown_one(tmp_path):
    (tmp_path / "fred").mkdir()
    (tmp_path / "fred" / "RRPONTSYD.csv").write_text(
        "observation_date,RRPONTSYD\n2024-01-10,600.1\n"
    )
    sidecar = tmp_path / "fred" / "RRPONTSYD.series.json"
    sidecar.write_text('{"units": "Billions of US Dollars", "frequency": "Daily"}')
    batch = fred.make_source(replay_settings(tmp_path)).fetch([RRP])
    assert batch.frame["units"].tolist() == ["Billions of U.S. Dollars"]
    assert batch.series_metadata["RRPONTSYD"] == {
        "units": "Billions of US Dollars",
        "frequency": "Daily",
        "last_updated": None,
        "title": None,
    }
    sidecar.write_text('{"units": "Thousands of Euros"}')
    with pytest.raises(SourceFormatError, match=r"RRPONTSYD\.series\.json.*'Thousands of Euros'"):
        fred.make_source(replay_settings(tmp_path)).fetch([RRP])
    sidecar.write_text("{not json")
    with pytest.raises(SourceFormatError, match="unreadable series metadata"):
        fred.make_source(replay_settings(tmp_path)).fetch([RRP])


def test_a_keyless_recording_over_an_api_one_removes_the_stale_metadata(
    http_server, tmp_path, fast
):
    (tmp_path / "fred").mkdir()
    (tmp_path / "fred" / "WALCL.series.json").write_text('{"units": "Millions of U.S. Dollars"}')
    http_server.route("/g.csv", Reply.csv("observation_date,WALCL\n2024-01-03,1\n"))
    fred.FredCsvSource(http_server.url("/g.csv")).record([WALCL], tmp_path)
    assert not (tmp_path / "fred" / "WALCL.series.json").exists()


def test_record_continues_after_one_bad_series(http_server, tmp_path, fast):
    http_server.route_fn(
        "/g.csv",
        lambda r: Reply.csv(
            "DATE,WALCL\n2024-01-03,1\n" if r.param("id") == "WALCL" else "DATE,OTHER\n"
        ),
    )
    source = fred.FredCsvSource(http_server.url("/g.csv"))
    with pytest.raises(
        SourceError, match=r"1 of 2 series failed \(1 file\(s\) recorded\).*\[fred/RRPONTSYD\]"
    ):
        source.record([RRP, WALCL], tmp_path)
    assert (tmp_path / "fred" / "WALCL.csv").is_file()
    assert not (tmp_path / "fred" / "RRPONTSYD.csv").exists()
