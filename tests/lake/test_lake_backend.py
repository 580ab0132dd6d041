"""The DuckLake backend's settings, extensions, secrets, executor choice and pool limit."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.lib import lake, recovery, warehouse
from orchestration.lib.errors import CrosswindError
from orchestration.lib.instance import prepare_home
from orchestration.lib.settings import (
    REPO_ROOT,
    WRITE_POOL,
    concurrent_writers,
    ingest_pool,
    load_settings,
)
from tests.faults import harness
from tests.support import postgres

PG = "postgresql://alice:p%40ss%20w0rd@db.example:6543/lake?sslmode=require"


def lake_settings(tmp_path: Path, catalog: str = "", **extra: str):
    return load_settings(
        {
            "CROSSWIND_WAREHOUSE_DIR": str(tmp_path / "wh"),
            "CROSSWIND_WAREHOUSE_BACKEND": "ducklake",
            "CROSSWIND_DUCKLAKE_CATALOG": catalog,
            **extra,
        }
    )


# -- settings ----------------------------------------------------------------------------------


def test_backend_defaults_to_the_duckdb_file_and_refuses_unknown_names(tmp_path):
    settings = load_settings({"CROSSWIND_WAREHOUSE_DIR": str(tmp_path)})
    assert settings.warehouse.backend == "duckdb"
    assert settings.warehouse.path == tmp_path / "crosswind.duckdb"
    with pytest.raises(CrosswindError, match="CROSSWIND_WAREHOUSE_BACKEND='sqlite'"):
        load_settings({"CROSSWIND_WAREHOUSE_BACKEND": "sqlite"})


def test_local_catalog_file_is_single_writer_and_postgres_is_concurrent(tmp_path):
    local = lake_settings(tmp_path).warehouse
    assert local.catalog == str(tmp_path / "wh" / "crosswind.ducklake")
    assert local.data == str(tmp_path / "wh" / "lake_data") + "/"
    assert not local.concurrent_writers
    for spelling in (PG, "dbname=lake host=db.example", "postgres:dbname=lake"):
        target = lake_settings(tmp_path, spelling).warehouse
        assert target.postgres_catalog and target.concurrent_writers, spelling
    s3 = lake_settings(tmp_path, PG, CROSSWIND_DUCKLAKE_DATA="s3://bucket/lake").warehouse
    assert s3.data == "s3://bucket/lake/"
    env = {"CROSSWIND_WAREHOUSE_BACKEND": "ducklake", "CROSSWIND_DUCKLAKE_CATALOG": PG}
    assert concurrent_writers(env) and ingest_pool("raw_fred__observations", env) == (
        "ingest__raw_fred__observations"
    )
    assert ingest_pool("raw_fred__observations", {}) == WRITE_POOL
    # the password never shows in a repr (Dagster and loggers print objects)
    settings = lake_settings(tmp_path, PG)
    assert "p%40ss" not in repr(settings) and "p%40ss" not in repr(settings.warehouse)


def test_connection_strings_lose_their_password_and_keep_the_rest(tmp_path):
    target = lake_settings(tmp_path, PG).warehouse
    metadata_path, password = lake.catalog_parts(target)
    assert password == "p@ss w0rd"
    assert lake.parse_conninfo(metadata_path) == {
        "user": "alice",
        "host": "db.example",
        "port": "6543",
        "dbname": "lake",
        "sslmode": "require",
    }
    kv = lake_settings(tmp_path, r"host=h dbname=d password='it\'s a secret' user=u").warehouse
    path, password = lake.catalog_parts(kv)
    assert password == "it's a secret" and "secret" not in path
    text = f"failed at {PG} (password=p@ss w0rd) and p%40ss%20w0rd"
    redacted = lake.redact(text, target)
    assert "p@ss" not in redacted and "p%40ss" not in redacted and "w0rd" not in redacted
    with pytest.raises(lake.LakeError, match="neither a postgresql:// URI nor libpq"):
        lake.parse_conninfo("host=h ===")


# -- extensions: from the PyPI packages, never downloaded ---------------------------------------


def test_extensions_load_from_the_installed_packages_and_nothing_is_downloaded(
    tmp_path, http_server
):
    target = lake_settings(tmp_path).warehouse
    for name, package in lake.PACKAGES.items():
        path = lake.extension_file(name)
        assert path.is_file() and package in path.parts, path
        assert path.parent.name == f"v{duckdb.__version__}"
    con = lake.connect(target)
    try:
        # Any download would go to this loopback repository, into this empty folder.
        extension_dir = tmp_path / "extensions"
        extension_dir.mkdir()
        con.execute(f"SET extension_directory = '{extension_dir}'")
        con.execute(f"SET custom_extension_repository = '{http_server.url('/ext')}'")
        loaded = dict(
            con.execute(
                "SELECT extension_name, loaded FROM duckdb_extensions() WHERE loaded"
            ).fetchall()
        )
        assert loaded.get("ducklake")
        con.execute("CREATE TABLE t AS SELECT 1 AS x")  # the lake works
        # spatial is an extension DuckDB would otherwise fetch and load on first use
        with pytest.raises(duckdb.Error, match=r"(?i)spatial|st_point"):
            con.execute("SELECT ST_Point(1, 2)")
    finally:
        con.close()
    assert http_server.requests == [], "DuckDB tried to download an extension"
    assert list(extension_dir.rglob("*")) == []
    # dbt's connections get the same configuration from the profile's plugin
    from orchestration.lib.dbt_lake_plugin import Plugin

    config: dict = {}
    Plugin.update_connection_config(object.__new__(Plugin), None, config)
    assert (
        config
        == lake.NO_DOWNLOADS
        == {
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )


def test_data_on_object_storage_loads_httpfs_and_takes_aws_credentials_from_the_chain(
    tmp_path, monkeypatch
):
    """s3:// data files: httpfs and aws come from their packages too, and the credentials from
    the AWS SDK's chain (here the AWS_* variables); without any the error says what to set.
    Attaching reads only the catalog, so no bucket is reached."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    target = lake_settings(tmp_path, CROSSWIND_DUCKLAKE_DATA="s3://crosswind-test/lake").warehouse
    assert target.data == "s3://crosswind-test/lake/" and lake.object_storage(target)
    with pytest.raises(lake.LakeError, match="no AWS credentials for the data files at s3://"):
        lake.connect(target)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    con = lake.connect(target)
    try:
        loaded = {r[0] for r in con.execute("FROM duckdb_extensions() WHERE loaded").fetchall()}
        assert {"ducklake", "httpfs", "aws"} <= loaded
        secrets = con.execute("SELECT name, type, provider FROM duckdb_secrets()").fetchall()
        assert (lake.STORAGE_SECRET, "s3", "credential_chain") in secrets
    finally:
        con.close()


