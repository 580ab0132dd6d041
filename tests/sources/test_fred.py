"""FRED: CSV parsing (both header styles), replay, the keyless graph CSV and the API via fredapi."""

from __future__ import annotations

import logging
import math
import traceback
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import SourceError, SourceFormatError, SourceUnreachable
from orchestration.lib.http import USER_AGENT, HttpClient
from orchestration.lib.settings import load_settings
from orchestration.sources import fred
from orchestration.sources.base import OBSERVATION_COLUMNS
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
    assert batch.frame["realtime_start"].isna().all()


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


def live_settings():
    return load_settings({"CROSSWIND_SOURCE": "live"})


def test_graph_csv_source_fetches_each_series(http_server, fast):
    csvs = {
        "WALCL": "observation_date,WALCL\n2024-01-03,7713598\n2024-01-10,7681000\n",
        "RRPONTSYD": "DATE,RRPONTSYD\n2024-01-09,.\n2024-01-10,600.1\n",
    }
    http_server.route_fn("/graph/fredgraph.csv", lambda r: Reply.csv(csvs[r.param("id")]))
    env = {"CROSSWIND_FRED_CSV_URL": http_server.url("/graph/fredgraph.csv")}
    source = fred.make_source(live_settings(), env)
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


# -- API via fredapi -----------------------------------------------------------------------------

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

# All vintages (realtime_start=1776-07-04, realtime_end=9999-12-31), as fredapi asks for them:
# 2024-01-03 was revised on 2024-01-11; 2024-01-10 was first published as "." then filled.
OBSERVATIONS_XML = """<?xml version="1.0" encoding="utf-8" ?>
<observations realtime_start="1776-07-04" realtime_end="9999-12-31" \
observation_start="1600-01-01" observation_end="9999-12-31" units="lin" output_type="1" \
file_type="xml" order_by="observation_date" sort_order="asc" count="5" offset="0" limit="100000">
  <observation realtime_start="2023-12-28" realtime_end="9999-12-31" date="2023-12-27" \
value="7758828"/>
  <observation realtime_start="2024-01-04" realtime_end="2024-01-10" date="2024-01-03" \
value="7713598"/>
  <observation realtime_start="2024-01-11" realtime_end="9999-12-31" date="2024-01-03" \
value="7713600"/>
  <observation realtime_start="2024-01-11" realtime_end="2024-01-11" date="2024-01-10" \
value="."/>
  <observation realtime_start="2024-01-12" realtime_end="9999-12-31" date="2024-01-10" \
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


def api_source(http_server, **client_kw) -> tuple[fred.FredApiSource, FakeSleep]:
    sleep = FakeSleep()
    client_kw.setdefault("min_interval", 0.0)
    http = HttpClient("fred", redact=(KEY,), sleep=sleep, timeout=(1.0, 2.0), **client_kw)
    return fred.FredApiSource(KEY, http_server.url("/fred"), client=http), sleep


def serve_walcl(http_server, *observation_replies: Reply) -> None:
    http_server.route("/fred/series", Reply.xml(SERIES_XML))
    http_server.route(
        "/fred/series/observations", *(observation_replies or (Reply.xml(OBSERVATIONS_XML),))
    )


def test_api_source_metadata_units_and_latest_vintage(http_server):
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
    assert frame.loc[date(2024, 1, 3), "value"] == 7713600  # the revision, not the first print
    assert frame.loc[date(2024, 1, 3), "realtime_start"] == pd.Timestamp("2024-01-11")
    assert frame.loc[date(2024, 1, 10), "value"] == 7681000
    assert set(frame["units"]) == {"Millions of U.S. Dollars"}
    assert list(batch.frame.columns) == OBSERVATION_COLUMNS

    sent = http_server.requests
    assert {r.param("api_key") for r in sent} == {KEY}
    assert {r.param("series_id") for r in sent} == {"WALCL"}
    # Our HttpClient did the transport, not fredapi's urllib (which sends Python-urllib).
    assert {r.headers.get("User-Agent") for r in sent} == {USER_AGENT}
    assert KEY not in repr(batch.series_metadata) and KEY not in batch.frame.to_csv()


def test_api_source_start_filters_dates(http_server):
    serve_walcl(http_server)
    source, _ = api_source(http_server)
    batch = source.fetch([WALCL], start=date(2024, 1, 4))
    assert list(batch.frame["date"]) == [date(2024, 1, 10)]


def test_api_source_retries_503_then_succeeds(http_server):
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
    source = fred.make_source(live_settings(), {"FRED_API_KEY": KEY})
    assert isinstance(source, fred.FredApiSource)
    assert source.client.min_interval == pytest.approx(0.5)
    assert source._fred.root_url == fred.DEFAULT_API_URL
    assert isinstance(fred.make_source(live_settings(), {}), fred.FredCsvSource)


def test_api_unknown_series_is_absent(http_server):
    http_server.route("/fred/series", Reply.xml(MISSING_SERIES_XML, status=400))
    source, _ = api_source(http_server)
    batch = source.fetch([WALCL])
    assert batch.absent == ["WALCL"] and batch.frame.empty


def test_api_truncated_history_is_refused(http_server):
    truncated = OBSERVATIONS_XML.replace('count="5"', 'count="250000"')
    serve_walcl(http_server, Reply.xml(truncated))
    source, _ = api_source(http_server)
    with pytest.raises(SourceFormatError, match="5 of 250000"):
        source.fetch([WALCL])


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply.html("<html><head><title>Oops</title></head></html>"), "HTML page"),
        (Reply.text("{not xml"), "not XML"),
        (Reply.xml(OBSERVATIONS_XML.replace('value="7681000"', 'value="n/a"')), "fredapi"),
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
    assert "api_key is not registered" in str(err.value)
    http_server.route("/fred/series", Reply(500, f"internal error for {KEY}"))
    with pytest.raises(SourceUnreachable) as err2:
        source.fetch([WALCL])
    for exc in (err.value, err2.value):
        assert KEY not in "".join(traceback.format_exception(exc))
    assert caplog.records and all(KEY not in r.getMessage() for r in caplog.records)


def test_api_record_writes_latest_values(http_server, tmp_path):
    serve_walcl(http_server)
    source, _ = api_source(http_server)
    [path] = source.record([WALCL], tmp_path)
    assert path.read_text() == (
        "observation_date,WALCL\n2023-12-27,7758828\n2024-01-03,7713600\n2024-01-10,7681000\n"
    )


def test_record_continues_after_one_bad_series(http_server, tmp_path, fast):
    http_server.route_fn(
        "/g.csv",
        lambda r: Reply.csv(
            "DATE,WALCL\n2024-01-03,1\n" if r.param("id") == "WALCL" else "DATE,OTHER\n"
        ),
    )
    source = fred.FredCsvSource(http_server.url("/g.csv"))
    with pytest.raises(SourceError, match=r"1 of 2 series failed \(1 recorded\).*RRPONTSYD"):
        source.record([RRP, WALCL], tmp_path)
    assert (tmp_path / "fred" / "WALCL.csv").is_file()
    assert not (tmp_path / "fred" / "RRPONTSYD.csv").exists()
