"""fct_selloff_drivers on the real snapshot: 2026-02-12 by hand from the files, coverage, and no
look-ahead (run on its inputs cut at a selloff day, its rows up to that day do not change).

Lags applied by hand (orchestration/catalog.yaml, business days on the publisher's calendar):
USDJPY, MOVE, IORB, RRPONTSYD 0; DGS2, SOFR, BAMLH0A0HYM2, WALCL, TGA (DTS) 1; JGB2Y 1 on the
Japanese calendar (2026-02-11 is a Japanese holiday, so R8.2.10's yield is public on 02-12).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.lib import report
from tests.support.snapshot import SNAPSHOT_DIR

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DRIVERS = [
    "carry_unwind",
    "margin_hike",
    "move_z",
    "sofr_iorb_spread",
    "net_liquidity_change_4w",
    "hy_oas_change_5d",
]


@pytest.fixture(scope="module")
def warehouse(snapshot_build) -> Path:
    return Path(snapshot_build[0]) / "crosswind.duckdb"


def _drivers(snapshot_con, day: str) -> pd.DataFrame:
    return (
        snapshot_con.execute(
            "select * from marts.fct_selloff_drivers where date = ? order by driver_order", [day]
        )
        .df()
        .set_index("driver")
    )


def test_2026_02_12_drivers_by_hand(snapshot_con):
    rows = _drivers(snapshot_con, "2026-02-12")
    assert list(rows.index) == DRIVERS
    # the day itself: S&P 500 -1.57 % (snapshot README), both flags
    assert rows["equity_return_1d"].iloc[0] == pytest.approx(-0.0157, abs=5e-5)
    assert rows["is_synchronized_selloff"].all() and rows["is_hedge_failure"].all()
    # window: the 5 trading days 02-06 (Fri), 02-09, 02-10, 02-11, 02-12
    assert (rows["window_start"] == pd.Timestamp("2026-02-06")).all()

    carry = rows.loc["carry_unwind"]
    # 02-11: USDJPY.csv 152.93 / 156.43 (02-04) - 1 = -2.237 % (<= -2 %), and US2Y-JP2Y
    # 3.45 (DGS2 02-10) - 1.313 (JGB2Y R8.2.9) = 213.7 bp vs 3.57 (DGS2 02-03) - 1.286 (R8.2.3)
    # = 228.4 bp on 02-04: -14.7 bp (<= -10): the carry-unwind flag, on 1 of the 5 days.
    # 02-12: 153.01 / 157.12 - 1 = -2.616 %, but 3.52 - 1.303 = 221.7 vs 3.57 - 1.276 = 229.4:
    # -7.7 bp, so no flag on the day itself.
    assert carry["value"] == pytest.approx((152.93 / 156.43 - 1) * 100)
    assert carry["value_date"] == pd.Timestamp("2026-02-11")
    assert carry["value_on_day"] == pytest.approx((153.01 / 157.12 - 1) * 100)
    assert carry["threshold"] == -2.0
    assert carry["is_active"] and not carry["is_active_on_day"] and carry["active_readings"] == 1
    assert carry["detail"] == "USD/JPY -2.24 % and US2Y-JP2Y -14.7 bp over 5 business days"

    margin = rows.loc["margin_hike"]
    # cme/margin_history.csv, 2026-02-06: GC 38892 -> 44561 (+14.58 %), SI 57397 -> 69062
    # (+20.32 %), CME policy changes (fct_margin_events); the other 8 changes of the window
    # (GC and SI on 02-09 .. 02-12) are mechanical resets and do not count.
    assert margin["value"] == pytest.approx((69062 / 57397 - 1) * 100)
    assert margin["value_date"] == pd.Timestamp("2026-02-06")
    assert (margin["readings"], margin["active_readings"]) == (10, 2)
    assert margin["detail"] == "2026-02-06 GC +14.6 % policy; 2026-02-06 SI +20.3 % policy"
    # on 02-12 itself: GC 45645 -> 44314 (-2.92 %), SI 75379 -> 67992 (-9.80 %), mechanical
    assert margin["value_on_day"] == pytest.approx((44314 / 45645 - 1) * 100)
    assert margin["is_active"] and not margin["is_active_on_day"]

    move = rows.loc["move_z"]
    # MOVE.csv 68.57 on 02-12 against its trailing 365 calendar days (weekends carrying
    # Friday's close), the window's highest z: far below 1.5
    series = pd.read_csv(SNAPSHOT_DIR / "markets" / "MOVE.csv", index_col=0, parse_dates=True)
    daily = series.iloc[:, 0].reindex(pd.date_range("2025-02-13", "2026-02-12")).ffill()
    assert daily.iloc[-1] == 68.57
    assert move["value"] == pytest.approx((68.57 - daily.mean()) / daily.std(), abs=1e-9)
    assert move["value"] == pytest.approx(-0.890, abs=1e-3)
    assert move["value_date"] == pd.Timestamp("2026-02-12") and not move["is_active"]

    sofr = rows.loc["sofr_iorb_spread"]
    # SOFR of the previous business day (02-05 .. 02-11: 3.65, 3.64, 3.63, 3.65, 3.65) minus
    # IORB 3.65: 0, -1, -2, 0, 0 bp; the highest is 0 (latest on 02-12), below 5 bp
    assert sofr["value"] == pytest.approx(0.0, abs=1e-9)
    assert sofr["value_date"] == pd.Timestamp("2026-02-12") and not sofr["is_active"]

    liquidity = rows.loc["net_liquidity_change_4w"]
    # lowest on 02-11: (6605.909 WALCL 02-04 - 948.634 DTS 02-10 - 1.048 RRP 02-11) - (6573.602
    # WALCL 01-07 - 780.790 DTS 01-13 - 3.223 RRP 01-14) = 5656.227 - 5789.589 = -133.362 bn,
    # not <= -150; on 02-12: 5709.005 - (6581.700 - 777.061 - 2.003) = -93.631
    assert liquidity["value"] == pytest.approx(5656.227 - 5789.589, abs=1e-6)
    assert liquidity["value_date"] == pd.Timestamp("2026-02-11")
    assert liquidity["value_on_day"] == pytest.approx(5709.005 - 5802.636, abs=1e-6)
    assert not liquidity["is_active"]

    credit = rows.loc["hy_oas_change_5d"]
    # highest on 02-06: BAMLH0A0HYM2 2.97 (02-05) - 2.77 (01-29, on 01-30) = +0.20 pp < 0.25;
    # on 02-12: 2.84 (02-11) - 2.86 (02-04) = -0.02
    assert credit["value"] == pytest.approx(0.20, abs=1e-9)
    assert credit["value_date"] == pd.Timestamp("2026-02-06")
    assert credit["value_on_day"] == pytest.approx(-0.02, abs=1e-9)
    assert not credit["is_active"]

    assert list(rows.index[rows["is_active"].astype(bool)]) == ["carry_unwind", "margin_hike"]


def test_every_flagged_day_has_its_six_drivers(snapshot_con):
    flagged = {
        d
        for (d,) in snapshot_con.execute(
            "select date from marts.fct_cross_asset_regime_daily "
            "where is_synchronized_selloff or is_hedge_failure"
        ).fetchall()
    }
    counts = dict(
        snapshot_con.execute(
            "select date, count(*) from marts.fct_selloff_drivers group by date"
        ).fetchall()
    )
    assert set(counts) == flagged and len(flagged) > 400
    assert set(counts.values()) == {6}
    # margins: unknown before the curated history (2020-06-30) and after its last change
    # (2026-06-30), a known yes / no inside it
    span = snapshot_con.execute(
        "select min(date), max(date), count(*) from marts.fct_selloff_drivers "
        "where driver = 'margin_hike' and is_active is not null"
    ).fetchone()
    assert (
        span[0] > pd.Timestamp("2020-06-30").date() and span[1] <= pd.Timestamp("2026-06-30").date()
    )
    assert span[2] > 100


def test_no_look_ahead(warehouse, snapshot_con):
    """The model's compiled SQL run on its input marts cut after 2026-02-12 (an in-memory
    `crosswind` catalog holding only those rows) gives the same rows up to that day."""
    compiled = (
        (warehouse.parent.parent / "dbt_target" / "compiled" / "crosswind" / "models" / "marts")
        / "markets"
        / "fct_selloff_drivers.sql"
    )
    cut = duckdb.connect()
    try:
        cut.execute(f"attach '{warehouse}' as built (read_only)")
        cut.execute("attach ':memory:' as crosswind")
        cut.execute("create schema crosswind.marts")
        for mart, column in (
            ("fct_cross_asset_regime_daily", "date"),
            ("fct_funding_stress_daily", "date"),
            ("fct_net_liquidity_daily", "date"),
            ("fct_margin_events", "effective_date"),
        ):
            cut.execute(
                f"create table crosswind.marts.{mart} as select * from built.marts.{mart} "
                f"where {column} <= date '2026-02-12'"
            )
        after = cut.execute(
            f"select * from ({compiled.read_text()}) where date <= date '2026-02-12' order by all"
        ).df()
    finally:
        cut.close()
    before = snapshot_con.execute(
        "select * from marts.fct_selloff_drivers where date <= date '2026-02-12' order by all"
    ).df()
    assert len(before) > 2000
    pd.testing.assert_frame_equal(before, after)


def test_report_lists_the_latest_selloff_days(snapshot_con, report_context):
    ctx = report_context("2026-02-12")
    frame = report.selloff_drivers_frame(ctx, days=3)
    assert sorted(frame["date"].astype(str).unique()) == ["2026-01-20", "2026-02-05", "2026-02-12"]
    table = report.selloff_drivers_table(frame)
    first_row = table.split("<tr>")[2]
    assert first_row.startswith("<td>2026-02-12</td><td>selloff, hedge failure</td>")
    assert first_row.count("background:#f9d0d0") == 2  # carry unwind and the margin hikes
    assert "2026-02-06 SI +20.3 % policy" in first_row
    assert report.latest_selloff_md(report.selloff_drivers_frame(ctx, 1)) == (
        "- Latest selloff / hedge-failure day: 2026-02-12; funding drivers active in the 5 "
        "trading days to it: Carry unwind (USD/JPY 5d), Margin hike"
    )
