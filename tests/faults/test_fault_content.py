"""Content faults in the files a source delivers (replay snapshot in tmp; same parsers as live).

Each case: good warehouse -> state -> break one file -> the run fails naming source, series (or,
for a fault in a file every series shares, the file) and problem, and every table, the mart
and the serving copy are unchanged -> restore the file -> the rerun succeeds with the same rows.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.faults import harness

pytestmark = pytest.mark.faults

FRED = harness.fred_series()
DAYS = harness.business_days()


def _fred(series_id: str, rows=None, header="observation_date", encoding="utf-8"):
    rows = FRED[series_id] if rows is None else rows

    def write(snapshot: Path) -> None:
        text = harness.fred_csv(series_id, rows, header=header)
        (snapshot / "fred" / f"{series_id}.csv").write_bytes(text.encode(encoding))

    return write


def _fred_raw(series_id: str, payload: bytes):
    return lambda snapshot: (snapshot / "fred" / f"{series_id}.csv").write_bytes(payload)


def _tga(payload: bytes):
    return lambda snapshot: (snapshot / "treasury" / "tga_daily.csv").write_bytes(payload)


def _mof(name: str, payload: bytes):
    return lambda snapshot: (snapshot / "mof" / name).write_bytes(payload)


def _mof_history_with(*extra_rows: str, replace_last: bool = False):
    rows = harness.mof_rows(DAYS[:-5])
    rows = [*rows[:-1], *extra_rows] if replace_last else [*rows, *extra_rows]
    return _mof("jgbcm_all.csv", harness.mof_csv(rows))


MOF_LAST_ROW = harness.mof_rows(DAYS[:-5])[-1]


def _margins(*rows: str):
    text = harness.margin_csv(rows or harness.MARGIN_ROWS)
    return lambda snapshot: (snapshot / "cme" / "margin_history.csv").write_text(text)


WALCL_X1000 = [(d, str(int(v) * 1000)) for d, v in FRED["WALCL"]]
# Repeated inside the refresh's window: a windowed replay reads only what the live service's
# start filter would send (sources/base.py lines_on_or_after); older rows wait for a full read.
RRP_DUP = [*FRED["RRPONTSYD"], FRED["RRPONTSYD"][-2]]
RRP_FUTURE = [*FRED["RRPONTSYD"], (date(2027, 3, 1), "5.0")]
RRP_NAN = [
    *FRED["RRPONTSYD"][:-2],
    (FRED["RRPONTSYD"][-2][0], "n/a"),
    (FRED["RRPONTSYD"][-1][0], "1,2"),
]
TGA = harness.tga_values()
MOF_GOOD_ROW = harness.mof_rows([DAYS[0]])[0]

CASES = {
    # id: (source, inject, needles, failing check or None)
    "fred_unknown_header": (
        "fred",
        _fred("RRPONTSYD", header="observation_day"),
        ["[fred/RRPONTSYD]", "unknown header 'observation_day,RRPONTSYD'"],
        None,
    ),
    "fred_value_column_renamed": (
        "fred",
        _fred_raw("WALCL", b"observation_date,VALUE\n2026-01-07,6580000\n"),
        ["[fred/WALCL]", "value column is 'VALUE'"],
        None,
    ),
    "fred_units_x1000_one_series": (
        "fred",
        _fred("WALCL", WALCL_X1000),
        [
            "[fred/WALCL]",
            "values outside the catalog range (a units change?)",
            "warehouse unchanged",
        ],
        "magnitude_in_range",
    ),
    "fred_duplicate_dates": (
        "fred",
        _fred("RRPONTSYD", RRP_DUP),
        ["[fred/RRPONTSYD]", f"1 repeated dates: {FRED['RRPONTSYD'][-2][0]}"],
        None,
    ),
    "fred_future_dates": (
        "fred",
        _fred("RRPONTSYD", RRP_FUTURE),
        ["[fred/RRPONTSYD]", "dates after", "2027-03-01"],
        "no_future_dates",
    ),
    "fred_ragged_row": (
        "fred",
        _fred("RRPONTSYD", RRP_NAN),
        ["[fred/RRPONTSYD]", "1 rows without exactly 2 columns"],
        None,
    ),
    "fred_non_numeric_value": (
        "fred",
        _fred("RRPONTSYD", RRP_NAN[:-1]),
        ["[fred/RRPONTSYD]", "1 non-numeric values", "2026-01-29='n/a'"],
        None,
    ),
    "fred_wrong_encoding_utf16": (
        "fred",
        _fred("WALCL", encoding="utf-16"),
        ["[fred/WALCL]", "not UTF-8 text"],
        None,
    ),
    "fred_html_saved_as_csv": (
        "fred",
        _fred_raw("WALCL", b"<!DOCTYPE html><html><head><title>Login</title></head></html>"),
        ["[fred/WALCL]", "HTML page instead of CSV"],
        None,
    ),
    "fred_empty_file": (
        "fred",
        _fred_raw("WALCL", b""),
        ["[fred/WALCL]", "empty file"],
        None,
    ),
    "treasury_units_x1000": (
        "treasury",
        _tga(harness.tga_csv([(d, v * 1000) for d, v in TGA]).encode()),
        ["[treasury/TGA]", "values outside the catalog range"],
        "magnitude_in_range",
    ),
    "treasury_duplicate_dates": (
        "treasury",
        _tga(harness.tga_csv([*TGA, TGA[3]]).encode()),
        ["[treasury/TGA]", "repeated dates: 2025-12-04"],
        None,
    ),
    "treasury_non_numeric": (
        "treasury",
        _tga(harness.tga_csv([*TGA[:-1], (TGA[-1][0], "1.2.3")]).encode()),
        ["[treasury/TGA]", "non-numeric rows", "2026-01-30='1.2.3'"],
        None,
    ),
    "treasury_wrong_encoding_utf16": (
        "treasury",
        _tga(harness.tga_csv().encode("utf-16")),
        ["[treasury/TGA]", "not UTF-8 text"],
        None,
    ),
    "mof_era_date_that_does_not_exist": (
        # Heisei ended on 2019-04-30: H31.5.7 never existed.
        "mof",
        _mof_history_with("H31.5.7" + MOF_GOOD_ROW[MOF_GOOD_ROW.index(",") :]),
        ["[mof]", "jgbcm_all.csv line", "impossible date 'H31.5.7'", "outside the H era"],
        None,
    ),
    "mof_february_30": (
        "mof",
        _mof_history_with("R8.2.30" + MOF_GOOD_ROW[MOF_GOOD_ROW.index(",") :]),
        ["[mof]", "jgbcm_all.csv line", "impossible date 'R8.2.30'"],
        None,
    ),
    "mof_duplicate_dates_in_one_file": (
        # A date inside the re-read window (30 days) that the current-month file does not carry.
        "mof",
        _mof_history_with(harness.mof_rows(DAYS[:-5])[-4]),
        ["[mof/", "JGB10Y", "duplicate keys"],
        "unique_keys",
    ),
    "mof_future_dates": (
        "mof",
        _mof("jgbcm.csv", harness.mof_csv(harness.mof_rows([date(2027, 2, 1)]))),
        ["[mof/", "JGB10Y", "dates after", "2027-02-01"],
        "no_future_dates",
    ),
    "mof_non_numeric_yield": (
        "mof",
        _mof_history_with(MOF_LAST_ROW.replace(",0.", ",O.", 1), replace_last=True),
        ["[mof/JGB1Y]", "jgbcm_all.csv line", "non-numeric yield 'O."],
        None,
    ),
    "mof_wrong_encoding_euc_jp": (
        "mof",
        _mof("jgbcm_all.csv", harness.mof_csv(harness.mof_rows(DAYS[:5]), "euc_jp")),
        ["[mof]", "jgbcm_all.csv", "not Shift_JIS/cp932 or UTF-8 text"],
        None,
    ),
    "mof_wrong_encoding_utf16": (
        "mof",
        _mof("jgbcm.csv", harness.mof_csv(harness.mof_rows(DAYS[-3:]), "utf-16")),
        ["[mof]", "jgbcm.csv", "not Shift_JIS/cp932 or UTF-8 text"],
        None,
    ),
    "mof_unknown_tenor_header": (
        "mof",
        _mof(
            "jgbcm.csv",
            harness.mof_csv(harness.mof_rows(DAYS[-3:])).replace(
                "10年".encode("cp932"), "10Y年".encode("cp932")
            ),
        ),
        ["[mof]", "jgbcm.csv", "unknown header column '10Y年'"],
        None,
    ),
    "cme_margin_unknown_unit": (
        "cme",
        _margins(
            *harness.MARGIN_ROWS[:-1], "SI,2026-01-13,11.0,10.0,usd_per_ounce,SYNTHETIC-SI-2.pdf"
        ),
        ["[cme/SI]", "margin_history.csv row 5", "unknown unit 'usd_per_ounce'"],
        None,
    ),
    "cme_margin_unknown_product": (
        "cme",
        _margins(*harness.MARGIN_ROWS, "HG,2026-01-13,5,4,pct_notional,x.pdf"),
        ["[cme/HG]", "unknown product 'HG'"],
        None,
    ),
    "cme_margin_out_of_range": (
        # A percent margin typed as a fraction (0.1 for 10 %): below the pct_notional range.
        "cme",
        _margins(
            *harness.MARGIN_ROWS[:-1], "SI,2026-01-13,0.11,0.10,pct_notional,SYNTHETIC-SI-2.pdf"
        ),
        ["[cme/SI]", "values outside the catalog range"],
        "magnitude_in_range",
    ),
    "cme_empty_file": (
        "cme",
        lambda snapshot: (snapshot / "cme" / "margin_history.csv").write_bytes(b""),
        ["[cme]", "margin_history.csv", "empty file"],
        None,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_content_fault_fails_clearly_loses_nothing_and_recovers(replay_wh, case):
    source, inject, needles, check = CASES[case]
    before = replay_wh.state()
    good = {p: p.read_bytes() for p in replay_wh.snapshot.rglob("*") if p.is_file()}
    inject(replay_wh.snapshot)
    replay_wh.assert_rejected(source, before, *needles, check=check)
    for path, payload in good.items():
        path.write_bytes(payload)
    replay_wh.assert_recovers(source, before)


def test_old_date_header_loads_exactly_the_same_rows(replay_wh):
    """`DATE` (old exports) instead of `observation_date` is not a fault: same rows, no revision."""
    before = replay_wh.state()
    for series_id in FRED:
        _fred(series_id, header="DATE")(replay_wh.snapshot)
    result = replay_wh.run("fred")
    assert result.success, harness.failure_text(result)
    meta = result.asset_materializations_for_node("raw_fred__observations")[0].metadata
    assert meta["new_rows"].value == 0 and meta["revised_rows"].value == 0
    assert meta["unchanged_rows"].value > 0  # the lookback window, re-read and found equal
    assert replay_wh.state().build == before.build


@pytest.mark.parametrize(
    ("source", "inject"),
    [
        pytest.param(
            "treasury",
            _tga(b""),
        ),
        pytest.param(
            "mof",
            _mof("jgbcm_all.csv", b""),
        ),
    ],
)
def test_empty_file_is_called_empty(replay_wh, source, inject):
    before = replay_wh.state()
    inject(replay_wh.snapshot)
    replay_wh.assert_rejected(source, before, f"[{source}", "empty file")
