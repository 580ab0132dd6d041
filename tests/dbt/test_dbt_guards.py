"""dbt guards itself: a point-in-time series that is not configured is a compile error, and mart
range tests take their bounds from the catalog."""

from __future__ import annotations

import json
import os
import subprocess

import yaml

from orchestration.lib.catalog import load_catalog
from tests.support.snapshot import DBT_DIR


def test_series_missing_from_pit_daily_series_fails_compilation(tmp_path):
    """fct_funding_stress_daily pivots SOFR; with SOFR dropped from var pit_daily_series the
    project must not parse (the columns would otherwise be silently NULL)."""
    from orchestration.defs.transform.project import dbt_executable

    dbt_vars = yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text())["vars"]
    pit = dbt_vars["pit_daily_series"]
    without_sofr = {source: [s for s in ids if s != "SOFR"] for source, ids in pit.items()}
    env = {
        **os.environ,
        "CROSSWIND_WAREHOUSE_DIR": str(tmp_path),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    proc = subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--no-partial-parse",
            "--project-dir",
            str(DBT_DIR),
            "--profiles-dir",
            str(DBT_DIR),
            "--vars",
            json.dumps({"pit_daily_series": without_sofr}),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert "Compilation Error" in output
    assert "series SOFR not in var pit_daily_series" in output
    assert "fct_funding_stress_daily" in output


def test_mart_range_tests_name_catalog_series(dbt_manifest_path):
    """Every value_in_catalog_range test names a catalog series, and the marts' catalog-series
    columns use it (no second copy of a catalog range typed into the mart YAML)."""
    manifest = json.loads(dbt_manifest_path.read_text())
    catalog = load_catalog()
    used: dict[tuple[str, str], str] = {}
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        if meta.get("name") != "value_in_catalog_range":
            continue
        series_id = meta["kwargs"]["series_id"]
        assert series_id in catalog.series, f"{node['name']}: unknown series {series_id}"
        model = node["attached_node"].split(".")[-1]
        used[(model, node["column_name"])] = series_id
    assert used[("fct_net_liquidity_daily", "fed_total_assets_bn")] == "WALCL"
    assert used[("fct_funding_stress_daily", "sofr_pct")] == "SOFR"
    assert used[("fct_valuation_monthly", "cape")] == "SHILLER_CAPE"
    assert used[("fct_labor_monthly", "payrolls_thousands")] == "PAYEMS"
    # no value_between test on those columns repeats a range by hand
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        if meta.get("name") == "value_between" and node.get("attached_node"):
            key = (node["attached_node"].split(".")[-1], node.get("column_name"))
            assert key not in used, f"{key} has both a typed range and the catalog range"


def test_every_mart_enforces_its_contract_from_dbt_project_yml(dbt_manifest_path):
    """Contracts are configured once (dbt_project.yml `marts: +contract`), not per model."""
    manifest = json.loads(dbt_manifest_path.read_text())
    marts = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["fqn"][1] == "marts"
    ]
    assert len(marts) >= 10
    assert all(n["config"]["contract"]["enforced"] for n in marts)
    yml_files = (DBT_DIR / "models" / "marts").rglob("*.yml")
    repeated = [p.name for p in yml_files if "contract:" in p.read_text()]
    assert not repeated, f"contract config repeated in {repeated}"
