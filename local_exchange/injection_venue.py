"""What an injection agent may do to a market, and that interface over the simulated engine.

Agents (``injection_agents``) only see a ``Venue``: book reads, resting orders, market orders
and two market-condition levers (thin a price band, hold back spread-improving orders). The
simulated venue maps them onto the order-level ``MatchingEngine`` (injections are real orders
there); the replay venue (``injection_replay``) onto an overlay on a recorded book. Sides are
BOOK sides ("bid"/"ask"); ``take("ask", q)`` is a market BUY consuming asks.
"""

from __future__ import annotations

import bisect
import statistics
import weakref
from collections import deque
from dataclasses import replace
from itertools import accumulate
from typing import Any, NamedTuple, Protocol

from local_exchange.market_model import SimulatedSymbol
from local_exchange.matching import Side
from local_exchange.scenarios import BookSide

NEAR_LEVELS = 10  # levels per side whose sizes define "the median level size near the touch"
# The detectors' distance buckets (features/liquidity/baseline.py BUCKET_EDGES, repeated here so
# the exchange does not import the client): lower edges in ticks from the same side's best.
BUCKET_EDGES: tuple[int, ...] = (0, 1, 3, 6, 11, 21, 51, 101, 201, 501)
BUCKET_REACH = 1000  # the baseline samples levels up to this many ticks from the touch
SIDES: tuple[BookSide, BookSide] = ("bid", "ask")
_MINE_PRUNE_AT = 1024  # injected order ids held before the first sweep of gone ones


class Fill(NamedTuple):
    """What one injected taker order took at one price (one trade message)."""

    price: int
    qty: int
    ts_ms: int


class Venue(Protocol):
    symbol: str
    tick: int
    step: int
    price_scale: int
    qty_scale: int
    now_ns: int
    last_published_ms: int

    @property
    def ready(self) -> bool: ...

    def best(self, side: BookSide) -> int | None: ...

    def raw_best(self, side: BookSide) -> int | None:
        """The market's own best price, ignoring thinning (what a replay recorded)."""
        ...

    def level_qty(self, side: BookSide, price: int) -> int: ...

    def levels(self, side: BookSide, count: int) -> list[tuple[int, int]]: ...

    def place(self, side: BookSide, price: int, qty: int) -> int | None: ...

    def cancel(self, order_id: int) -> bool: ...

    def remaining(self, order_id: int) -> int: ...

    def take(self, side: BookSide, qty: int, limit: int | None = None) -> list[Fill]: ...

    def thin(self, side: BookSide, low: int, high: int, cap: int | None,
             stop_arrivals: bool = False) -> None: ...

    def hold_improving(self, hold: bool) -> None: ...


def maker_side(side: BookSide) -> Side:
    return "buy" if side == "bid" else "sell"


def taker_side(side: BookSide) -> Side:
    """The taker that consumes book side ``side``: asks are taken by buyers."""
    return "buy" if side == "ask" else "sell"


def touch_median(venue: Venue) -> int:
    """Median size of the ``NEAR_LEVELS`` best levels of both sides (qty units, >= one step)."""
    sizes = [q for side in SIDES for _, q in venue.levels(side, NEAR_LEVELS)]
    return max(int(statistics.median(sizes)) if sizes else venue.step, venue.step)


def _sample_volume_medians(venue: Venue) -> list[float | None]:
    """One sample: per distance bucket, the volume-weighted median level size, both sides."""
    per_bucket: list[list[int]] = [[] for _ in BUCKET_EDGES]
    for side in SIDES:
        best = venue.best(side)
        if best is None:
            continue
        for price, qty in venue.levels(side, BUCKET_REACH + 1):
            distance = abs(price - best) // venue.tick
            if distance > BUCKET_REACH:
                break
            if qty > 0:
                per_bucket[bisect.bisect_right(BUCKET_EDGES, distance) - 1].append(qty)
    out: list[float | None] = []
    for sizes in per_bucket:
        if not sizes:
            out.append(None)
            continue
        sizes.sort()
        cumulative = list(accumulate(sizes))
        out.append(float(sizes[bisect.bisect_left(cumulative, cumulative[-1] / 2)]))
    return out


