"""The fake services answer the way the real ones do, and today's live clients read them.

Small synthetic inputs in the real formats (tmp folders); the tests that compare against the
genuine payloads in ../shared/wire skip with a reason when it is absent.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests

from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import SourceError
from orchestration.lib.http import HttpClient
from orchestration.rehearsal import answers, layout
from orchestration.rehearsal.fake import FakeServices
from orchestration.rehearsal.fred import UNITS_LABELS, VINTAGE_CAP
from orchestration.rehearsal.mof import FOOTNOTE
from orchestration.rehearsal.shiller import OLD_ADDRESS
from orchestration.sources import fred, mof, shiller, treasury
from orchestration.sources.mof import parse_era_date, parse_jgbcm
from tests.faults.harness import business_days, fred_csv, tga_values, wednesdays
from tests.rehearsal.conftest import KEY, OLD_WORKBOOK_URL, shiller_workbook

CATALOG = load_catalog()
TODAY = date(2026, 11, 30)


@pytest.fixture
def fake(small_snapshot):
    with FakeServices(None, small_snapshot, today=TODAY) as server:
        yield server


def get(server: FakeServices, url: str, **params) -> requests.Response:
    session = requests.Session()
    session.trust_env = False  # talk to the fake directly, whatever the environment says
    return session.get(url if url.startswith("http") else server.url(url), params=params)


def api(server: FakeServices, endpoint: str, **params) -> requests.Response:
    return get(server, f"/fred/{endpoint}", api_key=KEY, **params)


def every_vintage(server: FakeServices, series_id: str) -> requests.Response:
    """What fredapi's get_series_all_releases asks for."""
    return api(
        server,
        "series/observations",
        series_id=series_id,
        realtime_start="1776-07-04",
        realtime_end="9999-12-31",
    )


# -- FRED graph CSV ------------------------------------------------------------------------------


def test_graph_csv_is_written_the_way_fred_writes_it_today(fake):
    reply = get(fake, "/graph/fredgraph.csv", id="DGS10")
    lines = reply.text.splitlines()
    # New header even though the snapshot file says DATE; missing is empty, not ".".
    assert reply.status_code == 200 and lines[0] == "observation_date,DGS10"
    assert lines[4] == f"{business_days()[3]},"
    assert len(lines) == 1 + len(business_days())
    since = get(fake, "/graph/fredgraph.csv", id="DGS10", cosd="2026-01-29").text
    kept = (_snapshot(fake) / "fred/DGS10.csv").read_text().splitlines()[-2:]
    assert kept[0].startswith("2026-01-29,") and since.splitlines()[1:] == kept
    assert get(fake, "/graph/fredgraph.csv", id="NOSUCH").status_code == 404


def test_todays_csv_client_reads_the_fake(fake):
    source = fred.FredCsvSource(fake.url("/graph/fredgraph.csv"), HttpClient("fred"))
    batch = source.fetch([CATALOG.series["WALCL"], CATALOG.series["WDTGAL"]])
    assert batch.absent == ["WDTGAL"]
    assert len(batch.frame) == len(Path.read_text(_snapshot(fake) / "fred/WALCL.csv").split()) - 1


def _snapshot(server: FakeServices) -> Path:
    return server.snapshot.root


# -- FRED API ------------------------------------------------------------------------------------


def test_api_keys_are_checked_like_fred_does(fake):
    missing = get(fake, "/fred/series", series_id="WALCL")
    malformed = get(fake, "/fred/series", series_id="WALCL", api_key="SHORT")
    assert missing.status_code == malformed.status_code == 400
    assert "Variable api_key is not set" in ET.fromstring(missing.content).get("message")
    assert "not a 32 character alpha-numeric lower-case string" in malformed.text


def test_unknown_series_gets_freds_own_error(fake):
    for endpoint in ("series", "series/observations", "series/vintagedates"):
        reply = api(fake, endpoint, series_id="NOSUCH")
        root = ET.fromstring(reply.content)
        assert reply.status_code == 400 and root.tag == "error" and root.get("code") == "400"
        assert root.get("message") == "Bad Request.  The series does not exist."
    as_json = api(fake, "series/observations", series_id="NOSUCH", file_type="json").json()
    assert as_json == {
        "error_code": 400,
        "error_message": "Bad Request.  The series does not exist.",
    }


