"""The real snapshot loaded once per test session: raw tables, then the full dbt build.

Ingestion takes ~20 s and `dbt build` ~20-30 s on 2 cores; every integration test that needs
them shares these copies (and copies them again before changing anything).
"""

from __future__ import annotations

import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT_DIR = (REPO_ROOT / ".." / "shared" / "snapshot").resolve()
DBT_DIR = REPO_ROOT / "dbt_project"


def snapshot_present() -> bool:
    return (SNAPSHOT_DIR / "README.md").is_file()


@contextmanager
def environment(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ingest_snapshot(work: Path):
    """Snapshot -> raw_* tables through the project's Dagster ingestion, in replay mode.

    Returns (warehouse dir, the materialize result).
    """
    import dagster as dg

    from orchestration.defs.ingestion.catalog.assets import series_catalog
    from orchestration.defs.ingestion.cme.assets import cme_margin_changes
    from orchestration.defs.ingestion.drops.assets import drops_observations
    from orchestration.defs.ingestion.fred.assets import fred_observations
    from orchestration.defs.ingestion.markets.assets import market_daily_bars
    from orchestration.defs.ingestion.mof.assets import mof_jgb_yields
    from orchestration.defs.ingestion.ofr.assets import ofr_financial_stress_index
    from orchestration.defs.ingestion.shiller.assets import shiller_monthly
    from orchestration.defs.ingestion.treasury.assets import treasury_operating_cash_balance
    from tests.support.resources import crosswind_resources

    warehouse = work / "warehouse"
    with environment(
        CROSSWIND_SOURCE="replay",
        CROSSWIND_SNAPSHOT_DIR=str(SNAPSHOT_DIR),
        CROSSWIND_WAREHOUSE_DIR=str(warehouse),
        CROSSWIND_DROPS_DIR=str(work / "drops"),  # empty: the optional drops stay empty
    ):
        os.environ.pop("FRED_API_KEY", None)
        result = dg.materialize(
            [
                series_catalog,
                fred_observations,
                treasury_operating_cash_balance,
                mof_jgb_yields,
                market_daily_bars,
                shiller_monthly,
                cme_margin_changes,
                drops_observations,
                ofr_financial_stress_index,
            ],
            raise_on_error=False,
            resources=crosswind_resources(),
        )
    return warehouse, result


def dbt_build(warehouse_dir: Path, work: Path, *args: str):
    """`dbt build` of the project on `warehouse_dir`; target and logs stay in `work`.

    Returns (completed process, seconds).
    """
    from orchestration.defs.transform.project import dbt_executable

    env = {
        **os.environ,
        "CROSSWIND_WAREHOUSE_DIR": str(warehouse_dir),
        "DBT_TARGET_PATH": str(work / "dbt_target"),
        "DBT_LOG_PATH": str(work / "dbt_logs"),
    }
    command = [dbt_executable(), "build", "--project-dir", str(DBT_DIR)]
    started = time.monotonic()
    proc = subprocess.run(
        [*command, "--profiles-dir", str(DBT_DIR), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return proc, time.monotonic() - started
