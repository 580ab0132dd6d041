"""Replay of a windowed fetch reads only the window (sources/base.py lines_on_or_after), and
returns exactly what reading the whole file and keeping the window returned."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import SourceFormatError
from orchestration.sources import fred, markets
from orchestration.sources.base import lines_on_or_after

WIRE = Path(__file__).resolve().parents[2].parent / "shared" / "wire"
START = date(2024, 3, 1)


def test_earlier_dated_rows_go_everything_else_stays():
    payload = (
        b"\xef\xbb\xbfobservation_date,DGS10\r\n"
        b"2024-02-28,4.27\r\n"
        b"2024-02-29,.\r\n"
        b"\r\n"
        b'"2024-02-27",4.30\r\n'  # quoted: left to the parser
        b"2024-02-26 00:00,4.31\r\n"  # not plainly a date cell: left to the parser
        b"2024-03-01,4.18\r\n"
        b"2024-03-04,4.22"  # no line end
    )
    kept = lines_on_or_after(payload, START, fred.DATE_HEADERS)
    assert kept == (
        b"\xef\xbb\xbfobservation_date,DGS10\r\n"
        b"\r\n"
        b'"2024-02-27",4.30\r\n'
        b"2024-02-26 00:00,4.31\r\n"
        b"2024-03-01,4.18\r\n"
        b"2024-03-04,4.22"
    )


def test_carriage_return_only_lines_are_filtered_too():
    payload = b"DATE,DGS10\r2024-02-29,4.25\r2024-03-01,4.18\r"
    assert lines_on_or_after(payload, START, fred.DATE_HEADERS) == b"DATE,DGS10\r2024-03-01,4.18\r"


def test_a_file_whose_first_column_is_not_the_date_is_left_whole():
    payload = b"close,date\n2024-02-29,2024-02-29\n"
    assert lines_on_or_after(payload, START, ("date",)) == payload


def test_a_bad_row_in_the_window_is_still_reported():
    payload = b"observation_date,DGS10\n2020-01-02,1.88\n2024-03-01,4.18\n2024-03-04,n/a\n"
    with pytest.raises(SourceFormatError, match="non-numeric"):
        fred.parse_fred_csv(lines_on_or_after(payload, START, fred.DATE_HEADERS), "DGS10")


def test_a_defect_before_the_window_waits_for_the_full_read(tmp_path):
    """Like the live service's start filter: the windowed read never sees the older rows; the
    full re-read (start None: first load, weekly, --full) still rejects them."""
    folder = tmp_path / "fred"
    folder.mkdir()
    (folder / "DGS10.csv").write_bytes(
        b"observation_date,DGS10\n2020-01-02,1.88\n2020-01-02,1.88\n2024-03-01,4.18\n"
    )
    series = load_catalog().series["DGS10"]
    source = fred.FredReplaySource(tmp_path)
    assert list(source.fetch([series], START).frame["value"]) == [4.18]
    with pytest.raises(SourceFormatError, match="1 repeated dates: 2020-01-02"):
        source.fetch([series], None)


def _fred_window(path: Path, whole: bool) -> pd.DataFrame:
    payload = path.read_bytes()
    if not whole:
        payload = lines_on_or_after(payload, START, fred.DATE_HEADERS)
    frame = fred.parse_fred_csv(payload, path.stem, origin=str(path))
    return frame[frame["date"] >= START].reset_index(drop=True)


def test_real_fred_files_give_the_same_window(snapshot_dir):
    files = sorted((snapshot_dir / "fred").glob("*.csv"))
    wire = sorted((WIRE / "fred" / "graph").glob("*.csv")) if WIRE.is_dir() else []
    assert files
    for path in files + wire:
        pd.testing.assert_frame_equal(_fred_window(path, False), _fred_window(path, True))


def test_real_market_files_give_the_same_window(snapshot_dir):
    catalog = load_catalog()
    provider = markets.CsvFolderProvider(snapshot_dir / "markets")
    series = [s for s in catalog.for_source("markets") if provider.path(s).is_file()]
    assert series
    for s in series:
        window = provider.bars(s, START).reset_index(drop=True)
        whole = provider.bars(s)
        whole = whole[whole["date"] >= START].reset_index(drop=True)
        assert len(window) > 0, s.id
        pd.testing.assert_frame_equal(window, whole)
