"""Plausible-looking wrong numbers, vanished rows and empty sources (issue 14 items 1 and 3,
issue 15's empty and frozen sources).

Each rejected case: good warehouse -> state -> break the input -> the run fails naming source,
series and problem, every table, the serving copy and the exports unchanged -> good input back
-> the rerun succeeds with the same rows. Revisions and deletions that are *not* faults (a
source revising an old value, a source dropping a bad row) are applied by the weekly full
re-read and by `reconcile`, and both are logged in raw_meta.revision_log.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.lib import reconcile
from orchestration.lib.catalog import load_catalog
from orchestration.lib.raw_assets import input_problems
from orchestration.lib.raw_tables import SHILLER
from tests.faults import harness
from tests.support.resources import crosswind_resources
from tests.support.snapshot import SNAPSHOT_DIR

pytestmark = pytest.mark.faults

FRED = harness.fred_series()
DAYS = harness.business_days()
TGA = harness.tga_values()
FULL = {"ops": {"raw_fred__observations": {"config": {"full_history": True}}}}
WIRE_FROZEN = SNAPSHOT_DIR.parent / "wire" / "shiller" / "ie_data_frozen_2024.xls"


def _fred(series_id: str, rows):
    text = harness.fred_csv(series_id, rows)
    return lambda snapshot: (snapshot / "fred" / f"{series_id}.csv").write_text(text)


def _tga(rows):
    text = harness.tga_csv(rows)
    return lambda snapshot: (snapshot / "treasury" / "tga_daily.csv").write_text(text)


def _margins(text: str):
    return lambda snapshot: (snapshot / "cme" / "margin_history.csv").write_text(text)


def _mof_current(rows: list[str]):
    payload = harness.mof_csv(rows)
    return lambda snapshot: (snapshot / "mof" / "jgbcm.csv").write_bytes(payload)


def _scaled(rows, factor: float, last: int):
    """The last `last` rows' values times `factor` (a slip that keeps the units label)."""
    return [*rows[:-last], *((d, f"{float(v) * factor:.6g}") for d, v in rows[-last:])]


def _jgb10y_times_ten() -> list[str]:
    rows = harness.mof_rows(DAYS[-8:])
    cells = rows[-1].split(",")
    ten = 1 + harness.MOF_TENORS.index(10)
    cells[ten] = f"{float(cells[ten]) * 10:.3f}"
    return [*rows[:-1], ",".join(cells)]


def _dangling_symlink(snapshot: Path) -> None:
    path = snapshot / "fred" / "WALCL.csv"
    path.unlink()
    path.symlink_to(snapshot / "fred" / "gone.csv")


GC_PREVIOUS_TYPO = (
    "product,effective_date,initial_margin,maintenance_margin,unit,prev_maintenance_margin,"
    "source_file\n"
    "GC,2025-04-11,11000,10000,usd_per_contract,,SYNTHETIC-GC-1.pdf\n"
    "GC,2025-10-21,16500,15000,usd_per_contract,100.00,SYNTHETIC-GC-2.pdf\n"  # 10,000 mistyped
    "GC,2026-01-13,6.6,6.0,pct_notional,,SYNTHETIC-GC-3.pdf\n"
    "SI,2025-10-21,14300,13000,usd_per_contract,,SYNTHETIC-SI-1.pdf\n"
    "SI,2026-01-13,11.0,10.0,pct_notional,,SYNTHETIC-SI-2.pdf\n"
)

