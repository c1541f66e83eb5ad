"""Layering: several levels near the touch on one side gain abnormal size together and are then
cancelled, not filled (../shared/docs/liquidity-events.md, item 4). Intent is unknowable from an
L2 feed, so this reports a pattern in the book, never a claim about intent.

Every ``sample_every_s`` of venue time each side's band ``min_distance_ticks..max_distance_ticks``
from the touch is read by direct price lookups and compared with the previous read: a level whose
size grew by >= ``k`` x the rolling median at its distance is a *jump*. ``min_levels`` jumps on
one side within ``appear_within_s`` form a pattern (its layers); later jumps on that side within
``appear_within_s`` of its latest layer join it (one episode placed layer by layer is one
event). A layer is *removed* once less than ``removed_share`` of its gain is left. When every
layer is removed within ``removal_within_s`` of the first appearing and the volume traded at the
layers' prices is at most ``max_fill_ratio`` of the layered total, the event is reported
(``detected_ts`` = that moment) and ended at once: the pattern is complete when it can be
seen. Layers that stay, or get filled (an honest ladder the price walked into), report nothing.
Volume traded on the other side meanwhile and repeats on the same side raise the score.
"""

from __future__ import annotations

from collections import deque
from operator import sub

from marketdata.events import DepthDiff, Trade
from features.liquidity.context import MarketContext
from features.liquidity.event import BookSide, LiquidityEvent
from features.liquidity.params import LayeringParams

_SIDES: tuple[BookSide, BookSide] = ("bid", "ask")


class _Layer:
    __slots__ = ("before", "gain", "price", "removed_ms", "traded")

    def __init__(self, price: int, before: int, gain: int) -> None:
        self.price = price
        self.before = before  # size at the price before the jump
        self.gain = gain
        self.removed_ms: int | None = None
        self.traded = 0


class _Pattern:
    __slots__ = ("last_ms", "layers", "other_traded_at_start", "side", "start_ms")

    def __init__(self, side: int, start_ms: int, layers: dict[int, _Layer],
                 other_traded: int, last_ms: int) -> None:
        self.side = side
        self.start_ms = start_ms
        self.last_ms = last_ms  # when its latest layer appeared
        self.layers = layers
        self.other_traded_at_start = other_traded


