"""Synthetic order flow for the simulated symbols: seeded, cheap, statistically Binance-like.

Calibrated against the 2024-08-08 BTCUSDT/ETHUSDT recordings (see scripts/feed_stats.py): most
level changes happen hundreds of ticks from the touch (only ~5% within 10 ticks), the spread is
almost always one tick, and market orders have heavy-tailed sizes that sometimes sweep levels.

Flow per symbol, all Poisson: limit orders (price distance from the same-side touch: a small
near-touch share, a lognormal far share), uniform random cancels (every resting order has the
same hazard, so the book relaxes to ``limit_rate * lifetime`` orders per side), market orders
with Pareto notional whose side leans toward a latent fair price (that lean is what makes the
mid wander: takers deplete the touch on the side the fair price moved to). When the
spread is wider than one tick, some new orders improve it, which
is what keeps the real books at one tick. Each side is trimmed to ``max_levels`` by cancelling
the farthest level, so a 1000-level snapshot is the whole book.

Market makers (``TouchMakers``) quote at the touch the way real ones do: the real touch holds
~100x what the levels behind it hold (BTCUSDT 2024-08-08: median 3.1 BTC vs 0.035 BTC). One
quote per side (lognormal size around that real touch depth) is re-placed at the start of every
step and after every market order when it is gone, mostly filled or not where it should be: at
the best price, improving it up to the fair price (so the spread closes at one tick), and never
left behind the touch. The side the latent fair price moved toward is pulled (adverse
selection): its quote steps back beyond the fair price and the small quotes in between go too
(``fade_prob``), so the mid re-prices mostly by quotes, as real books do, instead of takers
walking thin levels (which made nearly every move a multi-level sweep). While a spread hold is
on (``improve_prob`` 0, see ``injection_venue.hold_improving``) makers only join the best price
and nothing is faded, so a held spread stays held.

Capped bands (``band_caps``, set by injections that thin a side, see
``injection_venue.SimVenue.thin``): a new limit order or maker quote inside a capped band is cut
to the room left under the cap, or, where the band stops arrivals, not placed at all. Without
caps the makers re-quoted a thinned touch within the same 100 ms step and the thinning never
reached the published book; with room-only caps what takers ate was refilled as fast (no net
cancellation, which exhaustion needs: its arrivals ramp down).

Coherent venues (``asset_path``): the latent fair price is the asset's anchor
(``instruments.ASSET_ANCHORS``) on the asset's common path, a pure function of time that every
venue's instance computes alike with nothing shared, times the venue's premium (the perpetual a
little above spot) and its own small mean-reverting deviation. So the same asset's books on
different venues stay within a few bps of each other, as arbitrage keeps real ones, while each
keeps its own spreads, depth and rates. ``fair_vol_ticks`` still sets each venue's volatility;
venues of one asset must mean the same bps by it (the listed flows do), or they drift apart.

A dislocation (``SimulatedSymbol.dislocate``) moves one venue's whole book and fair price by a
whole number of ticks for a while, which is what a cross-venue view needs to be tested against.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from local_exchange.asset_path import VENUE_PREMIUM_BPS, VenueFair
from local_exchange.instruments import ASSET_ANCHORS, SymbolSpec, venue_of
from local_exchange.matching import MatchingEngine, Side
from local_exchange.publisher import DepthPublisher, TickOutput
from marketdata.markets import MarketId


@dataclass(frozen=True, slots=True)
class FlowParams:
    """Order-flow knobs for one symbol. Rates are per second; notionals in quote currency."""

    limit_rate: float = 200.0         # new limit orders per side
    order_lifetime_s: float = 12.0    # mean resting time before a random cancel
    market_rate: float = 25.0         # market orders, both sides together
    near_share: float = 0.05          # share of limit orders within 10 ticks of the touch
    near_mean_ticks: float = 2.0
    far_median_ticks: float = 250.0   # lognormal distance of the other limit orders
    far_sigma: float = 0.9
    max_distance_ticks: int = 2500
    improve_prob: float = 0.85        # when spread > 1 tick: share of orders placed inside it
    near_notional_median: float = 1_000.0  # levels 2-3: sim ~0.03 BTC, real 0.035
    fair_vol_ticks: float = 15.0      # latent fair price's volatility, ticks per sqrt(second)
    deviation_bps: float = 1.0        # this venue's own wander around the asset's common path
    deviation_half_life_s: float = 300.0  # (stationary std, and how fast it reverts)
    fair_pull_ticks: float = 3.0      # how strongly takers lean toward the fair price
    limit_notional_median: float = 2_000.0
    limit_notional_sigma: float = 1.6
    market_notional_min: float = 1_000.0
    market_pareto_alpha: float = 1.15
    market_notional_max: float = 3_000_000.0
    max_levels: int = 780
    ids_per_change_max: int = 124     # Binance: ~62 update ids per published level change
    # Touch market makers (see ``TouchMakers``); sizes in base units (BTC, ETH), not notional.
    maker_qty_median: float = 3.2     # real BTCUSDT touch median 3.13 BTC (scripts/feed_stats.py)
    maker_qty_sigma: float = 0.6      # lognormal spread of each quote's size
    maker_refill_share: float = 0.3   # re-quote when less than this share of the quote is left
    maker_pull_ticks: float = 1.5     # pull the side the fair price is this far beyond the mid
    fade_prob: float = 1.0            # on a pull, share of the small quotes up to the fair
                                      # price pulled too (the other maker then pursues)


DEFAULT_FLOW: dict[str, FlowParams] = {
    "BTCUSDT": FlowParams(),
    "ETHUSDT": FlowParams(market_rate=20.0, fair_vol_ticks=12.0, far_median_ticks=180.0,
                          market_notional_min=250.0,
                          near_notional_median=800.0, limit_notional_median=800.0,
                          maker_qty_median=16.0),  # real ETHUSDT touch median 15.6 ETH
    # No recordings of these: activity scaled down from ETHUSDT by market size, the touch
    # quote worth 15-40k USD, and the fair price's volatility ~0.5 bp per sqrt(second) as on
    # ETHUSDT, expressed in each market's ticks (under one tick for the large-tick markets,
    # whose touch then mostly holds still, as theirs does). Book depth spans ~1 % of price.
    "BNBUSDT": FlowParams(limit_rate=120.0, market_rate=10.0, fair_vol_ticks=2.3,
                          far_median_ticks=200.0, market_notional_min=250.0,
                          near_notional_median=600.0, limit_notional_median=600.0,
                          maker_qty_median=48.0),
    "SOLUSDT": FlowParams(limit_rate=150.0, market_rate=15.0, fair_vol_ticks=0.7,
                          far_median_ticks=100.0, max_distance_ticks=1000,
                          market_notional_min=250.0, near_notional_median=700.0,
                          limit_notional_median=700.0, maker_qty_median=260.0),
    "XRPUSDT": FlowParams(limit_rate=80.0, market_rate=8.0, fair_vol_ticks=0.25,
                          far_median_ticks=60.0, max_distance_ticks=600,
                          market_notional_min=100.0, near_notional_median=500.0,
                          limit_notional_median=500.0, maker_qty_median=53_000.0),
    "DOGEUSDT": FlowParams(limit_rate=80.0, market_rate=8.0, fair_vol_ticks=0.45,
                           far_median_ticks=60.0, max_distance_ticks=600,
                           market_notional_min=100.0, near_notional_median=500.0,
                           limit_notional_median=500.0, maker_qty_median=250_000.0),
    "LINKUSDT": FlowParams(limit_rate=60.0, market_rate=5.0, fair_vol_ticks=0.44,
                           far_median_ticks=80.0, max_distance_ticks=800,
                           market_notional_min=100.0, near_notional_median=400.0,
                           limit_notional_median=400.0, maker_qty_median=1_500.0),
}


# Binance Spot's BTCUSDT tick is a tenth of the perpetual's (0.01 vs 0.10): the same price
# volatility and book spread take ten times as many ticks. ETH, BNB and SOL have the same tick on
# both. Touch sizes are the Spot recordings' (2024-08-08/09, scripts/feed_stats.py --venue spot:
# median touch 2.0 BTC and 9.6 ETH, against 3.1 and 15.6 on the perpetual).
SPOT_FLOW: dict[str, FlowParams] = {
    "BTCUSDT": replace(DEFAULT_FLOW["BTCUSDT"], fair_vol_ticks=150.0, far_median_ticks=2500.0,
                       max_distance_ticks=25_000, maker_pull_ticks=15.0, maker_qty_median=2.0),
    "ETHUSDT": replace(DEFAULT_FLOW["ETHUSDT"], maker_qty_median=9.6),
    "BNBUSDT": DEFAULT_FLOW["BNBUSDT"],
    "SOLUSDT": DEFAULT_FLOW["SOLUSDT"],
}


# Coinbase Advanced Trade, calibrated on the 25 s capture of 2026-08-09 21:05 UTC
# (scripts/feed_stats.py --venue coinbase; a short, quiet window, so these are rough): ~10x fewer
# level changes than Binance's perpetual (80/s BTC-USD, 122/s ETH-USD; the longer lifetime keeps
# the book deep at these rates), ~2 taker orders/s on BTC and ~0.8/s on ETH, tiny prints (median
# ~$30 on BTC, ~$70 on ETH, ETH's tail heavy enough to sweep), touch 0.25 BTC and 0.11 ETH.
# Coinbase's BTC tick (0.01) is a tenth of the perpetual's, so distances are ten times the
# ticks, as on Spot. Volatility is the asset's, the same bps as on Binance (150 x 0.01 for BTC,
# 12 x 0.01 for ETH), as one common path carries all venues of an asset: the capture's BTC did
# not move in its 25 s and its ETH moved ~0.15 bp per sqrt second, which the model had before
# the venues were tied together. Not reproduced: ETH-USD's ~7-tick spread (the makers here
# always close it to one tick) and Coinbase's full-depth books (tens of thousands of levels).
COINBASE_FLOW: dict[str, FlowParams] = {
    "BTC-USD": replace(DEFAULT_FLOW["BTCUSDT"], limit_rate=20.0, order_lifetime_s=60.0,
                       market_rate=1.9, market_notional_min=16.0, near_notional_median=350.0,
                       fair_vol_ticks=150.0, far_median_ticks=2500.0, max_distance_ticks=25_000,
                       maker_qty_median=0.25),
    "ETH-USD": replace(DEFAULT_FLOW["ETHUSDT"], limit_rate=30.0, order_lifetime_s=60.0,
                       near_share=0.15, market_rate=0.8, market_notional_min=30.0,
                       market_pareto_alpha=0.85, market_notional_max=50_000.0,
                       near_notional_median=500.0,
                       fair_vol_ticks=12.0, maker_qty_median=0.107),
}


class SimulatedSymbol:
    """Engine + flow + publisher for one symbol; ``step`` advances by one publish interval."""

    def __init__(self, spec: SymbolSpec, seed: int, params: FlowParams | None = None,
                 start_ns: int | None = None, venue: str | None = None) -> None:
        """``start_ns`` is the venue time (ns) the book starts at: the common path is read at
        venue time, so the local exchanges give their clock's time and agree with each other.
        Left out, the first step's start is taken as path time 0 (offline runs on a made-up
        clock, which would otherwise find the path moved on since time 0 and chase it).
        ``venue`` (``marketdata.markets`` names) picks the premium and, with the symbol, names
        the asset; by default it is told from the spec (``instruments.venue_of``)."""
        self.spec = spec
        self.params = params or DEFAULT_FLOW.get(spec.symbol, FlowParams())
        self.rng = random.Random(f"{seed}:{spec.symbol}")
        instrument = spec.instrument
        self.tick = instrument.tick_units
        self.step_units = instrument.step_units
        self.venue = venue or venue_of(spec)
        self.asset = MarketId(self.venue, spec.symbol).base
        self.fair_model = self._venue_fair(seed)
        # An active dislocation: (book and fair price offset in price units, end time in ns).
        self._dislocation: tuple[int, int] | None = None
        # Venue time minus path time; None until the first step when no start time was given.
        self._path_lag_ns: int | None = None if start_ns is None else 0
        self._flow_end_ns = 0  # where the last tick's flow window ended
        start_ns = start_ns or 0
        self.fair = self.fair_model.price(start_ns)
        self.reference = int(self.fair)
        gap_max = self.params.ids_per_change_max
        self.engine = MatchingEngine(
            spec.symbol,
            first_update_id=4_000_000_000_000 + self.rng.randrange(10**12),
            first_trade_id=1_000_000_000 + self.rng.randrange(10**9),
            id_gap=lambda: self.rng.randrange(gap_max))
        # (side, low, high) -> (the most the band may hold in qty units, arrivals stopped);
        # see the module doc.
        self.band_caps: dict[tuple[Side, int, int], tuple[int, bool]] = {}
        self.makers = TouchMakers(self)
        self._seed_book(start_ns)
        self.makers.requote(start_ns)
        self.engine.drain_changes()
        self.engine.drain_takes()
        self.publisher = DepthPublisher(self.engine, spec,
                                        first_agg_id=300_000_000 + self.rng.randrange(10**8))

    def _venue_fair(self, seed: int) -> VenueFair:
        """The fair price model: the asset's anchor (else the spec's start price) on the
        asset's common path, with this venue's premium and its own seeded deviation."""
        p, prices = self.params, self.spec.instrument.prices
        anchor_text = ASSET_ANCHORS.get(self.asset)
        anchor = prices.parse(anchor_text or self.spec.start_price)
        # In bps of the anchor, rounded so that venues quoting one asset in different ticks
        # (BTC: 15 x 0.10 on the perpetual, 150 x 0.01 on Spot) get exactly the same number.
        vol_bps = round(p.fair_vol_ticks * self.tick / anchor * 1e4, 4)
        return VenueFair(self.asset, float(anchor), vol_bps,
                         VENUE_PREMIUM_BPS.get(self.venue, 0.0), p.deviation_bps,
                         p.deviation_half_life_s,
                         random.Random(f"{seed}:{self.venue}:{self.spec.symbol}:deviation"))

    # ---------------------------------------------------------------- stepping
    def step(self, now_ns: int, dt_s: float, flow: bool = True) -> TickOutput:
        """Run ``dt_s`` seconds of flow ending at ``now_ns`` (unless paused), then publish."""
        if self._dislocation is not None and now_ns >= self._dislocation[1]:
            offset, end_ns = self._dislocation
            self._dislocation = None
            self._shift(-offset, max(end_ns, now_ns - int(dt_s * 1e9)))
        if self._path_lag_ns is None:
            self._path_lag_ns = now_ns - int(dt_s * 1e9)
        if flow:
            self._run_flow(now_ns, dt_s)
        return self.publisher.publish(now_ns // 1_000_000)

    def dislocate(self, bps: float, seconds: float, now_ns: int) -> None:
        """Push this venue's price by ``bps`` (positive = up) for ``seconds`` from ``now_ns``.

        The whole book and the fair price move at once by the whole number of ticks nearest to
        ``bps`` of the mid (published with the next step), and back the same way at the end. A
        call while one is active replaces it (the book moves by the difference).
        """
        bid, ask = self.engine.best_bid(), self.engine.best_ask()
        mid = (bid + ask) / 2 if bid is not None and ask is not None else self.fair
        offset = round(mid * bps * 1e-4 / self.tick) * self.tick
        previous = self.dislocation_offset()
        self._dislocation = (offset, now_ns + int(seconds * 1e9))
        self._shift(offset - previous, now_ns)

    def index_price(self, now_ns: int) -> float:
        """The asset's spot reference at venue time ``now_ns``, in this market's price units:
        the common path without this venue's premium, own deviation or dislocation (what
        Binance's index, an average of spot venues, tracks). For the perpetual's index price."""
        path_ns = now_ns - (self._path_lag_ns or 0)
        return self.fair_model.anchor * math.exp(self.fair_model.common_bps(path_ns) * 1e-4)

    def dislocation_offset(self) -> int:
        """The active dislocation's offset in price units (0 when there is none)."""
        return self._dislocation[0] if self._dislocation is not None else 0

    def _shift(self, delta: int, ts: int) -> None:
        """Move the book and the fair price by ``delta`` price units (whole ticks)."""
        if delta == 0:
            return
        self.fair += delta
        self.reference += delta
        self.engine.shift(delta, ts)
        for side, quote in self.makers.quotes.items():
            if quote is not None:
                self.makers.quotes[side] = (quote[0], quote[1] + delta, quote[2])

    def _run_flow(self, now_ns: int, dt_s: float) -> None:
        p, engine, rng = self.params, self.engine, self.rng
        self.fair_model.advance(dt_s)
        self.fair = (self.fair_model.price(now_ns - (self._path_lag_ns or 0))
                     + self.dislocation_offset())
        # A late tick followed by a catch-up tick would overlap their windows: a window starts
        # where the previous one ended, so event times (trade T) never go backwards.
        start_ns = max(now_ns - int(dt_s * 1e9), self._flow_end_ns)
        span_s = max(0.0, (now_ns - start_ns) / 1e9)
        self._flow_end_ns = max(now_ns, self._flow_end_ns)
        self.makers.requote(start_ns)  # makers see the new fair price before the takers do
        cancel_rate = len(engine.orders) / p.order_lifetime_s
        limit_rate = 2 * p.limit_rate
        total = limit_rate + cancel_rate + p.market_rate
        t = rng.expovariate(total)
        while t < span_s:
            ts = start_ns + int(t * 1e9)
            u = rng.random() * total
            if u < limit_rate:
                self._limit_order("buy" if u < p.limit_rate else "sell", ts)
            elif u < limit_rate + cancel_rate:
                order = engine.random_order(rng)
                if order is not None and not self.makers.owns(order.order_id):
                    engine.cancel(order.order_id, ts)
            else:
                self._market_order(ts)
                self.makers.requote(ts)  # real makers re-quote within milliseconds of a fill
            t += rng.expovariate(total)
        self._trim(now_ns)

    # ------------------------------------------------------------------ orders
    def _touch(self, side: Side) -> int:
        bid, ask = self.engine.best_bid(), self.engine.best_ask()
        if bid is not None and ask is not None:
            self.reference = (bid + ask) // 2
        if side == "buy":
            return bid if bid is not None else (ask - self.tick if ask else self.reference)
        return ask if ask is not None else (bid + self.tick if bid else self.reference)

    def _limit_order(self, side: Side, ts: int) -> None:
        p, rng, tick = self.params, self.rng, self.tick
        bid, ask = self.engine.best_bid(), self.engine.best_ask()
        wide = bid is not None and ask is not None and ask - bid > tick
        if wide and rng.random() < p.improve_prob:
            assert bid is not None and ask is not None
            price = bid + tick * rng.randint(1, (ask - bid) // tick - 1)
            near = True
        else:
            price, near = self._distance_price(side, self._touch(side))
        if price <= 0:
            return
        median = p.near_notional_median if near else p.limit_notional_median
        notional = median * math.exp(rng.gauss(0.0, p.limit_notional_sigma))
        qty = self.capped(side, price, self._lots(notional, price))
        if qty > 0:
            self.engine.add_limit(side, price, qty, ts)

    def capped(self, side: Side, price: int, qty: int) -> int:
        """``qty`` cut to what the capped bands holding ``price`` let in (whole lots)."""
        if not self.band_caps:
            return qty
        book = self.engine.bids if side == "buy" else self.engine.asks
        for (band_side, low, high), (cap, stopped) in self.band_caps.items():
            if band_side == side and low <= price <= high:
                if stopped:
                    return 0
                room = max(0, cap - sum(book[p].total for p in book.irange(low, high)))
                qty = min(qty, room - room % self.step_units)
        return qty

    def _distance_price(self, side: Side, touch: int) -> tuple[int, bool]:
        p, rng = self.params, self.rng
        if near := rng.random() < p.near_share:
            ticks = min(int(rng.expovariate(1.0 / p.near_mean_ticks)), 10)
        else:
            ticks = int(p.far_median_ticks * math.exp(rng.gauss(0.0, p.far_sigma)))
            ticks = min(max(ticks, 11), p.max_distance_ticks)
        # Snap to the tick grid (a touch price always is; the reference mid may not be).
        touch -= touch % self.tick
        price = touch - ticks * self.tick if side == "buy" else touch + ticks * self.tick
        return price, near

    def _market_order(self, ts: int) -> None:
        p, rng = self.params, self.rng
        bid, ask = self.engine.best_bid(), self.engine.best_ask()
        lean = 0.0
        if bid is not None and ask is not None:
            lean = math.tanh((self.fair - (bid + ask) / 2) / (p.fair_pull_ticks * self.tick))
            # Keep the latent price within reach of the book so it cannot run away.
            self.fair = min(max(self.fair, bid - 50 * self.tick), ask + 50 * self.tick)
        side: Side = "buy" if rng.random() < 0.5 + 0.45 * lean else "sell"
        notional = min(p.market_notional_min * rng.paretovariate(p.market_pareto_alpha),
                       p.market_notional_max)
        price = self._touch("sell" if side == "buy" else "buy")
        if (self.engine.asks if side == "buy" else self.engine.bids):
            self.engine.market(side, self._lots(notional, price), ts)

    def _lots(self, notional: float, price: int) -> int:
        instrument = self.spec.instrument
        qty_units = notional * instrument.price_scale * instrument.qty_scale / price
        lots = int(qty_units / self.step_units)
        return max(lots, 1) * self.step_units

    def _trim(self, ts: int) -> None:
        """Keep each side under ``max_levels`` by cancelling its farthest level."""
        for book, far_index in ((self.engine.bids, 0), (self.engine.asks, -1)):
            while len(book) > self.params.max_levels:
                _, level = book.peekitem(far_index)
                for order_id in list(level.orders):
                    self.engine.cancel(order_id, ts)

    def _seed_book(self, ts: int) -> None:
        """Start from roughly the steady state: ``limit_rate * lifetime`` orders per side."""
        p, tick = self.params, self.tick
        mid = self.reference - self.reference % tick
        self.engine.add_limit("buy", mid, self._lots(p.limit_notional_median, mid), ts)
        self.engine.add_limit("sell", mid + tick, self._lots(p.limit_notional_median, mid), ts)
        for _ in range(int(p.limit_rate * p.order_lifetime_s)):
            for side in ("buy", "sell"):
                self._limit_order(side, ts)  # type: ignore[arg-type]
        self._trim(ts)


FADE_LEVELS_MAX = 20  # bounds the per-step cost of a fade


class TouchMakers:
    """One large quote per side at the touch, re-placed as the module doc describes.

    Each quote is a real engine order (update ids, trades and fills all come from the engine);
    the flow's random cancels skip it, its life is the maker's.
    """

    def __init__(self, sim: SimulatedSymbol) -> None:
        self.sim = sim
        self.quotes: dict[Side, tuple[int, int, int] | None] = {"buy": None, "sell": None}
        # per side: (order id, price, placed qty) of the live quote

    def owns(self, order_id: int) -> bool:
        return any(q is not None and q[0] == order_id for q in self.quotes.values())

    def requote(self, ts: int) -> None:
        engine, sim, p = self.sim.engine, self.sim, self.sim.params
        if engine.best_bid() is None or engine.best_ask() is None:
            return
        bid, ask = engine.best_bid() or 0, engine.best_ask() or 0
        # Adverse selection: the side the fair price moved toward is about to be run over.
        gap = (sim.fair - (bid + ask) / 2) / (p.maker_pull_ticks * sim.tick)
        pulled: Side | None = "sell" if gap > 1.0 else "buy" if gap < -1.0 else None
        # A held spread (improve_prob 0, see injection_venue.hold_improving) must stay as it
        # is: no fading and no improving quotes then.
        reprice = p.improve_prob > 0
        if pulled is not None and reprice and p.fade_prob > 0:
            self._fade(pulled, ts)  # type: ignore[arg-type]
        # The pulled side first: the other side's quote then pursues up to its new price.
        for side in ("sell", "buy") if pulled == "sell" else ("buy", "sell"):
            if side == pulled:
                target = self._step_back(side)  # type: ignore[arg-type]
            else:
                target = self._target(side, reprice)  # type: ignore[arg-type]
            self._requote_side(side, target, ts)  # type: ignore[arg-type]

    def _fair_tick(self) -> int:
        fair = int(self.sim.fair)
        return fair - fair % self.sim.tick

    def _target(self, side: Side, pursue: bool) -> int:
        """The best price on ``side``; when pursuing the fair price, the fair price or a tick
        inside the other side, whichever is nearer (never marketable)."""
        engine, tick = self.sim.engine, self.sim.tick
        best = (engine.best_bid() if side == "buy" else engine.best_ask()) or 0
        other = engine.best_ask() if side == "buy" else engine.best_bid()
        if not pursue or other is None or best <= 0:
            return best
        fair = self._fair_tick()
        if side == "buy":
            return max(best, min(fair, other - tick))
        return min(best, max(fair + tick, other + tick))

    def _step_back(self, side: Side) -> int:
        """The pulled quote waits a tick beyond the fair price (or its own best if beyond)."""
        engine, tick = self.sim.engine, self.sim.tick
        fair = self._fair_tick()
        if side == "sell":
            return max(engine.best_ask() or 0, fair + tick)
        return min(engine.best_bid() or 0, fair)

    def _fade(self, side: Side, ts: int) -> None:
        """Other small quotes between the touch and the fair price go too (each with
        ``fade_prob``): everyone sees the move coming, so the mid re-prices mostly by quotes,
        not by takers walking thin levels (which made nearly every move a sweep)."""
        engine, sim = self.sim.engine, self.sim
        book = engine.bids if side == "buy" else engine.asks
        if side == "buy":
            prices = list(book.irange(math.ceil(sim.fair), None))[::-1]
        else:
            prices = list(book.irange(None, math.floor(sim.fair)))
        for price in prices[:FADE_LEVELS_MAX]:
            for order_id in list(book[price].orders):
                if order_id in engine.protected or self.owns(order_id):
                    continue
                if sim.rng.random() < sim.params.fade_prob:
                    engine.cancel(order_id, ts)

    def _requote_side(self, side: Side, target: int, ts: int) -> None:
        engine, quote = self.sim.engine, self.quotes[side]
        if quote is not None:
            order_id, price, placed = quote
            order = engine.orders.get(order_id)
            left = order.qty if order is not None else 0
            if price == target and left >= placed * self.sim.params.maker_refill_share:
                return
            if order is not None:
                engine.cancel(order_id, ts)
            self.quotes[side] = None
            if price == target:  # the quote may have been the whole touch level: re-read it
                target = self._target(side, False)
        if target <= 0:
            return
        qty = self.sim.capped(side, target, self._size())
        if qty <= 0:
            return
        order_id = engine.add_limit(side, target, qty, ts)  # never marketable (see targets)
        if order_id is not None:
            self.quotes[side] = (order_id, target, qty)

    def _size(self) -> int:
        sim = self.sim
        p, instrument = sim.params, sim.spec.instrument
        base = p.maker_qty_median * math.exp(sim.rng.gauss(0.0, p.maker_qty_sigma))
        lots = int(base * instrument.qty_scale / sim.step_units)
        return max(lots, 1) * sim.step_units
