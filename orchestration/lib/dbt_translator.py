"""How dbt nodes become Dagster assets: groups by dbt layer, owners, keys that join the raw assets.

Keys are dagster-dbt's defaults, on purpose:
- a dbt source is `[source_name, table]`, and each
  `dbt_project/models/staging/<source>/_<source>__sources.yml` names its source after its raw
  schema, so `source('raw_fred', 'observations')` is `["raw_fred", "observations"]`, the key
  of the Python ingestion asset (orchestration/lib/raw_tables.py);
- a model is `[<+schema>, <model>]`, i.e. its DuckDB relation (`["marts", "fct_..."]`), because
  every layer folder sets `+schema` and `generate_schema_name` uses it verbatim.
tests/dbt/test_translator.py pins both.

Every dbt test becomes an asset check whose description says what it asserts: the test's own
`description:` in the dbt YAML when it has one, else one written from the test's arguments
(describe_test). Check names are the dbt test names (dagster-dbt matches results by them), so
a test with arguments gets a readable `name:` in the YAML (tests/dbt/test_check_names.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from orchestration.lib.asset_metadata import ENGINE

# dagster-dbt puts the DbtProject object in every asset's metadata, which the UI can only show as
# "[DbtProject] (unserializable)". Dropped: without it dagster-dbt runs dbt in the resource's
# project_dir, which is the same project (it only loses a selectors.yml shortcut for subsets
# of more than 200 nodes). The manifest and translator entries stay (the UI hides them).
PROJECT_METADATA_KEY = "dagster_dbt/project"

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
        if PROJECT_METADATA_KEY in spec.metadata:
            spec = spec.replace_attributes(
                metadata={k: v for k, v in spec.metadata.items() if k != PROJECT_METADATA_KEY}
            )
        props = self.get_resource_props(manifest, unique_id)
        layer = layer_of(props)
        if layer is None:
            return spec
        return spec.replace_attributes(group_name=layer, owners=owners_of(props)).merge_attributes(
            tags={"layer": layer}
        )

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        test = manifest["nodes"][unique_id]
        kind = (test.get("test_metadata") or {}).get("name")
        return dg.AssetCheckSpec(
            spec.name,
            asset=spec.asset_key,
            description=describe_test(test),
            additional_deps=spec.additional_deps,
            blocking=spec.blocking,
            metadata={
                **spec.metadata,
                ENGINE: f"dbt test ({kind})" if kind else "dbt test (singular)",
            },
            automation_condition=spec.automation_condition,
        )


def _readable(value: Any) -> str:
    """A test argument as a person reads it: ref('x') / source('a', 'b') -> x / a.b."""
    text = str(value)
    text = re.sub(r"\{\{\s*(.*?)\s*\}\}", r"\1", text)
    text = re.sub(r"ref\('([^']+)'\)", r"\1", text)
    return re.sub(r"source\('([^']+)',\s*'([^']+)'\)", r"\1.\2", text)


def describe_test(test: Mapping[str, Any]) -> str:
    """What a dbt test asserts, in a sentence: its YAML `description:`, else from its arguments."""
    config = test.get("config") or {}
    written = test.get("description") or (config.get("meta") or {}).get("description")
    warn = (config.get("severity") or "error").lower() == "warn"
    suffix = " Severity warn: reported, nothing downstream is stopped." if warn else ""
    if written:
        return " ".join(str(written).split()) + suffix
    meta = test.get("test_metadata") or {}
    kwargs = meta.get("kwargs") or {}
    column = kwargs.get("column_name") or test.get("column_name")
    col = f"`{column}`" if column else "every row"
    kind = meta.get("name")
    if kind == "not_null":
        text = f"{col} is never NULL."
    elif kind == "unique":
        text = f"No two rows share a {col}."
    elif kind == "accepted_values":
        values = kwargs.get("values")
        shown = ", ".join(map(str, values)) if isinstance(values, list) else _readable(values)
        text = f"{col} only takes the values {shown} (NULL passes)."
    elif kind == "relationships":
        target = f"{_readable(kwargs.get('to'))}.{kwargs.get('field')}"
        text = f"Every {col} exists as {target} (NULL passes)."
    elif kind == "value_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        if low is not None and high is not None:
            text = f"{col} lies between {low} and {high}, inclusive (NULL passes)."
        elif low is not None:
            text = f"{col} is at least {low} (NULL passes)."
        else:
            text = f"{col} is at most {high} (NULL passes)."
    elif kind == "value_in_catalog_range":
        text = (
            f"{col} lies in the plausible range of {kwargs.get('series_id')} in "
            "orchestration/catalog.yaml (NULL passes)."
        )
    elif kind == "unique_combination":
        text = f"One row per ({', '.join(kwargs.get('columns') or [])})."
    elif kind == "expression_is_true":
        expression = " ".join(str(kwargs.get("expression")).split())
        subject = f"{col} {expression}" if column else expression
        text = f"`{subject}` holds on every row (NULL passes)."
    elif kind:
        args = ", ".join(f"{k}={_readable(v)}" for k, v in kwargs.items() if k != "model")
        text = f"dbt test {kind}({args})."
    else:
        text = f"Singular test {test.get('original_file_path')}: passes when it returns no rows."
    return text + suffix


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
