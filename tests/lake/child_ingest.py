"""Run by the DuckLake process tests in a subprocess: materialize one raw asset, print JSON.

    python -m tests.lake.child_ingest fred [--full] [--downstream]

`CW_TEST_BARRIER=<folder>`: right before the source table's upsert, write `<source>.ready` there
and wait until `go` exists (so two children provably write at the same moment).
`CW_TEST_SENTINELS=<folder>`: write `upsert-start` before and `upsert-done` after that upsert
(so the parent can SIGKILL the child inside the write).
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

    barrier = os.environ.get("CW_TEST_BARRIER")
    sentinels = os.environ.get("CW_TEST_SENTINELS")
    original = warehouse.upsert

    def upsert(con, table, frame, source_mode, **kw):
        if table != SOURCE_TABLES[source]:
            return original(con, table, frame, source_mode, **kw)
        if barrier:
            Path(barrier, f"{source}.ready").write_text(str(os.getpid()))
            deadline = time.monotonic() + 120
            while not Path(barrier, "go").exists() and time.monotonic() < deadline:
                time.sleep(0.005)
        if sentinels:
            Path(sentinels, "upsert-start").write_text(f"{os.getpid()} {len(frame)}")
        stats = original(con, table, frame, source_mode, **kw)
        if sentinels:
            Path(sentinels, "upsert-done").write_text(str(stats))
        return stats

    warehouse.upsert = upsert


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    source = sys.argv[1]
    _instrument(source)
    from tests.faults.harness import failure_text, run

    config = None
    if "--full" in sys.argv:
        from tests.faults.harness import ASSETS

        op = ASSETS[source].op.name
        config = {"ops": {op: {"config": {"full_history": True}}}}
    result = run(source, downstream="--downstream" in sys.argv, run_config=config)
    sys.stdout.write(json.dumps({"success": result.success, "failure": failure_text(result)}))
    sys.stdout.write("\n")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
