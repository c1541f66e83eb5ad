"""What every Binance feed (USDT-M, Spot) shares: one engine per symbol, REST snapshots parsed
at the edge, frames parsed and routed to their engine, and symbols added and removed while the
feed runs. A venue's feed says which streams carry a symbol (``_subscribe``/``_unsubscribe``)
and which socket carries its depth (``depth_socket``). Market statistics (mark price, 24-hour
ticker) are not book events: they go to ``on_stats``, which the runtime sets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from data_ingestion.binance.parser import ParseError
from data_ingestion.binance.rest import RestError
from data_ingestion.connection import SupervisedSocket
from data_ingestion.engine import SnapshotUnavailable, SymbolEngine
from data_ingestion.recorder import WireRecorder
from marketdata.events import DepthDiff, DepthSnapshot, MarketStats, MarkPrice, Ticker24h, Trade
from orderbook.instrument import Instrument

log = logging.getLogger(__name__)
_LOG_FRAME_CHARS = 300


class _Parser(Protocol):
    def add_instrument(self, instrument: Instrument) -> None: ...

    def remove_instrument(self, symbol: str) -> None: ...

    malformed_stats: int

    def parse_stream(self, frame: bytes | str, receive_ts_ns: int) -> Any: ...

    def parse_snapshot(self, symbol: str, body: bytes | str,
                       receive_ts_ns: int) -> DepthSnapshot: ...


class _Rest(Protocol):
    async def depth(self, symbol: str, limit: int) -> tuple[bytes, int]: ...


class SymbolFeed:
    """Base of the Binance feeds; see the module docstring."""

    venue: str  # the subclass's venue name (marketdata.markets), naming recorded files

    def __init__(self, rest: _Rest, parser: _Parser, snapshot_limit: int) -> None:
        self.rest = rest
        self.parser = parser
        # --record: every frame and snapshot body as received, before parsing (None: off).
        self.recorder: WireRecorder | None = None
        self.engines: dict[str, SymbolEngine] = {}
        self.malformed_frames = 0
        # The runtime's: called with each parsed MarkPrice / Ticker24h of a followed symbol
        # (named as the venue names it), in arrival order.
        self.on_stats: Callable[[MarketStats], None] | None = None
        self._snapshot_limit = snapshot_limit

    @property
    def malformed_stats(self) -> int:
        """Statistics messages skipped as malformed (never counted in ``malformed_frames``:
        no book depends on them)."""
        return int(self.parser.malformed_stats)

    async def fetch_snapshot(self, symbol: str) -> DepthSnapshot:
        """The engines' ``SnapshotFetch``: REST depth, parsed at the edge."""
        try:
            body, received_ns = await self.rest.depth(symbol, self._snapshot_limit)
            if self.recorder is not None:
                self.recorder.snapshot(self.venue, symbol, body, received_ns)
            return self.parser.parse_snapshot(symbol, body, received_ns)
        except (RestError, ParseError) as exc:
            raise SnapshotUnavailable(str(exc), getattr(exc, "retry_after", None)) from None

    async def add_symbol(self, engine: SymbolEngine) -> None:
        """Start feeding ``engine`` while the feed runs."""
        self.parser.add_instrument(engine.instrument)
        self.engines[engine.symbol] = engine
        depth_socket = await self._subscribe(engine.symbol)
        if depth_socket.connected:
            engine.on_connection(True)

    async def remove_symbol(self, symbol: str) -> None:
        """Stop feeding ``symbol``; frames already in flight for it are ignored (no engine)."""
        self.engines.pop(symbol, None)
        self.parser.remove_instrument(symbol)
        await self._unsubscribe(symbol)

    def depth_socket(self, symbol: str) -> SupervisedSocket | None:
        raise NotImplementedError

    async def _subscribe(self, symbol: str) -> SupervisedSocket:
        """Carry ``symbol``'s streams; returns the socket of its depth stream."""
        raise NotImplementedError

    async def _unsubscribe(self, symbol: str) -> None:
        raise NotImplementedError

    def _on_depth_state(self, symbols: list[str], connected: bool) -> None:
        """A depth socket went up or down: its symbols' books resync."""
        for symbol in symbols:
            engine = self.engines.get(symbol)
            if engine is not None:
                engine.on_connection(connected)

    def _on_frame(self, frame: bytes, received_ns: int) -> None:
        """Parse a frame and hand the event to its symbol's engine."""
        if self.recorder is not None:
            self.recorder.frame(self.venue, frame, received_ns)
        try:
            event = self.parser.parse_stream(frame, received_ns)
        except ParseError as exc:
            self.malformed_frames += 1
            log.warning("skipping malformed frame (%s): %r", exc, frame[:_LOG_FRAME_CHARS])
            return
        if event is None:
            return
        engine = self.engines.get(event.symbol)
        if engine is None:
            return
        if type(event) is DepthDiff:
            engine.submit_diff(event)
        elif type(event) is Trade:
            engine.on_trade(event)
        elif (type(event) is MarkPrice or type(event) is Ticker24h) and self.on_stats is not None:
            self.on_stats(event)
