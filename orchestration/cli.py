"""`crosswind` command line.

    crosswind record --dest DIR [--sources fred,treasury,...]
    crosswind reconcile [--sources fred,...] [--check]

`record` fetches live data through each source's live client and writes it in the replay
layout (`DIR/fred/<ID>.csv`, `DIR/treasury/tga_daily.csv`, ...), so that
`CROSSWIND_SOURCE=replay CROSSWIND_SNAPSHOT_DIR=DIR` replays exactly what was fetched.
A failed source is reported and the others still run; the exit code is 1 if any failed.

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
from pathlib import Path

from orchestration.lib.catalog import load_catalog
from orchestration.lib.errors import CrosswindError
from orchestration.lib.http import redact_text
from orchestration.lib.settings import load_settings
from orchestration.sources.registry import SOURCES, make_source

# Environment variables whose values must never be printed, whatever a source raises.
SECRET_ENV = ("FRED_API_KEY",)


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
    record = commands.add_parser(
        "record",
        help="fetch live data and write it in the replay (snapshot) layout",
        description="Fetch live data and write it in the replay layout under --dest.",
    )
    record.add_argument("--dest", required=True, type=Path, help="folder to write the snapshot to")
    record.add_argument(
        "--sources",
        type=_source_list,
        default=list(SOURCES),
        help=f"comma-separated subset of {','.join(SOURCES)} (default: all)",
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


def record(dest: Path, sources: Sequence[str]) -> int:
    """Record each source into `dest`; returns the process exit code."""
    try:
        settings = dataclasses.replace(load_settings(), source_mode="live")
        catalog = load_catalog()
        dest = dest.expanduser().resolve()
        dest.mkdir(parents=True, exist_ok=True)
    except (CrosswindError, OSError) as exc:
        _err(f"crosswind record: {exc}")
        return 1
    failed: list[str] = []
    total_files = 0
    for name in sources:
        series = catalog.for_source(name)
        _out(
            f"[{name}] recording {len(series)} series ..." if series else f"[{name}] recording ..."
        )
        try:
            source = make_source(name, settings)
            written = source.record(series, dest)
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
        _out(f"[{name}] ok: {len(written)} file(s)")
        total_files += len(written)
    if failed:
        _err(
            f"crosswind record: {len(failed)} of {len(sources)} source(s) failed "
            f"({', '.join(failed)}); {total_files} file(s) written to {dest}"
        )
        return 1
    _out(f"done: {total_files} file(s) in {dest}")
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
        if args.command == "record":
            return record(args.dest, args.sources)
        if args.command == "reconcile":
            from orchestration.lib.reconcile import reconcile

            results = reconcile(args.sources, delete=not args.check, out=_out)
            return 0 if all(r.ok for r in results) else 1
        return 2  # pragma: no cover - argparse rejects unknown commands
    finally:
        crosswind_log.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
