"""One 127.0.0.1 port for both REST and WebSocket, on the ``websockets`` asyncio server.

``process_request`` answers REST paths with plain HTTP responses (the REST layer decides what);
stream paths proceed to the WebSocket handshake. Each WebSocket connection gets a bounded send
queue drained by its own writer task: a client that cannot keep up is aborted, never buffered
forever. Payloads are encoded once per publish, not once per subscriber.

Control frames (``SUBSCRIBE``, ``UNSUBSCRIBE``, ``LIST_SUBSCRIPTIONS``, ``SET_PROPERTY``,
``GET_PROPERTY``) are answered ``{"result": ..., "id": N}``; errors as Binance sends them on the
wire, ``{"error": {"code": C, "msg": "..."}, "id": N}`` (``streams_control``). A combined-stream
URL naming an unknown stream is closed at once with 1008 and Binance's reason; a raw ``/ws/...``
path ignores the names that are not streams (``_handle``).
"""

from __future__ import annotations

import asyncio
import http
from collections import deque
import logging
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from local_exchange.streams import BadPath, StreamTarget, canonical, parse_target
from local_exchange.streams_catalog import routes_of
from local_exchange.streams_control import (
    BAD_URL_CLOSE_REASON,
    ControlError,
    ControlRequest,
    parse_control,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RestResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


RestHandler = Callable[[str], RestResponse]
# name -> served? (``streams_catalog.stream_validator``); None serves any name.
StreamValidator = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """WebSocket behaviour. Binance: ping every 3 min, pong within 10 min, 24 h lifetime."""

    ping_interval_s: float | None = 180.0
    pong_timeout_s: float | None = 600.0
    max_lifetime_s: float = 24 * 3600.0
    send_queue_size: int = 2048
    # USDT-M routes book data under /public and trades under /market; Spot has no routes: any
    # connection carries any stream.
    routed: bool = True
    # TLS on the same port for REST and WebSocket (``https://`` / ``wss://``), for clients that
    # refuse plain ``ws://`` (cryptofeed); None serves plain HTTP/WS.
    ssl: ssl.SSLContext | None = None
    # Binance's per-connection limits (exchange-protocols.md 1.2 and 2.2): streams on one
    # connection (USDT-M: 200, the lower of the two documented values; Spot 1024) and incoming
    # messages per second (USDT-M 10, Spot 5), beyond which the connection is dropped. None: off.
    max_streams: int | None = 200
    max_incoming_per_s: int | None = 10


class Subscriber:
    """One WebSocket connection: its route, framing, subscriptions and bounded send queue."""

    def __init__(self, ws: ServerConnection, target: StreamTarget, queue_size: int) -> None:
        self.ws = ws
        self.route = target.route
        self.combined = target.combined
        self.streams: dict[str, str] = {}  # canonical name -> name as the client spelled it
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)
        self.silent_until = 0.0
        self.arrivals: deque[float] = deque()  # loop times of the last incoming messages

    def enqueue(self, frame: bytes) -> bool:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True


