"""USDT-M market-data endpoints served from the exchange's own trades and book: ``aggTrades``,
``trades``, ``klines``, ``ticker/bookTicker``, ``ticker/price`` (v1 and v2).

Each handler is a pure function of the query and a ``MarketView`` that returns an ``Answer``
(weight, body) or raises ``ApiError`` with Binance's code; ``RestApi`` charges the weight and
writes the response. Parameters are checked in Binance's order: mandatory ones (-1102), their
characters (-1100), the interval (-1120), ranges (-1130, -1023, -1127), then the symbol (-1121,
charged the endpoint's weight as Binance does for a well-formed request).

Weights (Binance's USDT-M documentation): aggTrades 20, trades 5, klines by ``limit`` (1 below
100, 2 below 500, 5 up to 1000, 10 above), bookTicker 2 (5 for every symbol), ticker/price 1
(2 for every symbol).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from local_exchange.instruments import SymbolSpec
from local_exchange.snapshot import Snapshot
from local_exchange.trade_history import (
    KLINE_INTERVALS,
    SymbolTrades,
    TradeHistory,
    agg_trade_rest,
    kline_rest,
    trade_rest,
)

MAX_TRADES_LIMIT = 1000
MAX_KLINES_LIMIT = 1500
DEFAULT_LIMIT = 500
AGG_TRADES_WEIGHT = 20
TRADES_WEIGHT = 5
# (weight with a symbol, weight without: every symbol)
BOOK_TICKER_WEIGHTS = (2, 5)
PRICE_TICKER_WEIGHTS = (1, 2)
_HOUR_MS = 3_600_000
_SYMBOL_RE = re.compile(r"[A-Z0-9\-_.]{1,20}")
_INT_RE = re.compile(r"[0-9]{1,20}")


class ApiError(Exception):
    """A request Binance would refuse: HTTP ``status``, its ``code`` and ``msg``."""

    def __init__(self, code: int, msg: str, weight: int = 1, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.weight, self.status = code, msg, weight, status


@dataclass(frozen=True, slots=True)
class Answer:
    weight: int
    body: Any


@dataclass(frozen=True, slots=True)
class MarketView:
    """What the handlers read: the listing, the trades, the book and the venue's now."""

    listed: Mapping[str, SymbolSpec]
    trades: TradeHistory
    book: Callable[[str], Snapshot | None]  # the touch (limit 1) at its update id
    now_ms: int


# ------------------------------------------------------------------ parameters
def _mandatory(query: Mapping[str, str], name: str) -> str:
    value = query.get(name, "")
    if not value:
        raise ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or "
                       "malformed.")
    return value


def _symbol_text(query: Mapping[str, str]) -> str:
    symbol = _mandatory(query, "symbol")
    if not _SYMBOL_RE.fullmatch(symbol):
        raise ApiError(-1100, "Illegal characters found in parameter 'symbol'; legal range is "
                       "'^[A-Z0-9-_.]{1,20}$'.")
    return symbol


def _optional_int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    if not _INT_RE.fullmatch(value):
        raise ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                       "'^[0-9]{1,20}$'.")
    return int(value)


def _limit(query: Mapping[str, str], maximum: int) -> int:
    limit = _optional_int(query, "limit")
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= maximum:
        raise ApiError(-1130, "Data sent for parameter 'limit' is not valid.")
    return limit


def _times(query: Mapping[str, str]) -> tuple[int | None, int | None]:
    start, end = _optional_int(query, "startTime"), _optional_int(query, "endTime")
    if start is not None and end is not None and start > end:
        raise ApiError(-1023, "Start time is greater than end time.")
    return start, end


def _history(view: MarketView, symbol: str, weight: int) -> SymbolTrades:
    history = view.trades.of(symbol) if symbol in view.listed else None
    if history is None:
        raise ApiError(-1121, "Invalid symbol.", weight=weight)
    return history


def kline_weight(limit: int) -> int:
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


