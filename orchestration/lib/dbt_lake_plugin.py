"""dbt-duckdb plugin for the DuckLake target (dbt_project/profiles.yml, target `ducklake`).

dbt-duckdb runs a plugin's `configure_connection` before the profile's `attach` list, so this
loads the DuckLake extensions from their PyPI packages and creates the secrets that the
profile's `ATTACH 'ducklake:crosswind_lake' AS crosswind` reads (orchestration/lib/lake.py): the
lake's location and password come from the same CROSSWIND_* variables as every other crosswind
connection, and never appear in the profile, dbt's logs or its target/ folder.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from orchestration.lib import lake
from orchestration.lib.settings import load_settings


class Plugin(BasePlugin):
    def update_connection_config(self, creds, config: dict[str, Any]) -> None:
        config.update(lake.NO_DOWNLOADS)  # nothing is downloaded at run time

    def configure_connection(self, conn) -> None:
        target = load_settings().warehouse
        if not target.is_lake:
            raise lake.LakeError(
                "[dbt] the ducklake target needs CROSSWIND_WAREHOUSE_BACKEND=ducklake"
            )
        try:
            lake.prepare(conn, target)
        except Exception as exc:
            raise lake.LakeError(
                f"[ducklake] cannot prepare {lake.describe(target)} for dbt: "
                f"{lake.redact(str(exc), target)}"
            ) from None
