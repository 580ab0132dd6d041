"""`crosswind run` (make run / make demo) and `make dev`, as a user runs them.

One quiet run of refresh_job on the bundled sample, one failing run of publish_job on an empty
warehouse (about 1 minute together on an idle 2-core machine), and the UI started on the
failed run's Dagster home with `make dev`, then stopped with SIGTERM (about 20 s).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from orchestration.lib.failures import FAILURES_DIR, LATEST
from orchestration.lib.instance import installed_config
from orchestration.lib.run_summary import expected_marts
from orchestration.lib.settings import REPO_ROOT, SAMPLE_DIR, CrosswindSettings
from orchestration.sources.registry import SOURCES

pytestmark = pytest.mark.slow

CROSSWIND = Path(sys.executable).with_name("crosswind")
MAX_LINES = 45  # 12 step lines + 8 source lines + ~15 summary lines, with room to spare


def _environment(warehouse: Path, **extra: str) -> dict[str, str]:
    """The test process's environment without any crosswind setting, then the sample's."""
    ours = set(CrosswindSettings.variables().values()) | {"DAGSTER_HOME"}
    env = {k: v for k, v in os.environ.items() if k not in ours}
    return {**env, "CROSSWIND_SOURCE": "sample", "CROSSWIND_WAREHOUSE_DIR": str(warehouse), **extra}


def _crosswind_run(warehouse: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CROSSWIND), "run", *args],
        cwd=REPO_ROOT,
        env=_environment(warehouse),
        capture_output=True,
        text=True,
        timeout=900,
    )


def _instance(warehouse: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(warehouse / "dagster_home")))


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("cli_sample") / "warehouse"
    return _crosswind_run(warehouse), warehouse


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory):
    """publish_job on a warehouse nothing was built in: the serving step fails."""
    warehouse = tmp_path_factory.mktemp("cli_failed") / "warehouse"
    return _crosswind_run(warehouse, "--job", "publish_job"), warehouse


def test_a_quiet_run_ends_with_a_summary_of_what_it_did(sample_run):
    proc, warehouse = sample_run
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    lines = out.splitlines()
    assert len(lines) <= MAX_LINES, out
    assert "DEBUG" not in out and "Traceback" not in out + proc.stderr
    assert lines[0] == f"crosswind run: refresh_job, mode sample, snapshot {SAMPLE_DIR}"
    for source in SOURCES:  # rows loaded, no check failed
        assert re.search(rf"^{source} +[1-9][\d,]* +\d+/\d+/0$", out, re.M), source
    marts = len(expected_marts())
    assert f"dbt       {marts} of {marts} marts built\n" in out
    assert re.search(
        r"^run       succeeded: refresh_job [0-9a-f]{8} in \d+ s \(mode sample\)$", out, re.M
    )
    shown = dict(re.findall(r"^(?:outputs)? +(serving|report|job log) +(\S+)", out, re.M))
    assert Path(shown["serving"]).is_file() and Path(shown["report"]).is_file()
    assert Path(shown["job log"]).parent == warehouse / "logs"


def test_the_full_log_is_a_file_under_the_warehouse(sample_run):
    proc, warehouse = sample_run
    [log] = (warehouse / "logs").glob("*-refresh_job-*.log")
    text = log.read_text()
    assert f"full log in {log}" in proc.stdout
    assert text.count(" - DEBUG - ") > 100  # every Dagster event, at DEBUG
    assert (
        "Running with dbt=" in text
        and 'RUN_SUCCESS - Finished execution of run for "refresh_job"' in text
    )


def test_a_cli_run_is_first_class_in_the_ui(sample_run):
    """The run carries the code location's origin (not `dg launch`'s bare Python pointer, which
    the UI links to /guess/), and the settings' tags."""
    _, warehouse = sample_run
    with _instance(warehouse) as instance:
        [run] = instance.get_runs()
    origin = run.remote_job_origin
    assert origin is not None
    assert (origin.location_name, origin.repository_origin.repository_name) == (
        "crosswind",
        "__repository__",
    )
    assert origin.job_name == "refresh_job" and run.is_success
    assert run.tags["crosswind/mode"] == "sample"
    assert run.tags["crosswind/snapshot"] == str(SAMPLE_DIR)
    assert run.tags["crosswind/warehouse"] == str(warehouse)
    config = (warehouse / "dagster_home" / "dagster.yaml").read_text()
    assert config == installed_config(warehouse / "dagster_home")


