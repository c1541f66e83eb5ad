"""Coinbase Advanced Trade JSON -> typed depthlens events. The only place venue keys are read.

Every frame becomes a ``CoinbaseFrame``: its channel, its ``sequence_num`` and the typed events
it carried. Frames of channels depthlens does not use (``candles``, ``heartbeats``,
``subscriptions``, anything new) still come back, with no events, because their
``sequence_num`` is part of the one per-connection counter the book machine checks (3.3).
So does a malformed ``ticker`` frame (its statistics skipped, counted in ``malformed_stats``):
losing its number would look like a gap and rebuild every book for nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import msgspec

from data_ingestion.coinbase import schemas
from data_ingestion.known_instruments import KnownInstruments
from data_ingestion.stats_fields import BadNumber, decimal, log_malformed
from marketdata.events import DepthDiff, DepthSnapshot, Level, MarketEvent, Side, Ticker24h, Trade
from orderbook.instrument import Instrument

# Section 3.2 / 5.15: the ask side is "offer"; map the other spellings defensively.
_BID_SIDES = frozenset({"bid", "buy"})
_ASK_SIDES = frozenset({"offer", "ask", "sell"})
# Stamps repeat within a message (a snapshot's levels share one), rarely across messages: a
# small memo gets every repeat; a big one only held ~10 MB of dead stamps (the soak found it).
_TIME_CACHE_LIMIT = 256


class ParseError(ValueError):
    """A frame of a channel depthlens uses that is malformed."""


class VenueErrorReply(ParseError):
    """Not a malformed frame: the venue's ``{"type": "error"}`` answer to a request."""


class CoinbaseFrame(msgspec.Struct, frozen=True, gc=False):
    """One message of a connection: ``sequence_num`` counts every message on it, whatever its
    channel; ``events`` are the depthlens events it carried (none for unused channels)."""

    channel: str
    sequence_num: int
    events: list[MarketEvent]


class CoinbaseParser(KnownInstruments):
    """Decodes Advanced Trade frames for a fixed set of products (unknown products are
    skipped and counted in ``ignored``)."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._instruments = dict(instruments)
        self._envelope = msgspec.json.Decoder(schemas.Envelope)
        self._error = msgspec.json.Decoder(schemas.ErrorReply)
        self._l2 = msgspec.json.Decoder(list[schemas.L2Event])
        self._trades = msgspec.json.Decoder(list[schemas.MarketTradesEvent])
        self._tickers = msgspec.json.Decoder(list[schemas.TickerEvent])
        self._handlers: dict[str, Callable[[schemas.Envelope, int], list[MarketEvent]]] = {
            "l2_data": self._level2,
            "market_trades": self._market_trades,
        }
        self._times: dict[str, int] = {}
        self.ignored = 0
        self.malformed_stats = 0

    def parse(self, frame: bytes | str, receive_ts_ns: int) -> CoinbaseFrame:
        """Parse one WebSocket text frame; raises ``ParseError`` on a malformed one, and its
        ``VenueErrorReply`` on the venue's error answer to a request."""
        try:
            envelope = self._envelope.decode(frame)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            try:
                reply = self._error.decode(frame)
            except (msgspec.ValidationError, msgspec.DecodeError):
                raise ParseError(f"not an Advanced Trade envelope: {exc}") from None
            raise VenueErrorReply(reply.message) from None
        if envelope.channel == "ticker":
            return CoinbaseFrame(envelope.channel, envelope.sequence_num,
                                 self._ticker(envelope, frame, receive_ts_ns))
        handler = self._handlers.get(envelope.channel)
        if handler is None:  # heartbeats, subscriptions, candles, unknown: counter only
            return CoinbaseFrame(envelope.channel, envelope.sequence_num, [])
        try:
            events = handler(envelope, receive_ts_ns)
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
            # ValueError: PrecisionError, a non-numeric trade_id, a bad side or time.
            raise ParseError(f"malformed {envelope.channel} #{envelope.sequence_num}: "
                             f"{exc}") from None
        return CoinbaseFrame(envelope.channel, envelope.sequence_num, events)

    def _level2(self, envelope: schemas.Envelope, receive_ts_ns: int) -> list[MarketEvent]:
        events: list[MarketEvent] = []
        for event in self._l2.decode(envelope.events):
            instrument = self._instruments.get(event.product_id)
            if instrument is None:
                self.ignored += 1
                continue
            bids, asks = self._levels(instrument, event.updates)
            # The engine's own time of the newest change; the envelope's send time if empty.
            stamp = max((u.event_time for u in event.updates), default=envelope.timestamp)
            exchange_ms = self.epoch_ms(stamp)
            # No book update id on this venue: the connection's sequence_num orders events and
            # is what the sync machine checks, so it stands in for the update id.
            seq = envelope.sequence_num
            if event.type == "snapshot":
                events.append(DepthSnapshot(event.product_id, seq, bids, asks, exchange_ms,
                                            receive_ts_ns))
            elif event.type == "update":
                events.append(DepthDiff(event.product_id, seq, seq, None, bids, asks,
                                        exchange_ms, receive_ts_ns))
            else:
                raise ParseError(f"unknown l2_data event type {event.type!r}")
        return events

    def _levels(self, instrument: Instrument,
                updates: list[schemas.L2Update]) -> tuple[list[Level], list[Level]]:
        prices, qtys = instrument.prices.parse, instrument.quantities.parse
        bids: list[Level] = []
        asks: list[Level] = []
        for u in updates:
            level = (prices(u.price_level), qtys(u.new_quantity))
            if u.side in _BID_SIDES:
                bids.append(level)
            elif u.side in _ASK_SIDES:
                asks.append(level)
            else:
                raise ParseError(f"unknown level2 side {u.side!r}")
        return bids, asks

    def _market_trades(self, envelope: schemas.Envelope,
                       receive_ts_ns: int) -> list[MarketEvent]:
        events: list[MarketEvent] = []
        for batch in self._trades.decode(envelope.events):
            for t in batch.trades:
                instrument = self._instruments.get(t.product_id)
                if instrument is None:
                    self.ignored += 1
                    continue
                events.append(Trade(t.product_id, int(t.trade_id),
                                    instrument.prices.parse(t.price),
                                    instrument.quantities.parse(t.size), taker_side(t.side),
                                    self.epoch_ms(t.time), receive_ts_ns))
        return events

    def _ticker(self, envelope: schemas.Envelope, frame: bytes | str,
                receive_ts_ns: int) -> list[MarketEvent]:
        """The frame's 24-hour statistics; none (skipped, counted, logged) when malformed."""
        try:
            # The entries carry no time: the envelope's is the venue's only one for them.
            exchange_ms = self.epoch_ms(envelope.timestamp) if envelope.timestamp else 0
            events: list[MarketEvent] = []
            for batch in self._tickers.decode(envelope.events):
                for t in batch.tickers:
                    if t.product_id not in self._instruments:
                        self.ignored += 1
                        continue
                    events.append(coinbase_ticker(t, exchange_ms, receive_ts_ns))
            return events
        except (msgspec.ValidationError, msgspec.DecodeError, BadNumber, ParseError) as exc:
            self.malformed_stats += 1
            log_malformed("coinbase", f"ticker #{envelope.sequence_num}: {exc}", frame)
            return []

    def epoch_ms(self, stamp: str) -> int:
        """An RFC3339 time (``2026-08-09T21:05:48.228568804Z``, any number of fraction
        digits) to epoch milliseconds, truncated. Memoised: a snapshot repeats one stamp
        tens of thousands of times."""
        value = self._times.get(stamp)
        if value is None:
            value = rfc3339_to_ms(stamp)
            if len(self._times) >= _TIME_CACHE_LIMIT:
                self._times.clear()
            self._times[stamp] = value
        return value


