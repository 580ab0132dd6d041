"""Alert state in the warehouse: what was announced, what waits to be delivered.

One transaction per evaluation (under the warehouse write lock) replaces the backtest marts,
compares each rule's replay with `alerts.rule_state` and appends what is new to
`alerts.notifications`, so a rerun or a re-execution finds its own state and enqueues nothing
twice. The delivery sensor (delivery.py) records each attempt in `alerts.deliveries`.

What is new for a rule, given the stored state (the alert it announced and the last date it saw):

- the announced alert is over (its episode cleared, or a revision removed it): its recovery;
- every episode fired after the last date seen: its fire (and its recovery if it already
  cleared, e.g. after days without a run);
- an active episode nobody was told about (the first evaluation of a rule, or a revised recent
  row): its fire. Episodes that ended before the first evaluation are history, not news.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb
import pandas as pd

from orchestration.lib.alerts.backtest import TABLES, backtest_frames
from orchestration.lib.alerts.evaluate import (
    Episode,
    Evaluation,
    evaluate_rules,
    fire_text,
    recovery_text,
)
from orchestration.lib.alerts.rules import MARTS_SCHEMA, RuleSet
from orchestration.lib.warehouse import portable_ddl, upsert_row

SCHEMA = "alerts"
STATE = f"{SCHEMA}.rule_state"
NOTIFICATIONS = f"{SCHEMA}.notifications"
DELIVERIES = f"{SCHEMA}.deliveries"
SYNTHETIC_PREFIX = "[SYNTHETIC sample data] "

DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {STATE} (
        rule_id VARCHAR PRIMARY KEY,
        evaluated_through DATE,
        open_fired_date DATE,
        rule_digest VARCHAR NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        run_id VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS {NOTIFICATIONS} (
        notification_id VARCHAR PRIMARY KEY,
        seq BIGINT NOT NULL UNIQUE,
        rule_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL CHECK (kind IN ('fire', 'recovery')),
        severity VARCHAR NOT NULL,
        title VARCHAR NOT NULL,
        fired_date DATE NOT NULL,
        event_date DATE NOT NULL,
        value DOUBLE,
        detail VARCHAR,
        text VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        run_id VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS {DELIVERIES} (
        notification_id VARCHAR NOT NULL,
        channel VARCHAR NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN ('sent', 'failing')),
        attempts INTEGER NOT NULL CHECK (attempts >= 1),
        first_attempt_at TIMESTAMP NOT NULL,
        last_attempt_at TIMESTAMP NOT NULL,
        next_attempt_at TIMESTAMP,
        sent_at TIMESTAMP,
        last_error VARCHAR,
        PRIMARY KEY (notification_id, channel))""",
)


def ensure_alert_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        con.execute(portable_ddl(con, statement))


@dataclass(frozen=True)
class StoredState:
    evaluated_through: date | None
    open_fired_date: date | None


@dataclass(frozen=True)
class Event:
    kind: str  # fire | recovery
    rule_id: str
    episode: Episode
    text: str

    @property
    def event_date(self) -> date:
        return self.episode.fired_date if self.kind == "fire" else self.episode.cleared_date


def due_events(evaluation: Evaluation, state: StoredState | None) -> list[Event]:
    """What to announce for one rule, given what was announced (see the module docstring)."""
    rule, episodes, current = evaluation.rule, evaluation.episodes, evaluation.open_episode
    events: list[Event] = []

    def fire(ep: Episode) -> None:
        events.append(Event("fire", rule.id, ep, fire_text(rule, ep)))

    def recover(ep: Episode) -> None:
        events.append(Event("recovery", rule.id, ep, recovery_text(rule, ep)))

    told = None
    seen = state.evaluated_through if state is not None else None
    if state is not None and state.open_fired_date is not None:
        announced = state.open_fired_date
        told = next((e for e in episodes if e.fired_date == announced), None)
        if told is None:  # a revision moved its start: the episode over the days since then
            told = next(
                (
                    e
                    for e in episodes
                    if e.fired_date <= max(announced, seen or announced)
                    and (e.is_open or e.cleared_date >= announced)
                ),
                None,
            )
        if told is None:
            recover(_vanished(evaluation, announced))
        elif not told.is_open:
            recover(told)
    for ep in episodes:
        if ep is told or seen is None or ep.fired_date <= seen:
            continue
        fire(ep)
        if not ep.is_open:
            recover(ep)
    if current is not None and current is not told and (seen is None or current.fired_date <= seen):
        fire(current)
    return sorted(events, key=lambda e: (e.event_date, e.kind != "fire"))


def _vanished(evaluation: Evaluation, announced: date) -> Episode:
    """The announced alert after a revision removed its episode: it ends on the last date seen."""
    series = evaluation.series
    last = evaluation.as_of or announced
    known = [
        (v, d) for v, d in zip(series.values, series.details, strict=True) if not math.isnan(v)
    ]
    value, detail = known[-1] if known else (math.nan, None)
    return Episode(
        evaluation.rule.id,
        0,
        announced,
        math.nan,
        None,
        announced,
        math.nan,
        exit_date=last,
        cleared_date=max(last, announced),
        clear_value=value,
        clear_detail=detail,
    )


