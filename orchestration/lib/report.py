"""The daily report: one self-contained HTML page of plotly charts, read from the serving copy.

One as-of date governs the page: `bi.as_of` of the serving copy (the newest day with both the
stress score and an S&P 500 close). Every figure and chart is read as of that day; a figure that
is NULL on it says why (which input is past its staleness limit, from `bi.input_health`), and the
input-health section lists every input's newest observation, age, limit and source mode.

plotly.js is inlined once in the page (no CDN, no network), so the file opens offline from disk or
as an e-mail attachment. The page is a list of sections (`SECTIONS`): each is one function of the
report context returning a `Section`, so a new section is one function added to the list. A mart
that is missing or empty gives its section a stated "not available" note; a query that fails for
any other reason (a renamed mart column) raises ReportError: that is a bug, never hidden.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from orchestration.lib.errors import CrosswindError
from orchestration.lib.serving import write_text_atomic

PILLARS = {
    "pillar_net_liquidity_z": "Net liquidity (inverted)",
    "pillar_sofr_iorb_z": "SOFR − IORB",
    "pillar_move_z": "MOVE",
    "pillar_yen_carry_z": "Yen carry",
    "pillar_hy_oas_z": "HY OAS",
}
# The catalog inputs behind each headline figure: a figure that is NULL on the as-of date is
# explained by these inputs' ages (tests/serving check every id against the catalog).
FIGURE_INPUTS: dict[str, tuple[str, ...]] = {
    "net_liquidity_bn": ("WALCL", "TGA", "RRPONTSYD"),
    "pillar_net_liquidity_z": ("WALCL", "TGA", "RRPONTSYD"),
    "sofr_iorb_spread_bp": ("SOFR", "IORB"),
    "pillar_sofr_iorb_z": ("SOFR", "IORB"),
    "move_index": ("MOVE",),
    "pillar_move_z": ("MOVE",),
    "hy_oas_pct": ("BAMLH0A0HYM2",),
    "pillar_hy_oas_z": ("BAMLH0A0HYM2",),
    "usdjpy": ("USDJPY", "DEXJPUS"),
    "pillar_yen_carry_z": ("USDJPY", "DGS2", "JGB2Y"),
    "sp500_close": ("SPX",),
    "sp500_return_1d": ("SPX",),
    "gold_return_1d": ("XAUUSD_LBMA_PM",),
    "silver_return_1d": ("XAGUSD", "SLV"),
    "btc_return_1d": ("BTC-USD",),
}
ASSET_LABELS = {
    "sp500": "S&P 500",
    "nasdaq": "Nasdaq",
    "dow": "Dow",
    "gold": "Gold",
    "silver": "Silver",
    "wti": "WTI oil",
    "btc": "Bitcoin",
    "eth": "Ether",
    "us10y": "US 10y yield",
    "usdjpy": "USD/JPY",
}
MARGIN_UNITS = {"usd_per_contract": "USD per contract", "pct_notional": "% of notional"}
REGIME_COLORS = {"calm": "#d9f2e3", "tightening": "#fff1c7", "stress": "#f9d0d0"}
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
HISTORY_YEARS = 3
LIVE_LAG_WARN_DAYS = 3  # live mode: an as-of date further back than this is called out


class ReportError(CrosswindError):
    """A report query failed for a reason other than a missing mart: a bug, e.g. a renamed
    mart column. Missing or empty marts and inputs are stated in the page, never raised."""


@dataclass(frozen=True)
class ReportResult:
    path: Path
    latest: Path
    as_of: str
    charts: int
    bytes: int
    summary_md: str


@dataclass(frozen=True)
class Section:
    """One block of the page: a chart (or None), HTML below it, and a note on what is missing."""

    title: str
    figure: go.Figure | None = None
    html: str = ""
    missing: str = ""  # shown instead of the chart, or under it when there is one


@dataclass
class Context:
    """What every section reads: the serving copy, its as-of date and its inputs' health."""

    con: duckdb.DuckDBPyConnection
    as_of: date | None
    as_of_rule: str
    newest_row: date | None
    marts: set[str]
    inputs: pd.DataFrame  # bi.input_health
    source_mode: str = "unknown"
    published_at: str = "unknown"
    problems: Sequence[str] = ()  # failed input-health checks of the latest runs
    cache: dict = field(default_factory=dict)

    def query(self, sql: str, params: Sequence | None = None) -> pd.DataFrame:
        """Run a report query. Every failure is a bug (check `has()` for marts first)."""
        try:
            return self.con.execute(sql, params).df()
        except duckdb.Error as exc:
            first = " ".join(sql.split())[:160]
            raise ReportError(
                f"report query failed ({type(exc).__name__}: {str(exc).splitlines()[0]}); a mart "
                f"or column it reads was renamed? Query: {first}"
            ) from exc

    def has(self, *marts: str) -> bool:
        return all(m in self.marts for m in marts)

    def missing_marts(self, *marts: str) -> str:
        gone = [m for m in marts if m not in self.marts]
        return f"mart {', '.join(gone)} is not in this serving copy" if gone else ""

    @property
    def day(self) -> str:
        return self.as_of.isoformat() if self.as_of else ""

    def input(self, series_id: str) -> dict | None:
        rows = self.inputs[self.inputs["input"] == series_id]
        return None if rows.empty else rows.iloc[0].to_dict()

    def why_missing(self, series_ids: Iterable[str]) -> str:
        """Why a figure fed by `series_ids` has no value on the as-of date, from input health."""
        if self.inputs.empty:
            return "input health is not recorded in this serving copy"
        past, behind = [], []
        for sid in series_ids:
            row = self.input(sid)
            if row is None:
                continue
            status = row["status"]
            if status in ("missing", "not supplied"):
                past.append(
                    f"{sid} {'not supplied' if status == 'not supplied' else 'has no data'}"
                )
            elif status == "stale":
                past.append(
                    f"{sid} last {_d(row['last_date'])}, {int(row['age_days'])} d old > "
                    f"{int(row['staleness_days'])} d limit"
                )
            elif not _na(row["last_date"]) and _d(row["last_date"]) < self.day:
                behind.append(f"{sid} last {_d(row['last_date'])}")
        if past:
            return "; ".join(past)
        if behind:
            return f"no observation dated {self.day} ({', '.join(behind)})"
        return "not computed for this day (its inputs are current)"


