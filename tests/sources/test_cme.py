"""CME margins: the curated file, drops, the snapshot format, validation and record."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from orchestration.lib.errors import SourceError, SourceFormatError
from orchestration.lib.settings import REPO_ROOT, load_settings
from orchestration.sources import cme
from orchestration.sources.base import MARGIN_COLUMNS

SNAPSHOT = Path(__file__).resolve().parents[2] / ".." / "shared" / "snapshot"
HEADER = ",".join(MARGIN_COLUMNS)
# Test numbers only: round figures, not CME's.
CURATED = f"""# a comment line, as in the shipped file
{HEADER}
GC,2025-10-01,11000,10000,usd_per_contract,9000,notice-1.pdf
SI,2025-10-01,16500,15000,usd_per_contract,,notice#2.pdf
SI,2026-01-13,11,10,pct_notional,15000,
"""


def curated_source(tmp_path: Path, text: str = CURATED, **drops: str) -> cme.CuratedMargins:
    margin_file = tmp_path / "margins.csv"
    margin_file.write_text(text)
    drops_dir = tmp_path / "drops" / "cme"
    drops_dir.mkdir(parents=True)
    for name, body in drops.items():
        (drops_dir / f"{name}.csv").write_text(body)
    return cme.CuratedMargins(margin_file, drops_dir)


def test_curated_file_with_units_column(tmp_path):
    batch = curated_source(tmp_path).fetch([])
    frame = batch.frame
    assert (batch.source, batch.mode, batch.absent) == ("cme", "live", [])
    assert list(frame.columns) == MARGIN_COLUMNS
    assert list(frame["product"]) == ["GC", "SI", "SI"]
    assert list(frame["effective_date"]) == [
        date(2025, 10, 1),
        date(2025, 10, 1),
        date(2026, 1, 13),
    ]
    assert list(frame["unit"]) == ["usd_per_contract", "usd_per_contract", "pct_notional"]
    assert frame.loc[2, "maintenance_margin"] == 10.0
    assert math.isnan(frame.loc[1, "previous_maintenance_margin"])
    assert frame.loc[1, "source_file"] == "notice#2.pdf"  # '#' mid-line is not a comment
    assert frame.loc[2, "source_file"] == "margins.csv"  # empty -> the file it came from


def test_drops_add_rows_and_win_on_the_same_product_and_date(tmp_path):
    drop = f"{HEADER}\nSI,2026-01-13,12,11,pct_notional,15000,notice-3.pdf\n"
    drop += "SI,2026-02-06,15,13.5,pct_notional,11,notice-4.pdf\n"
    frame = curated_source(tmp_path, new_rows=drop).fetch([]).frame
    si = frame[frame["product"] == "SI"]
    assert list(si["effective_date"]) == [date(2025, 10, 1), date(2026, 1, 13), date(2026, 2, 6)]
    assert list(si["maintenance_margin"]) == [15000.0, 11.0, 13.5]
    assert si["source_file"].iloc[1] == "notice-3.pdf"


def test_start_filters_on_effective_date(tmp_path):
    frame = curated_source(tmp_path).fetch([], start=date(2026, 1, 1)).frame
    assert list(frame["effective_date"]) == [date(2026, 1, 13)]


@pytest.mark.parametrize(
    ("row", "match", "product"),
    [
        ("SI,2026-01-13,11,10,percent,,x.pdf", "unknown unit 'percent'", "SI"),
        ("HG,2026-01-13,11,10,pct_notional,,x.pdf", "unknown product 'HG'", "HG"),
        ("SI,2026-01-13,11,ten,pct_notional,,x.pdf", "non-numeric maintenance_margin 'ten'", "SI"),
        ("GC,2026-01-13,1O000,10,pct_notional,,x.pdf", "non-numeric initial_margin '1O000'", "GC"),
        ("GC,13/01/2026,11,10,pct_notional,,x.pdf", "effective_date '13/01/2026'", "GC"),
        ("GC,2026-01-13,11,,pct_notional,,x.pdf", "empty maintenance_margin", "GC"),
    ],
)
def test_bad_rows_raise_format_errors_naming_product_and_value(tmp_path, row, match, product):
    source = curated_source(tmp_path, f"{HEADER}\n{row}\n")
    with pytest.raises(SourceFormatError, match=match) as err:
        source.fetch([])
    assert (err.value.source, err.value.series) == ("cme", product)


def test_a_bad_drop_is_an_error_too(tmp_path):
    source = curated_source(tmp_path, bad=f"{HEADER}\nSI,2026-03-01,1,1,usd_per_oz,,x.pdf\n")
    with pytest.raises(SourceFormatError, match="usd_per_oz"):
        source.fetch([])


def test_header_without_unit_column_is_rejected(tmp_path):
    text = "product,effective_date,initial_margin,maintenance_margin\nSI,2026-01-13,11,10\n"
    with pytest.raises(SourceFormatError, match=r"lacks \['unit'"):
        curated_source(tmp_path, text).fetch([])


def test_missing_curated_file_is_an_error(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        cme.CuratedMargins(tmp_path / "none.csv", None).fetch([])


def test_shipped_curated_file_has_the_header_and_no_rows():
    settings = load_settings({"CROSSWIND_SOURCE": "live"})
    assert (
        settings.margin_file == REPO_ROOT / "orchestration" / "sources" / "cme_margin_history.csv"
    )
    lines = [line for line in settings.margin_file.read_text().splitlines() if line.strip()]
    data = [line for line in lines if not line.startswith("#")]
    assert data == [HEADER]  # curated by hand, never copied from the snapshot
    batch = cme.CuratedMargins(settings.margin_file, None).fetch([])
    assert batch.frame.empty and batch.absent == ["GC", "SI"]


# The public margin-history layout (CSV parsed from CME's margin-history PDFs): no unit column,
# the previous value as prev_maintenance_margin, many extra columns. Test numbers, not CME's.
PUBLIC_HEADER = (
    "product,effective_date,notice_date,initial_margin,maintenance_margin,source_file,"
    "prev_maintenance_margin,prev_business_date,margin_short,prev_margin_short,pct_change,"
    "direction,tier_code,n_tiers_changed,n_tiers_total,frac_tiers_shift_match,"
    "likely_roll_shift,methodology_transition,is_series_start"
)
PUBLIC_LAYOUT = f"""{PUBLIC_HEADER}
GC,2020-06-30,,,8200.0,GC.pdf,,,,,,series_start,GC-1,,22,,,False,True
GC,2020-08-07,,,8700.0,GC.pdf,8200.0,2020-08-06,,,0.06,increase,GC-1,21,21,0.0,False,False,False
SI,2026-01-13,,25000,22000.0,SI.pdf,20000.0,2026-01-12,,,0.1,increase,SI-1,32,32,0.0,False,False,False
"""
EMPTY_CURATED = f"# curated, no rows yet\n{HEADER}\n"


def test_public_layout_dropped_next_to_an_empty_curated_file(tmp_path):
    batch = curated_source(tmp_path, EMPTY_CURATED, public=PUBLIC_LAYOUT).fetch([])
    frame = batch.frame
    assert batch.absent == [] and list(frame.columns) == MARGIN_COLUMNS
    assert list(frame["product"]) == ["GC", "GC", "SI"]
    assert set(frame["unit"]) == {"usd_per_contract"}
    assert frame["previous_maintenance_margin"].tolist()[1:] == [8200.0, 20000.0]
    assert list(frame["source_file"]) == ["GC.pdf", "GC.pdf", "SI.pdf"]
    assert batch.newest == {"GC": date(2020, 8, 7), "SI": date(2026, 1, 13)}


def test_public_layout_as_the_curated_file_with_a_curated_drop_on_top(tmp_path):
    drop = f"{HEADER}\nSI,2026-01-13,11,10,pct_notional,,notice-9.pdf\n"
    frame = curated_source(tmp_path, PUBLIC_LAYOUT, newer=drop).fetch([]).frame
    si = frame[frame["product"] == "SI"].iloc[0]
    assert (si["maintenance_margin"], si["unit"], si["source_file"]) == (
        10.0,
        "pct_notional",
        "notice-9.pdf",
    )
    assert len(frame) == 3


def test_a_quiet_product_is_not_absent_from_a_lookback_window(tmp_path):
    # GC last changed in 2020: a window from 2026 holds no GC row, yet GC exists.
    batch = curated_source(tmp_path, PUBLIC_LAYOUT).fetch([], start=date(2026, 1, 1))
    assert list(batch.frame["product"]) == ["SI"]
    assert batch.absent == [] and batch.newest["GC"] == date(2020, 8, 7)


def test_a_layout_with_neither_unit_nor_previous_value_is_refused(tmp_path):
    header = "product,effective_date,initial_margin,maintenance_margin,source_file"
    text = f"{header}\nGC,2026-01-13,1,1,x\n"
    with pytest.raises(SourceFormatError, match="prev_maintenance_margin"):
        curated_source(tmp_path, text).fetch([])


def test_replay_reads_the_public_layout_as_usd_per_contract(tmp_path):
    (tmp_path / "cme").mkdir()
    (tmp_path / "cme" / "margin_history.csv").write_text(PUBLIC_LAYOUT)
    settings = load_settings(
        {"CROSSWIND_SOURCE": "replay", "CROSSWIND_SNAPSHOT_DIR": str(tmp_path)}
    )
    batch = cme.make_source(settings).fetch([])
    frame = batch.frame
    assert batch.mode == "replay" and list(frame.columns) == MARGIN_COLUMNS
    assert set(frame["unit"]) == {"usd_per_contract"}
    assert frame["previous_maintenance_margin"].tolist()[1:] == [8200.0, 20000.0]
    assert frame.loc[2, "initial_margin"] == 25000.0 and math.isnan(frame.loc[0, "initial_margin"])


def test_replay_without_the_file_reports_every_product_absent(tmp_path):
    batch = cme.SnapshotMargins(tmp_path).fetch([])
    assert batch.frame.empty and batch.absent == ["GC", "SI"]


def test_record_then_replay_keeps_the_unit(tmp_path):
    live = curated_source(tmp_path)
    dest = tmp_path / "snapshot"
    assert live.record([], dest) == [dest / "cme" / "margin_history.csv"]
    replayed = cme.SnapshotMargins(dest).fetch([]).frame
    assert replayed.equals(live.fetch([]).frame)


@pytest.mark.integration
def test_the_public_file_dropped_into_drops_cme_loads(tmp_path):
    public = SNAPSHOT / "cme" / "margin_history.csv"
    if not public.is_file():
        pytest.skip(f"real snapshot not found at {SNAPSHOT.resolve()} (../shared/snapshot)")
    settings = load_settings({"CROSSWIND_SOURCE": "live", "CROSSWIND_DROPS_DIR": str(tmp_path)})
    (tmp_path / "cme").mkdir()
    (tmp_path / "cme" / "margin_history.csv").write_bytes(public.read_bytes())
    batch = cme.make_source(settings).fetch([])  # the shipped curated file + this drop
    assert batch.absent == [] and len(batch.frame) == 317
    assert batch.newest == {"GC": date(2026, 6, 30), "SI": date(2026, 6, 30)}
    assert set(batch.frame["unit"]) == {"usd_per_contract"}


@pytest.mark.integration
def test_replay_real_snapshot():
    if not (SNAPSHOT / "cme" / "margin_history.csv").is_file():
        pytest.skip(f"real snapshot not found at {SNAPSHOT.resolve()} (../shared/snapshot)")
    frame = cme.SnapshotMargins(SNAPSHOT).fetch([]).frame
    assert len(frame) == 317
    assert frame.groupby("product").size().to_dict() == {"GC": 157, "SI": 160}
    assert frame["effective_date"].min() == date(2020, 6, 30)
    assert frame["effective_date"].max() == date(2026, 6, 30)
    assert set(frame["unit"]) == {"usd_per_contract"}
    assert frame["maintenance_margin"].notna().all()
