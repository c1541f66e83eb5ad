"""Matching engine, publisher and fault filter: synchronous core, no sockets."""

from __future__ import annotations

import random

from local_exchange.faults import DepthFaults
from local_exchange.instruments import KNOWN_SPECS
from local_exchange.market_model import SimulatedSymbol
from local_exchange.matching import MatchingEngine
from local_exchange.publisher import DepthMerger, DepthPublisher

BTC = KNOWN_SPECS["BTCUSDT"]


def engine() -> MatchingEngine:
    return MatchingEngine("BTCUSDT", first_update_id=100)


def test_price_time_priority_and_fills() -> None:
    eng = engine()
    a = eng.add_limit("sell", 1010, 5, 1)
    b = eng.add_limit("sell", 1010, 7, 2)
    c = eng.add_limit("sell", 1000, 3, 3)
    eng.drain_changes()
    filled = eng.market("buy", 6, 4)
    assert filled == 6
    # Best price first (c fully), then the older order at 1010 (a partly), b untouched.
    assert c not in eng.orders
    assert eng.orders[a].qty == 2 and eng.orders[b].qty == 7
    assert list(eng.asks[1010].orders) == [a, b]
    takes = eng.drain_takes()
    assert [(t.price, t.qty, t.taker_side) for t in takes] == [(1000, 3, "buy"), (1010, 3, "buy")]
    # One trade id per maker order touched: c at 1000, then a at 1010.
    assert takes[0].last_trade_id - takes[0].first_trade_id == 0
    assert takes[1].first_trade_id == takes[0].last_trade_id + 1
    batch = eng.drain_changes()
    assert batch is not None
    assert batch.asks == [(1000, 0), (1010, 9)]
    assert batch.first_update_id == takes[0].update_id
    assert batch.last_update_id == takes[1].update_id


def test_marketable_limit_matches_then_rests() -> None:
    eng = engine()
    eng.add_limit("sell", 1000, 2, 1)
    rest_id = eng.add_limit("buy", 1005, 5, 2)
    assert rest_id is not None
    assert eng.best_bid() == 1005 and eng.level_qty("buy", 1005) == 3
    assert eng.best_ask() is None
    assert eng.add_limit("sell", 1005, 3, 3) is None  # fills completely
    assert eng.best_bid() is None


def test_every_level_change_takes_a_new_increasing_id() -> None:
    gaps = iter([5, 0, 9, 2])
    eng = MatchingEngine("BTCUSDT", first_update_id=100, id_gap=lambda: next(gaps))
    order = eng.add_limit("buy", 990, 1, 1)
    eng.add_limit("buy", 989, 1, 1)
    assert order is not None
    eng.cancel(order, 2)
    eng.add_limit("buy", 990, 4, 3)
    batch = eng.drain_changes()
    assert batch is not None
    assert (batch.first_update_id, batch.last_update_id) == (106, 120)  # 100+1+5, +1+0, +1+9, +1+2
    assert batch.bids == [(989, 1), (990, 4)]
    assert eng.drain_changes() is None


def test_cancel_unknown_and_random_access_stay_consistent() -> None:
    eng, rng = engine(), random.Random(3)
    ids = [eng.add_limit("buy", 900 + i % 7, 1 + i, i) for i in range(50)]
    for _ in range(30):
        order = eng.random_order(rng)
        assert order is not None and eng.cancel(order.order_id, 0)
    assert not eng.cancel(ids[0], 0) or ids[0] not in eng.orders
    assert sum(lvl.total for lvl in eng.bids.values()) == sum(o.qty for o in eng.orders.values())
    assert len(eng.orders) == 20


def test_publisher_chain_and_published_book() -> None:
    eng = engine()
    pub = DepthPublisher(eng, BTC)
    eng.add_limit("buy", 6180020, 1500, 1_000_000)
    eng.add_limit("sell", 6180030, 200, 2_000_000)
    first = pub.publish(10).depth
    assert first is not None
    assert first["pu"] == 100 and first["b"] == [["61800.20", "1.500"]]
    eng.market("buy", 200, 3_000_000)
    out = pub.publish(20)
    assert out.depth is not None and out.depth["pu"] == first["u"]
    assert out.depth["a"] == [["61800.30", "0.000"]]
    assert out.agg_trades[0]["q"] == "0.200" and out.agg_trades[0]["m"] is False
    assert pub.published_book().asks == [] and pub.published_book().bids == [(6180020, 1500)]
    assert pub.publish(30).depth is None


def test_merger_keeps_its_own_pu_chain() -> None:
    merger = DepthMerger(250, initial_u=10)
    merger.add({"U": 11, "u": 12, "pu": 10, "b": [["1.0", "1"]], "a": []}, 100)
    merger.add({"U": 14, "u": 15, "pu": 12, "b": [["1.0", "2"], ["10.0", "1"]], "a": []}, 200)
    assert merger.flush_due(200) is None
    merged = merger.flush_due(300)
    assert merged is not None
    assert (merged["U"], merged["u"], merged["pu"]) == (11, 15, 10)
    assert merged["b"] == [["1.0", "2"], ["10.0", "1"]]


def test_fault_filter() -> None:
    faults = DepthFaults(["k"])
    e1, e2, e3 = {"u": 1}, {"u": 2}, {"u": 3}
    faults.arm("duplicate")
    assert faults.apply("k", e1) == [e1, e1]
    faults.arm("reorder")
    assert faults.apply("k", e2) == []
    assert faults.apply("k", e3) == [e3, e2]
    faults.arm("drop")
    assert faults.apply("k", e1) == []


def test_model_is_bounded_and_never_crossed() -> None:
    sim = SimulatedSymbol(BTC, seed=7)
    now = 10**18
    for _ in range(200):
        now += 100_000_000
        sim.step(now, 0.1)
        bid, ask = sim.engine.best_bid(), sim.engine.best_ask()
        assert bid is not None and ask is not None and bid < ask
        assert len(sim.engine.bids) <= sim.params.max_levels
        assert len(sim.engine.asks) <= sim.params.max_levels
    book = sim.publisher.published_book()
    engine_bids, engine_asks = sim.engine.depth(0)
    assert (book.bids, book.asks) == (engine_bids, engine_asks)
