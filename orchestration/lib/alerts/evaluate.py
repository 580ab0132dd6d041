"""The one evaluation of a rule: its daily metric from the marts, then `replay` over every day.

The live path and the history are the same call: each evaluation replays every rule over its
mart's whole history (a few thousand rows a rule, milliseconds), `marts.fct_alert_history` lists
the episodes, and what is new at the end of that history is what gets notified (store.py).

The state machine, day by day on the metric's own dates (rules.py has the rule's meaning):

- no value (NULL): nothing changes; a missing number is neither alarm nor all-clear;
- not active and the value reaches `enter`: active; a new episode fires, unless the previous
  one is still in its cool-down, which the re-entry then continues (counted in `reentries`);
- active and the value is back past `exit`: not active; the cool-down starts that day;
- not active for `cooldown_days` calendar days since then: the episode clears (recovery).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import pandas as pd

from orchestration.lib.alerts.rules import MARTS_SCHEMA, AlertRulesError, Rule, RuleSet, render


@dataclass(frozen=True)
class RuleSeries:
    """A rule's metric: ascending unique dates, a value (NaN = unknown) and a detail per date."""

    dates: list[date]
    values: list[float]
    details: list[str | None]

    def __post_init__(self):
        if not (len(self.dates) == len(self.values) == len(self.details)):
            raise ValueError("dates, values and details differ in length")
        if any(b <= a for a, b in zip(self.dates, self.dates[1:], strict=False)):
            raise ValueError("dates must be ascending and unique")

    @property
    def known(self) -> list[date]:
        return [d for d, v in zip(self.dates, self.values, strict=True) if not math.isnan(v)]


@dataclass
class Episode:
    """One alert from fire to recovery (cleared_date None: still active at the last date)."""

    rule_id: str
    number: int
    fired_date: date
    fire_value: float
    fire_detail: str | None
    peak_date: date
    peak_value: float
    exit_date: date | None = None
    cleared_date: date | None = None
    clear_value: float | None = None
    clear_detail: str | None = None
    reentries: int = 0

    @property
    def is_open(self) -> bool:
        return self.cleared_date is None


@dataclass
class Evaluation:
    """A rule replayed over its series: the episodes, and the last date the series covers."""

    rule: Rule
    series: RuleSeries
    episodes: list[Episode] = field(default_factory=list)

    @property
    def as_of(self) -> date | None:
        return self.series.dates[-1] if self.series.dates else None

    @property
    def open_episode(self) -> Episode | None:
        return self.episodes[-1] if self.episodes and self.episodes[-1].is_open else None


def replay(rule: Rule, series: RuleSeries) -> list[Episode]:
    """Every episode of `rule` over `series` (see the module docstring)."""
    episodes: list[Episode] = []
    current: Episode | None = None
    active = False
    quiet_since: date | None = None
    last_value, last_detail = math.nan, None
    cooldown = timedelta(days=rule.cooldown_days)
    for day, value, detail in zip(series.dates, series.values, series.details, strict=True):
        known = not math.isnan(value)
        if known:
            last_value, last_detail = value, detail
            if not active and rule.entered(value):
                active, quiet_since = True, None
                if current is None:
                    current = Episode(rule.id, len(episodes) + 1, day, value, detail, day, value)
                    episodes.append(current)
                else:
                    current.reentries += 1
                    current.exit_date = None
            elif active and rule.exited(value):
                active, quiet_since = False, day
                current.exit_date = day
            if current is not None and _more_extreme(rule, value, current.peak_value):
                current.peak_date, current.peak_value = day, value
        if current is not None and not active and day - quiet_since >= cooldown:
            current.cleared_date = day
            current.clear_value, current.clear_detail = last_value, last_detail
            current, quiet_since = None, None
    return episodes


def _more_extreme(rule: Rule, value: float, than: float) -> bool:
    return value > than if rule.direction == "above" else value < than


# --- reading the metric from the marts -----------------------------------------------------------


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _value_sql(rule: Rule) -> str:
    m = rule.metric
    if m.levels is not None:
        cases = " ".join(f"WHEN ? THEN {float(v)!r}" for v in m.levels.values())
        return f"CASE {_q(m.column)} {cases} END"
    if m.count_true is not None:
        known = " OR ".join(f"{_q(c)} IS NOT NULL" for c in m.count_true)
        total = " + ".join(f"coalesce(CAST({_q(c)} AS INTEGER), 0)" for c in m.count_true)
        return f"CASE WHEN {known} THEN CAST({total} AS DOUBLE) END"
    if m.count_items is not None:
        col = _q(m.count_items)
        return (
            f"CASE WHEN {col} IS NULL OR trim({col}) = '' THEN 0.0 "
            f"ELSE CAST(len(string_split({col}, ',')) AS DOUBLE) END"
        )
    return f"CAST({_q(m.column)} AS DOUBLE)"