# -- a real PostgreSQL catalog: the password stays out of errors, logs and files -----------------


def test_wrong_password_or_server_fails_clearly_without_the_password(pg_server, tmp_path):
    database = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(database)
    wrong = pg_server.conninfo(database, password="Wr0ng-Secret")
    with pytest.raises(lake.LakeError) as caught:
        lake.connect(lake_settings(tmp_path, wrong).warehouse)
    text = str(caught.value)
    assert "password authentication failed" in text and f"dbname={database}" in text
    assert "Wr0ng-Secret" not in text and postgres.PASSWORD not in text
    gone = pg_server.conninfo(database).replace(f":{pg_server.port}/", ":1/")
    with pytest.raises(lake.LakeError, match="Connection refused") as caught:
        lake.connect(lake_settings(tmp_path, gone).warehouse)
    assert postgres.PASSWORD not in str(caught.value)


def test_a_run_on_postgres_writes_the_password_nowhere(pg_server, tmp_path, monkeypatch):
    """Every file a run leaves (Dagster's event log and run storage, the warehouse folder, the
    serving copy and exports), for a run that works and one refused for a wrong password."""
    from tests.lake.conftest import lake_env

    database = f"t_{uuid.uuid4().hex[:12]}"
    uri = pg_server.create_database(database)
    snapshot = harness.write_snapshot(tmp_path / "snapshot")
    folder, home = tmp_path / "warehouse", tmp_path / "dagster_home"
    lake_env(monkeypatch, snapshot, folder, uri, tmp_path / "lake_data")
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        ok = harness.run("treasury", instance=instance)
        assert ok.success, harness.failure_text(ok)
        monkeypatch.setenv("CROSSWIND_DUCKLAKE_CATALOG", uri.replace(postgres.PASSWORD, "Wr0ng"))
        refused = harness.run("treasury", instance=instance)
        assert not refused.success
        text = harness.failure_text(refused)
        assert "password authentication failed" in text and "Wr0ng" not in text
    written = [
        p
        for p in sorted(tmp_path.rglob("*"))
        if p.is_file()
        and not p.is_symlink()
        and (postgres.PASSWORD.encode() in p.read_bytes() or b"Wr0ng" in p.read_bytes())
    ]
    assert written == []


