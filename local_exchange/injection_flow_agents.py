"""Injection agents, part 2: events made of a stream of orders (absorption, iceberg, exhaustion).

Same contract as ``injection_agents``: act through the ``Venue``, fill the truth record with the
venue times of the messages that show the event.
"""

from __future__ import annotations

import math

from local_exchange.injection_agents import Agent
from local_exchange.injection_venue import Fill


class _AtPrice(Agent):
    """Shared by the agents working one price ``p`` at/near the touch of ``side``."""

    def _setup_price(self) -> bool:
        touch = self.v.best(self.sc.side)
        if touch is None:
            self.fail("empty side")
            return False
        self.price = self.away(touch, self.sc.distance_ticks)
        t = self.truth
        t.price = t.price_from = t.price_to = self.px(self.price)
        self.fills: list[Fill] = []
        self.next_hit_ns = self.started_ns + int(self.sc.hit_interval_s * 1e9)
        return True

    def through(self) -> bool:
        """The touch moved through ``p`` (the level is gone and the touch is behind it)."""
        best = self.v.best(self.sc.side)
        if best is None:
            return True
        return best < self.price if self.sc.side == "bid" else best > self.price

    def hit(self, qty: int, now_ns: int) -> list[Fill]:
        self.next_hit_ns = now_ns + int(self.sc.hit_interval_s * 1e9)
        fills = self.v.take(self.sc.side, qty, limit=self.price)
        self.fills.extend(fills)
        self.record_fills(fills)
        self.truth.size = self.qty_f(sum(f.qty for f in self.fills))
        return fills

    def end(self, reason: str) -> None:
        last = self.fills[-1].ts_ms if self.fills else self.v.last_published_ms
        self.finish(reason, last)


