"""Binance Spot JSON -> typed depthlens events. The only place spot venue keys are read.

Spot's bookTicker carries no ``e``, so frames cannot be told apart by one tagged union as on
futures. Combined frames (``{"stream", "data"}``, what the feed subscribes to) are dispatched on
the stream name, which the venue always sends; raw ``/ws/`` frames go through the ``e``-tagged
union and, when they have no ``e`` but an update id, are read as a bookTicker.

Timestamps the venue does not send: spot's bookTicker and REST snapshot have no event time
(protocol doc sections 2.6 and 2.7). Their ``exchange_ts_ms`` is ``NO_VENUE_TIME`` (0) rather
than a local clock reading dressed up as exchange time: the local receive time is already in
``receive_ts_ns``, and a consumer that wants venue time must see that there was none (the
futures parser does the same for frames without ``E``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import orjson

from data_ingestion.binance.parser import ParseError, listed_steps
from data_ingestion.binance.stats import ticker_24h
from data_ingestion.binance_spot import schemas
from data_ingestion.known_instruments import KnownInstruments
from data_ingestion.stats_fields import BadNumber, log_malformed
from marketdata.events import BookTicker, DepthDiff, DepthSnapshot, Level, MarketEvent, Trade
from orderbook.instrument import Instrument, PrecisionError

NO_VENUE_TIME = 0
"""``exchange_ts_ms`` of events for which the venue sends no event time."""

_STREAM_TYPES: dict[str, type] = {
    "depth": schemas.DepthUpdate,  # <symbol>@depth and <symbol>@depth@100ms
    "trade": schemas.RawTrade,
    "aggTrade": schemas.AggTrade,
    "bookTicker": schemas.BookTicker,
    "ticker": schemas.Ticker24hr,  # <symbol>@ticker (not @ticker_<window>: another event)
}
_TAGGED_EVENTS = frozenset({"depthUpdate", "trade", "aggTrade"})
# Statistics: a malformed one is skipped and counted, not a ParseError (see stats_fields).
_STATS_STREAMS = frozenset({"ticker"})
_STATS_EVENTS = frozenset({"24hrTicker"})


class _MalformedStats(Exception):
    """Raised inside the decoding helpers, caught by ``parse_stream``."""


SpotPayload = (schemas.DepthUpdate | schemas.AggTrade | schemas.RawTrade | schemas.BookTicker
               | schemas.Ticker24hr)


def stream_kind(stream: str) -> str:
    """``"btcusdt@depth@100ms"`` -> ``"depth"``; ``"btcusdt@depth5"`` -> ``"depth5"``."""
    return stream.partition("@")[2].partition("@")[0]


class SpotParser(KnownInstruments):
    """Decodes spot stream frames and REST snapshots for a fixed set of instruments.

    ``parse_stream`` returns ``None`` for frames that are valid but of no use here (unknown
    streams or event types, unconfigured symbols, subscription replies, ``serverShutdown``);
    ``ignored`` counts them. A frame of a kind depthlens uses that is malformed raises
    ``ParseError`` (shared with the futures parser, so feeds handle one exception type), except
    a malformed 24-hour ticker: skipped (``None``), counted in ``malformed_stats`` and logged.
    """

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._instruments = dict(instruments)
        self._envelope = msgspec.json.Decoder(schemas.CombinedFrame)
        self._by_stream = {kind: msgspec.json.Decoder(t) for kind, t in _STREAM_TYPES.items()}
        self._tagged = msgspec.json.Decoder(schemas.TaggedPayload)
        self._snapshot = msgspec.json.Decoder(schemas.DepthSnapshot)
        self.ignored = 0
        self.malformed_stats = 0

    def parse_stream(self, frame: bytes | str, receive_ts_ns: int) -> MarketEvent | None:
        """Parse one WebSocket text frame, combined or raw form."""
        try:
            if frame[:10] in (b'{"stream":', '{"stream":'):
                payload = self._decode_combined(frame)
            else:
                payload = self._decode_raw(frame)
            if payload is None:
                self.ignored += 1
                return None
            try:
                return self._convert(payload, receive_ts_ns)
            except BadNumber as exc:  # only statistics are read with stats_fields.decimal
                raise _MalformedStats(exc) from None
            except PrecisionError as exc:
                raise ParseError(f"bad number in {type(payload).__name__}: {exc}") from None
        except _MalformedStats as exc:
            self.malformed_stats += 1
            log_malformed("binance-spot", exc, frame)
            return None

    def parse_snapshot(self, symbol: str, body: bytes | str, receive_ts_ns: int) -> DepthSnapshot:
        """Parse a ``GET /api/v3/depth`` body for ``symbol`` (the body does not name it)."""
        instrument = self._instruments.get(symbol)
        if instrument is None:
            raise ParseError(f"no instrument for {symbol}")
        try:
            msg = self._snapshot.decode(body)
            return DepthSnapshot(symbol, msg.lastUpdateId, _levels(instrument, msg.bids),
                                 _levels(instrument, msg.asks), NO_VENUE_TIME, receive_ts_ns)
        except (msgspec.ValidationError, msgspec.DecodeError, PrecisionError) as exc:
            raise ParseError(f"bad depth snapshot for {symbol}: {exc}") from None

    # ---- decoding -----------------------------------------------------------------------

    def _decode_combined(self, frame: bytes | str) -> SpotPayload | None:
        try:
            envelope = self._envelope.decode(frame)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            doc = _json_object(frame, exc)
            stream = doc.get("stream")
            if isinstance(stream, str) and stream_kind(stream) in _STATS_STREAMS:
                raise _MalformedStats(f"malformed {stream} frame: {exc}") from None
            if isinstance(stream, str) and stream_kind(stream) in self._by_stream:
                raise ParseError(f"malformed {stream} frame: {exc}") from None
            return None  # e.g. {"stream": "!serverShutdown", ...} without our keys
        decoder = self._by_stream.get(stream_kind(envelope.stream))
        if decoder is None:
            return None  # partial depth, klines, !serverShutdown, ...
        try:
            payload: SpotPayload = decoder.decode(envelope.data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            if stream_kind(envelope.stream) in _STATS_STREAMS:
                raise _MalformedStats(f"malformed {envelope.stream}: {exc}") from None
            raise ParseError(f"malformed {envelope.stream}: {exc}") from None
        return payload

    def _decode_raw(self, frame: bytes | str) -> SpotPayload | None:
        try:
            payload: SpotPayload = self._tagged.decode(frame)
            return payload
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            doc = _json_object(frame, exc)
            event = doc.get("e")
            if event in _STATS_EVENTS:
                raise _MalformedStats(f"malformed {event}: {exc}") from None
            if event in _TAGGED_EVENTS:
                raise ParseError(f"malformed {event}: {exc}") from None
            if event is None and "u" in doc:  # bookTicker: the only spot event without "e"
                try:
                    return msgspec.convert(doc, schemas.BookTicker)
                except msgspec.ValidationError as bad:
                    raise ParseError(f"malformed bookTicker: {bad}") from None
            return None  # subscription replies, serverShutdown, unknown events

    def _convert(self, msg: SpotPayload, receive_ts_ns: int) -> MarketEvent | None:
        instrument = self._instruments.get(msg.s)
        if instrument is None:
            self.ignored += 1
            return None
        if type(msg) is schemas.DepthUpdate:
            # No pu on spot: continuity is judged from U (SPOT_RULES), so none is invented.
            return DepthDiff(msg.s, msg.U, msg.u, None, _levels(instrument, msg.b),
                             _levels(instrument, msg.a), msg.E, receive_ts_ns)
        if type(msg) is schemas.Ticker24hr:  # floats, no instrument needed (but ours only)
            return ticker_24h(msg, receive_ts_ns)
        prices, qtys = instrument.prices, instrument.quantities
        if isinstance(msg, (schemas.AggTrade, schemas.RawTrade)):
            trade_id = msg.a if isinstance(msg, schemas.AggTrade) else msg.t
            # m: the buyer was the maker, so the seller took liquidity.
            return Trade(msg.s, trade_id, prices.parse(msg.p), qtys.parse(msg.q),
                         "sell" if msg.m else "buy", msg.T, receive_ts_ns)
        assert type(msg) is schemas.BookTicker
        return BookTicker(msg.s, msg.u, prices.parse(msg.b), qtys.parse(msg.B),
                          prices.parse(msg.a), qtys.parse(msg.A), NO_VENUE_TIME, receive_ts_ns)


def _json_object(frame: bytes | str, exc: Exception) -> dict[str, Any]:
    """The frame as a JSON object, for telling malformed frames from ones of no use."""
    try:
        doc = orjson.loads(frame)
    except orjson.JSONDecodeError:
        raise ParseError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ParseError("not a JSON object")
    return doc


def _levels(instrument: Instrument, pairs: list[schemas.PriceQty]) -> list[Level]:
    return instrument.prices.parse_pairs(pairs, instrument.quantities)


def instruments_from_exchange_info(body: bytes | str, symbols: list[str]) -> dict[str, Instrument]:
    """Instruments for ``symbols`` from a ``GET /api/v3/exchangeInfo`` body.

    Prices get the tick's decimals (``PRICE_FILTER.tickSize``). Quantities get
    ``baseAssetPrecision`` decimals, not just the lot step's: real books hold levels finer than
    today's step (the spot recordings show ``"93.75658700"`` BTC at 74000, ``"2292.22972000"``
    ETH at 5000: resting orders from before a step change), and a level the codec rejected would
    fail every diff and every snapshot that touches it. Raises ParseError naming any symbol the
    venue does not list.
    """
    result = {}
    for name, (entry, tick, step) in listed_steps(body, schemas.ExchangeInfo, symbols).items():
        try:
            result[name] = Instrument.from_steps(name, tick, step,
                                                 qty_precision=entry.baseAssetPrecision)
        except (PrecisionError, ValueError) as exc:
            raise ParseError(f"{name}: bad tick or step size: {exc}") from None
    return result
