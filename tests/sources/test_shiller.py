"""Shiller ie_data.xls: header discovery, decimal-month dates, NA cells, footnotes, errors."""

from __future__ import annotations

import io
import math
from datetime import date
from pathlib import Path

import pytest
import xlwt

from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import SourceFormatError
from orchestration.lib.http import HttpClient
from orchestration.lib.settings import load_settings
from orchestration.sources import shiller
from tests.support.http_server import FakeSleep, Reply

SNAPSHOT = Path(__file__).resolve().parents[2] / ".." / "shared" / "snapshot"
HEADER = ["Date", "P", "D", "E", "CPI", "Fraction", "Rate GS10", "Price", "Dividend", "Price",
          "Earnings", "Earnings", "CAPE", "", "TR CAPE"]  # fmt: skip


def shiller_series():
    return load_catalog().for_source("shiller")


def workbook(
    rows: list[list], *, header: list[str] = HEADER, header_row: int = 7, sheet: str = "Data"
) -> bytes:
    book = xlwt.Workbook()
    book.add_sheet("Disclaimer").write(0, 0, "test workbook")
    data = book.add_sheet(sheet)
    data.write(1, 0, "Stock Market Data")
    for col, label in enumerate(header):
        if label:
            data.write(header_row, col, label)
    for r, cells in enumerate(rows, start=header_row + 1):
        for c, cell in enumerate(cells):
            if cell is not None:
                data.write(r, c, cell)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def data_row(when, price=4.44, dividend=0.26, earnings=0.4, cpi=12.46, gs10=5.32, cape="NA"):
    return [when, price, dividend, earnings, cpi, 1871.04, gs10, 1, 1, 1, 1, 1, cape, None, "NA"]


def fetch(payload: bytes, tmp_path: Path, start: date | None = None):
    (tmp_path / "shiller").mkdir(exist_ok=True)
    (tmp_path / "shiller" / "ie_data.xls").write_bytes(payload)
    return shiller.ShillerReplay(tmp_path).fetch(shiller_series(), start)


def value(frame, series_id: str, day: date) -> float:
    hit = frame[(frame["series_id"] == series_id) & (frame["date"] == day)]
    assert len(hit) == 1, (series_id, day)
    return float(hit["value"].iloc[0])


@pytest.mark.parametrize(
    ("stored", "expected"),
    [(1871.01, date(1871, 1, 1)), (1871.1, date(1871, 10, 1)), (1871.09, date(1871, 9, 1)),
     (2025.1, date(2025, 10, 1)), (2025.11, date(2025, 11, 1)), (2026.12, date(2026, 12, 1))],
)  # fmt: skip
def test_decimal_month(stored, expected):
    assert shiller.month_from_decimal(stored) == expected


def test_parses_columns_october_na_and_stops_at_footnotes(tmp_path):
    payload = workbook(
        [
            data_row(1871.09, price=4.5),
            data_row(1871.1, price=4.6, cape=12.5),
            data_row(1871.11, price=4.7, dividend=None, earnings="", cape=13.0),
            [None, "May price is May 5th close"],
            [1999.01, 99.0],  # below the footnote: not data
        ]
    )
    batch = fetch(payload, tmp_path)
    frame = batch.frame
    assert batch.absent == []
    assert sorted(set(frame["series_id"])) == sorted(s.id for s in shiller_series())
    assert sorted(set(frame["date"])) == [date(1871, 9, 1), date(1871, 10, 1), date(1871, 11, 1)]
    assert value(frame, "SHILLER_PRICE", date(1871, 10, 1)) == 4.6
    assert value(frame, "SHILLER_GS10", date(1871, 10, 1)) == 5.32
    assert value(frame, "SHILLER_CPI", date(1871, 9, 1)) == 12.46
    assert math.isnan(value(frame, "SHILLER_CAPE", date(1871, 9, 1)))  # "NA"
    assert value(frame, "SHILLER_CAPE", date(1871, 10, 1)) == 12.5  # CAPE, not TR CAPE
    assert math.isnan(value(frame, "SHILLER_DIVIDEND", date(1871, 11, 1)))  # empty cell
    assert math.isnan(value(frame, "SHILLER_EARNINGS", date(1871, 11, 1)))  # empty text
    units = dict(zip(frame["series_id"], frame["units"], strict=False))
    assert units["SHILLER_GS10"] == "Percent" and units["SHILLER_CAPE"] == "Ratio"


