"""SIGKILL in the middle of `dbt build`, then a rerun: the marts end exactly as a clean build
left them. Runs only when the dbt project and its Dagster assets load (skipped with the reason
otherwise); uses the bundled synthetic sample and writes dbt's target/logs to tmp."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.faults import harness
from tests.support.resources import crosswind_resources

pytestmark = [pytest.mark.faults, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_DIR = REPO_ROOT / "dbt_project"
DBT_SCHEMAS = ("staging", "intermediate", "marts")


def _ingestion_assets() -> list:
    if not (DBT_DIR / "dbt_project.yml").is_file():
        pytest.skip("dbt_project/ not built yet")
    try:
        import orchestration.defs.transform.assets  # noqa: F401 - the dbt assets must load
        from orchestration.defs.ingestion.catalog.assets import series_catalog
        from orchestration.defs.ingestion.drops.assets import drops_observations
        from orchestration.defs.ingestion.markets.assets import market_daily_bars
        from orchestration.defs.ingestion.shiller.assets import shiller_monthly
    except Exception as exc:  # another engineer's work in progress
        pytest.skip(f"orchestration.defs.transform does not load: {type(exc).__name__}: {exc}")
    return [
        series_catalog,
        *harness.ASSETS.values(),
        market_daily_bars,
        shiller_monthly,
        drops_observations,
    ]


def _dbt(tmp: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dbt.cli.main",
        "build",
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--target-path",
        str(tmp / "target"),
        "--log-path",
        str(tmp / "logs"),
    ]


def _dbt_state(db: Path) -> dict[str, list[tuple]]:
    """Every row of every dbt relation, ordered."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name IN "
            f"{DBT_SCHEMAS} UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
            f"WHERE schema_name IN {DBT_SCHEMAS}"
        ).fetchall()
        return {
            f"{s}.{n}": con.execute(f'SELECT * FROM "{s}"."{n}" ORDER BY ALL').fetchall()
            for s, n in sorted(names)
        }
    finally:
        con.close()


def _same(a, b) -> bool:
    # DuckDB's parallel aggregates (rolling correlations) may differ in the last bits between
    # two clean builds of the same input.
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _differences(got: dict, want: dict) -> list[str]:
    out = [f"relations {sorted(set(got) ^ set(want))}"] if set(got) != set(want) else []
    for name in sorted(set(got) & set(want)):
        if len(got[name]) != len(want[name]):
            out.append(f"{name}: {len(got[name])} rows, clean build {len(want[name])}")
            continue
        for row_a, row_b in zip(got[name], want[name], strict=True):
            if not all(_same(x, y) for x, y in zip(row_a, row_b, strict=True)):
                out.append(f"{name}: {row_a} != {row_b}")
                break
    return out


def test_sigkill_mid_dbt_build_then_rerun_gives_the_clean_build(tmp_path, monkeypatch):
    assets = _ingestion_assets()
    folder = tmp_path / "warehouse"
    monkeypatch.setenv("CROSSWIND_SOURCE", "sample")
    monkeypatch.setenv("CROSSWIND_WAREHOUSE_DIR", str(folder))
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    loaded = dg.materialize(assets, raise_on_error=False, resources=crosswind_resources())
    assert loaded.success, harness.failure_text(loaded)
    db = folder / "crosswind.duckdb"

    clean = subprocess.run(_dbt(tmp_path), cwd=DBT_DIR, capture_output=True, text=True, timeout=300)
    if clean.returncode != 0:
        pytest.skip(f"dbt build does not pass on the sample yet:\n{clean.stdout[-1500:]}")
    reference = _dbt_state(db)
    assert any(k.startswith("marts.") for k in reference)

    log = tmp_path / "logs" / "dbt.log"
    log.write_text("")
    proc = subprocess.Popen(
        _dbt(tmp_path),
        cwd=DBT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while log.read_text(errors="replace").count(" OK created ") < 6:
        assert proc.poll() is None, "dbt finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert "Completed successfully" not in log.read_text(errors="replace")

    harness.fingerprint(db)  # the file opens after the kill (WAL replayed or discarded)
    rerun = subprocess.run(_dbt(tmp_path), cwd=DBT_DIR, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    # No leftover __dbt_tmp/__dbt_backup relations, and the same rows as the clean build.
    assert not _differences(_dbt_state(db), reference), _differences(_dbt_state(db), reference)
