"""Injection agents, part 1: the base class, walls, sweeps, layering and the spread control.

Every agent acts through a ``Venue`` (real orders on the simulated engine, an overlay in replay)
and fills its ``TruthRecord`` as the market shows it: a resting order's start/end is the E of the
first depthUpdate that shows it placed/removed (``mark_start``/``mark_end``, stamped by
``shown``), a trade-made event uses the T of its trades, and a resting order the market consumed
ends at the E of the depthUpdate that showed the fill (``venue.last_published_ms``).
``step(now_ns)`` is called on every market step; it returns nothing, ``done`` says when to stop.
"""

from __future__ import annotations

import random

from local_exchange.injection_venue import SIDES, Fill, Venue, touch_median, volume_median_at
from local_exchange.scenarios import BookSide, Scenario, TruthRecord


class Agent:
    """Common bookkeeping: the scenario, its truth record, marks awaiting the next diff."""

    def __init__(self, scenario: Scenario, venue: Venue, truth: TruthRecord,
                 rng: random.Random) -> None:
        self.sc, self.v, self.truth, self.rng = scenario, venue, truth, rng
        self.done = False
        self.failed: str | None = None
        self._mark_start = self._mark_end = False
        self._done_when_shown = False
        self.started_ns = venue.now_ns
        self.median = touch_median(venue)
        truth.detail["median_level_qty"] = self.qty_f(self.median)
        self.setup()

    def setup(self) -> None:
        """The type's own start (place the first orders, fill the static truth)."""

    # ------------------------------------------------------------ conversions
    def px(self, price: int) -> float:
        return price / self.v.price_scale

    def qty_f(self, qty: int) -> float:
        return qty / self.v.qty_scale

    def lots(self, multiple: float, base: int | None = None) -> int:
        qty = int(multiple * (self.median if base is None else base))
        return max(qty - qty % self.v.step, self.v.step)

    def away(self, touch: int, ticks: int, side: BookSide | None = None) -> int:
        """The price ``ticks`` from ``touch`` away from the spread on ``side``."""
        side = side or self.sc.side
        return touch - ticks * self.v.tick if side == "bid" else touch + ticks * self.v.tick

    def distance(self, touch: int) -> int:
        """The scenario's distance in ticks from ``touch`` (``distance_bps`` wins when set)."""
        if self.sc.distance_bps > 0:
            return max(0, round(touch * self.sc.distance_bps / 1e4 / self.v.tick))
        return self.sc.distance_ticks

    def use_yardstick(self, distances: list[int]) -> None:
        """``yardstick = "volume_median"``: size in the wall/layering detectors' own unit, the
        largest volume-weighted median over the distances used (so every order is >= m x the
        unit at its own distance)."""
        if self.sc.yardstick == "volume_median" and distances:
            self.median = max(volume_median_at(self.v, d) for d in distances)
            self.truth.detail["median_level_qty"] = self.qty_f(self.median)
            self.truth.detail["yardstick"] = "volume_median"

    def elapsed_s(self, now_ns: int) -> float:
        return (now_ns - self.started_ns) / 1e9

    # ----------------------------------------------------------------- timing
    @property
    def stopping(self) -> bool:
        """Done, or only waiting for the next diff to stamp its end."""
        return self.done or self._mark_end or self._done_when_shown

    def mark_start(self) -> None:
        self._mark_start = True

    def mark_end(self) -> None:
        self._mark_end = True

    def shown(self, published_ms: int) -> None:
        """A depthUpdate stamped ``published_ms`` went out: stamp pending start/end marks."""
        if self._mark_start:
            self._mark_start = False
            if self.truth.start_ts is None:
                self.truth.start_ts = published_ms / 1000
        if self._mark_end:
            self._mark_end = False
            self.truth.end_ts = published_ms / 1000
            self.done = True
        if self._done_when_shown:
            self.done = True

    def record_fills(self, fills: list[Fill]) -> None:
        if not fills:
            return
        if self.truth.start_ts is None:
            self.truth.start_ts = fills[0].ts_ms / 1000
        self.truth.end_ts = fills[-1].ts_ms / 1000

    def finish(self, reason: str, at_ms: int | None = None) -> None:
        """End now (``at_ms`` known) or at the next diff that shows the removal."""
        self.truth.detail["end_reason"] = reason
        if at_ms is None or at_ms * 1_000_000 < self.started_ns:
            self.mark_end()  # no diff has shown it yet: the next one does
        elif self._mark_start:
            self.truth.end_ts = at_ms / 1000
            self._done_when_shown = True  # its start is still to be stamped
        else:
            self.truth.end_ts = at_ms / 1000
            self.done = True

    def fail(self, why: str) -> None:
        self.failed = why
        self.truth.detail["error"] = why
        self.done = True

    def step(self, now_ns: int) -> None:
        raise NotImplementedError


