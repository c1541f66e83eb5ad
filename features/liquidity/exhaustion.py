"""Exhaustion: one side's near-touch depth thins out fast by cancellation, the usual prelude to a
breakout through that side (../shared/docs/liquidity-events.md, item 6; the product brief's
"rapid thinning before breakout, spread widens").

Near-touch depth ``D = sum Q_i * 2^(-i / decay_ticks)`` over the levels ``i`` ticks from the
side's best (``i < levels_ticks``), read from the book at most every ``sample_every_s`` of venue
time by direct price lookups (O(levels_ticks), whatever the book's size). Per venue second the
mean and max of D are kept; the baseline is the median of the per-second means over the last
``baseline_s``.

Alert when ``D <= max_ratio x baseline`` for ``min_thin_s`` (BTCUSDT's near-touch depth
flickers to near zero for a sample or two many times a minute), D fell by >= ``min_drop`` from
its maximum of the last ``drop_within_s``, and the trades that hit that side since that maximum
explain less than ``max_traded_share`` of the drop (net cancellation, not consumption). A wider
spread raises the score. The event ends on recovery (``D > recover_ratio x`` the baseline at the
alert), on a breakout (the side's best moves ``breakout_ticks`` through the alert price), after
``max_active_s``, or on a resync. A side must recover before it can alert again, and stay
recovered (D above ``recover_ratio x`` its baseline) for ``min_thin_s``, as thinning must stay
thin: one thinning episode whose touch moves (breakouts of a tick or two, D flickering back up
for a sample) is one alert, not five. D is read every ``sample_every_s`` (0.2 s), so times are
exact to that.
"""

from __future__ import annotations

import statistics
from collections import deque
from operator import mul

from marketdata.events import DepthDiff, Trade
from features.liquidity.context import MarketContext
from features.liquidity.event import BookSide, LiquidityEvent
from features.liquidity.params import ExhaustionParams

_SIDES: tuple[BookSide, BookSide] = ("bid", "ask")


class _SideDepth:
    """D history of one side: per-second means (baseline) and maxima (drop check)."""

    __slots__ = ("alert_baseline", "alert_price", "armed", "baseline", "event", "maxima",
                 "means", "recovered_since", "sec_max", "sec_n", "sec_sum", "thin_since")

    def __init__(self, params: ExhaustionParams) -> None:
        self.means: deque[float] = deque(maxlen=max(1, int(params.baseline_s)))
        # (max D of that second, cumulative volume traded into this side when it began)
        self.maxima: deque[tuple[float, int]] = deque(maxlen=max(1, int(params.drop_within_s)))
        self.sec_sum = 0.0
        self.sec_n = 0
        self.sec_max = 0.0
        self.baseline: float | None = None
        self.armed = True  # False from an alert until D recovers
        self.event: LiquidityEvent | None = None
        self.alert_price = 0
        self.alert_baseline = 0.0
        self.thin_since: int | None = None  # venue ms D first went below max_ratio x baseline
        self.recovered_since: int | None = None  # venue ms D last rose above the recovery


