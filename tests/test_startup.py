"""Start-up guards (bench/README.md, "Start-up"): what loading the code location costs.

Structural, not timed: Dagster loads the code location in every run's process (and in the UI's
code server), so what it imports and how often it is built is paid on every launch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Imported on first use, by the steps that need them: loading the definitions must not pay for
# them (Great Expectations alone costs 3-6 s to import on the 2-core machine).
LAZY_MODULES = ("great_expectations", "plotly", "orchestration.lib.report")


def test_loading_the_definitions_imports_no_step_only_modules():
    code = (
        "import json, sys\n"
        "from orchestration.definitions import defs\n"
        "defs().get_repository_def()\n"
        f"print(json.dumps([m for m in {LAZY_MODULES!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_definitions_are_built_once_per_process():
    # Dagster calls `defs` several times per launch (job lookup, argument checks, planning):
    # each call returns the same object, so its repository and asset graph are built once.
    from orchestration import definitions

    first = definitions.defs()
    assert definitions.defs() is first
    assert first.get_repository_def() is definitions.defs().get_repository_def()
