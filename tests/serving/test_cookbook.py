"""docs/bi_cookbook.md works as written: its code blocks, read out of the Markdown, run against a
real published serving copy in every client that installs from the registries (the DuckDB CLI
from PyPI `duckdb-cli`, Python's duckdb, pandas, SQLAlchemy + duckdb-engine).

On both copies of `published_copy` (tests/serving/conftest.py). The only edit to the doc's code
is its example warehouse path, replaced by the test's folder.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import sqlalchemy
import yaml

from bench.bi_latency import cookbook_queries, fenced_blocks

REPO_ROOT = Path(__file__).resolve().parents[2]
COOKBOOK = REPO_ROOT / "docs" / "bi_cookbook.md"
DOC_WAREHOUSE = "/srv/crosswind/warehouse"  # the path the cookbook's examples use
DUCKDB_CLI = Path(sys.executable).with_name("duckdb")


def blocks(section: str, language: str) -> list[str]:
    """The code of the ```<language> blocks under the heading `section`, in order."""
    found = [
        code
        for heading, _, info, code in fenced_blocks(COOKBOOK.read_text(encoding="utf-8"))
        if heading == section and (info.split() or [""])[0] == language
    ]
    assert found, f"docs/bi_cookbook.md has no ```{language} block under '{section}'"
    return found


def as_written(code: str, warehouse: Path) -> str:
    assert DOC_WAREHOUSE in code, code
    return code.replace(DOC_WAREHOUSE, str(warehouse))


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse / "serving.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_cli_is_the_same_duckdb_release_as_the_driver():
    out = subprocess.run([DUCKDB_CLI, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == f"v{duckdb.__version__}", "pin duckdb-cli to duckdb's release"


def test_the_cli_steps_run_as_written(published_copy):
    kind, warehouse = published_copy
    (install, open_copy) = blocks("DuckDB CLI", "sh")
    assert install.startswith("pip install ") and "duckdb-cli" in install
    env = {**os.environ, "PATH": f"{DUCKDB_CLI.parent}{os.pathsep}{os.environ['PATH']}"}

    def cli(script: str) -> str:
        done = subprocess.run(
            ["bash", "-c", as_written(open_copy, warehouse)],
            input=script,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0 and done.stderr == "", done.stderr
        return done.stdout

    (session,) = blocks("DuckDB CLI", "sql")
    listed = cli(session)
    assert "dashboard_latest" in listed and "input_health" in listed  # .tables
    assert any("storage_version" in ln and "v1.0.0" in ln for ln in listed.splitlines())
    if kind == "snapshot":
        assert _rows(warehouse, "SELECT as_of_date::VARCHAR FROM bi.as_of")[0][0] in listed
    for starters in blocks("Starter queries", "sql"):
        cli(starters)


def test_every_sql_block_runs_in_python_duckdb(published_copy):
    kind, warehouse = published_copy
    queries = cookbook_queries(COOKBOOK)
    assert len(queries) >= 12
    with duckdb.connect(str(warehouse / "serving.duckdb"), read_only=True) as con:
        counts = {name: len(con.execute(sql).fetchall()) for name, sql in queries.items()}
    if kind == "snapshot":  # the real marts answer every dashboard query with rows
        assert all(counts.values()), counts


def test_the_python_blocks_run_as_written(published_copy):
    kind, warehouse = published_copy
    python = blocks("Python", "python")
    assert len(python) == 3  # duckdb, pandas on Parquet, SQLAlchemy
    several = blocks("What is in it", "python")
    results = {}
    for code in [*python, *several]:
        namespace: dict = {}
        exec(compile(as_written(code, warehouse), str(COOKBOOK), "exec"), namespace)
        results.update(namespace)
    assert results["kpis"].columns[0] == "date"
    assert "as_of" in results["views"] and "input_health" in results["views"]
    if kind == "snapshot":
        assert len(results["kpis"]) == 1 and len(results["nl"]) > 1000
        assert len(results["pillars"]) > 1000


def test_sqlalchemy_reflection_matches_the_version_table():
    """The table in the cookbook: with SQLAlchemy 2.1 (what this project locks) duckdb-engine
    0.17 cannot reflect columns. A fixed duckdb-engine makes this fail: update the table."""
    version = tuple(int(p) for p in sqlalchemy.__version__.split(".")[:2])
    engine = sqlalchemy.create_engine("duckdb:///:memory:")
    try:
        with engine.begin() as con:
            con.execute(sqlalchemy.text("CREATE TABLE t (x INTEGER)"))
        inspector = sqlalchemy.inspect(engine)
        if version >= (2, 1):
            with pytest.raises(sqlalchemy.exc.ProgrammingError, match="pg_collation"):
                inspector.get_columns("t")
            assert '| 2.1.x | fails: `Referenced table "pg_catalog.pg_collation" not found` |' in (
                COOKBOOK.read_text(encoding="utf-8")
            )
        else:
            assert [c["name"] for c in inspector.get_columns("t")] == ["x"]
    finally:
        engine.dispose()


def test_the_superset_uri_opens_the_copy_read_only(published_copy):
    _, warehouse = published_copy
    (uri,) = blocks("Apache Superset", "")
    engine = sqlalchemy.create_engine(as_written(uri.strip(), warehouse))
    try:
        with engine.connect() as con:
            assert con.execute(sqlalchemy.text("SELECT count(*) FROM bi.as_of")).scalar() == 1
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only"):
                con.execute(sqlalchemy.text("CREATE TABLE main.x (i INTEGER)"))
    finally:
        engine.dispose()


def test_the_evidence_filename_is_relative_to_its_source_folder():
    """The connector joins sources/crosswind/ onto `filename`: with the cookbook's layout
    (project in /srv/evidence) the relative path must land on the serving copy."""
    (connection,) = blocks("Evidence", "yaml")
    filename = yaml.safe_load(connection)["options"]["filename"]
    assert not filename.startswith("/")
    joined = posixpath.normpath(posixpath.join("/srv/evidence/sources/crosswind", filename))
    assert joined == f"{DOC_WAREHOUSE}/serving.duckdb"
    page = blocks("Evidence", "markdown")[0]
    assert "data={crosswind." not in page  # components take named SQL blocks
    assert "```sql kpis" in page and "data={kpis}" in page
