"""Coinbase Advanced Trade WebSocket messages, described with the venue's own keys.

Only what depthlens uses is declared; msgspec ignores every other key (``client_id``, which
production omits anyway, ``ticker`` fields, whatever Coinbase adds next). An envelope is decoded
first with its ``events`` left raw, because the ``sequence_num`` of *every* message matters (one
counter per connection, section 3.3) while only some channels' events are used.
See ../shared/docs/exchange-protocols.md, sections 3.1-3.4.
"""

from __future__ import annotations

import msgspec


class Envelope(msgspec.Struct):
    channel: str
    sequence_num: int
    timestamp: str = ""
    events: msgspec.Raw = msgspec.Raw(b"[]")


class L2Update(msgspec.Struct):
    """One level: ``new_quantity`` is the new absolute size, ``"0"`` removes it (section 4)."""

    side: str
    event_time: str
    price_level: str
    new_quantity: str


class L2Event(msgspec.Struct):
    type: str  # "snapshot" (the whole book, a full reset) or "update"
    product_id: str
    updates: list[L2Update]


class MarketTrade(msgspec.Struct):
    trade_id: str
    product_id: str
    price: str
    size: str
    side: str
    time: str


class MarketTradesEvent(msgspec.Struct):
    type: str
    trades: list[MarketTrade]


class Product(msgspec.Struct):
    """An entry of ``GET /api/v3/brokerage/market/products``: the product's increments."""

    product_id: str
    base_increment: str
    quote_increment: str
    price_increment: str = ""
    status: str = "online"
    trading_disabled: bool = False


class Products(msgspec.Struct):
    products: list[Product]
