"""`crosswind record --raw`: the HttpClient tap writes the wire layout, and a recording rehearses
back to the same raw tables as the live run it was recorded from."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests

from orchestration import cli
from orchestration.defs.ingestion.fred.assets import fred_observations
from orchestration.defs.ingestion.markets.assets import market_daily_bars
from orchestration.defs.ingestion.mof.assets import mof_jgb_yields
from orchestration.defs.ingestion.ofr.assets import ofr_financial_stress_index
from orchestration.defs.ingestion.shiller.assets import shiller_monthly
from orchestration.defs.ingestion.treasury.assets import treasury_operating_cash_balance
from orchestration.lib.http import HttpClient, tapped
from orchestration.lib.run_summary import RAW_TABLES
from orchestration.rehearsal import answers, layout
from orchestration.rehearsal.fake import FakeServices
from orchestration.rehearsal.record import RawRecorder
from orchestration.rehearsal.run import CLEARED
from tests.faults.harness import failure_text
from tests.rehearsal.conftest import KEY
from tests.support.http_server import Reply
from tests.support.resources import crosswind_resources

ASSETS = {
    "fred": fred_observations,
    "treasury": treasury_operating_cash_balance,
    "mof": mof_jgb_yields,
    "shiller": shiller_monthly,
    "markets": market_daily_bars,
    "ofr": ofr_financial_stress_index,
}


@pytest.fixture(autouse=True)
def _no_waiting(no_http_waits):
    """The fake answers at once, and a refused client fails fast."""


def live_environment(monkeypatch, env: dict[str, str], warehouse: Path) -> None:
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CROSSWIND_SOURCE", "live")
    monkeypatch.setenv("CROSSWIND_WAREHOUSE_DIR", str(warehouse))
    monkeypatch.setenv("CROSSWIND_DROPS_DIR", str(warehouse / "drops"))


def raw_rows(warehouse: Path, source: str) -> dict[str, list]:
    con = duckdb.connect(str(warehouse / "crosswind.duckdb"), read_only=True)
    try:
        return {
            t.qualified: con.execute(
                f"SELECT * EXCLUDE (_loaded_at) FROM {t.qualified} ORDER BY ALL"
            ).fetchall()
            for t in RAW_TABLES[source]
        }
    finally:
        con.close()


def services(source: str) -> list[str]:
    return [s for s, owner in layout.SOURCE_OF.items() if owner == source]


def environment(fake: FakeServices, api_key: str | None, pin_workbook: bool) -> dict[str, str]:
    env = fake.environment(api_key)
    if pin_workbook:  # the documented way round page discovery: pin the workbook address
        env["CROSSWIND_SHILLER_URL"] = fake.shiller.current_url()
    return env


@pytest.mark.parametrize(
    ("source", "api_key", "pin_workbook"),
    [
        ("fred", None, False),
        ("fred", KEY, False),
        ("treasury", None, False),
        ("mof", None, False),
        ("shiller", None, False),
        ("shiller", None, True),
        ("markets", None, False),
        ("ofr", None, False),
    ],
    ids=["fred-csv", "fred-api", "treasury", "mof", "shiller", "shiller-pinned", "markets", "ofr"],
)
def test_a_recording_rehearses_to_the_same_raw_tables(
    source, api_key, pin_workbook, small_snapshot, tmp_path, monkeypatch, capsys
):
    recording = tmp_path / "recording"
    with FakeServices(None, small_snapshot) as live:
        live_environment(monkeypatch, environment(live, api_key, pin_workbook), tmp_path / "live")
        result = dg.materialize(
            [ASSETS[source]], raise_on_error=False, resources=crosswind_resources()
        )
        assert result.success, failure_text(result)
        answered = {s: live.served_by(s) for s in services(source)}
        assert cli.main(["record", "--raw", str(recording), "--sources", source]) == 0
    assert f"[{source}]   recorded " in capsys.readouterr().out

    with FakeServices(recording) as rehearsed:
        env = environment(rehearsed, api_key, pin_workbook)
        live_environment(monkeypatch, env, tmp_path / "rehearsed")
        again = dg.materialize(
            [ASSETS[source]], raise_on_error=False, resources=crosswind_resources()
        )
        assert again.success, failure_text(again)
        replayed = {s: rehearsed.served_by(s) for s in services(source)}

    assert raw_rows(tmp_path / "rehearsed", source) == raw_rows(tmp_path / "live", source)
    assert any(answered.values())
    for service in services(source):
        # The same requests, and the recording lacked nothing the live run was given.
        assert sum(replayed[service].values()) == sum(answered[service].values())
        assert replayed[service].get(answers.MISSING) == answered[service].get(answers.MISSING)
    if api_key:
        for path in recording.rglob("*"):
            assert api_key not in str(path)
            assert path.is_dir() or api_key.encode() not in path.read_bytes()


def test_the_tap_sees_what_the_caller_gets_and_writes_it_where_the_fake_reads(
    http_server, tmp_path
):
    body = b"observation_date,WALCL\n2026-01-07,6580000\n"
    http_server.route("/graph/fredgraph.csv", Reply.csv(body.decode()))
    recorder = RawRecorder(tmp_path)
    with tapped(recorder):
        got = HttpClient("fred").get(http_server.url("/graph/fredgraph.csv"), params={"id": "X"})
    HttpClient("fred").get(http_server.url("/graph/fredgraph.csv"), params={"id": "Y"})
    assert recorder.written == ["fred/graph/X.csv"]  # the tap is gone after the block
    assert (tmp_path / "fred/graph/X.csv").read_bytes() == got.content == body
    with FakeServices(tmp_path) as fake:
        served = requests.get(fake.url("/graph/fredgraph.csv"), params={"id": "X"})
        assert served.content == body and fake.served_by(layout.FRED_GRAPH) == {answers.WIRE: 1}


def test_a_body_quoting_a_secret_is_not_written(http_server, tmp_path):
    http_server.route("/fred/series", Reply.xml(f"<seriess note='{KEY}'/>"))
    recorder = RawRecorder(tmp_path, secrets=[KEY])
    with tapped(recorder):
        HttpClient("fred").get(http_server.url("/fred/series"), params={"series_id": "X"})
    assert recorder.written == [] and not list(tmp_path.rglob("*.xml"))
    assert recorder.refused == ["fred: fred/api/series/X.xml quotes a secret; not written"]


def test_record_needs_a_destination(capsys):
    assert cli.main(["record"]) == 2
    assert "give --dest (replay layout), --raw (wire layout) or both" in capsys.readouterr().err
