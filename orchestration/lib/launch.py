"""Run a job of the code location from the command line, quietly, as a first-class run.

    crosswind run [--job refresh_job]        # what `make run` and `make demo` do

`dg launch` executes the job in its own process from a bare Python pointer, so its runs carry
no repository origin: the UI cannot place them (the job link goes to `/guess/...`, the
timeline leaves them out) and the run-failure sensor, which matches runs by code location,
never sees them. Here the run is created with the remote origin a workspace gives this code
location (its name from pyproject.toml), then executed in a child process:

- the child (`python -m orchestration.lib.launch`) creates and executes the run; everything it
  prints (Dagster's event log at DEBUG, dbt's output, tracebacks) goes to the run's log file,
  `<warehouse>/logs/<UTC time>-<job>-<run id>.log`;
- the parent prints one line per finished step while it runs, then a summary
  (orchestration/lib/run_summary.py): mode, rows per source, checks passed / warned / failed,
  marts built, where the serving copy, exports, report and log are; on failure the failed steps
  and checks, never a traceback. A failed run always leaves a failure record
  (warehouse/failures/), written once per run whether this or the daemon's sensor sees it first.

Ctrl-C or SIGTERM is passed to the run, which stops as Dagster stops a run; the summary follows.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from orchestration.lib.errors import CrosswindError
from orchestration.lib.run_summary import RunOutcome, closing_lines, read_run, source_lines
from orchestration.lib.settings import REPO_ROOT, Settings, load_settings

LOGS_DIR = "logs"
KEEP_LOGS = 50  # run logs kept under <warehouse>/logs (the oldest go first)
POLL_SECONDS = 0.5  # how often the parent reads the run's new step events


@cache
def code_location() -> tuple[str, str]:
    """(location name, module) as pyproject.toml declares them for `dg`."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["dg"]["project"]
    return project["code_location_name"], project["code_location_target_module"]


