from orchestration.lib.raw_assets import build_raw_asset
from orchestration.lib.raw_tables import OFR

ofr_financial_stress_index = build_raw_asset(
    "ofr",
    OFR,
    group="ingestion_ofr",
    description="OFR Financial Stress Index as published (the index, its five categories and three "
    "regions, one row per series per business day; 0 = average stress). A benchmark for the "
    "stress score (marts.fct_stress_scorecard), never an input to it.",
)
