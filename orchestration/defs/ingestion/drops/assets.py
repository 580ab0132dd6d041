from orchestration.lib.raw_assets import build_raw_asset
from orchestration.lib.raw_tables import DROPS

drops_observations = build_raw_asset(
    "drops",
    DROPS,
    group="ingestion_drops",
    description="Optional user-supplied CSV drops: forward P/E, ADP payrolls, Challenger job "
    "cuts. Absent files are fine; the marts say which inputs they lack.",
)