# --- formatting ---------------------------------------------------------------------------------


def _na(value) -> bool:
    """None, NaN, NA or NaT: a scalar with no value."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # not a scalar
        return False


def _d(value) -> str:
    return "" if _na(value) else pd.Timestamp(value).date().isoformat()


def _num(value, fmt: str = "{:,.1f}", none: str = "n/a") -> str:
    return none if _na(value) else fmt.format(value)


def _pct(value, digits: int = 2) -> str:
    return _num(None if _na(value) else value * 100, f"{{:+.{digits}f}} %")


def _esc(value) -> str:
    return html.escape(str(value))


def _since(frame: pd.DataFrame, years: int, column: str = "date") -> pd.DataFrame:
    if frame.empty:
        return frame
    dates = pd.to_datetime(frame[column])
    return frame[dates > dates.max() - pd.DateOffset(years=years)]


def _axis(fig: go.Figure, title: str, **kw) -> None:
    """A titled y axis with round, readable ticks (thousands separated, at most ~6 ticks)."""
    fig.update_yaxes(title_text=title, tickformat=kw.pop("tickformat", ",~r"), nticks=6, **kw)


# --- figures, each as of the as-of date -------------------------------------------------------


def figure_value(ctx: Context, row: dict, column: str, fmt: str, *, last_value: bool) -> str:
    """The figure on the as-of date; when NULL, why (and, for levels, its last value and date)."""
    value = row.get(column)
    if not _na(value):
        return fmt.format(value)
    why = ctx.why_missing(FIGURE_INPUTS.get(column, ()))
    text = f"n/a ({why})"
    if last_value:
        last = ctx.query(
            f"SELECT date, {column} AS v FROM marts.mart_market_dashboard_daily "
            f"WHERE {column} IS NOT NULL AND date <= ? ORDER BY date DESC LIMIT 1",
            [ctx.as_of],
        )
        if not last.empty:
            text += f"; last {fmt.format(last['v'].iloc[0])} on {_d(last['date'].iloc[0])}"
    return text


def _return_text(ctx: Context, row: dict, column: str) -> str:
    value = row.get(column)
    return _pct(value) if not _na(value) else figure_value(ctx, row, column, "", last_value=False)


def _regime_since(ctx: Context, regime) -> str:
    """' since <date>': the first day of the current regime spell (NULL days do not break it)."""
    df = ctx.query(
        "SELECT max(date) AS d FROM marts.fct_liquidity_pillars_daily WHERE regime IS NOT NULL "
        "AND regime <> ? AND date <= ?",
        [str(regime), ctx.as_of],
    )
    if df.empty or _na(df["d"].iloc[0]):
        return ""
    return f" since the day after {_d(df['d'].iloc[0])}"


def _flag(value) -> bool:
    return bool(value) if not _na(value) else False


def _pillars_text(ctx: Context) -> str:
    if not ctx.has("fct_liquidity_pillars_daily"):
        return ""
    df = ctx.query(
        f"SELECT {', '.join(PILLARS)} FROM marts.fct_liquidity_pillars_daily WHERE date = ?",
        [ctx.as_of],
    )
    if df.empty:
        return ""
    row = df.iloc[0].to_dict()
    gone = [col for col in PILLARS if _na(row[col])]
    text = f" from {len(PILLARS) - len(gone)} of {len(PILLARS)} pillars"
    if gone:
        text += (
            " (missing: "
            + "; ".join(f"{PILLARS[c]}: {ctx.why_missing(FIGURE_INPUTS[c])}" for c in gone)
            + ")"
        )
    return text


def summarize(ctx: Context, events: pd.DataFrame) -> str:
    """The Markdown summary of the as-of day (also the asset's metadata in the Dagster UI)."""
    head = [f"**Crosswind daily, as of {ctx.day or 'unknown'}**", ""]
    if not ctx.has("mart_market_dashboard_daily"):
        gone = ctx.missing_marts("mart_market_dashboard_daily")
        return "\n".join([*head, f"No summary: {gone}.", "", f"- Inputs: {_inputs_line(ctx)}"])
    head += [_as_of_sentence(ctx), ""]
    df = ctx.query("SELECT * FROM marts.mart_market_dashboard_daily WHERE date = ?", [ctx.as_of])
    row = {} if df.empty else df.iloc[0].to_dict()
    regime = row.get("regime")
    lines = [
        f"- Regime: **{regime if not _na(regime) else 'n/a'}**"
        f"{_regime_since(ctx, regime) if not _na(regime) else ''}, stress score "
        f"{figure_value(ctx, row, 'stress_score', '{:,.1f}/100', last_value=False)}"
        f"{_pillars_text(ctx)}",
        "- Net liquidity: "
        + figure_value(ctx, row, "net_liquidity_bn", "USD {:,.0f} bn", last_value=True)
        + (
            f" ({_num(row.get('net_liquidity_change_4w_bn'), '{:+,.0f}')} bn over 4 weeks, "
            f"z {_num(row.get('net_liquidity_z_1y'), '{:+.2f}')})"
            if not _na(row.get("net_liquidity_bn"))
            else ""
        ),
        f"- S&P 500: {figure_value(ctx, row, 'sp500_close', '{:,.2f}', last_value=True)} "
        f"({_return_text(ctx, row, 'sp500_return_1d')}); gold "
        f"{_return_text(ctx, row, 'gold_return_1d')}, silver "
        f"{_return_text(ctx, row, 'silver_return_1d')}, BTC "
        f"{_return_text(ctx, row, 'btc_return_1d')}",
        "- Funding: SOFR−IORB "
        + figure_value(ctx, row, "sofr_iorb_spread_bp", "{:+.1f} bp", last_value=True)
        + f", MOVE {figure_value(ctx, row, 'move_index', '{:.1f}', last_value=True)}, HY OAS "
        + figure_value(ctx, row, "hy_oas_pct", "{:.2f} %", last_value=True)
        + f", USD/JPY {figure_value(ctx, row, 'usdjpy', '{:.2f}', last_value=True)} "
        f"({_num(row.get('usdjpy_change_5d_pct'), '{:+.2f}')} % over 5 days)",
    ]
    if ctx.has("fct_cross_asset_regime_daily"):
        recent = ctx.query(
            "SELECT count(*) FILTER (is_synchronized_selloff) AS s, count(*) FILTER "
            "(is_hedge_failure) AS h FROM (SELECT * FROM marts.fct_cross_asset_regime_daily "
            "WHERE date <= ? ORDER BY date DESC LIMIT 20)",
            [ctx.as_of],
        )
        flags = [
            text
            for col, text in (
                ("is_synchronized_selloff", "**synchronized selloff that day**"),
                ("is_hedge_failure", "**hedges failed that day**"),
                ("carry_unwind_flag", "**yen carry unwind signal**"),
            )
            if _flag(row.get(col))
        ]
        lines.append(
            f"- Last 20 trading days to {ctx.day}: {int(recent['s'].iloc[0])} synchronized "
            f"selloff(s), {int(recent['h'].iloc[0])} hedge failure(s)"
            + (f"; {', '.join(flags)}" if flags else "")
        )
    lines += filter(None, (drivers_md(row),))
    if ctx.has("fct_selloff_drivers"):
        lines += filter(None, (latest_selloff_md(selloff_drivers_frame(ctx, 1)),))
    if not events.empty:
        e = events.iloc[0]
        lines.append(
            f"- Latest margin change: {e['product']} {_d(e['effective_date'])} "
            f"{_num(e['pct_change'], '{:+.1f}')} % ({e['direction']}); underlying "
            f"{_pct(e['fwd_return_20d'])} over the next 20 days"
        )
    lines.append(f"- Inputs: {_inputs_line(ctx)}")
    return "\n".join(head + lines)


def _as_of_sentence(ctx: Context) -> str:
    if ctx.as_of is None:  # still run every query below: they all say n/a, with the reason
        return "No as-of date: the dashboard mart has no rows, so every figure is n/a."
    text = f"As-of date: the {ctx.as_of_rule}; every figure below is as of that day."
    if ctx.newest_row and ctx.as_of and ctx.newest_row > ctx.as_of:
        text += (
            f" Later rows (to {ctx.newest_row.isoformat()}) carry single inputs only and are "
            "not used."
        )
    if ctx.source_mode == "live" and ctx.as_of:
        lag = (datetime.now(UTC).date() - ctx.as_of).days
        if lag > LIVE_LAG_WARN_DAYS:
            text += f" **The as-of date is {lag} days before today: inputs are not arriving.**"
    return text


def _inputs_line(ctx: Context) -> str:
    if ctx.inputs.empty:
        text = "input health not recorded in this serving copy (no raw layer in the build)"
    else:
        bad = ctx.inputs[ctx.inputs["status"].isin(["stale", "missing"])]
        names = list(bad[bad["required"].fillna(False).astype(bool)]["input"])
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        text = (
            f"{len(ctx.inputs)} tracked; {len(names)} required past their staleness limit or "
            f"missing ({shown})"
            if names
            else f"{len(ctx.inputs)} tracked; every required input within its staleness limit"
        )
    if ctx.problems:
        text += f"; {len(ctx.problems)} failed input check(s)"
    return text + ", see Input health"


# --- sections -----------------------------------------------------------------------------------

STATUS_ORDER = {"missing": 0, "stale": 1, "not supplied": 2, "event history": 3, "fresh": 4}
STATUS_TEXT = {
    "missing": "missing",
    "stale": "past limit",
    "not supplied": "not supplied",
    "event history": "event history",
    "fresh": "fresh",
}


def section_input_health(ctx: Context) -> Section:
    """Each input's newest observation, its age on the as-of date, its limit and source mode."""
    title = "Input health"
    checks = ""
    if ctx.problems:
        items = "".join(f"<li>{_esc(p)}</li>" for p in ctx.problems)
        checks = f"<h3>Failed input checks (latest evaluation)</h3><ul class='checks'>{items}</ul>"
    if ctx.inputs.empty:
        return Section(
            title,
            html=checks,
            missing="input health is not recorded in this serving copy (its build has no raw "
            "layer)",
        )
    df = ctx.inputs.copy()
    df["_order"] = df["status"].map(STATUS_ORDER).fillna(9)
    df["_required"] = ~df["required"].fillna(False).astype(bool)
    df = df.sort_values(["_order", "_required", "source", "input"])
    head = (
        "<tr><th>input</th><th>source</th><th>what</th><th></th><th>last observation</th>"
        f"<th>age on {ctx.day}</th><th>staleness limit</th><th>status</th><th>mode</th>"
        "<th>note</th></tr>"
    )

    def row(r) -> str:
        age = None if _na(r.age_days) else int(r.age_days)
        age_text = "" if age is None else ("after the as-of date" if age < 0 else f"{age} d")
        limit = "none (events)" if _na(r.staleness_days) else f"{int(r.staleness_days)} d"
        required = "required" if not _na(r.required) and bool(r.required) else "optional"
        stuck = "" if _na(r.stuck_periods) else f"stuck (flagged): {r.stuck_periods}"
        return (
            f"<tr class='status-{r.status.replace(' ', '-')}'><td>{_esc(r.input)}</td>"
            f"<td>{_esc(r.source)}</td><td class='what'>{_esc(r.description or '')}</td>"
            f"<td>{required}</td><td>{_d(r.last_date) or '—'}</td><td>{age_text}</td>"
            f"<td>{limit}</td><td>{STATUS_TEXT.get(r.status, r.status)}</td>"
            f"<td>{'—' if _na(r.source_mode) else _esc(r.source_mode)}</td>"
            f"<td>{_esc(stuck)}</td></tr>"
        )

    rows = {
        status: "".join(row(r) for r in df[df["status"].eq("fresh") == fresh].itertuples())
        for status, fresh in (("attention", False), ("fresh", True))
    }
    fresh_count = int(df["status"].eq("fresh").sum())
    table = f"<table class='grid inputs'>{head}{rows['attention']}</table>"
    folded = (
        f"<details><summary>{fresh_count} inputs within their staleness limit (show)</summary>"
        f"<table class='grid inputs'>{head}{rows['fresh']}</table></details>"
    )
    legend = (
        "<p class='note'>Age = days from the last observation to the as-of date. <b>past "
        "limit</b>: older than its staleness limit on the as-of date, so the daily marts hold NULL "
        "for it there (a figure it feeds reads n/a). <b>not supplied</b>: an optional input with "
        "no data (e.g. a CSV drop). Mode: live, replay or sample, of the newest load.</p>"
    )
    return Section(title, html=legend + table + folded + checks)


def section_liquidity_vs_spx(ctx: Context) -> Section:
    title = "Net liquidity vs S&P 500"
    if gone := ctx.missing_marts("fct_net_liquidity_daily", "fct_asset_returns_daily"):
        return Section(title, missing=gone)
    df = ctx.query(
        "SELECT n.date, n.net_liquidity_bn, r.close AS sp500 FROM marts.fct_net_liquidity_daily n "
        "LEFT JOIN marts.fct_asset_returns_daily r ON r.date = n.date AND r.asset = 'sp500' "
        "WHERE n.date <= ? ORDER BY n.date",
        [ctx.as_of],
    )
    if df.empty or df["net_liquidity_bn"].notna().sum() == 0:
        return Section(title, missing="fct_net_liquidity_daily has no net liquidity values")
    df = _since(df, 10)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(
            x=df["date"],
            y=df["net_liquidity_bn"],
            name="Net liquidity (Fed assets − TGA − ON RRP)",
            line={"color": "#1f77b4"},
        ),
        secondary_y=False,
    )
    spx = df.dropna(subset=["sp500"])
    fig.add_trace(
        go.Scatter(x=spx["date"], y=spx["sp500"], name="S&P 500", line={"color": "#d62728"}),
        secondary_y=True,
    )
    _axis(fig, "Net liquidity, USD bn", secondary_y=False)
    # Each axis picks its own round ticks; gridlines follow the left axis only.
    _axis(fig, "S&P 500, index points", secondary_y=True, showgrid=False, tickmode="auto")
    end = pd.Timestamp(ctx.as_of)
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
        title=f"Net liquidity vs S&P 500, to {ctx.day}",
        hovermode="x unified",
        height=430,
        legend={"orientation": "h", "y": -0.15},
    )
    last = df.dropna(subset=["net_liquidity_bn"])["date"].max()
    missing = ""
    if _d(last) < ctx.day:
        missing = (
            f"Net liquidity ends {_d(last)}: {ctx.why_missing(FIGURE_INPUTS['net_liquidity_bn'])}."
        )
    return Section(title, fig, missing=missing)