class WallAgent(Agent):
    """One order of m x median, k ticks from the touch, living T s; pulled or traded through."""

    def setup(self) -> None:
        sc, v = self.sc, self.v
        touch = v.best(sc.side)
        if touch is None:
            self.fail("empty side")
            return
        distance = self.distance(touch)
        self.use_yardstick([distance])
        self.price, self.qty = self.away(touch, distance), self.lots(sc.size_multiple)
        self.truth.detail["distance_ticks"] = distance
        self.order = v.place(sc.side, self.price, self.qty)
        self.truth.price = self.truth.price_from = self.truth.price_to = self.px(self.price)
        self.truth.size = self.qty_f(self.qty)
        self.mark_start()
        if self.order is None:
            self.fail("the wall price was marketable")

    def step(self, now_ns: int) -> None:
        if self.stopping or self.order is None:
            return
        left = self.v.remaining(self.order)
        self.truth.detail["filled"] = self.qty_f(self.qty - left)
        if left == 0:
            self.finish("consumed", self.v.last_published_ms)
        elif self.elapsed_s(now_ns) >= self.sc.duration_s:
            if self.sc.end == "trade":
                self._trade_through(self.order)
            else:
                self.v.cancel(self.order)
                self.finish("pulled")

    def _trade_through(self, order: int) -> None:
        """Takers consume every level up to and including the wall; a rest is pulled."""
        side, price = self.sc.side, self.price
        depth = sum(q for p, q in self.v.levels(side, 500)
                    if (p >= price if side == "bid" else p <= price))
        fills = self.v.take(side, depth, limit=price)
        left = self.v.remaining(order)
        self.truth.detail["filled"] = self.qty_f(self.qty - left)
        if left:
            self.v.cancel(order)
        self.finish("consumed" if fills else "pulled",
                    fills[-1].ts_ms if fills and not left else None)


