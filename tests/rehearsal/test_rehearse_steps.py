"""`crosswind rehearse` pieces that need no Dagster run: folders, FRED mode, summary, secrets."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from orchestration.lib.errors import CrosswindError
from orchestration.lib.run_summary import RunOutcome, SourceOutcome
from orchestration.rehearsal.fake import FakeServices
from orchestration.rehearsal.run import (
    MARKER,
    job_environment,
    pick_fred_mode,
    prepare_warehouse,
    quoting,
    summary,
)
from orchestration.sources.registry import SOURCES
from tests.rehearsal.conftest import KEY


def test_fresh_empties_only_a_folder_a_rehearsal_made(tmp_path):
    made = tmp_path / "rehearsal"
    prepare_warehouse(made, fresh=False)
    (made / "crosswind.duckdb").write_bytes(b"old")
    prepare_warehouse(made, fresh=True)
    assert (made / MARKER).is_file() and not (made / "crosswind.duckdb").exists()

    mine = tmp_path / "warehouse"
    mine.mkdir()
    (mine / "crosswind.duckdb").write_bytes(b"precious")
    prepare_warehouse(mine, fresh=False)  # pointing a rehearsal here is allowed ...
    assert not (mine / MARKER).exists()  # ... but it never becomes disposable
    with pytest.raises(CrosswindError, match="--fresh refuses to delete"):
        prepare_warehouse(mine, fresh=True)
    assert (mine / "crosswind.duckdb").read_bytes() == b"precious"


def test_auto_fred_mode_follows_what_the_wire_recorded(tmp_path):
    for name in ("A.csv", "B.csv"):
        (tmp_path / "fred" / "graph").mkdir(parents=True, exist_ok=True)
        (tmp_path / "fred" / "graph" / name).write_text("observation_date,A\n")
    assert pick_fred_mode("auto", tmp_path) == "csv"
    for name in ("A.xml", "B.xml"):
        (tmp_path / "fred" / "api" / "series").mkdir(parents=True, exist_ok=True)
        (tmp_path / "fred" / "api" / "series" / name).write_text("<seriess/>")
    assert pick_fred_mode("auto", tmp_path) == "api"  # a tie goes to the API
    assert pick_fred_mode("csv", tmp_path) == "csv"


def test_job_environment_drops_what_would_take_a_client_off_the_fake(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSWIND_SHILLER_URL", "https://example.com/ie_data.xls")
    monkeypatch.setenv("CROSSWIND_MARKETS_DIR", "/somewhere")
    monkeypatch.setenv("FRED_API_KEY", "a-real-key")
    monkeypatch.setenv("CROSSWIND_WAREHOUSE_DIR", "/main/warehouse")
    env = job_environment({"CROSSWIND_MOF_URL": "http://127.0.0.1:1/jgbs/"}, tmp_path)
    assert "CROSSWIND_SHILLER_URL" not in env and "CROSSWIND_MARKETS_DIR" not in env
    assert "FRED_API_KEY" not in env  # only the fake's dummy key, when asked for
    assert env["CROSSWIND_SOURCE"] == "live"
    assert env["CROSSWIND_WAREHOUSE_DIR"] == str(tmp_path)
    assert env["DAGSTER_HOME"] == str(tmp_path / "dagster_home")
    assert env["CROSSWIND_MOF_URL"] == "http://127.0.0.1:1/jgbs/"


def test_quoting_finds_the_key_in_any_file(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "run.log").write_text(f"GET /fred/series?api_key={KEY}")
    (tmp_path / "clean.txt").write_text("api_key=***")
    assert quoting(tmp_path, KEY) == [tmp_path / "logs" / "run.log"]


def test_summary_names_sources_origins_rows_checks_and_blocked_hosts(tmp_path, small_snapshot):
    outcome = RunOutcome(run_id="0123456789", success=False)
    outcome.sources = {s: SourceOutcome() for s in SOURCES}
    outcome.sources["fred"] = SourceOutcome(
        rows_in_batch=12345, materialized=True, checks=Counter(passed=6, warned=1)
    )
    outcome.sources["mof"].failure = "[mof] jgbcm.csv line 15: impossible date"
    outcome.marts_expected = ["fct_a", "fct_b"]
    outcome.marts_built = ["fct_a"]
    with FakeServices(None, small_snapshot) as fake:
        session = requests.Session()
        session.trust_env = False
        session.get(fake.url("/graph/fredgraph.csv"), params={"id": "WALCL"})
        session.get(fake.url("/graph/fredgraph.csv"), params={"id": "NOSUCH"})
        proxied = requests.Session()
        proxied.proxies = {"https": fake.base_url}
        with pytest.raises(requests.exceptions.ProxyError):
            proxied.get("https://img1.wsimg.com/ie_data.xls")
        lines = summary(outcome, fake, "csv", None, tmp_path, tmp_path / "log", 42.0, ok=False)
    text = "\n".join(lines)
    assert "fred         12,345  6/1/0         fred-graph: 1 snapshot, 1 missing" in text
    assert "FAILED: [mof] jgbcm.csv line 15: impossible date" in text
    assert "blocked   1 request(s) for the internet" in text and "img1.wsimg.com:443 (1)" in text
    assert "1 of 2 marts built (not built: fct_b)" in text
    assert "run       FAILED: refresh_job 01234567 in 42 s (FRED via csv)" in text
    assert f"job log    {tmp_path / 'log'}" in text
