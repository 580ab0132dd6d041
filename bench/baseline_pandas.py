"""A plain pandas baseline of the headline marts, straight from a snapshot folder.

No Dagster, no dbt, nothing imported from `orchestration`: the replay files are read with
pandas / numpy and the marts' semantics are re-implemented here, vectorised, so the benchmark
can compare the warehouse's build time with "just a script" and, at the same time, check the
marts against an independent implementation:

    python bench/baseline_pandas.py --snapshot ../shared/snapshot \
        [--compare warehouse/serving.duckdb] [--json]

Marts reproduced (key columns + headline value columns):

- fct_net_liquidity_daily            Fed assets - TGA - ON RRP, point-in-time, changes, 1y z
- fct_funding_stress_daily           SOFR/IORB, MOVE, HY OAS, USD/JPY, US2Y-JP2Y, carry unwind
- fct_cross_asset_correlation_daily  60-day rolling pairwise correlations (window_days = 60)
- fct_cross_asset_regime_daily       synchronized-selloff / hedge-failure flags (+ 20/60d stats)

Semantics mirrored (see dbt_project/models and macros/point_in_time.sql):
- units: value x the catalog's unit factor, rounded to 9 decimals for FRED / Treasury / MOF
  observations (stg_series_observations), not rounded for market closes (stg_markets__daily_bars);
- point in time: published_date = observation date + release lag (calendar days, or business
  days of the series' publisher calendar -- Mon-Fri minus its holidays, from the `holidays`
  package as orchestration/lib/calendars.py calls it -- with weekends and holidays counting from
  the business day before); the value on D is the latest
  observation published by D, NULL when D - observation_date > staleness_days;
- mart date ranges: first publication .. last publication of the mart's inputs, capped at today;
- markets: the NYSE trading calendar over SPX's range, as-of closes carried at most
  staleness_days, primary/proxy switch, returns within one series and only on days with a real
  observation (NULL on a carried close), 10 decimals for correlations, ceil(0.75 n) minimum pairs;
- DuckDB's round(x, n) (round half away from zero of x * 10^n, then / 10^n).

Configuration that is data is read as data: orchestration/catalog.yaml (units factors, release
lags, staleness) and the vars of dbt_project/dbt_project.yml (yaml.safe_load, no dbt).

`compare(frames, duckdb_path)` joins each frame with the built mart (opened read-only) on its
keys and reports row counts, matched rows, the largest absolute difference per value column and
the mismatches; exit status 1 when any mart differs.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from itertools import combinations
from pathlib import Path

import duckdb
import holidays
import numpy as np
import pandas as pd
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
CATALOG_PATH = REPO_ROOT / "orchestration" / "catalog.yaml"
DBT_PROJECT_PATH = REPO_ROOT / "dbt_project" / "dbt_project.yml"

NET_LIQUIDITY = "fct_net_liquidity_daily"
FUNDING_STRESS = "fct_funding_stress_daily"
CORRELATION = "fct_cross_asset_correlation_daily"
REGIME = "fct_cross_asset_regime_daily"
CORRELATION_WINDOW = 60  # the window this baseline reports for the correlation mart

# Defaults of the dbt vars (dbt_project.yml may override them; the SQL's var() defaults for the
# ones not listed there).
DEFAULT_VARS: dict = {
    "zscore_window_days": 365,
    "zscore_min_obs": 250,
    "carry_unwind_usdjpy_5d_pct": -2.0,
    "carry_unwind_spread_5d_bp": -10.0,
    "correlation_windows": [20, 60],
    "correlation_min_obs_share": 0.75,
    "correlation_start_date": "2000-01-01",
    "selloff_equity_drop": 0.01,
    "selloff_min_share_down": 0.75,
    "selloff_min_assets": 4,
    "regime_equity_asset": "sp500",
    "equity_calendar_series": "SPX",
    "pit_daily_series": {},
}

# int_markets__asset_map (configuration in SQL, copied here):
# asset, primary series, proxy series, return kind, in_regime_basket, haven_loss_sign
ASSETS: list[tuple[str, str, str | None, str, bool, int | None]] = [
    ("sp500", "SPX", None, "simple", True, None),
    ("nasdaq", "NASDAQCOM", None, "simple", False, None),
    ("dow", "DJIA", "DIA", "simple", False, None),
    ("gold", "XAUUSD_LBMA_PM", None, "simple", True, -1),
    ("silver", "XAGUSD", "SLV", "simple", True, None),
    ("wti", "DCOILWTICO", None, "simple", True, None),
    ("btc", "BTC-USD", None, "simple", True, None),
    ("eth", "ETH-USD", None, "simple", True, None),
    ("us10y", "DGS10", None, "change", False, 1),
    ("usdjpy", "USDJPY", "DEXJPUS", "simple", False, 1),
]

# Keys and (optional) row filter of each mart in the warehouse; the value columns compared are
# the baseline frame's other columns.
MART_KEYS: dict[str, list[str]] = {
    NET_LIQUIDITY: ["date"],
    FUNDING_STRESS: ["date"],
    CORRELATION: ["date", "asset_a", "asset_b", "window_days"],
    REGIME: ["date"],
}
MART_FILTERS: dict[str, str] = {CORRELATION: f"window_days = {CORRELATION_WINDOW}"}
RTOL = 1e-9
ATOL = 1e-9


# --- small numeric helpers ------------------------------------------------------------------------


def duck_round(values: np.ndarray, digits: int) -> np.ndarray:
    """DuckDB's round(double, n): std::round(x * 10^n) / 10^n (halves away from zero)."""
    modifier = 10.0**digits
    scaled = np.asarray(values, dtype="float64") * modifier
    magnitude = np.abs(scaled)
    floor = np.floor(magnitude)
    rounded = floor + (magnitude - floor >= 0.5)
    out = np.copysign(rounded, scaled) / modifier
    bad = ~np.isfinite(out)
    return np.where(bad, values, out)


def isodow(days: np.ndarray) -> np.ndarray:
    """ISO day of week (1 = Monday) of datetime64[D] values."""
    return (days.astype("int64") + 3) % 7 + 1


# Publisher calendars as orchestration/lib/calendars.py builds them (the same package calls).
SOURCE_DEFAULT_CALENDAR = {"markets": "nyse", "mof": "japan"}  # others: us_federal
_CALENDAR_FIRST_YEAR, _CALENDAR_LAST_YEAR = 1900, 2099


