"""Market bars: the CSV-folder provider, the yfinance provider (faked), the Source wrapper."""

from __future__ import annotations

import math
import sys
import types
from datetime import date
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import SourceError, SourceFormatError
from orchestration.lib.settings import load_settings
from orchestration.sources import markets
from orchestration.sources.base import BAR_COLUMNS

SNAPSHOT = Path(__file__).resolve().parents[2] / ".." / "shared" / "snapshot"


def series(*ids: str):
    catalog = load_catalog()
    return [catalog.series[i] for i in ids]


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
        load_settings({"CROSSWIND_SOURCE": "live"}), env={"CROSSWIND_MARKETS_DIR": str(folder)}
    )
    assert isinstance(source.provider, markets.CsvFolderProvider)
    assert source.fetch(series("MOVE")).mode == "live"
    with pytest.raises(SourceError, match="not a folder"):
        markets.make_source(
            load_settings({"CROSSWIND_SOURCE": "live"}),
            env={"CROSSWIND_MARKETS_DIR": str(tmp_path / "nope")},
        )


def test_live_mode_defaults_to_yfinance():
    source = markets.make_source(load_settings({"CROSSWIND_SOURCE": "live"}), env={})
    assert isinstance(source.provider, markets.YFinanceProvider)


def test_yfinance_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "yfinance", None)  # import now raises ImportError
    with pytest.raises(SourceError, match=r"crosswind\[online\]") as err:
        markets.YFinanceProvider().bars(series("SPX")[0])
    assert (err.value.source, err.value.series) == ("markets", "SPX")


class FakeTicker:
    calls: ClassVar[list[tuple[str, dict]]] = []

    def __init__(self, symbol: str):
        self.symbol = symbol

    def history(self, **kwargs):
        FakeTicker.calls.append((self.symbol, kwargs))
        if self.symbol == "BROKEN":
            raise RuntimeError("Too Many Requests. Rate limited.")
        index = pd.DatetimeIndex(["2026-02-11", "2026-02-12"]).tz_localize("America/New_York")
        return pd.DataFrame(
            {"Open": [6900.0, 6850.0], "High": [6910.0, 6860.0], "Low": [6840.0, 6740.0],
             "Close": [6850.0, 6742.5], "Volume": [0, 0]},
            index=index,
        )  # fmt: skip


@pytest.fixture
def fake_yfinance(monkeypatch):
    FakeTicker.calls = []
    module = types.ModuleType("yfinance")
    module.Ticker = FakeTicker
    monkeypatch.setitem(sys.modules, "yfinance", module)
    return FakeTicker


def test_yfinance_maps_symbols_through_the_catalog(fake_yfinance):
    sleeps = []
    provider = markets.YFinanceProvider(min_interval=5.0, sleep=sleeps.append)
    batch = markets.MarketsSource(provider, "live").fetch(series("SPX", "MOVE"), date(2026, 2, 1))
    assert [c[0] for c in fake_yfinance.calls] == ["^GSPC", "^MOVE"]
    assert fake_yfinance.calls[0][1]["start"] == "2026-02-01"
    assert len(sleeps) == 1  # paced between the two requests
    spx = batch.frame[batch.frame["series_id"] == "SPX"]
    assert list(spx["date"]) == [date(2026, 2, 11), date(2026, 2, 12)]
    assert list(spx["close"]) == [6850.0, 6742.5]
    assert list(batch.frame.columns) == BAR_COLUMNS


def test_yfinance_failures_become_source_errors(fake_yfinance):
    broken = series("SPX")[0].model_copy(update={"live": "BROKEN"})
    with pytest.raises(SourceError, match=r"BROKEN.*Rate limited") as err:
        markets.YFinanceProvider(min_interval=0).bars(broken)
    assert err.value.series == "SPX"


def test_record_writes_the_replay_layout(tmp_path):
    folder = folder_with(tmp_path, MOVE="date,close\n2026-02-11,61.35\n2026-02-12,68.57\n")
    source = markets.MarketsSource(markets.CsvFolderProvider(folder), "live")
    dest = tmp_path / "recorded"
    assert source.record(series("MOVE", "SPX"), dest) == [dest / "markets" / "MOVE.csv"]
    again = markets.MarketsSource(markets.CsvFolderProvider(dest / "markets"), "replay")
    assert again.fetch(series("MOVE")).frame.equals(source.fetch(series("MOVE")).frame)


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
