"""The daily report: one self-contained HTML page of plotly charts, read from the serving copy.

plotly.js is inlined once in the page (no CDN, no network), so the file opens offline from disk or
as an e-mail attachment. Every section degrades to a short "not available" note when its mart is
missing or empty, so a partial warehouse still yields a report.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from orchestration.lib.serving import write_text_atomic

PILLARS = {
    "pillar_net_liquidity_z": "Net liquidity (inverted)",
    "pillar_sofr_iorb_z": "SOFR − IORB",
    "pillar_move_z": "MOVE",
    "pillar_yen_carry_z": "Yen carry",
    "pillar_hy_oas_z": "HY OAS",
}
REGIME_COLORS = {"calm": "#d9f2e3", "tightening": "#fff1c7", "stress": "#f9d0d0"}
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
HISTORY_YEARS = 3


@dataclass(frozen=True)
class ReportResult:
    path: Path
    latest: Path
    as_of: str
    charts: int
    bytes: int
    summary_md: str


def _query(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    try:
        return con.execute(sql).df()
    except duckdb.Error:
        return pd.DataFrame()


def _num(value, fmt: str = "{:,.1f}", none: str = "n/a") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return none
    return fmt.format(value)


def _pct(value, digits: int = 2) -> str:
    return _num(
        value * 100 if value is not None and not pd.isna(value) else None, f"{{:+.{digits}f}} %"
    )


def _since(frame: pd.DataFrame, years: int = HISTORY_YEARS) -> pd.DataFrame:
    if frame.empty:
        return frame
    end = pd.to_datetime(frame["date"]).max()
    return frame[pd.to_datetime(frame["date"]) > end - pd.DateOffset(years=years)]


# --- charts --------------------------------------------------------------------------------------


def chart_liquidity_vs_spx(con) -> go.Figure | None:
    df = _query(
        con,
        "SELECT n.date, n.net_liquidity_bn, r.close AS sp500 FROM marts.fct_net_liquidity_daily n "
        "LEFT JOIN marts.fct_asset_returns_daily r ON r.date = n.date AND r.asset = 'sp500' "
        "ORDER BY n.date",
    )
    if df.empty or df["net_liquidity_bn"].notna().sum() == 0:
        return None
    df = _since(df, 10)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(
            x=df["date"],
            y=df["net_liquidity_bn"],
            name="Net liquidity (USD bn)",
            line={"color": "#1f77b4"},
        ),
        secondary_y=False,
    )
    spx = df.dropna(subset=["sp500"])
    fig.add_trace(
        go.Scatter(x=spx["date"], y=spx["sp500"], name="S&P 500", line={"color": "#d62728"}),
        secondary_y=True,
    )
    fig.update_yaxes(title_text="Fed assets − TGA − ON RRP, USD bn", secondary_y=False)
    fig.update_yaxes(title_text="S&P 500 (index)", secondary_y=True)
    end = pd.to_datetime(df["date"]).max()
    fig.update_xaxes(
        range=[end - pd.DateOffset(years=HISTORY_YEARS), end],
        rangeselector={
            "buttons": [
                {"count": 6, "label": "6m", "step": "month", "stepmode": "backward"},
                {"count": 1, "label": "1y", "step": "year", "stepmode": "backward"},
                {"count": 3, "label": "3y", "step": "year", "stepmode": "backward"},
                {"step": "all", "label": "10y"},
            ]
        },
    )
    fig.update_layout(
        title="Net liquidity vs S&P 500",
        hovermode="x unified",
        height=430,
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def _regime_segments(df: pd.DataFrame) -> list[tuple[object, object, str]]:
    segments: list[tuple[object, object, str]] = []
    for day, regime in zip(df["date"], df["regime"], strict=True):
        if regime is None or pd.isna(regime):
            continue
        if segments and segments[-1][2] == regime:
            segments[-1] = (segments[-1][0], day, regime)
        else:
            segments.append((day, day, regime))
    return segments


def chart_pillars(con) -> go.Figure | None:
    cols = ", ".join(PILLARS)
    df = _query(
        con,
        f"SELECT date, {cols}, stress_score, regime FROM marts.fct_liquidity_pillars_daily "
        "ORDER BY date",
    )
    df = _since(df, 2)
    if df.empty:
        return None
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.62, 0.38],
        vertical_spacing=0.06,
        subplot_titles=("Pillar z-scores (+ = stress)", "Stress score 0–100"),
    )
    for col, label in PILLARS.items():
        fig.add_trace(go.Scatter(x=df["date"], y=df[col], name=label, mode="lines"), row=1, col=1)
    fig.add_trace(
        go.Scatter(
            x=df["date"],
            y=df["stress_score"],
            name="Stress score",
            mode="lines",
            line={"color": "black", "width": 2},
        ),
        row=2,
        col=1,
    )
    for start, end, regime in _regime_segments(df):
        fig.add_vrect(
            x0=start,
            x1=end,
            fillcolor=REGIME_COLORS.get(regime, "#eeeeee"),
            opacity=0.6,
            layer="below",
            line_width=0,
            row="all",
            col=1,
        )
    for regime, color in REGIME_COLORS.items():  # legend entries for the shading
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=f"regime: {regime}",
                marker={"size": 12, "color": color, "symbol": "square"},
            ),
            row=2,
            col=1,
        )
    fig.update_layout(
        title="Liquidity pillars and stress regime",
        height=560,
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.12},
    )
    fig.update_yaxes(range=[0, 100], row=2, col=1)
    return fig


def chart_correlation_heatmap(con) -> go.Figure | None:
    df = _query(
        con,
        "WITH w AS (SELECT CASE WHEN count(*) FILTER (window_days = 60) > 0 THEN 60 ELSE 20 END "
        "AS wd FROM marts.fct_cross_asset_correlation_daily), "
        "d AS (SELECT max(date) AS date FROM marts.fct_cross_asset_correlation_daily, w "
        "WHERE window_days = w.wd) "
        "SELECT c.date, c.window_days, c.asset_a, c.asset_b, c.correlation "
        "FROM marts.fct_cross_asset_correlation_daily c, w, d "
        "WHERE c.window_days = w.wd AND c.date = d.date",
    )
    if df.empty:
        return None
    assets = sorted(set(df["asset_a"]) | set(df["asset_b"]))
    matrix = pd.DataFrame(float("nan"), index=assets, columns=assets)
    for row in df.itertuples():
        matrix.loc[row.asset_a, row.asset_b] = row.correlation
        matrix.loc[row.asset_b, row.asset_a] = row.correlation
    for asset in assets:
        matrix.loc[asset, asset] = 1.0
    text = matrix.map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
    fig = go.Figure(
        go.Heatmap(
            z=matrix.values,
            x=assets,
            y=assets,
            zmin=-1,
            zmax=1,
            colorscale="RdBu_r",
            text=text.values,
            texttemplate="%{text}",
            colorbar={"title": "ρ"},
        )
    )
    day = pd.to_datetime(df["date"].iloc[0]).date()
    fig.update_layout(
        title=f"Cross-asset correlation, {int(df['window_days'].iloc[0])}-day window, {day}",
        height=520,
        yaxis={"autorange": "reversed"},
    )
    return fig


def chart_selloffs(con) -> go.Figure | None:
    df = _query(
        con,
        "SELECT date, equity_return_1d, share_assets_down, avg_pairwise_correlation_20d, "
        "is_synchronized_selloff, is_hedge_failure FROM marts.fct_cross_asset_regime_daily "
        "ORDER BY date",
    )
    df = _since(df, 2)
    if df.empty:
        return None
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(
            x=df["date"],
            y=df["avg_pairwise_correlation_20d"],
            name="Avg pairwise correlation (20d)",
            line={"color": "#7f7f7f"},
        ),
        secondary_y=True,
    )
    for flag, label, color, symbol in (
        ("is_synchronized_selloff", "Synchronized selloff", "#d62728", "triangle-down"),
        ("is_hedge_failure", "Hedge failure", "#9467bd", "x"),
    ):
        hits = df[df[flag].fillna(False).astype(bool)]
        fig.add_trace(
            go.Scatter(
                x=hits["date"],
                y=hits["equity_return_1d"] * 100,
                mode="markers",
                name=label,
                marker={"color": color, "size": 11, "symbol": symbol},
                customdata=(hits["share_assets_down"] * 100).round(0),
                hovertemplate="%{x}: S&P %{y:.2f} %, %{customdata:.0f} % of basket down",
            ),
            secondary_y=False,
        )
    fig.update_yaxes(title_text="S&P 500 return that day, %", secondary_y=False)
    fig.update_yaxes(title_text="avg correlation", range=[-1, 1], secondary_y=True)
    fig.update_layout(
        title="Selloff days: stocks, gold, silver, oil and crypto falling together",
        height=430,
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def margin_frame(con) -> pd.DataFrame:
    return _query(
        con,
        "SELECT product, effective_date, direction, pct_change, new_margin, margin_unit, "
        "fwd_return_1d, fwd_return_5d, fwd_return_20d, fwd_return_60d, max_drawdown_20d "
        "FROM marts.fct_margin_events ORDER BY effective_date DESC, product LIMIT 15",
    )


def chart_margins(events: pd.DataFrame) -> go.Figure | None:
    if events.empty:
        return None
    df = events.iloc[::-1]
    labels = [
        f"{p} {pd.to_datetime(d).date()} ({_num(c, '{:+.0f}')} %)"
        for p, d, c in zip(df["product"], df["effective_date"], df["pct_change"], strict=True)
    ]
    fig = go.Figure()
    for col, name in (("fwd_return_5d", "5 days after"), ("fwd_return_20d", "20 days after")):
        fig.add_trace(go.Bar(x=labels, y=df[col] * 100, name=name))
    # max_drawdown_20d is <= 0 (worst close vs the base close); plotted as a fall below zero
    fig.add_trace(
        go.Scatter(
            x=labels,
            y=-df["max_drawdown_20d"].abs() * 100,
            mode="markers",
            name="max drawdown within 20d",
            marker={"color": "black", "size": 9},
        )
    )
    fig.update_layout(
        title="Recent margin changes: what the underlying did next",
        barmode="group",
        yaxis_title="%",
        height=460,
        legend={"orientation": "h", "y": -0.35},
    )
    return fig


def _margin_table(events: pd.DataFrame) -> str:
    if events.empty:
        return ""
    head = (
        "<tr><th>product</th><th>effective</th><th>change</th><th>new margin</th>"
        "<th>+1d</th><th>+5d</th><th>+20d</th><th>+60d</th><th>max DD 20d</th></tr>"
    )
    rows = []
    for r in events.itertuples():
        rows.append(
            f"<tr><td>{html.escape(str(r.product))}</td><td>{pd.to_datetime(r.effective_date).date()}"
            f"</td><td>{_num(r.pct_change, '{:+.1f} %')}</td>"
            f"<td>{_num(r.new_margin, '{:,.2f}')} {html.escape(str(r.margin_unit or ''))}</td>"
            f"<td>{_pct(r.fwd_return_1d)}</td><td>{_pct(r.fwd_return_5d)}</td>"
            f"<td>{_pct(r.fwd_return_20d)}</td><td>{_pct(r.fwd_return_60d)}</td>"
            f"<td>{_pct(-abs(r.max_drawdown_20d) if pd.notna(r.max_drawdown_20d) else None)}"
            "</td></tr>"
        )
    return f"<table class='margins'>{head}{''.join(rows)}</table>"


# --- the stress score against the official indices ------------------------------------------

BENCHMARK_LABELS = {
    "STLFSI4": "St. Louis Fed FSI (STLFSI4)",
    "NFCI": "Chicago Fed NFCI",
    "OFR_FSI": "OFR FSI",
}
BENCHMARK_COLORS = {"STLFSI4": "#1f77b4", "NFCI": "#2ca02c", "OFR_FSI": "#ff7f0e"}


def chart_stress_vs_official(con) -> go.Figure | None:
    """crosswind's score and each official index on one axis: z-scores over their common sample.

    crosswind is drawn once, from its comparison with the index whose sample runs latest (its z
    differs slightly by sample); named episodes are shaded.
    """
    df = _query(
        con,
        "SELECT benchmark_index, date, benchmark_z, crosswind_z "
        "FROM marts.fct_stress_index_comparison ORDER BY benchmark_index, date",
    )
    if df.empty:
        return None
    spans = df.groupby("benchmark_index")["date"].agg(["max", "count"])
    reference = spans.sort_values(["max", "count"], ascending=False).index[0]
    fig = go.Figure()
    for index, rows in df.groupby("benchmark_index", sort=True):
        fig.add_trace(
            go.Scatter(
                x=rows["date"],
                y=rows["benchmark_z"],
                name=BENCHMARK_LABELS.get(index, index),
                mode="lines",
                line={"width": 1.2, "color": BENCHMARK_COLORS.get(index)},
            )
        )
    own = df[df["benchmark_index"] == reference]
    fig.add_trace(
        go.Scatter(
            x=own["date"],
            y=own["crosswind_z"],
            name=f"crosswind stress score (on the {BENCHMARK_LABELS.get(reference, reference)} "
            "dates)",
            mode="lines",
            line={"width": 2, "color": "black"},
        )
    )
    episodes = _query(
        con,
        "SELECT DISTINCT scope_label, window_start, window_end FROM marts.fct_stress_scorecard "
        "WHERE scope <> 'full_sample' ORDER BY window_start",
    )
    for row in episodes.itertuples():
        fig.add_vrect(
            x0=row.window_start,
            x1=row.window_end,
            fillcolor="#dddddd",
            opacity=0.5,
            layer="below",
            line_width=0,
            annotation_text=row.scope_label,
            annotation_position="top left",
            annotation_font_size=10,
        )
    fig.update_layout(
        title="Stress score vs the official stress indices (each standardised over its common "
        "sample with crosswind)",
        yaxis_title="z (standard deviations from the sample mean)",
        hovermode="x unified",
        height=480,
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def scorecard_table(con) -> str:
    """The scorecard's full-sample row per index as a small HTML table."""
    df = _query(
        con,
        "SELECT benchmark_index, observations, comparison_frequency, level_correlation, "
        "change_4w_correlation, top_decile_agreement, stress_regime_hit_rate, "
        "false_alarm_episodes, crosswind_stress_episodes, false_alarms_per_year "
        "FROM marts.fct_stress_scorecard WHERE scope = 'full_sample' ORDER BY benchmark_index",
    )
    if df.empty:
        return ""
    head = (
        "<tr><th>index</th><th>readings</th><th>ρ levels</th><th>ρ 4-week changes</th>"
        "<th>top-decile agreement</th><th>in 'stress' when the index is top decile</th>"
        "<th>false alarms</th><th>per year</th></tr>"
    )
    rows = [
        f"<tr><td>{html.escape(BENCHMARK_LABELS.get(r.benchmark_index, r.benchmark_index))}</td>"
        f"<td>{r.observations:,} {html.escape(str(r.comparison_frequency))}</td>"
        f"<td>{_num(r.level_correlation, '{:.2f}')}</td>"
        f"<td>{_num(r.change_4w_correlation, '{:.2f}')}</td>"
        f"<td>{_num(r.top_decile_agreement, '{:.0%}')}</td>"
        f"<td>{_num(r.stress_regime_hit_rate, '{:.0%}')}</td>"
        f"<td>{r.false_alarm_episodes} of {r.crosswind_stress_episodes}</td>"
        f"<td>{_num(r.false_alarms_per_year, '{:.2f}')}</td></tr>"
        for r in df.itertuples()
    ]
    return (
        f"<table class='margins'>{head}{''.join(rows)}</table><p class='note'>Ex post, over "
        "each index's common sample with crosswind; definitions in docs/stress_score.md.</p>"
    )


