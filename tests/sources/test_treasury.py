"""Treasury DTS: both account-label eras, fiscaldata paging and schema checks, replay, record."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import SourceFormatError, SourceUnreachable
from orchestration.lib.http import HttpClient, SourceHttpError
from orchestration.lib.settings import load_settings
from orchestration.sources import treasury
from orchestration.sources.base import OBSERVATION_COLUMNS
from tests.support.http_server import FakeSleep, Reply, refused_url

SNAPSHOT = Path(__file__).resolve().parents[3] / "shared" / "snapshot"
TGA = load_catalog().series["TGA"]
WALCL = load_catalog().series["WALCL"]
PATH = "/services/api/fiscal_service/v1/accounting/dts/operating_cash_balance"


def row(day, account, close="null", open_="null", **extra):
    """A record as fiscaldata sends it: every value a string, "null" for none."""
    return {
        "record_date": day,
        "account_type": account,
        "close_today_bal": close,
        "open_today_bal": open_,
        **extra,
    }


OLD_ERA = [
    row("2019-03-01", "Federal Reserve Account", close="354020", open_="352911"),
    row("2019-03-01", "Tax and Loan Note Accounts", close="0", open_="0"),
    row("2019-03-01", "Total Operating Balance", close="354020", open_="352911"),
]
MIDDLE_ERA = [
    row("2021-09-30", "Treasury General Account (TGA)", close="215113", open_="172000"),
    row("2021-09-30", "Total Operating Balance", close="215113", open_="172000"),
]
NEW_ERA = [
    row("2026-02-12", "Treasury General Account (TGA) Opening Balance", open_="871181"),
    row("2026-02-12", "Total TGA Deposits (Table II)", open_="29117"),
    row("2026-02-12", "Total TGA Withdrawals (Table II) (-)", open_="-16963"),
    row("2026-02-12", "Treasury General Account (TGA) Closing Balance", open_="883335"),
    row("2026-02-13", "Treasury General Account (TGA) Opening Balance", open_="883335"),
    row("2026-02-13", "Treasury General Account (TGA) Closing Balance"),  # "null": missing
]


def page(data, number, total_pages):
    nxt = f"&page%5Bnumber%5D={number + 1}&page%5Bsize%5D=10000" if number < total_pages else None
    return {
        "data": data,
        "meta": {
            "count": len(data),
            "labels": {"record_date": "Record Date", "account_type": "Type of Account"},
            "dataTypes": {"record_date": "DATE", "close_today_bal": "CURRENCY0"},
            "total-count": 9,
            "total-pages": total_pages,
        },
        "links": {
            "self": f"&page%5Bnumber%5D={number}&page%5Bsize%5D=10000",
            "first": "&page%5Bnumber%5D=1&page%5Bsize%5D=10000",
            "prev": None,
            "next": nxt,
            "last": f"&page%5Bnumber%5D={total_pages}&page%5Bsize%5D=10000",
        },
    }


def serve_pages(http_server, pages: list[list[dict]]) -> None:
    total = len(pages)
    for number, data in enumerate(pages, start=1):
        http_server.route(
            PATH, Reply.json(page(data, number, total)), query={"page[number]": str(number)}
        )


def live_source(http_server, **client_kw):
    client_kw.setdefault("timeout", (1.0, 2.0))
    client = HttpClient("treasury", sleep=FakeSleep(), **client_kw)
    return treasury.TreasuryDtsLiveSource(http_server.url(PATH), client=client)


# -- records -> TGA ------------------------------------------------------------------------------


def test_both_label_eras_give_the_closing_balance():
    frame = treasury.tga_from_records(NEW_ERA + MIDDLE_ERA + OLD_ERA)
    values = dict(zip(frame["date"], frame["value"], strict=True))
    assert list(values) == [
        date(2019, 3, 1),
        date(2021, 9, 30),
        date(2026, 2, 12),
        date(2026, 2, 13),
    ]
    assert values[date(2019, 3, 1)] == 354020  # close_today_bal, not the opening 352911
    assert values[date(2021, 9, 30)] == 215113
    assert values[date(2026, 2, 12)] == 883335  # the Closing Balance row's open_today_bal
    assert math.isnan(values[date(2026, 2, 13)])


def test_closing_row_with_close_column_filled_is_accepted():
    frame = treasury.tga_from_records(
        [row("2026-02-12", "Treasury General Account (TGA) Closing Balance", close="883335")]
    )
    assert frame["value"].tolist() == [883335]


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (
            [row("2026-02-12", "Treasury General Account (TGA) Closing Balance", open_="n/a")],
            "2026-02-12='n/a'",
        ),
        ([row("12/02/2026", "Federal Reserve Account", close="1")], "'12/02/2026'"),
        (
            [
                row("2026-02-12", "Federal Reserve Account", close="1"),
                row("2026-02-12", "Federal Reserve Account", close="2"),
            ],
            "conflicting",
        ),
    ],
)
def test_bad_records_are_format_errors(records, expected):
    with pytest.raises(SourceFormatError) as err:
        treasury.tga_from_records(records)
    assert err.value.source == "treasury" and err.value.series == "TGA"
    assert expected in str(err.value)


# -- live ----------------------------------------------------------------------------------------


def test_live_follows_three_pages(http_server):
    serve_pages(http_server, [OLD_ERA, MIDDLE_ERA, NEW_ERA])
    batch = live_source(http_server).fetch([TGA], start=date(2019, 1, 1))

    assert batch.source == "treasury" and batch.mode == "live" and batch.absent == []
    assert list(batch.frame.columns) == OBSERVATION_COLUMNS
    assert len(batch.frame) == 4
    assert set(batch.frame["series_id"]) == {"TGA"}
    assert set(batch.frame["units"]) == {"Millions of U.S. Dollars"}
    sent = http_server.requests_to(PATH)
    assert [r.param("page[number]") for r in sent] == ["1", "2", "3"]
    assert {r.param("page[size]") for r in sent} == {"10000"}
    assert {r.param("filter") for r in sent} == {"record_date:gte:2019-01-01"}
    assert {r.param("fields") for r in sent} == {
        "record_date,account_type,close_today_bal,open_today_bal"
    }


def test_live_without_start_sends_no_filter_and_filters_nothing(http_server):
    serve_pages(http_server, [NEW_ERA])
    batch = live_source(http_server).fetch([TGA])
    assert http_server.requests_to(PATH)[0].param("filter") is None
    assert len(batch.frame) == 2


def test_live_start_also_filters_locally(http_server):
    serve_pages(http_server, [OLD_ERA + NEW_ERA])  # a server ignoring the filter
    batch = live_source(http_server).fetch([TGA], start=date(2026, 2, 13))
    assert batch.frame["date"].tolist() == [date(2026, 2, 13)]


def test_live_missing_page_is_a_format_error(http_server):
    serve_pages(http_server, [OLD_ERA, MIDDLE_ERA, NEW_ERA])
    http_server.route(
        PATH, Reply.json({"error": "not found"}, status=404), query={"page[number]": "3"}
    )
    with pytest.raises(SourceFormatError, match="page 3 of 3 missing"):
        live_source(http_server).fetch([TGA])


def test_live_empty_page_is_a_format_error(http_server):
    serve_pages(http_server, [OLD_ERA, [], NEW_ERA])
    with pytest.raises(SourceFormatError, match="page 2 of 3 is empty"):
        live_source(http_server).fetch([TGA])


def test_live_page_with_another_schema_is_a_format_error(http_server):
    renamed = [{"record_date": "2026-02-12", "account_type": "x", "closing_balance": "1"}]
    serve_pages(http_server, [NEW_ERA, renamed])
    with pytest.raises(SourceFormatError, match=r"page 2 row 1: schema changed.*close_today_bal"):
        live_source(http_server).fetch([TGA])


def test_live_page_without_meta_is_a_format_error(http_server):
    http_server.route(PATH, Reply.json({"data": NEW_ERA}))
    with pytest.raises(SourceFormatError, match="total-pages"):
        live_source(http_server).fetch([TGA])


def test_live_html_instead_of_json(http_server):
    http_server.route(PATH, Reply.html("<html><head><title>Fiscal Data</title></head></html>"))
    with pytest.raises(SourceFormatError, match="HTML page"):
        live_source(http_server).fetch([TGA])


def test_live_endpoint_gone_is_an_http_error(http_server):
    http_server.route(PATH, Reply.json({"error": "Not Found"}, status=404))
    with pytest.raises(SourceHttpError) as err:
        live_source(http_server).fetch([TGA])
    assert err.value.status == 404 and err.value.series == "TGA"


def test_live_retries_then_reads(http_server):
    serve_pages(http_server, [NEW_ERA])
    http_server.route(
        PATH, Reply(503), Reply.json(page(NEW_ERA, 1, 1)), query={"page[number]": "1"}
    )
    assert len(live_source(http_server).fetch([TGA]).frame) == 2


def test_live_unreachable_has_the_offline_hint():
    source = treasury.TreasuryDtsLiveSource(
        refused_url(PATH), client=HttpClient("treasury", sleep=FakeSleep())
    )
    with pytest.raises(SourceUnreachable, match="CROSSWIND_SOURCE=replay"):
        source.fetch([TGA])


def test_non_tga_series_are_absent_and_cost_no_request(http_server):
    batch = live_source(http_server).fetch([WALCL])
    assert batch.absent == ["WALCL"] and batch.frame.empty and http_server.requests == []


def test_make_source_uses_the_url_override(http_server):
    serve_pages(http_server, [NEW_ERA])
    source = treasury.make_source(
        load_settings({"CROSSWIND_SOURCE": "live"}),
        {"CROSSWIND_FISCALDATA_URL": http_server.url(PATH)},
    )
    assert isinstance(source, treasury.TreasuryDtsLiveSource)
    assert len(source.fetch([TGA]).frame) == 2


# -- replay and record ---------------------------------------------------------------------------


def test_record_then_replay_round_trip(http_server, tmp_path):
    serve_pages(http_server, [OLD_ERA, NEW_ERA])
    [path] = live_source(http_server).record([TGA], tmp_path)
    assert path == tmp_path / "treasury" / "tga_daily.csv"
    assert path.read_text() == (
        "record_date,tga_close_usd_mn\n2019-03-01,354020.000\n2026-02-12,883335.000\n2026-02-13,\n"
    )
    settings = load_settings(
        {"CROSSWIND_SOURCE": "replay", "CROSSWIND_SNAPSHOT_DIR": str(tmp_path)}
    )
    replay = treasury.make_source(settings)
    assert isinstance(replay, treasury.TreasuryReplaySource)
    batch = replay.fetch([TGA], start=date(2026, 1, 1))
    assert batch.mode == "replay" and batch.frame["value"].iloc[0] == 883335
    assert math.isnan(batch.frame["value"].iloc[1])


def test_replay_without_file_reports_absent(tmp_path):
    batch = treasury.TreasuryReplaySource(tmp_path).fetch([TGA])
    assert batch.absent == ["TGA"] and batch.frame.empty


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("date,value\n2024-01-02,1\n", "header 'date,value'"),
        ("record_date,tga_close_usd_mn\n2024-01-02,abc\n", "2024-01-02='abc'"),
        ("record_date,tga_close_usd_mn\n2024/01/02,1\n", "'2024/01/02'"),
        ("record_date,tga_close_usd_mn\n2024-01-02,1\n2024-01-02,1\n", "repeated dates"),
    ],
)
def test_replay_bad_file(tmp_path, text, expected):
    (tmp_path / "treasury").mkdir()
    (tmp_path / "treasury" / "tga_daily.csv").write_text(text)
    with pytest.raises(SourceFormatError, match=expected):
        treasury.TreasuryReplaySource(tmp_path).fetch([TGA])


@pytest.mark.integration
@pytest.mark.skipif(not (SNAPSHOT / "treasury").is_dir(), reason="../shared/snapshot is absent")
def test_real_snapshot_file_replays():
    batch = treasury.TreasuryReplaySource(SNAPSHOT).fetch([TGA])
    assert len(batch.frame) == 1111
    assert batch.frame["value"].between(1e4, 3e6).all()  # USD millions
