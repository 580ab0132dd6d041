"""The report's attribution and selloff-driver parts degrade to notes without their marts."""

from __future__ import annotations

from orchestration.lib import report, serving
from tests.serving.synthetic_marts import build_synthetic_warehouse


def test_without_the_marts_the_sections_say_so(tmp_path):
    wh = tmp_path / "warehouse"
    build_synthetic_warehouse(wh / "crosswind.duckdb", days=200)
    published = serving.publish(wh / "crosswind.duckdb")
    result = report.write_report(published.path, wh / "reports")
    page = result.path.read_text()
    assert "<h2>What drives the stress score</h2><p class='missing'>" in page
    assert "Selloff days" in page and "Funding drivers of the latest selloff days" not in page
    assert "Stress score drivers" not in result.summary_md
    assert "Latest selloff / hedge-failure day" not in result.summary_md
