"""What every run does first: say its settings, fail runs whose process died, clean up after a
killed publish.

Every run, however it was launched (UI, schedule, `crosswind run`, `dg launch`), is tagged with
its mode, snapshot and warehouse (`Settings.run_tags`) from its own settings resource, so the
run list says which data a run used.

A run killed with SIGKILL (or by the OOM killer, or a reboot) cannot report its own end: Dagster
keeps it STARTED forever, and the daemon's run monitoring cannot tell, because the default run
launcher offers no health check and `make run` runs without a daemon at all. So the executor of
every crosswind job (`crosswind_executor`, Dagster's in-process executor plus this first step, or
`crosswind_parallel_executor`, its multiprocess executor plus the same step, where the warehouse
takes concurrent writers) looks at the runs still marked STARTED or CANCELING on this instance
before the first step: one whose run worker (the pid on its RUN_START event) is gone, or is a
newer process that reused the pid, is marked failed with what it was doing. The pool slots that
ended runs still hold are freed: a killed run's slot in the single-slot `duckdb_write` pool
would otherwise hold every later run's writers back, and without a daemon nothing frees it.
Then, if no other run holds the warehouse write lock, what an interrupted publish left is
removed (`serving.clean_leftovers`); a publish does the same under the lock anyway, so skipping
it while the warehouse is busy loses nothing.

Runs are only judged on this machine's process table: the instance is the local DAGSTER_HOME.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
from dagster._core.storage.dagster_run import FINISHED_STATUSES

from orchestration.lib import prefetch, serving, warehouse
from orchestration.lib.errors import CrosswindError
from orchestration.lib.settings import (
    RESOURCE_KEY,
    CrosswindSettings,
    Settings,
    concurrent_writers,
)

log = logging.getLogger("crosswind.recovery")


@dataclass(frozen=True)
class Abandoned:
    run_id: str
    job_name: str
    pid: int
    steps: list[str]  # steps started and never finished: where it was killed

    @property
    def message(self) -> str:
        where = f" during step {', '.join(self.steps)}" if self.steps else ""
        return (
            f"run worker (pid {self.pid}) is gone: the run was killed or crashed{where} and "
            "could not report it. Marked failed at the start of the next run; anything a "
            "publish left half-written was removed, and the serving copy and exports are the "
            "last complete set."
        )


def _steps_in_progress(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    started: dict[str, None] = {}
    ended = {
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
        dg.DagsterEventType.STEP_SKIPPED,
    }
    for entry in instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_START, *ended}):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = None
        else:
            started.pop(event.step_key, None)
    return list(started)


def abandoned_runs(instance: dg.DagsterInstance, current_run_id: str) -> Iterator[Abandoned]:
    """Runs marked in progress whose run worker no longer exists (never the current run)."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING])
    )
    for record in records:
        run = record.dagster_run
        if run.run_id == current_run_id:
            continue
        starts = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)
        pids = [e.dagster_event.pid for e in starts if e.dagster_event and e.dagster_event.pid]
        if not pids:
            continue  # no worker recorded yet: Dagster's own start timeout applies
        pid = pids[-1]
        if warehouse.process_alive(pid, record.start_time):
            continue
        yield Abandoned(run.run_id, run.job_name, pid, _steps_in_progress(instance, run.run_id))


def fail_abandoned_runs(instance: dg.DagsterInstance, current_run_id: str) -> list[Abandoned]:
    failed = []
    for abandoned in abandoned_runs(instance, current_run_id):
        run = instance.get_run_by_id(abandoned.run_id)
        if run is None or run.is_finished:
            continue
        instance.report_run_failed(run, message=abandoned.message)
        failed.append(abandoned)
    return failed


def free_slots_of_finished_runs(instance: dg.DagsterInstance) -> dict[str, int]:
    """Free the pool slots still claimed by runs that ended ({run id: slots freed}).

    A step frees its slot when it ends; a run that was killed (or crashed) never does, and only
    the daemon's run monitoring (`free_slots_after_run_end_seconds`) would free it later.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    holders = storage.get_concurrency_run_ids()
    if not holders:
        return {}
    finished = instance.get_run_records(
        filters=dg.RunsFilter(run_ids=list(holders), statuses=list(FINISHED_STATUSES))
    )
    freed = {}
    for record in finished:
        count = storage.free_concurrency_slots_for_run(record.dagster_run.run_id)
        if count:
            freed[record.dagster_run.run_id] = count
    return freed


def run_settings(plan_context) -> Settings:
    """The run's settings resource as its run config resolved it (EnvVars read, Launchpad
    overrides applied)."""
    from dagster._core.system_config.objects import ResolvedRunConfig

    job_def = plan_context.job.get_definition()
    resolved = ResolvedRunConfig.build(job_def, plan_context.run_config)
    config = resolved.resources.get(RESOURCE_KEY)
    if config is None:  # a job without the resource (tests' stand-in assets): the environment
        return CrosswindSettings.from_values().resolve()
    return CrosswindSettings(**(config.config or {})).resolve()


def tag_run(instance: dg.DagsterInstance, run_id: str, settings: Settings) -> None:
    """Add the settings' tags to the run, keeping any the launcher already set."""
    run = instance.get_run_by_id(run_id)
    wanted = settings.run_tags()
    if run is not None and any(run.tags.get(k) != v for k, v in wanted.items()):
        instance.add_run_tags(run_id, wanted)


