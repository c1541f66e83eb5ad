"""The Binance USDT-M futures feed: sockets in, typed events out to one engine per symbol.

Under Binance's 2026 routed layout depth lives under ``/public`` and aggTrade under ``/market``,
so a book plus its trades needs two connections; each carries every symbol as a combined stream
(at most 200 streams per connection, the conservative documented limit).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping

from data_ingestion.binance.parser import FuturesParser, ParseError, instruments_from_exchange_info
from data_ingestion.backoff import Backoff
from data_ingestion.binance.rest import BinanceRest, RestError
from data_ingestion.clock import Clock
from data_ingestion.connection import SupervisedSocket
from data_ingestion.engine import SnapshotUnavailable, SymbolEngine
from marketdata.events import DepthDiff, DepthSnapshot, Trade
from orderbook.instrument import Instrument

log = logging.getLogger(__name__)

MAX_STREAMS_PER_CONNECTION = 200
DEPTH_STREAM = "{}@depth@100ms"
TRADE_STREAM = "{}@aggTrade"
_LOG_FRAME_CHARS = 300


def stream_urls(ws_url: str, route: str, streams: list[str]) -> list[str]:
    """Combined-stream URLs under ``/<route>``, at most 200 streams each."""
    base = ws_url.rstrip("/")
    chunks = [streams[i:i + MAX_STREAMS_PER_CONNECTION]
              for i in range(0, len(streams), MAX_STREAMS_PER_CONNECTION)]
    return [f"{base}/{route}/stream?streams={'/'.join(chunk)}" for chunk in chunks]


def _symbols_of(url: str) -> list[str]:
    """Upper-case symbols of a combined-stream URL (``...?streams=btcusdt@depth@100ms/...``)."""
    return [s.partition("@")[0].upper() for s in url.partition("streams=")[2].split("/")]


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
        self._ws_url = ws_url
        self._clock = clock
        self._silence_timeout = silence_timeout_s
        self._snapshot_limit = snapshot_limit
        self._reconnect = reconnect_backoff_s  # (first delay, cap)
        self.sockets: list[SupervisedSocket] = []
        self._depth_socket_of: dict[str, SupervisedSocket] = {}

    def attach(self, engines: Iterable[SymbolEngine]) -> None:
        for engine in engines:
            self.engines[engine.symbol] = engine

    async def fetch_snapshot(self, symbol: str) -> DepthSnapshot:
        """The engines' ``SnapshotFetch``: REST depth, parsed at the edge."""
        try:
            body, received_ns = await self.rest.depth(symbol, self._snapshot_limit)
            return self.parser.parse_snapshot(symbol, body, received_ns)
        except (RestError, ParseError) as exc:
            raise SnapshotUnavailable(str(exc), getattr(exc, "retry_after", None)) from None

    async def run(self) -> None:
        """Open every socket and keep them open until cancelled."""
        symbols = [s.lower() for s in self.engines]
        self.sockets = [
            SupervisedSocket(f"depth[{i}]", url, self._on_depth_frame, self._depth_state(url),
                             self._clock, self._silence_timeout, backoff=Backoff(*self._reconnect))
            for i, url in enumerate(stream_urls(self._ws_url, "public",
                                                [DEPTH_STREAM.format(s) for s in symbols]))
        ] + [
            # Trades may legitimately pause on a quiet symbol: only pings guard this socket.
            SupervisedSocket(f"trades[{i}]", url, self._on_trade_frame, lambda _up: None,
                             self._clock, silence_timeout_s=None,
                             backoff=Backoff(*self._reconnect))
            for i, url in enumerate(stream_urls(self._ws_url, "market",
                                                [TRADE_STREAM.format(s) for s in symbols]))
        ]
        self._depth_socket_of = {symbol: sock for sock in self.sockets
                                 if sock.name.startswith("depth")
                                 for symbol in _symbols_of(sock.url)}
        async with asyncio.TaskGroup() as tasks:
            for sock in self.sockets:
                tasks.create_task(sock.run(), name=sock.name)

    def depth_socket(self, symbol: str) -> SupervisedSocket | None:
        """The socket carrying ``symbol``'s depth stream (for health reporting)."""
        return self._depth_socket_of.get(symbol)

    def _depth_state(self, url: str) -> Callable[[bool], None]:
        covered = _symbols_of(url)

        def on_state(connected: bool) -> None:
            for symbol in covered:
                engine = self.engines.get(symbol)
                if engine is not None:
                    engine.on_connection(connected)

        return on_state

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
