from orchestration.lib.raw_assets import build_raw_asset
from orchestration.lib.raw_tables import FRED

fred_observations = build_raw_asset(
    "fred",
    FRED,
    group="ingestion_fred",
    description="FRED observations for every fred series in the catalog, one row per "
    "(series_id, date), values as published with their units label and vintage date.",
)
