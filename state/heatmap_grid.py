"""The fixed price grid of the depth heatmap, and one column of it from the book.

Grid (all in integer price units, so cells never drift or overlap):

- ``step = tick * ceil((2 * mid * band_bps / 1e4 / rows) / tick)``: the smallest multiple of the
  tick with which ``rows`` cells span the full band ``mid +- band_bps``. Computed once, when the
  book first goes live, then fixed for the process so every column shares one grid.
- ``lo = (floor(mid / step) - rows // 2) * step``: recomputed each second, so the column is
  centred on the current mid; ``lo`` is always a multiple of ``step``.
- cell ``i`` holds the resting quantity (bids and asks) with price in
  ``[lo + i*step, lo + (i+1)*step)``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from orderbook.book import L2Book


def grid_step_units(mid2_units: int, tick_units: int, band_bps: float, rows: int) -> int:
    """``step`` above, given ``mid2_units = best_bid + best_ask`` (twice the mid, exact).
    Exact arithmetic (``band_bps`` taken at its shortest decimal) so a band that divides evenly
    is not bumped up a tick by float noise; at least one tick."""
    band = Fraction(repr(float(band_bps)))
    raw_ticks = Fraction(mid2_units) * band / (10_000 * rows * tick_units)
    return tick_units * max(1, math.ceil(raw_ticks))


def grid_lo_units(mid2_units: int, step_units: int, rows: int) -> int:
    """``lo`` above; ``floor(mid / step) == mid2 // (2 * step)`` exactly in integers."""
    return (mid2_units // (2 * step_units) - rows // 2) * step_units


def fill_depth_column(book: L2Book, lo_units: int, step_units: int, qty_scale: int,
                      out: np.ndarray) -> None:
    """Write into ``out`` (``rows`` cells) the resting quantity, bids and asks, per cell of the
    grid starting at ``lo_units``, in base currency. Reads only the levels inside the grid
    (``irange`` on each side), so cost scales with the band, not the book."""
    rows = out.shape[0]
    hi_inclusive = lo_units + rows * step_units - 1  # integer prices: [lo, hi) == [lo, hi - 1]
    total = np.zeros(rows, dtype=np.float64)
    for levels in (book.bids_between(lo_units, hi_inclusive),
                   book.asks_between(lo_units, hi_inclusive)):
        if levels:
            arr = np.array(levels, dtype=np.int64)
            cells = (arr[:, 0] - lo_units) // step_units
            total += np.bincount(cells, weights=arr[:, 1].astype(np.float64), minlength=rows)
    out[:] = total / qty_scale
