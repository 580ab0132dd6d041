"""The stress-score attribution on the real snapshot, recomputed independently with pandas.

The pillar z-scores come from marts.fct_liquidity_pillars_daily (their own tests check them);
everything the attribution adds (clipping, points, the 20-day change, the ranks) is computed
again here from the definitions in the model's YAML and must equal what the SQL wrote. The dbt
test assert_stress_attribution_adds_up_to_score checks the identity in the warehouse itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from orchestration.lib import report, serving
from tests.support.snapshot import DBT_DIR

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VARS = yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text())["vars"]
CLIP = VARS["stress_z_clip"]
PILLARS = ["net_liquidity", "sofr_iorb", "move", "yen_carry", "hy_oas"]


@pytest.fixture(scope="module")
def expected(snapshot_con) -> pd.DataFrame:
    """Long frame (date, pillar) of the attribution recomputed from the pillar columns."""
    wide = snapshot_con.execute(
        "select * from marts.fct_liquidity_pillars_daily where stress_score is not null"
    ).df()
    wide["date"] = pd.to_datetime(wide["date"])
    z = wide[[f"pillar_{p}_z" for p in PILLARS]].to_numpy()
    lower = np.array([VARS["stress_net_liquidity_floor_z"]] + [-CLIP] * 4)
    clipped = np.clip(z, lower, CLIP)
    n = np.isfinite(z).sum(axis=1, keepdims=True)
    points = np.nan_to_num(clipped) / n * 100 / (2 * CLIP)
    frame = pd.DataFrame(
        {
            "date": np.repeat(wide["date"].to_numpy(), len(PILLARS)),
            "pillar": PILLARS * len(wide),
            "z_clipped": clipped.ravel(),
            "contribution_points": points.ravel(),
            "stress_score": np.repeat(wide["stress_score"].to_numpy(), len(PILLARS)),
        }
    )
    before = frame.assign(date=frame["date"] + pd.Timedelta(days=28))
    return frame.merge(
        before[["date", "pillar", "contribution_points", "stress_score"]],
        on=["date", "pillar"],
        how="left",
        suffixes=("", "_before"),
    ).assign(
        change=lambda f: f["contribution_points"] - f["contribution_points_before"],
        score_change=lambda f: f["stress_score"] - f["stress_score_before"],
    )


def test_attribution_matches_an_independent_recomputation(snapshot_con, expected):
    got = snapshot_con.execute("select * from marts.fct_stress_attribution_daily").df()
    got["date"] = pd.to_datetime(got["date"])
    both = expected.merge(got, on=["date", "pillar"], how="outer", indicator=True)
    assert (both["_merge"] == "both").all(), both["_merge"].value_counts()
    assert len(both) == 5 * both["date"].nunique() > 5 * 5000
    assert np.allclose(both["contribution_points_x"], both["contribution_points_y"], atol=1e-9)
    assert np.allclose(both["z_clipped_x"], both["z_clipped_y"], atol=1e-12, equal_nan=True)
    assert np.allclose(both["change"], both["contribution_change_20d"], atol=1e-9, equal_nan=True)
    assert np.allclose(
        both["score_change"], both["stress_score_change_20d"], atol=1e-9, equal_nan=True
    )
    # 50 + the day's points = the score; the floor binds on real days (net liquidity < -1)
    daily = both.groupby("date").agg(
        points=("contribution_points_y", "sum"), score=("stress_score_x", "first")
    )
    assert (50 + daily["points"] - daily["score"]).abs().max() < 1e-9
    floored = both[(both["pillar"] == "net_liquidity") & (both["z_clipped_y"] == -1.0)]
    assert len(floored) > 100
    # ranks: 1 = the largest |points|
    top = got[got["driver_rank"] == 1].set_index("date")["contribution_points"].abs()
    largest = got.groupby("date")["contribution_points"].apply(lambda s: s.abs().max())
    assert np.allclose(top.sort_index(), largest.sort_index())


def test_attribution_on_2026_02_12_and_in_the_dashboard(snapshot_con):
    rows = (
        snapshot_con.execute(
            "select pillar, z, contribution_points, driver_rank, contribution_change_20d, "
            "change_driver_rank, stress_score, stress_score_change_20d, change_base_date "
            "from marts.fct_stress_attribution_daily where date = date '2026-02-12' "
            "order by pillar_order"
        )
        .df()
        .set_index("pillar")
    )
    # five pillars, none clipped that day: points = z / 5 * 100 / 6
    assert rows["z"].notna().all() and (rows["z"].abs() < 3).all()
    assert rows.loc["net_liquidity", "z"] > -1
    assert np.allclose(rows["contribution_points"], rows["z"] / 5 * 100 / 6)
    # the yen carry (z 1.94 -> +6.45 points) then net liquidity (z 1.02 -> +3.41) drive it
    assert rows.loc["yen_carry", "contribution_points"] == pytest.approx(6.452, abs=1e-3)
    assert rows.loc["net_liquidity", "contribution_points"] == pytest.approx(3.405, abs=1e-3)
    assert list(rows.sort_values("driver_rank").index[:2]) == ["yen_carry", "net_liquidity"]
    assert rows["stress_score"].iloc[0] == pytest.approx(50 + rows["contribution_points"].sum())
    # against 2026-01-15 (28 days earlier): +10.58 points, the yen carry +5.33 of it
    assert str(rows["change_base_date"].iloc[0])[:10] == "2026-01-15"
    assert rows["stress_score_change_20d"].iloc[0] == pytest.approx(10.576, abs=1e-3)
    assert rows.loc["yen_carry", "change_driver_rank"] == 1
    assert rows.loc["yen_carry", "contribution_change_20d"] == pytest.approx(5.334, abs=1e-3)

    dash = snapshot_con.execute(
        "select stress_driver_1, stress_driver_1_points, stress_driver_2, "
        "stress_change_driver_1, stress_change_driver_2, stress_score_change_20d "
        "from marts.mart_market_dashboard_daily where date = date '2026-02-12'"
    ).fetchone()
    assert dash[0] == "yen_carry" and dash[1] == pytest.approx(6.452, abs=1e-3)
    assert dash[2] == "net_liquidity"
    assert dash[3] == "yen_carry" and dash[4] == "move"
    assert dash[5] == pytest.approx(10.576, abs=1e-3)


def test_report_attribution_section(snapshot_con, report_context):
    frame = report.attribution_frame(report_context("2026-02-12"))
    assert list(frame["pillar"]) == PILLARS
    fig = report.chart_stress_attribution(frame)
    score, change = fig.data
    # the waterfalls: 50 then the five points (total = the score); the score 20 days earlier
    # then the five changes
    assert list(score.y[:6]) == pytest.approx([50.0, *frame["contribution_points"]])
    assert score.text[-1] == f"{frame['stress_score'].iloc[0]:.1f}" == "55.7"
    assert change.x[0] == "20 days ago" and change.text[0] == "45.1"
    table = report.attribution_table(frame)
    assert "<td>Yen carry</td><td>+1.94</td><td>+1.94</td><td>+6.5</td><td>+5.3</td>" in table
    row = (
        snapshot_con.execute(
            "select * from marts.mart_market_dashboard_daily where date = date '2026-02-12'"
        )
        .df()
        .iloc[0]
        .to_dict()
    )
    assert report.drivers_md(row) == (
        "- Stress score drivers (points vs 50): Yen carry +6.5, Net liquidity (inverted) +3.4; "
        "20-day change +10.6 led by Yen carry +5.3, MOVE +3.4"
    )


def test_report_page_shows_the_drivers(snapshot_build, tmp_path):
    """The whole page on the snapshot's published copy: both new sections and both bullets."""
    warehouse, _ = snapshot_build
    published = serving.publish(warehouse / "crosswind.duckdb", tmp_path / "warehouse")
    page, _, summary_md, _ = report.render_html(published.path)
    section = page.split("<section class='chart'>")
    assert any("What drives the stress score" in s and "plotly-graph-div" in s for s in section)
    assert "<h3>Funding drivers of the latest selloff days</h3>" in page
    assert "- Stress score drivers (points vs 50): " in summary_md
    assert "- Latest selloff / hedge-failure day: " in summary_md