class StreamServer:
    """Serves REST via ``rest`` and fans published payloads out to stream subscribers."""

    def __init__(self, rest: RestHandler, settings: ServerSettings | None = None,
                 valid: StreamValidator | None = None) -> None:
        self.rest = rest
        self.settings = settings or ServerSettings()
        self.valid = valid
        self.subscribers: set[Subscriber] = set()
        self._index: dict[str, set[Subscriber]] = {}  # deliverable subscriptions only
        self._server: Server | None = None
        self.slow_client_aborts = 0
        self.rate_limit_drops = 0  # connections dropped for sending too many messages

    # ---------------------------------------------------------------- lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await serve(
            self._handle, host, port, process_request=self._process_request,
            ping_interval=self.settings.ping_interval_s,
            ping_timeout=self.settings.pong_timeout_s, compression=None, max_size=2**16,
            logger=_wire_logger(), ssl=self.settings.ssl)
        return self.port

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        try:
            await asyncio.wait_for(self._server.wait_closed(), 2.0)
        except TimeoutError:
            # A client that answered the close handshake but keeps its TCP socket open (the
            # websocket-client library does) would hold the stop for ever: cut it, as a
            # network failure would.
            for sub in list(self.subscribers):
                sub.ws.transport.abort()
            await asyncio.wait_for(self._server.wait_closed(), 5.0)
        self._server = None

    # ----------------------------------------------------------------- fan-out
    def wants(self, name: str) -> bool:
        """True when a deliverable subscriber of ``name`` (canonical) exists: producers skip
        building payloads nobody receives (partial depth, klines, arrays)."""
        return bool(self._index.get(name))

    def publish(self, names: Iterable[str], payload: dict[str, Any] | list[Any]) -> int:
        """Send ``payload`` to every deliverable subscriber of any of ``names`` (canonical).

        Returns the number of frames queued."""
        raw: bytes | None = None
        queued = 0
        for name in names:
            subscribers = self._index.get(name)
            if not subscribers:
                continue
            raw = raw or orjson.dumps(payload)
            wrapped: dict[str, bytes] = {}
            for sub in list(subscribers):
                if sub.combined:
                    given = sub.streams.get(name, name)
                    frame = wrapped.get(given)
                    if frame is None:
                        frame = wrapped[given] = (b'{"stream":' + orjson.dumps(given)
                                                  + b',"data":' + raw + b"}")
                else:
                    frame = raw
                self._deliver(sub, frame)
                queued += 1
        return queued

    def send_text(self, names: Iterable[str], text: bytes) -> int:
        """Send ``text`` verbatim (e.g. a malformed frame) to subscribers of ``names``."""
        targets = {sub for name in names for sub in self._index.get(name, ())}
        for sub in targets:
            self._deliver(sub, text)
        return len(targets)

    def abort_all(self) -> int:
        """Drop every WebSocket at the TCP level: no close frame, like a network failure."""
        subs = list(self.subscribers)
        for sub in subs:
            sub.ws.transport.abort()
        return len(subs)

    def silence_all(self, seconds: float) -> int:
        """Open connections send nothing for ``seconds`` (frames are dropped); TCP stays up."""
        until = asyncio.get_running_loop().time() + seconds
        for sub in self.subscribers:
            sub.silent_until = until
        return len(self.subscribers)

    def _deliver(self, sub: Subscriber, frame: bytes) -> None:
        if not sub.enqueue(frame):
            # A stuck client is cut off rather than buffered without bound.
            self.slow_client_aborts += 1
            log.warning("send queue full, aborting %s", sub.ws.remote_address)
            self._forget(sub)
            sub.ws.transport.abort()

    # ---------------------------------------------------------------- handlers
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        try:
            parse_target(request.path)
        except BadPath:
            return _http_response(self.rest(request.path))
        return None  # a stream path: go on with the WebSocket handshake

    async def _handle(self, ws: ServerConnection) -> None:
        target = parse_target(ws.request.path if ws.request else "/")
        streams = target.streams
        if self.valid is not None and not all(self.valid(n) for n in streams):
            if target.combined:
                # What Binance was seen doing for a bad combined-stream URL (binance-api-node
                # #121): the socket opens, then closes with 1008 and this reason.
                await ws.close(1008, BAD_URL_CLOSE_REASON)
                return
            # Raw mode: Binance takes any path after /ws/ (ccxt connects to /ws/0, /ws/1 and
            # SUBSCRIBEs there); what is not a stream is not subscribed, nor listed.
            streams = tuple(n for n in streams if self.valid(n))
        limit = self.settings.max_streams
        if limit is not None and len(set(map(canonical, streams))) > limit:
            # Binance documents the limit, not the reply: closed as a bad URL is.
            await ws.close(1008, f"too many streams: {len(streams)} > {limit}")
            return
        sub = Subscriber(ws, target, self.settings.send_queue_size)
        self.subscribers.add(sub)
        self._subscribe(sub, streams)
        writer = asyncio.create_task(self._write(sub))
        try:
            async with asyncio.timeout(self.settings.max_lifetime_s):
                async for message in ws:
                    if self._over_rate(sub):
                        # "Going over the limit gets the connection dropped" (1.2).
                        self.rate_limit_drops += 1
                        await ws.close(1008, "too many messages")
                        break
                    self._control(sub, message)
        except TimeoutError:
            await ws.close(1000, "max connection lifetime")
        except ConnectionClosed:
            pass  # the peer went away; nothing to clean up beyond the finally block
        finally:
            self._forget(sub)
            writer.cancel()

    async def _write(self, sub: Subscriber) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                frame = await sub.queue.get()
                if loop.time() < sub.silent_until:
                    continue
                await sub.ws.send(frame, text=True)
        except ConnectionClosed:
            return

    # -------------------------------------------------------- control messages
    def _control(self, sub: Subscriber, message: str | bytes) -> None:
        try:
            request = parse_control(message, self.valid)
            result = self._apply(sub, request)
        except ControlError as err:
            self._reply(sub, err.reply())
            return
        self._reply(sub, {"result": result, "id": request.id})

    def _over_rate(self, sub: Subscriber) -> bool:
        """More than ``max_incoming_per_s`` messages within the last second (data frames;
        pings and pongs are answered by the protocol layer and not counted here)."""
        limit = self.settings.max_incoming_per_s
        if limit is None:
            return False
        now = asyncio.get_running_loop().time()
        arrivals = sub.arrivals
        arrivals.append(now)
        while arrivals and arrivals[0] <= now - 1.0:
            arrivals.popleft()
        return len(arrivals) > limit

    def _apply(self, sub: Subscriber, request: ControlRequest) -> Any:
        method, params = request.method, request.params
        limit = self.settings.max_streams
        if method == "SUBSCRIBE" and limit is not None:
            total = len(set(sub.streams) | {canonical(n) for n in params})
            if total > limit:
                raise ControlError(2, f"Invalid request: too many streams: {total} > {limit} "
                                      "on one connection", request.id)
        if method == "SUBSCRIBE":
            self._subscribe(sub, params)
        elif method == "UNSUBSCRIBE":
            for name in params:
                key = canonical(name)
                self._index.get(key, set()).discard(sub)
                sub.streams.pop(key, None)
        elif method == "LIST_SUBSCRIPTIONS":
            return list(sub.streams.values())
        elif method == "SET_PROPERTY":
            sub.combined = bool(params[1])
        elif method == "GET_PROPERTY":
            return sub.combined
        return None

    def _reply(self, sub: Subscriber, payload: dict[str, Any]) -> None:
        self._deliver(sub, orjson.dumps(payload))

    def _subscribe(self, sub: Subscriber, names: Iterable[str]) -> None:
        for name in names:
            key = canonical(name)
            sub.streams[key] = name
            if not self.settings.routed or sub.route in routes_of(key):
                self._index.setdefault(key, set()).add(sub)

    def _forget(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        for key in sub.streams:
            subs = self._index.get(key)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._index[key]


def _wire_logger() -> logging.Logger:
    """websockets logs every REST response at INFO; keep that at WARNING unless configured."""
    wire = logging.getLogger("local_exchange.wire")
    if wire.level == logging.NOTSET:
        wire.setLevel(logging.WARNING)
    return wire


def _http_response(resp: RestResponse) -> Response:
    headers = Headers()
    headers["Content-Type"] = "application/json"
    headers["Content-Length"] = str(len(resp.body))
    headers["Connection"] = "close"
    for key, value in resp.headers.items():
        if key in headers:  # the response's own (e.g. an HTML error page's type) wins
            del headers[key]
        headers[key] = value
    return Response(resp.status, http.HTTPStatus(resp.status).phrase, headers, resp.body)
