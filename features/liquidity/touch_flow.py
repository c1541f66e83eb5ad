"""Net flow at one side's touch level, diff by diff: the evidence shared by the iceberg-like and
absorption detectors (../shared/docs/liquidity-events.md: ``A = dQ + V`` per frame).

``TouchFlow`` follows one price, the touch of its side when tracking started, and per applied
diff computes ``A = dQ + V`` (V = volume traded there since the previous diff). A positive ``A``
soon after a trade hit the level is a *refill*. A refill after prints that used up (>=
``min_depletion`` of) the size visible before them is a *slice*, as an iceberg-like order shows
its next slice only once the last is gone; a refill of a level that never ran out is a *top-up*,
as an absorber keeps its size visible. Count, sum and sum of squares of the slices give their
coefficient of variation in O(1). Refills form a *series*: it starts with the prints the first
refill answered (volume traded and sizes shown before belong to other orders) and restarts after
``series_gap_ms`` without a refill; ``max_visible`` and ``series_executed`` cover the series.

Trades and diffs come on different sockets. A trade is attributed to the first diff at or after
its venue time ``T``: one that arrives after a diff with a later ``E`` was already in that diff,
so it corrects that diff's ``A`` instead of waiting for the next (otherwise an unrefilled level
would show a cancel, then a phantom refill). Work per diff and per trade is O(1).

``TouchSides`` holds both sides' flows (refill rules from ``IcebergParams``). One detector owns
and updates it (absorption); the iceberg-like detector reads the same object, so the evidence is
computed once per event and both judge the same refills. A reader notices a restarted flow by its ``gen`` and ``reason``; the
flow's ``claim`` names the event type already reported at the level, so a level is reported as
absorption or as iceberg-like, never both.
"""

from __future__ import annotations

import math
import statistics

from marketdata.events import Trade
from features.liquidity.context import MarketContext
from features.liquidity.params import IcebergParams
from orderbook.book import Level

# Keep at most this many refill sizes for the median (the peak); count, sum and CV use them all.
MAX_SIZES = 512
NEVER = -(10**15)


