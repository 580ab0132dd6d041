"""`crosswind asof WHEN --dest DIR`: the marts rebuilt as crosswind knew the data at WHEN.

The raw layer is bitemporal (orchestration/lib/raw_tables.py): each observation table holds the
current version of every row and `<table>_history` every version it replaced, with when each was
known. This command copies the raw layer (every `raw_*` schema) of the build warehouse into
`DIR/crosswind.duckdb`, marks the copy (raw_meta.warehouse_info `as_of`), and runs `dbt build`
there with the var `as_of`: staging then reads each row as it was known at WHEN
(dbt_project/macros/as_of.sql), and every model and data test downstream follows.

The build warehouse, its marts and the serving copy are never written: the raw layer is read
under the warehouse write lock (no load is half-seen, none waits long: the copy takes seconds),
DIR must be another folder, an existing DIR/crosswind.duckdb is replaced only if it is an
earlier as-of build, and dbt itself refuses `as_of` on a file without the mark.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from orchestration.lib import clock, warehouse
from orchestration.lib.dbt_translator import build_dbt_args
from orchestration.lib.errors import CrosswindError

WAREHOUSE_FILE = "crosswind.duckdb"
AS_OF_KEY = "as_of"  # raw_meta.warehouse_info: the mark dbt checks (check_as_of_target)
SOURCE_KEY = "as_of_copied_from"
# As the daily build (orchestration/defs/transform/assets.py DAILY_BUILD_EXCLUDE): dbt unit
# tests check SQL on fixed inputs, not the data, and run in `make test`.
EXCLUDE = ("resource_type:unit_test",)
_WHEN = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?)?")


@dataclass(frozen=True)
class AsOfBuild:
    when: str  # the dbt var: a UTC date (end of that day) or timestamp
    warehouse_path: Path
    raw_tables: int
    raw_rows: int
    marts: int
    ok: bool


def parse_when(text: str) -> str:
    """A UTC date `YYYY-MM-DD` (everything known by the end of that day) or timestamp
    `YYYY-MM-DD HH:MM:SS[.ffffff]`, not after now; returned as dbt's var `as_of` takes it."""
    value = text.strip().replace("T", " ")
    if not _WHEN.fullmatch(value):
        raise CrosswindError(
            f"as-of {text!r}: expected a UTC date YYYY-MM-DD or timestamp YYYY-MM-DD HH:MM:SS"
        )
    try:
        moment = datetime.fromisoformat(value) if " " in value else date.fromisoformat(value)
    except ValueError as exc:
        raise CrosswindError(f"as-of {text!r}: {exc}") from None
    now = clock.now().replace(tzinfo=None)
    if moment > (now if isinstance(moment, datetime) else now.date()):
        raise CrosswindError(f"as-of {text!r} is in the future: nothing can be known then yet")
    return value


