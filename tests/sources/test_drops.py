"""Optional user CSV drops: forward P/E, ADP, Challenger."""

from __future__ import annotations

import math
from datetime import date

import pytest

from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import SourceFormatError
from orchestration.lib.settings import load_settings
from orchestration.sources import drops
from orchestration.sources.base import OBSERVATION_COLUMNS


def drop_series():
    return load_catalog().for_source("drops")


def live_source(tmp_path, **files: str) -> drops.DropsSource:
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(text)
    settings = load_settings({"CROSSWIND_SOURCE": "live", "CROSSWIND_DROPS_DIR": str(tmp_path)})
    return drops.make_source(settings)


def test_absent_files_are_absent_not_errors(tmp_path):
    batch = live_source(tmp_path).fetch(drop_series())
    assert batch.frame.empty and list(batch.frame.columns) == OBSERVATION_COLUMNS
    assert sorted(batch.absent) == ["ADP", "CHALLENGER", "FORWARD_PE"]


def test_reads_date_value_files_with_catalog_units(tmp_path):
    source = live_source(
        tmp_path,
        forward_pe="date,value\n2026-01-01,22.0\n2026-02-01,20.9\n",
        challenger="Date , Value\n2026-01,108435\n2026-02,\n",
    )
    batch = source.fetch(drop_series(), start=date(2026, 1, 15))
    assert batch.mode == "live" and batch.absent == ["ADP"]
    frame = batch.frame
    assert list(frame.columns) == OBSERVATION_COLUMNS
    pe = frame[frame["series_id"] == "FORWARD_PE"]
    assert list(pe["date"]) == [date(2026, 2, 1)] and list(pe["value"]) == [20.9]
    assert set(pe["units"]) == {"Ratio"}
    cuts = frame[frame["series_id"] == "CHALLENGER"]
    assert list(cuts["date"]) == [date(2026, 2, 1)] and math.isnan(cuts["value"].iloc[0])
    assert set(cuts["units"]) == {"Number"}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("month,value\n2026-01-01,22\n", r"lacks \['date'\]"),
        ("date,pe\n2026-01-01,22\n", r"lacks \['value'\]"),
        ("date,value\nJan 2026,22\n", "unparseable date 'Jan 2026'"),
        ("date,value\n2026-01-01,22x\n", "non-numeric value '22x'"),
    ],
)
def test_bad_drops_raise_format_errors_naming_the_series(tmp_path, text, match):
    source = live_source(tmp_path, forward_pe=text)
    with pytest.raises(SourceFormatError, match=match) as err:
        source.fetch(drop_series())
    assert (err.value.source, err.value.series) == ("drops", "FORWARD_PE")


def test_replay_reads_the_drops_folder_of_the_snapshot_and_record_copies(tmp_path):
    (tmp_path / "drops").mkdir()
    (tmp_path / "drops" / "adp.csv").write_text("date,value\n2026-01-01,41\n")
    settings = load_settings(
        {"CROSSWIND_SOURCE": "replay", "CROSSWIND_SNAPSHOT_DIR": str(tmp_path)}
    )
    source = drops.make_source(settings)
    batch = source.fetch(drop_series())
    assert batch.mode == "replay" and sorted(batch.absent) == ["CHALLENGER", "FORWARD_PE"]
    assert batch.frame["value"].tolist() == [41.0]
    dest = tmp_path / "copy"
    assert source.record(drop_series(), dest) == [dest / "drops" / "adp.csv"]
    assert (dest / "drops" / "adp.csv").read_text() == "date,value\n2026-01-01,41\n"
