"""Fixed-size, preallocated ring of one-second rows: the rolling history behind the charts.

All memory is allocated in the constructor (``capacity`` rows of scalars, ``capacity x rows``
float32 heatmap cells); appending overwrites the oldest row once full, so memory stays fixed for
the life of the process. A missing value is stored as NaN and read back as ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

# The scalar history columns of the ``snapshot`` message (docs/frames.md), in order.
HISTORY_COLUMNS: tuple[str, ...] = (
    "ts", "mid_price", "best_bid", "best_ask", "spread", "microprice", "imbalance", "ofi",
    "bid_volume", "ask_volume", "buy_volume", "sell_volume", "trade_count", "buy_vwap",
    "sell_vwap", "heatmap_lo", "venue_ts", "spread_bps", "vwap_30s", "velocity_3s",
    "velocity_baseline", "volatility_60s_bps", "volatility_1s_60s_bps", "buy_pressure_30s", "cvd",
)
_INT_COLUMNS = frozenset({"trade_count"})


class SecondsRing:
    """``capacity`` one-second rows, oldest overwritten first.

    Write a row in two steps so the heatmap column is computed straight into its slot without a
    copy: fill ``next_heatmap_slot()`` (if the second has a heatmap), then ``append``."""

    __slots__ = ("_has_heatmap", "_heatmap", "_index", "_next", "_scalars", "_size", "capacity",
                 "rows")

    def __init__(self, capacity: int, rows: int) -> None:
        if capacity <= 0 or rows <= 0:
            raise ValueError(f"capacity and rows must be positive, got {capacity}, {rows}")
        self.capacity = capacity
        self.rows = rows
        self._index = {name: i for i, name in enumerate(HISTORY_COLUMNS)}
        self._scalars = np.full((len(HISTORY_COLUMNS), capacity), np.nan, dtype=np.float64)
        self._heatmap = np.zeros((capacity, rows), dtype=np.float32)
        self._has_heatmap = np.zeros(capacity, dtype=np.bool_)
        self._next = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers (constant after construction)."""
        return self._scalars.nbytes + self._heatmap.nbytes + self._has_heatmap.nbytes

    def next_heatmap_slot(self) -> np.ndarray:
        """The (writable) heatmap row the next ``append`` will commit."""
        slot: np.ndarray = self._heatmap[self._next]
        return slot

    def append(self, values: Mapping[str, float | int | None], has_heatmap: bool) -> None:
        """Commit one second: ``values`` maps every name of ``HISTORY_COLUMNS`` to a number or
        ``None``; ``has_heatmap`` says whether ``next_heatmap_slot()`` was filled."""
        slot = self._next
        for name, i in self._index.items():
            value = values[name]
            self._scalars[i, slot] = np.nan if value is None else value
        self._has_heatmap[slot] = has_heatmap
        self._next = (slot + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def _order(self) -> np.ndarray:
        start = (self._next - self._size) % self.capacity
        return (np.arange(self._size) + start) % self.capacity

    def columns(self, qty_decimals: int | None = None) -> dict[str, list[object]]:
        """The history, oldest first, as JSON-ready lists: every ``HISTORY_COLUMNS`` entry, plus
        ``heatmap`` (one list of ``rows`` floats per second, or ``None``). Heatmap cells are
        rounded to ``qty_decimals`` when given (float32 noise would otherwise print as
        ``0.10000000149011612``)."""
        order = self._order()
        out: dict[str, list[object]] = {}
        for name, i in self._index.items():
            values = self._scalars[i, order]
            if name in _INT_COLUMNS:
                out[name] = [None if math.isnan(v) else int(v) for v in values.tolist()]
            else:
                out[name] = [None if math.isnan(v) else v for v in values.tolist()]
        cells = self._heatmap[order].astype(np.float64)
        if qty_decimals is not None:
            cells = np.round(cells, qty_decimals)
        has = self._has_heatmap[order].tolist()
        out["heatmap"] = [col if ok else None for col, ok in zip(cells.tolist(), has, strict=True)]
        return out