# -- executors and pools -------------------------------------------------------------------------


def test_jobs_run_in_parallel_only_where_the_warehouse_takes_concurrent_writers(monkeypatch):
    from orchestration import definitions

    monkeypatch.setenv("CROSSWIND_WAREHOUSE_BACKEND", "ducklake")
    monkeypatch.setenv("CROSSWIND_DUCKLAKE_CATALOG", PG)
    # the code location is built once per process: build it again for this environment
    definitions._build.cache_clear()
    try:
        repo = definitions.defs().get_repository_def()
        assert {job.executor_def for job in repo.get_all_jobs()} == {
            recovery.crosswind_parallel_executor
        }
    finally:
        definitions._build.cache_clear()
    monkeypatch.setenv("CROSSWIND_DUCKLAKE_CATALOG", "lake/crosswind.ducklake")
    assert recovery.executor_for_backend() is recovery.crosswind_executor
    monkeypatch.delenv("CROSSWIND_WAREHOUSE_BACKEND")
    assert recovery.executor_for_backend() is recovery.crosswind_executor


@dg.asset(pool=WRITE_POOL)
def _pooled_write() -> None:
    """Stands in for a step of the single-writer pool."""


def pooled_job() -> dg.JobDefinition:
    defs = dg.Definitions(
        assets=[_pooled_write],
        jobs=[dg.define_asset_job("pooled_write_job", selection=[_pooled_write])],
        executor=recovery.crosswind_executor,
    )
    return defs.resolve_job_def("pooled_write_job")


@pytest.mark.timeout(180)
def test_duckdb_write_pool_admits_one_step_and_a_killed_runs_slot_is_freed(tmp_path):
    """The shipped dagster.yaml makes duckdb_write a one-slot pool; a run SIGKILLed while it
    held that slot would block every later writer, so the next run's first step frees it."""
    home = tmp_path / "home"
    prepare_home(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.event_log_storage.get_pool_config().default_pool_limit == 1
        # A run killed inside a pooled step: STARTED, its worker gone, the slot still claimed.
        dead = subprocess.Popen(["true"])
        dead.wait()
        killed = instance.create_run_for_job(pooled_job(), run_id=str(uuid.uuid4()))
        instance.handle_new_event(
            dg.EventLogEntry(
                error_info=None,
                level="DEBUG",
                user_message="",
                run_id=killed.run_id,
                timestamp=0.0,
                dagster_event=dg.DagsterEvent(
                    dg.DagsterEventType.RUN_START.value, killed.job_name, pid=dead.pid
                ),
            )
        )
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default(WRITE_POOL)
        claim = storage.claim_concurrency_slot(WRITE_POOL, killed.run_id, "crosswind_dbt_models")
        assert claim.is_claimed
        assert storage.get_pool_limits()[0].limit == 1

        result = dg.execute_job(dg.reconstructable(pooled_job), instance=instance)

        assert result.success
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
        info = storage.get_concurrency_info(WRITE_POOL)
        assert info.slot_count == 1 and info.claimed_slots == []


def test_writer_reports_a_lost_conflict_clearly(tmp_path, monkeypatch):
    """A commit that loses to a conflicting one (same table, same moment) says so in one line."""
    target = lake_settings(tmp_path).warehouse
    lost = duckdb.TransactionException(
        "TransactionContext Error: Failed to commit DuckLake transaction.\n"
        'Transaction conflict - attempting to delete from table with index "3"'
    )
    with pytest.raises(CrosswindError) as caught, warehouse.writer(target):
        raise lost
    assert "another process committed a conflicting change" in str(caught.value)
    assert "nothing of it was kept" in str(caught.value) and "rerun" in str(caught.value)


def test_the_sample_deployment_instance_is_valid_dagster_configuration(monkeypatch):
    """docs/deploy/dagster.yaml (docs/scaling.md) passes Dagster's instance schema and keeps
    crosswind's one-slot pools; its run launcher's package is not installed here."""
    import yaml
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config_schema

    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD"):
        monkeypatch.setenv(name, "x")
    sample = yaml.safe_load((REPO_ROOT / "docs" / "deploy" / "dagster.yaml").read_text())
    result = process_config(dagster_instance_config_schema(), sample)
    assert result.success, result.errors
    shipped = yaml.safe_load((REPO_ROOT / "orchestration" / "dagster.yaml").read_text())
    assert sample["concurrency"] == shipped["concurrency"]
    assert sample["run_launcher"]["class"] == "DockerRunLauncher"
