"""Binance's market statistics from the local exchange's own trades and book: ``@ticker``
(``24hrTicker``) every second, and on USDT-M ``@markPrice@1s`` every second and ``@markPrice``
every 3 s (``markPriceUpdate``), plus the REST bodies of ``/fapi/v1/ticker/24hr``,
``/fapi/v1/premiumIndex`` and Spot's ``/api/v3/ticker/24hr``. Field names are Binance's own.

Derived, so everything the venue serves agrees:

* 24-hour statistics are the venue's trades since it started (a replay: since the replay
  started), over a rolling window of per-minute buckets (``market_stats.RollingTrades``). A
  market without trades reports zeros with ``F``/``L`` -1, as Binance does for an idle symbol.
* mark price: the mid of the published book (Binance takes a median of impact prices and the
  last price; the mid is what the book alone gives). In a replay it is the recorded book's mid,
  a derived number: the recordings hold no mark price.
* index price: the asset's spot reference when the model gives one (``index``), else the mid.
* funding: ``market_stats.FundingState``, one premium sample a second; ``P`` (estimated settle
  price) is the index.

Times are venue times (``now_ms``): the clock when simulating, the recorded event time in a
replay, so these events share their books' timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from local_exchange.instruments import SymbolSpec
from local_exchange.market_stats import (
    INTEREST_RATE,
    FundingState,
    RollingTrades,
    WindowStats,
    fmt_float,
    next_funding_ms,
)
from local_exchange.matching import Level
from orderbook.instrument import FixedPointCodec

Payload = dict[str, Any]
# symbol -> (bids best first, asks best first) as published; None when there is no book yet.
BookOf = Callable[[str], tuple[list[Level], list[Level]] | None]
# symbol -> the asset's spot reference price in the symbol's price units, None if unknown.
IndexOf = Callable[[str], float | None]

MARK_DECIMALS = 8  # Binance prints mark, index and funding with 8 decimals
_MARK_SLOW_EVERY_S = 3


class BinanceStatsFeed:
    """Per-symbol trade windows and funding state of one ``LocalExchange``."""

    def __init__(self, specs: Mapping[str, SymbolSpec], spot: bool, book: BookOf,
                 now_ms: Callable[[], int], index: IndexOf | None = None) -> None:
        self.specs = specs  # the exchange's live listing: symbols added later are served too
        self.spot = spot
        self._book, self._index, self.now_ms = book, index, now_ms
        self._trades: dict[str, RollingTrades] = {}
        self._funding: dict[str, FundingState] = {}
        self._last_second: int | None = None

    # ------------------------------------------------------------------ input
    def record(self, symbol: str, price: int, qty: int, first_id: int, last_id: int,
               ts_ms: int) -> None:
        """One (aggregated) trade in integer units."""
        self._window(symbol).add(price, qty, first_id, last_id, ts_ms)

    def record_payload(self, trade: Payload) -> None:
        """A published ``aggTrade`` or recorded ``trade`` payload."""
        spec = self.specs.get(trade["s"])
        if spec is None:
            return
        first, last = (trade["f"], trade["l"]) if "f" in trade else (trade["t"], trade["t"])
        instrument = spec.instrument
        self.record(trade["s"], instrument.prices.parse(trade["p"]),
                    instrument.quantities.parse(trade["q"]), first, last, trade["T"])

    def forget(self, symbol: str) -> None:
        self._trades.pop(symbol, None)
        self._funding.pop(symbol, None)

    # ----------------------------------------------------------------- output
    def due(self, now_ms: int) -> list[tuple[tuple[str, ...], Payload]]:
        """The stream events due at ``now_ms``: all of them once a venue second, at the first
        call in a new second (not at the very first call: the cadence starts on a boundary)."""
        second = now_ms // 1000
        if self._last_second is None or second <= self._last_second:
            self._last_second = second if self._last_second is None else self._last_second
            return []
        self._last_second = second
        out: list[tuple[tuple[str, ...], Payload]] = []
        for symbol in list(self.specs):
            lower = symbol.lower()
            out.append(((f"{lower}@ticker",), self.ticker_event(symbol, now_ms)))
            if self.spot:
                continue
            mark = self.mark_event(symbol, now_ms, sample=True)
            if mark is not None:
                names = (f"{lower}@markprice@1s",)
                if second % _MARK_SLOW_EVERY_S == 0:
                    names += (f"{lower}@markprice",)
                out.append((names, mark))
        return out

    def ticker_event(self, symbol: str, now_ms: int) -> Payload:
        """``<symbol>@ticker``'s ``24hrTicker`` (Spot's has ``x``, ``b``, ``B``, ``a``, ``A``)."""
        body = self._ticker_fields(symbol, now_ms)
        event: Payload = {"e": "24hrTicker", "E": now_ms, "s": symbol}
        for key, rest_key in _STREAM_KEYS:
            if rest_key in body:
                event[key] = body[rest_key]
        return event

    def ticker_rest(self, symbol: str) -> Payload:
        """``GET .../ticker/24hr?symbol=``'s body at the venue's now."""
        return {"symbol": symbol, **self._ticker_fields(symbol, self.now_ms())}

    def mark_event(self, symbol: str, now_ms: int, sample: bool = False) -> Payload | None:
        """``markPriceUpdate``; None without a two-sided book. ``sample`` feeds funding."""
        prices = self._mark_index(symbol)
        if prices is None:
            return None
        mark, index = prices
        funding = self._funding.setdefault(symbol, FundingState())
        if sample and index > 0:
            funding.sample((mark - index) / index, now_ms)
        scale = self.specs[symbol].instrument.price_scale
        return {"e": "markPriceUpdate", "E": now_ms, "s": symbol,
                "p": fmt_float(mark / scale, MARK_DECIMALS),
                "P": fmt_float(index / scale, MARK_DECIMALS),
                "i": fmt_float(index / scale, MARK_DECIMALS),
                "r": fmt_float(funding.rate, MARK_DECIMALS), "T": next_funding_ms(now_ms)}

    def premium_index_rest(self, symbol: str) -> Payload | None:
        """``GET /fapi/v1/premiumIndex?symbol=``'s body; None without a book."""
        now_ms = self.now_ms()
        event = self.mark_event(symbol, now_ms)
        if event is None:
            return None
        return {"symbol": symbol, "markPrice": event["p"], "indexPrice": event["i"],
                "estimatedSettlePrice": event["P"], "lastFundingRate": event["r"],
                "interestRate": fmt_float(INTEREST_RATE, MARK_DECIMALS),
                "nextFundingTime": event["T"], "time": now_ms}

    # -------------------------------------------------------------- internals
    def _window(self, symbol: str) -> RollingTrades:
        window = self._trades.get(symbol)
        if window is None:
            window = self._trades[symbol] = RollingTrades()
        return window

    def _mark_index(self, symbol: str) -> tuple[float, float] | None:
        book = self._book(symbol)
        if book is None or not book[0] or not book[1]:
            return None
        mid = (book[0][0][0] + book[1][0][0]) / 2
        index = self._index(symbol) if self._index is not None else None
        return mid, (index if index is not None and index > 0 else mid)

    def _ticker_fields(self, symbol: str, now_ms: int) -> Payload:
        """The REST field names and values; the stream's are mapped from them."""
        instrument = self.specs[symbol].instrument
        fmt_p, fmt_q = instrument.prices.format, instrument.quantities.format
        fmt_quote = FixedPointCodec(instrument.price_decimals + instrument.qty_decimals).format
        stats = self._window(symbol).stats(now_ms) or _idle(now_ms)
        average = (stats.quote / stats.volume / instrument.price_scale if stats.volume else 0.0)
        body: Payload = {
            "priceChange": fmt_p(stats.change),
            "priceChangePercent": fmt_float(stats.change_pct, 3),
            "weightedAvgPrice": fmt_float(average, instrument.price_decimals + 2),
            "lastPrice": fmt_p(stats.last), "lastQty": fmt_q(stats.last_qty),
            "openPrice": fmt_p(stats.open), "highPrice": fmt_p(stats.high),
            "lowPrice": fmt_p(stats.low), "volume": fmt_q(stats.volume),
            "quoteVolume": fmt_quote(stats.quote), "openTime": stats.open_ms,
            "closeTime": stats.close_ms, "firstId": stats.first_id, "lastId": stats.last_id,
            "count": stats.count}
        if self.spot:
            body["prevClosePrice"] = fmt_p(stats.prev_close)
            book = self._book(symbol)
            bids, asks = book if book is not None else ([], [])
            best_bid, best_ask = bids[0] if bids else (0, 0), asks[0] if asks else (0, 0)
            body.update(bidPrice=fmt_p(best_bid[0]), bidQty=fmt_q(best_bid[1]),
                        askPrice=fmt_p(best_ask[0]), askQty=fmt_q(best_ask[1]))
        return body


# Stream key -> REST key, in the stream's documented order (Spot-only keys are skipped on
# USDT-M because its REST body lacks them).
_STREAM_KEYS = (
    ("p", "priceChange"), ("P", "priceChangePercent"), ("w", "weightedAvgPrice"),
    ("x", "prevClosePrice"), ("c", "lastPrice"), ("Q", "lastQty"), ("b", "bidPrice"),
    ("B", "bidQty"), ("a", "askPrice"), ("A", "askQty"), ("o", "openPrice"),
    ("h", "highPrice"), ("l", "lowPrice"), ("v", "volume"), ("q", "quoteVolume"),
    ("O", "openTime"), ("C", "closeTime"), ("F", "firstId"), ("L", "lastId"), ("n", "count"),
)


def _idle(now_ms: int) -> WindowStats:
    """An idle market: zeros, ``F``/``L`` -1, no trades."""
    return WindowStats(now_ms - 24 * 3600 * 1000, now_ms, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1, 0)
