"""`dg launch` reparses dbt only when a dbt file changed since the manifest was written."""

from __future__ import annotations

import os
from pathlib import Path

from orchestration.defs.transform.project import manifest_is_stale


def _touch(path: Path, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    os.utime(path, (mtime, mtime))


def test_manifest_missing_is_stale(tmp_path):
    assert manifest_is_stale(tmp_path, tmp_path / "target" / "manifest.json")


def test_manifest_newer_than_every_input_is_fresh(tmp_path):
    _touch(tmp_path / "dbt_project.yml", 1_000)
    _touch(tmp_path / "models" / "marts" / "fct_a.sql", 1_000)
    _touch(tmp_path / "target" / "manifest.json", 2_000)
    assert not manifest_is_stale(tmp_path, tmp_path / "target" / "manifest.json")


def test_an_edited_model_macro_or_project_file_makes_it_stale(tmp_path):
    manifest = tmp_path / "target" / "manifest.json"
    for edited in ("models/marts/fct_a.sql", "macros/pit.sql", "dbt_project.yml"):
        _touch(tmp_path / "dbt_project.yml", 1_000)
        _touch(tmp_path / "models" / "marts" / "fct_a.sql", 1_000)
        _touch(tmp_path / "macros" / "pit.sql", 1_000)
        _touch(manifest, 2_000)
        _touch(tmp_path / edited, 3_000)
        assert manifest_is_stale(tmp_path, manifest), edited


def test_target_and_logs_do_not_count(tmp_path):
    manifest = tmp_path / "target" / "manifest.json"
    _touch(tmp_path / "models" / "a.sql", 1_000)
    _touch(manifest, 2_000)
    _touch(tmp_path / "target" / "run" / "a.sql", 3_000)
    _touch(tmp_path / "logs" / "dbt.log", 3_000)
    assert not manifest_is_stale(tmp_path, manifest)
