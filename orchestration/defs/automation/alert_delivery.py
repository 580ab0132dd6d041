"""Alerts leave here: every minute the queued notifications go to the webhook and by email.

Channels come from the environment only (orchestration/lib/alerts/delivery.py, ALERT_ENV_VARS).
What was not delivered stays queued and is retried on a later tick with backoff. Each tick's
outcome is the tick's message in the UI (Automation > alert_delivery_sensor); when it changes,
the `alerts_delivered` check on alerts/notifications is re-reported (WARN while something is
overdue or a channel is misconfigured) with an observation carrying the counts.
"""

import hashlib
import json

import dagster as dg

from orchestration.defs.alerts.assets import NOTIFICATIONS_KEY, delivered_verdict
from orchestration.lib import clock
from orchestration.lib.alerts.delivery import channels_from_settings, deliver_pending
from orchestration.lib.settings import CrosswindSettings


@dg.sensor(
    name="alert_delivery_sensor",
    description="Delivers queued alerts (alerts.notifications) to CROSSWIND_ALERT_WEBHOOK_URL "
    "(Slack-compatible JSON) and by email (CROSSWIND_ALERT_SMTP_*, STARTTLS), oldest first; "
    "a failed attempt is retried on later ticks with backoff and never dropped.",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_delivery_sensor(
    context: dg.SensorEvaluationContext, settings: CrosswindSettings
) -> dg.SensorResult:
    settings = settings.resolve()
    report = deliver_pending(
        settings.warehouse, channels_from_settings(settings.values), now=clock.now
    )
    summary = report.summary()
    for sent_id, channel in report.sent:
        context.log.info(f"delivered {sent_id} by {channel}")
    for failed_id, channel, problem in report.failed:
        context.log.warning(f"not delivered {failed_id} by {channel}: {problem}")
    verdict = delivered_verdict(report, clock.now())
    # Report to the UI when the picture changes, not every minute.
    state = [
        verdict["passed"],
        report.note,
        report.problems,
        [(c.channel, c.pending, c.last_error) for c in report.channels],
    ]
    state = json.dumps(state, sort_keys=True, default=str)
    fingerprint = hashlib.sha256(state.encode()).hexdigest()[:16]
    events = []
    if not report.note and (report.sent or report.failed or fingerprint != context.cursor):
        events = [
            dg.AssetCheckEvaluation(**verdict),
            dg.AssetObservation(
                asset_key=NOTIFICATIONS_KEY,
                metadata=verdict["metadata"],
            ),
        ]
    return dg.SensorResult(skip_reason=summary, cursor=fingerprint, asset_events=events)
