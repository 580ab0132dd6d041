from orchestration.lib.raw_assets import build_raw_asset
from orchestration.lib.raw_tables import MARKETS

market_daily_bars = build_raw_asset(
    "markets",
    MARKETS,
    group="ingestion_markets",
    description="Daily bars (close, and OHLCV where the provider has them) for gold, silver, "
    "MOVE, USD/JPY, BTC, ETH, the S&P 500 and the Dow proxy.",
)
