"""Fault-injection harness: good inputs, warehouse fingerprints and in-process runs.

Every fault case follows the same three steps:

1. load good data, take `state()` (row count + sha256 of the ordered rows of every table in every
   schema of the build file, the same for the serving copy, and the sha256 of every export);
2. inject the fault, run, and require a failure whose text names source, series and problem
   (or, for transient faults, a success after retries the server's request log shows);
3. require `state()` unchanged, put the good input back and require the rerun to succeed.

The runs materialize the real raw asset plus two small stand-ins downstream of it: a mart that
rolls the raw tables up into `marts.fct_fault_rollup` and a serving step that calls the real
`orchestration.lib.serving.publish`. If a bad batch ever reached the warehouse, or a failed step
did not stop what is downstream, the rollup and the serving copy would change and `state()`
would say so. The real dbt marts are exercised by the dbt-dependent cases.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from orchestration.defs.ingestion.cme.assets import cme_margin_changes
from orchestration.defs.ingestion.fred.assets import fred_observations
from orchestration.defs.ingestion.mof.assets import mof_jgb_yields
from orchestration.defs.ingestion.treasury.assets import treasury_operating_cash_balance
from orchestration.lib import serving, warehouse
from orchestration.lib.raw_tables import CME, FRED, MOF, TREASURY
from orchestration.lib.settings import Warehouse, load_settings
from tests.support.catalog import catalog_requiring
from tests.support.resources import crosswind_resources

ASSETS = {
    "fred": fred_observations,
    "treasury": treasury_operating_cash_balance,
    "mof": mof_jgb_yields,
    "cme": cme_margin_changes,
}
RAW_KEYS = [dg.AssetKey([t.schema, t.table]) for t in (FRED, TREASURY, MOF, CME)]
MART_KEY = dg.AssetKey(["marts", "fct_fault_rollup"])
SERVING_KEY = dg.AssetKey(["serving", "fault_copy"])


# -- fingerprints --------------------------------------------------------------------------------


def fingerprint(db_path: Path | Warehouse) -> dict[str, tuple[int, str]]:
    """{schema.table: (row count, sha256 of all rows ordered by every column)} for a DuckDB file
    (or the configured warehouse, a DuckLake included).

    Opened read-only; a missing file gives {}. Every schema is included (raw_*, marts, meta, ...).
    """
    if not warehouse.exists(db_path):
        return {}
    con = warehouse.connect(db_path, read_only=True)
    try:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND NOT temporary ORDER BY 1, 2"
        ).fetchall()
        out = {}
        for schema, table in tables:
            rows = con.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY ALL').fetchall()
            digest = hashlib.sha256(repr(rows).encode("utf-8")).hexdigest()
            out[f"{schema}.{table}"] = (len(rows), digest)
        return out
    finally:
        con.close()


def file_digests(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {
        str(p.relative_to(folder)): serving.file_digest(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@dataclass(frozen=True)
class State:
    build: dict[str, tuple[int, str]]
    serving: dict[str, tuple[int, str]]
    serving_file: str | None
    exports: dict[str, str]


def state(warehouse_dir: Path) -> State:
    """What a user can see: the build file, the serving copy (content and bytes), the exports."""
    serving_file = serving.serving_path(warehouse_dir)
    return State(
        build=fingerprint(warehouse_dir / "crosswind.duckdb"),
        serving=fingerprint(serving_file),
        serving_file=serving.file_digest(serving_file) if serving_file.exists() else None,
        exports=file_digests(serving.exports_path(warehouse_dir)),
    )


def data_rows(
    db_path: Path | Warehouse, table: str, columns: str = "series_id, date, value, units"
) -> list:
    con = warehouse.connect(db_path, read_only=True)
    try:
        return con.execute(f"SELECT {columns} FROM {table} ORDER BY ALL").fetchall()
    finally:
        con.close()


# -- stand-in downstream assets ------------------------------------------------------------------


@dg.asset(key=MART_KEY, deps=RAW_KEYS, pool="duckdb_write")
def fault_rollup() -> dg.MaterializeResult:
    """Rolls every raw table up per series: changes whenever a raw row changes."""
    settings = load_settings()
    parts = [
        f"SELECT '{t.qualified}' AS tbl, \"{t.series_column}\"::VARCHAR AS series, count(*) AS n, "
        f'sum("{t.value_column}") AS total, max("{t.date_column}") AS last_date '
        f"FROM {t.qualified} GROUP BY ALL"
        for t in (FRED, TREASURY, MOF, CME)
    ]
    with warehouse.writer(settings.warehouse) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        con.execute(
            "CREATE OR REPLACE TABLE marts.fct_fault_rollup AS " + " UNION ALL ".join(parts)
        )
        rows = con.execute("SELECT count(*) FROM marts.fct_fault_rollup").fetchone()[0]
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(key=SERVING_KEY, deps=[MART_KEY], pool="duckdb_write")
def fault_serving_copy() -> dg.MaterializeResult:
    """The real publish step, on the stand-in mart."""
    settings = load_settings()
    # stand-in marts, not the dbt project's: the bi views cannot be made and are skipped
    result = serving.publish(settings.warehouse, settings.warehouse_dir, require_views=False)
    return dg.MaterializeResult(metadata={"tables": dg.MetadataValue.json(result.tables)})


def run(
    source: str, *, downstream: bool = True, instance=None, run_config: dict | None = None
) -> dg.ExecuteInProcessResult:
    """Materialize one raw asset (+ the stand-in mart and serving copy) in process."""
    assets = [ASSETS[source]]
    if downstream:
        assets += [fault_rollup, fault_serving_copy]
    return dg.materialize(
        assets,
        raise_on_error=False,
        instance=instance,
        run_config=run_config,
        resources=crosswind_resources(),
    )


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Every message a user sees for a failed run: step errors, failure descriptions, checks."""
    texts = []
    for event in result.get_step_failure_events():
        data = event.event_specific_data
        error = data.error
        while error is not None:  # messages only: a stack trace would quote code, not problems
            texts.append(error.message.strip())
            error = error.cause
        if data.user_failure_data is not None and data.user_failure_data.description:
            texts.append(data.user_failure_data.description)
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            texts.append(f"check {evaluation.check_name}: {evaluation.description}")
    return "\n".join(texts)


