"""Input faults: non-finite numbers in every parser, symlinks leading out of a snapshot or drops.

Each case: good warehouse -> state -> break the input -> the run fails naming source, series (or
the shared file) and problem, with every table, the serving copy and the exports unchanged ->
restore -> the rerun succeeds with the same rows (the suite's three checks, see harness.py).
Markets bars and drops are parsed by markets.read_dated_csv, whose non-finite check belongs to
another change; their symlink refusal is checked here.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.ingestion.drops.assets import drops_observations
from orchestration.defs.ingestion.shiller.assets import shiller_monthly
from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import SourceFormatError
from orchestration.sources import cme, drops, fred, markets, mof, ofr, shiller, treasury
from tests.faults import harness
from tests.sources.test_shiller import data_row, workbook
from tests.support.http_server import Reply
from tests.support.resources import crosswind_resources

pytestmark = pytest.mark.faults

RRP = harness.fred_series()["RRPONTSYD"]
TGA = harness.tga_values()
DAYS = harness.business_days()
MOF_ROWS = harness.mof_rows(DAYS[:-5])
NON_FINITE = ("inf", "-inf", "nan", "NaN", "1e400", "-1e400")


# -- non-finite values: every parser, directly ------------------------------------------------


def _fred_csv(text: str) -> bytes:
    return harness.fred_csv("RRPONTSYD", [*RRP[:-1], (RRP[-1][0], text)]).encode()


def _tga_csv(text: str) -> bytes:
    return harness.tga_csv([*TGA[:-1], (TGA[-1][0], text)]).encode()


def _mof_csv(text: str) -> bytes:
    last = MOF_ROWS[-1].split(",")
    return harness.mof_csv([*MOF_ROWS[:-1], ",".join([last[0], text, *last[2:]])])


def _margins(text: str) -> str:
    return harness.margin_csv(
        [*harness.MARGIN_ROWS[:-1], f"SI,2026-01-13,11.0,{text},pct_notional,SYNTHETIC-SI-2.pdf"]
    )


def _fiscaldata(text: str) -> list[dict]:
    records = harness.fiscaldata_records()
    records[-1] = {**records[-1], "open_today_bal": text}
    return records


def _shiller_book(text: str) -> bytes:
    return workbook([data_row(1871.01), data_row(1871.02, cape=text)])


def _dated_csv(column: str, text: str) -> bytes:
    return f"date,{column}\n2026-01-02,101.5\n2026-01-05,{text}\n".encode()


def _ofr_csv(text: str) -> bytes:
    header = ",".join(["Date", *ofr.COLUMNS])
    good = ",".join(["2026-01-02", *["0.5"] * len(ofr.COLUMNS)])
    bad = ",".join(["2026-01-05", text, *["0.5"] * (len(ofr.COLUMNS) - 1)])
    return f"{header}\n{good}\n{bad}\n".encode()


def _market_bars(text: str, folder: Path):
    (folder / "SPX.csv").write_bytes(_dated_csv("close", text))
    return markets.CsvFolderProvider(folder).bars(load_catalog().series["SPX"])


def _drop(text: str, folder: Path):
    (folder / "forward_pe.csv").write_bytes(_dated_csv("value", text))
    return drops.DropsSource(folder, "replay").read(load_catalog().series["FORWARD_PE"])


PARSERS = {
    "fred": (lambda t, _: fred.parse_fred_csv(_fred_csv(t), "RRPONTSYD"), "RRPONTSYD"),
    "treasury_csv": (lambda t, _: treasury.parse_tga_csv(_tga_csv(t)), "TGA"),
    "treasury_json": (lambda t, _: treasury.tga_from_records(_fiscaldata(t)), "TGA"),
    "mof": (lambda t, _: mof.parse_jgbcm(_mof_csv(t)), "JGB1Y"),
    "cme": (
        lambda t, _: cme.read_margin_csv(
            _margins(t).encode(), "margin_history.csv", load_catalog()
        ),
        "SI",
    ),
    "shiller": (lambda t, _: shiller.parse_workbook(_shiller_book(t)), "SHILLER_CAPE"),
    "markets": (_market_bars, "SPX"),
    "drops": (_drop, "FORWARD_PE"),
    "ofr": (lambda t, _: ofr.parse_fsi_csv(_ofr_csv(t)), "OFR_FSI"),
}


# markets.read_dated_csv (market bars, drops, OFR) reads "nan"/"NaN" as a missing marker, the
# way pandas writes one; the missing-share gate bounds how many a series may have.
NAN_IS_MISSING = {"markets", "drops", "ofr"}


@pytest.mark.parametrize(
    ("parser", "text"),
    [
        (parser, text)
        for parser in PARSERS
        for text in NON_FINITE
        if not (parser in NAN_IS_MISSING and text.lower() == "nan")
    ],
)
def test_every_parser_refuses_non_finite_numbers(parser, text, tmp_path):
    parse, series = PARSERS[parser]
    with pytest.raises(SourceFormatError) as refused:
        parse(text, tmp_path)
    assert refused.value.series == series
    problem = refused.value.problem
    assert ("non-numeric" in problem or "non-finite" in problem) and repr(text) in problem


@pytest.mark.parametrize("parser", sorted(NAN_IS_MISSING))
def test_nan_text_is_a_missing_marker_where_pandas_writes_it(parser, tmp_path):
    frame = PARSERS[parser][0]("nan", tmp_path)
    assert frame.select_dtypes("number").iloc[-1].isna().any()


def test_the_finite_neighbours_still_parse():
    assert fred.parse_fred_csv(_fred_csv("1e300"), "RRPONTSYD")["value"].iloc[-1] == 1e300
    assert fred.parse_fred_csv(_fred_csv("."), "RRPONTSYD")["value"].isna().iloc[-1]  # missing
    frame = shiller.parse_workbook(_shiller_book("NA"))
    assert frame.loc[frame["series_id"] == "SHILLER_CAPE", "value"].isna().all()  # missing


# -- non-finite values: the three checks, through the raw assets --------------------------------

WRITERS = {
    "fred": lambda s, t: (s / "fred" / "RRPONTSYD.csv").write_bytes(_fred_csv(t)),
    "treasury": lambda s, t: (s / "treasury" / "tga_daily.csv").write_bytes(_tga_csv(t)),
    "mof": lambda s, t: (s / "mof" / "jgbcm_all.csv").write_bytes(_mof_csv(t)),
    "cme": lambda s, t: (s / "cme" / "margin_history.csv").write_text(_margins(t)),
}
NEEDLES = {
    "fred": lambda t: ["[fred/RRPONTSYD]", f"{RRP[-1][0]}={t!r}"],
    "treasury": lambda t: ["[treasury/TGA]", "non-numeric rows", f"{TGA[-1][0]}={t!r}"],
    "mof": lambda t: ["[mof/JGB1Y]", "jgbcm_all.csv line", f"non-numeric yield {t!r}"],
    "cme": lambda t: ["[cme/SI]", "row 5", f"non-numeric maintenance_margin {t!r}"],
}


def _snapshot_files(snapshot: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in snapshot.rglob("*") if p.is_file() and not p.is_symlink()}


def _restore(snapshot: Path, good: dict[Path, bytes]) -> None:
    for path in [*snapshot.rglob("*")]:
        if path.is_symlink() or (path.is_file() and path not in good):
            path.unlink()
    for path, payload in good.items():
        path.write_bytes(payload)


# inf and 1e400 take the same path in each parser (float, then isfinite): one per source here,
# every spelling in every parser above.
@pytest.mark.parametrize(
    ("source", "text"), [("fred", "inf"), ("treasury", "1e400"), ("mof", "inf"), ("cme", "1e400")]
)
def test_non_finite_value_fails_clearly_loses_nothing_and_recovers(replay_wh, source, text):
    before = replay_wh.state()
    good = _snapshot_files(replay_wh.snapshot)
    WRITERS[source](replay_wh.snapshot, text)
    replay_wh.assert_rejected(source, before, *NEEDLES[source](text))
    _restore(replay_wh.snapshot, good)
    replay_wh.assert_recovers(source, before)


def test_live_fiscaldata_amount_1e400_fails_clearly_and_recovers(live_wh):
    before = live_wh.state()
    records = _fiscaldata("1e400")  # a JSON string; JSON's own 1e400 parses to inf alike
    half = len(records) // 2
    live_wh.serve_dts(
        Reply.json(harness.fiscaldata_page(records[:half], 2)),
        Reply.json(harness.fiscaldata_page(records[half:], 2)),
    )
    live_wh.assert_rejected(
        "treasury", before, "[treasury/TGA]", "non-numeric TGA balances", "'1e400'"
    )
    live_wh.serve_good_dts()
    result = live_wh.run("treasury")
    assert result.success, harness.failure_text(result)
    assert live_wh.state().build == before.build


def _materialize(asset) -> dg.ExecuteInProcessResult:
    return dg.materialize([asset], raise_on_error=False, resources=crosswind_resources())


def test_shiller_inf_text_cell_fails_clearly_loses_nothing_and_recovers(replay_wh):
    folder = replay_wh.snapshot / "shiller"
    folder.mkdir()
    good = workbook([data_row(1871.01), data_row(1871.02, cape=17.5)])
    (folder / "ie_data.xls").write_bytes(good)
    assert _materialize(shiller_monthly).success
    before = replay_wh.state()
    (folder / "ie_data.xls").write_bytes(_shiller_book("inf"))
    result = _materialize(shiller_monthly)
    assert not result.success
    text = harness.failure_text(result)
    for needle in ("[shiller/SHILLER_CAPE]", "ie_data.xls row", "(1871-02)", "'inf'"):
        assert needle in text, text
    assert replay_wh.state() == before
    (folder / "ie_data.xls").write_bytes(good)
    assert _materialize(shiller_monthly).success
    assert replay_wh.state().build == before.build


# -- symlinks in a snapshot or drops folder ---------------------------------------------------

OUTSIDE_LINE = "observation_date,SECRET-FIRST-LINE-OF-AN-OUTSIDE-FILE"


def _outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside" / "private.csv"
    target.parent.mkdir(exist_ok=True)
    target.write_text(OUTSIDE_LINE + "\n2026-01-02,1\n")
    return target


def _link(path: Path, target: Path | str) -> None:
    path.unlink(missing_ok=True)
    os.symlink(target, path)


SYMLINKED = {
    "fred": ("fred/WALCL.csv", "[fred/WALCL]"),
    "treasury": ("treasury/tga_daily.csv", "[treasury/TGA]"),
    "mof": ("mof/jgbcm_all.csv", "[mof]"),
    "cme": ("cme/margin_history.csv", "[cme]"),
}


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("fred", "outside"),
        ("fred", "dangling"),  # a required series: once reported "absent", and the run passed
        ("treasury", "dangling"),
        ("mof", "outside"),
        ("cme", "outside"),
        ("cme", "dangling"),
    ],
)
def test_a_symlink_out_of_the_snapshot_is_refused_by_name(replay_wh, tmp_path, source, kind):
    relative, where = SYMLINKED[source]
    before = replay_wh.state()
    good = _snapshot_files(replay_wh.snapshot)
    path = replay_wh.snapshot / relative
    _link(path, _outside(tmp_path) if kind == "outside" else tmp_path / "gone.csv")
    problem = "outside" if kind == "outside" else "does not exist"
    text = replay_wh.assert_rejected(source, before, where, str(path), problem, "refused")
    assert "SECRET-FIRST-LINE" not in text  # the target was never read
    _restore(replay_wh.snapshot, good)
    replay_wh.assert_recovers(source, before)


def test_a_symlink_inside_the_snapshot_folder_is_followed(replay_wh):
    fred_dir = replay_wh.snapshot / "fred"
    (fred_dir / "WALCL.csv").rename(fred_dir / "walcl-2026.csv")
    os.symlink("walcl-2026.csv", fred_dir / "WALCL.csv")
    result = replay_wh.run("fred")
    assert result.success, harness.failure_text(result)


def test_a_symlink_out_of_the_drops_folder_is_refused_by_name(replay_wh, tmp_path):
    folder = replay_wh.snapshot / "drops"
    folder.mkdir()
    (folder / "forward_pe.csv").write_text("date,value\n2025-12-01,21.5\n2026-01-01,22.0\n")
    assert _materialize(drops_observations).success
    before = replay_wh.state()
    _link(folder / "forward_pe.csv", _outside(tmp_path))
    result = _materialize(drops_observations)
    assert not result.success
    text = harness.failure_text(result)
    for needle in ("[drops/FORWARD_PE]", "forward_pe.csv", "outside", "refused"):
        assert needle in text, text
    assert "SECRET-FIRST-LINE" not in text
    assert replay_wh.state() == before
    (folder / "forward_pe.csv").unlink()
    (folder / "forward_pe.csv").write_text("date,value\n2025-12-01,21.5\n2026-01-01,22.0\n")
    assert _materialize(drops_observations).success
    assert replay_wh.state().build == before.build


def test_market_csv_and_cme_drop_symlinks_are_refused(tmp_path):
    spx = load_catalog().series["SPX"]
    (tmp_path / "markets").mkdir()
    _link(tmp_path / "markets" / "SPX.csv", _outside(tmp_path))
    with pytest.raises(SourceFormatError, match=r"\[markets/SPX\].*outside.*refused"):
        markets.CsvFolderProvider(tmp_path / "markets").bars(spx)
    (tmp_path / "cme_drops").mkdir()
    _link(tmp_path / "cme_drops" / "newer.csv", tmp_path / "nowhere.csv")
    with pytest.raises(SourceFormatError, match=r"\[cme\].*newer.csv.*does not exist"):
        cme.CuratedMargins(Path("unused.csv"), tmp_path / "cme_drops").drop_files()