def _holiday_calendar(name: str, years) -> holidays.HolidayBase:
    if name == "us_federal":
        return holidays.US(years=years, categories=(holidays.PUBLIC,))
    if name == "us_bond_market":
        return holidays.financial_holidays("USGS", years=years)
    if name == "nyse":
        return holidays.financial_holidays("XNYS", years=years)
    if name == "japan":
        return holidays.JP(years=years, categories=(holidays.PUBLIC, holidays.BANK))
    raise ValueError(f"unknown calendar {name!r}")


_BUSINESS_DAYS: dict[str, np.ndarray] = {}


def business_days(calendar: str) -> np.ndarray:
    """int_publisher_calendars: Mon-Fri minus the calendar's holidays over its covered years."""
    if calendar not in _BUSINESS_DAYS:
        cls = type(_holiday_calendar(calendar, []))
        first = max(_CALENDAR_FIRST_YEAR, cls.start_year)
        last = min(_CALENDAR_LAST_YEAR, cls.end_year)
        closed = _holiday_calendar(calendar, range(first, last + 1))
        days = np.arange(f"{first}-01-01", f"{last + 1}-01-01", dtype="datetime64[D]")
        off = np.isin(days, np.array(sorted(closed), dtype="datetime64[D]"))
        _BUSINESS_DAYS[calendar] = days[(isodow(days) <= 5) & ~off]
    return _BUSINESS_DAYS[calendar]


def add_business_days(days: np.ndarray, n: int, calendar: str) -> np.ndarray:
    """The n-th business day of `calendar` after each day; a weekend or holiday counts from the
    business day before it (macro observations_published)."""
    if n <= 0:
        return days
    open_days = business_days(calendar)
    through = np.searchsorted(open_days, days, side="right")  # business days up to the day
    return open_days[through - 1 + n]


def published_dates(days: np.ndarray, lag_days: int, business: bool, calendar: str) -> np.ndarray:
    if business:
        return add_business_days(days, lag_days, calendar)
    return days + np.timedelta64(lag_days, "D")


def to_days(values) -> np.ndarray:
    return np.asarray(pd.to_datetime(values).to_numpy(), dtype="datetime64[D]")


def str_to_float(cells: pd.Series, missing: frozenset[str]) -> np.ndarray:
    """Python float() semantics (what the FRED / Treasury / MOF readers use); missing -> NaN."""
    text = cells.astype(str).str.strip()
    text = text.where(~text.isin(missing), "nan")
    return text.to_numpy(dtype=object).astype("float64")


def asset_map(dbt_vars: dict) -> list[tuple[str, str, str | None, str, bool, int | None]]:
    """The ten assets plus var extra_assets (as int_markets__asset_map appends them)."""
    extra = []
    for entry in dbt_vars.get("extra_assets") or []:
        sign = entry.get("haven_loss_sign")
        extra.append(
            (
                str(entry["asset"]),
                str(entry["primary_series_id"]),
                None if entry.get("proxy_series_id") is None else str(entry["proxy_series_id"]),
                str(entry["return_kind"]),
                str(entry.get("in_regime_basket")).lower() in ("true", "1"),
                None if sign is None else int(sign),
            )
        )
    return ASSETS + extra


# --- configuration --------------------------------------------------------------------------------


class Catalog:
    """orchestration/catalog.yaml read as data: units factor, release lag, staleness per series."""

    def __init__(self, path: Path | None = None):
        path = Path(path) if path is not None else catalog_path()
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        labels = {
            " ".join(k.split()).lower(): float(v["factor"]) for k, v in data["unit_labels"].items()
        }
        self.series: dict[str, dict] = {}
        for series_id, spec in data["series"].items():
            lag = re.fullmatch(r"(\d{1,3})(d|bd)", str(spec["release_lag"]))
            if lag is None:
                raise ValueError(f"{series_id}: release_lag {spec['release_lag']!r}")
            self.series[series_id] = {
                "source": spec["source"],
                "factor": labels[" ".join(spec["units"].split()).lower()],
                "lag_days": int(lag.group(1)),
                "lag_business": lag.group(2) == "bd",
                "calendar": spec.get("release_calendar")
                or SOURCE_DEFAULT_CALENDAR.get(spec["source"], "us_federal"),
                "staleness_days": int(spec["staleness_days"]),
            }

    def for_source(self, source: str) -> list[str]:
        return [s for s, spec in self.series.items() if spec["source"] == source]


def catalog_path() -> Path:
    """CROSSWIND_CATALOG when set (e.g. bench/scale.py's 10x catalog), else the repository's."""
    value = os.environ.get("CROSSWIND_CATALOG", "").strip()
    return Path(value).expanduser().resolve() if value else CATALOG_PATH


def load_vars(path: Path = DBT_PROJECT_PATH) -> dict:
    found = {}
    if path.is_file():
        found = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("vars") or {}
    return {**DEFAULT_VARS, **found}


# --- reading the replay files ---------------------------------------------------------------------

# series id -> (observation dates datetime64[D] ascending, values in stored units)
Observations = dict[str, tuple[np.ndarray, np.ndarray]]


