"""One meaning of "fresh" in the UI: the freshness policy says an asset was refreshed on schedule;
the data's own age is a check named for it, and each says which it is."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.defs.automation.schedules import FRESHNESS_POLICY, FRESHNESS_POLICY_MEANING
from orchestration.lib.quality import CHECKS, GX
from orchestration.lib.raw_tables import SOURCE_TABLES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graph():
    from orchestration.definitions import defs

    return defs().resolve_asset_graph()


def test_every_policy_says_it_means_refreshed_on_schedule(graph):
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            assert node.freshness_policy == FRESHNESS_POLICY, key
            assert node.metadata["freshness_policy"] == FRESHNESS_POLICY_MEANING, key
    assert FRESHNESS_POLICY_MEANING.startswith("Refreshed on schedule")


def test_the_data_age_check_is_named_and_described_as_data_age(graph):
    names = {key.name for key in graph.asset_check_keys}
    # no check may be called plain "freshness" next to the freshness policy
    assert not {n for n in names if "fresh" in n}, names
    for table in SOURCE_TABLES.values():
        spec = graph.get_check_spec(
            dg.AssetCheckKey(dg.AssetKey([table.schema, table.table]), "data_age_within_limit")
        )
        assert spec.description.startswith("The data's own age, not the refresh schedule")
        assert "freshness policy" in spec.description and not spec.blocking


def test_raw_gates_say_which_are_great_expectations(graph):
    fred = dg.AssetKey(["raw_fred", "observations"])
    engines = {
        key.name: graph.get_check_spec(key).metadata["engine"]
        for key in graph.asset_check_keys
        if key.asset_key == fred and key.name in {c.name for c in CHECKS}
    }
    assert {n for n, e in engines.items() if e == GX} == {
        "unique_keys",
        "no_dates_before_start",
        "magnitude_in_range",
        "plausible_changes",
        "missing_share",
    }
    spec = graph.get_check_spec(dg.AssetCheckKey(fred, "unique_keys"))
    assert spec.description.endswith(
        "[Great Expectations, on the batch before the write; an ERROR blocks it]"
    )
    # dbt tests on the same raw asset say they are dbt tests
    dbt_engines = {
        graph.get_check_spec(key).metadata["engine"]
        for key in graph.asset_check_keys
        if key.asset_key == fred and key.name not in engines
    }
    assert dbt_engines and all(e.startswith("dbt test (") for e in dbt_engines)