class TouchFlow:
    """One side's touch level and its refill statistics (quantity units, venue ms)."""

    __slots__ = ("claim", "executed", "gen", "gone_ms", "grace_ms", "is_bid",
                 "last_a", "last_diff_ms", "last_refill", "last_refill_ms", "last_slice",
                 "last_trade_ms", "max_visible", "min_depletion", "min_refill", "pending",
                 "prev_qty", "price", "qty", "r_sum", "r_sumsq", "reason", "recent_ms", "recent_v",
                 "refill_ms", "refills", "series_base", "series_gap_ms", "series_ms",
                 "series_visible", "sizes", "slices", "start_ms", "through_ticks")

    def __init__(self, is_bid: bool, through_ticks: int, grace_ms: int, refill_ms: int,
                 series_gap_ms: int = 10_000, min_depletion: float = 0.9) -> None:
        self.is_bid = is_bid
        self.through_ticks = through_ticks  # trades this many ticks beyond the level are tolerated
        self.grace_ms = grace_ms            # the level may leave the touch this long and return
        self.refill_ms = refill_ms          # a rise this soon after a trade there is a refill
        self.series_gap_ms = series_gap_ms  # no refill this long: the next one starts a new series
        self.min_depletion = min_depletion  # prints took this share of the size: a slice refill
        self.gen = 0  # bumped by every ``start``: readers notice the level changed
        self.start(None, 0, 0, "")

    def start(self, best: Level | None, now_ms: int, min_refill: int, reason: str) -> None:
        """Track ``best`` (the side's touch) from scratch; ``reason`` says why the previous
        level stopped being tracked (for detectors that only read this flow)."""
        self.gen += 1
        self.reason = reason
        self.claim: str | None = None  # the event type reported at this level, if any
        if best is None:
            self.price: int | None = None
            self.qty = 0
        else:
            self.price, self.qty = best
        self.prev_qty = self.qty
        self.start_ms = self.last_diff_ms = now_ms
        self.min_refill = min_refill
        self.pending = self.last_a = self.executed = 0
        self.max_visible = self.qty
        self.last_refill = self.last_slice = False
        self.last_trade_ms = self.last_refill_ms = self.recent_ms = NEVER
        self.recent_v = self.series_base = 0
        self.series_ms = now_ms
        self.series_visible = self.qty
        self.gone_ms: int | None = None
        self.refills = self.slices = self.r_sum = self.r_sumsq = 0
        self.sizes: list[int] = []

    def on_diff(self, best: Level | None, now_ms: int) -> str | None:
        """Account one applied diff; a reason string when the level stopped being tracked
        (the caller ends its event and calls ``start`` on the new touch)."""
        price = self.price
        if price is None:
            return None if best is None else "new touch"
        if best is not None and best[0] == price:
            qty = best[1]
            if qty != self.qty or self.pending:
                self._settle(qty - self.qty + self.pending, now_ms)
                self.prev_qty = self.qty
                self.qty = qty
                if qty > self.max_visible:  # noqa: PLR1730 - hot path
                    self.max_visible = qty
                self.pending = 0
            else:
                self.prev_qty = qty
                self.last_a = 0
                self.last_refill = False
            self.last_diff_ms = now_ms
            self.gone_ms = None
            return None
        if best is not None and (best[0] > price if self.is_bid else best[0] < price):
            return "touch moved away"
        # Emptied or cancelled: a re-posting order may bring it back within the grace.
        if self.qty or self.pending:
            self._settle(self.pending - self.qty, now_ms)
            self.prev_qty = self.qty
            self.qty = self.pending = 0
        self.last_diff_ms = now_ms
        if self.gone_ms is None:
            self.gone_ms = now_ms
        elif now_ms - self.gone_ms > self.grace_ms:
            return "level gone"
        return None

    def on_trade(self, price: int, qty: int, ts_ms: int, tick: int) -> str | None:
        """Account a trade that hit this side; ``"traded through"`` when it printed beyond the
        level by more than ``through_ticks``."""
        level = self.price
        if level is None:
            return None
        if price == level:
            self.executed += qty
            if ts_ms > self.last_trade_ms:  # noqa: PLR1730 - hot path
                self.last_trade_ms = ts_ms
            if ts_ms - self.recent_ms > self.refill_ms:  # the prints a refill would answer
                self.recent_ms = ts_ms
                self.recent_v = qty
            else:
                self.recent_v += qty
            if ts_ms < self.last_diff_ms:
                self._correct(qty)  # the last diff already showed this trade's effect
            else:
                self.pending += qty
            return None
        beyond = level - price if self.is_bid else price - level
        if beyond > self.through_ticks * tick:
            return "traded through"
        return None

    # ---- refills -----------------------------------------------------------------------------

    def _settle(self, a: int, now_ms: int) -> None:
        hit = self.pending > 0 or now_ms - self.last_trade_ms <= self.refill_ms
        self.last_a = a
        self.last_refill = False
        if a > 0 and hit and a >= self.min_refill:
            self._add_refill(a, now_ms)

    def _correct(self, qty: int) -> None:
        old = self.last_a
        a = old + qty
        self.last_a = a
        if self.last_refill:
            if self.last_slice:
                self.r_sum += qty
                self.r_sumsq += a * a - old * old
                if self.sizes:
                    self.sizes[-1] = a
        elif a > 0 and a >= self.min_refill:
            self._add_refill(a, self.last_diff_ms, late=True)

    def _add_refill(self, a: int, now_ms: int, late: bool = False) -> None:
        # The size shown before the prints this refill answers: ``qty`` is the last diff's,
        # which already shows the prints that are not pending; after a late print it shows
        # the refill too, and the diff before it (``prev_qty``) the size the prints met.
        if late:
            before = self.prev_qty or self.recent_v
        else:
            before = self.qty + self.recent_v - min(self.pending, self.recent_v)
        if self.refills == 0 or now_ms - self.last_refill_ms > self.series_gap_ms:
            # A new series starts with those prints: what traded at the level before, and
            # sizes shown before, belong to other orders.
            self.refills = self.slices = self.r_sum = self.r_sumsq = 0
            self.sizes = []
            self.series_ms = self.recent_ms if self.recent_ms != NEVER else now_ms
            self.series_base = self.executed - self.recent_v
            self.max_visible = self.series_visible = before
            self.claim = None  # a new series may be reported afresh
        self.refills += 1
        self.last_refill = True
        self.last_refill_ms = now_ms
        # A slice: the prints used up what was visible before the level came back.
        self.last_slice = before > 0 and self.recent_v >= self.min_depletion * before
        if self.last_slice:
            self.slices += 1
            self.r_sum += a
            self.r_sumsq += a * a
            if len(self.sizes) < MAX_SIZES:
                self.sizes.append(a)

    def refill_cv(self) -> float:
        """Coefficient of variation of the slice sizes (inf with none)."""
        n = self.slices
        if n == 0 or self.r_sum <= 0:
            return math.inf
        mean = self.r_sum / n
        var = self.r_sumsq / n - mean * mean
        return math.sqrt(var if var > 0 else 0.0) / mean

    @property
    def series_executed(self) -> int:
        """Volume traded at the level since the refill series began."""
        return self.executed - self.series_base

    def peak(self) -> float:
        """The median slice (an iceberg-like order's visible size), quantity units."""
        return float(statistics.median(self.sizes)) if self.sizes else 0.0


