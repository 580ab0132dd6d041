"""Every mart and raw asset shows its rows and dates; raw assets name their table and columns.

The dbt side runs the asset's own post-build step (with_table_stats) over the session's dbt
build of ../shared/snapshot; the raw side reads the session's ingestion of it.
"""

from __future__ import annotations

import json
import logging

import dagster as dg
import duckdb
import pytest

from orchestration.lib.asset_metadata import ROW_COUNT, column_schema, table_stats
from orchestration.lib.raw_tables import ALL_TABLES, CALENDARS, FRED

LOG = logging.getLogger("test")


def _value(entry):
    return getattr(entry, "value", entry)


def _materializations(manifest: dict, resource_type: str = "model") -> list:
    return [
        dg.AssetMaterialization(asset_key=["m", uid.replace(".", "_")], metadata={"unique_id": uid})
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == resource_type
    ]


@pytest.mark.slow
@pytest.mark.integration
def test_every_dbt_table_gets_its_rows_and_dates(snapshot_build, dbt_manifest_path):
    from orchestration.defs.transform.assets import with_table_stats

    warehouse, _ = snapshot_build
    db = warehouse / "crosswind.duckdb"
    manifest = json.loads(dbt_manifest_path.read_text())
    events = list(with_table_stats(iter(_materializations(manifest)), manifest, db, LOG))
    meta = {_value(e.metadata["unique_id"]): e.metadata for e in events}
    con = duckdb.connect(str(db), read_only=True)
    try:
        for uid, node in manifest["nodes"].items():
            if node["resource_type"] != "model":
                continue
            got = meta[uid]
            if node["config"]["materialized"] == "view":
                assert ROW_COUNT not in got, f"{uid}: a view is not counted (it would rerun)"
                continue
            rows = con.execute(f"select count(*) from {node['relation_name']}").fetchone()[0]
            assert got[ROW_COUNT].value == rows, uid
            if node["fqn"][1] == "marts":
                # every mart has a date range: first <= last, both inside the table's dates
                assert rows > 0, uid
                first, last = got["first_date"].value, got["last_date"].value
                assert first <= last, uid
        # the rule: min/max of the first DATE column, or the pair a model declares
        net = meta["model.crosswind.fct_net_liquidity_daily"]
        assert (net["first_date"].value, net["last_date"].value) == tuple(
            str(d)
            for d in con.execute(
                "select min(date), max(date) from marts.fct_net_liquidity_daily"
            ).fetchone()
        )
        summary = meta["model.crosswind.fct_margin_event_summary"]
        assert (summary["first_date"].value, summary["last_date"].value) == tuple(
            str(d)
            for d in con.execute(
                "select min(first_base_date), max(last_base_date) "
                "from marts.fct_margin_event_summary"
            ).fetchone()
        )
    finally:
        con.close()


def test_a_failed_build_still_records_what_it_built(tmp_path):
    """dbt fails after building a table: its materialization is yielded (with its numbers),
    then the failure is raised; check results keep their place after their asset."""
    from orchestration.defs.transform.assets import with_table_stats

    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema marts")
    con.execute("create table marts.t as select date '2026-01-02' + i::int as d from range(3) t(i)")
    con.close()
    manifest = {
        "nodes": {
            "model.p.t": {
                "schema": "marts",
                "alias": "t",
                "relation_name": "marts.t",
                "config": {"materialized": "table", "meta": {}},
            }
        }
    }
    check = dg.AssetCheckResult(asset_key=["marts", "t"], check_name="c", passed=True)

    def dbt_events():
        yield dg.AssetMaterialization(asset_key=["marts", "t"], metadata={"unique_id": "model.p.t"})
        yield check
        raise RuntimeError("a test failed")

    out = []
    with pytest.raises(RuntimeError, match="a test failed"):
        for event in with_table_stats(dbt_events(), manifest, db, LOG):
            out.append(event)
    assert out[1] is check
    assert out[0].metadata[ROW_COUNT].value == 3
    assert (out[0].metadata["first_date"].value, out[0].metadata["last_date"].value) == (
        "2026-01-02",
        "2026-01-04",
    )
    # a warehouse that cannot be read costs the numbers, never the events
    out = list(with_table_stats(iter(out[:1]), manifest, tmp_path / "missing.duckdb", LOG))
    assert len(out) == 1


def test_table_stats_in_one_query_with_and_without_dates():
    con = duckdb.connect()
    con.execute("create table a as select date '2026-03-01' + i::int as d from range(5) t(i)")
    con.execute("create table b (x int)")
    stats = table_stats(con, {"a": ("a", ("d", "d")), "b": ("b", None)})
    assert (stats["a"].rows, str(stats["a"].first_date), str(stats["a"].last_date)) == (
        5,
        "2026-03-01",
        "2026-03-05",
    )
    assert stats["b"].metadata() == {ROW_COUNT: dg.MetadataValue.int(0)}


@pytest.mark.slow
@pytest.mark.integration
def test_every_raw_asset_shows_its_table_rows_and_dates(snapshot_ingestion):
    warehouse, result = snapshot_ingestion
    assert result.success
    by_key = {
        event.asset_key: event.event_specific_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    con = duckdb.connect(str(warehouse / "crosswind.duckdb"), read_only=True)
    try:
        for table in ALL_TABLES:
            meta = by_key[dg.AssetKey([table.schema, table.table])]
            rows = con.execute(f"select count(*) from {table.qualified}").fetchone()[0]
            assert meta[ROW_COUNT].value == rows, table.qualified
            if table.date_range and rows:
                first, last = table.date_range
                expected = con.execute(
                    f"select min({first}), max({last}) from {table.qualified}"
                ).fetchone()
                assert (meta["first_date"].value, meta["last_date"].value) == tuple(
                    map(str, expected)
                ), table.qualified
            else:
                assert "first_date" not in meta, table.qualified
    finally:
        con.close()
    # the FRED observations are loaded and dated: not a vacuous pass
    fred = by_key[dg.AssetKey([FRED.schema, FRED.table])]
    assert fred[ROW_COUNT].value > 100_000 and fred["first_date"].value < "1950-01-01"


@pytest.mark.slow
def test_definitions_name_tables_and_carry_nothing_the_ui_cannot_show(dbt_manifest_path):
    from dagster._core.definitions.metadata import normalize_metadata

    from orchestration.definitions import defs

    graph = defs().resolve_asset_graph()
    for table in ALL_TABLES:
        spec_meta = graph.get(dg.AssetKey([table.schema, table.table])).metadata
        assert spec_meta["dagster/table_name"] == f"crosswind.{table.schema}.{table.table}"
        assert spec_meta["dagster/column_schema"] == column_schema(table)
        assert [c.name for c in column_schema(table).columns] == [n for n, _ in table.all_columns]
    assert column_schema(CALENDARS).constraints.other == ["primary key (calendar)"]
    # The UI hides dagster-dbt's manifest and translator entries; anything else it cannot
    # serialize shows as "[Class] (unserializable)" (it was the DbtProject).
    hidden = {"dagster_dbt/manifest", "dagster_dbt/dagster_dbt_translator"}
    shown_as_unserializable = [
        f"{key.to_user_string()}: {name}"
        for key in graph.get_all_asset_keys()
        for name, value in normalize_metadata(graph.get(key).metadata, allow_invalid=True).items()
        if name not in hidden and "(unserializable)" in str(getattr(value, "value", ""))
    ]
    assert not shown_as_unserializable, shown_as_unserializable