def log_path_for(warehouse_dir: Path, job: str, run_id: str, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return warehouse_dir / LOGS_DIR / f"{stamp}-{job}-{run_id[:8]}.log"


def prune_logs(folder: Path, keep: int = KEEP_LOGS) -> None:
    logs = sorted(folder.glob("*.log"))
    for old in logs[: max(len(logs) - keep, 0)]:
        old.unlink(missing_ok=True)


def last_line(path: Path) -> str:
    """The last non-empty line of a log (what a process that failed early said last)."""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "(no output)"


def dagster_home(settings: Settings, env: Mapping[str, str]) -> Path:
    """DAGSTER_HOME if set, else <warehouse>/dagster_home (as the make targets set it)."""
    return Path(env.get("DAGSTER_HOME") or settings.warehouse_dir / "dagster_home")


# -- the child: create the run with its code location's origin, execute it here ----------------


def execute(
    job_name: str,
    run_id: str,
    run_config: Mapping | None = None,
    asset_keys: Sequence[str] = (),
) -> bool:
    """Create run `run_id` of `job_name` (optionally only `asset_keys`, "schema/table") with
    the repository origin of this code location, and execute it in this process."""
    import dagster as dg
    from dagster._cli.workspace.cli_target import (
        PythonPointerOpts,
        get_repository_python_origin_from_cli_opts,
    )
    from dagster._core.execution.api import execute_run
    from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster._utils.hosted_user_process import recon_repository_from_origin
    from dagster._utils.interrupts import capture_interrupts

    location, module = code_location()
    pointer = PythonPointerOpts(module_name=module, working_directory=str(REPO_ROOT))
    recon_repo = recon_repository_from_origin(get_repository_python_origin_from_cli_opts(pointer))
    repository = recon_repo.get_definition()
    job = recon_repo.get_reconstructable_job(job_name)
    selection = {dg.AssetKey.from_user_string(key) for key in asset_keys}
    if selection:
        job = job.get_subset(asset_selection=selection)
    # The origin a workspace entry `python_module: <module>, location_name: <location>` gives:
    # the UI and the sensors find the run's code location and repository by these names.
    [location_origin] = ModuleTarget(module, None, str(REPO_ROOT), location).create_origins()
    origin = RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(location_origin, repository.name),
        job_name=job_name,
    )
    with capture_interrupts(), dg.DagsterInstance.get() as instance:
        run = instance.create_run_for_job(
            job_def=job.get_definition(),
            run_id=run_id,
            run_config=dict(run_config or {}),
            asset_selection=frozenset(selection) or None,
            remote_job_origin=origin,
            job_code_origin=job.get_python_origin(),
        )
        return execute_run(job, run, instance, raise_on_error=False).success


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.lib.launch")
    parser.add_argument("--job", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--config-json", default="")
    parser.add_argument("--asset", action="append", default=[], help="schema/table (repeatable)")
    args = parser.parse_args(argv)
    # crosswind's own loggers (sources' progress, lock waits) go to the run log as well.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
    logging.getLogger("crosswind").addHandler(handler)
    logging.getLogger("crosswind").setLevel(logging.INFO)
    config = json.loads(args.config_json) if args.config_json else None
    return 0 if execute(args.job, args.run_id, config, args.asset) else 1


# -- the parent: start the child, show progress, read the run back -----------------------------


@dataclass
class Launched:
    run_id: str
    outcome: RunOutcome
    returncode: int
    log_path: Path
    seconds: float
    home: Path  # the DAGSTER_HOME the run is in
    failure_record: Path | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.outcome.success


def launch(
    job: str,
    settings: Settings,
    env: Mapping[str, str],
    *,
    run_config: Mapping | None = None,
    asset_keys: Sequence[str] = (),
    out: Callable[[str], None] = print,
    log_path: Path | None = None,
) -> Launched:
    """Run `job` in a child process with `env`; report each finished step through `out`."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.utils import make_new_run_id

    from orchestration.lib.failures import collect, write_failure_record
    from orchestration.lib.instance import prepare_home

    home = prepare_home(dagster_home(settings, env))
    run_id = make_new_run_id()
    log_path = log_path or log_path_for(settings.warehouse_dir, job, run_id)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if log_path.parent.name == LOGS_DIR:
        prune_logs(log_path.parent, KEEP_LOGS - 1)
    command = [sys.executable, "-m", "orchestration.lib.launch", "--job", job, "--run-id", run_id]
    if run_config:
        command += ["--config-json", json.dumps(run_config)]
    for key in asset_keys:
        command += ["--asset", key]
    child_env = {**env, "DAGSTER_HOME": str(home)}
    out(f"  run {run_id[:8]}: full log in {log_path}")
    started = time.monotonic()
    with (
        log_path.open("wb") as log,
        dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance,
    ):
        # Its own process group: a terminal's Ctrl-C reaches this process only, which passes
        # it on once (a second signal would make Dagster stop the run less gracefully).
        proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        with _ForwardSignals(proc):
            _follow(instance, run_id, proc, out)
        seconds = time.monotonic() - started
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            # The child died without ending its run (killed, out of memory): say so now.
            instance.report_run_failed(
                run, message=f"the run process exited with code {proc.returncode} mid-run"
            )
        outcome = read_run(instance, run_id, settings.warehouse_dir)
        record_path = None
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_success:
            record = collect(instance, run, outcome.run_failure, settings.warehouse_dir)
            record_path, _ = write_failure_record(record, settings.warehouse_dir)
    return Launched(run_id, outcome, proc.returncode, log_path, seconds, home, record_path)


class _ForwardSignals:
    """While the child runs, SIGINT and SIGTERM sent here are passed on to it as SIGINT
    (signal handlers can only be set from the main thread: elsewhere this does nothing)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.previous: dict[int, object] = {}

    def _forward(self, signum, frame) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._forward)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _follow(instance, run_id: str, proc: subprocess.Popen, out: Callable[[str], None]) -> None:
    """Print one line per finished step until the child exits."""
    from dagster import DagsterEventType

    kinds = {DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
    cursor = None
    while True:
        exited = proc.poll() is not None
        while True:
            page = instance.get_records_for_run(run_id, cursor=cursor, of_type=kinds, limit=100)
            cursor = page.cursor
            for record in page.records:
                event = record.event_log_entry.dagster_event
                if event is None:
                    continue
                if event.event_type == DagsterEventType.STEP_SUCCESS:
                    took = event.event_specific_data.duration_ms / 1000
                    out(f"  ok      {event.step_key} ({took:.1f} s)")
                else:
                    out(f"  FAILED  {event.step_key}")
            if not page.has_more:
                break
        if exited:
            return
        try:
            proc.wait(timeout=POLL_SECONDS)
        except subprocess.TimeoutExpired:
            pass


def run_command(job: str, out: Callable[[str], None], err: Callable[[str], None]) -> int:
    """`crosswind run`: launch `job` with the environment's settings; 0 if it succeeded."""
    try:
        settings = load_settings()
    except CrosswindError as exc:
        err(f"crosswind run: {exc}")
        return 2
    env = dict(os.environ)
    tags = settings.run_tags()
    out(f"crosswind run: {job}, mode {settings.source_mode}, snapshot {tags['crosswind/snapshot']}")
    out(f"  warehouse {settings.warehouse_dir}")
    try:
        launched = launch(job, settings, env, out=out)
    except OSError as exc:  # an unwritable warehouse or Dagster home: one line, no traceback
        err(f"crosswind run: cannot write {exc.filename or settings.warehouse_dir}: {exc.strerror}")
        return 1
    if launched.outcome.run_id is None:  # the child failed before it could create the run
        err(f"crosswind run: {job} did not start: {last_line(launched.log_path)}")
        err(f"  full log: {launched.log_path}")
        return 1
    lines = ["", *source_lines(launched.outcome)]
    lines += closing_lines(
        launched.outcome,
        job,
        settings.warehouse_dir,
        launched.log_path,
        launched.seconds,
        launched.ok,
        f"mode {settings.source_mode}",
    )
    for line in lines:
        out(line)
    return 0 if launched.ok else 1


if __name__ == "__main__":
    sys.exit(main())