class Yardstick:
    """The detectors' level-size yardstick, kept on the exchange side: every ``every_s`` of
    venue time one sample of per-bucket volume-weighted medians, and per bucket the median of
    the last ``window_s`` of samples (what ``LevelSizeBaseline.volume_median_at`` does on the
    client). One sample alone is far too noisy to size by: on the simulated BTCUSDT book the
    6-20 tick buckets hold a handful of lognormal orders, and single samples ranged 0.008 to
    6.5 BTC where the 30-minute median was ~0.3."""

    def __init__(self, every_s: float = 5.0, window_s: float = 1800.0) -> None:
        self.every_ns = int(every_s * 1e9)
        self.rings: list[deque[float]] = [deque(maxlen=max(1, int(window_s / every_s)))
                                          for _ in BUCKET_EDGES]
        self.next_ns: int | None = None
        # The touch level's size (mean of the two best levels), sampled alike: the plain
        # distance-0 median the iceberg-like/absorption detectors size refills by (H9).
        self.touch_ring: deque[int] = deque(maxlen=self.rings[0].maxlen)

    def sample(self, venue: Venue, now_ns: int) -> None:
        if self.next_ns is not None and now_ns < self.next_ns:
            return
        self.next_ns = now_ns + self.every_ns
        for ring, value in zip(self.rings, _sample_volume_medians(venue)):
            if value is not None:
                ring.append(value)
        self.touch_ring.append(touch_level_size(venue))

    def at(self, distance_ticks: int) -> float | None:
        return _nearest([statistics.median(ring) if ring else None for ring in self.rings],
                        _bucket(distance_ticks))


def _bucket(distance_ticks: int) -> int:
    return bisect.bisect_right(BUCKET_EDGES, max(0, distance_ticks)) - 1


def _nearest(values: list[float | None], i: int) -> float | None:
    """``values[i]``, else the nearest bucket's (nearer the touch first), as the client's
    baseline falls back (an empty 1-2 tick bucket behind a one-tick spread is common)."""
    for step in range(len(values)):
        for j in (i - step, i + step):
            if 0 <= j < len(values) and values[j] is not None:
                return values[j]
    return None


_YARDSTICKS: weakref.WeakKeyDictionary[Any, Yardstick] = weakref.WeakKeyDictionary()


def track_yardstick(venue: Venue, now_ns: int) -> None:
    """Called on every injector step: sample ``venue``'s yardstick when due."""
    tracker = _YARDSTICKS.get(venue)
    if tracker is None:
        tracker = _YARDSTICKS[venue] = Yardstick()
    tracker.sample(venue, now_ns)


def volume_median_at(venue: Venue, distance_ticks: int) -> int:
    """The volume-weighted median level size (qty units, >= one step) at ``distance_ticks``
    from the touch, both sides pooled: the wall and layering detectors' yardstick
    (``LevelSizeBaseline.volume_median_at``), from the venue's ``Yardstick`` (rolling median
    of 5 s samples) once it has one, else from one sample now. An injection sized as m x this
    is m x the detectors' threshold unit; the plain median of ``touch_median`` is odd-lot dust
    on BTCUSDT (0.07 BTC against ~2-3 BTC here)."""
    tracker = _YARDSTICKS.get(venue)
    value = tracker.at(distance_ticks) if tracker is not None else None
    if value is None:
        value = _nearest(_sample_volume_medians(venue), _bucket(distance_ticks))
    if value is None:
        return touch_median(venue)
    return max(int(value), venue.step)


