"""Run by test_fault_disk inside a user + mount namespace, after the mounts were made there.

    python -m tests.faults.child_disk full upsert|dbt <tmpfs mount> <bytes left free>
    python -m tests.faults.child_disk readonly

`full`: the warehouse (CROSSWIND_WAREHOUSE_DIR) is copied onto the small tmpfs, the tmpfs is
filled up to the given number of free bytes, and the FRED refresh (`upsert`, a big new batch) or
the dbt build (`dbt`, models only) runs there. The state before and after, whether anything still
holds the lock or the file, then the same run with the space freed: all printed as one JSON line,
because the tmpfs disappears with this process. `readonly`: the warehouse folder is mounted
read-only; the FRED refresh runs and {"success", "failure"} is printed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import dagster as dg

from orchestration.lib import warehouse
from tests.faults import harness
from tests.support.resources import crosswind_resources


def _dbt() -> dg.ExecuteInProcessResult:
    from orchestration.defs.transform import assets as transform

    return dg.materialize(
        [transform.crosswind_dbt_models],
        selection=dg.AssetSelection.assets(transform.crosswind_dbt_models).without_checks(),
        resources={**transform.defs().resources, **crosswind_resources()},
        raise_on_error=False,
    )


RUNS = {"upsert": lambda: harness.run("fred", downstream=False), "dbt": _dbt}


def _differences(a: harness.State, b: harness.State) -> list[str]:
    out = [
        f"build {k}"
        for k in sorted(set(a.build) | set(b.build))
        if a.build.get(k) != b.build.get(k)
    ]
    out += ["serving copy"] if (a.serving, a.serving_file) != (b.serving, b.serving_file) else []
    out += ["exports"] if a.exports != b.exports else []
    return out


def full(what: str, mount: Path, free: int) -> dict:
    folder = mount / "warehouse"
    shutil.copytree(os.environ["CROSSWIND_WAREHOUSE_DIR"], folder, symlinks=True)
    os.environ["CROSSWIND_WAREHOUSE_DIR"] = str(folder)
    before = harness.state(folder)
    ballast = mount / "ballast"
    stat = os.statvfs(mount)
    with open(ballast, "wb") as handle:
        handle.truncate(0)
        left = stat.f_bavail * stat.f_frsize - free
        while left > 0:  # tmpfs allocates what is written, not what is truncated to
            chunk = min(left, 1 << 20)
            handle.write(b"\0" * chunk)
            left -= chunk
    result = RUNS[what]()
    db = folder / "crosswind.duckdb"
    holders = [
        p
        for p in warehouse.lock_holders(db)
        + warehouse.lock_holders(db.with_name(db.name + ".lock"))
        if p != os.getpid()
    ]
    outcome = {
        "success": result.success,
        "failure": harness.failure_text(result),
        "differences": _differences(before, harness.state(folder)),
        "holders": holders,
    }
    ballast.unlink()
    rerun = RUNS[what]()
    outcome["recovered"] = rerun.success
    outcome["recovery_failure"] = harness.failure_text(rerun)
    outcome["after_recovery"] = _differences(before, harness.state(folder))
    return outcome


def main() -> int:
    if sys.argv[1] == "full":
        outcome = full(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
    else:
        result = harness.run("fred")
        outcome = {"success": result.success, "failure": harness.failure_text(result)}
    sys.stdout.write(json.dumps(outcome) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