def as_of_mark(path: Path) -> str | None:
    """The as-of instant an as-of copy was built for; None for any other warehouse file."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(
            "SELECT value FROM raw_meta.warehouse_info WHERE key = ?", [AS_OF_KEY]
        ).fetchone()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()
    return row[0] if row else None


def destination(dest: Path, build_dir: Path) -> Path:
    """DIR/crosswind.duckdb, after refusing anything that could hold the build or serving data."""
    dest = Path(dest).expanduser().resolve()
    target = dest / WAREHOUSE_FILE
    if dest == Path(build_dir).expanduser().resolve():
        raise CrosswindError(
            f"--dest {dest} is the build warehouse's folder: an as-of build goes to a folder "
            "of its own, so the marts and the serving copy stay as they are"
        )
    if target.exists() and as_of_mark(target) is None:
        raise CrosswindError(
            f"{target} exists and is not an as-of build: choose an empty folder for --dest"
        )
    return target


def copy_raw_layer(source: Path, target: Path, when: str) -> tuple[int, int]:
    """Copy every `raw_*` table of `source` to a new file at `target`, marked as of `when`.

    Written beside `target` and renamed over it, so an interrupted copy leaves no half file.
    Returns (tables, rows).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    for leftover in (partial, partial.with_name(partial.name + ".wal")):
        leftover.unlink(missing_ok=True)
    tables = rows = 0
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {_sql_text(source)} AS src (READ_ONLY)")
        con.execute(f"ATTACH {_sql_text(partial)} AS dst")
        names = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'src' "
            "AND schema_name LIKE 'raw\\_%' ESCAPE '\\' ORDER BY 1, 2"
        ).fetchall()
        for schema, table in names:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS dst."{schema}"')
            con.execute(
                f'CREATE TABLE dst."{schema}"."{table}" AS SELECT * FROM src."{schema}"."{table}"'
            )
            rows += con.execute(f'SELECT count(*) FROM dst."{schema}"."{table}"').fetchone()[0]
            tables += 1
        con.execute(
            "CREATE TABLE IF NOT EXISTS dst.raw_meta.warehouse_info "
            "(key VARCHAR PRIMARY KEY, value VARCHAR)"
        )
        con.execute(
            "DELETE FROM dst.raw_meta.warehouse_info WHERE key IN (?, ?)", [AS_OF_KEY, SOURCE_KEY]
        )
        con.execute(
            "INSERT INTO dst.raw_meta.warehouse_info VALUES (?, ?), (?, ?)",
            [AS_OF_KEY, when, SOURCE_KEY, str(source)],
        )
        con.execute("DETACH dst")
    finally:
        con.close()
    target.with_name(target.name + ".wal").unlink(missing_ok=True)
    os.replace(partial, target)
    return tables, rows


def _sql_text(path: Path) -> str:
    """A path as a SQL string literal (ATTACH takes no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def run_dbt(target: Path, when: str, select: Sequence[str]) -> subprocess.CompletedProcess:
    """`dbt build` of the project on `target` with var as_of; target and logs beside it."""
    from orchestration.defs.transform.project import DBT_PROJECT_DIR, dbt_executable

    args = build_dbt_args(select=select, exclude=EXCLUDE, dbt_vars={"as_of": when})
    if select:  # only the tests of what is built (eager would test unbuilt marts too)
        args += ["--indirect-selection", "cautious"]
    folder = target.parent
    env = {
        **os.environ,
        "CROSSWIND_WAREHOUSE_DIR": str(folder),
        "DBT_TARGET_PATH": str(folder / "dbt_target"),
        "DBT_LOG_PATH": str(folder / "dbt_logs"),
    }
    project = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    return subprocess.run(
        [dbt_executable(), *args, *project], env=env, capture_output=True, text=True
    )


def as_of_build(
    when: str,
    dest: Path,
    build_path: Path,
    *,
    select: Sequence[str] = (),
    out: Callable[[str], None] = print,
) -> AsOfBuild:
    """Copy the raw layer of `build_path` to `dest` and build the marts there as of `when`."""
    when = parse_when(when)
    if not build_path.exists():
        raise CrosswindError(f"no warehouse at {build_path}: load one first (make run)")
    target = destination(dest, build_path.parent)
    with warehouse.write_lock(build_path):
        tables, rows = copy_raw_layer(build_path, target, when)
    out(f"copied {tables} raw tables ({rows:,} rows, every version) from {build_path}")
    out(f"dbt build as of {when} (UTC{'' if ' ' in when else ', end of day'}) -> {target}")
    proc = run_dbt(target, when, select)
    summary = [line for line in proc.stdout.splitlines() if "Done. PASS=" in line]
    if proc.returncode != 0:
        failed = [line for line in proc.stdout.splitlines() if " ERROR " in line or "FAIL " in line]
        for line in (failed or proc.stdout.splitlines())[-20:]:
            out(line)
        out(proc.stderr[-2000:].strip())
    for line in summary:
        out(line.strip())
    con = duckdb.connect(str(target), read_only=True)
    try:
        marts = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'marts'"
        ).fetchone()[0]
    finally:
        con.close()
    return AsOfBuild(when, target, tables, rows, marts, proc.returncode == 0)
