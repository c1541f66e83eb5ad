"""Walls: a level within ``max_distance_bps`` of mid whose size is >= ``k`` x the rolling median
level size at its distance from the touch and that stays large for ``min_duration_s``
(../shared/docs/liquidity-events.md, item 1; the product brief's "> 3 x rolling median level
size and persists > 5 s").

"Median level size" is the volume-weighted median by default (``yardstick``): see
``LevelSizeBaseline.volume_median_at`` for why the plain median is dust on BTCUSDT.

A level becomes a *candidate* the moment it qualifies (``start_ts``); once it has persisted
``min_duration_s`` the event is opened (``detected_ts``). Dips down to ``dip_ratio`` x the size
found are tolerated; below that (or gone) for more than ``max_gap_s`` the wall ends at the time
the gap began. The end reason compares the volume traded at the level since its peak with the
drop from the peak: ``consumed`` (trades explain >= ``consumed_share`` and the price reached it),
``pulled`` (< ``pulled_share``), ``reduced`` in between, ``resync`` when continuity was lost.

Hot path: one integer comparison per level of the diff (``qty >= floor``, made in C by
``compress``; the ~1 in 6 levels above the near-touch floor reach Python, for one more on
price), floors recomputed when the baseline moves.
Every ``check_every_s`` (0.2 s) of venue time the tracked walls are read from the book, so
openings and ends are exact to 0.2 s; every ``rescan_every_s`` (and after a snapshot) the band
is scanned for large levels no diff showed.
"""

from __future__ import annotations

import math
from itertools import compress, repeat
from operator import ge, itemgetter, le

from marketdata.events import DepthDiff, Trade
from features.liquidity.baseline import BUCKET_EDGES
from features.liquidity.context import MarketContext
from features.liquidity.event import BookSide, LiquidityEvent
from features.liquidity.params import WallParams

_NEVER = 1 << 62  # a floor no quantity reaches: nothing qualifies before the baseline exists
_SIDES: tuple[BookSide, BookSide] = ("bid", "ask")
NEAR_TICKS = 20  # the far edge of the baseline's near-touch buckets (0, 1-2, 3-5, 6-10, 11-20)
_QTY = itemgetter(1)


class _Wall:
    """One tracked level (a candidate until ``event`` is set)."""

    __slots__ = ("below_ms", "distance", "event", "found", "median", "peak", "price", "side",
                 "size", "start_ms", "traded", "traded_at_peak")

    def __init__(self, side: int, price: int, qty: int, now_ms: int, distance: int,
                 median: float) -> None:
        self.side = side
        self.price = price
        self.size = self.peak = self.found = qty
        self.start_ms = now_ms
        self.below_ms: int | None = None  # venue time the size fell below the dip floor
        self.distance = distance
        self.median = median
        self.traded = self.traded_at_peak = 0
        self.event: LiquidityEvent | None = None


