"""The report's stress section: the score and the official indices on one standardised axis."""

from __future__ import annotations

import re

import duckdb

from orchestration.lib import report, serving
from tests.serving.synthetic_marts import build_synthetic_warehouse


def add_stress_marts(path) -> None:
    """Synthetic rows in fct_stress_index_comparison and fct_stress_scorecard (by contract)."""
    with duckdb.connect(str(path)) as con:
        con.execute(
            """INSERT INTO marts.fct_stress_index_comparison BY NAME
            SELECT b.benchmark_index, d.date, b.frequency, sin(d.i / 20.0 + b.k) AS benchmark_z,
                   cos(d.i / 20.0) AS crosswind_z
            FROM (SELECT (DATE '2026-02-06' - INTERVAL (7 * (80 - i)) DAY)::DATE AS date, i
                  FROM range(80) t(i)) d,
                 (VALUES ('STLFSI4', 'weekly', 0.0), ('NFCI', 'weekly', 1.0)) b(benchmark_index,
                    frequency, k)"""
        )
        con.execute(
            """INSERT INTO marts.fct_stress_scorecard BY NAME
            SELECT benchmark_index, scope, scope_label, window_start, window_end,
                   80 AS observations, 'weekly' AS comparison_frequency, 0.55 AS level_correlation,
                   0.5 AS change_4w_correlation, 0.45 AS top_decile_agreement,
                   0.5 AS stress_regime_hit_rate, 12 AS false_alarm_episodes,
                   17 AS crosswind_stress_episodes, 0.52 AS false_alarms_per_year
            FROM (VALUES ('STLFSI4'), ('NFCI')) b(benchmark_index),
                 (VALUES ('full_sample', 'Full common sample', DATE '2024-07-26',
                          DATE '2026-02-06'),
                         ('yen_carry_2024', 'Yen carry unwind', DATE '2024-07-01',
                          DATE '2024-08-31')) s(scope, scope_label, window_start, window_end)"""
        )


def test_stress_chart_and_scorecard_table_render(tmp_path):
    wh = tmp_path / "warehouse"
    build_synthetic_warehouse(wh / "crosswind.duckdb", days=300)
    add_stress_marts(wh / "crosswind.duckdb")
    published = serving.publish(wh / "crosswind.duckdb")

    con = duckdb.connect(str(published.path), read_only=True)
    try:
        fig = report.chart_stress_vs_official(report._context(con, ()))
    finally:
        con.close()
    names = [trace.name for trace in fig.data]
    assert names[:2] == ["Chicago Fed NFCI", "St. Louis Fed FSI (STLFSI4)"]
    assert names[2].startswith("crosswind stress score") and len(names) == 3
    assert len(fig.layout.shapes) == 1  # the one named episode, shaded
    assert fig.layout.annotations[0].text == "Yen carry unwind"
    assert fig.layout.yaxis.title.text.startswith("z (standard deviations")

    result = report.write_report(published.path, wh / "reports")
    page = result.path.read_text()
    assert result.charts == 6
    assert len(re.findall(r'class="plotly-graph-div"', page)) == 6
    assert "Stress score vs the official stress indices" in page
    assert "<td>St. Louis Fed FSI (STLFSI4)</td><td>80 weekly</td><td>0.55</td>" in page
    assert "<td>12 of 17</td><td>0.52</td>" in page


def test_stress_section_without_benchmarks_is_a_note(tmp_path):
    """The stress marts are empty when no official index was loaded: the section says so."""
    wh = tmp_path / "warehouse"
    build_synthetic_warehouse(wh / "crosswind.duckdb", days=200)
    published = serving.publish(wh / "crosswind.duckdb")
    con = duckdb.connect(str(published.path), read_only=True)
    try:
        ctx = report._context(con, ())
        assert report.chart_stress_vs_official(ctx) is None
        assert report.scorecard_table(ctx) == ""
    finally:
        con.close()
    page = report.write_report(published.path, wh / "reports").path.read_text()
    assert (
        "<h2>Stress score vs the official indices</h2><p class='missing'>Not available: no "
        "official index to compare with" in page
    )
