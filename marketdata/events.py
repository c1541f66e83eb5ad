"""Venue-agnostic typed events: the vocabulary every venue's feed produces and every consumer
reads.

They live here, not in ``data_ingestion``, so that the book, features and state depend on this
small package and never on the ingestion edge. Venue JSON stops at ``data_ingestion``; past it
there are only these frozen structs.
Prices and quantities are integer units of the symbol's ``Instrument`` (see
``orderbook.instrument``). Every event carries the exchange's timestamp (ms) and the local
receive time (ns, from the injected clock), as hftbacktest does.

The level lists are never mutated after construction (msgspec's ``frozen`` stops reassignment,
not list mutation; treat them as tuples).
"""

from __future__ import annotations

from typing import Literal

import msgspec

# (price units, quantity units). Quantity is the new absolute size; 0 removes the level.
Level = tuple[int, int]
Side = Literal["buy", "sell"]


class DepthDiff(msgspec.Struct, frozen=True, gc=False):
    """Changes to price levels covering venue update ids ``first_update_id..last_update_id``.

    ``prev_update_id`` is the venue's link to the previous event on the stream (Binance
    futures ``pu``); ``None`` on venues that do not send one.
    """

    symbol: str
    first_update_id: int
    last_update_id: int
    prev_update_id: int | None
    bids: list[Level]
    asks: list[Level]
    exchange_ts_ms: int
    receive_ts_ns: int


class DepthSnapshot(msgspec.Struct, frozen=True, gc=False):
    """A full book (up to the venue's depth limit) as of venue update id ``last_update_id``."""

    symbol: str
    last_update_id: int
    bids: list[Level]
    asks: list[Level]
    exchange_ts_ms: int
    receive_ts_ns: int


class Trade(msgspec.Struct, frozen=True, gc=False):
    """One (aggregate) trade. ``taker_side`` is the aggressor: ``"sell"`` when the buyer was
    the maker (Binance ``m=true``)."""

    symbol: str
    trade_id: int
    price: int
    qty: int
    taker_side: Side
    exchange_ts_ms: int
    receive_ts_ns: int


class BookTicker(msgspec.Struct, frozen=True, gc=False):
    """Best bid and ask as the venue reports them; used to cross-check books."""

    symbol: str
    update_id: int
    bid_price: int
    bid_qty: int
    ask_price: int
    ask_qty: int
    exchange_ts_ms: int
    receive_ts_ns: int


class MarkPrice(msgspec.Struct, frozen=True, gc=False):
    """A perpetual's mark and index price and its funding (Binance ``markPriceUpdate``).

    Prices are floats, not integer units: the venue computes them to more decimals than the
    tick (``"61800.23456789"``), and they are statistics, never book levels.
    ``funding_rate`` is a fraction per funding interval (0.0001 = 0.01 %).
    """

    symbol: str
    mark_price: float
    index_price: float
    funding_rate: float
    next_funding_ms: int
    exchange_ts_ms: int
    receive_ts_ns: int


class Ticker24h(msgspec.Struct, frozen=True, gc=False):
    """Rolling 24-hour statistics as the venue reports them (Binance ``24hrTicker``, Coinbase
    ``ticker``). Floats, like ``MarkPrice``. ``open_price`` and ``quote_volume`` are None where
    the venue does not send them (Coinbase sends the change in percent and base volume only).
    """

    symbol: str
    last_price: float
    open_price: float | None
    high_price: float
    low_price: float
    change_pct: float
    volume: float  # base units
    quote_volume: float | None  # quote units
    exchange_ts_ms: int
    receive_ts_ns: int


# Market-wide statistics: not book events, they go to the runtime's stats store.
MarketStats = MarkPrice | Ticker24h

MarketEvent = DepthDiff | DepthSnapshot | Trade | BookTicker | MarkPrice | Ticker24h
