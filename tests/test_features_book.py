"""Book features against values worked out by hand.

The hand book (integer units; price_scale and qty_scale 1 unless a test says otherwise)::

    bids: 100 x 3, 99 x 1, 97 x 4        asks: 102 x 1, 103 x 2, 105 x 6
"""

from __future__ import annotations

import pytest

from features.book_features import (
    cumulative_depth,
    depth_imbalance,
    depth_weighted_price,
    imbalance,
    microprice,
    mid_price,
    spread,
    spread_bps,
    total_qty,
)
from features.slope import book_slope

BIDS = [(100, 3), (99, 1), (97, 4)]
ASKS = [(102, 1), (103, 2), (105, 6)]


def test_mid_and_spread() -> None:
    assert mid_price(100, 102, 1) == 101.0  # (100 + 102) / 2
    assert mid_price(100, 101, 1) == 100.5  # half-tick mid is exact
    assert mid_price(6180020, 6180030, 100) == 61800.25  # BTCUSDT units, price_scale 100
    assert spread(100, 102, 1) == 2.0
    assert spread(6180020, 6180030, 100) == pytest.approx(0.1)
    # 2 / 101 * 1e4 = 198.0198...
    assert spread_bps(100, 102) == pytest.approx(2 / 101 * 1e4)
    assert spread_bps(0, 0) is None


def test_microprice() -> None:
    # (100 * 1 + 102 * 3) / (3 + 1) = 406 / 4 = 101.5: leans to the ask, whose size is thin.
    assert microprice(BIDS[0], ASKS[0], 1) == 101.5
    # Same in scaled units: prices x10, scale 10.
    assert microprice((1000, 3), (1020, 1), 10) == 101.5
    # Equal sizes give the mid.
    assert microprice((100, 5), (102, 5), 1) == 101.0
    assert microprice((100, 0), (102, 0), 1) is None


def test_imbalance() -> None:
    # Top 3: bids 3 + 1 + 4 = 8, asks 1 + 2 + 6 = 9 -> (8 - 9) / 17
    assert total_qty(BIDS) == 8 and total_qty(ASKS) == 9
    assert depth_imbalance(BIDS, ASKS) == pytest.approx(-1 / 17)
    # Best level: (3 - 1) / (3 + 1) = 0.5
    assert imbalance(3, 1) == 0.5
    assert imbalance(0, 5) == -1.0
    assert imbalance(0, 0) is None
    assert depth_imbalance([], []) is None


def test_depth_weighted_price() -> None:
    # bids: (300 + 99 + 388) / 8 = 787 / 8 = 98.375
    assert depth_weighted_price(BIDS, 1) == 98.375
    # asks: (102 + 206 + 630) / 9 = 938 / 9
    assert depth_weighted_price(ASKS, 1) == pytest.approx(938 / 9)
    assert depth_weighted_price(ASKS, 10) == pytest.approx(93.8 / 9)
    assert depth_weighted_price([], 1) is None


def test_cumulative_depth() -> None:
    assert cumulative_depth(BIDS, 1) == [3.0, 4.0, 8.0]
    assert cumulative_depth(ASKS, 1) == [1.0, 3.0, 9.0]
    # qty_scale 1000 (BTC lots of 0.001): 0.001, 0.003, 0.009
    assert cumulative_depth(ASKS, 1000) == [0.001, 0.003, 0.009]
    assert cumulative_depth([], 1) == []


def test_slope_by_hand() -> None:
    # mid = 101. Bids: x = |p - 101| = 1, 2, 4 ; y = cumulative 3, 4, 8
    #   n = 3, Sx = 7, Sy = 15, Sxx = 1 + 4 + 16 = 21, Sxy = 3 + 8 + 32 = 43
    #   slope = (3*43 - 7*15) / (3*21 - 7^2) = (129 - 105) / (63 - 49) = 24 / 14 = 12/7
    assert book_slope(BIDS, 100, 102, 1, 1) == pytest.approx(12 / 7)
    # Asks: x = 1, 2, 4 ; y = 1, 3, 9 ; Sy = 13, Sxy = 1 + 6 + 36 = 43
    #   slope = (129 - 7*13) / 14 = 38 / 14 = 19/7
    assert book_slope(ASKS, 100, 102, 1, 1) == pytest.approx(19 / 7)
    # Scaled: prices in units of 0.1 and quantities of 0.001 -> x / 10, y / 1000 -> slope / 100.
    assert book_slope(ASKS, 100, 102, 10, 1000) == pytest.approx(19 / 700)


def test_slope_needs_two_levels() -> None:
    assert book_slope(BIDS[:1], 100, 102, 1, 1) is None
    assert book_slope([], 100, 102, 1, 1) is None


def test_slope_of_flat_profile_is_density() -> None:
    # One lot per tick away from mid: cumulative qty grows by 1 per price unit -> slope 1.
    asks = [(102 + i, 1) for i in range(10)]
    assert book_slope(asks, 100, 102, 1, 1) == pytest.approx(1.0)
