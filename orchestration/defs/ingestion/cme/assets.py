"""COMEX margin changes: one row per change per product, not catalog series.

The source's rules live here: what it tracks (the catalog's margin products), how far back a
run re-reads, how far ahead a date may lie, and how a row turns into a range-checked value.
"""

import pandas as pd

from orchestration.lib.catalog import Catalog
from orchestration.lib.raw_assets import build_raw_asset
from orchestration.lib.raw_tables import CME, RawTable
from orchestration.lib.source_rules import SourceRules, Tracked

# CME announces margin changes a few days to weeks before they take effect.
FUTURE_GRACE_DAYS = 30
# Changes are events weeks or months apart: re-read the 400 days before each product's last one.
LOOKBACK_DAYS = 400


def margin_products(catalog: Catalog, source: str, rules: SourceRules) -> list[Tracked]:
    """Every catalog margin product; margin changes have no staleness limit."""
    return [
        Tracked(
            id=product,
            required=spec.required,
            first_date=spec.first_date,
            lookback_days=LOOKBACK_DAYS,
            jump=catalog.margins.jump,
        )
        for product, spec in catalog.margins.products.items()
    ]


def margin_plausibility(frame: pd.DataFrame, table: RawTable, catalog: Catalog) -> pd.DataFrame:
    """The maintenance margin in its own unit's range; steps compared only within one unit.

    A row's previous_maintenance_margin is the value it claims to replace: it is range-checked
    in the row's unit and compared with the real previous row by the jump check.
    """
    units = catalog.margins.units
    known = frame["unit"].isin(list(units))
    out = pd.DataFrame(index=frame.index)
    out["min"] = frame["unit"].map({u: r[0] for u, r in units.items()}).astype("float64")
    out["max"] = frame["unit"].map({u: r[1] for u, r in units.items()}).astype("float64")
    out["stored"] = pd.to_numeric(frame[table.value_column], errors="coerce").where(known)
    # An unknown unit has no range: flag it through min with a NaN stored value.
    out.loc[~known, "min"] = 0.0
    out["scale"] = frame["unit"]
    out["claimed_prev"] = pd.to_numeric(
        frame["previous_maintenance_margin"], errors="coerce"
    ).where(known)
    return out


RULES = SourceRules(
    absent_hint="live: add rows from CME notices to the curated history (CROSSWIND_MARGIN_FILE) "
    "or drop a margin-history CSV into <CROSSWIND_DROPS_DIR>/cme/; replay: cme/margin_history.csv",
    future_grace_days=FUTURE_GRACE_DAYS,
    one_payload=True,
    tracked=margin_products,
    plausibility=margin_plausibility,
)

cme_margin_changes = build_raw_asset(
    "cme",
    CME,
    group="ingestion_cme",
    description="COMEX gold and silver margin changes, one row per change, from the curated "
    "history file plus user drops; the unit (USD per contract or % of notional) is a column.",
    rules=RULES,
)