def recover_at_run_start(
    instance: dg.DagsterInstance, run_id: str, settings: Settings, logger=log
) -> None:
    """Never stops the run it starts: anything unexpected is logged and the run goes on."""
    try:
        for abandoned in fail_abandoned_runs(instance, run_id):
            logger.warning(
                f"run {abandoned.run_id} ({abandoned.job_name}) marked failed: {abandoned.message}"
            )
    except Exception as exc:  # the instance is the user's: never fail a run over it
        logger.warning(f"could not check for abandoned runs: {type(exc).__name__}: {exc}")
    try:
        for ended, count in free_slots_of_finished_runs(instance).items():
            logger.warning(f"freed {count} pool slot(s) still held by ended run {ended}")
    except Exception as exc:
        logger.warning(f"could not free pool slots of ended runs: {type(exc).__name__}: {exc}")
    try:
        with warehouse.write_lock(settings.warehouse_path, timeout_s=0):
            removed = serving.clean_leftovers(settings.warehouse_dir)
        if removed:
            logger.warning(f"removed what an interrupted publish left: {', '.join(removed)}")
    except CrosswindError as exc:  # busy (another run publishes) or an unusable folder
        logger.info(f"publish leftovers not checked now: {exc}")
    except OSError as exc:
        logger.warning(f"could not clean publish leftovers: {exc}")


class _RecoveringExecutor(dg.Executor):
    def __init__(self, inner: dg.Executor, prefetch_live: bool = False):
        self._inner = inner
        self._prefetch_live = prefetch_live

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan):
        # Bad settings (an unknown mode...) fail here, before any step, in one clear line.
        settings = run_settings(plan_context)
        tag_run(plan_context.instance, plan_context.run_id, settings)
        recover_at_run_start(plan_context.instance, plan_context.run_id, settings, plan_context.log)
        if self._prefetch_live:
            _start_prefetch(plan_context, execution_plan, settings)
        try:
            yield from self._inner.execute(plan_context, execution_plan)
        finally:
            if self._prefetch_live:
                prefetch.finish(plan_context.run_id)


def _start_prefetch(plan_context, execution_plan, settings: Settings) -> None:
    """Live mode, steps in one process: fetch every source of the run at once (lib/prefetch.py)."""
    try:
        started = prefetch.start(
            plan_context.run_id,
            execution_plan.step_keys_to_execute,
            plan_context.run_config,
            settings,
        )
    except Exception as exc:  # the steps fetch themselves and report what is wrong
        plan_context.log.warning(f"live sources not prefetched: {str(exc).splitlines()[0]}")
        return
    if started:
        plan_context.log.info(f"fetching {len(started)} live sources at once: {', '.join(started)}")


crosswind_executor = dg.ExecutorDefinition(
    name=dg.in_process_executor.name,  # same name and config: run config written for it works
    config_schema=dg.in_process_executor.config_schema,
    requirements=dg.in_process_executor.get_requirements,
    executor_creation_fn=lambda context: _RecoveringExecutor(
        dg.in_process_executor.executor_creation_fn(context), prefetch_live=True
    ),
    description="Dagster's in-process executor; before the first step it tags the run with its "
    "settings (crosswind/mode, snapshot, warehouse, backend), marks runs whose process died as "
    "failed and removes what an interrupted publish left, and in live mode starts every "
    "source's fetch at once (the steps still write one at a time).",
)
# Fetches wait on the network and the lake takes concurrent writers: more steps than cores.
PARALLEL_STEPS = 4
WARM_MODULES = ["dagster", "orchestration.definitions", "orchestration.lib.forkserver_warmup"]


def _parallel(context):
    config = dict(context.executor_config)
    # Unset: a few more steps than this 2-core machine's cpu_count, and a forkserver that has
    # loaded the code location once (lib/forkserver_warmup.py), so a step's process starts from
    # it instead of importing dagster, dbt and every asset module again (spawn, the default).
    if not config.get("max_concurrent"):
        config["max_concurrent"] = PARALLEL_STEPS
    if not config.get("start_method"):
        config["start_method"] = {"forkserver": {"preload_modules": WARM_MODULES}}
    inner = dg.multiprocess_executor.executor_creation_fn(
        dg.InitExecutorContext(
            job=context.job,
            executor_def=dg.multiprocess_executor,
            executor_config=config,
            instance=context.instance,
        )
    )
    return _RecoveringExecutor(inner)


crosswind_parallel_executor = dg.ExecutorDefinition(
    name=dg.multiprocess_executor.name,
    config_schema=dg.multiprocess_executor.config_schema,
    requirements=dg.multiprocess_executor.get_requirements,
    executor_creation_fn=_parallel,
    description="Dagster's multiprocess executor (steps whose inputs are ready run at once, up "
    f"to {PARALLEL_STEPS} by default); before the first step it marks runs whose process died as "
    "failed and removes what an interrupted publish left. Used where the warehouse takes "
    "concurrent writers (DuckLake on PostgreSQL); the duckdb_write pool still runs dbt and the "
    "publish one at a time.",
)


def executor_for_backend() -> dg.ExecutorDefinition:
    """Parallel steps where the warehouse takes several writers, else one step at a time."""
    return crosswind_parallel_executor if concurrent_writers() else crosswind_executor
