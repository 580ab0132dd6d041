"""Margin-event and valuation marts on the real snapshot, against values computed from the files.

Every expected value here is recomputed with pandas from the snapshot CSVs / workbook (never read
back from the SQL): the margin regimes, kinds and base prices of fct_margin_events, the per-regime
summary, the earnings publication lag of fct_valuation_monthly and the dashboard's P/E.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xlrd

from tests.support.snapshot import SNAPSHOT_DIR

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PCT_SINCE = pd.Timestamp("2026-01-13")  # CME metals margins as a % of notional from this day
POLICY_MIN = 0.10  # var margin_policy_min_rate_change


def _close(symbol: str) -> pd.Series:
    frame = pd.read_csv(SNAPSHOT_DIR / "markets" / f"{symbol}.csv")
    frame.columns = [c.lower() for c in frame.columns]
    return frame.set_index(pd.to_datetime(frame["date"]))["close"].astype(float).dropna()


def _trading_days() -> pd.DatetimeIndex:
    return _close("SPX").index


def _observed(series: pd.Series) -> pd.Series:
    """The series on the shared (equity) trading days it was struck on."""
    return series[series.index.isin(_trading_days())]


def _margins(product: str) -> pd.DataFrame:
    frame = pd.read_csv(SNAPSHOT_DIR / "cme" / "margin_history.csv", parse_dates=["effective_date"])
    return frame[frame["product"] == product].sort_values("effective_date").reset_index(drop=True)


def _silver_index() -> pd.Series:
    """Silver chained like the composite: XAGUSD spot to its last day, SLV's own returns after."""
    days = _trading_days()
    spot, slv = _close("XAGUSD"), _close("SLV")
    switch = spot.index.max()
    spot_on = spot.reindex(spot.index.union(days)).ffill().reindex(days)
    slv_on = slv.reindex(slv.index.union(days)).ffill().reindex(days)
    returns = pd.Series(
        np.where(days <= switch, spot_on.pct_change(), slv_on.pct_change()), index=days
    )
    index = (1 + returns.fillna(0)).cumprod()
    struck = (days.isin(spot.index) & (days <= switch)) | (days.isin(slv.index) & (days > switch))
    return index[struck]


def _kinds(margins: pd.DataFrame, price: pd.Series) -> list[str | None]:
    """The documented rule, recomputed: price = last price struck on or before each date."""
    kinds: list[str | None] = [None]
    for prev, row in zip(margins.itertuples(), margins.iloc[1:].itertuples(), strict=False):
        if row.effective_date < PCT_SINCE:
            kinds.append("policy")
        elif prev.effective_date < PCT_SINCE:
            kinds.append("policy")  # the switch
        else:
            moved = price[: row.effective_date].iloc[-1] / price[: prev.effective_date].iloc[-1]
            rate = math.log(row.maintenance_margin / prev.maintenance_margin) - math.log(moved)
            kinds.append("policy" if abs(rate) >= POLICY_MIN else "mechanical")
    return kinds


def _texts(values) -> list[str | None]:
    return [v if isinstance(v, str) else None for v in values]


def test_margin_changes_split_by_regime_and_kind(snapshot_con):
    gold = _observed(_close("XAUUSD_LBMA_PM"))
    for product, price in (("GC", gold), ("SI", _silver_index())):
        margins = _margins(product)
        expected = pd.DataFrame(
            {
                "effective_date": margins["effective_date"],
                "regime": np.where(
                    margins["effective_date"] >= PCT_SINCE, "pct_of_notional", "fixed_usd"
                ),
                "kind": _kinds(margins, price),
            }
        )
        got = snapshot_con.execute(
            "SELECT effective_date, margin_regime, change_kind FROM marts.fct_margin_events "
            "WHERE product = ? ORDER BY effective_date",
            [product],
        ).fetchdf()
        assert list(pd.to_datetime(got["effective_date"])) == list(expected["effective_date"])
        assert list(got["margin_regime"]) == list(expected["regime"]), product
        assert _texts(got["change_kind"]) == _texts(expected["kind"]), product
        # The count: 116 of the rows are in the daily-reset regime ...
        assert (expected["regime"] == "pct_of_notional").sum() == 116
    counts = dict(
        snapshot_con.execute(
            "SELECT product || '/' || change_kind, count(*) FROM marts.fct_margin_events "
            "WHERE margin_regime = 'pct_of_notional' GROUP BY 1"
        ).fetchall()
    )
    # ... of which CME changed the percentage itself 7 times per metal (the switch included).
    assert counts == {"GC/mechanical": 109, "GC/policy": 7, "SI/mechanical": 109, "SI/policy": 7}


