"""The Coinbase Advanced Trade feed: one socket in, exact books out.

One connection carries ``heartbeats``, ``level2``, ``market_trades`` and ``ticker`` for every
product (one subscribe message per channel, section 3.1); ``CoinbaseBookSync`` checks the
connection's one ``sequence_num`` counter, ticker messages included, and owns the books. Each
product's 24-hour statistics (``ticker``) go to ``on_stats``, set by the runtime. When the
sync machine asks for a product's rebuild the feed unsubscribes and re-subscribes that
product's level2, which makes Coinbase send a fresh snapshot on the same socket (section 3.3).
The connection is a ``SupervisedSocket``: a lost or silent socket is reopened with capped,
jittered backoff, and the new connection's subscriptions
(sent by its ``on_open``) bring new snapshots. Products can be added and removed while it runs
(``add_product``/``remove_product``): subscribed or unsubscribed on the open connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

import orjson

from data_ingestion.backoff import Backoff
from marketdata.clock import Clock
from data_ingestion.coinbase.book_sync import CoinbaseBookSync
from data_ingestion.coinbase.parser import CoinbaseParser, ParseError, VenueErrorReply
from data_ingestion.connection import SupervisedSocket
from marketdata.events import MarketEvent, MarketStats, Ticker24h
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from orderbook.observer import BookObserver

log = logging.getLogger(__name__)

# A BTC-USD snapshot is ~5 MB (46,000 levels); the official SDK allows 10 MiB, websockets' own
# default of 1 MiB would drop the connection on the first snapshot.
MAX_FRAME_BYTES = 16 * 2**20
# heartbeats first: it keeps quiet subscriptions open (idle channels close after 60-90 s).
CHANNELS = ("heartbeats", "level2", "market_trades", "ticker")
PRODUCT_CHANNELS = CHANNELS[1:]  # the ones a product joins and leaves
_LOG_FRAME_CHARS = 300


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
        self.parse_errors = 0
        self.error_replies = 0  # {"type": "error"} answers to a request (e.g. a subscription)
        self.resubscribes = 0
        # The runtime's: called with each product's parsed 24-hour statistics, in order.
        self.on_stats: Callable[[MarketStats], None] | None = None
        # The socket's own watchdog closes it when heartbeats stop; reconnects are backed off.
        self.socket = SupervisedSocket("coinbase", url, self._on_frame, self._on_state, clock,
                                       silence_timeout_s, backoff=backoff or Backoff(0.5, 30.0),
                                       open_timeout_s=open_timeout_s, on_open=self._subscribe,
                                       max_frame_bytes=MAX_FRAME_BYTES)
        self._rebuilds: set[str] = set()
        self._joins: set[str] = set()  # products to subscribe on the open connection
        self._leaves: set[str] = set()  # ... and to unsubscribe
        self._changing: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self.socket.connected

    @property
    def connects(self) -> int:
        return self.socket.connects

    @property
    def silences(self) -> int:
        return self.socket.silences

    @property
    def malformed_stats(self) -> int:
        """Ticker messages skipped as malformed (their sequence numbers still counted)."""
        return self.parser.malformed_stats

    def add_product(self, instrument: Instrument) -> None:
        """Follow ``instrument``'s product from now on (its book waits for its snapshot)."""
        product = instrument.symbol
        self.parser.add_instrument(instrument)
        self.sync.add_product(product)
        self.products.append(product)
        self._leaves.discard(product)
        self._joins.add(product)
        self._schedule_changes()

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
        self._schedule_changes()

    def depth_socket(self, product: str) -> SupervisedSocket:
        """The one connection carrying every product (for health reporting)."""
        return self.socket

    async def run(self) -> None:
        """Connect, subscribe, read; reconnect after any loss, until cancelled."""
        try:
            await self.socket.run()
        finally:
            if self._changing is not None:
                self._changing.cancel()

    # ---- the connection ----------------------------------------------------------------------

    async def _subscribe(self) -> None:
        """A new connection: everything subscribed afresh (its snapshots rebuild every book),
        one channel per subscribe message (section 3.1), heartbeats first."""
        self._rebuilds.clear()
        self._joins.clear()
        self._leaves.clear()
        for channel in CHANNELS:
            if channel == "heartbeats" or self.products:
                await self._send("subscribe", channel, self.products)
        log.info("coinbase: subscribed %s", ", ".join(self.products) or "heartbeats only")

    def _on_state(self, connected: bool) -> None:
        if not connected:
            self.sync.connection_reset()  # rule 7: a new counter, new snapshots

    def _on_frame(self, frame: bytes, receive_ns: int) -> None:
        try:
            parsed = self.parser.parse(frame, receive_ns)
        except VenueErrorReply as exc:  # outside the sequence, like a malformed frame
            self.error_replies += 1
            log.warning("coinbase: the venue refused a request: %s", str(exc)[:_LOG_FRAME_CHARS])
            return
        except ParseError as exc:
            # Malformed frames carry no usable sequence_num: log, carry on.
            self.parse_errors += 1
            log.warning("coinbase: unusable frame (%s): %r", exc, frame[:_LOG_FRAME_CHARS])
            return
        # A duplicate's statistics are stale: they are passed on only with its sequence.
        if self.sync.on_frame(parsed) and parsed.channel == "ticker":
            self._deliver_stats(parsed.events)

    def _deliver_stats(self, events: list[MarketEvent]) -> None:
        on_stats = self.on_stats
        if on_stats is None:
            return
        for event in events:
            if type(event) is Ticker24h and event.symbol in self.sync.books:
                on_stats(event)

    def _rebuild_requested(self, product: str) -> None:
        """Called by the sync machine (synchronously); sent once the current frame is done."""
        self._rebuilds.add(product)
        self._schedule_changes()

    def _schedule_changes(self) -> None:
        if self._changing is None or self._changing.done():
            self._changing = asyncio.get_running_loop().create_task(self._send_changes())

    async def _send_changes(self) -> None:
        """Re-subscribe level2 for the products to rebuild (the subscription's snapshot replaces
        each book), then subscribe joined and unsubscribe left products. A few messages for any
        number of products keeps well under Coinbase's 8 messages a second."""
        if not self.socket.connected:
            return  # the next connection subscribes everything anyway
        if self._rebuilds:
            products = sorted(self._rebuilds)
            self._rebuilds.clear()
            self.resubscribes += 1
            log.info("coinbase: re-subscribing level2 for %s to rebuild", ", ".join(products))
            await self._send("unsubscribe", "level2", products)
            await self._send("subscribe", "level2", products)
        joins, leaves = sorted(self._joins), sorted(self._leaves)
        self._joins.clear()
        self._leaves.clear()
        for kind, products in (("unsubscribe", leaves), ("subscribe", joins)):
            if products:
                for channel in PRODUCT_CHANNELS:
                    await self._send(kind, channel, products)

    async def _send(self, kind: str, channel: str, products: list[str]) -> None:
        await self.socket.send(orjson.dumps({"type": kind, "product_ids": products,
                                             "channel": channel}).decode())
