"""Binance USDT-M futures messages, described with the venue's own keys.

Only the fields depthlens uses are declared: msgspec ignores unknown keys (``ps``, ``st``, ``nq``
and whatever Binance adds next) and rejects a message whose used fields are missing or mistyped.
See ../shared/docs/exchange-protocols.md, section 1.
"""

from __future__ import annotations

import msgspec

PriceQty = tuple[str, str]


class DepthUpdate(msgspec.Struct, tag_field="e", tag="depthUpdate"):
    E: int
    s: str
    U: int
    u: int
    pu: int
    b: list[PriceQty]
    a: list[PriceQty]


class AggTrade(msgspec.Struct, tag_field="e", tag="aggTrade"):
    E: int
    s: str
    a: int
    p: str
    q: str
    T: int
    m: bool


class RawTrade(msgspec.Struct, tag_field="e", tag="trade"):
    """The raw ``<symbol>@trade`` event; recorded sessions carry it instead of aggTrade."""

    E: int
    s: str
    t: int
    p: str
    q: str
    T: int
    m: bool


class BookTicker(msgspec.Struct, tag_field="e", tag="bookTicker"):
    u: int
    s: str
    b: str
    B: str
    a: str
    A: str
    E: int = 0


class MarkPriceUpdate(msgspec.Struct, tag_field="e", tag="markPriceUpdate"):
    """``<symbol>@markPrice[@1s]`` (route /market). Prices and the funding rate are decimal
    strings; ``r`` is ``""`` and ``T`` 0 on delivery contracts, which have no funding. ``P``
    (estimated settle price) and ``ap`` are not used."""

    E: int
    s: str
    p: str  # mark price
    i: str  # index price
    r: str  # funding rate per interval, a fraction
    T: int  # next funding time, ms


class Ticker24hr(msgspec.Struct, tag_field="e", tag="24hrTicker"):
    """``<symbol>@ticker`` (route /market): rolling 24-hour statistics, pushed every second.
    ``P`` is the change in percent; ``v`` base and ``q`` quote volume. ``p``, ``w``, ``Q``,
    ``O``/``C``, ``F``/``L``/``n`` are not used."""

    E: int
    s: str
    c: str  # last price
    o: str  # open price (24 hours ago)
    h: str
    l: str  # the venue's key (low)
    P: str
    v: str
    q: str


StreamPayload = DepthUpdate | AggTrade | RawTrade | BookTicker | MarkPriceUpdate | Ticker24hr


class CombinedMessage(msgspec.Struct):
    """The ``/stream?streams=`` envelope."""

    stream: str
    data: StreamPayload


class DepthSnapshot(msgspec.Struct):
    """``GET /fapi/v1/depth`` response."""

    lastUpdateId: int
    bids: list[PriceQty]
    asks: list[PriceQty]
    E: int = 0
    T: int = 0


class SymbolFilter(msgspec.Struct):
    filterType: str
    tickSize: str | None = None
    stepSize: str | None = None


class SymbolInfo(msgspec.Struct):
    symbol: str
    filters: list[SymbolFilter]
    status: str = "TRADING"
    pricePrecision: int | None = None
    quantityPrecision: int | None = None


class RateLimit(msgspec.Struct):
    rateLimitType: str
    interval: str
    intervalNum: int
    limit: int


class ExchangeInfo(msgspec.Struct):
    symbols: list[SymbolInfo]
    rateLimits: list[RateLimit] = []


class ErrorReply(msgspec.Struct):
    """Binance's error body: ``{"code": -1121, "msg": "Invalid symbol."}``."""

    code: int
    msg: str
