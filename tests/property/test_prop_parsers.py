"""Property-based tests for the source parsers: valid inputs round-trip, invalid inputs raise
the project's own error type (SourceFormatError, or ValueError where a helper documents it)
and never anything else."""

from __future__ import annotations

import io
import itertools
import math
import re
from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from orchestration.lib.errors import SourceFormatError
from orchestration.sources import fred, mof, shiller, treasury
from orchestration.sources.base import lines_on_or_after
from tests.support.fred_api import FakeSeries

pytestmark = pytest.mark.property

FAST = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

days = st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 12, 31))
# Values as FRED publishes them: at most 15 significant digits, so text round-trips exactly.
fred_values = st.one_of(
    st.none(),
    st.integers(-(10**9), 10**9).map(lambda n: n / 1000),
    st.floats(-1e12, 1e12, allow_nan=False).map(lambda x: float(f"{x:.12g}")),
)


# -- FRED CSV ------------------------------------------------------------------------------------


@FAST
@given(st.dictionaries(days, fred_values, max_size=40), st.sampled_from(["WALCL", "DGS10", "X1"]))
def test_fred_csv_round_trips(observations, series_id):
    frame = pd.DataFrame(
        {
            "date": list(observations),
            "value": [math.nan if v is None else v for v in observations.values()],
        }
    )
    text = fred.format_fred_csv(frame, series_id)
    parsed = fred.parse_fred_csv(text, series_id)
    expected = frame.sort_values("date").reset_index(drop=True)
    assert list(parsed["date"]) == list(expected["date"])
    for got, want in zip(parsed["value"], expected["value"], strict=True):
        assert (math.isnan(got) and math.isnan(want)) or got == want
    assert fred.format_fred_csv(parsed, series_id) == fred.format_fred_csv(expected, series_id)


@FAST
@given(st.dictionaries(days, fred_values, max_size=30))
def test_fred_old_csv_style_reads_the_same(observations):
    """`DATE` header, `.` for missing, CRLF: the same frame as the new style."""
    rows = [f"{d.isoformat()},{'.' if v is None else repr(v)}" for d, v in observations.items()]
    old = "\r\n".join(["DATE,DGS10", *rows]) + "\r\n"
    new = "\n".join(["observation_date,DGS10", *(r.replace(",.", ",") for r in rows)]) + "\n"
    a, b = fred.parse_fred_csv(old, "DGS10"), fred.parse_fred_csv(new.encode(), "DGS10")
    pd.testing.assert_frame_equal(a, b)


def _only_format_errors(parse):
    try:
        result = parse()
    except SourceFormatError:
        return None
    return result


def _no_bare_cr(payload):
    """Lone carriage returns are covered by the CR-only tests below (a known bug)."""
    if isinstance(payload, bytes):
        return payload.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return payload.replace("\r\n", "\n").replace("\r", "\n")


@FAST
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)).map(_no_bare_cr))
def test_fred_csv_junk_is_a_format_error_or_a_frame(payload):
    frame = _only_format_errors(lambda: fred.parse_fred_csv(payload, "DGS10"))
    if frame is not None:
        assert list(frame.columns) == ["date", "value"]
        assert frame["date"].is_monotonic_increasing and frame["date"].is_unique


@FAST
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)).map(_no_bare_cr))
def test_tga_csv_junk_is_a_format_error_or_a_frame(payload):
    frame = _only_format_errors(lambda: treasury.parse_tga_csv(payload))
    if frame is not None:
        assert frame["date"].is_monotonic_increasing and frame["date"].is_unique


def test_fred_csv_with_cr_only_line_endings():
    lf = "observation_date,DGS10\n2024-01-02,1.5\n2024-01-03,\n"
    try:
        frame = fred.parse_fred_csv(lf.replace("\n", "\r"), "DGS10")
    except SourceFormatError:
        return
    pd.testing.assert_frame_equal(frame, fred.parse_fred_csv(lf, "DGS10"))


