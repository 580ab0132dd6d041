"""Market bars: the CSV-folder provider, Yahoo's v8 chart client (loopback), the Source wrapper."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from orchestration.lib import warehouse
from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import SourceError, SourceFormatError, SourceUnreachable
from orchestration.lib.http import HttpClient, SourceHttpError
from orchestration.lib.raw_tables import MARKETS
from orchestration.lib.settings import load_settings
from orchestration.sources import markets
from orchestration.sources.base import BAR_COLUMNS
from tests.support.http_server import FakeSleep, Reply

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = REPO / ".." / "shared" / "snapshot"
WIRE_CHART = REPO / ".." / "shared" / "wire" / "yahoo" / "chart"
CATALOG = load_catalog()


def series(*ids: str):
    return [CATALOG.series[i] for i in ids]


def folder_with(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "markets"
    folder.mkdir(exist_ok=True)
    for symbol, text in files.items():
        (folder / f"{symbol.replace('_', '-')}.csv").write_text(text)
    return folder


def fetch(folder: Path, *ids: str, start: date | None = None):
    return markets.MarketsSource(markets.CsvFolderProvider(folder), "replay").fetch(
        series(*ids), start
    )


# -- CSV folder ----------------------------------------------------------------------------------


def test_close_only_and_ohlcv_files(tmp_path):
    folder = folder_with(
        tmp_path,
        MOVE="date,close\n2026-02-11,61.35\n2026-02-12,68.57\n",
        BTC_USD=(
            "Date,Open,High,Low,Close,Volume\n"
            "2026-02-12,66000.5,66500,61000,61488.4,69554003968\n"
            "2026-02-13,61488.4,62000,60000,null,\n"
        ),
    )
    batch = fetch(folder, "MOVE", "BTC-USD", "SPX")
    frame = batch.frame
    assert list(frame.columns) == BAR_COLUMNS
    assert batch.absent == ["SPX"]
    move = frame[frame["series_id"] == "MOVE"]
    assert list(move["date"]) == [date(2026, 2, 11), date(2026, 2, 12)]
    assert list(move["close"]) == [61.35, 68.57]
    assert move["open"].isna().all() and set(move["units"]) == {"Index"}
    btc = frame[frame["series_id"] == "BTC-USD"].reset_index(drop=True)
    assert btc.loc[0, ["open", "high", "low", "close", "volume"]].tolist() == [
        66000.5, 66500.0, 61000.0, 61488.4, 69554003968.0,
    ]  # fmt: skip
    assert math.isnan(btc.loc[1, "close"]) and math.isnan(btc.loc[1, "volume"])
    assert set(btc["units"]) == {"U.S. Dollars"}


def test_start_filters_and_duplicates_are_left_for_the_quality_gate(tmp_path):
    folder = folder_with(
        tmp_path, MOVE="date,close\n2026-02-10,60\n2026-02-11,61\n2026-02-11,61.5\n2026-02-12,68\n"
    )
    frame = fetch(folder, "MOVE", start=date(2026, 2, 11)).frame
    assert list(frame["date"]) == [date(2026, 2, 11), date(2026, 2, 11), date(2026, 2, 12)]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("day,close\n2026-02-12,1\n", r"lacks \['date'\]"),
        ("date,last\n2026-02-12,1\n", r"lacks \['close'\]"),
        ("date,close\n2026-02-12,1\n12/02/2026,2\n", "line 3: unparseable date '12/02/2026'"),
        ("date,close\n2026-02-30,1\n", "unparseable date '2026-02-30'"),
        ("date,close\n2026-02-12,1\n2026-02-13,n/a\n", "line 3 .*non-numeric close 'n/a'"),
        ("date,open,close\n2026-02-12,abc,1\n", "non-numeric open 'abc'"),
        ("date,close\n2026-02-12,1\n2026-02-13,inf\n", r"line 3 \(2026-02-13\): non-finite close"),
        ("date,close\n2026-02-12,1e400\n", "non-finite close '1e400'"),
        ("date,open,close\n2026-02-12,-Infinity,1\n", "non-finite open '-Infinity'"),
        ("<!DOCTYPE html><html></html>", "HTML"),
    ],
)
def test_bad_files_raise_format_errors_naming_the_series(tmp_path, text, match):
    folder = folder_with(tmp_path, MOVE=text)
    with pytest.raises(SourceFormatError, match=match) as err:
        fetch(folder, "MOVE")
    assert (err.value.source, err.value.series) == ("markets", "MOVE")


def test_read_dated_csv_still_takes_the_largest_finite_double():
    frame = markets.read_dated_csv(
        b"date,value\n2026-02-12,1.7976931348623157e308\n",
        source="drops",
        series="ADP",
        file_name="adp.csv",
        required=["value"],
    )
    assert frame["value"].tolist() == [1.7976931348623157e308]


def test_replay_and_sample_modes_read_the_markets_folder(tmp_path):
    folder_with(tmp_path, MOVE="date,close\n2026-02-12,68.57\n")
    settings = load_settings(
        {"CROSSWIND_SOURCE": "replay", "CROSSWIND_SNAPSHOT_DIR": str(tmp_path)}
    )
    batch = markets.make_source(settings).fetch(series("MOVE"))
    assert batch.mode == "replay" and batch.frame["close"].tolist() == [68.57]


def test_live_mode_uses_a_csv_folder_when_configured(tmp_path):
    folder = folder_with(tmp_path, MOVE="date,close\n2026-02-12,68.57\n")
    source = markets.make_source(
        load_settings({"CROSSWIND_SOURCE": "live", "CROSSWIND_MARKETS_DIR": str(folder)})
    )
    assert isinstance(source.provider, markets.CsvFolderProvider)
    assert source.fetch(series("MOVE")).mode == "live"
    with pytest.raises(SourceError, match="not a folder"):
        markets.make_source(
            load_settings(
                {"CROSSWIND_SOURCE": "live", "CROSSWIND_MARKETS_DIR": str(tmp_path / "nope")}
            )
        )


# -- Yahoo chart replies, hand-written in the genuine shape (../shared/wire/yahoo/chart) ---------


NEW_YORK = "America/New_York"


def at(text: str, zone: str) -> int:
    """Unix seconds of a wall-clock time in `zone`."""
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp())


def chart(
    symbol: str,
    stamps: list[int],
    quote: dict[str, list],
    *,
    zone: str = NEW_YORK,
    gmtoffset: int = -18000,
    tz_abbr: str = "EST",
    session: tuple[int, int] | None = None,
    instrument: str = "INDEX",
    exchange: str = "SNP",
) -> dict:
    """A v8 chart reply as Yahoo sends it: meta, timestamp, indicators.quote/adjclose, error."""
    opened = stamps[-1] if stamps else at("2026-02-12 09:30", NEW_YORK)
    start, end = session or (opened, opened + 23_400)
    period = {"timezone": tz_abbr, "gmtoffset": gmtoffset}
    closes = [c for c in quote.get("close", []) if c is not None] or [None]
    meta = {
        "currency": "USD",
        "symbol": symbol,
        "exchangeName": exchange,
        "instrumentType": instrument,
        "firstTradeDate": stamps[0] if stamps else None,
        "regularMarketTime": stamps[-1] if stamps else end,
        "gmtoffset": gmtoffset,
        "timezone": tz_abbr,
        "exchangeTimezoneName": zone,
        "regularMarketPrice": closes[-1],
        "chartPreviousClose": closes[0],
        "priceHint": 2,
        "currentTradingPeriod": {
            "pre": {**period, "start": start - 19_800, "end": start},
            "regular": {**period, "start": start, "end": end},
            "post": {**period, "start": end, "end": end + 14_400},
        },
        "dataGranularity": "1d",
        "range": "",
        "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
    }
    adjclose = {"adjclose": quote["close"]} if "close" in quote else {}
    result = {"meta": meta, "timestamp": stamps, "indicators": {"quote": [quote]}}
    result["indicators"]["adjclose"] = [adjclose]
    return {"chart": {"result": [result], "error": None}}


def ohlcv(close: list, volume: list | None = None, spread: float = 1.0) -> dict[str, list]:
    """Quote arrays around `close` (null stays null), in Yahoo's key order."""
    return {
        "high": [None if c is None else c + spread for c in close],
        "close": close,
        "low": [None if c is None else c - spread for c in close],
        "open": [None if c is None else c - spread / 2 for c in close],
        "volume": volume if volume is not None else [0] * len(close),
    }


