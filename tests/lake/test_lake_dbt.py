"""The real dbt project on a DuckLake with a PostgreSQL catalog: the same marts as the DuckDB file.

The raw tables of the real snapshot (loaded once per session into a DuckDB file by the shared
fixture) are copied into a fresh lake; `dbt build` runs with the `ducklake` target (every model,
contract and data test); the serving copy and its exports are published from the lake; a BI
reader opens the lake at the snapshot the publish recorded. Row counts and every numeric column
agree with the build on the DuckDB file.
"""

from __future__ import annotations

import math
import uuid

import duckdb
import pytest

from orchestration.lib import lake, serving, warehouse
from orchestration.lib.settings import load_settings
from tests.support.snapshot import dbt_build, environment

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _copy_raw(source_file, target) -> None:
    con = warehouse.connect(target)
    try:
        con.execute(f"ATTACH '{source_file}' AS src (READ_ONLY)")
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'src'"
        ).fetchall()
        for schema, table in tables:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            con.execute(f'CREATE TABLE "{schema}"."{table}" AS FROM src."{schema}"."{table}"')
    finally:
        con.close()


def _profile(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, tuple]:
    """{mart: (rows, {numeric column: (sum, non-null count)})} of schema marts in `catalog`."""
    marts = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = "
        "'marts' ORDER BY 1",
        [catalog],
    ).fetchall()
    out = {}
    for (mart,) in marts:
        columns = con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = "
            "'marts' AND table_name = ? AND (data_type IN ('DOUBLE', 'BIGINT', 'INTEGER', "
            "'HUGEINT') OR data_type LIKE 'DECIMAL%')",
            [catalog, mart],
        ).fetchall()
        parts = ", ".join(f'sum("{c}")::DOUBLE, count("{c}")' for (c,) in columns)
        row = con.execute(
            f'SELECT count(*){", " + parts if parts else ""} FROM {catalog}.marts."{mart}"'
        ).fetchone()
        values = {c: (row[1 + 2 * i], row[2 + 2 * i]) for i, (c,) in enumerate(columns)}
        out[mart] = (row[0], values)
    return out


def _same(a: dict, b: dict) -> list[str]:
    differences = []
    for mart in sorted(set(a) | set(b)):
        if mart not in a or mart not in b:
            differences.append(f"{mart}: only on one backend")
            continue
        (rows_a, cols_a), (rows_b, cols_b) = a[mart], b[mart]
        if rows_a != rows_b:
            differences.append(f"{mart}: {rows_a} vs {rows_b} rows")
        for column, (sum_a, n_a) in cols_a.items():
            sum_b, n_b = cols_b.get(column, (None, None))
            close = (sum_a is None and sum_b is None) or (
                sum_a is not None
                and sum_b is not None
                and math.isclose(sum_a, sum_b, rel_tol=1e-9, abs_tol=1e-6)
            )
            if n_a != n_b or not close:
                differences.append(f"{mart}.{column}: {sum_a}/{n_a} vs {sum_b}/{n_b}")
    return differences


def test_dbt_marts_serving_and_snapshot_reads_on_postgres_match_the_duckdb_file(
    pg_server, snapshot_raw_warehouse, snapshot_build, tmp_path
):
    database = f"t_{uuid.uuid4().hex[:12]}"
    uri = pg_server.create_database(database)
    folder = tmp_path / "warehouse"
    env = {
        "CROSSWIND_WAREHOUSE_BACKEND": "ducklake",
        "CROSSWIND_DUCKLAKE_CATALOG": uri,
        "CROSSWIND_DUCKLAKE_DATA": str(tmp_path / "lake_data"),
        "CROSSWIND_WAREHOUSE_DIR": str(folder),
    }
    with environment(**env):
        target = load_settings().warehouse
        _copy_raw(snapshot_raw_warehouse / "crosswind.duckdb", target)
        proc, _ = dbt_build(folder, tmp_path, "--exclude", "resource_type:unit_test")
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
        assert postgres_password_absent(proc.stdout + proc.stderr)
        result = serving.publish(target, folder)
    built_file, _ = snapshot_build
    reference = duckdb.connect(str(built_file / "crosswind.duckdb"), read_only=True)
    try:
        expected = _profile(reference, "crosswind")
    finally:
        reference.close()
    assert expected, "the DuckDB build has no marts"
    # the lake's marts, read as a BI tool would: pinned to the snapshot the publish copied
    with environment(**env):
        info = dict(
            duckdb.connect(str(result.path), read_only=True)
            .execute("SELECT key, value FROM meta.publish_info")
            .fetchall()
        )
        pinned = lake.connect(target, snapshot=int(info["ducklake_snapshot"]))
    try:
        assert _same(expected, _profile(pinned, "crosswind")) == []
    finally:
        pinned.close()
    # the serving copy and the exports published from the lake hold the same marts
    assert result.tables == {mart: rows for mart, (rows, _) in expected.items()}
    served = duckdb.connect(str(result.path), read_only=True)
    try:
        (catalog,) = served.execute("SELECT current_database()").fetchone()
        assert _same(expected, _profile(served, catalog)) == []
        for mart, (rows, _) in expected.items():
            parquet = result.exports_dir / f"{mart}.parquet"
            assert served.execute(f"SELECT count(*) FROM '{parquet}'").fetchone()[0] == rows
    finally:
        served.close()


def postgres_password_absent(text: str) -> bool:
    from tests.support.postgres import PASSWORD

    return PASSWORD not in text
