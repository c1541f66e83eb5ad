"""The derived market streams of ``LocalExchange``, all from what it already publishes.

* ``<symbol>@trade``: the raw fills of each published aggTrade, through ``TradeHistory`` (so
  REST ``/fapi/v1/trades`` and ``/aggTrades`` hold the same ids); in a replay the recorded
  ``trade`` events are published as recorded and only recorded here.
* partial depth ``<symbol>@depth<5|10|20>[@100ms|@500ms]``: the top N of the published book
  right after the diff of the stream it follows (``@depth@100ms``, ``@depth``, ``@depth@500ms``),
  carrying that diff's ``U``/``u``/``pu``, so it equals the book a client rebuilt from those
  diffs at the same ``u``. It is sent when its diff stream sends (a quiet book sends neither).
  Spot's shape is ``{"lastUpdateId", "bids", "asks"}``. Depth faults do not touch it.
* ``<symbol>@kline_<interval>``: ``TradeHistory``'s current candle every 250 ms (Binance's
  USDT-M cadence) once the symbol has traded; when a candle's interval has passed it is sent
  once more with ``x: true`` before the next one.
* ``<symbol>@miniTicker`` and ``!miniTicker@arr`` (``24hrMiniTicker``), ``!ticker@arr``,
  ``!markPrice@arr`` (every 3 s) and ``!markPrice@arr@1s``: from the per-symbol events that
  ``binance_stats`` makes due each second. Binance's arrays hold only the symbols that changed;
  these hold every listed symbol.
* ``!bookTicker``: every per-symbol ``bookTicker`` event, as sent on ``<symbol>@bookTicker``.

Nothing is built for a stream without a subscriber (``StreamServer.wants``).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from local_exchange.instruments import SymbolSpec
from local_exchange.matching import Level
from local_exchange.streams_catalog import PARTIAL_LEVELS, PARTIAL_SPEEDS
from local_exchange.trade_history import (
    KLINE_INTERVALS,
    TradeHistory,
    bucket_open,
    kline_stream,
    trade_stream,
)

if TYPE_CHECKING:
    from local_exchange.replay import ReplayMarket

Payload = dict[str, Any]
# symbol, levels -> (bids best first, asks best first) of the book as just published.
TopOf = Callable[[str, int], tuple[list[Level], list[Level]] | None]

KLINE_EVERY_MS = 250
_MINI_KEYS = ("c", "o", "h", "l", "v", "q")


class Publisher(Protocol):
    """What this needs from ``StreamServer``."""

    def wants(self, name: str) -> bool: ...

    def publish(self, names: Iterable[str], payload: dict[str, Any] | list[Any]) -> int: ...


class MarketStreams:
    """Builds and publishes the derived streams of one exchange (USDT-M or Spot)."""

    def __init__(self, server: Publisher, trades: TradeHistory,
                 specs: Mapping[str, SymbolSpec], spot: bool) -> None:
        self.server, self.trades, self.specs, self.spot = server, trades, specs, spot
        self._last_kline_ms: int | None = None
        self._kline_open: dict[tuple[str, str], int] = {}  # (symbol, interval) -> open sent

    # ------------------------------------------------------------------ trades
    def on_agg_trade(self, payload: Payload, fill_qtys: Sequence[int] = ()) -> None:
        """A published aggTrade: record it and publish its raw trades on ``@trade``."""
        raws = self.trades.on_agg_trade_payload(payload, fill_qtys)
        name = f"{payload['s'].lower()}@trade"
        if not raws or not self.server.wants(name):
            return
        spec = self.specs[payload["s"]]
        for trade in raws:
            event = trade_stream(trade, spec, payload["E"])
            self.server.publish((name,), _spot_trade(event) if self.spot else event)

    def on_recorded_trade(self, payload: Payload) -> None:
        """A replayed raw ``trade`` (already published as recorded): record it only."""
        self.trades.on_trade_payload(payload)

    # ------------------------------------------------------------------ book
    def on_book_ticker(self, payload: Payload) -> None:
        if not self.spot:
            self.server.publish(("!bookticker",), payload)

    def on_depth(self, symbol: str, kind: str, diff: Payload, top: TopOf) -> None:
        """The diff ``diff`` just went out on ``<symbol>@<kind>``: the partial-depth streams
        that follow ``kind`` send the book's top N at its ``u``."""
        lower = symbol.lower()
        wanted = [(levels, f"{lower}@depth{levels}{suffix}")
                  for suffix, follows in PARTIAL_SPEEDS.items() if follows == kind
                  for levels in PARTIAL_LEVELS]
        wanted = [(levels, name) for levels, name in wanted if self.server.wants(name)]
        if not wanted:
            return
        book = top(symbol, max(levels for levels, _ in wanted))
        if book is None:
            return
        fmt_p = self.specs[symbol].instrument.prices.format
        fmt_q = self.specs[symbol].instrument.quantities.format
        bids = [[fmt_p(p), fmt_q(q)] for p, q in book[0]]
        asks = [[fmt_p(p), fmt_q(q)] for p, q in book[1]]
        for levels, name in wanted:
            if self.spot:
                payload: Payload = {"lastUpdateId": diff["u"], "bids": bids[:levels],
                                    "asks": asks[:levels]}
            else:
                payload = {"e": "depthUpdate", "E": diff["E"], "T": diff.get("T", diff["E"]),
                           "s": symbol, "U": diff["U"], "u": diff["u"],
                           "pu": diff.get("pu", diff["U"] - 1),
                           "b": bids[:levels], "a": asks[:levels]}
            self.server.publish((name,), payload)

    # ------------------------------------------------------------------ klines
    def on_tick(self, now_ms: int) -> None:
        """Every publish tick: the kline streams, at most once per 250 ms."""
        slot = now_ms // KLINE_EVERY_MS
        if self._last_kline_ms is not None and slot <= self._last_kline_ms:
            return
        self._last_kline_ms = slot
        for symbol in list(self.specs):
            history = self.trades.of(symbol)
            if history is None:
                continue
            for interval in KLINE_INTERVALS:
                name = f"{symbol.lower()}@kline_{interval}"
                if self.server.wants(name):
                    self._send_kline(symbol, interval, name, now_ms)

    def _send_kline(self, symbol: str, interval: str, name: str, now_ms: int) -> None:
        history = self.trades.of(symbol)
        assert history is not None
        spec = self.specs[symbol]
        key = (symbol, interval)
        sent_open = self._kline_open.get(key)
        if sent_open is not None and bucket_open(interval, now_ms) > sent_open:
            # The candle we were updating has closed: send its final state once.
            final = history.klines(interval, now_ms, start_ms=sent_open, limit=1)
            if final and final[0].open_ms == sent_open:
                self.server.publish((name,), kline_stream(final[0], spec, now_ms, True))
        candle = history.current_kline(interval, now_ms)
        if candle is None:
            return
        self._kline_open[key] = candle.open_ms
        self.server.publish((name,), kline_stream(candle, spec, now_ms, False))

    # ------------------------------------------------------------------ statistics
    def on_stats(self, due: list[tuple[tuple[str, ...], Payload]]) -> None:
        """Publish the per-symbol statistics events and the streams derived from them."""
        tickers: list[Payload] = []
        marks_1s: list[Payload] = []
        marks_3s: list[Payload] = []
        for names, payload in due:
            self.server.publish(names, payload)
            if payload.get("e") == "24hrTicker":
                tickers.append(payload)
            elif payload.get("e") == "markPriceUpdate":
                marks_1s.append(payload)
                if any(not n.endswith("@1s") for n in names):
                    marks_3s.append(payload)
        minis = [mini_ticker(t) for t in tickers]
        for mini in minis:
            name = f"{mini['s'].lower()}@miniticker"
            if self.server.wants(name):
                self.server.publish((name,), mini)
        for name, items in (("!ticker@arr", tickers), ("!miniticker@arr", minis),
                            ("!markprice@arr@1s", marks_1s), ("!markprice@arr", marks_3s)):
            if items and self.server.wants(name):
                self.server.publish((name,), items)


def mini_ticker(ticker: Payload) -> Payload:
    """``24hrMiniTicker`` from a ``24hrTicker``: the same window, fewer fields."""
    return {"e": "24hrMiniTicker", "E": ticker["E"], "s": ticker["s"],
            **{key: ticker[key] for key in _MINI_KEYS}}


def _spot_trade(event: Payload) -> Payload:
    """Spot's ``trade``: no ``X``; ``M`` (documented "ignore") is always true."""
    return {**{k: v for k, v in event.items() if k != "X"}, "M": True}


def replay_top(replay: ReplayMarket, diff: Payload) -> TopOf:
    """The top-of-book function for a recorded diff that is being sent: its book with the
    diff applied (``ReplayMarket.run`` applies it again after sending; sizes are absolute,
    so applying twice changes nothing). None before the recording's snapshot."""

    def top(symbol: str, levels: int) -> tuple[list[Level], list[Level]] | None:
        book = replay.books[symbol]
        if book.snapshot_id is None or diff["u"] <= book.snapshot_id:
            return None
        book.on_published(diff)
        return (heapq.nlargest(levels, book.bids.items()),
                heapq.nsmallest(levels, book.asks.items()))

    return top
