"""Checks a person can read: every asset check says what it asserts, and dbt tests with
arguments carry a readable name instead of dbt's generated one
(`value_between_fct_net_liquidity_daily_net_liquidity_z_1y__25___25`)."""

from __future__ import annotations

import json

import pytest

from orchestration.lib.dbt_translator import describe_test

# dbt's generated names start with the test's name (source tests with "source_"); a test whose
# only argument is the column (not_null, unique) keeps it: `not_null_<model>_<column>` reads.
ARGUMENT_KEYS_THAT_NAME_NOTHING = {"column_name", "model"}


def test_dbt_tests_with_arguments_have_readable_names(dbt_manifest_path):
    manifest = json.loads(dbt_manifest_path.read_text())
    generated = []
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        kind, kwargs = meta.get("name"), meta.get("kwargs") or {}
        if not kind or set(kwargs) <= ARGUMENT_KEYS_THAT_NAME_NOTHING:
            continue
        if node["name"].startswith((f"{kind}_", f"source_{kind}_")):
            generated.append(f"{node['original_file_path']}: {node['name']}")
    assert not generated, "give these dbt tests a `name:` that says what holds:\n" + "\n".join(
        generated
    )


@pytest.mark.slow
def test_every_asset_check_has_a_description(dbt_manifest_path):
    from orchestration.definitions import defs

    graph = defs().resolve_asset_graph()
    missing = [
        key.to_user_string()
        for key in graph.asset_check_keys
        if not (graph.get_check_spec(key).description or "").strip()
    ]
    assert graph.asset_check_keys and not missing, missing


def _test(kind=None, description="", severity="error", **kwargs):
    node = {
        "description": description,
        "config": {"severity": severity, "meta": {}},
        "original_file_path": "tests/assert_x.sql",
    }
    if kind:
        node["test_metadata"] = {"name": kind, "kwargs": {"model": "{{ ref('m') }}", **kwargs}}
    return node


def test_descriptions_say_what_holds():
    assert describe_test(_test("value_between", column_name="z", min_value=-25, max_value=25)) == (
        "`z` lies between -25 and 25, inclusive (NULL passes)."
    )
    assert (
        describe_test(
            _test(
                "relationships",
                column_name="series_id",
                to="ref('stg_meta__series_catalog')",
                field="series_id",
            )
        )
        == "Every `series_id` exists as stg_meta__series_catalog.series_id (NULL passes)."
    )
    assert describe_test(_test("unique_combination", columns=["date", "asset"])) == (
        "One row per (date, asset)."
    )
    assert describe_test(_test("not_null", column_name="date")) == "`date` is never NULL."
    # A warn-level test says it stops nothing; a description written in the YAML wins.
    warn = describe_test(_test("accepted_values", severity="warn", column_name="k", values=["a"]))
    assert warn.endswith("Severity warn: reported, nothing downstream is stopped.")
    assert describe_test(_test("not_null", description="Said  by\n a person.")) == (
        "Said by a person."
    )
    assert describe_test(_test()).startswith("Singular test tests/assert_x.sql")
