"""OFR Financial Stress Index: the published CSV, replay, record, the live client over loopback."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import SourceFormatError, SourceUnreachable
from orchestration.lib.http import HttpClient, SourceHttpError
from orchestration.lib.settings import load_settings
from orchestration.sources import ofr
from orchestration.sources.base import OBSERVATION_COLUMNS
from tests.support.http_server import FakeSleep, Reply, refused_url

SNAPSHOT = Path(__file__).resolve().parents[3] / "shared" / "snapshot"
PATH = "/financial-stress-index/data/fsi.csv"
HEADER = (
    "Date,OFR FSI,Credit,Equity valuation,Safe assets,Funding,Volatility,United States,"
    "Other advanced economies,Emerging markets"
)
# Hand-written rows in the published shape: ISO dates, up to three decimals, the five categories
# adding up to the index (and the three regions too); a Friday, the next Monday, then Tuesday.
ROWS = [
    "2024-08-02,1.212,0.301,0.244,0.105,-0.093,0.655,0.82,0.279,0.113",
    "2024-08-05,3.456,0.702,0.611,0.248,0.127,1.768,2.101,0.998,0.357",
    "2024-08-06,2.104,0.515,0.433,0.19,0.01,0.956,1.32,0.55,0.234",
]
FSI = HEADER + "\n" + "\n".join(ROWS) + "\n"


def ofr_series():
    return load_catalog().for_source("ofr")


def replay(tmp_path: Path, text: str | bytes) -> ofr.OfrReplaySource:
    folder = tmp_path / "ofr"
    folder.mkdir(exist_ok=True)
    payload = text.encode("utf-8") if isinstance(text, str) else text
    (folder / "fsi.csv").write_bytes(payload)
    return ofr.OfrReplaySource(tmp_path)


def live_source(http_server) -> ofr.OfrLiveSource:
    client = HttpClient("ofr", timeout=(1.0, 2.0), sleep=FakeSleep())
    return ofr.OfrLiveSource(http_server.url(PATH), client=client)


def value(frame: pd.DataFrame, series_id: str, day: date) -> float:
    hit = frame[(frame["series_id"] == series_id) & (frame["date"] == day)]
    assert len(hit) == 1, (series_id, day)
    return float(hit["value"].iloc[0])


# -- the published file --------------------------------------------------------------------------


def test_every_published_column_becomes_a_catalog_series(tmp_path):
    batch = replay(tmp_path, FSI).fetch(ofr_series())
    frame = batch.frame
    assert list(frame.columns) == OBSERVATION_COLUMNS
    assert batch.source == "ofr" and batch.mode == "replay" and batch.absent == []
    assert set(frame["series_id"]) == set(ofr.COLUMNS.values()) == {s.id for s in ofr_series()}
    assert len(frame) == 9 * 3
    assert set(frame["units"]) == {"Index"}
    assert value(frame, "OFR_FSI", date(2024, 8, 5)) == 3.456
    assert value(frame, "OFR_FSI_VOLATILITY", date(2024, 8, 5)) == 1.768
    assert value(frame, "OFR_FSI_EMERGING_MARKETS", date(2024, 8, 2)) == 0.113
    assert value(frame, "OFR_FSI_FUNDING", date(2024, 8, 6)) == 0.01
    assert frame["realtime_start"].isna().all()


def test_categories_add_up_to_the_index_in_the_fixture():
    # the fixture must keep the published identity, or it is not the real shape
    wide = ofr.parse_fsi_csv(FSI.encode())
    categories = wide[list(ofr.CATEGORIES)].sum(axis=1)
    regions = wide[list(ofr.REGIONS)].sum(axis=1)
    assert (categories - wide["OFR_FSI"]).abs().max() < 0.003
    assert (regions - wide["OFR_FSI"]).abs().max() < 0.003


def test_columns_are_matched_by_name_and_a_bom_and_crlf_are_accepted(tmp_path):
    names = HEADER.split(",")
    order = [0, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    lines = [",".join(names[i] for i in order)]
    for row in ROWS:
        cells = row.split(",")
        lines.append(",".join(cells[i] for i in order))
    text = "\ufeff" + "\r\n".join(lines) + "\r\n"
    frame = replay(tmp_path, text).fetch(ofr_series()).frame
    assert value(frame, "OFR_FSI", date(2024, 8, 5)) == 3.456
    assert value(frame, "OFR_FSI_CREDIT", date(2024, 8, 5)) == 0.702


def test_empty_cell_is_a_missing_value_not_zero(tmp_path):
    text = FSI.replace("2024-08-06,2.104,0.515", "2024-08-06,,0.515")
    frame = replay(tmp_path, text).fetch(ofr_series()).frame
    assert math.isnan(value(frame, "OFR_FSI", date(2024, 8, 6)))
    assert value(frame, "OFR_FSI_CREDIT", date(2024, 8, 6)) == 0.515


def test_start_filters_and_only_requested_series_are_returned(tmp_path):
    catalog = load_catalog()
    wanted = [catalog.series["OFR_FSI"], catalog.series["WALCL"]]
    batch = replay(tmp_path, FSI).fetch(wanted, start=date(2024, 8, 5))
    assert batch.absent == ["WALCL"]
    assert set(batch.frame["series_id"]) == {"OFR_FSI"}
    assert batch.frame["date"].tolist() == [date(2024, 8, 5), date(2024, 8, 6)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (FSI.replace(",Funding,", ",Funding stress,"), r"lacks \['funding'\]"),
        (FSI.replace("2024-08-05,", "08/05/2024,"), "unparseable date '08/05/2024'"),
        (FSI.replace(",0.702,", ",n/a,"), "non-numeric credit 'n/a'"),
        (FSI + ROWS[1] + "\n", "repeated dates 2024-08-05"),
        ("", "not a CSV table"),
    ],
)
def test_bad_file_is_a_format_error_naming_source_series_and_problem(tmp_path, text, expected):
    with pytest.raises(SourceFormatError, match=expected) as err:
        replay(tmp_path, text).fetch(ofr_series())
    assert err.value.source == "ofr" and err.value.series == "OFR_FSI"
    assert str(err.value).startswith("[ofr/OFR_FSI] ")


def test_replay_without_the_file_reports_every_series_absent(tmp_path):
    batch = ofr.OfrReplaySource(tmp_path).fetch(ofr_series())
    assert batch.frame.empty and list(batch.frame.columns) == OBSERVATION_COLUMNS
    assert sorted(batch.absent) == sorted(ofr.COLUMNS.values())


# -- live client over loopback HTTP ---------------------------------------------------------------


def test_live_downloads_the_file_with_one_plain_get(http_server):
    http_server.route(PATH, Reply.csv(FSI))
    batch = live_source(http_server).fetch(ofr_series(), start=date(2024, 8, 5))
    assert batch.mode == "live" and len(batch.frame) == 9 * 2
    [request] = http_server.requests_to(PATH)
    assert request.method == "GET" and request.query == {}
    assert request.headers["User-Agent"].startswith("crosswind/")


def test_live_retries_a_server_error_then_reads(http_server):
    http_server.route(PATH, Reply(503), Reply.csv(FSI))
    batch = live_source(http_server).fetch(ofr_series())
    assert value(batch.frame, "OFR_FSI", date(2024, 8, 2)) == 1.212
    assert len(http_server.requests_to(PATH)) == 2


def test_live_html_page_instead_of_csv_is_a_format_error(http_server):
    http_server.route(PATH, Reply.html("<html><head><title>Page Not Found</title></head></html>"))
    with pytest.raises(SourceFormatError, match="HTML page") as err:
        live_source(http_server).fetch(ofr_series())
    assert err.value.series == "OFR_FSI"


def test_live_missing_file_is_an_http_error(http_server):
    http_server.route(PATH, Reply.text("gone", status=404))
    with pytest.raises(SourceHttpError) as err:
        live_source(http_server).fetch(ofr_series())
    assert err.value.status == 404 and err.value.source == "ofr"


def test_live_unreachable_has_the_offline_hint():
    source = ofr.OfrLiveSource(refused_url(PATH), client=HttpClient("ofr", sleep=FakeSleep()))
    with pytest.raises(SourceUnreachable, match="CROSSWIND_SOURCE=replay"):
        source.fetch(ofr_series())


def test_series_it_does_not_publish_cost_no_request(http_server):
    batch = live_source(http_server).fetch([load_catalog().series["WALCL"]])
    assert batch.absent == ["WALCL"] and batch.frame.empty and http_server.requests == []


def test_make_source_uses_the_url_override(http_server):
    http_server.route(PATH, Reply.csv(FSI))
    source = ofr.make_source(
        load_settings({"CROSSWIND_SOURCE": "live", "CROSSWIND_OFR_URL": http_server.url(PATH)})
    )
    assert isinstance(source, ofr.OfrLiveSource)
    assert len(source.fetch(ofr_series()).frame) == 27


# -- record -> replay ----------------------------------------------------------------------------


def test_record_writes_the_published_bytes_and_replay_reads_them(http_server, tmp_path):
    payload = ("\ufeff" + FSI.replace("\n", "\r\n")).encode("utf-8")
    http_server.route(PATH, Reply(200, payload, {"Content-Type": "text/csv"}))
    [path] = live_source(http_server).record(ofr_series(), tmp_path)
    assert path == tmp_path / "ofr" / "fsi.csv"
    assert path.read_bytes() == payload
    settings = load_settings(
        {"CROSSWIND_SOURCE": "replay", "CROSSWIND_SNAPSHOT_DIR": str(tmp_path)}
    )
    source = ofr.make_source(settings)
    assert isinstance(source, ofr.OfrReplaySource)
    assert value(source.fetch(ofr_series()).frame, "OFR_FSI", date(2024, 8, 6)) == 2.104


def test_record_refuses_a_file_replay_could_not_read(http_server, tmp_path):
    http_server.route(PATH, Reply.csv(FSI.replace("2024-08-05,", "yesterday,")))
    with pytest.raises(SourceFormatError, match="unparseable date"):
        live_source(http_server).record(ofr_series(), tmp_path)
    assert not (tmp_path / "ofr").exists()


@pytest.mark.integration
@pytest.mark.skipif(not (SNAPSHOT / "ofr").is_dir(), reason="../shared/snapshot is absent")
def test_real_snapshot_file_replays():
    frame = ofr.OfrReplaySource(SNAPSHOT).fetch(ofr_series()).frame
    per_series = frame.groupby("series_id")["date"].agg(["count", "min", "max"])
    assert set(per_series["count"]) == {6496}  # README: 6496 rows, 2000-01-03 .. 2025-09-11
    assert str(per_series.loc["OFR_FSI", "min"]) == "2000-01-03"
    assert str(per_series.loc["OFR_FSI", "max"]) == "2025-09-11"
    wide = frame.pivot(index="date", columns="series_id", values="value")
    categories = wide[list(ofr.CATEGORIES)].sum(axis=1)
    assert (categories - wide["OFR_FSI"]).abs().max() < 0.01
