"""Injection agents, part 2: events made of a stream of orders (absorption, iceberg, exhaustion).

Same contract as ``injection_agents``: act through the ``Venue``, fill the truth record with the
venue times of the messages that show the event.

Absorption and iceberg-like agents *hold the touch* while they run: nothing may be placed (or,
replayed, shown) better than their price ``p`` on their side (``hold_improving`` plus a band
better than ``p`` thinned to zero). Both events are defined at the touch, and the simulated touch
moves ~7 ticks/s (median), so without the hold a better price appeared within a second and the
event stopped being one (the touch moved away) long before its duration; the price can still
fall through ``p`` when the flow trades through it. Sizes are in the detectors' terms
(``touch_level_median``: the rolling median touch level size, as the detectors' distance-0
baseline reads it).
"""

from __future__ import annotations

import math

from local_exchange.injection_agents import Agent
from local_exchange.injection_venue import Fill, touch_level_median

TOUCH_MULTIPLE = 8.0  # the absorber keeps at least this many touch sizes visible
HIT_SHARE = (0.15, 0.35)  # each injected taker order takes this share of the absorber's level
DECOY_HIT_SHARE = (0.4, 0.8)  # ... and of the decoy's (not refilled) level
HOLD_BAND_TICKS = 1000  # how far beyond ``p`` (toward the other side) the touch hold reaches


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
        self.touch_size = touch_level_median(self.v)
        self.held = False
        self._hold()
        return True

    def _better_band(self) -> tuple[int, int]:
        """The prices better than ``p`` on its side (toward the other side)."""
        reach = HOLD_BAND_TICKS * self.v.tick
        if self.sc.side == "bid":
            return self.price + self.v.tick, self.price + reach
        return self.price - reach, self.price - self.v.tick

    def _hold(self) -> None:
        """Keep ``p`` the touch from inside (see the module docstring); called every step."""
        if not self.held:
            self.held = True
            self.v.hold_improving(True)
        self.v.thin(self.sc.side, *self._better_band(), 0)

    def _release(self) -> None:
        if self.held:
            self.held = False
            self.v.hold_improving(False)
            self.v.thin(self.sc.side, *self._better_band(), None)

    def at_touch(self) -> bool:
        return self.v.best(self.sc.side) == self.price

    def broken(self) -> bool:
        """The flow traded through ``p`` since the last step: the level is empty and the
        side's best sits more than a tick beyond it (what the detectors call traded through).
        The injected event ends there: what follows at ``p`` would be a new one."""
        best = self.v.best(self.sc.side)
        if best is None or self.v.level_qty(self.sc.side, self.price):
            return best is None
        tick = self.v.tick
        return best < self.price - tick if self.sc.side == "bid" else best > self.price + tick

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
        self._release()
        last = self.fills[-1].ts_ms if self.fills else self.v.last_published_ms
        self.finish(reason, last)

    def fail(self, why: str) -> None:
        if getattr(self, "held", False):
            self._release()
        super().fail(why)


