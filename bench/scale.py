"""A synthetic snapshot and catalog N× the size of the real ones, for the scale benchmark.

    python bench/scale.py --snapshot ../shared/snapshot --out warehouse/bench/scaled \\
        [--factor 10] [--asset-factor 5]

writes into `--out` (created or replaced; never a folder of the repository outside the
git-ignored `warehouse/`):

- a complete replay folder in the snapshot's layout (`fred/<ID>.csv`, `markets/<ID>.csv`,
  `treasury/`, `mof/`, `shiller/`, `cme/`), read by the replay sources like the real one;
- `catalog.yaml`: the repository's catalog plus `(factor - 1) × N` synthetic series (N = the
  real catalog's series count), so the catalog holds `factor × N` series. Use it with
  `CROSSWIND_CATALOG=<out>/catalog.yaml`;
- `dbt_vars.json`: `{"extra_assets": [...]}` for `dbt build --vars`, giving the cross-asset marts
  `asset_factor ×` the ten real assets (10 → 50 by default; 1225 correlation pairs); with
  `--history-pairs reviewed` also `correlation_history_pairs`: full correlation history only for
  the pairs of reviewed_pairs() (the ten real assets' 45, and each extra asset against the S&P
  500), the latest days for every other pair. The 100× catalog of the bench is
  `--factor 100 --asset-factor 10 --history-pairs reviewed` (6,300 series, 100 assets, 4,950
  pairs, 135 of them with history);
- `README.md`, saying the folder is synthetic.

Scaling rules:

- Only FRED and market-bar series are multiplied: they are one file per series. The sources that
  hold several series in one file (Treasury `tga_daily.csv`, MOF `jgbcm_all.csv`, Shiller
  `ie_data.xls`, CME `margin_history.csv`) are copied unchanged, so their series appear once.
- A synthetic series copies a real series that has a file in the snapshot, of the same source
  and frequency (the catalog entry is the real one's, without its live symbol). Bases are taken
  in catalog order, round-robin: the k-th copy of `WALCL` is `WALCL_S<kk>` (e.g. `WALCL_S07`).
- Its values are the real ones on the same dates times `exp(x_t)`, where x_t is a seeded
  AR(1) walk (x_t = 0.995 x_{t-1} + N(0, 0.004²), clipped to ±ln 1.25): the multiplier stays in
  [0.8, 1.25], so prices keep their shape, returns get noise (about 0.4 % a day), and the
  catalog range, widened to [min / 2, max × 2] (negative bounds the other way), always holds.
  Missing markers are kept; each number keeps its original decimals; bar files scale open, high,
  low and close by the same multiplier and keep the volume. The seed is derived from the
  synthetic id, so the output is byte-for-byte the same on every run.
- Extra assets are synthetic market series (then synthetic daily FRED series if there are not
  enough), in generation order: asset `syn_<id>` (e.g. `syn_btc_usd_s03`), class `synthetic`,
  simple returns, no proxy, outside the regime basket and not a haven, so
  fct_cross_asset_regime_daily keeps its meaning and only the correlation mart grows.

Rows grow by more than `factor`: every copy is as long as its base, and the copies come from
FRED and market series only (see the README.md written into the folder for the counts).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

if __name__ == "__main__" and not __package__:  # `python bench/scale.py` from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestration.lib.catalog import (
    CATALOG_PATH,
    MAX_CATALOG_BYTES,
    SERIES_ID_RE,
    Catalog,
    Series,
    dump_catalog,
    parse_catalog,
    series_file,
)
from orchestration.lib.errors import CrosswindError

REPO_ROOT = Path(__file__).resolve().parents[1]
SCALED_SOURCES = ("fred", "markets")  # one file per series: these are multiplied
MARKER = "# Synthetic scaled snapshot (bench/scale.py)"
# The VALUES rows of dbt_project/models/intermediate/markets/int_markets__asset_map.sql.
BASE_ASSETS = 10
BASE_ASSET_KEYS = (
    "sp500",
    "nasdaq",
    "dow",
    "gold",
    "silver",
    "wti",
    "btc",
    "eth",
    "us10y",
    "usdjpy",
)
# Which correlation pairs keep their full history (dbt var correlation_history_pairs): every pair,
# or the reviewed list of reviewed_pairs(); the others keep the latest days only.
HISTORY_PAIRS = ("all", "reviewed")
HISTORY_ANCHOR = "sp500"

# The noise: log multiplier x_t = PHI * x_{t-1} + N(0, SIGMA^2), clipped to +-MAX_LOG.
PHI = 0.995
SIGMA = 0.004
START_SPREAD = 0.05
MAX_LOG = math.log(1.25)
RANGE_WIDEN = 2.0  # synthetic range = [min / 2, max * 2]: exact in binary, covers [0.8, 1.25]
FRED_MISSING = {"", "."}
BAR_MISSING = {"", "null", "nan", "NaN", "."}


@dataclass(frozen=True)
class ScaledSnapshot:
    out_dir: Path
    catalog_path: Path
    dbt_vars: dict = field(repr=False)
    n_series: int
    n_assets: int

    @property
    def dbt_vars_path(self) -> Path:
        return self.out_dir / "dbt_vars.json"


def make_scaled_snapshot(
    snapshot_dir: Path,
    out_dir: Path,
    factor: int = 10,
    asset_factor: int = 5,
    history_pairs: str = "all",
) -> ScaledSnapshot:
    """Write a scaled replay folder, catalog and dbt vars into `out_dir` (see the module doc)."""
    snapshot_dir = Path(snapshot_dir).resolve()
    out_dir = Path(out_dir).resolve()
    if factor < 1 or asset_factor < 1:
        raise CrosswindError(f"factor {factor} and asset_factor {asset_factor} must be >= 1")
    if history_pairs not in HISTORY_PAIRS:
        raise CrosswindError(f"history_pairs {history_pairs!r}: one of {', '.join(HISTORY_PAIRS)}")
    if not snapshot_dir.is_dir():
        raise CrosswindError(f"snapshot folder {snapshot_dir} not found")
    _check_out_dir(snapshot_dir, out_dir)

    raw = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    catalog = parse_catalog(raw)
    bases = [
        s
        for s in catalog.series.values()
        if s.source in SCALED_SOURCES and series_file(snapshot_dir / s.source, s.id).is_file()
    ]
    if not bases:
        raise CrosswindError(f"{snapshot_dir} has no fred/ or markets/ series file to scale")
    synthetic = _plan(catalog, bases, (factor - 1) * len(catalog.series))

    work = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        _copy_snapshot(snapshot_dir, work)
        series_out = dict(raw["series"])
        copies: dict[str, list[str]] = {}  # base id -> its synthetic ids, in plan order
        for new_id, base in synthetic:
            series_out[new_id] = _synthetic_entry(raw["series"][base.id], base)
            copies.setdefault(base.id, []).append(new_id)
        data_rows = sum(
            _write_copies(snapshot_dir, work, base, copies[base.id])
            for base in bases
            if base.id in copies
        )
        scaled_raw = {**raw, "series": series_out}
        scaled = parse_catalog(scaled_raw)  # the same validation load_catalog applies
        catalog_path = work / "catalog.yaml"
        catalog_path.write_text(_catalog_text(scaled_raw, factor), encoding="utf-8")
        size = catalog_path.stat().st_size
        if size > MAX_CATALOG_BYTES:  # the run would refuse it
            raise CrosswindError(
                f"the {factor}x catalog is {size} bytes, over the "
                f"loader's limit of {MAX_CATALOG_BYTES} (orchestration/lib/catalog.py)"
            )

        extra = _extra_assets(synthetic, BASE_ASSETS * (asset_factor - 1))
        dbt_vars = {"extra_assets": extra}
        if history_pairs == "reviewed":
            dbt_vars["correlation_history_pairs"] = reviewed_pairs([a["asset"] for a in extra])
        (work / "dbt_vars.json").write_text(
            json.dumps(dbt_vars, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        _write_readme(
            work, snapshot_dir, scaled, factor, asset_factor, len(extra), len(synthetic), data_rows
        )
        _replace_dir(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ScaledSnapshot(
        out_dir=out_dir,
        catalog_path=out_dir / "catalog.yaml",
        dbt_vars=dbt_vars,
        n_series=len(scaled.series),
        n_assets=BASE_ASSETS + len(extra),
    )


# -- planning ------------------------------------------------------------------------------------


def _plan(catalog: Catalog, bases: list[Series], count: int) -> list[tuple[str, Series]]:
    """(new id, base series) for `count` synthetic series, round-robin over the bases."""
    planned = []
    for i in range(count):
        base = bases[i % len(bases)]
        new_id = f"{base.id}_S{i // len(bases) + 1:02d}"
        if not SERIES_ID_RE.fullmatch(new_id) or new_id in catalog.series:
            raise CrosswindError(f"synthetic id {new_id!r} is not a new, safe series id")
        planned.append((new_id, base))
    return planned


def _synthetic_entry(base_raw: dict, base: Series) -> dict:
    entry = {k: v for k, v in base_raw.items() if k != "live"}
    lo, hi = base.range
    entry["range"] = [
        lo / RANGE_WIDEN if lo > 0 else lo * RANGE_WIDEN,
        hi * RANGE_WIDEN if hi > 0 else hi / RANGE_WIDEN,
    ]
    entry["description"] = (
        f"Synthetic copy of {base.id} with seeded noise (bench/scale.py): {base.description}"
    )
    return entry


def _extra_assets(synthetic: list[tuple[str, Series]], count: int) -> list[dict]:
    """The first `count` synthetic market series (then daily FRED ones) as asset map rows."""
    markets = [(i, b) for i, b in synthetic if b.source == "markets"]
    fred = [(i, b) for i, b in synthetic if b.source == "fred" and b.frequency == "daily"]
    candidates = (markets + fred)[:count]
    if len(candidates) < count:
        raise CrosswindError(
            f"{count} extra assets need as many daily synthetic series; only {len(candidates)} "
            "were made: raise --factor or lower --asset-factor"
        )
    extra = []
    for n, (series_id, base) in enumerate(candidates, start=1):
        extra.append(
            {
                "asset": "syn_" + re.sub(r"[^a-z0-9]+", "_", series_id.lower()).strip("_"),
                "asset_name": f"Synthetic {series_id} (from {base.id})",
                "asset_class": "synthetic",
                "primary_series_id": series_id,
                "proxy_series_id": None,
                "return_kind": "simple",
                "in_regime_basket": False,
                "haven_loss_sign": None,
                "sort_order": BASE_ASSETS + n,
            }
        )
    if len({a["asset"] for a in extra}) != len(extra):
        raise CrosswindError("synthetic asset keys collide")
    return extra


def reviewed_pairs(extra_assets: list[str]) -> list[list[str]]:
    """The pairs with full correlation history in a large catalog: every pair of the ten real
    assets (the regime mart reads its basket and havens among them) and each extra asset against
    the S&P 500, so 45 + n pairs: linear in the assets, where all pairs would be quadratic."""
    pairs = [
        sorted([a, b]) for i, a in enumerate(BASE_ASSET_KEYS) for b in BASE_ASSET_KEYS[i + 1 :]
    ]
    pairs += [sorted([HISTORY_ANCHOR, asset]) for asset in extra_assets]
    return pairs


# -- files ---------------------------------------------------------------------------------------


def _check_out_dir(snapshot_dir: Path, out_dir: Path) -> None:
    if out_dir == snapshot_dir or out_dir.is_relative_to(snapshot_dir):
        raise CrosswindError(f"--out {out_dir} is inside the snapshot {snapshot_dir}")
    if snapshot_dir.is_relative_to(out_dir):
        raise CrosswindError(f"--out {out_dir} contains the snapshot {snapshot_dir}")
    warehouse = REPO_ROOT / "warehouse"
    if out_dir.is_relative_to(REPO_ROOT) and not out_dir.is_relative_to(warehouse):
        # Snapshot-derived files must never land in tracked folders; warehouse/ is git-ignored.
        raise CrosswindError(
            f"--out {out_dir} is in the repository: use a folder under {warehouse} (git-ignored)"
        )
    if out_dir.exists():
        readme = out_dir / "README.md"
        ours = readme.is_file() and readme.read_text(encoding="utf-8").startswith(MARKER)
        if not out_dir.is_dir() or (any(out_dir.iterdir()) and not ours):
            raise CrosswindError(
                f"--out {out_dir} exists and is not a scaled snapshot: refusing to replace it"
            )


def _copy_snapshot(snapshot_dir: Path, work: Path) -> None:
    """Every source folder's files, byte for byte (the snapshot's README is not copied)."""
    for folder in sorted(p for p in snapshot_dir.iterdir() if p.is_dir()):
        dest = work / folder.name
        dest.mkdir()
        for file in sorted(p for p in folder.iterdir() if p.is_file()):
            shutil.copyfile(file, dest / file.name)


def _replace_dir(work: Path, out_dir: Path) -> None:
    old = out_dir.with_name(out_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(old)
    work.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _multipliers(series_id: str, n: int) -> list[float]:
    digest = hashlib.sha256(f"crosswind-scale:{series_id}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    level = float(rng.uniform(-START_SPREAD, START_SPREAD))
    out = []
    for shock in rng.normal(0.0, SIGMA, n).tolist():
        level = max(-MAX_LOG, min(MAX_LOG, PHI * level + shock))
        out.append(math.exp(level))
    return out


def _scaled(cell: str, multiplier: float, missing: set[str]) -> str:
    text = cell.strip()
    if text in missing:
        return cell
    value = float(text) * multiplier
    if "e" in text.lower():
        return repr(value)
    decimals = len(text.split(".", 1)[1]) if "." in text else 0
    return f"{value:.{decimals}f}"


def _write_copies(snapshot_dir: Path, work: Path, base: Series, new_ids: list[str]) -> int:
    """`work/<source>/<new id>.csv` for each of `new_ids` from the base's file, read once;
    returns the data rows written (over all the copies)."""
    source = base.source
    text = series_file(snapshot_dir / source, base.id).read_text(encoding="utf-8-sig")
    rows = [r for r in csv.reader(io.StringIO(text, newline="")) if any(c.strip() for c in r)]
    header, body = rows[0], rows[1:]
    if source == "fred":
        missing, keep = FRED_MISSING, {0}
    else:
        missing = BAR_MISSING
        keep = {0} | {i for i, c in enumerate(header) if c.strip().lower() == "volume"}
    for new_id in new_ids:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([header[0], new_id] if source == "fred" else header)
        for row, m in zip(body, _multipliers(new_id, len(body)), strict=True):
            writer.writerow([c if i in keep else _scaled(c, m, missing) for i, c in enumerate(row)])
        series_file(work / source, new_id).write_text(out.getvalue(), encoding="utf-8")
    return len(body) * len(new_ids)


def _catalog_text(data: dict, factor: int) -> str:
    head = (
        f"# SYNTHETIC catalog written by bench/scale.py (factor {factor}) for the scale\n"
        "# benchmark: the repository's orchestration/catalog.yaml plus seeded noisy copies of\n"
        "# FRED and market series (ids <BASE>_Snn). Use it with CROSSWIND_CATALOG, never for\n"
        "# real data.\n"
    )
    return head + dump_catalog(data, width=120)


def _write_readme(
    work: Path,
    snapshot_dir: Path,
    catalog: Catalog,
    factor: int,
    asset_factor: int,
    n_extra_assets: int,
    n_synthetic: int,
    synthetic_rows: int,
) -> None:
    by_source: dict[str, int] = {}
    for s in catalog.series.values():
        by_source[s.source] = by_source.get(s.source, 0) + 1
    counts = ", ".join(f"{k} {v}" for k, v in sorted(by_source.items()))
    text = f"""{MARKER}

