from orchestration.lib.raw_assets import build_raw_asset
from orchestration.lib.raw_tables import SHILLER
from orchestration.lib.source_rules import SourceRules

shiller_monthly = build_raw_asset(
    "shiller",
    SHILLER,
    group="ingestion_shiller",
    description="Robert Shiller's monthly S&P Composite workbook (ie_data.xls): price, "
    "dividends, earnings, CPI, GS10 and CAPE.",
    # One workbook holds every series: read it once, trim each series to its own window.
    rules=SourceRules(one_payload=True),
)
