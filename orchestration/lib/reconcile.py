"""`crosswind reconcile`: make the warehouse match what its sources carry now.

A normal run re-reads each series' lookback window (and each source in full once a week) and
only *reports* stored rows the source no longer carries (check `no_rows_dropped`): a truncated
file must never delete history on its own. Reconciling re-reads the sources in full, runs every
gate on what they deliver (a broken source still fails and changes nothing), applies revisions,
and deletes the stored rows the source dropped, each logged in raw_meta.revision_log with
change = 'deleted'. `--check` re-reads in full and reports, deleting nothing.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg

from orchestration.lib.raw_tables import SOURCE_TABLES


@dataclass(frozen=True)
class SourceResult:
    source: str
    ok: bool
    lines: list[str]


def raw_asset(source: str) -> dg.AssetsDefinition:
    """The ingestion asset of `source`, from orchestration/defs/ingestion/<source>/assets.py."""
    table = SOURCE_TABLES[source]
    key = dg.AssetKey([table.schema, table.table])
    module = importlib.import_module(f"orchestration.defs.ingestion.{source}.assets")
    for value in vars(module).values():
        if isinstance(value, dg.AssetsDefinition) and key in value.keys:
            return value
    raise LookupError(f"no asset writing {table.qualified} in {module.__name__}")


def run_config(source: str, *, delete: bool) -> dict:
    table = SOURCE_TABLES[source]
    config = {"full_history": True, "reconcile": delete}
    return {"ops": {f"{table.schema}__{table.table}": {"config": config}}}


def _instance() -> dg.DagsterInstance:
    # The project's run history when DAGSTER_HOME is set (as `make` sets it), so the serving
    # gate sees the re-evaluated checks; otherwise a throwaway one.
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def reconcile(
    sources: Sequence[str], *, delete: bool = True, out: Callable[[str], None] = print
) -> list[SourceResult]:
    """Reconcile each source in its own run; a failing source does not stop the others."""
    results = []
    with _instance() as instance:
        for source in sources:
            result = dg.materialize(
                [raw_asset(source)],
                run_config=run_config(source, delete=delete),
                instance=instance,
                raise_on_error=False,
            )
            lines = _summary(result)
            for line in lines:
                out(f"[{source}] {line}")
            results.append(SourceResult(source, result.success, lines))
    return results


def _summary(result: dg.ExecuteInProcessResult) -> list[str]:
    lines = []
    for event in result.get_step_failure_events():
        data = event.event_specific_data
        text = (data.user_failure_data.description if data.user_failure_data else None) or (
            data.error.message.strip() if data.error else "failed"
        )
        lines.append(f"FAILED, nothing changed: {text}")
    for materialization in result.get_asset_materialization_events():
        meta = materialization.materialization.metadata
        if "deleted_rows" in meta:
            lines.append(
                f"{meta['new_rows'].value} new, {meta['revised_rows'].value} revised, "
                f"{meta['deleted_rows'].value} deleted, {meta['unchanged_rows'].value} unchanged"
            )
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.check_name == "no_rows_dropped" or not evaluation.passed:
            lines.append(f"{evaluation.check_name}: {evaluation.description}")
    return lines
