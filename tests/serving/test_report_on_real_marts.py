"""The report on the dbt project's own marts (tests/serving/conftest.py `published_copy`): on
contract-shaped empty marts every query still runs (a renamed column raises ReportError) and
every section states what is missing; on the real snapshot every chart draws, as of one date."""

from __future__ import annotations

import re

import duckdb

from orchestration.lib import report
from orchestration.lib.catalog import load_catalog


def test_the_report_reads_the_real_marts(published_copy, tmp_path):
    kind, warehouse = published_copy
    result = report.write_report(warehouse / "serving.duckdb", tmp_path / "reports")
    page = result.path.read_text()
    titles = re.findall(r"<h2>([^<]+)</h2>", page)
    assert len(titles) == len(report.SECTIONS) and titles[0] == "Input health"
    if kind == "contracts":
        assert result.charts == 0
        assert page.count("<p class='missing'>Not available: ") == len(report.SECTIONS)
        assert "No as-of date: the dashboard mart has no rows" in result.summary_md
        return
    with duckdb.connect(str(warehouse / "serving.duckdb"), read_only=True) as con:
        as_of = con.execute("SELECT as_of_date::VARCHAR FROM bi.as_of").fetchone()[0]
        newest = con.execute(
            "SELECT max(date)::VARCHAR FROM marts.mart_market_dashboard_daily "
            "WHERE stress_score IS NOT NULL AND sp500_close IS NOT NULL"
        ).fetchone()[0]
        products = con.execute("SELECT count(*) FROM meta.inputs WHERE source = 'cme'").fetchone()
    assert result.as_of == as_of == newest
    assert f"Crosswind daily report — as of {as_of}" in page
    assert result.charts == len(report.SECTIONS) - 1  # every section but input health draws
    # Every figure that is n/a on the as-of date says why, in the summary itself.
    assert all(md.startswith(" (") for md in result.summary_md.split("n/a")[1:]), result.summary_md
    # One input-health row per catalog series and margin product, none of them hidden.
    rows = page.count("<tr class='status-")
    assert rows == len(load_catalog().series) + products[0]
