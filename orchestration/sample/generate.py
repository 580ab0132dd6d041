"""Write crosswind's bundled SYNTHETIC sample snapshot (replay layout) into orchestration/sample/.

    python -m orchestration.sample.generate            # regenerate in place
    python -m orchestration.sample.generate --out DIR  # somewhere else (the tests compare bytes)

Every number here is made up: random walks pinned to plausible levels, with a synchronized
selloff around 2026-02-12 and silver margin hikes in Jan-Feb 2026, so the demo and the unit
tests exercise the same stories as the real data. Determinism: each series draws from its own
`random.Random` seeded with a fixed string (stable across Python versions and hash seeds), no
NumPy, and values are written rounded, so the same code writes the same bytes.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path

SEED = "crosswind-sample-v1"
SAMPLE_DIR = Path(__file__).resolve().parent
START = date(2023, 7, 3)
END = date(2026, 6, 30)
SELLOFF = date(2026, 2, 12)
# Daily moves on the selloff days, per asset: everything risky falls together.
SELLOFF_RETURNS = {
    "SPX": {date(2026, 2, 10): -0.008, date(2026, 2, 11): -0.011, SELLOFF: -0.0157},
    "NASDAQCOM": {date(2026, 2, 10): -0.011, date(2026, 2, 11): -0.014, SELLOFF: -0.0203},
    "DIA": {date(2026, 2, 10): -0.006, date(2026, 2, 11): -0.009, SELLOFF: -0.0133},
    "XAUUSD_LBMA_PM": {date(2026, 2, 11): -0.025, SELLOFF: -0.041},
    "XAGUSD": {date(2026, 2, 11): -0.06, SELLOFF: -0.115},
    "DCOILWTICO": {date(2026, 2, 11): -0.012, SELLOFF: -0.0265},
    "BTC-USD": {date(2026, 2, 11): -0.05, SELLOFF: -0.08, date(2026, 2, 13): -0.03},
    "ETH-USD": {date(2026, 2, 11): -0.07, SELLOFF: -0.11, date(2026, 2, 13): -0.04},
    "USDJPY": {date(2026, 2, 11): -0.008, SELLOFF: -0.012},
}
US_HOLIDAYS = {date(y, m, d) for y in range(2016, 2027) for m, d in ((1, 1), (7, 4), (12, 25))}


# -- random paths ----------------------------------------------------------------------------------


def rng_for(name: str) -> random.Random:
    return random.Random(f"{SEED}:{name}")


def normals(rng: random.Random, n: int) -> list[float]:
    """Box-Muller on rng.random(): unlike random.gauss, its sequence is fixed by the seed alone."""
    out = []
    for _ in range(n):
        u1, u2 = 1.0 - rng.random(), rng.random()
        out.append(math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2))
    return out


def bridge(
    days: Sequence[date],
    anchors: Sequence[tuple[date, float]],
    vol: float,
    name: str,
    *,
    log: bool = True,
    events: dict[date, float] | None = None,
    common: dict[date, float] | None = None,
    beta: float = 0.0,
) -> list[float]:
    """A random walk through `anchors` (date, level), linear corrections between them.

    `log` walks in log space (prices); otherwise in levels (rates, in percentage points).
    `events` are extra moves on given days (returns when `log`), `common` a shared shock scaled
    by `beta`, so assets move together.
    """
    shocks = normals(rng_for(name), len(days))
    steps = []
    for i, day in enumerate(days):
        if events and day in events:
            # Scripted days move by exactly the scripted amount, so the story is in the data.
            step = math.log1p(events[day]) if log else events[day]
        else:
            step = vol * shocks[i] + beta * (common or {}).get(day, 0.0)
        steps.append(step)
    path, level = [], 0.0
    for step in steps:
        level += step
        path.append(level)
    to_space = (lambda v: math.log(v)) if log else (lambda v: v)
    points = [(_index(days, d), to_space(v)) for d, v in anchors]
    out = list(path)
    # Shift each segment linearly so the walk passes exactly through every anchor.
    for (i0, v0), (i1, v1) in itertools.pairwise(points):
        gap0, gap1 = v0 - path[i0], v1 - path[i1]
        for i in range(i0, i1 + 1):
            w = (i - i0) / (i1 - i0) if i1 > i0 else 0.0
            out[i] = path[i] + gap0 + (gap1 - gap0) * w
    first, last = points[0][0], points[-1][0]
    out = [out[first] if i < first else out[last] if i > last else v for i, v in enumerate(out)]
    return [math.exp(v) for v in out] if log else out


def _index(days: Sequence[date], day: date) -> int:
    """Position of `day`, or of the nearest earlier day in `days`."""
    best = 0
    for i, d in enumerate(days):
        if d <= day:
            best = i
    return best


def mean_reverting(
    days: Sequence[date],
    mean: float,
    speed: float,
    vol: float,
    name: str,
    *,
    floor: float,
    events: dict[date, float] | None = None,
    start: float | None = None,
) -> list[float]:
    shocks = normals(rng_for(name), len(days))
    level, out = (mean if start is None else start), []
    for day, shock in zip(days, shocks, strict=True):
        level += speed * (mean - level) + vol * shock + (events or {}).get(day, 0.0)
        level = max(floor, level)
        out.append(level)
    return out


# -- calendars -------------------------------------------------------------------------------------


def calendar_days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def weekdays(start: date, end: date) -> list[date]:
    return [d for d in calendar_days(start, end) if d.weekday() < 5]


def us_business_days(start: date = START, end: date = END) -> list[date]:
    return [d for d in weekdays(start, end) if d not in US_HOLIDAYS]


def japan_business_days(start: date = START, end: date = END) -> list[date]:
    # Japanese banks close 1-3 January; good enough for a synthetic yield curve.
    return [d for d in weekdays(start, end) if not (d.month == 1 and d.day <= 3)]


def month_starts(start: date, end: date) -> list[date]:
    out, day = [], date(start.year, start.month, 1)
    while day <= end:
        out.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return out


def wednesdays(start: date = START, end: date = END) -> list[date]:
    return [d for d in calendar_days(start, end) if d.weekday() == 2]


# -- writers ---------------------------------------------------------------------------------------


def write_text(path: Path, text: str, *, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = [",".join(header)]
    lines += [",".join(str(c) for c in row) for row in rows]
    return "\n".join(lines) + "\n"


def fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def write_fred(
    out: Path, series_id: str, days: Sequence[date], values: Sequence[float | None], digits: int
) -> Path:
    rows = [(d.isoformat(), fmt(v, digits)) for d, v in zip(days, values, strict=True)]
    return write_text(
        out / "fred" / f"{series_id}.csv", csv_text(["observation_date", series_id], rows)
    )


def write_fred_daily(
    out: Path, series_id: str, days: Sequence[date], values: Sequence[float], digits: int
) -> Path:
    """Business-day values -> a FRED file over every weekday, US holidays listed empty."""
    by_day = dict(zip(days, values, strict=True))
    weekday_list = weekdays(days[0], days[-1])
    return write_fred(out, series_id, weekday_list, [by_day.get(d) for d in weekday_list], digits)


# -- the sources -----------------------------------------------------------------------------------


def market_factor(days: Sequence[date]) -> dict[date, float]:
    return dict(zip(days, (0.008 * z for z in normals(rng_for("market"), len(days))), strict=True))


def spx_path(days: Sequence[date], factor: dict[date, float]) -> list[float]:
    """Shared by markets/SPX and fred/SP500 so the two agree."""
    anchors = [
        (START, 4450),
        (date(2025, 2, 18), 6140),
        (date(2025, 4, 8), 4980),
        (date(2026, 1, 27), 6980),
        (END, 6850),
    ]
    return bridge(
        days, anchors, 0.006, "SPX", common=factor, beta=1.0, events=SELLOFF_RETURNS["SPX"]
    )


def usdjpy_path(days: Sequence[date]) -> list[float]:
    """Shared by markets/USDJPY and fred/DEXJPUS."""
    anchors = [
        (START, 144.5),
        (date(2024, 7, 10), 161.7),
        (date(2024, 9, 16), 140.5),
        (date(2026, 1, 23), 158.9),
        (END, 156.8),
    ]
    return bridge(days, anchors, 0.004, "USDJPY", events=SELLOFF_RETURNS["USDJPY"])


def vix_path(days: Sequence[date]) -> list[float]:
    """Shared by fred/VIXCLS and the synthetic official stress indices."""
    events = {
        date(2026, 2, 11): 4.0,
        SELLOFF: 7.5,
        date(2026, 2, 13): 1.5,
        date(2025, 4, 4): 14.0,
        date(2025, 4, 7): 6.0,
    }
    return mean_reverting(days, 16.0, 0.08, 0.9, "VIXCLS", floor=10.5, events=events)


def hy_path(days: Sequence[date]) -> list[float]:
    """Shared by fred/BAMLH0A0HYM2 and the synthetic official stress indices."""
    events = {date(2026, 2, 11): 0.15, SELLOFF: 0.35, date(2025, 4, 4): 0.6}
    return mean_reverting(
        days, 3.1, 0.02, 0.04, "BAMLH0A0HYM2", floor=2.5, events=events, start=4.0
    )


def policy_rate(day: date) -> float:
    """IORB: synthetic cutting cycle (upper end of the corridor minus 10 bp)."""
    steps = [
        (date(2024, 9, 19), 4.90),
        (date(2024, 11, 8), 4.65),
        (date(2024, 12, 19), 4.40),
        (date(2025, 9, 18), 4.15),
        (date(2025, 10, 30), 3.90),
        (date(2025, 12, 11), 3.65),
    ]
    rate = 5.40
    for since, value in steps:
        if day >= since:
            rate = value
    return rate


def write_fred_all(out: Path, factor: dict[date, float]) -> list[Path]:
    bdays = us_business_days()
    written = []

    def daily(series_id, anchors, vol, digits, *, log=True, beta=0.0, events=None):
        values = bridge(
            bdays, anchors, vol, series_id, log=log, common=factor, beta=beta, events=events
        )
        written.append(write_fred_daily(out, series_id, bdays, values, digits))
        return values

    written.append(write_fred_daily(out, "SP500", bdays, spx_path(bdays, factor), 2))
    daily(
        "NASDAQCOM",
        [(START, 13800), (date(2025, 4, 8), 15300), (date(2026, 1, 27), 23600), (END, 22500)],
        0.008,
        2,
        beta=1.3,
        events=SELLOFF_RETURNS["NASDAQCOM"],
    )
    written.append(write_fred_daily(out, "VIXCLS", bdays, vix_path(bdays), 2))
    daily(
        "DCOILWTICO",
        [
            (START, 70.5),
            (date(2023, 9, 27), 93.0),
            (date(2024, 4, 5), 86.9),
            (date(2025, 4, 8), 57.9),
            (END, 62.4),
        ],
        0.018,
        2,
        beta=0.4,
        events=SELLOFF_RETURNS["DCOILWTICO"],
    )
    written.append(write_fred_daily(out, "BAMLH0A0HYM2", bdays, hy_path(bdays), 2))
    daily(
        "DGS2",
        [
            (START, 4.94),
            (date(2024, 9, 24), 3.55),
            (date(2025, 1, 10), 4.38),
            (date(2026, 2, 12), 3.42),
            (END, 3.55),
        ],
        0.045,
        2,
        log=False,
    )
    daily(
        "DGS10",
        [
            (START, 3.86),
            (date(2023, 10, 19), 4.98),
            (date(2024, 9, 16), 3.62),
            (date(2025, 1, 14), 4.79),
            (date(2026, 2, 12), 4.05),
            (END, 4.2),
        ],
        0.045,
        2,
        log=False,
    )
    yen = usdjpy_path(bdays)
    dexjpus = [
        y + 0.05 * z for y, z in zip(yen, normals(rng_for("DEXJPUS"), len(yen)), strict=True)
    ]
    written.append(write_fred_daily(out, "DEXJPUS", bdays, dexjpus, 2))

    # Money-market rates: IORB every calendar day (as FRED publishes it), the others on business
    # days, SOFR with quarter-end spikes and drifting above IORB as reserves get scarce.
    cdays = calendar_days(START, END)
    written.append(write_fred(out, "IORB", cdays, [policy_rate(d) for d in cdays], 2))
    sofr_noise = normals(rng_for("SOFR"), len(bdays))
    sofr = []
    for d, z in zip(bdays, sofr_noise, strict=True):
        scarcity = 0.0 if d < date(2025, 6, 1) else min(0.12, (d - date(2025, 6, 1)).days / 2500)
        quarter_end = 0.12 if (d.month in (3, 6, 9, 12) and d.day >= 28) or d.day == 1 else 0.0
        sofr.append(policy_rate(d) - 0.09 + scarcity + quarter_end + 0.01 * z)
    written.append(write_fred_daily(out, "SOFR", bdays, sofr, 2))
    effr = [policy_rate(d) - 0.07 + (0.02 if d >= date(2025, 10, 1) else 0.0) for d in bdays]
    written.append(write_fred_daily(out, "EFFR", bdays, effr, 2))
    rrp = bridge(
        bdays,
        [
            (START, 1950),
            (date(2024, 3, 1), 480),
            (date(2024, 12, 31), 470),
            (date(2025, 3, 1), 120),
            (date(2025, 9, 1), 25),
            (END, 8),
        ],
        0.03,
        "RRPONTSYD",
    )
    rrp = [max(0.1, v) for v in rrp]
    written.append(write_fred_daily(out, "RRPONTSYD", bdays, rrp, 3))

    weds = wednesdays()
    walcl = bridge(
        weds, [(START, 8_290_000), (date(2025, 12, 3), 6_550_000), (END, 6_690_000)], 0.002, "WALCL"
    )
    written.append(write_fred(out, "WALCL", weds, [round(v) for v in walcl], 0))
    wresbal = bridge(
        weds,
        [
            (START, 3_200_000),
            (date(2024, 6, 5), 3_450_000),
            (date(2025, 11, 5), 2_850_000),
            (END, 3_000_000),
        ],
        0.02,
        "WRESBAL",
    )
    written.append(write_fred(out, "WRESBAL", weds, [round(v) for v in wresbal], 0))

    # Macro: longer monthly/quarterly history for year-on-year changes and valuation ratios.
    quarters = [d for d in month_starts(date(1990, 1, 1), date(2026, 1, 1)) if d.month % 3 == 1]
    gdp = bridge(
        quarters,
        [
            (quarters[0], 5872.7),
            (date(2008, 7, 1), 14891.0),
            (date(2009, 4, 1), 14381.2),
            (date(2020, 1, 1), 21727.7),
            (date(2020, 4, 1), 19935.4),
            (quarters[-1], 31200.0),
        ],
        0.004,
        "GDP",
    )
    written.append(write_fred(out, "GDP", quarters, gdp, 3))
    months = month_starts(date(2016, 1, 1), date(2026, 5, 1))
    payems = bridge(
        months,
        [
            (months[0], 143_200),
            (date(2020, 2, 1), 152_300),
            (date(2020, 4, 1), 130_400),
            (date(2025, 1, 1), 159_100),
            (months[-1], 159_600),
        ],
        0.0008,
        "PAYEMS",
    )
    written.append(write_fred(out, "PAYEMS", months, [round(v) for v in payems], 0))
    unrate = bridge(
        months,
        [
            (months[0], 4.9),
            (date(2020, 2, 1), 3.5),
            (date(2020, 4, 1), 14.8),
            (date(2023, 4, 1), 3.4),
            (months[-1], 4.5),
        ],
        0.08,
        "UNRATE",
        log=False,
    )
    written.append(write_fred(out, "UNRATE", months, unrate, 1))
    return written


def write_treasury(out: Path) -> Path:
    days = us_business_days()
    tga = bridge(
        days,
        [
            (START, 470_000),
            (date(2023, 12, 29), 770_000),
            (date(2024, 4, 30), 940_000),
            (date(2025, 6, 30), 310_000),
            (date(2025, 10, 31), 950_000),
            (END, 850_000),
        ],
        0.03,
        "TGA",
    )
    rows = [(d.isoformat(), f"{v:.0f}") for d, v in zip(days, tga, strict=True)]
    text = csv_text(["record_date", "tga_close_usd_mn"], rows)
    return write_text(out / "treasury" / "tga_daily.csv", text)


def ohlc_rows(
    days: Sequence[date], closes: Sequence[float], name: str, digits: int, volume: float | None
) -> list[tuple]:
    rng = rng_for(f"{name}:ohlc")
    rows, previous = [], closes[0]
    for d, close in zip(days, closes, strict=True):
        open_ = previous * math.exp(0.002 * normals(rng, 1)[0])
        high = max(open_, close) * (1 + abs(0.006 * normals(rng, 1)[0]))
        low = min(open_, close) * (1 - abs(0.006 * normals(rng, 1)[0]))
        row = [
            d.isoformat(),
            fmt(open_, digits),
            fmt(high, digits),
            fmt(low, digits),
            fmt(close, digits),
        ]
        if volume is not None:
            row.append(f"{volume * math.exp(0.3 * normals(rng, 1)[0]):.0f}")
        rows.append(tuple(row))
        previous = close
    return rows


def write_markets(out: Path, factor: dict[date, float]) -> list[Path]:
    bdays = us_business_days()
    cdays = calendar_days(START, END)
    folder = out / "markets"
    written = []

    def ohlcv(symbol, days, closes, digits, volume):
        header = ["date", "open", "high", "low", "close"] + (["volume"] if volume else [])
        rows = ohlc_rows(days, closes, symbol, digits, volume)
        written.append(write_text(folder / f"{symbol}.csv", csv_text(header, rows)))

    def close_only(symbol, days, closes, digits):
        rows = [(d.isoformat(), fmt(v, digits)) for d, v in zip(days, closes, strict=True)]
        written.append(write_text(folder / f"{symbol}.csv", csv_text(["date", "close"], rows)))

    ohlcv("SPX", bdays, spx_path(bdays, factor), 2, None)
    dia = bridge(
        bdays,
        [(START, 344), (date(2025, 4, 8), 375), (date(2026, 1, 27), 500), (END, 495)],
        0.004,
        "DIA",
        common=factor,
        beta=0.85,
        events=SELLOFF_RETURNS["DIA"],
    )
    ohlcv("DIA", bdays, dia, 2, 3_500_000)
    gold = bridge(
        bdays,
        [
            (START, 1921),
            (date(2024, 10, 30), 2790),
            (date(2025, 10, 20), 4360),
            (date(2026, 1, 28), 5100),
            (END, 4300),
        ],
        0.009,
        "XAUUSD_LBMA_PM",
        common=factor,
        beta=0.2,
        events=SELLOFF_RETURNS["XAUUSD_LBMA_PM"],
    )
    close_only("XAUUSD_LBMA_PM", bdays, gold, 2)
    silver = bridge(
        bdays,
        [
            (START, 23.1),
            (date(2024, 10, 22), 34.5),
            (date(2025, 10, 16), 53.0),
            (date(2026, 1, 28), 104.0),
            (date(2026, 3, 2), 72.0),
            (END, 66.5),
        ],
        0.017,
        "XAGUSD",
        common=factor,
        beta=0.4,
        events=SELLOFF_RETURNS["XAGUSD"],
    )
    ohlcv("XAGUSD", bdays, silver, 3, None)
    slv_noise = normals(rng_for("SLV"), len(bdays))
    slv = [0.915 * s * math.exp(0.002 * z) for s, z in zip(silver, slv_noise, strict=True)]
    ohlcv("SLV", bdays, slv, 2, 20_000_000)
    move_events = {date(2026, 2, 11): 3.0, SELLOFF: 7.2, date(2025, 4, 7): 35.0}
    move = mean_reverting(
        bdays, 88.0, 0.03, 2.6, "MOVE", floor=55.0, events=move_events, start=118.0
    )
    close_only("MOVE", bdays, move, 2)
    close_only("USDJPY", bdays, usdjpy_path(bdays), 4)
    # Crypto trades every day; on weekends it takes its own shocks only.
    crypto_factor = {d: factor.get(d, 0.0) for d in cdays}
    btc = bridge(
        cdays,
        [
            (START, 30600),
            (date(2024, 3, 13), 73000),
            (date(2024, 9, 6), 53900),
            (date(2025, 10, 6), 124000),
            (date(2026, 1, 27), 88000),
            (END, 62000),
        ],
        0.024,
        "BTC-USD",
        common=crypto_factor,
        beta=1.5,
        events=SELLOFF_RETURNS["BTC-USD"],
    )
    ohlcv("BTC-USD", cdays, btc, 2, 30_000_000_000)
    eth = bridge(
        cdays,
        [
            (START, 1950),
            (date(2024, 3, 12), 4050),
            (date(2025, 4, 8), 1470),
            (date(2025, 8, 24), 4900),
            (date(2026, 1, 27), 2900),
            (END, 1650),
        ],
        0.03,
        "ETH-USD",
        common=crypto_factor,
        beta=1.8,
        events=SELLOFF_RETURNS["ETH-USD"],
    )
    ohlcv("ETH-USD", cdays, eth, 2, 15_000_000_000)
    return written


TENORS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40]
# Tenor -> yield at the start and at the end of the sample (percent).
JGB_LEVELS = {
    1: (-0.06, 1.17),
    2: (0.01, 1.38),
    3: (0.04, 1.53),
    4: (0.09, 1.75),
    5: (0.14, 1.94),
    6: (0.18, 2.07),
    7: (0.23, 2.23),
    8: (0.3, 2.4),
    9: (0.36, 2.55),
    10: (0.41, 2.69),
    15: (0.78, 3.27),
    20: (1.07, 3.62),
    25: (1.27, 3.88),
    30: (1.32, 3.87),
    40: (1.48, 3.79),
}
MOF_TITLE = "国債金利情報,,,,,,,,,,,,,,,(単位 : %)"
MOF_HEADER = "基準日," + ",".join(f"{t}年" for t in TENORS)


def era_date(day: date) -> str:
    """Reiwa/Heisei/Showa date as MOF writes it: R8.2.27."""
    for letter, offset, first in (
        ("R", 2018, date(2019, 5, 1)),
        ("H", 1988, date(1989, 1, 8)),
        ("S", 1925, date(1926, 12, 25)),
    ):
        if day >= first:
            return f"{letter}{day.year - offset}.{day.month}.{day.day}"
    raise ValueError(f"{day} is before the Showa era")


def jgb_rows(days: Sequence[date]) -> dict[date, str]:
    level = bridge(
        days,
        [
            (days[0], 0.0),
            (date(2024, 3, 19), 0.25),
            (date(2025, 5, 21), 0.55),
            (date(2026, 2, 12), 0.85),
            (days[-1], 1.0),
        ],
        0.012,
        "JGB",
        log=False,
    )
    curve_noise = {t: normals(rng_for(f"JGB{t}Y"), len(days)) for t in TENORS}
    rows = {}
    for i, day in enumerate(days):
        cells = [era_date(day)]
        for t in TENORS:
            lo, hi = JGB_LEVELS[t]
            value = lo + (hi - lo) * level[i] + 0.01 * curve_noise[t][i]
            # One published gap, as MOF marks it, so replay sees a "-" in the sample too.
            cells.append("-" if (t == 40 and day == date(2024, 8, 5)) else f"{value:.3f}")
        rows[day] = ",".join(cells)
    return rows


def write_mof(out: Path) -> list[Path]:
    days = japan_business_days()
    rows = jgb_rows(days)
    # The history file runs a week into the current month; jgbcm.csv holds the whole month.
    history = [rows[d] for d in days if d <= date(2026, 6, 5)]
    current = [rows[d] for d in days if d >= date(2026, 6, 1)]
    folder = out / "mof"
    paths = []
    for name, lines, title in (
        ("jgbcm_all.csv", history, MOF_TITLE),
        ("jgbcm.csv", current, MOF_TITLE.replace("国債金利情報", "国債金利情報(令和8年6月)")),
    ):
        text = "\n".join([title, MOF_HEADER, *lines]) + "\n"
        paths.append(write_text(folder / name, text, encoding="cp932", newline="\r\n"))
    return paths


SHILLER_HEADER = [
    "Date",
    "P",
    "D",
    "E",
    "CPI",
    "Fraction",
    "Rate GS10",
    "Price",
    "Dividend",
    "Price",
    "Earnings",
    "Earnings",
    "CAPE",
    "",
    "TR CAPE",
]


def write_shiller(out: Path) -> Path:
    import xlwt  # dev dependency: only the generator writes .xls

    months = month_starts(date(1990, 1, 1), date(2026, 5, 1))
    price = bridge(
        months,
        [
            (months[0], 339.97),
            (date(2000, 8, 1), 1485.46),
            (date(2003, 2, 1), 837.03),
            (date(2007, 10, 1), 1539.66),
            (date(2009, 3, 1), 757.13),
            (date(2020, 3, 1), 2652.39),
            (date(2025, 4, 1), 5369.5),
            (date(2026, 1, 1), 6929.12),
            (months[-1], 7259.22),
        ],
        0.025,
        "SHILLER_PRICE",
    )
    dividend = bridge(
        months,
        [(months[0], 11.14), (date(2009, 9, 1), 22.0), (months[-1], 80.0)],
        0.004,
        "SHILLER_DIVIDEND",
    )
    earnings = bridge(
        months,
        [
            (months[0], 22.49),
            (date(2009, 3, 1), 7.52),
            (date(2020, 9, 1), 94.0),
            (months[-1], 277.1),
        ],
        0.012,
        "SHILLER_EARNINGS",
    )
    cpi = bridge(
        months,
        [(months[0], 127.4), (date(2020, 1, 1), 257.97), (months[-1], 332.78)],
        0.002,
        "SHILLER_CPI",
    )
    gs10 = bridge(
        months,
        [
            (months[0], 8.21),
            (date(2000, 1, 1), 6.66),
            (date(2012, 7, 1), 1.53),
            (date(2020, 7, 1), 0.62),
            (date(2023, 10, 1), 4.8),
            (months[-1], 4.45),
        ],
        0.04,
        "SHILLER_GS10",  # in log space: a yield walk in levels dips below zero near 2020
    )
    cape = bridge(
        months,
        [
            (months[0], 17.05),
            (date(1999, 12, 1), 44.2),
            (date(2009, 3, 1), 13.32),
            (date(2021, 11, 1), 38.58),
            (date(2022, 10, 1), 27.2),
            (date(2026, 1, 1), 39.59),
            (months[-1], 39.58),
        ],
        0.02,
        "SHILLER_CAPE",
    )

    book = xlwt.Workbook()
    disclaimer = book.add_sheet("Disclaimer")
    disclaimer.write(0, 0, "SYNTHETIC crosswind sample: not Robert Shiller's data.")
    sheet = book.add_sheet("Data")
    sheet.write(1, 0, 'Stock Market Data Used in "Irrational Exuberance" (SYNTHETIC SAMPLE)')
    sheet.write(2, 0, "generated by orchestration/sample/generate.py")
    sheet.write(6, 1, "Comp.")
    for col, label in enumerate(SHILLER_HEADER):
        if label:
            sheet.write(7, col, label)  # row 8 in Excel, as in the published workbook
    last = len(months) - 1
    for i, month in enumerate(months):
        row = 8 + i
        # Dates are numbers: October is 1990.1, exactly as the workbook stores it.
        sheet.write(row, 0, round(month.year + month.month / 100, 2))
        sheet.write(row, 1, round(price[i], 2))
        if i < last - 1:  # like the real file, the latest D and E are not out yet
            sheet.write(row, 2, round(dividend[i], 2))
            sheet.write(row, 3, round(earnings[i], 2))
        sheet.write(row, 4, round(cpi[i], 3))
        sheet.write(row, 5, round(month.year + (month.month - 0.5) / 12, 4))
        sheet.write(row, 6, round(gs10[i], 2))
        sheet.write(row, 12, "NA" if i < 2 else round(cape[i], 2))
    sheet.write(8 + len(months), 1, "Synthetic footnote: latest month is an estimate")
    path = out / "shiller" / "ie_data.xls"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(str(path))
    return path


# product, effective date, maintenance margin (USD per contract); silver hiked repeatedly in
# Jan-Feb 2026 as the rally turned.
MARGIN_CHANGES = [
    ("GC", date(2023, 7, 3), 8000),
    ("GC", date(2024, 4, 19), 8800),
    ("GC", date(2025, 4, 11), 10000),
    ("GC", date(2025, 10, 21), 15000),
    ("GC", date(2026, 1, 13), 17500),
    ("GC", date(2026, 2, 6), 20000),
    ("SI", date(2023, 7, 3), 9000),
    ("SI", date(2024, 5, 22), 10000),
    ("SI", date(2024, 10, 24), 11000),
    ("SI", date(2025, 10, 17), 13500),
    ("SI", date(2025, 12, 29), 16000),
    ("SI", date(2026, 1, 13), 19500),
    ("SI", date(2026, 1, 28), 24000),
    ("SI", date(2026, 2, 6), 28000),
    ("SI", date(2026, 3, 20), 25000),
]


def write_cme(out: Path) -> Path:
    header = [
        "product",
        "effective_date",
        "notice_date",
        "initial_margin",
        "maintenance_margin",
        "source_file",
        "prev_maintenance_margin",
        "prev_business_date",
        "pct_change",
        "direction",
        "is_series_start",
    ]
    rows, previous = [], {}
    for product, day, maintenance in MARGIN_CHANGES:
        prev = previous.get(product)
        prev_day = day - timedelta(days=3 if day.weekday() == 0 else 1)
        initial = f"{maintenance * 1.1:.1f}" if day.year >= 2026 else ""
        rows.append(
            (
                product,
                day.isoformat(),
                (day - timedelta(days=2)).isoformat(),
                initial,
                f"{maintenance:.1f}",
                f"SYNTHETIC-{product}.pdf",
                "" if prev is None else f"{prev:.1f}",
                "" if prev is None else prev_day.isoformat(),
                "" if prev is None else f"{maintenance / prev - 1:.6f}",
                "series_start"
                if prev is None
                else "increase"
                if maintenance > prev
                else "decrease",
                prev is None,
            )
        )
        previous[product] = maintenance
    return write_text(out / "cme" / "margin_history.csv", csv_text(header, rows))


def write_drops(out: Path) -> Path:
    months = month_starts(date(2016, 1, 1), date(2026, 6, 1))
    pe = bridge(
        months,
        [
            (months[0], 16.4),
            (date(2020, 3, 1), 13.9),
            (date(2020, 9, 1), 23.1),
            (date(2022, 9, 1), 15.4),
            (date(2026, 1, 1), 22.0),
            (months[-1], 21.2),
        ],
        0.03,
        "FORWARD_PE",
    )
    rows = [(m.isoformat(), f"{v:.2f}") for m, v in zip(months, pe, strict=True)]
    return write_text(out / "drops" / "forward_pe.csv", csv_text(["date", "value"], rows))


OFR_HEADER = [
    "Date",
    "OFR FSI",
    "Credit",
    "Equity valuation",
    "Safe assets",
    "Funding",
    "Volatility",
    "United States",
    "Other advanced economies",
    "Emerging markets",
]


def write_stress_indices(out: Path) -> list[Path]:
    """Synthetic official stress indices (benchmarks for the scorecard, never score inputs).

    Driven by the sample's own VIX and HY spread plus noise, so the scorecard has something to
    agree and disagree with: fred/STLFSI4.csv and fred/NFCI.csv weekly on Fridays (0 = normal),
    ofr/fsi.csv daily in OFR's layout, whose five categories and three regions add up to the
    index (each cell rounded to three decimals, as published).
    """
    bdays = us_business_days()
    vix = dict(zip(bdays, vix_path(bdays), strict=True))
    hy = dict(zip(bdays, hy_path(bdays), strict=True))
    stress = {d: 0.1 * (vix[d] - 16.0) + 0.8 * (hy[d] - 3.1) for d in bdays}

    fridays = [d for d in calendar_days(START, END) if d.weekday() == 4]
    weekly = []
    for friday in fridays:
        week = [stress[d] for d in bdays if friday - timedelta(days=4) <= d <= friday]
        weekly.append(sum(week) / len(week) if week else None)
    noise = normals(rng_for("STLFSI4"), len(fridays))
    stlfsi = [
        None if w is None else -0.6 + 0.55 * w + 0.08 * z
        for w, z in zip(weekly, noise, strict=True)
    ]
    noise = normals(rng_for("NFCI"), len(fridays))
    nfci = [
        None if w is None else -0.5 + 0.12 * w + 0.02 * z
        for w, z in zip(weekly, noise, strict=True)
    ]
    written = [
        write_fred(out, "STLFSI4", fridays, stlfsi, 4),
        write_fred(out, "NFCI", fridays, nfci, 3),
    ]

    noise = [normals(rng_for(f"OFR_FSI:{c}"), len(bdays)) for c in OFR_HEADER[2:]]
    rows = []
    for i, day in enumerate(bdays):
        credit = 1.1 * (hy[day] - 3.1) - 0.9 + 0.05 * noise[0][i]
        equity = 0.05 * (vix[day] - 16.0) - 0.3 + 0.04 * noise[1][i]
        safe = -0.25 + 0.03 * noise[2][i]
        funding = -0.15 + 0.03 * noise[3][i]
        volatility = 0.12 * (vix[day] - 16.0) - 0.6 + 0.05 * noise[4][i]
        categories = [round(v, 3) for v in (credit, equity, safe, funding, volatility)]
        index = round(sum(categories), 3)
        united_states = round(0.5 * index + 0.02 * noise[5][i], 3)
        other_advanced = round(0.35 * index + 0.02 * noise[6][i], 3)
        emerging = round(index - united_states - other_advanced, 3)
        cells = [index, *categories, united_states, other_advanced, emerging]
        rows.append([day.isoformat(), *(f"{v + 0.0:g}" for v in cells)])  # never "-0"
    written.append(write_text(out / "ofr" / "fsi.csv", csv_text(OFR_HEADER, rows)))
    return written


WRITERS: list[Callable[[Path, dict[date, float]], Path | list[Path]]] = [
    write_fred_all,
    lambda out, _: write_treasury(out),
    write_markets,
    lambda out, _: write_mof(out),
    lambda out, _: write_shiller(out),
    lambda out, _: write_cme(out),
    lambda out, _: write_drops(out),
    lambda out, _: write_stress_indices(out),
]


def generate(out: Path = SAMPLE_DIR) -> list[Path]:
    """Writes every sample file under `out`; returns them. Leaves other files alone."""
    out = Path(out)
    factor = market_factor(us_business_days())
    written: list[Path] = []
    for writer in WRITERS:
        result = writer(out, factor)
        written.extend(result if isinstance(result, list) else [result])
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="target folder")
    args = parser.parse_args(argv)
    written = generate(args.out)
    size = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} files, {size / 1024:.0f} KiB, under {args.out}")  # noqa: T201


if __name__ == "__main__":
    main()
