"""The serving copy is published atomically, stays consistent for readers, matches the build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from orchestration.lib import serving
from tests.serving.synthetic_marts import build_synthetic_warehouse, marts_state
from tests.support.contracts import mart_contracts

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def wh(tmp_path) -> Path:
    folder = tmp_path / "warehouse"
    build_synthetic_warehouse(folder / "crosswind.duckdb", days=300, generation=1)
    return folder


def _leftovers(folder: Path) -> list[Path]:
    return [
        *folder.glob(".*"),  # temporary files and links
        *folder.glob("exports/.*"),
        *folder.glob("serving.duckdb.wal"),
        *(d for d in folder.glob("publishes/*") if not (d / "exports" / "_manifest.json").exists()),
    ]


def test_publish_copies_every_mart_with_views_and_old_storage_version(wh):
    result = serving.publish(wh / "crosswind.duckdb")
    assert result.path == wh / "serving.duckdb"
    assert set(result.tables) == set(mart_contracts())  # every mart, from its dbt contract
    assert result.skipped_views == {} and result.views == list(serving.BI_VIEWS)
    assert _leftovers(wh) == []
    con = duckdb.connect(str(result.path), read_only=True)
    try:
        schemas = {
            r[0]
            for r in con.execute(
                "SELECT schema_name FROM duckdb_schemas() WHERE database_name = 'serving'"
            ).fetchall()
        }
        assert {"marts", "bi", "meta"} <= schemas and "staging" not in schemas
        tags = con.execute(
            "SELECT tags FROM duckdb_databases() WHERE database_name = 'serving'"
        ).fetchone()[0]
        assert tags["storage_version"].startswith("v1.0.0")
        info = dict(con.execute("SELECT key, value FROM meta.publish_info").fetchall())
        assert info["storage_version"] == "v1.0.0"
        for view in serving.BI_VIEWS:
            con.execute(f"SELECT * FROM bi.{view} LIMIT 1").fetchall()
        assert con.execute("SELECT count(*) FROM bi.dashboard_latest").fetchone()[0] == 1
        # no raw layer in this build: meta.inputs exists, empty, and input_health reads it
        assert con.execute("SELECT count(*) FROM bi.input_health").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM bi.correlation_matrix_latest").fetchone()[0] == 60
        for name, rows in result.tables.items():
            assert con.execute(f"SELECT count(*) FROM marts.{name}").fetchone()[0] == rows
    finally:
        con.close()


def test_copy_has_no_indexes_or_key_constraints(wh):
    """DuckDB 1.0 cannot read the index metadata DuckDB 1.5 writes, storage version or not."""
    result = serving.publish(wh / "crosswind.duckdb")
    con = duckdb.connect(str(result.path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM duckdb_indexes()").fetchone()[0] == 0
        keys = con.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE database_name = 'serving' "
            "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')"
        ).fetchone()[0]
        assert keys == 0
    finally:
        con.close()


OLD_DUCKDB_PYTHON = os.environ.get("CROSSWIND_OLD_DUCKDB_PYTHON", "")


@pytest.mark.skipif(
    not OLD_DUCKDB_PYTHON,
    reason="set CROSSWIND_OLD_DUCKDB_PYTHON to a python with duckdb==1.0.0 to check that an old "
    "driver opens the serving copy (docs/bi_cookbook.md shows how)",
)
def test_duckdb_1_0_opens_the_serving_copy(wh):
    result = serving.publish(wh / "crosswind.duckdb")
    script = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
        "print(duckdb.__version__, c.execute('SELECT count(*) FROM bi.dashboard_latest')"
        ".fetchone()[0], c.execute('SELECT count(*) FROM meta.tables').fetchone()[0])"
    )
    out = subprocess.run(
        [OLD_DUCKDB_PYTHON, "-c", script, str(result.path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out[0].startswith("1.0") and out[1:] == ["1", str(len(result.tables))]


def test_exports_match_the_tables(wh):
    result = serving.publish(wh / "crosswind.duckdb")
    manifest = json.loads((wh / "exports" / "_manifest.json").read_text())
    assert set(manifest["tables"]) == set(result.tables)
    con = duckdb.connect(str(result.path), read_only=True)
    try:
        for name in result.tables:
            parquet = wh / "exports" / f"{name}.parquet"
            assert parquet.stat().st_size == result.export_bytes[name]
            diff = con.execute(
                f"SELECT count(*) FROM ((SELECT * FROM marts.{name} EXCEPT ALL "
                f"SELECT * FROM read_parquet('{parquet}')) UNION ALL "
                f"(SELECT * FROM read_parquet('{parquet}') EXCEPT ALL SELECT * FROM marts.{name}))"
            ).fetchone()[0]
            assert diff == 0, name
    finally:
        con.close()


def test_a_dropped_mart_disappears_from_the_exports(wh):
    serving.publish(wh / "crosswind.duckdb")
    with duckdb.connect(str(wh / "crosswind.duckdb")) as con:
        con.execute("DROP TABLE marts.fct_labor_monthly")  # no bi view reads it
    result = serving.publish(wh / "crosswind.duckdb")
    assert "fct_labor_monthly" not in result.tables
    assert not (wh / "exports" / "fct_labor_monthly.parquet").exists()


@pytest.mark.parametrize(
    "change",
    [
        "ALTER TABLE marts.fct_margin_events RENAME COLUMN margin_unit TO unit",
        "DROP TABLE marts.fct_margin_events",
    ],
)
def test_a_view_that_cannot_be_created_stops_the_publish(wh, change):
    """A renamed column or a dropped mart a view reads: refused before the switch, named."""
    serving.publish(wh / "crosswind.duckdb")
    before = {p.name: serving.file_digest(p) for p in _published(wh)}
    current = serving.current_set(wh)
    with duckdb.connect(str(wh / "crosswind.duckdb")) as con:
        con.execute(change)
    with pytest.raises(serving.ViewsNotCreated, match=r"bi\.margin_changes_recent: ") as caught:
        serving.publish(wh / "crosswind.duckdb")
    assert list(caught.value.failed) == ["margin_changes_recent"]
    assert "previous set stays current" in str(caught.value)
    assert serving.current_set(wh) == current
    assert {p.name: serving.file_digest(p) for p in _published(wh)} == before
    assert _leftovers(wh) == []
    # stand-in marts that are not the dbt project's may skip views, and are told which
    lenient = serving.publish(wh / "crosswind.duckdb", require_views=False)
    assert list(lenient.skipped_views) == ["margin_changes_recent"]


def test_reader_opened_before_a_publish_keeps_the_old_state(wh):
    serving.publish(wh / "crosswind.duckdb")
    old = duckdb.connect(str(wh / "serving.duckdb"), read_only=True)
    try:
        before = _state(old)
        assert before == {"generations": [1], "dashboard_rows": 300}
        build_synthetic_warehouse(wh / "crosswind.duckdb", days=450, generation=2)
        started = time.perf_counter()
        result = serving.publish(wh / "crosswind.duckdb")  # must not wait for the reader
        assert time.perf_counter() - started < 20
        # the open reader still sees the complete old copy (full scans, not cached pages)
        assert _state(old) == before
        assert old.execute("SELECT sum(close) FROM marts.fct_asset_returns_daily").fetchone()[0]
    finally:
        old.close()
    assert marts_state(result.path) == {"generations": [2], "dashboard_rows": 450}
    assert _leftovers(wh) == []


def _state(con):
    gens = con.execute("SELECT DISTINCT generation FROM marts.fct_net_liquidity_daily").fetchall()
    rows = con.execute("SELECT count(*) FROM marts.mart_market_dashboard_daily").fetchone()[0]
    return {"generations": sorted(g[0] for g in gens), "dashboard_rows": rows}


READER = textwrap.dedent(
    """
    import json, sys, time, duckdb
    path, seconds, hold = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "hold"
    def state(con):
        g = con.execute(
            "SELECT list(DISTINCT generation) FROM marts.fct_net_liquidity_daily"
        ).fetchone()[0]
        n = con.execute("SELECT count(*) FROM marts.mart_market_dashboard_daily").fetchone()[0]
        m = con.execute("SELECT count(*) FROM marts.fct_asset_returns_daily").fetchone()[0]
        return [sorted(g), n, m]
    held = duckdb.connect(path, read_only=True) if hold else None
    seen, end = [], time.time() + seconds
    print("ready", flush=True)
    while time.time() < end:
        if hold:
            seen.append(state(held))
        else:
            con = duckdb.connect(path, read_only=True)
            seen.append(state(con))
            con.close()
        time.sleep(0.02)
    print(json.dumps(seen))
    """
)


def _reader(path: Path, mode: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", READER, str(path), "6", mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_concurrent_readers_see_old_or_new_never_a_mix(wh, tmp_path):
    """Two reader processes (one reconnecting in a loop, one holding its connection) read the
    serving copy while it is republished 6 times, alternating two different builds."""
    serving.publish(wh / "crosswind.duckdb")
    other = tmp_path / "other" / "crosswind.duckdb"
    build_synthetic_warehouse(other, days=450, generation=2)
    polling = _reader(wh / "serving.duckdb", "poll")
    holding = _reader(wh / "serving.duckdb", "hold")
    times = []
    for i in range(6):
        build = other if i % 2 == 0 else wh / "crosswind.duckdb"
        times.append(serving.publish(build, wh).seconds)
        time.sleep(0.4)
    results = {}
    for name, proc in (("poll", polling), ("hold", holding)):
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results[name] = [(tuple(s[0]), s[1], s[2]) for s in json.loads(out)]
    valid = {((1,), 300, 300 * 6), ((2,), 450, 450 * 6)}
    assert set(results["poll"]) == valid  # saw both states, and nothing else (no mix)
    assert set(results["hold"]) == {((1,), 300, 1800)}  # its snapshot never changed
    assert max(times) < 10
    assert _leftovers(wh) == []


def test_failed_publish_leaves_the_copy_byte_for_byte_unchanged(wh, monkeypatch):
    serving.publish(wh / "crosswind.duckdb")
    before = {p.name: serving.file_digest(p) for p in _published(wh)}
    build_synthetic_warehouse(wh / "crosswind.duckdb", days=450, generation=2)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(serving, "_export_parquet", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        serving.publish(wh / "crosswind.duckdb")
    assert {p.name: serving.file_digest(p) for p in _published(wh)} == before
    assert _leftovers(wh) == []


def test_no_marts_refuses_and_keeps_the_copy(wh, tmp_path):
    serving.publish(wh / "crosswind.duckdb")
    digest = serving.file_digest(wh / "serving.duckdb")
    with duckdb.connect(str(wh / "crosswind.duckdb")) as con:
        con.execute("DROP SCHEMA marts CASCADE")
    with pytest.raises(serving.ServingError, match="no tables in schema marts"):
        serving.publish(wh / "crosswind.duckdb")
    assert serving.file_digest(wh / "serving.duckdb") == digest


def test_stale_temp_files_of_a_killed_publisher_are_removed(wh):
    dead = wh / ".serving.duckdb.tmp-999999"
    dead.write_bytes(b"half-built")
    serving.publish(wh / "crosswind.duckdb")
    assert not dead.exists()


def _published(folder: Path) -> list[Path]:
    return sorted([folder / "serving.duckdb", *(folder / "exports").iterdir()])


def test_mart_asset_keys_come_from_the_dbt_manifest():
    from orchestration.defs.transform.assets import MART_KEYS

    keys = MART_KEYS
    names = {k.path[-1] for k in keys}
    assert all(k.path[0] == "marts" for k in keys)
    assert {"fct_net_liquidity_daily", "mart_market_dashboard_daily"} <= names


def test_publishing_keeps_the_current_set_and_the_one_before(wh):
    ids = [serving.publish(wh / "crosswind.duckdb").publish_id for _ in range(3)]
    assert sorted(p.name for p in (wh / "publishes").iterdir()) == ids[1:]
    assert serving.current_set(wh) == wh / "publishes" / ids[-1]
    assert os.readlink(wh / "serving.duckdb") == "current/serving.duckdb"
    manifest = json.loads((wh / "exports" / "_manifest.json").read_text())
    assert manifest["publish_id"] == ids[-1]
    assert (wh / manifest["exports_dir"]) == serving.current_set(wh) / "exports"


def test_a_warehouse_published_before_sets_is_taken_over_leaving_user_files(wh):
    """The layout before sets: regular serving.duckdb and exports files, a regular manifest."""
    first = serving.publish(wh / "crosswind.duckdb")
    exports = wh / "exports"
    for path in [wh / "serving.duckdb", *exports.iterdir()]:
        data = path.read_bytes()
        path.unlink()
        path.write_bytes(data)  # the link becomes the regular file the old layout had
    (wh / "current").unlink()
    shutil.rmtree(wh / "publishes")
    (exports / ".tmp-4242").mkdir()  # a folder the old publisher left when killed
    (exports / ".tmp-4242" / "fct_margin_events.parquet").write_bytes(b"half")
    (exports / "mine.parquet").write_bytes(b"the user's")
    old_digest = serving.file_digest(wh / "serving.duckdb")

    result = serving.publish(wh / "crosswind.duckdb")
    assert os.readlink(wh / "serving.duckdb") == "current/serving.duckdb"
    assert serving.file_digest(wh / "serving.duckdb") != old_digest
    for name in first.tables:
        link = exports / f"{name}.parquet"
        assert os.readlink(link) == f"../current/exports/{name}.parquet"
    assert (exports / "mine.parquet").read_bytes() == b"the user's"
    assert not (exports / ".tmp-4242").exists()
    assert result.not_linked == []
    assert _leftovers(wh) == []
