"""The bundled synthetic sample: reproducible from its generator, readable by every reader."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from orchestration.lib.catalog import load_catalog
from orchestration.lib.settings import SAMPLE_DIR, load_settings
from orchestration.sample import generate
from orchestration.sources import cme, drops, markets, mof, ofr, shiller

NOT_GENERATED = {"generate.py", "__init__.py", "README.md"}


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("sample")
    return out, generate.generate(out)


@pytest.fixture(scope="module")
def sample_settings():
    return load_settings({"CROSSWIND_SOURCE": "sample"})


def committed_files() -> set[str]:
    return {
        p.relative_to(SAMPLE_DIR).as_posix()
        for p in SAMPLE_DIR.rglob("*")
        if p.is_file() and p.name not in NOT_GENERATED and "__pycache__" not in p.parts
    }


def test_generator_reproduces_the_committed_files_byte_for_byte(regenerated):
    out, written = regenerated
    names = {p.relative_to(out).as_posix() for p in written}
    assert names == committed_files(), "run `python -m orchestration.sample.generate`"
    changed = [n for n in sorted(names) if (out / n).read_bytes() != (SAMPLE_DIR / n).read_bytes()]
    assert changed == [], "sample is stale: run `python -m orchestration.sample.generate`"


def test_sample_is_small_and_labelled_synthetic():
    size = sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*") if p.is_file())
    assert size < 2_000_000
    readme = (SAMPLE_DIR / "README.md").read_text()
    assert "SYNTHETIC" in readme and "generate" in readme


def test_fred_and_treasury_files_cover_the_catalog():
    catalog = load_catalog()
    required = {s.id for s in catalog.for_source("fred") if s.required}
    present = {p.stem for p in (SAMPLE_DIR / "fred").glob("*.csv")}
    assert required <= present
    for path in (SAMPLE_DIR / "fred").glob("*.csv"):
        frame = pd.read_csv(path)
        assert list(frame.columns) == ["observation_date", path.stem]
        dates = pd.to_datetime(frame["observation_date"], format="%Y-%m-%d")
        assert dates.is_monotonic_increasing and dates.max() <= pd.Timestamp("2026-06-30")
        values = frame[path.stem].dropna() * catalog.unit(catalog.series[path.stem].units).factor
        lo, hi = catalog.series[path.stem].range
        assert values.between(lo, hi).all(), path.stem
    tga = pd.read_csv(SAMPLE_DIR / "treasury" / "tga_daily.csv")
    assert list(tga.columns) == ["record_date", "tga_close_usd_mn"]
    assert (tga["tga_close_usd_mn"] / 1000).between(*catalog.series["TGA"].range).all()


def test_every_file_parses_with_the_replay_readers(sample_settings):
    catalog = load_catalog()
    for module, source in ((mof, "mof"), (shiller, "shiller"), (markets, "markets"), (ofr, "ofr")):
        series = catalog.for_source(source)
        batch = module.make_source(sample_settings).fetch(series)
        assert batch.mode == "sample" and batch.absent == [], source
        column = "close" if source == "markets" else "value"
        for s in series:
            values = batch.frame.loc[batch.frame["series_id"] == s.id, column].dropna()
            assert len(values) > 100, s.id
            assert values.between(*s.range).all(), s.id
    margins = cme.make_source(sample_settings).fetch([])
    assert margins.absent == [] and set(margins.frame["product"]) == {"GC", "SI"}
    pe = drops.make_source(sample_settings).fetch(catalog.for_source("drops"))
    assert sorted(pe.absent) == ["ADP", "CHALLENGER"]
    assert pe.frame["value"].between(*catalog.series["FORWARD_PE"].range).all()


def test_sample_tells_the_selloff_and_margin_story(sample_settings):
    catalog = load_catalog()
    bars = markets.make_source(sample_settings).fetch(catalog.for_source("markets")).frame
    closes = bars.pivot_table(index="date", columns="series_id", values="close")
    returns = closes.loc[[date(2026, 2, 11), date(2026, 2, 12)]].pct_change().iloc[-1]
    risky = ["SPX", "DIA", "XAUUSD_LBMA_PM", "XAGUSD", "SLV", "BTC-USD", "ETH-USD"]
    assert (returns[risky] < 0).all(), returns
    assert returns["MOVE"] > 0
    margins = cme.make_source(sample_settings).fetch([], start=date(2026, 1, 1)).frame
    silver = margins[(margins["product"] == "SI") & (margins["effective_date"] < date(2026, 3, 1))]
    hikes = silver["maintenance_margin"] > silver["previous_maintenance_margin"]
    assert hikes.sum() >= 2
    jgb = mof.make_source(sample_settings).fetch(catalog.for_source("mof")).frame
    assert jgb["date"].max() == date(2026, 6, 30)  # the current-month file extends the history
