"""Delivering alerts: a Slack-compatible webhook and email over SMTP with STARTTLS.

The alert sensor calls `deliver_pending` every minute. Under the warehouse write lock (taken with
a short timeout: a busy warehouse means "next tick"), each channel sends its undelivered
notifications oldest first and records every attempt in `alerts.deliveries`. A failed attempt
stops that channel for the tick (order is kept: a recovery never overtakes its fire) and is
retried on a later tick after an exponential backoff (1 min doubling to 1 h; a 429/503
Retry-After is honoured). Nothing is ever dropped: a notification stays pending until a channel
accepts it, and `delivery_status` shows what waits and why (the sensor's tick, the
`alerts_delivered` check).

Configuration comes from the environment only (ALERT_ENV_VARS). The webhook URL (its path is the
token) and the SMTP password are secrets: they never appear in a payload, a log line, an error,
the database or Dagster metadata; errors name the variable and the host, never the value.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import duckdb
import requests

from orchestration.lib import lake
from orchestration.lib.alerts.rules import RULES_ENV
from orchestration.lib.alerts.store import DELIVERIES, NOTIFICATIONS, SCHEMA
from orchestration.lib.errors import CrosswindError, WarehouseBusy
from orchestration.lib.http import USER_AGENT, parse_retry_after, redact_text, register_secrets
from orchestration.lib.settings import Warehouse
from orchestration.lib.warehouse import connect, exists, lock_for, upsert_row

log = logging.getLogger("crosswind.alerts")

WEBHOOK_URL_ENV = "CROSSWIND_ALERT_WEBHOOK_URL"
SMTP_HOST_ENV = "CROSSWIND_ALERT_SMTP_HOST"
SMTP_PORT_ENV = "CROSSWIND_ALERT_SMTP_PORT"
SMTP_USER_ENV = "CROSSWIND_ALERT_SMTP_USER"
SMTP_PASSWORD_ENV = "CROSSWIND_ALERT_SMTP_PASSWORD"
SMTP_CA_FILE_ENV = "CROSSWIND_ALERT_SMTP_CA_FILE"
EMAIL_FROM_ENV = "CROSSWIND_ALERT_EMAIL_FROM"
EMAIL_TO_ENV = "CROSSWIND_ALERT_EMAIL_TO"
# Every variable the alerts read (the rules file's path included), for docs and .env.example.
ALERT_ENV_VARS = (
    RULES_ENV,
    WEBHOOK_URL_ENV,
    SMTP_HOST_ENV,
    SMTP_PORT_ENV,
    SMTP_USER_ENV,
    SMTP_PASSWORD_ENV,
    SMTP_CA_FILE_ENV,
    EMAIL_FROM_ENV,
    EMAIL_TO_ENV,
)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

BASE_BACKOFF_S = 60.0
MAX_BACKOFF_S = 3600.0
TICK_BUDGET_S = 30.0  # Dagster gives a sensor tick 60 s
LOCK_TIMEOUT_S = 5.0
WEBHOOK_TIMEOUT_S = (5.0, 15.0)  # connect, read
SMTP_TIMEOUT_S = 15.0
# A notification undelivered for longer than this (on a configured channel) fails the check.
OVERDUE_AFTER = timedelta(minutes=15)


class AlertConfigError(CrosswindError):
    """The alert channels are configured wrongly (the message names the variable)."""


class DeliveryFailed(Exception):
    """One attempt failed; `problem` is already redacted."""

    def __init__(self, problem: str, retry_after: float | None = None):
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after


@dataclass(frozen=True)
class Notification:
    notification_id: str
    seq: int
    rule_id: str
    kind: str
    severity: str
    title: str
    fired_date: date
    event_date: date
    text: str

    @property
    def headline(self) -> str:
        verb = "FIRED" if self.kind == "fire" else "RECOVERED"
        return f"[crosswind] {self.title}: {verb} ({self.event_date.isoformat()})"


class Channel(Protocol):
    name: str

    def describe(self) -> str: ...

    def send(self, notification: Notification) -> None: ...


# --- webhook ------------------------------------------------------------------------------------


def _slack_escape(text: str) -> str:
    """Slack mrkdwn control characters (&, <, >) as entities, per Slack's formatting rules."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_payload(n: Notification) -> dict:
    """Slack's incoming-webhook JSON (`text` is the fallback other receivers read)."""
    headline = _slack_escape(n.headline)
    body = _slack_escape(n.text)
    context = (
        f"rule `{n.rule_id}` · severity {n.severity} · alert since {n.fired_date.isoformat()} · "
        f"id {n.notification_id}"
    )
    return {
        "text": f"{headline}\n{body}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*\n{body}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_escape(context)}]},
        ],
    }


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str, timeout: tuple[float, float] = WEBHOOK_TIMEOUT_S):
        parts = urlsplit(url)
        self._url = url
        self._where = f"{parts.scheme}://{parts.hostname}"
        # The whole URL, and its path and query on their own: Slack's token is the path.
        self.secrets = tuple(s for s in (url, parts.path, parts.query) if s and s != "/")
        register_secrets(*self.secrets)
        self._timeout = timeout

    def describe(self) -> str:
        return f"webhook ({self._where})"

    def send(self, n: Notification) -> None:
        try:
            response = requests.post(
                self._url,
                data=json.dumps(webhook_payload(n)).encode("utf-8"),
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "User-Agent": USER_AGENT,
                    # Receivers that deduplicate can key on it.
                    "X-Crosswind-Notification-Id": n.notification_id,
                },
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise DeliveryFailed(f"{self.describe()}: timed out") from None
        except requests.RequestException as exc:
            reason = redact_text(str(exc), self.secrets)[:200]
            raise DeliveryFailed(f"{self.describe()}: {type(exc).__name__}: {reason}") from None
        if 200 <= response.status_code < 300:
            return
        body = redact_text(" ".join(response.text.split()), self.secrets)[:200]
        retry_after = (
            parse_retry_after(response.headers.get("Retry-After"))
            if response.status_code in (429, 503)
            else None
        )
        raise DeliveryFailed(
            f"{self.describe()}: HTTP {response.status_code}" + (f": {body}" if body else ""),
            retry_after,
        )


