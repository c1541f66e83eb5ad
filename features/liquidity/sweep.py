"""Sweeps: one aggressive burst that takes >= 3 price levels within < 200 ms, confirmed on L2
(../shared/docs/liquidity-events.md, item 2).

Trades are clustered as they come, one open cluster per taker side (raw trades of the other side
interleave with a sweep and do not cut it): gaps <= ``max_gap_s``, prices monotone in the
taker's direction (a buyer lifts asks upward). A parent order split into child orders stays one
cluster as long as the gaps stay short; the "within 200 ms" test is applied to the first prints
of consecutive distinct prices, so a long cluster qualifies when *some* ``min_levels`` of its
levels were taken inside ``max_span_s``. One big print at one price has one level; the same
volume spread over seconds breaks on the gap rule.

A qualifying cluster waits (at most ``confirm_within_s``) for a diff at or after its last trade
that shows >= ``min_best_move_levels`` of the swept prices cleared (empty, or dust: see
``_cleared_levels``; a buy sweep leaves the best ask above them). Diffs that arrive while the
cluster is still open count too (the best of them is kept), since makers re-quote swept prices
within a few diffs. The touch before the sweep is its first print, which keeps the test right
whichever socket delivered first. The swept volume must also be >=
``min_volume_multiple`` x the rolling median touch size (baseline.py): on BTCUSDT levels behind
the touch are thin (0.07 BTC against 3 BTC at the touch), and in a fast market a few lots take
three of them about once a second. Per trade and per diff the work is O(1).
"""

from __future__ import annotations

from marketdata.events import DepthDiff, Trade
from features.liquidity.context import MarketContext
from features.liquidity.event import LiquidityEvent
from features.liquidity.params import SweepParams

MAX_PENDING = 4  # qualifying clusters awaiting their L2 confirmation
DUST_SHARE = 0.05  # a swept price holding <= this x the rolling touch median counts as cleared


class _Cluster:
    """One burst of same-side trades; ``prices`` are its distinct prices in taking order."""

    __slots__ = ("buy", "confirmed_ms", "first_ms", "last_ms", "last_price", "moved",
                 "notional", "price_ms", "prices", "qualified", "trades", "volume")

    def __init__(self, trade: Trade) -> None:
        self.buy = trade.taker_side == "buy"
        self.last_price = trade.price
        self.first_ms = self.last_ms = trade.exchange_ts_ms
        self.prices = [trade.price]
        self.price_ms = [trade.exchange_ts_ms]
        self.volume = trade.qty
        self.notional = trade.price * trade.qty
        self.trades = 1
        self.qualified = False
        self.moved = 0          # most swept levels a diff at/after the last print showed cleared
        self.confirmed_ms = 0   # ...that diff's E