# --- what drives the stress score, and why everything fell together --------------------------

# fct_stress_attribution_daily.pillar -> label (the pillar columns without pillar_ and _z)
PILLAR_LABELS = {
    col.removeprefix("pillar_").removesuffix("_z"): label for col, label in PILLARS.items()
}
SELLOFF_DRIVERS = {  # fct_selloff_drivers.driver -> (label, format of value and threshold)
    "carry_unwind": ("Carry unwind (USD/JPY 5d)", "{:+.2f} %"),
    "margin_hike": ("Margin hike", "{:+.1f} %"),
    "move_z": ("MOVE z", "{:+.2f}"),
    "sofr_iorb_spread": ("SOFR − IORB", "{:+.0f} bp"),
    "net_liquidity_change_4w": ("Net liquidity 4w", "{:+,.0f} bn"),
    "hy_oas_change_5d": ("HY OAS 5d", "{:+.2f} pp"),
}


def _as_of_filter(as_of: date | str | None) -> str:
    return f" WHERE date <= DATE '{date.fromisoformat(str(as_of))}'" if as_of else ""


def attribution_frame(con, as_of: date | str | None = None) -> pd.DataFrame:
    """The five pillar rows of fct_stress_attribution_daily on its latest day (up to `as_of`)."""
    return _query(
        con,
        "SELECT * FROM marts.fct_stress_attribution_daily WHERE date = (SELECT max(date) FROM "
        f"marts.fct_stress_attribution_daily{_as_of_filter(as_of)}) ORDER BY pillar_order",
    )


