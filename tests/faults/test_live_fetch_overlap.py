"""Live fetches of independent sources overlap on the in-process executor (lib/prefetch.py).

Every reply of the loopback services waits 0.25 s, as a slow network would. A run of the
treasury and MOF assets through crosswind's executor fetches both sources at once, while the
steps still write one after the other; the same run without the prefetch (Dagster's plain
in-process execution) fetches MOF only after treasury was fetched, checked and written.
"""

from __future__ import annotations

import dataclasses

import dagster as dg

from orchestration.lib import prefetch, recovery
from tests.faults import harness
from tests.faults.conftest import DTS_PATH, MOF_PATHS
from tests.support.http_server import Reply
from tests.support.resources import crosswind_resources

SLOW = 0.25  # seconds each reply waits (under the suite's 0.3 s read timeout)
SOURCES = ("treasury", "mof")


def overlap_job() -> dg.JobDefinition:
    assets = [harness.ASSETS[source] for source in SOURCES]
    defs = dg.Definitions(
        assets=assets,
        jobs=[dg.define_asset_job("overlap_job", selection=assets)],
        resources=crosswind_resources(),
        executor=recovery.crosswind_executor,
    )
    return defs.resolve_job_def("overlap_job")


def _serve_slowly(live_wh) -> None:
    records = harness.fiscaldata_records()
    half = len(records) // 2
    pages = [harness.fiscaldata_page(records[:half], 2), harness.fiscaldata_page(records[half:], 2)]
    for number, page in enumerate(pages, start=1):
        reply = dataclasses.replace(Reply.json(page), delay=SLOW)
        live_wh.server.route(DTS_PATH, reply, query={"page[number]": str(number)})
    for name, payload in harness.mof_files().items():
        live_wh.serve_mof(name, Reply(200, payload, {"Content-Type": "text/csv"}, delay=SLOW))


def _first_request_gap(live_wh) -> float:
    """Seconds between the first request to treasury and the first to MOF."""
    dts = live_wh.server.requests_to(DTS_PATH)
    mof = [r for path in MOF_PATHS.values() for r in live_wh.server.requests_to(path)]
    assert dts and mof
    return abs(min(r.at for r in mof) - min(r.at for r in dts))


def test_live_sources_are_fetched_at_once_and_written_one_after_the_other(live_wh):
    before = live_wh.state()
    _serve_slowly(live_wh)
    with dg.instance_for_test() as instance:
        result = dg.execute_job(dg.reconstructable(overlap_job), instance=instance)
        assert result.success
        logs = [e.message for e in instance.all_logs(result.run_id)]
    assert any("fetching 2 live sources at once" in (m or "") for m in logs), logs
    overlapped = _first_request_gap(live_wh)
    assert overlapped < SLOW, f"MOF was asked {overlapped:.2f} s after treasury"
    assert live_wh.state().build == before.build  # the same good rows: nothing lost or doubled
    assert not prefetch._pending and not prefetch._pools and not prefetch._settings  # all gone

    # The control: without the prefetch, MOF waits for treasury's two slow pages and its write.
    live_wh.server.requests.clear()
    assets = [harness.ASSETS[source] for source in SOURCES]
    result = dg.materialize(assets, raise_on_error=False, resources=crosswind_resources())
    assert result.success
    assert _first_request_gap(live_wh) >= 2 * SLOW
