"""Iceberg-like orders: a touch level that is hit and refilled again and again with slices of
similar size (../shared/docs/liquidity-events.md, item 5). USDT-M futures have no native iceberg
order type: this is a re-posting order, or several makers refilling, which look the same; text
always says "iceberg-like".

Each side's touch is followed by a ``TouchFlow`` (touch_flow.py; shared with absorption, which
keeps it current, when built by ``build_detectors``): a refill is a positive net flow
``A = dQ + V`` in a diff within ``refill_within_s`` of a trade at that price (an instant refill
shows as an unchanged size while volume traded); a *slice* is a refill after the prints used up
(>= ``min_depletion`` of) the size visible before them. The event opens once there are
``min_refills`` slices with coefficient of variation <= ``max_refill_cv`` (over all slices of the
series, so makers adding random sizes do not qualify) and the volume executed there since the
series began is >= ``min_executed_multiple`` x the largest size visible in it. It stays
active while refills continue and ends when the level goes, the touch moves away, a trade
prints beyond it (traded through), refills stop for ``idle_end_s``, or on a resync.

Precedence with absorption (one level, one report): a level that runs out and comes back in
regular slices is iceberg-like; a level topped up before it runs out (most refills top-ups) is
absorption's (absorption.py). Both read one ``TouchFlow`` and the first report claims the level
(``flow.claim``).
"""

from __future__ import annotations

from marketdata.events import DepthDiff, Trade
from features.liquidity.context import MarketContext
from features.liquidity.event import LiquidityEvent
from features.liquidity.params import IcebergParams
from features.liquidity.touch_flow import TouchFlow, TouchSides, looks_iceberg_like


class _Side:
    """This detector's view of one side's flow: its event, the flow ``gen`` and refill count
    it has seen, and whether the level was disqualified (traded through, vanished too long)."""

    __slots__ = ("event", "flow", "gen", "refills", "spoiled")

    def __init__(self, flow: TouchFlow) -> None:
        self.flow = flow
        self.gen = flow.gen
        self.refills = flow.refills
        self.event: LiquidityEvent | None = None
        self.spoiled = False


class IcebergDetector:
    """Per-symbol iceberg-like detector. ``touch``: the evidence absorption keeps current (read
    only); without it the detector keeps its own."""

    __slots__ = ("_ask", "_bid", "_idle_ms", "_owner", "_refill_ms", "params", "touch")

    def __init__(self, params: IcebergParams, touch: TouchSides | None = None) -> None:
        self.params = params
        self._refill_ms = int(params.refill_within_s * 1000)
        self._idle_ms = int(params.idle_end_s * 1000)
        self._owner = touch is None
        if touch is None:
            # No trade may print beyond the level; it may vanish for one refill delay.
            touch = TouchSides(0, self._refill_ms, params)
        self.touch = touch
        self._bid = _Side(touch.bid)
        self._ask = _Side(touch.ask)

    def on_reset(self, ctx: MarketContext) -> None:
        if self._owner:
            self.touch.reset(ctx)
        for side in (self._bid, self._ask):
            self._end(ctx, side, "resync", ctx.venue_ms)
            self._follow(side)

    def on_update(self, ctx: MarketContext, diff: DepthDiff) -> None:
        now = diff.exchange_ts_ms
        if self._owner:
            self.touch.on_diff(ctx, now)
        # Most diffs leave both touches' evidence as it was: skip the call then (hot path).
        for side in (self._bid, self._ask):
            flow = side.flow
            if side.gen != flow.gen or flow.gone_ms is not None or flow.refills != side.refills:
                self._check(ctx, side, now)

    def on_trade(self, ctx: MarketContext, trade: Trade) -> None:
        t = trade.exchange_ts_ms
        if self._owner:
            flow = self.touch.on_trade(ctx, trade)
        else:
            flow = self.touch.bid if trade.taker_side == "sell" else self.touch.ask
        side = self._bid if flow.is_bid else self._ask
        if side.gen != flow.gen:
            self._check(ctx, side, t)
            return
        level = flow.price
        if level is not None and (trade.price < level if flow.is_bid else trade.price > level):
            # "The price not traded through": a print beyond the level disqualifies it even
            # where absorption (the flow's owner) tolerates a tick.
            self._end(ctx, side, "traded through", t)
            side.spoiled = True
        if flow.refills != side.refills:  # a late print turned the last diff into a refill
            self._check(ctx, side, t)

    def on_second(self, ctx: MarketContext) -> None:
        now = ctx.venue_ms
        for side in (self._bid, self._ask):
            if side.event is not None and now - side.flow.last_refill_ms > self._idle_ms:
                self._end(ctx, side, "refills stopped", side.flow.last_refill_ms)

    # ---- internals ---------------------------------------------------------------------------

    def _check(self, ctx: MarketContext, side: _Side, now: int) -> None:
        flow = side.flow
        if side.gen != flow.gen:
            self._end(ctx, side, flow.reason, now)
            self._follow(side)
        elif flow.gone_ms is not None and now - flow.gone_ms > self._refill_ms:
            # Gone longer than a refill delay: whatever comes back is a new order.
            self._end(ctx, side, "level gone", now)
            side.spoiled = True
        if flow.refills != side.refills:
            side.refills = flow.refills
            if side.spoiled:
                return
            if side.event is not None:
                _fill(ctx, side.event, flow, self.params)
                ctx.log.changed(side.event)
            elif flow.claim is None and looks_iceberg_like(flow, self.params):
                self._open(ctx, side, now)

    def _follow(self, side: _Side) -> None:
        side.gen = side.flow.gen
        side.refills = side.flow.refills
        side.spoiled = False

    def _open(self, ctx: MarketContext, side: _Side, now: int) -> None:
        flow = side.flow
        assert flow.price is not None
        price = ctx.px(flow.price)
        event = LiquidityEvent(
            id=ctx.log.next_id("iceberg"), type="iceberg", side="bid" if flow.is_bid else "ask",
            price=price, price_from=price, price_to=price, start_ts=flow.series_ms / 1000.0,
            detected_ts=now / 1000.0, size=0.0, score=0.0,
            detail={"kind": "iceberg-like", "taker_side": "sell" if flow.is_bid else "buy"})
        if ctx.baseline.warming_up:
            event.detail["warming_up"] = True
        _fill(ctx, event, flow, self.params)
        side.event = ctx.log.open(event)
        flow.claim = "iceberg"

    def _end(self, ctx: MarketContext, side: _Side, reason: str, now: int) -> None:
        event = side.event
        if event is not None:
            if side.gen == side.flow.gen:
                _fill(ctx, event, side.flow, self.params)
            ctx.log.close(event, max(now, 0) / 1000.0, reason=reason)
            side.event = None


def _fill(ctx: MarketContext, event: LiquidityEvent, flow: TouchFlow,
          params: IcebergParams) -> None:
    """Copy the level's evidence into the event: size = executed volume (a lower bound on the
    hidden order's fills: other orders at the price trade too, refills inside a frame net)."""
    p = event.detail
    event.size = ctx.qty(flow.series_executed)
    cv = flow.refill_cv()
    p["peak"] = ctx.qty(int(flow.peak()))
    p["refills"] = flow.slices
    p["executed"] = event.size
    p["max_visible"] = ctx.qty(flow.max_visible)
    p["refill_cv"] = round(cv, 3)
    # 0.5 at the executed-volume threshold, 1.0 at twice it.
    multiple = flow.series_executed / max(flow.max_visible, 1)
    event.score = min(1.0, 0.5 * multiple / params.min_executed_multiple)
