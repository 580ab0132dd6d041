"""The daily report: self-contained HTML with the charts, a Markdown summary, atomic writes."""

from __future__ import annotations

import re

import duckdb

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
    assert result.charts == 5
    assert len(re.findall(r'class="plotly-graph-div"', page)) == 5
    for i in range(5):
        assert f'id="chart-{i}"' in page
    # self-contained: plotly.js inline, no external script, stylesheet or font
    assert "<script src" not in page and "<link" not in page
    assert len(page) > 3_000_000  # plotly.js (about 4.6 MB) is embedded
    assert "Net liquidity vs S&amp;P 500" in page or "Net liquidity vs S&P 500" in page
    assert "Cross-asset correlation" in page and "Selloff days" in page
    assert "<table class='margins'>" in page
    assert not list((wh / "reports").glob(".*.tmp-*"))


def test_summary_markdown_says_what_happened(tmp_path):
    published, wh = _publish(tmp_path)
    result = report.write_report(published.path, wh / "reports")
    md = result.summary_md
    assert md.startswith("**Crosswind daily, data as of 2026-02-12**")
    assert "Regime: **" in md and "stress score" in md
    assert "Net liquidity: USD" in md and "S&P 500:" in md
    assert (
        "Latest margin change: GC 2026-02-12" in md or "Latest margin change: SI 2026-02-12" in md
    )
    assert "synchronized selloff" in md


def test_missing_marts_degrade_to_notes(tmp_path):
    wh = tmp_path / "warehouse"
    build_synthetic_warehouse(wh / "crosswind.duckdb", days=200)
    with duckdb.connect(str(wh / "crosswind.duckdb")) as con:
        con.execute("DROP TABLE marts.fct_cross_asset_correlation_daily")
        con.execute("DROP TABLE marts.mart_market_dashboard_daily")
    published = serving.publish(wh / "crosswind.duckdb")
    result = report.write_report(published.path, wh / "reports", synthetic=True)
    page = result.path.read_text()
    assert result.charts == 4
    assert "Not available" in page and "SYNTHETIC" in page
    assert "dashboard mart is empty" in result.summary_md
