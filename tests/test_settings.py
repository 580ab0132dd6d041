"""The settings resource: one field per variable, validated as before, shown in the UI without
secret values, listed alike in the code, the README and .env.example; every run tagged."""

from __future__ import annotations

import re

import dagster as dg
import pytest

from orchestration.lib.errors import CrosswindError
from orchestration.lib.settings import (
    DEFAULT_LOCK_TIMEOUT_S,
    REPO_ROOT,
    SAMPLE_DIR,
    CrosswindSettings,
    load_settings,
)

VARIABLE = re.compile(r"\b(?:CROSSWIND_[A-Z0-9_]*[A-Z0-9]|FRED_API_KEY)\b")
# Where crosswind's own code and configuration live (tests set variables of their own).
CODE = [
    *sorted((REPO_ROOT / "orchestration").rglob("*.py")),
    *sorted((REPO_ROOT / "bench").rglob("*.py")),
    *sorted((REPO_ROOT / "dbt_project").glob("*.yml")),
    REPO_ROOT / "Makefile",
]


def _documented_in_readme() -> set[str]:
    """Variables with a row of their own in a README table (`| `NAME` | default | ...`)."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `(CROSSWIND_[A-Z0-9_]+|FRED_API_KEY)` \|", text, re.M))


def _listed_in_env_example() -> set[str]:
    """Variables `.env.example` sets or shows commented out (`# NAME=...`)."""
    text = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    return set(re.findall(r"^#? ?(CROSSWIND_[A-Z0-9_]+|FRED_API_KEY)=", text, re.M))


def test_code_readme_and_env_example_list_the_same_variables():
    declared = set(CrosswindSettings.variables().values())
    assert len(declared) == len(CrosswindSettings.variables()), "one field per variable"
    in_code = {name for path in CODE for name in VARIABLE.findall(path.read_text("utf-8"))}
    assert in_code - declared == set(), "variables the code names but the resource lacks"
    assert declared - _documented_in_readme() == set(), "missing from the README's tables"
    assert _documented_in_readme() - declared == set(), "README rows for unknown variables"
    assert declared - _listed_in_env_example() == set(), "missing from .env.example"
    assert _listed_in_env_example() - declared == set(), ".env.example lists unknown ones"


def test_only_the_settings_module_reads_crosswind_variables():
    reads = re.compile(r"(?:environ(?:\.get)?\(?|getenv\()\s*\[?\s*[\"'](CROSSWIND_|FRED_API_KEY)")
    settings_module = REPO_ROOT / "orchestration" / "lib" / "settings.py"
    offenders = [
        f"{path.relative_to(REPO_ROOT)}: {match.group(0)}"
        for path in CODE
        if path.suffix == ".py" and path != settings_module
        for match in reads.finditer(path.read_text("utf-8"))
    ]
    # bench/baseline_pandas.py is an independent re-implementation that imports nothing from
    # orchestration on purpose; it reads the catalog setting the way the resource does.
    assert [o for o in offenders if not o.startswith("bench/baseline_pandas.py")] == []


def test_every_source_override_is_a_setting():
    """A source module's declared variable must be a field: `settings.value` refuses others."""
    import importlib

    from orchestration.sources.registry import SOURCES

    declared = set(CrosswindSettings.variables().values())
    for source in SOURCES:
        module = importlib.import_module(f"orchestration.sources.{source}")
        names = {v for k, v in vars(module).items() if k.endswith("_ENV") and isinstance(v, str)}
        assert names <= declared, (source, names - declared)
    with pytest.raises(CrosswindError, match="CROSSWIND_TYPO_URL is not a crosswind setting"):
        load_settings({}).value("CROSSWIND_TYPO_URL")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CROSSWIND_SOURCE": "bogus"}, "CROSSWIND_SOURCE='bogus' is not one of live, replay"),
        (
            {"CROSSWIND_SOURCE": "replay", "CROSSWIND_SNAPSHOT_DIR": "/no/such/folder"},
            "CROSSWIND_SNAPSHOT_DIR=/no/such/folder is not a folder",
        ),
        ({"CROSSWIND_LOCK_TIMEOUT": "ten"}, "CROSSWIND_LOCK_TIMEOUT='ten' is not a number"),
        ({"CROSSWIND_LOCK_TIMEOUT": "-1"}, "CROSSWIND_LOCK_TIMEOUT='-1' is not a number"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(env, message):
    with pytest.raises(CrosswindError, match=re.escape(message)):
        load_settings(env)
    with pytest.raises(CrosswindError, match=re.escape(message)):  # the resource, in a run
        CrosswindSettings.from_values(env).resolve()


def test_replay_without_a_snapshot_says_which_variable_is_missing():
    settings = load_settings({"CROSSWIND_SOURCE": "replay"})
    with pytest.raises(CrosswindError, match="needs CROSSWIND_SNAPSHOT_DIR"):
        _ = settings.replay_dir


def test_defaults_when_nothing_is_set(tmp_path):
    settings = load_settings({})
    assert settings.source_mode == "live" and settings.snapshot_dir is None
    assert settings.warehouse_dir == REPO_ROOT / "warehouse"
    assert settings.drops_dir == REPO_ROOT / "warehouse" / "drops"
    assert settings.lock_timeout_s == DEFAULT_LOCK_TIMEOUT_S
    sample = load_settings({"CROSSWIND_SOURCE": " Sample ", "CROSSWIND_LOCK_TIMEOUT": "2.5"})
    assert sample.source_mode == "sample" and sample.replay_dir == SAMPLE_DIR
    assert sample.warehouse_dir == REPO_ROOT / "warehouse" / "sample"
    assert sample.lock_timeout_s == 2.5
    replay = load_settings({"CROSSWIND_SOURCE": "replay", "CROSSWIND_SNAPSHOT_DIR": str(tmp_path)})
    assert replay.run_tags() == {
        "crosswind/mode": "replay",
        "crosswind/snapshot": str(tmp_path),
        "crosswind/warehouse": str(REPO_ROOT / "warehouse"),
        "crosswind/backend": "duckdb",
    }


def test_set_variables_bind_as_env_vars_and_unset_ones_keep_defaults(monkeypatch):
    monkeypatch.setenv("CROSSWIND_SOURCE", "sample")
    monkeypatch.setenv("FRED_API_KEY", "0123456789abcdef")
    monkeypatch.delenv("CROSSWIND_SNAPSHOT_DIR", raising=False)
    resource = CrosswindSettings.from_env()
    assert isinstance(resource.source, dg.EnvVar) and resource.source.env_var_name == (
        "CROSSWIND_SOURCE"
    )
    assert resource.snapshot_dir == ""  # an EnvVar of an unset variable would fail the run
    assert resource.resolve().source_mode == "sample"
    assert "0123456789abcdef" not in repr(load_settings())


def test_the_ui_shows_variable_names_never_secret_values(monkeypatch):
    """What the code location sends the UI (Deployment -> Resources -> settings)."""
    from dagster._core.remote_representation.external_data import (
        RepositorySnap,
        ResourceConfigEnvVarSnap,
    )

    secret = "fedcba9876543210fedcba9876543210"
    monkeypatch.setenv("FRED_API_KEY", secret)
    monkeypatch.setenv("CROSSWIND_SOURCE", "sample")
    monkeypatch.delenv("CROSSWIND_MARKETS_DIR", raising=False)
    defs = dg.Definitions(resources={"settings": CrosswindSettings.from_env()})
    snap = RepositorySnap.from_def(defs.get_repository_def())
    [resource] = [r for r in snap.resources if r.name == "settings"]
    values = resource.configured_values
    assert values["fred_api_key"] == ResourceConfigEnvVarSnap(name="FRED_API_KEY")
    assert values["source"] == ResourceConfigEnvVarSnap(name="CROSSWIND_SOURCE")
    assert values["markets_dir"] == '""'  # unset: the field's default (JSON), empty
    fields = {f.name: f for f in resource.config_field_snaps}
    assert set(fields) == set(CrosswindSettings.variables())
    assert fields["fred_api_key"].description.startswith("FRED_API_KEY: ")
    assert secret not in repr(snap)


# -- every run is tagged with its mode, snapshot and warehouse -----------------------------------


@dg.asset
def uses_settings(settings: CrosswindSettings) -> None:
    settings.resolve()


def tagged_job() -> dg.JobDefinition:
    from orchestration.lib.recovery import crosswind_executor

    return dg.Definitions(
        assets=[uses_settings],
        jobs=[dg.define_asset_job("tagged_job", executor_def=crosswind_executor)],
        resources={"settings": CrosswindSettings.from_env()},
    ).resolve_job_def("tagged_job")


def test_runs_are_tagged_with_their_settings_even_when_launched_with_overrides(
    tmp_path, monkeypatch
):
    """The executor tags the run from the run's own resource config: what the environment
    bound, or what a Launchpad override changed."""
    monkeypatch.setenv("CROSSWIND_SOURCE", "sample")
    monkeypatch.setenv("CROSSWIND_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    job = dg.reconstructable(tagged_job)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        with dg.execute_job(job, instance=instance) as result:
            assert result.success
            tags = instance.get_run_by_id(result.run_id).tags
        assert tags["crosswind/mode"] == "sample"
        assert tags["crosswind/snapshot"] == str(SAMPLE_DIR)
        assert tags["crosswind/warehouse"] == str(tmp_path / "warehouse")

        snapshot = tmp_path / "snapshot"
        snapshot.mkdir()
        override = {
            "resources": {
                "settings": {"config": {"source": "replay", "snapshot_dir": str(snapshot)}}
            }
        }
        with dg.execute_job(job, instance=instance, run_config=override) as result:
            assert result.success
            tags = instance.get_run_by_id(result.run_id).tags
        assert (tags["crosswind/mode"], tags["crosswind/snapshot"]) == ("replay", str(snapshot))
