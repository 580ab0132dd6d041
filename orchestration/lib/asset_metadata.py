"""What a table asset shows in the Dagster UI: its rows, its dates, its name and its columns.

Materializations carry `dagster/row_count` (Dagster's own key: the UI shows it on the asset and
plots it over runs) and `first_date` / `last_date` (ISO dates) where the table has dates. They
come from ONE query per step over every table the step wrote (all dbt tables after `dbt build`;
a raw asset's tables after its write): a count and a min/max of one date column each, a few
milliseconds per table. dbt views are left out: counting one would run its whole query.

Definitions of the raw assets carry `dagster/table_name` and `dagster/column_schema` (types and
primary key from orchestration/lib/raw_tables.py); dagster-dbt sets both for the dbt models.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

import dagster as dg
import duckdb

from orchestration.lib.raw_tables import DATABASE, RawTable

ROW_COUNT = "dagster/row_count"
FIRST_DATE = "first_date"
LAST_DATE = "last_date"
# On every asset check: what implements it (a dbt test, Great Expectations, pandas, Python).
ENGINE = "engine"


@dataclass(frozen=True)
class TableStats:
    rows: int
    first_date: date | None = None
    last_date: date | None = None

    def metadata(self) -> dict[str, dg.MetadataValue]:
        out: dict[str, dg.MetadataValue] = {ROW_COUNT: dg.MetadataValue.int(self.rows)}
        if self.first_date is not None:
            out[FIRST_DATE] = dg.MetadataValue.text(self.first_date.isoformat())
            out[LAST_DATE] = dg.MetadataValue.text(self.last_date.isoformat())
        return out


# What to measure per table: (relation as SQL, (first, last) date columns or None).
Measured = tuple[str, tuple[str, str] | None]
K = TypeVar("K", bound=Hashable)


def table_stats(
    con: duckdb.DuckDBPyConnection, tables: Mapping[K, Measured]
) -> dict[K, TableStats]:
    """Row count and first/last date of every table, in one query.

    first_date = min of the first column, last_date = max of the second (usually the same
    column; a summary table may name its first_* / last_* pair)."""
    if not tables:
        return {}
    keys = list(tables)
    parts = []
    for i, key in enumerate(keys):
        relation, dates = tables[key]
        span = f'min("{dates[0]}")::DATE, max("{dates[1]}")::DATE' if dates else "NULL, NULL"
        parts.append(f"SELECT {i} AS i, count(*) AS n, {span} FROM {relation}")
    rows = con.execute(" UNION ALL ".join(parts)).fetchall()
    return {keys[i]: TableStats(n, first, last) for i, n, first, last in rows}


def raw_table_name(table: RawTable) -> str:
    """The table's name as dbt names its relations (database.schema.table)."""
    return f"{DATABASE}.{table.schema}.{table.table}"


def column_schema(table: RawTable) -> dg.TableSchema:
    key = set(table.key)
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name,
                ddl,
                constraints=dg.TableColumnConstraints(nullable=name not in key),
            )
            for name, ddl in table.all_columns
        ],
        constraints=dg.TableConstraints(other=[f"primary key ({', '.join(table.key)})"]),
    )


def raw_definition_metadata(table: RawTable) -> dict[str, object]:
    """Definition metadata of a raw asset: what the UI shows before anything is loaded."""
    return {
        "dagster/table_name": raw_table_name(table),
        "dagster/column_schema": column_schema(table),
    }


def raw_stats(con: duckdb.DuckDBPyConnection, tables: list[RawTable]) -> dict[RawTable, TableStats]:
    """Row counts and date ranges of raw tables (one query)."""
    return table_stats(con, {t: (t.qualified, t.date_range) for t in tables})


def dbt_tables(manifest: Mapping, unique_ids: list[str]) -> dict[str, Mapping]:
    """The dbt nodes among `unique_ids` that are tables in the warehouse (views left out)."""
    nodes = manifest["nodes"]
    return {
        uid: nodes[uid]
        for uid in unique_ids
        if uid in nodes and nodes[uid]["config"].get("materialized") in ("table", "incremental")
    }


def dbt_table_stats(
    con: duckdb.DuckDBPyConnection, nodes: Mapping[str, Mapping]
) -> dict[str, TableStats]:
    """Rows and date range of built dbt tables, by unique_id: one catalog lookup for the date
    columns, one query for the numbers. The date range is min/max of the table's first DATE
    column, or of the (first, last) pair a model names in `config.meta.date_range`."""
    if not nodes:
        return {}
    schemas = sorted({n["schema"] for n in nodes.values()})
    first_dates: dict[tuple[str, str], str] = {}
    for schema, table, column in con.execute(
        "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
        "WHERE data_type = 'DATE' AND database_name = current_database() "
        "AND list_contains($schemas, schema_name) "
        "ORDER BY schema_name, table_name, column_index",
        {"schemas": schemas},
    ).fetchall():
        first_dates.setdefault((schema, table), column)
    measured: dict[str, Measured] = {}
    for uid, node in nodes.items():
        declared = (node["config"].get("meta") or {}).get("date_range")
        column = first_dates.get((node["schema"], node["alias"]))
        span = tuple(declared) if declared else (column, column) if column else None
        measured[uid] = (node["relation_name"], span)
    return table_stats(con, measured)
