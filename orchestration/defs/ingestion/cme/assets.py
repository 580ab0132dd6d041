from orchestration.lib.raw_assets import build_raw_asset
from orchestration.lib.raw_tables import CME

cme_margin_changes = build_raw_asset(
    "cme",
    CME,
    group="ingestion_cme",
    description="COMEX gold and silver margin changes, one row per change, from the curated "
    "history file plus user drops; the unit (USD per contract or % of notional) is a column.",
)