def regular_slices(flow: TouchFlow, params: IcebergParams) -> bool:
    """The refill half of the iceberg-like rule (item 5): >= ``min_refills`` slices (refills
    after the prints used up the visible size) of similar size (CV <= ``max_refill_cv``)."""
    return flow.slices >= params.min_refills and flow.refill_cv() <= params.max_refill_cv


def mostly_top_ups(flow: TouchFlow, params: IcebergParams) -> bool:
    """Absorption's replenishment: >= ``min_refills`` refills, most of them top-ups of a level
    that never ran out (not slices)."""
    return flow.refills >= params.min_refills and 2 * flow.slices < flow.refills


def looks_iceberg_like(flow: TouchFlow, params: IcebergParams) -> bool:
    """The whole iceberg-like rule: regular slices, and executed volume >=
    ``min_executed_multiple`` x anything ever visible there."""
    return (flow.series_executed >= params.min_executed_multiple * flow.max_visible
            and regular_slices(flow, params))


def min_refill_units(median: float | None, share: float) -> int:
    """Refills smaller than ``share`` x the touch's rolling median size are other makers'
    small adds, not a re-posted slice."""
    return max(1, int(share * median)) if median else 1


class TouchSides:
    """Both sides' ``TouchFlow``; the owner calls ``on_diff``/``on_trade``/``reset``."""

    __slots__ = ("ask", "bid", "min_refill_share")

    def __init__(self, through_ticks: int, grace_ms: int, params: IcebergParams) -> None:
        refill_ms = int(params.refill_within_s * 1000)
        gap_ms = int(params.idle_end_s * 1000)
        depletion = params.min_depletion
        self.bid = TouchFlow(True, through_ticks, grace_ms, refill_ms, gap_ms, depletion)
        self.ask = TouchFlow(False, through_ticks, grace_ms, refill_ms, gap_ms, depletion)
        self.min_refill_share = params.min_refill_share

    def reset(self, ctx: MarketContext) -> None:
        minimum = self._min_refill(ctx)
        self.bid.start(ctx.best_bid, ctx.venue_ms, minimum, "resync")
        self.ask.start(ctx.best_ask, ctx.venue_ms, minimum, "resync")

    def on_diff(self, ctx: MarketContext, now_ms: int) -> None:
        bid, ask = self.bid, self.ask
        best = ctx.best_bid
        reason = bid.on_diff(best, now_ms)
        if reason is not None:
            bid.start(best, now_ms, self._min_refill(ctx), reason)
        best = ctx.best_ask
        reason = ask.on_diff(best, now_ms)
        if reason is not None:
            ask.start(best, now_ms, self._min_refill(ctx), reason)

    def on_trade(self, ctx: MarketContext, trade: Trade) -> TouchFlow:
        """Account ``trade`` on the side it hit; returns that side's flow."""
        flow = self.bid if trade.taker_side == "sell" else self.ask
        t = trade.exchange_ts_ms
        reason = flow.on_trade(trade.price, trade.qty, t, ctx.tick)
        if reason is not None:
            self.restart_untracked(flow, t, reason)
        return flow

    @staticmethod
    def restart_untracked(flow: TouchFlow, now_ms: int, reason: str) -> None:
        """After a print beyond the level. The book has not shown the move yet (trades usually
        lead their diff): track nothing until the next diff names the new touch, rather than
        restart on the stale one (and again on every print of the same sweep)."""
        flow.start(None, now_ms, 1, reason)

    def _min_refill(self, ctx: MarketContext) -> int:
        return min_refill_units(ctx.baseline.median_at(0), self.min_refill_share)
