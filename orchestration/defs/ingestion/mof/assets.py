from orchestration.lib.raw_assets import build_raw_asset
from orchestration.lib.raw_tables import MOF

mof_jgb_yields = build_raw_asset(
    "mof",
    MOF,
    group="ingestion_mof",
    description="Japanese government bond yields (1Y to 40Y) from the Ministry of Finance, "
    "history file merged with the current month, percent.",
)