# --- email --------------------------------------------------------------------------------------


class EmailChannel:
    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        user: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
        timeout: float = SMTP_TIMEOUT_S,
    ):
        self._host, self._port = host, port
        self._sender, self._recipients = sender, list(recipients)
        self._user, self._password = user, password
        self._ca_file, self._timeout = ca_file, timeout
        self.secrets = tuple(s for s in (password,) if s)
        register_secrets(*self.secrets)

    def describe(self) -> str:
        return f"email via {self._host}:{self._port}"

    def message(self, n: Notification) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = n.headline
        message["From"] = formataddr(("crosswind alerts", self._sender))
        message["To"] = ", ".join(self._recipients)
        message["Message-ID"] = make_msgid(domain="crosswind.alerts")
        message["X-Crosswind-Notification-Id"] = n.notification_id
        message.set_content(
            f"{n.text}\n\nrule: {n.rule_id}\nseverity: {n.severity}\n"
            f"alert since: {n.fired_date.isoformat()}\nnotification: {n.notification_id}\n"
        )
        return message

    def send(self, n: Notification) -> None:
        context = ssl.create_default_context(cafile=str(self._ca_file) if self._ca_file else None)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise DeliveryFailed(
                        f"{self.describe()}: the server offers no STARTTLS; crosswind sends "
                        "mail only over TLS"
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
                if self._user:
                    smtp.login(self._user, self._password or "")
                smtp.send_message(self.message(n))
        except DeliveryFailed:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            reason = redact_text(str(exc), self.secrets)[:200]
            raise DeliveryFailed(f"{self.describe()}: {type(exc).__name__}: {reason}") from None


# --- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelConfig:
    channels: list
    problems: list[str] = field(default_factory=list)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for c in self.channels for s in c.secrets)


def channels_from_settings(env: Mapping[str, str]) -> ChannelConfig:
    """The channels configured in `env` (the settings resource's values by variable,
    `Settings.values`); a misconfigured one is left out and described in `problems`."""
    channels, problems = [], []
    url = env.get(WEBHOOK_URL_ENV, "").strip()
    if url:
        try:
            channels.append(WebhookChannel(_checked_webhook_url(url)))
        except AlertConfigError as exc:
            problems.append(str(exc))
    if env.get(SMTP_HOST_ENV, "").strip():
        try:
            channels.append(_email_channel(env))
        except AlertConfigError as exc:
            problems.append(str(exc))
    return ChannelConfig(channels, problems)


def _checked_webhook_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AlertConfigError(f"{WEBHOOK_URL_ENV} is not an http(s) URL (value not shown)")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise AlertConfigError(
            f"{WEBHOOK_URL_ENV} points at {parts.hostname} over plain http: the URL is a "
            "secret, use https (http is accepted on loopback only)"
        )
    return url


