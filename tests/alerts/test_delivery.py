"""Alerts reach a local webhook and a local SMTP server: hysteresis, cool-down, recovery, retry,
no duplicates, and no secret anywhere but where it is used."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from orchestration.lib import clock, warehouse
from orchestration.lib.alerts import delivery
from orchestration.lib.alerts.store import evaluate_and_store
from tests.support.alert_rules import score_rules
from tests.support.http_server import Reply
from tests.support.resources import crosswind_resources
from tests.support.smtp_server import LocalSmtpServer

RULES = score_rules(
    cooldown_days=3,
    severity="critical",
    message="{title}: score {value:.1f} on {date}",
    recovery="{title}: back to {value:.1f} on {date}, {days} days after it fired",
)
DAY0 = date(2026, 2, 2)
T0 = datetime(2026, 2, 2, 23, 0, tzinfo=UTC)
TOKEN = "T0AAA/B0BBB/xoxb-secret-token-9f8e7d"
HOOK = f"/services/{TOKEN}"
PASSWORD = "pa55-w0rd!"


class Desk:
    """A warehouse with one tiny mart, the evaluation step and the delivery, day by day."""

    def __init__(self, folder):
        self.path = folder / "crosswind.duckdb"
        with warehouse.writer(self.path) as con:
            con.execute("CREATE SCHEMA marts")
            con.execute("CREATE TABLE marts.fct_test_daily (date DATE, score DOUBLE)")
            con.execute(
                "CREATE TABLE marts.fct_asset_returns_daily AS SELECT d::DATE AS date, "
                "'sp500' AS asset, 5000 + 10 * row_number() OVER () AS close "
                "FROM range(DATE '2026-01-01', DATE '2026-04-01', INTERVAL 1 DAY) t(d)"
            )
            con.execute(
                "CREATE TABLE marts.fct_stress_episodes (benchmark_index VARCHAR, "
                "episode_number INTEGER, episode_kind VARCHAR, start_date DATE, "
                "start_published_date DATE, named_episode VARCHAR)"
            )
        self.day = DAY0 - timedelta(days=1)

    def next_day(self, score: float | None, runs: int = 1) -> list[dict]:
        """Append the next day's row and run the evaluation step `runs` times (a rerun)."""
        self.day += timedelta(days=1)
        with warehouse.writer(self.path) as con:
            con.execute("INSERT INTO marts.fct_test_daily VALUES (?, ?)", [self.day, score])
        queued = []
        for _ in range(runs):
            with warehouse.writer(self.path) as con:
                queued += evaluate_and_store(con, RULES, now=T0, run_id="run").enqueued
        return queued

    def deliver(self, config, at: datetime) -> delivery.DeliveryReport:
        return delivery.deliver_pending(self.path, config, now=lambda: at)


@pytest.fixture
def desk(tmp_path):
    return Desk(tmp_path / "warehouse")


def hook_config(http_server) -> delivery.ChannelConfig:
    config = delivery.channels_from_settings({delivery.WEBHOOK_URL_ENV: http_server.url(HOOK)})
    assert not config.problems
    return config


def posted(http_server) -> list[dict]:
    return [json.loads(r.body) for r in http_server.requests_to(HOOK)]


def test_hovering_value_fires_once_and_recovers_once_after_the_cool_down(desk, http_server):
    http_server.route(HOOK, Reply.text("ok"))
    config = hook_config(http_server)
    # enter 70, exit 60, cool-down 3 days. Day 2 fires; the value hovers around 70 (no new
    # alert); day 8 is back under 60, day 9 re-enters within the cool-down (same alert), day 10
    # is back under 60 again, and three days later (day 13) the alert recovers.
    scores = [50, 69.9, 70.1, 69.8, 70.2, 65, 61, 70.4, 59, 71, 58, 62, 55, 50, 50]
    seen = []
    for i, score in enumerate(scores):
        desk.next_day(score, runs=2 if i in (2, 13) else 1)  # reruns on the eventful days
        desk.deliver(config, T0 + timedelta(days=i))
        desk.deliver(config, T0 + timedelta(days=i, minutes=1))  # a second tick changes nothing
        seen.append(len(posted(http_server)))
    assert seen == [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2]
    fire, recovery = (p["text"] for p in posted(http_server))
    assert (
        fire == "[crosswind] Score high: FIRED (2026-02-04)\nScore high: score 70.1 on 2026-02-04"
    )
    assert recovery == (
        "[crosswind] Score high: RECOVERED (2026-02-15)\n"
        "Score high: back to 50.0 on 2026-02-15, 11 days after it fired"
    )
    request = http_server.requests_to(HOOK)[0]
    assert request.method == "POST" and request.headers["Content-Type"].startswith(
        "application/json"
    )
    assert request.headers["X-Crosswind-Notification-Id"] == "score_high:fire:2026-02-04"
    assert posted(http_server)[0]["blocks"][0]["text"]["type"] == "mrkdwn"


