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

from orchestration.lib.launch import launch
from orchestration.lib.raw_tables import SOURCE_TABLES
from orchestration.lib.settings import load_settings

# Dagster's job of every asset: a run of it with an asset selection is a plain materialization.
ASSET_JOB = "__ASSET_JOB"


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


def run_config(sources: Sequence[str], *, delete: bool) -> dict:
    config = {"full_history": True, "reconcile": delete}
    return {"ops": {_step(source): {"config": config} for source in sources}}


def _step(source: str) -> str:
    table = SOURCE_TABLES[source]
    return f"{table.schema}__{table.table}"


def reconcile(
    sources: Sequence[str], *, delete: bool = True, out: Callable[[str], None] = print
) -> list[SourceResult]:
    """Reconcile `sources` in one run, launched like `crosswind run` (it shows in the UI and
    logs to <warehouse>/logs/). Each source is its own step: a failing one stops no other.
    The sources' dbt source tests run too, as when the assets are materialized in the UI."""
    from dagster._core.instance.ref import InstanceRef

    settings = load_settings()
    keys = [key.to_user_string() for source in sources for key in raw_asset(source).keys]
    launched = launch(
        ASSET_JOB,
        settings,
        dict(os.environ),
        run_config=run_config(sources, delete=delete),
        asset_keys=keys,
        out=out,
    )
    results = []
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(launched.home))) as instance:
        events = [
            e.dagster_event
            for e in instance.all_logs(launched.run_id, of_type=set(SUMMARY_EVENTS))
            if e.dagster_event is not None
        ]
    for source in sources:
        mine = [e for e in events if e.step_key == _step(source)]
        lines = _summary(mine)
        failed = any(e.event_type == dg.DagsterEventType.STEP_FAILURE for e in mine)
        succeeded = any(e.event_type == dg.DagsterEventType.STEP_SUCCESS for e in mine)
        for line in lines:
            out(f"[{source}] {line}")
        results.append(SourceResult(source, succeeded and not failed, lines))
    return results


SUMMARY_EVENTS = (
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
)


def _summary(events: list) -> list[str]:
    """What one source's step did: its failure, rows new / revised / deleted, checks."""
    lines = []
    for event in events:
        if event.event_type != dg.DagsterEventType.STEP_FAILURE:
            continue
        data = event.event_specific_data
        text = (data.user_failure_data.description if data.user_failure_data else None) or (
            data.error.message.strip() if data.error else "failed"
        )
        lines.append(f"FAILED, nothing changed: {text}")
    for event in events:
        if event.event_type != dg.DagsterEventType.ASSET_MATERIALIZATION:
            continue
        meta = event.step_materialization_data.materialization.metadata
        if "deleted_rows" in meta:
            lines.append(
                f"{meta['new_rows'].value} new, {meta['revised_rows'].value} revised, "
                f"{meta['deleted_rows'].value} deleted, {meta['unchanged_rows'].value} unchanged"
            )
    for event in events:
        if event.event_type != dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            continue
        evaluation = event.event_specific_data
        if evaluation.check_name == "no_rows_dropped" or not evaluation.passed:
            lines.append(f"{evaluation.check_name}: {evaluation.description}")
    return lines