def coinbase_ticker(t: schemas.Ticker, exchange_ts_ms: int, receive_ts_ns: int) -> Ticker24h:
    """A ``ticker`` entry as ``Ticker24h``. Coinbase sends the change in percent, not the open:
    the open is the price the change is measured from, ``price / (1 + pct / 100)`` (None if
    the change were -100 %, where no open fits). No quote volume is sent: None."""
    last = decimal(t.price, "ticker.price")
    change_pct = decimal(t.price_percent_chg_24_h, "ticker.price_percent_chg_24_h", signed=True)
    growth = 1.0 + change_pct / 100.0
    return Ticker24h(t.product_id, last_price=last,
                     open_price=last / growth if growth > 0 else None,
                     high_price=decimal(t.high_24_h, "ticker.high_24_h"),
                     low_price=decimal(t.low_24_h, "ticker.low_24_h"),
                     change_pct=change_pct,
                     volume=decimal(t.volume_24_h, "ticker.volume_24_h"),
                     quote_volume=None, exchange_ts_ms=exchange_ts_ms,
                     receive_ts_ns=receive_ts_ns)


def taker_side(maker_side: str) -> Side:
    """The aggressor of an Advanced Trade ``market_trades`` entry.

    Section 3.4 documents ``side`` only as ``BUY``/``SELL`` and section 5.14 leaves maker vs
    taker open. The capture settles it: a ``SELL`` print is at the best *ask* and a ``BUY``
    print at the best *bid* (checked in tests/test_coinbase_capture.py), so, as on the legacy
    ``matches`` channel, ``side`` is the **maker's** side and the taker is the opposite.
    """
    side = maker_side.upper()
    if side == "SELL":
        return "buy"
    if side == "BUY":
        return "sell"
    raise ParseError(f"unknown market_trades side {maker_side!r}")


def rfc3339_to_ms(stamp: str) -> int:
    try:
        head, dot, rest = stamp.partition(".")
        fraction = ""
        zone = rest if dot else stamp[19:]
        if dot:
            digits = len(rest) - len(rest.lstrip("0123456789"))
            fraction, zone = rest[:digits], rest[digits:]
        else:
            head = stamp[:19]
        moment = datetime.fromisoformat(head + ("+00:00" if zone in ("Z", "z") else zone))
    except ValueError:
        raise ParseError(f"not an RFC3339 time: {stamp[:40]!r}") from None
    if moment.tzinfo is None:
        raise ParseError(f"RFC3339 time without a zone: {stamp[:40]!r}")
    return int(moment.timestamp()) * 1000 + int((fraction + "000")[:3])


def instruments_from_products(body: bytes | str, product_ids: list[str]) -> dict[str, Instrument]:
    """Instruments for ``product_ids`` from a ``GET /api/v3/brokerage/market/products`` body:
    prices in ``price_increment`` (``quote_increment`` when absent), sizes in
    ``base_increment``. Raises ParseError naming any product the venue does not list."""
    try:
        products = msgspec.json.decode(body, type=schemas.Products).products
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ParseError(f"bad products list: {exc}") from None
    listed = {p.product_id: p for p in products}
    missing = [p for p in product_ids if p not in listed]
    if missing:
        raise ParseError(f"products not listed by the venue: {', '.join(missing)}")
    halted = [p for p in product_ids
              if listed[p].status != "online" or listed[p].trading_disabled]
    if halted:
        raise ParseError(f"products listed but not trading: {', '.join(halted)}")
    return {p: Instrument.from_steps(p, listed[p].price_increment or listed[p].quote_increment,
                                     listed[p].base_increment) for p in product_ids}
