"""What an ingestion asset must know about its source, declared with the source.

Each `orchestration/defs/ingestion/<source>/assets.py` builds its asset with
`build_raw_asset(..., rules=SourceRules(...))`. This module holds only the defaults and the
types, and knows no source by name: adding a source is one definitions module plus its catalog
entries (and, if its rows are not catalog series, a `tracked` and a `plausibility` function).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

import pandas as pd

from orchestration.lib.catalog import Catalog, JumpLimit, Series
from orchestration.lib.raw_tables import RawTable

# After the first full load, re-read this much history so revisions are picked up.
LOOKBACK_DAYS = MappingProxyType({"daily": 30, "weekly": 70, "monthly": 400, "quarterly": 800})
# Slack on freshness beyond staleness + release lag: one period of the series.
FRESHNESS_SLACK_DAYS = MappingProxyType({"daily": 3, "weekly": 7, "monthly": 31, "quarterly": 92})
# How often a source is re-read in full (revisions and deletions older than the lookback window).
FULL_FETCH_EVERY_DAYS = 7


@dataclass(frozen=True)
class Tracked:
    """One thing a source carries: a catalog series, or (CME) a margin product."""

    id: str
    required: bool
    first_date: date
    lookback_days: int
    jump: JumpLimit | None
    frequency: str | None = None  # None: irregular events (margin changes)
    max_age_days: int | None = None  # freshness limit; None: events have no staleness
    discontinued: bool = False
    administered: bool = False  # flat by policy: the stuck check skips it
    series: Series | None = None  # what the source's fetch() is given; None for non-series


def catalog_series(catalog: Catalog, source: str, rules: SourceRules) -> list[Tracked]:
    """The default: every catalog series whose `source` is this source."""
    return [
        Tracked(
            id=s.id,
            required=s.required,
            first_date=s.first_date,
            lookback_days=rules.lookback_days[s.frequency],
            jump=s.jump,
            frequency=s.frequency,
            max_age_days=s.staleness_days + s.release_lag_days + FRESHNESS_SLACK_DAYS[s.frequency],
            discontinued=s.discontinued,
            administered=s.administered,
            series=s,
        )
        for s in catalog.for_source(source)
    ]


def series_plausibility(frame: pd.DataFrame, table: RawTable, catalog: Catalog) -> pd.DataFrame:
    """Per row: the value in the series' stored unit and its catalog range.

    Columns: `stored` (NaN when the series or the units label is unknown), `min`, `max`, `scale`
    (rows are compared step by step only within one scale) and `claimed_prev` (a previous value
    the row itself states; none for observations). Unknown series get min 0 and no stored value,
    so the range check reports them like an unknown unit.
    """
    out = pd.DataFrame(
        index=frame.index, columns=["stored", "min", "max", "claimed_prev"], dtype="float64"
    )
    out["scale"] = "stored"
    if table.value_column is None:
        return out
    value = pd.to_numeric(frame[table.value_column], errors="coerce")
    # Look each distinct series and units label up once, then map (per-row Python is slow).
    ids = frame[table.series_column]
    known = {i: catalog.series[i].range for i in ids.dropna().unique() if i in catalog.series}
    out["min"] = ids.map({i: r[0] for i, r in known.items()}).astype("float64")
    out["max"] = ids.map({i: r[1] for i, r in known.items()}).astype("float64")
    labels = frame["units"]
    factors = catalog.unit_factors(labels.dropna().unique())
    out["stored"] = value * labels.map(factors).astype("float64")
    unknown = ~ids.isin(list(known))
    out.loc[unknown, "min"] = 0.0
    out.loc[unknown, "stored"] = float("nan")
    return out


@dataclass(frozen=True)
class SourceRules:
    """A source's ingestion rules; every field has the default most sources want."""

    # Lookback window per catalog frequency, after the first full load.
    lookback_days: Mapping[str, int] = field(default_factory=lambda: LOOKBACK_DAYS)
    # Days after today a date may lie (margin changes are announced ahead of their date).
    future_grace_days: int = 0
    # One payload holds every series (a workbook, one CSV): fetch once from the earliest window
    # start and trim each series to its own window, instead of one fetch per window start.
    one_payload: bool = False
    # Re-read the whole history this often (revisions and deletions older than the window).
    full_fetch_every_days: int = FULL_FETCH_EVERY_DAYS
    # What the source carries, and how its rows convert to stored, range-checked values.
    tracked: Callable[[Catalog, str, SourceRules], list[Tracked]] = catalog_series
    plausibility: Callable[[pd.DataFrame, RawTable, Catalog], pd.DataFrame] = series_plausibility
    # Said after `series_present` fails for a required series: where this source's data comes
    # from and how to supply it.
    absent_hint: str = ""
    # A second table written from `Batch.series_metadata` (FRED's API metadata), if any.
    metadata_table: RawTable | None = None
    metadata_description: str = ""


DEFAULT_RULES = SourceRules()
