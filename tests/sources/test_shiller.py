"""Shiller ie_data.xls: header discovery, decimal-month dates, NA cells, footnotes, errors."""

from __future__ import annotations

import io
import math
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import xlwt

from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import SourceFormatError
from orchestration.lib.http import HttpClient
from orchestration.lib.settings import load_settings
from orchestration.sources import shiller
from tests.support.http_server import FakeSleep, Reply
from tests.support.resources import crosswind_resources

SNAPSHOT = Path(__file__).resolve().parents[2] / ".." / "shared" / "snapshot"
WIRE = Path(__file__).resolve().parents[2] / ".." / "shared" / "wire" / "shiller"
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
    (tmp_path / "shiller").mkdir(parents=True, exist_ok=True)
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


def test_note_in_a_value_cell_is_missing_with_a_warning_naming_the_row(tmp_path):
    # Older uploads typed notes where a number belongs, e.g. in the long-rate column.
    payload = workbook(
        [
            data_row(2015.01, gs10="Jan 15 long rate is Jan 8 value"),
            data_row(2015.02, gs10=1.98, cpi="n/a?"),
        ]
    )
    batch = fetch(payload, tmp_path)
    assert math.isnan(value(batch.frame, "SHILLER_GS10", date(2015, 1, 1)))
    assert value(batch.frame, "SHILLER_GS10", date(2015, 2, 1)) == 1.98
    assert math.isnan(value(batch.frame, "SHILLER_CPI", date(2015, 2, 1)))
    assert value(batch.frame, "SHILLER_PRICE", date(2015, 1, 1)) == 4.44  # the row still loads
    assert batch.warnings == [
        "[shiller/SHILLER_GS10] ie_data.xls row 9 (2015-01): text 'Jan 15 long rate is Jan 8 "
        "value' in a value cell, read as missing",
        "[shiller/SHILLER_CPI] ie_data.xls row 10 (2015-02): text 'n/a?' in a value cell, "
        "read as missing",
    ]


