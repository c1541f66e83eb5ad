"""The exchange's own trades, kept per symbol for REST (``aggTrades``, ``trades``, ``klines``)
and the ``@trade`` / ``@kline_<i>`` streams, so that every one of them is derived from the same
fills as ``@aggTrade``.

Public interface (stable; the streams side builds on it):

* ``TradeHistory(specs)``: every symbol's history. Feed it with
  ``on_agg_trade_payload(payload, fill_qtys=())`` for each aggTrade the exchange publishes (the
  futures ``@aggTrade`` dict, as ``publisher.DepthPublisher`` makes it) and, in replays, with
  ``on_trade_payload(payload)`` for each recorded raw ``trade``. Both return the raw ``Trade``s
  they derived, which are what ``@trade`` publishes (``trade_stream``); ``on_payload(payload)``
  dispatches on ``e``. ``of(symbol)`` is one symbol's ``SymbolTrades`` (None when not listed;
  ``specs`` may be the live ``listed()`` mapping, so a symbol listed later needs no call);
  ``add(spec)`` / ``forget(symbol)`` start or drop one explicitly.
* The exchange's instance is ``LocalExchange.trades``, shared with ``RestApi.trades`` (which
  makes an empty one of its own when used without an exchange) and ``streams_market``.
* ``SymbolTrades``: ``agg_trades(...)``, ``trades(limit)``, ``klines(interval, ...)``,
  ``current_kline(interval, now_ms)``, ``last_trade``.
* Typed records ``Trade``, ``AggTrade``, ``Kline`` in integer units (``orderbook.instrument``),
  and Binance USDT-M bodies for them: ``agg_trade_rest``, ``trade_rest``, ``trade_stream``,
  ``kline_rest``, ``kline_stream``. ``KLINE_INTERVALS`` lists the intervals Binance accepts.

Raw trades: one aggTrade is one taker's fills at one price, trade ids ``f..l``. The matching
engine's ``LevelTake`` keeps only their total, so unless the caller passes each fill's quantity
(``fill_qtys``, one per id ``f..l``) an aggTrade becomes ONE raw trade with id ``f`` carrying
the whole quantity; ids ``f+1..l`` are then never served. Kline trade counts (``n``) count the
ids ``f..l`` either way, like ``ticker/24hr``'s ``count``. In a replay each recorded ``trade``
becomes its own one-fill aggTrade with ``a = f = l = t`` (the recording has no aggTrade ids).

Bounds: the last ``MAX_TRADES`` (1000, Binance's largest ``limit``) aggTrades and raw trades,
and 1-minute buckets for the last 24 h (at most 1441, in memory taken at the start:
``minute_ring``); every other interval is summed from the 1-minute buckets on demand, so a 1d
kline only covers what the exchange saw in the last 24 h.
Minutes without a trade are served as Binance does: OHLC at the previous close, volume 0.
"""

from __future__ import annotations

import calendar
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local_exchange.instruments import SymbolSpec
from local_exchange.minute_ring import MinuteBucket, MinuteRing
from orderbook.instrument import FixedPointCodec

MAX_TRADES = 1000
MINUTE_MS = 60_000
KLINE_MINUTES = 24 * 60 + 1
_DAY_MS = 24 * 60 * MINUTE_MS
# Interval -> length in ms; "1M" (calendar month) is 0 here and handled by ``bucket_open``.
KLINE_INTERVALS: dict[str, int] = {
    "1m": MINUTE_MS, "3m": 3 * MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS, "1h": 60 * MINUTE_MS, "2h": 120 * MINUTE_MS, "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS, "8h": 480 * MINUTE_MS, "12h": 720 * MINUTE_MS, "1d": _DAY_MS,
    "3d": 3 * _DAY_MS, "1w": 7 * _DAY_MS, "1M": 0,
}
# The epoch was a Thursday; Binance's weeks open on Monday 00:00 UTC.
_WEEK_OFFSET_MS = 4 * _DAY_MS


@dataclass(frozen=True, slots=True)
class Trade:
    """One raw fill (``@trade``, ``/fapi/v1/trades``); price and qty in integer units."""

    trade_id: int
    price: int
    qty: int
    time_ms: int
    buyer_maker: bool


@dataclass(frozen=True, slots=True)
class AggTrade:
    """One taker's fills at one price (``@aggTrade``, ``/fapi/v1/aggTrades``)."""

    agg_id: int
    price: int
    qty: int
    first_trade_id: int
    last_trade_id: int
    time_ms: int
    buyer_maker: bool