class SweepAgent(Agent):
    """A marketable order for levels 1..k-1 and part of level k (split in children < 300 ms).

    ``levels = 1`` (the decoy): one big print at one price: a resting order of m x median joins
    the touch and one taker order of that size trades at that single price.
    """

    def setup(self) -> None:
        sc, v = self.sc, self.v
        self.fills: list[Fill] = []
        self.parts: list[int] = []
        self.helper: int | None = None
        book = v.levels(sc.side, sc.levels if sc.min_volume_multiple <= 0 else 200)
        if len(book) < sc.levels:
            self.fail(f"fewer than {sc.levels} levels on the {sc.side} side")
            return
        floor = self._volume_floor()
        if sc.levels == 1:
            qty = max(self.lots(sc.size_multiple), floor - floor % v.step)
            self.helper = v.place(sc.side, book[0][0], qty)
            self.limit: int | None = book[0][0]
        else:
            n, full = sc.levels, sum(q for _, q in book[:sc.levels - 1])
            while n < len(book) and full + book[n - 1][1] * sc.fraction < floor:
                full += book[n - 1][1]
                n += 1
            part = int(book[n - 1][1] * sc.fraction)
            qty = full + max(part - part % v.step, v.step)
            self.limit = None
            self.truth.detail["planned_levels"] = n
        each = max(qty // sc.children // v.step * v.step, v.step)
        self.parts = [each] * (sc.children - 1) + [qty - each * (sc.children - 1)]
        self.gap_ns = int(0.3e9 / sc.children) if sc.children > 1 else 0
        self.truth.detail.update(children=sc.children, planned=self.qty_f(qty))

    def _volume_floor(self) -> int:
        """``min_volume_multiple`` x the larger of the two touch sizes (0: no floor)."""
        if self.sc.min_volume_multiple <= 0:
            return 0
        touches = [q for side in SIDES for _, q in self.v.levels(side, 1)]
        floor = int(self.sc.min_volume_multiple * max(touches, default=0))
        self.truth.detail["volume_floor"] = self.qty_f(floor)
        return floor

    def step(self, now_ns: int) -> None:
        if self.done:
            return
        sent = len(self.truth.detail.get("child_sizes", []))
        while sent < len(self.parts) and now_ns >= self.started_ns + sent * self.gap_ns:
            fills = self.v.take(self.sc.side, self.parts[sent], limit=self.limit)
            self.fills.extend(fills)
            self.truth.detail.setdefault("child_sizes", []).append(self.qty_f(self.parts[sent]))
            sent += 1
        if sent == len(self.parts):
            if self.helper is not None:
                self.v.cancel(self.helper)
            self._close()

    def _close(self) -> None:
        fills, t = self.fills, self.truth
        self.done = True
        if not fills:
            self.fail("nothing to take")
            return
        t.start_ts, t.end_ts = fills[0].ts_ms / 1000, fills[-1].ts_ms / 1000
        t.price_from, t.price, t.price_to = (self.px(fills[0].price), self.px(fills[-1].price),
                                             self.px(fills[-1].price))
        t.size = self.qty_f(sum(f.qty for f in fills))
        t.detail["levels"] = len({f.price for f in fills})
        if self.sc.levels > 1 and t.detail["levels"] < self.sc.levels:
            # Replayed, a split order's later children meet the recording's re-quotes at the
            # same prices: what went out is not the sweep planned (the record says so).
            t.detail["not_as_planned"] = (f"took {t.detail['levels']} levels of the "
                                          f"{self.sc.levels} planned")


# Layering is "removed by cancellation with a fill ratio <= 10 %" (the events note, item 4).
LAYERING_MAX_FILL = 0.1


class LayeringAgent(Agent):
    """n layers of m x median from ``distance_ticks`` outward, placed within ~1 s, cancelled
    after T s or when the touch comes within ``approach_ticks`` of the nearest layer.

    ``fill = true`` (the decoy): an honest ladder; takers fill it layer by layer meanwhile."""

    def setup(self) -> None:
        touch = self.v.best(self.sc.side)
        if touch is None:
            self.fail("empty side")
            return
        near = self.distance(touch)
        self.use_yardstick([near + i for i in range(self.sc.layers)])
        self.prices = [self.away(touch, near + i) for i in range(self.sc.layers)]
        self.qty = self.lots(self.sc.size_multiple)
        self.orders: list[int] = []
        self.filled_layers = 0
        t = self.truth
        t.price = t.price_from = self.px(self.prices[0])
        t.price_to = self.px(self.prices[-1])
        t.size = self.qty_f(self.qty * self.sc.layers)
        t.detail.update(layers=self.sc.layers, layer_size=self.qty_f(self.qty))

    def step(self, now_ns: int) -> None:
        if self.stopping:
            return
        sc, elapsed = self.sc, self.elapsed_s(now_ns)
        while len(self.orders) < len(self.prices) and elapsed >= len(self.orders) * sc.place_gap_s:
            order = self.v.place(sc.side, self.prices[len(self.orders)], self.qty)
            self.orders.append(order if order is not None else -1)
            self.mark_start()
        if sc.fill and self.filled_layers < len(self.orders) and elapsed >= 0.5 * (
                1 + self.filled_layers) * sc.duration_s / (sc.layers + 1):
            self._fill_next()
        touch = self.v.best(sc.side)
        near = touch is not None and abs(touch - self.prices[0]) <= sc.approach_ticks * self.v.tick
        if elapsed >= sc.duration_s or (near and not sc.fill and len(self.orders) == sc.layers):
            self._pull("timeout" if elapsed >= sc.duration_s else "approach")

    def _fill_next(self) -> None:
        price = self.prices[self.filled_layers]
        depth = sum(q for p, q in self.v.levels(self.sc.side, 200)
                    if (p >= price if self.sc.side == "bid" else p <= price))
        self.record_fills_only(self.v.take(self.sc.side, depth, limit=price))
        self.filled_layers += 1

    def record_fills_only(self, fills: list[Fill]) -> None:
        self.truth.detail["taken"] = self.truth.detail.get("taken", 0.0) + self.qty_f(
            sum(f.qty for f in fills))

    def _pull(self, reason: str) -> None:
        left = 0
        for order in self.orders:
            if order >= 0:
                left += self.v.remaining(order)
                self.v.cancel(order)
        placed = self.qty * len(self.orders)
        fill_ratio = round(1 - left / placed, 4) if placed else 0.0
        self.truth.detail["fill_ratio"] = fill_ratio
        if not self.sc.fill and fill_ratio > LAYERING_MAX_FILL:
            # The touch jumped into the layers before they could be pulled: by definition
            # this is no longer layering (the record says so; scoring leaves it out).
            self.truth.detail["not_as_planned"] = f"filled {fill_ratio:.0%} before the pull"
        self.finish(reason)


class SpreadControl(Agent):
    """Market condition, not an event: hold the spread at N ticks for T s. Orders inside an
    N-tick gap around the mid are pulled on both sides (and, simulated, spread-improving orders
    are held back); quotes at the gap's edges keep it from growing without bound. The gap
    re-centres when the market's own mid (``raw_best``: a replay keeps moving) leaves it."""

    def setup(self) -> None:
        bid, ask = self.v.best("bid"), self.v.best("ask")
        if bid is None or ask is None:
            self.fail("empty side")
            return
        self.gap: tuple[int, int] | None = None
        self.quotes: list[int] = []
        self.v.hold_improving(True)
        self.truth.price_from, self.truth.price_to = self.px(bid), self.px(ask)
        self.truth.price = self.px((bid + ask) // 2)
        self.truth.detail.update(control=True, ticks=self.sc.ticks)
        self._centre(bid, ask)
        self._apply()
        self.mark_start()

    def _centre(self, bid: int, ask: int) -> None:
        tick = self.v.tick
        mid = (bid + ask) // 2
        low = mid - mid % tick - (self.sc.ticks // 2) * tick
        self._release()
        for order in self.quotes:  # the old edges may lie inside the new gap
            self.v.cancel(order)
        self.quotes.clear()
        self.gap = (low, low + self.sc.ticks * tick)

    def _release(self) -> None:
        if self.gap is not None:
            inner = (self.gap[0] + self.v.tick, self.gap[1] - self.v.tick)
            for side in SIDES:
                self.v.thin(side, *inner, None)

    def _apply(self) -> None:
        assert self.gap is not None
        inner = (self.gap[0] + self.v.tick, self.gap[1] - self.v.tick)
        for side, edge in zip(SIDES, self.gap):
            self.v.thin(side, *inner, 0)
            best = self.v.best(side)
            if best is None or (best < edge if side == "bid" else best > edge):
                order = self.v.place(side, edge, self.lots(3.0))
                if order is not None:
                    self.quotes.append(order)

    def step(self, now_ns: int) -> None:
        if self.stopping or self.gap is None:
            return
        if self.elapsed_s(now_ns) >= self.sc.duration_s:
            self._release()
            self.v.hold_improving(False)
            for order in self.quotes:
                self.v.cancel(order)
            self.finish("released")
            return
        bid, ask = self.v.raw_best("bid"), self.v.raw_best("ask")
        if bid is not None and ask is not None:
            centre = (self.gap[0] + self.gap[1]) // 2
            if abs((bid + ask) // 2 - centre) > 2 * self.v.tick:
                self._centre(bid, ask)
        self._apply()
