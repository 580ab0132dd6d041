"""bench/baseline_pandas.py: the plain pandas baseline reproduces the headline marts.

The integration test computes the four marts from ../shared/snapshot with pandas only and
compares them with the session's `dbt build` of the same snapshot (all keys equal, values within
1e-9). The unit tests check that compare() fails on any difference, without a snapshot.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.support.snapshot import SNAPSHOT_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "bench" / "baseline_pandas.py"


def _load_baseline():
    spec = importlib.util.spec_from_file_location("crosswind_bench_baseline_pandas", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bp = _load_baseline()


# --- unit: helpers mirror the dbt macros ---------------------------------------------------------


def test_add_business_days_follows_the_publisher_calendar():
    # Mirrors macro observations_published. Expected dates read off a 2026 calendar:
    # Mon 2026-02-16 is Washington's Birthday (US federal), so Friday + 1bd is Tuesday.
    days = np.array(
        ["2026-02-13", "2026-02-14", "2026-02-12", "2026-02-13", "2026-02-15"],
        dtype="datetime64[D]",
    )  # Fri, Sat, Thu, Fri, Sun
    assert bp.add_business_days(days[:3], 1, "us_federal").tolist() == list(
        np.array(["2026-02-17", "2026-02-17", "2026-02-13"], dtype="datetime64[D]")
    )
    assert bp.add_business_days(days[3:], 2, "us_federal").tolist() == list(
        np.array(["2026-02-18", "2026-02-18"], dtype="datetime64[D]")
    )
    assert bp.add_business_days(days, 0, "us_federal").tolist() == days.tolist()
    # NYSE closed on 2025-01-09 (national day of mourning); SIFMA on Good Friday 2024-03-29.
    assert bp.add_business_days(np.array(["2025-01-08"], "datetime64[D]"), 1, "nyse")[0] == (
        np.datetime64("2025-01-10")
    )
    assert bp.add_business_days(np.array(["2024-03-28"], "datetime64[D]"), 1, "us_bond_market")[
        0
    ] == np.datetime64("2024-04-01")


def test_duck_round_matches_duckdb():
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [rng.uniform(-1e4, 1e4, 2000).round(3) * 0.001, np.arange(-50, 50) / 2e10]
    )
    con = duckdb.connect()
    con.register("frame", pd.DataFrame({"x": values}))
    expected = con.sql("select round(x, 9) as r9, round(x, 10) as r10 from frame").df()
    assert np.array_equal(bp.duck_round(values, 9), expected["r9"].to_numpy())
    assert np.array_equal(bp.duck_round(values, 10), expected["r10"].to_numpy())


# --- unit: compare() must fail on any difference -------------------------------------------------


def _synthetic_frames() -> dict[str, pd.DataFrame]:
    days = pd.date_range("2026-02-09", periods=5, freq="D")
    net = pd.DataFrame(
        {
            "date": days,
            "net_liquidity_bn": [5800.5, 5801.25, np.nan, 5799.0, 5798.125],
            "tga_source": ["DTS", "DTS", None, "DTS", "DTS"],
            "has_all_inputs": [True, True, False, True, True],
        }
    )
    corr = pd.DataFrame(
        {
            "date": days.repeat(2),
            "asset_a": ["gold", "btc"] * 5,
            "asset_b": ["sp500", "eth"] * 5,
            "window_days": 60,
            "correlation": np.linspace(-0.5, 0.9, 10).round(10),
            "n_observations": 60,
        }
    )
    regime = pd.DataFrame(
        {
            "date": days,
            "share_assets_down": [0.5, 1 / 6, 5 / 6, 0.0, 1.0],
            "is_synchronized_selloff": pd.array([False, False, True, None, True], "boolean"),
        }
    )
    return {bp.NET_LIQUIDITY: net, bp.CORRELATION: corr, bp.REGIME: regime}


def _write_marts(path: Path, frames: dict[str, pd.DataFrame]) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    for name, frame in frames.items():
        con.register("frame", frame)
        con.execute(f"create table marts.{name} as select * from frame")
        con.unregister("frame")
    # 20-day rows in the correlation mart: compare() must only look at window_days = 60
    if bp.CORRELATION in frames:
        con.execute(
            f"insert into marts.{bp.CORRELATION} select date, asset_a, asset_b, 20, "
            f"-correlation, 20 from marts.{bp.CORRELATION}"
        )
    con.close()
    return path


def test_compare_ok_on_identical_marts(tmp_path):
    frames = _synthetic_frames()
    db = _write_marts(tmp_path / "build.duckdb", frames)
    results = bp.compare(frames, db)
    assert all(r["ok"] for r in results.values()), results
    assert results[bp.CORRELATION]["rows_mart"] == 10
    assert results[bp.NET_LIQUIDITY]["rows_matched"] == 5


@pytest.mark.parametrize(
    ("mart", "column", "row", "value", "counter"),
    [
        (bp.NET_LIQUIDITY, "net_liquidity_bn", 1, 5801.25 + 1e-5, "mismatched_values"),
        (bp.NET_LIQUIDITY, "net_liquidity_bn", 2, 0.0, "mismatched_values"),  # NULL vs value
        (bp.NET_LIQUIDITY, "tga_source", 0, "WDTGAL", "mismatched_values"),
        (bp.CORRELATION, "correlation", 3, None, "mismatched_values"),  # + 1e-8 below
        (bp.REGIME, "is_synchronized_selloff", 0, True, "mismatched_flags"),
        (bp.REGIME, "is_synchronized_selloff", 3, False, "mismatched_flags"),  # NULL vs False
    ],
)
def test_compare_reports_a_perturbed_value(tmp_path, mart, column, row, value, counter):
    frames = _synthetic_frames()
    db = _write_marts(tmp_path / "build.duckdb", frames)
    changed = {name: frame.copy() for name, frame in frames.items()}
    target = changed[mart]
    if value is None:
        value = target[column].iloc[row] + 1e-8
    target.loc[target.index[row], column] = value
    results = bp.compare(changed, db)
    assert results[mart]["ok"] is False
    assert results[mart][counter][column] == 1
    others = [r["ok"] for name, r in results.items() if name != mart]
    assert all(others)


def test_compare_reports_different_key_sets(tmp_path):
    frames = _synthetic_frames()
    db = _write_marts(tmp_path / "build.duckdb", frames)
    fewer = {**frames, bp.REGIME: frames[bp.REGIME].iloc[1:]}
    result = bp.compare(fewer, db)[bp.REGIME]
    assert result["ok"] is False
    assert (result["rows_baseline"], result["rows_mart"], result["rows_only_mart"]) == (4, 5, 1)


def test_compare_reports_a_missing_mart(tmp_path):
    frames = _synthetic_frames()
    db = _write_marts(tmp_path / "build.duckdb", {bp.REGIME: frames[bp.REGIME]})
    results = bp.compare(frames, db)
    assert results[bp.NET_LIQUIDITY]["ok"] is False
    assert "no table" in results[bp.NET_LIQUIDITY]["error"]


# --- integration: the real snapshot against the session's dbt build ------------------------------


@pytest.fixture(scope="module")
def built_marts(snapshot_build, tmp_path_factory) -> Path:
    """A private copy of the session build (read-only opens never clash with other tests)."""
    warehouse, _ = snapshot_build
    copy = tmp_path_factory.mktemp("baseline_pandas") / "crosswind.duckdb"
    shutil.copyfile(warehouse / "crosswind.duckdb", copy)
    return copy


@pytest.fixture(scope="module")
def baseline_frames(built_marts):
    return bp.compute(SNAPSHOT_DIR)


@pytest.mark.integration
@pytest.mark.slow
def test_baseline_matches_the_built_marts(baseline_frames, built_marts):
    assert set(baseline_frames) == {
        bp.NET_LIQUIDITY,
        bp.FUNDING_STRESS,
        bp.CORRELATION,
        bp.REGIME,
    }
    assert (baseline_frames[bp.CORRELATION]["window_days"] == 60).all()
    results = bp.compare(baseline_frames, built_marts)
    for name, result in results.items():
        assert result["ok"], (name, result)
        assert result["rows_matched"] == result["rows_mart"] > 0
    assert {"is_synchronized_selloff", "is_hedge_failure"} <= set(baseline_frames[bp.REGIME])
    # the snapshot's headline day: stocks, silver, oil and crypto fell together
    regime = baseline_frames[bp.REGIME].set_index("date")
    assert bool(regime.loc[pd.Timestamp("2026-02-12"), "is_synchronized_selloff"])


@pytest.mark.integration
@pytest.mark.slow
def test_perturbed_baseline_fails_against_the_built_marts(baseline_frames, built_marts):
    changed = {name: frame.copy() for name, frame in baseline_frames.items()}
    net = changed[bp.NET_LIQUIDITY]
    at = net["net_liquidity_bn"].last_valid_index()
    net.loc[at, "net_liquidity_bn"] += 0.01  # USD 10 mn on ~USD 6 tn: 1.7e-6 relative
    corr = changed[bp.CORRELATION]
    corr.loc[corr.index[0], "correlation"] += 1e-8
    results = bp.compare(changed, built_marts)
    assert results[bp.NET_LIQUIDITY]["ok"] is False
    assert results[bp.NET_LIQUIDITY]["mismatched_values"]["net_liquidity_bn"] == 1
    assert results[bp.CORRELATION]["ok"] is False
    assert results[bp.CORRELATION]["mismatched_values"]["correlation"] == 1
    assert results[bp.FUNDING_STRESS]["ok"] and results[bp.REGIME]["ok"]


@pytest.mark.integration
@pytest.mark.slow
def test_cli_exit_status(built_marts, capsys):
    assert bp.main(["--snapshot", str(SNAPSHOT_DIR), "--compare", str(built_marts), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["compute_seconds"] > 0
    assert all(r["ok"] for r in report["comparison"].values())