def failed_checks(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}


def materialized(result: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {e.asset_key for e in result.all_events if e.is_step_materialization}


# -- good inputs ---------------------------------------------------------------------------------

FIRST_DAY = date(2025, 12, 1)
LAST_DAY = date(2026, 1, 30)


def business_days(first: date = FIRST_DAY, last: date = LAST_DAY) -> list[date]:
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def wednesdays(first: date = date(2025, 10, 1), last: date = LAST_DAY) -> list[date]:
    return [
        d
        for d in (first + timedelta(days=i) for i in range((last - first).days + 1))
        if d.weekday() == 2
    ]


def fred_series() -> dict[str, list[tuple[date, str]]]:
    """WALCL (weekly, USD millions) and RRPONTSYD (daily, USD billions, one '.' missing)."""
    walcl = [(d, f"{6_580_000 + 1_000 * i}") for i, d in enumerate(wednesdays())]
    rrp = [(d, f"{5 + (i % 7) / 10:.1f}") for i, d in enumerate(business_days())]
    rrp[10] = (rrp[10][0], ".")
    return {"WALCL": walcl, "RRPONTSYD": rrp}


def fred_csv(series_id: str, rows: Sequence[tuple[date, str]], header: str = "observation_date"):
    lines = [f"{header},{series_id}", *(f"{d.isoformat()},{v}" for d, v in rows)]
    return "\n".join(lines) + "\n"


def tga_values() -> list[tuple[date, float]]:
    return [(d, 800_000.0 + 1_000 * (i % 11)) for i, d in enumerate(business_days())]


def tga_csv(rows=None) -> str:
    rows = tga_values() if rows is None else rows
    return "record_date,tga_close_usd_mn\n" + "".join(f"{d.isoformat()},{v}\n" for d, v in rows)


def fiscaldata_records(rows=None) -> list[dict]:
    """Newest-layout DTS records: an opening and a closing TGA row per day."""
    rows = tga_values() if rows is None else rows
    out = []
    for d, v in rows:
        for label, amount in (
            ("Treasury General Account (TGA) Opening Balance", v - 5_000),
            ("Treasury General Account (TGA) Closing Balance", v),
        ):
            out.append(
                {
                    "record_date": d.isoformat(),
                    "account_type": label,
                    "close_today_bal": "null",
                    "open_today_bal": f"{amount:.0f}",
                }
            )
    return out


def fiscaldata_page(records: list[dict], total_pages: int) -> dict:
    return {"data": records, "meta": {"total-pages": total_pages, "count": len(records)}}


MOF_TENORS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40)
MOF_TITLE = "国債金利情報" + "," * 15 + "(単位 : %)"


