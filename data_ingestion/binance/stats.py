"""Binance market statistics (USDT-M ``markPriceUpdate``, USDT-M and Spot ``24hrTicker``) ->
``MarkPrice`` / ``Ticker24h``.

These are statistics, not book levels: the venue computes mark and index prices to more decimals
than the tick, so they become floats (``marketdata.events``) instead of integer units, and no
instrument is needed to read them. Every number used is still validated (``stats_fields``): a
decimal string, finite, and not negative where a negative value is meaningless; anything else
raises ``BadNumber``, and the parser skips, counts and logs the message.
"""

from __future__ import annotations

from typing import Protocol

from data_ingestion.stats_fields import decimal
from marketdata.events import MarkPrice, Ticker24h


class _MarkPriceMsg(Protocol):
    E: int
    s: str
    p: str
    i: str
    r: str
    T: int


class _TickerMsg(Protocol):
    E: int
    s: str
    c: str
    o: str
    h: str
    l: str  # the venue's key (low)
    P: str
    v: str
    q: str


def mark_price(msg: _MarkPriceMsg, receive_ts_ns: int) -> MarkPrice:
    """A ``markPriceUpdate``. A delivery contract sends ``r: ""`` and ``T: 0`` (it has no
    funding): that reads as a zero rate; an empty rate with a funding time is malformed."""
    if msg.r == "" and msg.T == 0:
        funding = 0.0
    else:
        funding = decimal(msg.r, "markPriceUpdate.r", signed=True)
    return MarkPrice(msg.s, decimal(msg.p, "markPriceUpdate.p"),
                     decimal(msg.i, "markPriceUpdate.i"), funding, msg.T, msg.E, receive_ts_ns)


def ticker_24h(msg: _TickerMsg, receive_ts_ns: int) -> Ticker24h:
    """A ``24hrTicker`` (same used keys on USDT-M and Spot)."""
    return Ticker24h(msg.s, last_price=decimal(msg.c, "24hrTicker.c"),
                     open_price=decimal(msg.o, "24hrTicker.o"),
                     high_price=decimal(msg.h, "24hrTicker.h"),
                     low_price=decimal(msg.l, "24hrTicker.l"),
                     change_pct=decimal(msg.P, "24hrTicker.P", signed=True),
                     volume=decimal(msg.v, "24hrTicker.v"),
                     quote_volume=decimal(msg.q, "24hrTicker.q"),
                     exchange_ts_ms=msg.E, receive_ts_ns=receive_ts_ns)
