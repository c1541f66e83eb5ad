"""Coinbase Advanced Trade WebSocket messages, described with the venue's own keys.

Only what depthlens uses is declared; msgspec ignores every other key (``client_id``, which
production omits anyway, the ticker's best bid/ask, whatever Coinbase adds next). An envelope is
decoded first with its ``events`` left raw, because the ``sequence_num`` of *every* message
matters (one counter per connection, section 3.3) while only some channels' events are used.
See ../shared/docs/exchange-protocols.md, sections 3.1-3.4.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class Envelope(msgspec.Struct):
    channel: str
    sequence_num: int
    timestamp: str = ""
    events: msgspec.Raw = msgspec.Raw(b"[]")


class ErrorReply(msgspec.Struct):
    """The venue's answer to a request it refuses (e.g. a subscription to an unknown channel
    or product): ``{"type": "error", "message": ...}``, outside the sequence."""

    type: Literal["error"]
    message: str = ""


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


class Ticker(msgspec.Struct):
    """One product's entry of the ``ticker`` channel: the last trade's price and rolling
    24-hour statistics. ``price_percent_chg_24_h`` is in percent; ``volume_24_h`` is in base
    units. No open price, quote volume or time of its own (the envelope's ``timestamp`` is the
    only one). ``best_bid``/``best_ask`` and the 52-week range are not used."""

    product_id: str
    price: str
    volume_24_h: str
    low_24_h: str
    high_24_h: str
    price_percent_chg_24_h: str


class TickerEvent(msgspec.Struct):
    type: str  # "snapshot" on subscribing, then "update"
    tickers: list[Ticker]


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