def _regime_segments(df: pd.DataFrame) -> list[tuple[object, object, str]]:
    segments: list[tuple[object, object, str]] = []
    for day, regime in zip(df["date"], df["regime"], strict=True):
        if _na(regime):
            continue
        if segments and segments[-1][2] == regime:
            segments[-1] = (segments[-1][0], day, regime)
        else:
            segments.append((day, day, regime))
    return segments


def section_pillars(ctx: Context) -> Section:
    """The five pillar z-scores as heatmap rows (gaps = missing), the score below with regimes."""
    title = "Liquidity pillars and stress regime"
    if gone := ctx.missing_marts("fct_liquidity_pillars_daily"):
        return Section(title, missing=gone)
    df = ctx.query(
        f"SELECT date, {', '.join(PILLARS)}, stress_score, regime "
        "FROM marts.fct_liquidity_pillars_daily WHERE date <= ? ORDER BY date",
        [ctx.as_of],
    )
    df = _since(df, 2)
    if df.empty:
        return Section(title, missing="fct_liquidity_pillars_daily is empty")
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.45, 0.55],
        vertical_spacing=0.08,
        subplot_titles=(
            "Pillar z-scores (red = stress, blank = pillar missing that day)",
            "Stress score, shaded by regime",
        ),
    )
    fig.add_trace(
        go.Heatmap(
            x=df["date"],
            y=list(PILLARS.values()),
            z=[df[col].tolist() for col in PILLARS],
            zmin=-3,
            zmax=3,
            zmid=0,
            colorscale="RdBu_r",
            colorbar={"title": {"text": "z"}, "len": 0.45, "y": 0.78, "tickvals": [-3, 0, 3]},
            hovertemplate="%{x|%Y-%m-%d} %{y}: z %{z:.2f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
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
            opacity=0.7,
            layer="below",
            line_width=0,
            row=2,
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
        title=f"Liquidity pillars and stress regime, to {ctx.day}",
        height=560,
        hovermode="closest",
        legend={"orientation": "h", "y": -0.1},
    )
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    _axis(fig, "stress score (0–100)", range=[0, 100], tickvals=[0, 25, 50, 75, 100], row=2, col=1)
    latest = df[pd.to_datetime(df["date"]) == pd.Timestamp(ctx.as_of)]
    gone = [] if latest.empty else [c for c in PILLARS if _na(latest.iloc[0][c])]
    missing = "; ".join(
        f"{PILLARS[c]} pillar missing on {ctx.day}: {ctx.why_missing(FIGURE_INPUTS[c])}"
        for c in gone
    )
    return Section(title, fig, missing=missing)


def section_correlation(ctx: Context) -> Section:
    """Every tracked asset on both axes: an asset without a correlation on the day is blank and
    named below with the reason, never silently dropped."""
    title = "Cross-asset correlation"
    if gone := ctx.missing_marts("fct_cross_asset_correlation_daily", "fct_asset_returns_daily"):
        return Section(title, missing=gone)
    df = ctx.query(
        "WITH d AS (SELECT CASE WHEN count(*) FILTER (window_days = 60) > 0 THEN 60 ELSE 20 END "
        "AS wd FROM marts.fct_cross_asset_correlation_daily WHERE date <= $1), "
        "day AS (SELECT max(c.date) AS date FROM marts.fct_cross_asset_correlation_daily c, d "
        "WHERE c.window_days = d.wd AND c.date <= $1 AND c.correlation IS NOT NULL) "
        "SELECT c.date, c.window_days, c.asset_a, c.asset_b, c.correlation "
        "FROM marts.fct_cross_asset_correlation_daily c, d, day "
        "WHERE c.window_days = d.wd AND c.date = day.date",
        [ctx.as_of],
    )
    if df.empty:
        return Section(
            title, missing="fct_cross_asset_correlation_daily has no rows to the as-of date"
        )
    day = pd.Timestamp(df["date"].iloc[0]).date()
    assets_df = ctx.query(
        "SELECT asset, series_id, source_date, age_days, staleness_limit_days "
        "FROM marts.fct_asset_returns_daily WHERE date = ? ORDER BY asset",
        [day],
    )
    order = list(ASSET_LABELS)
    assets = sorted(
        set(df["asset_a"]) | set(df["asset_b"]) | set(assets_df["asset"]),
        key=lambda a: (order.index(a) if a in order else len(order), a),
    )
    labels = [ASSET_LABELS.get(a, a) for a in assets]
    matrix = pd.DataFrame(float("nan"), index=assets, columns=assets)
    for row in df.dropna(subset=["correlation"]).itertuples():
        matrix.loc[row.asset_a, row.asset_b] = row.correlation
        matrix.loc[row.asset_b, row.asset_a] = row.correlation
    covered = [a for a in assets if matrix.loc[a].notna().any()]
    for asset in covered:
        matrix.loc[asset, asset] = 1.0
    text = matrix.map(lambda v: "" if _na(v) else f"{v:.2f}")
    window = int(df["window_days"].iloc[0])
    fig = go.Figure(
        go.Heatmap(
            z=matrix.values,
            x=labels,
            y=labels,
            zmin=-1,
            zmax=1,
            colorscale="RdBu_r",
            text=text.values,
            texttemplate="%{text}",
            colorbar={"title": {"text": "correlation"}, "tickvals": [-1, -0.5, 0, 0.5, 1]},
            hovertemplate="%{y} vs %{x}: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Cross-asset correlation of daily returns, {window}-day window, {day}",
        height=560,
        yaxis={"autorange": "reversed"},
    )
    absent = [a for a in assets if a not in covered]
    notes = []
    for asset in absent:
        info = assets_df[assets_df["asset"] == asset]
        if info.empty:
            notes.append(f"{ASSET_LABELS.get(asset, asset)}: no price rows on {day}")
            continue
        r = info.iloc[0]
        age, limit = _num(r["age_days"], "{:.0f}"), _num(r["staleness_limit_days"], "{:.0f}")
        notes.append(
            f"{ASSET_LABELS.get(asset, asset)} ({r['series_id']}): last price "
            f"{_d(r['source_date'])}, {age} d old on {day} > {limit} d limit, too few returns "
            "in the window"
        )
    missing = "Blank rows: " + "; ".join(notes) + "." if notes else ""
    if day.isoformat() != ctx.day:
        missing = f"Newest correlations are from {day}, before the as-of date. " + missing
    return Section(title, fig, missing=missing)


def section_selloffs(ctx: Context) -> Section:
    """Selloff days (S&P return, %) above, the average correlation (no unit) below: one unit
    per axis."""
    title = "Selloff days"
    if gone := ctx.missing_marts("fct_cross_asset_regime_daily"):
        return Section(title, missing=gone)
    df = ctx.query(
        "SELECT date, equity_return_1d, share_assets_down, avg_pairwise_correlation_20d, "
        "is_synchronized_selloff, is_hedge_failure FROM marts.fct_cross_asset_regime_daily "
        "WHERE date <= ? ORDER BY date",
        [ctx.as_of],
    )
    df = _since(df, 2)
    if df.empty:
        return Section(title, missing="fct_cross_asset_regime_daily is empty")
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.07
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
                hovertemplate="%{x|%Y-%m-%d}: S&P %{y:.2f} %, %{customdata:.0f} % of basket down",
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=df["date"],
            y=df["avg_pairwise_correlation_20d"],
            name="Avg pairwise correlation (20 days)",
            line={"color": "#7f7f7f"},
        ),
        row=2,
        col=1,
    )
    _axis(fig, "S&P 500 return that day, %", tickformat=".1f", row=1, col=1)
    _axis(fig, "avg correlation", range=[-1, 1], tickvals=[-1, -0.5, 0, 0.5, 1], row=2, col=1)
    fig.update_layout(
        title=f"Selloff days: stocks, gold, silver, oil and crypto falling together, to {ctx.day}",
        height=480,
        legend={"orientation": "h", "y": -0.12},
    )
    drivers = (
        selloff_drivers_table(selloff_drivers_frame(ctx))
        if ctx.has("fct_selloff_drivers")
        else f"<p class='missing'>{_esc(ctx.missing_marts('fct_selloff_drivers'))}</p>"
    )
    return Section(title, fig, html=drivers)