# ------------------------------------------------------------------ handlers
def agg_trades(query: Mapping[str, str], view: MarketView) -> Answer:
    """``GET /fapi/v1/aggTrades``: fromId, startTime/endTime (less than 1 h apart), limit."""
    symbol = _symbol_text(query)
    from_id = _optional_int(query, "fromId")
    start, end = _times(query)
    limit = _limit(query, MAX_TRADES_LIMIT)
    if start is not None and end is not None and end - start >= _HOUR_MS:
        raise ApiError(-1127, "More than 1 hours between startTime and endTime.")
    history = _history(view, symbol, AGG_TRADES_WEIGHT)
    chosen = history.agg_trades(from_id=from_id, start_ms=start, end_ms=end, limit=limit)
    return Answer(AGG_TRADES_WEIGHT, [agg_trade_rest(a, history.spec) for a in chosen])


def trades(query: Mapping[str, str], view: MarketView) -> Answer:
    """``GET /fapi/v1/trades``: the newest ``limit`` raw trades."""
    symbol = _symbol_text(query)
    limit = _limit(query, MAX_TRADES_LIMIT)
    history = _history(view, symbol, TRADES_WEIGHT)
    return Answer(TRADES_WEIGHT, [trade_rest(t, history.spec) for t in history.trades(limit)])


def klines(query: Mapping[str, str], view: MarketView) -> Answer:
    """``GET /fapi/v1/klines``: symbol, interval, startTime, endTime, limit (max 1500)."""
    symbol = _symbol_text(query)
    interval = _mandatory(query, "interval")
    if interval not in KLINE_INTERVALS:
        raise ApiError(-1120, "Invalid interval.")
    start, end = _times(query)
    limit = _limit(query, MAX_KLINES_LIMIT)
    weight = kline_weight(limit)
    history = _history(view, symbol, weight)
    candles = history.klines(interval, view.now_ms, start_ms=start, end_ms=end, limit=limit)
    return Answer(weight, [kline_rest(k, history.spec) for k in candles])


def book_ticker(query: Mapping[str, str], view: MarketView) -> Answer:
    """``GET /fapi/v1/ticker/bookTicker``: the touch of one symbol or of every listed one."""
    return _per_symbol(query, view, BOOK_TICKER_WEIGHTS, _book_ticker_body)


def price_ticker(query: Mapping[str, str], view: MarketView) -> Answer:
    """``GET /fapi/v1/ticker/price`` and ``/fapi/v2/ticker/price``: the last trade's price."""
    return _per_symbol(query, view, PRICE_TICKER_WEIGHTS, _price_body)


def _per_symbol(query: Mapping[str, str], view: MarketView, weights: tuple[int, int],
                body_of: Callable[[MarketView, str], dict[str, Any] | None]) -> Answer:
    """One symbol's body, or every listed symbol's (those without one left out) as a list."""
    if "symbol" not in query:
        bodies = (body_of(view, symbol) for symbol in list(view.listed))
        return Answer(weights[1], [b for b in bodies if b is not None])
    symbol = _symbol_text(query)
    body = body_of(view, symbol) if symbol in view.listed else None
    if body is None:
        raise ApiError(-1121, "Invalid symbol.", weight=weights[0])
    return Answer(weights[0], body)


def _book_ticker_body(view: MarketView, symbol: str) -> dict[str, Any] | None:
    """None while a side is empty (a replay before its snapshot)."""
    snap = view.book(symbol)
    if snap is None or not snap.bids or not snap.asks:
        return None
    instrument = view.listed[symbol].instrument
    fmt_p, fmt_q = instrument.prices.format, instrument.quantities.format
    (bid, bid_qty), (ask, ask_qty) = snap.bids[0], snap.asks[0]
    return {"lastUpdateId": snap.last_update_id, "symbol": symbol, "bidPrice": fmt_p(bid),
            "bidQty": fmt_q(bid_qty), "askPrice": fmt_p(ask), "askQty": fmt_q(ask_qty),
            "time": snap.transaction_ms}


def _price_body(view: MarketView, symbol: str) -> dict[str, Any] | None:
    """Before the first trade the price is 0, as ``ticker/24hr``'s ``lastPrice`` is then."""
    history = view.trades.of(symbol)
    last = history.last_trade if history is not None else None
    fmt_p = view.listed[symbol].instrument.prices.format
    if last is None:
        return {"symbol": symbol, "price": fmt_p(0), "time": view.now_ms}
    return {"symbol": symbol, "price": fmt_p(last.price), "time": last.time_ms}
