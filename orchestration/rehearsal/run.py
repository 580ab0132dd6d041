"""`crosswind rehearse`: the live job, end to end, against faked services answering genuine bytes.

1. start `FakeServices` over the wire folder (and the snapshot for what it lacks);
2. run `refresh_job` as `make run` does (`crosswind run`, orchestration/lib/launch.py) in live
   mode with every `CROSSWIND_*_URL` pointing at the fake, into a rehearsal warehouse (default
   `warehouse/rehearsal/`, never the main one unless asked), with its own DAGSTER_HOME;
3. read the run back from that Dagster instance and print, per source, the requests served and
   from where, the rows loaded and the checks passed / warned / failed; then the marts built, the
   run's outcome and where the outputs are. Exit 1 when the run failed or a client tried to
   reach the internet.

CME margins have no network client: with a snapshot, its `cme/margin_history.csv` is dropped
where a user drops margin history (`<warehouse>/drops/cme/`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestration.lib.errors import CrosswindError
from orchestration.lib.instance import prepare_home
from orchestration.lib.launch import launch
from orchestration.lib.run_summary import RunOutcome, closing_lines, source_lines
from orchestration.lib.settings import CrosswindSettings, load_settings
from orchestration.rehearsal import layout
from orchestration.rehearsal.answers import ORIGINS
from orchestration.rehearsal.fake import URL_VARIABLES, FakeServices

JOB = "refresh_job"
MARKER = ".crosswind-rehearsal"  # only folders carrying it may be wiped by --fresh
LOG_FILE = "rehearsal.log"
_VARIABLES = CrosswindSettings.variables()
# Settings a user may have exported for their own runs that would take a client off the fake.
CLEARED = (
    *URL_VARIABLES,
    _VARIABLES["fred_api_key"],
    _VARIABLES["markets_dir"],
    _VARIABLES["snapshot_dir"],
)


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
    prepare_home(folder / "dagster_home")
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
        VIRTUAL_ENV=sys.prefix,  # the job's tools (dbt) come from this virtualenv
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
    out(f"  warehouse {warehouse}")
    with FakeServices(wire, snapshot) as fake:
        env = job_environment(fake.environment(api_key), warehouse)
        launched = launch(JOB, load_settings(env), env, out=out, log_path=log_path)
    outcome, seconds = launched.outcome, launched.seconds
    leaked = quoting(warehouse, api_key) if api_key else []
    ok = launched.ok and not (fake.blocked or fake.errors or leaked)
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
    services_of: dict[str, list[str]] = {}
    for service, source in layout.SOURCE_OF.items():
        services_of.setdefault(source, []).append(service)
    served_by_source = {}
    for source in outcome.sources:
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
        served_by_source[source] = "; ".join(served)
    lines = ["", *source_lines(outcome, served_by_source)]
    blocked = sum(fake.blocked.values())
    if blocked:
        hosts = ", ".join(f"{h} ({n})" for h, n in fake.blocked.most_common())
        lines.append(
            f"blocked   {blocked} request(s) for the internet, from a client not pointed at the "
            f"fake: {hosts}"
        )
    lines.extend(f"fake      ERROR {error}" for error in fake.errors[:5])
    lines += closing_lines(outcome, JOB, warehouse, log_path, seconds, ok, f"FRED via {fred_mode}")
    return lines
