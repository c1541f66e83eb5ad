"""Symbols the local exchange lists: precision, tick, lot step and where the simulation starts.

The tick and lot steps and precisions are Binance USDT-M's own (exchangeInfo, 2024) and the start
prices are where each market traded on 2024-08-08, the day of the BTCUSDT/ETHUSDT recordings:
BTC and ETH, BNB and SOL, and three thinner, large-tick markets (XRP, DOGE, LINK) whose touch
rarely moves. ``SPOT_SPECS`` are the same pairs on Binance Spot. ``ASSET_ANCHORS`` holds one such
price per asset, shared by every venue's simulation of it (``asset_path``), so the start prices
of every venue's listing are that anchor. A recorded symbol gets its venue's listed spec, any
other one decimals inferred from the recorded strings (``infer_spec``).
"""

from __future__ import annotations

from dataclasses import dataclass

from marketdata.markets import BINANCE_SPOT, BINANCE_USDM, COINBASE
from orderbook.instrument import Instrument

# One price per asset (2024-08-08), in the quote currency (USDT; Coinbase's USD taken at par):
# every venue's simulation of the asset starts there and follows one common path from it.
ASSET_ANCHORS: dict[str, str] = {
    "BTC": "61800.2", "ETH": "2680", "SOL": "155", "BNB": "520", "XRP": "0.56",
    "DOGE": "0.101", "LINK": "9.8",
}


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One listed symbol: its ``Instrument`` plus the exchangeInfo strings Binance reports."""

    instrument: Instrument
    tick_size: str
    step_size: str
    price_precision: int
    quantity_precision: int
    start_price: str = "0"

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @classmethod
    def make(cls, symbol: str, tick_size: str, step_size: str, price_precision: int,
             quantity_precision: int, start_price: str = "0") -> SymbolSpec:
        instrument = Instrument.from_steps(symbol, tick_size, step_size, price_precision,
                                          quantity_precision)
        return cls(instrument, tick_size, step_size, price_precision, quantity_precision,
                   start_price)


KNOWN_SPECS: dict[str, SymbolSpec] = {
    "BTCUSDT": SymbolSpec.make("BTCUSDT", "0.10", "0.001", 2, 3, "61800.20"),
    "ETHUSDT": SymbolSpec.make("ETHUSDT", "0.01", "0.001", 2, 3, "2680.00"),
    "BNBUSDT": SymbolSpec.make("BNBUSDT", "0.010", "0.01", 3, 2, "520.000"),
    "SOLUSDT": SymbolSpec.make("SOLUSDT", "0.0100", "1", 4, 0, "155.0000"),
    "XRPUSDT": SymbolSpec.make("XRPUSDT", "0.0001", "0.1", 4, 1, "0.5600"),
    "DOGEUSDT": SymbolSpec.make("DOGEUSDT", "0.000010", "1", 6, 0, "0.101000"),
    "LINKUSDT": SymbolSpec.make("LINKUSDT", "0.001", "0.01", 3, 2, "9.800"),
}


# Binance Spot lists the same pairs with its own steps (exchangeInfo, 2024); quantities are
# printed with baseAssetPrecision (8) decimals, as Spot does.
SPOT_SPECS: dict[str, SymbolSpec] = {
    "BTCUSDT": SymbolSpec.make("BTCUSDT", "0.01", "0.00001", 2, 8, "61800.20"),
    "ETHUSDT": SymbolSpec.make("ETHUSDT", "0.01", "0.0001", 2, 8, "2680.00"),
    "BNBUSDT": SymbolSpec.make("BNBUSDT", "0.01", "0.001", 2, 8, "520.00"),
    "SOLUSDT": SymbolSpec.make("SOLUSDT", "0.01", "0.001", 2, 8, "155.00"),
}


def _decimals(text: str) -> int:
    _, _, frac = text.partition(".")
    return len(frac)


def listed_specs(venue: str) -> dict[str, SymbolSpec]:
    """The specs ``venue`` lists: ``SPOT_SPECS`` for Binance Spot, ``KNOWN_SPECS`` otherwise."""
    return SPOT_SPECS if venue == BINANCE_SPOT else KNOWN_SPECS


def venue_of(spec: SymbolSpec) -> str:
    """The venue a listed spec belongs to, for callers that do not say: a Coinbase product id
    has a dash, a Binance Spot listing is the ``SPOT_SPECS`` one (its steps differ from the
    perpetual's), anything else is USDT-M."""
    if "-" in spec.symbol:
        return COINBASE
    return BINANCE_SPOT if SPOT_SPECS.get(spec.symbol) == spec else BINANCE_USDM


def infer_spec(symbol: str, price_text: str, qty_text: str,
               venue: str = BINANCE_USDM) -> SymbolSpec:
    """The spec of a recorded symbol: the venue's listed one, else inferred from the strings.

    The same pair has different steps per venue (BTCUSDT ticks 0.10 on USDT-M, 0.01 on Spot),
    so the listed spec is looked up on the recording's ``venue`` only. Binance prints fixed
    decimals (``"61800.20"``, ``"0.014"``), so the string widths give the precisions; the true
    tick may be coarser, but one unit of the last decimal is the only tick the recording itself
    proves. (Spot pads every price to 8 decimals, so an unlisted Spot symbol gets 8.)
    """
    known = listed_specs(venue).get(symbol)
    if known is not None:
        return known
    price_decimals, qty_decimals = _decimals(price_text), _decimals(qty_text)
    tick = "1" if price_decimals == 0 else "0." + "0" * (price_decimals - 1) + "1"
    step = "1" if qty_decimals == 0 else "0." + "0" * (qty_decimals - 1) + "1"
    return SymbolSpec.make(symbol, tick, step, price_decimals, qty_decimals, price_text)


@dataclass(frozen=True, slots=True)
class UsdmListing:
    """The exchangeInfo facts of a USDT-M listing beyond its steps: when it was listed, its
    order-size limits and category (Binance's exchangeInfo, 2024; the onboard dates of BTC and
    ETH are Binance's documented example, the others are their listing days, approximate)."""

    onboard_ms: int
    min_notional: str
    max_qty: str
    market_max_qty: str
    sub_types: tuple[str, ...] = ()


USDM_LISTINGS: dict[str, UsdmListing] = {
    "BTCUSDT": UsdmListing(1569398400000, "100", "1000", "120", ("PoW",)),
    "ETHUSDT": UsdmListing(1569398400000, "20", "10000", "2000", ("Layer-1",)),
    "BNBUSDT": UsdmListing(1581292800000, "5", "100000", "2000", ("BSC",)),
    "SOLUSDT": UsdmListing(1599811200000, "5", "1000000", "5000", ("Layer-1",)),
    "XRPUSDT": UsdmListing(1578614400000, "5", "10000000", "2000000", ("Payment",)),
    "DOGEUSDT": UsdmListing(1594771200000, "5", "50000000", "30000000", ("Meme",)),
    "LINKUSDT": UsdmListing(1578441600000, "5", "100000", "10000", ("Oracle",)),
}
# A recorded or added symbol not in the table: Binance's smallest notional, generous limits.
DEFAULT_USDM_LISTING = UsdmListing(1569398400000, "5", "1000000", "100000")
