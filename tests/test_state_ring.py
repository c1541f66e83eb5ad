"""The one-second ring: order, wrap-around, nulls and fixed memory."""

from __future__ import annotations

import numpy as np

from state.ring_buffer import HISTORY_COLUMNS, SecondsRing


def _row(ts: float, mid: float | None = 1.0) -> dict[str, float | int | None]:
    row: dict[str, float | int | None] = {name: 0.0 for name in HISTORY_COLUMNS}
    row.update(ts=ts, mid_price=mid, trade_count=int(ts), buy_vwap=None)
    return row


def test_fills_oldest_first_then_wraps() -> None:
    ring = SecondsRing(capacity=5, rows=3)
    for t in range(3):
        ring.append(_row(float(t)), has_heatmap=False)
    assert len(ring) == 3 and ring.columns()["ts"] == [0.0, 1.0, 2.0]
    for t in range(3, 12):
        ring.next_heatmap_slot()[:] = t
        ring.append(_row(float(t)), has_heatmap=True)
    cols = ring.columns()
    assert len(ring) == 5
    assert cols["ts"] == [7.0, 8.0, 9.0, 10.0, 11.0]
    assert cols["trade_count"] == [7, 8, 9, 10, 11] and isinstance(cols["trade_count"][0], int)
    assert cols["heatmap"] == [[float(t)] * 3 for t in range(7, 12)]


def test_nulls_round_trip_and_no_nan_leaks() -> None:
    ring = SecondsRing(capacity=4, rows=2)
    ring.append(_row(1.0, mid=None), has_heatmap=False)
    cols = ring.columns()
    assert cols["mid_price"] == [None] and cols["buy_vwap"] == [None]
    assert cols["heatmap"] == [None]
    assert set(cols) == set(HISTORY_COLUMNS) | {"heatmap"}


def test_memory_is_fixed() -> None:
    ring = SecondsRing(capacity=180, rows=400)
    before = ring.nbytes
    arrays = (ring._scalars, ring._heatmap, ring._has_heatmap)  # private: identity check
    assert ring._heatmap.dtype == np.float32 and ring._heatmap.shape == (180, 400)
    for t in range(1000):
        ring.next_heatmap_slot()[:] = t
        ring.append(_row(float(t)), has_heatmap=True)
    assert ring.nbytes == before
    after = (ring._scalars, ring._heatmap, ring._has_heatmap)
    assert all(a is b for a, b in zip(arrays, after, strict=True))
    assert len(ring) == 180 and ring.columns()["ts"][0] == 820.0


def test_heatmap_rounding() -> None:
    ring = SecondsRing(capacity=2, rows=1)
    ring.next_heatmap_slot()[:] = 0.1  # float32(0.1) = 0.10000000149...
    ring.append(_row(0.0), has_heatmap=True)
    assert ring.columns(qty_decimals=3)["heatmap"] == [[0.1]]
