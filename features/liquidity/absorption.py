"""Absorption: aggressive volume keeps arriving into one passive price, the level keeps being
replenished, and the price does not give way (../shared/docs/liquidity-events.md, item 3).

Each side's touch is followed by a ``TouchFlow`` (touch_flow.py; this detector owns the pair and
the iceberg-like detector reads it). Trades into the level open a window of ``window_s`` venue
seconds (tumbling: one that expires without an event restarts at the next trade; a refill series
that begins later restarts it at the series' first print) holding the size visible at its start
and the volume traded since. The event opens when, inside the window,

* traded >= ``min_visible_multiple`` x the size visible at the start, and
* traded >= ``min_typical_multiple`` x the typical traded volume per level per 10 s (the symbol's
  own rolling statistic, trade_baseline.py; no event before it has warmed up), and
* replenished >= ``min_replenish_share`` x traded, where replenished is the net flow
  ``Q_now - Q_start + traded`` (a lower bound on the gross adds: cancels net against them, and it
  does not depend on which socket delivered first), and
* the level was refilled at least ``min_refills`` times, mostly by top-ups (refills of a level
  the prints did not use up), and no trade printed more than ``max_through_ticks`` beyond it (a
  vanished level may return within ``level_gone_grace_s``).

Side = the absorbing (passive) side; size = volume absorbed. Active while trades keep coming; ends
when the touch moves away, the level stays gone, trades print through it, no trade arrives for
``quiet_end_s`` (flow stopped), or on a resync.

Precedence with iceberg-like (one level, one report), decided by how the level is replenished
(touch_flow.py): an iceberg-like order shows its next slice only after the prints used up what
was visible (a *slice* refill); an absorber tops up a level that never runs out (a *top-up*).
Absorption needs most refills to be top-ups (``mostly_top_ups``); iceberg-like needs regular
slices. Both read the same ``TouchFlow`` and the first report claims the level
(``flow.claim``), so a level never carries both types.
"""

from __future__ import annotations

from marketdata.events import DepthDiff, Trade
from features.liquidity.context import MarketContext
from features.liquidity.event import LiquidityEvent
from features.liquidity.params import AbsorptionParams, IcebergParams
from features.liquidity.touch_flow import TouchFlow, TouchSides, mostly_top_ups
from features.liquidity.trade_baseline import TradedVolumeBaseline


class _Side:
    """One side's absorption window over the tracked level (``gen`` of the flow it read)."""

    __slots__ = ("anchor_ms", "event", "flow", "gen", "last_ms", "traded", "visible_start")

    def __init__(self, flow: TouchFlow) -> None:
        self.flow = flow
        self.gen = flow.gen
        self.event: LiquidityEvent | None = None
        self.last_ms = 0
        self.clear()

    def clear(self) -> None:
        self.anchor_ms: int | None = None
        self.visible_start = 0
        self.traded = 0