def load_series(con: duckdb.DuckDBPyConnection, rule: Rule, as_of: date | None) -> RuleSeries:
    """The rule's metric from marts.<mart>; an event mart spread over calendar days to `as_of`."""
    table = f"{MARTS_SCHEMA}.{_q(rule.mart)}"
    params: list[object] = []
    value = _value_sql(rule)
    if rule.metric.levels is not None:
        params += list(rule.metric.levels)
    detail = f"CAST({_q(rule.detail)} AS VARCHAR)" if rule.detail else "NULL"
    if rule.detail is None and rule.metric.count_true:  # which columns are true, by name
        named = ", ".join(f"CASE WHEN {_q(c)} THEN ? END" for c in rule.metric.count_true)
        detail = f"nullif(concat_ws(',', {named}), '')"
        params += list(rule.metric.count_true)
    conditions = [f"{_q(rule.date_column)} IS NOT NULL"]
    for name, wanted in rule.where.items():
        conditions.append(f"{_q(name)} = ?")
        params.append(wanted)
    where = " AND ".join(conditions)
    try:
        if rule.metric.levels is not None:
            unknown = con.execute(
                f"SELECT DISTINCT CAST({_q(rule.metric.column)} AS VARCHAR) FROM {table} "
                f"WHERE {where} AND {_q(rule.metric.column)} IS NOT NULL "
                f"AND {_q(rule.metric.column)} NOT IN ({', '.join('?' * len(rule.metric.levels))})"
                " LIMIT 5",
                params[len(rule.metric.levels) :] + list(rule.metric.levels),
            ).fetchall()
            if unknown:
                raise AlertRulesError(
                    f"[alerts/{rule.id}] marts.{rule.mart}.{rule.metric.column} holds "
                    f"{sorted(u[0] for u in unknown)}, not in the rule's levels"
                )
        frame = con.execute(
            f"SELECT {_q(rule.date_column)} AS d, {value} AS v, {detail} AS detail "
            f"FROM {table} WHERE {where}",
            params,
        ).df()
    except duckdb.CatalogException as exc:
        raise AlertRulesError(
            f"[alerts/{rule.id}] cannot read marts.{rule.mart}: {str(exc).splitlines()[0]} "
            "(build the dbt marts first)"
        ) from None
    return _to_series(rule, frame, as_of)


def _to_series(rule: Rule, frame: pd.DataFrame, as_of: date | None) -> RuleSeries:
    frame["d"] = pd.to_datetime(frame["d"]).dt.date
    frame["v"] = pd.to_numeric(frame["v"], errors="coerce").astype(float)
    # The most extreme known value of a day counts (two margin changes on one day, say).
    frame = frame.sort_values(["d", "v"], ascending=[True, rule.direction == "below"])
    frame = frame.drop_duplicates("d", keep="first")  # NaN sorts last either way
    if rule.between_events is not None and len(frame):
        end = max(frame["d"].iloc[-1], as_of or frame["d"].iloc[-1])
        days = pd.date_range(frame["d"].iloc[0], end, freq="D").date
        frame = frame.set_index("d").reindex(days)
        frame["v"] = frame["v"].fillna(rule.between_events)
        frame = frame.rename_axis("d").reset_index()
    if rule.metric.rolling_sum is not None:
        frame["v"] = frame["v"].rolling(rule.metric.rolling_sum, min_periods=1).sum()
    details = [None if pd.isna(x) else str(x) for x in frame["detail"]]
    return RuleSeries(list(frame["d"]), [float(v) for v in frame["v"]], details)


def evaluate_rules(con: duckdb.DuckDBPyConnection, rules: RuleSet) -> dict[str, Evaluation]:
    """Every rule replayed over its mart's history.

    Event marts are evaluated through the newest date of the daily marts the rules read, so a
    quiet stretch after the last event still clears an alert.
    """
    series: dict[str, RuleSeries] = {}
    daily = [r for r in rules.rules.values() if r.between_events is None]
    for rule in daily:
        series[rule.id] = load_series(con, rule, None)
    ends = [s.dates[-1] for s in series.values() if s.dates]
    as_of = max(ends) if ends else None
    for rule in rules.rules.values():
        if rule.between_events is not None:
            series[rule.id] = load_series(con, rule, as_of)
    return {
        rule_id: Evaluation(rule, series[rule_id], replay(rule, series[rule_id]))
        for rule_id, rule in rules.rules.items()
    }


# --- messages ----------------------------------------------------------------------------------


def fire_text(rule: Rule, episode: Episode) -> str:
    return render(rule.message, _context(rule, episode, fired=True))


def recovery_text(rule: Rule, episode: Episode) -> str:
    return render(rule.recovery, _context(rule, episode, fired=False))


def _context(rule: Rule, episode: Episode, *, fired: bool) -> dict[str, object]:
    when = episode.fired_date if fired else episode.cleared_date
    value = episode.fire_value if fired else episode.clear_value
    detail = episode.fire_detail if fired else episode.clear_detail
    return {
        "title": rule.title,
        "date": when,
        "value": math.nan if value is None else value,
        "detail": detail or "",
        "enter": rule.enter,
        "exit": rule.exit,
        "cooldown": rule.cooldown_days,
        "since": episode.fired_date,
        "days": (when - episode.fired_date).days,
    }
