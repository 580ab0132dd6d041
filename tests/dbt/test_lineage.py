"""Lineage answers "what feeds this mart?": each mart's upstream raw assets are its real sources.

Every series goes through the same point-in-time macros, but rendered per source
(int_<source>__observations_published, int_<source>__series_asof_daily), so a mart depends on the
raw tables of the sources it reads and on the catalog (raw_meta), nothing else.
"""

from __future__ import annotations

import dagster as dg
import pytest
import yaml

from orchestration.lib.catalog import load_catalog
from tests.support.snapshot import DBT_DIR

pytestmark = pytest.mark.slow

FRED = dg.AssetKey(["raw_fred", "observations"])
TREASURY = dg.AssetKey(["raw_treasury", "operating_cash_balance"])
MOF = dg.AssetKey(["raw_mof", "jgb_yields"])
MARKET = dg.AssetKey(["raw_market", "daily_bars"])
SHILLER = dg.AssetKey(["raw_shiller", "monthly"])
DROPS = dg.AssetKey(["raw_drops", "observations"])
OFR = dg.AssetKey(["raw_ofr", "financial_stress_index"])
CME = dg.AssetKey(["raw_cme", "margin_changes"])


@pytest.fixture(scope="module")
def asset_graph(dbt_manifest_path):
    from orchestration.definitions import defs

    return defs().resolve_asset_graph()


def upstream_raw(graph, key: dg.AssetKey) -> tuple[set[dg.AssetKey], set[dg.AssetKey]]:
    """(raw source tables, raw_meta catalog tables) upstream of `key`, transitively."""
    seen, todo = set(), [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    raw = {k for k in seen if k.path[0].startswith("raw_")}
    meta = {k for k in raw if k.path[0] == "raw_meta"}
    return raw - meta, meta


def test_net_liquidity_reads_only_fred_treasury_and_the_catalog(asset_graph):
    from orchestration.defs.ingestion.catalog.assets import series_catalog

    sources, meta = upstream_raw(asset_graph, dg.AssetKey(["marts", "fct_net_liquidity_daily"]))
    assert sources == {FRED, TREASURY}
    assert meta <= set(series_catalog.keys)  # the tables written from orchestration/catalog.yaml
    assert {"series_catalog", "unit_labels", "calendars", "calendar_holidays"} <= {
        k.path[1] for k in meta
    }


@pytest.mark.parametrize(
    ("mart", "expected"),
    [
        ("fct_net_liquidity_weekly", {FRED, TREASURY}),
        ("fct_funding_stress_daily", {FRED, MOF, MARKET}),
        ("fct_valuation_monthly", {SHILLER, FRED, DROPS}),
        ("fct_labor_monthly", {FRED, DROPS}),
        ("fct_asset_returns_daily", {MARKET, FRED}),
        ("fct_margin_events", {CME, MARKET, FRED}),
        ("fct_liquidity_pillars_daily", {FRED, TREASURY, MOF, MARKET}),
        ("fct_stress_scorecard", {FRED, TREASURY, MOF, MARKET, OFR}),
    ],
)
def test_each_mart_reads_only_its_own_sources(asset_graph, mart, expected):
    sources, _ = upstream_raw(asset_graph, dg.AssetKey(["marts", mart]))
    assert sources == expected


def test_pit_series_are_listed_under_their_catalog_source():
    """var pit_daily_series groups series by source: a series under the wrong source would find
    no rows in that source's as-of model, and its mart columns would be silently NULL."""
    pit = yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text())["vars"]["pit_daily_series"]
    catalog = load_catalog()
    wrong = {
        series: (source, catalog.series[series].source if series in catalog.series else None)
        for source, ids in pit.items()
        for series in ids
        if series not in catalog.series or catalog.series[series].source != source
    }
    assert not wrong, f"series listed under another source than the catalog's: {wrong}"
    models = {p.stem for p in (DBT_DIR / "models" / "intermediate" / "series").glob("*.sql")}
    assert {f"int_{source}__series_asof_daily" for source in pit} <= models
