"""bench/bi_latency.py: the cookbook's dashboard queries are found, run and timed like BI does."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import duckdb
import pytest

from bench.bi_latency import (
    cookbook_queries,
    main,
    measure,
    percentile,
    queries_from_markdown,
    split_statements,
)
from orchestration.lib import serving
from tests.serving.synthetic_marts import build_synthetic_warehouse

REPO_ROOT = Path(__file__).resolve().parents[2]
COOKBOOK = REPO_ROOT / "docs" / "bi_cookbook.md"
STARTER_COUNT = 9  # "## Starter queries" in docs/bi_cookbook.md numbers its queries 1..9


# --- parsing ------------------------------------------------------------------------------------


def test_cookbook_still_has_its_dashboard_queries():
    queries = cookbook_queries(COOKBOOK)
    numbered = {int(m.group(1)): name for name in queries if (m := re.match(r"(\d+)_", name))}
    assert sorted(numbered) == list(range(1, STARTER_COUNT + 1)), queries.keys()
    assert "1_kpi_tiles" in queries
    # The meta queries and the CLI's plain dashboard query are measured too.
    assert any("meta.publish_info" in sql for sql in queries.values())
    assert any(re.fullmatch(r"SELECT \* FROM bi\.dashboard_latest;?", s) for s in queries.values())
    for name, sql in queries.items():
        assert re.match(r"(SELECT|WITH|FROM)\b", sql, re.I), (name, sql)
        assert re.search(r"\b(bi|marts|meta)\.\w+", sql), (name, sql)
        assert not re.search(r"^\s*\.", sql, re.M), f"dot-command kept in {name}"
        assert ";" not in sql.rstrip(";"), f"{name} holds more than one statement"


def test_cookbook_default_path_works_from_any_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert cookbook_queries() == cookbook_queries(COOKBOOK)


MARKDOWN = """\
# Title

```sh
duckdb -readonly x.duckdb
```

## Setup

```sql
INSTALL httpfs; LOAD httpfs;
ATTACH '/srv/x.duckdb' AS x (READ_ONLY);
SET threads = 2;
```

## Two in one block

```SQL
-- Tiles: the headline
SELECT 'a;b' AS s, "odd;name" FROM bi.tiles;   -- a trailing note, not the next name
SELECT * FROM meta.tables;
/* Block comment name */ WITH t AS (SELECT 1 AS x) SELECT * FROM t
```

## CLI

```sql
.tables
.mode markdown
SELECT * FROM bi.tiles;
select  *  from   bi.other
```

Nested example, not a query block of this document:

````markdown
```sql
SELECT * FROM nested.never
```
````

1. In a list:

   `sources/app/net_liquidity.sql`:

   ```sql
   FROM bi.net ORDER BY date
   ```

