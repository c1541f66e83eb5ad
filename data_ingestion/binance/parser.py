"""Binance USDT-M futures JSON -> typed depthlens events. The only place venue keys are read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import orjson

from data_ingestion.binance import schemas
from data_ingestion.binance.stats import mark_price, ticker_24h
from data_ingestion.known_instruments import KnownInstruments
from data_ingestion.stats_fields import BadNumber, log_malformed
from marketdata.events import BookTicker, DepthDiff, DepthSnapshot, Level, MarketEvent, Trade
from orderbook.instrument import Instrument, PrecisionError

_KNOWN_EVENTS = frozenset({"depthUpdate", "aggTrade", "trade", "bookTicker"})
# Statistics: a malformed one is skipped and counted, not a ParseError (see stats_fields).
_STATS_EVENTS = frozenset({"markPriceUpdate", "24hrTicker"})


class ParseError(ValueError):
    """A frame that claims to be a message depthlens uses but is malformed."""


class FuturesParser(KnownInstruments):
    """Decodes stream frames and REST snapshots for a fixed set of instruments.

    ``parse_stream`` returns ``None`` for messages that are valid but of no use here (unknown
    event types, unconfigured symbols, subscription replies); ``ignored`` counts them. It also
    returns ``None`` for a malformed mark price or 24-hour ticker, counted in
    ``malformed_stats`` and logged.
    """

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._instruments = dict(instruments)
        self._combined = msgspec.json.Decoder(schemas.CombinedMessage)
        self._raw = msgspec.json.Decoder(schemas.StreamPayload)
        self._snapshot = msgspec.json.Decoder(schemas.DepthSnapshot)
        self.ignored = 0
        self.malformed_stats = 0

    def parse_stream(self, frame: bytes | str, receive_ts_ns: int) -> MarketEvent | None:
        """Parse one WebSocket text frame, combined (``{"stream", "data"}``) or raw form."""
        try:
            if frame[:10] in (b'{"stream":', '{"stream":'):
                payload = self._combined.decode(frame).data
            else:
                payload = self._raw.decode(frame)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            if self._classify_failure(frame, exc):
                self._skip_stats(exc, frame)
            else:
                self.ignored += 1
            return None
        try:
            return self._convert(payload, receive_ts_ns)
        except BadNumber as exc:  # only statistics are read with stats_fields.decimal
            self._skip_stats(exc, frame)
            return None
        except PrecisionError as exc:
            raise ParseError(f"bad number in {type(payload).__name__}: {exc}") from None

    def _skip_stats(self, reason: object, frame: bytes | str) -> None:
        self.malformed_stats += 1
        log_malformed("binance-usdm", reason, frame)

    def parse_snapshot(self, symbol: str, body: bytes | str, receive_ts_ns: int) -> DepthSnapshot:
        """Parse a ``GET /fapi/v1/depth`` body for ``symbol``."""
        instrument = self._instrument_or_raise(symbol)
        try:
            msg = self._snapshot.decode(body)
            return DepthSnapshot(
                symbol=symbol,
                last_update_id=msg.lastUpdateId,
                bids=_levels(instrument, msg.bids),
                asks=_levels(instrument, msg.asks),
                exchange_ts_ms=msg.E,
                receive_ts_ns=receive_ts_ns,
            )
        except (msgspec.ValidationError, msgspec.DecodeError, PrecisionError) as exc:
            raise ParseError(f"bad depth snapshot for {symbol}: {exc}") from None

    def _instrument_or_raise(self, symbol: str) -> Instrument:
        try:
            return self._instruments[symbol]
        except KeyError:
            raise ParseError(f"no instrument for {symbol}") from None

    def _convert(self, msg: schemas.StreamPayload, receive_ts_ns: int) -> MarketEvent | None:
        instrument = self._instruments.get(msg.s)
        if instrument is None:
            self.ignored += 1
            return None
        if type(msg) is schemas.DepthUpdate:
            return DepthDiff(msg.s, msg.U, msg.u, msg.pu, _levels(instrument, msg.b),
                             _levels(instrument, msg.a), msg.E, receive_ts_ns)
        # Statistics are floats and need no instrument; it is looked up above all the same, so
        # that only the feed's own symbols' statistics come out (a stopped market's stop).
        if type(msg) is schemas.MarkPriceUpdate:
            return mark_price(msg, receive_ts_ns)
        if type(msg) is schemas.Ticker24hr:
            return ticker_24h(msg, receive_ts_ns)
        if isinstance(msg, (schemas.AggTrade, schemas.RawTrade)):
            trade_id = msg.a if isinstance(msg, schemas.AggTrade) else msg.t
            return Trade(msg.s, trade_id, instrument.prices.parse(msg.p),
                         instrument.quantities.parse(msg.q), "sell" if msg.m else "buy",
                         msg.T, receive_ts_ns)
        assert type(msg) is schemas.BookTicker
        prices, qtys = instrument.prices, instrument.quantities
        return BookTicker(msg.s, msg.u, prices.parse(msg.b), qtys.parse(msg.B),
                          prices.parse(msg.a), qtys.parse(msg.A), msg.E, receive_ts_ns)

    @staticmethod
    def _classify_failure(frame: bytes | str, exc: Exception) -> bool:
        """Raise ParseError unless the frame is valid JSON we simply have no use for (False)
        or a malformed statistics message (True)."""
        try:
            doc = orjson.loads(frame)
        except orjson.JSONDecodeError:
            raise ParseError(f"not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ParseError("not a JSON object")
        if "result" in doc and "id" in doc:
            return False  # a SUBSCRIBE / LIST_SUBSCRIPTIONS reply
        data = doc.get("data", doc)
        if not isinstance(data, dict):
            raise ParseError("'data' is not an object")
        if data.get("e") in _KNOWN_EVENTS:
            raise ParseError(f"malformed {data.get('e')}: {exc}")
        # Unknown event types (kline, forceOrder, ...) and future additions are ignored.
        return data.get("e") in _STATS_EVENTS


def _levels(instrument: Instrument, pairs: list[schemas.PriceQty]) -> list[Level]:
    return instrument.prices.parse_pairs(pairs, instrument.quantities)


def instruments_from_exchange_info(body: bytes | str, symbols: list[str]) -> dict[str, Instrument]:
    """Instruments for ``symbols`` from a ``GET /fapi/v1/exchangeInfo`` body.

    Raises ParseError naming any symbol the venue does not list.
    """
    return {name: Instrument.from_steps(name, tick, step, entry.pricePrecision,
                                        entry.quantityPrecision)
            for name, (entry, tick, step) in listed_steps(body, schemas.ExchangeInfo,
                                                          symbols).items()}


def listed_steps(body: bytes | str, info_type: type[Any], symbols: list[str],
                 ) -> dict[str, tuple[Any, str, str]]:
    """``symbol -> (its exchangeInfo entry, tickSize, stepSize)`` from an exchangeInfo body
    decoded as ``info_type`` (each venue's own), for every one of ``symbols``; ParseError when
    the body is malformed, a symbol is not listed or lacks PRICE_FILTER/LOT_SIZE."""
    try:
        info = msgspec.json.decode(body, type=info_type)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ParseError(f"bad exchangeInfo: {exc}") from None
    listed = {s.symbol: s for s in info.symbols}
    missing = [s for s in symbols if s not in listed]
    if missing:
        raise ParseError(f"symbols not listed by the venue: {', '.join(missing)}")
    result = {}
    for name in symbols:
        filters = {f.filterType: f for f in listed[name].filters}
        tick, step = filters.get("PRICE_FILTER"), filters.get("LOT_SIZE")
        if tick is None or tick.tickSize is None or step is None or step.stepSize is None:
            raise ParseError(f"{name}: exchangeInfo lacks PRICE_FILTER.tickSize or "
                             "LOT_SIZE.stepSize")
        result[name] = (listed[name], tick.tickSize, step.stepSize)
    return result
