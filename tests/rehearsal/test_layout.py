"""The one request -> wire-file mapping that `record --raw` writes with and the fake reads with."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from orchestration.rehearsal import layout
from orchestration.rehearsal.layout import wire_request
from orchestration.sources import fred, ofr, treasury
from tests.rehearsal.conftest import KEY, OLD_WORKBOOK_URL

DTS = treasury.DEFAULT_URL


@pytest.mark.parametrize(
    ("source", "url", "path"),
    [
        ("fred", f"{fred.DEFAULT_CSV_URL}?id=DGS10", "fred/graph/DGS10.csv"),
        ("fred", f"{fred.DEFAULT_CSV_URL}?id=DGS10&cosd=2026-01-02",
         "fred/graph/DGS10@cosd=2026-01-02.csv"),
        ("fred", f"{fred.DEFAULT_API_URL}/series?series_id=PAYEMS&api_key={KEY}",
         "fred/api/series/PAYEMS.xml"),
        ("fred", f"{fred.DEFAULT_API_URL}/series/observations?series_id=SP500&api_key={KEY}",
         "fred/api/series/observations/SP500.xml"),
        # fredapi's request for every vintage: the real-time period is part of the name.
        ("fred", f"{fred.DEFAULT_API_URL}/series/observations?series_id=RRPONTSYD"
                 f"&realtime_start=1776-07-04&realtime_end=9999-12-31&api_key={KEY}",
         "fred/api/series/observations/RRPONTSYD@realtime_end=9999-12-31"
         "&realtime_start=1776-07-04.xml"),
        # Parameters at FRED's documented default ask for the plain request; JSON is .json.
        ("fred", f"{fred.DEFAULT_API_URL}/series/observations?series_id=DGS2&units=lin"
                 f"&sort_order=asc&file_type=json&api_key={KEY}",
         "fred/api/series/observations/DGS2.json"),
        ("fred", f"{fred.DEFAULT_API_URL}/series/vintagedates?series_id=GDP&api_key={KEY}",
         "fred/api/series/vintagedates/GDP.xml"),
        ("treasury", f"{DTS}?page%5Bnumber%5D=2&page%5Bsize%5D=10000&sort=record_date",
         "fiscaldata/operating_cash_balance@page[number]=2&page[size]=10000"
         "&sort=record_date.json"),
        ("mof", "https://www.mof.go.jp/jgbs/reference/interest_rate/data/jgbcm_all.csv",
         "mof/jgbcm_all.csv"),
        ("mof", "https://www.mof.go.jp/jgbs/reference/interest_rate/jgbcm.csv", "mof/jgbcm.csv"),
        ("ofr", ofr.DEFAULT_URL, "ofr/fsi.csv"),
        ("shiller", OLD_WORKBOOK_URL, "shiller/ie_data_frozen_2024.xls"),
        ("shiller", OLD_WORKBOOK_URL.replace("/ie_data.xls", "/1a2b/ie_data.xls?ver=17"),
         "shiller/ie_data.xls"),
        ("shiller", "https://shillerdata.com/", "shiller/page.html"),
        ("markets", "https://query1.finance.yahoo.com/v8/finance/chart/%5ESP500TR"
                    "?period1=1687219200&period2=1689379200&interval=1d",
         "yahoo/chart/^SP500TR.json"),
        ("markets", "https://query1.finance.yahoo.com/v8/finance/chart/GC=F?interval=1wk",
         "yahoo/chart/GC=F@interval=1wk.json"),
    ],
)  # fmt: skip
def test_each_request_has_one_file(source, url, path):
    assert wire_request(source, url).path == path


def test_the_api_key_never_reaches_a_path():
    key = wire_request("fred", f"http://mirror/fred/series?api_key={KEY}&series_id=WALCL")
    assert KEY not in key.path and key.plain and key.ident == "WALCL"


def test_the_host_does_not_matter_only_the_path():
    real = wire_request("fred", f"{fred.DEFAULT_API_URL}/series?series_id=X&api_key={KEY}")
    fake = wire_request("fred", f"http://127.0.0.1:5000/fred/series?series_id=X&api_key={KEY}")
    assert real == fake


def test_run_dependent_parameters_are_left_out():
    """Yahoo's period2 is "now" and Shiller's ver token changes per upload: a recording made
    yesterday must still answer today's request."""
    one = wire_request("markets", "http://h/v8/finance/chart/DIA?period1=0&period2=100")
    two = wire_request("markets", "http://h/v8/finance/chart/DIA?period1=5&period2=200")
    assert one.path == two.path == "yahoo/chart/DIA.json"


def test_long_variants_are_hashed_and_stay_distinct():
    url = f"{DTS}?filter=" + quote("record_date:in:(" + ",".join(["2026-01-02"] * 40) + ")")
    key = wire_request("treasury", url)
    other = wire_request("treasury", url.replace("2026-01-02", "2026-01-05", 1))
    name = key.path.rsplit("/", 1)[-1]
    assert name.startswith("operating_cash_balance@sha256-") and len(name) < 120
    assert key.path != other.path


@pytest.mark.parametrize(
    ("source", "url"),
    [
        ("fred", "http://h/fred/series?series_id=../../etc/passwd"),
        ("fred", "http://h/fredgraph.csv"),  # no id
        ("markets", "http://h/v8/finance/quote?symbols=DIA"),
        ("cme", "http://h/margins.csv"),
    ],
)
def test_requests_outside_the_layout_map_to_nothing(source, url):
    assert wire_request(source, url) is None


def test_every_genuine_wire_file_answers_the_request_its_readme_names(wire_dir):
    """Each file of ../shared/wire is found again from the request it answers."""
    request_for = {
        "fred/graph": lambda stem: ("fred", f"{fred.DEFAULT_CSV_URL}?id={stem}"),
        "fred/api/series": lambda stem: (
            "fred", f"{fred.DEFAULT_API_URL}/series?series_id={stem}&api_key={KEY}"),
        "fred/api/series/observations": lambda stem: (
            "fred", f"{fred.DEFAULT_API_URL}/series/observations?series_id={stem}&api_key={KEY}"),
        "yahoo/chart": lambda stem: (
            "markets", f"https://query1.finance.yahoo.com/v8/finance/chart/{quote(stem)}"
                       "?period1=1&period2=2&interval=1d"),
        "mof": lambda stem: ("mof", f"https://www.mof.go.jp/x/{stem}.csv"),
    }  # fmt: skip
    checked = 0
    for path in wire_dir.rglob("*"):
        relative = path.relative_to(wire_dir).as_posix()
        folder, _, name = relative.rpartition("/")
        if path.is_file() and folder in request_for:
            source, url = request_for[folder](name.rsplit(".", 1)[0])
            assert wire_request(source, url).path == relative
            checked += 1
    assert checked >= 10
    assert (wire_dir / layout.FRED_CAP_ERROR.format(series_id="RRPONTSYD")).is_file()
    assert (wire_dir / "shiller" / layout.SHILLER_FROZEN).is_file()
