"""`make bench`: how long crosswind takes, where the time goes, and how it compares.

Runs the real job (`dg launch --job refresh_job`, what `make run` runs) in replay mode on
../shared/snapshot, each figure several times, and writes bench/results/<date>.json:

1. cold build    empty warehouse -> serving copy published, on the snapshot with every daily
                 series' last day trimmed off; wall time, peak memory, per-stage breakdown
2. daily refresh the built warehouse + the full snapshot (one new business day per daily series)
3. baseline      bench/baseline_pandas.py (plain pandas, no orchestration) on the same files,
                 its wall time, and a check that its numbers equal the marts'
4. scale         a synthetic catalog 10x the series, 5x the correlation assets (bench/scale.py),
                 cold build and refresh
5. BI latency    the cookbook's dashboard queries on the serving copy, idle and during a refresh

Ratios (cold / baseline, refresh / cold, 10x / 1x) are taken from medians of the same bench run,
since absolute times drift on a shared machine. Work files go to warehouse/bench/ (git-ignored).

    uv run python -m bench.run [--repeats 3] [--skip-scale] [--snapshot ../shared/snapshot]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from orchestration.lib.instance import prepare_home

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "warehouse" / "bench"
RESULTS = REPO / "bench" / "results"
DBT_TARGET = REPO / "dbt_project" / "target"
VENV_BIN = Path(sys.executable).parent
JOB = "refresh_job"
DBT_STEP = "crosswind_dbt_models"

# Targets from the issue (bench/README.md): checked on the medians of one bench run.
TARGETS = {
    "cold_s_max": 60.0,
    "cold_over_baseline_max": 3.0,
    "refresh_over_cold_max": 0.25,
    "scale_cold_over_cold_max": 5.0,
    "bi_p95_ms_max": 50.0,
    "x100_cold_s_max": 600.0,
    "x100_refresh_s_max": 120.0,
}
# Scale runs: series factor -> (correlation-asset factor, pairs with full history; bench/scale.py).
# 100x: 6,300 series (100 x 63), 100 assets, 4,950 pairs; the reviewed 135 keep their history.
SCALES = {10: (5, "all"), 100: (10, "reviewed")}
# Files holding one daily series each (fred/, markets/) are trimmed per the catalog's frequency;
# these hold daily rows for several series and are trimmed as a whole.
DAILY_MULTI_SERIES_FILES = ("treasury/tga_daily.csv", "mof/jgbcm_all.csv")


class BenchError(RuntimeError):
    pass


# --- the snapshot minus its last day ------------------------------------------------------------


def _drop_last_row(path: Path) -> str:
    """Remove the last data line of a CSV in place; returns its first field (the date)."""
    raw = path.read_bytes()
    lines = raw.splitlines(keepends=True)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) < 3:  # header + at least one row must remain
        raise BenchError(f"{path}: too few rows to trim a day off")
    removed = lines.pop()
    path.write_bytes(b"".join(lines))
    return removed.decode("utf-8", "replace").split(",", 1)[0].strip()


def trim_last_day(snapshot: Path, out: Path, catalog_path: Path | None = None) -> dict[str, str]:
    """Copy `snapshot` to `out` without the last row of every daily series' file."""
    from orchestration.lib.catalog import load_catalog, series_file

    catalog = load_catalog(catalog_path)  # None: CROSSWIND_CATALOG or the repository's
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(snapshot, out)
    trimmed: dict[str, str] = {}
    for series in catalog.series.values():
        if series.frequency != "daily" or series.source not in ("fred", "markets"):
            continue
        path = series_file(out / series.source, series.id)
        if path.exists():
            trimmed[f"{series.source}/{series.id}"] = _drop_last_row(path)
    for name in DAILY_MULTI_SERIES_FILES:
        if (out / name).exists():
            trimmed[name] = _drop_last_row(out / name)
    return trimmed


# --- one run of the job -------------------------------------------------------------------------


