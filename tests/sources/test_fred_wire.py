"""FRED's genuine response bodies (../shared/wire/fred) through crosswind's FRED client.

Skipped when ../shared/wire is absent (a fresh clone). The files are read in place, never copied.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import SourceFormatError
from orchestration.lib.http import HttpClient, SourceHttpError
from orchestration.sources import fred
from tests.support.http_server import FakeSleep, Reply

WIRE = Path(__file__).resolve().parents[3] / "shared" / "wire" / "fred"
KEY = "0123456789abcdef0123456789abcdef"
CATALOG = load_catalog()

pytestmark = pytest.mark.skipif(not WIRE.is_dir(), reason="../shared/wire/fred is absent")


def wire(path: str) -> bytes:
    return (WIRE / path).read_bytes()


def api_source(http_server) -> fred.FredApiSource:
    client = fred.api_client(KEY, min_interval=0.0, sleep=FakeSleep(), timeout=(1.0, 2.0))
    return fred.FredApiSource(KEY, http_server.url("/fred"), client=client)


def test_genuine_series_metadata_and_observations_load_through_the_api_client(http_server):
    http_server.route("/fred/series", Reply.xml(wire("api/series/PAYEMS.xml").decode()))
    http_server.route(
        "/fred/series/observations",
        Reply.xml(wire("api/series/observations/SP500.xml").decode()),
    )
    source = api_source(http_server)

    metadata = source.api.series("PAYEMS")
    assert metadata["units"] == "Thousands of Persons"
    assert metadata["frequency"] == "Monthly"
    assert metadata["last_updated"] == "2015-06-05 08:47:20-05"
    assert metadata["title"] == "All Employees: Total Nonfarm Payrolls"
    payems = CATALOG.series["PAYEMS"]
    assert fred.resolve_units(CATALOG, payems, metadata["units"], "wire") == payems.units

    frame = source.api.observations("SP500")
    assert list(frame.columns) == fred.VINTAGE_COLUMNS
    assert list(frame["date"]) == [date(2014, 9, d) for d in (2, 3, 4, 5)]
    assert list(frame["value"]) == [2002.28, 2000.72, 1997.65, 2007.71]
    assert set(frame["realtime_start"]) == {date(2015, 6, 28)}


def test_genuine_vintage_cap_error_is_shown_whole(http_server):
    body = wire("api/errors/vintage_cap_RRPONTSYD.xml")
    message = fred.error_message(body)
    assert message.startswith("Bad Request.") and message.endswith("file type (2000).")
    # Quoted as raw XML and cut at 200 characters, as before, the body lost its "(2000)".
    assert "(2000)" not in " ".join(body.decode().split())[:200]

    http_server.route("/fred/series/observations", Reply.xml(body.decode(), status=400))
    source = api_source(http_server)
    with pytest.raises(SourceHttpError) as err:
        source.api.observations("RRPONTSYD", realtime=(fred.EARLIEST_REALTIME, fred.OPEN_END))
    assert err.value.series == "RRPONTSYD" and err.value.status == 400
    assert " ".join(message.split()) in str(err.value)
    assert "(2000)." in str(err.value) and "<error" not in str(err.value)


@pytest.mark.parametrize("path", sorted(p.name for p in (WIRE / "graph").glob("*.csv")))
def test_every_genuine_graph_csv_parses(path):
    series_id = Path(path).stem
    payload = wire(f"graph/{path}")
    frame = fred.parse_fred_csv(payload, series_id, origin=path)
    rows = list(csv.reader(io.StringIO(payload.decode("utf-8-sig"))))[1:]
    rows = [r for r in rows if r]
    assert len(frame) == len(rows) > 0
    assert int(frame["value"].isna().sum()) == sum(1 for r in rows if r[1].strip() in ("", "."))
    assert frame["date"].is_monotonic_increasing


def test_genuine_graph_csv_through_the_keyless_client(http_server):
    csvs = {p.stem: p.read_text() for p in (WIRE / "graph").glob("*.csv")}
    http_server.route_fn("/graph/fredgraph.csv", lambda r: Reply.csv(csvs[r.param("id")]))
    series = [CATALOG.series[i] for i in sorted(csvs) if i in CATALOG.series]
    assert series
    client = HttpClient("fred", sleep=FakeSleep())
    batch = fred.FredCsvSource(http_server.url("/graph/fredgraph.csv"), client).fetch(series)
    assert set(batch.frame["series_id"]) == {s.id for s in series}
    assert batch.absent == []


def test_a_wire_body_that_is_not_observations_is_refused(http_server):
    http_server.route(
        "/fred/series/observations", Reply.xml(wire("api/series/PAYEMS.xml").decode())
    )
    with pytest.raises(SourceFormatError, match="answered <seriess> where <observations>"):
        api_source(http_server).api.observations("PAYEMS")
