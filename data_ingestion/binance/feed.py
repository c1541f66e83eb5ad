"""The Binance USDT-M futures feed: sockets in, typed events out to one engine per symbol.

Under Binance's 2026 routed layout depth lives under ``/public`` and aggTrade under ``/market``,
so a book plus its trades needs two connections; each carries every symbol as a combined stream
(at most 200 streams per connection, the conservative documented limit).

Symbols can be added and removed while the feed runs (``add_symbol``/``remove_symbol``; the
connections are ``StreamSet``s).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping

from data_ingestion.binance.parser import FuturesParser, ParseError, instruments_from_exchange_info
from data_ingestion.binance.rest import BinanceRest, RestError
from data_ingestion.clock import Clock
from data_ingestion.connection import SupervisedSocket
from data_ingestion.engine import SnapshotUnavailable, SymbolEngine
from data_ingestion.stream_set import StreamSet
from marketdata.events import DepthDiff, DepthSnapshot, Trade
from orderbook.instrument import Instrument

log = logging.getLogger(__name__)

MAX_STREAMS_PER_CONNECTION = 200
DEPTH_STREAM = "{}@depth@100ms"
TRADE_STREAM = "{}@aggTrade"
_LOG_FRAME_CHARS = 300


def stream_url(ws_url: str, route: str, streams: list[str]) -> str:
    """The combined-stream URL of ``streams`` under ``/<route>``."""
    return f"{ws_url.rstrip('/')}/{route}/stream?streams={'/'.join(streams)}"


async def load_instruments(rest: BinanceRest, symbols: list[str], attempts: int = 10,
                           delay_s: float = 1.0) -> dict[str, Instrument]:
    """Tick and step sizes from exchangeInfo, retried a bounded number of times."""
    for attempt in range(1, attempts + 1):
        try:
            return instruments_from_exchange_info(await rest.exchange_info(), symbols)
        except RestError as exc:
            if attempt == attempts:
                raise
            log.warning("exchangeInfo failed (%s); retry %d/%d", exc, attempt, attempts)
            await asyncio.sleep(max(delay_s, exc.retry_after or 0.0))
    raise AssertionError("unreachable")


class BinanceFuturesFeed:
    """Routes stream frames to engines and serves the engines' snapshot requests."""

    def __init__(self, rest: BinanceRest, ws_url: str, instruments: Mapping[str, Instrument],
                 clock: Clock, silence_timeout_s: float | None = 10.0,
                 snapshot_limit: int = 1000,
                 reconnect_backoff_s: tuple[float, float] = (0.5, 30.0)) -> None:
        self.rest = rest
        self.parser = FuturesParser(instruments)
        self.engines: dict[str, SymbolEngine] = {}
        self.malformed_frames = 0
        self._snapshot_limit = snapshot_limit
        self.depth = StreamSet("depth", lambda s: stream_url(ws_url, "public", s),
                               MAX_STREAMS_PER_CONNECTION, self._on_depth_frame,
                               self._on_depth_state, clock, silence_timeout_s,
                               reconnect_backoff_s)
        # Trades may legitimately pause on a quiet symbol: only pings guard these sockets.
        self.trades = StreamSet("trades", lambda s: stream_url(ws_url, "market", s),
                                MAX_STREAMS_PER_CONNECTION, self._on_trade_frame, None, clock,
                                None, reconnect_backoff_s)

    @property
    def sockets(self) -> list[SupervisedSocket]:
        return self.depth.sockets + self.trades.sockets

    def attach(self, engines: Iterable[SymbolEngine]) -> None:
        """Engines to open with (before ``run``); later ones come through ``add_symbol``."""
        for engine in engines:
            self.engines[engine.symbol] = engine
            name = engine.symbol.lower()
            self.depth.preload([[DEPTH_STREAM.format(name)]])
            self.trades.preload([[TRADE_STREAM.format(name)]])

    async def fetch_snapshot(self, symbol: str) -> DepthSnapshot:
        """The engines' ``SnapshotFetch``: REST depth, parsed at the edge."""
        try:
            body, received_ns = await self.rest.depth(symbol, self._snapshot_limit)
            return self.parser.parse_snapshot(symbol, body, received_ns)
        except (RestError, ParseError) as exc:
            raise SnapshotUnavailable(str(exc), getattr(exc, "retry_after", None)) from None

    async def run(self) -> None:
        """Keep every socket open until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.depth.run(), name="depth-streams")
            tasks.create_task(self.trades.run(), name="trade-streams")

    async def add_symbol(self, engine: SymbolEngine) -> None:
        """Start feeding ``engine`` while the feed runs."""
        symbol = engine.symbol
        self.parser.add_instrument(engine.instrument)
        self.engines[symbol] = engine
        socket = await self.depth.add([DEPTH_STREAM.format(symbol.lower())])
        await self.trades.add([TRADE_STREAM.format(symbol.lower())])
        if socket.connected:
            engine.on_connection(True)

    async def remove_symbol(self, symbol: str) -> None:
        """Stop feeding ``symbol``; frames already in flight for it are ignored (no engine)."""
        self.engines.pop(symbol, None)
        self.parser.remove_instrument(symbol)
        await self.depth.remove(symbol)
        await self.trades.remove(symbol)

    def depth_socket(self, symbol: str) -> SupervisedSocket | None:
        """The socket carrying ``symbol``'s depth stream (for health reporting)."""
        return self.depth.socket_of(DEPTH_STREAM.format(symbol.lower()))

    def _on_depth_state(self, symbols: list[str], connected: bool) -> None:
        for symbol in symbols:
            engine = self.engines.get(symbol)
            if engine is not None:
                engine.on_connection(connected)

    def _on_depth_frame(self, frame: bytes, received_ns: int) -> None:
        event = self._parse(frame, received_ns)
        if type(event) is DepthDiff:
            engine = self.engines.get(event.symbol)
            if engine is not None:
                engine.submit_diff(event)

    def _on_trade_frame(self, frame: bytes, received_ns: int) -> None:
        event = self._parse(frame, received_ns)
        if type(event) is Trade:
            engine = self.engines.get(event.symbol)
            if engine is not None:
                engine.on_trade(event)

    def _parse(self, frame: bytes, received_ns: int) -> object:
        try:
            return self.parser.parse_stream(frame, received_ns)
        except ParseError as exc:
            self.malformed_frames += 1
            log.warning("skipping malformed frame (%s): %r", exc, frame[:_LOG_FRAME_CHARS])
            return None
