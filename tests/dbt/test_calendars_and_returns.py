"""Issue 10 items 1, 2 and 5 on the real snapshot: publisher holidays, no return from a carried
close, the equity-bond price correlation.

Reuses the session's snapshot warehouse (tests/conftest.py: one ingestion, one `dbt build`).
Every expected value is recomputed here from the snapshot CSV files with pandas / numpy and the
`holidays` package (never from the SQL); each test says how.
"""

from __future__ import annotations

import holidays
import numpy as np
import pandas as pd
import pytest

from tests.support.snapshot import SNAPSHOT_DIR

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _csv(relative: str) -> pd.Series:
    """Date-indexed values of a snapshot file (FRED layout or `date,...,close` bars)."""
    frame = pd.read_csv(SNAPSHOT_DIR / relative, na_values=["."])
    value = "close" if "close" in frame.columns else frame.columns[1]
    series = frame.set_index(pd.to_datetime(frame[frame.columns[0]]))[value].astype(float)
    return series.dropna().sort_index()


def _row(snapshot_con, sql: str, *params):
    row = snapshot_con.execute(sql, list(params)).fetchone()
    assert row is not None, sql
    return row


# --- item 1: holidays -----------------------------------------------------------------------------


def test_walcl_of_thanksgiving_week_is_public_on_friday(snapshot_con):
    # WALCL.csv: Wed 2025-11-26 (H.4.1 published Thursday, here Thanksgiving -> Friday 11-28).
    # On Thu 11-27 the latest public value is still Wed 2025-11-19's (age 8 days).
    walcl = _csv("fred/WALCL.csv") / 1000  # USD millions -> bn
    rows = snapshot_con.execute(
        "select date, fed_total_assets_bn, fed_total_assets_obs_date "
        "from marts.fct_net_liquidity_daily where date in ('2025-11-27', '2025-11-28') "
        "order by date"
    ).fetchall()
    assert [str(r[2]) for r in rows] == ["2025-11-19", "2025-11-26"]
    assert rows[0][1] == pytest.approx(walcl["2025-11-19"], abs=1e-9)
    assert rows[1][1] == pytest.approx(walcl["2025-11-26"], abs=1e-9)
    # and no week of the weekly mart becomes available on a federal holiday
    federal = holidays.US(years=range(2002, 2027), categories=(holidays.PUBLIC,))
    weekly = snapshot_con.execute(
        "select available_date from marts.fct_net_liquidity_weekly"
    ).fetchall()
    available = [d for (d,) in weekly]
    assert available and not [d for d in available if d in federal]
    assert (
        str(
            _row(
                snapshot_con,
                "select available_date from marts.fct_net_liquidity_weekly "
                "where week_date = '2025-12-31'",
            )[0]
        )
        == "2026-01-02"
    )  # WALCL of Wed 12-31 out on Fri 01-02 (Thu 01-01 New Year's Day)


def test_treasury_statement_of_july_3rd_is_used_from_july_7th(snapshot_con):
    # tga_daily.csv: Thu 2025-07-03 published Mon 2025-07-07 (Fri 07-04 Independence Day), so
    # 07-04..07-06 still show Wed 07-02's balance (published Thu 07-03).
    tga = _csv("treasury/tga_daily.csv") / 1000
    rows = snapshot_con.execute(
        "select date, tga_bn, tga_age_days from marts.fct_net_liquidity_daily "
        "where date between '2025-07-04' and '2025-07-07' order by date"
    ).fetchall()
    assert [r[1] for r in rows[:3]] == pytest.approx([tga["2025-07-02"]] * 3, abs=1e-9)
    assert [r[2] for r in rows] == [2, 3, 4, 4]
    assert rows[3][1] == pytest.approx(tga["2025-07-03"], abs=1e-9)


def test_good_friday_2024_quarter_end_is_flagged(snapshot_con):
    # SOFR.csv has no 2024-03-29 (Good Friday: SIFMA full close): Thu 03-28 (5.34) is the last
    # SOFR of Q1 2024, published Mon 04-01 (the next bond-market business day) -> flagged there.
    sofr = _csv("fred/SOFR.csv")
    assert pd.Timestamp("2024-03-29") not in sofr.index
    rows = snapshot_con.execute(
        "select date, sofr_pct, sofr_obs_date, is_quarter_end from marts.fct_funding_stress_daily "
        "where date in ('2024-03-29', '2024-04-01') order by date"
    ).fetchall()
    assert [(str(r[2]), r[3]) for r in rows] == [("2024-03-27", False), ("2024-03-28", True)]
    assert rows[1][1] == pytest.approx(sofr["2024-03-28"])


def test_trading_calendar_is_nyse(snapshot_con):
    # Every NYSE business day from SPX's first to its last close (XNYS closures from the
    # package), so the day-of-mourning closures have no row; since 2000 that equals SPX's dates.
    spx = _csv("markets/SPX.csv")
    nyse = holidays.financial_holidays("XNYS", years=range(2000, 2027))
    days = pd.bdate_range("2000-01-01", spx.index.max())
    expected = [d.date() for d in days if d.date() not in nyse]
    got = [
        d
        for (d,) in snapshot_con.execute(
            "select distinct date from marts.fct_asset_returns_daily "
            "where date >= '2000-01-01' order by date"
        ).fetchall()
    ]
    assert got == expected
    assert got == [d.date() for d in spx.index if d.year >= 2000]