def test_a_failed_cli_run_names_the_step_and_leaves_one_failure_record(failed_run, monkeypatch):
    proc, warehouse = failed_run
    out = proc.stdout
    assert proc.returncode == 1
    assert "Traceback" not in out + proc.stderr and len(out.splitlines()) <= MAX_LINES
    assert "  FAILED  serving__duckdb" in out
    assert (
        "FAILED: serving__duckdb: orchestration.lib.serving.ServingError: no build warehouse" in out
    )
    assert re.search(r"^run       FAILED: publish_job [0-9a-f]{8} ", out, re.M)
    assert "dbt " not in out and "fred " not in out  # the job has no such steps
    records = sorted((warehouse / FAILURES_DIR).glob("*.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["job_name"] == "publish_job"
    assert record["failed_steps"][0]["step"] == "serving__duckdb"
    assert "no build warehouse" in record["failed_steps"][0]["error"]
    latest = warehouse / FAILURES_DIR / LATEST
    assert f"failure    {latest}" in out
    before = latest.read_bytes()

    # The daemon's sensor sees the same run later: it writes nothing more.
    from orchestration.defs.automation.sensors import failure_record_sensor
    from tests.support.resources import crosswind_resources

    monkeypatch.setenv("CROSSWIND_WAREHOUSE_DIR", str(warehouse))
    with _instance(warehouse) as instance:
        [run] = instance.get_runs()
        [failure] = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        context = dg.build_run_status_sensor_context(
            sensor_name=failure_record_sensor.name,
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=failure.dagster_event,
            resources=crosswind_resources(),
        ).for_run_failure()
        failure_record_sensor(context)
    assert sorted((warehouse / FAILURES_DIR).glob("*.json")) == records
    assert latest.read_bytes() == before


# -- make dev ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(
        url + "/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.loads(reply.read())["data"]


def _kill_session(sid: int) -> None:
    for line in _session_processes(sid):
        try:
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
        except ProcessLookupError:
            pass


def _default_signals() -> None:
    """In `make`, before it starts: the signals this test sends, at their default disposition.
    A process inherits ignored signals, and GNU make keeps SIGTERM ignored if it starts that
    way (it then never passes it on): in some full-suite runs make's SigIgn showed SIGTERM
    (0x4000) inherited from the test process."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _signal_masks(pid: str) -> str:
    """The SigBlk/SigIgn/SigCgt lines of /proc/<pid>/status (hex masks; SIGTERM is bit 15)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return "(gone)"
    return " ".join(
        line.replace("\t", "") for line in status if line[:6] in ("SigBlk", "SigIgn", "SigCgt")
    )


def _session_processes(sid: int) -> list[str]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # fields[3]: the session id
            found.append(f"{stat.parent.name}: {cmdline[:150]}")
    return found


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.skipif(
    (REPO_ROOT / ".env").exists(),
    reason="a .env in the repository would be applied to `make dev` (set values are refused)",
)
def test_make_dev_shows_the_runs_and_settings_then_stops_every_process(failed_run):
    """`make dev` on the failed run's warehouse: the CLI run is linked to its code location,
    the settings show by variable name (never the key), and SIGTERM stops every process."""
    _, warehouse = failed_run
    key = secrets.token_hex(16)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = warehouse.parent / "make_dev.log"
    with log.open("wb") as sink:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "dev", f"PORT={port}"],
            cwd=REPO_ROOT,
            env=_environment(warehouse, FRED_API_KEY=key),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own session: every process it starts is findable
            preexec_fn=_default_signals,
        )
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(url + "/server_info", timeout=2):
                    break
            except OSError:
                if make.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("make dev did not serve the UI:\n" + log.read_text()[-3000:])
                time.sleep(0.5)
        runs = _graphql(
            url,
            "{ runsOrError { ... on Runs { results { jobName "
            "repositoryOrigin { repositoryLocationName repositoryName } } } } }",
        )["runsOrError"]["results"]
        assert runs == [
            {
                "jobName": "publish_job",
                "repositoryOrigin": {
                    "repositoryLocationName": "crosswind",
                    "repositoryName": "__repository__",
                },
            }
        ]
        resource = _graphql(
            url,
            "{ topLevelResourceDetailsOrError(resourceSelector: {repositoryLocationName: "
            '"crosswind", repositoryName: "__repository__", resourceName: "settings"}) '
            "{ ... on ResourceDetails { configuredValues { key value type } } } }",
        )["topLevelResourceDetailsOrError"]["configuredValues"]
        shown = {v["key"]: (v["type"], v["value"]) for v in resource}
        assert shown["fred_api_key"] == ("ENV_VAR", "FRED_API_KEY")
        assert shown["source"] == ("ENV_VAR", "CROSSWIND_SOURCE")
        assert key not in json.dumps(resource)
        assert "crosswind dev: mode sample" in log.read_text()
    finally:
        os.kill(make.pid, signal.SIGTERM)
        try:
            make.wait(timeout=120)
        except subprocess.TimeoutExpired:
            # What did not stop, and how each process treats signals, for the failure message.
            left = [
                f"{line}  {_signal_masks(line.split(':')[0])}"
                for line in _session_processes(make.pid)
            ]
            _kill_session(make.pid)
            make.wait()
            pytest.fail(
                "make dev did not stop within 120 s of SIGTERM; still running:\n"
                + "\n".join(left)
                + "\n--- make dev's output:\n"
                + log.read_text(errors="replace")[-4000:]
            )
    deadline = time.monotonic() + 10  # the last children may still be exiting
    while _session_processes(make.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session_processes(make.pid) == [], log.read_text()[-3000:]
    text = log.read_text()
    assert "Telemetry" not in text and "No dagster instance configuration file" not in text
