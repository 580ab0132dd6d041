"""bench/scale.py: a scaled synthetic snapshot that the catalog, the replay readers and dbt accept.

Runs on the real snapshot at factor 2 (a few seconds); the 10x run is the benchmark's job.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from bench.scale import BASE_ASSETS, make_scaled_snapshot
from orchestration.lib.catalog import CATALOG_PATH, MAX_CATALOG_BYTES, load_catalog, series_file
from orchestration.lib.errors import CrosswindError
from orchestration.sources.fred import FredReplaySource
from orchestration.sources.markets import CsvFolderProvider

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
MULTI_SERIES_FILES = ("treasury/tga_daily.csv", "mof/jgbcm_all.csv", "shiller/ie_data.xls")


@pytest.fixture(scope="module")
def _made():
    return {}


@pytest.fixture
def scaled(snapshot_dir, tmp_path_factory, _made):
    """(snapshot, ScaledSnapshot at factor 2 / asset factor 2), made once per module."""
    if "x2" not in _made:
        out = tmp_path_factory.mktemp("scaled") / "x2"
        _made["x2"] = make_scaled_snapshot(snapshot_dir, out, factor=2, asset_factor=2)
    return snapshot_dir, _made["x2"]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_catalog_loads_validates_and_doubles(scaled):
    _, result = scaled
    real = load_catalog(CATALOG_PATH)
    catalog = load_catalog(result.catalog_path)
    assert result.n_series == len(catalog.series) == 2 * len(real.series)
    assert set(real.series) <= set(catalog.series)
    synthetic = [s for s in catalog.series.values() if s.id not in real.series]
    assert len({s.id for s in synthetic}) == len(synthetic) == len(real.series)
    for s in synthetic:
        base = real.series[s.id.rsplit("_S", 1)[0]]
        assert (s.source, s.frequency, s.units) == (base.source, base.frequency, base.units)
        assert s.source in ("fred", "markets") and s.live is None
        assert s.range[0] <= base.range[0] and s.range[1] >= base.range[1]
    assert catalog.margins == real.margins and catalog.unit_labels == real.unit_labels


def test_the_100x_catalog_fits_the_loaders_size_limit(scaled):
    """The run reads the catalog with a size cap (load_strict_yaml); the 100x bench catalog
    (6,300 series) must stay under it. Extrapolated from the 2x one: its size grows per series."""
    _, result = scaled
    real = load_catalog(CATALOG_PATH)
    size_x2 = result.catalog_path.stat().st_size
    per_series = (size_x2 - CATALOG_PATH.stat().st_size) / (result.n_series - len(real.series))
    size_x100 = CATALOG_PATH.stat().st_size + per_series * 99 * len(real.series)
    assert size_x100 < MAX_CATALOG_BYTES / 2, (size_x100, MAX_CATALOG_BYTES)


def test_every_series_has_its_file(scaled):
    snapshot, result = scaled
    real = load_catalog(CATALOG_PATH)
    catalog = load_catalog(result.catalog_path)
    for s in catalog.series.values():
        if s.source not in ("fred", "markets"):
            continue
        path = series_file(result.out_dir / s.source, s.id)
        if s.id in real.series:  # real series: present exactly when the snapshot has them
            assert path.is_file() == series_file(snapshot / s.source, s.id).is_file(), s.id
        else:
            assert path.is_file(), s.id
    for name in MULTI_SERIES_FILES:
        assert (result.out_dir / name).read_bytes() == (snapshot / name).read_bytes()


def test_synthetic_values_follow_their_base_within_range(scaled):
    _, result = scaled
    catalog = load_catalog(result.catalog_path)
    fred = FredReplaySource(result.out_dir)
    for synthetic_id, base_id in (("WALCL_S01", "WALCL"), ("DCOILWTICO_S01", "DCOILWTICO")):
        got = fred.fetch([catalog.series[synthetic_id], catalog.series[base_id]]).frame
        values = got.pivot(index="date", columns="series_id", values="value").dropna()
        assert len(values) > 300
        ratio = values[synthetic_id] / values[base_id]
        ratio = ratio[values[base_id].abs() > 1]
        assert ratio.between(0.79, 1.26).all() and ratio.std() > 0
        lo, hi = catalog.series[synthetic_id].range
        factor = catalog.stored_value(synthetic_id, 1.0, None)
        assert (values[synthetic_id] * factor).between(lo, hi).all()
    bars = CsvFolderProvider(result.out_dir / "markets")
    spx = bars.bars(catalog.series["SPX"])
    spx_s01 = bars.bars(catalog.series["SPX_S01"])
    assert list(spx["date"]) == list(spx_s01["date"])
    assert (spx_s01["close"] / spx["close"]).between(0.79, 1.26).all()


def test_readme_counts_the_synthetic_series_and_their_rows(scaled):
    _, result = scaled
    real = load_catalog(CATALOG_PATH)
    synthetic = [
        s for s in load_catalog(result.catalog_path).series.values() if s.id not in real.series
    ]
    rows = sum(
        len(series_file(result.out_dir / s.source, s.id).read_text().splitlines()) - 1
        for s in synthetic
    )
    readme = (result.out_dir / "README.md").read_text()
    assert f"; {len(synthetic)} of them synthetic\n  ({rows} data rows in their files)" in readme


def test_dbt_vars_add_synthetic_market_assets(scaled):
    _, result = scaled
    catalog = load_catalog(result.catalog_path)
    on_disk = json.loads((result.out_dir / "dbt_vars.json").read_text())
    assert on_disk == result.dbt_vars
    extra = result.dbt_vars["extra_assets"]
    assert result.n_assets == BASE_ASSETS + len(extra) == 2 * BASE_ASSETS
    assert len({a["asset"] for a in extra}) == len(extra)
    for asset in extra:
        assert catalog.series[asset["primary_series_id"]].source == "markets"
        assert asset["in_regime_basket"] is False and asset["haven_loss_sign"] is None


def test_output_is_deterministic(scaled, tmp_path):
    snapshot, first = scaled
    second = make_scaled_snapshot(snapshot, tmp_path / "x2", factor=2, asset_factor=2)
    assert _files(first.out_dir) == _files(second.out_dir)
    # Rerunning into the same folder replaces it (no leftovers, no .tmp/.old siblings).
    make_scaled_snapshot(snapshot, tmp_path / "x2", factor=1, asset_factor=1)
    assert not (tmp_path / "x2" / "fred" / "WALCL_S01.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x2"]


def test_refuses_unsafe_output_folders(scaled, tmp_path):
    snapshot, _ = scaled
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not a scaled snapshot")
    with pytest.raises(CrosswindError, match="not a scaled snapshot"):
        make_scaled_snapshot(snapshot, foreign, factor=1)
    assert (foreign / "keep.txt").exists()
    with pytest.raises(CrosswindError, match="repository"):
        make_scaled_snapshot(snapshot, REPO_ROOT / "orchestration" / "scaled", factor=1)
    with pytest.raises(CrosswindError, match="snapshot"):
        make_scaled_snapshot(snapshot, snapshot / "scaled", factor=1)


@pytest.mark.slow
def test_asset_map_honours_the_extra_assets_var(scaled, tmp_path):
    """dbt compiles int_markets__asset_map with the var: 20 rows, the VALUES rows' types."""
    from orchestration.defs.transform.project import dbt_executable

    _, result = scaled
    env = {
        **os.environ,
        "CROSSWIND_WAREHOUSE_DIR": str(tmp_path),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    dbt_dir = REPO_ROOT / "dbt_project"
    proc = subprocess.run(
        [
            dbt_executable(),
            "compile",
            "--select",
            "int_markets__asset_map",
            "--project-dir",
            str(dbt_dir),
            "--profiles-dir",
            str(dbt_dir),
            "--vars",
            json.dumps(result.dbt_vars),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    compiled = next((tmp_path / "target" / "compiled").rglob("int_markets__asset_map.sql"))
    sql = compiled.read_text()
    con = duckdb.connect()
    rows = con.execute(f"select asset, primary_series_id, sort_order from ({sql})").fetchall()
    assert len(rows) == 2 * BASE_ASSETS
    assert rows[-1] == (
        result.dbt_vars["extra_assets"][-1]["asset"],
        result.dbt_vars["extra_assets"][-1]["primary_series_id"],
        2 * BASE_ASSETS,
    )
    types = [r[1] for r in con.execute(f"describe select * from ({sql})").fetchall()]
    base_sql = sql.split("union all")[0]
    assert types == [r[1] for r in con.execute(f"describe {base_sql}").fetchall()]
    assert types == ["VARCHAR"] * 6 + ["BOOLEAN", "INTEGER", "INTEGER"]