def margin_frame(ctx: Context) -> pd.DataFrame:
    """The 15 newest margin changes to the as-of date (read once, shared by summary and chart)."""
    if "margins" in ctx.cache:
        return ctx.cache["margins"]
    if not ctx.has("fct_margin_events"):
        return ctx.cache.setdefault("margins", pd.DataFrame())
    return ctx.cache.setdefault(
        "margins",
        ctx.query(
            "SELECT product, effective_date, direction, pct_change, new_margin, margin_unit, "
            "underlying_series_id, fwd_return_1d, fwd_return_5d, fwd_return_20d, fwd_return_60d, "
            "max_drawdown_20d FROM marts.fct_margin_events WHERE effective_date <= ? "
            "ORDER BY effective_date DESC, product LIMIT 15",
            [ctx.as_of],
        ),
    )


def _margin_text(value, unit) -> str:
    if _na(value):
        return "n/a"
    if unit == "pct_notional":
        return f"{value:,.2f} % of notional"
    if unit == "usd_per_contract":
        return f"USD {value:,.0f} per contract"
    return f"{value:,.2f} {MARGIN_UNITS.get(unit, unit or '')}"


def _margin_table(events: pd.DataFrame) -> str:
    head = (
        "<tr><th>product</th><th>effective</th><th>change</th><th>new margin</th>"
        "<th>+1d</th><th>+5d</th><th>+20d</th><th>+60d</th><th>max drawdown 20d</th></tr>"
    )
    rows = [
        f"<tr><td>{_esc(r.product)}</td><td>{_d(r.effective_date)}</td>"
        f"<td>{_num(r.pct_change, '{:+.1f} %')}</td>"
        f"<td>{_esc(_margin_text(r.new_margin, r.margin_unit))}</td>"
        f"<td>{_pct(r.fwd_return_1d)}</td><td>{_pct(r.fwd_return_5d)}</td>"
        f"<td>{_pct(r.fwd_return_20d)}</td><td>{_pct(r.fwd_return_60d)}</td>"
        f"<td>{_pct(None if _na(r.max_drawdown_20d) else -abs(r.max_drawdown_20d))}</td></tr>"
        for r in events.itertuples()
    ]
    return f"<table class='grid'>{head}{''.join(rows)}</table>"


