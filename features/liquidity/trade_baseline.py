"""Typical traded volume per price level per window (10 s): the yardstick of absorption's "heavy
flow" test (../shared/docs/liquidity-events.md, item 3), relative to the symbol's own history.

Trades are summed per price inside a tumbling window of venue time. When a window closes, its
volume per level (total volume / prices that traded) is pushed into a ring covering
``history_s``; the typical value is the median of that ring. The mean per level, not the median
level: on BTCUSDT most prices in a window trade a few lots while the touch trades whole BTC, so
the median level (0.08 BTC on the 2024-08-08 recording, against 0.5 BTC for the mean) would call
any steady touch flow "heavy". Per trade: one dict increment (O(1)); per closed window: one sum.
"""

from __future__ import annotations

import statistics
from collections import deque


class TradedVolumeBaseline:
    """Rolling median of per-level traded volume per window, in quantity units."""

    __slots__ = ("_ring", "_window_id", "levels", "typical", "until_ms", "warmup_windows",
                 "window_ms")

    def __init__(self, window_s: float = 10.0, history_s: float = 1800.0,
                 warmup_windows: int = 3) -> None:
        self.window_ms = max(1, int(window_s * 1000))
        self._ring: deque[float] = deque(maxlen=max(1, int(history_s / window_s)))
        self.levels: dict[int, int] = {}  # the open window: volume per price
        self._window_id: int | None = None
        self.until_ms = -1  # the open window ends here: a later trade calls ``roll`` first
        self.warmup_windows = warmup_windows
        self.typical: float | None = None  # None until ``warmup_windows`` windows closed

    @property
    def windows(self) -> int:
        """Closed windows held (those in which something traded)."""
        return len(self._ring)

    def add(self, price: int, qty: int, ts_ms: int) -> None:
        """Count one trade (hot path: callers may inline these three lines)."""
        if ts_ms >= self.until_ms:
            self.roll(ts_ms)
        levels = self.levels
        levels[price] = levels.get(price, 0) + qty

    def roll(self, ts_ms: int) -> None:
        """Close the open window (if it holds trades) and open the one holding ``ts_ms``. A
        trade from an earlier window (streams are ordered, so rare) lands in the open one."""
        levels = self.levels
        if levels:
            self._ring.append(sum(levels.values()) / len(levels))
            self.levels = {}
            if len(self._ring) >= self.warmup_windows:
                self.typical = statistics.median(self._ring)
        window = ts_ms // self.window_ms
        self._window_id = window
        self.until_ms = (window + 1) * self.window_ms
