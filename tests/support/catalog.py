"""Test catalogs: the repository's catalog with only the series a test serves required.

A test snapshot that serves two FRED series would otherwise fail `series_present` for every
other required series of the source (as a real snapshot missing them should).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from orchestration.lib.catalog import CATALOG_PATH


def catalog_requiring(series_ids: Iterable[str], dest: Path) -> Path:
    """Write the repository catalog to `dest`, every series not in `series_ids` optional."""
    keep = set(series_ids)
    data = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    for series_id, entry in data["series"].items():
        if series_id not in keep:
            entry["required"] = False
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return dest
