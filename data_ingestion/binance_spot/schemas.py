"""Binance Spot messages, described with the venue's own keys (protocol doc section 2).

Only the fields depthlens uses are declared: msgspec ignores unknown keys (``M``, ``f``, ``l``
and whatever Binance adds next) and rejects a message whose used fields are missing or mistyped.
Spot's bookTicker has no ``e``, so it cannot join a union tagged on ``e``: combined frames are
dispatched on the stream name instead (see ``parser``), and the ``e`` tags here only make a
payload whose ``e`` contradicts its stream fail loudly.
"""

from __future__ import annotations

import msgspec

from data_ingestion.binance import schemas as futures_schemas

PriceQty = tuple[str, str]


class DepthUpdate(msgspec.Struct, tag_field="e", tag="depthUpdate"):
    """``<symbol>@depth[@100ms]``: spot has no ``pu`` and no ``T`` (section 2.3)."""

    E: int
    s: str
    U: int
    u: int
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
    """``<symbol>@trade``; the hftbacktest spot recordings carry it instead of aggTrade."""

    E: int
    s: str
    t: int
    p: str
    q: str
    T: int
    m: bool


class BookTicker(msgspec.Struct):
    """``<symbol>@bookTicker``: no ``e``, ``E`` or ``T`` on spot (section 2.6)."""

    u: int
    s: str
    b: str
    B: str
    a: str
    A: str


# ``<symbol>@ticker``: the keys depthlens reads (c, o, h, l, P, v, q) are the futures ones;
# Spot's extra keys (x, b, B, a, A, ...) are ignored, so the futures struct is Spot's too.
Ticker24hr = futures_schemas.Ticker24hr


TaggedPayload = DepthUpdate | AggTrade | RawTrade | Ticker24hr


class CombinedFrame(msgspec.Struct):
    """The ``/stream?streams=`` envelope; ``data`` is decoded once its stream is known."""

    stream: str
    data: msgspec.Raw


class DepthSnapshot(msgspec.Struct):
    """``GET /api/v3/depth`` response: no ``E``/``T`` on spot (section 2.7)."""

    lastUpdateId: int
    bids: list[PriceQty]
    asks: list[PriceQty]


class SymbolFilter(msgspec.Struct):
    filterType: str
    tickSize: str | None = None
    stepSize: str | None = None


class SymbolInfo(msgspec.Struct):
    """Spot has no futures-style ``pricePrecision``; ``baseAssetPrecision`` (8 on BTC and ETH)
    is the precision of base-asset amounts, hence of every quantity the venue can send."""

    symbol: str
    filters: list[SymbolFilter]
    status: str = "TRADING"
    baseAssetPrecision: int | None = None


class RateLimit(msgspec.Struct):
    rateLimitType: str
    interval: str
    intervalNum: int
    limit: int


class ExchangeInfo(msgspec.Struct):
    symbols: list[SymbolInfo]
    rateLimits: list[RateLimit] = []
