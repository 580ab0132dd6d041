"""Security faults: the FRED API key never leaks; the UI binds to loopback; ids cannot inject.

The key check runs the real FRED asset through Dagster with an on-disk instance, against the
local server speaking the FRED API, once successfully and once with errors whose bodies echo
the request (key included), then searches every byte the run left behind for the key.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from orchestration.lib.catalog import load_catalog, parse_catalog
from orchestration.lib.errors import CatalogError
from orchestration.sources import fred
from tests.faults import harness
from tests.support.http_server import RecordedRequest, Reply

pytestmark = pytest.mark.faults

KEY = "sk-test-SECRET-123"
REPO_ROOT = Path(__file__).resolve().parents[2]
MISSING_XML = (
    '<?xml version="1.0" encoding="utf-8" ?>\n'
    '<error code="400" message="Bad Request.  The series does not exist."/>\n'
)
UNITS = {"WALCL": "Millions of U.S. Dollars", "RRPONTSYD": "Billions of U.S. Dollars"}


def _series_xml(series_id: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8" ?>\n<seriess realtime_start="2026-02-01" '
        f'realtime_end="2026-02-01"><series id="{series_id}" title="{series_id} test" '
        f'frequency="Weekly" units="{UNITS[series_id]}" last_updated="2026-01-29 15:30:00-06" '
        'observation_start="2025-10-01" observation_end="2026-01-30"/></seriess>\n'
    )


def _observations_xml(series_id: str) -> str:
    rows = harness.fred_series()[series_id]
    body = "".join(
        f'<observation realtime_start="{d.isoformat()}" realtime_end="9999-12-31" '
        f'date="{d.isoformat()}" value="{v}"/>'
        for d, v in rows
    )
    return (
        '<?xml version="1.0" encoding="utf-8" ?>\n<observations realtime_start="1776-07-04" '
        f'realtime_end="9999-12-31" count="{len(rows)}" offset="0" limit="100000">{body}'
        "</observations>\n"
    )


def _echo(request: RecordedRequest, status: int) -> Reply:
    """A misbehaving server that quotes the whole request, key included, in its error."""
    return Reply.text(f"error {status} for GET {request.target} (api_key={KEY})", status=status)


class FredApi:
    def __init__(self, server):
        self.server = server
        self.broken: dict[str, int] = {}  # series id -> status to answer with
        server.route_fn("/fred/series", self.series)
        server.route_fn("/fred/series/observations", self.observations)

    def series(self, request: RecordedRequest) -> Reply:
        series_id = request.param("series_id") or ""
        if series_id in self.broken:
            return _echo(request, self.broken[series_id])
        if series_id not in UNITS:
            return Reply.xml(MISSING_XML, status=400)
        return Reply.xml(_series_xml(series_id))

    def observations(self, request: RecordedRequest) -> Reply:
        return Reply.xml(_observations_xml(request.param("series_id")))


def _everything_written(*folders: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for folder in folders for p in folder.rglob("*") if p.is_file()}


def test_fred_api_key_never_appears_in_logs_metadata_exceptions_or_files(
    replay_wh, fast_http, http_server, monkeypatch, tmp_path, caplog, capfd
):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("CROSSWIND_SOURCE", "live")
    monkeypatch.setenv("FRED_API_KEY", KEY)
    monkeypatch.setenv("CROSSWIND_FRED_API_URL", http_server.url("/fred"))
    api = FredApi(http_server)
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request line, query string included
    texts: list[str] = []

    with dg.DagsterInstance.from_config(str(home)) as instance:
        good = harness.run("fred", instance=instance)
        assert good.success, harness.failure_text(good)
        meta = good.asset_materializations_for_node("raw_fred__observations")[0].metadata
        assert meta["rows_in_batch"].value > 0
        api.broken = {"WTREGEN": 503}  # retried, then SourceUnreachable
        unreachable = harness.run("fred", instance=instance)
        api.broken = {"WTREGEN": 403}  # not retried: SourceHttpError quoting the body
        forbidden = harness.run("fred", instance=instance)
        for result in (unreachable, forbidden):
            assert not result.success
            texts.append(harness.failure_text(result))
        assert "[fred/WTREGEN]" in texts[0] and "HTTP 503" in texts[0]
        assert "[fred/WTREGEN]" in texts[1] and "HTTP 403" in texts[1] and "***" in texts[1]
        for result in (good, unreachable, forbidden):
            for event in result.all_events:
                texts.append(serialize_value(event))
            for record in instance.all_logs(result.run_id):
                texts.append(serialize_value(record))

    # The key did travel to the server (the search below is not vacuous) ...
    assert any(KEY in r.target for r in http_server.requests)
    assert any("api_key=***" in r.getMessage() for r in caplog.records), "no request lines"
    # ... and nowhere else.
    out, err = capfd.readouterr()
    texts += [out, err, *(r.getMessage() for r in caplog.records), caplog.text]
    leaks = [t[max(0, t.find(KEY) - 80) : t.find(KEY) + 40] for t in texts if KEY in t]
    assert not leaks, leaks
    files = _everything_written(replay_wh.dir, home)
    assert any(name.endswith(".db") for name in files), "no on-disk event log was written"
    leaked_files = [name for name, data in files.items() if KEY.encode() in data]
    assert not leaked_files, leaked_files


def test_api_error_payload_quoting_the_key_is_redacted(http_server, fast_http):
    http_server.route(
        "/fred/series",
        Reply.xml(f'<?xml version="1.0"?>\n<error code="400" message="bad key {KEY}"/>\n'),
    )
    source = fred.FredApiSource(KEY, http_server.url("/fred"))
    with pytest.raises(Exception) as err:
        source.fetch([load_catalog().series["WALCL"]])
    assert KEY not in str(err.value)


# -- webserver binds to loopback -------------------------------------------------------------


def test_dev_webserver_binds_to_loopback_by_default():
    makefile = (REPO_ROOT / "Makefile").read_text()
    dev = re.search(r"^dev:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert dev, "no dev target in the Makefile"
    assert "--host 127.0.0.1" in dev.group(1)
    assert "0.0.0.0" not in makefile
    # Without --host, `dg dev` passes none to dagster-webserver, whose default is loopback.
    import dagster_webserver.cli as webserver_cli
    from dagster._cli import dev as dagster_dev
    from dagster_dg_cli.cli.dev import dev_command

    defaults = {p.name: p.default for p in webserver_cli.dagster_webserver.params}
    assert defaults["host"] == "127.0.0.1"
    dg_host = next(p for p in dev_command.params if p.name == "host")
    assert not isinstance(dg_host.default, str)  # unset: nothing forwarded
    assert '(["--host", host] if host else [])' in Path(dagster_dev.__file__).read_text()


# -- catalog ids cannot inject SQL or paths --------------------------------------------------

HOSTILE_IDS = [
    "../outside",
    "..",
    "A/../../outside",
    "A\\..\\outside",
    "/etc/passwd",
    "WALCL'; DROP TABLE raw_fred.observations; --",
    'WALCL" OR 1=1 --',
    "WALCL\x00",
    pytest.param(
        "WALCL\n",
    ),
    "walcl",  # ids are upper case: lower case would alias on case-insensitive file systems
    "A" * 41,
    "",
]


def _catalog_with(series_id: str) -> dict:
    return {
        "unit_labels": {"Percent": {"stored": "percent", "factor": 1}},
        "series": {
            series_id: {
                "source": "fred",
                "units": "Percent",
                "frequency": "daily",
                "release_lag": "1d",
                "staleness_days": 10,
                "range": [0, 10],
                "description": "hostile",
            }
        },
        "margins": {"products": {}, "units": {}},
    }


@pytest.mark.parametrize("series_id", HOSTILE_IDS)
def test_hostile_series_ids_are_refused_by_the_catalog(series_id):
    with pytest.raises(CatalogError, match="series id"):
        parse_catalog(_catalog_with(series_id))


def test_catalog_file_with_a_hostile_id_fails_before_any_read(tmp_path):
    bad = tmp_path / "catalog.yaml"
    good = (REPO_ROOT / "orchestration" / "catalog.yaml").read_text()
    bad.write_text(good.replace("  WALCL:", '  "../../outside":', 1))
    with pytest.raises(CatalogError, match=re.escape("'../../outside'")):
        load_catalog(bad)


def test_every_shipped_series_id_stays_inside_the_snapshot(tmp_path):
    """Each id in the real catalog names a file directly inside <snapshot>/fred."""
    folder = (tmp_path / "snapshot" / "fred").resolve()
    for series_id in load_catalog().series:
        assert (folder / f"{series_id}.csv").resolve().parent == folder


def test_replay_reader_refuses_a_path_escaping_id(tmp_path):
    (tmp_path / "snapshot" / "fred").mkdir(parents=True)
    (tmp_path / "outside.csv").write_text("observation_date,../../outside\n2026-01-02,1\n")
    spec = load_catalog().series["WALCL"].model_copy(update={"id": "../../outside"})
    source = fred.FredReplaySource(tmp_path / "snapshot")
    try:
        batch = source.fetch([spec])
    except Exception as exc:  # a clear refusal is fine
        assert "outside" in str(exc)
        return
    assert batch.frame.empty, "read a file outside the snapshot"
    assert date(2026, 1, 2) not in set(batch.frame["date"])