@dataclass(frozen=True, slots=True)
class Kline:
    """One candle. Volumes: ``volume`` / ``taker_buy_volume`` in qty units, the quote volumes
    in price units x qty units (exact). ``first_trade_id`` is -1 when it holds no trade."""

    interval: str
    open_ms: int
    close_ms: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote_volume: int
    trades: int
    taker_buy_volume: int
    taker_buy_quote_volume: int
    first_trade_id: int
    last_trade_id: int


def bucket_open(interval: str, time_ms: int) -> int:
    """Open time of the ``interval`` candle holding ``time_ms`` (UTC, Binance's alignment)."""
    if interval == "1M":
        day = datetime.fromtimestamp(time_ms / 1000, UTC)
        return calendar.timegm((day.year, day.month, 1, 0, 0, 0)) * 1000
    length = KLINE_INTERVALS[interval]
    offset = _WEEK_OFFSET_MS if interval == "1w" else 0
    return time_ms - (time_ms - offset) % length


def bucket_close(interval: str, open_ms: int) -> int:
    """Close time (the last ms) of the candle opening at ``open_ms``."""
    if interval == "1M":
        day = datetime.fromtimestamp(open_ms / 1000, UTC)
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        return calendar.timegm((year, month, 1, 0, 0, 0)) * 1000 - 1
    return open_ms + KLINE_INTERVALS[interval] - 1


class SymbolTrades:
    """One symbol's bounded trade history."""

    def __init__(self, spec: SymbolSpec, max_trades: int = MAX_TRADES,
                 kline_minutes: int = KLINE_MINUTES) -> None:
        self.spec = spec
        self._aggs: deque[AggTrade] = deque(maxlen=max_trades)
        self._trades: deque[Trade] = deque(maxlen=max_trades)
        self._minutes = MinuteRing(kline_minutes)  # keyed by open ms
        self._kline_minutes = kline_minutes

    # ------------------------------------------------------------------ input
    def on_agg_trade(self, agg: AggTrade, fill_qtys: Sequence[int] = ()) -> list[Trade]:
        """Record one aggTrade; returns its raw trades (see the module doc for ids)."""
        self._aggs.append(agg)
        count = agg.last_trade_id - agg.first_trade_id + 1
        if len(fill_qtys) == count and sum(fill_qtys) == agg.qty:
            raws = [Trade(agg.first_trade_id + i, agg.price, q, agg.time_ms, agg.buyer_maker)
                    for i, q in enumerate(fill_qtys)]
        else:
            raws = [Trade(agg.first_trade_id, agg.price, agg.qty, agg.time_ms, agg.buyer_maker)]
        self._trades.extend(raws)
        self._add_to_minute(agg)
        return raws

    def on_trade(self, trade: Trade) -> AggTrade:
        """Record one raw trade (a replay's) as a one-fill aggTrade with ``a = t``."""
        agg = AggTrade(trade.trade_id, trade.price, trade.qty, trade.trade_id, trade.trade_id,
                       trade.time_ms, trade.buyer_maker)
        self._aggs.append(agg)
        self._trades.append(trade)
        self._add_to_minute(agg)
        return agg

    def _add_to_minute(self, agg: AggTrade) -> None:
        """Count ``agg`` in its minute. A fill stamped before the newest minute joins the newest
        one, as the 24 h ticker (``market_stats.RollingTrades``) counts it: arrival order is the
        venue's order, so klines and ``ticker/24hr`` agree on every count and close."""
        start = agg.time_ms - agg.time_ms % MINUTE_MS
        if self._minutes.add(start, agg.price, agg.qty, agg.first_trade_id, agg.last_trade_id,
                             taker_bought=not agg.buyer_maker):
            # A new minute keyed ``start`` opened: only then can the oldest leave the window.
            self._minutes.evict_before(start - (self._kline_minutes - 1) * MINUTE_MS)

    # ---------------------------------------------------------------- queries
    @property
    def last_trade(self) -> Trade | None:
        return self._trades[-1] if self._trades else None

    def trades(self, limit: int = 500) -> list[Trade]:
        """The newest ``limit`` raw trades, oldest first."""
        return list(self._trades)[-limit:] if limit > 0 else []

    def agg_trades(self, *, from_id: int | None = None, start_ms: int | None = None,
                   end_ms: int | None = None, limit: int = 500) -> list[AggTrade]:
        """Binance's selection: from ``from_id`` (ascending) or from ``start_ms``, else the
        newest ``limit``; ``end_ms`` bounds ``T`` from above. Oldest first."""
        held: Iterable[AggTrade] = self._aggs
        if from_id is not None:
            held = (a for a in held if a.agg_id >= from_id)
        if start_ms is not None:
            held = (a for a in held if a.time_ms >= start_ms)
        if end_ms is not None:
            held = (a for a in held if a.time_ms <= end_ms)
        chosen = list(held)
        if from_id is None and start_ms is None:
            return chosen[-limit:] if limit > 0 else []
        return chosen[:limit]

    def klines(self, interval: str, now_ms: int, *, start_ms: int | None = None,
               end_ms: int | None = None, limit: int = 500) -> list[Kline]:
        """Candles from the first held minute up to the one holding ``now_ms`` (still open),
        empty intervals included, selected like Binance: those opening at or after
        ``start_ms`` when given, else the newest ``limit`` (up to ``end_ms``).
        ``interval`` must be in KLINE_INTERVALS."""
        candles = self._klines_from(interval, now_ms, start_ms)
        if start_ms is not None:
            candles = [k for k in candles if k.open_ms >= start_ms]
        if end_ms is not None:
            candles = [k for k in candles if k.open_ms <= end_ms]
        if start_ms is not None:
            return candles[:limit]
        return candles[-limit:] if limit > 0 else []

    def current_kline(self, interval: str, now_ms: int) -> Kline | None:
        """The candle holding ``now_ms`` (for ``@kline_<i>``); None before the first trade."""
        candles = self._klines_from(interval, now_ms, now_ms)
        return candles[-1] if candles else None

    def _klines_from(self, interval: str, now_ms: int, from_ms: int | None) -> list[Kline]:
        """Every candle from the one holding ``from_ms`` (or the first held) to ``now_ms``'s;
        only those are built, so the streams' every-250-ms candle stays cheap."""
        minutes = self._minutes
        first_held, newest = minutes.first_key(), minutes.last_key()
        if first_held is None or newest is None:
            return []
        first = bucket_open(interval, first_held)
        if from_ms is not None:
            first = max(first, bucket_open(interval, from_ms))
        last = bucket_open(interval, max(now_ms, newest))
        close = minutes.close_before(first) or 0  # what an empty first candle shows
        candles: list[Kline] = []
        open_ms = first
        while open_ms <= last:
            close_ms = bucket_close(interval, open_ms)
            candle = _merge(interval, open_ms, close_ms, minutes.summary(open_ms, close_ms),
                            close)
            candles.append(candle)
            close, open_ms = candle.close, close_ms + 1
        return candles


