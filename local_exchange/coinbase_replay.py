"""A real Coinbase Advanced Trade capture (cryptofeed ``*.jsonl.zst``) as the local Coinbase
server's market: its books and trades replayed on the captured timeline, at ``speed`` times real
time.

The capture is one client's connection: one ``sequence_num`` counter and one snapshot per
product at its start. The server has its own connections, so it cannot forward the frames as
they are: each product's recorded snapshot is its book at the start, every recorded ``update``
event is applied to that book and sent on (its level strings and ``event_time`` exactly as
recorded) to the connections subscribed to the product, under their own sequence numbers, and a
connection subscribing later gets the book as replayed so far as its snapshot. Trades are the
recorded ``market_trades`` updates, split by product. Tickers are the recorded ``ticker`` frames,
forwarded, not computed: each recorded ticker goes out as an ``update`` to the product's ticker
subscribers, and a ticker subscription's ``snapshot`` is the product's latest ticker so far: at
first the last one recorded before the timeline starts (those are its start and are not
replayed). ``candles`` frames are not
served; heartbeats are the server's own. Increments come from the capture's products response.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from data_ingestion.coinbase.parser import instruments_from_products, rfc3339_to_ms
from data_ingestion.coinbase.recording import read_frames, read_http_body
from local_exchange.snapshot import Snapshot
from orderbook.instrument import Instrument

log = logging.getLogger(__name__)

_YIELD_EVERY = 200
_BID = "bid"

# (product, the update event re-encoded as a one-event array, its event time in ns)
PublishL2 = Callable[[str, bytes, int], None]
# (product, a market_trades update array holding that product's trades, the frame time in ns)
PublishTrades = Callable[[str, bytes, int], None]
# (product, a ticker update array holding that product's recorded ticker, the frame time in ns)
PublishTicker = Callable[[str, bytes, int], None]


class _ReplayedBook:
    """One product's book as replayed so far, in integer units."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.event_ms = 0

    def apply(self, updates: list[dict[str, Any]], reset: bool) -> None:
        if reset:
            self.bids.clear()
            self.asks.clear()
        parse_p, parse_q = self.instrument.prices.parse, self.instrument.quantities.parse
        for update in updates:
            side = self.bids if update["side"] == _BID else self.asks
            price, qty = parse_p(update["price_level"]), parse_q(update["new_quantity"])
            if qty:
                side[price] = qty
            else:
                side.pop(price, None)
        if updates:
            self.event_ms = rfc3339_to_ms(updates[-1]["event_time"])

    def snapshot(self) -> Snapshot:
        return Snapshot(0, self.event_ms, sorted(self.bids.items(), reverse=True),
                        sorted(self.asks.items()))