NOT_FOUND = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}
AFTER_CLOSE = datetime(2026, 2, 12, 23, 0, tzinfo=UTC)  # 18:00 in New York


def parse(payload, *, now=AFTER_CLOSE, symbol="^GSPC"):
    return markets.bars_from_chart(payload, symbol=symbol, series_id="X", now=now)


def spx_reply():
    stamps = [at(f"2026-02-{d} 09:30", NEW_YORK) for d in (10, 11, 12)]
    return chart("^GSPC", stamps, ohlcv([6941.5, 6939.9, 6832.8]))


def test_index_bars_are_dated_in_new_york():
    frame = parse(spx_reply())
    assert list(frame.columns) == ["date", "open", "high", "low", "close", "volume"]
    assert frame["date"].tolist() == [date(2026, 2, 10), date(2026, 2, 11), date(2026, 2, 12)]
    assert frame["close"].tolist() == [6941.5, 6939.9, 6832.8]
    assert frame["high"].tolist() == [6942.5, 6940.9, 6833.8]


def test_the_bar_of_a_session_still_open_is_dropped():
    # 13:00 in New York: today's "close" is only the last trade so far.
    frame = parse(spx_reply(), now=datetime(2026, 2, 12, 18, 0, tzinfo=UTC))
    assert frame["date"].tolist() == [date(2026, 2, 10), date(2026, 2, 11)]


