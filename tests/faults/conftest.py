"""Fixtures for the fault-injection suite: a good warehouse in tmp, replay and live flavours.

`replay_wh`: a copy of a warehouse loaded once per session from a small synthetic replay
snapshot (fred, treasury, mof, cme), with the stand-in mart and a published serving copy.
`live_wh`: the same warehouse, plus the local HTTP server serving the same good rows as FRED
graph CSV, fiscaldata JSON and MOF files, and the environment pointing the live clients at it.
HTTP sleeps (backoff, pacing, Retry-After) are recorded by `live_wh.sleeps` and capped at
`live_wh.sleeps.cap` seconds of real waiting (raise it to prove a real wait).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestration.lib.http import HttpClient
from tests.faults import harness
from tests.support.http_server import LocalHttpServer, RecordedRequest, Reply

CSV_PATH = "/fred/graph/fredgraph.csv"
DTS_PATH = "/services/api/fiscal_service/v1/accounting/dts/operating_cash_balance"
MOF_BASE = "/jgbs/"
READ_TIMEOUT = 0.3  # seconds; the real default is 30
MOF_PATHS = {"jgbcm_all.csv": "/jgbs/data/jgbcm_all.csv", "jgbcm.csv": "/jgbs/jgbcm.csv"}
BASE_ENV = (
    "CROSSWIND_SOURCE",
    "CROSSWIND_SNAPSHOT_DIR",
    "CROSSWIND_WAREHOUSE_DIR",
    "CROSSWIND_DROPS_DIR",
    "CROSSWIND_MARGIN_FILE",
    "CROSSWIND_FRED_CSV_URL",
    "CROSSWIND_FRED_API_URL",
    "CROSSWIND_FISCALDATA_URL",
    "CROSSWIND_MOF_URL",
    "FRED_API_KEY",
)


def _replay_env(mp: pytest.MonkeyPatch, snapshot: Path, folder: Path) -> None:
    for name in BASE_ENV:
        mp.delenv(name, raising=False)
    mp.setenv("CROSSWIND_SOURCE", "replay")
    mp.setenv("CROSSWIND_SNAPSHOT_DIR", str(snapshot))
    mp.setenv("CROSSWIND_WAREHOUSE_DIR", str(folder))


@pytest.fixture(scope="session")
def good_template(tmp_path_factory) -> tuple[Path, Path]:
    """(snapshot, warehouse folder) loaded once with every good source and a serving copy."""
    root = tmp_path_factory.mktemp("fault_template")
    snapshot = harness.write_snapshot(root / "snapshot")
    folder = root / "warehouse"
    with pytest.MonkeyPatch.context() as mp:
        _replay_env(mp, snapshot, folder)
        for source in ("fred", "treasury", "mof"):
            result = harness.run(source, downstream=False)
            assert result.success, harness.failure_text(result)
        result = harness.run("cme")
        assert result.success, harness.failure_text(result)
    return snapshot, folder


@dataclass
class Warehouse:
    snapshot: Path
    dir: Path

    @property
    def db(self) -> Path:
        return self.dir / "crosswind.duckdb"

    def state(self) -> harness.State:
        return harness.state(self.dir)

    def run(self, source: str, **kw):
        return harness.run(source, **kw)

    def assert_rejected(
        self,
        source: str,
        before: harness.State,
        *needles: str,
        check: str | None = None,
    ) -> str:
        """(a) the run failed naming every needle, (b) nothing visible changed. Returns the text."""
        result = self.run(source)
        assert not result.success, f"{source} run succeeded on bad input"
        text = harness.failure_text(result)
        for needle in needles:
            assert needle in text, f"{needle!r} not in failure text:\n{text}"
        if check is not None:
            assert check in harness.failed_checks(result), harness.failed_checks(result)
        # Nothing downstream ran: the mart and the serving copy were not rebuilt.
        assert harness.materialized(result) & {harness.MART_KEY, harness.SERVING_KEY} == set()
        assert self.state() == before, "a failed run changed the warehouse or serving copy"
        return text

    def assert_recovers(self, source: str, before: harness.State) -> None:
        """(c) the rerun with the good input succeeds and leaves the good state's data."""
        result = self.run(source)
        assert result.success, harness.failure_text(result)
        after = self.state()
        # Same good input as before the fault: every build table holds the same rows, and the
        # republished serving copy the same marts (only its publish timestamp moves).
        assert after.build == before.build
        assert _marts(after.serving) == _marts(before.serving)
        assert harness.SERVING_KEY in harness.materialized(result)


def _marts(fingerprints: dict) -> dict:
    return {k: v for k, v in fingerprints.items() if k != "meta.publish_info"}