def test_a_rerun_of_the_whole_history_queues_nothing_new(desk):
    queued = [desk.next_day(s) for s in (50, 75, 80)]
    assert [len(q) for q in queued] == [0, 1, 0]
    assert desk.next_day(None, runs=3) == []  # a NULL day and two reruns: nothing new
    with warehouse.reader(desk.path) as con:
        assert con.execute("SELECT count(*) FROM alerts.notifications").fetchone() == (1,)
        state = con.execute("SELECT open_fired_date FROM alerts.rule_state").fetchone()
    assert state == (DAY0 + timedelta(days=1),)


def test_a_500_is_retried_on_a_later_tick_with_backoff_and_delivered_once(desk, http_server):
    http_server.route(HOOK, Reply.text("upstream down", status=500), Reply.text("ok"))
    config = hook_config(http_server)
    desk.next_day(50)
    desk.next_day(80)  # fires
    first = desk.deliver(config, T0)
    assert first.failed and not first.sent
    assert "HTTP 500" in first.summary() and "1 pending" in first.summary()
    assert "next attempt 2026-02-02 23:01:00 UTC" in first.summary()
    waiting = desk.deliver(config, T0 + timedelta(seconds=30))  # inside the 60 s backoff
    assert not waiting.sent and not waiting.failed
    assert len(http_server.requests_to(HOOK)) == 1
    later = desk.deliver(config, T0 + timedelta(seconds=61))
    assert [channel for _, channel in later.sent] == ["webhook"] and later.pending == 0
    desk.deliver(config, T0 + timedelta(minutes=10))
    assert len(http_server.requests_to(HOOK)) == 2
    with warehouse.reader(desk.path) as con:
        row = con.execute("SELECT status, attempts, last_error FROM alerts.deliveries").fetchone()
    assert row == ("sent", 2, None)


def test_undelivered_alerts_wait_in_order_and_show_as_overdue(desk, http_server):
    from orchestration.defs.alerts.assets import delivered_verdict

    http_server.route(HOOK, Reply.text("no", status=503, headers={"Retry-After": "120"}))
    config = hook_config(http_server)
    for score in (80, 50, 50, 50, 50):  # fires on day 0, recovers on day 4
        desk.next_day(score)
    report = desk.deliver(config, T0)
    assert report.pending == 2 and len(http_server.requests) == 1
    assert delivered_verdict(report, T0)["passed"]  # just queued: not overdue yet
    late = desk.deliver(config, T0 + timedelta(seconds=100))  # Retry-After 120 s honoured
    assert not late.failed and len(http_server.requests) == 1
    stuck = desk.deliver(config, T0 + timedelta(minutes=20))
    verdict = delivered_verdict(stuck, T0 + timedelta(minutes=20))
    assert not verdict["passed"] and verdict["severity"] == dg.AssetCheckSeverity.WARN
    assert "HTTP 503" in verdict["description"] and "2 pending" in verdict["description"]
    http_server.route(HOOK, Reply.text("ok"))
    desk.deliver(config, T0 + timedelta(hours=2))
    kinds = [p["text"].split(": ")[1].split(" ")[0] for p in posted(http_server)[-2:]]
    assert kinds == ["FIRED", "RECOVERED"]  # the recovery never overtakes its fire


def test_email_goes_over_starttls_with_login(desk, tmp_path):
    with LocalSmtpServer(tmp_path / "tls", password=PASSWORD) as smtp:
        config = delivery.channels_from_settings(smtp_env(smtp))
        assert not config.problems
        desk.next_day(80)
        report = desk.deliver(config, T0)
        assert report.sent == [("score_high:fire:2026-02-02", "email")]
        desk.deliver(config, T0 + timedelta(minutes=5))
        assert len(smtp.messages) == 1
        message = smtp.messages[0]
        assert smtp.sessions == [{"tls": True, "login": "alerts"}]
        assert message["Subject"] == "[crosswind] Score high: FIRED (2026-02-02)"
        assert message["To"] == "ops@example.org, risk@example.org"
        assert "Score high: score 80.0 on 2026-02-02" in message.get_content()


def test_a_server_without_starttls_gets_nothing(desk, tmp_path):
    with LocalSmtpServer(tmp_path / "plain", starttls=False) as smtp:
        config = delivery.channels_from_settings(smtp_env(smtp))
        desk.next_day(80)
        report = desk.deliver(config, T0)
    assert not report.sent and smtp.messages == []
    assert "offers no STARTTLS" in report.failed[0][2] and report.pending == 1


