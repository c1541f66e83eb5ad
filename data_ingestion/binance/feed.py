"""The Binance USDT-M futures feed: sockets in, typed events out to one engine per symbol.

Under Binance's 2026 routed layout depth lives under ``/public`` and aggTrade under ``/market``,
so a book plus its trades needs two connections; each carries every symbol as a combined stream
(at most 200 streams per connection, the conservative documented limit).

Symbols can be added and removed while the feed runs (``add_symbol``/``remove_symbol``): a
stream is added to a connection with room by a ``SUBSCRIBE`` (or on a new connection when all are
full) and dropped by an ``UNSUBSCRIBE``; a connection left without streams is closed. Each
connection's URL is rebuilt from its current streams at every reconnect.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Iterable, Mapping

import orjson

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


def stream_url(ws_url: str, route: str, streams: list[str]) -> str:
    """The combined-stream URL of ``streams`` under ``/<route>``."""
    return f"{ws_url.rstrip('/')}/{route}/stream?streams={'/'.join(streams)}"


def stream_urls(ws_url: str, route: str, streams: list[str]) -> list[str]:
    """Combined-stream URLs under ``/<route>``, at most 200 streams each."""
    return [stream_url(ws_url, route, streams[i:i + MAX_STREAMS_PER_CONNECTION])
            for i in range(0, len(streams), MAX_STREAMS_PER_CONNECTION)]


def _symbol_of(stream: str) -> str:
    return stream.partition("@")[0].upper()


class _Connection:
    """One socket and the streams it carries now (changed at runtime, at most 200)."""

    __slots__ = ("route", "socket", "streams", "task")

    def __init__(self, route: str, streams: list[str]) -> None:
        self.route = route
        self.streams = streams
        self.socket: SupervisedSocket | None = None
        self.task: asyncio.Task[None] | None = None

    def symbols(self) -> list[str]:
        return [_symbol_of(s) for s in self.streams]


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
        self._connections: list[_Connection] = []
        self._tasks: asyncio.TaskGroup | None = None
        self._numbers = {"public": itertools.count(), "market": itertools.count()}
        self._request_ids = itertools.count(1)

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

    @property
    def sockets(self) -> list[SupervisedSocket]:
        return [c.socket for c in self._connections if c.socket is not None]

    async def run(self) -> None:
        """Open every socket and keep them open until cancelled."""
        symbols = [s.lower() for s in self.engines]
        for route, form in (("public", DEPTH_STREAM), ("market", TRADE_STREAM)):
            streams = [form.format(s) for s in symbols]
            for i in range(0, len(streams), MAX_STREAMS_PER_CONNECTION):
                self._connections.append(
                    self._connection(route, streams[i:i + MAX_STREAMS_PER_CONNECTION]))
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            for connection in self._connections:
                self._open(connection)
            try:
                await asyncio.Event().wait()  # sockets come and go with the symbols
            finally:
                self._tasks = None

    async def add_symbol(self, engine: SymbolEngine) -> None:
        """Start feeding ``engine`` while the feed runs: its depth and trade streams join a
        connection with room (``SUBSCRIBE``) or a new one."""
        if self._tasks is None:
            raise RuntimeError("the feed is not running")
        symbol = engine.symbol
        self.parser.add_instrument(engine.instrument)
        self.engines[symbol] = engine
        for route, form in (("public", DEPTH_STREAM), ("market", TRADE_STREAM)):
            stream = form.format(symbol.lower())
            connection = next((c for c in self._connections if c.route == route
                               and len(c.streams) < MAX_STREAMS_PER_CONNECTION), None)
            if connection is None:
                connection = self._connection(route, [stream])
                self._connections.append(connection)
                self._open(connection)
                continue
            connection.streams.append(stream)
            assert connection.socket is not None
            await connection.socket.send(self._request("SUBSCRIBE", stream))
            if route == "public" and connection.socket.connected:
                engine.on_connection(True)

    async def remove_symbol(self, symbol: str) -> None:
        """Stop feeding ``symbol``: ``UNSUBSCRIBE`` its streams, close connections left empty.
        Frames already in flight for it are ignored (no engine)."""
        self.engines.pop(symbol, None)
        self.parser.remove_instrument(symbol)
        for connection in list(self._connections):
            mine = [s for s in connection.streams if _symbol_of(s) == symbol]
            if not mine:
                continue
            connection.streams = [s for s in connection.streams if s not in mine]
            if connection.streams:
                assert connection.socket is not None
                await connection.socket.send(self._request("UNSUBSCRIBE", *mine))
                continue
            self._connections.remove(connection)
            if connection.task is not None:
                connection.task.cancel()
                await asyncio.gather(connection.task, return_exceptions=True)

    def depth_socket(self, symbol: str) -> SupervisedSocket | None:
        """The socket carrying ``symbol``'s depth stream (for health reporting)."""
        stream = DEPTH_STREAM.format(symbol.lower())
        return next((c.socket for c in self._connections if stream in c.streams), None)

    def _connection(self, route: str, streams: list[str]) -> _Connection:
        connection = _Connection(route, streams)
        number = next(self._numbers[route])
        url = lambda: stream_url(self._ws_url, route, connection.streams)  # noqa: E731
        if route == "public":
            connection.socket = SupervisedSocket(
                f"depth[{number}]", url, self._on_depth_frame, self._depth_state(connection),
                self._clock, self._silence_timeout, backoff=Backoff(*self._reconnect))
        else:
            # Trades may legitimately pause on a quiet symbol: only pings guard this socket.
            connection.socket = SupervisedSocket(
                f"trades[{number}]", url, self._on_trade_frame, lambda _up: None, self._clock,
                silence_timeout_s=None, backoff=Backoff(*self._reconnect))
        return connection

    def _open(self, connection: _Connection) -> None:
        assert self._tasks is not None and connection.socket is not None
        connection.task = self._tasks.create_task(connection.socket.run(),
                                                  name=connection.socket.name)

    def _request(self, method: str, *streams: str) -> str:
        return orjson.dumps({"method": method, "params": list(streams),
                             "id": next(self._request_ids)}).decode()

    def _depth_state(self, connection: _Connection) -> Callable[[bool], None]:
        def on_state(connected: bool) -> None:
            for symbol in connection.symbols():
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
