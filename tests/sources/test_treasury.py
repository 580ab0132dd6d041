"""Treasury DTS: both account-label eras, fiscaldata paging and schema checks, replay, record."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import ClassVar

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


def row(day, account, close="null", open_="null", month="null"):
    """A record as fiscaldata sends it: every value a string, "null" for none."""
    return {
        "record_date": day,
        "account_type": account,
        "close_today_bal": close,
        "open_today_bal": open_,
        "open_month_bal": month,
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


# The envelope fiscaldata's API documentation describes: `data` (every value a string), `meta`
# with `count` (this page), `labels`, `dataTypes`, `dataFormats` (for the requested fields),
# `total-count`, `total-pages`, and `links` whose members are query fragments (`prev`/`next`
# null at the ends). No genuine operating_cash_balance page could be found to copy.
LABELS = {
    "record_date": "Record Date",
    "account_type": "Type of Account",
    "close_today_bal": "Closing Balance Today",
    "open_today_bal": "Opening Balance Today",
    "open_month_bal": "Opening Balance This Month",
}
DATA_TYPES = {
    "record_date": "DATE",
    "account_type": "STRING",
    "close_today_bal": "CURRENCY0",
    "open_today_bal": "CURRENCY0",
    "open_month_bal": "CURRENCY0",
}
DATA_FORMATS = {
    "record_date": "YYYY-MM-DD",
    "account_type": "String",
    "close_today_bal": "$10.20",
    "open_today_bal": "$10.20",
    "open_month_bal": "$10.20",
}


def fragment(number: int, size: int) -> str:
    return f"&page%5Bnumber%5D={number}&page%5Bsize%5D={size}"


def envelope(data: list[dict], fields: list[str], number: int, size: int, total: int) -> dict:
    """One page of `total` records, `size` a page, as the documented envelope."""
    pages = -(-total // size)
    return {
        "data": data,
        "meta": {
            "count": len(data),
            "labels": {f: LABELS[f] for f in fields},
            "dataTypes": {f: DATA_TYPES[f] for f in fields},
            "dataFormats": {f: DATA_FORMATS[f] for f in fields},
            "total-count": total,
            "total-pages": pages,
        },
        "links": {
            "self": fragment(number, size),
            "first": fragment(1, size),
            "prev": fragment(number - 1, size) if number > 1 else None,
            "next": fragment(number + 1, size) if number < pages else None,
            "last": fragment(pages, size),
        },
    }


def query_error(name: str, value: str) -> Reply:
    """fiscaldata's documented error object for a bad query parameter (HTTP 400)."""
    return Reply.json(
        {
            "error": "Invalid Query Param",
            "message": f"Invalid query parameter '{name}' with value '[{value}]'.  For more "
            "information please see the documentation.",
        },
        status=400,
    )


class FiscalData:
    """operating_cash_balance as documented: fields, filter (field:op:value), sort, page[...]."""

    OPS: ClassVar[dict] = {
        "eq": str.__eq__, "gte": str.__ge__, "gt": str.__gt__, "lte": str.__le__, "lt": str.__lt__,
    }  # fmt: skip

    def __init__(self, records: list[dict]):
        self.records = records

    def __call__(self, request) -> Reply:
        fields = (request.param("fields") or ",".join(LABELS)).split(",")
        unknown = [f for f in fields if f not in LABELS]
        if unknown:
            return query_error("fields", ", ".join(unknown))
        rows = self.records
        if request.param("filter"):
            field, op, value = request.param("filter").split(":", 2)
            if field not in LABELS or op not in self.OPS:
                return query_error("filter", request.param("filter"))
            rows = [r for r in rows if self.OPS[op](r[field], value)]
        sort = request.param("sort")
        if sort:
            rows = sorted(rows, key=lambda r: r[sort.lstrip("-")], reverse=sort.startswith("-"))
        size = int(request.param("page[size]") or 100)
        number = int(request.param("page[number]") or 1)
        chosen = rows[(number - 1) * size : number * size]
        data = [{f: r.get(f, "null") for f in fields} for r in chosen]
        return Reply.json(envelope(data, fields, number, size, len(rows)))


def serve(http_server, records: list[dict]) -> FiscalData:
    fake = FiscalData(records)
    http_server.route_fn(PATH, fake)
    return fake


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

EVERY_ERA = NEW_ERA + OLD_ERA + MIDDLE_ERA  # 11 records, not in date order


def test_live_follows_every_page(http_server, monkeypatch):
    monkeypatch.setattr(treasury, "PAGE_SIZE", 4)
    serve(http_server, EVERY_ERA)
    batch = live_source(http_server).fetch([TGA], start=date(2019, 1, 1))

    assert batch.source == "treasury" and batch.mode == "live" and batch.absent == []
    assert list(batch.frame.columns) == OBSERVATION_COLUMNS
    assert batch.frame["date"].tolist() == [
        date(2019, 3, 1), date(2021, 9, 30), date(2026, 2, 12), date(2026, 2, 13),
    ]  # fmt: skip
    assert set(batch.frame["series_id"]) == {"TGA"}
    assert set(batch.frame["units"]) == {"Millions of U.S. Dollars"}
    sent = http_server.requests_to(PATH)
    assert [r.param("page[number]") for r in sent] == ["1", "2", "3"]  # 4 + 4 + 3 records
    assert {r.param("page[size]") for r in sent} == {"4"}
    assert {r.param("filter") for r in sent} == {"record_date:gte:2019-01-01"}
    assert {r.param("sort") for r in sent} == {"record_date"}
    assert {r.param("fields") for r in sent} == {
        "record_date,account_type,close_today_bal,open_today_bal"
    }