def test_series_metadata_uses_freds_units_labels(shared_snapshot):
    with FakeServices(None, shared_snapshot, today=TODAY) as server:
        for series_id, label in UNITS_LABELS.items():
            node = ET.fromstring(api(server, "series", series_id=series_id).content)[0]
            assert node.get("units") == label
        walcl = ET.fromstring(api(server, "series", series_id="WALCL").content)[0]
    assert walcl.get("units") == CATALOG.series["WALCL"].units
    assert walcl.get("frequency") == "Weekly, Ending Wednesday"
    assert walcl.get("observation_start") == "2002-12-18"


def test_current_values_by_default_and_every_vintage_on_request(fake):
    today = ET.fromstring(api(fake, "series/observations", series_id="WALCL").content)
    assert today.get("realtime_start") == today.get("realtime_end") == TODAY.isoformat()
    assert {o.get("realtime_start") for o in today} == {TODAY.isoformat()}
    every = ET.fromstring(every_vintage(fake, "WALCL").content)
    first = every[0]
    # Published the day after the Wednesday (release_lag 1d), never revised.
    assert first.get("date") == "2025-10-01" and first.get("realtime_start") == "2025-10-02"
    assert first.get("realtime_end") == "9999-12-31"
    assert int(every.get("count")) == len(every) == len(today)


def test_observations_page_filter_and_sort(fake):
    reply = api(
        fake,
        "series/observations",
        series_id="DGS10",
        observation_start="2026-01-01",
        sort_order="desc",
        limit="2",
        offset="1",
        file_type="json",
    ).json()
    january = [d for d in business_days() if d >= date(2026, 1, 1)]
    assert reply["count"] == len(january) and reply["limit"] == 2 and reply["offset"] == 1
    assert [o["date"] for o in reply["observations"]] == ["2026-01-29", "2026-01-28"]
    missing = api(fake, "series/observations", series_id="DGS10", file_type="json").json()
    assert missing["observations"][3]["value"] == "."  # the API's missing marker


def test_vintage_cap_error_when_a_period_holds_more_than_2000_vintages(tmp_path):
    """A daily series with 2,100 published values: every vintage is refused, chunks are not."""
    days = [date(2018, 1, 1) + timedelta(days=i) for i in range(VINTAGE_CAP + 100)]
    (tmp_path / "fred").mkdir()
    (tmp_path / "fred" / "IORB.csv").write_text(fred_csv("IORB", [(d, "4.4") for d in days]))
    with FakeServices(None, tmp_path, today=TODAY) as server:
        refused = every_vintage(server, "IORB")
        chunk = api(
            server,
            "series/observations",
            series_id="IORB",
            realtime_start="2018-01-01",
            realtime_end="2020-12-31",
        )
        vintages = api(server, "series/vintagedates", series_id="IORB", file_type="json").json()
        picked = api(
            server,
            "series/observations",
            series_id="IORB",
            vintage_dates="2018-01-05,2018-01-10",
            file_type="json",
        ).json()
    assert refused.status_code == 400
    assert ET.fromstring(refused.content).get("message") == (
        f"Bad Request.  There are {len(days)} vintage dates in the specified real-time period: "
        "1776-07-04 to 9999-12-31.  This exceeds the maximum number of vintage dates allowed "
        "for this file type (2000)."
    )
    in_chunk = [d for d in days if date(2018, 1, 1) <= d <= date(2020, 12, 31)]  # lag 0d
    assert chunk.status_code == 200 and int(ET.fromstring(chunk.content).get("count")) == len(
        in_chunk
    )
    assert vintages["count"] == len(days) and vintages["vintage_dates"][0] == "2018-01-01"
    assert [o["date"] for o in picked["observations"]][-1] == "2018-01-10"


