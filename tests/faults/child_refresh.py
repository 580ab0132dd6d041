"""Run by the process-fault tests in a subprocess: materialize one raw asset, print JSON.

    python -m tests.faults.child_refresh fred [--full] [--downstream]

`--full` re-reads the source in full (run config `full_history`), `--downstream` also runs the
harness's stand-in mart and serving copy. Environment (besides the usual CROSSWIND_*):
`CW_TEST_SENTINELS=<folder>` makes the child write `upsert-start` right before and `upsert-done`
right after the upsert of the source's table (so the parent can SIGKILL it inside the write),
`CW_TEST_HOLD_UNTIL=<file>` makes it write `holding` there and wait, holding the warehouse write
lock just before that upsert, until `<file>.release` exists (so a second refresh provably has to
wait for the lock), and `CW_TEST_BARRIER=<folder>` makes it write `<source>.ready` there at that
point and wait for `go` (so two sources provably write at the same moment).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path


def _instrument(source: str) -> None:
    from orchestration.lib import warehouse
    from orchestration.lib.raw_tables import SOURCE_TABLES

    sentinels = os.environ.get("CW_TEST_SENTINELS")
    hold = os.environ.get("CW_TEST_HOLD_UNTIL")
    barrier = os.environ.get("CW_TEST_BARRIER")
    original = warehouse.upsert

    def upsert(con, table, frame, source_mode, **kw):
        if table != SOURCE_TABLES[source]:
            return original(con, table, frame, source_mode, **kw)
        if barrier:
            Path(barrier, f"{source}.ready").write_text(str(os.getpid()))
            deadline = time.monotonic() + 120
            while not Path(barrier, "go").exists() and time.monotonic() < deadline:
                time.sleep(0.005)
        if hold:
            Path(hold).write_text("holding")
            deadline = time.monotonic() + 120
            while not Path(hold + ".release").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        if sentinels:
            Path(sentinels, "upsert-start").write_text(f"{os.getpid()} {len(frame)}")
        stats = original(con, table, frame, source_mode, **kw)
        if sentinels:
            Path(sentinels, "upsert-done").write_text(str(stats))
        return stats

    warehouse.upsert = upsert


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    source = sys.argv[1]
    _instrument(source)
    from tests.faults.harness import ASSETS, failure_text, run

    config = None
    if "--full" in sys.argv:
        config = {"ops": {ASSETS[source].op.name: {"config": {"full_history": True}}}}
    result = run(source, downstream="--downstream" in sys.argv, run_config=config)
    sys.stdout.write(json.dumps({"success": result.success, "failure": failure_text(result)}))
    sys.stdout.write("\n")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