def section_margins(ctx: Context) -> Section:
    """Margin changes with what the underlying did next; changes without prices after them are
    listed with the reason instead of leaving empty slots."""
    title = "Margin changes"
    if gone := ctx.missing_marts("fct_margin_events"):
        return Section(title, missing=gone)
    events = margin_frame(ctx)
    if events.empty:
        return Section(title, missing="fct_margin_events has no margin changes (no CME history)")
    cols = ["fwd_return_1d", "fwd_return_5d", "fwd_return_20d"]
    priced = events[events[cols].notna().any(axis=1)].iloc[::-1]
    unpriced = events[~events[cols].notna().any(axis=1)]
    notes = []
    for (product, series), group in unpriced.groupby(
        ["product", "underlying_series_id"], dropna=False
    ):
        notes.append(
            f"{len(group)} {product} change(s) from {_d(group['effective_date'].min())} have no "
            f"forward returns: no price of {series} (or its proxy) after the change "
            f"({ctx.why_missing([series])})."
        )
    notes.append("+60d is n/a until 60 trading days have passed since the change.")
    fig = None
    if not priced.empty:
        labels = [
            f"{p} {_d(d)} ({_num(c, '{:+.1f}')} %)"
            for p, d, c in zip(
                priced["product"], priced["effective_date"], priced["pct_change"], strict=True
            )
        ]
        fig = go.Figure()
        for col, name, color in (
            ("fwd_return_5d", "5 trading days after", "#6baed6"),
            ("fwd_return_20d", "20 trading days after", "#08519c"),
        ):
            fig.add_trace(
                go.Bar(
                    y=labels, x=priced[col] * 100, name=name, orientation="h", marker_color=color
                )
            )
        # max_drawdown_20d is <= 0 (worst close vs the base close); plotted as a fall below zero
        fig.add_trace(
            go.Scatter(
                y=labels,
                x=-priced["max_drawdown_20d"].abs() * 100,
                mode="markers",
                name="max drawdown within 20 days",
                marker={"color": "black", "size": 9, "symbol": "line-ns-open"},
            )
        )
        fig.update_layout(
            title="Recent margin changes: what the underlying did next (change, % of margin)",
            barmode="group",
            height=max(320, 90 + 42 * len(labels)),
            # above the plot, right: below it the legend would sit on the x-axis title
            legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1, "xanchor": "right"},
            margin={"l": 200},
        )
        fig.update_xaxes(
            title_text="return of the underlying after the change, %", tickformat=".1f"
        )
    return Section(title, fig, html=_margin_table(events), missing=" ".join(notes))


