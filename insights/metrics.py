"""The names a rule may use: numeric frame values (conditions and templates) and a few
text-valued liquidity facts (templates only).

Every name here is in each frame (top-level keys, or inside ``signals`` for the liquidity
ones), so a rule can be re-checked from the frame alone.
"""

from __future__ import annotations

# Top-level numeric frame keys (docs/frames.md).
FRAME_METRICS: tuple[str, ...] = (
    "mid_price", "best_bid", "best_ask", "spread", "spread_bps", "spread_ticks", "microprice",
    "imbalance",
    "imbalance_best", "bid_volume", "ask_volume", "ofi", "ofi_best", "updates",
    "last_trade_price", "vwap_30s", "velocity_3s", "velocity_baseline", "volatility_60s_bps",
    "volatility_1s_60s_bps", "buy_pressure_30s", "price_vs_vwap_pct", "cvd",
)

# Numeric liquidity-event facts, derived each second from the event log (insights/signals.py),
# carried in the frame's ``signals`` object.
SIGNAL_METRICS: tuple[str, ...] = (
    "walls_near_touch", "wall_price", "wall_size", "wall_distance_bps", "sweeps_10s",
    "sweep_volume", "sweep_levels", "sweep_price", "icebergs_active", "iceberg_price",
    "iceberg_volume", "exhaustion_active", "exhaustion_price", "absorptions_active",
    "absorption_price",
)

# Text-valued facts (``"bid"`` / ``"ask"`` / ``None``): usable in templates, not in conditions.
SIGNAL_TEXTS: tuple[str, ...] = (
    "wall_side", "sweep_side", "sweep_direction", "iceberg_side", "exhaustion_side",
    "absorption_side",
)

NUMERIC_METRICS = frozenset(FRAME_METRICS + SIGNAL_METRICS)
TEMPLATE_NAMES = NUMERIC_METRICS | frozenset(SIGNAL_TEXTS)