class WallDetector:
    """Per-symbol wall tracking; see the module docstring."""

    def __init__(self, params: WallParams) -> None:
        self.params = params
        self._tracked: tuple[dict[int, _Wall], dict[int, _Wall]] = ({}, {})
        # The smallest qualifying quantity (units) within NEAR_TICKS of the touch and beyond:
        # near-touch buckets hold few, small levels, so their floor (~1 BTC on BTCUSDT) passes
        # 1 level change in 6; those then need one price comparison, the rest none.
        self._floor_near = self._floor_far = _NEVER
        # k x median per distance in ticks from the touch, 0..band (max_distance_bps of mid,
        # fixed between baseline samples); empty before the baseline exists.
        self._thr_by_distance: list[float] = []
        self._samples_seen = -1
        self._next_check_ms = 0
        self._check_ms = max(1, int(params.check_every_s * 1000))
        self._next_scan_ms = 0
        self._warming = True

    # ---- Detector protocol -------------------------------------------------------------------

    def on_reset(self, ctx: MarketContext) -> None:
        for side in (0, 1):
            for wall in list(self._tracked[side].values()):
                self._end(ctx, wall, ctx.venue_ms, "resync")
            self._tracked[side].clear()
        self._next_scan_ms = 0  # look at the whole band again: the snapshot may hold walls

    def on_update(self, ctx: MarketContext, diff: DepthDiff) -> None:
        """The hot path: one integer comparison per level of the diff, in C (``compress``
        keeps the ~1 in 6 levels at or above the near-touch floor; a few more comparisons for
        those). Tracked walls are re-read from the book every ``check_every_s`` of venue time
        (``_check``), so a drop the loop skips (a tracked level shrinking below the floor) is
        still seen."""
        if not ctx.live:
            return
        near, far, tick = self._floor_near, self._floor_far, ctx.tick
        thr = self._thr_by_distance
        band = len(thr)
        best = ctx.best_bid
        if best is not None:
            top, edge, tracked = best[0], best[0] - NEAR_TICKS * tick, self._tracked[0]
            levels = diff.bids
            for price, qty in compress(levels, map(le, repeat(near), map(_QTY, levels))):
                if price >= edge or qty >= far:
                    distance = (top - price) // tick
                    if distance < band and qty >= thr[distance] or price in tracked:
                        self._seen(ctx, 0, price, qty, distance)
        best = ctx.best_ask
        if best is not None:
            top, edge, tracked = best[0], best[0] + NEAR_TICKS * tick, self._tracked[1]
            levels = diff.asks
            for price, qty in compress(levels, map(le, repeat(near), map(_QTY, levels))):
                if price <= edge or qty >= far:
                    distance = (price - top) // tick
                    if distance < band and qty >= thr[distance] or price in tracked:
                        self._seen(ctx, 1, price, qty, distance)
        if ctx.venue_ms >= self._next_check_ms and self._thr_by_distance:
            self._check(ctx)

    def on_trade(self, ctx: MarketContext, trade: Trade) -> None:
        # A taker sell executes against bids, a taker buy against asks.
        wall = self._tracked[0 if trade.taker_side == "sell" else 1].get(trade.price)
        if wall is not None:
            wall.traded += trade.qty

    def on_second(self, ctx: MarketContext) -> None:
        if not ctx.live or ctx.best_bid is None or ctx.best_ask is None:
            return
        self._refresh_thresholds(ctx)
        if ctx.venue_ms >= self._next_scan_ms and self._thr_by_distance:
            self._next_scan_ms = ctx.venue_ms + int(self.params.rescan_every_s * 1000)
            self._scan(ctx)
        self._check(ctx)
        for side in (0, 1):
            for wall in self._tracked[side].values():
                if wall.event is not None:
                    self._report(ctx, wall)

    # ---- thresholds and discovery ------------------------------------------------------------

    def _refresh_thresholds(self, ctx: MarketContext) -> None:
        """Qualifying size per distance, the band and the floors, when the baseline took a new
        sample (every 5 s): the band follows mid at that pace."""
        assert ctx.best_bid is not None and ctx.best_ask is not None
        baseline = ctx.baseline
        self._warming = baseline.warming_up
        if baseline.samples == self._samples_seen and self._thr_by_distance:
            return
        self._samples_seen = baseline.samples
        mid = (ctx.best_bid[0] + ctx.best_ask[0]) / 2
        band = int(mid * self.params.max_distance_bps / 1e4) // ctx.tick
        median_at = baseline.volume_median_at if self.params.yardstick == "volume_median" \
            else baseline.median_at
        medians = [median_at(edge) for edge in BUCKET_EDGES]
        if any(m is None or m <= 0 for m in medians):
            self._thr_by_distance, self._floor_near, self._floor_far = [], _NEVER, _NEVER
            return
        thr = [self.params.k * m for m in medians]  # type: ignore[operator]
        by_distance: list[float] = []
        for j, edge in enumerate(BUCKET_EDGES):  # runs of one value per bucket: built in C
            stop = BUCKET_EDGES[j + 1] if j + 1 < len(BUCKET_EDGES) else band + 1
            by_distance += [thr[j]] * max(0, min(stop, band + 1) - edge)
        self._thr_by_distance = by_distance
        self._floor_near = max(1, math.ceil(min(by_distance[:NEAR_TICKS + 1])))
        far = by_distance[NEAR_TICKS + 1:]
        self._floor_far = max(1, math.ceil(min(far))) if far else _NEVER

    def _scan(self, ctx: MarketContext) -> None:
        """Large levels of the band that no diff showed large (a snapshot's walls, levels the
        band reached as mid moved): one slice of sorted keys per distance bucket."""
        book, tick, by_distance = ctx.book, ctx.tick, self._thr_by_distance
        band = len(by_distance) - 1
        for side, book_side, best in ((0, book.bids, ctx.best_bid), (1, book.asks, ctx.best_ask)):
            if best is None:
                continue
            step = -tick if side == 0 else tick
            for j, near in enumerate(BUCKET_EDGES):
                if near > band:
                    break
                far = min(BUCKET_EDGES[j + 1] - 1 if j + 1 < len(BUCKET_EDGES) else band, band)
                low, high = sorted((best[0] + near * step, best[0] + far * step))
                prices = book_side.irange(low, high)
                sizes = map(book_side.__getitem__, prices)
                for price in compress(prices, map(ge, sizes, repeat(by_distance[near]))):
                    self._seen(ctx, side, price, book_side[price], abs(price - best[0]) // tick)

    def _seen(self, ctx: MarketContext, side: int, price: int, qty: int, distance: int) -> None:
        """A level ``distance`` ticks from its touch is (or may be) large."""
        tracked = self._tracked[side]
        wall = tracked.get(price)
        if wall is not None:
            self._resize(wall, qty, ctx.venue_ms)
            return
        by_distance = self._thr_by_distance
        if 0 <= distance < len(by_distance) and qty >= by_distance[distance]:
            tracked[price] = _Wall(side, price, qty, ctx.venue_ms, distance,
                                   by_distance[distance] / self.params.k)

    def _resize(self, wall: _Wall, qty: int, now: int) -> None:
        wall.size = qty
        if qty >= wall.found * self.params.dip_ratio:
            wall.below_ms = None
            if qty > wall.peak:
                wall.peak, wall.traded_at_peak = qty, wall.traded
        elif wall.below_ms is None:
            wall.below_ms = now

    # ---- lifecycle ---------------------------------------------------------------------------

    def _check(self, ctx: MarketContext) -> None:
        """Every ``check_every_s`` of venue time: read every tracked wall's size from the book,
        open matured candidates, end walls gone too long."""
        now = ctx.venue_ms
        self._next_check_ms = now + self._check_ms
        min_ms = self.params.min_duration_s * 1000
        gap_ms = self.params.max_gap_s * 1000
        for tracked, book_side in zip(self._tracked, (ctx.book.bids, ctx.book.asks)):
            get = book_side.get
            for wall in list(tracked.values()):
                qty = get(wall.price, 0)
                if qty != wall.size:
                    self._resize(wall, qty, now)
                if wall.below_ms is not None:
                    if now - wall.below_ms > gap_ms:
                        self._end(ctx, wall, wall.below_ms, None)
                elif wall.event is None and now - wall.start_ms >= min_ms:
                    self._open(ctx, wall)

    def _open(self, ctx: MarketContext, wall: _Wall) -> None:
        qty = ctx.qty
        event = LiquidityEvent(
            id=ctx.log.next_id("wall"), type="wall", side=_SIDES[wall.side],
            price=ctx.px(wall.price), price_from=ctx.px(wall.price), price_to=ctx.px(wall.price),
            start_ts=wall.start_ms / 1000, detected_ts=ctx.now_s, size=qty(wall.peak),
            score=self._score(wall, ctx.venue_ms),
            detail={"size_is": "peak", "peak_size": qty(wall.peak),
                    "current_size": qty(wall.size), "baseline_median": qty(round(wall.median)),
                    "yardstick": self.params.yardstick,
                    "multiple": round(wall.peak / wall.median, 2),
                    "distance_ticks": wall.distance, "traded_at_level": qty(wall.traded)})
        if self._warming:
            event.detail["warming_up"] = True
        wall.event = ctx.log.open(event)

    def _report(self, ctx: MarketContext, wall: _Wall) -> None:
        """Once a second: carry size changes into the open event."""
        event = wall.event
        assert event is not None
        qty = ctx.qty
        detail = event.detail
        current, traded = qty(wall.size), qty(wall.traded)
        if detail["current_size"] == current and detail["traded_at_level"] == traded \
                and event.size == qty(wall.peak):
            return
        event.size = detail["peak_size"] = qty(wall.peak)
        detail["current_size"], detail["traded_at_level"] = current, traded
        detail["multiple"] = round(wall.peak / wall.median, 2)
        event.score = self._score(wall, ctx.venue_ms)
        ctx.log.changed(event)

    def _end(self, ctx: MarketContext, wall: _Wall, end_ms: int, reason: str | None) -> None:
        del self._tracked[wall.side][wall.price]
        if wall.event is None:
            return  # a candidate that did not persist: no event
        if reason is None:
            reason = self._reason(ctx, wall)
        self._report(ctx, wall)
        ctx.log.close(wall.event, end_ms / 1000, reason=reason,
                      duration_s=round((end_ms - wall.start_ms) / 1000, 3))

    def _reason(self, ctx: MarketContext, wall: _Wall) -> str:
        drop = wall.peak - wall.size
        traded = wall.traded - wall.traded_at_peak
        share = traded / drop if drop > 0 else 1.0
        opposite = ctx.best_ask if wall.side == 0 else ctx.best_bid
        crossed = opposite is not None and (
            opposite[0] <= wall.price if wall.side == 0 else opposite[0] >= wall.price)
        if share >= self.params.consumed_share and (wall.traded > 0 or crossed):
            return "consumed"
        if share < self.params.pulled_share:
            return "pulled"
        return "reduced"

    def _score(self, wall: _Wall, now_ms: int) -> float:
        """Half size (k -> 0, 4k -> 1 on a log scale), half persistence (T -> 0, 4T -> 1)."""
        k, min_s = self.params.k, self.params.min_duration_s
        size = min(1.0, max(0.0, math.log(wall.peak / (wall.median * k)) / math.log(4)))
        lived = (now_ms - wall.start_ms) / 1000
        persistence = min(1.0, max(0.0, (lived - min_s) / (3 * min_s)))
        return round(0.5 * size + 0.5 * persistence, 3)
