"""Market-order impact: walk one side of the book as a market order of a given size would.

A buy walks the asks (lowest first), a sell walks the bids (highest first). The size is either a
base ``quantity`` or a quote ``notional``. The walk is exact: sizes are converted to
``Fraction`` from their shortest decimal form (``0.1`` means one tenth, not the binary float
nearest it) and every sum is a ``Fraction`` of integer book units; only the results are floats.

Definitions (``best`` = first level walked, ``mid = (best_bid + best_ask) / 2``):

- ``filled_qty`` = base quantity taken; ``notional`` = ``sum(p * q)`` over the quantity taken;
- ``avg_price = notional / filled_qty``; ``worst_price`` = price of the last level touched;
- ``levels_consumed`` = levels touched, fully or partly;
- ``slippage = avg_price - best`` for a buy and ``best - avg_price`` for a sell, so an adverse
  fill is positive; ``slippage_bps = slippage / best * 1e4``;
- ``slippage_vs_mid`` / ``slippage_vs_mid_bps`` the same against ``mid`` (``None`` without an
  opposite side);
- ``unfilled_qty`` (quantity orders) / ``unfilled_notional`` (notional orders): what the
  book could not fill; ``fully_filled`` is true when that is zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from orderbook.book import L2Book, Level

Side = Literal["buy", "sell"]

# Far beyond any real book (all BTC ever mined is ~2e7), small enough that Fraction arithmetic
# stays trivial: anything larger is a typo or an attack, not an order.
MAX_QUANTITY = Fraction(10**9)
MAX_NOTIONAL = Fraction(10**13)


class ImpactInputError(ValueError):
    """A simulate request that cannot be walked: bad side, size, or malformed levels."""


@dataclass(frozen=True, slots=True)
class ImpactResult:
    """Outcome of a simulated market order; see the module doc for each definition."""

    side: Side
    quantity: float | None
    notional_requested: float | None
    filled_qty: float
    notional: float
    avg_price: float | None
    best_price: float | None
    worst_price: float | None
    mid_price: float | None
    slippage: float | None
    slippage_bps: float | None
    slippage_vs_mid: float | None
    slippage_vs_mid_bps: float | None
    levels_consumed: int
    unfilled_qty: float | None
    unfilled_notional: float | None
    fully_filled: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def exact_positive(value: object, name: str, limit: Fraction) -> Fraction:
    """``value`` as an exact ``Fraction`` of its shortest decimal form; raises
    ``ImpactInputError`` unless it is a finite real number with ``0 < value <= limit``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, Fraction)):
        raise ImpactInputError(f"{name} must be a number, got {type(value).__name__}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ImpactInputError(f"{name} must be finite, got {value!r}")
        exact = Fraction(repr(value))  # repr is the shortest string that round-trips
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ImpactInputError(f"{name} must be finite, got {value}")
        exact = Fraction(value)
    else:
        exact = Fraction(value)
    if exact <= 0:
        raise ImpactInputError(f"{name} must be greater than 0, got {value!r}")
    if exact > limit:
        raise ImpactInputError(f"{name} {value!r} is absurdly large (limit {float(limit):g})")
    return exact


def walk_book(levels: Iterable[Level], side: Side, *, price_scale: int, qty_scale: int,
              quantity: object = None, notional: object = None,
              opposite_best: int | None = None) -> ImpactResult:
    """Walk ``levels`` (one side, best first, integer units) with a market ``side`` order of
    exactly one of base ``quantity`` or quote ``notional``. ``opposite_best`` is the best price
    (units) of the other side, for the mid. ``levels`` may be a lazy iterator: the walk stops at
    the first level it does not need."""
    if side not in ("buy", "sell"):
        raise ImpactInputError(f"side must be 'buy' or 'sell', got {side!r}")
    if (quantity is None) == (notional is None):
        raise ImpactInputError("give exactly one of quantity or notional")
    by_quantity = quantity is not None
    if by_quantity:
        requested = exact_positive(quantity, "quantity", MAX_QUANTITY)
        remaining = requested * qty_scale  # quantity units
    else:
        requested = exact_positive(notional, "notional", MAX_NOTIONAL)
        remaining = requested * price_scale * qty_scale  # price units * qty units, as p * q
    filled = Fraction(0)
    spent = Fraction(0)
    consumed = 0
    best: int | None = None
    worst: int | None = None
    for price, qty in levels:
        if remaining <= 0:
            break
        _check_level(price, qty, worst, side)
        if best is None:
            best = price
        if by_quantity:
            take = min(Fraction(qty), remaining)
            cost = take * price
            remaining -= take
        else:
            cost = min(Fraction(price * qty), remaining)
            take = cost / price
            remaining -= cost
        filled += take
        spent += cost
        consumed += 1
        worst = price
    return _result(side, requested, by_quantity, remaining, filled, spent, consumed,
                   best, worst, opposite_best, price_scale, qty_scale)


def _check_level(price: int, qty: int, previous: int | None, side: Side) -> None:
    if price <= 0 or qty <= 0:
        raise ImpactInputError(f"level ({price}, {qty}) must have positive price and quantity")
    if previous is not None and (price <= previous if side == "buy" else price >= previous):
        raise ImpactInputError(f"levels are not best first: {price} after {previous}")


def _result(side: Side, requested: Fraction, by_quantity: bool,
            remaining: Fraction, filled: Fraction, spent: Fraction, consumed: int,
            best: int | None, worst: int | None, opposite_best: int | None,
            price_scale: int, qty_scale: int) -> ImpactResult:
    sign = 1 if side == "buy" else -1
    avg = spent / filled if filled else None  # price units
    mid = (Fraction(best + opposite_best, 2)
           if best is not None and opposite_best is not None else None)

    def slip(ref: Fraction | int | None) -> tuple[float | None, float | None]:
        if avg is None or ref is None:
            return None, None
        diff = sign * (avg - ref)
        return float(diff / price_scale), float(diff / ref * 10_000)

    slippage, slippage_bps = slip(best)
    vs_mid, vs_mid_bps = slip(mid)
    return ImpactResult(
        side=side,
        quantity=float(requested) if by_quantity else None,
        notional_requested=None if by_quantity else float(requested),
        filled_qty=float(filled / qty_scale),
        notional=float(spent / (price_scale * qty_scale)),
        avg_price=None if avg is None else float(avg / price_scale),
        best_price=None if best is None else best / price_scale,
        worst_price=None if worst is None else worst / price_scale,
        mid_price=None if mid is None else float(mid / price_scale),
        slippage=slippage,
        slippage_bps=slippage_bps,
        slippage_vs_mid=vs_mid,
        slippage_vs_mid_bps=vs_mid_bps,
        levels_consumed=consumed,
        unfilled_qty=float(remaining / qty_scale) if by_quantity else None,
        unfilled_notional=None if by_quantity else float(remaining / (price_scale * qty_scale)),
        fully_filled=remaining == 0,
    )


def simulate_on_book(book: L2Book, side: Side, *, price_scale: int, qty_scale: int,
                     quantity: object = None, notional: object = None) -> ImpactResult:
    """``walk_book`` over the live book: a buy walks ``book.asks`` upwards, a sell
    ``book.bids`` downwards, lazily (only the levels needed are visited). Call it on the event
    loop that owns the book, as for any other book read."""
    if side == "buy":
        levels: Iterable[Level] = book.asks.items()
        opposite = book.best_bid()
    elif side == "sell":
        levels = reversed(book.bids.items())
        opposite = book.best_ask()
    else:
        raise ImpactInputError(f"side must be 'buy' or 'sell', got {side!r}")
    return walk_book(levels, side, price_scale=price_scale, qty_scale=qty_scale,
                     quantity=quantity, notional=notional,
                     opposite_best=None if opposite is None else opposite[0])
