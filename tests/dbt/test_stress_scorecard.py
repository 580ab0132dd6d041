"""The stress scorecard on the real snapshot, recomputed independently with pandas.

The official indices are read from the snapshot files (fred/STLFSI4.csv, fred/NFCI.csv,
ofr/fsi.csv) and crosswind's daily score and regime from the built
marts.fct_liquidity_pillars_daily; everything else (the weekly matching, deciles, ranks, changes,
episodes, matches, leads, correlations and shares) is computed again here from those inputs
following the definitions in the models' YAML, and must equal what the SQL wrote.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from pandas.tseries.holiday import USFederalHolidayCalendar

from tests.support.snapshot import DBT_DIR, SNAPSHOT_DIR

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VARS = yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text())["vars"]
TOP_Q = VARS["stress_benchmark_top_quantile"]
TOLERANCE = pd.Timedelta(days=VARS["stress_episode_tolerance_days"])
CHANGE = pd.Timedelta(days=VARS["stress_change_days"])
# index -> (snapshot file, column, frequency, release lag in business days): catalog.yaml
BENCHMARKS = {
    "STLFSI4": ("fred/STLFSI4.csv", "STLFSI4", "weekly", 4),
    "NFCI": ("fred/NFCI.csv", "NFCI", "weekly", 3),
    "OFR_FSI": ("ofr/fsi.csv", "OFR FSI", "daily", 2),
}


# -- independent computation ---------------------------------------------------------------------


def benchmark(name: str) -> pd.Series:
    path, column, _, _ = BENCHMARKS[name]
    frame = pd.read_csv(SNAPSHOT_DIR / path, na_values=["."])
    frame.index = pd.to_datetime(frame.iloc[:, 0])
    return frame[column].astype(float).dropna().sort_index()


def comparison(name: str, scores: pd.DataFrame) -> pd.DataFrame:
    """The index's readings with crosswind's matching score and regime, on the common sample."""
    values = benchmark(name)
    frequency = BENCHMARKS[name][2]
    score = scores["stress_score"]
    if frequency == "weekly":
        # the weekdays of the week ending on the index's date; the regime of the last of them
        weekdays = scores[(score.index.day_of_week < 5) & score.notna()]
        weeks = [weekdays.loc[day - pd.Timedelta(days=6) : day] for day in values.index]
        cw = [w["stress_score"].mean() if len(w) else np.nan for w in weeks]
        regime = [w["regime"].iloc[-1] if len(w) else None for w in weeks]
    else:
        cw = score.reindex(values.index).to_numpy()
        regime = scores["regime"].reindex(values.index).to_numpy()
    frame = pd.DataFrame(
        {"benchmark_value": values, "crosswind_score": cw, "regime": regime}, index=values.index
    )
    frame = frame.dropna(subset=["benchmark_value", "crosswind_score"])
    for col, short in (("benchmark_value", "benchmark"), ("crosswind_score", "crosswind")):
        x = frame[col]
        frame[f"{short}_z"] = (x - x.mean()) / x.std()
        frame[f"{short}_pct_rank"] = (x.rank(method="min") - 1) / (len(x) - 1)
        frame[f"{short}_top"] = x >= x.quantile(TOP_Q)
        earlier = x.reindex(frame.index - CHANGE).to_numpy()
        frame[f"{short}_change_4w"] = x.to_numpy() - earlier
    return frame


def episodes(flag: pd.Series) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    runs: list[list[pd.Timestamp]] = []
    for day in flag.index[flag.to_numpy(dtype=bool)]:
        if runs and day - runs[-1][1] <= TOLERANCE:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(a, b) for a, b in runs]


# US federal holidays from pandas' own calendar (independent of the `holidays` package the
# warehouse uses): the benchmarks' publishers count their lags on these business days.
FEDERAL_HOLIDAYS = (
    USFederalHolidayCalendar().holidays("1990-01-01", "2030-12-31").to_numpy("datetime64[D]")
)


def published(day: pd.Timestamp, lag_bd: int) -> pd.Timestamp:
    """The lag_bd-th business day strictly after `day` (an observation dated on a holiday, e.g.
    OFR on Columbus Day, counts from the business day before it: roll backward)."""
    return pd.Timestamp(
        np.busday_offset(day.date(), lag_bd, roll="backward", holidays=FEDERAL_HOLIDAYS)
    )


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scores(snapshot_con) -> pd.DataFrame:
    frame = snapshot_con.execute(
        "select date, stress_score, regime from marts.fct_liquidity_pillars_daily order by date"
    ).df()
    return frame.set_index(pd.to_datetime(frame["date"]))[["stress_score", "regime"]]


@pytest.fixture(scope="module")
def panels(scores) -> dict[str, pd.DataFrame]:
    return {name: comparison(name, scores) for name in BENCHMARKS}


@pytest.fixture(scope="module")
def windows(snapshot_con) -> pd.DataFrame:
    return snapshot_con.execute(
        "select episode, window_start, window_end from intermediate.int_stress__named_episodes"
    ).df()


def mart(snapshot_con, name: str, keys: list[str]) -> pd.DataFrame:
    frame = snapshot_con.execute(f"select * from marts.{name}").df()
    return frame.sort_values(keys).reset_index(drop=True)


# -- the comparison panel -----------------------------------------------------------------------


def test_every_index_is_compared_on_its_common_sample(snapshot_con, panels):
    got = mart(snapshot_con, "fct_stress_index_comparison", ["benchmark_index", "date"])
    assert set(got["benchmark_index"]) == set(BENCHMARKS)
    for name, panel in panels.items():
        sql = got[got["benchmark_index"] == name].set_index("date")
        sql.index = pd.to_datetime(sql.index)
        assert list(sql.index) == list(panel.index), name
        for col in (
            "benchmark_value",
            "crosswind_score",
            "benchmark_z",
            "crosswind_z",
            "benchmark_pct_rank",
            "crosswind_pct_rank",
            "benchmark_change_4w",
            "crosswind_change_4w",
        ):
            np.testing.assert_allclose(
                sql[col].astype(float), panel[col], rtol=0, atol=1e-9, err_msg=f"{name} {col}"
            )
        assert (sql["crosswind_regime"].to_numpy() == panel["regime"].to_numpy()).all()
        assert (sql["is_benchmark_top_decile"].to_numpy() == panel["benchmark_top"]).all()
        assert (sql["is_crosswind_top_decile"].to_numpy() == panel["crosswind_top"]).all()
        # the index's value is public only after its release lag, in US federal business days
        # (a holiday before a weekend moves it past the weekend: Wed 2003-11-26 + 2 -> Mon 12-01)
        lag = BENCHMARKS[name][3]
        expected = pd.DatetimeIndex([published(d, lag) for d in sql.index])
        assert (pd.to_datetime(sql["benchmark_published_date"]) == expected).all(), name


# -- the scorecard -------------------------------------------------------------------------------


def scope_rows(panel: pd.DataFrame, start, end) -> pd.DataFrame:
    return panel.loc[pd.Timestamp(start) : pd.Timestamp(end)]


def expected_scope(panel: pd.DataFrame) -> dict:
    top = panel["benchmark_top"]
    both_changes = panel[["crosswind_change_4w", "benchmark_change_4w"]].dropna()
    n_top = int(top.sum())
    return {
        "observations": len(panel),
        "level_correlation": panel["crosswind_score"].corr(panel["benchmark_value"]),
        "change_4w_correlation": both_changes["crosswind_change_4w"].corr(
            both_changes["benchmark_change_4w"]
        ),
        "benchmark_top_decile_readings": n_top,
        "crosswind_top_decile_readings": int(panel["crosswind_top"].sum()),
        "top_decile_agreement": (top & panel["crosswind_top"]).sum() / n_top if n_top else None,
        "stress_regime_hit_rate": (top & (panel["regime"] == "stress")).sum() / n_top
        if n_top
        else None,
        "elevated_regime_hit_rate": (top & (panel["regime"] != "calm")).sum() / n_top
        if n_top
        else None,
        "crosswind_stress_share": (panel["regime"] == "stress").mean() if len(panel) else None,
    }


def expected_timing(panel: pd.DataFrame, lag_bd: int) -> dict:
    if panel.empty:
        return dict.fromkeys(("peak_lead_days", "onset_lead_days", "benchmark_peak_date"))
    b_peak = panel["benchmark_value"].idxmax()  # first occurrence = earliest on ties
    c_peak = panel["crosswind_score"].idxmax()
    b_onset = panel.index[panel["benchmark_top"]].min() if panel["benchmark_top"].any() else None
    stress = panel.index[panel["regime"] == "stress"]
    c_onset = stress.min() if len(stress) else None
    onset = (b_onset - c_onset).days if b_onset is not None and c_onset is not None else None
    return {
        "benchmark_peak_date": b_peak,
        "crosswind_peak_date": c_peak,
        "benchmark_peak_value": panel["benchmark_value"].max(),
        "crosswind_peak_score": panel["crosswind_score"].max(),
        "benchmark_peak_pct_rank": panel.loc[b_peak, "benchmark_pct_rank"],
        "crosswind_peak_pct_rank": panel.loc[c_peak, "crosswind_pct_rank"],
        "peak_lead_days": (b_peak - c_peak).days,
        "onset_lead_days": onset,
        "benchmark_onset_date": b_onset,
        "crosswind_stress_onset_date": c_onset,
        "max_regime": next(
            (r for r in ("stress", "tightening", "calm") if (panel["regime"] == r).any()), None
        ),
    }


def expected_episodes(panel: pd.DataFrame) -> dict:
    stress_days = panel.index[panel["regime"] == "stress"]
    top_days = panel.index[panel["benchmark_top"]]
    median = panel["benchmark_value"].median()
    bench_eps = episodes(panel["benchmark_top"])
    cw_eps = episodes(panel["regime"] == "stress")
    detected = [any((stress_days >= a - TOLERANCE) & (stress_days <= b)) for a, b in bench_eps]
    confirmed = [any((top_days >= a - TOLERANCE) & (top_days <= b + TOLERANCE)) for a, b in cw_eps]
    calm = [
        panel.loc[a - TOLERANCE : b + TOLERANCE, "benchmark_value"].max() <= median
        for a, b in cw_eps
    ]
    years = (panel.index.max() - panel.index.min()).days / 365.25
    false_alarms = confirmed.count(False)
    return {
        "benchmark_episodes": len(bench_eps),
        "benchmark_episodes_detected": sum(detected),
        "crosswind_stress_episodes": len(cw_eps),
        "false_alarm_episodes": false_alarms,
        "calm_false_alarm_episodes": sum(calm),
        "false_alarms_per_year": false_alarms / years,
        "_bench_eps": bench_eps,
        "_cw_eps": cw_eps,
    }


def _same(got, want, what: str) -> None:
    if want is None or (isinstance(want, float) and np.isnan(want)):
        assert got is None or pd.isna(got), what
    elif isinstance(want, pd.Timestamp):
        assert pd.Timestamp(got) == want, what
    else:
        assert got == pytest.approx(want, abs=1e-9), what


def test_scorecard_figures_are_reproduced(snapshot_con, panels, windows):
    got = mart(snapshot_con, "fct_stress_scorecard", ["benchmark_index", "scope"])
    assert len(got) == len(BENCHMARKS) * (1 + len(windows))
    for name, panel in panels.items():
        rows = got[got["benchmark_index"] == name].set_index("scope")
        full = rows.loc["full_sample"]
        _same(full["benchmark_top_threshold"], panel["benchmark_value"].quantile(TOP_Q), name)
        _same(full["crosswind_top_threshold"], panel["crosswind_score"].quantile(TOP_Q), name)
        for column, want in expected_scope(panel).items():
            _same(full[column], want, f"{name} full_sample {column}")
        for column, want in expected_episodes(panel).items():
            if not column.startswith("_"):
                _same(full[column], want, f"{name} {column}")
        assert pd.isna(full["peak_lead_days"]) and pd.isna(full["onset_lead_days"])
        for window in windows.itertuples():
            row = rows.loc[window.episode]
            part = scope_rows(panel, window.window_start, window.window_end)
            for column, want in expected_scope(part).items():
                _same(row[column], want, f"{name} {window.episode} {column}")
            timing = expected_timing(part, BENCHMARKS[name][3])
            _same(row["crosswind_max_regime"], timing.pop("max_regime", None), window.episode)
            for column, want in timing.items():
                _same(row[column], want, f"{name} {window.episode} {column}")
            assert pd.isna(row["benchmark_episodes"]) and pd.isna(row["false_alarm_episodes"])


def test_episode_list_is_reproduced(snapshot_con, panels):
    got = mart(
        snapshot_con, "fct_stress_episodes", ["benchmark_index", "episode_kind", "episode_number"]
    )
    for name, panel in panels.items():
        want = expected_episodes(panel)
        mine = got[got["benchmark_index"] == name]
        bench = mine[mine["episode_kind"] == "benchmark_top_decile"]
        cw = mine[mine["episode_kind"] == "crosswind_stress"]
        assert [
            (pd.Timestamp(a), pd.Timestamp(b))
            for a, b in zip(bench["start_date"], bench["end_date"], strict=True)
        ] == want["_bench_eps"]
        assert [
            (pd.Timestamp(a), pd.Timestamp(b))
            for a, b in zip(cw["start_date"], cw["end_date"], strict=True)
        ] == want["_cw_eps"]
        stress_days = panel.index[panel["regime"] == "stress"]
        for episode in bench.itertuples():
            start = pd.Timestamp(episode.start_date)
            hits = stress_days[
                (stress_days >= start - TOLERANCE) & (stress_days <= pd.Timestamp(episode.end_date))
            ]
            assert episode.is_matched == (len(hits) > 0)
            if len(hits):
                assert episode.lead_days == (start - hits.min()).days


def test_report_section_reads_the_real_marts(panels, windows, report_context):
    from orchestration.lib import report

    # as of the newest comparison date: the whole history is drawn
    newest = max(panel.index.max() for panel in panels.values())
    ctx = report_context(newest.date().isoformat())
    fig = report.chart_stress_vs_official(ctx)
    traces = {trace.name: trace for trace in fig.data}
    for name in BENCHMARKS:
        trace = traces[report.BENCHMARK_LABELS[name]]
        np.testing.assert_allclose(np.asarray(trace.y, dtype=float), panels[name]["benchmark_z"])
    [crosswind] = [t for t in fig.data if t.name.startswith("crosswind")]
    # drawn once, from the comparison with an index whose sample runs to the latest date
    latest = max(panel.index.max() for panel in panels.values())
    reference = [n for n, p in panels.items() if p.index.max() == latest]
    assert any(
        len(crosswind.y) == len(panels[n])
        and np.allclose(np.asarray(crosswind.y, dtype=float), panels[n]["crosswind_z"])
        for n in reference
    )
    assert len(fig.layout.shapes) == len(windows)
    table = report.scorecard_table(ctx)
    assert all(report.BENCHMARK_LABELS[name] in table for name in BENCHMARKS)


def test_the_queries_in_the_docs_run_on_the_real_marts(snapshot_con):
    import re

    doc = (DBT_DIR.parent / "docs" / "stress_score.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", doc, flags=re.DOTALL)
    statements = [s.strip() for block in blocks for s in block.split(";") if s.strip()]
    assert len(statements) == 2
    for sql in statements:
        assert snapshot_con.execute(sql).fetchall(), sql
