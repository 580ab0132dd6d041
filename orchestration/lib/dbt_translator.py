"""How dbt nodes become Dagster assets: groups by dbt layer, owners, keys that join the raw assets.

Keys are dagster-dbt's defaults, on purpose:
- a dbt source is `[source_name, table]`, and each
  `dbt_project/models/staging/<source>/_<source>__sources.yml` names its source after its raw
  schema, so `source('raw_fred', 'observations')` is `["raw_fred", "observations"]`, the key
  of the Python ingestion asset (orchestration/lib/raw_tables.py);
- a model is `[<+schema>, <model>]`, i.e. its DuckDB relation (`["marts", "fct_..."]`), because
  every layer folder sets `+schema` and `generate_schema_name` uses it verbatim.
tests/dbt/test_translator.py pins both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

LAYERS = ("staging", "intermediate", "marts")
DEFAULT_OWNERS = ("team:analytics",)


def layer_of(resource_props: Mapping[str, Any]) -> str | None:
    """The dbt layer folder of a node (`models/<layer>/...`), or None for sources and others."""
    if resource_props.get("resource_type") not in ("model", "seed", "snapshot"):
        return None
    fqn = resource_props.get("fqn") or []
    # fqn = [project, layer, ..., name]
    if len(fqn) >= 3 and fqn[1] in LAYERS:
        return fqn[1]
    return None


def owners_of(resource_props: Mapping[str, Any]) -> list[str]:
    """Owners from `config.meta.dagster.owners` (set per folder in dbt_project.yml)."""
    meta = (resource_props.get("config") or {}).get("meta") or resource_props.get("meta") or {}
    owners = (meta.get("dagster") or {}).get("owners")
    return list(owners) if owners else list(DEFAULT_OWNERS)


class CrosswindDbtTranslator(DagsterDbtTranslator):
    """Groups dbt models by layer and sets owners; leaves the default keys in place."""

    def get_asset_spec(
        self,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        layer = layer_of(props)
        if layer is None:
            return spec
        return spec.replace_attributes(group_name=layer, owners=owners_of(props)).merge_attributes(
            tags={"layer": layer}
        )


def make_translator() -> CrosswindDbtTranslator:
    """The translator used by the dbt assets: dbt tests (on models and sources) are asset checks."""
    return CrosswindDbtTranslator(
        settings=DagsterDbtTranslatorSettings(
            enable_asset_checks=True,
            enable_source_tests_as_checks=True,
        )
    )


def build_dbt_args(
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    dbt_vars: Mapping[str, Any] | None = None,
) -> list[str]:
    """The dbt command the assets run: always `build` (models + tests, tests gate downstream)."""
    args = ["build"]
    if dbt_vars:
        args += ["--vars", json.dumps(dict(dbt_vars), sort_keys=True)]
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    return args