class SweepDetector:
    """Emits each confirmed sweep as an ended event (a sweep is over once seen)."""

    __slots__ = (
        "_buy",
        "_close_after_ms",
        "_cluster_ms",
        "_confirm_ms",
        "_gap_ms",
        "_last_diff_ms",
        "_pending",
        "_sell",
        "_span_ms",
        "params",
    )

    def __init__(self, params: SweepParams) -> None:
        self.params = params
        self._gap_ms = int(params.max_gap_s * 1000)
        self._span_ms = int(params.max_span_s * 1000)
        self._cluster_ms = int(params.max_cluster_s * 1000)
        self._confirm_ms = int(params.confirm_within_s * 1000)
        self._close_after_ms = self._gap_ms + int(params.stream_skew_s * 1000)
        # One open burst per taker side: raw trades of the other side interleave with a sweep
        # (makers' fills at the far touch) and must not cut it.
        self._buy: _Cluster | None = None
        self._sell: _Cluster | None = None
        self._pending: list[_Cluster] = []
        self._last_diff_ms = 0

    def on_reset(self, ctx: MarketContext) -> None:
        # Continuity is lost: a burst straddling a resync cannot be confirmed against a book
        # that was rebuilt from a snapshot.
        self._buy = self._sell = None
        self._pending.clear()
        self._last_diff_ms = 0

    def on_trade(self, ctx: MarketContext, trade: Trade) -> None:
        buy = trade.taker_side == "buy"
        c = self._buy if buy else self._sell
        t = trade.exchange_ts_ms
        if c is not None:
            price = trade.price
            last = c.last_price
            if (t - c.last_ms <= self._gap_ms and t - c.first_ms <= self._cluster_ms
                    and (price >= last if c.buy else price <= last)):
                if price != last:
                    self._new_level(c, price, t)
                qty = trade.qty
                c.volume += qty
                c.notional += price * qty
                c.trades += 1
                if t > c.last_ms:  # noqa: PLR1730 - a compare beats max() per trade
                    c.last_ms = t
                return
            self._finish(ctx, c)
            if self._pending and self._last_diff_ms >= c.last_ms:
                self._check_pending(ctx, self._last_diff_ms)  # the diffs came first
        if buy:
            self._buy = _Cluster(trade)
        else:
            self._sell = _Cluster(trade)

    def on_update(self, ctx: MarketContext, diff: DepthDiff) -> None:
        now = diff.exchange_ts_ms
        self._last_diff_ms = now
        # The L2 confirmation is read at the first diffs after the burst, while its cluster is
        # still open (it closes only max_gap_s + stream_skew_s later): by then makers may have
        # re-quoted the swept prices (a replayed recording re-fills them at once).
        c = self._buy
        if c is not None and c.qualified and now >= c.last_ms:
            self._observe(ctx, c, now)
        c = self._sell
        if c is not None and c.qualified and now >= c.last_ms:
            self._observe(ctx, c, now)
        self._close_stale(ctx, now)
        if self._pending:
            self._check_pending(ctx, now)

    def on_second(self, ctx: MarketContext) -> None:
        # Venue time moves on trades too: a burst with no diff after it must not linger.
        now = ctx.venue_ms
        self._close_stale(ctx, now)
        if self._pending:
            self._pending = [p for p in self._pending if now - p.last_ms <= self._confirm_ms]

    # ---- internals ---------------------------------------------------------------------------

    def _close_stale(self, ctx: MarketContext, now: int) -> None:
        c = self._buy
        if c is not None and now - c.last_ms > self._close_after_ms:
            self._finish(ctx, c)
        c = self._sell
        if c is not None and now - c.last_ms > self._close_after_ms:
            self._finish(ctx, c)

    @staticmethod
    def _observe(ctx: MarketContext, c: _Cluster, now: int) -> None:
        moved = _cleared_levels(ctx, c)
        if moved > c.moved:
            c.moved, c.confirmed_ms = moved, now

    def _new_level(self, c: _Cluster, price: int, t: int) -> None:
        c.last_price = price
        c.prices.append(price)
        c.price_ms.append(t)
        n = self.params.min_levels
        if not c.qualified and len(c.price_ms) >= n and t - c.price_ms[-n] < self._span_ms:
            c.qualified = True

    def _finish(self, ctx: MarketContext, c: _Cluster) -> None:
        if c.buy:
            self._buy = None
        else:
            self._sell = None
        if not (c.qualified or self.params.min_levels <= 1):
            return
        touch = ctx.baseline.median_at(0)
        if touch is not None and c.volume < self.params.min_volume_multiple * touch:
            return  # levels taken, but thin ones: a fast market, not a sweep
        if c.moved >= self.params.min_best_move_levels:
            # Confirmed while the burst was open; prints after that diff only add to it.
            self._emit(ctx, c, c.moved, max(c.confirmed_ms, c.last_ms))
            return
        if len(self._pending) >= MAX_PENDING:
            self._pending.pop(0)
        self._pending.append(c)

    def _check_pending(self, ctx: MarketContext, now: int) -> None:
        keep = []
        for c in self._pending:
            if now < c.last_ms:
                keep.append(c)  # this book predates the burst's last print
                continue
            moved = max(_cleared_levels(ctx, c), c.moved)
            if moved >= self.params.min_best_move_levels:
                self._emit(ctx, c, moved, now)
            elif now - c.last_ms <= self._confirm_ms:
                keep.append(c)
        self._pending = keep

    def _emit(self, ctx: MarketContext, c: _Cluster, moved: int, now: int) -> None:
        p = self.params
        levels = len(c.prices)
        score = min(1.0, 0.25 * (levels / p.min_levels + moved / p.min_best_move_levels))
        event = LiquidityEvent(
            id=ctx.log.next_id("sweep"), type="sweep", side="ask" if c.buy else "bid",
            price=ctx.px(c.prices[-1]), price_from=ctx.px(c.prices[0]),
            price_to=ctx.px(c.prices[-1]), start_ts=c.first_ms / 1000.0,
            detected_ts=now / 1000.0, size=ctx.qty(c.volume), score=score,
            detail={"levels": levels, "trades": c.trades,
                    "taker_side": "buy" if c.buy else "sell", "best_move_levels": moved,
                    "notional": c.notional / (ctx.price_scale * ctx.qty_scale),
                    "duration_ms": c.last_ms - c.first_ms})
        touch = ctx.baseline.median_at(0)
        if touch is not None:
            event.detail["touch_median"] = ctx.qty(int(touch))
        if ctx.baseline.warming_up:
            event.detail["warming_up"] = True
        ctx.log.open(event)
        ctx.log.close(event, c.last_ms / 1000.0)


def _cleared_levels(ctx: MarketContext, c: _Cluster) -> int:
    """How many of the swept prices the book now shows empty, or holding dust (<=
    ``DUST_SHARE`` x the rolling touch median): a maker re-quoting a few lots at a swept price
    within the next diff (0.003 BTC on BTCUSDT, common on a busy book) does not undo a 14-level
    sweep, while a level that is back at its size does."""
    touch = ctx.baseline.median_at(0)
    dust = DUST_SHARE * touch if touch is not None else 0.0
    get = (ctx.book.asks if c.buy else ctx.book.bids).get
    return sum(1 for price in c.prices if get(price, 0) <= dust)