def test_the_genuine_cap_error_is_served_byte_for_byte(wire_dir, shared_snapshot):
    with FakeServices(wire_dir, shared_snapshot, today=TODAY) as server:
        reply = every_vintage(server, "RRPONTSYD")
        dgs10 = every_vintage(server, "DGS10")
        assert server.served_by(layout.FRED_API) == {answers.WIRE: 1, answers.GENERATED: 1}
    genuine = (wire_dir / layout.FRED_CAP_ERROR.format(series_id="RRPONTSYD")).read_bytes()
    assert reply.status_code == 400 and reply.content == genuine
    assert dgs10.status_code == 400 and "vintage dates" in dgs10.text  # ~16,000 in the snapshot


def test_the_fred_api_client_reads_metadata_values_and_vintages(fake):
    """Current values for WALCL; every vintage, in windows, for UNRATE (catalog `vintages`)."""
    source = fred.FredApiSource(KEY, fake.url("/fred"), HttpClient("fred", redact=(KEY,)))
    batch = source.fetch([CATALOG.series[s] for s in ("WALCL", "UNRATE", "WDTGAL")])
    assert batch.absent == ["WDTGAL"]
    assert batch.series_metadata["WALCL"]["units"] == "Millions of U.S. Dollars"
    walcl = batch.frame[batch.frame["series_id"] == "WALCL"]
    assert len(walcl) == len(wednesdays()) and walcl["realtime_start"].isna().all()
    unrate = batch.frame[batch.frame["series_id"] == "UNRATE"].iloc[0]
    lag = timedelta(days=CATALOG.series["UNRATE"].release_lag_days)
    assert unrate["realtime_start"].date() == unrate["date"] + lag  # first published
    # WALCL: series + observations; UNRATE: series + vintagedates + one window; WDTGAL: the error.
    assert fake.served_by(layout.FRED_API) == {answers.SNAPSHOT: 5, answers.GENERATED: 1}


def test_recorded_api_bodies_are_served_as_recorded_and_cut_for_other_requests(wire_dir):
    with FakeServices(wire_dir, None, today=TODAY) as server:
        plain = api(server, "series/observations", series_id="SP500")
        window = api(
            server,
            "series/observations",
            series_id="SP500",
            observation_start="2014-09-04",
            observation_end="2014-12-31",
        )
        metadata = api(server, "series", series_id="PAYEMS")
        origins = server.served_by(layout.FRED_API)
    genuine = wire_dir / "fred/api/series/observations/SP500.xml"
    assert plain.content == genuine.read_bytes()
    assert metadata.content == (wire_dir / "fred/api/series/PAYEMS.xml").read_bytes()
    cut = ET.fromstring(window.content)
    assert [o.get("date") for o in cut] == ["2014-09-04", "2014-09-05"]
    assert origins == {answers.WIRE: 2, answers.DERIVED: 1}


def test_synthesized_xml_has_the_genuine_shape(wire_dir, shared_snapshot):
    """Same root and row attributes as FRED's recorded replies."""
    with FakeServices(None, shared_snapshot, today=TODAY) as server:
        observations = ET.fromstring(api(server, "series/observations", series_id="DGS2").content)
        series = ET.fromstring(api(server, "series", series_id="PAYEMS").content)
    genuine_obs = ET.parse(wire_dir / "fred/api/series/observations/SP500.xml").getroot()
    genuine_series = ET.parse(wire_dir / "fred/api/series/PAYEMS.xml").getroot()
    assert observations.tag == genuine_obs.tag and set(observations.attrib) == set(
        genuine_obs.attrib
    )
    assert set(observations[0].attrib) == set(genuine_obs[0].attrib)
    assert series.tag == genuine_series.tag and set(series[0].attrib) == set(
        genuine_series[0].attrib
    )


# -- fiscaldata ----------------------------------------------------------------------------------