def _merge(interval: str, open_ms: int, close_ms: int, minutes: MinuteBucket | None,
           prev_close: int) -> Kline:
    """One candle from its minutes summed (None: no trade in it)."""
    if minutes is None:
        return Kline(interval, open_ms, close_ms, prev_close, prev_close, prev_close, prev_close,
                     0, 0, 0, 0, 0, -1, -1)
    return Kline(interval, open_ms, close_ms, minutes.open, minutes.high, minutes.low,
                 minutes.close, minutes.volume, minutes.quote, minutes.count,
                 minutes.taker_buy_volume, minutes.taker_buy_quote, minutes.first_id,
                 minutes.last_id)


class TradeHistory:
    """Every listed symbol's ``SymbolTrades``, fed from the exchange's published payloads.

    ``specs`` may be a live mapping (the book source's ``listed()``): a symbol listed later
    gets its history on first use, one no longer listed is dropped."""

    def __init__(self, specs: Mapping[str, SymbolSpec], max_trades: int = MAX_TRADES) -> None:
        self._specs = specs
        self._max = max_trades
        self._symbols: dict[str, SymbolTrades] = {}

    def add(self, spec: SymbolSpec) -> None:
        """Start ``spec``'s history now (``of`` would on first use, once it is listed)."""
        self._symbols.setdefault(spec.symbol, SymbolTrades(spec, self._max))

    def forget(self, symbol: str) -> None:
        self._symbols.pop(symbol, None)

    def of(self, symbol: str) -> SymbolTrades | None:
        """``symbol``'s history; None (and its history dropped) when it is not listed."""
        spec = self._specs.get(symbol)
        if spec is None:
            self.forget(symbol)
            return None
        history = self._symbols.get(symbol)
        if history is None or history.spec != spec:  # newly listed, or listed anew
            history = self._symbols[symbol] = SymbolTrades(spec, self._max)
        return history

    def on_payload(self, payload: Mapping[str, Any]) -> list[Trade]:
        """A published ``aggTrade`` or recorded ``trade`` (anything else is ignored); returns the
        raw trades derived from it (what ``@trade`` publishes)."""
        kind = payload.get("e")
        if kind == "aggTrade":
            return self.on_agg_trade_payload(payload)
        if kind == "trade":
            return self.on_trade_payload(payload)
        return []

    def on_agg_trade_payload(self, payload: Mapping[str, Any],
                             fill_qtys: Sequence[int] = ()) -> list[Trade]:
        """A published futures aggTrade (``a p q f l T m``); [] for an unlisted symbol."""
        history = self.of(payload["s"])
        if history is None:
            return []
        instrument = history.spec.instrument
        agg = AggTrade(payload["a"], instrument.prices.parse(payload["p"]),
                       instrument.quantities.parse(payload["q"]), payload["f"], payload["l"],
                       payload["T"], payload["m"])
        return history.on_agg_trade(agg, fill_qtys)

    def on_trade_payload(self, payload: Mapping[str, Any]) -> list[Trade]:
        """A recorded raw ``trade`` (``t p q T m``); returns it as a ``Trade`` (or [])."""
        history = self.of(payload["s"])
        if history is None:
            return []
        instrument = history.spec.instrument
        trade = Trade(payload["t"], instrument.prices.parse(payload["p"]),
                      instrument.quantities.parse(payload["q"]), payload["T"], payload["m"])
        history.on_trade(trade)
        return [trade]