class AbsorptionAgent(_AtPrice):
    """Market orders into ``p`` every ``hit_interval_s`` while an absorber re-posts (after
    0..``max_delay_ms``) to keep >= K visible there, until its budget is spent, ``duration_s``
    has passed or the flow traded through ``p``.

    K = m x median and at least ``TOUCH_MULTIPLE`` x the touch level's size, and each hit takes
    ``HIT_SHARE`` of the level: an absorber tops up a level that never runs out (the detector
    tells absorption from iceberg-like slices by exactly that), and the simulated flow's
    heavy-tailed market orders traded through a level of a few touch sizes, hit down to 20 %,
    within 0-3 s (the first scoring runs' absorptions lasted 0.3-10 s of their 20).

    The budget is ``budget_multiple`` x K but at least twice what the injected takers can take
    in ``duration_s`` (the flow's own prints into ``p`` spend it too), so that the absorption
    lasts its duration: with a budget of 6 K alone it was spent after ~2 s.

    ``refill = false`` (the decoy): trades (0.4-0.8 of the level) into a level that nobody
    refills: the level is capped at what is left after each hit, so neither the flow's nor a
    recording's makers refill it either (a replayed level refilled by real makers is a real
    absorption, and was reported as one).
    """

    def setup(self) -> None:
        if not self._setup_price():
            return
        self.keep = max(self.lots(self.sc.size_multiple),
                        self.lots(TOUCH_MULTIPLE, base=self.touch_size))
        self.share = HIT_SHARE if self.sc.refill else DECOY_HIT_SHARE
        hits = math.ceil(self.sc.duration_s / self.sc.hit_interval_s) + 1
        budget = max(self.sc.budget_multiple, 2 * self.share[1] * hits)
        self.budget = self.lots(budget, base=self.keep) if self.sc.refill else 0
        self.orders: list[int] = []
        # The first hit comes with the first step (after the absorber's first top-up): a
        # decoy's level (not kept) was often gone within its first hit interval, never shown.
        self.next_hit_ns = self.started_ns
        self.cap: int | None = None
        self.refill_due_ns: int | None = self.started_ns if self.sc.refill else None
        self.truth.detail.update(keep_visible=self.qty_f(self.keep), refill=self.sc.refill,
                                 budget=self.qty_f(self.budget), refilled=0.0)

    def step(self, now_ns: int) -> None:
        if self.stopping:
            return
        if self.sc.refill and self.fills and self.broken():
            self._cancel_all()
            self.end("traded_through")
            return
        self._hold()
        if self.cap is not None:  # the decoy's level only shrinks
            self.v.thin(self.sc.side, self.price, self.price, self.cap)
        level = self.v.level_qty(self.sc.side, self.price)
        if self.sc.refill and ((self.refill_due_ns is not None and now_ns >= self.refill_due_ns)
                               or level < self.keep // 2):
            self._top_up()
        if now_ns >= self.next_hit_ns and self.at_touch():
            level = self.v.level_qty(self.sc.side, self.price)
            if level > 0:
                self.hit(self.lots(self.rng.uniform(*self.share), base=level), now_ns)
                if not self.sc.refill:
                    self.cap = self.v.level_qty(self.sc.side, self.price)
                    self.v.thin(self.sc.side, self.price, self.price, self.cap)
                else:
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

    def end(self, reason: str) -> None:
        if self.cap is not None:
            self.v.thin(self.sc.side, self.price, self.price, None)
        super().end(reason)


class IcebergAgent(_AtPrice):
    """A re-posting order at ``p``: peak = ``peak_multiple`` x the touch level's size (the
    detector's yardstick: its refills must be >= a quarter of the touch median, and the events
    note puts the peak at 0.5-2 x it), total = ``total_multiple`` x peak; takers hit the whole
    level every ``hit_interval_s`` while ``p`` is the touch; each time the order is used up it
    comes back (size +-20 %) at once (``delay_ms = 0``) or after a lognormal delay of median
    ``delay_ms``. ``refill = false`` (the decoy): the level is hit and not refilled."""

    def setup(self) -> None:
        if not self._setup_price():
            return
        self.peak = self.lots(self.sc.peak_multiple, base=self.touch_size)
        self.total = self.lots(self.sc.total_multiple, base=self.peak)
        self.placed = 0
        self.order: int | None = None
        self.refill_due_ns: int | None = None
        self.refills: list[float] = []
        self._post(self.peak)
        self.mark_start()
        self.truth.detail.update(peak=self.qty_f(self.peak), total=self.qty_f(self.total),
                                 refill=self.sc.refill, touch_size=self.qty_f(self.touch_size))

    def executed(self) -> int:
        return self.placed - (self.v.remaining(self.order) if self.order is not None else 0)

    def _hold(self) -> None:
        """Hold the touch, and keep ``p`` to the re-posting order alone: the simulated makers
        quote at the touch too (~the touch median, lognormal), and their re-quotes mixed into
        every slice made the refills irregular (the detector wants a coefficient of variation
        <= 0.3) and the visible size twice the peak."""
        super()._hold()
        self.v.thin(self.sc.side, self.price, self.price, 0)

    def _release(self) -> None:
        if self.held:
            self.v.thin(self.sc.side, self.price, self.price, None)
        super()._release()

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
        if self.sc.refill and self.fills and self.broken():
            if self.order is not None:
                self.v.cancel(self.order)
            self.end("traded_through")
            return
        self._hold()
        if now_ns >= self.next_hit_ns and self.order is not None and \
                self.v.remaining(self.order) and self.at_touch():
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
        if self.done or self.stopping:
            self._release()

    def _update_truth(self) -> None:
        self.truth.size = self.qty_f(self.executed())
        self.truth.detail["refills"] = len(self.refills)
        self.truth.detail["refill_sizes"] = self.refills


class ExhaustionAgent(Agent):
    """One side's near-touch band (``band_ticks`` from the touch) thins progressively to
    ``thin_to`` of its depth over ``duration_s`` (resting orders cancelled, new arrivals damped),
    then a breakout: three market orders 100 ms apart through ``breakout_levels`` levels.
    ``breakout = false`` (the decoy, thin_to 0.6): the thinning is released and recovers.

    The band follows the touch both ways: the detector measures depth from the side's current
    best, and the simulated touch moves ~7 ticks/s (the 2024-08-08 BTCUSDT one tens of ticks in
    a second), so a band fixed where the touch was at the start (following only an improving
    touch) left the near-touch depth unthinned within seconds. The truth's ``price_from`` /
    ``price_to`` span the touches seen while thinning (the alert may come at any of them);
    ``price`` is the touch when the thinning completes."""

    def setup(self) -> None:
        touch = self.v.best(self.sc.side)
        if touch is None:
            self.fail("empty side")
            return
        self.band = self._band_at(touch)
        self.baseline = self.band_depth()
        self.breakouts = 0
        self.next_break_ns = 0
        self.path = (touch, touch)  # lowest and highest touch seen while thinning
        t = self.truth
        t.price_from = t.price_to = t.price = self.px(touch)
        t.detail.update(baseline_depth=self.qty_f(self.baseline), thin_to=self.sc.thin_to,
                        band_ticks=self.sc.band_ticks)
        self.mark_start()

    def _band_at(self, touch: int) -> tuple[int, int]:
        """``band_ticks`` behind the touch, and as far inside the spread: a quote improving the
        touch between two steps lands in the capped band too (it made D jump back up)."""
        far = self.away(touch, self.sc.band_ticks)
        inside = self.away(touch, -self.sc.band_ticks)
        return min(inside, far), max(inside, far)

    def _follow_touch(self) -> None:
        """Re-anchor the band on the current touch (the old band is released)."""
        best = self.v.best(self.sc.side)
        if best is None:
            return
        if "alert_price" not in self.truth.detail:  # thinning (not the breakout's moves)
            low, high = self.path
            self.path = (min(low, best), max(high, best))
            near, far = (self.path[1], self.path[0]) if self.sc.side == "bid" else self.path
            self.truth.price_from, self.truth.price_to = self.px(near), self.px(far)
        band = self._band_at(best)
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
        # Arrivals stop ("arrivals ramp down and cancels up"); the decoy's recover, capped.
        self.v.thin(self.sc.side, *self.band, cap, stop_arrivals=self.sc.breakout)
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