@dataclass
class StoreResult:
    evaluations: dict[str, Evaluation]
    frames: dict[str, pd.DataFrame]
    enqueued: list[dict] = field(default_factory=list)


def evaluate_and_store(
    con: duckdb.DuckDBPyConnection,
    rules: RuleSet,
    *,
    now: datetime,
    run_id: str | None = None,
    synthetic: bool = False,
) -> StoreResult:
    """Replay every rule, replace the backtest marts and enqueue what is new; one transaction."""
    evaluations = evaluate_rules(con, rules)
    frames = backtest_frames(con, evaluations)
    stamp = now.replace(tzinfo=None)
    result = StoreResult(evaluations, frames)
    ensure_alert_tables(con)
    con.execute("BEGIN TRANSACTION")
    try:
        _write_marts(con, frames)
        states = _states(con)
        seq = con.execute(f"SELECT coalesce(max(seq), 0) FROM {NOTIFICATIONS}").fetchone()[0]
        for rule_id, evaluation in evaluations.items():
            for event in due_events(evaluation, states.get(rule_id)):
                seq += 1
                row = _notification(con, event, evaluation, seq, stamp, run_id, synthetic)
                result.enqueued.append(row)
            _save_state(con, evaluation, states.get(rule_id), stamp, run_id)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return result


def _write_marts(con: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame]) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {MARTS_SCHEMA}")
    for contract in TABLES:
        frame = frames[contract.name][contract.column_names]
        con.execute(portable_ddl(con, contract.ddl()))
        con.register("cw_alert_frame", frame)
        try:
            columns = ", ".join(contract.column_names)
            con.execute(
                f"INSERT INTO {contract.qualified} ({columns}) SELECT {columns} FROM cw_alert_frame"
            )
        finally:
            con.unregister("cw_alert_frame")


def _states(con: duckdb.DuckDBPyConnection) -> dict[str, StoredState]:
    rows = con.execute(
        f"SELECT rule_id, evaluated_through, open_fired_date FROM {STATE}"
    ).fetchall()
    return {r: StoredState(through, opened) for r, through, opened in rows}


def _notification(con, event: Event, evaluation, seq, stamp, run_id, synthetic) -> dict:
    rule = evaluation.rule
    base = f"{rule.id}:{event.kind}:{event.episode.fired_date.isoformat()}"
    taken = {
        r[0]
        for r in con.execute(
            f"SELECT notification_id FROM {NOTIFICATIONS} WHERE starts_with(notification_id, ?)",
            [base],
        ).fetchall()
    }
    # The same alert announced again after a revision reopened it gets its own id.
    notification_id = base
    n = 1
    while notification_id in taken:
        n += 1
        notification_id = f"{base}#{n}"
    ep = event.episode
    value = ep.fire_value if event.kind == "fire" else ep.clear_value
    detail = ep.fire_detail if event.kind == "fire" else ep.clear_detail
    row = {
        "notification_id": notification_id,
        "seq": seq,
        "rule_id": rule.id,
        "kind": event.kind,
        "severity": rule.severity,
        "title": rule.title,
        "fired_date": ep.fired_date,
        "event_date": event.event_date,
        "value": None if value is None or math.isnan(value) else value,
        "detail": detail,
        "text": (SYNTHETIC_PREFIX if synthetic else "") + event.text,
        "created_at": stamp,
        "run_id": run_id,
    }
    con.execute(
        f"INSERT INTO {NOTIFICATIONS} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    return row


def _save_state(con, evaluation: Evaluation, old: StoredState | None, stamp, run_id) -> None:
    current = evaluation.open_episode
    through = evaluation.as_of
    if old is not None and old.evaluated_through is not None:
        through = max(filter(None, (through, old.evaluated_through)))
    upsert_row(
        con,
        STATE,
        {"rule_id": evaluation.rule.id},
        [
            evaluation.rule.id,
            through,
            current.fired_date if current else None,
            evaluation.rule.digest,
            stamp,
            run_id,
        ],
        "ON CONFLICT (rule_id) DO UPDATE SET evaluated_through = excluded.evaluated_through, "
        "open_fired_date = excluded.open_fired_date, rule_digest = excluded.rule_digest, "
        "updated_at = excluded.updated_at, run_id = excluded.run_id",
    )


def pending_counts(con: duckdb.DuckDBPyConnection, channels: Iterable[str]) -> dict[str, int]:
    """Notifications not yet delivered, per channel."""
    counts = {}
    for channel in channels:
        counts[channel] = con.execute(
            f"SELECT count(*) FROM {NOTIFICATIONS} n LEFT JOIN {DELIVERIES} d "
            "ON d.notification_id = n.notification_id AND d.channel = ? "
            "WHERE d.status IS DISTINCT FROM 'sent'",
            [channel],
        ).fetchone()[0]
    return counts