SYNTHETIC data for crosswind's scale benchmark: not real market data. Written by
`python bench/scale.py --factor {factor} --asset-factor {asset_factor}` from the real snapshot's
layout ({snapshot_dir.name}/); the generator's docstring gives the rules.

- `catalog.yaml`: {len(catalog.series)} series ({counts}); {n_synthetic} of them synthetic
  ({synthetic_rows} data rows in their files). Load it with CROSSWIND_CATALOG.
- `dbt_vars.json`: {n_extra_assets} extra assets for the cross-asset marts
  ({BASE_ASSETS + n_extra_assets} in all): `dbt build --vars "$(cat dbt_vars.json)"`.
- treasury/, mof/, shiller/, cme/: copied unchanged (several series per file).

    CROSSWIND_SOURCE=replay CROSSWIND_SNAPSHOT_DIR=<this folder> \\
    CROSSWIND_CATALOG=<this folder>/catalog.yaml dg launch --job refresh_job
"""
    (work / "README.md").write_text(text, encoding="utf-8")


# -- command line --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, required=True, help="the real snapshot folder")
    parser.add_argument("--out", type=Path, required=True, help="folder to write (replaced)")
    parser.add_argument("--factor", type=int, default=10, help="series multiple (default 10)")
    parser.add_argument(
        "--asset-factor", type=int, default=5, help="correlation-mart asset multiple (default 5)"
    )
    parser.add_argument(
        "--history-pairs",
        choices=HISTORY_PAIRS,
        default="all",
        help="correlation pairs with full history: all, or the reviewed list (default all)",
    )
    args = parser.parse_args(argv)
    try:
        scaled = make_scaled_snapshot(
            args.snapshot, args.out, args.factor, args.asset_factor, args.history_pairs
        )
    except CrosswindError as exc:
        sys.stderr.write(f"scale: {exc}\n")
        return 1
    sys.stdout.write(
        f"wrote {scaled.out_dir}: {scaled.n_series} series, {scaled.n_assets} assets\n"
        f"  CROSSWIND_SOURCE=replay CROSSWIND_SNAPSHOT_DIR={scaled.out_dir} "
        f"CROSSWIND_CATALOG={scaled.catalog_path}\n"
        f'  dbt build --vars "$(cat {scaled.dbt_vars_path})"\n'
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
