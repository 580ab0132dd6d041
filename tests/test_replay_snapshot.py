"""Integration: every raw asset from the real snapshot (../shared/snapshot) in replay mode."""

from __future__ import annotations

import csv

import dagster as dg
import duckdb
import pytest

from orchestration.lib.catalog import load_catalog
from tests.support.snapshot import SNAPSHOT_DIR

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def loaded(snapshot_ingestion):
    folder, result = snapshot_ingestion
    con = duckdb.connect(str(folder / "crosswind.duckdb"), read_only=True)
    yield SNAPSHOT_DIR, result, con
    con.close()


def _file_span(path):
    """(rows, first date, last date) of a snapshot CSV, straight from the file."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    dates = [r[0] for r in rows if r]
    return len(dates), min(dates), max(dates)


def test_every_raw_asset_succeeds_with_blocking_checks_green(loaded):
    _, result, _ = loaded
    assert result.success
    failed = [
        (e.asset_key.to_user_string(), e.check_name)
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert failed == []


@pytest.mark.parametrize(
    "table,folder", [("raw_fred.observations", "fred"), ("raw_market.daily_bars", "markets")]
)
def test_rows_and_date_range_per_series_match_the_files(loaded, table, folder):
    snapshot, _, con = loaded
    loaded_spans = {
        sid: (n, str(first), str(last))
        for sid, n, first, last in con.execute(
            f"SELECT series_id, count(*), min(date), max(date) FROM {table} GROUP BY 1"
        ).fetchall()
    }
    files = sorted((snapshot / folder).glob("*.csv"))
    catalog = load_catalog()
    expected = {f.stem: _file_span(f) for f in files if f.stem in catalog.series}
    assert expected, "no catalog series found in the snapshot"
    assert loaded_spans == expected


def test_treasury_mof_shiller_cme_spans(loaded):
    snapshot, _, con = loaded
    n, first, last = _file_span(snapshot / "treasury" / "tga_daily.csv")
    assert con.execute(
        "SELECT count(*), min(date)::VARCHAR, max(date)::VARCHAR "
        "FROM raw_treasury.operating_cash_balance"
    ).fetchone() == (n, first, last)
    assert con.execute(
        "SELECT min(date)::VARCHAR, max(date)::VARCHAR FROM raw_mof.jgb_yields "
        "WHERE series_id = 'JGB10Y' OR series_id = 'JGB2Y'"
    ).fetchone() == ("1974-09-24", "2026-06-30")
    # 2026-02-27 in the MOF file is written R8.2.27 (Reiwa 8).
    assert con.execute(
        "SELECT value FROM raw_mof.jgb_yields WHERE series_id = 'JGB30Y' AND date = '2026-06-30'"
    ).fetchone() == (3.873,)
    assert con.execute(
        "SELECT min(date)::VARCHAR, value FROM raw_shiller.monthly "
        "WHERE series_id = 'SHILLER_PRICE' GROUP BY value ORDER BY 1 LIMIT 1"
    ).fetchone() == ("1871-01-01", 4.44)
    assert con.execute("SELECT count(*) FROM raw_cme.margin_changes").fetchone() == (317,)
