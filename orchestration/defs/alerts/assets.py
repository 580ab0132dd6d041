"""The alert-evaluation step: after the marts, every rule is replayed and what is new is queued.

One step writes, in one transaction under the warehouse write lock: the backtest marts
(`marts.fct_alert_history`, `marts.fct_alert_summary`, `marts.fct_alert_benchmark_leads`,
published by serving like every mart) and the live state (`alerts.rule_state`,
`alerts.notifications`). The alert sensor (defs/automation/alert_delivery.py) delivers.
"""

from datetime import datetime

import dagster as dg
import duckdb

from orchestration.lib import clock, warehouse
from orchestration.lib.alerts import backtest
from orchestration.lib.alerts.delivery import (
    DeliveryReport,
    channels_from_settings,
    delivery_status,
)
from orchestration.lib.alerts.rules import load_rules
from orchestration.lib.alerts.store import evaluate_and_store
from orchestration.lib.raw_assets import SYNTHETIC_NOTE
from orchestration.lib.settings import CrosswindSettings

OWNERS = ["team:crosswind"]
GROUP = "alerts"
HISTORY_KEY = dg.AssetKey(["marts", backtest.HISTORY.name])
SUMMARY_KEY = dg.AssetKey(["marts", backtest.SUMMARY.name])
LEADS_KEY = dg.AssetKey(["marts", backtest.LEADS.name])
NOTIFICATIONS_KEY = dg.AssetKey(["alerts", "notifications"])
# What serving publishes besides the dbt marts.
ALERT_MART_KEYS = [HISTORY_KEY, SUMMARY_KEY, LEADS_KEY]
DELIVERED_CHECK = "alerts_delivered"

# Validated on load: a bad rules file stops the code location with the rule and field named.
RULES = load_rules()
# The marts the rules read, and those the backtest judges them by.
INPUT_KEYS = sorted(
    {dg.AssetKey(["marts", m]) for m in RULES.marts}
    | {
        dg.AssetKey(["marts", "fct_asset_returns_daily"]),
        dg.AssetKey(["marts", "fct_stress_episodes"]),
    }
)