def test_fiscaldata_pages_in_the_documented_envelope(fake):
    url = "/services/api/fiscal_service/v1/accounting/dts/operating_cash_balance"
    page = get(
        fake,
        url,
        fields="record_date,account_type,open_today_bal,close_today_bal",
        filter="record_date:gte:2026-01-29,account_type:in:(Treasury General Account (TGA) "
        "Closing Balance)",
        sort="-record_date",
        **{"page[size]": "1", "page[number]": "2"},
    ).json()
    assert page["data"] == [
        {
            "record_date": "2026-01-29",
            "account_type": "Treasury General Account (TGA) Closing Balance",
            "open_today_bal": f"{dict(tga_values())[date(2026, 1, 29)]:.0f}",
            "close_today_bal": "null",
        }
    ]
    assert page["meta"]["total-count"] == 2 and page["meta"]["total-pages"] == 2
    assert page["meta"]["labels"]["open_today_bal"] == "Opening Balance Today"
    assert page["links"]["prev"] == "&page%5Bnumber%5D=1&page%5Bsize%5D=1"
    assert page["links"]["next"] is None
    day = get(fake, url, filter="record_date:eq:2026-01-30").json()["data"]
    assert [r["account_type"] for r in day] == [
        "Treasury General Account (TGA) Opening Balance",
        "Total TGA Deposits (Table II)",
        "Total TGA Withdrawals (Table II) (-)",
        "Treasury General Account (TGA) Closing Balance",
    ]
    opening, deposits, withdrawals, closing = (float(r["open_today_bal"]) for r in day)
    assert opening + deposits - withdrawals == closing
    too_big = get(fake, url, **{"page[size]": "10001"})
    assert too_big.status_code == 400 and "page[size]" in too_big.json()["message"]
    assert get(fake, url, bogus="1").status_code == 400


def test_todays_treasury_client_reads_every_page(fake):
    records = treasury.TreasuryDtsLiveSource(
        fake.url("/services/api/fiscal_service/v1/accounting/dts/operating_cash_balance"),
        HttpClient("treasury"),
    ).records()
    values = treasury.tga_from_records(records)
    snapshot = treasury.parse_tga_csv((_snapshot(fake) / "treasury/tga_daily.csv").read_bytes())
    assert values.equals(snapshot)


# -- MOF -----------------------------------------------------------------------------------------


def test_current_month_file_has_mofs_shape(fake):
    history = get(fake, "/jgbs/reference/interest_rate/data/jgbcm_all.csv").content
    current = get(fake, "/jgbs/reference/interest_rate/jgbcm.csv")
    assert history == (_snapshot(fake) / "mof/jgbcm_all.csv").read_bytes()  # as published
    lines = current.content.decode("cp932").split("\r\n")
    assert lines[0].startswith("国債金利情報 (令和8年1月),") and lines[0].endswith(",(単位 : %)")
    assert lines[1].startswith("基準日,1年,2年")
    assert lines[-3:] == [",,,,,,,,,,,,,,,", FOOTNOTE + ",,,,,,,,,,,,,,,", ""]
    days = [parse_era_date(line.split(",")[0]) for line in lines[2:-3]]
    assert days == [d for d in business_days() if d.month == 1]
    parse_jgbcm(history)  # today's parser reads the history as served


def test_current_month_footer_matches_the_genuine_file(wire_dir, tmp_path):
    (tmp_path / "mof").mkdir()
    (tmp_path / "mof" / "jgbcm_all.csv").write_bytes((wire_dir / "mof/jgbcm_all.csv").read_bytes())
    with FakeServices(None, tmp_path, today=TODAY) as server:
        made = get(server, "/jgbs/reference/interest_rate/jgbcm.csv").content.decode("cp932")
    genuine = (wire_dir / "mof/jgbcm.csv").read_bytes().decode("cp932")
    assert made.splitlines()[1] == genuine.splitlines()[1]
    assert made.splitlines()[-2:] == genuine.splitlines()[-2:]
    assert made.endswith("\r\n") and genuine.endswith("\r\n")


# -- Shiller -------------------------------------------------------------------------------------


def test_page_links_the_current_workbook_and_the_old_address_is_frozen(tmp_path, small_snapshot):
    wire = tmp_path / "wire"
    (wire / "shiller").mkdir(parents=True)
    frozen = shiller_workbook([date(2024, 1, 1)])
    (wire / "shiller" / layout.SHILLER_FROZEN).write_bytes(frozen)
    with FakeServices(wire, small_snapshot, today=TODAY) as server:
        page = get(server, "/shillerdata/").text
        links = [part.split('"')[0] for part in page.split('href="')[1:]]
        current = next(link for link in links if "/ie_data.xls" in link)
        assert "/downloads/" in current and "?ver=" in current
        assert current.split("?")[0] != server.url(OLD_ADDRESS)  # a folder per upload
        current_bytes = get(server, current).content
        old_bytes = get(server, OLD_ADDRESS).content
    assert current_bytes == (small_snapshot / "shiller/ie_data.xls").read_bytes()
    assert old_bytes == frozen
    assert any(link.endswith("Fig3-1.xls") for link in links)  # pick ie_data.xls by name


