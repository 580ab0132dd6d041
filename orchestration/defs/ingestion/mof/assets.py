from orchestration.lib.raw_assets import build_raw_asset
from orchestration.lib.raw_tables import MOF
from orchestration.lib.source_rules import SourceRules

mof_jgb_yields = build_raw_asset(
    "mof",
    MOF,
    group="ingestion_mof",
    description="Japanese government bond yields (1Y to 40Y) from the Ministry of Finance, "
    "history file merged with the current month, percent.",
    # Both MOF files hold every tenor: read them once, trim each tenor to its own window.
    rules=SourceRules(one_payload=True),
)
