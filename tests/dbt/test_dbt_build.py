"""Liquidity, funding, pillars, labour and dashboard marts on the real snapshot, end to end.

A fresh warehouse is loaded from ../shared/snapshot through the project's own Dagster ingestion
(replay mode); then the WHOLE dbt project is built with `dbt build` (models, data tests, unit
tests). The expected numbers below were computed by hand from the snapshot CSV files, applying
the catalog release lags by hand; each test shows the arithmetic so a reviewer can redo it.

Lags used (orchestration/catalog.yaml), business days on each series' publisher calendar:
WALCL 1 (US federal); TGA (DTS) 1 (US federal); RRPONTSYD 0; SOFR 1 (SIFMA bond market);
IORB 0; DGS2 1 (US federal); JGB2Y 1 (Japan); MOVE 0.
Units: WALCL and the DTS file are USD millions (/ 1000 -> USD bn); RRPONTSYD is USD bn.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.support.snapshot import dbt_build

MY_MARTS = [
    "fct_net_liquidity_daily",
    "fct_net_liquidity_weekly",
    "fct_funding_stress_daily",
    "fct_liquidity_pillars_daily",
    "fct_labor_monthly",
    "mart_market_dashboard_daily",
]
# Optional series (catalog `required: false`) removed for the "absent inputs" build.
OPTIONAL_SERIES = ["WILL5000PR", "XAGUSD", "WTREGEN", "WDTGAL", "RESPPLLOPNWW", "DEXJPUS"]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def built_warehouse(snapshot_build) -> Path:
    warehouse, seconds = snapshot_build
    # Keep the full build fast (2 cores): the whole project, tests included.
    assert seconds < 120, f"dbt build took {seconds:.0f}s"
    return warehouse / "crosswind.duckdb"


@pytest.fixture(scope="module")
def con(built_warehouse):
    connection = duckdb.connect(str(built_warehouse), read_only=True)
    yield connection
    connection.close()


def _row(con, sql: str, *params):
    row = con.execute(sql, list(params)).fetchone()
    assert row is not None, sql
    return row


def test_every_mart_built(con):
    tables = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    assert set(MY_MARTS) <= tables
    for mart in MY_MARTS:
        assert con.execute(f"select count(*) from marts.{mart}").fetchone()[0] > 0, mart


def test_net_liquidity_thursday_uses_wednesday_h41(con):
    # D = Thu 2026-02-12.
    #   WALCL.csv 2026-02-11 (Wed) = 6622382 mn, published Thu -> 6622.382 bn, age 1
    #   tga_daily.csv 2026-02-11 (Wed) = 910533 mn, published next business day Thu -> 910.533
    #   RRPONTSYD.csv 2026-02-12 = 2.844 bn, same day
    #   net = 6622.382 - 910.533 - 2.844 = 5709.005
    row = _row(
        con,
        "select fed_total_assets_bn, tga_bn, on_rrp_bn, net_liquidity_bn, tga_source, "
        "fed_total_assets_age_days, tga_age_days, on_rrp_age_days "
        "from marts.fct_net_liquidity_daily where date = date '2026-02-12'",
    )
    assert row[:4] == pytest.approx((6622.382, 910.533, 2.844, 5709.005), abs=1e-6)
    assert row[4:] == ("DTS", 1, 1, 0)


def test_wednesday_h41_value_not_visible_on_wednesday(con):
    # D = Wed 2026-02-11: WALCL for 2026-02-11 is not out yet -> WALCL 2026-02-04 = 6605909 mn
    #   (age 7); TGA 2026-02-10 = 948634 mn (published Wed); RRP 2026-02-11 = 1.048 bn
    #   net = 6605.909 - 948.634 - 1.048 = 5656.227
    row = _row(
        con,
        "select fed_total_assets_bn, fed_total_assets_obs_date, fed_total_assets_age_days, "
        "net_liquidity_bn from marts.fct_net_liquidity_daily where date = date '2026-02-11'",
    )
    assert row[0] == pytest.approx(6605.909, abs=1e-6)
    assert str(row[1]) == "2026-02-04"
    assert row[2] == 7
    assert row[3] == pytest.approx(5656.227, abs=1e-6)


def test_staleness_and_end_of_spine(con):
    # RRPONTSYD.csv ends 2026-07-29 (staleness 7 days): still used on 2026-08-05 (age 7), NULL
    # and flagged from 2026-08-06, so net liquidity is NULL from then on.
    # The spine ends at the last publication of any input: tga_daily.csv ends Tue 2026-09-22,
    # published Wed 2026-09-23; no later row exists.
    last = _row(
        con,
        "select max(date), max(date) filter (where net_liquidity_bn is not null) "
        "from marts.fct_net_liquidity_daily",
    )
    assert (str(last[0]), str(last[1])) == ("2026-09-23", "2026-08-05")
    row = _row(
        con,
        "select on_rrp_bn, on_rrp_age_days, is_on_rrp_stale, net_liquidity_bn "
        "from marts.fct_net_liquidity_daily where date = date '2026-08-06'",
    )
    assert row == (None, 8, True, None)


def test_sofr_iorb_quarter_end(con):
    # SOFR is published the next bond-market business day (us_bond_market calendar):
    # SOFR.csv 2025-12-31 = 3.87 is public on Fri 2026-01-02, not on New Year's Day.
    # D = Thu 2026-01-01: still SOFR 2025-12-30 = 3.71; IORB.csv 2026-01-01 = 3.65 (lag 0)
    #   -> (3.71 - 3.65) * 100 = 6 bp, not a quarter end.
    # D = Fri 2026-01-02: SOFR 2025-12-31 = 3.87, IORB 2026-01-02 = 3.65 -> 22 bp; 2025-12-31
    #   is the last bond-market business day of Q4 -> is_quarter_end.
    rows = con.execute(
        "select date, sofr_pct, iorb_pct, sofr_iorb_spread_bp, is_quarter_end, sofr_obs_date "
        "from marts.fct_funding_stress_daily where date in ('2026-01-01', '2026-01-02') "
        "order by date"
    ).fetchall()
    assert rows[0][1:4] == pytest.approx((3.71, 3.65, 6.0), abs=1e-9)
    assert (rows[0][4], str(rows[0][5])) == (False, "2025-12-30")
    assert rows[1][1:4] == pytest.approx((3.87, 3.65, 22.0), abs=1e-9)
    assert (rows[1][4], str(rows[1][5])) == (True, "2025-12-31")


def test_move_and_carry_spread_on_selloff_day(con):
    # D = Thu 2026-02-12 (the selloff): MOVE.csv 2026-02-12 = 68.57 (lag 0; README: 61.35 ->
    # 68.57). US2Y: DGS2.csv 2026-02-11 = 3.52 (1 bd lag). JP2Y: jgbcm_all.csv has no R8.2.11
    # (Japanese holiday), so the latest published by 02-12 is R8.2.10 2Y = 1.303 ->
    # (3.52 - 1.303) * 100 = 221.7 bp. USDJPY.csv 2026-02-12 = 153.01.
    row = _row(
        con,
        "select move_index, us2y_pct, jp2y_pct, us2y_jp2y_spread_bp, usdjpy "
        "from marts.fct_funding_stress_daily where date = date '2026-02-12'",
    )
    assert row == pytest.approx((68.57, 3.52, 1.303, 221.7, 153.01), abs=1e-9)
    # D = Fri 2026-02-13: DGS2 2026-02-12 = 3.47, JGB2Y R8.2.12 = 1.305 -> 216.5 bp.
    spread = _row(
        con,
        "select us2y_jp2y_spread_bp from marts.fct_funding_stress_daily "
        "where date = date '2026-02-13'",
    )[0]
    assert spread == pytest.approx(216.5, abs=1e-9)


def test_pillars_score_range_and_dashboard(con):
    bounds = _row(
        con,
        "select min(stress_score), max(stress_score), count(distinct regime) "
        "from marts.fct_liquidity_pillars_daily",
    )
    assert 0 <= bounds[0] <= bounds[1] <= 100
    assert bounds[2] == 3
    dash = _row(
        con,
        "select net_liquidity_bn, move_index, sp500_return_1d, is_synchronized_selloff "
        "from marts.mart_market_dashboard_daily where date = date '2026-02-12'",
    )
    # README sanity figure: the S&P 500 fell 1.57% on 2026-02-12.
    assert dash[0] == pytest.approx(5709.005, abs=1e-6)
    assert dash[1] == pytest.approx(68.57)
    assert dash[2] == pytest.approx(-0.0157, abs=5e-5)


def test_labor_monthly(con):
    # PAYEMS/UNRATE have no drops: ADP and Challenger are NULL and flagged absent.
    row = _row(
        con,
        "select has_adp, has_challenger, count(adp_change_thousands) "
        "from marts.fct_labor_monthly group by all",
    )
    assert row == (False, False, 0)
    # the monthly change is the difference of consecutive PAYEMS levels
    diff = _row(
        con,
        "select max(abs(payroll_change_thousands - (payrolls_thousands - prev))) from ("
        "select *, lag(payrolls_thousands) over (order by month) as prev "
        "from marts.fct_labor_monthly) where prev is not null",
    )[0]
    assert diff == pytest.approx(0, abs=1e-9)


def test_build_without_optional_series(snapshot_raw_warehouse, tmp_path):
    """Optional inputs absent: every model still builds and every test passes."""
    warehouse = tmp_path / "warehouse"
    shutil.copytree(snapshot_raw_warehouse, warehouse)
    with duckdb.connect(str(warehouse / "crosswind.duckdb")) as connection:
        ids = ", ".join(f"'{s}'" for s in OPTIONAL_SERIES)
        connection.execute(f"delete from raw_fred.observations where series_id in ({ids})")
        connection.execute(f"delete from raw_market.daily_bars where series_id in ({ids})")
        connection.execute("delete from raw_drops.observations")
    proc, _ = dbt_build(warehouse, tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    with duckdb.connect(str(warehouse / "crosswind.duckdb"), read_only=True) as connection:
        row = connection.execute(
            "select count(*), count(remittances_bn), count(net_liquidity_bn) "
            "from marts.fct_net_liquidity_daily"
        ).fetchone()
    assert row[0] > 0 and row[1] == 0 and row[2] > 0