def chart_stress_attribution(frame: pd.DataFrame) -> go.Figure | None:
    """Two waterfalls: 50 + each pillar's points = the score; the score 20 days ago + each
    pillar's change = today's score."""
    if frame.empty:
        return None
    day = pd.to_datetime(frame["date"].iloc[0]).date()
    score = float(frame["stress_score"].iloc[0])
    labels = [PILLAR_LABELS.get(p, p) for p in frame["pillar"]]
    has_change = frame["contribution_change_20d"].notna().all()
    titles = [f"Score on {day}: 50 + pillar contributions"]
    if has_change:
        base_day = pd.to_datetime(frame["change_base_date"].iloc[0]).date()
        titles.append(f"Change since {base_day} (20 business days)")
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles)
    fig.add_trace(
        go.Waterfall(
            x=["neutral", *labels, "score"],
            y=[50.0, *frame["contribution_points"], 0.0],
            measure=["absolute", *["relative"] * len(labels), "total"],
            name="score",
            text=["50.0", *(f"{v:+.1f}" for v in frame["contribution_points"]), f"{score:.1f}"],
        ),
        row=1,
        col=1,
    )
    if has_change:
        base = score - float(frame["stress_score_change_20d"].iloc[0])
        fig.add_trace(
            go.Waterfall(
                x=["20 days ago", *labels, "today"],
                y=[base, *frame["contribution_change_20d"], 0.0],
                measure=["absolute", *["relative"] * len(labels), "total"],
                name="20-day change",
                text=[
                    f"{base:.1f}",
                    *(f"{v:+.1f}" for v in frame["contribution_change_20d"]),
                    f"{score:.1f}",
                ],
            ),
            row=1,
            col=2,
        )
    fig.update_yaxes(title_text="stress score points", range=[0, 100])
    fig.update_layout(
        title=f"What drives the stress score ({score:.1f} on {day})",
        height=430,
        showlegend=False,
    )
    return fig


