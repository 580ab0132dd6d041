"""The backtest marts: every rule's replayed episodes, what the S&P 500 did after each fire, and
how early the rules fired before the official stress indices' episodes.

- `marts.fct_alert_history`: one row per rule and episode (evaluate.replay).
- `marts.fct_alert_benchmark_leads`: one row per rule and official-index episode
  (`marts.fct_stress_episodes`, kind benchmark_top_decile) inside the rule's history.
- `marts.fct_alert_summary`: one row per rule.

S&P 500 after a fire: the base is the last close on or before the fire date (what was known when
the alert went out); the 20-day return is the close 20 trading days later over the base; the
maximum drawdown is the lowest of the next 20 closes over the base, capped at 0. "All days" is the
same for every S&P 500 trading day within the dates the rule has a value, so each rule is compared
with its own period.

Lead: an official episode is *preceded* when an alert of the rule was active at any time in the
LEAD_WINDOW_DAYS up to the episode's first reading; the lead is the episode's start minus the
latest such fire date (and minus it from the reading's publication date, `..._vs_publication`).

The tables are written by Python, so their contracts live here: column types, NOT NULL, keys and
CHECK constraints, enforced by DuckDB on every write (store.write_marts), then published like
every mart (serving copies every table of schema marts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from orchestration.lib.alerts.evaluate import Evaluation, fire_text, recovery_text
from orchestration.lib.alerts.rules import MARTS_SCHEMA

HORIZON_DAYS = 20  # trading days after a fire
LEAD_WINDOW_DAYS = 90  # calendar days before an official episode's start
DAYS_PER_YEAR = 365.25
SP500 = "sp500"


@dataclass(frozen=True)
class TableContract:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type [NOT NULL])
    key: tuple[str, ...]
    checks: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]

    @property
    def qualified(self) -> str:
        return f"{MARTS_SCHEMA}.{self.name}"

    def ddl(self) -> str:
        parts = [f"{c} {t}" for c, t in self.columns]
        parts.append(f"PRIMARY KEY ({', '.join(self.key)})")
        parts += [f"CHECK ({c})" for c in self.checks]
        return f"CREATE OR REPLACE TABLE {self.qualified} (\n  " + ",\n  ".join(parts) + "\n)"


HISTORY = TableContract(
    "fct_alert_history",
    (
        ("rule_id", "VARCHAR NOT NULL"),
        ("episode_number", "INTEGER NOT NULL"),
        ("rule_title", "VARCHAR NOT NULL"),
        ("severity", "VARCHAR NOT NULL"),
        ("fired_date", "DATE NOT NULL"),
        ("fire_value", "DOUBLE NOT NULL"),
        ("fire_detail", "VARCHAR"),
        ("peak_date", "DATE NOT NULL"),
        ("peak_value", "DOUBLE NOT NULL"),
        ("exit_date", "DATE"),
        ("cleared_date", "DATE"),
        ("is_open", "BOOLEAN NOT NULL"),
        ("duration_days", "INTEGER NOT NULL"),
        ("reentries", "INTEGER NOT NULL"),
        ("sp500_base_date", "DATE"),
        ("sp500_return_20d", "DOUBLE"),
        ("sp500_max_drawdown_20d", "DOUBLE"),
        ("fire_message", "VARCHAR NOT NULL"),
        ("recovery_message", "VARCHAR"),
        ("rule_digest", "VARCHAR NOT NULL"),
        ("evaluated_through", "DATE NOT NULL"),
    ),
    key=("rule_id", "episode_number"),
    checks=(
        "episode_number >= 1",
        "severity IN ('info', 'warning', 'critical')",
        "fired_date <= peak_date AND peak_date <= coalesce(cleared_date, evaluated_through)",
        "exit_date IS NULL OR (exit_date > fired_date AND exit_date <= coalesce(cleared_date, "
        "evaluated_through))",
        "is_open = (cleared_date IS NULL)",
        "is_open OR exit_date IS NOT NULL",
        "is_open = (recovery_message IS NULL)",
        "duration_days = coalesce(cleared_date, evaluated_through) - fired_date",
        "reentries >= 0",
        "sp500_base_date IS NULL OR sp500_base_date <= fired_date",
        "sp500_max_drawdown_20d IS NULL OR sp500_max_drawdown_20d BETWEEN -1 AND 0",
        "sp500_return_20d IS NULL OR sp500_return_20d > -1",
    ),
)

LEADS = TableContract(
    "fct_alert_benchmark_leads",
    (
        ("rule_id", "VARCHAR NOT NULL"),
        ("benchmark_index", "VARCHAR NOT NULL"),
        ("benchmark_episode_number", "INTEGER NOT NULL"),
        ("benchmark_start_date", "DATE NOT NULL"),
        ("benchmark_start_published_date", "DATE NOT NULL"),
        ("named_episode", "VARCHAR"),
        ("is_preceded", "BOOLEAN NOT NULL"),
        ("latest_fire_date", "DATE"),
        ("lead_days", "INTEGER"),
        ("lead_days_vs_publication", "INTEGER"),
        ("lead_window_days", "INTEGER NOT NULL"),
    ),
    key=("rule_id", "benchmark_index", "benchmark_episode_number"),
    checks=(
        "is_preceded = (latest_fire_date IS NOT NULL)",
        "is_preceded = (lead_days IS NOT NULL)",
        "lead_days IS NULL OR lead_days >= 0",
        "lead_days IS NULL OR lead_days_vs_publication = "
        "benchmark_start_published_date - latest_fire_date",
        "benchmark_start_published_date >= benchmark_start_date",
    ),
)

SUMMARY = TableContract(
    "fct_alert_summary",
    (
        ("rule_id", "VARCHAR NOT NULL"),
        ("rule_title", "VARCHAR NOT NULL"),
        ("severity", "VARCHAR NOT NULL"),
        ("mart", "VARCHAR NOT NULL"),
        ("metric", "VARCHAR NOT NULL"),
        ("direction", "VARCHAR NOT NULL"),
        ("enter_level", "DOUBLE NOT NULL"),
        ("exit_level", "DOUBLE NOT NULL"),
        ("cooldown_days", "INTEGER NOT NULL"),
        ("rule_digest", "VARCHAR NOT NULL"),
        ("first_date", "DATE"),
        ("last_date", "DATE"),
        ("years_covered", "DOUBLE NOT NULL"),
        ("days_evaluated", "INTEGER NOT NULL"),
        ("days_active", "INTEGER NOT NULL"),
        ("share_of_days_active", "DOUBLE"),
        ("fires", "INTEGER NOT NULL"),
        ("fires_per_year", "DOUBLE"),
        ("median_duration_days", "DOUBLE"),
        ("reentries_absorbed", "INTEGER NOT NULL"),
        ("is_active", "BOOLEAN NOT NULL"),
        ("active_since", "DATE"),
        ("sp500_fires_with_return_20d", "INTEGER NOT NULL"),
        ("sp500_avg_return_20d_after_fire", "DOUBLE"),
        ("sp500_avg_return_20d_all_days", "DOUBLE"),
        ("sp500_median_return_20d_after_fire", "DOUBLE"),
        ("sp500_median_return_20d_all_days", "DOUBLE"),
        ("sp500_avg_max_drawdown_20d_after_fire", "DOUBLE"),
        ("sp500_avg_max_drawdown_20d_all_days", "DOUBLE"),
        ("benchmark_episodes", "INTEGER NOT NULL"),
        ("benchmark_episodes_preceded", "INTEGER NOT NULL"),
        ("median_lead_days", "DOUBLE"),
        ("median_lead_days_vs_publication", "DOUBLE"),
        ("evaluated_through", "DATE"),
    ),
    key=("rule_id",),
    checks=(
        "direction IN ('above', 'below')",
        "cooldown_days >= 0",
        "fires >= 0 AND days_active <= days_evaluated",
        "(days_evaluated = 0) = (first_date IS NULL)",
        "share_of_days_active IS NULL OR share_of_days_active BETWEEN 0 AND 1",
        "is_active = (active_since IS NOT NULL)",
        "benchmark_episodes_preceded <= benchmark_episodes",
        "sp500_fires_with_return_20d <= fires",
        "sp500_avg_max_drawdown_20d_after_fire IS NULL "
        "OR sp500_avg_max_drawdown_20d_after_fire <= 0",
    ),
)

TABLES = (HISTORY, SUMMARY, LEADS)


# --- inputs -------------------------------------------------------------------------------------


def sp500_forward(con: duckdb.DuckDBPyConnection, horizon: int = HORIZON_DAYS) -> pd.DataFrame:
    """Per S&P 500 trading day (index `date`): close, return over `horizon` trading days, and the
    maximum drawdown from that close over them (<= 0). NULL where fewer days follow."""
    frame = con.execute(
        f"SELECT date, close FROM {MARTS_SCHEMA}.fct_asset_returns_daily "
        "WHERE asset = ? AND close IS NOT NULL ORDER BY date",
        [SP500],
    ).df()
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    closes = frame["close"].to_numpy(dtype=float)
    n = len(closes)
    ret = np.full(n, np.nan)
    drawdown = np.full(n, np.nan)
    if n > horizon:
        ahead = np.lib.stride_tricks.sliding_window_view(closes[1:], horizon)[: n - horizon]
        ret[: n - horizon] = ahead[:, -1] / closes[: n - horizon] - 1
        lows = ahead.min(axis=1) / closes[: n - horizon] - 1
        drawdown[: n - horizon] = np.minimum(lows, 0.0)
    frame["return_20d"] = ret
    frame["max_drawdown_20d"] = drawdown
    return frame.set_index("date")


def benchmark_episodes(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    frame = con.execute(
        f"SELECT benchmark_index, episode_number, start_date, start_published_date, named_episode "
        f"FROM {MARTS_SCHEMA}.fct_stress_episodes WHERE episode_kind = 'benchmark_top_decile' "
        "ORDER BY start_date, benchmark_index"
    ).df()
    for col in ("start_date", "start_published_date"):
        frame[col] = pd.to_datetime(frame[col]).dt.date
    return frame


# --- the three marts ------------------------------------------------------------------------------


def _base_row(sp500: pd.DataFrame, day: date) -> pd.Series | None:
    """The last S&P 500 row on or before `day`."""
    position = sp500.index.searchsorted(day, side="right") - 1
    return sp500.iloc[position] if position >= 0 else None


def _none(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def history_frame(evaluations: dict[str, Evaluation], sp500: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for evaluation in evaluations.values():
        rule, through = evaluation.rule, evaluation.as_of
        for ep in evaluation.episodes:
            base = _base_row(sp500, ep.fired_date)
            end = ep.cleared_date or through
            rows.append(
                {
                    "rule_id": rule.id,
                    "episode_number": ep.number,
                    "rule_title": rule.title,
                    "severity": rule.severity,
                    "fired_date": ep.fired_date,
                    "fire_value": ep.fire_value,
                    "fire_detail": ep.fire_detail,
                    "peak_date": ep.peak_date,
                    "peak_value": ep.peak_value,
                    "exit_date": ep.exit_date,
                    "cleared_date": ep.cleared_date,
                    "is_open": ep.is_open,
                    "duration_days": (end - ep.fired_date).days,
                    "reentries": ep.reentries,
                    "sp500_base_date": None if base is None else base.name,
                    "sp500_return_20d": None if base is None else _none(base["return_20d"]),
                    "sp500_max_drawdown_20d": (
                        None if base is None else _none(base["max_drawdown_20d"])
                    ),
                    "fire_message": fire_text(rule, ep),
                    "recovery_message": None if ep.is_open else recovery_text(rule, ep),
                    "rule_digest": rule.digest,
                    "evaluated_through": through,
                }
            )
    return pd.DataFrame(rows, columns=HISTORY.column_names)


def _coverage(evaluation: Evaluation) -> tuple[date | None, date | None]:
    known = evaluation.series.known
    return (known[0], known[-1]) if known else (None, None)


def leads_frame(evaluations: dict[str, Evaluation], episodes: pd.DataFrame) -> pd.DataFrame:
    rows = []
    window = pd.Timedelta(days=LEAD_WINDOW_DAYS).to_pytimedelta()
    for evaluation in evaluations.values():
        first, last = _coverage(evaluation)
        if first is None:
            continue
        for bench in episodes.itertuples(index=False):
            start = bench.start_date
            # Only episodes whose whole lead window the rule's history covers.
            if start - window < first or start > last:
                continue
            fires = [
                ep.fired_date
                for ep in evaluation.episodes
                if ep.fired_date <= start
                and (ep.cleared_date is None or ep.cleared_date >= start - window)
            ]
            latest = max(fires) if fires else None
            rows.append(
                {
                    "rule_id": evaluation.rule.id,
                    "benchmark_index": bench.benchmark_index,
                    "benchmark_episode_number": int(bench.episode_number),
                    "benchmark_start_date": start,
                    "benchmark_start_published_date": bench.start_published_date,
                    "named_episode": None if pd.isna(bench.named_episode) else bench.named_episode,
                    "is_preceded": latest is not None,
                    "latest_fire_date": latest,
                    "lead_days": None if latest is None else (start - latest).days,
                    "lead_days_vs_publication": (
                        None if latest is None else (bench.start_published_date - latest).days
                    ),
                    "lead_window_days": LEAD_WINDOW_DAYS,
                }
            )
    return pd.DataFrame(rows, columns=LEADS.column_names)


def _metric_label(evaluation: Evaluation) -> str:
    m = evaluation.rule.metric
    if m.count_true:
        return "count_true(" + ", ".join(m.count_true) + ")"
    if m.count_items:
        return f"count_items({m.count_items})"
    if m.levels:
        return f"{m.column} (" + ", ".join(f"{k}={v:g}" for k, v in m.levels.items()) + ")"
    return m.column


def _mean(values) -> float | None:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(values)) if values else None


def _median(values) -> float | None:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.median(values)) if values else None


def summary_frame(
    evaluations: dict[str, Evaluation],
    history: pd.DataFrame,
    leads: pd.DataFrame,
    sp500: pd.DataFrame,
) -> pd.DataFrame:
    rows = []
    for rule_id, evaluation in evaluations.items():
        rule = evaluation.rule
        first, last = _coverage(evaluation)
        mine = history[history["rule_id"] == rule_id]
        my_leads = leads[leads["rule_id"] == rule_id]
        known = [
            d
            for d, v in zip(evaluation.series.dates, evaluation.series.values, strict=True)
            if not math.isnan(v)
        ]
        active_days = sum(
            1
            for d in known
            if any(
                ep.fired_date <= d and (ep.cleared_date is None or d < ep.cleared_date)
                for ep in evaluation.episodes
            )
        )
        years = ((last - first).days + 1) / DAYS_PER_YEAR if first else 0.0
        in_period = (
            sp500[(sp500.index >= first) & (sp500.index <= last)] if first else sp500.iloc[:0]
        )
        fires = len(evaluation.episodes)
        closed = [ep for ep in evaluation.episodes if not ep.is_open]
        opened = evaluation.open_episode
        preceded = my_leads.loc[my_leads["is_preceded"].astype(bool)]
        rows.append(
            {
                "rule_id": rule_id,
                "rule_title": rule.title,
                "severity": rule.severity,
                "mart": rule.mart,
                "metric": _metric_label(evaluation),
                "direction": rule.direction,
                "enter_level": rule.enter,
                "exit_level": rule.exit,
                "cooldown_days": rule.cooldown_days,
                "rule_digest": rule.digest,
                "first_date": first,
                "last_date": last,
                "years_covered": years,
                "days_evaluated": len(known),
                "days_active": active_days,
                "share_of_days_active": active_days / len(known) if known else None,
                "fires": fires,
                "fires_per_year": fires / years if years else None,
                "median_duration_days": _median(
                    [float((ep.cleared_date - ep.fired_date).days) for ep in closed]
                ),
                "reentries_absorbed": sum(ep.reentries for ep in evaluation.episodes),
                "is_active": opened is not None,
                "active_since": opened.fired_date if opened else None,
                "sp500_fires_with_return_20d": int(mine["sp500_return_20d"].notna().sum()),
                "sp500_avg_return_20d_after_fire": _mean(mine["sp500_return_20d"]),
                "sp500_avg_return_20d_all_days": _mean(in_period["return_20d"]),
                "sp500_median_return_20d_after_fire": _median(mine["sp500_return_20d"]),
                "sp500_median_return_20d_all_days": _median(in_period["return_20d"]),
                "sp500_avg_max_drawdown_20d_after_fire": _mean(mine["sp500_max_drawdown_20d"]),
                "sp500_avg_max_drawdown_20d_all_days": _mean(in_period["max_drawdown_20d"]),
                "benchmark_episodes": len(my_leads),
                "benchmark_episodes_preceded": len(preceded),
                "median_lead_days": _median(preceded["lead_days"].astype(float)),
                "median_lead_days_vs_publication": _median(
                    preceded["lead_days_vs_publication"].astype(float)
                ),
                "evaluated_through": evaluation.as_of,
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY.column_names)


def backtest_frames(
    con: duckdb.DuckDBPyConnection, evaluations: dict[str, Evaluation]
) -> dict[str, pd.DataFrame]:
    """The three marts (name -> frame) from the evaluations and the marts they are judged by."""
    sp500 = sp500_forward(con)
    history = history_frame(evaluations, sp500)
    leads = leads_frame(evaluations, benchmark_episodes(con))
    summary = summary_frame(evaluations, history, leads, sp500)
    return {HISTORY.name: history, SUMMARY.name: summary, LEADS.name: leads}