def test_tga_csv_with_cr_only_line_endings():
    lf = "record_date,tga_close_usd_mn\n2024-01-02,800000\n"
    try:
        frame = treasury.parse_tga_csv(lf.replace("\n", "\r"))
    except SourceFormatError:
        return
    pd.testing.assert_frame_equal(frame, treasury.parse_tga_csv(lf))


cells = st.one_of(
    st.text(alphabet="0123456789-./,eE .NaninfINF", max_size=12),
    st.sampled_from(["", ".", "nan", "inf", "-inf", "1e999", "2024-02-30", "1,5", "１２"]),
)


@FAST
@given(st.lists(st.tuples(cells, cells), min_size=1, max_size=8))
def test_fred_csv_bad_rows_never_crash(rows):
    text = "observation_date,DGS10\n" + "".join(f"{a},{b}\n" for a, b in rows)
    frame = _only_format_errors(lambda: fred.parse_fred_csv(text, "DGS10"))
    if frame is not None:
        assert frame["value"].map(lambda v: math.isnan(v) or math.isfinite(v)).all()


# -- MOF era dates -------------------------------------------------------------------------------

era_days = st.dates(min_value=date(1868, 1, 1), max_value=date(2100, 12, 31))


def _to_era(day: date, gannen: bool) -> str:
    for letter, (offset, first, last) in mof.ERAS.items():
        if first <= day and (last is None or day <= last):
            year = day.year - offset
            year_text = "元" if gannen and year == 1 else str(year)
            return f"{letter}{year_text}.{day.month}.{day.day}"
    raise AssertionError(day)


@FAST
@given(era_days, st.booleans())
def test_era_dates_round_trip(day, gannen):
    assert mof.parse_era_date(_to_era(day, gannen)) == day
    assert mof.parse_era_date(f"{day.year}/{day.month}/{day.day}") == day


@FAST
@given(st.sampled_from("MTSHR"), st.integers(0, 99), st.integers(0, 13), st.integers(0, 32))
def test_era_dates_outside_their_era_or_calendar_raise_value_error(era, year, month, day):
    text = f"{era}{year}.{month}.{day}"
    try:
        parsed = mof.parse_era_date(text)
    except ValueError:
        return
    offset, first, last = mof.ERAS[era]
    assert parsed.year == offset + year and first <= parsed
    assert last is None or parsed <= last


@FAST
@given(st.text(max_size=20))
def test_era_date_junk_raises_value_error_only(text):
    try:
        mof.parse_era_date(text)
    except ValueError:
        pass


@FAST
@given(st.text(alphabet="MTSHR元0123456789./-", min_size=1, max_size=12))
def test_mof_file_with_any_bad_date_is_a_format_error(cell):
    try:
        mof.parse_era_date(cell)
    except ValueError:
        pass
    else:
        assume(False)  # only the cells that are not dates
    assume("," not in cell)
    header = "基準日," + ",".join(f"{t}年" for t in (1, 2, 10))
    payload = "\r\n".join(["title", header, "R8.1.5,0.5,0.6,1.1", f"{cell},0.5,0.6,1.1"])
    with pytest.raises(SourceFormatError, match="impossible date"):
        mof.parse_jgbcm(payload.encode("cp932"))


@FAST
@given(st.binary(max_size=400))
def test_mof_junk_bytes_are_a_format_error_or_a_frame(payload):
    frame = _only_format_errors(lambda: mof.parse_jgbcm(payload))
    if frame is not None:
        assert "date" in frame.columns


# -- MOF merge (history + current month) -----------------------------------------------------


def _wide(day_values: dict) -> pd.DataFrame:
    return pd.DataFrame(
        {"date": pd.Series(list(day_values), dtype=object), 10: list(day_values.values())}
    )