def attribution_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return ""
    head = (
        "<tr><th>pillar</th><th>z</th><th>counted as (clipped)</th><th>points</th>"
        "<th>20-day change, points</th></tr>"
    )
    rows = [
        f"<tr><td>{html.escape(PILLAR_LABELS.get(r.pillar, r.pillar))}</td>"
        f"<td>{_num(r.z, '{:+.2f}', 'missing')}</td><td>{_num(r.z_clipped, '{:+.2f}', '0')}</td>"
        f"<td>{_num(r.contribution_points, '{:+.1f}')}</td>"
        f"<td>{_num(r.contribution_change_20d, '{:+.1f}')}</td></tr>"
        for r in frame.itertuples()
    ]
    return (
        f"<table class='margins'>{head}{''.join(rows)}</table><p class='note'>Each pillar adds "
        "its clipped z / pillars available × 100 / 6 points to 50; the points add up to the "
        "score (marts.fct_stress_attribution_daily).</p>"
    )


def drivers_md(row: dict) -> str | None:
    """One summary bullet: the top drivers of the score and of its 20-day change (dashboard)."""
    if not row.get("stress_driver_1") or pd.isna(row.get("stress_driver_1")):
        return None

    def named(pillar_col: str) -> str | None:
        pillar = row.get(pillar_col)
        if not pillar or pd.isna(pillar):
            return None
        points = _num(row.get(f"{pillar_col}_points"), "{:+.1f}")
        return f"{PILLAR_LABELS.get(pillar, pillar)} {points}"

    level = ", ".join(filter(None, (named("stress_driver_1"), named("stress_driver_2"))))
    text = f"- Stress score drivers (points vs 50): {level}"
    change = ", ".join(
        filter(None, (named("stress_change_driver_1"), named("stress_change_driver_2")))
    )
    if change:
        text += (
            f"; 20-day change {_num(row.get('stress_score_change_20d'), '{:+.1f}')} led by {change}"
        )
    return text