def test_a_note_reaches_the_raw_assets_metadata(tmp_path, warehouse_env, monkeypatch):
    import dagster as dg

    from orchestration.defs.ingestion.shiller.assets import shiller_monthly

    rows = [data_row(1990 + i // 12 + (i % 12 + 1) / 100, cape=20.0) for i in range(30)]
    rows[3][6] = "Apr 1 long rate is Mar 29 value"
    (tmp_path / "shiller").mkdir()
    (tmp_path / "shiller" / "ie_data.xls").write_bytes(workbook(rows))
    monkeypatch.setenv("CROSSWIND_SOURCE", "replay")
    monkeypatch.setenv("CROSSWIND_SNAPSHOT_DIR", str(tmp_path))
    result = dg.materialize(
        [shiller_monthly], raise_on_error=False, resources=crosswind_resources()
    )
    assert result.success
    meta = result.asset_materializations_for_node("raw_shiller__monthly")[0].metadata
    assert meta["source_warnings"].value == [
        "[shiller/SHILLER_GS10] ie_data.xls row 12 (1990-04): text 'Apr 1 long rate is Mar 29 "
        "value' in a value cell, read as missing"
    ]


def test_newest_months_ignore_the_start_filter(tmp_path):
    payload = workbook(
        [data_row(2024.02), data_row(2024.03, earnings=None), data_row(2024.04, earnings=None)]
    )
    batch = fetch(payload, tmp_path, start=date(2030, 1, 1))
    assert batch.frame.empty  # nothing in the window ...
    assert batch.newest["SHILLER_PRICE"] == date(2024, 4, 1)  # ... yet the payload's end is known
    assert batch.newest["SHILLER_EARNINGS"] == date(2024, 2, 1)
    assert "SHILLER_CAPE" not in batch.newest  # "NA" throughout: no value at all


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


XLS = {"Content-Type": "application/vnd.ms-excel"}
UPLOAD = "/blobby/go/site-1/downloads/4f1d-upload/ie_data.xls"


def live(http_server, page_path="/", **env):
    env = {"CROSSWIND_SHILLER_PAGE_URL": http_server.url(page_path), **env}
    source = shiller.make_source(load_settings({**env, "CROSSWIND_SOURCE": "live"}))
    source._client = HttpClient("shiller", sleep=FakeSleep(), max_retries=0)
    return source


@pytest.mark.parametrize(
    "link",
    [
        # GoDaddy pages link uploads protocol-relative, the query carrying the upload time.
        '<a href="//{host}' + UPLOAD + '?ver=1778098504874" target="_blank">Download</a>',
        '<a class="x" href="' + UPLOAD + '?ver=1&amp;dl=1">ie_data.xls</a>',
        # The link inside the page's script props, slashes JSON-escaped.
        '<script>window.props={"href":"http:\\/\\/{host}'
        + UPLOAD.replace("/", "\\/")
        + '?ver=2"}</script>',
        '<script>{"href":"http:\\u002F\\u002F{host}'
        + UPLOAD.replace("/", "\\u002F")
        + '"}</script>',
    ],
)
def test_live_finds_the_workbook_on_the_page(http_server, link):
    payload = workbook([data_row(2026.04), data_row(2026.05, cape=39.0)])
    host = http_server.url("/").split("//", 1)[1].rstrip("/")
    page = "<html><body><p>Data on ie_data.xls below.</p>" + link.replace("{host}", host)
    http_server.route("/", Reply.html(page + "</body></html>"))
    http_server.route(UPLOAD, Reply(200, payload, XLS))
    source = live(http_server)
    batch = source.fetch(shiller_series())
    assert value(batch.frame, "SHILLER_CAPE", date(2026, 5, 1)) == 39.0
    assert [r.path for r in http_server.requests] == ["/", UPLOAD]
    assert urlsplit(source.workbook_url).path == UPLOAD
    assert batch.warnings == []


def test_live_prefers_the_newest_upload_over_the_frozen_address(http_server):
    page = (
        '<a href="/blobby/go/site-1/downloads/cc/ie_data.xlsx?ver=1799999999999">xlsx</a>'
        '<a href="/blobby/go/site-1/downloads/ie_data.xls">old</a>'
        '<a href="/blobby/go/site-1/downloads/aa/ie_data.xls?ver=1700000000000">2023</a>'
        '<a href="/blobby/go/site-1/downloads/bb/ie_data.xls?ver=1778098504874">2026</a>'
        '<a href="/blobby/go/site-1/downloads/bb/ie_data.xls?ver=1778098504874">again</a>'
    )
    newest = "/blobby/go/site-1/downloads/bb/ie_data.xls"
    assert shiller.find_workbook_url(page, "https://shillerdata.com/") == (
        "https://shillerdata.com" + newest + "?ver=1778098504874"
    )
    http_server.route("/", Reply.html(page))
    http_server.route(newest, Reply(200, workbook([data_row(2026.05)]), XLS))
    assert not live(http_server).fetch(shiller_series()).frame.empty


def test_other_files_and_prose_are_not_links():
    for page in (
        '<a href="/downloads/aa/ie_data.xlsx">',
        '<a href="/downloads/aa/Fig3-1.xls">',
        "<p>Download ie_data.xls (updated monthly)</p>",
    ):
        with pytest.raises(SourceFormatError, match=r"no link to ie_data\.xls"):
            shiller.find_workbook_url(page, "https://shillerdata.com/")


def test_a_page_without_the_link_says_how_to_pin_the_workbook(http_server):
    http_server.route("/", Reply.html("<html><body>Site under maintenance</body></html>"))
    with pytest.raises(SourceFormatError, match="CROSSWIND_SHILLER_URL") as err:
        live(http_server).fetch(shiller_series())
    assert "no link to ie_data.xls" in str(err.value)


def test_the_frozen_address_alone_loads_with_a_warning(http_server):
    frozen = "/blobby/go/site-1/downloads/ie_data.xls"
    http_server.route("/", Reply.html(f'<a href="{frozen}">Download</a>'))
    http_server.route(frozen, Reply(200, workbook([data_row(2024.04)]), XLS))
    batch = live(http_server).fetch(shiller_series())
    assert len(batch.warnings) == 1 and "frozen in 2024" in batch.warnings[0]
    assert batch.newest["SHILLER_PRICE"] == date(2024, 4, 1)


def test_live_download_and_record_round_trip(http_server, tmp_path):
    payload = workbook([data_row(1871.01), data_row(1871.1, cape=11.0)])
    http_server.route(
        "/ie_data.xls", Reply(200, payload, {"Content-Type": "application/vnd.ms-excel"})
    )
    # A pinned workbook address skips the page: the page route does not even exist.
    source = live(http_server, "/no-page", CROSSWIND_SHILLER_URL=http_server.url("/ie_data.xls"))
    live_batch = source.fetch(shiller_series())
    assert [r.path for r in http_server.requests] == ["/ie_data.xls"]
    assert live_batch.mode == "live"
    assert value(live_batch.frame, "SHILLER_CAPE", date(1871, 10, 1)) == 11.0
    assert source.record(shiller_series(), tmp_path) == [tmp_path / "shiller" / "ie_data.xls"]
    assert (tmp_path / "shiller" / "ie_data.xls").read_bytes() == payload
    assert shiller.ShillerReplay(tmp_path).fetch(shiller_series()).frame.equals(live_batch.frame)


def test_default_page_is_shillers_site():
    source = shiller.make_source(load_settings({"CROSSWIND_SOURCE": "live"}))
    assert (source.page_url, source.pinned_url) == ("https://shillerdata.com/", None)


@pytest.mark.integration
def test_genuine_frozen_2024_workbook_is_recognisably_frozen(tmp_path):
    path = WIRE / "ie_data_frozen_2024.xls"
    if not path.is_file():
        pytest.skip(f"genuine Shiller workbooks not found at {WIRE.resolve()} (../shared/wire)")
    batch = fetch(path.read_bytes(), tmp_path)
    # The copy the old address still serves: prices to April 2024, earnings to December 2023.
    assert batch.newest == {
        "SHILLER_PRICE": date(2024, 4, 1),
        "SHILLER_DIVIDEND": date(2024, 3, 1),
        "SHILLER_EARNINGS": date(2023, 12, 1),
        "SHILLER_CPI": date(2024, 4, 1),
        "SHILLER_GS10": date(2024, 4, 1),
        "SHILLER_CAPE": date(2024, 4, 1),
    }
    # Frozen: as of the current workbook's newest month, every series is past its staleness
    # limit plus release lag (what the generic frozen-source check compares).
    current = fetch((WIRE / "ie_data.xls").read_bytes(), tmp_path / "current")
    as_of = current.newest["SHILLER_PRICE"]
    assert as_of == date(2026, 5, 1)
    catalog = load_catalog()
    for series_id, newest in batch.newest.items():
        spec = catalog.series[series_id]
        assert (as_of - newest).days > spec.staleness_days + spec.release_lag_days, series_id
    for series_id, newest in current.newest.items():
        spec = catalog.series[series_id]
        assert (as_of - newest).days <= spec.staleness_days, series_id
    assert batch.warnings == [] and current.warnings == []


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