@FAST
@given(
    st.dictionaries(days, st.floats(-1, 5, allow_nan=False), max_size=20),
    st.dictionaries(days, st.floats(-1, 5, allow_nan=False), max_size=10),
)
def test_mof_merge_keeps_every_date_once_and_current_wins(history, current):
    merged = mof.merge_files(_wide(history), _wide(current))
    assert sorted(merged["date"]) == sorted(set(history) | set(current))
    assert merged["date"].is_unique
    for day, value in zip(merged["date"], merged[10], strict=True):
        assert value == (current[day] if day in current else history[day])


# -- Shiller decimal months ------------------------------------------------------------------


@FAST
@given(st.integers(1800, 2200), st.integers(1, 12))
def test_shiller_month_round_trips(year, month):
    assert shiller.month_from_decimal(year + month / 100) == date(year, month, 1)
    assert shiller.month_from_decimal(float(f"{year}.{month:02d}")) == date(year, month, 1)


@FAST
@given(st.floats(allow_nan=True, allow_infinity=False))
@example(-2147483648.875)  # a year below int32: date() raised OverflowError, not ValueError
def test_shiller_month_junk_raises_value_error_only(value):
    try:
        month = shiller.month_from_decimal(value)
    except ValueError:
        return
    assert 1 <= month.month <= 12 and month.day == 1


def _workbook(first_date: float) -> bytes:
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("Data")
    for col, label in enumerate(["Date", "P", "D", "E", "CPI", "Fraction", "Rate GS10", "CAPE"]):
        sheet.write(7, col, label)
    sheet.write(8, 0, first_date)
    sheet.write(8, 1, 4.44)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize("bad", [math.inf, -math.inf])
def test_shiller_infinite_date_cell_is_a_format_error(bad):
    with pytest.raises(SourceFormatError, match="impossible date"):
        shiller.parse_workbook(_workbook(bad))


@FAST
@given(st.floats(allow_nan=True, allow_infinity=False, width=64))
def test_shiller_workbook_any_finite_date_cell_parses_or_is_a_format_error(value):
    frame = _only_format_errors(lambda: shiller.parse_workbook(_workbook(value)))
    if frame is not None and len(frame):
        assert all(d.day == 1 for d in frame["date"])


# -- Treasury pages ----------------------------------------------------------------------------

LABELS = list(treasury.TGA_ROWS)
amounts = st.integers(0, 3_000_000_000).map(lambda n: n / 1000)


def _record(day: date, value: float, label: str) -> dict:
    column = treasury.TGA_ROWS[label]
    other = "close_today_bal" if column == "open_today_bal" else "open_today_bal"
    return {
        "record_date": day.isoformat(),
        "account_type": label,
        column: f"{value:.3f}",
        other: "null",
    }


@FAST
@given(st.dictionaries(days, st.tuples(amounts, st.sampled_from(LABELS)), max_size=40))
def test_tga_records_of_any_era_round_trip(values):
    records = [_record(d, v, label) for d, (v, label) in values.items()]
    # Rows the parser must ignore: opening balances and other accounts.
    records += [
        {
            "record_date": d.isoformat(),
            "account_type": "Treasury General Account (TGA) Opening Balance",
            "open_today_bal": "1",
            "close_today_bal": "null",
        }
        for d in list(values)[:3]
    ]
    frame = treasury.tga_from_records(records)
    assert list(frame["date"]) == sorted(values)
    assert list(frame["value"]) == [values[d][0] for d in sorted(values)]
    again = treasury.parse_tga_csv(treasury.format_tga_csv(frame))
    pd.testing.assert_frame_equal(again, frame)


record_values = st.one_of(
    st.none(), st.text(max_size=12), st.integers(), st.floats(), st.sampled_from(["null", ""])
)


