"""The marts' columns as the dbt project's contracts declare them (target/manifest.json).

Readers of the marts (the `bi` views, the report's queries, the cookbook) are tested on tables
created from these contracts, so a mart column renamed in dbt breaks their tests at once instead
of silently dropping a view or a chart.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from orchestration.defs.transform.project import DBT_PROJECT_DIR, dbt_project, manifest_is_stale


def manifest_path() -> Path:
    path = Path(dbt_project().manifest_path)
    if manifest_is_stale(DBT_PROJECT_DIR, path):
        raise RuntimeError(
            f"{path} is older than the dbt project (or missing): run `make manifest` (make test "
            "does), so the mart contracts the serving tests build from are current"
        )
    return path


def mart_contracts() -> dict[str, list[tuple[str, str]]]:
    """{mart name: [(column, DuckDB type), ...]} of every contracted model in schema `marts`."""
    nodes = json.loads(manifest_path().read_text())["nodes"].values()
    marts = {
        node["name"]: [(c["name"], c["data_type"]) for c in node["columns"].values()]
        for node in nodes
        if node["resource_type"] == "model"
        and node["schema"] == "marts"
        and node["config"].get("contract", {}).get("enforced")
    }
    if not marts:
        raise RuntimeError("the dbt manifest declares no contracted marts")
    return marts


def create_contract_marts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create every mart as an empty table with exactly its contracted columns and types."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    contracts = mart_contracts()
    for name, columns in contracts.items():
        cols = ", ".join(f'"{column}" {kind}' for column, kind in columns)
        con.execute(f"CREATE OR REPLACE TABLE marts.{name} ({cols})")
    return sorted(contracts)
