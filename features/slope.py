"""Order book slope: how fast resting quantity accumulates away from mid.

Estimator (stated once here; the dashboard and README refer to it): over the top N levels of one
side, best first, let ``x_i = |p_i - mid|`` (quote currency) and ``y_i = q_1 + ... + q_i`` the
cumulative quantity through level ``i`` (base currency). The slope is the ordinary least-squares
slope of ``y`` on ``x`` (with intercept)::

    slope = sum((x - mean x)(y - mean y)) / sum((x - mean x)^2)
          = (n*Sxy - Sx*Sy) / (n*Sxx - Sx^2)

in base units per quote unit (e.g. BTC per USDT of distance). It is positive on both sides of a
normal book; a larger value means a deeper, more resilient side. An intercept is fitted so that
the half-spread (the distance of the first level) does not bias the slope.

Computed exactly in integers: ``d_i = |2 p_i - (bid + ask)|`` is twice the distance in price
units, so ``slope = slope_units * 2 * price_scale / qty_scale`` with one final division.
"""

from __future__ import annotations

from collections.abc import Sequence

from orderbook.book import Level


def book_slope(levels: Sequence[Level], best_bid: int, best_ask: int,
               price_scale: int, qty_scale: int) -> float | None:
    """Least-squares slope of cumulative quantity against distance from mid (see module doc),
    in base units per quote unit. ``None`` with fewer than two levels (no line to fit) or if all
    distances coincide (only in a crossed book)."""
    n = len(levels)
    if n < 2:
        return None
    mid2 = best_bid + best_ask
    sx = sy = sxx = sxy = 0
    cum = 0
    for price, size in levels:
        cum += size
        d = abs(2 * price - mid2)
        sx += d
        sy += cum
        sxx += d * d
        sxy += d * cum
    den = n * sxx - sx * sx
    if den == 0:
        return None
    return (n * sxy - sx * sy) * 2 * price_scale / (den * qty_scale)