def _finish(dates: np.ndarray, values: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    keep = ~np.isnan(values)  # staging drops missing values: a NULL is no observation
    dates, values = dates[keep], values[keep]
    order = np.argsort(dates, kind="stable")
    dates, values = dates[order], values[order]
    if len(dates) > 1 and (np.diff(dates.astype("int64")) == 0).any():
        raise ValueError(f"{where}: repeated dates")
    return dates, values


def _text_csv(path: Path) -> pd.DataFrame:
    """A CSV with every cell as written ("NaN", "null", blanks stay text), names stripped."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw


def _series_files(folder: Path, catalog: Catalog, source: str) -> Iterator[tuple[str, Path]]:
    """(series id, `<source>/<ID>.csv`) of the source's catalog series that have a file."""
    for series_id in catalog.for_source(source):
        path = folder / source / f"{series_id}.csv"
        if path.is_file():
            yield series_id, path


def read_fred(folder: Path, catalog: Catalog) -> Observations:
    """fred/<ID>.csv (`observation_date|DATE,<ID>`; '.' or empty = missing), stored units."""
    out: Observations = {}
    for series_id, path in _series_files(folder, catalog, "fred"):
        raw = _text_csv(path)
        if (
            len(raw.columns) != 2
            or raw.columns[0] not in ("observation_date", "DATE")
            or raw.columns[1].upper() != series_id.upper()
        ):
            raise ValueError(f"{path}: unexpected header {list(raw.columns)}")
        dates = to_days(pd.to_datetime(raw.iloc[:, 0].str.strip(), format="%Y-%m-%d"))
        values = str_to_float(raw.iloc[:, 1], frozenset({"", "."}))
        values = duck_round(values * catalog.series[series_id]["factor"], 9)
        out[series_id] = _finish(dates, values, str(path))
    return out


def read_treasury(folder: Path, catalog: Catalog) -> Observations:
    """treasury/tga_daily.csv (`record_date,tga_close_usd_mn`) -> TGA in USD bn."""
    path = folder / "treasury" / "tga_daily.csv"
    if "TGA" not in catalog.series or not path.is_file():
        return {}
    raw = _text_csv(path)
    if list(raw.columns) != ["record_date", "tga_close_usd_mn"]:
        raise ValueError(f"{path}: unexpected header {list(raw.columns)}")
    dates = to_days(pd.to_datetime(raw["record_date"].str.strip(), format="%Y-%m-%d"))
    values = str_to_float(raw["tga_close_usd_mn"], frozenset({"", "null", "NULL", "Null"}))
    values = duck_round(values * catalog.series["TGA"]["factor"], 9)
    return {"TGA": _finish(dates, values, str(path))}


ERA_OFFSETS = {"M": 1867, "T": 1911, "S": 1925, "H": 1988, "R": 2018}


def _mof_frame(payload: bytes, name: str) -> pd.DataFrame:
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = payload.decode("cp932")
    lines = text.splitlines()
    header_at = next(
        (
            i
            for i, line in enumerate(lines[:5])
            if line.split(",")[0].strip().lower() in ("基準日", "date")
        ),
        None,
    )
    if header_at is None:
        raise ValueError(f"mof/{name}: no header line 基準日,1年,... or Date,1Y,...")
    header = [c.strip() for c in lines[header_at].split(",")]
    body = pd.read_csv(
        io.StringIO("\n".join(lines[header_at + 1 :])),
        header=None,
        names=range(len(header)),
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=True,
    )
    cells = body[0].str.strip()
    era = cells.str.extract(r"^([MTSHR])(\d{1,2}|元)\.(\d{1,2})\.(\d{1,2})$")
    western = cells.str.extract(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
    era_year = pd.to_numeric(era[1].replace("元", "1"))
    year = era[0].map(ERA_OFFSETS) + era_year
    year = year.fillna(pd.to_numeric(western[0]))
    month = pd.to_numeric(era[2]).fillna(pd.to_numeric(western[1]))
    day = pd.to_numeric(era[3]).fillna(pd.to_numeric(western[2]))
    dates = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}))
    if dates.isna().any():
        raise ValueError(f"mof/{name}: unparseable dates {cells[dates.isna()].head(3).tolist()}")
    frame = pd.DataFrame({"date": dates})
    for i, cell in enumerate(header[1:], start=1):
        tenor = re.fullmatch(r"(\d{1,2})\s*(?:年|y)", cell, flags=re.IGNORECASE)
        if tenor:
            frame[int(tenor.group(1))] = str_to_float(body[i], frozenset({"", "-"}))
    return frame


def read_mof(folder: Path, catalog: Catalog) -> Observations:
    """mof/jgbcm_all.csv (+ jgbcm.csv, which wins on shared dates): JGB<n>Y in percent."""
    history_path = folder / "mof" / "jgbcm_all.csv"
    if not history_path.is_file():
        return {}
    wide = _mof_frame(history_path.read_bytes(), history_path.name)
    current_path = folder / "mof" / "jgbcm.csv"
    if current_path.is_file():
        current = _mof_frame(current_path.read_bytes(), current_path.name)
        wide = pd.concat([wide[~wide["date"].isin(set(current["date"]))], current])
        wide = wide.sort_values("date", kind="stable")
    out: Observations = {}
    days = to_days(wide["date"])
    for series_id in catalog.for_source("mof"):
        tenor = re.fullmatch(r"JGB(\d{1,2})Y", series_id)
        if tenor is None or int(tenor.group(1)) not in wide.columns:
            continue
        values = wide[int(tenor.group(1))].to_numpy(dtype="float64")
        values = duck_round(values * catalog.series[series_id]["factor"], 9)
        out[series_id] = _finish(days, values, f"mof/{series_id}")
    return out


def read_markets(folder: Path, catalog: Catalog) -> Observations:
    """markets/<SYMBOL>.csv (`date,close` or OHLC[V]); value = close x factor, not rounded."""
    out: Observations = {}
    for series_id, path in _series_files(folder, catalog, "markets"):
        raw = _text_csv(path)
        raw.columns = [c.lower() for c in raw.columns]
        dates = to_days(pd.to_datetime(raw["date"].str.strip(), format="%Y-%m-%d"))
        cells = raw["close"].str.strip()
        blank = cells.isin({"", "null", "nan", "NaN", "."})
        close = pd.to_numeric(cells.where(~blank), errors="raise").to_numpy(dtype="float64")
        out[series_id] = _finish(dates, close * catalog.series[series_id]["factor"], str(path))
    return out


def read_snapshot(folder: Path, catalog: Catalog) -> tuple[Observations, Observations]:
    """(observations of every non-market series, market closes)."""
    observations: Observations = {}
    observations.update(read_fred(folder, catalog))
    observations.update(read_treasury(folder, catalog))
    observations.update(read_mof(folder, catalog))
    markets = read_markets(folder, catalog)
    # a series whose every value is missing has no staging rows: it is simply not loaded
    return (
        {s: v for s, v in observations.items() if len(v[0])},
        {s: v for s, v in markets.items() if len(v[0])},
    )


# --- point in time (int_<source>__series_asof_daily) ----------------------------------------------


