"""Fan-out of encoded frames to WebSocket clients, bounded per client.

Each client owns a small queue. Publishing never waits: when a client's queue is full its oldest
frame is dropped (and counted), so a slow browser receives the newest frame, not a backlog, and
can never stall the frame clock or ingestion.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

Message = tuple[str, int]  # (encoded JSON, time it was published, ns)
CLOSED: Message = ("", -1)  # offered to a stopped market's clients: close the socket


class ClientSlot:
    __slots__ = ("queue", "dropped")

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def offer(self, message: Message) -> bool:
        """Enqueue, dropping the oldest frame if full. False when something was dropped."""
        dropped = False
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
            dropped = True
        self.queue.put_nowait(message)
        return not dropped


class FrameHub:
    def __init__(self, client_queue_size: int = 4) -> None:
        self._size = client_queue_size
        self._clients: dict[str, set[ClientSlot]] = defaultdict(set)
        self.dropped_frames: dict[str, int] = defaultdict(int)

    def subscribe(self, symbol: str) -> ClientSlot:
        slot = ClientSlot(self._size)
        self._clients[symbol].add(slot)
        return slot

    def unsubscribe(self, symbol: str, slot: ClientSlot) -> None:
        clients = self._clients.get(symbol)
        if clients is not None:
            clients.discard(slot)
            if not clients:
                del self._clients[symbol]

    def close(self, symbol: str) -> None:
        """The market stopped: every client of it gets ``CLOSED`` and its counters go."""
        for slot in self._clients.pop(symbol, ()):
            slot.offer(CLOSED)
        self.dropped_frames.pop(symbol, None)

    def publish(self, symbol: str, message: str, published_ns: int) -> None:
        item = (message, published_ns)
        for slot in self._clients.get(symbol, ()):
            if not slot.offer(item):
                self.dropped_frames[symbol] += 1

    def client_count(self, symbol: str | None = None) -> int:
        if symbol is not None:
            return len(self._clients.get(symbol, ()))
        return sum(len(s) for s in self._clients.values())
