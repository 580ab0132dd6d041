"""Schedule, freshness policies and the failure sensor load with the code location."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._utils.schedules import cron_string_iterator

from orchestration.defs.automation import schedules


@pytest.fixture(scope="module")
def repo():
    from orchestration import definitions

    return definitions.defs().get_repository_def()


def test_refresh_schedule_runs_weekday_evenings_new_york_time(repo):
    schedule = repo.get_schedule_def("refresh_schedule")
    assert schedule.execution_timezone == "America/New_York"
    assert schedule.cron_schedule == "30 18 * * 1-5"
    assert schedule.job_name == "refresh_job"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    # the next ticks after Thursday 2026-02-12 12:00 ET: Thu and Fri 18:30 ET, then Monday
    start = datetime(2026, 2, 12, 12, 0, tzinfo=ZoneInfo("America/New_York"))
    ticks = cron_string_iterator(
        start.timestamp(), schedule.cron_schedule, schedule.execution_timezone
    )
    got = [next(ticks).strftime("%a %H:%M %Z") for _ in range(3)]
    assert got == ["Thu 18:30 EST", "Fri 18:30 EST", "Mon 18:30 EST"]
    summer = datetime(2026, 7, 1, tzinfo=ZoneInfo("UTC")).timestamp()
    tick = next(cron_string_iterator(summer, schedule.cron_schedule, "America/New_York"))
    assert tick.astimezone(ZoneInfo("UTC")).hour == 22  # 18:30 EDT: daylight saving followed


def test_every_asset_has_the_daily_freshness_policy(repo):
    graph = repo.asset_graph
    keys = [
        dg.AssetKey(["raw_fred", "observations"]),
        dg.AssetKey(["raw_treasury", "operating_cash_balance"]),
        dg.AssetKey(["marts", "fct_net_liquidity_daily"]),
        dg.AssetKey(["marts", "mart_market_dashboard_daily"]),
        dg.AssetKey(["serving", "duckdb"]),
        dg.AssetKey(["serving", "daily_report"]),
    ]
    for key in keys:
        policy = graph.get(key).freshness_policy
        assert policy == schedules.FRESHNESS_POLICY, key
    assert schedules.FRESHNESS_POLICY.timezone == "America/New_York"


def test_serving_waits_for_every_mart_and_jobs_include_it(repo):
    graph = repo.asset_graph
    marts = {k for k in graph.get_all_asset_keys() if k.path[0] == "marts"}
    assert marts and graph.get(dg.AssetKey(["serving", "duckdb"])).parent_keys == marts
    refresh = repo.get_job("refresh_job")
    assert dg.AssetKey(["serving", "daily_report"]) in refresh.asset_layer.selected_asset_keys
    assert repo.get_job("publish_job")


def test_failure_sensor_is_on_by_default(repo):
    sensor = repo.get_sensor_def("failure_record_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_every_job_starts_with_the_recovery_step(repo):
    """Runs killed mid-way are failed, and a publish's leftovers cleaned, when the next starts."""
    from orchestration.lib.recovery import crosswind_executor

    for job in repo.get_all_jobs():
        assert job.executor_def is crosswind_executor, job.name