def test_gold_hike_of_2026_02_02_is_based_on_the_next_fix(snapshot_con):
    gold = _close("XAUUSD_LBMA_PM")
    days = _trading_days()
    on_days = gold.reindex(gold.index.union(days)).ffill().reindex(days)
    row = snapshot_con.execute(
        "SELECT previous_margin, new_margin, pct_change, margin_regime, change_kind, "
        "implied_rate_log_change, base_date, base_close, fwd_return_5d "
        "FROM marts.fct_margin_events WHERE product = 'GC' AND effective_date = '2026-02-02'"
    ).fetchone()
    assert row[:2] == (28284.0, 36980.0) and row[2] == pytest.approx(30.7453, abs=1e-3)
    assert row[3:5] == ("pct_of_notional", "policy")
    # Gold fell 7.8 % from the Jan 30 fix to the Feb 2 fix while the margin rose 30.7 %.
    moved = gold[pd.Timestamp("2026-02-02")] / gold[pd.Timestamp("2026-01-30")]
    assert row[5] == pytest.approx(math.log(36980 / 28284) - math.log(moved), rel=1e-9)
    # The Feb 2 fix (10:00 New York) predates the settlement that set the margin: base = Feb 3.
    assert str(row[6]) == "2026-02-03" and row[7] == gold[pd.Timestamp("2026-02-03")]
    base = days.get_loc(pd.Timestamp("2026-02-03"))
    assert row[8] == pytest.approx(on_days.iloc[base + 5] / on_days.iloc[base] - 1, rel=1e-9)


def test_silver_base_crosses_the_spot_to_slv_switch(snapshot_con):
    # SI 2026-01-16 (Friday); Monday 01-19 is a market holiday, so the base is Tuesday 01-20,
    # the spot file's last day; the next five days are SLV's own returns.
    slv = _close("SLV")
    days = _trading_days()
    slv_on = slv.reindex(slv.index.union(days)).ffill().reindex(days)
    base = days.get_loc(pd.Timestamp("2026-01-20"))
    row = snapshot_con.execute(
        "SELECT base_date, price_series_id, fwd_return_5d FROM marts.fct_margin_events "
        "WHERE product = 'SI' AND effective_date = '2026-01-16'"
    ).fetchone()
    assert (str(row[0]), row[1]) == ("2026-01-20", "XAGUSD")
    assert row[2] == pytest.approx(slv_on.iloc[base + 5] / slv_on.iloc[base] - 1, rel=1e-9)


def test_summary_compares_like_with_like(snapshot_con):
    gold = _close("XAUUSD_LBMA_PM")
    days = _trading_days()
    on_days = gold.reindex(gold.index.union(days)).ffill().reindex(days)
    fwd20 = (on_days.shift(-20) / on_days - 1)[days.isin(gold.index)].dropna()
    summary = {
        (regime, kind, group): (n, avg)
        for regime, kind, group, n, avg in snapshot_con.execute(
            "SELECT margin_regime, change_kind, event_group, n_with_fwd_return_20d, "
            "avg_fwd_return_20d FROM marts.fct_margin_event_summary WHERE product = 'GC'"
        ).fetchall()
    }
    # Baseline of the daily-reset regime: every day after the switch with a gold fix.
    regime_days = fwd20[fwd20.index > PCT_SINCE]
    n, avg = summary[("pct_of_notional", "any", "all_days")]
    assert n == len(regime_days) and avg == pytest.approx(regime_days.mean(), rel=1e-9)
    # Fixed-USD policy hikes, each based on the first fix after its effective date.
    margins = _margins("GC")
    hikes = margins[
        (margins["effective_date"] < PCT_SINCE)
        & (margins["maintenance_margin"] > margins["prev_maintenance_margin"])
    ]
    bases = [fwd20.index[fwd20.index > e][0] for e in hikes["effective_date"]]
    n, avg = summary[("fixed_usd", "policy", "hike")]
    assert n == len(bases) == 30 and avg == pytest.approx(fwd20[bases].mean(), rel=1e-9)
    # No group pools the two regimes.
    assert {k[0] for k in summary} == {"fixed_usd", "pct_of_notional"}
    assert ("fixed_usd", "mechanical", "hike") not in summary


# --- valuation --------------------------------------------------------------------------------

PRICE_LAG = pd.Timedelta(days=31)  # SHILLER_PRICE: the month's average is known a day after
EARNINGS_LAG = pd.Timedelta(days=60)  # SHILLER_EARNINGS: counted from the quarter's end
EARNINGS_STALE_DAYS = 200


