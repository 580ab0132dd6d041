"""What a run did, read back from its Dagster instance, as the closing lines the CLI prints.

`crosswind run` (make run / make demo) and `crosswind rehearse` launch a job
(orchestration/lib/launch.py), then read the run's events here: rows per source, checks passed /
warned / failed, marts built, the failed steps and checks; and say where the outputs are.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.lib.failures import FAILURES_DIR, LATEST, collect, planned_steps
from orchestration.lib.raw_tables import FRED_METADATA, SOURCE_TABLES, RawTable
from orchestration.sources.registry import SOURCES

VERDICTS = ("passed", "warned", "failed")
# The raw tables each source writes (FRED also its series metadata).
RAW_TABLES: dict[str, tuple[RawTable, ...]] = {
    source: (table, FRED_METADATA) if source == "fred" else (table,)
    for source, table in SOURCE_TABLES.items()
}
# Each source's step in a run (its multi-asset's name).
SOURCE_STEPS = {source: f"{t.schema}__{t.table}" for source, t in SOURCE_TABLES.items()}


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
    status: str = ""
    sources: dict[str, SourceOutcome] = field(default_factory=dict)
    marts_expected: list[str] = field(default_factory=list)
    marts_built: list[str] = field(default_factory=list)
    other_checks: Counter = field(default_factory=Counter)
    serving_published: bool = False
    other_failures: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)  # "asset :: check: description"
    run_failure: str = ""  # why the run failed when no step did (e.g. before the first step)
    not_run: list[str] = field(default_factory=list)  # steps the failure kept from running
    planned: set[str] = field(default_factory=set)  # the run's steps (empty: not known)

    def plans(self, step: str) -> bool:
        return not self.planned or step in self.planned

    @property
    def plans_dbt(self) -> bool:
        """Whether the run has a step that is neither a raw source nor serving (the dbt one)."""
        others = self.planned - set(SOURCE_STEPS.values())
        return not self.planned or any(not s.startswith("serving__") for s in others)


def _first_line(text: str, limit: int = 300) -> str:
    lines = text.strip().splitlines()
    return lines[0][:limit] if lines else ""


def read_run(instance, run_id: str, warehouse_dir: Path) -> RunOutcome:
    """The run's outcome per source and per layer (an empty outcome if there is no such run)."""
    from dagster import DagsterEventType

    outcome = RunOutcome(sources={s: SourceOutcome() for s in SOURCES})
    outcome.marts_expected = expected_marts()
    run = instance.get_run_by_id(run_id)
    if run is None:
        return outcome
    source_of = {
        key: source
        for source, tables in RAW_TABLES.items()
        for table in tables
        for key in ((table.schema, table.table), f"{table.schema}__{table.table}")
    }
    outcome.run_id, outcome.success, outcome.status = run.run_id, run.is_success, run.status.value
    outcome.planned = set(planned_steps(instance, run))
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
        elif kind == DagsterEventType.RUN_FAILURE:
            error = getattr(event.event_specific_data, "error", None)
            outcome.run_failure = _first_line(error.message if error else event.message or "")
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            blocking = evaluation.severity.value != "WARN"
            verdict = "passed" if evaluation.passed else ("failed" if blocking else "warned")
            key = tuple(evaluation.asset_key.path)
            if key in source_of:
                outcome.sources[source_of[key]].checks[verdict] += 1
            else:
                outcome.other_checks[verdict] += 1
            if verdict == "failed":
                outcome.failed_checks.append(
                    f"{evaluation.asset_key.to_user_string()} :: {evaluation.check_name}: "
                    + _first_line(evaluation.description or "", 200)
                )
    if not run.is_success:
        record = collect(instance, run, "", warehouse_dir)
        for step in record.failed_steps:
            message = _first_line(step["description"] or step["error"])
            if step["step"] in source_of:
                outcome.sources[source_of[step["step"]]].failure = message
            else:
                outcome.other_failures.append(f"{step['step']}: {message}")
        outcome.not_run = record.skipped_steps
    return outcome