class CoinbaseReplay:
    """Book source and pacer for one capture; ``run`` delivers it once, then sets ``finished``."""

    def __init__(self, path: Path | str, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.path = Path(path)
        self.speed = speed
        self.finished = asyncio.Event()
        self.messages_sent = 0
        frames = [(f.receive_ns, orjson.loads(f.data)) for f in read_frames(self.path)]
        snapshots = {event["product_id"]: event for _, message in frames
                     if message.get("channel") == "l2_data"
                     for event in message.get("events", []) if event.get("type") == "snapshot"}
        if not snapshots:
            raise ValueError(f"{self.path}: no level2 snapshot in the capture")
        products_body = read_http_body(self.path, "/market/products")
        self.instruments = instruments_from_products(products_body, list(snapshots))
        # The venue's own description of each product, served as the products endpoint.
        self.products = [p for p in orjson.loads(products_body)["products"]
                         if p["product_id"] in snapshots]
        self.books = {p: _ReplayedBook(i) for p, i in self.instruments.items()}
        # Each product's latest recorded ticker object: a ticker subscription's snapshot. The
        # first recorded one is the start (taken out of the timeline, like the book snapshots).
        self.tickers: dict[str, dict[str, Any]] = {}
        # Each product starts from its first recorded snapshot (taken out of the timeline,
        # which starts at the first of them); everything after is delivered.
        started: set[str] = set()
        self._timeline: list[tuple[int, dict[str, Any]]] = []
        for receive_ns, message in frames:
            channel = message.get("channel")
            if channel == "l2_data":
                events = []
                for event in message.get("events", []):
                    product = event.get("product_id")
                    if event.get("type") == "snapshot" and product not in started:
                        started.add(product)
                        self.books[product].apply(event["updates"], reset=True)
                    else:
                        events.append(event)
                message = {**message, "events": events}
            elif channel == "ticker":
                message = self._without_start_tickers(message, bool(started))
            if started and channel in ("l2_data", "market_trades", "ticker"):
                self._timeline.append((receive_ns, message))

    def book(self, product: str) -> Snapshot:
        return self.books[product].snapshot()

    async def run(self, publish_l2: PublishL2, publish_trades: PublishTrades,
                  running: asyncio.Event, publish_ticker: PublishTicker | None = None) -> None:
        """Deliver the capture on its timeline (scaled by ``speed``); while ``running`` is
        cleared the replay clock stands still."""
        loop = asyncio.get_running_loop()
        start_wall = loop.time()
        first_ns = self._timeline[0][0]
        for count, (receive_ns, message) in enumerate(self._timeline):
            if not running.is_set():
                paused_at = loop.time()
                await running.wait()
                start_wall += loop.time() - paused_at
            delay = start_wall + (receive_ns - first_ns) / 1e9 / self.speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif count % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if message["channel"] == "ticker":
                self._deliver_tickers(message, receive_ns, publish_ticker)
            else:
                self._deliver(message, publish_l2, publish_trades)
            self.messages_sent += 1
        log.info("coinbase replay finished after %d messages", self.messages_sent)
        self.finished.set()

    def _deliver(self, message: dict[str, Any], publish_l2: PublishL2,
                 publish_trades: PublishTrades) -> None:
        if message["channel"] == "l2_data":
            for event in message.get("events", []):
                book = self.books.get(event.get("product_id", ""))
                if book is None:
                    continue
                if event.get("type") == "snapshot":
                    # A later snapshot in the capture (the recording client resubscribed):
                    # the book it describes, sent as the updates that lead there.
                    event = {**event, "type": "update",
                             "updates": _changes(book, event["updates"])}
                book.apply(event["updates"], reset=False)
                publish_l2(event["product_id"], orjson.dumps([event]),
                           book.event_ms * 1_000_000)
            return
        by_product: dict[str, list[dict[str, Any]]] = {}
        for event in message.get("events", []):
            if event.get("type") != "update":
                continue  # the recorded client's subscription snapshot: history, not news
            for trade in event.get("trades", []):
                by_product.setdefault(trade.get("product_id", ""), []).append(trade)
        for product, trades in by_product.items():
            if product in self.books:
                publish_trades(product, orjson.dumps([{"type": "update", "trades": trades}]),
                               rfc3339_to_ms(trades[-1]["time"]) * 1_000_000)


    def _without_start_tickers(self, message: dict[str, Any], started: bool) -> dict[str, Any]:
        """``message`` less the tickers that make a product's start: every one recorded before
        the timeline starts (the latest wins), and a product's first one after that."""
        events = []
        for event in message.get("events", []):
            later = []
            for ticker in event.get("tickers", []):
                product = ticker.get("product_id", "")
                if started and product in self.tickers:
                    later.append(ticker)
                else:
                    self.tickers[product] = ticker
            events.append({**event, "tickers": later})
        return {**message, "events": events}

    def _deliver_tickers(self, message: dict[str, Any], receive_ns: int,
                         publish: PublishTicker | None) -> None:
        """Each recorded ticker as one product's ``update`` (the recorded client's
        subscription snapshot is, for the server's clients, just the latest ticker)."""
        for product, ticker in _tickers_of(message):
            if product not in self.books:
                continue
            self.tickers[product] = ticker
            if publish is not None:
                publish(product, orjson.dumps([{"type": "update", "tickers": [ticker]}]),
                        receive_ns)


def _tickers_of(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(product, ticker object)`` of every ticker in a recorded ``ticker`` frame."""
    if message.get("channel") != "ticker":
        return []
    return [(ticker.get("product_id", ""), ticker) for event in message.get("events", [])
            for ticker in event.get("tickers", [])]


def _changes(book: _ReplayedBook, levels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Updates turning ``book`` into the snapshot ``levels``: every level of it, plus a removal
    of each level the book has and the snapshot does not."""
    parse_p = book.instrument.prices.parse
    fmt_p = book.instrument.prices.format
    when = levels[0]["event_time"] if levels else ""
    kept = {(u["side"] == _BID, parse_p(u["price_level"])) for u in levels}
    removed = [{"side": "bid" if is_bid else "offer", "event_time": when,
                "price_level": fmt_p(price), "new_quantity": "0"}
               for is_bid, side in ((True, book.bids), (False, book.asks))
               for price in side if (is_bid, price) not in kept]
    return removed + levels


def captured_products(path: Path | str) -> list[str]:
    """The products a capture holds a level2 snapshot of, in capture order."""
    products: dict[str, None] = {}
    for frame in read_frames(path):
        if b'"snapshot"' not in frame.data:
            continue
        message = orjson.loads(frame.data)
        if message.get("channel") == "l2_data":
            for event in message.get("events", []):
                if event.get("type") == "snapshot":
                    products[event["product_id"]] = None
    if not products:
        raise ValueError(f"{path}: no level2 snapshot in the capture")
    return list(products)
