"""Market, correlation, margin and valuation marts on the real snapshot, end to end.

Loads a fresh warehouse from ../shared/snapshot through the project's own Dagster ingestion
(replay mode), runs `dbt build` for the market/valuation marts and everything upstream of them
(models, data tests, unit tests), then checks the snapshot README's sanity figures and values
recomputed by hand from the snapshot CSVs (numpy / pandas, independent of the SQL).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.support.snapshot import SNAPSHOT_DIR

MARTS = [
    "fct_asset_returns_daily",
    "fct_cross_asset_correlation_daily",
    "fct_cross_asset_regime_daily",
    "fct_margin_events",
    "fct_margin_event_summary",
    "fct_valuation_monthly",
]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def market_warehouse(snapshot_build) -> Path:
    """The session's snapshot warehouse after the full `dbt build` (these marts included)."""
    warehouse, _ = snapshot_build
    return warehouse / "crosswind.duckdb"


@pytest.fixture(scope="module")
def con(market_warehouse):
    connection = duckdb.connect(str(market_warehouse), read_only=True)
    yield connection
    connection.close()


def _snapshot_close(symbol: str, folder: str = "markets") -> pd.Series:
    frame = pd.read_csv(SNAPSHOT_DIR / folder / f"{symbol}.csv", na_values=["."])
    frame.columns = [c.lower() for c in frame.columns]
    date_col = "date" if "date" in frame.columns else frame.columns[0]
    value_col = "close" if "close" in frame.columns else frame.columns[1]
    series = frame.set_index(pd.to_datetime(frame[date_col]))[value_col].astype(float).dropna()
    return series.sort_index()


def _on_equity_calendar(series: pd.Series, calendar: pd.DatetimeIndex) -> pd.Series:
    """As-of sampling (latest value on or before each equity trading day)."""
    return series.reindex(series.index.union(calendar)).ffill().reindex(calendar)


def test_sanity_figures_2026_02_12(con):
    rows = dict(
        con.execute(
            "SELECT asset, return_1d FROM marts.fct_asset_returns_daily WHERE date = '2026-02-12'"
        ).fetchall()
    )
    assert round(rows["sp500"] * 100, 2) == -1.57
    assert round(rows["nasdaq"] * 100, 2) == -2.03
    assert round(rows["dow"] * 100, 2) == -1.33
    assert round(rows["wti"] * 100, 2) == -2.65
    assert round(rows["silver"] * 100, 1) == -11.5
    # The Dow is its DIA proxy and silver is SLV after the spot file ends on 2026-01-20.
    series = dict(
        con.execute(
            "SELECT asset, series_id FROM marts.fct_asset_returns_daily WHERE date = '2026-02-12'"
        ).fetchall()
    )
    assert series["dow"] == "DIA" and series["silver"] == "SLV"
    move = con.execute(
        "SELECT observation_date, close FROM staging.stg_markets__daily_bars "
        "WHERE series_id = 'MOVE' AND observation_date IN ('2026-02-11', '2026-02-12') ORDER BY 1"
    ).fetchall()
    assert [round(v, 2) for _, v in move] == [61.35, 68.57]


def test_one_series_per_asset_and_day_and_staleness(con):
    # Silver: spot through 2026-01-20, SLV from the next trading day; never both.
    silver = con.execute(
        "SELECT date, series_id, is_proxy FROM marts.fct_asset_returns_daily "
        "WHERE asset = 'silver' AND date BETWEEN '2026-01-16' AND '2026-01-22' ORDER BY date"
    ).fetchall()
    assert [(str(d), s) for d, s, _ in silver] == [
        ("2026-01-16", "XAGUSD"),
        ("2026-01-20", "XAGUSD"),
        ("2026-01-21", "SLV"),
        ("2026-01-22", "SLV"),
    ]
    # DIA ends 2026-06-05: carried 7 days (catalog), then NULL and flagged; no row after SPX ends.
    dia = con.execute(
        "SELECT min(date) FILTER (WHERE is_stale), max(date) FILTER (WHERE close IS NOT NULL), "
        "count(*) FILTER (WHERE is_stale AND close IS NOT NULL), max(date) "
        "FROM marts.fct_asset_returns_daily WHERE asset = 'dow'"
    ).fetchone()
    assert str(dia[0]) == "2026-06-15" and str(dia[1]) == "2026-06-12" and dia[2] == 0
    assert str(dia[3]) == "2026-08-20"  # SPX's last close
    last = {
        t: con.execute(f"SELECT max(date) FROM marts.{t}").fetchone()[0]
        for t in (
            "fct_asset_returns_daily",
            "fct_cross_asset_correlation_daily",
            "fct_cross_asset_regime_daily",
        )
    }
    assert all(str(d) <= "2026-08-20" for d in last.values()), last


@pytest.mark.parametrize("other", ["gold", "btc"])
def test_20_day_correlation_matches_numpy(con, other):
    spx = _snapshot_close("SPX")
    calendar = spx.index
    symbol = {"gold": "XAUUSD_LBMA_PM", "btc": "BTC-USD"}[other]
    other_close = _on_equity_calendar(_snapshot_close(symbol), calendar)
    end = pd.Timestamp("2026-02-12")
    window = calendar[calendar <= end][-21:]  # 21 closes -> 20 returns ending on the date
    r_spx = spx.reindex(window).pct_change().dropna().to_numpy()
    r_other = other_close.reindex(window).pct_change().dropna().to_numpy()
    assert len(r_spx) == len(r_other) == 20
    expected = np.corrcoef(r_spx, r_other)[0, 1]
    a, b = sorted([other, "sp500"])
    got = con.execute(
        "SELECT correlation, n_observations FROM marts.fct_cross_asset_correlation_daily "
        "WHERE date = '2026-02-12' AND asset_a = ? AND asset_b = ? AND window_days = 20",
        [a, b],
    ).fetchone()
    assert got is not None and got[1] == 20
    assert got[0] == pytest.approx(expected, abs=1e-9)


def test_correlations_in_range_and_regime_on_2026_02_12(con):
    lo, hi, n = con.execute(
        "SELECT min(correlation), max(correlation), count(*) "
        "FROM marts.fct_cross_asset_correlation_daily"
    ).fetchone()
    assert -1 <= lo and hi <= 1 and n > 100_000
    row = con.execute(
        "SELECT share_assets_down, is_synchronized_selloff, is_hedge_failure, n_assets_tracked "
        "FROM marts.fct_cross_asset_regime_daily WHERE date = '2026-02-12'"
    ).fetchone()
    # S&P, gold, silver (SLV), WTI, BTC down; ETH up -> 5 of 6.
    assert row[3] == 6 and row[0] == pytest.approx(5 / 6)
    assert row[1] is True
    # Gold down and the yen weaker (USD/JPY up), Treasuries rallied: 2 of 3 havens lost.
    assert row[2] is True