```sql
-- Tiles
SELECT 2 FROM bi.again
```
"""


def test_parsing_splits_names_and_skips_non_queries():
    queries = queries_from_markdown(MARKDOWN)
    assert queries == {
        "tiles": "SELECT 'a;b' AS s, \"odd;name\" FROM bi.tiles",
        "two_in_one_block_meta_tables": "SELECT * FROM meta.tables",
        "block_comment_name": "WITH t AS (SELECT 1 AS x) SELECT * FROM t",
        "cli_bi_tiles": "SELECT * FROM bi.tiles",
        "cli_bi_other": "select  *  from   bi.other",
        "cli_net_liquidity": "FROM bi.net ORDER BY date",
        "tiles_2": "SELECT 2 FROM bi.again",
    }


def test_a_query_repeated_verbatim_is_measured_once():
    md = "```sql\n-- A\nSELECT 1 FROM t;\n```\n\n```sql\n-- B\nSELECT 1\n  FROM t\n```\n"
    assert queries_from_markdown(md) == {"a": "SELECT 1 FROM t"}


def test_split_statements_keeps_comments_inside_a_statement():
    assert split_statements("-- lead\nSELECT 1 -- inside; not a split\n, 2;\n/* c */") == [
        ("lead", "SELECT 1 -- inside; not a split\n, 2")
    ]


def test_percentile_is_nearest_rank():
    samples = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(samples, 50) == 3.0
    assert percentile(samples, 95) == 5.0
    assert percentile(samples, 20) == 1.0
    assert percentile(samples, 0) == 1.0
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([], 50) is None


# --- measuring ----------------------------------------------------------------------------------


def _add_marts_the_synthetic_build_lacks(build: Path) -> None:
    """Rows in fct_margin_event_summary and fct_valuation_monthly (created empty from their
    contracts by the synthetic build), in the columns the cookbook reads."""
    con = duckdb.connect(str(build))
    try:
        con.execute(
            """INSERT INTO marts.fct_margin_event_summary BY NAME
            SELECT product, 'fixed_usd' AS margin_regime, 'any' AS change_kind, event_group,
                   3 AS n_events, 0.01 AS avg_fwd_return_20d
            FROM (SELECT unnest(['GC', 'SI']) AS product),
                 (SELECT unnest(['all_days', 'hike']) AS event_group)"""
        )
        con.execute(
            """INSERT INTO marts.fct_valuation_monthly BY NAME
            SELECT (DATE '1990-01-01' + INTERVAL (i) MONTH)::DATE AS month,
                   25.0 + i / 100 AS cape, 0.5 AS cape_z_30y, 0.7 AS cape_pctile_30y,
                   20.0 AS trailing_pe, 0.3 AS trailing_pe_z_30y,
                   0.4 AS trailing_pe_robust_z_30y, 150.0 AS buffett_indicator_pct
            FROM range(430) t(i)"""
        )
    finally:
        con.close()


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """A serving copy published by the real publisher from a small synthetic build."""
    folder = tmp_path_factory.mktemp("bi_latency") / "warehouse"
    build = build_synthetic_warehouse(folder / "crosswind.duckdb", days=300)
    _add_marts_the_synthetic_build_lacks(build)
    return serving.publish(build).path


def test_every_cookbook_query_runs_on_a_published_copy(published):
    queries = cookbook_queries(COOKBOOK)
    report = measure(published, queries, rounds=3)
    assert report["errors"] == [] and report["error_count"] == 0
    assert report["rounds"] == 3
    assert set(report["queries"]) == set(queries)
    for name, stats in report["queries"].items():
        assert stats["runs"] == 3, name
        assert stats["rows"] is not None and stats["rows"] >= 0, name
        assert 0 <= stats["p50_ms"] <= stats["p95_ms"] <= stats["max_ms"], name
    assert report["queries"]["1_kpi_tiles"]["rows"] == 1
    assert report["connect_ms"]["p50"] <= report["connect_ms"]["p95"] <= report["connect_ms"]["max"]
    assert report["all"]["p50_ms"] <= report["all"]["p95_ms"]
    assert report["percentile_method"] == "nearest-rank"


def test_a_failing_query_is_recorded_not_raised(tmp_path):
    path = tmp_path / "tiny.duckdb"
    duckdb.connect(str(path)).close()
    report = measure(path, {"ok": "SELECT 42", "bad": "SELECT * FROM nope"}, rounds=2)
    assert report["rounds"] == 2 and report["error_count"] == 2
    assert {e["query"] for e in report["errors"]} == {"bad"}
    assert "nope" in report["errors"][0]["error"]
    assert report["queries"]["ok"]["runs"] == 2 and report["queries"]["ok"]["rows"] == 1
    assert report["queries"]["bad"]["runs"] == 0 and report["queries"]["bad"]["p50_ms"] is None


def test_a_kept_connection_serves_every_round_until_a_query_fails(tmp_path):
    """keep_connection: one connect for all rounds (a BI pool); a failure drops it."""
    path = tmp_path / "tiny.duckdb"
    duckdb.connect(str(path)).close()
    opened = []

    def connect():
        con = duckdb.connect(str(path), read_only=True)
        opened.append(con)
        return con

    report = measure(path, {"ok": "SELECT 42"}, rounds=5, connect=connect, keep_connection=True)
    assert len(opened) == 1 and report["queries"]["ok"]["runs"] == 5
    with pytest.raises(duckdb.ConnectionException):
        opened[0].execute("SELECT 1")  # closed when measure returned

    flaky = {"ok": "SELECT 42", "bad": "SELECT * FROM nope"}
    report = measure(path, flaky, rounds=3, connect=connect, keep_connection=True)
    assert len(opened) == 1 + 3  # every round's failure dropped its connection
    assert report["error_count"] == 3 and report["queries"]["ok"]["runs"] == 3


def test_measure_in_a_thread_stops_and_records_a_missing_file(tmp_path):
    stop = threading.Event()
    out: dict = {}
    missing = tmp_path / "gone" / "serving.duckdb"

    def run() -> None:
        out["report"] = measure(missing, {"q": "SELECT 1"}, rounds=1_000_000, stop=stop)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    time.sleep(0.2)
    assert worker.is_alive(), "with a stop event, measure runs until the event is set"
    stop.set()
    worker.join(timeout=5)
    assert not worker.is_alive()
    report = out["report"]
    assert report["rounds"] >= 1
    assert report["error_count"] >= 1
    assert report["errors"][0]["query"] is None  # the connect failed
    assert report["queries"]["q"]["runs"] == 0
    assert report["connect_ms"]["p50"] is None


def test_a_stop_already_set_still_runs_one_round(published):
    stop = threading.Event()
    stop.set()
    report = measure(published, {"q": "SELECT * FROM bi.dashboard_latest"}, stop=stop)
    assert report["rounds"] == 1 and report["error_count"] == 0
    assert report["queries"]["q"]["runs"] == 1


def test_cli_prints_json_and_a_table(published, capsys):
    assert main([str(published), "--rounds", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rounds"] == 1 and set(report["queries"]) == set(cookbook_queries(COOKBOOK))
    assert main([str(published), "--rounds", "1"]) == 0
    table = capsys.readouterr().out
    assert "1_kpi_tiles" in table and "p95 ms" in table


# --- reading a DuckLake directly ----------------------------------------------------------------


def test_lake_queries_leave_out_only_what_reads_the_serving_copys_meta():
    from bench.bi_latency import lake_queries

    queries = cookbook_queries(COOKBOOK)
    kept = lake_queries(queries)
    left_out = set(queries) - set(kept)
    assert left_out and all(
        "meta." in queries[name] or "bi.input_health" in queries[name] for name in left_out
    )
    assert not any("meta." in sql or "bi.input_health" in sql for sql in kept.values())
    assert "1_kpi_tiles" in kept and "4_correlation_heatmap_60_day_window" in kept


def test_a_lake_reader_sees_the_serving_names_over_the_lakes_marts(tmp_path, monkeypatch):
    """The reader lays `marts.*` and the `bi` views over the lake's marts, leaves out the views
    over `meta.*`, and measure() times it like a file: rows as committed, no errors."""
    from bench.bi_latency import lake_reader
    from orchestration.lib import lake
    from orchestration.lib.settings import load_settings

    monkeypatch.setattr(
        serving,
        "BI_VIEWS",
        {name: serving.BI_VIEWS[name] for name in ("as_of", "dashboard_latest", "input_health")},
    )
    target = load_settings(
        {
            "CROSSWIND_WAREHOUSE_DIR": str(tmp_path / "wh"),
            "CROSSWIND_WAREHOUSE_BACKEND": "ducklake",
        }
    ).warehouse
    con = lake.connect(target)
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.mart_market_dashboard_daily AS SELECT * FROM (VALUES "
        "(DATE '2026-11-26', 1.5, 6000.0), (DATE '2026-11-27', 1.7, 6010.0), "
        "(DATE '2026-11-28', NULL, 6020.0)) t(date, stress_score, sp500_close)"
    )
    con.close()

    reader = lake_reader(target)
    con = reader()
    try:
        assert con.execute("SELECT as_of_date FROM bi.as_of").fetchone()[0].isoformat() == (
            "2026-11-27"
        )
        views = {
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE schema_name = 'bi'"
            ).fetchall()
        }
        assert views == {"as_of", "dashboard_latest"}
    finally:
        con.close()
    report = measure(
        lake.describe(target),
        {
            "latest": "SELECT * FROM bi.dashboard_latest",
            "all": "SELECT * FROM marts.mart_market_dashboard_daily",
        },
        rounds=2,
        connect=reader,
    )
    assert report["error_count"] == 0, report["errors"]
    assert report["queries"]["latest"]["rows"] == 1 and report["queries"]["all"]["rows"] == 3
    assert report["serving_path"].startswith("DuckLake (catalog file")
