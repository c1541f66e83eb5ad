"""Feed statistics used to check the simulator against real recordings (scripts/feed_stats.py).

Pure accumulation over integer-unit depth diffs and trades: no I/O, no clock. ``FeedMetrics``
keeps its own copy of the book (so a change's distance is measured against the touch before the
diff); ``DepthSampler`` and ``SweepCounter`` add the touch, level 2-3, trade size and sweep rows.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

from sortedcontainers import SortedDict

Level = tuple[int, int]
NEAR_TOUCH_TICKS = 10
SWEEP_WINDOW_MS = 200
SWEEP_LEVELS = 3


@dataclass(slots=True)
class FeedMetrics:
    """Counts diffs, level changes by distance from the touch, spreads and trades.

    The distance of a change is measured against the touch *before* the diff is applied: a bid
    change at ``p`` is ``(best_bid - p) / tick`` ticks away (negative, i.e. inside the spread,
    counts as 0).
    """

    tick_units: int
    bids: SortedDict = field(default_factory=SortedDict)
    asks: SortedDict = field(default_factory=SortedDict)
    diff_sizes: list[int] = field(default_factory=list)
    spreads: list[int] = field(default_factory=list)
    changes: int = 0
    near_changes: int = 0
    trades: int = 0
    trade_sizes: list[int] = field(default_factory=list)
    mid_by_second: dict[int, float] = field(default_factory=dict)

    def on_snapshot(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        self.bids = SortedDict({p: q for p, q in bids if q})
        self.asks = SortedDict({p: q for p, q in asks if q})

    def on_diff(self, bids: list[Level], asks: list[Level], event_ms: int | None = None) -> None:
        best_bid = self.bids.peekitem(-1)[0] if self.bids else None
        best_ask = self.asks.peekitem(0)[0] if self.asks else None
        for price, _ in bids:
            self._count(None if best_bid is None else (best_bid - price))
        for price, _ in asks:
            self._count(None if best_ask is None else (price - best_ask))
        self.diff_sizes.append(len(bids) + len(asks))
        _apply(self.bids, bids)
        _apply(self.asks, asks)
        if self.bids and self.asks:
            spread = self.asks.peekitem(0)[0] - self.bids.peekitem(-1)[0]
            self.spreads.append(spread // self.tick_units)
            if event_ms is not None:
                mid_ticks = (self.asks.peekitem(0)[0] + self.bids.peekitem(-1)[0]) / 2
                self.mid_by_second[event_ms // 1000] = mid_ticks / self.tick_units

    def on_trade(self, qty: int) -> None:
        self.trades += 1
        self.trade_sizes.append(qty)

    def _count(self, distance_units: int | None) -> None:
        self.changes += 1
        if distance_units is not None and distance_units <= NEAR_TOUCH_TICKS * self.tick_units:
            self.near_changes += 1

    def summary(self, duration_s: float) -> dict[str, float]:
        """The comparison row: rates per second, level counts, near-touch share, spread."""
        sizes = self.diff_sizes or [0]
        spreads = self.spreads or [0]
        seconds = sorted(self.mid_by_second)
        mids = [self.mid_by_second[s] for s in seconds]
        moves = [b - a for a, b in zip(mids, mids[1:], strict=False)] or [0.0]
        return {
            "seconds": duration_s,
            "diffs/s": len(self.diff_sizes) / duration_s,
            "levels/diff mean": statistics.fmean(sizes),
            "levels/diff median": statistics.median(sizes),
            "level changes/s": self.changes / duration_s,
            "share <=10 ticks": self.near_changes / max(self.changes, 1),
            "spread ticks median": statistics.median(spreads),
            "spread ticks mean": statistics.fmean(spreads),
            "trades/s": self.trades / duration_s,
            "mid 1s move std ticks": statistics.pstdev(moves),
            "mid range ticks": (max(mids) - min(mids)) if mids else 0.0,
            "bid levels": len(self.bids),
            "ask levels": len(self.asks),
        }


class SweepCounter:
    """Bursts of one taker side printing at >= ``SWEEP_LEVELS`` distinct prices within
    ``SWEEP_WINDOW_MS`` of the burst's first trade; each burst counts once. Independent of
    depthlens' own sweep detector, so the two can be checked against each other."""

    def __init__(self) -> None:
        self.sweeps = 0
        # per taker side (True: the buyer took): (burst start ms, distinct prices, counted)
        self._burst: dict[bool, tuple[int, set[int], bool]] = {}

    def on_trade(self, taker_buys: bool, ts_ms: int, price: int) -> None:
        burst = self._burst.get(taker_buys)
        if burst is None or ts_ms - burst[0] > SWEEP_WINDOW_MS:
            burst = (ts_ms, set(), False)
        start, prices, counted = burst
        prices.add(price)
        if not counted and len(prices) >= SWEEP_LEVELS:
            self.sweeps += 1
            counted = True
        self._burst[taker_buys] = (start, prices, counted)


class DepthSampler:
    """Touch and levels 2-3 sizes of the metrics' book, both sides, after every diff."""

    def __init__(self, metrics: FeedMetrics, qty_scale: int) -> None:
        self.metrics, self.scale = metrics, qty_scale
        self.touch: list[int] = []
        self.behind: list[int] = []

    def sample(self) -> None:
        bids, asks = self.metrics.bids, self.metrics.asks
        if len(bids) < 3 or len(asks) < 3:
            return
        self.touch += [bids.peekitem(-1)[1], asks.peekitem(0)[1]]
        self.behind += [bids.peekitem(-2)[1], bids.peekitem(-3)[1],
                        asks.peekitem(1)[1], asks.peekitem(2)[1]]

    def rows(self, sweeps: SweepCounter, duration_s: float) -> dict[str, float]:
        """Sizes in base units (BTC, ETH), sweeps per hour."""
        sizes = self.metrics.trade_sizes or [0]
        return {
            "trade size median": statistics.median(sizes) / self.scale,
            "trade size mean": statistics.fmean(sizes) / self.scale,
            "touch size median": statistics.median(self.touch or [0]) / self.scale,
            "levels 2-3 median": statistics.median(self.behind or [0]) / self.scale,
            "sweeps/h (>=3 px 200ms)": sweeps.sweeps * 3600 / max(duration_s, 1e-9),
        }


def _apply(side: SortedDict, levels: list[Level]) -> None:
    for price, qty in levels:
        if qty:
            side[price] = qty
        else:
            side.pop(price, None)
