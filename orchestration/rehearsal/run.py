"""`crosswind rehearse`: the live job, end to end, against faked services answering genuine bytes.

1. start `FakeServices` over the wire folder (and the snapshot for what it lacks);
2. run `dg launch --job refresh_job` (what `make run` runs) in live mode with every
   `CROSSWIND_*_URL` pointing at the fake, into a rehearsal warehouse (default
   `warehouse/rehearsal/`, never the main one unless asked), with its own DAGSTER_HOME;
3. read the run back from that Dagster instance and print, per source, the requests served and
   from where, the rows loaded and the checks passed / warned / failed; then the marts built, the
   run's outcome and where the outputs are. Exit 1 when the run failed or a client tried to
   reach the internet.

CME margins have no network client: with a snapshot, its `cme/margin_history.csv` is dropped
where a user drops margin history (`<warehouse>/drops/cme/`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.lib import lake
from orchestration.lib.envfile import install_instance_config
from orchestration.lib.errors import CrosswindError
from orchestration.lib.failures import collect
from orchestration.lib.raw_tables import FRED_METADATA, SOURCE_TABLES, RawTable
from orchestration.lib.settings import REPO_ROOT, load_settings
from orchestration.rehearsal import layout
from orchestration.rehearsal.answers import ORIGINS
from orchestration.rehearsal.fake import URL_VARIABLES, FakeServices
from orchestration.sources.registry import SOURCES

JOB = "refresh_job"
MARKER = ".crosswind-rehearsal"  # only folders carrying it may be wiped by --fresh
LOG_FILE = "rehearsal.log"
# The raw tables each source writes (FRED also its series metadata).
RAW_TABLES: dict[str, tuple[RawTable, ...]] = {
    source: (table, FRED_METADATA) if source == "fred" else (table,)
    for source, table in SOURCE_TABLES.items()
}
# Settings a user may have exported for their own runs that would take a client off the fake.
CLEARED = (*URL_VARIABLES, "FRED_API_KEY", "CROSSWIND_MARKETS_DIR", "CROSSWIND_SNAPSHOT_DIR")


@dataclass
class SourceOutcome:
    rows_in_batch: int = 0
    materialized: bool = False
    checks: Counter = field(default_factory=Counter)  # passed / warned / failed
    failure: str | None = None


@dataclass
class RunOutcome:
    run_id: str | None = None
    success: bool = False
    sources: dict[str, SourceOutcome] = field(default_factory=dict)
    marts_expected: list[str] = field(default_factory=list)
    marts_built: list[str] = field(default_factory=list)
    other_checks: Counter = field(default_factory=Counter)
    serving_published: bool = False
    other_failures: list[str] = field(default_factory=list)


@dataclass
class Rehearsal:
    """What `rehearse` did: its exit code, the run read back, and what the fake served."""

    exit_code: int
    fred_mode: str
    warehouse: Path
    outcome: RunOutcome
    served: dict[tuple[str, str], int]  # (service, origin) -> requests
    blocked: dict[str, int]  # host -> requests refused
    requests: list[tuple[str, str, int, str]]  # (service, path, status, origin), in order
    seconds: float


def pick_fred_mode(mode: str, wire: Path) -> str:
    """`auto`: the FRED service the wire folder holds more recorded bodies of (ties: the API)."""
    if mode != "auto":
        return mode
    api = sum(1 for p in (wire / "fred" / "api").rglob("*") if p.is_file())
    graph = sum(1 for p in (wire / "fred" / "graph").glob("*") if p.is_file())
    return "csv" if graph > api else "api"


def _build_warehouse(folder: Path) -> str:
    """Where the run wrote: the DuckDB file, or the DuckLake the environment configures."""
    target = load_settings({**os.environ, "CROSSWIND_WAREHOUSE_DIR": str(folder)}).warehouse
    return lake.describe(target) if target.is_lake else str(target.path)


def prepare_warehouse(folder: Path, fresh: bool) -> None:
    """Create the rehearsal folder; `fresh` empties it, but only if a rehearsal made it."""
    made_here = (folder / MARKER).is_file()
    if fresh and folder.exists():
        if not made_here:
            raise CrosswindError(
                f"--fresh refuses to delete {folder}: it is not a rehearsal warehouse "
                f"(no {MARKER} file); delete it yourself or pick another --warehouse"
            )
        shutil.rmtree(folder)
    new = not folder.exists() or not any(folder.iterdir())
    install_instance_config(folder / "dagster_home")  # the pool limit; without it Dagster warns
    if new or made_here:  # a folder the user already had is never marked as disposable
        (folder / MARKER).write_text("written by `crosswind rehearse`; --fresh may delete this\n")


def drop_margin_history(snapshot: Path | None, folder: Path) -> Path | None:
    source = snapshot / "cme" / "margin_history.csv" if snapshot else None
    if source is None or not source.is_file():
        return None
    target = folder / "drops" / "cme" / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def job_environment(fake_env: dict[str, str], folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(fake_env)
    env.update(
        CROSSWIND_SOURCE="live",
        CROSSWIND_WAREHOUSE_DIR=str(folder),
        CROSSWIND_DROPS_DIR=str(folder / "drops"),
        DAGSTER_HOME=str(folder / "dagster_home"),
        VIRTUAL_ENV=sys.prefix,  # dg warns when the active venv is not the project's
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def rehearse(
    wire: Path,
    snapshot: Path | None,
    warehouse: Path,
    fred_mode: str = "auto",
    fresh: bool = False,
    out: Callable[[str], None] = print,
) -> Rehearsal:
    wire, warehouse = wire.resolve(), warehouse.resolve()
    snapshot = snapshot.resolve() if snapshot else None
    if not wire.is_dir():
        raise CrosswindError(f"--wire {wire} is not a folder")
    if snapshot is not None and not snapshot.is_dir():
        raise CrosswindError(f"--snapshot {snapshot} is not a folder")
    mode = pick_fred_mode(fred_mode, wire)
    prepare_warehouse(warehouse, fresh)
    dropped = drop_margin_history(snapshot, warehouse)
    log_path = warehouse / LOG_FILE
    # A key of FRED's shape, fresh each run: the summary and outputs must never show it.
    api_key = secrets.token_hex(16) if mode == "api" else None
    out(f"crosswind rehearse: wire {wire}, snapshot {snapshot or '(none)'}, FRED {mode}")
    out(f"  warehouse {warehouse}; job log {log_path}")
    started = time.monotonic()
    with FakeServices(wire, snapshot) as fake:
        env = job_environment(fake.environment(api_key), warehouse)
        with log_path.open("wb") as log:
            proc = subprocess.run(
                [str(Path(sys.executable).with_name("dg")), "launch", "--job", JOB],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
    seconds = time.monotonic() - started
    outcome = read_run(warehouse / "dagster_home")
    leaked = quoting(warehouse, api_key) if api_key else []
    ok = outcome.success and proc.returncode == 0 and not (fake.blocked or fake.errors or leaked)
    for line in summary(outcome, fake, mode, dropped, warehouse, log_path, seconds, ok):
        out(line)
    for path in leaked:
        out(f"  ERROR: the FRED key was written to {path}")
    return Rehearsal(
        0 if ok else 1,
        mode,
        warehouse,
        outcome,
        dict(fake.served),
        dict(fake.blocked),
        list(fake.log),
        seconds,
    )


def quoting(folder: Path, secret: str) -> list[Path]:
    """Files under `folder` holding `secret` as plain bytes (the job log, Dagster's event log,
    reports, exports; DuckDB may compress strings, which tests/faults covers)."""
    needle = secret.encode()
    return [p for p in sorted(folder.rglob("*")) if p.is_file() and needle in p.read_bytes()]


def read_run(home: Path) -> RunOutcome:
    """The newest refresh_job run in this Dagster home, per source and per layer."""
    from dagster import DagsterEventType, DagsterInstance, RunsFilter
    from dagster._core.instance.ref import InstanceRef

    outcome = RunOutcome(sources={s: SourceOutcome() for s in SOURCES})
    source_of = {
        key: source
        for source, tables in RAW_TABLES.items()
        for table in tables
        for key in ((table.schema, table.table), f"{table.schema}__{table.table}")
    }
    outcome.marts_expected = expected_marts()
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        runs = instance.get_runs(filters=RunsFilter(job_name=JOB), limit=1)
        if not runs:
            return outcome
        run = runs[0]
        outcome.run_id, outcome.success = run.run_id, run.is_success
        for record in instance.all_logs(run.run_id):
            event = record.dagster_event
            if event is None:
                continue
            kind = event.event_type
            if kind == DagsterEventType.ASSET_MATERIALIZATION:
                key = tuple(event.asset_key.path)
                metadata = event.step_materialization_data.materialization.metadata
                if key in source_of:
                    stats = outcome.sources[source_of[key]]
                    stats.materialized = True
                    rows = metadata.get("rows_in_batch")
                    stats.rows_in_batch += int(rows.value) if rows is not None else 0
                elif key[0] == "marts":
                    outcome.marts_built.append(key[-1])
                elif key[0] == "serving":
                    outcome.serving_published = True
            elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation = event.event_specific_data
                verdict = (
                    "passed"
                    if evaluation.passed
                    else ("warned" if evaluation.severity.value == "WARN" else "failed")
                )
                key = tuple(evaluation.asset_key.path)
                if key in source_of:
                    outcome.sources[source_of[key]].checks[verdict] += 1
                else:
                    outcome.other_checks[verdict] += 1
        if not run.is_success:
            for step in collect(instance, run, "", home.parent).failed_steps:
                message = (step["description"] or step["error"]).strip().splitlines()[0][:300]
                if step["step"] in source_of:
                    outcome.sources[source_of[step["step"]]].failure = message
                else:
                    outcome.other_failures.append(f"{step['step']}: {message}")
    return outcome


def expected_marts() -> list[str]:
    """Every dbt model in the marts layer, from the manifest `dg launch` loaded."""
    from orchestration.defs.transform.project import dbt_project
    from orchestration.lib.dbt_translator import layer_of

    manifest = json.loads(Path(dbt_project().manifest_path).read_text())
    return sorted(node["name"] for node in manifest["nodes"].values() if layer_of(node) == "marts")


def summary(
    outcome: RunOutcome,
    fake: FakeServices,
    fred_mode: str,
    dropped: Path | None,
    warehouse: Path,
    log_path: Path,
    seconds: float,
    ok: bool,
) -> list[str]:
    from orchestration.lib.serving import exports_path, serving_path

    services_of: dict[str, list[str]] = {}
    for service, source in layout.SOURCE_OF.items():
        services_of.setdefault(source, []).append(service)
    lines = ["", f"{'source':<9} {'rows':>9}  {'checks p/w/f':<13} requests served (from where)"]
    for source in SOURCES:
        stats = outcome.sources[source]
        served = []
        for service in services_of.get(source, []):
            counts = fake.served_by(service)
            if counts:
                parts = ", ".join(f"{counts[o]} {o}" for o in ORIGINS if counts.get(o))
                served.append(f"{service}: {parts}")
        if source == "cme":
            served.append("no network client" + (f"; dropped {dropped.name}" if dropped else ""))
        if source == "drops":
            served.append("files only")
        checks = "/".join(str(stats.checks[v]) for v in ("passed", "warned", "failed"))
        rows = f"{stats.rows_in_batch:,}" if stats.materialized else "-"
        lines.append(f"{source:<9} {rows:>9}  {checks:<13} {'; '.join(served) or '-'}")
        if stats.failure:
            lines.append(f"{'':<9} FAILED: {stats.failure}")
    blocked = sum(fake.blocked.values())
    if blocked:
        hosts = ", ".join(f"{h} ({n})" for h, n in fake.blocked.most_common())
        lines.append(
            f"blocked   {blocked} request(s) for the internet, from a client not pointed at the "
            f"fake: {hosts}"
        )
    lines.extend(f"fake      ERROR {error}" for error in fake.errors[:5])
    missing = sorted(set(outcome.marts_expected) - set(outcome.marts_built))
    marts = f"{len(set(outcome.marts_built))} of {len(outcome.marts_expected)} marts built"
    checks = "/".join(str(outcome.other_checks[v]) for v in ("passed", "warned", "failed"))
    if missing:
        marts += f" (not built: {', '.join(missing)})"
    lines.append(f"dbt       {marts}")
    lines.append(f"          other checks (dbt tests, catalog) passed/warned/failed: {checks}")
    lines.extend(f"          FAILED: {failure}" for failure in outcome.other_failures)
    verdict = "succeeded" if ok else "FAILED"
    run = outcome.run_id[:8] if outcome.run_id else "(no run recorded)"
    lines.append(f"run       {verdict}: {JOB} {run} in {seconds:.0f} s (FRED via {fred_mode})")
    lines.append(f"outputs   warehouse  {_build_warehouse(warehouse)}")
    serving = serving_path(warehouse)
    if outcome.serving_published and serving.exists():
        lines.append(f"          serving    {serving} (+ {exports_path(warehouse)})")
    report = warehouse / "reports" / "latest.html"
    if report.exists():
        lines.append(f"          report     {report}")
    failure_file = warehouse / "failures" / "latest_failure.md"
    if verdict == "FAILED" and failure_file.exists():
        lines.append(f"          failure    {failure_file}")
    lines.append(f"          job log    {log_path}")
    return lines