def test_old_address_is_missing_without_a_recorded_frozen_copy(fake):
    assert get(fake, OLD_ADDRESS).status_code == 404
    assert fake.served_by(layout.SHILLER) == {answers.MISSING: 1}


def test_a_recorded_page_keeps_the_client_on_the_fake(tmp_path, small_snapshot):
    wire = tmp_path / "wire"
    (wire / "shiller").mkdir(parents=True)
    real = "https://img1.wsimg.com/blobby/go/x/downloads/7f/ie_data.xls?ver=1"
    (wire / "shiller" / "page.html").write_text(f'<a href="{real}">data</a>')
    with FakeServices(wire, small_snapshot, today=TODAY) as server:
        page = get(server, "/shillerdata/").text
        assert f'href="{server.base_url}/blobby/go/x/downloads/7f/ie_data.xls?ver=1"' in page


def test_the_shiller_client_finds_the_current_workbook_on_the_page(fake):
    live = shiller.ShillerLive(fake.url("/shillerdata/"), client=HttpClient("shiller"))
    batch = live.fetch(CATALOG.for_source("shiller"))
    assert batch.frame["date"].max() == date(2025, 12, 1)
    assert live.workbook_url == fake.shiller.current_url()


# -- Yahoo ---------------------------------------------------------------------------------------


def chart(server: FakeServices, symbol: str, first: date, last: date, **extra) -> dict:
    period1 = int(datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp())
    period2 = int(datetime(last.year, last.month, last.day, tzinfo=UTC).timestamp())
    return get(
        server, f"/v8/finance/chart/{symbol}", period1=period1, period2=period2, **extra
    ).json()


def test_chart_reply_stamps_bars_like_yahoo(fake):
    move = chart(fake, "^MOVE", date(2026, 1, 26), date(2026, 1, 31), interval="1d")
    result = move["chart"]["result"][0]
    assert move["chart"]["error"] is None
    stamps = [datetime.fromtimestamp(t, UTC) for t in result["timestamp"]]
    assert [s.date() for s in stamps] == business_days()[-5:]
    assert {(s.hour, s.minute) for s in stamps} == {(14, 30)}  # 09:30 New York in winter
    assert result["meta"]["exchangeTimezoneName"] == "America/New_York"
    quote = result["indicators"]["quote"][0]
    last_close = float((_snapshot(fake) / "markets/MOVE.csv").read_text().split(",")[-1])
    assert quote["open"] == [None] * 5 and quote["close"][-1] == last_close  # close-only file
    btc = chart(fake, "BTC-USD", date(2026, 1, 30), date(2026, 1, 31))["chart"]["result"][0]
    assert datetime.fromtimestamp(btc["timestamp"][0], UTC).hour == 0
    last_volume = int((_snapshot(fake) / "markets/BTC-USD.csv").read_text().split(",")[-1])
    assert btc["indicators"]["quote"][0]["volume"] == [last_volume]