class ExhaustionDetector:
    """Per-symbol near-touch thinning alerts; see the module docstring."""

    def __init__(self, params: ExhaustionParams) -> None:
        self.params = params
        self._weights = [2.0 ** (-i / params.decay_ticks) for i in range(params.levels_ticks)]
        self._zeros = [0] * params.levels_ticks
        self._sides = (_SideDepth(params), _SideDepth(params))
        self._traded = [0, 0]  # cumulative volume traded into bids / asks (monotone)
        self._next_sample_ms = 0
        self._sample_ms = max(1, int(params.sample_every_s * 1000))
        self._min_thin_ms = int(params.min_thin_s * 1000)

    # ---- Detector protocol -------------------------------------------------------------------

    def on_reset(self, ctx: MarketContext) -> None:
        """Continuity is lost: end active alerts ("resync") and restart the D history, since
        the jump from the old book to the snapshot is not thinning."""
        for state in self._sides:
            if state.event is not None:
                self._end(ctx, state, "resync")
        self._sides = (_SideDepth(self.params), _SideDepth(self.params))
        self._next_sample_ms = 0

    def on_update(self, ctx: MarketContext, diff: DepthDiff) -> None:
        if ctx.venue_ms < self._next_sample_ms or not ctx.live:
            return
        self._next_sample_ms = ctx.venue_ms + self._sample_ms
        for side in (0, 1):
            self._sample(ctx, side)

    def on_trade(self, ctx: MarketContext, trade: Trade) -> None:
        # A taker sell executes against bids, a taker buy against asks.
        self._traded[0 if trade.taker_side == "sell" else 1] += trade.qty

    def on_second(self, ctx: MarketContext) -> None:
        """Close the second's D statistics; the baseline moves once a second."""
        for side, state in enumerate(self._sides):
            if state.sec_n:
                state.means.append(state.sec_sum / state.sec_n)
                state.maxima.append((state.sec_max, self._traded[side]))
                state.sec_sum, state.sec_n, state.sec_max = 0.0, 0, 0.0
            if len(state.means) >= self.params.min_history_s:
                state.baseline = statistics.median(state.means)

    # ---- sampling ----------------------------------------------------------------------------

    def depth(self, ctx: MarketContext, side: int) -> tuple[float, int | None]:
        """(D in quantity units, the side's best price); (0, None) for an empty side."""
        best = ctx.best_bid if side == 0 else ctx.best_ask
        if best is None:
            return 0.0, None
        get = (ctx.book.bids if side == 0 else ctx.book.asks).get
        step = -ctx.tick if side == 0 else ctx.tick
        n = len(self._weights)
        # Direct lookups of the n prices from the touch, all in C (map/range/sum): ~1 us.
        qtys = map(get, range(best[0], best[0] + n * step, step), self._zeros)
        total = sum(map(mul, self._weights, qtys))
        return float(total), best[0]

    def _sample(self, ctx: MarketContext, side: int) -> None:
        d, best = self.depth(ctx, side)
        if best is None:
            return  # an empty side has no touch to judge (nor to report)
        state = self._sides[side]
        state.sec_sum += d
        state.sec_n += 1
        if d > state.sec_max:
            state.sec_max = d
        if state.event is not None:
            self._follow(ctx, side, state, d, best)
            return
        baseline = state.baseline
        if baseline is None:
            return
        if not state.armed:
            if d <= self.params.recover_ratio * baseline:
                state.recovered_since = None
            elif state.recovered_since is None:
                state.recovered_since = ctx.venue_ms
            elif ctx.venue_ms - state.recovered_since >= self._min_thin_ms:
                state.armed = True
                state.thin_since = None  # thinning counts again from here
            return
        if d > self.params.max_ratio * baseline:
            state.thin_since = None
        elif state.thin_since is None:
            state.thin_since = ctx.venue_ms
        if state.thin_since is not None \
                and ctx.venue_ms - state.thin_since >= self._min_thin_ms:
            self._maybe_alert(ctx, side, state, d, best)

    def _maybe_alert(self, ctx: MarketContext, side: int, state: _SideDepth, d: float,
                     best: int) -> None:
        """D is low against its baseline: did it fall fast, and mostly by cancellation?"""
        peak, traded_since = state.sec_max, 0
        for d_max, traded_before in state.maxima:
            if d_max > peak:
                peak, traded_since = d_max, self._traded[side] - traded_before
        drop = peak - d
        if drop <= 0 or d > (1 - self.params.min_drop) * peak:
            return
        traded_share = traded_since / drop
        if traded_share >= self.params.max_traded_share:
            return  # consumed by trades, not thinned by cancellation
        self._alert(ctx, side, state, d, best, peak, traded_share)

    # ---- lifecycle ---------------------------------------------------------------------------

    def _alert(self, ctx: MarketContext, side: int, state: _SideDepth, d: float,
               best: int, peak: float, traded_share: float) -> None:
        assert state.baseline is not None
        spread = self._spread_ticks(ctx)
        ratio = d / state.baseline
        # Depth: max_ratio -> 0, empty -> 1; a spread wider than one tick adds up to 0.4.
        thin = 1 - ratio / self.params.max_ratio
        widening = 0.0 if spread is None else min(1.0, max(0, spread - 1) / 4)
        score = round(min(1.0, 0.6 * thin + 0.4 * widening), 3)
        price = ctx.px(best)
        event = LiquidityEvent(
            id=ctx.log.next_id("exhaustion"), type="exhaustion", side=_SIDES[side],
            price=price, price_from=price, price_to=price, start_ts=ctx.now_s,
            detected_ts=ctx.now_s, size=ctx.qty(round(d)), score=score,
            detail={"baseline_d": ctx.qty(round(state.baseline)), "peak_d": ctx.qty(round(peak)),
                    "ratio": round(ratio, 3), "traded_share": round(traded_share, 3),
                    "spread_ticks": spread, "breakout": False, "breakout_ts": None})
        if len(state.means) < self.params.baseline_s:
            event.detail["warming_up"] = True
        state.event = ctx.log.open(event)
        state.armed = False
        state.recovered_since = None
        state.alert_price = best
        state.alert_baseline = state.baseline

    def _follow(self, ctx: MarketContext, side: int, state: _SideDepth, d: float,
                best: int) -> None:
        """An alert is active: end it on recovery, breakout or timeout."""
        event = state.event
        assert event is not None
        params = self.params
        through = params.breakout_ticks * ctx.tick
        if (best <= state.alert_price - through if side == 0
                else best >= state.alert_price + through):
            event.detail["breakout"] = True
            event.detail["breakout_ts"] = ctx.now_s
            self._end(ctx, state, "breakout")
        elif d > params.recover_ratio * state.alert_baseline:
            state.recovered_since = ctx.venue_ms  # re-armed once it stays so (_sample)
            self._end(ctx, state, "recovered")
        elif ctx.now_s - event.start_ts >= params.max_active_s:
            self._end(ctx, state, "timeout")

    def _end(self, ctx: MarketContext, state: _SideDepth, reason: str) -> None:
        assert state.event is not None
        ctx.log.close(state.event, ctx.now_s, reason=reason)
        state.event = None

    @staticmethod
    def _spread_ticks(ctx: MarketContext) -> int | None:
        if ctx.best_bid is None or ctx.best_ask is None:
            return None
        return (ctx.best_ask[0] - ctx.best_bid[0]) // ctx.tick
