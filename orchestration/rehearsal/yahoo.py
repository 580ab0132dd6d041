"""Fake Yahoo Finance chart API: `GET /v8/finance/chart/{symbol}?period1=..&period2=..&interval=1d`.

A recorded `yahoo/chart/SYMBOL.json` is served as recorded. Otherwise the snapshot's daily bars
(`markets/<SERIES>.csv`, the catalog's `live` field naming the Yahoo symbol) are re-served in
the shape of a genuine reply (../shared/wire/yahoo/chart/^SP500TR.json): `chart.result[0]` with
`meta`, `timestamp` (Unix seconds) and `indicators.quote[0]` open/high/low/close/volume plus
`indicators.adjclose[0]`; `null` where the snapshot has no value. Each bar is stamped the way
Yahoo stamps that kind of instrument: the New York open (09:30) for indices and funds, midnight
New York for futures, midnight London for currencies, midnight UTC for crypto. Bars are kept
when `period1 <= timestamp < period2`. An unknown symbol gets Yahoo's 404 document.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from orchestration.lib import clock
from orchestration.lib.catalog import Catalog
from orchestration.rehearsal.answers import GENERATED, MISSING, SNAPSHOT, Answer, Folder, recorded
from orchestration.rehearsal.layout import WireRequest
from orchestration.rehearsal.loopback import Reply, Request

VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
PRICE_FIELDS = ("open", "high", "low", "close", "volume")


def _kind(symbol: str) -> tuple[str, str, str, time]:
    """(instrumentType, exchangeName, exchange time zone, time of day each bar is stamped)."""
    if symbol.endswith("-USD"):
        return "CRYPTOCURRENCY", "CCC", "UTC", time(0, 0)
    if symbol.endswith("=X"):
        return "CURRENCY", "CCY", "Europe/London", time(0, 0)
    if symbol.endswith("=F"):
        return "FUTURE", "CMX", "America/New_York", time(0, 0)
    if symbol.startswith("^"):
        return "INDEX", "SNP", "America/New_York", time(9, 30)
    return "ETF", "PCX", "America/New_York", time(9, 30)


class YahooFake:
    def __init__(self, wire: Folder, snapshot: Folder, catalog: Catalog):
        self.wire = wire
        self.snapshot = snapshot
        self.catalog = catalog

    def answer(self, request: Request, key: WireRequest) -> Answer:
        exact = recorded(self.wire, key)
        if exact is not None:
            return exact
        symbol = key.ident
        interval = request.param("interval") or "1d"
        if interval != "1d":
            return _error("Bad Request", f"Invalid input - interval={interval} is not faked", 400)
        bars = self._bars(symbol)
        if bars is None:
            return _error("Not Found", "No data found, symbol may be delisted", 404, MISSING)
        try:
            first = int(request.param("period1") or -(2**40))
            end = int(request.param("period2") or 2**40)
        except ValueError:
            return _error("Bad Request", "Invalid input - period1/period2 must be integers", 400)
        return Answer(Reply.json(chart(symbol, bars, first, end)), SNAPSHOT)

    def _bars(self, symbol: str) -> list[dict] | None:
        names = [s.id for s in self.catalog.for_source("markets") if s.live == symbol]
        for name in [*names, symbol]:
            payload = self.snapshot.read(f"markets/{name}.csv")
            if payload is not None:
                return [
                    {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
                    for row in csv.DictReader(io.StringIO(payload.decode("utf-8-sig")))
                ]
        return None


def chart(symbol: str, bars: list[dict], first: int, end: int) -> dict:
    """A v8 chart reply for the bars stamped within [first, end)."""
    kind, exchange, zone_name, at = _kind(symbol)
    zone = ZoneInfo(zone_name)
    stamped = []
    for bar in bars:
        moment = datetime.combine(date.fromisoformat(bar["date"]), at, tzinfo=zone)
        stamp = int(moment.timestamp())
        if first <= stamp < end:
            stamped.append((stamp, moment, bar))
    quote = {f: [_number(bar.get(f), f) for _, _, bar in stamped] for f in PRICE_FIELDS}
    closes = quote["close"]
    last = stamped[-1][1] if stamped else clock.now().astimezone(zone)
    offset = int(last.utcoffset().total_seconds())
    day_start = int(datetime.combine(last.date(), time(9, 30), tzinfo=zone).timestamp())
    day_end = int(datetime.combine(last.date(), time(16, 0), tzinfo=zone).timestamp())

    def period(start: int, stop: int) -> dict:
        return {"timezone": last.tzname(), "end": stop, "start": start, "gmtoffset": offset}

    meta = {
        "currency": "JPY" if symbol.endswith("=X") else "USD",
        "symbol": symbol,
        "exchangeName": exchange,
        "instrumentType": kind,
        "firstTradeDate": stamped[0][0] if stamped else None,
        "regularMarketTime": stamped[-1][0] if stamped else None,
        "gmtoffset": offset,
        "timezone": last.tzname(),
        "exchangeTimezoneName": zone_name,
        "regularMarketPrice": closes[-1] if closes else None,
        "chartPreviousClose": closes[0] if closes else None,
        "priceHint": 2,
        "currentTradingPeriod": {
            "pre": period(day_start - 5 * 3600 - 1800, day_start),
            "regular": period(day_start, day_end),
            "post": period(day_end, day_end + 4 * 3600),
        },
        "dataGranularity": "1d",
        "range": "",
        "validRanges": VALID_RANGES,
    }
    result = {"meta": meta, "timestamp": [s for s, _, _ in stamped]}
    result["indicators"] = {"quote": [quote], "adjclose": [{"adjclose": closes}]}
    return {"chart": {"result": [result], "error": None}}


def _number(text: str | None, field: str):
    if text in (None, "", "null"):
        return None
    value = float(text)
    if not math.isfinite(value):
        return None
    return int(value) if field == "volume" else value


def _error(code: str, description: str, status: int, origin: str = GENERATED) -> Answer:
    body = {"chart": {"result": None, "error": {"code": code, "description": description}}}
    return Answer(Reply.json(body, status=status), origin)