class AbsorptionAgent(_AtPrice):
    """Market orders into ``p`` every ``hit_interval_s`` while an absorber re-posts (after
    0..``max_delay_ms``) to keep >= m x median visible there, until its budget is spent.

    ``refill = false`` (the decoy): trades into a level that nobody refills."""

    def setup(self) -> None:
        if not self._setup_price():
            return
        self.keep = self.lots(self.sc.size_multiple)
        self.budget = self.lots(self.sc.budget_multiple, base=self.keep) if self.sc.refill else 0
        self.orders: list[int] = []
        self.refill_due_ns: int | None = self.started_ns if self.sc.refill else None
        self.truth.detail.update(keep_visible=self.qty_f(self.keep), refill=self.sc.refill,
                                 budget=self.qty_f(self.budget), refilled=0.0)

    def step(self, now_ns: int) -> None:
        if self.stopping:
            return
        level = self.v.level_qty(self.sc.side, self.price)
        if self.sc.refill and ((self.refill_due_ns is not None and now_ns >= self.refill_due_ns)
                               or level < self.keep // 2):
            self._top_up()
        if now_ns >= self.next_hit_ns and self.v.best(self.sc.side) == self.price:
            level = self.v.level_qty(self.sc.side, self.price)
            if level > 0:
                self.hit(self.lots(self.rng.uniform(0.4, 0.8), base=level), now_ns)
                if self.sc.refill:
                    delay = self.rng.uniform(0, self.sc.max_delay_ms) * 1e6
                    self.refill_due_ns = now_ns + int(delay)
        resting = sum(self.v.remaining(o) for o in self.orders)
        if self.sc.refill and self.budget <= 0 and resting == 0:
            self.end("budget_spent")
        elif self.crossed() or (not self.sc.refill and
                                self.v.level_qty(self.sc.side, self.price) == 0):
            self._cancel_all()
            self.end("level_gone" if not self.sc.refill else "traded_through")
        elif self.elapsed_s(now_ns) >= self.sc.duration_s:
            self._cancel_all()
            self.end("duration")

    def crossed(self) -> bool:
        """The other side came through ``p`` by more than a tick: the level is lost."""
        other = self.v.best("ask" if self.sc.side == "bid" else "bid")
        tick = self.v.tick
        return other is not None and (other < self.price - tick if self.sc.side == "bid"
                                      else other > self.price + tick)

    def _top_up(self) -> None:
        self.refill_due_ns = None
        if self.crossed():
            return
        want = min(self.keep - self.v.level_qty(self.sc.side, self.price), self.budget)
        want -= want % self.v.step
        if want <= 0:
            return
        order = self.v.place(self.sc.side, self.price, want)
        if order is not None:
            self.orders.append(order)
            self.budget -= want
            self.truth.detail["refilled"] += self.qty_f(want)

    def _cancel_all(self) -> None:
        for order in self.orders:
            self.v.cancel(order)


class IcebergAgent(_AtPrice):
    """A re-posting order at ``p``: peak = ``peak_multiple`` x median, total = ``total_multiple``
    x peak; takers hit the whole level every ``hit_interval_s``; each time the order is used up it
    comes back (size +-20 %) at once (``delay_ms = 0``) or after a lognormal delay of median
    ``delay_ms``. ``refill = false`` (the decoy): the level is hit and not refilled."""

    def setup(self) -> None:
        if not self._setup_price():
            return
        self.peak = self.lots(self.sc.peak_multiple)
        self.total = self.lots(self.sc.total_multiple, base=self.peak)
        self.placed = 0
        self.order: int | None = None
        self.refill_due_ns: int | None = None
        self.refills: list[float] = []
        self._post(self.peak)
        self.mark_start()
        self.truth.detail.update(peak=self.qty_f(self.peak), total=self.qty_f(self.total),
                                 refill=self.sc.refill)

    def executed(self) -> int:
        return self.placed - (self.v.remaining(self.order) if self.order is not None else 0)

    def _post(self, qty: int) -> None:
        qty = min(qty, self.total - self.placed)
        qty -= qty % self.v.step
        if qty <= 0:
            return
        self.order = self.v.place(self.sc.side, self.price, qty)
        self.placed += qty

    def step(self, now_ns: int) -> None:
        if self.stopping:
            return
        if now_ns >= self.next_hit_ns and self.order is not None and self.v.remaining(self.order):
            self.hit(self.v.level_qty(self.sc.side, self.price), now_ns)
        used_up = self.order is None or self.v.remaining(self.order) == 0
        if used_up and self.refill_due_ns is None and self.sc.refill:
            delay = 0.0 if self.sc.delay_ms <= 0 else self.rng.lognormvariate(
                math.log(self.sc.delay_ms), 0.5) * 1e6
            self.refill_due_ns = now_ns + int(delay)
        if self.refill_due_ns is not None and now_ns >= self.refill_due_ns:
            self.refill_due_ns = None
            size = self.lots(self.rng.uniform(0.8, 1.2), base=self.peak)
            before = self.placed
            self._post(size)
            if self.placed > before:
                self.refills.append(self.qty_f(self.placed - before))
        self._update_truth()
        if self.executed() >= self.total:
            self.end("total_spent")
        elif used_up and not self.sc.refill:
            self.end("no_refill")
        elif self.elapsed_s(now_ns) >= self.sc.duration_s or (
                used_up and self.refill_due_ns is None and self.through()):
            if self.order is not None:
                self.v.cancel(self.order)
            self.end("duration" if not self.through() else "traded_through")

    def _update_truth(self) -> None:
        self.truth.size = self.qty_f(self.executed())
        self.truth.detail["refills"] = len(self.refills)
        self.truth.detail["refill_sizes"] = self.refills


class ExhaustionAgent(Agent):
    """One side's near-touch band (``band_ticks`` from the touch) thins progressively to
    ``thin_to`` of its depth over ``duration_s`` (resting orders cancelled, new arrivals damped),
    then a breakout: three market orders 100 ms apart through ``breakout_levels`` levels.
    ``breakout = false`` (the decoy, thin_to 0.6): the thinning is released and recovers."""

    def setup(self) -> None:
        touch = self.v.best(self.sc.side)
        if touch is None:
            self.fail("empty side")
            return
        far = self.away(touch, self.sc.band_ticks)
        self.band = (min(touch, far), max(touch, far))
        self.baseline = self.band_depth()
        self.breakouts = 0
        self.next_break_ns = 0
        t = self.truth
        t.price_from, t.price_to = self.px(touch), self.px(far)
        t.detail.update(baseline_depth=self.qty_f(self.baseline), thin_to=self.sc.thin_to)
        self.mark_start()

    def _follow_touch(self) -> None:
        """Arrivals better than the band are damped too: the band's touch edge follows an
        improving touch (never a receding one, so the thinning cannot run away)."""
        best = self.v.best(self.sc.side)
        if best is None:
            return
        low, high = self.band
        band = (low, max(high, best)) if self.sc.side == "bid" else (min(low, best), high)
        if band != self.band:
            self.v.thin(self.sc.side, *self.band, None)
            self.band = band

    def band_depth(self) -> int:
        low, high = self.band
        return sum(q for p, q in self.v.levels(self.sc.side, 500) if low <= p <= high)

    def step(self, now_ns: int) -> None:
        if self.stopping:
            return
        share = min(self.elapsed_s(now_ns) / self.sc.duration_s, 1.0)
        cap = int(self.baseline * (1 - (1 - self.sc.thin_to) * share))
        self._follow_touch()
        self.v.thin(self.sc.side, *self.band, cap)
        if share < 1.0:
            return
        if "alert_price" not in self.truth.detail:
            best = self.v.best(self.sc.side)
            self.truth.price = self.px(best) if best is not None else self.truth.price_from
            self.truth.size = self.qty_f(self.band_depth())
            self.truth.detail["alert_price"] = self.truth.price
        if not self.sc.breakout:
            self.v.thin(self.sc.side, *self.band, None)
            self.finish("recovered")
            return
        if now_ns >= self.next_break_ns:
            self._break(now_ns)

    def _break(self, now_ns: int) -> None:
        self.next_break_ns = now_ns + 100_000_000
        depth = sum(q for _, q in self.v.levels(self.sc.side, self.sc.breakout_levels))
        fills = self.v.take(self.sc.side, depth)
        if fills and "breakout_ts" not in self.truth.detail:
            self.truth.detail["breakout_ts"] = fills[0].ts_ms / 1000
            self.truth.end_ts = fills[0].ts_ms / 1000
        self.breakouts += 1
        if self.breakouts >= 3:
            self.v.thin(self.sc.side, *self.band, None)
            self.truth.detail["end_reason"] = "breakout"
            if self.truth.end_ts is None:
                self.truth.end_ts = self.v.last_published_ms / 1000
            self.done = True