@pytest.fixture
def replay_wh(good_template, tmp_path, monkeypatch) -> Warehouse:
    snapshot_src, folder_src = good_template
    snapshot = tmp_path / "snapshot"
    folder = tmp_path / "warehouse"
    shutil.copytree(snapshot_src, snapshot)
    # symlinks=True: the serving set is reached through relative links (current, serving.duckdb)
    shutil.copytree(folder_src, folder, symlinks=True, ignore=shutil.ignore_patterns("*.lock"))
    _replay_env(monkeypatch, snapshot, folder)
    return Warehouse(snapshot, folder)


# -- live ----------------------------------------------------------------------------------------


@dataclass
class SleepRecorder:
    """Injected as HttpClient's sleep: records every requested delay, waits at most `cap`."""

    cap: float = 0.02
    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        time.sleep(min(seconds, self.cap))


@dataclass
class LiveWarehouse(Warehouse):
    server: LocalHttpServer = None
    sleeps: SleepRecorder = None
    fred: dict[str, list[Reply]] = field(default_factory=dict)

    def fred_requests(self, series_id: str) -> list[RecordedRequest]:
        return [r for r in self.server.requests_to(CSV_PATH) if r.param("id") == series_id]

    def serve_fred(self, series_id: str, *replies: Reply) -> None:
        """Serve `replies` in order for this series (the last one repeats)."""
        self.fred[series_id] = list(replies)

    def serve_good_fred(self) -> None:
        for series_id, rows in harness.fred_series().items():
            self.serve_fred(series_id, Reply.csv(harness.fred_csv(series_id, rows)))

    def serve_dts(self, *pages: Reply | list[Reply]) -> None:
        """One reply (or a list served in order) per page number."""
        for number, replies in enumerate(pages, start=1):
            replies = replies if isinstance(replies, list) else [replies]
            self.server.route(DTS_PATH, *replies, query={"page[number]": str(number)})

    def serve_good_dts(self) -> None:
        records = harness.fiscaldata_records()
        half = len(records) // 2
        self.serve_dts(
            Reply.json(harness.fiscaldata_page(records[:half], 2)),
            Reply.json(harness.fiscaldata_page(records[half:], 2)),
        )

    def serve_mof(self, name: str, *replies: Reply) -> None:
        self.server.route(MOF_PATHS[name], *replies)

    def serve_good_mof(self) -> None:
        for name, payload in harness.mof_files().items():
            self.serve_mof(name, Reply(200, payload, {"Content-Type": "text/csv"}))

    def serve_all_good(self) -> None:
        self.serve_good_fred()
        self.serve_good_dts()
        self.serve_good_mof()

    def _fred_handler(self) -> Callable[[RecordedRequest], Reply]:
        served: dict[str, int] = {}

        def handler(request: RecordedRequest) -> Reply:
            series_id = request.param("id") or ""
            replies = self.fred.get(series_id)
            if not replies:
                return Reply.text(f"Series {series_id} not found", status=404)
            n = served.get(series_id, 0)
            served[series_id] = n + 1
            return replies[min(n, len(replies) - 1)]

        return handler

    def reset_fred_counts(self) -> None:
        self.server.route_fn(CSV_PATH, self._fred_handler())


@pytest.fixture
def fast_http(monkeypatch) -> SleepRecorder:
    """Short timeouts and a recording sleep for every HttpClient the sources create."""
    recorder = SleepRecorder()
    defaults = dict(HttpClient.__init__.__kwdefaults__)
    defaults.update(timeout=(2.0, READ_TIMEOUT), sleep=recorder)
    monkeypatch.setattr(HttpClient.__init__, "__kwdefaults__", defaults)
    return recorder


@pytest.fixture
def live_wh(replay_wh, fast_http, monkeypatch) -> LiveWarehouse:
    with LocalHttpServer() as server:
        live = LiveWarehouse(replay_wh.snapshot, replay_wh.dir, server=server, sleeps=fast_http)
        live.reset_fred_counts()
        live.serve_all_good()
        monkeypatch.setenv("CROSSWIND_SOURCE", "live")
        monkeypatch.delenv("CROSSWIND_SNAPSHOT_DIR")
        monkeypatch.setenv("CROSSWIND_FRED_CSV_URL", server.url(CSV_PATH))
        monkeypatch.setenv("CROSSWIND_FISCALDATA_URL", server.url(DTS_PATH))
        monkeypatch.setenv("CROSSWIND_MOF_URL", server.url(MOF_BASE))
        # The good state is the replayed template: the server serves exactly the same rows, so
        # a good live run finds every row unchanged (the recovery step of each case proves it).
        yield live