class AbsorptionDetector:
    """Per-symbol absorption detector; ``touch`` is the touch evidence it keeps current."""

    __slots__ = ("_ask", "_bid", "_quiet_ms", "_typical", "_window_ms", "iceberg", "params",
                 "touch")

    def __init__(self, params: AbsorptionParams, iceberg: IcebergParams | None = None) -> None:
        self.params = params
        self.iceberg = iceberg or IcebergParams()
        self.touch = TouchSides(params.max_through_ticks, int(params.level_gone_grace_s * 1000),
                                self.iceberg)
        self._bid = _Side(self.touch.bid)
        self._ask = _Side(self.touch.ask)
        self._window_ms = int(params.window_s * 1000)
        self._quiet_ms = int(params.quiet_end_s * 1000)
        self._typical = TradedVolumeBaseline(params.window_s, params.history_s,
                                             params.warmup_windows)

    def on_reset(self, ctx: MarketContext) -> None:
        self.touch.reset(ctx)
        self._follow(ctx, self._bid, ctx.venue_ms)
        self._follow(ctx, self._ask, ctx.venue_ms)

    def on_update(self, ctx: MarketContext, diff: DepthDiff) -> None:
        now = diff.exchange_ts_ms
        self.touch.on_diff(ctx, now)
        for side in (self._bid, self._ask):
            if side.gen != side.flow.gen:
                self._follow(ctx, side, now)
            elif side.event is None and side.anchor_ms is not None:
                if side.flow.series_ms > side.anchor_ms and side.flow.refills:
                    _anchor_at_series(side)
                if side.traded >= self.params.min_visible_multiple * side.visible_start:
                    self._maybe_open(ctx, side, now)

    def on_trade(self, ctx: MarketContext, trade: Trade) -> None:
        t = trade.exchange_ts_ms
        price = trade.price
        typical = self._typical  # TradedVolumeBaseline.add, inlined: this runs for every trade
        if t >= typical.until_ms:
            typical.roll(t)
        levels = typical.levels
        levels[price] = levels.get(price, 0) + trade.qty
        if trade.taker_side == "sell":
            flow, side = self.touch.bid, self._bid
        else:
            flow, side = self.touch.ask, self._ask
        reason = flow.on_trade(price, trade.qty, t, ctx.tick)
        if reason is not None:
            self.touch.restart_untracked(flow, t, reason)
        if side.gen != flow.gen:
            self._follow(ctx, side, t)
        if price != flow.price:
            return
        quiet = t - side.last_ms > self._quiet_ms
        side.last_ms = t
        if side.anchor_ms is None or (side.event is None and (
                quiet or t - side.anchor_ms > self._window_ms)):
            side.anchor_ms = t
            # The size just before this trade, whether or not its diff has arrived yet.
            side.visible_start = flow.qty - flow.pending + trade.qty
            side.traded = trade.qty
        elif side.event is None and flow.series_ms > side.anchor_ms and flow.refills:
            _anchor_at_series(side)  # already counts this trade
        else:
            side.traded += trade.qty
        traded = side.traded
        if side.event is None and traded >= self.params.min_visible_multiple * side.visible_start:
            self._maybe_open(ctx, side, t)

    def on_second(self, ctx: MarketContext) -> None:
        now = ctx.venue_ms
        for side in (self._bid, self._ask):
            event = side.event
            if event is None:
                continue
            if now - side.last_ms > self._quiet_ms:
                self._end(ctx, side, "flow stopped", side.last_ms)
                side.clear()
            else:
                self._fill(ctx, side, event)
                ctx.log.changed(event)

    # ---- internals ---------------------------------------------------------------------------

    def _follow(self, ctx: MarketContext, side: _Side, now: int) -> None:
        """The flow moved to a new level: what was seen at the old one is over."""
        self._end(ctx, side, side.flow.reason, now)
        side.clear()
        side.gen = side.flow.gen

    def _maybe_open(self, ctx: MarketContext, side: _Side, now: int) -> None:
        p = self.params
        traded = side.traded
        if traded < p.min_visible_multiple * side.visible_start:
            return
        typical = self._typical.typical
        if typical is None or traded < p.min_typical_multiple * typical:
            return
        flow = side.flow
        if _replenished(side) < p.min_replenish_share * traded:
            return
        if flow.claim is not None or not mostly_top_ups(flow, self.iceberg):
            return  # no evidence yet, or iceberg-like territory (see the module docstring)
        assert side.anchor_ms is not None and flow.price is not None
        price = ctx.px(flow.price)
        event = LiquidityEvent(
            id=ctx.log.next_id("absorption"), type="absorption",
            side="bid" if flow.is_bid else "ask", price=price, price_from=price,
            price_to=price, start_ts=side.anchor_ms / 1000.0, detected_ts=now / 1000.0,
            size=0.0, score=0.0,
            detail={"taker_side": "sell" if flow.is_bid else "buy",
                    "typical_10s_volume": ctx.qty(int(typical)),
                    "visible_at_start": ctx.qty(side.visible_start),
                    "baseline_windows": self._typical.windows})
        self._fill(ctx, side, event)
        side.event = ctx.log.open(event)
        flow.claim = "absorption"

    def _fill(self, ctx: MarketContext, side: _Side, event: LiquidityEvent) -> None:
        p = self.params
        traded = side.traded
        event.size = ctx.qty(traded)
        d = event.detail
        d["traded"] = event.size
        if side.gen != side.flow.gen:
            return  # the flow already follows another level: keep the last evidence
        replenished = max(0, _replenished(side))
        d["replenished"] = ctx.qty(replenished)
        d["refills"] = side.flow.refills
        d["slices"] = side.flow.slices
        typical = self._typical.typical or 1.0
        # 0.5 when the weakest of the three ratios sits at its threshold, 1.0 at twice it.
        ratio = min(traded / max(p.min_visible_multiple * side.visible_start, 1),
                    traded / (p.min_typical_multiple * typical),
                    replenished / max(p.min_replenish_share * traded, 1))
        event.score = round(min(1.0, 0.5 * ratio), 3)

    def _end(self, ctx: MarketContext, side: _Side, reason: str, now: int) -> None:
        event = side.event
        if event is not None:
            self._fill(ctx, side, event)
            ctx.log.close(event, max(now, 0) / 1000.0, reason=reason)
            side.event = None


def _anchor_at_series(side: _Side) -> None:
    """Replenishment began after the window opened: the window starts with it, so the trickle
    that hit the level before (and the size shown then) does not blur start and size."""
    flow = side.flow
    side.anchor_ms = flow.series_ms
    side.visible_start = flow.series_visible
    side.traded = flow.series_executed


def _replenished(side: _Side) -> int:
    """Net volume added at the level since the window opened: ``Q_now - Q_start + traded``
    (trades not yet seen in a diff are not counted as gone from the book)."""
    flow = side.flow
    return flow.qty - flow.pending - side.visible_start + side.traded
