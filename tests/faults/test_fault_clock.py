"""One clock: the warehouse's "today" is the UTC date in Python and in dbt, whatever TZ says.

DuckDB's `current_date` follows the process time zone, so the same input used to build one row
fewer under TZ=America/Los_Angeles than under TZ=UTC. The input here ends today (UTC): RRPONTSYD
is published the same day and the TGA one business day later, so each mart's last row is set by
"today" itself. dbt runs under UTC, Los Angeles and a zone whose date differs from UTC's right
now (UTC-11 or UTC+14: one of them always does), so the case can fail at any hour.
"""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from orchestration.lib import clock
from tests.faults import harness
from tests.support.catalog import catalog_requiring
from tests.support.resources import crosswind_resources
from tests.support.snapshot import dbt_build

pytestmark = [pytest.mark.faults, pytest.mark.slow]

MARTS = ("intermediate.int_calendar_days", "marts.fct_net_liquidity_daily")
DBT_SELECTION = (
    "--select",
    "+fct_net_liquidity_daily",
    "--exclude",
    "resource_type:test",
    "resource_type:unit_test",
)


def _zone_off_utc_now() -> str:
    """A zone whose calendar date is not UTC's at this moment."""
    for zone in ("Pacific/Pago_Pago", "Pacific/Kiritimati"):  # UTC-11, UTC+14: 25 h apart
        if datetime.now(ZoneInfo(zone)).date() != clock.today():
            return zone
    raise AssertionError("UTC-11 and UTC+14 cannot both share UTC's date")


def _write_snapshot(root: Path, today: date) -> None:
    days = [today - timedelta(days=n) for n in range(120, -1, -1)]
    weekdays = [d for d in days if d.weekday() < 5 or d == today]
    rrp = [(d, f"{400 + (i % 9) * 3}") for i, d in enumerate(weekdays)]
    walcl = [(d, f"{6_600_000 + 500 * i}") for i, d in enumerate(days) if d.weekday() == 2]
    (root / "fred").mkdir(parents=True)
    (root / "fred" / "RRPONTSYD.csv").write_text(harness.fred_csv("RRPONTSYD", rrp))
    (root / "fred" / "WALCL.csv").write_text(harness.fred_csv("WALCL", walcl))
    (root / "treasury").mkdir()
    tga = [(d, 800_000.0 + 1_000 * (i % 11)) for i, d in enumerate(weekdays)]
    (root / "treasury" / "tga_daily.csv").write_text(harness.tga_csv(tga))


def _rows(db: Path) -> dict[str, list]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in MARTS}
    finally:
        con.close()


def test_the_marts_are_the_same_in_every_process_time_zone(tmp_path, monkeypatch):
    try:
        from orchestration.defs.ingestion.catalog.assets import series_catalog
    except Exception as exc:  # another engineer's work in progress
        pytest.skip(f"orchestration.defs does not load: {type(exc).__name__}: {exc}")
    today = clock.today()
    snapshot, loaded = tmp_path / "snapshot", tmp_path / "loaded"
    _write_snapshot(snapshot, today)
    monkeypatch.setenv("CROSSWIND_SOURCE", "replay")
    monkeypatch.setenv("CROSSWIND_SNAPSHOT_DIR", str(snapshot))
    monkeypatch.setenv("CROSSWIND_WAREHOUSE_DIR", str(loaded))
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    # Only these three series are served: the catalog's other required ones become optional.
    catalog = catalog_requiring(["RRPONTSYD", "WALCL", "TGA"], tmp_path / "catalog.yaml")
    monkeypatch.setenv("CROSSWIND_CATALOG", str(catalog))
    result = dg.materialize(
        [series_catalog, harness.ASSETS["fred"], harness.ASSETS["treasury"]],
        raise_on_error=False,
        resources=crosswind_resources(),
    )
    assert result.success, harness.failure_text(result)

    built, work = {}, tmp_path / "work"
    for zone in ("UTC", "America/Los_Angeles", _zone_off_utc_now()):
        # Same warehouse path every time, so dbt reuses its parse (the path is in the profile).
        shutil.rmtree(work / "warehouse", ignore_errors=True)
        shutil.copytree(loaded, work / "warehouse")
        monkeypatch.setenv("TZ", zone)
        proc, _ = dbt_build(work / "warehouse", work, *DBT_SELECTION)
        assert proc.returncode == 0, proc.stdout[-3000:]
        built[zone] = _rows(work / "warehouse" / "crosswind.duckdb")
    if clock.today() != today:
        pytest.skip("UTC midnight passed while the test ran; rerun it")

    reference = built.pop("UTC")
    assert reference["marts.fct_net_liquidity_daily"][-1][0] == today  # "today" set the last row
    assert max(r[0] for r in reference["intermediate.int_calendar_days"]) == today
    for zone, rows in built.items():
        for table in MARTS:
            assert len(rows[table]) == len(reference[table]), f"{zone}: {table} row count"
            assert rows[table] == reference[table], f"{zone}: {table} differs from UTC"


def test_no_dbt_model_reads_the_process_clock():
    """`current_date`, `now()` and friends follow TZ; only macros/clock.sql may touch the clock."""
    dbt_dir = Path(__file__).resolve().parents[2] / "dbt_project"
    pattern = re.compile(r"\b(current_date|current_timestamp|now\(\)|today\(\)|get_current_time)")
    offenders = [
        f"{path.relative_to(dbt_dir)}:{n}"
        for folder in ("models", "macros", "tests", "analyses", "snapshots")
        for path in sorted((dbt_dir / folder).rglob("*.sql"))
        if path.name != "clock.sql"
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line.split("--")[0])
    ]
    assert not offenders, f"use {{{{ warehouse_today() }}}} instead: {offenders}"
