"""Helpers for the local exchange tests: a minimal Binance futures book client over real sockets.

Deliberately independent of data_ingestion/: it implements the documented sync rule directly
(buffer diffs, snapshot, first event U <= L <= u, then pu == previous u).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from local_exchange import LocalExchange

Book = dict[int, int]


class BookFollower:
    """Follows one symbol's depth stream and keeps a synced book in integer units."""

    def __init__(self, exchange: LocalExchange, symbol: str, stream: str = "depth@100ms") -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.stream = stream
        self.spec = exchange.spec(symbol)
        self.ws: ClientConnection | None = None
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.bids: Book = {}
        self.asks: Book = {}
        self.update_id: int | None = None
        self.events: list[dict[str, Any]] = []  # every diff applied, in order
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> BookFollower:
        url = f"{self.exchange.ws_url}/public/ws/{self.symbol.lower()}@{self.stream}"
        self.ws = await connect(url)
        self._reader = asyncio.create_task(self._read())
        await self._sync()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._reader is not None and self.ws is not None
        self._reader.cancel()
        await self.ws.close()

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            await self.queue.put(orjson.loads(message))

    async def _sync(self) -> None:
        first = await self.queue.get()  # wait for one event before the snapshot (docs' advice)
        buffered = [first]
        async with httpx.AsyncClient(base_url=self.exchange.rest_url) as http:
            resp = await http.get("/fapi/v1/depth", params={"symbol": self.symbol,
                                                            "limit": 1000})
        resp.raise_for_status()
        snap = resp.json()
        last_id = snap["lastUpdateId"]
        self.bids = {self._p(p): self._q(q) for p, q in snap["bids"]}
        self.asks = {self._p(p): self._q(q) for p, q in snap["asks"]}
        while True:
            while buffered:
                event = buffered.pop(0)
                if event["u"] < last_id:
                    continue
                assert event["U"] <= last_id <= event["u"], "snapshot does not straddle"
                self._apply(event)
                for rest in buffered:
                    self.apply_checked(rest)
                return
            buffered.append(await self.queue.get())

    def apply_checked(self, event: dict[str, Any]) -> None:
        assert event["pu"] == self.update_id, f"pu {event['pu']} != previous u {self.update_id}"
        self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        for side, levels in ((self.bids, event["b"]), (self.asks, event["a"])):
            for p, q in levels:
                price, qty = self._p(p), self._q(q)
                if qty:
                    side[price] = qty
                else:
                    side.pop(price, None)
        self.update_id = event["u"]
        self.events.append(event)

    async def follow_until(self, update_id: int) -> None:
        while self.update_id is None or self.update_id < update_id:
            self.apply_checked(await asyncio.wait_for(self.queue.get(), 10))

    def sorted_book(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return sorted(self.bids.items(), reverse=True), sorted(self.asks.items())

    def _p(self, text: str) -> int:
        return self.spec.instrument.prices.parse(text)

    def _q(self, text: str) -> int:
        return self.spec.instrument.quantities.parse(text)


async def quiesce(exchange: LocalExchange) -> int:
    """Pause the flow, wait until every change is published; the first symbol's final id."""
    exchange.pause()
    last: tuple[int, ...] = ()
    while True:
        await asyncio.sleep(0.6)  # longer than the slowest depth stream (500 ms)
        current = tuple(exchange.published_book(s)[0] for s in exchange.symbols)
        if current == last:
            return current[0]
        last = current


async def recv_json(ws: ClientConnection, timeout: float = 10.0) -> Any:
    return orjson.loads(await asyncio.wait_for(ws.recv(), timeout))


class RawFrames:
    """A bare-bones WebSocket client that reports every frame (opcode, payload), pings too."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, path: str) -> RawFrames:
        import base64
        import os

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        status = await reader.readuntil(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 101"), status
        return cls(reader, writer)

    async def frame(self, timeout: float = 10.0) -> tuple[int, bytes]:
        """(opcode, payload); raises IncompleteReadError when the TCP stream ends."""
        head = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        length = head[1] & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        return head[0] & 0x0F, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()