def smtp_env(smtp) -> dict[str, str]:
    return {
        delivery.SMTP_HOST_ENV: smtp.host,
        delivery.SMTP_PORT_ENV: str(smtp.port),
        delivery.SMTP_USER_ENV: "alerts",
        delivery.SMTP_PASSWORD_ENV: PASSWORD,
        delivery.SMTP_CA_FILE_ENV: str(smtp.ca_file),
        delivery.EMAIL_FROM_ENV: "crosswind@example.org",
        delivery.EMAIL_TO_ENV: "ops@example.org, risk@example.org",
    }


def test_secrets_never_reach_a_payload_a_log_the_database_or_the_ui(
    desk, http_server, tmp_path, monkeypatch, caplog
):
    """The sensor itself, with an endpoint that echoes its own URL back in an error."""
    from orchestration.defs.automation.alert_delivery import alert_delivery_sensor

    caplog.set_level(logging.DEBUG)
    http_server.route(HOOK, Reply.text(f"bad hook {http_server.url(HOOK)}", status=500))
    now = [T0]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    with LocalSmtpServer(tmp_path / "tls", password=PASSWORD) as smtp:
        for name, value in smtp_env(smtp).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv(delivery.WEBHOOK_URL_ENV, http_server.url(HOOK))
        monkeypatch.setenv("CROSSWIND_WAREHOUSE_DIR", str(desk.path.parent))
        desk.next_day(80)
        outputs = []
        with dg.instance_for_test() as instance:
            cursor = None
            for minutes in (0, 30, 33):  # fails, fails again (overdue), succeeds
                if minutes == 33:
                    http_server.route(HOOK, Reply.text("ok"))
                now[0] = T0 + timedelta(minutes=minutes)
                result = alert_delivery_sensor(
                    dg.build_sensor_context(
                        instance=instance, cursor=cursor, resources=crosswind_resources()
                    )
                )
                cursor = result.cursor
                outputs.append(result)
        assert len(smtp.messages) == 1
        mail = smtp.messages[0].as_string()
    bodies = [r.body.decode() for r in http_server.requests_to(HOOK)]
    assert len(bodies) == 3 and json.loads(bodies[-1])["text"].startswith("[crosswind]")
    # The webhook's path really carried the token, so the checks below mean something.
    assert TOKEN in http_server.requests_to(HOOK)[0].path
    with warehouse.reader(desk.path) as con:
        stored = [
            str(con.execute(f"SELECT * FROM {t}").fetchall())
            for t in ("alerts.notifications", "alerts.deliveries", "alerts.rule_state")
        ]
    ui = [r.skip_reason.skip_message for r in outputs]
    assert "HTTP 500: bad hook ***" in ui[0]  # the echoed URL is redacted, not dropped
    ui += [str(e) for r in outputs for e in r.asset_events]
    assert any(not e.passed for r in outputs for e in r.asset_events if hasattr(e, "passed"))
    for secret in (TOKEN, "xoxb-secret-token-9f8e7d", PASSWORD):
        for where, text in (
            ("payload", "\n".join(bodies)),
            ("email", mail),
            ("log", caplog.text),
            ("database", "\n".join(stored)),
            ("ui", "\n".join(ui)),
        ):
            assert secret not in text, f"secret found in {where}"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({delivery.WEBHOOK_URL_ENV: f"http://hooks.example.org{HOOK}"}, "plain http"),
        ({delivery.WEBHOOK_URL_ENV: f"ftp://x{HOOK}"}, "not an http"),
        ({delivery.SMTP_HOST_ENV: "mail", delivery.EMAIL_FROM_ENV: "a@b.c"}, "EMAIL_TO"),
        (
            {
                delivery.SMTP_HOST_ENV: "mail",
                delivery.EMAIL_FROM_ENV: "a@b.c",
                delivery.EMAIL_TO_ENV: "d@e.f",
                delivery.SMTP_PASSWORD_ENV: PASSWORD,
            },
            "without CROSSWIND_ALERT_SMTP_USER",
        ),
        ({delivery.SMTP_HOST_ENV: "mail", delivery.SMTP_PORT_ENV: "smtp"}, "not a port"),
    ],
)
def test_misconfigured_channels_name_the_variable_not_the_value(env, expected):
    config = delivery.channels_from_settings(env)
    assert config.channels == [] and len(config.problems) == 1
    assert expected in config.problems[0]
    assert TOKEN not in config.problems[0] and PASSWORD not in config.problems[0]


def test_every_alert_variable_is_documented():
    from orchestration.lib.settings import REPO_ROOT

    docs = (REPO_ROOT / "docs" / "alerts.md").read_text()
    example = (REPO_ROOT / ".env.example").read_text()
    for name in delivery.ALERT_ENV_VARS:
        assert f"`{name}`" in docs and f"# {name}=" in example, name
