"""The bench harness's own logic: the snapshot minus its last day, and the statistics."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run import BenchError, _iso, _tree_rss_mb, dbt_log_start, summary, trim_last_day


def _write(path, text: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text)


def test_trim_drops_the_last_row_of_daily_series_only(tmp_path):
    snap = tmp_path / "snap"
    _write(snap / "fred" / "SOFR.csv", b"observation_date,SOFR\n2026-06-03,4.3\n2026-06-04,4.31\n")
    _write(snap / "fred" / "WALCL.csv", b"observation_date,WALCL\n2026-06-03,1\n2026-06-10,2\n")
    _write(snap / "markets" / "SPX.csv", b"date,close\r\n2026-06-04,1\r\n2026-06-05,2\r\n\r\n")
    _write(snap / "treasury" / "tga_daily.csv", b"record_date,x\n2026-06-04,1\n2026-06-05,2\n")
    _write(snap / "mof" / "jgbcm_all.csv", b"title\r\nDate,1Y\r\n2026/6/4,0.5\r\n2026/6/5,0.6\r\n")
    _write(snap / "shiller" / "ie_data.xls", b"binary")

    removed = trim_last_day(snap, tmp_path / "out")

    out = tmp_path / "out"
    assert removed == {
        "fred/SOFR": "2026-06-04",
        "markets/SPX": "2026-06-05",
        "treasury/tga_daily.csv": "2026-06-05",
        "mof/jgbcm_all.csv": "2026/6/5",
    }
    assert (out / "fred" / "SOFR.csv").read_bytes() == b"observation_date,SOFR\n2026-06-03,4.3\n"
    # Weekly series and non-CSV files are copied as they are; line endings are kept.
    assert (out / "fred" / "WALCL.csv").read_bytes() == (snap / "fred" / "WALCL.csv").read_bytes()
    assert (out / "shiller" / "ie_data.xls").read_bytes() == b"binary"
    assert (out / "markets" / "SPX.csv").read_bytes() == b"date,close\r\n2026-06-04,1\r\n"
    # The source snapshot is never modified.
    assert (snap / "fred" / "SOFR.csv").read_bytes().endswith(b"2026-06-04,4.31\n")


def test_trim_refuses_a_file_it_would_empty(tmp_path):
    snap = tmp_path / "snap"
    _write(snap / "fred" / "SOFR.csv", b"observation_date,SOFR\n2026-06-04,4.31\n")
    with pytest.raises(BenchError, match=r"SOFR\.csv: too few rows"):
        trim_last_day(snap, tmp_path / "out")


def test_summary_reports_median_and_spread():
    assert summary([30.0, 26.0, 27.5]) == {
        "median": 27.5,
        "min": 26.0,
        "max": 30.0,
        "spread": 4.0,
        "samples": [30.0, 26.0, 27.5],
    }


@pytest.mark.skipif(not Path("/proc/self/statm").is_file(), reason="reads Linux /proc")
def test_tree_rss_counts_the_process_and_its_children():
    code = "import time; print('ready', flush=True); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        child_mb = _tree_rss_mb(child.pid)
        assert child_mb > 0
        assert _tree_rss_mb(os.getpid()) > child_mb  # this process plus the child
    finally:
        child.kill()
        child.wait()
    assert _tree_rss_mb(child.pid) == 0  # exited: nothing left to count


def test_dbt_log_start_is_the_first_json_line(tmp_path):
    log = tmp_path / "dbt.log"
    log.write_text(
        "not json\n"
        '{"info": {"ts": "2026-11-30T05:37:07.500000Z", "code": "A001"}}\n'
        '{"info": {"ts": "2026-11-30T05:37:09.000000Z", "code": "Q024"}}\n'
    )
    assert dbt_log_start(log) == _iso("2026-11-30T05:37:07.500000Z")
    assert dbt_log_start(tmp_path / "missing.log") is None