def selloff_drivers_frame(con, days: int = 8, as_of: date | str | None = None) -> pd.DataFrame:
    """fct_selloff_drivers for the latest `days` selloff / hedge-failure days (up to `as_of`)."""
    return _query(
        con,
        "SELECT * FROM marts.fct_selloff_drivers WHERE date IN (SELECT DISTINCT date FROM "
        f"marts.fct_selloff_drivers{_as_of_filter(as_of)} ORDER BY date DESC LIMIT {int(days)}) "
        "ORDER BY date DESC, driver_order",
    )


def selloff_drivers_table(frame: pd.DataFrame) -> str:
    """One row per selloff day, one cell per driver: the window's value, shaded when active."""
    if frame.empty:
        return ""
    drivers = frame.drop_duplicates("driver").sort_values("driver_order")
    head = (
        "<tr><th>day</th><th>flags</th><th>S&amp;P 500</th>"
        + "".join(
            f"<th>{html.escape(SELLOFF_DRIVERS.get(d, (d, ''))[0])}</th>" for d in drivers["driver"]
        )
        + "</tr>"
    )
    rows = []
    for day, cells in frame.groupby("date", sort=False):
        first = cells.iloc[0]
        flags = [
            name
            for name, flag in (
                ("selloff", first["is_synchronized_selloff"]),
                ("hedge failure", first["is_hedge_failure"]),
            )
            if _flag(flag)
        ]
        tds = []
        for r in cells.itertuples():
            fmt = SELLOFF_DRIVERS.get(r.driver, (r.driver, "{:+.2f}"))[1]
            title = html.escape(
                f"threshold {_num(r.threshold, fmt)}; "
                + (f"{r.detail}; " if isinstance(r.detail, str) else "")
                + f"active on {r.active_readings} of {r.readings} readings"
            )
            style = " style='background:#f9d0d0;font-weight:600'" if _flag(r.is_active) else ""
            tds.append(f"<td title='{title}'{style}>{_num(r.value, fmt)}</td>")
        rows.append(
            f"<tr><td>{pd.to_datetime(day).date()}</td><td>{', '.join(flags)}</td>"
            f"<td>{_pct(first['equity_return_1d'])}</td>{''.join(tds)}</tr>"
        )
    thresholds = "; ".join(
        f"{SELLOFF_DRIVERS.get(r.driver, (r.driver, ''))[0]} "
        f"{'≥' if r.threshold_side == 'at_or_above' else '≤'} "
        f"{_num(r.threshold, SELLOFF_DRIVERS.get(r.driver, (r.driver, '{:+.2f}'))[1])}"
        for r in drivers.itertuples()
    )
    return (
        f"<h3>Funding drivers of the latest selloff days</h3><table class='margins'>{head}"
        f"{''.join(rows)}</table><p class='note'>Most stressed reading over the selloff day "
        f"and the 4 trading days before it; shaded = active. Thresholds: {html.escape(thresholds)}"
        " (carry unwind also needs US2Y−JP2Y ≤ −10 bp; margin: CME policy hikes only, not the "
        "daily mechanical resets). marts.fct_selloff_drivers, docs/selloff_drivers.md.</p>"
    )


