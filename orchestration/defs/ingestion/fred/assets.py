from orchestration.lib.raw_assets import build_raw_asset
from orchestration.lib.raw_tables import FRED, FRED_METADATA
from orchestration.lib.source_rules import SourceRules

fred_observations = build_raw_asset(
    "fred",
    FRED,
    group="ingestion_fred",
    description="FRED observations for every fred series in the catalog, one row per "
    "(series_id, date), values as published with their units label and vintage date.",
    # One request per series: each series is fetched from its own window start.
    rules=SourceRules(
        metadata_table=FRED_METADATA,
        metadata_description="FRED series metadata (title, units, frequency, last updated) "
        "from the API; empty when the keyless CSV or a snapshot is used.",
    ),
)
