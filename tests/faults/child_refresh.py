"""Run by the process-fault tests in a subprocess: materialize one raw asset, print JSON.

    python -m tests.faults.child_refresh fred

Environment (besides the usual CROSSWIND_*): `CW_TEST_SENTINELS=<folder>` makes the child write
`upsert-start` right before and `upsert-done` right after the observation upsert (so the parent
can SIGKILL it inside the write), and `CW_TEST_HOLD_UNTIL=<file>` makes it write `holding` there
and wait, holding the warehouse write lock just before that upsert, until `<file>.release` exists
(so a second refresh provably has to wait for the lock).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path


def _instrument() -> None:
    from orchestration.lib import warehouse

    sentinels = os.environ.get("CW_TEST_SENTINELS")
    hold = os.environ.get("CW_TEST_HOLD_UNTIL")
    original = warehouse.upsert

    def upsert(con, table, frame, source_mode, **kw):
        if table.table != "observations":
            return original(con, table, frame, source_mode, **kw)
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
    _instrument()
    import dagster as dg

    from tests.faults.harness import ASSETS, failure_text
    from tests.support.resources import crosswind_resources

    result = dg.materialize(
        [ASSETS[sys.argv[1]]], raise_on_error=False, resources=crosswind_resources()
    )
    sys.stdout.write(json.dumps({"success": result.success, "failure": failure_text(result)}))
    sys.stdout.write("\n")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
