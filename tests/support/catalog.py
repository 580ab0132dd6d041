"""Test catalogs: the repository's catalog with only the series a test serves required.

A test snapshot that serves two FRED series would otherwise fail `series_present` for every
other required series of the source (as a real snapshot missing them should).

The edit is textual, so the file keeps the repository catalog's layout line for line: catalog
fault tests edit this text (a second entry, a bad field) exactly as a person would edit theirs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from orchestration.lib.catalog import CATALOG_PATH, load_catalog

# A series entry opens on its own line: `  <ID>: {source: ...` (flow style, one mapping each).
_ENTRY = re.compile(r"^(  ([A-Z0-9][A-Z0-9_^=.\-]*):\s*\{)(.*)$")


def catalog_requiring(series_ids: Iterable[str], dest: Path) -> Path:
    """Write the repository catalog to `dest`, every series not in `series_ids` optional."""
    keep = set(series_ids)
    required = {s.id for s in load_catalog(CATALOG_PATH).series.values() if s.required}
    lines = []
    for line in CATALOG_PATH.read_text(encoding="utf-8").splitlines(keepends=True):
        match = _ENTRY.match(line)
        if match and match.group(2) in required and match.group(2) not in keep:
            line = f"{match.group(1)}required: false, {match.group(3)}\n"
        lines.append(line)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("".join(lines), encoding="utf-8")
    written = load_catalog(dest)
    assert {s.id for s in written.series.values() if s.required} == required & keep, dest
    return dest
