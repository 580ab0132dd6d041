"""The daily report: self-contained HTML, one as-of date, stated gaps, loud bugs, atomic writes."""

from __future__ import annotations

import re

import duckdb
import pytest

from orchestration.lib import report, serving
from tests.serving.synthetic_marts import build_synthetic_warehouse


def _publish(tmp_path, **kwargs):
    wh = tmp_path / "warehouse"
    build_synthetic_warehouse(wh / "crosswind.duckdb", days=800, **kwargs)
    return serving.publish(wh / "crosswind.duckdb"), wh


def test_report_renders_every_chart_offline(tmp_path):
    published, wh = _publish(tmp_path)
    result = report.write_report(published.path, wh / "reports")
    assert result.path == wh / "reports" / "2026-02-12.html"  # the data's as-of date
    assert result.latest.read_bytes() == result.path.read_bytes()
    page = result.path.read_text()
    # liquidity, pillars, correlation, selloffs, margins (no official indices in this build)
    assert result.charts == 5
    assert len(re.findall(r'class="plotly-graph-div"', page)) == 5
    # self-contained: plotly.js inline, no external script, stylesheet or font
    assert "<script src" not in page and "<link" not in page
    assert len(page) > 3_000_000  # plotly.js (about 4.6 MB) is embedded
    assert "Crosswind daily report — as of 2026-02-12" in page
    assert "<h2>Input health</h2>" in page and "input health is not recorded" in page
    assert "Cross-asset correlation" in page and "Selloff days" in page
    assert "% of notional" in page and "pct_notional" not in page  # units in words
    assert not list((wh / "reports").glob(".*.tmp-*"))


def test_summary_markdown_says_what_happened(tmp_path):
    published, wh = _publish(tmp_path)
    result = report.write_report(published.path, wh / "reports")
    md = result.summary_md
    assert md.startswith("**Crosswind daily, as of 2026-02-12**")
    assert "newest day with the stress score and an S&P 500 close" in md
    assert "Regime: **" in md and "from 5 of 5 pillars" in md
    assert "Net liquidity: USD" in md and "S&P 500:" in md
    assert re.search(r"Latest margin change: (GC|SI) 2026-02-12", md)
    assert "Last 20 trading days to 2026-02-12" in md


def test_as_of_is_the_newest_day_with_stress_score_and_sp500(tmp_path):
    """Days after it (inputs published ahead, single FX quotes) never move the header."""
    wh = tmp_path / "warehouse"
    build_synthetic_warehouse(wh / "crosswind.duckdb", days=300)
    with duckdb.connect(str(wh / "crosswind.duckdb")) as con:
        con.execute(
            "INSERT INTO marts.mart_market_dashboard_daily BY NAME SELECT DATE '2026-03-02' "
            "AS date, 150.0 AS usdjpy"
        )
        con.execute(
            "UPDATE marts.mart_market_dashboard_daily SET net_liquidity_bn = NULL "
            "WHERE date = DATE '2026-02-12'"
        )
    published = serving.publish(wh / "crosswind.duckdb")
    with duckdb.connect(str(published.path), read_only=True) as con:
        assert con.execute("SELECT as_of_date::VARCHAR FROM bi.as_of").fetchone()[0] == (
            "2026-02-12"
        )
        latest = con.execute("SELECT date::VARCHAR FROM bi.dashboard_latest").fetchall()
        assert latest == [("2026-02-12",)]
    result = report.write_report(published.path, wh / "reports")
    assert result.as_of == "2026-02-12"
    assert "Later rows (to 2026-03-02) carry single inputs only" in result.summary_md
    # The figure that is NULL that day says so, why, and what it last was.
    assert "Net liquidity: n/a (input health is not recorded" in result.summary_md
    assert "; last USD " in result.summary_md and " on 2026-02-11" in result.summary_md


def test_empty_or_missing_marts_are_stated_not_hidden(tmp_path):
    wh = tmp_path / "warehouse"
    build_synthetic_warehouse(wh / "crosswind.duckdb", days=200)
    with duckdb.connect(str(wh / "crosswind.duckdb")) as con:
        con.execute("DELETE FROM marts.fct_cross_asset_correlation_daily")  # no BI view needs rows
        con.execute("DROP TABLE marts.fct_stress_scorecard")  # read by the report only
    published = serving.publish(wh / "crosswind.duckdb")
    result = report.write_report(published.path, wh / "reports", synthetic=True)
    page = result.path.read_text()
    assert result.charts == 4 and "SYNTHETIC" in page
    assert "Not available: fct_cross_asset_correlation_daily has no rows" in page
    assert "Not available: mart fct_stress_scorecard is not in this serving copy" in page


def test_a_renamed_mart_column_fails_the_report_loudly(tmp_path):
    """A column only the report reads (no BI view does): the publish succeeds, the report
    refuses with the column's name instead of turning the chart into 'not available'."""
    wh = tmp_path / "warehouse"
    build_synthetic_warehouse(wh / "crosswind.duckdb", days=200)
    with duckdb.connect(str(wh / "crosswind.duckdb")) as con:
        con.execute(
            "ALTER TABLE marts.fct_margin_events RENAME COLUMN underlying_series_id TO underlying"
        )
    published = serving.publish(wh / "crosswind.duckdb")
    with pytest.raises(report.ReportError, match="underlying_series_id"):
        report.write_report(published.path, wh / "reports")
    assert not (wh / "reports" / "latest.html").exists()


def test_every_figure_input_is_a_catalog_series():
    """FIGURE_INPUTS explains n/a figures by catalog ids: a renamed series breaks this first."""
    from orchestration.lib.catalog import load_catalog

    known = set(load_catalog().series)
    assert {sid for ids in report.FIGURE_INPUTS.values() for sid in ids} <= known
