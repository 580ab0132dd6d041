"""An API-mode recording replays as the live run: identical raw_fred tables, through Dagster.

The live run talks to a fake FRED API on loopback (FRED's XML, its real units labels, a `.`
missing value, a revised series fetched with vintages); `crosswind record` records the same
service; the replay of that folder must load the same rows into raw_fred.observations and
raw_fred.series_metadata (only `source_mode` and `_loaded_at` may differ).
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import duckdb

from orchestration import cli
from orchestration.defs.ingestion.fred.assets import fred_observations
from orchestration.sources import fred
from tests.support.catalog import catalog_requiring
from tests.support.fred_api import FakeFredApi, FakeSeries
from tests.support.resources import crosswind_resources

KEY = "0123456789abcdef0123456789abcdef"
FIRST = date(2025, 3, 3)


def _series() -> list[FakeSeries]:
    days = [
        FIRST + timedelta(days=i) for i in range(40) if (FIRST + timedelta(days=i)).weekday() < 5
    ]
    rrp = [(d, d, "." if i == 7 else f"{5 + i % 9 / 10:.1f}") for i, d in enumerate(days)]
    nasdaq = [(d, d, f"{18000 + 37.25 * i:.3f}") for i, d in enumerate(days)]
    wednesdays = [FIRST + timedelta(days=2 + 7 * i) for i in range(6)]
    walcl = [
        (d, d + timedelta(days=1), str(6_700_000 - 1_000 * i)) for i, d in enumerate(wednesdays)
    ]
    months = [date(2024, m, 1) for m in range(1, 13)] + [date(2025, m, 1) for m in (1, 2)]
    payems = []
    for i, month in enumerate(months):
        first_print = month + timedelta(days=36)
        payems.append((month, first_print, str(158_000 + 150 * i)))
        payems.append((month, first_print + timedelta(days=28), str(158_020 + 150 * i)))
    return [
        FakeSeries("RRPONTSYD", "Billions of US Dollars", rrp, title="Overnight Reverse Repo"),
        FakeSeries("NASDAQCOM", "Index Feb 5, 1971=100", nasdaq, title="NASDAQ Composite"),
        FakeSeries("WALCL", "Millions of U.S. Dollars", walcl, frequency="Weekly, As of Wednesday"),
        FakeSeries("PAYEMS", "Thousands of Persons", payems, frequency="Monthly"),
    ]


def _tables(warehouse_dir) -> dict[str, list]:
    con = duckdb.connect(str(warehouse_dir / "crosswind.duckdb"), read_only=True)
    try:
        return {
            table: con.execute(
                f"SELECT * EXCLUDE (source_mode, _loaded_at) FROM raw_fred.{table} ORDER BY ALL"
            ).fetchall()
            for table in ("observations", "series_metadata")
        }
    finally:
        con.close()


def _load(monkeypatch, **env) -> dg.ExecuteInProcessResult:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = dg.materialize(
        [fred_observations], raise_on_error=False, resources=crosswind_resources()
    )
    assert result.success, [str(e.event_specific_data) for e in result.get_step_failure_events()]
    return result


def test_replaying_an_api_recording_loads_what_the_live_run_loaded(
    http_server, tmp_path, monkeypatch, capsys
):
    FakeFredApi(http_server, _series(), today=date(2026, 2, 13))
    monkeypatch.setattr(fred, "API_MIN_INTERVAL", 0.0)
    monkeypatch.delenv("CROSSWIND_SNAPSHOT_DIR", raising=False)
    monkeypatch.setenv("FRED_API_KEY", KEY)
    monkeypatch.setenv("CROSSWIND_FRED_API_URL", http_server.url("/fred"))
    # The fake serves four series: the others are optional here, or series_present would fail.
    served = [s.id for s in _series()]
    monkeypatch.setenv("CROSSWIND_CATALOG", str(catalog_requiring(served, tmp_path / "cat.yaml")))

    _load(monkeypatch, CROSSWIND_SOURCE="live", CROSSWIND_WAREHOUSE_DIR=str(tmp_path / "live"))
    recording = tmp_path / "recording"
    assert cli.main(["record", "--dest", str(recording), "--sources", "fred"]) == 0
    assert KEY not in capsys.readouterr().out
    monkeypatch.delenv("FRED_API_KEY")
    _load(
        monkeypatch,
        CROSSWIND_SOURCE="replay",
        CROSSWIND_SNAPSHOT_DIR=str(recording),
        CROSSWIND_WAREHOUSE_DIR=str(tmp_path / "replay"),
    )

    live, replay = _tables(tmp_path / "live"), _tables(tmp_path / "replay")
    assert replay == live
    # The comparison is not vacuous: every series, FRED's units resolved, vintages kept.
    observations = live["observations"]
    assert {row[0] for row in observations} == {"RRPONTSYD", "NASDAQCOM", "WALCL", "PAYEMS"}
    units = {row[0]: row[3] for row in observations}
    assert units["RRPONTSYD"] == "Billions of U.S. Dollars"
    assert units["NASDAQCOM"] == "Index Feb 5, 1971=100"
    payems = [row for row in observations if row[0] == "PAYEMS"]
    assert payems[0][2] == 158_020 and payems[0][4] == date(2024, 1, 1) + timedelta(days=64)
    assert all(row[4] is None for row in observations if row[0] != "PAYEMS")
    metadata = {row[0]: row for row in live["series_metadata"]}
    assert metadata["RRPONTSYD"][2] == "Billions of US Dollars"  # FRED's own wording
    assert len(metadata) == 4
