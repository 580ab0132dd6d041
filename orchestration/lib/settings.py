"""The one place that reads crosswind's environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestration.lib.errors import CrosswindError

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO_ROOT / "orchestration" / "sample"
# The reviewed series catalog; CROSSWIND_CATALOG points elsewhere (e.g. bench/scale.py's 10x one).
DEFAULT_CATALOG_PATH = REPO_ROOT / "orchestration" / "catalog.yaml"
SOURCE_MODES = ("live", "replay", "sample")


@dataclass(frozen=True)
class Settings:
    source_mode: str
    snapshot_dir: Path | None
    warehouse_dir: Path
    drops_dir: Path
    margin_file: Path
    catalog_path: Path = DEFAULT_CATALOG_PATH

    @property
    def warehouse_path(self) -> Path:
        return self.warehouse_dir / "crosswind.duckdb"

    @property
    def replay_dir(self) -> Path:
        """Where replay readers read: the snapshot (replay mode) or the bundled sample (sample)."""
        if self.source_mode == "sample":
            return SAMPLE_DIR
        if self.snapshot_dir is None:
            raise CrosswindError(
                "CROSSWIND_SOURCE=replay needs CROSSWIND_SNAPSHOT_DIR (e.g. ../shared/snapshot)"
            )
        return self.snapshot_dir


def catalog_path(env: Mapping[str, str] | None = None) -> Path:
    """The series catalog file: CROSSWIND_CATALOG, else the repository's catalog.yaml.

    Separate from `load_settings` so reading the catalog never fails on an unrelated setting.
    """
    env = os.environ if env is None else env
    value = env.get("CROSSWIND_CATALOG", "").strip()
    return Path(value).expanduser().resolve() if value else DEFAULT_CATALOG_PATH


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    mode = env.get("CROSSWIND_SOURCE", "live").strip().lower() or "live"
    if mode not in SOURCE_MODES:
        raise CrosswindError(f"CROSSWIND_SOURCE={mode!r} is not one of {', '.join(SOURCE_MODES)}")
    snapshot = env.get("CROSSWIND_SNAPSHOT_DIR")
    snapshot_dir = Path(snapshot).expanduser().resolve() if snapshot else None
    if mode == "replay" and snapshot_dir is not None and not snapshot_dir.is_dir():
        raise CrosswindError(f"CROSSWIND_SNAPSHOT_DIR={snapshot} is not a folder")
    # The synthetic sample gets its own default folder so it never mixes with real data.
    default_dir = REPO_ROOT / "warehouse" / ("sample" if mode == "sample" else "")
    warehouse_dir = Path(env.get("CROSSWIND_WAREHOUSE_DIR") or default_dir)
    warehouse_dir = warehouse_dir.expanduser().resolve()
    drops_dir = Path(env.get("CROSSWIND_DROPS_DIR") or warehouse_dir / "drops").expanduser()
    margin_file = Path(
        env.get("CROSSWIND_MARGIN_FILE")
        or REPO_ROOT / "orchestration" / "sources" / "cme_margin_history.csv"
    ).expanduser()
    return Settings(mode, snapshot_dir, warehouse_dir, drops_dir, margin_file, catalog_path(env))
