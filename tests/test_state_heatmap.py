"""Heatmap grid: step and lo by hand, and cell sums against the book."""

from __future__ import annotations

import numpy as np
import pytest

from orderbook.book import L2Book
from state.heatmap_grid import fill_depth_column, grid_lo_units, grid_step_units


def test_step_and_lo_by_hand() -> None:
    # BTCUSDT: price_scale 100, tick 0.10 = 10 units. mid 61800.25 -> mid2 = 12360050 units.
    # 2 * mid * 20 / 1e4 = 247.201 USDT across the band; / 400 rows = 0.6180025 USDT
    #   = 61.80025 units = 6.180025 ticks -> ceil 7 ticks -> step 70 units (0.70 USDT),
    #   so 400 rows span 280 USDT >= the 247.2 USDT band.
    assert grid_step_units(12_360_050, 10, 20.0, 400) == 70
    # floor(mid / step) = floor(6180025 / 70) = floor(88286.07) = 88286
    # lo = (88286 - 200) * 70 = 6166020 units = 61660.20 USDT
    assert grid_lo_units(12_360_050, 70, 400) == 6_166_020
    # A band that divides evenly is not bumped by float noise: mid 100.00 (10000 units, tick 1),
    # band 50 bps, rows 10 -> 2 * 100 * 0.005 / 10 = 0.1 USDT = exactly 10 ticks.
    assert grid_step_units(20_000, 1, 50.0, 10) == 10
    # Never below one tick.
    assert grid_step_units(2, 10, 1.0, 2000) == 10


def test_cells_hold_book_quantity() -> None:
    book = L2Book()
    # Units: step 10, lo 100, 4 rows -> cells [100,110) [110,120) [120,130) [130,140)
    book.load(bids=[(95, 7), (100, 1), (109, 2), (118, 3)],
              asks=[(121, 4), (129, 5), (139, 6), (140, 9)], last_update_id=1)
    out = np.full(4, -1.0, dtype=np.float32)
    fill_depth_column(book, 100, 10, 1, out)
    # 95 and 140 fall outside [100, 140); 118 and 121 are in different cells.
    assert out.tolist() == [3.0, 3.0, 9.0, 6.0]
    fill_depth_column(book, 100, 10, 1000, out)
    assert out.tolist() == pytest.approx([0.003, 0.003, 0.009, 0.006])


def test_empty_band() -> None:
    book = L2Book()
    book.load(bids=[(1, 1)], asks=[(10_000, 1)], last_update_id=1)
    out = np.ones(8, dtype=np.float32)
    fill_depth_column(book, 100, 10, 1, out)
    assert not out.any()