def test_live_asks_for_the_documented_maximum_page_and_no_filter_without_start(http_server):
    serve(http_server, EVERY_ERA)
    batch = live_source(http_server).fetch([TGA])
    [sent] = http_server.requests_to(PATH)
    assert sent.param("page[size]") == "10000" and sent.param("filter") is None
    assert len(batch.frame) == 4


def test_live_start_also_filters_locally(http_server):
    fields = list(treasury.FIELDS)
    every = [{f: r[f] for f in fields} for r in EVERY_ERA]
    http_server.route(PATH, Reply.json(envelope(every, fields, 1, 10_000, len(every))))
    batch = live_source(http_server).fetch([TGA], start=date(2026, 2, 13))  # filter ignored
    assert batch.frame["date"].tolist() == [date(2026, 2, 13)]


def test_nothing_published_since_start_is_an_empty_batch(http_server):
    # DTS day D appears on the next business day: a run before then finds no new record.
    serve(http_server, EVERY_ERA)
    batch = live_source(http_server).fetch([TGA], start=date(2026, 2, 14))
    assert batch.frame.empty and batch.absent == []
    assert len(http_server.requests_to(PATH)) == 1


def three_pages(http_server, monkeypatch) -> list[str]:
    monkeypatch.setattr(treasury, "PAGE_SIZE", 4)
    serve(http_server, EVERY_ERA)
    return list(treasury.FIELDS)


def test_live_missing_page_is_a_format_error(http_server, monkeypatch):
    three_pages(http_server, monkeypatch)
    gone = {"error": "Not Found", "message": "Not Found"}
    http_server.route(PATH, Reply.json(gone, status=404), query={"page[number]": "3"})
    with pytest.raises(SourceFormatError, match="page 3 of 3 missing"):
        live_source(http_server).fetch([TGA])


def test_live_empty_page_is_a_format_error(http_server, monkeypatch):
    fields = three_pages(http_server, monkeypatch)
    http_server.route(PATH, Reply.json(envelope([], fields, 2, 4, 11)), query={"page[number]": "2"})
    with pytest.raises(SourceFormatError, match="page 2 of 3 is empty"):
        live_source(http_server).fetch([TGA])


def test_live_page_shorter_than_its_count_is_a_format_error(http_server, monkeypatch):
    fields = three_pages(http_server, monkeypatch)
    short = envelope([{f: r[f] for f in fields} for r in EVERY_ERA[4:7]], fields, 2, 4, 11)
    short["meta"]["count"] = 4
    http_server.route(PATH, Reply.json(short), query={"page[number]": "2"})
    with pytest.raises(
        SourceFormatError, match=r"page 2: meta\.count says 4 records, `data` has 3"
    ):
        live_source(http_server).fetch([TGA])


def test_live_pages_adding_up_short_of_total_count_is_a_format_error(http_server, monkeypatch):
    fields = three_pages(http_server, monkeypatch)
    last = envelope([{f: r[f] for f in fields} for r in EVERY_ERA[8:10]], fields, 3, 4, 11)
    http_server.route(PATH, Reply.json(last), query={"page[number]": "3"})
    expected = r"3 pages held 10 records, meta\.total-count says 11"
    with pytest.raises(SourceFormatError, match=expected):
        live_source(http_server).fetch([TGA])


def test_live_page_with_another_schema_is_a_format_error(http_server, monkeypatch):
    fields = three_pages(http_server, monkeypatch)
    renamed = [{"record_date": "2026-02-12", "account_type": "x", "closing_balance": "1"}] * 4
    http_server.route(
        PATH, Reply.json(envelope(renamed, fields, 2, 4, 11)), query={"page[number]": "2"}
    )
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


def test_live_rejected_query_quotes_fiscaldatas_error_object(http_server, monkeypatch):
    # A field the dataset no longer has: fiscaldata answers 400 with its documented error object.
    monkeypatch.setattr(treasury, "FIELDS", (*treasury.FIELDS, "close_today_bal_mil"))
    serve(http_server, EVERY_ERA)
    with pytest.raises(SourceHttpError) as err:
        live_source(http_server).fetch([TGA])
    assert err.value.status == 400 and err.value.series == "TGA"
    assert "Invalid Query Param" in str(err.value)
    assert "Invalid query parameter 'fields' with value '[close_today_bal_mil]'" in str(err.value)
    assert len(http_server.requests_to(PATH)) == 1  # a bad query is not retried


def test_live_endpoint_gone_is_an_http_error(http_server):
    http_server.route(PATH, Reply.json({"error": "Not Found", "message": "Not Found"}, status=404))
    with pytest.raises(SourceHttpError) as err:
        live_source(http_server).fetch([TGA])
    assert err.value.status == 404 and err.value.series == "TGA"


def test_live_retries_then_reads(http_server):
    fields = list(treasury.FIELDS)
    data = [{f: r[f] for f in fields} for r in NEW_ERA]
    http_server.route(PATH, Reply(503), Reply.json(envelope(data, fields, 1, 10_000, len(data))))
    assert len(live_source(http_server).fetch([TGA]).frame) == 2
    assert len(http_server.requests_to(PATH)) == 2


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
    serve(http_server, NEW_ERA)
    source = treasury.make_source(
        load_settings(
            {"CROSSWIND_SOURCE": "live", "CROSSWIND_FISCALDATA_URL": http_server.url(PATH)}
        )
    )
    assert isinstance(source, treasury.TreasuryDtsLiveSource)
    assert len(source.fetch([TGA]).frame) == 2


# -- replay and record ---------------------------------------------------------------------------


def test_record_then_replay_round_trip(http_server, tmp_path):
    serve(http_server, OLD_ERA + NEW_ERA)
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