def _workbook() -> pd.DataFrame:
    """Month -> price P and earnings E, read straight from the workbook's Data sheet."""
    sheet = xlrd.open_workbook(SNAPSHOT_DIR / "shiller" / "ie_data.xls").sheet_by_name("Data")
    rows = []
    for r in range(8, sheet.nrows):
        stamp = sheet.cell_value(r, 0)
        if not isinstance(stamp, float):
            break
        year = int(stamp)
        month = round((stamp - year) * 100)
        price, earnings = sheet.cell_value(r, 1), sheet.cell_value(r, 3)
        rows.append(
            {
                "month": pd.Timestamp(year, month, 1),
                "price": price if isinstance(price, float) else np.nan,
                "earnings": earnings if isinstance(earnings, float) else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("month")


def test_trailing_pe_uses_the_earnings_published_by_then(snapshot_con):
    book = _workbook()
    earnings = book["earnings"].dropna()
    published = pd.Series(
        [(m + pd.offsets.QuarterEnd(0)) + EARNINGS_LAG for m in earnings.index], earnings.index
    )
    expected = {}
    for month, price in book["price"].dropna().items():
        known = published[published <= month + PRICE_LAG]
        if known.empty:
            continue
        used = known.index.max()
        if (month - used).days <= EARNINGS_STALE_DAYS:
            expected[month] = (used, price / earnings[used])
    got = snapshot_con.execute(
        "SELECT month, earnings_month, trailing_pe FROM marts.fct_valuation_monthly "
        "WHERE trailing_pe IS NOT NULL ORDER BY month"
    ).fetchdf()
    assert len(got) == len(expected) > 1800
    for month, used, pe in got.itertuples(index=False):
        want_used, want_pe = expected[pd.Timestamp(month)]
        assert pd.Timestamp(used) == want_used, month
        assert pe == pytest.approx(want_pe, rel=1e-12), month
    # The case: on 2026-03-04 February's price over December's earnings, 27.24, not
    # 25.62 (February's own earnings, interpolated towards a Q1 report due in May).
    feb = expected[pd.Timestamp("2026-02-01")]
    assert feb[0] == pd.Timestamp("2025-12-01") and round(feb[1], 2) == 27.24
    assert round(book.loc["2026-02-01", "price"] / book.loc["2026-02-01", "earnings"], 2) == 25.62
    shown = dict(
        snapshot_con.execute(
            "SELECT date::VARCHAR, trailing_pe FROM marts.mart_market_dashboard_daily "
            "WHERE date IN ('2026-03-03', '2026-03-04')"
        ).fetchall()
    )
    assert shown["2026-03-04"] == pytest.approx(feb[1], rel=1e-12)
    assert shown["2026-03-03"] == pytest.approx(expected[pd.Timestamp("2026-01-01")][1])


def test_robust_pe_z_score_is_not_dragged_by_2009(snapshot_con):
    frame = snapshot_con.execute(
        "SELECT month, trailing_pe, trailing_pe_z_30y, trailing_pe_median_30y, "
        "trailing_pe_robust_z_30y FROM marts.fct_valuation_monthly ORDER BY month"
    ).fetchdf()
    pe = frame.set_index(pd.to_datetime(frame["month"]))["trailing_pe"]
    month = pd.Timestamp("2026-02-01")
    window = pe[month - pd.DateOffset(months=359) : month].dropna()
    assert len(window) == 360 and window.max() > 120  # 2009's collapse of earnings is in it
    median = window.median()
    mad = (window - median).abs().median()
    row = frame[pd.to_datetime(frame["month"]) == month].iloc[0]
    assert row["trailing_pe_median_30y"] == pytest.approx(median, rel=1e-12)
    assert row["trailing_pe_robust_z_30y"] == pytest.approx(
        (pe[month] - median) / (1.4826 * mad), rel=1e-9
    )
    z = (pe[month] - window.mean()) / window.std()
    assert row["trailing_pe_z_30y"] == pytest.approx(z, rel=1e-9)
    assert abs(z) < 0.1 < 0.5 < row["trailing_pe_robust_z_30y"]


def test_valuation_history_cape_and_buffett_without_a_dollar_market_cap(snapshot_con):
    rows = {
        str(m): r
        for m, *r in snapshot_con.execute(
            "SELECT month, cape, cape_z_30y, cape_pctile_30y, buffett_indicator_pct, "
            "buffett_numerator_series_id, buffett_null_reason "
            "FROM marts.fct_valuation_monthly WHERE month IN ('2000-01-01', '2026-01-01')"
        ).fetchall()
    }
    cape, z, pctile, buffett, numerator, reason = rows["2000-01-01"]
    assert cape > 40 and z > 2.5 and pctile > 99  # the dot-com peak
    # The snapshot has the Wilshire 5000 (index points) but no Z.1 NCBEILQ027S: no dollar
    # numerator, so no Buffett indicator, and the mart says why.
    assert (buffett, numerator, reason) == (None, None, "no_market_cap_series_loaded")
    loaded = snapshot_con.execute(
        "SELECT count(*) FROM staging.stg_fred__observations WHERE series_id = 'WILL5000PR'"
    ).fetchone()[0]
    assert loaded > 1000
    assert snapshot_con.execute(
        "SELECT count(*) FROM marts.fct_valuation_monthly WHERE buffett_indicator_pct IS NOT NULL"
    ).fetchone() == (0,)
    first, last = snapshot_con.execute(
        "SELECT min(month), max(month) FROM marts.fct_valuation_monthly"
    ).fetchone()
    assert (str(first), str(last)) == ("1871-01-01", "2026-05-01")
