"""MOF JGB yields: Shift_JIS era-dated CSV, English CSV, merging, live client, replay."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import SourceFormatError
from orchestration.lib.http import HttpClient
from orchestration.lib.settings import load_settings
from orchestration.sources import mof
from tests.support.http_server import FakeSleep, Reply

SNAPSHOT = Path(__file__).resolve().parents[2] / ".." / "shared" / "snapshot"
WIRE = Path(__file__).resolve().parents[2] / ".." / "shared" / "wire" / "mof"
TENORS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40]
TITLE = "国債金利情報,,,,,,,,,,,,,,,(単位 : %)"
HEADER_JA = "基準日," + ",".join(f"{t}年" for t in TENORS)
HEADER_EN = "Date," + ",".join(f"{t}Y" for t in TENORS)


def jgb_series():
    return load_catalog().for_source("mof")


def row(day: str, ten_year: str = "1.0", forty: str = "-") -> str:
    values = [f"0.{i}" for i in range(1, 10)] + [ten_year, "1.5", "1.8", "2.0", "2.1", forty]
    return ",".join([day, *values])


def sjis(*lines: str, header: str = HEADER_JA) -> bytes:
    return ("\r\n".join([TITLE, header, *lines]) + "\r\n").encode("cp932")


def observations(payload: bytes, start: date | None = None):
    frame, absent = mof.to_observations(mof.parse_jgbcm(payload), jgb_series(), start)
    assert absent == []
    return frame


def value(frame, series_id: str, day: date) -> float:
    hit = frame[(frame["series_id"] == series_id) & (frame["date"] == day)]
    assert len(hit) == 1, (series_id, day, hit)
    return float(hit["value"].iloc[0])


def test_shift_jis_era_dates_across_showa_heisei_reiwa():
    payload = sjis(
        row("S49.9.24", ten_year="-"),
        row("S64.1.6"),
        row("H1.1.9"),
        row("H31.4.26"),
        row("R1.5.7", forty="0.35"),
        row("R元.5.8", forty="0.36"),
        row("R8.2.27", ten_year="2.2", forty="3.5"),
    )
    wide = mof.parse_jgbcm(payload)
    assert list(wide["date"]) == [
        date(1974, 9, 24),
        date(1989, 1, 6),
        date(1989, 1, 9),
        date(2019, 4, 26),
        date(2019, 5, 7),
        date(2019, 5, 8),
        date(2026, 2, 27),
    ]
    frame = observations(payload)
    assert set(frame["series_id"]) == {f"JGB{t}Y" for t in (1, 2, 5, 10, 20, 30, 40)}
    assert set(frame["units"]) == {"Percent"}
    assert value(frame, "JGB10Y", date(2026, 2, 27)) == 2.2
    assert value(frame, "JGB2Y", date(1974, 9, 24)) == 0.2
    # "-" before a tenor's first value: the bond did not exist, so no row at all.
    forty = frame[frame["series_id"] == "JGB40Y"]
    assert list(forty["date"]) == [date(2019, 5, 7), date(2019, 5, 8), date(2026, 2, 27)]
    assert frame[frame["series_id"] == "JGB10Y"]["date"].min() == date(1989, 1, 6)


def test_dash_after_first_value_is_a_missing_observation():
    payload = sjis(row("R8.2.26"), row("R8.2.27", ten_year="-"), row("R8.3.2"))
    frame = observations(payload)
    assert math.isnan(value(frame, "JGB10Y", date(2026, 2, 27)))
    assert value(frame, "JGB10Y", date(2026, 3, 2)) == 1.0


# The current-month file ends like MOF's: an empty row (commas only) and a note in column A.
BLANK = "," * len(TENORS)
FOOTNOTE = "※データが更新されない場合はキャッシュを削除してください。" + "," * len(TENORS)
NOTE = "注：祝日は掲載していません。" + "," * len(TENORS)


def test_blank_and_footnote_rows_of_the_current_month_file_are_skipped():
    payload = sjis(row("R8.6.1", "1.1"), row("R8.6.2", "1.2"), BLANK, FOOTNOTE)
    assert "※".encode("cp932") in payload  # the note really is Shift_JIS
    wide = mof.parse_jgbcm(payload, mof.CURRENT_FILE)
    assert list(wide["date"]) == [date(2026, 6, 1), date(2026, 6, 2)]
    assert list(wide[10]) == [1.1, 1.2]


def test_footnotes_are_recognised_by_shape_not_wording():
    # A different note, between the data rows and at the end, in the history file too.
    payload = sjis(row("R8.5.29", "1.0"), NOTE, row("R8.6.1", "1.1"), FOOTNOTE, BLANK)
    assert list(mof.parse_jgbcm(payload)[10]) == [1.0, 1.1]


@pytest.mark.parametrize(
    ("bad_row", "line"),
    [
        (row("R8.2.30", "1.2"), 6),  # 30 February, with yields
        ("R8.2.30" + "," * len(TENORS), 6),  # date-shaped without yields: still data
        (row("※R8.2.27", "1.2"), 6),  # prose in column A but yields in the row
    ],
)
def test_an_impossible_date_in_a_data_row_still_fails_after_a_footnote(bad_row, line):
    payload = sjis(row("R8.2.26"), FOOTNOTE, BLANK, bad_row)
    with pytest.raises(SourceFormatError) as err:
        mof.parse_jgbcm(payload, mof.CURRENT_FILE)
    assert f"jgbcm.csv line {line}: impossible date" in str(err.value)


def test_history_plus_current_month_with_its_footnote_merge():
    history = sjis(row("R8.5.29", "1.0"), row("R8.6.1", "1.1"))
    current = sjis(row("R8.6.1", "2.1"), row("R8.6.2", "2.2"), BLANK, FOOTNOTE)
    wide = mof.merge_files(mof.parse_jgbcm(history), mof.parse_jgbcm(current, mof.CURRENT_FILE))
    assert list(wide["date"]) == [date(2026, 5, 29), date(2026, 6, 1), date(2026, 6, 2)]
    assert list(wide[10]) == [1.0, 2.1, 2.2]


def test_english_file_with_its_title_line():
    # The English history: a title line "Interest Rate,...,(Unit : %)", CRLF, ASCII.
    title = "Interest Rate" + "," * len(TENORS) + "(Unit : %)"
    payload = "\r\n".join(
        [title, HEADER_EN, row("1974/9/24", ten_year="-"), row("2024/7/31", "1.07"), ""]
    ).encode("ascii")
    frame = observations(payload)
    assert value(frame, "JGB10Y", date(2024, 7, 31)) == 1.07
    assert value(frame, "JGB1Y", date(1974, 9, 24)) == 0.1


def test_english_utf8_file_with_western_dates():
    payload = ("Interest Rate,,,\n" + HEADER_EN + "\n" + row("2026/2/27", "2.25") + "\n").encode()
    frame = observations(payload)
    assert value(frame, "JGB10Y", date(2026, 2, 27)) == 2.25


@pytest.mark.parametrize(
    ("era_date", "expected"),
    [
        ("S49.9.24", date(1974, 9, 24)),
        ("S64.1.7", date(1989, 1, 7)),
        ("H1.1.8", date(1989, 1, 8)),
        ("H31.4.30", date(2019, 4, 30)),
        ("R1.5.1", date(2019, 5, 1)),
        ("R8.2.27", date(2026, 2, 27)),
        ("T15.12.24", date(1926, 12, 24)),
        ("M45.7.29", date(1912, 7, 29)),
        ("2026/6/30", date(2026, 6, 30)),
    ],
)
def test_era_date_conversion(era_date, expected):
    assert mof.parse_era_date(era_date) == expected


@pytest.mark.parametrize(
    "impossible",
    ["H32.1.1", "S64.2.1", "R1.4.1", "H31.5.1", "H0.1.1", "R8.2.30", "X8.1.1", "8.1.1"],
)
def test_impossible_dates_raise_format_error_naming_the_value(impossible):
    payload = sjis(row("R8.2.27"), row(impossible))
    with pytest.raises(SourceFormatError) as err:
        mof.parse_jgbcm(payload)
    assert err.value.source == "mof"
    assert impossible in str(err.value)
    assert "line 4" in str(err.value)


def test_bad_encoding_is_a_format_error():
    payload = sjis(row("R8.2.27")) + b"\x80\xff\xfe"
    with pytest.raises(SourceFormatError, match=r"\[mof\].*Shift_JIS"):
        mof.parse_jgbcm(payload)


def test_unknown_header_is_a_format_error():
    with pytest.raises(SourceFormatError, match="unknown header"):
        mof.parse_jgbcm(sjis(row("R8.2.27"), header=HEADER_JA.replace("基準日", "日付")))
    with pytest.raises(SourceFormatError, match="'10Y' appears twice"):
        mof.parse_jgbcm(sjis(row("R8.2.27"), header=HEADER_JA.replace("15年", "10Y")))
    with pytest.raises(SourceFormatError, match="unknown header column '10年物'"):
        mof.parse_jgbcm(sjis(row("R8.2.27"), header=HEADER_JA.replace("10年", "10年物")))


def test_missing_tenor_column_names_the_series():
    header = ",".join(HEADER_JA.split(",")[:-1])  # no 40年
    payload = sjis(",".join(row("R8.2.27").split(",")[:-1]), header=header)
    with pytest.raises(SourceFormatError) as err:
        observations(payload)
    assert err.value.series == "JGB40Y"


def test_non_numeric_yield_names_series_row_and_value():
    with pytest.raises(SourceFormatError) as err:
        mof.parse_jgbcm(sjis(row("R8.2.26"), row("R8.2.27", ten_year="1.2x")))
    assert err.value.series == "JGB10Y"
    assert "'1.2x'" in str(err.value) and "R8.2.27" in str(err.value)


def test_current_month_wins_over_history_and_start_filters():
    history = sjis(row("R8.5.29", "1.0"), row("R8.6.1", "1.1"), row("R8.6.2", "1.2"))
    current = sjis(row("R8.6.1", "9.1"), row("R8.6.2", "9.2"), row("R8.6.3", "9.3"))
    wide = mof.merge_files(mof.parse_jgbcm(history), mof.parse_jgbcm(current))
    frame, _ = mof.to_observations(wide, jgb_series(), date(2026, 6, 1))
    ten = frame[frame["series_id"] == "JGB10Y"]
    assert list(ten["date"]) == [date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3)]
    assert list(ten["value"]) == [9.1, 9.2, 9.3]


def write_snapshot(root: Path, history: bytes, current: bytes | None = None) -> Path:
    (root / "mof").mkdir(parents=True)
    (root / "mof" / "jgbcm_all.csv").write_bytes(history)
    if current is not None:
        (root / "mof" / "jgbcm.csv").write_bytes(current)
    return root


def replay_settings(root: Path):
    return load_settings({"CROSSWIND_SOURCE": "replay", "CROSSWIND_SNAPSHOT_DIR": str(root)})


def test_replay_reads_history_and_current_month(tmp_path):
    root = write_snapshot(tmp_path, sjis(row("R8.5.29", "1.0")), sjis(row("R8.6.1", "1.1")))
    source = mof.make_source(replay_settings(root))
    batch = source.fetch(jgb_series())
    assert (batch.source, batch.mode, batch.absent) == ("mof", "replay", [])
    assert sorted(batch.frame[batch.frame["series_id"] == "JGB10Y"]["value"]) == [1.0, 1.1]


def test_replay_without_mof_folder_reports_everything_absent(tmp_path):
    batch = mof.make_source(replay_settings(tmp_path)).fetch(jgb_series())
    assert batch.frame.empty
    assert sorted(batch.absent) == sorted(s.id for s in jgb_series())


def test_live_downloads_both_files_and_records_raw_bytes(http_server, tmp_path):
    history = sjis(row("R8.5.29", "1.0"), row("R8.6.1", "1.1"))
    current = sjis(row("R8.6.1", "2.1"), row("R8.6.2", "2.2"))
    http_server.route("/ir/data/jgbcm_all.csv", Reply(200, history, {"Content-Type": "text/csv"}))
    http_server.route("/ir/jgbcm.csv", Reply(200, current, {"Content-Type": "text/csv"}))
    env = {"CROSSWIND_MOF_URL": http_server.url("/ir/")}
    source = mof.make_source(load_settings({**env, "CROSSWIND_SOURCE": "live"}))
    assert isinstance(source, mof.MofLive)
    source._client = HttpClient("mof", sleep=FakeSleep(), max_retries=0)

    batch = source.fetch(jgb_series())
    ten = batch.frame[batch.frame["series_id"] == "JGB10Y"]
    assert batch.mode == "live"
    assert list(ten["value"]) == [1.0, 2.1, 2.2]

    written = source.record(jgb_series(), tmp_path)
    assert sorted(p.name for p in written) == ["jgbcm.csv", "jgbcm_all.csv"]
    assert (tmp_path / "mof" / "jgbcm_all.csv").read_bytes() == history
    replayed = mof.MofReplay(tmp_path).fetch(jgb_series()).frame
    assert replayed.equals(batch.frame)


def test_live_html_instead_of_csv_is_a_format_error(http_server):
    http_server.route("/data/jgbcm_all.csv", Reply.html("<html><title>Maintenance</title></html>"))
    source = mof.MofLive(http_server.url("/"), HttpClient("mof", sleep=FakeSleep()))
    with pytest.raises(SourceFormatError, match="HTML"):
        source.fetch(jgb_series())


def wire(name: str) -> bytes:
    if not (WIRE / name).is_file():
        pytest.skip(f"genuine MOF payloads not found at {WIRE.resolve()} (../shared/wire)")
    return (WIRE / name).read_bytes()


@pytest.mark.integration
def test_genuine_current_month_file_with_its_footnote_parses():
    wide = mof.parse_jgbcm(wire("jgbcm.csv"), mof.CURRENT_FILE)
    # October 2025 (Reiwa 7): eleven business days, then the blank and the footnote row.
    assert len(wide) == 11
    assert (wide["date"].min(), wide["date"].max()) == (date(2025, 10, 1), date(2025, 10, 16))
    assert wide.loc[wide["date"] == date(2025, 10, 16), 10].item() == 1.663


@pytest.mark.integration
def test_genuine_english_history_matches_the_japanese_one():
    english = mof.parse_jgbcm(wire("jgbcme_all.csv"), "jgbcme_all.csv")
    japanese = mof.parse_jgbcm(wire("jgbcm_all.csv"))
    assert (english["date"].min(), english["date"].max()) == (date(1974, 9, 24), date(2024, 7, 31))
    shared = japanese[japanese["date"] <= english["date"].max()].reset_index(drop=True)
    assert shared.equals(english)


@pytest.mark.integration
def test_live_run_on_the_genuine_files(http_server):
    history, current = wire("jgbcm_all.csv"), wire("jgbcm.csv")
    http_server.route("/ir/data/jgbcm_all.csv", Reply(200, history, {"Content-Type": "text/csv"}))
    http_server.route("/ir/jgbcm.csv", Reply(200, current, {"Content-Type": "text/csv"}))
    source = mof.MofLive(http_server.url("/ir/"), HttpClient("mof", sleep=FakeSleep()))
    batch = source.fetch(jgb_series())
    ten = batch.frame[batch.frame["series_id"] == "JGB10Y"].set_index("date")["value"]
    assert ten[date(2025, 10, 16)] == 1.663 and ten.index.max() == date(2026, 6, 30)
    assert ten.index.is_unique
    assert set(batch.newest.values()) == {date(2026, 6, 30)}
    assert source.fetch(jgb_series(), start=date(2030, 1, 1)).newest == batch.newest


@pytest.mark.integration
def test_replay_real_snapshot():
    if not (SNAPSHOT / "mof" / "jgbcm_all.csv").is_file():
        pytest.skip(f"real snapshot not found at {SNAPSHOT.resolve()} (../shared/snapshot)")
    batch = mof.MofReplay(SNAPSHOT).fetch(jgb_series())
    frame = batch.frame
    by_series = frame.groupby("series_id")["date"].agg(["min", "max", "size"])
    assert by_series.loc["JGB1Y"].tolist() == [date(1974, 9, 24), date(2026, 6, 30), 13248]
    assert by_series.loc["JGB10Y", "min"] == date(1986, 7, 5)
    assert by_series.loc["JGB30Y", "min"] == date(1999, 9, 2)
    assert by_series.loc["JGB40Y", "min"] == date(2007, 11, 6)
    assert (by_series["max"] == date(2026, 6, 30)).all()
    # The era switches: last Showa day, first Heisei day, last Heisei day, first Reiwa day.
    dates = set(frame["date"])
    assert {date(1989, 1, 6), date(1989, 1, 9), date(2019, 4, 26), date(2019, 5, 7)} <= dates
    assert value(frame, "JGB10Y", date(2026, 6, 30)) == 2.69
