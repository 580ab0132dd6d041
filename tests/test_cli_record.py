"""`crosswind record`: live sources (local server) -> snapshot layout -> replay reads it back."""

from __future__ import annotations

import math
from datetime import date

import pytest

from orchestration import cli
from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import CrosswindError
from orchestration.lib.http import HttpClient
from orchestration.lib.settings import load_settings
from orchestration.sources import fred, ofr, registry, treasury
from tests.support.http_server import Reply, refused_url

KEY = "fedcba9876543210fedcba9876543210"
FISCAL_PATH = "/v1/accounting/dts/operating_cash_balance"
OFR_PATH = "/financial-stress-index/data/fsi.csv"
OFR_CSV = (
    "Date,OFR FSI,Credit,Equity valuation,Safe assets,Funding,Volatility,United States,"
    "Other advanced economies,Emerging markets\n"
    "2026-02-12,-1.5,-0.8,-0.2,-0.1,-0.1,-0.3,-0.9,-0.4,-0.2\n"
)
CATALOG = load_catalog()
FRED_IDS = [s.id for s in CATALOG.for_source("fred")]


def graph_csv(request) -> Reply:
    series_id = request.param("id")
    return Reply.csv(f"observation_date,{series_id}\n2026-02-11,101.5\n2026-02-12,\n")


def dts_page(request) -> Reply:
    closing = "Treasury General Account (TGA) Closing Balance"
    data = [
        {
            "record_date": "2026-02-12",
            "account_type": closing,
            "close_today_bal": "null",
            "open_today_bal": "883335",
        },
    ]
    return Reply.json({"data": data, "meta": {"total-pages": 1}, "links": {"next": None}})


@pytest.fixture
def live_env(http_server, monkeypatch):
    """Every live FRED/Treasury URL points at the local server; no pacing, no real sleeps."""
    http_server.route_fn("/graph/fredgraph.csv", graph_csv)
    http_server.route_fn(FISCAL_PATH, dts_page)
    http_server.route(OFR_PATH, Reply.csv(OFR_CSV))
    monkeypatch.setenv("CROSSWIND_SOURCE", "replay")  # record must go live regardless
    monkeypatch.delenv("CROSSWIND_SNAPSHOT_DIR", raising=False)
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    monkeypatch.setenv("CROSSWIND_FRED_CSV_URL", http_server.url("/graph/fredgraph.csv"))
    monkeypatch.setenv("CROSSWIND_FISCALDATA_URL", http_server.url(FISCAL_PATH))
    monkeypatch.setenv("CROSSWIND_OFR_URL", http_server.url(OFR_PATH))
    monkeypatch.setattr(fred, "CSV_MIN_INTERVAL", 0.0)
    monkeypatch.setattr(fred, "API_MIN_INTERVAL", 0.0)
    original_init = HttpClient.__init__

    def no_wait(self, *args, **kw):
        kw["sleep"] = lambda seconds: None
        original_init(self, *args, **kw)

    monkeypatch.setattr(HttpClient, "__init__", no_wait)
    return http_server


def test_record_writes_the_replay_layout_and_replay_reads_it(live_env, tmp_path, capsys):
    dest = tmp_path / "snap"
    assert cli.main(["record", "--dest", str(dest), "--sources", "fred,treasury,ofr"]) == 0

    out = capsys.readouterr().out
    assert f"[fred] recording {len(FRED_IDS)} series" in out
    assert (
        "[fred]   wrote fred/WALCL.csv" in out
        and "[treasury]   wrote treasury/tga_daily.csv" in out
        and "[ofr]   wrote ofr/fsi.csv" in out
    )
    assert (dest / "ofr" / "fsi.csv").read_text() == OFR_CSV
    assert sorted(p.stem for p in (dest / "fred").glob("*.csv")) == sorted(FRED_IDS)
    assert (dest / "fred" / "WALCL.csv").read_text() == (
        "observation_date,WALCL\n2026-02-11,101.5\n2026-02-12,\n"
    )

    settings = load_settings({"CROSSWIND_SOURCE": "replay", "CROSSWIND_SNAPSHOT_DIR": str(dest)})
    walcl = CATALOG.series["WALCL"]
    batch = registry.make_source("fred", settings).fetch([walcl])
    assert batch.frame["value"].iloc[0] == 101.5 and math.isnan(batch.frame["value"].iloc[1])
    tga = registry.make_source("treasury", settings).fetch([CATALOG.series["TGA"]])
    assert tga.frame["date"].tolist() == [date(2026, 2, 12)]
    assert tga.frame["value"].tolist() == [883335]
    fsi = registry.make_source("ofr", settings).fetch([CATALOG.series["OFR_FSI"]])
    assert fsi.frame["value"].tolist() == [-1.5]


def test_one_failed_source_is_reported_and_the_others_still_record(
    live_env, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("CROSSWIND_FISCALDATA_URL", refused_url(FISCAL_PATH))
    dest = tmp_path / "snap"
    assert cli.main(["record", "--dest", str(dest), "--sources", "treasury,fred"]) == 1

    captured = capsys.readouterr()
    assert "[treasury] FAILED" in captured.err and "connection refused" in captured.err
    assert "CROSSWIND_SOURCE=sample" in captured.err
    assert "1 of 2 source(s) failed (treasury)" in captured.err
    assert "[fred] ok" in captured.out
    assert (dest / "fred" / "WALCL.csv").is_file()
    assert not (dest / "treasury").exists()


def test_api_key_is_never_printed(live_env, tmp_path, capsys, monkeypatch):
    live_env.route_fn(
        "/fred/series", lambda r: Reply.text(f"bad key {r.param('api_key')}", status=400)
    )
    monkeypatch.setenv("FRED_API_KEY", KEY)
    monkeypatch.setenv("CROSSWIND_FRED_API_URL", live_env.url("/fred"))
    assert cli.main(["record", "--dest", str(tmp_path), "--sources", "fred"]) == 1
    captured = capsys.readouterr()
    assert "[fred] FAILED" in captured.err and "bad key ***" in captured.err
    assert KEY not in captured.out + captured.err


def test_unknown_source_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["record", "--dest", str(tmp_path), "--sources", "fred,nope"])
    assert exit_.value.code == 2
    assert "unknown source(s) nope" in capsys.readouterr().err


def test_registry_dispatches_lazily_and_rejects_unknown_names(tmp_path):
    settings = load_settings(
        {"CROSSWIND_SOURCE": "replay", "CROSSWIND_SNAPSHOT_DIR": str(tmp_path)}
    )
    assert isinstance(registry.make_source("fred", settings), fred.FredReplaySource)
    assert isinstance(registry.make_source("treasury", settings), treasury.TreasuryReplaySource)
    assert isinstance(registry.make_source("ofr", settings), ofr.OfrReplaySource)
    assert registry.SOURCES == (
        "fred",
        "treasury",
        "mof",
        "markets",
        "shiller",
        "cme",
        "drops",
        "ofr",
    )
    with pytest.raises(CrosswindError, match="unknown source 'nope'"):
        registry.make_source("nope", settings)