def latest_selloff_md(frame: pd.DataFrame) -> str | None:
    """One summary bullet: the latest selloff day and the drivers active around it."""
    if frame.empty:
        return None
    day = frame["date"].max()
    cells = frame[frame["date"] == day]
    active = [
        SELLOFF_DRIVERS.get(d, (d, ""))[0]
        for d, a in zip(cells["driver"], cells["is_active"], strict=True)
        if _flag(a)
    ]
    return (
        f"- Latest selloff / hedge-failure day: {pd.to_datetime(day).date()}; funding drivers "
        f"active in the 5 trading days to it: {', '.join(active) if active else 'none'}"
    )


# --- summary --------------------------------------------------------------------------------


def _latest_row(con) -> tuple[dict, str | None]:
    """(the newest dashboard row with the headline figures present, the newest date at all)."""
    df = _query(
        con,
        "SELECT * FROM marts.mart_market_dashboard_daily WHERE date = (SELECT coalesce("
        "max(date) FILTER (WHERE net_liquidity_bn IS NOT NULL AND stress_score IS NOT NULL "
        "AND sp500_close IS NOT NULL), max(date)) FROM marts.mart_market_dashboard_daily)",
    )
    newest = _query(con, "SELECT max(date) AS d FROM marts.mart_market_dashboard_daily")
    newest_day = None
    if not newest.empty and not pd.isna(newest["d"].iloc[0]):
        newest_day = pd.to_datetime(newest["d"].iloc[0]).date().isoformat()
    return ({} if df.empty else df.iloc[0].to_dict()), newest_day


def _regime_since(con, regime, day: str) -> str:
    """' since <date>': the first day of the current regime spell (NULL days do not break it)."""
    df = _query(
        con,
        "SELECT max(date) AS d FROM marts.fct_liquidity_pillars_daily WHERE regime IS NOT NULL "
        f"AND regime <> '{str(regime).replace(chr(39), '')}' AND date <= DATE '{day}'",
    )
    if df.empty or pd.isna(df["d"].iloc[0]):
        return ""
    return f" since the day after {pd.to_datetime(df['d'].iloc[0]).date()}"


def _flag(value) -> bool:
    return bool(value) if value is not None and not pd.isna(value) else False