CASES = {
    # id: (source, inject, needles, failing check, run config)
    "tga_last_30_rows_in_billions": (
        "treasury",
        _tga([*TGA[:-30], *((d, v / 1000) for d, v in TGA[-30:])]),
        ["[treasury/TGA]", "values outside the catalog range", "step beyond the catalog's jump"],
        "magnitude_in_range",
        None,
    ),
    "fred_divided_by_ten": (
        # 658 bn is a possible Fed balance sheet (the range passes): only the step shows it.
        "fred",
        _fred("WALCL", _scaled(FRED["WALCL"], 0.1, 2)),
        ["[fred/WALCL]", "step beyond the catalog's jump limit", "(x0.1)"],
        "plausible_changes",
        None,
    ),
    "mof_times_ten": (
        "mof",
        _mof_current(_jgb10y_times_ten()),
        ["[mof/JGB10Y]", "step beyond the catalog's jump limit", "0.91 (2026-01-29) -> 9.2"],
        "plausible_changes",
        None,
    ),
    "cme_previous_margin_typo": (
        "cme",
        _margins(GC_PREVIOUS_TYPO),
        ["[cme/GC]", "GC 2025-10-21", "claims previous 100"],
        "plausible_changes",
        None,
    ),
    "fred_new_series_dated_year_1": (
        "fred",
        _fred("SOFR", [(date(1, 1, 1), "4.31"), *((d, "4.30") for d in DAYS)]),
        ["[fred/SOFR]", "0001-01-01", "first_date 2018-04-02"],
        "no_dates_before_start",
        None,
    ),
    "tga_recent_half_of_history_cut": (
        "treasury",
        _tga(TGA[: len(TGA) // 2]),
        ["[treasury/TGA]", "required series without any value", "no longer carries"],
        "series_present",
        None,
    ),
    "walcl_older_half_of_history_cut": (
        # Outside every lookback window: the weekly full re-read (forced here) sees it.
        "fred",
        _fred("WALCL", FRED["WALCL"][len(FRED["WALCL"]) // 2 :]),
        ["[fred/WALCL]", "the source no longer carries 9 rows", "crosswind reconcile"],
        "no_rows_dropped",
        FULL,
    ),
    "required_series_reduced_to_its_header": (
        "fred",
        _fred("RRPONTSYD", []),
        ["[fred/RRPONTSYD]", "required series without any value", "no longer carries"],
        "series_present",
        None,
    ),
    "required_series_file_missing": (
        "fred",
        lambda snapshot: (snapshot / "fred" / "WALCL.csv").unlink(),
        ["[fred/WALCL]", "required series without any value"],
        "series_present",
        None,
    ),
    # Refused by name before anything is read (sources.base.contained_file), not "absent".
    "required_series_dangling_symlink": (
        "fred",
        _dangling_symlink,
        ["[fred/WALCL]", "is a symlink to a file that does not exist; refused"],
        None,
        None,
    ),
}


def _snapshot_files(snapshot: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in snapshot.rglob("*") if p.is_file() and not p.is_symlink()}


def _restore(snapshot: Path, good: dict[Path, bytes]) -> None:
    for path in snapshot.rglob("*"):
        if path.is_symlink() or (path.is_file() and path not in good):
            path.unlink()
    for path, payload in good.items():
        path.write_bytes(payload)


@pytest.mark.parametrize("case", list(CASES))
def test_implausible_or_vanished_input_fails_clearly_loses_nothing_and_recovers(replay_wh, case):
    source, inject, needles, check, run_config = CASES[case]
    before = replay_wh.state()
    good = _snapshot_files(replay_wh.snapshot)
    inject(replay_wh.snapshot)
    replay_wh.assert_rejected(source, before, *needles, check=check, run_config=run_config)
    _restore(replay_wh.snapshot, good)
    replay_wh.assert_recovers(source, before, run_config=run_config)


def _rows(db: Path, sql: str) -> list:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_one_row_decimal_slip_in_the_sp500_close_is_refused(replay_wh):
    closes = [(d, f"{7_700 + 5 * i:.2f}") for i, d in enumerate(DAYS)]
    _fred("SP500", closes)(replay_wh.snapshot)
    assert replay_wh.run("fred").success  # a new optional series, loaded in full
    before = replay_wh.state()
    good = _snapshot_files(replay_wh.snapshot)
    slipped = list(closes)
    slipped[-3] = (closes[-3][0], "778.576")  # 7,785.76 typed with the point one place left
    _fred("SP500", slipped)(replay_wh.snapshot)
    replay_wh.assert_rejected(
        "fred",
        before,
        "[fred/SP500]",
        f"SP500 {closes[-3][0]}: {float(closes[-4][1]):.6g} ({closes[-4][0]}) -> 778.576",
        check="plausible_changes",
    )
    _restore(replay_wh.snapshot, good)
    replay_wh.assert_recovers("fred", before)


def test_a_revision_older_than_the_window_is_applied_by_the_weekly_full_reread(replay_wh):
    old_day, old_value = FRED["WALCL"][1]  # 2025-10-08: 70+ days before the last week
    revised = list(FRED["WALCL"])
    revised[1] = (old_day, "6575000")
    before = replay_wh.state()
    rows = harness.data_rows(replay_wh.db, "raw_fred.observations")
    _fred("WALCL", revised)(replay_wh.snapshot)

    normal = replay_wh.run("fred")  # the lookback window does not reach it
    assert normal.success, harness.failure_text(normal)
    meta = normal.asset_materializations_for_node("raw_fred__observations")[0].metadata
    assert meta["revised_rows"].value == 0 and not meta["full_history"].value
    assert meta["fetch_windows"].value["WALCL"] == "since 2025-11-19"
    assert replay_wh.state().build == before.build

    full = replay_wh.run("fred", run_config=FULL)
    assert full.success, harness.failure_text(full)
    meta = full.asset_materializations_for_node("raw_fred__observations")[0].metadata
    assert meta["revised_rows"].value == 1 and meta["full_history"].value
    log = "SELECT series_id, date, old_value, new_value, change FROM raw_meta.revision_log"
    assert _rows(replay_wh.db, log) == [
        ("WALCL", old_day, float(old_value), 6_575_000.0, "revised")
    ]
    # Putting the original value back is one more logged revision, then the rows agree again
    # (the reverted row keeps its new _loaded_at) and every other table is as it was.
    _fred("WALCL", FRED["WALCL"])(replay_wh.snapshot)
    assert replay_wh.run("fred", run_config=FULL).success
    assert harness.data_rows(replay_wh.db, "raw_fred.observations") == rows
    changed = {"raw_meta.revision_log", "raw_fred.observations"}
    after = replay_wh.state().build
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.build.items() if k not in changed
    }
    assert len(_rows(replay_wh.db, log)) == 2


def test_a_row_the_source_removed_is_reported_then_deleted_by_reconcile(replay_wh, capsys):
    day, _ = FRED["RRPONTSYD"][-5]
    _fred("RRPONTSYD", [r for r in FRED["RRPONTSYD"] if r[0] != day])(replay_wh.snapshot)
    report_only = replay_wh.run("fred")
    assert report_only.success  # one row: a correction upstream, reported (WARN), kept
    warned = {e.check_name: e for e in report_only.get_asset_check_evaluations() if not e.passed}
    assert f"RRPONTSYD: 1 rows ({day})" in warned["no_rows_dropped"].description
    where = f"FROM raw_fred.observations WHERE series_id = 'RRPONTSYD' AND date = '{day}'"
    assert _rows(replay_wh.db, f"SELECT count(*) {where}") == [(1,)]

    results = reconcile.reconcile(["fred"])
    assert [r.ok for r in results] == [True]
    assert "1 deleted" in capsys.readouterr().out
    assert _rows(replay_wh.db, f"SELECT count(*) {where}") == [(0,)]
    log = "SELECT series_id, date, new_value, change FROM raw_meta.revision_log"
    assert _rows(replay_wh.db, log) == [("RRPONTSYD", day, None, "deleted")]


def test_a_year_one_row_left_by_an_older_version_is_removed_by_reconcile(replay_wh):
    """The row never gets in now; a warehouse that already holds one is cleaned by a rerun
    with the good file in reconcile mode, without any manual SQL."""
    before = replay_wh.state()
    con = duckdb.connect(str(replay_wh.db))
    con.execute(
        "INSERT INTO raw_fred.observations SELECT series_id, DATE '0001-01-01', value, units, "
        "realtime_start, source_mode, _loaded_at FROM raw_fred.observations "
        "WHERE series_id = 'WALCL' ORDER BY date LIMIT 1"
    )
    con.close()
    check = reconcile.reconcile(["fred"], delete=False, out=lambda _: None)
    # Reported (a warning: one row the source does not carry), nothing deleted.
    assert check[0].ok and any("WALCL: 1 rows (0001-01-01)" in line for line in check[0].lines)
    assert _rows(replay_wh.db, "SELECT min(date) FROM raw_fred.observations") == [(date(1, 1, 1),)]
    assert reconcile.reconcile(["fred"], out=lambda _: None)[0].ok
    after = replay_wh.state().build
    assert {k: v for k, v in after.items() if k != "raw_meta.revision_log"} == {
        k: v for k, v in before.build.items() if k != "raw_meta.revision_log"
    }


@pytest.mark.skipif(not WIRE_FROZEN.is_file(), reason=f"{WIRE_FROZEN} not found (../shared)")
def test_a_frozen_shiller_workbook_warns_and_the_report_says_so(replay_wh, tmp_path):
    """The public address' copy stops in 2024: it loads, and `source_not_frozen` says so."""
    (replay_wh.snapshot / "shiller").mkdir()
    shutil.copyfile(WIRE_FROZEN, replay_wh.snapshot / "shiller" / "ie_data.xls")
    import dagster as dg

    from orchestration.defs.ingestion.shiller.assets import shiller_monthly
    from orchestration.lib import report

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [shiller_monthly],
            instance=instance,
            raise_on_error=False,
            resources=crosswind_resources(),
        )
        assert result.success, harness.failure_text(result)  # a warning, the run goes on
        frozen = next(
            e for e in result.get_asset_check_evaluations() if e.check_name == "source_not_frozen"
        )
        assert not frozen.passed and frozen.severity == dg.AssetCheckSeverity.WARN
        assert frozen.description.startswith("[shiller] frozen: newest observation 2024-")
        assert frozen.description in input_problems(instance)
        written = report.write_report(
            replay_wh.dir / "serving.duckdb",
            tmp_path / "reports",
            input_problems=input_problems(instance),
        )
    page = written.path.read_text()
    assert "<h2>Input health</h2>" in page and "[shiller] frozen" in page
    assert "1 failed input check(s), see Input health" in written.summary_md
    assert _rows(replay_wh.db, f"SELECT count(*) FROM {SHILLER.qualified}")[0][0] > 1000


def test_cme_with_zero_rows_is_never_fresh(replay_wh, tmp_path, monkeypatch):
    """The shipped catalog makes margin products optional (no open CME feed, no rows in the
    repository): an empty history fails `series_present` as a WARN and loses nothing. A user who
    marks them required gets a blocking error naming each product instead."""
    before = replay_wh.state()
    good = _snapshot_files(replay_wh.snapshot)
    _margins(harness.MARGIN_HEADER + "\n")(replay_wh.snapshot)
    warned = replay_wh.run("cme")
    assert warned.success, harness.failure_text(warned)
    failed = {e.check_name: e for e in warned.get_asset_check_evaluations() if not e.passed}
    assert failed["series_present"].severity == dg.AssetCheckSeverity.WARN
    assert "[cme/GC,SI]" in failed["series_present"].description
    assert "no longer carries" in failed["no_rows_dropped"].description
    assert replay_wh.state().build == before.build  # nothing lost (serving was republished)
    before = replay_wh.state()

    catalog = Path(os.environ["CROSSWIND_CATALOG"])
    strict = catalog.read_text(encoding="utf-8").replace("required: false}", "required: true}")
    assert strict.count("required: true}") == 2  # GC and SI
    strict_path = tmp_path / "strict.yaml"
    strict_path.write_text(strict, encoding="utf-8")
    monkeypatch.setenv("CROSSWIND_CATALOG", str(strict_path))
    load_catalog.cache_clear()
    replay_wh.assert_rejected(
        "cme", before, "[cme/GC,SI]", "required series without any value", check="series_present"
    )
    _restore(replay_wh.snapshot, good)
    replay_wh.assert_recovers("cme", before)
    load_catalog.cache_clear()