# --- item 2: no return from a carried close -------------------------------------------------------


def test_series_that_end_make_no_returns(snapshot_con):
    # BTC, ETH, DIA and SLV end on Fri 2026-06-05: 06-08..06-12 carry the 06-05 close (within the
    # 7-day staleness limit) with no return; no carried close anywhere has a return.
    for symbol in ("BTC-USD", "ETH-USD", "DIA", "SLV"):
        assert str(_csv(f"markets/{symbol}.csv").index.max().date()) == "2026-06-05"
    rows = snapshot_con.execute(
        "select asset, count(*), count(return_1d), count(close) from marts.fct_asset_returns_daily "
        "where date between '2026-06-08' and '2026-06-12' "
        "and asset in ('btc', 'eth', 'dow', 'silver') group by asset order by asset"
    ).fetchall()
    assert rows == [(a, 5, 0, 5) for a in ("btc", "dow", "eth", "silver")]
    assert _row(
        snapshot_con,
        "select count(*) from marts.fct_asset_returns_daily "
        "where is_carried and return_1d is not null",
    ) == (0,)


def test_gold_on_uk_holidays_has_no_return(snapshot_con):
    # NYSE days after the fix starts with no LBMA PM fix dated that day are carried: their count
    # from the files must equal the mart's carried gold rows, none with a return.
    gold = _csv("markets/XAUUSD_LBMA_PM.csv")
    days = pd.DatetimeIndex(
        [
            d
            for (d,) in snapshot_con.execute(
                "select date from marts.fct_asset_returns_daily where asset = 'sp500'"
            ).fetchall()
        ]
    )
    expected = int(((days >= gold.index.min()) & ~days.isin(gold.index)).sum())
    carried, with_return = _row(
        snapshot_con,
        "select count(*), count(return_1d) from marts.fct_asset_returns_daily "
        "where asset = 'gold' and is_carried",
    )
    assert carried == expected > 300 and with_return == 0


def test_btc_dow_correlation_uses_real_returns_only(snapshot_con):
    # Both end 2026-06-05: the last 20-day window with 15 real pairs ends 5 trading days later
    # (2026-06-12: 15 real + 5 carried days), not 2026-06-22 as with fake zeros. Its value is the
    # Pearson correlation of the 15 returns to 06-05 computed from the files.
    last = _row(
        snapshot_con,
        "select max(date) from marts.fct_cross_asset_correlation_daily "
        "where asset_a = 'btc' and asset_b = 'dow' and window_days = 20",
    )[0]
    assert str(last) == "2026-06-12"
    spx = _csv("markets/SPX.csv")
    days = spx.index[spx.index <= "2026-06-05"][-16:]  # 16 closes -> 15 returns
    btc = _csv("markets/BTC-USD.csv").reindex(days).pct_change().dropna()
    dia = _csv("markets/DIA.csv").reindex(days).pct_change().dropna()
    expected = np.corrcoef(btc.to_numpy(), dia.to_numpy())[0, 1]
    got = _row(
        snapshot_con,
        "select correlation, n_observations from marts.fct_cross_asset_correlation_daily "
        "where asset_a = 'btc' and asset_b = 'dow' and window_days = 20 and date = '2026-06-12'",
    )
    assert got[1] == 15 and got[0] == pytest.approx(expected, abs=1e-9)


def test_selloff_flag_needs_enough_real_returns(snapshot_con):
    # 2026-06-10: S&P 500 -1.62 % (SPX.csv); silver (SLV), BTC and ETH have no real return that
    # day, so only sp500, gold and WTI of the basket are tracked (3 < 4): the flag cannot be
    # judged (NULL) instead of "false" computed on three fake zeros.
    spx = _csv("markets/SPX.csv")
    assert round((spx["2026-06-10"] / spx["2026-06-09"] - 1) * 100, 2) == -1.62
    row = _row(
        snapshot_con,
        "select equity_return_1d, n_assets_tracked, is_synchronized_selloff "
        "from marts.fct_cross_asset_regime_daily where date = '2026-06-10'",
    )
    assert row[1] == 3 and row[2] is None


# --- item 5: the equity-bond column says what it is -----------------------------------------------


def test_equity_bond_price_correlation_march_2020(snapshot_con):
    # 20 trading days to 2020-03-31: corr(S&P return, -(10-year yield change)) from SPX.csv and
    # DGS10.csv. Negative = Treasuries rallied while stocks fell (bonds hedged); the old column
    # (against the yield change) has the opposite sign.
    spx = _csv("markets/SPX.csv")
    dgs10 = _csv("fred/DGS10.csv")
    days = spx.index[spx.index <= "2020-03-31"][-21:]
    equity = spx.reindex(days).pct_change().dropna()
    bond_price_move = -dgs10.reindex(days).diff().dropna()
    expected = np.corrcoef(equity.to_numpy(), bond_price_move.to_numpy())[0, 1]
    price, yield_based = _row(
        snapshot_con,
        "select equity_bond_price_correlation_20d, equity_bond_correlation_20d "
        "from marts.fct_cross_asset_regime_daily where date = '2020-03-31'",
    )
    assert price == pytest.approx(expected, abs=1e-9) and price < 0
    assert yield_based == pytest.approx(-price, abs=1e-12)
