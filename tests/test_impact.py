"""Market-impact walk: hand cases, a brute-force walk over unit lots, and bad inputs."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.impact import ImpactInputError, simulate_on_book, walk_book
from orderbook.book import L2Book

ASKS = [(100, 2), (101, 3), (103, 5)]  # total 10
BIDS = [(98, 4), (97, 1), (95, 2)]  # total 7


def test_buy_quantity_by_hand() -> None:
    # 4 lots: 2 @ 100 + 2 @ 101 = 402 -> avg 100.5 ; best 100, mid (98 + 100) / 2 = 99
    r = walk_book(ASKS, "buy", price_scale=1, qty_scale=1, quantity=4, opposite_best=98)
    assert r.filled_qty == 4.0 and r.notional == 402.0 and r.avg_price == 100.5
    assert r.levels_consumed == 2 and r.worst_price == 101.0 and r.best_price == 100.0
    assert r.slippage == 0.5 and r.slippage_bps == pytest.approx(50.0)  # 0.5 / 100 * 1e4
    assert r.mid_price == 99.0
    assert r.slippage_vs_mid == 1.5 and r.slippage_vs_mid_bps == pytest.approx(1.5 / 99 * 1e4)
    assert r.unfilled_qty == 0.0 and r.unfilled_notional is None and r.fully_filled


def test_sell_quantity_by_hand_is_adverse_positive() -> None:
    # 5 lots: 4 @ 98 + 1 @ 97 = 489 -> avg 97.8 ; slippage = best - avg = 0.2 ; mid = 99
    r = walk_book(BIDS, "sell", price_scale=1, qty_scale=1, quantity=5, opposite_best=100)
    assert r.avg_price == pytest.approx(97.8) and r.notional == 489.0
    assert r.slippage is not None and r.slippage == pytest.approx(0.2) and r.slippage > 0
    assert r.slippage_vs_mid == pytest.approx(1.2)  # 99 - 97.8
    assert r.levels_consumed == 2 and r.worst_price == 97.0


def test_buy_notional_by_hand() -> None:
    # 500 quote: level 1 costs 200 (remaining 300); level 2 would cost 303 > 300, so take
    # 300 / 101 lots. filled = 2 + 300/101 = 502/101 ; avg = 500 / (502/101) = 50500/502
    r = walk_book(ASKS, "buy", price_scale=1, qty_scale=1, notional=500)
    assert r.filled_qty == pytest.approx(502 / 101)
    assert r.notional == 500.0 and r.avg_price == pytest.approx(50500 / 502)
    assert r.levels_consumed == 2 and r.fully_filled and r.unfilled_notional == 0.0
    assert r.unfilled_qty is None and r.mid_price is None and r.slippage_vs_mid is None


def test_book_runs_out() -> None:
    # 20 lots but only 10 rest: 200 + 303 + 515 = 1018 for 10 -> avg 101.8, 10 unfilled
    r = walk_book(ASKS, "buy", price_scale=1, qty_scale=1, quantity=20)
    assert r.filled_qty == 10.0 and r.unfilled_qty == 10.0 and not r.fully_filled
    assert r.avg_price == pytest.approx(101.8) and r.levels_consumed == 3 and r.worst_price == 103.0
    r = walk_book(ASKS, "buy", price_scale=1, qty_scale=1, notional=2000)
    assert r.notional == 1018.0 and r.unfilled_notional == 982.0


def test_empty_side() -> None:
    r = walk_book([], "buy", price_scale=1, qty_scale=1, quantity=1)
    assert r.filled_qty == 0.0 and r.avg_price is None and r.slippage is None
    assert r.levels_consumed == 0 and r.unfilled_qty == 1.0 and r.worst_price is None


def test_decimal_sizes_are_exact() -> None:
    # 0.1 BTC (qty_scale 1000 -> 100 lots) must end exactly at the first level's 100 lots,
    # not spill a binary-float crumb into the next level.
    levels = [(6180030, 100), (6180040, 50)]
    r = walk_book(levels, "buy", price_scale=100, qty_scale=1000, quantity=0.1)
    assert r.levels_consumed == 1 and r.avg_price == 61800.3 and r.slippage == 0.0
    # 6180.03 USDT buys exactly 0.1 BTC at 61800.30
    r = walk_book(levels, "buy", price_scale=100, qty_scale=1000, notional=6180.03)
    assert r.levels_consumed == 1 and r.filled_qty == 0.1


def test_simulate_on_book_walks_the_right_side() -> None:
    book = L2Book()
    book.load(BIDS, ASKS, 1)
    buy = simulate_on_book(book, "buy", price_scale=1, qty_scale=1, quantity=4)
    assert buy.avg_price == 100.5 and buy.mid_price == 99.0
    sell = simulate_on_book(book, "sell", price_scale=1, qty_scale=1, quantity=5)
    assert sell.avg_price == pytest.approx(97.8) and sell.mid_price == 99.0
    assert set(buy.to_dict()) >= {"avg_price", "slippage_bps", "levels_consumed", "unfilled_qty"}


@pytest.mark.parametrize("bad", [0, -1, 0.0, -0.5, math.nan, math.inf, -math.inf, 1e20,
                                 Decimal("NaN"), Decimal("Infinity"), True, "1"])
def test_bad_sizes_raise_typed_error(bad: object) -> None:
    with pytest.raises(ImpactInputError):
        walk_book(ASKS, "buy", price_scale=1, qty_scale=1, quantity=bad)
    with pytest.raises(ImpactInputError):
        walk_book(ASKS, "buy", price_scale=1, qty_scale=1, notional=bad)


def test_bad_requests() -> None:
    with pytest.raises(ImpactInputError, match="exactly one"):
        walk_book(ASKS, "buy", price_scale=1, qty_scale=1)
    with pytest.raises(ImpactInputError, match="exactly one"):
        walk_book(ASKS, "buy", price_scale=1, qty_scale=1, quantity=1, notional=1)
    with pytest.raises(ImpactInputError, match="side"):
        walk_book(ASKS, "hold", price_scale=1, qty_scale=1, quantity=1)  # type: ignore[arg-type]
    with pytest.raises(ImpactInputError, match="best first"):
        walk_book(list(reversed(ASKS)), "buy", price_scale=1, qty_scale=1, quantity=10)
    assert issubclass(ImpactInputError, ValueError)


# --- brute force: expand every level into unit lots and take them one by one ---------------

def _brute_quantity(levels: list[tuple[int, int]], lots: int) -> tuple[int, int, int]:
    """(filled lots, notional, levels touched) taking ``lots`` one unit at a time."""
    prices = [p for p, q in levels for _ in range(q)]
    taken = prices[:lots]
    return len(taken), sum(taken), len(set(taken))


def _brute_notional(levels: list[tuple[int, int]], budget: int) -> tuple[Fraction, Fraction, int]:
    filled, spent, touched = Fraction(0), Fraction(0), set()
    for p in (p for p, q in levels for _ in range(q)):
        if spent == budget:
            break
        part = min(Fraction(1), (budget - spent) / p)  # a whole lot, or what the rest buys
        filled += part
        spent += part * p
        touched.add(p)
    return filled, spent, len(touched)


@st.composite
def _side(draw: st.DrawFn) -> list[tuple[int, int]]:
    prices = draw(st.lists(st.integers(1, 5_000), min_size=0, max_size=12, unique=True))
    return [(p, draw(st.integers(1, 40))) for p in sorted(prices)]


@settings(max_examples=300, deadline=None)
@given(asks=_side(), lots=st.integers(1, 600), price_scale=st.sampled_from([1, 10, 100]),
       qty_scale=st.sampled_from([1, 1000]))
def test_quantity_walk_matches_brute_force(asks: list[tuple[int, int]], lots: int,
                                           price_scale: int, qty_scale: int) -> None:
    r = walk_book(asks, "buy", price_scale=price_scale, qty_scale=qty_scale,
                  quantity=Fraction(lots, qty_scale))
    filled, notional, touched = _brute_quantity(asks, lots)
    assert r.filled_qty == float(Fraction(filled, qty_scale))
    assert r.notional == float(Fraction(notional, price_scale * qty_scale))
    assert r.unfilled_qty == float(Fraction(lots - filled, qty_scale))
    assert r.levels_consumed == touched
    if filled:
        assert r.avg_price == float(Fraction(notional, filled * price_scale))
        assert r.worst_price == asks[touched - 1][0] / price_scale
        assert r.slippage is not None and r.slippage >= 0
    # The same levels as a bid side (best = highest first), walked by a sell.
    bids = list(reversed(asks))
    s = walk_book(bids, "sell", price_scale=price_scale, qty_scale=qty_scale,
                  quantity=Fraction(lots, qty_scale))
    filled, notional, touched = _brute_quantity(bids, lots)
    assert s.filled_qty == float(Fraction(filled, qty_scale)) and s.levels_consumed == touched
    assert s.notional == float(Fraction(notional, price_scale * qty_scale))
    if filled:
        assert s.slippage is not None and s.slippage >= 0


@settings(max_examples=300, deadline=None)
@given(asks=_side(), budget=st.integers(1, 300_000))
def test_notional_walk_matches_brute_force(asks: list[tuple[int, int]], budget: int) -> None:
    r = walk_book(asks, "buy", price_scale=1, qty_scale=1, notional=budget)
    filled, spent, touched = _brute_notional(asks, budget)
    assert r.filled_qty == float(filled)
    assert r.notional == float(spent)
    assert r.levels_consumed == touched
    assert r.unfilled_notional == float(budget - spent)
    assert r.fully_filled == (spent == budget)
    if filled:
        assert r.avg_price == float(spent / filled)