def test_unknown_symbol_and_interval_get_yahoos_errors(fake):
    unknown = get(fake, "/v8/finance/chart/NOSUCH", period1=0, period2=1, interval="1d")
    assert unknown.status_code == 404
    assert unknown.json()["chart"] == {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
    assert get(fake, "/v8/finance/chart/^MOVE", interval="1h").status_code == 400


def test_chart_reply_has_the_genuine_shape(wire_dir, fake):
    genuine = json.loads((wire_dir / "yahoo/chart/^SP500TR.json").read_text())
    made = chart(fake, "^MOVE", date(2026, 1, 1), date(2026, 2, 1))

    def shape(node):
        if isinstance(node, dict):
            return {k: shape(v) for k, v in node.items()}
        if isinstance(node, list):
            return [shape(node[0])] if node and isinstance(node[0], dict | list) else "list"
        return type(node).__name__ if node is not None else "null"

    ours, theirs = shape(made), shape(genuine)
    assert ours["chart"]["result"][0]["meta"].keys() == theirs["chart"]["result"][0]["meta"].keys()
    assert ours["chart"]["result"][0]["indicators"] == theirs["chart"]["result"][0]["indicators"]
    assert ours["chart"].keys() == theirs["chart"].keys()


# -- the internet guard --------------------------------------------------------------------------


def test_a_client_that_ignores_its_override_is_refused_and_named(fake, monkeypatch):
    for name, value in fake.environment(None).items():
        monkeypatch.setenv(name, value)
    client = HttpClient("shiller", max_retries=0)
    with pytest.raises(SourceError, match=r"img1\.wsimg\.com"):
        client.get(OLD_WORKBOOK_URL)
    assert dict(fake.blocked) == {"img1.wsimg.com:443": 1}
    assert os.environ["NO_PROXY"] == "127.0.0.1,localhost"
    # The fake itself stays reachable through the same environment.
    assert HttpClient("mof").get(fake.url("/jgbs/reference/interest_rate/jgbcm.csv")).ok


def test_environment_points_every_client_at_the_fake(fake):
    env = fake.environment(KEY)
    assert env["FRED_API_KEY"] == KEY
    assert mof.make_source(_live(env)).url("jgbcm.csv").startswith(fake.base_url)
    assert fred.make_source(_live(env)).client is not None
    assert all(
        value.startswith(fake.base_url)
        for name, value in env.items()
        if name.startswith("CROSSWIND_") and name.endswith("_URL")
    )
    assert fake.environment(None).get("FRED_API_KEY") is None


def _live(env):
    from orchestration.lib.settings import load_settings

    return load_settings({**env, "CROSSWIND_SOURCE": "live"})


def test_recorded_json_replies_answer_xml_requests_too(tmp_path):
    folder = tmp_path / "fred" / "api" / "series" / "observations"
    folder.mkdir(parents=True)
    rows = [("2026-01-29", "3.52"), ("2026-01-30", ".")]
    recorded_reply = {
        "realtime_start": "2026-02-02",
        "realtime_end": "2026-02-02",
        "observations": [
            {"realtime_start": "2026-02-02", "realtime_end": "2026-02-02", "date": d, "value": v}
            for d, v in rows
        ],
    }
    (folder / "DGS2.json").write_text(json.dumps(recorded_reply))
    with FakeServices(tmp_path, None, today=TODAY) as server:
        as_json = api(server, "series/observations", series_id="DGS2", file_type="json")
        as_xml = ET.fromstring(api(server, "series/observations", series_id="DGS2").content)
        assert server.served_by(layout.FRED_API) == {answers.WIRE: 1, answers.DERIVED: 1}
    assert as_json.content == (folder / "DGS2.json").read_bytes()
    assert [(o.get("date"), o.get("value")) for o in as_xml] == rows
    assert {o.get("realtime_start") for o in as_xml} == {TODAY.isoformat()}  # still current


def test_a_recorded_body_the_fake_cannot_read_is_a_500_it_reports(tmp_path):
    (tmp_path / "fiscaldata").mkdir()
    (tmp_path / "fiscaldata" / "operating_cash_balance@page[number]=9.json").write_text("{not json")
    with FakeServices(tmp_path, None, today=TODAY) as server:
        reply = get(server, "/services/api/fiscal_service/v1/accounting/dts/operating_cash_balance")
        assert reply.status_code == 500 and "the fake failed" in reply.text
        assert len(server.errors) == 1 and "JSONDecodeError" in server.errors[0]


# -- OFR -----------------------------------------------------------------------------------------


def test_ofr_file_is_served_as_published_and_missing_without_one(fake, tmp_path):
    reply = get(fake, "/financial-stress-index/data/fsi.csv")
    assert reply.content == (_snapshot(fake) / "ofr/fsi.csv").read_bytes()
    assert fake.served_by(layout.OFR) == {answers.SNAPSHOT: 1}
    with FakeServices(None, tmp_path, today=TODAY) as empty:
        assert get(empty, "/financial-stress-index/data/fsi.csv").status_code == 404