def test_crypto_bars_start_at_utc_midnight():
    # BTC-USD trades around the clock; Yahoo's bars run 00:00-24:00 UTC. The last row is the
    # running day, stamped with its last trade. In New York these stamps would be the day before.
    stamps = [at(f"2026-02-{d} 00:00", "UTC") for d in (10, 11, 12)] + [
        at("2026-02-13 11:58", "UTC")
    ]
    reply = chart(
        "BTC-USD",
        stamps,
        ohlcv([68790.6, 67041.2, 66206.5, 66810.0], volume=[41e9, None, 38e9, 9e9]),
        zone="UTC",
        gmtoffset=0,
        tz_abbr="UTC",
        session=(at("2026-02-13 00:00", "UTC"), at("2026-02-13 23:59", "UTC")),
        instrument="CRYPTOCURRENCY",
        exchange="CCC",
    )
    frame = parse(reply, now=datetime(2026, 2, 13, 12, 0, tzinfo=UTC), symbol="BTC-USD")
    assert frame["date"].tolist() == [date(2026, 2, 10), date(2026, 2, 11), date(2026, 2, 12)]
    assert frame["close"].tolist() == [68790.6, 67041.2, 66206.5]
    assert math.isnan(frame["volume"].iloc[1]) and frame["close"].notna().all()


def futures_reply():
    """GC=F: COMEX gold, on New York time; Yahoo pads a day with nulls and, after the close,
    repeats the day as a second row stamped at its last trade."""
    stamps = [at(f"2026-02-{d:02d} 00:00", NEW_YORK) for d in (9, 10, 11, 12)] + [
        at("2026-02-12 16:59", NEW_YORK)
    ]
    return chart(
        "GC=F",
        stamps,
        ohlcv([None, 5041.1, 5082.6, 4921.3, 4923.0], volume=[None, 1820, 2411, 3105, 3190]),
        session=(
            at("2026-02-11 18:00", NEW_YORK),
            at("2026-02-12 17:00", NEW_YORK),
        ),
        instrument="FUTURE",
        exchange="CMX",
    )


def test_futures_bars_drop_null_padding_and_keep_the_later_row_of_a_day():
    frame = parse(futures_reply(), symbol="GC=F")
    assert frame["date"].tolist() == [date(2026, 2, 10), date(2026, 2, 11), date(2026, 2, 12)]
    assert frame["close"].tolist() == [5041.1, 5082.6, 4923.0]
    assert frame["volume"].tolist() == [1820, 2411, 3190]


def test_futures_session_opened_the_evening_before_is_still_today():
    # 10:00 in New York on the 12th: the session that opened at 18:00 on the 11th is open.
    frame = parse(futures_reply(), now=datetime(2026, 2, 12, 15, 0, tzinfo=UTC), symbol="GC=F")
    assert frame["date"].tolist() == [date(2026, 2, 10), date(2026, 2, 11)]