# --- the stress score against the official indices ------------------------------------------

BENCHMARK_LABELS = {
    "STLFSI4": "St. Louis Fed FSI (STLFSI4)",
    "NFCI": "Chicago Fed NFCI",
    "OFR_FSI": "OFR FSI",
}
BENCHMARK_COLORS = {"STLFSI4": "#1f77b4", "NFCI": "#2ca02c", "OFR_FSI": "#ff7f0e"}


def chart_stress_vs_official(ctx: Context) -> go.Figure | None:
    """crosswind's score and each official index on one axis: z-scores over their common sample.

    crosswind is drawn once, from its comparison with the index whose sample runs latest (its z
    differs slightly by sample); named episodes are shaded, their labels staggered.
    """
    df = ctx.query(
        "SELECT benchmark_index, date, benchmark_z, crosswind_z "
        "FROM marts.fct_stress_index_comparison WHERE date <= ? ORDER BY benchmark_index, date",
        [ctx.as_of],
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
    episodes = ctx.query(
        "SELECT DISTINCT scope_label, window_start, window_end FROM marts.fct_stress_scorecard "
        "WHERE scope <> 'full_sample' ORDER BY window_start"
    )
    for k, row in enumerate(episodes.itertuples()):
        fig.add_vrect(
            x0=row.window_start,
            x1=row.window_end,
            fillcolor="#dddddd",
            opacity=0.5,
            layer="below",
            line_width=0,
        )
        # Staggered over three lines: neighbouring episodes' labels do not overprint.
        fig.add_annotation(
            x=row.window_start,
            y=1.0,
            yref="paper",
            yshift=-14 * (k % 3),
            text=row.scope_label,
            showarrow=False,
            xanchor="left",
            font={"size": 10},
        )
    fig.update_layout(
        title="Stress score vs the official stress indices (each standardised over its common "
        "sample with crosswind)",
        hovermode="x unified",
        height=480,
        legend={"orientation": "h", "y": -0.15},
    )
    _axis(fig, "z (standard deviations from the sample mean)", tickformat=".0f")
    return fig


def scorecard_table(ctx: Context) -> str:
    """The scorecard's full-sample row per index as a small HTML table."""
    df = ctx.query(
        "SELECT benchmark_index, observations, comparison_frequency, level_correlation, "
        "change_4w_correlation, top_decile_agreement, stress_regime_hit_rate, "
        "false_alarm_episodes, crosswind_stress_episodes, false_alarms_per_year "
        "FROM marts.fct_stress_scorecard WHERE scope = 'full_sample' ORDER BY benchmark_index",
    )
    if df.empty:
        return ""
    head = (
        "<tr><th>index</th><th>readings</th><th>correlation of levels</th>"
        "<th>correlation of 4-week changes</th><th>top-decile agreement</th>"
        "<th>in 'stress' when the index is top decile</th><th>false alarms</th>"
        "<th>per year</th></tr>"
    )
    rows = [
        f"<tr><td>{_esc(BENCHMARK_LABELS.get(r.benchmark_index, r.benchmark_index))}</td>"
        f"<td>{r.observations:,} {_esc(r.comparison_frequency)}</td>"
        f"<td>{_num(r.level_correlation, '{:.2f}')}</td>"
        f"<td>{_num(r.change_4w_correlation, '{:.2f}')}</td>"
        f"<td>{_num(r.top_decile_agreement, '{:.0%}')}</td>"
        f"<td>{_num(r.stress_regime_hit_rate, '{:.0%}')}</td>"
        f"<td>{r.false_alarm_episodes} of {r.crosswind_stress_episodes}</td>"
        f"<td>{_num(r.false_alarms_per_year, '{:.2f}')}</td></tr>"
        for r in df.itertuples()
    ]
    return (
        f"<table class='grid'>{head}{''.join(rows)}</table><p class='note'>Ex post, over "
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


def attribution_frame(ctx: Context) -> pd.DataFrame:
    """The five pillar rows of fct_stress_attribution_daily on its latest day to the as-of date."""
    return ctx.query(
        "SELECT * FROM marts.fct_stress_attribution_daily WHERE date = (SELECT max(date) FROM "
        "marts.fct_stress_attribution_daily WHERE date <= ?) ORDER BY pillar_order",
        [ctx.as_of],
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


def selloff_drivers_frame(ctx: Context, days: int = 8) -> pd.DataFrame:
    """fct_selloff_drivers for the latest `days` selloff / hedge-failure days to the as-of date."""
    return ctx.query(
        "SELECT * FROM marts.fct_selloff_drivers WHERE date IN (SELECT DISTINCT date FROM "
        "marts.fct_selloff_drivers WHERE date <= ? ORDER BY date DESC LIMIT ?) "
        "ORDER BY date DESC, driver_order",
        [ctx.as_of, int(days)],
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


def section_stress_vs_official(ctx: Context) -> Section:
    title = "Stress score vs the official indices"
    if gone := ctx.missing_marts("fct_stress_index_comparison", "fct_stress_scorecard"):
        return Section(title, missing=gone)
    fig = chart_stress_vs_official(ctx)
    if fig is None:
        why = "; ".join(f"{BENCHMARK_LABELS[b]}: {ctx.why_missing([b])}" for b in BENCHMARK_LABELS)
        return Section(title, missing=f"no official index to compare with ({why})")
    return Section(title, fig, html=scorecard_table(ctx))


def section_attribution(ctx: Context) -> Section:
    title = "What drives the stress score"
    if gone := ctx.missing_marts("fct_stress_attribution_daily"):
        return Section(title, missing=gone)
    frame = attribution_frame(ctx)
    if frame.empty:
        return Section(title, missing=f"no scored day up to {ctx.day or 'the as-of date'}")
    return Section(title, chart_stress_attribution(frame), html=attribution_table(frame))


# The page, top to bottom after the summary. A new section: one function (Context -> Section).
SECTIONS: list[Callable[[Context], Section]] = [
    section_input_health,
    section_liquidity_vs_spx,
    section_pillars,
    section_correlation,
    section_selloffs,
    section_margins,
    section_stress_vs_official,
    section_attribution,
]


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
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;opacity:.85;font-size:13px}
main{max-width:1200px;margin:0 auto;padding:16px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:8px;margin:14px 0;padding:10px 16px}
h2{font-size:18px;margin:8px 0} h3{font-size:15px;margin:12px 0 4px}
.missing{color:#8a5a00;background:#fff7e6;padding:6px 10px;border-radius:4px;font-size:13px}
.synthetic{background:#ffe9a8;padding:8px 28px} .note{color:#666;font-size:12px}
table.grid{border-collapse:collapse;font-size:13px;margin:8px 0} table.grid td,
table.grid th{border-bottom:1px solid #eee;padding:4px 10px;text-align:right}
table.grid td:first-child,table.grid th:first-child{text-align:left}
table.inputs td,table.inputs th{text-align:left} table.inputs td.what{max-width:330px;color:#555}
tr.status-stale td,tr.status-missing td{background:#fdecea} tr.status-not-supplied td{color:#777}
details summary{cursor:pointer;color:#13294b;font-size:13px;margin:6px 0}
ul.checks{font-size:13px}
"""


def _modes(inputs: pd.DataFrame) -> str:
    """The source mode(s) the inputs were loaded in, when the publish did not record one."""
    modes = sorted(set(inputs["source_mode"].dropna())) if not inputs.empty else []
    return " + ".join(modes) or "unknown"


def _context(con, input_problems: Sequence[str]) -> Context:
    marts = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'"
        ).fetchall()
    }
    views = {
        r[0]
        for r in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE schema_name = 'bi'"
        ).fetchall()
    }
    probe = Context(con, None, "", None, marts, pd.DataFrame())
    # A copy published with require_views=False (stand-in marts) may lack these two views: the
    # page then says it has no as-of date, and shows only what it can (the input checks).
    as_of = (
        probe.query("SELECT as_of_date, rule, newest_row_date FROM bi.as_of")
        if "as_of" in views
        else pd.DataFrame()
    )
    info = dict(probe.query("SELECT key, value FROM meta.publish_info").values.tolist())
    inputs = (
        probe.query("SELECT * FROM bi.input_health") if "input_health" in views else pd.DataFrame()
    )
    day = None if as_of.empty or _na(as_of["as_of_date"].iloc[0]) else as_of["as_of_date"].iloc[0]
    newest = as_of["newest_row_date"].iloc[0] if not as_of.empty else None
    return Context(
        con=con,
        as_of=None if day is None else pd.Timestamp(day).date(),
        as_of_rule=str(as_of["rule"].iloc[0]) if not as_of.empty else "",
        newest_row=None if _na(newest) else pd.Timestamp(newest).date(),
        marts=marts,
        inputs=inputs,
        source_mode=info.get("source_mode") or _modes(inputs),
        published_at=info.get("published_at", "unknown"),
        problems=list(input_problems),
    )


def _render_section(i: int, section: Section) -> tuple[str, int]:
    note = f"<p class='missing'>{_esc(section.missing)}</p>" if section.missing else ""
    if section.figure is None:
        if not section.html:
            note = f"<p class='missing'>Not available: {_esc(section.missing or 'no data')}.</p>"
        return f"<section><h2>{_esc(section.title)}</h2>{note}{section.html}</section>", 0
    div = section.figure.to_html(
        full_html=False, include_plotlyjs=False, div_id=f"chart-{i}", config=PLOT_CONFIG
    )
    return (
        f"<section class='chart'><h2>{_esc(section.title)}</h2>{div}{note}{section.html}</section>",
        1,
    )


def render_html(
    serving_file: Path, *, synthetic: bool = False, input_problems: Sequence[str] = ()
) -> tuple[str, str, str, int]:
    """(html, as_of, summary_md, charts) for the serving copy at `serving_file`.

    `input_problems`: failed input-health checks (`raw_assets.input_problems`), listed in the
    input-health section so a frozen or missing input is never silent.
    """
    con = duckdb.connect(str(serving_file), read_only=True)
    try:
        ctx = _context(con, input_problems)
        summary_md = summarize(ctx, margin_frame(ctx))
        sections = [make(ctx) for make in SECTIONS]
    finally:
        con.close()
    body, charts = [], 0
    for i, section in enumerate(sections):
        text, drawn = _render_section(i, section)
        body.append(text)
        charts += drawn
    as_of = ctx.day or datetime.now(UTC).date().isoformat()
    banner = (
        "<div class='synthetic'>SYNTHETIC sample data — not real market data.</div>"
        if synthetic
        else ""
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Crosswind daily report, as of {as_of}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<header><h1>Crosswind daily report — as of {as_of}</h1>
<p>Data as of {as_of} ({_esc(ctx.as_of_rule or "no as-of date")}); source mode
{_esc(ctx.source_mode)}; serving copy published {_esc(ctx.published_at)}; page generated
{datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Self-contained: opens offline.</p></header>{banner}
<main><section class="summary">{_md_to_html(summary_md)}</section>
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
    path = reports_dir / f"{date.fromisoformat(as_of).isoformat()}.html"
    latest = reports_dir / "latest.html"
    write_text_atomic(path, page)
    write_text_atomic(latest, page)
    return ReportResult(path, latest, as_of, charts, path.stat().st_size, summary_md)
