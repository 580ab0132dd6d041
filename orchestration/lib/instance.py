"""The Dagster instance folder (DAGSTER_HOME) every crosswind mode uses, with the shipped
dagster.yaml (orchestration/dagster.yaml: telemetry off, storage in DAGSTER_HOME, run
monitoring, tick retention).

`prepare_home` creates the folder and installs that file when it is missing, empty (what older
versions left) or an earlier copy of it (its first line is `MARKER`). A file without the marker
is the user's own and is left alone. The installed copy ends with the event log block for this
folder (`installed_config`): it names the folder's absolute path, which the shipped file cannot.
"""

from __future__ import annotations

import json
from pathlib import Path

from orchestration.lib.settings import REPO_ROOT

SHIPPED_CONFIG = REPO_ROOT / "orchestration" / "dagster.yaml"
MARKER = "# crosswind: installed from orchestration/dagster.yaml"

EVENT_LOG_BLOCK = """
# Added for this folder (orchestration/lib/instance.py). Dagster's SQLite event log in the
# default place, <this folder>/history/runs, with each database's connection kept open between
# events instead of opened for every event (orchestration/lib/event_log.py).
event_log_storage:
  module: orchestration.lib.event_log
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {base_dir}
"""


def installed_config(home: Path) -> str:
    """The dagster.yaml crosswind installs in `home`: the shipped file plus its event log."""
    # A JSON string is a YAML string: any path, quotes and all, stays one value.
    base_dir = json.dumps(str(home.resolve() / "history" / "runs"))
    return SHIPPED_CONFIG.read_text(encoding="utf-8") + EVENT_LOG_BLOCK.format(base_dir=base_dir)


def prepare_home(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = installed_config(home)
    current = config.read_text(encoding="utf-8") if config.exists() else ""
    if current != wanted and (not current.strip() or current.startswith(MARKER)):
        staging = config.with_name(".dagster.yaml.tmp")
        staging.write_text(wanted, encoding="utf-8")
        staging.replace(config)
    return home