def test_fx_bars_use_the_zone_name_not_todays_gmtoffset():
    # JPY=X runs on London time. Asked in winter (gmtoffset 0), a July bar still starts at
    # 00:00 BST = 23:00 UTC the day before: only the zone name dates it right.
    stamps = [at("2025-07-01 00:00", "Europe/London"), at("2026-01-05 00:00", "Europe/London")]
    reply = chart(
        "JPY=X",
        stamps,
        ohlcv([144.02, 157.21], spread=0.5),
        zone="Europe/London",
        gmtoffset=0,
        tz_abbr="GMT",
        instrument="CURRENCY",
        exchange="CCY",
    )
    frame = parse(reply, symbol="JPY=X")
    assert frame["date"].tolist() == [date(2025, 7, 1), date(2026, 1, 5)]
    assert frame["close"].tolist() == [144.02, 157.21]


def test_gmtoffset_dates_the_bars_when_the_zone_name_is_missing():
    reply = spx_reply()
    del reply["chart"]["result"][0]["meta"]["exchangeTimezoneName"]
    assert parse(reply)["date"].tolist()[-1] == date(2026, 2, 12)
    del reply["chart"]["result"][0]["meta"]["gmtoffset"]
    with pytest.raises(SourceFormatError, match="no exchange time zone"):
        parse(reply)


def test_a_range_without_bars_is_empty():
    reply = chart("^GSPC", [], {})
    del reply["chart"]["result"][0]["timestamp"]  # Yahoo leaves it out when there is no bar
    frame = parse(reply)
    assert frame.empty and list(frame.columns) == ["date", *markets.PRICE_COLUMNS]


def _with(path: str, value):
    reply = spx_reply()
    node = reply
    *parents, last = path.split(".")
    for key in parents:
        node = node[key][0] if isinstance(node[key], list) else node[key]
    node[last] = value
    return reply


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({"finance": {"result": None}}, "no `chart` object"),
        ({"chart": {"result": [], "error": None}}, r"`chart.result` is empty"),
        (_with("chart.result.meta.dataGranularity", "3mo"), "'3mo', not daily"),
        (_with("chart.result.timestamp", ["2026-02-10", 1, 2]), "not a list of Unix seconds"),
        (_with("chart.result.indicators.quote.close", [1.0, 2.0]), "close has 2 values for 3"),
        (_with("chart.result.indicators.quote.close", [1.0, "2.0", 3.0]), "'2.0', not a finite"),
        (_with("chart.result.indicators.quote.open", [1.0, math.inf, 3.0]), "inf, not a finite"),
        (_with("chart.result.indicators", {}), "no `indicators.quote`"),
    ],
)
def test_malformed_replies_are_format_errors(payload, match):
    with pytest.raises(SourceFormatError, match=match) as err:
        parse(payload)
    assert err.value.source == "markets" and "'^GSPC'" in str(err.value)


def test_an_error_object_in_a_200_reply_is_reported():
    with pytest.raises(SourceError, match="Not Found: No data found, symbol may be delisted"):
        parse(NOT_FOUND)


# -- the client against a loopback server --------------------------------------------------------


def chart_path(symbol: str) -> str:
    return markets.CHART_PATH + quote(symbol, safe="")


def yahoo(http_server, *, now=AFTER_CLOSE, **client_kw):
    sleep = FakeSleep()
    client = HttpClient("markets", sleep=sleep, timeout=(1.0, 2.0), **client_kw)
    provider = markets.YahooChartProvider(http_server.url(""), client=client, clock=lambda: now)
    return provider, sleep


