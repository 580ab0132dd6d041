"""When crosswind refreshes, and how stale an asset may get before the UI says so.

Time zone: America/New_York, the sources' own clock (DST handled by Dagster).
- H.4.1 (Fed total assets WALCL, TGA WDTGAL, reserves) is released Thursdays at 4:30 pm ET;
- the Daily Treasury Statement for business day D appears about 4 pm ET on D+1;
- US cash equities close at 4 pm ET; FRED's H.15 rates (SOFR, IORB, DGS*) post by late afternoon;
- Japan's MOF JGB yields are out before the US morning.
So the refresh runs at 18:30 New York time, Monday to Friday: after Thursday's H.4.1 and each
day's DTS, with margin for late postings. Weekends carry no new source data.

Freshness: every asset is expected to have materialized in the 17:30-21:30 ET window of the
last weekday (a cron policy, so weekends and the gap before Monday's run do not count as stale).
That is "refreshed on schedule", nothing more: the data's own age (a source that stopped
publishing) is a separate, per-series signal, the raw assets' `data_age_within_limit`,
`source_not_frozen` and `series_not_stuck` checks and the marts' *_age_days / is_*_stale
columns. Every asset says so in its `freshness_policy` metadata, next to the policy's status.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from orchestration.defs.automation.jobs import refresh_job

TIMEZONE = "America/New_York"
REFRESH_CRON = "30 18 * * 1-5"
FRESHNESS_DEADLINE_CRON = "30 21 * * 1-5"
FRESHNESS_WINDOW = timedelta(hours=4)

FRESHNESS_POLICY = dg.FreshnessPolicy.cron(
    deadline_cron=FRESHNESS_DEADLINE_CRON,
    lower_bound_delta=FRESHNESS_WINDOW,
    timezone=TIMEZONE,
)
# What "Freshness policy: Passing" means, shown on every asset next to it.
FRESHNESS_POLICY_MEANING = (
    "Refreshed on schedule: passing means the asset was materialized between 17:30 and 21:30 "
    "America/New_York on the last weekday. It says nothing about the data's own age: see the "
    "raw assets' data_age_within_limit, source_not_frozen and series_not_stuck checks and the "
    "marts' *_age_days / is_*_stale columns."
)


def with_freshness(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Give an asset the daily freshness policy unless it declares its own."""
    if spec.freshness_policy is not None:
        return spec
    return dg.apply_freshness_policy(spec, FRESHNESS_POLICY).merge_attributes(
        metadata={"freshness_policy": FRESHNESS_POLICY_MEANING}
    )


refresh_schedule = dg.ScheduleDefinition(
    name="refresh_schedule",
    job=refresh_job,
    cron_schedule=REFRESH_CRON,
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Weekdays 18:30 America/New_York: after the H.4.1 (Thu 16:30 ET) and the Daily "
    "Treasury Statement (~16:00 ET, next business day) are out. Runs only while the Dagster "
    "daemon runs (`make dev` or dagster-daemon).",
)