def test_header_row_is_found_not_assumed(tmp_path):
    frame = fetch(workbook([data_row(1900.01, price=6.1)], header_row=4), tmp_path).frame
    assert value(frame, "SHILLER_PRICE", date(1900, 1, 1)) == 6.1


def test_start_filters_months(tmp_path):
    payload = workbook([data_row(1871.01), data_row(1871.02), data_row(1871.03)])
    frame = fetch(payload, tmp_path, start=date(1871, 2, 1)).frame
    assert sorted(set(frame["date"])) == [date(1871, 2, 1), date(1871, 3, 1)]


def test_missing_column_names_the_series(tmp_path):
    header = [("P/E10" if h == "CAPE" else h) for h in HEADER]
    with pytest.raises(SourceFormatError) as err:
        fetch(workbook([data_row(1871.01)], header=header), tmp_path)
    assert (err.value.source, err.value.series) == ("shiller", "SHILLER_CAPE")


def test_non_numeric_value_names_series_row_and_value(tmp_path):
    with pytest.raises(SourceFormatError) as err:
        fetch(workbook([data_row(1871.01), data_row(1871.02, cpi="n/a?")]), tmp_path)
    assert err.value.series == "SHILLER_CPI"
    assert "'n/a?'" in str(err.value) and "1871-02" in str(err.value)


def test_impossible_month_is_an_error(tmp_path):
    with pytest.raises(SourceFormatError, match=r"1871\.13"):
        fetch(workbook([data_row(1871.01), data_row(1871.13)]), tmp_path)


def test_no_header_no_sheet_not_a_workbook(tmp_path):
    with pytest.raises(SourceFormatError, match="'Date'"):
        fetch(workbook([data_row(1871.01)], header=["Month", *HEADER[1:]]), tmp_path)
    with pytest.raises(SourceFormatError, match="no sheet 'Data'"):
        fetch(workbook([data_row(1871.01)], sheet="Sheet1"), tmp_path)
    with pytest.raises(SourceFormatError, match=r"not a readable \.xls"):
        fetch(b"<html><body>Moved</body></html>", tmp_path)


def test_replay_without_the_workbook_reports_absent(tmp_path):
    settings = load_settings(
        {"CROSSWIND_SOURCE": "replay", "CROSSWIND_SNAPSHOT_DIR": str(tmp_path)}
    )
    batch = shiller.make_source(settings).fetch(shiller_series())
    assert batch.frame.empty and len(batch.absent) == 6


def test_live_download_and_record_round_trip(http_server, tmp_path):
    payload = workbook([data_row(1871.01), data_row(1871.1, cape=11.0)])
    http_server.route(
        "/ie_data.xls", Reply(200, payload, {"Content-Type": "application/vnd.ms-excel"})
    )
    env = {"CROSSWIND_SHILLER_URL": http_server.url("/ie_data.xls")}
    source = shiller.make_source(load_settings({"CROSSWIND_SOURCE": "live"}), env=env)
    source._client = HttpClient("shiller", sleep=FakeSleep(), max_retries=0)
    live = source.fetch(shiller_series())
    assert live.mode == "live"
    assert value(live.frame, "SHILLER_CAPE", date(1871, 10, 1)) == 11.0
    assert source.record(shiller_series(), tmp_path) == [tmp_path / "shiller" / "ie_data.xls"]
    assert (tmp_path / "shiller" / "ie_data.xls").read_bytes() == payload
    assert shiller.ShillerReplay(tmp_path).fetch(shiller_series()).frame.equals(live.frame)


@pytest.mark.integration
def test_replay_real_snapshot():
    if not (SNAPSHOT / "shiller" / "ie_data.xls").is_file():
        pytest.skip(f"real snapshot not found at {SNAPSHOT.resolve()} (../shared/snapshot)")
    frame = shiller.ShillerReplay(SNAPSHOT).fetch(shiller_series()).frame
    for series_id, rows in frame.groupby("series_id"):
        assert len(rows) == 1865, series_id
        assert rows["date"].min() == date(1871, 1, 1)
        assert rows["date"].max() == date(2026, 5, 1)
        # Unique months prove October (stored 1871.1) did not collapse onto January.
        assert rows["date"].is_unique and rows["date"].is_monotonic_increasing
    assert value(frame, "SHILLER_PRICE", date(1871, 1, 1)) == 4.44
    assert math.isnan(value(frame, "SHILLER_CAPE", date(1871, 1, 1)))
    assert value(frame, "SHILLER_CAPE", date(2026, 1, 1)) == pytest.approx(39.59, abs=0.01)
    assert math.isnan(value(frame, "SHILLER_EARNINGS", date(2026, 5, 1)))
