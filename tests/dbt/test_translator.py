"""The dbt <-> Dagster seam: raw source keys equal the Python asset keys, groups and owners."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from orchestration.lib.dbt_translator import (
    CrosswindDbtTranslator,
    build_dbt_args,
    layer_of,
    make_translator,
    owners_of,
)
from orchestration.lib.raw_tables import ALL_TABLES

RAW_KEYS = {dg.AssetKey([t.schema, t.table]) for t in ALL_TABLES}


def _specs(manifest_path) -> dict[str, dg.AssetSpec]:
    from orchestration.defs.transform.project import dbt_project

    manifest = json.loads(manifest_path.read_text())
    translator = make_translator()
    ids = [*manifest["sources"], *manifest["nodes"]]
    return {
        uid: translator.get_asset_spec(manifest, uid, dbt_project())
        for uid in ids
        if uid.startswith(("source.", "model."))
    }


def test_build_args_always_build():
    assert build_dbt_args() == ["build"]
    assert build_dbt_args(select=["fct_a"], exclude=["b"]) == [
        "build",
        "--select",
        "fct_a",
        "--exclude",
        "b",
    ]


def test_build_args_pass_vars_as_json():
    args = build_dbt_args(dbt_vars={"extra_assets": [], "correlation_windows": [20]})
    assert args[:2] == ["build", "--vars"]
    assert json.loads(args[2]) == {"extra_assets": [], "correlation_windows": [20]}


def test_dbt_vars_config_rejects_bad_json():
    from orchestration.defs.transform.assets import DbtBuildConfig, dbt_vars

    assert dbt_vars(DbtBuildConfig()) == {}
    assert dbt_vars(DbtBuildConfig(vars_json='{"a": 1}')) == {"a": 1}
    for bad in ("{not json", "[1, 2]"):
        with pytest.raises(dg.Failure, match="vars_json"):
            dbt_vars(DbtBuildConfig(vars_json=bad))


def test_layer_and_owners_from_props():
    model = {
        "resource_type": "model",
        "fqn": ["crosswind", "marts", "liquidity", "fct_net_liquidity_daily"],
        "config": {"meta": {"dagster": {"owners": ["team:x"]}}},
    }
    assert layer_of(model) == "marts"
    assert owners_of(model) == ["team:x"]
    assert layer_of({"resource_type": "source", "fqn": ["crosswind", "raw_fred", "obs"]}) is None
    assert owners_of({"config": {}}) == ["team:analytics"]


def test_source_keys_equal_python_raw_asset_keys(dbt_manifest_path):
    specs = _specs(dbt_manifest_path)
    source_keys = {spec.key for uid, spec in specs.items() if uid.startswith("source.")}
    # Regression cases named explicitly: these are the joins the lineage graph depends on.
    assert dg.AssetKey(["raw_fred", "observations"]) in source_keys
    assert dg.AssetKey(["raw_treasury", "operating_cash_balance"]) in source_keys
    assert dg.AssetKey(["raw_meta", "series_catalog"]) in source_keys
    assert source_keys == RAW_KEYS, (
        f"dbt sources not written by ingestion: {sorted(map(str, source_keys - RAW_KEYS))}; "
        f"raw tables without a dbt source: {sorted(map(str, RAW_KEYS - source_keys))}"
    )


def test_model_keys_groups_and_owners(dbt_manifest_path):
    specs = _specs(dbt_manifest_path)
    by_key = {spec.key: spec for uid, spec in specs.items() if uid.startswith("model.")}
    for key in (
        ["marts", "fct_net_liquidity_daily"],
        ["marts", "fct_net_liquidity_weekly"],
        ["marts", "fct_funding_stress_daily"],
        ["marts", "fct_liquidity_pillars_daily"],
        ["marts", "fct_labor_monthly"],
        ["marts", "mart_market_dashboard_daily"],
        ["intermediate", "int_fred__series_asof_daily"],
        ["staging", "stg_fred__observations"],
    ):
        spec = by_key[dg.AssetKey(key)]
        assert spec.group_name == key[0]
        assert spec.owners
    stg = by_key[dg.AssetKey(["staging", "stg_fred__observations"])]
    assert dg.AssetKey(["raw_fred", "observations"]) in {dep.asset_key for dep in stg.deps}


def test_translator_is_the_project_subclass():
    assert isinstance(make_translator(), CrosswindDbtTranslator)
    assert make_translator().settings.enable_source_tests_as_checks


@pytest.mark.slow
def test_definitions_join_raw_and_dbt_assets(dbt_manifest_path):
    """Every dbt source is produced by a Python ingestion asset in the loaded code location."""
    from orchestration.definitions import defs

    graph = defs().resolve_asset_graph()
    materializable = {key for key in graph.get_all_asset_keys() if graph.get(key).is_materializable}
    assert RAW_KEYS <= materializable
    net = graph.get(dg.AssetKey(["marts", "fct_net_liquidity_daily"]))
    assert net.group_name == "marts"
    checks = {
        c.name for c in graph.asset_check_keys if c.asset_key.path == ["raw_fred", "observations"]
    }
    assert "one_row_per_series_id_date" in checks, checks  # a dbt source test, as an asset check


def test_old_dbt_run_targets_are_pruned(tmp_path):
    import os

    from orchestration.defs.transform.assets import prune_run_targets

    for i in range(8):
        run = tmp_path / f"crosswind_dbt_models-{i:07d}-abc"
        run.mkdir()
        (run / "run_results.json").write_text("{}")
        os.utime(run, (1_000 + i, 1_000 + i))
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "other-run").mkdir()

    removed = prune_run_targets(tmp_path, "crosswind_dbt_models-", keep=3)

    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [
        "crosswind_dbt_models-0000005-abc",
        "crosswind_dbt_models-0000006-abc",
        "crosswind_dbt_models-0000007-abc",
        "manifest.json",
        "other-run",
    ]
    assert len(removed) == 5


def test_a_runs_newer_parse_state_becomes_the_next_runs_seed(tmp_path):
    import os

    from orchestration.defs.transform.assets import keep_partial_parse

    project_target, run_target = tmp_path / "target", tmp_path / "target" / "run-1"
    run_target.mkdir(parents=True)
    kept = project_target / "partial_parse.msgpack"
    kept.write_bytes(b"old")
    os.utime(kept, (1_000, 1_000))
    (run_target / "partial_parse.msgpack").write_bytes(b"new")
    os.utime(run_target / "partial_parse.msgpack", (2_000, 2_000))

    assert keep_partial_parse(run_target, project_target)
    assert kept.read_bytes() == b"new"
    # The copy is now as new as the run's file: nothing to do a second time.
    assert not keep_partial_parse(run_target, project_target)
    # A run that wrote no parse state (failed early) leaves the seed alone.
    assert not keep_partial_parse(tmp_path / "missing", project_target)
    assert kept.read_bytes() == b"new"


def test_every_raw_table_tested_in_dbt_gets_real_asset_checks(dbt_manifest_path):
    """dagster-dbt makes a source's tests asset checks only when some model reads the source;
    otherwise their results arrive as bare observations. raw_fred/series_metadata is read by
    stg_fred__series_metadata, so its source tests are checks like every other raw table's."""
    from orchestration.defs.transform.assets import crosswind_dbt_models

    manifest = json.loads(dbt_manifest_path.read_text())
    tested = {
        dg.AssetKey([node["source_name"], node["name"]])
        for uid, node in manifest["sources"].items()
        if any(child.startswith("test.") for child in manifest["child_map"].get(uid, []))
    }
    checked = {key.asset_key for key in crosswind_dbt_models.check_keys}
    assert dg.AssetKey(["raw_fred", "series_metadata"]) in tested
    assert tested <= checked, f"source tests without asset checks: {sorted(tested - checked)}"
