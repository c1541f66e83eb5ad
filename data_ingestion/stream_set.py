"""A changing set of combined streams spread over supervised connections (Binance's
``/stream?streams=a/b`` form, futures and Spot alike).

Streams are added and removed while the set runs: added to a connection with room by a
``SUBSCRIBE`` (or on a new connection when all are full), dropped by an ``UNSUBSCRIBE``; a
connection left without streams is closed. Each connection's URL is rebuilt from its current
streams at every reconnect, so a reconnect never loses or resurrects a stream.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable

import orjson

from data_ingestion.backoff import Backoff
from marketdata.clock import Clock
from data_ingestion.connection import FrameHandler, SupervisedSocket

# (symbols whose streams a connection carries, connected?) -> None
SymbolsState = Callable[[list[str], bool], None]


def symbol_of(stream: str) -> str:
    """``btcusdt@depth@100ms`` -> ``BTCUSDT``."""
    return stream.partition("@")[0].upper()


class _Connection:
    __slots__ = ("sent", "socket", "streams", "task")

    def __init__(self, streams: list[str]) -> None:
        self.streams = streams
        self.socket: SupervisedSocket | None = None
        self.task: asyncio.Task[None] | None = None
        self.sent: deque[float] = deque()  # monotonic times of the last control messages


class StreamSet:
    """Connections of one kind: one URL form, frame handler and watchdog setting."""

    def __init__(self, label: str, url_of: Callable[[list[str]], str], max_streams: int,
                 on_frame: FrameHandler, on_state: SymbolsState | None, clock: Clock,
                 silence_timeout_s: float | None, backoff_s: tuple[float, float],
                 max_messages_per_s: int = 5) -> None:
        self.label = label
        # Binance drops a connection that sends more than 10 (USDT-M) or 5 (Spot) messages a
        # second, pings and pongs included: control messages keep well under it.
        self._max_rate = max_messages_per_s
        self._url_of = url_of
        self._max = max_streams
        self._on_frame = on_frame
        self._on_state = on_state
        self._clock = clock
        self._silence = silence_timeout_s
        self._backoff = backoff_s
        self._connections: list[_Connection] = []
        self._tasks: asyncio.TaskGroup | None = None
        self._numbers = itertools.count()
        self._request_ids = itertools.count(1)

    @property
    def sockets(self) -> list[SupervisedSocket]:
        return [c.socket for c in self._connections if c.socket is not None]

    @property
    def streams(self) -> list[str]:
        return [s for c in self._connections for s in c.streams]

    def preload(self, groups: list[list[str]]) -> None:
        """Streams to open with, before ``run``; a group (a symbol's streams) never straddles
        two connections."""
        for group in groups:
            self._place(group)

    async def run(self) -> None:
        """Keep every connection open until cancelled (they come and go with ``add``)."""
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            for connection in self._connections:
                self._open(connection)
            try:
                await asyncio.Event().wait()
            finally:
                self._tasks = None

    async def add(self, group: list[str]) -> SupervisedSocket:
        """Carry ``group`` (one symbol's streams) from now on; returns its socket."""
        if self._tasks is None:
            raise RuntimeError(f"{self.label} streams are not running")
        connection, new = self._place(group)
        assert connection.socket is not None
        if new:
            self._open(connection)
        else:
            await self._throttle(connection)
            await connection.socket.send(self._request("SUBSCRIBE", group))
        return connection.socket

    async def remove(self, symbol: str) -> None:
        """Stop carrying ``symbol``'s streams; close a connection left without any."""
        for connection in list(self._connections):
            mine = [s for s in connection.streams if symbol_of(s) == symbol]
            if not mine:
                continue
            connection.streams = [s for s in connection.streams if s not in mine]
            if connection.streams:
                assert connection.socket is not None
                await self._throttle(connection)
                await connection.socket.send(self._request("UNSUBSCRIBE", mine))
                continue
            self._connections.remove(connection)
            if connection.task is not None:
                connection.task.cancel()
                await asyncio.gather(connection.task, return_exceptions=True)

    @property
    def urls(self) -> list[str]:
        """Each connection's URL as its next connect would open it."""
        return [self._url_of(c.streams) for c in self._connections]

    def socket_of(self, stream: str) -> SupervisedSocket | None:
        return next((c.socket for c in self._connections if stream in c.streams), None)

    # ---- internals -----------------------------------------------------------------------------

    def _place(self, group: list[str]) -> tuple[_Connection, bool]:
        for connection in self._connections:
            if len(connection.streams) + len(group) <= self._max:
                connection.streams.extend(group)
                return connection, False
        connection = _Connection(list(group))
        url = lambda: self._url_of(connection.streams)  # noqa: E731 - read at each connect
        on_state = self._on_state
        connection.socket = SupervisedSocket(
            f"{self.label}[{next(self._numbers)}]", url, self._on_frame,
            (lambda up: on_state(list(dict.fromkeys(map(symbol_of, connection.streams))), up))
            if on_state is not None else (lambda _up: None),
            self._clock, self._silence, backoff=Backoff(*self._backoff))
        self._connections.append(connection)
        return connection, True

    def _open(self, connection: _Connection) -> None:
        assert self._tasks is not None and connection.socket is not None
        connection.task = self._tasks.create_task(connection.socket.run(),
                                                  name=connection.socket.name)

    async def _throttle(self, connection: _Connection) -> None:
        """Wait until one more message keeps this connection within its rate (a sliding
        second; the wait is bounded by one second)."""
        sent = connection.sent
        while True:
            now = self._clock.monotonic()
            while sent and sent[0] <= now - 1.0:
                sent.popleft()
            if len(sent) < self._max_rate:
                sent.append(now)
                return
            await asyncio.sleep(sent[0] + 1.0 - now)

    def _request(self, method: str, streams: list[str]) -> str:
        return orjson.dumps({"method": method, "params": streams,
                             "id": next(self._request_ids)}).decode()
