"""Rolling median level size by distance from the touch: the yardstick every size threshold is
relative to (../shared/docs/liquidity-events.md, "What the feed can see").

Every ``sample_every_s`` of venue time the book is sampled: for each side, the sizes of the levels
within ``max_distance_ticks`` of that side's best price, bucketed by distance in ticks. Each
bucket keeps the per-sample medians of the last ``window_s`` in a ring; its baseline is the
median of that ring. Cheap: one book read per sample, one small median per bucket per sample.
"""

from __future__ import annotations

import bisect
import statistics
from collections import deque

from features.liquidity.params import BaselineParams
from orderbook.book import L2Book

# Bucket lower edges, in ticks from the same side's best price (0 = the touch itself).
BUCKET_EDGES: tuple[int, ...] = (0, 1, 3, 6, 11, 21, 51, 101, 201, 501)


def bucket_of(distance_ticks: int) -> int:
    return bisect.bisect_right(BUCKET_EDGES, distance_ticks) - 1


class LevelSizeBaseline:
    """Per-bucket rolling medians of level size (integer quantity units)."""

    __slots__ = ("_last_sample_ms", "_medians", "_rings", "params", "samples")

    def __init__(self, params: BaselineParams) -> None:
        self.params = params
        keep = max(1, int(params.window_s / params.sample_every_s))
        self._rings: list[deque[float]] = [deque(maxlen=keep) for _ in BUCKET_EDGES]
        self._medians: list[float | None] = [None] * len(BUCKET_EDGES)
        self._last_sample_ms: int | None = None
        self.samples = 0

    @property
    def warming_up(self) -> bool:
        return self.samples < self.params.warmup_samples

    def due(self, venue_ms: int) -> bool:
        last = self._last_sample_ms
        return last is None or venue_ms - last >= self.params.sample_every_s * 1000

    def sample(self, book: L2Book, tick: int, venue_ms: int) -> None:
        """Add one sample of both sides of ``book`` taken at ``venue_ms``."""
        self._last_sample_ms = venue_ms
        per_bucket: list[list[int]] = [[] for _ in BUCKET_EDGES]
        reach = self.params.max_distance_ticks * tick
        if book.bids:
            best = book.bids.peekitem(-1)[0]
            for price, qty in book.bids_between(best - reach, best):
                per_bucket[bucket_of((best - price) // tick)].append(qty)
        if book.asks:
            best = book.asks.peekitem(0)[0]
            for price, qty in book.asks_between(best, best + reach):
                per_bucket[bucket_of((price - best) // tick)].append(qty)
        for i, sizes in enumerate(per_bucket):
            if sizes:
                self._rings[i].append(statistics.median(sizes))
                self._medians[i] = statistics.median(self._rings[i])
        self.samples += 1

    def median_at(self, distance_ticks: int) -> float | None:
        """Rolling median level size (quantity units) at this distance from the touch; the
        nearest bucket with data when this one has none yet; None before any sample."""
        i = bucket_of(max(0, distance_ticks))
        medians = self._medians
        if medians[i] is not None:
            return medians[i]
        for step in range(1, len(medians)):
            for j in (i - step, i + step):
                if 0 <= j < len(medians) and medians[j] is not None:
                    return medians[j]
        return None

    def reset(self) -> None:
        """Nothing to forget on a resync: level sizes are still the symbol's own history."""
