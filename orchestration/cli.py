"""`crosswind` command line.

    crosswind run [--job refresh_job]
    crosswind dev [--host 127.0.0.1] [--port 3000]
    crosswind record --dest DIR [--raw DIR] [--sources fred,treasury,...]
    crosswind rehearse --wire DIR [--snapshot DIR] [--warehouse DIR] [--fred auto|api|csv]
    crosswind reconcile [--sources fred,...] [--check]

`run` (what `make run` and `make demo` do) runs a job quietly: one line per finished step, then
a summary (mode, rows per source, checks passed / warned / failed, marts built, where the
outputs are; on failure the failed steps and checks). The full log goes to
`<warehouse>/logs/`, and the run shows in the Dagster UI like one launched there
(orchestration/lib/launch.py). The exit code is 1 if the run failed.

`dev` (what `make dev` does) starts the Dagster UI and daemon and, when stopped (Ctrl-C,
SIGTERM), every process they started (orchestration/lib/devserver.py).

`record` fetches live data through each source's live client. `--dest` writes it in the replay
layout (`DIR/fred/<ID>.csv`, `DIR/treasury/tga_daily.csv`, ...), so that
`CROSSWIND_SOURCE=replay CROSSWIND_SNAPSHOT_DIR=DIR` replays exactly what was fetched; `--raw`
writes every response body as the services sent it, in the wire layout `rehearse` serves
(orchestration/rehearsal/layout.py). A failed source is reported and the others still run; the
exit code is 1 if any failed.

`rehearse` runs the live job end to end against loopback fakes of every service, answering
from a wire folder (falling back to a snapshot), and prints what each source got and loaded
(orchestration/rehearsal/run.py). The exit code is 1 if the run failed.

`reconcile` re-reads sources in full and makes the warehouse match them: revisions applied, rows
a source no longer carries deleted (logged in raw_meta.revision_log); `--check` only reports.
Every quality gate still runs, so a broken source fails and changes nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import CrosswindError
from orchestration.lib.http import redact_text, tapped
from orchestration.lib.settings import CrosswindSettings, load_settings
from orchestration.rehearsal import DEFAULT_WAREHOUSE, FRED_MODES
from orchestration.rehearsal.record import RawRecorder
from orchestration.sources.registry import SOURCES, make_source

# Environment variables whose values must never be printed, whatever a source raises.
SECRET_ENV = CrosswindSettings.secret_variables()


def _out(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def _err(message: str) -> None:
    secrets = [os.environ[name] for name in SECRET_ENV if os.environ.get(name)]
    sys.stderr.write(redact_text(message, secrets) + "\n")
    sys.stderr.flush()


def _source_list(text: str) -> list[str]:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SOURCES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown source(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {','.join(SOURCES)}"
        )
    return list(dict.fromkeys(names))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crosswind", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run a job quietly and print a summary (the full log goes to <warehouse>/logs/)",
        description="Run a job of the code location with the environment's settings: one line "
        "per finished step, then a summary; the full log in <warehouse>/logs/. The run shows "
        "in the Dagster UI like one launched there.",
    )
    run.add_argument("--job", default="refresh_job", help="job to run (default refresh_job)")
    dev = commands.add_parser(
        "dev",
        help="the Dagster UI and daemon (dg dev); stopping it stops every process it started",
    )
    dev.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    dev.add_argument("--port", type=int, default=3000, help="port (default 3000)")
    record = commands.add_parser(
        "record",
        help="fetch live data and write it in the replay (snapshot) layout",
        description="Fetch live data and write it in the replay layout under --dest.",
    )
    record.add_argument("--dest", type=Path, help="folder to write the replay snapshot to")
    record.add_argument(
        "--raw",
        type=Path,
        help="folder to write the services' response bodies to, in the layout rehearse serves",
    )
    record.add_argument(
        "--sources",
        type=_source_list,
        default=list(SOURCES),
        help=f"comma-separated subset of {','.join(SOURCES)} (default: all)",
    )
    rehearse = commands.add_parser(
        "rehearse",
        help="run the live job against loopback fakes of every service (genuine recorded bytes)",
        description="Serve a wire folder (and a snapshot for what it lacks) from loopback fakes "
        "of every service, point the live clients at them and run refresh_job end to end.",
    )
    rehearse.add_argument(
        "--wire", required=True, type=Path, help="recorded bodies (e.g. ../shared/wire)"
    )
    rehearse.add_argument(
        "--snapshot", type=Path, help="snapshot served for what --wire lacks (../shared/snapshot)"
    )
    rehearse.add_argument(
        "--warehouse",
        type=Path,
        default=DEFAULT_WAREHOUSE,
        help=f"rehearsal warehouse folder (default {DEFAULT_WAREHOUSE})",
    )
    rehearse.add_argument(
        "--fred",
        choices=FRED_MODES,
        default="auto",
        help="FRED client: the API with a dummy key, the keyless graph CSV, or auto (the one "
        "--wire holds more recorded bodies of)",
    )
    rehearse.add_argument(
        "--fresh", action="store_true", help="delete the rehearsal warehouse first (cold run)"
    )
    fix = commands.add_parser(
        "reconcile",
        help="re-read sources in full; delete rows they no longer carry (logged)",
        description="Re-read sources in full through every quality gate, apply revisions and "
        "delete stored rows the source no longer carries (raw_meta.revision_log). Then run "
        "`make run` to rebuild the marts.",
    )
    fix.add_argument(
        "--sources",
        type=_source_list,
        default=list(SOURCES),
        help=f"comma-separated subset of {','.join(SOURCES)} (default: all)",
    )
    fix.add_argument("--check", action="store_true", help="report what differs, delete nothing")
    return parser


def record(dest: Path | None, sources: Sequence[str], raw: Path | None = None) -> int:
    """Record each source into `dest` (replay layout) and/or `raw` (wire layout)."""
    try:
        settings = dataclasses.replace(load_settings(), source_mode="live")
        catalog = load_catalog()
        folders = [f.expanduser().resolve() for f in (dest, raw) if f is not None]
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
    except (CrosswindError, OSError) as exc:
        _err(f"crosswind record: {exc}")
        return 1
    dest = folders[0] if dest is not None else None
    secrets = [os.environ[name] for name in SECRET_ENV if os.environ.get(name)]
    recorder = RawRecorder(folders[-1], secrets) if raw is not None else None
    failed: list[str] = []
    total_files = 0
    for name in sources:
        series = catalog.for_source(name)
        _out(
            f"[{name}] recording {len(series)} series ..." if series else f"[{name}] recording ..."
        )
        seen = len(recorder.written) if recorder else 0
        try:
            source = make_source(name, settings)
            with tapped(recorder) if recorder else nullcontext():
                if dest is not None:
                    written = source.record(series, dest)
                else:
                    source.fetch(series)  # full history: what a first live run asks for
                    written = []
        except CrosswindError as exc:
            _err(f"[{name}] FAILED: {exc}")
            failed.append(name)
            continue
        except Exception as exc:  # another source's bug must not hide the rest of the run
            _err(f"[{name}] FAILED with an unexpected {type(exc).__name__}: {exc}")
            failed.append(name)
            continue
        for path in written:
            _out(f"[{name}]   wrote {_shown(path, dest)}")
        bodies = recorder.written[seen:] if recorder else []
        for path in bodies:
            _out(f"[{name}]   recorded {path}")
        _out(f"[{name}] ok: {len(written) + len(bodies)} file(s)")
        total_files += len(written) + len(bodies)
    for problem in recorder.refused if recorder else []:
        _err(f"crosswind record --raw: {problem}")
    where = " and ".join(str(f) for f in folders)
    if failed:
        _err(
            f"crosswind record: {len(failed)} of {len(sources)} source(s) failed "
            f"({', '.join(failed)}); {total_files} file(s) written to {where}"
        )
        return 1
    _out(f"done: {total_files} file(s) in {where}")
    return 0


def _shown(path: Path, dest: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(dest))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Per-series progress comes from the sources' loggers; the CLI shows it plainly.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    crosswind_log = logging.getLogger("crosswind")
    crosswind_log.addHandler(handler)
    crosswind_log.setLevel(logging.INFO)
    try:
        if args.command == "run":
            from orchestration.lib.launch import run_command

            return run_command(args.job, out=_out, err=_err)
        if args.command == "dev":
            from orchestration.lib.devserver import dev

            try:
                return dev(args.host, args.port, out=_out)
            except CrosswindError as exc:
                _err(f"crosswind dev: {exc}")
                return 2
        if args.command == "record":
            if args.dest is None and args.raw is None:
                _err("crosswind record: give --dest (replay layout), --raw (wire layout) or both")
                return 2
            return record(args.dest, args.sources, args.raw)
        if args.command == "rehearse":
            from orchestration.rehearsal.run import rehearse  # pandas, Dagster: only when used

            try:
                return rehearse(
                    args.wire, args.snapshot, args.warehouse, args.fred, args.fresh, out=_out
                ).exit_code
            except CrosswindError as exc:
                _err(f"crosswind rehearse: {exc}")
                return 1
        if args.command == "reconcile":
            from orchestration.lib.reconcile import reconcile

            try:
                results = reconcile(args.sources, delete=not args.check, out=_out)
            except CrosswindError as exc:
                _err(f"crosswind reconcile: {exc}")
                return 2
            return 0 if all(r.ok for r in results) else 1
        return 2  # pragma: no cover - argparse rejects unknown commands
    finally:
        crosswind_log.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