# ------------------------------------------------------------------ Binance bodies
def _quote_codec(spec: SymbolSpec) -> FixedPointCodec:
    instrument = spec.instrument
    return FixedPointCodec(instrument.price_decimals + instrument.qty_decimals)


def agg_trade_rest(agg: AggTrade, spec: SymbolSpec) -> dict[str, Any]:
    """One ``/fapi/v1/aggTrades`` entry."""
    fmt_p, fmt_q = spec.instrument.prices.format, spec.instrument.quantities.format
    return {"a": agg.agg_id, "p": fmt_p(agg.price), "q": fmt_q(agg.qty),
            "f": agg.first_trade_id, "l": agg.last_trade_id, "T": agg.time_ms,
            "m": agg.buyer_maker}


def trade_rest(trade: Trade, spec: SymbolSpec) -> dict[str, Any]:
    """One ``/fapi/v1/trades`` entry."""
    instrument = spec.instrument
    return {"id": trade.trade_id, "price": instrument.prices.format(trade.price),
            "qty": instrument.quantities.format(trade.qty),
            "quoteQty": _quote_codec(spec).format(trade.price * trade.qty),
            "time": trade.time_ms, "isBuyerMaker": trade.buyer_maker}


def trade_stream(trade: Trade, spec: SymbolSpec, event_ms: int) -> dict[str, Any]:
    """The futures ``<symbol>@trade`` payload (the recordings' shape)."""
    instrument = spec.instrument
    return {"e": "trade", "E": event_ms, "T": trade.time_ms, "s": spec.symbol,
            "t": trade.trade_id, "p": instrument.prices.format(trade.price),
            "q": instrument.quantities.format(trade.qty), "X": "MARKET",
            "m": trade.buyer_maker}


def kline_rest(k: Kline, spec: SymbolSpec) -> list[Any]:
    """One ``/fapi/v1/klines`` row."""
    fmt_p, fmt_q = spec.instrument.prices.format, spec.instrument.quantities.format
    fmt_quote = _quote_codec(spec).format
    return [k.open_ms, fmt_p(k.open), fmt_p(k.high), fmt_p(k.low), fmt_p(k.close),
            fmt_q(k.volume), k.close_ms, fmt_quote(k.quote_volume), k.trades,
            fmt_q(k.taker_buy_volume), fmt_quote(k.taker_buy_quote_volume), "0"]


def kline_stream(k: Kline, spec: SymbolSpec, event_ms: int, closed: bool) -> dict[str, Any]:
    """The ``<symbol>@kline_<interval>`` payload."""
    fmt_p, fmt_q = spec.instrument.prices.format, spec.instrument.quantities.format
    fmt_quote = _quote_codec(spec).format
    return {"e": "kline", "E": event_ms, "s": spec.symbol, "k": {
        "t": k.open_ms, "T": k.close_ms, "s": spec.symbol, "i": k.interval,
        "f": k.first_trade_id, "L": k.last_trade_id, "o": fmt_p(k.open), "c": fmt_p(k.close),
        "h": fmt_p(k.high), "l": fmt_p(k.low), "v": fmt_q(k.volume), "n": k.trades,
        "x": closed, "q": fmt_quote(k.quote_volume), "V": fmt_q(k.taker_buy_volume),
        "Q": fmt_quote(k.taker_buy_quote_volume), "B": "0"}}
