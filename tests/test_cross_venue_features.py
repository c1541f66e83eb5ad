"""Cross-venue analytics (features/cross_venue) against hand-worked answers and brute force.

Hand books are in quote units; ``usd_per_quote`` is 1 unless a test is about conversion.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.cross_venue import (
    ArbQuote,
    OpportunityTracker,
    VenueBook,
    all_pairs,
    arbitrage,
    basis,
    consolidate,
    merged_depth_curve,
)
from marketdata.events import MarkPrice

Ladder = Sequence[tuple[float, float]]


def book(market: str, bids: Ladder, asks: Ladder, *, venue: str = "coinbase",
         quote: str = "USD", rate: float = 1.0, fee: float = 0.0, ts: int | None = 1_000,
         live: bool = True) -> VenueBook:
    return VenueBook(market=market, venue=venue, quote=quote, usd_per_quote=rate, bids=bids,
                     asks=asks, venue_ts_ms=ts, live=live, taker_fee_bps=fee)


# ---- arbitrage: hand-worked walks ------------------------------------------------------------

BUY_ASKS = [(100.0, 1.0), (101.0, 2.0), (103.0, 5.0)]
SELL_BIDS = [(102.0, 1.5), (100.5, 1.0), (99.0, 10.0)]


def test_arbitrage_walk_without_fees() -> None:
    # Marginal profit per segment: [0,1] 102-100=+2, [1,1.5] 102-101=+1, [1.5,2.5] 100.5-101=-0.5,
    # [2.5,3] 99-101=-2, [3,..] 99-103=-4. Profit: 2 at 1, 2.5 at 1.5 (peak), 2 at 2.5, 1 at 3,
    # then zero at 3 + 1/4.
    q = arbitrage(book("x", [], BUY_ASKS), book("y", SELL_BIDS, []))
    assert q.buy_price == 100.0 and q.sell_price == 102.0
    assert q.gross_edge_bps == pytest.approx(200.0)
    assert q.net_edge_bps == pytest.approx(200.0)  # no fees
    assert q.best_size == pytest.approx(1.5)
    assert q.best_profit_usd == pytest.approx(2.5)
    assert q.best_cost_usd == pytest.approx(100 + 0.5 * 101)
    assert q.best_net_edge_bps == pytest.approx(2.5 / 150.5 * 1e4)
    assert q.max_size == pytest.approx(3.25)
    assert q.depth_limited is False


def test_arbitrage_walk_with_fees() -> None:
    fb, fs = 10e-4, 20e-4  # 10 bps to buy, 20 bps to sell
    q = arbitrage(book("x", [], BUY_ASKS, fee=10), book("y", SELL_BIDS, [], fee=20))
    a = [p * (1 + fb) for p, _ in BUY_ASKS]
    b = [p * (1 - fs) for p, _ in SELL_BIDS]
    p1 = 1.0 * (b[0] - a[0])
    p15 = p1 + 0.5 * (b[0] - a[1])
    p25 = p15 + 1.0 * (b[1] - a[1])
    p3 = p25 + 0.5 * (b[2] - a[1])
    assert b[0] - a[1] > 0 > b[1] - a[1]  # so the peak is still at 1.5
    assert q.net_edge_bps == pytest.approx((b[0] - a[0]) / a[0] * 1e4)
    assert q.gross_edge_bps == pytest.approx(200.0)  # fees never enter the gross edge
    assert q.best_size == pytest.approx(1.5)
    assert q.best_profit_usd == pytest.approx(p15)
    assert q.best_cost_usd == pytest.approx(a[0] + 0.5 * a[1])
    assert q.max_size == pytest.approx(3 + p3 / (a[2] - b[2]))
    assert not q.depth_limited


def test_arbitrage_depth_limited_and_no_edge() -> None:
    short = arbitrage(book("x", [], [(100.0, 5.0)]), book("y", [(102.0, 1.2)], []))
    assert short.depth_limited and short.max_size == pytest.approx(1.2)
    assert short.best_size == pytest.approx(1.2) and short.best_profit_usd == pytest.approx(2.4)

    # 4 bps gross does not pay 5 + 5 bps of fees.
    none = arbitrage(book("x", [], [(100.0, 5.0)], fee=5), book("y", [(100.04, 5.0)], [], fee=5))
    assert none.gross_edge_bps == pytest.approx(4.0)
    assert none.net_edge_bps is not None and none.net_edge_bps < 0
    assert (none.best_size, none.max_size, none.best_profit_usd) == (0.0, 0.0, 0.0)
    assert none.best_net_edge_bps is None and not none.depth_limited

    empty = arbitrage(book("x", [], []), book("y", [(100.0, 1.0)], []))
    assert empty.net_edge_bps is None and empty.gross_edge_bps is None and empty.max_size == 0


def test_usdt_conversion_changes_the_answer() -> None:
    # Spot asks 100 USDT; Coinbase bids 100.05 USD. At 1 USD/USDT the gap is 5 bps; at 0.999 the
    # ask is 99.9 USD and the gap (100.05 - 99.9) / 99.9 = 15.015 bps.
    cb = book("coinbase:BTC-USD", [(100.05, 1.0)], [(100.3, 1.0)], ts=1_000)
    for rate, expected in ((1.0, 5.0), (0.999, (100.05 - 99.9) / 99.9 * 1e4)):
        spot = book("binance-spot:BTCUSDT", [(99.9, 1.0)], [(100.0, 1.0)], venue="binance-spot",
                    quote="USDT", rate=rate, ts=1_250)
        q = arbitrage(spot, cb)
        assert q.buy_price == pytest.approx(100.0 * rate)
        assert q.gross_edge_bps == pytest.approx(expected)
        assert q.best_profit_usd == pytest.approx(100.05 - 100.0 * rate)
        assert q.skew_ms == 250
        assert consolidate([spot, cb]).best_ask == pytest.approx(100.0 * rate)
    assert expected > 15.0


# ---- arbitrage: exact walk against brute force ----------------------------------------------

def _ladder(draw: st.DrawFn, descending: bool) -> list[tuple[float, float]]:
    n = draw(st.integers(1, 4))
    prices = draw(st.lists(st.floats(99.0, 101.0), min_size=n, max_size=n, unique=True))
    qtys = draw(st.lists(st.floats(0.01, 5.0), min_size=n, max_size=n))
    return list(zip(sorted(prices, reverse=descending), qtys, strict=True))


@st.composite
def pair_case(draw: st.DrawFn) -> tuple[VenueBook, VenueBook]:
    buy = book("buy", [], _ladder(draw, False), rate=draw(st.floats(0.99, 1.01)),
               fee=draw(st.floats(0.0, 30.0)))
    sell = book("sell", _ladder(draw, True), [], rate=draw(st.floats(0.99, 1.01)),
                fee=draw(st.floats(0.0, 30.0)))
    return buy, sell


def _brute_profit(buy: VenueBook, sell: VenueBook, sizes: np.ndarray) -> np.ndarray:
    """profit(q) from the definitions, independently of the walk: cost and proceeds are
    piecewise linear in q, so interpolating their cumulative sums is exact at every q."""
    def cum(levels: Ladder, rate: float, fee: float) -> tuple[np.ndarray, np.ndarray]:
        qty = np.concatenate([[0.0], np.cumsum([q for _, q in levels])])
        usd = np.concatenate([[0.0], np.cumsum([p * rate * q * fee for p, q in levels])])
        return qty, usd
    aq, ac = cum(buy.asks, buy.usd_per_quote, 1 + buy.taker_fee_bps * 1e-4)
    bq, bp = cum(sell.bids, sell.usd_per_quote, 1 - sell.taker_fee_bps * 1e-4)
    return np.interp(sizes, bq, bp) - np.interp(sizes, aq, ac)


@settings(max_examples=300, deadline=None)
@given(pair_case())
def test_arbitrage_matches_brute_force(case: tuple[VenueBook, VenueBook]) -> None:
    buy, sell = case
    q = arbitrage(buy, sell)
    a0 = buy.asks[0][0] * buy.usd_per_quote * (1 + buy.taker_fee_bps * 1e-4)
    b0 = sell.bids[0][0] * sell.usd_per_quote * (1 - sell.taker_fee_bps * 1e-4)
    assert q.net_edge_bps == pytest.approx((b0 - a0) / a0 * 1e4, abs=1e-9)

    q_max = min(sum(x for _, x in buy.asks), sum(x for _, x in sell.bids))
    n = 4000
    h = q_max / n
    sizes = np.linspace(0.0, q_max, n + 1)
    profit = _brute_profit(buy, sell, sizes)
    tol = 1e-9 * 101 * 1.01 * q_max * 4  # float noise on sums of ~this many USD
    steepest = 101 * 1.01 * 2  # no marginal profit is steeper than this, USD per unit

    # Best size and profit: the grid's best lies within one step of the exact peak.
    assert profit.max() <= q.best_profit_usd + tol
    assert q.best_profit_usd <= profit.max() + steepest * h + tol
    assert _brute_profit(buy, sell, np.array([q.best_size]))[0] == pytest.approx(
        q.best_profit_usd, abs=tol)
    near_best = sizes[profit >= profit.max() - tol]
    assert np.min(np.abs(near_best - q.best_size)) <= h * (1 + 1e-9)

    # Largest profitable size: profit > 0 below it, <= 0 above it, on the grid.
    if q.max_size == 0:
        assert profit.max() <= tol and q.best_size == 0
        return
    assert q.best_size > 0 and q.best_net_edge_bps is not None
    assert np.all(profit[sizes <= q.max_size * (1 - 1e-9)] >= -tol)
    assert np.all(profit[sizes >= q.max_size * (1 + 1e-9) + tol] <= tol)
    brute_max = sizes[profit > tol].max(initial=0.0)
    assert brute_max <= q.max_size + h
    if q.depth_limited:
        assert q.max_size == pytest.approx(q_max) and profit[-1] > -tol
    else:
        assert q.max_size < q_max * (1 + 1e-9)
        assert _brute_profit(buy, sell, np.array([q.max_size]))[0] == pytest.approx(0, abs=tol)


# ---- consolidated book -----------------------------------------------------------------------

DEPTH_BIDS = [(99.95, 1.0), (99.9, 2.0), (99.5, 3.0), (99.0, 4.0)]
DEPTH_ASKS = [(100.05, 1.0), (100.1, 2.0), (100.5, 3.0), (101.0, 4.0)]


def test_depth_within_bps_of_own_mid() -> None:
    # mid 100: 10 bps reaches 99.9 / 100.1 (inclusive, exactly on the edge), 50 bps 99.5 / 100.5.
    top = consolidate([book("m", DEPTH_BIDS, DEPTH_ASKS)]).markets[0]
    assert top.mid == pytest.approx(100.0) and top.spread_bps == pytest.approx(10.0)
    d10, d50 = top.depth
    assert (d10.band_bps, d10.bid_qty, d10.ask_qty) == (10.0, 3.0, 3.0)
    assert d10.bid_usd == pytest.approx(99.95 + 2 * 99.9)
    assert d10.ask_usd == pytest.approx(100.05 + 2 * 100.1)
    assert (d50.bid_qty, d50.ask_qty) == (6.0, 6.0)
    assert d50.ask_usd == pytest.approx(100.05 + 2 * 100.1 + 3 * 100.5)
    # In USDT at 0.999: the same levels in base units, notional scaled by the rate.
    usdt = consolidate([book("m", DEPTH_BIDS, DEPTH_ASKS, quote="USDT", rate=0.999)]).markets[0]
    assert usdt.depth[0].bid_qty == 3.0
    assert usdt.depth[0].bid_usd == pytest.approx(0.999 * (99.95 + 2 * 99.9))
    assert usdt.best_bid_usd == pytest.approx(0.999 * 99.95)


def test_consolidated_crossed_and_not_live_excluded() -> None:
    a = book("BTCUSDT", [(100.2, 1.5)], [(100.3, 1.0)], venue="binance-usdm", quote="USDT")
    b = book("coinbase:BTC-USD", [(100.0, 2.0)], [(100.1, 0.7)])
    stale = book("binance-spot:BTCUSDT", [(200.0, 9.0)], [(50.0, 9.0)], live=False)
    c = consolidate([a, b, stale])
    assert (c.best_bid, c.best_bid_market, c.best_bid_qty) == (100.2, "BTCUSDT", 1.5)
    assert (c.best_ask, c.best_ask_market, c.best_ask_qty) == (100.1, "coinbase:BTC-USD", 0.7)
    assert c.crossed
    assert c.mid == pytest.approx(100.15)
    assert c.spread_bps == pytest.approx((100.1 - 100.2) / 100.15 * 1e4)
    assert c.spread_bps < 0
    assert [m.live for m in c.markets] == [True, True, False]
    assert c.markets[2].best_bid == 200.0  # listed, but not consolidated
    json.dumps(c.to_dict())

    uncrossed = consolidate([replace(a, bids=[(100.0, 1.0)]), b])
    assert not uncrossed.crossed and uncrossed.spread_bps == pytest.approx(0.1 / 100.05 * 1e4)
    nothing = consolidate([stale])
    assert nothing.best_bid is None and nothing.spread_bps is None and not nothing.crossed


# ---- merged depth curve ----------------------------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.lists(st.tuples(st.floats(99.0, 100.0), st.floats(0.01, 5.0)),
                                   min_size=1, max_size=8),
                          st.lists(st.tuples(st.floats(100.0, 101.0), st.floats(0.01, 5.0)),
                                   min_size=1, max_size=8),
                          st.floats(0.99, 1.01)),
                min_size=1, max_size=3))
def test_merged_curve_totals_and_monotone(
        sides: list[tuple[list[tuple[float, float]], list[tuple[float, float]], float]]) -> None:
    books = [book(f"m{i}", sorted(b, reverse=True), sorted(a), rate=r)
             for i, (b, a, r) in enumerate(sides)]
    curve = merged_depth_curve(books, band_bps=80.0, points=33)
    assert len(curve.prices) == 33 and curve.mid is not None
    assert curve.prices[0] == pytest.approx(curve.mid * (1 - 80e-4))
    assert curve.prices[-1] == pytest.approx(curve.mid * (1 + 80e-4))
    for i in range(33):
        assert curve.total_bids[i] == pytest.approx(sum(row[i] for row in curve.bids))
        assert curve.total_asks[i] == pytest.approx(sum(row[i] for row in curve.asks))
    for rows in (curve.bids, (curve.total_bids,)):
        assert all(x >= y for row in rows for x, y in itertools.pairwise(row))
    for rows in (curve.asks, (curve.total_asks,)):
        assert all(x <= y for row in rows for x, y in itertools.pairwise(row))
    # Independently: each market's depth at each grid price, straight from the definition.
    for bk, bids, asks in zip(books, curve.bids, curve.asks, strict=True):
        r = bk.usd_per_quote
        for g, got_b, got_a in zip(curve.prices, bids, asks, strict=True):
            assert got_b == pytest.approx(sum(q for p, q in bk.bids if p * r >= g))
            assert got_a == pytest.approx(sum(q for p, q in bk.asks if p * r <= g))


def test_merged_curve_hand_values() -> None:
    # Two USD books, consolidated mid 100; grid 100 +- 50 bps in 2.5 bps steps (41 points).
    a = book("a", [(99.96, 1.0), (99.7, 2.0)], [(100.04, 1.0), (100.3, 2.0)])
    b = book("b", [(99.98, 0.5), (99.8, 4.0)], [(100.02, 0.5), (100.2, 4.0)])
    off = book("off", [(99.99, 100.0)], [(100.01, 100.0)], live=False)
    c = merged_depth_curve([a, b, off])
    assert c.markets == ("a", "b") and c.mid == pytest.approx(100.0)
    at = {round(p, 4): i for i, p in enumerate(c.prices)}
    i = at[99.75]  # bids >= 99.75: a 1, b 0.5 + 4
    assert (c.bids[0][i], c.bids[1][i], c.total_bids[i]) == (1.0, 4.5, 5.5)
    i = at[100.25]  # asks <= 100.25: a 1, b 0.5 + 4
    assert (c.asks[0][i], c.asks[1][i], c.total_asks[i]) == (1.0, 4.5, 5.5)
    assert c.total_bids[-1] == 0.0 and c.total_asks[0] == 0.0  # far side of each curve
    assert merged_depth_curve([off]).prices == ()
    with pytest.raises(ValueError):
        merged_depth_curve([a], points=1)


# ---- basis -----------------------------------------------------------------------------------

def test_basis_in_usd_with_mark() -> None:
    perp = book("BTCUSDT", [(100.4, 1.0)], [(100.6, 1.0)], venue="binance-usdm", quote="USDT",
                rate=0.999, ts=5_000)
    spot = book("coinbase:BTC-USD", [(100.2, 1.0)], [(100.4, 1.0)], ts=5_120)
    mark = MarkPrice(symbol="BTCUSDT", mark_price=100.6, index_price=100.4,
                     funding_rate=0.0001, next_funding_ms=8_000_000, exchange_ts_ms=5_000,
                     receive_ts_ns=0)
    got = basis(perp, spot, mark)
    assert got.perp_mid == pytest.approx(100.5 * 0.999) and got.spot_mid == pytest.approx(100.3)
    assert got.basis_usd == pytest.approx(100.5 * 0.999 - 100.3)
    assert got.basis_bps == pytest.approx((100.5 * 0.999 - 100.3) / 100.3 * 1e4)
    assert got.mark_price == pytest.approx(100.6 * 0.999)
    assert got.mark_index_bps == pytest.approx(0.2 / 100.4 * 1e4)
    assert got.funding_rate == 0.0001 and got.skew_ms == 120 and got.live
    bare = basis(perp, replace(spot, asks=[], venue_ts_ms=None))
    assert bare.basis_bps is None and bare.mark_price is None and bare.skew_ms is None


# ---- all pairs -------------------------------------------------------------------------------

def test_all_pairs_are_ordered_live_pairs() -> None:
    books = [book("a", [(100.0, 1.0)], [(100.1, 1.0)]),
             book("b", [(100.2, 1.0)], [(100.3, 1.0)]),
             book("c", [(99.9, 1.0)], [(100.0, 1.0)]),
             book("d", [(150.0, 1.0)], [(150.1, 1.0)], live=False)]
    quotes = all_pairs(books)
    assert {(x.buy_market, x.sell_market) for x in quotes} == {
        (x, y) for x in "abc" for y in "abc" if x != y}
    best = max(quotes, key=lambda x: x.net_edge_bps or -math.inf)
    assert (best.buy_market, best.sell_market) == ("c", "b")  # buy 100.0, sell 100.2


# ---- opportunity tracker ---------------------------------------------------------------------

BASE = ArbQuote(buy_market="c", sell_market="b", buy_venue="coinbase", sell_venue="coinbase",
                live=True, skew_ms=100, buy_price=100.0, sell_price=100.2, gross_edge_bps=20.0,
                net_edge_bps=5.0, best_size=1.0, best_profit_usd=0.04, best_cost_usd=100.0,
                best_net_edge_bps=4.0, max_size=2.0, depth_limited=False)
NO_EDGE = replace(BASE, net_edge_bps=-1.0, best_size=0.0, best_profit_usd=0.0,
                  best_cost_usd=0.0, best_net_edge_bps=None, max_size=0.0)


def test_tracker_opens_tracks_peak_and_ends_on_edge() -> None:
    t = OpportunityTracker(max_skew_ms=500)
    assert t.update([BASE], 1_000) == []
    assert [(o["buy_market"], o["start_ms"]) for o in t.live()] == [("c", 1_000)]
    peak = replace(BASE, best_net_edge_bps=9.0, best_size=3.0, best_profit_usd=0.27,
                   skew_ms=200)
    t.update([peak], 2_000)
    t.update([replace(BASE, best_net_edge_bps=6.0, skew_ms=300)], 3_000)
    (ended,) = t.update([NO_EDGE], 4_000)
    assert ended.end_reason == "edge" and (ended.start_ms, ended.end_ms) == (1_000, 4_000)
    assert ended.duration_ms == 3_000 and ended.updates == 3
    assert (ended.peak_net_edge_bps, ended.peak_size, ended.peak_profit_usd) == (9.0, 3.0, 0.27)
    assert (ended.peak_skew_ms, ended.peak_ms, ended.max_skew_ms) == (200, 2_000, 300)
    assert t.live() == [] and t.recent()[-1]["end_reason"] == "edge" and t.opened == 1
    json.dumps(t.recent())


@pytest.mark.parametrize(("last", "reason"), [
    ([replace(BASE, skew_ms=501)], "skew"),
    ([replace(BASE, skew_ms=None)], "skew"),
    ([replace(BASE, live=False)], "book"),
    ([], "book"),  # the pair is gone: a book dropped out of the live set
    ([replace(NO_EDGE, live=False)], "book"),  # book wins over edge
    ([replace(NO_EDGE, skew_ms=900)], "skew"),  # skew wins over edge
])
def test_tracker_end_reasons(last: list[ArbQuote], reason: str) -> None:
    t = OpportunityTracker(max_skew_ms=500)
    t.update([BASE], 1_000)
    t.update([replace(BASE, skew_ms=500)], 1_500)  # at the bound is still open
    (ended,) = t.update(last, 2_000)
    assert ended.end_reason == reason and ended.end_ms == 2_000 and t.live() == []


def test_tracker_suppressed_by_skew() -> None:
    t = OpportunityTracker(max_skew_ms=500)
    late = replace(BASE, skew_ms=800)
    t.update([late], 1_000)
    t.update([late], 2_000)  # the same episode: counted once
    assert t.live() == [] and t.suppressed_by_skew == 1
    t.update([NO_EDGE], 3_000)
    t.update([replace(BASE, skew_ms=None)], 4_000)  # a new episode; unknown skew is not ok
    assert t.suppressed_by_skew == 2 and t.opened == 0
    t.update([BASE], 5_000)  # skew back in bound: opens
    assert t.opened == 1 and t.live()[0]["start_ms"] == 5_000


def test_tracker_recent_is_bounded_newest_last() -> None:
    t = OpportunityTracker(max_skew_ms=500, recent=3)
    for k in range(5):
        t.update([BASE], 10_000 * k)
        t.update([NO_EDGE], 10_000 * k + 1_000)
    assert [o["end_ms"] for o in t.recent()] == [21_000, 31_000, 41_000]


def test_tracker_from_books() -> None:
    # Coinbase asks 100.0 vs spot bids 100.2 USDT at 1.0: 20 bps gross, 5 + 10 bps of fees.
    cb = book("coinbase:BTC-USD", [(99.9, 1.0)], [(100.0, 1.0)], fee=5, ts=10_000)
    spot = book("binance-spot:BTCUSDT", [(100.2, 2.0)], [(100.3, 2.0)], venue="binance-spot",
                quote="USDT", fee=10, ts=10_050)
    t = OpportunityTracker(max_skew_ms=500)
    t.update(all_pairs([cb, spot]), 10_050)
    (opp,) = t.live()
    assert (opp["buy_market"], opp["sell_market"]) == ("coinbase:BTC-USD", "binance-spot:BTCUSDT")
    assert opp["peak_size"] == pytest.approx(1.0)
    assert opp["peak_profit_usd"] == pytest.approx(100.2 * 0.999 - 100.0 * 1.0005)
    # At 0.998 USD/USDT the spot bid is 99.9996 USD: the edge is gone.
    (ended,) = t.update(all_pairs([cb, replace(spot, usd_per_quote=0.998)]), 11_000)
    assert ended.end_reason == "edge"
