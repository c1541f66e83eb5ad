"""One client connection to the local Coinbase server: its own ``sequence_num`` counter, its
subscriptions, a bounded send queue and the faults to inject into it.

Every message sent consumes the next number of the connection's one counter, whatever its
channel (exchange-protocols.md section 3.3), so a dropped message shows up as a jump the
client can see, and a duplicated one repeats a number.
"""

from __future__ import annotations

import asyncio
import logging

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from local_exchange import coinbase_messages as msgs

log = logging.getLogger(__name__)

CHANNELS = ("level2", "market_trades", "ticker", "heartbeats")


class CoinbaseSession:
    def __init__(self, ws: ServerConnection, queue_size: int, serial: int) -> None:
        self.ws = ws
        self.serial = serial  # the server's connection count when it opened: newest wins
        self.sequence = -1  # the last number consumed; the first message carries 0
        self.products: dict[str, set[str]] = {c: set() for c in CHANNELS if c != "heartbeats"}
        self.heartbeats = False
        self.subscribed = asyncio.Event()
        self.drop_updates = 0  # the next N level2 updates consume their number but are not sent
        self.duplicate_updates = 0  # the next N level2 updates are sent twice
        self.overflowed = False
        self.silent_until = 0.0  # loop time: nothing is sent before it (the socket stays open)
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)

    def wants(self, channel: str, product: str) -> bool:
        return product in self.products[channel]

    def subscriptions(self) -> dict[str, list[str]]:
        """The ``subscriptions`` reply body: channel -> products, subscribed channels only."""
        reply = {c: sorted(p) for c, p in self.products.items() if p}
        if self.heartbeats:
            reply["heartbeats"] = []
        return reply

    def send(self, channel: str, ts_ns: int, events: bytes) -> int:
        """Queue one message under the next sequence number; returns the number."""
        self.sequence += 1
        self._enqueue(msgs.frame(channel, ts_ns, self.sequence, events))
        return self.sequence

    def send_update(self, ts_ns: int, events: bytes) -> None:
        """A level2 update, through the injected faults."""
        if self.drop_updates:
            self.drop_updates -= 1
            self.sequence += 1  # lost in transit: its number is gone with it
            return
        number = self.send("l2_data", ts_ns, events)
        if self.duplicate_updates:
            self.duplicate_updates -= 1
            self._enqueue(msgs.frame("l2_data", ts_ns, number, events))

    def send_raw(self, payload: bytes) -> None:
        """A message outside the sequence (an ``error`` reply carries no sequence_num)."""
        self._enqueue(payload)

    async def write(self) -> None:
        """Drain the queue onto the socket until the connection closes."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                payload = await self._queue.get()
                if loop.time() < self.silent_until:
                    continue  # a silent server: what would have been sent is lost
                await self.ws.send(payload)
        except ConnectionClosed:
            pass

    def _enqueue(self, payload: bytes) -> None:
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(payload)
        except asyncio.QueueFull:
            # Bounded: a client that cannot keep up is cut off, not buffered for ever.
            self.overflowed = True
            log.warning("coinbase server: send queue full; aborting a slow client")
            self.ws.transport.abort()