def _email_channel(env: Mapping[str, str]) -> EmailChannel:
    host = env[SMTP_HOST_ENV].strip()
    port_text = env.get(SMTP_PORT_ENV, "").strip() or "587"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise AlertConfigError(f"{SMTP_PORT_ENV}={port_text!r} is not a port number")
    sender = env.get(EMAIL_FROM_ENV, "").strip()
    recipients = [r.strip() for r in env.get(EMAIL_TO_ENV, "").split(",") if r.strip()]
    if not sender or "@" not in sender:
        raise AlertConfigError(f"{SMTP_HOST_ENV} is set but {EMAIL_FROM_ENV} is not an address")
    if not recipients or any("@" not in r for r in recipients):
        raise AlertConfigError(
            f"{SMTP_HOST_ENV} is set but {EMAIL_TO_ENV} lists no valid address (comma-separated)"
        )
    user = env.get(SMTP_USER_ENV, "").strip() or None
    password = env.get(SMTP_PASSWORD_ENV) or None
    if password and not user:
        raise AlertConfigError(f"{SMTP_PASSWORD_ENV} is set without {SMTP_USER_ENV}")
    ca_text = env.get(SMTP_CA_FILE_ENV, "").strip()
    ca_file = Path(ca_text).expanduser() if ca_text else None
    if ca_file is not None and not ca_file.is_file():
        raise AlertConfigError(f"{SMTP_CA_FILE_ENV}={ca_file} is not a file")
    return EmailChannel(host, int(port_text), sender, recipients, user, password, ca_file)


