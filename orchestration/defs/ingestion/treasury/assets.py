from orchestration.lib.raw_assets import build_raw_asset
from orchestration.lib.raw_tables import TREASURY
from orchestration.lib.source_rules import SourceRules

treasury_operating_cash_balance = build_raw_asset(
    "treasury",
    TREASURY,
    group="ingestion_treasury",
    description="Treasury General Account closing balance per day from the Daily Treasury "
    "Statement (fiscaldata), USD millions; published the next business day.",
    # One DTS table holds the TGA: read it once from the window start.
    rules=SourceRules(one_payload=True),
)