def era(d: date) -> str:
    """2026-01-05 -> R8.1.5 (Reiwa from 2019-05-01, Heisei before)."""
    if d >= date(2019, 5, 1):
        return f"R{d.year - 2018}.{d.month}.{d.day}"
    return f"H{d.year - 1988}.{d.month}.{d.day}"


def mof_rows(days: Sequence[date]) -> list[str]:
    out = []
    for i, d in enumerate(days):
        values = [f"{0.4 + t / 20 + (i % 5) / 100:.3f}" for t in MOF_TENORS]
        out.append(",".join([era(d), *values]))
    return out


def mof_csv(rows: Sequence[str], encoding: str = "cp932", title: str = MOF_TITLE) -> bytes:
    header = "基準日," + ",".join(f"{t}年" for t in MOF_TENORS)
    return ("\r\n".join([title, header, *rows]) + "\r\n").encode(encoding)


def mof_files() -> dict[str, bytes]:
    days = business_days()
    return {
        "jgbcm_all.csv": mof_csv(mof_rows(days[:-5])),
        "jgbcm.csv": mof_csv(mof_rows(days[-8:])),  # overlaps the history by 3 days
    }


MARGIN_HEADER = "product,effective_date,initial_margin,maintenance_margin,unit,source_file"
MARGIN_ROWS = [
    "GC,2025-04-11,11000,10000,usd_per_contract,SYNTHETIC-GC-1.pdf",
    "GC,2025-10-21,16500,15000,usd_per_contract,SYNTHETIC-GC-2.pdf",
    "GC,2026-01-13,6.6,6.0,pct_notional,SYNTHETIC-GC-3.pdf",
    "SI,2025-10-21,14300,13000,usd_per_contract,SYNTHETIC-SI-1.pdf",
    "SI,2026-01-13,11.0,10.0,pct_notional,SYNTHETIC-SI-2.pdf",
]


def margin_csv(rows: Sequence[str] = MARGIN_ROWS) -> str:
    return "\n".join([MARGIN_HEADER, *rows]) + "\n"


# The series the good inputs serve; the catalog's other series are optional in the harness.
SERVED_SERIES = ("WALCL", "RRPONTSYD", "TGA", *(f"JGB{t}Y" for t in (1, 2, 5, 10, 20, 30, 40)))


def write_catalog(path: Path) -> Path:
    """The repository catalog with only SERVED_SERIES required (else `series_present` fails)."""
    return catalog_requiring(SERVED_SERIES, path)


def write_snapshot(root: Path) -> Path:
    """The good replay snapshot (synthetic): fred, treasury, mof and cme files."""
    if root.exists():
        shutil.rmtree(root)
    (root / "fred").mkdir(parents=True)
    for series_id, rows in fred_series().items():
        (root / "fred" / f"{series_id}.csv").write_text(fred_csv(series_id, rows))
    (root / "treasury").mkdir()
    (root / "treasury" / "tga_daily.csv").write_text(tga_csv())
    (root / "mof").mkdir()
    for name, payload in mof_files().items():
        (root / "mof" / name).write_bytes(payload)
    (root / "cme").mkdir()
    (root / "cme" / "margin_history.csv").write_text(margin_csv())
    return root