# --- delivering ---------------------------------------------------------------------------------


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt after `attempts` failed ones."""
    delay = min(BASE_BACKOFF_S * 2 ** max(attempts - 1, 0), MAX_BACKOFF_S)
    return min(max(delay, retry_after or 0.0), MAX_BACKOFF_S)


@dataclass
class ChannelStatus:
    channel: str
    description: str
    pending: int = 0
    failing: int = 0
    oldest_pending_created_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None


@dataclass
class DeliveryReport:
    sent: list[tuple[str, str]] = field(default_factory=list)  # (notification id, channel)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (+ redacted problem)
    channels: list[ChannelStatus] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notifications: int = 0
    note: str | None = None  # why nothing was looked at (no warehouse, busy, ...)

    @property
    def pending(self) -> int:
        return sum(c.pending for c in self.channels)

    def overdue(self, now: datetime) -> list[ChannelStatus]:
        stamp = _naive(now)
        return [
            c
            for c in self.channels
            if c.oldest_pending_created_at is not None
            and stamp - c.oldest_pending_created_at > OVERDUE_AFTER
        ]

    def summary(self) -> str:
        if self.note:
            return self.note
        parts = (
            [f"{len(self.sent)} sent, {len(self.failed)} failed"]
            if self.sent or self.failed
            else []
        )
        for c in self.channels:
            text = f"{c.description}: {c.pending} pending"
            if c.last_error and c.pending:
                text += f" (last error: {c.last_error}"
                if c.next_attempt_at:
                    text += f"; next attempt {c.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC"
                text += ")"
            parts.append(text)
        if not self.channels:
            parts.append(
                f"no alert channel configured: {self.notifications} notification(s) kept in "
                f"{NOTIFICATIONS} (set {WEBHOOK_URL_ENV} or {SMTP_HOST_ENV} ...)"
            )
        parts += [f"configuration: {p}" for p in self.problems]
        return "; ".join(parts)


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def _tables_exist(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name IN "
        "('notifications', 'deliveries')",
        [SCHEMA],
    ).fetchone()[0]
    return found == 2


def _undelivered(con: duckdb.DuckDBPyConnection, channel: str) -> list[tuple]:
    return con.execute(
        f"SELECT n.notification_id, n.seq, n.rule_id, n.kind, n.severity, n.title, n.fired_date, "
        f"n.event_date, n.text, d.attempts, d.next_attempt_at, d.first_attempt_at "
        f"FROM {NOTIFICATIONS} n LEFT JOIN {DELIVERIES} d "
        "ON d.notification_id = n.notification_id AND d.channel = ? "
        "WHERE d.status IS DISTINCT FROM 'sent' ORDER BY n.seq",
        [channel],
    ).fetchall()


def _record(
    con: duckdb.DuckDBPyConnection,
    notification_id: str,
    channel: str,
    stamp: datetime,
    *,
    error: str | None,
    attempts: int,
    first: datetime | None,
    next_at: datetime | None,
) -> None:
    upsert_row(
        con,
        DELIVERIES,
        {"notification_id": notification_id, "channel": channel},
        [
            notification_id,
            channel,
            "failing" if error else "sent",
            attempts,
            first or stamp,
            stamp,
            next_at,
            None if error else stamp,
            error,
        ],
        "ON CONFLICT (notification_id, channel) DO UPDATE SET status = excluded.status, "
        "attempts = excluded.attempts, last_attempt_at = excluded.last_attempt_at, "
        "next_attempt_at = excluded.next_attempt_at, sent_at = excluded.sent_at, "
        "last_error = excluded.last_error",
    )


def deliver_pending(
    where: Warehouse | Path,
    config: ChannelConfig,
    *,
    now: Callable[[], datetime],
    budget_s: float = TICK_BUDGET_S,
    lock_timeout_s: float = LOCK_TIMEOUT_S,
) -> DeliveryReport:
    """Send what is due on every configured channel; record each attempt (module docstring)."""
    report = DeliveryReport(problems=list(config.problems))
    if not exists(where):
        report.note = f"no warehouse at {_where(where)} yet: nothing to deliver"
        return report
    started = time.monotonic()
    try:
        with lock_for(where, timeout_s=lock_timeout_s):
            con = connect(where)
            try:
                if not _tables_exist(con):
                    report.note = "no alert has been evaluated yet: nothing to deliver"
                    return report
                for channel in config.channels:
                    _deliver_channel(con, channel, now, started + budget_s, report, config)
                _fill_status(con, config, report)
            finally:
                con.close()
    except WarehouseBusy:
        report.note = "the warehouse is busy (a refresh is writing): delivery waits for next tick"
    return report


def _deliver_channel(con, channel, now, deadline: float, report: DeliveryReport, config) -> None:
    for row in _undelivered(con, channel.name):
        notification = Notification(*row[:9])
        attempts, next_at, first = row[9] or 0, row[10], row[11]
        stamp = _naive(now())
        if next_at is not None and next_at > stamp:
            return  # backing off; later notifications wait so the order holds
        if time.monotonic() > deadline:
            return  # the rest on the next tick
        problem, next_at = None, None
        try:
            channel.send(notification)
        except DeliveryFailed as failure:
            problem = redact_text(failure.problem, config.secrets)
            delay = backoff_seconds(attempts + 1, failure.retry_after)
            next_at = stamp + timedelta(seconds=delay)
        _record(
            con,
            notification.notification_id,
            channel.name,
            stamp,
            error=problem,
            attempts=attempts + 1,
            first=first,
            next_at=next_at,
        )
        if problem is None:
            log.info("alert %s delivered by %s", notification.notification_id, channel.describe())
            report.sent.append((notification.notification_id, channel.name))
            continue
        log.warning(
            "alert %s not delivered by %s (attempt %d): %s; next attempt at %s UTC",
            notification.notification_id,
            channel.describe(),
            attempts + 1,
            problem,
            f"{next_at:%Y-%m-%d %H:%M:%S}",
        )
        report.failed.append((notification.notification_id, channel.name, problem))
        return  # the channel is down: the rest wait, in order


def _fill_status(con: duckdb.DuckDBPyConnection, config: ChannelConfig, report) -> None:
    report.notifications = con.execute(f"SELECT count(*) FROM {NOTIFICATIONS}").fetchone()[0]
    for channel in config.channels:
        rows = _undelivered(con, channel.name)
        status = ChannelStatus(channel.name, channel.describe(), pending=len(rows))
        if rows:
            status.failing = sum(1 for r in rows if r[9])
            status.oldest_pending_created_at = con.execute(
                f"SELECT created_at FROM {NOTIFICATIONS} WHERE notification_id = ?", [rows[0][0]]
            ).fetchone()[0]
            status.next_attempt_at = rows[0][10]
            error = con.execute(
                f"SELECT last_error FROM {DELIVERIES} WHERE notification_id = ? AND channel = ?",
                [rows[0][0], channel.name],
            ).fetchone()
            status.last_error = error[0] if error else None
        report.channels.append(status)


def _where(where: Warehouse | Path) -> str:
    if isinstance(where, Warehouse) and where.is_lake:
        return lake.describe(where)
    return str(where.path if isinstance(where, Warehouse) else where)


def delivery_status(where: Warehouse | Path, config: ChannelConfig) -> DeliveryReport:
    """What waits on each channel, without sending anything (the `alerts_delivered` check)."""
    report = DeliveryReport(problems=list(config.problems))
    if not exists(where):
        report.note = f"no warehouse at {_where(where)} yet"
        return report
    with lock_for(where):
        con = connect(where, read_only=True)
        try:
            if not _tables_exist(con):
                report.note = "no alert has been evaluated yet"
                return report
            _fill_status(con, config, report)
        finally:
            con.close()
    return report
