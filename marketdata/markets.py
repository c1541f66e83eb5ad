"""Market identifiers: ``venue:symbol`` (``binance-usdm:BTCUSDT``, ``binance-spot:BTCUSDT``,
``coinbase:BTC-USD``).

A bare symbol (``BTCUSDT``) means a Binance USDT-M market, as it did before there was more than
one venue, so every existing URL, flag and client keeps working. The runtime keys USDT-M markets
by their bare symbol for the same reason (``MarketId.key``); other venues by the full id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BINANCE_USDM = "binance-usdm"
BINANCE_SPOT = "binance-spot"
COINBASE = "coinbase"
VENUES: tuple[str, ...] = (BINANCE_USDM, BINANCE_SPOT, COINBASE)
DEFAULT_VENUE = BINANCE_USDM
# Venues whose feeds the app runs (the others are named, parsed and refused with a message).
WIRED_VENUES: tuple[str, ...] = (BINANCE_USDM, BINANCE_SPOT, COINBASE)

# Binance symbols are letters and digits (BTCUSDT, 1000PEPEUSDT); Coinbase product ids are
# BASE-QUOTE (BTC-USD).
_SYMBOL_FORMS = {
    BINANCE_USDM: (re.compile(r"[A-Z0-9]{2,30}"), "letters and digits, e.g. BTCUSDT"),
    BINANCE_SPOT: (re.compile(r"[A-Z0-9]{2,30}"), "letters and digits, e.g. BTCUSDT"),
    COINBASE: (re.compile(r"[A-Z0-9]{1,15}-[A-Z0-9]{1,15}"), "a product id, e.g. BTC-USD"),
}


# Binance writes BASEQUOTE with no separator; these quote assets are recognised at the end
# (longest first, so FDUSD is not read as ...USD).
_BINANCE_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR",
                   "TRY")


class MarketIdError(ValueError):
    """Not a market this build knows how to name."""


@dataclass(frozen=True, order=True, slots=True)
class MarketId:
    venue: str
    symbol: str

    @classmethod
    def parse(cls, text: str) -> MarketId:
        """``venue:symbol`` or a bare USDT-M symbol; case-insensitive, whitespace trimmed."""
        venue, sep, symbol = text.strip().rpartition(":")
        venue = venue.strip().lower() if sep else DEFAULT_VENUE
        symbol = symbol.strip().upper()
        if venue not in _SYMBOL_FORMS:
            raise MarketIdError(f"unknown venue {venue!r} in {text.strip()[:60]!r}; venues: "
                                f"{', '.join(VENUES)}")
        form, example = _SYMBOL_FORMS[venue]
        if not form.fullmatch(symbol):
            raise MarketIdError(f"{symbol[:40]!r} is not a {venue} symbol ({example})")
        return cls(venue, symbol)

    @property
    def key(self) -> str:
        """How the runtime names it: the bare symbol for USDT-M, the full id otherwise."""
        return self.symbol if self.venue == DEFAULT_VENUE else str(self)

    @property
    def base(self) -> str:
        """The traded asset (``BTC`` of BTCUSDT and BTC-USD): markets of one asset across
        venues share it."""
        return self._split()[0]

    @property
    def quote(self) -> str:
        """The quote currency (``USDT``, ``USD``), in which the market's prices are."""
        return self._split()[1]

    def _split(self) -> tuple[str, str]:
        if self.venue == COINBASE:
            base, _, quote = self.symbol.partition("-")
            return base, quote
        for quote in _BINANCE_QUOTES:
            if self.symbol.endswith(quote) and len(self.symbol) > len(quote):
                return self.symbol[: -len(quote)], quote
        return self.symbol, ""

    def __str__(self) -> str:
        return f"{self.venue}:{self.symbol}"
