"""The Coinbase Advanced Trade feed: one socket in, exact books out.

One connection carries ``heartbeats``, ``level2`` and ``market_trades`` for every product (one
subscribe message per channel, section 3.1); ``CoinbaseBookSync`` checks the connection's one
``sequence_num`` counter and owns the books. When it asks for a product's rebuild the feed
unsubscribes and re-subscribes that product's level2, which makes Coinbase send a fresh
snapshot on the same socket (section 3.3). A lost or silent socket is reopened with capped,
jittered backoff, and the new connection's subscriptions bring new snapshots. Products can be
added and removed while it runs (``add_product``/``remove_product``): subscribed or unsubscribed
on the open connection after the message being read (at worst a heartbeat, a second, later).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import orjson
import websockets
from websockets.asyncio.client import ClientConnection, connect

from data_ingestion.backoff import Backoff
from data_ingestion.clock import Clock
from data_ingestion.coinbase.book_sync import CoinbaseBookSync
from data_ingestion.coinbase.parser import CoinbaseParser, ParseError
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from orderbook.observer import BookObserver

log = logging.getLogger(__name__)

# A BTC-USD snapshot is ~5 MB (46,000 levels); the official SDK allows 10 MiB, websockets' own
# default of 1 MiB would drop the connection on the first snapshot.
MAX_FRAME_BYTES = 16 * 2**20
# heartbeats first: it keeps quiet subscriptions open (idle channels close after 60-90 s).
CHANNELS = ("heartbeats", "level2", "market_trades")
_LOG_FRAME_CHARS = 300
_HEALTHY_AFTER_S = 5.0  # connected this long: the next failure starts the backoff over


class CoinbaseFeed:
    """Runs until cancelled; ``sync.books`` are the products' books, live per ``sync``."""

    def __init__(self, url: str, instruments: Mapping[str, Instrument], clock: Clock,
                 observers: Mapping[str, BookObserver] | None = None,
                 backoff: Backoff | None = None, silence_timeout_s: float = 10.0,
                 open_timeout_s: float = 10.0) -> None:
        self.url = url
        self.products = list(instruments)
        self.parser = CoinbaseParser(instruments)
        self.sync = CoinbaseBookSync({p: L2Book() for p in self.products},
                                     self._rebuild_requested, observers)
        self.connected = False
        self.connects = 0
        self.failures = 0
        self.silences = 0
        self.parse_errors = 0
        self.resubscribes = 0
        self._clock = clock
        self._backoff = backoff or Backoff(base=0.5, cap=30.0)
        self._silence_timeout = silence_timeout_s
        self._open_timeout = open_timeout_s
        self._rebuilds: set[str] = set()
        self._joins: set[str] = set()  # products to subscribe on the open connection
        self._leaves: set[str] = set()  # ... and to unsubscribe

    def add_product(self, instrument: Instrument) -> None:
        """Follow ``instrument``'s product from now on (its book waits for its snapshot)."""
        product = instrument.symbol
        self.parser.add_instrument(instrument)
        self.sync.add_product(product)
        self.products.append(product)
        self._leaves.discard(product)
        self._joins.add(product)

    def remove_product(self, product: str) -> None:
        """Stop following ``product``: unsubscribed, its book and observer dropped."""
        if product not in self.products:
            return
        self.products.remove(product)
        self.sync.remove_product(product)
        self.parser.remove_instrument(product)
        self._joins.discard(product)
        self._rebuilds.discard(product)
        self._leaves.add(product)

    def depth_socket(self, product: str) -> None:
        """No ``SupervisedSocket`` here (one connection of its own, counted on the feed)."""

    async def run(self) -> None:
        """Connect, subscribe, read; reconnect after any loss, until cancelled."""
        while True:
            try:
                async with connect(self.url, open_timeout=self._open_timeout, close_timeout=2,
                                   ping_interval=20, ping_timeout=20, max_size=MAX_FRAME_BYTES,
                                   max_queue=64, compression=None) as ws:
                    await self._serve(ws)
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
                self.failures += 1
                log.warning("coinbase: connection lost or refused: %s: %s",
                            type(exc).__name__, str(exc)[:200])
            except asyncio.CancelledError:
                self.connected = False  # shutting down: no lost book to report
                raise
            if self.connected:
                self.connected = False
                self.sync.connection_reset()  # rule 7: a new counter, new snapshots
            delay = self._backoff.next_delay()
            log.info("coinbase: reconnecting in %.2fs (attempt %d)", delay, self._backoff.attempts)
            await asyncio.sleep(delay)

    async def _serve(self, ws: ClientConnection) -> None:
        self.connects += 1
        self.connected = True
        # This connection's subscriptions rebuild everything and cover every product anyway.
        self._rebuilds.clear()
        self._joins.clear()
        self._leaves.clear()
        opened = self._clock.monotonic()
        for channel in CHANNELS:  # one channel per subscribe message (section 3.1)
            if channel == "heartbeats" or self.products:
                await self._send(ws, "subscribe", channel, self.products)
        log.info("coinbase: connected to %s, subscribed %s", self.url, ", ".join(self.products))
        while True:
            try:
                frame = await asyncio.wait_for(ws.recv(decode=False), self._silence_timeout)
            except TimeoutError:
                self.silences += 1
                log.warning("coinbase: no message for %.1fs (heartbeats stopped); reconnecting",
                            self._silence_timeout)
                ws.transport.abort()  # a silent peer may not answer a close handshake either
                return
            if self._backoff.attempts and self._clock.monotonic() - opened > _HEALTHY_AFTER_S:
                self._backoff.reset()
            self._on_frame(frame, self._clock.time_ns())  # type: ignore[arg-type]
            if self._rebuilds:
                await self._resubscribe(ws)
            if self._joins or self._leaves:
                await self._change_products(ws)

    def _on_frame(self, frame: bytes, receive_ns: int) -> None:
        try:
            parsed = self.parser.parse(frame, receive_ns)
        except ParseError as exc:
            # Error replies and malformed frames carry no usable sequence_num: log, carry on.
            self.parse_errors += 1
            log.warning("coinbase: unusable frame (%s): %r", exc, frame[:_LOG_FRAME_CHARS])
            return
        self.sync.on_frame(parsed)

    def _rebuild_requested(self, product: str) -> None:
        """Called by the sync machine (synchronously); served after the current frame."""
        self._rebuilds.add(product)

    async def _resubscribe(self, ws: ClientConnection) -> None:
        """Unsubscribe then subscribe level2 for the products to rebuild: the subscription's
        snapshot replaces each book. Two messages for any number of products keeps well under
        Coinbase's 8 messages a second."""
        products = sorted(self._rebuilds)
        self._rebuilds.clear()
        self.resubscribes += 1
        log.info("coinbase: re-subscribing level2 for %s to rebuild", ", ".join(products))
        await self._send(ws, "unsubscribe", "level2", products)
        await self._send(ws, "subscribe", "level2", products)

    async def _change_products(self, ws: ClientConnection) -> None:
        joins, leaves = sorted(self._joins), sorted(self._leaves)
        self._joins.clear()
        self._leaves.clear()
        for kind, products in (("unsubscribe", leaves), ("subscribe", joins)):
            if products:
                for channel in ("level2", "market_trades"):
                    await self._send(ws, kind, channel, products)

    @staticmethod
    async def _send(ws: ClientConnection, kind: str, channel: str, products: list[str]) -> None:
        await ws.send(orjson.dumps({"type": kind, "product_ids": products,
                                    "channel": channel}).decode())