def _table_md(frame, columns) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in frame[columns].itertuples(index=False):
        cells = [
            "" if v is None or v != v else (f"{v:.2f}" if isinstance(v, float) else str(v))
            for v in row
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _spec(key: dg.AssetKey, deps, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key, deps=deps, owners=OWNERS, kinds={"python", "duckdb"}, description=description
    )


@dg.multi_asset(
    name="alert_evaluation",
    group_name=GROUP,
    pool="duckdb_write",
    specs=[
        _spec(
            HISTORY_KEY,
            INPUT_KEYS,
            "Every alert rule (orchestration/alerts.yaml) replayed over its mart's whole history "
            "with the live evaluation: one row per rule and episode (fired, peak, back past exit, "
            "cleared), the S&P 500's 20-day return and drawdown after the fire, and the messages "
            "that were or would have been sent (docs/alerts.md).",
        ),
        _spec(
            SUMMARY_KEY,
            [HISTORY_KEY, LEADS_KEY],
            "One row per alert rule: fires per year, median duration, share of days active, "
            "S&P 500 20-day return and maximum drawdown after fires vs all days of the rule's "
            "period, official stress episodes preceded and the median lead.",
        ),
        _spec(
            LEADS_KEY,
            [HISTORY_KEY],
            "One row per alert rule and official stress-index episode (marts.fct_stress_episodes, "
            "benchmark_top_decile) inside the rule's history: was an alert active in the 90 days "
            "before it, and how many days ahead it fired.",
        ),
        _spec(
            NOTIFICATIONS_KEY,
            [HISTORY_KEY],
            "The alert outbox (alerts.notifications) and each rule's announced state "
            "(alerts.rule_state): a fire when a rule's alert starts, a recovery when it clears, "
            "each queued once however often the step reruns. alert_delivery_sensor delivers "
            "them (alerts.deliveries).",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "replays_every_rule",
            asset=SUMMARY_KEY,
            blocking=True,
            description="The summary has one row per rule of the rules file, and the history "
            "no rule the file does not define.",
        ),
        dg.AssetCheckSpec(
            "episodes_ordered_and_disjoint",
            asset=HISTORY_KEY,
            blocking=True,
            description="Per rule, episodes are numbered 1, 2, ... in date order, each fires "
            "after the previous one cleared, and only the last may still be open.",
        ),
    ],
)
def alert_evaluation(context: dg.AssetExecutionContext, settings: CrosswindSettings):
    settings = settings.resolve()
    synthetic = settings.source_mode == "sample"
    with warehouse.writer(settings.warehouse) as con:
        result = evaluate_and_store(
            con, RULES, now=clock.now(), run_id=context.run_id, synthetic=synthetic
        )
        checks = [_check_rules(con), _check_episodes(con)]
    frames = result.frames
    history, summary = frames[backtest.HISTORY.name], frames[backtest.SUMMARY.name]
    active = summary[summary["is_active"]]
    for row in result.enqueued:
        context.log.info(f"queued {row['kind']} of {row['rule_id']}: {row['text']}")
    note = {"data": SYNTHETIC_NOTE} if synthetic else {}
    yield dg.MaterializeResult(
        asset_key=HISTORY_KEY,
        metadata={
            "episodes": len(history),
            "rules": len(result.evaluations),
            "dagster/row_count": len(history),
            **note,
        },
    )
    yield dg.MaterializeResult(
        asset_key=LEADS_KEY,
        metadata={"dagster/row_count": len(frames[backtest.LEADS.name])},
    )
    yield dg.MaterializeResult(
        asset_key=SUMMARY_KEY,
        metadata={
            "dagster/row_count": len(summary),
            "rules": dg.MetadataValue.md(
                _table_md(
                    summary,
                    ["rule_id", "fires", "fires_per_year", "median_duration_days", "is_active"],
                )
            ),
            "active_now": dg.MetadataValue.json(sorted(active["rule_id"])),
            **note,
        },
    )
    yield dg.MaterializeResult(
        asset_key=NOTIFICATIONS_KEY,
        metadata={
            "queued_this_run": len(result.enqueued),
            "queued": dg.MetadataValue.json(
                [
                    {k: str(row[k]) for k in ("notification_id", "kind", "event_date", "text")}
                    for row in result.enqueued
                ]
            ),
            "active_rules": dg.MetadataValue.json(sorted(active["rule_id"])),
            **note,
        },
    )
    yield from checks


def _check_rules(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    summary = {
        r[0] for r in con.execute(f"SELECT rule_id FROM {backtest.SUMMARY.qualified}").fetchall()
    }
    history = {
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT rule_id FROM {backtest.HISTORY.qualified}"
        ).fetchall()
    }
    expected = set(RULES.rules)
    missing, extra = sorted(expected - summary), sorted((summary | history) - expected)
    return dg.AssetCheckResult(
        check_name="replays_every_rule",
        asset_key=SUMMARY_KEY,
        passed=not missing and not extra,
        description=(
            f"missing {missing}; not in the rules file {extra}" if missing or extra else None
        ),
        metadata={"rules": len(expected)},
    )


def _check_episodes(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    bad = con.execute(
        f"""
        SELECT rule_id, episode_number FROM (
            SELECT *,
                lag(cleared_date) OVER w AS previous_cleared,
                lag(is_open) OVER w AS previous_open,
                row_number() OVER w AS expected_number
            FROM {backtest.HISTORY.qualified}
            WINDOW w AS (PARTITION BY rule_id ORDER BY fired_date)
        )
        WHERE episode_number <> expected_number
           OR previous_open
           OR fired_date <= previous_cleared
        ORDER BY rule_id, episode_number LIMIT 10
        """
    ).fetchall()
    return dg.AssetCheckResult(
        check_name="episodes_ordered_and_disjoint",
        asset_key=HISTORY_KEY,
        passed=not bad,
        description=f"episodes out of order or overlapping: {bad}" if bad else None,
    )


@dg.asset_check(
    asset=NOTIFICATIONS_KEY,
    name=DELIVERED_CHECK,
    blocking=False,
    pool="duckdb_write",
    description="Every notification reached every configured channel (webhook, email) within "
    "15 minutes; WARN lists what waits and the last error. alert_delivery_sensor reports the "
    "same check after each delivery attempt.",
)
def alerts_delivered(settings: CrosswindSettings) -> dg.AssetCheckResult:
    settings = settings.resolve()
    report = delivery_status(settings.warehouse, channels_from_settings(settings.values))
    return dg.AssetCheckResult(**delivered_verdict(report, clock.now()))


def delivered_verdict(report: DeliveryReport, now: datetime) -> dict:
    """The `alerts_delivered` check on a delivery report (here and in the sensor's ticks)."""
    return {
        "asset_key": NOTIFICATIONS_KEY,
        "check_name": DELIVERED_CHECK,
        "passed": not report.overdue(now) and not report.problems,
        "severity": dg.AssetCheckSeverity.WARN,
        "description": report.summary()[:1000],
        "metadata": {
            "pending": report.pending,
            "sent_now": len(report.sent),
            "failed_now": len(report.failed),
            "channels": dg.MetadataValue.json(
                [
                    {
                        "channel": c.description,
                        "pending": c.pending,
                        "failing": c.failing,
                        "last_error": c.last_error,
                        "next_attempt_at": str(c.next_attempt_at) if c.next_attempt_at else None,
                    }
                    for c in report.channels
                ]
            ),
        },
    }
