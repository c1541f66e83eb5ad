"""The simulator's touch market makers: a thick touch, thin levels behind it, adverse-selection
pulls, determinism, and respect for the injection's spread hold."""

from __future__ import annotations

import statistics

from local_exchange.injection_venue import SimVenue
from local_exchange.instruments import KNOWN_SPECS
from local_exchange.market_model import SimulatedSymbol

BTC = KNOWN_SPECS["BTCUSDT"]
ETH = KNOWN_SPECS["ETHUSDT"]
START = 1_700_000_000_000_000_000
STEP_NS = 100_000_000


def _run(sim: SimulatedSymbol, steps: int, now: int = START):
    for _ in range(steps):
        now += STEP_NS
        yield now, sim.step(now, 0.1)


def _venue_after(seed: int, steps: int) -> tuple[SimulatedSymbol, SimVenue]:
    """A simulated BTCUSDT run for ``steps`` ticks, and the injection's venue over it."""
    sim = SimulatedSymbol(BTC, seed=seed)
    venue = SimVenue(sim)
    now = START
    for now, _ in _run(sim, steps, now):
        pass
    venue.now_ns = now
    return sim, venue


def test_touch_is_thick_and_levels_behind_stay_thin() -> None:
    for spec, low, high in ((BTC, 1.5, 6.0), (ETH, 8.0, 30.0)):
        sim = SimulatedSymbol(spec, seed=3)
        scale = spec.instrument.qty_scale
        touch, behind = [], []
        maker_ids: set[int] = set()
        for now, _out in _run(sim, 600):
            bids, asks = sim.engine.depth(3)
            touch += [bids[0][1], asks[0][1]]
            behind += [q for _, q in bids[1:] + asks[1:]]
            maker_ids |= {q[0] for q in sim.makers.quotes.values() if q is not None}
            # Right after a re-quote each maker quote is the best price of its side: no big
            # level is ever parked behind the touch.
            sim.makers.requote(now)
            for side in ("buy", "sell"):
                quote = sim.makers.quotes[side]  # type: ignore[index]
                best = sim.engine.best_bid() if side == "buy" else sim.engine.best_ask()
                assert quote is not None and quote[0] in sim.engine.orders
                assert sim.engine.orders[quote[0]].price == best
        touch_median = statistics.median(touch) / scale
        behind_median = statistics.median(behind) / scale
        assert low <= touch_median <= high, (spec.symbol, touch_median)
        assert touch_median > 8 * behind_median, (spec.symbol, touch_median, behind_median)
        assert len(maker_ids) > 20  # quotes were re-placed, not one order parked all along
        live = {q[0] for q in sim.makers.quotes.values() if q is not None}
        assert not (maker_ids - live) & set(sim.engine.orders)  # replaced quotes are gone


def test_makers_pull_the_side_the_fair_price_moves_toward() -> None:
    sim = SimulatedSymbol(BTC, seed=5)
    pulls = {"buy": 0, "sell": 0}
    for i, (now, _) in enumerate(_run(sim, 300)):
        bid, ask = sim.engine.best_bid(), sim.engine.best_ask()
        assert bid is not None and ask is not None
        if i % 3:  # the fair price jumps (up, then down) a few ticks away from the mid
            sim.fair = (bid + ask) / 2 + (5 if i % 3 == 1 else -5) * sim.tick
        gap = (sim.fair - (bid + ask) / 2) / (sim.params.maker_pull_ticks * sim.tick)
        sim.makers.requote(now)
        bid_q, ask_q = sim.makers.quotes["buy"], sim.makers.quotes["sell"]
        assert bid_q is not None and ask_q is not None
        if gap > 1.0:  # the ask quote steps back beyond the fair price, the bid pursues
            assert ask_q[1] > sim.fair and ask_q[1] >= ask
            assert bid_q[1] >= bid
            pulls["sell"] += 1
        elif gap < -1.0:
            assert bid_q[1] <= sim.fair and bid_q[1] <= bid
            assert ask_q[1] <= ask
            pulls["buy"] += 1
        assert sim.engine.best_ask() - sim.engine.best_bid() > 0  # type: ignore[operator]
    assert pulls["buy"] > 10 and pulls["sell"] > 10


def test_makers_are_deterministic_engine_orders() -> None:
    runs = []
    for _ in range(2):
        sim = SimulatedSymbol(BTC, seed=11)
        runs.append([(out.depth, out.agg_trades) for _, out in _run(sim, 100)])
    assert runs[0] == runs[1]
    other = SimulatedSymbol(BTC, seed=12)
    assert [(o.depth, o.agg_trades) for _, o in _run(other, 100)] != runs[0]
    # Maker quotes are ordinary resting orders: the published book is the engine's book.
    book = sim.publisher.published_book()
    assert (book.bids, book.asks) == sim.engine.depth(0)


def test_makers_respect_the_spread_hold() -> None:
    sim, venue = _venue_after(seed=9, steps=50)
    now = venue.now_ns
    venue.hold_improving(True)
    bid, ask = sim.engine.best_bid(), sim.engine.best_ask()
    assert bid is not None and ask is not None
    tick, mid = sim.tick, (bid + ask) // 2
    low, high = mid - mid % tick - 5 * tick, mid - mid % tick + 5 * tick
    venue.thin("bid", low + tick, high, 0)
    venue.thin("ask", low, high - tick, 0)
    for now, _ in _run(sim, 30, now):
        bid, ask = sim.engine.best_bid(), sim.engine.best_ask()
        assert bid is not None and ask is not None
        assert bid <= low and ask >= high, "something was placed inside the held spread"
    assert sim.makers.quotes["buy"] or sim.makers.quotes["sell"]  # makers kept quoting
    venue.hold_improving(False)
    for now, _ in _run(sim, 50, now):
        pass
    bid, ask = sim.engine.best_bid(), sim.engine.best_ask()
    assert bid is not None and ask is not None and ask - bid < 10 * tick


def test_injected_order_ids_do_not_pile_up_over_a_long_run() -> None:
    """Injected orders are protected from the flow's cancels by id; once filled or cancelled
    their ids are forgotten (an iceberg refilling for hours placed one id per refill, and each
    stayed in the set forever)."""
    sim, venue = _venue_after(seed=5, steps=20)
    resting = []
    for i in range(5000):
        bid = sim.engine.best_bid()
        assert bid is not None
        order_id = venue.place("bid", bid - 50 * sim.tick, sim.step_units)
        assert order_id is not None
        if i % 100 == 0:
            resting.append(order_id)  # a few stay on the book the whole time
        else:
            assert venue.cancel(order_id)
    assert len(sim.engine.protected) <= 2048, len(sim.engine.protected)
    # Orders still resting are still protected: the flow's random cancel never picks them.
    assert all(o in sim.engine.protected for o in resting)
    assert all(sim.engine.orders[o].qty == sim.step_units for o in resting)