@dataclass
class RunResult:
    label: str
    wall_s: float
    peak_rss_mb: float  # all processes of the run together (Dagster + the dbt subprocess)
    stages: dict[str, float] = field(default_factory=dict)
    dbt_nodes_s: dict[str, float] = field(default_factory=dict)
    steps_s: dict[str, float] = field(default_factory=dict)
    # overhead_dbt_startup split: spawn (step start -> dbt's first log line: the process and its
    # imports), parse (-> first node: profile, manifest / partial parse, adapter, on-run-start),
    # teardown (last node end -> step end: artifacts, dagster-dbt's events and their writes).
    dbt_startup_parts_s: dict[str, float] = field(default_factory=dict)


def _tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and its descendants, from /proc (Linux).

    Every process's parent comes from its `stat`; `statm` is read for the tree's processes only.
    """
    proc = Path("/proc")
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    page = os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += int((proc / str(pid) / "statm").read_text().split()[1]) * page
        except OSError:
            pass  # the process has just exited
        todo.extend(children.get(pid, []))
    return total / 2**20


def job_env(warehouse: Path, snapshot: Path, catalog: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSWIND_")}
    env.update(
        CROSSWIND_SOURCE="replay",
        CROSSWIND_SNAPSHOT_DIR=str(snapshot),
        CROSSWIND_WAREHOUSE_DIR=str(warehouse),
        DAGSTER_HOME=str(warehouse / "dagster_home"),
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    if catalog is not None:
        env["CROSSWIND_CATALOG"] = str(catalog)
    return env


def launch(label: str, env: dict[str, str], dbt_vars: dict | None = None) -> RunResult:
    """`dg launch --job refresh_job` as a user runs it; wall time, memory and the breakdown."""
    # The instance `make run` prepares (orchestration/dagster.yaml and its event log), not
    # Dagster's defaults: the bench measures what users run.
    home = prepare_home(Path(env["DAGSTER_HOME"]))
    cmd = [str(VENV_BIN / "dg"), "launch", "--job", JOB]
    if dbt_vars:
        config = {"ops": {DBT_STEP: {"config": {"vars_json": json.dumps(dbt_vars)}}}}
        cmd += ["--config-json", json.dumps(config)]
    log = home.parent / f"{label}.log"
    started_epoch = time.time()
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, _tree_rss_mb(proc.pid))
            time.sleep(0.05)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise BenchError(f"{label}: `dg launch` exited {proc.returncode}; log {log}:\n{tail}")
    result = RunResult(label=label, wall_s=round(wall, 3), peak_rss_mb=round(peak, 1))
    _breakdown(result, home, started_epoch)
    return result


def _iso(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def dbt_log_start(path: Path) -> float | None:
    """Epoch time of the first line of a dbt JSON log (dbt.log in the run's target folder)."""
    try:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    return _iso(json.loads(line)["info"]["ts"])
                except (ValueError, KeyError, TypeError):
                    continue
    except OSError:
        return None
    return None


def _breakdown(result: RunResult, home: Path, started_epoch: float) -> None:
    """Split the wall time into compute stages and orchestration overhead (sums to the wall)."""
    from dagster import DagsterEventType, DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        run = instance.get_runs(limit=1)[0]
        events = instance.all_logs(run.run_id)
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    seconds = {"fetch": 0.0, "checks": 0.0, "write": 0.0}
    run_start = run_end = None
    for record in events:
        event = record.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind == DagsterEventType.RUN_START:
            run_start = record.timestamp
        elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
            run_end = record.timestamp
        elif kind == DagsterEventType.STEP_START:
            starts[record.step_key] = record.timestamp
        elif kind == DagsterEventType.STEP_SUCCESS:
            ends[record.step_key] = record.timestamp
            result.steps_s[record.step_key] = round(record.timestamp - starts[record.step_key], 3)
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            metadata = event.step_materialization_data.materialization.metadata
            for name in seconds:
                value = metadata.get(f"seconds_{name}")
                if value is not None:
                    seconds[name] += float(value.value)
    if run_start is None or run_end is None:
        raise BenchError(f"{result.label}: run {run.run_id} has no start/end events")

    dbt_startup = dbt_run = 0.0
    results_files = sorted(DBT_TARGET.glob(f"{DBT_STEP}-{run.run_id[:7]}-*/run_results.json"))
    if DBT_STEP in starts and results_files:
        dbt = json.loads(results_files[-1].read_text())
        spans = [
            (_iso(t["started_at"]), _iso(t["completed_at"]))
            for node in dbt["results"]
            for t in node.get("timing", [])
            if t.get("started_at") and t.get("completed_at")
        ]
        for node in dbt["results"]:
            kind = node["unique_id"].split(".", 1)[0]
            result.dbt_nodes_s[kind] = round(
                result.dbt_nodes_s.get(kind, 0.0) + node["execution_time"], 3
            )
        if spans:
            first, last = min(s for s, _ in spans), max(e for _, e in spans)
            dbt_run = last - first
            # dbt process start + manifest load, and its artifacts + Dagster's event handling.
            dbt_startup = result.steps_s.get(DBT_STEP, 0.0) - dbt_run
            log_start = dbt_log_start(results_files[-1].parent / "dbt.log")
            if log_start is not None and DBT_STEP in ends:
                parts = {
                    "spawn": log_start - starts[DBT_STEP],
                    "parse": first - log_start,
                    "teardown": ends[DBT_STEP] - last,
                }
                result.dbt_startup_parts_s = {k: round(v, 3) for k, v in parts.items()}

    stages = {
        "ingest": seconds["fetch"] + seconds["write"],
        "quality_checks": seconds["checks"],
        "dbt": dbt_run,
        "serving": result.steps_s.get("serving__duckdb", 0.0),
        "report": result.steps_s.get("serving__daily_report", 0.0),
        "overhead_process_start": run_start - started_epoch,
        "overhead_dbt_startup": dbt_startup,
    }
    stages["overhead_dagster"] = result.wall_s - sum(stages.values())
    result.stages = {k: round(v, 3) for k, v in stages.items()}


# --- the pieces ---------------------------------------------------------------------------------


def _fresh_folder(folder: Path) -> Path:
    """`folder`, emptied: every cold build starts from nothing."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def cold_and_refresh(
    tag: str,
    trimmed: Path,
    full: Path,
    catalog: Path | None = None,
    dbt_vars: dict | None = None,
    bi_queries: dict[str, str] | None = None,
) -> dict:
    """A cold build on `trimmed`, then a refresh with `full`; optionally BI latency after."""
    warehouse = _fresh_folder(WORK / f"{tag}_warehouse")
    out = {"cold": launch(f"{tag}_cold", job_env(warehouse, trimmed, catalog), dbt_vars)}
    _progress(f"{tag} cold build", out["cold"].wall_s)
    out["refresh"] = launch(f"{tag}_refresh", job_env(warehouse, full, catalog), dbt_vars)
    _progress(f"{tag} daily refresh", out["refresh"].wall_s)
    if bi_queries is not None:
        out["bi"] = bi_latency(warehouse, full, bi_queries)
    return out


def idle_and_during_refresh(
    label: str,
    env: dict[str, str],
    where: Path | str,
    queries: dict[str, str],
    connect=None,
    keep_connection: bool = False,
) -> tuple[dict, dict, RunResult]:
    """BI latency idle (30 rounds), then in a reader thread while `label` refreshes."""
    from bench.bi_latency import measure

    reader_options = {"connect": connect, "keep_connection": keep_connection}
    idle = measure(where, queries, rounds=30, **reader_options)
    stop = threading.Event()
    during: dict = {}
    reader = threading.Thread(
        target=lambda: during.update(measure(where, queries, stop=stop, **reader_options)),
        daemon=True,
    )
    reader.start()
    try:
        refresh = launch(label, env)
    finally:
        stop.set()
        reader.join()
    return idle, during, refresh


def bi_latency(warehouse: Path, snapshot: Path, queries: dict[str, str]) -> dict:
    # A refresh with nothing new still rebuilds every mart and republishes the copy.
    idle, during, _ = idle_and_during_refresh(
        "bi_refresh", job_env(warehouse, snapshot), warehouse / "serving.duckdb", queries
    )
    _progress("BI latency (idle p95 ms)", idle["all"]["p95_ms"])
    return {"idle": idle, "during_refresh": during}


def bi_latency_lake(snapshot: Path, queries: dict[str, str]) -> dict:
    """BI latency on the other backend: a DuckLake on a PostgreSQL catalog that the bench starts
    (Debian's `postgresql`, as the tests do). After a cold build on the lake, two refreshes with
    nothing new, each with one reader: first the serving copy, as the cookbook tells BI tools to
    read on every backend (`serving`); then the lake itself through one kept connection, as a
    BI tool's pool holds it (`direct`). Idle, the lake is also read with a new connection per
    round (`direct_reconnecting`, the serving file's pattern). Skipped, with the reason, without
    PostgreSQL's server binaries."""
    from bench.bi_latency import lake_queries, lake_reader, measure
    from orchestration.lib import lake
    from orchestration.lib.settings import load_settings
    from tests.support import postgres

    bindir = postgres.find_bindir()
    if bindir is None:
        return {"skipped": "PostgreSQL server binaries not found: apt-get install postgresql"}
    server = postgres.start(bindir)
    try:
        warehouse = _fresh_folder(WORK / "lake_warehouse")
        env = job_env(warehouse, snapshot)
        env.update(
            CROSSWIND_WAREHOUSE_BACKEND="ducklake",
            CROSSWIND_DUCKLAKE_CATALOG=server.create_database("bench_lake"),
            CROSSWIND_DUCKLAKE_DATA=str(warehouse / "lake_data"),
        )
        cold = launch("lake_cold", env)
        _progress("lake cold build", cold.wall_s)
        target = load_settings(env).warehouse
        where, reader, readable = lake.describe(target), lake_reader(target), lake_queries(queries)
        serving_idle, serving_during, refresh = idle_and_during_refresh(
            "lake_refresh", env, warehouse / "serving.duckdb", queries
        )
        _progress("lake backend, serving copy during a refresh (p95 ms)", _p95(serving_during))
        direct_idle, direct_during, _ = idle_and_during_refresh(
            "lake_refresh_direct", env, where, readable, connect=reader, keep_connection=True
        )
        _progress("lake read directly during a refresh (p95 ms)", _p95(direct_during))
        return {
            "cold_build_s": cold.wall_s,
            "refresh_s": refresh.wall_s,
            "cold_breakdown_s": cold.stages,
            "refresh_breakdown_s": refresh.stages,
            "serving": {"idle": serving_idle, "during_refresh": serving_during},
            "direct": {"idle": direct_idle, "during_refresh": direct_during},
            "direct_reconnecting": {
                "idle": measure(where, readable, rounds=30, connect=reader),
            },
            "direct_queries_left_out": sorted(set(queries) - set(readable)),
        }
    finally:
        server.stop()


def _p95(report: dict) -> float | None:
    return report["all"]["p95_ms"]


def baseline(snapshot: Path) -> float:
    """The pandas script as its own process (it pays its imports, as the job does)."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "baseline_pandas.py"), "--snapshot", str(snapshot)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return round(time.perf_counter() - started, 3)


def baseline_matches_marts(snapshot: Path, serving: Path) -> dict:
    from bench.baseline_pandas import compare, compute

    return compare(compute(snapshot), serving)


def ge_import_s() -> float:
    """Importing Great Expectations and creating its context, as the first quality check does
    once per run (pandas already imported, as in the run's process; interpreter excluded)."""
    code = (
        "import time, pandas\n"
        "t = time.perf_counter()\n"
        "from orchestration.lib.quality import _gx\n"
        "_gx()\n"
        "print(time.perf_counter() - t)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True
    )
    return round(float(done.stdout.strip().splitlines()[-1]), 3)


def definitions_load_s() -> float:
    """Importing and building the code location alone (part of every run's process start)."""
    code = "from orchestration.definitions import defs; defs()"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True)
    return round(time.perf_counter() - started, 3)


# --- statistics and the report ------------------------------------------------------------------


def summary(samples: list[float]) -> dict:
    return {
        "median": round(statistics.median(samples), 3),
        "min": round(min(samples), 3),
        "max": round(max(samples), 3),
        "spread": round(max(samples) - min(samples), 3),
        "samples": [round(s, 3) for s in samples],
    }


def stage_medians(runs: list[RunResult]) -> dict[str, float]:
    return {k: round(statistics.median(r.stages[k] for r in runs), 3) for k in runs[0].stages}


def part_medians(runs: list[RunResult]) -> dict[str, float]:
    with_parts = [r.dbt_startup_parts_s for r in runs if r.dbt_startup_parts_s]
    if not with_parts:
        return {}
    return {k: round(statistics.median(p[k] for p in with_parts), 3) for k in with_parts[0]}


def machine() -> dict:
    import dagster
    import dbt.version
    import duckdb

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "dagster": dagster.__version__,
        "dbt_core": dbt.version.__version__,
        "duckdb": duckdb.__version__,
    }


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def _progress(what: str, value: float) -> None:
    print(f"  {what}: {value}", flush=True)


def render(report: dict) -> str:
    f = report["figures"]
    rows = [("figure", "median", "min", "max", "n")]
    for name, fig in f.items():
        if isinstance(fig, dict) and "median" in fig:
            rows.append(
                (
                    name,
                    f"{fig['median']}",
                    f"{fig['min']}",
                    f"{fig['max']}",
                    str(len(fig["samples"])),
                )
            )
    width = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(width[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in width))
    lines.append("")
    lines.append(
        "cold build breakdown (median s): "
        + ", ".join(f"{k}={v}" for k, v in report["cold_breakdown_s"].items())
    )
    lines.append(
        "refresh breakdown (median s):    "
        + ", ".join(f"{k}={v}" for k, v in report["refresh_breakdown_s"].items())
    )
    for label in ("cold", "refresh"):
        parts = report.get(f"{label}_dbt_startup_parts_s") or {}
        if parts:
            lines.append(
                f"{label} dbt start-up parts (median s): "
                + ", ".join(f"{k}={v}" for k, v in parts.items())
            )
    lake_bi = report.get("bi_latency_lake") or {}
    if "skipped" in lake_bi:
        lines.append(f"DuckLake BI latency: skipped ({lake_bi['skipped']})")
    elif lake_bi:
        lines.append(
            f"DuckLake on PostgreSQL: cold build {lake_bi['cold_build_s']} s, refresh "
            f"{lake_bi['refresh_s']} s"
        )
        for how in ("serving", "direct"):
            idle, during = lake_bi[how]["idle"], lake_bi[how]["during_refresh"]
            lines.append(
                f"  BI p95, {how}: idle {_p95(idle)} ms, during a refresh {_p95(during)} ms "
                f"({during['error_count']} errors)"
            )
        lines.append(
            "  BI p95, direct with a new connection per round, idle: "
            f"{_p95(lake_bi['direct_reconnecting']['idle'])} ms"
        )
    for name, value in report["ratios"].items():
        lines.append(f"{name}: {value}")
    for name, ok in report["targets_met"].items():
        lines.append(f"target {name}: {'met' if ok else 'MISSED'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snapshot", type=Path, default=REPO.parent / "shared" / "snapshot")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale-repeats", type=int, default=2)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument(
        "--scales",
        type=lambda text: [int(f) for f in text.split(",")],
        default=[10],
        help="catalog multiples to run, of 10 and 100 (default 10; 100 takes ~15 min)",
    )
    parser.add_argument("--x100-repeats", type=int, default=1)
    parser.add_argument(
        "--skip-lake", action="store_true", help="no DuckLake (PostgreSQL catalog) BI latency"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if unknown := set(args.scales) - set(SCALES):
        parser.error(f"--scales: no scale {sorted(unknown)}; known: {sorted(SCALES)}")
    snapshot = args.snapshot.resolve()
    if not snapshot.is_dir():
        print(f"bench: snapshot folder {snapshot} not found (pass --snapshot)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    from bench.bi_latency import COOKBOOK, cookbook_queries

    # A stale manifest would make every launch re-parse dbt (~5 s) and blur the numbers.
    subprocess.run(["make", "--no-print-directory", "-s", "manifest"], cwd=REPO, check=True)
    WORK.mkdir(parents=True, exist_ok=True)
    trimmed = WORK / "snapshot_trimmed"
    removed = trim_last_day(snapshot, trimmed)
    print(f"bench: trimmed the last day off {len(removed)} daily files -> {trimmed}")
    queries = cookbook_queries(COOKBOOK)

    runs, baselines, bi = [], [], None
    for i in range(args.repeats):
        print(f"repeat {i + 1}/{args.repeats}", flush=True)
        one = cold_and_refresh("x1", trimmed, snapshot, bi_queries=queries if i == 0 else None)
        runs.append(one)
        bi = bi or one.get("bi")
        baselines.append(baseline(trimmed))
        _progress("pandas baseline", baselines[-1])
    equal = baseline_matches_marts(snapshot, WORK / "x1_warehouse" / "serving.duckdb")
    bi_lake = {"skipped": "--skip-lake"} if args.skip_lake else bi_latency_lake(snapshot, queries)

    # Each scale: (series factor, correlation-asset factor, pairs with full history).
    scale_runs: dict[str, list[dict]] = {}
    scale_info: dict[str, dict] = {}
    for factor in [] if args.skip_scale else args.scales:
        from bench.scale import make_scaled_snapshot

        tag = f"x{factor}"
        asset_factor, history = SCALES[factor]
        scaled = make_scaled_snapshot(
            snapshot, WORK / f"snapshot_{tag}", factor, asset_factor, history
        )
        scale_info[tag] = {
            "series": scaled.n_series,
            "correlation_assets": scaled.n_assets,
            "history_pairs": history,
        }
        scaled_trimmed = WORK / f"snapshot_{tag}_trimmed"
        trim_last_day(scaled.out_dir, scaled_trimmed, scaled.catalog_path)
        repeats = args.scale_repeats if factor == 10 else args.x100_repeats
        for i in range(repeats):
            print(f"{tag} repeat {i + 1}/{repeats}", flush=True)
            scale_runs.setdefault(tag, []).append(
                cold_and_refresh(
                    tag,
                    scaled_trimmed,
                    scaled.out_dir,
                    scaled.catalog_path,
                    scaled.dbt_vars,
                )
            )

    cold = summary([r["cold"].wall_s for r in runs])
    refresh = summary([r["refresh"].wall_s for r in runs])
    base = summary(baselines)
    figures = {
        "cold_build_s": cold,
        "daily_refresh_s": refresh,
        "pandas_baseline_s": base,
        "cold_peak_rss_mb": summary([r["cold"].peak_rss_mb for r in runs]),
        "definitions_load_s": summary([definitions_load_s() for _ in range(3)]),
        "ge_import_s": summary([ge_import_s() for _ in range(3)]),
    }
    ratios = {
        "cold_over_baseline": round(cold["median"] / base["median"], 2),
        "refresh_over_cold": round(refresh["median"] / cold["median"], 2),
    }
    for tag, tag_runs in scale_runs.items():
        figures[f"{tag}_cold_build_s"] = summary([r["cold"].wall_s for r in tag_runs])
        figures[f"{tag}_daily_refresh_s"] = summary([r["refresh"].wall_s for r in tag_runs])
        figures[f"{tag}_cold_peak_rss_mb"] = summary([r["cold"].peak_rss_mb for r in tag_runs])
        ratios[f"{tag}_cold_over_x1_cold"] = round(
            figures[f"{tag}_cold_build_s"]["median"] / cold["median"], 2
        )
        ratios[f"{tag}_refresh_over_x1_refresh"] = round(
            figures[f"{tag}_daily_refresh_s"]["median"] / refresh["median"], 2
        )
        ratios[f"{tag}_refresh_over_cold"] = round(
            figures[f"{tag}_daily_refresh_s"]["median"] / figures[f"{tag}_cold_build_s"]["median"],
            2,
        )
    bi_p95 = {
        "idle": bi["idle"]["all"]["p95_ms"],
        "during_refresh": bi["during_refresh"]["all"]["p95_ms"],
    }
    targets = {
        "cold_under_60s": cold["median"] < TARGETS["cold_s_max"],
        "cold_within_3x_baseline": ratios["cold_over_baseline"]
        <= TARGETS["cold_over_baseline_max"],
        "refresh_under_quarter_of_cold": ratios["refresh_over_cold"]
        < TARGETS["refresh_over_cold_max"],
        "bi_p95_under_50ms_idle": bi_p95["idle"] < TARGETS["bi_p95_ms_max"],
        "bi_p95_under_50ms_during_refresh": bi_p95["during_refresh"] < TARGETS["bi_p95_ms_max"],
        "baseline_equals_marts": all(v.get("ok") for v in equal.values()),
    }
    if "skipped" not in bi_lake:
        for how in ("serving", "direct"):
            for when in ("idle", "during_refresh"):
                measured = bi_lake[how][when]
                targets[f"lake_{how}_bi_p95_under_50ms_{when}"] = (
                    measured["error_count"] == 0
                    and _p95(measured) is not None
                    and _p95(measured) < TARGETS["bi_p95_ms_max"]
                )
    if "x10" in scale_runs:
        targets["x10_under_5x"] = (
            ratios["x10_cold_over_x1_cold"] < TARGETS["scale_cold_over_cold_max"]
        )
        targets["x10_refresh_under_quarter_of_cold"] = (
            ratios["x10_refresh_over_cold"] < TARGETS["refresh_over_cold_max"]
        )
    if "x100" in scale_runs:
        targets["x100_cold_under_10min"] = (
            figures["x100_cold_build_s"]["median"] < TARGETS["x100_cold_s_max"]
        )
        targets["x100_refresh_under_2min"] = (
            figures["x100_daily_refresh_s"]["median"] < TARGETS["x100_refresh_s_max"]
        )
    report = {
        "date": date.today().isoformat(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": machine(),
        "snapshot": str(snapshot),
        "trimmed_files": len(removed),
        "repeats": args.repeats,
        "figures": figures,
        "ratios": ratios,
        "targets_met": targets,
        "cold_breakdown_s": stage_medians([r["cold"] for r in runs]),
        "refresh_breakdown_s": stage_medians([r["refresh"] for r in runs]),
        "cold_dbt_startup_parts_s": part_medians([r["cold"] for r in runs]),
        "refresh_dbt_startup_parts_s": part_medians([r["refresh"] for r in runs]),
        "cold_dbt_node_seconds": runs[0]["cold"].dbt_nodes_s,
        "cold_steps_s": runs[0]["cold"].steps_s,
        "bi_latency": bi,
        "bi_latency_lake": bi_lake,
        "baseline_vs_marts": equal,
        "scale": scale_info,
        "runs": [{k: asdict(v) for k, v in r.items() if k != "bi"} for r in runs],
        "scale_runs": {
            tag: [{k: asdict(v) for k, v in r.items()} for r in tag_runs]
            for tag, tag_runs in scale_runs.items()
        },
    }
    for tag, tag_runs in scale_runs.items():
        report[f"{tag}_cold_breakdown_s"] = stage_medians([r["cold"] for r in tag_runs])
        report[f"{tag}_refresh_breakdown_s"] = stage_medians([r["refresh"] for r in tag_runs])
        report[f"{tag}_cold_dbt_node_seconds"] = tag_runs[0]["cold"].dbt_nodes_s
        report[f"{tag}_refresh_dbt_node_seconds"] = tag_runs[0]["refresh"].dbt_nodes_s
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = args.out or RESULTS / f"{report['date']}.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
    tmp.replace(out)
    print(render(report))
    print(f"bench: wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
