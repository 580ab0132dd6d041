"""Live runs fetch every source at once: fetches wait on the network, not on the warehouse.

On a DuckDB file (and a DuckLake on a local catalog file) a run's steps execute one after another
in one process (the in-process executor of lib/recovery.py), so each source would wait for the
one before it to be fetched, checked and written. In live mode that executor calls `start()`
before the first step: it plans every raw ingestion step of the run from one short read of the
warehouse (the same windows and run config the step would use) and fetches them all in threads.
Each step then `take()`s its batch, waiting if it is still in flight, and validates and writes it
as before: only the fetching overlaps, the warehouse is still read and written one step at a time.

Where steps run in parallel processes (DuckLake on PostgreSQL) each step fetches its own, already
at the same time as the others, and nothing is prefetched. A plan that cannot be made (no
settings, an unreadable warehouse) prefetches nothing: the steps fetch and report as ever.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from orchestration.lib.settings import Settings

log = logging.getLogger("crosswind.prefetch")

MAX_THREADS = 8
_lock = threading.Lock()
# (run id, step key) -> the fetch of that step, started by start()
_pending: dict[tuple[str, str], Future] = {}
_pools: dict[str, ThreadPoolExecutor] = {}
_settings: dict[str, Settings] = {}


def start(
    run_id: str, step_keys: Iterable[str], run_config: Mapping[str, Any], settings: Settings
) -> list[str]:
    """Start the fetch of every raw step in `step_keys` (live mode only) with the run's
    `settings` (its resource, as lib/recovery.py resolved it); the steps started."""
    from orchestration.lib import raw_assets, warehouse
    from orchestration.lib.catalog import load_catalog

    steps = {key: raw_assets.RAW_STEPS[key] for key in step_keys if key in raw_assets.RAW_STEPS}
    if settings.source_mode != "live" or len(steps) < 2:
        return []
    catalog = load_catalog(settings.catalog_path)
    ops = run_config.get("ops") or {}
    with warehouse.reader(settings.warehouse) as con:
        plans = {
            key: raw_assets.plan_fetch(
                con,
                step.source,
                step.table,
                catalog,
                step.rules,
                raw_assets.IngestConfig(**((ops.get(key) or {}).get("config") or {})),
            )
            for key, step in steps.items()
        }
    pool = ThreadPoolExecutor(min(MAX_THREADS, len(plans)), thread_name_prefix="crosswind-fetch")
    with _lock:
        _pools[run_id] = pool
        _settings[run_id] = settings
        for key, plan in plans.items():
            step = steps[key]
            _pending[(run_id, key)] = pool.submit(
                raw_assets.fetch_planned, step.source, plan, settings, step.rules, step.table
            )
    return sorted(plans)


def take(run_id: str, step_key: str, settings: Settings) -> Future | None:
    """The fetch started for this step of this run, or None (the step fetches itself): also
    when it was made with other settings than the step's own (never expected: both come from
    the run's settings resource)."""
    with _lock:
        pending = _pending.pop((run_id, step_key), None)
        made_with = _settings.get(run_id)
    if pending is None or made_with is None:
        return None
    if made_with != settings or made_with.values != settings.values:
        pending.cancel()
        return None
    return pending


def finish(run_id: str) -> None:
    """Drop what the run's steps did not take (a step skipped after a failure) and its threads."""
    with _lock:
        for key in [k for k in _pending if k[0] == run_id]:
            _pending.pop(key).cancel()
        pool = _pools.pop(run_id, None)
        _settings.pop(run_id, None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)
