"""Rehearsal test fixtures: the genuine wire folder, and small inputs in the real formats."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
import xlwt

from orchestration.lib.catalog import load_catalog
from orchestration.rehearsal.shiller import OLD_ADDRESS
from tests.faults.harness import business_days, fred_csv, mof_csv, mof_rows, tga_csv, wednesdays
from tests.support.snapshot import REPO_ROOT, SNAPSHOT_DIR, snapshot_present

WIRE_DIR = (REPO_ROOT / ".." / "shared" / "wire").resolve()
KEY = "0123456789abcdef0123456789abcdef"  # FRED's key shape: 32 lower-case letters and digits
# The real address without an upload folder, the one that serves the copy frozen in 2024.
OLD_WORKBOOK_URL = "https://img1.wsimg.com" + OLD_ADDRESS


def wire_present() -> bool:
    return (WIRE_DIR / "README.md").is_file()


@pytest.fixture
def wire_dir() -> Path:
    if not wire_present():
        pytest.skip(f"genuine wire payloads not found at {WIRE_DIR} (only on project machines)")
    return WIRE_DIR


@pytest.fixture
def shared_snapshot() -> Path:
    if not snapshot_present():
        pytest.skip(f"real snapshot not found at {SNAPSHOT_DIR} (only on project machines)")
    return SNAPSHOT_DIR


SHILLER_HEADER = ["Date", "P", "D", "E", "CPI", "Fraction", "Rate GS10", "Price", "Dividend",
                  "Price", "Earnings", "Earnings", "CAPE"]  # fmt: skip


def shiller_workbook(months: list[date], price: float = 5000.0) -> bytes:
    """A workbook laid out like ie_data.xls: sheet Data, header on row 8, dates as 2025.01."""
    book = xlwt.Workbook()
    book.add_sheet("Disclaimer").write(0, 0, "test workbook")
    data = book.add_sheet("Data")
    for col, label in enumerate(SHILLER_HEADER):
        data.write(7, col, label)
    for r, month in enumerate(months, start=8):
        values = [float(f"{month.year}.{month.month:02d}"), price + r, 70.0, 200.0, 320.0,
                  month.year + month.month / 12, 4.2, 1, 1, 1, 1, 1, 35.0 + r / 100]  # fmt: skip
        for c, value in enumerate(values):
            data.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def month_starts(last: date, count: int) -> list[date]:
    months, month = [], last.replace(day=1)
    for _ in range(count):
        months.append(month)
        month = (month - timedelta(days=1)).replace(day=1)
    return months[::-1]


def write_required_fred_series(folder: Path) -> None:
    """Every required FRED series the folder lacks: calm values mid-range, at its frequency (the
    quality gate refuses a batch without them)."""
    catalog = load_catalog()
    months = month_starts(date(2025, 12, 1), 24)
    dates = {
        "daily": business_days(),
        "weekly": wednesdays(),
        "monthly": months,
        "quarterly": [m for m in months if m.month in (1, 4, 7, 10)],
    }
    for series in catalog.for_source("fred"):
        path = folder / f"{series.id}.csv"
        if series.required and not path.exists():
            low, high = series.range
            published = (low + high) / 2 / catalog.unit(series.units).factor
            days = dates[series.frequency]
            rows = [(d, f"{published * (1 + i % 3 / 200):.4f}") for i, d in enumerate(days)]
            path.write_text(fred_csv(series.id, rows))


@pytest.fixture
def small_snapshot(tmp_path) -> Path:
    """A snapshot folder in the replay layout with a few rows of each source (synthetic)."""
    root = tmp_path / "snapshot"
    for folder in ("fred", "treasury", "mof", "shiller", "markets", "ofr"):
        (root / folder).mkdir(parents=True)
    walcl = [(d, f"{6_580_000 + 1_000 * i}") for i, d in enumerate(wednesdays())]
    (root / "fred" / "WALCL.csv").write_text(fred_csv("WALCL", walcl))
    dgs10 = [(d, "." if i == 3 else f"{4 + i / 100:.2f}") for i, d in enumerate(business_days())]
    (root / "fred" / "DGS10.csv").write_text(fred_csv("DGS10", dgs10, header="DATE"))
    unrate = [
        (m, f"{4 + i % 3 / 10:.1f}") for i, m in enumerate(month_starts(date(2025, 12, 1), 24))
    ]
    (root / "fred" / "UNRATE.csv").write_text(fred_csv("UNRATE", unrate))
    write_required_fred_series(root / "fred")
    (root / "treasury" / "tga_daily.csv").write_text(tga_csv())
    # OFR's header; the five categories add up to the index, and so do the three regions.
    fsi = "Date,OFR FSI,Credit,Equity valuation,Safe assets,Funding,Volatility,United States," \
          "Other advanced economies,Emerging markets\n"  # fmt: skip
    for i, d in enumerate(business_days()):
        parts = [0.1 * (i % 5), -0.2, 0.3, 0.05, 0.15]
        regions = [sum(parts) - 0.5, 0.3, 0.2]
        fsi += ",".join([d.isoformat(), *(f"{v:.3f}" for v in [sum(parts), *parts, *regions])])
        fsi += "\n"
    (root / "ofr" / "fsi.csv").write_text(fsi)
    (root / "mof" / "jgbcm_all.csv").write_bytes(mof_csv(mof_rows(business_days())))
    (root / "shiller" / "ie_data.xls").write_bytes(
        shiller_workbook(month_starts(date(2025, 12, 1), 24))
    )
    # Every catalog market series: the live client treats a symbol Yahoo lacks as an error.
    for series in load_catalog().for_source("markets"):
        low, high = series.range
        close = [low + (high - low) * (0.3 + i % 7 / 100) for i in range(len(business_days()))]
        bars = "".join(f"{d},{c:.4f}\n" for d, c in zip(business_days(), close, strict=True))
        (root / "markets" / f"{series.id}.csv").write_text("date,close\n" + bars)
    ohlc = "".join(
        f"{d},{100 + i},{105 + i},{95 + i},{101 + i},{1000 * i}\n"
        for i, d in enumerate(business_days())
    )
    (root / "markets" / "BTC-USD.csv").write_text("date,open,high,low,close,volume\n" + ohlc)
    return root
