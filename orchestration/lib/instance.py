"""The Dagster instance folder (DAGSTER_HOME) every crosswind mode uses, with the shipped
dagster.yaml (orchestration/dagster.yaml: telemetry off, storage in DAGSTER_HOME, run
monitoring, tick retention).

`prepare_home` creates the folder and installs that file when it is missing, empty (what older
versions left) or an earlier copy of it (its first line is `MARKER`). A file without the marker
is the user's own and is left alone.
"""

from __future__ import annotations

from pathlib import Path

from orchestration.lib.settings import REPO_ROOT

SHIPPED_CONFIG = REPO_ROOT / "orchestration" / "dagster.yaml"
MARKER = "# crosswind: installed from orchestration/dagster.yaml"


def prepare_home(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    shipped = SHIPPED_CONFIG.read_text(encoding="utf-8")
    current = config.read_text(encoding="utf-8") if config.exists() else ""
    if current != shipped and (not current.strip() or current.startswith(MARKER)):
        staging = config.with_name(".dagster.yaml.tmp")
        staging.write_text(shipped, encoding="utf-8")
        staging.replace(config)
    return home