def touch_level_size(venue: Venue) -> int:
    """Mean size of the two best levels (qty units, >= one step): one sample of what the
    detectors' distance-0 baseline (``LevelSizeBaseline.median_at(0)``) medians over time, the
    yardstick of the iceberg-like and absorption detectors' refill sizes. ``touch_median``
    (the 10 best levels) is mostly odd-lot dust behind the touch on BTCUSDT."""
    sizes = [q for side in SIDES for _, q in venue.levels(side, 1)]
    return max(sum(sizes) // len(sizes) if sizes else venue.step, venue.step)


def touch_level_median(venue: Venue) -> int:
    """The rolling median of ``touch_level_size`` (the venue's ``Yardstick`` samples it every
    5 s): what the detectors' ``LevelSizeBaseline.median_at(0)`` reads, the unit of the
    iceberg-like detector's refill floor. One sample alone is noisy (0.003-0.4 BTC on the
    simulated BTCUSDT touch); falls back to one sample before the first."""
    tracker = _YARDSTICKS.get(venue)
    if tracker is None or not tracker.touch_ring:
        return touch_level_size(venue)
    return max(int(statistics.median(tracker.touch_ring)), venue.step)


class SimVenue:
    """A ``Venue`` over one simulated symbol's matching engine."""

    def __init__(self, sim: SimulatedSymbol) -> None:
        self.sim = sim
        self.engine = sim.engine
        self.symbol = sim.spec.symbol
        instrument = sim.spec.instrument
        self.tick, self.step = instrument.tick_units, instrument.step_units
        self.price_scale, self.qty_scale = instrument.price_scale, instrument.qty_scale
        self.now_ns = 0
        self.last_published_ms = 0
        self._params = sim.params
        self._holds = 0
        self._mine: set[int] = set()  # injected orders: thinning never cancels these...
        self.engine.protected = self._mine  # ...nor the flow's random cancels
        self._mine_limit = _MINE_PRUNE_AT  # prune filled and cancelled ids past this many

    @property
    def ready(self) -> bool:
        return True

    def best(self, side: BookSide) -> int | None:
        return self.engine.best_bid() if side == "bid" else self.engine.best_ask()

    def raw_best(self, side: BookSide) -> int | None:
        return self.best(side)  # thinning cancels real orders: nothing is hidden

    def level_qty(self, side: BookSide, price: int) -> int:
        return self.engine.level_qty(maker_side(side), price)

    def levels(self, side: BookSide, count: int) -> list[tuple[int, int]]:
        bids, asks = self.engine.depth(count)
        return bids if side == "bid" else asks

    def place(self, side: BookSide, price: int, qty: int) -> int | None:
        order_id = self.engine.add_limit(maker_side(side), price, qty, self.now_ns)
        if order_id is not None:
            self._mine.add(order_id)
            if len(self._mine) > self._mine_limit:
                self._forget_gone()
        return order_id

    def _forget_gone(self) -> None:
        """Drop the ids of injected orders no longer resting (filled or cancelled): an iceberg
        refilling for hours would otherwise keep every id it ever placed. In place, because the
        engine holds this same set; the limit doubles past what still rests, so the sweep is
        amortised O(1) a placement."""
        resting = self.engine.orders
        self._mine.difference_update([o for o in self._mine if o not in resting])
        self._mine_limit = max(_MINE_PRUNE_AT, 2 * len(self._mine))

    def cancel(self, order_id: int) -> bool:
        return self.engine.cancel(order_id, self.now_ns)

    def remaining(self, order_id: int) -> int:
        order = self.engine.orders.get(order_id)
        return order.qty if order is not None else 0

    def take(self, side: BookSide, qty: int, limit: int | None = None) -> list[Fill]:
        engine, start = self.engine, len(self.engine.pending_takes)
        if qty <= 0 or (self.best(side) is None):
            return []
        if limit is None:
            engine.market(taker_side(side), qty, self.now_ns)
        else:
            # Immediate-or-cancel: whatever did not match at ``limit`` or better is withdrawn.
            rest = engine.add_limit(taker_side(side), limit, qty, self.now_ns)
            if rest is not None:
                engine.cancel(rest, self.now_ns)
        return [Fill(t.price, t.qty, t.ts_ns // 1_000_000) for t in engine.pending_takes[start:]]

    def thin(self, side: BookSide, low: int, high: int, cap: int | None,
             stop_arrivals: bool = False) -> None:
        """Thin [low, high] to <= ``cap`` and keep the flow's new orders there under it, or
        out of it altogether with ``stop_arrivals`` (``SimulatedSymbol.band_caps``); None
        releases the band.

        Every level keeps the same share (cap / band total), newest orders cancelled first,
        as the replay venue scales recorded sizes: cancelling nearest the touch first only
        moved the touch into the unthinned rest of the band, and depth measured from the
        touch hardly fell."""
        key = (maker_side(side), low, high)
        if cap is None:
            self.sim.band_caps.pop(key, None)
            return
        self.sim.band_caps[key] = (cap, stop_arrivals)
        book = self.engine.bids if side == "bid" else self.engine.asks
        prices = list(book.irange(low, high))
        total = sum(book[p].total for p in prices)
        if total <= cap:
            return
        keep = cap / total
        for price in prices:
            level = book[price]
            target = level.total * keep
            for order_id in reversed(list(level.orders)):
                if level.total <= target:
                    break
                if order_id not in self._mine:
                    self.engine.cancel(order_id, self.now_ns)

    def hold_improving(self, hold: bool) -> None:
        """While held, the flow places no order inside the spread (so a widened spread stays)."""
        self._holds += 1 if hold else -1
        self.sim.params = replace(self._params, improve_prob=0.0) if self._holds > 0 \
            else self._params
