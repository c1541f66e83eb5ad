"""A supervised WebSocket: reconnects with capped, jittered backoff; a watchdog drops a socket
that has gone silent; a connection is renewed before the venue's 24-hour limit.

Venue-agnostic: frames are handed, undecoded, to ``on_frame`` with their receive time. Pings are
answered by the websockets library itself (Binance pings every 3 minutes and drops a client that
does not pong within 10). The URL may be a callable, read at every connect, so a feed whose
stream set changes at runtime (``SUBSCRIBE`` sent with ``send``) reconnects to the current set;
``on_open`` runs on every new connection before it is read (venues that subscribe by message,
such as Coinbase, send their subscriptions there).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import websockets
from websockets.exceptions import ConnectionClosed
from websockets.asyncio.client import ClientConnection, connect

from data_ingestion.backoff import Backoff
from marketdata.clock import Clock

log = logging.getLogger(__name__)

FrameHandler = Callable[[bytes, int], None]
StateHandler = Callable[[bool], None]


class SupervisedSocket:
    def __init__(self, name: str, url: str | Callable[[], str], on_frame: FrameHandler,
                 on_state: StateHandler,
                 clock: Clock, silence_timeout_s: float | None = 10.0,
                 max_lifetime_s: float = 23 * 3600.0, backoff: Backoff | None = None,
                 open_timeout_s: float = 10.0,
                 on_open: Callable[[], Awaitable[None]] | None = None,
                 max_frame_bytes: int = 2**24) -> None:
        self.name = name
        self._url = url
        self._ws: ClientConnection | None = None
        self.connected = False
        self.connects = 0
        self.silences = 0
        self.renewals = 0
        self.failures = 0
        self.handler_errors = 0
        self._on_frame = on_frame
        self._on_state = on_state
        self._clock = clock
        self._silence_timeout = silence_timeout_s
        self._max_lifetime = max_lifetime_s
        self._backoff = backoff or Backoff(base=0.5, cap=30.0)
        self._open_timeout = open_timeout_s
        self._on_open = on_open
        self._max_frame_bytes = max_frame_bytes
        self._last_frame = 0.0

    @property
    def url(self) -> str:
        """The URL the next connection opens (the current one, for a callable)."""
        return self._url() if callable(self._url) else self._url

    async def send(self, text: str) -> bool:
        """Send a control message (e.g. ``SUBSCRIBE``) on the open connection; False when
        there is none (the next connection's URL already covers the change)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(text)
        except ConnectionClosed:
            return False
        return True

    async def run(self) -> None:
        """Connect, read and reconnect until cancelled."""
        while True:
            try:
                async with connect(self.url, open_timeout=self._open_timeout, close_timeout=2,
                                   ping_interval=20, ping_timeout=20,
                                   max_size=self._max_frame_bytes,
                                   max_queue=256, compression=None) as ws:
                    await self._serve(ws)
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
                self.failures += 1
                log.warning("%s: connection lost or refused: %s: %s", self.name,
                            type(exc).__name__, str(exc)[:200])
            except asyncio.CancelledError:
                self.connected = False  # shutting down: no lost connection to report
                raise
            self._set_connected(False)
            delay = self._backoff.next_delay()
            log.info("%s: reconnecting in %.2fs (attempt %d)", self.name, delay,
                     self._backoff.attempts)
            await asyncio.sleep(delay)

    async def _serve(self, ws: ClientConnection) -> None:
        self.connects += 1
        opened = self._last_frame = self._clock.monotonic()
        self._ws = ws
        self._set_connected(True)
        log.info("%s: connected to %s", self.name, self.url)
        if self._on_open is not None:
            await self._on_open()
        watchdog = asyncio.create_task(self._watch(ws, opened), name=f"{self.name}-watchdog")
        try:
            while True:
                frame = await ws.recv(decode=False)
                self._last_frame = self._clock.monotonic()
                if self._backoff.attempts and self._last_frame - opened > 5.0:
                    self._backoff.reset()  # healthy for a while: the next failure starts over
                try:
                    self._on_frame(frame, self._clock.time_ns())  # type: ignore[arg-type]
                except Exception:  # a handler bug must not take the whole feed down
                    self.handler_errors += 1
                    log.exception("%s: handler failed on frame %r", self.name, frame[:300])
        except websockets.exceptions.ConnectionClosedOK:
            log.info("%s: closed by %s", self.name, "us" if watchdog.done() else "the server")
        finally:
            self._ws = None
            watchdog.cancel()

    async def _watch(self, ws: ClientConnection, opened: float) -> None:
        """Close the socket when it goes silent or reaches its maximum lifetime."""
        period = min(1.0, (self._silence_timeout or 1.0) / 4)
        while True:
            await asyncio.sleep(period)
            now = self._clock.monotonic()
            if now - opened >= self._max_lifetime:
                self.renewals += 1
                log.info("%s: renewing the connection before the venue's 24h limit", self.name)
                await ws.close()
                return
            if self._silence_timeout is not None and now - self._last_frame > self._silence_timeout:
                self.silences += 1
                log.warning("%s: no data for %.1fs; reconnecting", self.name,
                            now - self._last_frame)
                ws.transport.abort()  # a silent peer may not answer a close handshake either
                return

    def _set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            self._on_state(connected)