def summarize(con, events: pd.DataFrame) -> tuple[str, str]:
    """(as-of date, Markdown summary of the day)."""
    row, newest = _latest_row(con)
    if not row:
        as_of = _query(con, "SELECT max(date) AS d FROM marts.fct_net_liquidity_daily")
        day = as_of["d"].iloc[0] if not as_of.empty else None
        as_of_text = (
            str(pd.to_datetime(day).date())
            if day is not None and not pd.isna(day)
            else (datetime.now(UTC).date().isoformat())
        )
        return as_of_text, f"**{as_of_text}** — the dashboard mart is empty; no summary."
    headline = pd.to_datetime(row["date"]).date().isoformat()
    as_of = newest or headline
    regime = row.get("regime")
    selloff = _query(
        con,
        "SELECT count(*) FILTER (is_synchronized_selloff) AS s, count(*) FILTER "
        "(is_hedge_failure) AS h FROM (SELECT * FROM marts.fct_cross_asset_regime_daily "
        "ORDER BY date DESC LIMIT 20)",
    )
    n_sell = int(selloff["s"].iloc[0]) if not selloff.empty else 0
    n_hedge = int(selloff["h"].iloc[0]) if not selloff.empty else 0
    flags = []
    if _flag(row.get("is_synchronized_selloff")):
        flags.append("**synchronized selloff today**")
    if _flag(row.get("is_hedge_failure")):
        flags.append("**hedges failed today**")
    if _flag(row.get("carry_unwind_flag")):
        flags.append("**yen carry unwind signal**")
    lines = [f"**Crosswind daily, data as of {as_of}**", ""]
    if headline != as_of:
        lines += [
            f"Headline figures are from {headline}, the newest day with net liquidity, the "
            f"stress score and the S&P 500 all published (later days still miss inputs).",
            "",
        ]
    lines += [
        f"- Regime: **{regime or 'n/a'}**{_regime_since(con, regime, headline) if regime else ''}, "
        f"stress score {_num(row.get('stress_score'))}/100",
        f"- Net liquidity: USD {_num(row.get('net_liquidity_bn'), '{:,.0f}')} bn "
        f"({_num(row.get('net_liquidity_change_4w_bn'), '{:+,.0f}')} bn over 4 weeks, "
        f"z {_num(row.get('net_liquidity_z_1y'), '{:+.2f}')})",
        f"- S&P 500: {_num(row.get('sp500_close'), '{:,.2f}')} "
        f"({_pct(row.get('sp500_return_1d'))}); gold {_pct(row.get('gold_return_1d'))}, "
        f"silver {_pct(row.get('silver_return_1d'))}, BTC {_pct(row.get('btc_return_1d'))}",
        f"- Funding: SOFR−IORB {_num(row.get('sofr_iorb_spread_bp'), '{:+.1f}')} bp, "
        f"MOVE {_num(row.get('move_index'))}, HY OAS {_num(row.get('hy_oas_pct'), '{:.2f}')} %, "
        f"USD/JPY {_num(row.get('usdjpy'), '{:.2f}')} "
        f"({_num(row.get('usdjpy_change_5d_pct'), '{:+.2f}')} % over 5 days)",
        f"- Last 20 trading days: {n_sell} synchronized selloff(s), {n_hedge} hedge failure(s)"
        + (f"; {', '.join(flags)}" if flags else ""),
    ]
    lines += filter(None, (drivers_md(row), latest_selloff_md(selloff_drivers_frame(con, 1))))
    if not events.empty:
        e = events.iloc[0]
        lines.append(
            f"- Latest margin change: {e['product']} {pd.to_datetime(e['effective_date']).date()} "
            f"{_num(e['pct_change'], '{:+.1f}')} % ({e['direction']}); "
            f"underlying {_pct(e['fwd_return_20d'])} over the next 20 days"
        )
    return as_of, "\n".join(lines)


def _md_to_html(md: str) -> str:
    """The tiny subset of Markdown the summary uses (bold, bullet list)."""
    out, in_list = [], False
    for line in md.splitlines():
        text = html.escape(line)
        while "**" in text:
            text = text.replace("**", "<b>", 1).replace("**", "</b>", 1)
        if line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{text[2:]}</li>")
        else:
            if in_list:
                out.append("</ul>")
                in_list = False
            if text:
                out.append(f"<p>{text}</p>")
    if in_list:
        out.append("</ul>")
    return "\n".join(out)