def test_request_path_parameters_and_browser_user_agent(http_server):
    http_server.route(chart_path("^GSPC"), Reply.json(spx_reply()))
    provider, _ = yahoo(http_server)
    spx = series("SPX")[0]

    full = provider.bars(spx)
    since = provider.bars(spx, date(2026, 2, 11))

    assert full["date"].tolist()[0] == date(2026, 2, 10)
    assert since["date"].tolist() == [date(2026, 2, 11), date(2026, 2, 12)]
    first, second = http_server.requests
    assert first.path == "/v8/finance/chart/%5EGSPC"
    assert {k: v[0] for k, v in first.query.items()} == {
        "period1": str(int(AFTER_CLOSE.timestamp()) - 99 * 365 * 86_400),
        "period2": str(int(AFTER_CLOSE.timestamp())),
        "interval": "1d",
        "includePrePost": "false",
    }
    # a day before `start` at UTC midnight, so a bar stamped before UTC midnight is not missed
    assert second.param("period1") == str(int(datetime(2026, 2, 10, tzinfo=UTC).timestamp()))
    assert (
        first.headers["User-Agent"].startswith("Mozilla/5.0")
        and "crosswind" not in (first.headers["User-Agent"])
    )


def test_requests_are_paced_one_second_apart(http_server):
    for symbol in ("^GSPC", "^MOVE"):
        http_server.route(chart_path(symbol), Reply.json(spx_reply()))
    sleep = FakeSleep()
    provider = markets.YahooChartProvider(http_server.url(""), sleep=sleep)
    source = markets.MarketsSource(provider, "live")
    batch = source.fetch(series("SPX", "MOVE"), date(2026, 2, 1))
    assert [r.path for r in http_server.requests] == [chart_path("^GSPC"), chart_path("^MOVE")]
    assert len(sleep.calls) == 1 and 0 < sleep.calls[0] <= markets.YAHOO_MIN_INTERVAL
    assert list(batch.frame.columns) == BAR_COLUMNS
    assert batch.frame.groupby("series_id").size().to_dict() == {"MOVE": 3, "SPX": 3}


def test_429_and_503_are_retried_then_read(http_server):
    http_server.route(
        chart_path("^GSPC"),
        Reply.text("Too Many Requests", status=429),
        Reply(503),
        Reply.json(spx_reply()),
    )
    provider, sleep = yahoo(http_server, backoff_base=2.0)
    assert len(provider.bars(series("SPX")[0])) == 3
    assert len(http_server.requests) == 3 and len(sleep.calls) == 2


def test_persistent_429_names_the_series_and_the_csv_fallback(http_server):
    http_server.route(chart_path("^MOVE"), Reply.text("Too Many Requests", status=429))
    sleep = FakeSleep()
    provider = markets.YahooChartProvider(http_server.url(""), sleep=sleep)
    with pytest.raises(SourceUnreachable) as err:
        provider.bars(series("MOVE")[0])
    message = str(err.value)
    assert message.startswith("[markets/MOVE] cannot reach")
    assert "HTTP 429" in message and "CROSSWIND_MARKETS_DIR" in message
    assert len(http_server.requests) == 4  # the first try and three retries, backing off
    assert len(sleep.calls) >= 3


def test_unknown_symbol_404_is_a_clear_error_without_retry(http_server):
    http_server.route(chart_path("^MOVE"), Reply.json(NOT_FOUND, status=404))
    provider, sleep = yahoo(http_server)
    with pytest.raises(SourceHttpError) as err:
        provider.bars(series("MOVE")[0])
    assert err.value.status == 404 and err.value.series == "MOVE"
    assert str(err.value) == (
        "[markets/MOVE] Yahoo refused the daily chart of '^MOVE': HTTP 404: Not Found: "
        "No data found, symbol may be delisted. Check the catalog `live` symbol of MOVE, or set "
        "CROSSWIND_MARKETS_DIR to a folder of <ID>.csv bars."
    )
    assert len(http_server.requests) == 1 and sleep.calls == []


def test_a_refused_range_quotes_yahoos_description(http_server):
    body = {
        "chart": {
            "result": None,
            "error": {
                "code": "Bad Request",
                "description": "1d data not available for startTime=-2208988800 and "
                "endTime=1587242455. Only 100 years worth of day granularity data are allowed "
                "to be fetched per request.",
            },
        }
    }
    http_server.route(chart_path("^GSPC"), Reply.json(body, status=400))
    provider, _ = yahoo(http_server)
    with pytest.raises(SourceHttpError, match="1d data not available for startTime") as err:
        provider.bars(series("SPX")[0])
    assert err.value.status == 400 and str(err.value).startswith("[markets/SPX] Yahoo refused")


