"""Exact prices and quantities: venue decimal strings <-> integer units.

Book keys are never floats. Every price is an ``int`` count of ``10**-price_decimals`` and every
quantity an ``int`` count of ``10**-qty_decimals``; the conversion happens once, at the edge.
Floats appear only in derived features (``Instrument.price`` / ``Instrument.qty``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

_NUMBER = re.compile(r"(\d+)(?:\.(\d*))?")
# Venue strings repeat heavily (the same prices and lot sizes over and over), so a bounded memo
# turns most conversions into one dict lookup. Two generations: when the current one is full it
# becomes the old one (the one before is dropped), and a hit in the old one moves the string back,
# so what is still in use survives a turnover. A generation ends after _GENERATION_S seconds or
# _CACHE_LIMIT strings, whichever comes first:
# - Live, time ends it: a feed that keeps printing new sizes (the simulator's random ones, a thin
#   market's) fills the memo at its own pace, and a count alone would let memory creep up for
#   hours (what the soak measured). Generations of 10 s, not 60 s: the default app's memos then
#   hold 70,000-160,000 fewer Python blocks, and its RSS runs 9-11 MB lower (the 150-minute
#   soaks of 2026-12-03, README "Hours-long runs"). Live, the cost is a few more parses a
#   second: on the real BTCUSDT futures recording at its own pace 10 s generations answer 89 %
#   of prices and 92 % of sizes from memory, against 95 % and 96 % with 60 s
#   (scripts/memo_hit_rate.py).
# - In a replay at --speed max or an export, a second of wall time is minutes of venue time, so
#   the count mostly ends it: 65,536 holds the 19,000 distinct prices a busy BTCUSDT prints in
#   six minutes (the replay benchmark: 0.60-0.63x the lean loop in five runs, against 0.53-0.62x
#   in three with 16,384; a loaded machine, so a lean rather than a proof).
# At most 2 x _CACHE_LIMIT strings a codec (about 15 MB, reached only by replays); a single
# generation of 200,000 with no clock grew for hours in the soak (28 MB a codec).
# The memo never changes a result, so its (wall) clock does not touch determinism.
_CACHE_LIMIT = 65_536
_GENERATION_S = 10.0


class PrecisionError(ValueError):
    """A decimal string is malformed or finer than the instrument's precision."""


class FixedPointCodec:
    """Parses unsigned decimal strings into integer units of ``10**-decimals`` and back."""

    __slots__ = ("decimals", "scale", "_cache", "_old", "_born")

    def __init__(self, decimals: int) -> None:
        if not 0 <= decimals <= 18:
            raise ValueError(f"decimals must be 0-18, got {decimals}")
        self.decimals = decimals
        self.scale = 10**decimals
        self._cache: dict[str, int] = {}
        self._old: dict[str, int] = {}
        self._born = time.monotonic()

    def parse(self, text: str) -> int:
        value = self._cache.get(text)
        if value is None:
            value = self._old.get(text)
            if value is None:
                value = self._parse_uncached(text)
            # Only a miss reads the clock: a feed whose strings all repeat never turns over.
            now = time.monotonic()
            if len(self._cache) >= _CACHE_LIMIT or now - self._born > _GENERATION_S:
                self._old, self._cache, self._born = self._cache, {}, now
            self._cache[text] = value
        return value

    def _parse_uncached(self, text: str) -> int:
        if not isinstance(text, str):
            raise PrecisionError(f"expected a decimal string, got {type(text).__name__}")
        # Binance and Coinbase print fixed decimals: the common case needs no regex.
        whole, dot, frac = text.partition(".")
        if (dot and len(frac) == self.decimals and whole.isdigit() and frac.isdigit()
                and whole.isascii() and frac.isascii()):
            return int(whole) * self.scale + int(frac)
        match = _NUMBER.fullmatch(text)
        if match is None:
            raise PrecisionError(f"not an unsigned decimal: {text[:40]!r}")
        whole, frac = match.group(1), match.group(2) or ""
        if len(frac) > self.decimals:
            if frac[self.decimals:].strip("0"):
                raise PrecisionError(f"{text!r} has more than {self.decimals} decimals")
            frac = frac[: self.decimals]
        return int(whole) * self.scale + int(frac.ljust(self.decimals, "0") or "0")

    def parse_pairs(self, pairs: list[tuple[str, str]],
                    qty: FixedPointCodec) -> list[tuple[int, int]]:
        """``[(price, qty), ...]`` strings to units, ``self`` parsing prices and ``qty`` the
        quantities. The hot path of every diff: plain dict subscripts while every string is
        cached, the validating path otherwise."""
        prices, qtys = self._cache, qty._cache
        try:
            return [(prices[p], qtys[q]) for p, q in pairs]
        except KeyError:  # some string not seen yet: parse just those
            parse_price, parse_qty = self.parse, qty.parse
            return [(prices[p] if p in prices else parse_price(p),
                     qtys[q] if q in qtys else parse_qty(q)) for p, q in pairs]

    def format(self, units: int) -> str:
        """Units back to the venue's fixed-decimal string (``61800.20`` style)."""
        if self.decimals == 0:
            return str(units)
        sign = "-" if units < 0 else ""
        whole, frac = divmod(abs(units), self.scale)
        return f"{sign}{whole}.{frac:0{self.decimals}d}"


def decimals_of(step: str) -> int:
    """Number of significant decimals in a step string: ``"0.10"`` -> 1, ``"0.001"`` -> 3."""
    _, _, frac = step.partition(".")
    return len(frac.rstrip("0"))


@dataclass(frozen=True)
class Instrument:
    """What the book needs to know about a symbol: its precision, tick and lot step.

    ``price_decimals`` may exceed the tick's own decimals: Binance quotes BTCUSDT as
    ``"61800.20"`` (pricePrecision 2) although its tick is 0.10.
    """

    symbol: str
    price_decimals: int
    qty_decimals: int
    tick_units: int = 1
    step_units: int = 1
    prices: FixedPointCodec = field(init=False, repr=False, compare=False)
    quantities: FixedPointCodec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prices", FixedPointCodec(self.price_decimals))
        object.__setattr__(self, "quantities", FixedPointCodec(self.qty_decimals))
        if self.tick_units <= 0 or self.step_units <= 0:
            raise ValueError(f"{self.symbol}: tick and step must be positive")

    @classmethod
    def from_steps(cls, symbol: str, tick_size: str, step_size: str,
                   price_precision: int | None = None,
                   qty_precision: int | None = None) -> Instrument:
        """Build from exchangeInfo-style strings (``tickSize``, ``stepSize``, precisions)."""
        price_decimals = max(decimals_of(tick_size), price_precision or 0)
        qty_decimals = max(decimals_of(step_size), qty_precision or 0)
        tick = FixedPointCodec(price_decimals).parse(tick_size)
        step = FixedPointCodec(qty_decimals).parse(step_size)
        return cls(symbol, price_decimals, qty_decimals, tick, step)

    @property
    def price_scale(self) -> int:
        return self.prices.scale

    @property
    def qty_scale(self) -> int:
        return self.quantities.scale

    @property
    def tick_size(self) -> float:
        return self.tick_units / self.prices.scale

    def price(self, units: int) -> float:
        return units / self.prices.scale

    def qty(self, units: int) -> float:
        return units / self.quantities.scale