# --- page -----------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#fafafa;
color:#222} header{background:#13294b;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;opacity:.8;font-size:13px}
main{max-width:1200px;margin:0 auto;padding:16px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:8px;margin:14px 0;padding:10px 16px}
.missing{color:#888;font-style:italic} .synthetic{background:#ffe9a8;padding:8px 28px}
.note{color:#666;font-size:12px}
table.margins{border-collapse:collapse;font-size:13px;margin:8px 0} table.margins td,
table.margins th{border-bottom:1px solid #eee;padding:4px 10px;text-align:right}
table.margins td:first-child,table.margins th:first-child{text-align:left}
"""


def inputs_md(problems: Sequence[str]) -> str:
    """The inputs the raw checks last found missing, frozen or stuck (one bullet each)."""
    if not problems:
        return "- Inputs: every series present; no source frozen, no series stuck."
    return "\n".join(f"- Input problem: {p}" for p in problems)


def render_html(
    serving_file: Path, *, synthetic: bool = False, input_problems: Sequence[str] = ()
) -> tuple[str, str, str, int]:
    """(html, as_of, summary_md, charts) for the serving copy at `serving_file`.

    `input_problems`: failed input-health checks (`raw_assets.input_problems`), listed in the
    summary and in their own section so a frozen or missing input is never silent.
    """
    con = duckdb.connect(str(serving_file), read_only=True)
    try:
        events = margin_frame(con)
        attribution = attribution_frame(con)
        as_of, summary_md = summarize(con, events)
        if input_problems:
            summary_md += f"\n- Inputs: {len(input_problems)} problem(s), see Inputs below"
        published = _query(con, "SELECT value FROM meta.publish_info WHERE key = 'published_at'")
        sections = [
            ("Net liquidity vs S&P 500", chart_liquidity_vs_spx(con), ""),
            ("Liquidity pillars and stress regime", chart_pillars(con), ""),
            ("Cross-asset correlation", chart_correlation_heatmap(con), ""),
            (
                "Selloff days",
                chart_selloffs(con),
                selloff_drivers_table(selloff_drivers_frame(con)),
            ),
            ("Margin changes", chart_margins(events), _margin_table(events)),
            (
                "Stress score vs the official indices",
                chart_stress_vs_official(con),
                scorecard_table(con),
            ),
            (
                "What drives the stress score",
                chart_stress_attribution(attribution),
                attribution_table(attribution),
            ),
        ]
    finally:
        con.close()
    body, charts = [], 0
    for i, (title, fig, extra) in enumerate(sections):
        if fig is None:
            body.append(
                f"<section><h2>{title}</h2><p class='missing'>Not available: the mart "
                "is missing or empty in this serving copy.</p></section>"
            )
            continue
        charts += 1
        div = fig.to_html(
            full_html=False, include_plotlyjs=False, div_id=f"chart-{i}", config=PLOT_CONFIG
        )
        body.append(f"<section class='chart'>{div}{extra}</section>")
    published_at = published["value"].iloc[0] if not published.empty else "unknown"
    banner = (
        "<div class='synthetic'>SYNTHETIC sample data — not real market data.</div>"
        if synthetic
        else ""
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Crosswind daily report {as_of}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<header><h1>Crosswind daily report — {as_of}</h1>
<p>Serving copy published {html.escape(str(published_at))}; generated
{datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Self-contained: opens offline.</p></header>{banner}
<main><section class="summary">{_md_to_html(summary_md)}</section>
<section class="inputs"><h2>Inputs: missing, frozen or stuck</h2>
{_md_to_html(inputs_md(input_problems))}</section>
{"".join(body)}
</main></body></html>
"""
    return page, as_of, summary_md, charts


def write_report(
    serving_file: Path,
    reports_dir: Path,
    *,
    synthetic: bool = False,
    input_problems: Sequence[str] = (),
) -> ReportResult:
    """Write reports/<as-of>.html and reports/latest.html (each atomically)."""
    if not serving_file.exists():
        raise FileNotFoundError(f"no serving copy at {serving_file}; publish it first")
    page, as_of, summary_md, charts = render_html(
        serving_file, synthetic=synthetic, input_problems=input_problems
    )
    try:
        date.fromisoformat(as_of)
    except ValueError:
        as_of = datetime.now(UTC).date().isoformat()
    path = reports_dir / f"{as_of}.html"
    latest = reports_dir / "latest.html"
    write_text_atomic(path, page)
    write_text_atomic(latest, page)
    return ReportResult(path, latest, as_of, charts, path.stat().st_size, summary_md)