def test_yahoo_down_page_is_a_format_error(http_server):
    page = "<html><head><title>Yahoo</title></head><body>Will be right back...</body></html>"
    http_server.route(chart_path("^GSPC"), Reply.html(page))
    provider, _ = yahoo(http_server)
    with pytest.raises(SourceFormatError, match="HTML page") as err:
        provider.bars(series("SPX")[0])
    assert err.value.series == "SPX"


def test_full_history_without_any_bar_is_an_error(http_server):
    http_server.route(chart_path("^GSPC"), Reply.json(chart("^GSPC", [], {})))
    provider, _ = yahoo(http_server)
    with pytest.raises(SourceError, match="no daily bars for '\\^GSPC'"):
        provider.bars(series("SPX")[0])
    assert provider.bars(series("SPX")[0], date(2026, 2, 13)).empty  # nothing new: fine


def test_live_mode_defaults_to_yahoo_and_takes_the_url_override(http_server):
    default = markets.make_source(load_settings({"CROSSWIND_SOURCE": "live"}))
    assert isinstance(default.provider, markets.YahooChartProvider)
    assert default.provider.chart_url("SI=F") == (
        "https://query1.finance.yahoo.com/v8/finance/chart/SI%3DF"
    )
    http_server.route(chart_path("^GSPC"), Reply.json(spx_reply()))
    source = markets.make_source(
        load_settings({"CROSSWIND_SOURCE": "live", "CROSSWIND_YAHOO_URL": http_server.url("/")})
    )
    batch = source.fetch(series("SPX"), date(2026, 2, 1))
    assert batch.mode == "live" and len(batch.frame) == 3
    assert http_server.requests[0].path == "/v8/finance/chart/%5EGSPC"


def test_every_market_series_names_its_yahoo_symbol():
    # Without `live` the client would ask Yahoo for our own id (XAUUSD_LBMA_PM: a 404).
    assert [s.id for s in CATALOG.for_source("markets") if not s.live] == []


# -- record and replay ---------------------------------------------------------------------------


def _raw_rows(folder: Path, frame, mode: str) -> list[tuple]:
    path = folder / "crosswind.duckdb"
    with warehouse.writer(path) as con:
        warehouse.upsert(con, MARKETS, frame, mode)
        names = ", ".join(f'"{n}"' for n in MARKETS.names)
        return con.execute(f"SELECT {names} FROM {MARKETS.qualified} ORDER BY 1, 2").fetchall()


def test_a_replay_of_a_recording_equals_the_live_raw_rows(http_server, tmp_path):
    http_server.route(chart_path("^GSPC"), Reply.json(spx_reply()))
    http_server.route(chart_path("GC=F"), Reply.json(futures_reply()))
    provider, _ = yahoo(http_server)
    live = markets.MarketsSource(provider, "live")
    wanted = series("SPX", "XAUUSD_LBMA_PM")

    live_rows = _raw_rows(tmp_path / "live", live.fetch(wanted).frame, "live")
    written = live.record(wanted, tmp_path / "rec")
    settings = load_settings(
        {"CROSSWIND_SOURCE": "replay", "CROSSWIND_SNAPSHOT_DIR": str(tmp_path / "rec")}
    )
    replay_rows = _raw_rows(
        tmp_path / "replay", markets.make_source(settings).fetch(wanted).frame, "replay"
    )

    assert written == [tmp_path / "rec" / "markets" / f"{i}.csv" for i in ("SPX", "XAUUSD_LBMA_PM")]
    assert len(live_rows) == 6
    assert [r[:2] for r in replay_rows] == [r[:2] for r in live_rows]
    for got, want in zip(replay_rows, live_rows, strict=True):  # NaN != NaN, so cell by cell
        assert all(g == w or (g != g and w != w) for g, w in zip(got, want, strict=True)), got


# -- works after a plain `uv sync --frozen` ------------------------------------------------------


def _locked_default_closure() -> set[str]:
    """Distributions `uv sync --frozen` installs for the project itself (no extras, no groups)."""
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    packages = {p["name"]: p for p in lock["package"]}
    todo, seen = ["crosswind"], set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [d["name"] for d in packages[name].get("dependencies", [])]
    return seen