class PointInTime:
    """Every source's observations + published dates + the as-of alignment on any days."""

    def __init__(self, unioned: Observations, catalog: Catalog, pit_series: list[str]):
        self.catalog = catalog
        self.pit_series = set(pit_series)
        self.published: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for series_id, (obs, values) in unioned.items():
            spec = catalog.series.get(series_id)
            if spec is None or len(obs) == 0:
                continue  # series missing from the catalog are dropped (inner join)
            pub = published_dates(obs, spec["lag_days"], spec["lag_business"], spec["calendar"])
            self.published[series_id] = (obs, values, pub)

    def date_range(self, series_ids) -> tuple[np.datetime64, np.datetime64] | None:
        """macros series_date_range: first .. last publication of the loaded series, <= today."""
        loaded = [self.published[s][2] for s in series_ids if s in self.published]
        if not loaded:
            return None
        first = min(p[0] for p in loaded)
        # The warehouse's today is the UTC date (orchestration/lib/clock.py), not the local one.
        last = min(max(p[-1] for p in loaded), np.datetime64(datetime.now(UTC).date(), "D"))
        return first, last

    def frame(self, prefixes: Mapping[str, str], range_series=None) -> pd.DataFrame | None:
        """pit_daily_frame: one row per day in the range, <prefix>_value/_obs_date/_age_days/
        _is_stale per series (NULL before a series' first publication)."""
        bounds = self.date_range(range_series or list(prefixes))
        if bounds is None:
            return None
        days = np.arange(bounds[0], bounds[1] + np.timedelta64(1, "D"))
        out = {"date": days}
        for series_id, prefix in prefixes.items():
            value = np.full(len(days), np.nan)
            obs_date = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[D]")
            age = np.full(len(days), np.nan)
            stale = pd.array([pd.NA] * len(days), dtype="boolean")
            if series_id in self.published and series_id in self.pit_series:
                obs, values, pub = self.published[series_id]
                idx = np.searchsorted(pub, days, side="right") - 1
                seen = idx >= 0
                picked = np.where(seen, idx, 0)
                obs_date = np.where(seen, obs[picked], obs_date)
                age = np.where(seen, (days - obs[picked]).astype("int64"), np.nan)
                limit = self.catalog.series[series_id]["staleness_days"]
                fresh = seen & (age <= limit)
                value = np.where(fresh, values[picked], np.nan)
                stale = pd.array(np.where(seen, age > limit, False), dtype="boolean")
                stale[~seen] = pd.NA
            out[f"{prefix}_value"] = value
            out[f"{prefix}_obs_date"] = obs_date
            out[f"{prefix}_age_days"] = age
            out[f"{prefix}_is_stale"] = stale
        return pd.DataFrame(out)


