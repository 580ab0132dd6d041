"""A small build warehouse with synthetic mart rows, so serving/report tests need no dbt build.

Every mart is created from its dbt contract (tests/support/contracts.py) and the rows are inserted
BY NAME: a column renamed in dbt fails these inserts, and the readers' tests, at once. Values are
made up; columns a test does not need stay NULL."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.support.contracts import create_contract_marts

ASSETS = ["sp500", "nasdaq", "gold", "silver", "wti", "btc"]


def build_synthetic_warehouse(path: Path, *, days: int = 400, generation: int = 1) -> Path:
    """Create (or replace) marts in `path`; `generation` shifts every value so states differ."""
    path.parent.mkdir(parents=True, exist_ok=True)
    g = float(generation)
    con = duckdb.connect(str(path))
    try:
        create_contract_marts(con)
        # Not in any contract: a marker of which build a reader sees (tests of the publish).
        con.execute("ALTER TABLE marts.fct_net_liquidity_daily ADD COLUMN generation INTEGER")
        con.execute("CREATE SCHEMA IF NOT EXISTS staging")
        con.execute("CREATE OR REPLACE TABLE staging.not_served AS SELECT 1 AS x")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE days AS
            SELECT (DATE '2026-02-12' - INTERVAL ({days} - 1 - i) DAY)::DATE AS date, i
            FROM range({days}) t(i)"""
        )
        con.execute(
            f"""INSERT INTO marts.fct_net_liquidity_daily BY NAME SELECT date,
            7000 + 300 * sin(i / 40.0) + {g} AS fed_total_assets_bn,
            5800 + 300 * sin(i / 40.0) - 20 * cos(i / 9.0) + {g} AS net_liquidity_bn,
            -20 * sin(i / 9.0) AS net_liquidity_change_4w_bn, sin(i / 60.0) AS net_liquidity_z_1y,
            {generation} AS generation
            FROM days"""
        )
        con.execute(
            f"""INSERT INTO marts.fct_asset_returns_daily BY NAME
            SELECT date, asset, 100 * (1 + a) + 50 * sin(i / 30.0 + a) + {g} AS close,
            0.01 * sin(i * (a + 1) / 3.0) - CASE WHEN i % 37 = 0 THEN 0.03 ELSE 0 END AS return_1d
            FROM days, (SELECT unnest({ASSETS}) AS asset, generate_subscripts({ASSETS}, 1) AS a)"""
        )
        con.execute(
            """INSERT INTO marts.fct_liquidity_pillars_daily BY NAME SELECT date,
            sin(i / 50.0) AS pillar_net_liquidity_z, cos(i / 35.0) AS pillar_sofr_iorb_z,
            sin(i / 20.0) AS pillar_move_z, cos(i / 70.0) AS pillar_yen_carry_z,
            sin(i / 90.0) AS pillar_hy_oas_z, 5 AS pillars_available,
            50 + 40 * sin(i / 50.0) AS stress_score,
            CASE WHEN sin(i / 50.0) > 0.5 THEN 'stress' WHEN sin(i / 50.0) > 0 THEN 'tightening'
                 ELSE 'calm' END AS regime
            FROM days"""
        )
        con.execute(
            f"""INSERT INTO marts.fct_cross_asset_correlation_daily BY NAME
            SELECT date, a.asset AS asset_a, b.asset AS asset_b, w AS window_days,
            sin(i / 25.0 + length(a.asset) * length(b.asset)) * 0.9 AS correlation,
            w AS n_observations
            FROM days, (SELECT unnest({ASSETS}) AS asset) a, (SELECT unnest({ASSETS}) AS asset) b,
            (SELECT unnest([20, 60]) AS w)
            WHERE a.asset < b.asset AND i >= 60"""
        )
        con.execute(
            """INSERT INTO marts.fct_cross_asset_regime_daily BY NAME SELECT date,
            0.01 * sin(i / 3.0) - CASE WHEN i % 37 = 0 THEN 0.03 ELSE 0 END AS equity_return_1d,
            0.3 + 0.3 * sin(i / 25.0) AS avg_pairwise_correlation_20d,
            CASE WHEN i % 37 = 0 THEN 1.0 ELSE 0.5 END AS share_assets_down,
            CASE WHEN i % 37 = 0 THEN 6 ELSE 3 END AS n_assets_down, 6 AS n_assets_tracked,
            CASE WHEN i % 74 = 0 THEN 2 ELSE 0 END AS n_havens_losing,
            i % 37 = 0 AS is_synchronized_selloff, i % 74 = 0 AS is_hedge_failure
            FROM days"""
        )
        con.execute(
            """INSERT INTO marts.fct_margin_events BY NAME
            SELECT product, (DATE '2026-02-12' - INTERVAL (k * 20) DAY)::DATE AS effective_date,
            CASE WHEN k % 3 = 0 THEN 'decrease' ELSE 'increase' END AS direction,
            CASE WHEN k % 3 = 0 THEN -10.0 ELSE 15.0 + k END AS pct_change,
            10.0 + k AS previous_margin, 11.5 + k AS new_margin, 'pct_notional' AS margin_unit,
            CASE product WHEN 'GC' THEN 'XAUUSD_LBMA_PM' ELSE 'XAGUSD' END AS underlying_series_id,
            -0.01 * k AS fwd_return_1d, -0.02 + 0.005 * k AS fwd_return_5d,
            -0.05 + 0.01 * k AS fwd_return_20d, 0.03 AS fwd_return_60d,
            -0.02 * (k + 1) AS max_drawdown_20d
            FROM (SELECT unnest(['SI', 'GC']) AS product), range(6) t(k)"""
        )
        con.execute(
            f"""INSERT INTO marts.mart_market_dashboard_daily BY NAME SELECT n.date,
            n.net_liquidity_bn, n.net_liquidity_change_4w_bn, n.net_liquidity_z_1y,
            2.5 AS sofr_iorb_spread_bp, 95.0 + {g} AS move_index, 3.1 AS hy_oas_pct,
            152.3 AS usdjpy, -2.4 AS usdjpy_change_5d_pct, p.stress_score, p.regime,
            r.close AS sp500_close, r.return_1d AS sp500_return_1d,
            -0.01 AS gold_return_1d, -0.08 AS silver_return_1d, -0.03 AS btc_return_1d,
            x.is_synchronized_selloff, x.is_hedge_failure, true AS carry_unwind_flag
            FROM marts.fct_net_liquidity_daily n
            JOIN marts.fct_liquidity_pillars_daily p USING (date)
            JOIN marts.fct_cross_asset_regime_daily x USING (date)
            JOIN marts.fct_asset_returns_daily r ON r.date = n.date AND r.asset = 'sp500'"""
        )
    finally:
        con.close()
    return path


def marts_state(path: Path) -> dict[str, object]:
    """A fingerprint of what a reader sees: row counts and the generation marker."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return _state(con)
    finally:
        con.close()


def _state(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    gens = con.execute("SELECT DISTINCT generation FROM marts.fct_net_liquidity_daily").fetchall()
    days = con.execute("SELECT count(*) FROM marts.mart_market_dashboard_daily").fetchone()[0]
    return {"generations": sorted(g[0] for g in gens), "dashboard_rows": days}