def expected_marts() -> list[str]:
    """Every mart: the dbt models in the marts layer (from the manifest the run loaded) and the
    alert backtest marts the alert step writes."""
    from orchestration.defs.transform.project import dbt_project
    from orchestration.lib.alerts import backtest
    from orchestration.lib.dbt_translator import layer_of

    manifest = json.loads(Path(dbt_project().manifest_path).read_text())
    dbt_marts = [node["name"] for node in manifest["nodes"].values() if layer_of(node) == "marts"]
    return sorted([*dbt_marts, backtest.HISTORY.name, backtest.SUMMARY.name, backtest.LEADS.name])


def source_lines(outcome: RunOutcome, extra: Mapping[str, str] | None = None) -> list[str]:
    """One line per source: rows loaded, checks passed/warned/failed (and `extra`'s column)."""
    sources = [s for s in SOURCES if outcome.plans(SOURCE_STEPS[s])]
    if not sources:
        return []
    header = f"{'source':<9} {'rows':>9}  {'checks p/w/f':<13}"
    lines = [(header + (" requests served (from where)" if extra is not None else "")).rstrip()]
    for source in sources:
        stats = outcome.sources[source]
        checks = "/".join(str(stats.checks[v]) for v in VERDICTS)
        rows = f"{stats.rows_in_batch:,}" if stats.materialized else "-"
        line = f"{source:<9} {rows:>9}  {checks:<13}"
        if extra is not None:
            line += f" {extra.get(source) or '-'}"
        lines.append(line.rstrip())
        if stats.failure:
            lines.append(f"{'':<9} FAILED: {stats.failure}")
    return lines


def build_warehouse(folder: Path) -> str:
    """Where the run wrote: the DuckDB file, or the DuckLake the environment configures."""
    import os

    from orchestration.lib import lake
    from orchestration.lib.settings import load_settings

    target = load_settings({**os.environ, "CROSSWIND_WAREHOUSE_DIR": str(folder)}).warehouse
    return lake.describe(target) if target.is_lake else str(target.path)


def closing_lines(
    outcome: RunOutcome,
    job: str,
    warehouse: Path,
    log_path: Path,
    seconds: float,
    ok: bool,
    note: str,
) -> list[str]:
    """The dbt line, the run's verdict (failed steps and checks named) and where outputs are."""
    from orchestration.lib.serving import exports_path, serving_path

    lines = []
    checks = "/".join(str(outcome.other_checks[v]) for v in VERDICTS)
    if outcome.plans_dbt:
        missing = sorted(set(outcome.marts_expected) - set(outcome.marts_built))
        marts = f"{len(set(outcome.marts_built))} of {len(outcome.marts_expected)} marts built"
        if missing:
            more = f", ... ({len(missing)} in all)" if len(missing) > 8 else ""
            marts += f" (not built: {', '.join(missing[:8])}{more})"
        lines.append(f"dbt       {marts}")
        lines.append(f"          other checks (dbt tests, catalog) passed/warned/failed: {checks}")
    else:
        lines.append(f"checks    passed/warned/failed: {checks}")
    lines.extend(f"          FAILED: {failure}" for failure in outcome.other_failures)
    verdict = "succeeded" if ok else "FAILED"
    run = outcome.run_id[:8] if outcome.run_id else "(no run recorded)"
    lines.append(f"run       {verdict}: {job} {run} in {seconds:.0f} s ({note})")
    steps_failed = outcome.other_failures or any(s.failure for s in outcome.sources.values())
    if not ok and outcome.run_failure and not steps_failed:
        lines.append(f"          {outcome.run_failure}")
    if not ok:
        lines.extend(f"          check failed: {check}" for check in outcome.failed_checks[:10])
        if len(outcome.failed_checks) > 10:
            lines.append(f"          ... {len(outcome.failed_checks) - 10} more failed checks")
        if outcome.not_run:
            lines.append(
                f"          not run because of the failure: {len(outcome.not_run)} step(s)"
            )
    lines.append(f"outputs   warehouse  {build_warehouse(warehouse)}")
    serving = serving_path(warehouse)
    if outcome.serving_published and serving.exists():
        lines.append(f"          serving    {serving} (+ {exports_path(warehouse)})")
    elif serving.exists():
        lines.append(f"          serving    {serving} (not republished by this run)")
    report = warehouse / "reports" / "latest.html"
    if report.exists():
        lines.append(f"          report     {report}")
    failure_file = warehouse / FAILURES_DIR / LATEST
    if not ok and failure_file.exists():
        lines.append(f"          failure    {failure_file}")
    lines.append(f"          job log    {log_path}")
    return lines
