"""Microstructure features: pure functions of integer-unit book levels and trades.

No I/O, no clock, no globals. Each function's docstring carries its exact definition.
"""

from features.book_features import (
    cumulative_depth,
    depth_imbalance,
    depth_weighted_price,
    imbalance,
    microprice,
    mid_price,
    spread,
    spread_bps,
    total_qty,
)
from features.impact import ImpactInputError, ImpactResult, simulate_on_book, walk_book
from features.order_flow import best_level_ofi, volume_ofi
from features.slope import book_slope
from features.trades import TradeAccumulator, TradeSummary, summarize_trades

__all__ = [
    "ImpactInputError", "ImpactResult", "TradeAccumulator", "TradeSummary", "best_level_ofi",
    "book_slope", "cumulative_depth", "depth_imbalance", "depth_weighted_price", "imbalance",
    "microprice", "mid_price", "simulate_on_book", "spread", "spread_bps", "summarize_trades",
    "total_qty", "volume_ofi", "walk_book",
]