class LayeringDetector:
    """Per-symbol layering patterns; see the module docstring."""

    def __init__(self, params: LayeringParams) -> None:
        self.params = params
        self._sample_ms = max(1, int(params.sample_every_s * 1000))
        self._next_sample_ms = 0
        # Last band read per side: (price of its first level, sizes from there outwards).
        self._prev: list[tuple[int, list[int]] | None] = [None, None]
        self._zeros = [0] * (params.max_distance_ticks - params.min_distance_ticks + 1)
        self._min_thr = 0.0
        self._jumps: list[deque[tuple[int, int, int, int]]] = [deque(), deque()]
        self._patterns: list[_Pattern] = []
        self._watched: dict[int, list[_Layer]] = {}  # price -> layers there (fills)
        self._traded = [0, 0]  # cumulative volume traded into bids / asks
        self._thr: list[float] = []  # k x median by distance (ticks), empty before a baseline
        self._samples_seen = -1
        self._history: list[deque[int]] = [deque(), deque()]  # event times, for repeats

    # ---- Detector protocol -------------------------------------------------------------------

    def on_reset(self, ctx: MarketContext) -> None:
        """Drop every candidate: the book jumped, and a snapshot is not order flow."""
        self._prev = [None, None]
        self._jumps = [deque(), deque()]
        self._patterns.clear()
        self._watched.clear()

    def on_update(self, ctx: MarketContext, diff: DepthDiff) -> None:
        if ctx.venue_ms < self._next_sample_ms or not ctx.live:
            return
        self._next_sample_ms = ctx.venue_ms + self._sample_ms
        if not self._thr:
            return
        for side in (0, 1):
            self._read_band(ctx, side)
        if self._patterns:
            self._follow(ctx)

    def on_trade(self, ctx: MarketContext, trade: Trade) -> None:
        side = 0 if trade.taker_side == "sell" else 1  # the book side that was hit
        self._traded[side] += trade.qty
        layers = self._watched.get(trade.price)
        if layers is not None:
            for layer in layers:
                layer.traded += trade.qty

    def on_second(self, ctx: MarketContext) -> None:
        baseline = ctx.baseline
        if baseline.samples == self._samples_seen:
            return
        self._samples_seen = baseline.samples
        median_at = baseline.volume_median_at if self.params.yardstick == "volume_median" \
            else baseline.median_at
        medians = [median_at(d) for d in range(self.params.max_distance_ticks + 1)]
        if any(m is None or m <= 0 for m in medians):
            self._thr = []
            return
        self._thr = [self.params.k * m for m in medians]  # type: ignore[operator]
        self._min_thr = min(self._thr[self.params.min_distance_ticks:])

    # ---- band reads --------------------------------------------------------------------------

    def _read_band(self, ctx: MarketContext, side: int) -> None:
        """Read the band, record jumps against the previous read, form patterns."""
        best = ctx.best_bid if side == 0 else ctx.best_ask
        if best is None:
            self._prev[side] = None
            return
        get = (ctx.book.bids if side == 0 else ctx.book.asks).get
        step = -ctx.tick if side == 0 else ctx.tick
        near = self.params.min_distance_ticks
        start = best[0] + near * step
        # Direct lookups in C (map/range): the band costs ~1 us whatever the book's size.
        qtys = list(map(get, range(start, start + len(self._zeros) * step, step), self._zeros))
        prev, self._prev[side] = self._prev[side], (start, qtys)
        if prev is None:
            return
        # Compare the prices both reads cover (the touch may have moved between them).
        offset, n = (start - prev[0]) // step, len(qtys)
        if abs(offset) >= n:
            return  # the touch moved past the whole band: nothing shared
        first = max(0, -offset)  # index into qtys of the first shared price
        gains = list(map(sub, qtys[first:n - max(0, offset)], prev[1][first + offset:]))
        if not gains or max(gains) < self._min_thr:
            return
        thr, now, jumps = self._thr, ctx.venue_ms, self._jumps[side]
        for j, gain in enumerate(gains):
            distance = near + first + j
            if gain >= thr[distance]:
                price = start + (first + j) * step
                if price not in self._watched:
                    jumps.append((now, price, qtys[first + j] - gain, gain))
        if jumps:
            self._gather(ctx, side, jumps)

    def _gather(self, ctx: MarketContext, side: int,
                jumps: deque[tuple[int, int, int, int]]) -> None:
        oldest = ctx.venue_ms - self.params.appear_within_s * 1000
        while jumps and jumps[0][0] < oldest:
            jumps.popleft()
        forming = self._forming(side, oldest)
        if forming is not None:
            # More layers of the same episode (placed one by one, 0.2 s apart, they would
            # otherwise split into a pattern of the first three and another of the rest).
            for _, price, before, gain in jumps:
                if price not in forming.layers:
                    layer = forming.layers[price] = _Layer(price, before, gain)
                    self._watched.setdefault(price, []).append(layer)
            forming.last_ms = jumps[-1][0]
            jumps.clear()
            return
        layers: dict[int, _Layer] = {}
        for _, price, before, gain in jumps:
            layers[price] = _Layer(price, before, gain)  # a later jump at a price wins
        if len(layers) < self.params.min_levels:
            return
        start_ms, last_ms = jumps[0][0], jumps[-1][0]
        jumps.clear()
        self._patterns.append(_Pattern(side, start_ms, layers, self._traded[1 - side], last_ms))
        for layer in layers.values():
            self._watched.setdefault(layer.price, []).append(layer)

    def _forming(self, side: int, oldest: int) -> _Pattern | None:
        """This side's newest pattern if its latest layer appeared after ``oldest`` (even if
        one of its layers is gone already: the touch may reach the first layers while the last
        are placed, and the episode is still one)."""
        for pattern in reversed(self._patterns):
            if pattern.side == side:
                return pattern if pattern.last_ms >= oldest else None
        return None

    # ---- lifecycle ---------------------------------------------------------------------------

    def _follow(self, ctx: MarketContext) -> None:
        """Mark removed layers; resolve patterns all removed or too old."""
        now, limit = ctx.venue_ms, self.params.removal_within_s * 1000
        share = self.params.removed_share
        for pattern in list(self._patterns):
            get = (ctx.book.bids if pattern.side == 0 else ctx.book.asks).get
            pending = 0
            for layer in pattern.layers.values():
                if layer.removed_ms is None:
                    if get(layer.price, 0) < layer.before + share * layer.gain:
                        layer.removed_ms = now
                    else:
                        pending += 1
            if pending == 0:
                self._resolve(ctx, pattern)
            elif now - pattern.start_ms > limit:
                self._drop(pattern)  # the layers stayed: not this pattern

    def _drop(self, pattern: _Pattern) -> None:
        self._patterns.remove(pattern)
        for layer in pattern.layers.values():
            layers = self._watched.get(layer.price)
            if layers is not None:
                layers.remove(layer)
                if not layers:
                    del self._watched[layer.price]

    def _resolve(self, ctx: MarketContext, pattern: _Pattern) -> None:
        self._drop(pattern)
        layers = sorted(pattern.layers.values(), key=lambda layer: layer.price,
                        reverse=pattern.side == 0)  # nearest the touch first
        total = sum(layer.gain for layer in layers)
        filled = sum(min(layer.traded, layer.gain) for layer in layers)
        fill_ratio = filled / total
        if fill_ratio > self.params.max_fill_ratio:
            return  # filled, not cancelled: an honest ladder the price walked into
        self._report(ctx, pattern, layers, total, fill_ratio)

    def _report(self, ctx: MarketContext, pattern: _Pattern, layers: list[_Layer], total: int,
                fill_ratio: float) -> None:
        side, now = pattern.side, ctx.venue_ms
        history = self._history[side]
        while history and history[0] < now - self.params.repeat_window_s * 1000:
            history.popleft()
        repeats = len(history)
        history.append(now)
        other = self._traded[1 - side] - pattern.other_traded_at_start
        end_ms = max(layer.removed_ms or now for layer in layers)
        prices = [ctx.px(layer.price) for layer in layers]
        # 0.5 for the pattern, up to 0.2 the less of it filled, 0.15 when the other side traded
        # meanwhile, 0.05 per repeat on this side (up to 0.15).
        score = 0.5 + 0.2 * (1 - fill_ratio / self.params.max_fill_ratio) \
            + (0.15 if other > 0 else 0.0) + min(0.15, 0.05 * repeats)
        event = LiquidityEvent(
            id=ctx.log.next_id("layering"), type="layering", side=_SIDES[side],
            price=prices[0], price_from=min(prices), price_to=max(prices),
            start_ts=pattern.start_ms / 1000, detected_ts=ctx.now_s, size=ctx.qty(total),
            score=round(min(1.0, score), 3),
            detail={"layers": [[p, ctx.qty(layer.gain)] for p, layer in zip(prices, layers)],
                    "fill_ratio": round(fill_ratio, 4),
                    "lifetime_s": round((end_ms - pattern.start_ms) / 1000, 3),
                    "other_side_traded": ctx.qty(other), "repeats": repeats})
        if ctx.baseline.warming_up:
            event.detail["warming_up"] = True
        ctx.log.open(event)
        ctx.log.close(event, end_ms / 1000, reason="cancelled")