@FAST
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "record_date": st.one_of(days.map(date.isoformat), record_values),
                "account_type": st.sampled_from([*LABELS, "Other", ""]),
                "open_today_bal": record_values,
                "close_today_bal": record_values,
            }
        ),
        max_size=12,
    )
)
def test_tga_junk_records_are_a_format_error_or_a_frame(records):
    frame = _only_format_errors(lambda: treasury.tga_from_records(records))
    if frame is not None:
        assert frame["date"].is_unique


# -- FRED vintages -------------------------------------------------------------------------


def _vintage_frame(rows) -> pd.DataFrame:
    values = [(d, float("nan" if v == "." else v), rs, re) for d, rs, re, v in rows]
    return pd.DataFrame(values, columns=fred.VINTAGE_COLUMNS)


@FAST
@given(
    st.lists(
        st.tuples(days, st.integers(0, 400), st.sampled_from(["1.5", "2.25", "-3", "."])),
        min_size=1,
        max_size=30,
        unique_by=lambda t: (t[0], t[1]),
    ),
    st.integers(1, 6),
)
def test_vintages_fetched_in_windows_join_into_the_unlimited_answer(releases, per_request):
    """FRED clips each row to the real-time window asked for; joined, the windows give what one
    all-vintages request would (were it allowed), and the current value per date."""
    fake = FakeSeries("X", "Percent", [(d, d + timedelta(days=lag), v) for d, lag, v in releases])
    periods = fake.periods()
    windows = fred.vintage_windows(fake.vintage_dates(), per_request)
    for start, end in windows:
        assert 0 < len([v for v in fake.vintage_dates() if start <= v <= end]) <= per_request
    assert all(b[0] == a[1] + timedelta(days=1) for a, b in itertools.pairwise(windows))
    pieces = [
        (d, max(rs, start), min(re, end), v)
        for start, end in windows
        for d, rs, re, v in periods
        if rs <= end and re >= start
    ]
    merged = fred.merge_vintage_pieces(_vintage_frame(pieces))
    pd.testing.assert_frame_equal(merged, _vintage_frame(periods))

    latest = fred.latest_vintage(merged)
    current = {d: (rs, v) for d, rs, re, v in periods if re == fred.OPEN_END}
    assert list(latest["date"]) == sorted(current)
    assert list(latest["realtime_start"]) == [pd.Timestamp(current[d][0]) for d in sorted(current)]


# -- replay window (sources/base.py lines_on_or_after) ---------------------------------------------

_REFERENCE_DATED = re.compile(rb"\d{4}-\d{2}-\d{2}(?:,|\r|\n|$)")


def _reference_window(payload: bytes, start: date) -> bytes:
    """The rule, line by line: drop a line whose first cell is exactly an earlier ISO date."""
    cut = start.isoformat().encode()
    lines = payload.splitlines(keepends=True)
    return b"".join(x for x in lines if not (x[:10] < cut and _REFERENCE_DATED.match(x)))


_window_lines = st.one_of(
    days.map(lambda d: f"{d.isoformat()},1.5"),
    days.map(lambda d: d.isoformat()),
    days.map(lambda d: f'"{d.isoformat()}",2'),
    days.map(lambda d: f"{d.isoformat()} 00:00,3"),
    days.map(lambda d: f"{d.year}-{d.month}-{d.day},4"),
    st.sampled_from(["", " ", "2024-02-3x,1", "9999-99-99,1", "20240301,1", "2024-03-01x"]),
)


@FAST
@given(
    st.lists(st.tuples(_window_lines, st.sampled_from(["\n", "\r\n", "\r"])), max_size=30),
    days,
    st.booleans(),
)
def test_replay_window_keeps_exactly_what_the_line_rule_keeps(lines, start, last_line_ends):
    body = "".join(text + end for text, end in lines)
    if lines and not last_line_ends:
        body = body[: -len(lines[-1][1])]
    payload = ("observation_date,X1\r\n" + body).encode()
    assert lines_on_or_after(payload, start, fred.DATE_HEADERS) == _reference_window(payload, start)