def rolling_zscore(values: pd.Series, window_days: int, min_obs: int) -> pd.Series:
    """macros rolling_zscore on a frame with one row per calendar day (RANGE = ROWS here).

    Two-pass mean / sample variance over each window (numpy sliding windows, in chunks):
    pandas' online rolling().std() drifts by ~1e-9 relative on series near zero with a small
    spread (JGB2Y in the 2000s), while DuckDB's windowed Welford states do not.
    """
    x = values.to_numpy(dtype="float64")
    present = ~np.isnan(x)
    seen = np.concatenate([[0], np.cumsum(present)])
    counts = seen[1:] - seen[np.maximum(np.arange(1, len(x) + 1) - window_days, 0)]
    rows = np.nonzero(present & (counts >= min_obs))[0]  # only rows that get a z-score
    windows = np.lib.stride_tricks.sliding_window_view(
        np.concatenate([np.full(window_days - 1, np.nan), x]), window_days
    )
    z = np.full(len(x), np.nan)
    big = np.finfo("float64").max
    chunk = max(1, 4_000_000 // window_days)
    for lo in range(0, len(rows), chunk):
        at = rows[lo : lo + chunk]
        block = windows[at]
        valid = ~np.isnan(block)
        n = valid.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(valid, block, 0.0).sum(axis=1) / n
            dev = np.where(valid, block - mean[:, None], 0.0)
            std = np.sqrt((dev * dev).sum(axis=1) / (n - 1))
            # an exactly constant window has a zero stddev (DuckDB's Welford state: exactly 0)
            constant = np.where(valid, block, -big).max(1) == np.where(valid, block, big).min(1)
            std = np.where(constant | (std == 0), np.nan, std)
            z[at] = (x[at] - mean) / std
    return pd.Series(z, index=values.index)


def int_days(values: np.ndarray) -> pd.Series:
    return pd.Series(values).astype("Int64")


# --- liquidity marts ------------------------------------------------------------------------------


def net_liquidity_daily(pit: PointInTime, dbt_vars: dict) -> pd.DataFrame:
    f = pit.frame(
        {
            "WALCL": "walcl",
            "TGA": "dts",
            "WDTGAL": "wdtgal",
            "WTREGEN": "wtregen",
            "RRPONTSYD": "rrp",
            "RESPPLLOPNWW": "remit",
        },
        range_series=["WALCL", "TGA", "WDTGAL", "WTREGEN", "RRPONTSYD"],
    )
    has = {p: f[f"{p}_value"].notna() for p in ("dts", "wdtgal", "wtregen")}
    choice = [has["dts"], has["wdtgal"], has["wtregen"]]
    tga = f["dts_value"].fillna(f["wdtgal_value"]).fillna(f["wtregen_value"])
    tga_source = np.select(choice, ["DTS", "WDTGAL", "WTREGEN"], default=None)

    def pick(suffix: str) -> np.ndarray:
        return np.select(
            choice,
            [f[f"{p}_{suffix}"] for p in ("dts", "wdtgal", "wtregen")],
            default=f[f"dts_{suffix}"],
        )

    any_stale = (
        f["dts_is_stale"].fillna(False)
        | f["wdtgal_is_stale"].fillna(False)
        | f["wtregen_is_stale"].fillna(False)
    )
    net = f["walcl_value"] - tga - f["rrp_value"]
    out = pd.DataFrame(
        {
            "date": f["date"],
            "fed_total_assets_bn": f["walcl_value"],
            "tga_bn": tga,
            "tga_source": pd.Series(tga_source, dtype=object),
            "on_rrp_bn": f["rrp_value"],
            "net_liquidity_bn": net,
            "net_liquidity_change_1w_bn": net - net.shift(7),
            "net_liquidity_change_4w_bn": net - net.shift(28),
            "net_liquidity_change_13w_bn": net - net.shift(91),
            "net_liquidity_z_1y": rolling_zscore(
                net, dbt_vars["zscore_window_days"], dbt_vars["zscore_min_obs"]
            ),
            "remittances_bn": f["remit_value"],
            "net_liquidity_ex_remittances_bn": net - f["remit_value"],
            "fed_total_assets_obs_date": f["walcl_obs_date"],
            "tga_obs_date": pick("obs_date").astype("datetime64[D]"),
            "on_rrp_obs_date": f["rrp_obs_date"],
            "fed_total_assets_age_days": int_days(f["walcl_age_days"]),
            "tga_age_days": int_days(pick("age_days").astype("float64")),
            "on_rrp_age_days": int_days(f["rrp_age_days"]),
            "remittances_age_days": int_days(f["remit_age_days"]),
            "is_fed_total_assets_stale": f["walcl_is_stale"].fillna(False).astype(bool),
            "is_tga_stale": (tga.isna() & any_stale).astype(bool),
            "is_on_rrp_stale": f["rrp_is_stale"].fillna(False).astype(bool),
            "is_remittances_stale": f["remit_is_stale"].fillna(False).astype(bool),
            "is_remittances_loaded": f["remit_obs_date"].notna(),
            "has_all_inputs": net.notna(),
        }
    )
    return out


def quarter_end_business_days(calendar: str) -> np.ndarray:
    """int_publisher_calendars.is_quarter_end: each quarter's last business day of `calendar`."""
    days = business_days(calendar)
    quarter = pd.PeriodIndex(pd.DatetimeIndex(days), freq="Q").asi8
    last = np.r_[quarter[1:] != quarter[:-1], True]
    return days[last]


def funding_stress_daily(pit: PointInTime, dbt_vars: dict) -> pd.DataFrame:
    f = pit.frame(
        {
            "SOFR": "sofr",
            "IORB": "iorb",
            "MOVE": "move",
            "BAMLH0A0HYM2": "hy_oas",
            "USDJPY": "usdjpy_mkt",
            "DEXJPUS": "usdjpy_fred",
            "DGS2": "us2y",
            "JGB2Y": "jp2y",
        }
    )
    quarter_ends = quarter_end_business_days(pit.catalog.series["SOFR"]["calendar"])
    sofr_obs = f["sofr_obs_date"].to_numpy(dtype="datetime64[D]")
    is_quarter_end = np.isin(sofr_obs, quarter_ends) & ~np.isnat(sofr_obs)

    mkt, fred = f["usdjpy_mkt_value"], f["usdjpy_fred_value"]
    usdjpy = mkt.fillna(fred)
    usdjpy_source = np.select([mkt.notna(), fred.notna()], ["USDJPY", "DEXJPUS"], default=None)
    usdjpy_age = np.select(
        [mkt.notna(), fred.notna()],
        [f["usdjpy_mkt_age_days"], f["usdjpy_fred_age_days"]],
        default=f["usdjpy_mkt_age_days"],
    )
    spread = (f["sofr_value"] - f["iorb_value"]) * 100
    carry = (f["us2y_value"] - f["jp2y_value"]) * 100
    usdjpy_change = (usdjpy / usdjpy.shift(7) - 1) * 100
    carry_change = carry - carry.shift(7)
    known = usdjpy_change.notna() & carry_change.notna()
    flag = (usdjpy_change <= float(dbt_vars["carry_unwind_usdjpy_5d_pct"])) & (
        carry_change <= float(dbt_vars["carry_unwind_spread_5d_bp"])
    )
    carry_unwind = pd.array(np.where(known, flag, False), dtype="boolean")
    carry_unwind[~known.to_numpy()] = pd.NA

    # stale_inputs: the names of the stale inputs, comma-separated, NULL when none
    def stale(prefix: str) -> np.ndarray:
        return f[f"{prefix}_is_stale"].fillna(False).to_numpy(dtype=bool)

    usdjpy_stale = stale("usdjpy_mkt") & f["usdjpy_fred_is_stale"].fillna(True).to_numpy(bool)
    names = [
        ("SOFR", stale("sofr")),
        ("IORB", stale("iorb")),
        ("MOVE", stale("move")),
        ("BAMLH0A0HYM2", stale("hy_oas")),
        ("USDJPY", usdjpy_stale),
        ("DGS2", stale("us2y")),
        ("JGB2Y", stale("jp2y")),
    ]
    joined = pd.Series("", index=f.index, dtype=object)
    for name, mask in names:
        joined = joined.where(~mask, joined + np.where(joined == "", "", ",") + name)
    stale_inputs = joined.where(joined != "", None)

    window, min_obs = dbt_vars["zscore_window_days"], dbt_vars["zscore_min_obs"]
    out = pd.DataFrame(
        {
            "date": f["date"],
            "sofr_pct": f["sofr_value"],
            "iorb_pct": f["iorb_value"],
            "sofr_iorb_spread_bp": spread,
            "is_quarter_end": is_quarter_end,
            "move_index": f["move_value"],
            "hy_oas_pct": f["hy_oas_value"],
            "usdjpy": usdjpy,
            "usdjpy_source": pd.Series(usdjpy_source, dtype=object),
            "usdjpy_change_5d_pct": usdjpy_change,
            "us2y_pct": f["us2y_value"],
            "jp2y_pct": f["jp2y_value"],
            "us2y_jp2y_spread_bp": carry,
            "us2y_jp2y_spread_change_5d_bp": carry_change,
            "carry_unwind_flag": carry_unwind,
        }
    )
    for column, z in [
        ("sofr_pct", "sofr_z_1y"),
        ("sofr_iorb_spread_bp", "sofr_iorb_spread_z_1y"),
        ("move_index", "move_index_z_1y"),
        ("hy_oas_pct", "hy_oas_z_1y"),
        ("usdjpy", "usdjpy_z_1y"),
        ("usdjpy_change_5d_pct", "usdjpy_change_5d_z_1y"),
        ("us2y_pct", "us2y_z_1y"),
        ("jp2y_pct", "jp2y_z_1y"),
        ("us2y_jp2y_spread_bp", "us2y_jp2y_spread_z_1y"),
    ]:
        out[z] = rolling_zscore(out[column], window, min_obs)
    out["sofr_obs_date"] = f["sofr_obs_date"]
    for prefix, column in [
        ("sofr", "sofr_age_days"),
        ("iorb", "iorb_age_days"),
        ("move", "move_age_days"),
        ("hy_oas", "hy_oas_age_days"),
    ]:
        out[column] = int_days(f[f"{prefix}_age_days"])
    out["usdjpy_age_days"] = int_days(usdjpy_age.astype("float64"))
    out["us2y_age_days"] = int_days(f["us2y_age_days"])
    out["jp2y_age_days"] = int_days(f["jp2y_age_days"])
    out["stale_inputs"] = stale_inputs
    return out


# --- market marts ---------------------------------------------------------------------------------


def asset_returns(
    markets: Observations, fred: Observations, catalog: Catalog, dbt_vars: dict, assets: list
) -> tuple[np.ndarray, dict[str, pd.DataFrame]]:
    """int_markets__composite_daily for the cross-asset assets -> (trading days, per asset
    a frame with date, series_id, close, return_1d), i.e. fct_asset_returns_daily."""
    calendar_series = dbt_vars["equity_calendar_series"]
    if calendar_series not in markets:
        raise ValueError(f"no market closes for the calendar series {calendar_series}")
    # int_markets__trading_calendar: business days of the calendar series' publisher calendar
    # (NYSE for SPX) from its first to its last close
    spx = markets[calendar_series][0]
    open_days = business_days(catalog.series[calendar_series]["calendar"])
    calendar = open_days[(open_days >= spx.min()) & (open_days <= spx.max())]
    needed = {s for _, primary, proxy, *_ in assets for s in (primary, proxy) if s}
    observations = {s: markets[s] for s in needed if s in markets}
    observations.update({s: fred[s] for s in needed if s in fred and s not in markets})

    # series_returns: each series sampled as of every trading day from its first observation
    series_daily: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
    for series_id, (obs, values) in observations.items():
        start = int(np.searchsorted(calendar, obs[0], side="left"))
        days = calendar[start:]
        idx = np.searchsorted(obs, days, side="right") - 1
        age = (days - obs[idx]).astype("int64")
        spec = catalog.series.get(series_id)
        limit = spec["staleness_days"] if spec else -1
        close = np.where(age <= limit, values[idx], np.nan) if spec else np.full(len(days), np.nan)
        previous = np.concatenate([[np.nan], close[:-1]])
        series_daily[series_id] = (start, close, previous, obs[idx] < days)

    coverage = {s: (obs[0], obs[-1]) for s, (obs, _) in observations.items()}
    out: dict[str, pd.DataFrame] = {}
    for asset, primary, proxy, kind, *_ in assets:
        firsts = [coverage[s][0] for s in (primary, proxy) if s in coverage]
        if not firsts:
            continue
        rows = calendar >= min(firsts)
        series = np.full(len(calendar), primary, dtype=object)
        if proxy in coverage:
            series = np.where(calendar >= coverage[proxy][0], proxy, series)
        if primary in coverage:
            first, last = coverage[primary]
            series = np.where((calendar > first) & (calendar <= last), primary, series)
        close = np.full(len(calendar), np.nan)
        previous = np.full(len(calendar), np.nan)
        carried = np.zeros(len(calendar), dtype=bool)
        present = np.zeros(len(calendar), dtype=bool)
        for series_id in {primary, proxy} & set(series_daily):
            start, s_close, s_previous, s_carried = series_daily[series_id]
            take = rows & (series == series_id)
            take[:start] = False  # no row of the series before its first observation
            present |= take
            at = np.nonzero(take)[0]
            close[at] = s_close[at - start]
            previous[at] = s_previous[at - start]
            carried[at] = s_carried[at - start]
        if kind == "change":
            ret = close - previous
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                ret = np.where((close > 0) & (previous > 0), close / previous - 1, np.nan)
        ret = np.where(carried, np.nan, ret)  # a carried close never makes a return
        out[asset] = pd.DataFrame(
            {
                "date": calendar[present],
                "series_id": series[present],
                "close": close[present],
                "return_1d": ret[present],
            }
        )
    return calendar, out


def rolling_pair_correlation(
    x: np.ndarray, y: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """corr(x, y) and count(x + y) over the trailing `window` rows (NULL pairs skipped)."""
    pad = np.full(window - 1, np.nan)
    xs = np.lib.stride_tricks.sliding_window_view(np.concatenate([pad, x]), window)
    ys = np.lib.stride_tricks.sliding_window_view(np.concatenate([pad, y]), window)
    valid = ~(np.isnan(xs) | np.isnan(ys))
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.where(valid, xs, 0.0).sum(axis=1) / n
        my = np.where(valid, ys, 0.0).sum(axis=1) / n
        dx = np.where(valid, xs - mx[:, None], 0.0)
        dy = np.where(valid, ys - my[:, None], 0.0)
        sxy = (dx * dy).sum(axis=1)
        sxx = (dx * dx).sum(axis=1)
        syy = (dy * dy).sum(axis=1)
        # exactly constant inputs have zero variance (NaN correlation, dropped)
        big = np.finfo("float64").max
        const_x = np.where(valid, xs, -big).max(1) == np.where(valid, xs, big).min(1)
        const_y = np.where(valid, ys, -big).max(1) == np.where(valid, ys, big).min(1)
        corr = sxy / np.sqrt(sxx * syy)
    corr = np.where(const_x | const_y | (n < 2), np.nan, corr)
    return corr, n


def cross_asset_correlation(
    returns: dict[str, pd.DataFrame], calendar: np.ndarray, dbt_vars: dict
) -> pd.DataFrame:
    """fct_cross_asset_correlation_daily for every window of var correlation_windows."""
    windows = [int(w) for w in dbt_vars["correlation_windows"]]
    share = float(dbt_vars["correlation_min_obs_share"])
    start = np.datetime64(str(dbt_vars["correlation_start_date"]), "D")
    warmup = np.timedelta64(max(windows) * 2 + 10, "D")
    keep = calendar >= start - warmup
    days = calendar[keep]
    # wide matrix of returns and a presence mask (an asset has a row that day)
    wide = np.full((len(days), len(returns)), np.nan)
    present = np.zeros((len(days), len(returns)), dtype=bool)
    assets = sorted(returns)
    for j, asset in enumerate(assets):
        frame = returns[asset]
        at = np.searchsorted(days, frame["date"].to_numpy())
        inside = frame["date"].to_numpy() >= days[0] if len(days) else np.zeros(0, bool)
        wide[at[inside], j] = frame["return_1d"].to_numpy()[inside]
        present[at[inside], j] = True
    parts = []
    for (i, a), (j, b) in combinations(enumerate(assets), 2):
        rows = present[:, i] & present[:, j]
        pair_days = days[rows]
        for window in windows:
            corr, n = rolling_pair_correlation(wide[rows, i], wide[rows, j], window)
            ok = (n >= math.ceil(window * share)) & ~np.isnan(corr) & (pair_days >= start)
            if not ok.any():
                continue
            parts.append(
                pd.DataFrame(
                    {
                        "date": pair_days[ok],
                        "asset_a": a,
                        "asset_b": b,
                        "window_days": window,
                        "correlation": duck_round(np.clip(corr[ok], -1.0, 1.0), 10),
                        "n_observations": n[ok],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def cross_asset_regime(
    returns: dict[str, pd.DataFrame], correlations: pd.DataFrame, dbt_vars: dict, assets: list
) -> pd.DataFrame:
    """fct_cross_asset_regime_daily: basket stats and the selloff / hedge-failure flags."""
    start = np.datetime64(str(dbt_vars["correlation_start_date"]), "D")
    equity = dbt_vars["regime_equity_asset"]
    basket = {a for a, *_, in_basket, _ in assets if in_basket}
    haven_sign = {a: sign for a, *_, sign in assets if sign is not None}
    long = pd.concat(
        [frame.assign(asset=asset) for asset, frame in returns.items()], ignore_index=True
    )
    long = long[long["date"] >= start]
    ret = long["return_1d"]
    in_basket = long["asset"].isin(basket)
    sign = long["asset"].map(haven_sign).astype("float64")
    moves = (
        pd.DataFrame(
            {
                "date": long["date"],
                "equity_return_1d": ret.where(long["asset"] == equity),
                "n_assets_tracked": (in_basket & ret.notna()).astype(int),
                "n_assets_down": (in_basket & (ret < 0)).astype(int),
                "n_havens_tracked": (sign.notna() & ret.notna()).astype(int),
                "n_havens_losing": (ret * sign > 0).astype(int),
            }
        )
        .groupby("date")
        .agg(
            equity_return_1d=("equity_return_1d", "max"),
            n_assets_tracked=("n_assets_tracked", "sum"),
            n_assets_down=("n_assets_down", "sum"),
            n_havens_tracked=("n_havens_tracked", "sum"),
            n_havens_losing=("n_havens_losing", "sum"),
        )
    )
    calendar = np.unique(long.loc[long["asset"] == equity, "date"].to_numpy())
    out = moves.reindex(pd.Index(calendar, name="date"))

    c = correlations[correlations["date"] >= start]
    pair_in_basket = c["asset_a"].isin(basket) & c["asset_b"].isin(basket)

    def pair(x: str, y: str) -> pd.Series:
        return (c["asset_a"] == min(x, y)) & (c["asset_b"] == max(x, y))

    stats = {}
    for window in sorted({int(w) for w in dbt_vars["correlation_windows"]} & {20, 60}):
        w = c["window_days"] == window
        grouped = c[w & pair_in_basket].groupby("date")["correlation"]
        stats[f"avg_pairwise_correlation_{window}d"] = grouped.mean()
        if window == 20:
            stats["n_pairs_20d"] = grouped.count()
        stats[f"equity_gold_correlation_{window}d"] = (
            c[w & pair(equity, "gold")].groupby("date")["correlation"].max()
        )
        stats[f"equity_bond_correlation_{window}d"] = (
            c[w & pair(equity, "us10y")].groupby("date")["correlation"].max()
        )
        stats[f"equity_bond_price_correlation_{window}d"] = -stats[
            f"equity_bond_correlation_{window}d"
        ]
    for column, series in stats.items():
        series.index = series.index.to_numpy().astype("datetime64[D]")
        out[column] = series.reindex(out.index.to_numpy())
    if "n_pairs_20d" in out:
        out["n_pairs_20d"] = out["n_pairs_20d"].fillna(0).astype(int)

    equity_return = out["equity_return_1d"]
    tracked = out["n_assets_tracked"].fillna(0).astype(int)
    down = out["n_assets_down"].fillna(0).astype(int)
    havens = out["n_havens_tracked"].fillna(0).astype(int)
    losing = out["n_havens_losing"].fillna(0).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_down = (down / tracked.where(tracked != 0)).astype("float64")
    drop = float(dbt_vars["selloff_equity_drop"])
    falls = (equity_return <= -drop).to_numpy(dtype=bool)
    selloff = pd.array(
        (share_down >= float(dbt_vars["selloff_min_share_down"])).fillna(False).to_numpy(bool)
        & falls,
        dtype="boolean",
    )
    hedge_failure = pd.array(((losing * 2 > havens).to_numpy(bool)) & falls, dtype="boolean")
    # NULL when it cannot be judged: no equity return, or too few real returns on a fall
    selloff[falls & (tracked < int(dbt_vars["selloff_min_assets"])).to_numpy(bool)] = pd.NA
    hedge_failure[falls & (havens < 2).to_numpy(bool)] = pd.NA
    unknown = equity_return.isna().to_numpy()
    selloff[unknown] = pd.NA
    hedge_failure[unknown] = pd.NA
    out = out.assign(
        n_assets_tracked=tracked,
        n_assets_down=down,
        share_assets_down=share_down,
        n_havens_tracked=havens,
        n_havens_losing=losing,
        is_synchronized_selloff=selloff,
        is_hedge_failure=hedge_failure,
    )
    return out.reset_index()


# --- the baseline ---------------------------------------------------------------------------------


def compute(
    snapshot_dir: Path, *, catalog_file: Path | None = None, dbt_vars: Mapping | None = None
) -> dict[str, pd.DataFrame]:
    """Read the replay files of `snapshot_dir` and compute the four marts (key + value columns).

    `catalog_file` defaults to CROSSWIND_CATALOG or orchestration/catalog.yaml; `dbt_vars`
    override the vars of dbt_project.yml (as `dbt build --vars` would, e.g. extra_assets).
    """
    snapshot_dir = Path(snapshot_dir)
    catalog = Catalog(catalog_file)
    dbt_vars = {**load_vars(), **(dbt_vars or {})}
    assets = asset_map(dbt_vars)
    observations, markets = read_snapshot(snapshot_dir, catalog)
    # every source's observations (market value = close): int_<source>__observations_published
    unioned = {**observations, **markets}
    pit_series = [s for ids in dbt_vars["pit_daily_series"].values() for s in ids]
    pit = PointInTime(unioned, catalog, pit_series)
    frames: dict[str, pd.DataFrame] = {
        NET_LIQUIDITY: net_liquidity_daily(pit, dbt_vars),
        FUNDING_STRESS: funding_stress_daily(pit, dbt_vars),
    }
    fred = {s: v for s, v in observations.items() if catalog.series[s]["source"] == "fred"}
    calendar, returns = asset_returns(markets, fred, catalog, dbt_vars, assets)
    correlations = cross_asset_correlation(returns, calendar, dbt_vars)
    frames[CORRELATION] = correlations[
        correlations["window_days"] == CORRELATION_WINDOW
    ].reset_index(drop=True)
    frames[REGIME] = cross_asset_regime(returns, correlations, dbt_vars, assets)
    return frames


# --- comparison with the built marts --------------------------------------------------------------


def _find_relation(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """catalog.schema.table of the mart, schema `marts` first (fully qualified: a file named
    marts.duckdb has a catalog called marts too)."""
    rows = con.execute(
        "select table_catalog, table_schema from information_schema.tables "
        "where table_name = ? and table_catalog = current_database() "
        "order by table_schema = 'marts' desc, table_schema",
        [table],
    ).fetchall()
    if not rows:
        return None
    catalog, schema = rows[0]
    return f'"{catalog}"."{schema}"."{table}"'


def _normalise(column: pd.Series) -> tuple[str, pd.Series]:
    """(kind, comparable values): float | int | bool | date | text."""
    if pd.api.types.is_datetime64_any_dtype(column):
        days = column.to_numpy().astype("datetime64[D]")
        return "date", pd.Series(days.astype("int64"), index=column.index).where(~np.isnat(days))
    if pd.api.types.is_bool_dtype(column):
        return "bool", column.astype("boolean")
    if pd.api.types.is_float_dtype(column):
        return "float", column.astype("float64")
    if pd.api.types.is_integer_dtype(column):
        return "int", column.astype("Int64")
    values = column.astype(object)
    if len(values.dropna()) and isinstance(values.dropna().iloc[0], date):
        return "date", _normalise(pd.to_datetime(values))[1]
    if len(values.dropna()) and isinstance(values.dropna().iloc[0], bool | np.bool_):
        return "bool", values.astype("boolean")
    return "text", values.where(values.notna(), None)


def _key_frame(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for key in keys:
        kind, values = _normalise(out[key])
        out[key] = values.astype("Int64") if kind in ("date", "int") else values.astype(str)
    return out


def compare_frame(baseline: pd.DataFrame, mart: pd.DataFrame, keys: list[str]) -> dict:
    """Join on the keys and compare every value column of the baseline."""
    values = [c for c in baseline.columns if c not in keys]
    missing = [c for c in values if c not in mart.columns]
    values = [c for c in values if c in mart.columns]
    left = _key_frame(baseline[keys + values], keys)
    right = _key_frame(mart[keys + values], keys)
    dup_left = int(left.duplicated(keys).sum())
    dup_right = int(right.duplicated(keys).sum())
    joined = left.merge(right, on=keys, how="outer", suffixes=("_b", "_m"), indicator=True)
    both = joined[joined["_merge"] == "both"]
    result: dict = {
        "rows_baseline": len(baseline),
        "rows_mart": len(mart),
        "rows_matched": len(both),
        "rows_only_baseline": int((joined["_merge"] == "left_only").sum()),
        "rows_only_mart": int((joined["_merge"] == "right_only").sum()),
        "duplicate_keys": dup_left + dup_right,
        "columns_missing_in_mart": missing,
        "max_abs_diff": {},
        "mismatched_values": {},
        "mismatched_flags": {},
    }
    for column in values:
        kind, b = _normalise(both[f"{column}_b"])
        _, m = _normalise(both[f"{column}_m"])
        b_null, m_null = b.isna().to_numpy(), m.isna().to_numpy()
        if kind == "float":
            bv = b.to_numpy(dtype="float64")
            mv = pd.to_numeric(m, errors="coerce").to_numpy(dtype="float64")
            diff = np.abs(bv - mv)
            both_set = ~b_null & ~m_null
            close = np.isclose(bv, mv, rtol=RTOL, atol=ATOL) | (b_null & m_null)
            finite = diff[both_set]
            result["max_abs_diff"][column] = float(finite.max()) if finite.size else 0.0
            result["mismatched_values"][column] = int((~close).sum())
        else:
            bo = np.array(b.astype(object), dtype=object)
            mo = np.array(m.astype(object), dtype=object)
            bo[b_null], mo[m_null] = None, None
            same = (b_null & m_null) | (~b_null & ~m_null & (bo == mo))
            target = "mismatched_flags" if kind == "bool" else "mismatched_values"
            result[target][column] = int((~same).sum())
    result["ok"] = bool(
        result["rows_only_baseline"] == 0
        and result["rows_only_mart"] == 0
        and result["duplicate_keys"] == 0
        and not missing
        and len(baseline) == len(mart) == len(both)
        and not any(result["mismatched_values"].values())
        and not any(result["mismatched_flags"].values())
    )
    return result


def compare(frames: dict[str, pd.DataFrame], duckdb_path: Path) -> dict:
    """Per mart: rows_baseline, rows_mart, rows_matched, max_abs_diff, mismatches, ok."""
    results: dict[str, dict] = {}
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        for name, baseline in frames.items():
            keys = MART_KEYS[name]
            relation = _find_relation(con, name)
            if relation is None:
                results[name] = {"ok": False, "error": f"no table {name} in {duckdb_path}"}
                continue
            where = f" where {MART_FILTERS[name]}" if name in MART_FILTERS else ""
            mart = con.execute(f"select * from {relation}{where}").df()
            results[name] = {
                "relation": relation.replace('"', "").split(".", 1)[1],
                **compare_frame(baseline, mart, keys),
            }
    finally:
        con.close()
    return results


# --- CLI ------------------------------------------------------------------------------------------


def _summary(wall: float, frames: dict[str, pd.DataFrame], results: dict | None) -> str:
    lines = [f"baseline compute (read files + compute): {wall:.3f} s"]
    for name, frame in frames.items():
        lines.append(f"  {name}: {len(frame)} rows")
    if results is not None:
        lines.append("comparison with the built marts:")
        for name, r in results.items():
            if "error" in r:
                lines.append(f"  {name}: FAILED - {r['error']}")
                continue
            status = "ok" if r["ok"] else "DIFFERS"
            lines.append(
                f"  {name}: {status} (baseline {r['rows_baseline']}, mart {r['rows_mart']}, "
                f"matched {r['rows_matched']})"
            )
            worst = max(r["max_abs_diff"].items(), key=lambda kv: kv[1], default=None)
            if worst:
                lines.append(f"    largest abs diff: {worst[0]} = {worst[1]:.3g}")
            bad = {
                k: v for k, v in {**r["mismatched_values"], **r["mismatched_flags"]}.items() if v
            }
            if bad:
                lines.append(f"    mismatches: {bad}")
            if r["rows_only_baseline"] or r["rows_only_mart"]:
                lines.append(
                    f"    keys only in baseline: {r['rows_only_baseline']}, "
                    f"only in mart: {r['rows_only_mart']}"
                )
            if r["columns_missing_in_mart"]:
                lines.append(f"    columns missing in mart: {r['columns_missing_in_mart']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snapshot", type=Path, required=True, help="replay snapshot folder")
    parser.add_argument("--compare", type=Path, help="built DuckDB file (e.g. serving.duckdb)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--catalog", type=Path, help="series catalog (default: CROSSWIND_CATALOG or the repo's)"
    )
    parser.add_argument(
        "--vars", help="dbt vars as JSON (like `dbt build --vars`), e.g. bench/scale.py's"
    )
    args = parser.parse_args(argv)
    dbt_vars = json.loads(args.vars) if args.vars else None

    started = time.perf_counter()
    frames = compute(args.snapshot, catalog_file=args.catalog, dbt_vars=dbt_vars)
    wall = time.perf_counter() - started
    results = compare(frames, args.compare) if args.compare else None
    if args.json:
        document = {
            "snapshot": str(args.snapshot),
            "compute_seconds": round(wall, 4),
            "rows": {name: len(frame) for name, frame in frames.items()},
            "comparison": results,
        }
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(_summary(wall, frames, results))
    if results is not None and not all(r.get("ok") for r in results.values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