def test_live_markets_need_nothing_outside_the_locked_default_install():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "optional-dependencies" not in pyproject["project"]  # no extra to forget
    # Which distributions does importing the live markets client load? Fresh interpreter.
    probe = (
        "import json, sys, importlib.metadata as md\n"
        "before = set(sys.modules)  # what the interpreter's .pth files loaded\n"
        "import orchestration.sources.markets as m\n"
        "m.YahooChartProvider()\n"
        "tops = {n.split('.')[0] for n in set(sys.modules) - before}\n"
        "dists = md.packages_distributions()\n"
        "print(json.dumps(sorted({d for t in tops for d in dists.get(t, [])})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    loaded = {d.lower().replace("_", "-") for d in json.loads(out)}
    assert "requests" in loaded and "yfinance" not in loaded
    assert loaded - _locked_default_closure() == set()


# -- genuine bytes and the real snapshot ---------------------------------------------------------


JSON_TYPE = "application/json;charset=utf-8"


@pytest.mark.integration
def test_genuine_chart_reply_gives_new_york_trading_days(http_server):
    path = WIRE_CHART / "^SP500TR.json"
    if not path.is_file():
        pytest.skip(f"genuine Yahoo reply not found at {path.resolve()} (../shared/wire)")
    body = path.read_bytes()
    http_server.route(
        chart_path("^SP500TR"), Reply(200, body, {"Content-Type": "application/json"})
    )
    provider, _ = yahoo(http_server, now=datetime(2026, 2, 12, tzinfo=UTC))
    total_return = CATALOG.series["SPX"].model_copy(update={"live": "^SP500TR"})

    frame = provider.bars(total_return)

    # NYSE days 2023-06-20 .. 2023-07-14: Juneteenth before, Independence Day (07-04) absent.
    june = [date(2023, 6, d) for d in (20, 21, 22, 23, 26, 27, 28, 29, 30)]
    july = [date(2023, 7, d) for d in (3, 5, 6, 7, 10, 11, 12, 13, 14)]
    assert frame["date"].tolist() == june + july
    quote = json.loads(body)["chart"]["result"][0]["indicators"]["quote"][0]
    assert frame["close"].tolist() == quote["close"]
    assert frame["close"].iloc[0] == 9424.01953125 and frame["close"].iloc[-1] == 9683.6904296875
    assert (frame["low"] <= frame["close"]).all() and (frame["close"] <= frame["high"]).all()


# Rows and date ranges from ../shared/snapshot/README.md.
SNAPSHOT_COUNTS = {
    "SPX": (24776, date(1927, 12, 30), date(2026, 8, 20)),
    "DIA": (7139, date(1998, 1, 20), date(2026, 6, 5)),
    "BTC-USD": (4280, date(2014, 9, 17), date(2026, 6, 5)),
    "ETH-USD": (3131, date(2017, 11, 9), date(2026, 6, 5)),
    "SLV": (5058, date(2006, 4, 28), date(2026, 6, 5)),
    "XAGUSD": (16529, date(1792, 3, 1), date(2026, 1, 20)),
    "XAUUSD_LBMA_PM": (14666, date(1968, 4, 1), date(2026, 8, 20)),
    "MOVE": (5879, date(2002, 11, 12), date(2026, 8, 21)),
    "USDJPY": (14176, date(1971, 1, 4), date(2026, 8, 22)),
}


@pytest.mark.integration
def test_replay_real_snapshot():
    if not (SNAPSHOT / "markets").is_dir():
        pytest.skip(f"real snapshot not found at {SNAPSHOT.resolve()} (../shared/snapshot)")
    batch = fetch(SNAPSHOT / "markets", *SNAPSHOT_COUNTS)
    assert batch.absent == []
    frame = batch.frame
    for series_id, (rows, first, last) in SNAPSHOT_COUNTS.items():
        bars = frame[frame["series_id"] == series_id]
        assert (len(bars), bars["date"].min(), bars["date"].max()) == (rows, first, last)
        assert bars["close"].notna().all(), series_id
    # Sanity figures from the snapshot README: MOVE 61.35 -> 68.57 on 2026-02-12.
    move = frame[frame["series_id"] == "MOVE"].set_index("date")["close"]
    assert (move[date(2026, 2, 11)], move[date(2026, 2, 12)]) == (61.35, 68.57)
