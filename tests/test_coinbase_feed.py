"""CoinbaseFeed against real local sockets: the local Coinbase server (its own order-level
books, with injected faults) and a replay of the real capture, 5 MB snapshot included.

Whenever the server's flow is paused and the feed has read everything sent so far, the feed's
books must equal the server's published books level for level: after a lost update (a
sequence gap, healed by re-subscribing), a duplicated update, and a dropped connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from data_ingestion.backoff import Backoff
from marketdata.clock import SystemClock
from data_ingestion.coinbase.feed import CoinbaseFeed
from data_ingestion.coinbase.recording import read_frames
from local_exchange.coinbase_server import COINBASE_SPECS, CoinbaseServer, CoinbaseServerSettings
from tests.replay_support import coinbase_capture_books

CAPTURE = (Path(__file__).resolve().parents[2]
           / "shared/data/coinbase_advanced_trade/cryptofeed_COINBASE.jsonl.zst")
PRODUCTS = ["BTC-USD", "ETH-USD"]
TIMEOUT_S = 10.0


async def until(condition: Callable[[], bool], what: str, timeout_s: float = TIMEOUT_S) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def all_live(feed: CoinbaseFeed) -> bool:
    return feed.connected and all(feed.sync.is_live(p) for p in PRODUCTS)


@pytest.fixture
async def running() -> AsyncIterator[tuple[CoinbaseServer, CoinbaseFeed]]:
    server = CoinbaseServer(settings=CoinbaseServerSettings(tick_s=0.05, heartbeat_s=0.2))
    await server.start()
    instruments = {p: COINBASE_SPECS[p].instrument for p in PRODUCTS}
    feed = CoinbaseFeed(server.url, instruments, SystemClock(),
                        backoff=Backoff(base=0.05, cap=0.5), silence_timeout_s=3.0)
    task = asyncio.create_task(feed.run())
    try:
        await until(lambda: all_live(feed), "both books live")
        yield server, feed
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()


async def assert_books_match_when_paused(server: CoinbaseServer, feed: CoinbaseFeed) -> None:
    server.pause()
    try:
        sent = server.last_sequence()
        assert sent is not None
        await until(lambda: all_live(feed) and feed.sync.last_sequence is not None
                    and feed.sync.last_sequence >= sent, f"the feed to read up to #{sent}")
        for product in PRODUCTS:
            published = server.book(product)
            book = feed.sync.books[product]
            assert book.depth() == (len(published.bids), len(published.asks))
            assert book.top_bids(len(published.bids)) == published.bids
            assert book.top_asks(len(published.asks)) == published.asks
    finally:
        server.resume()


async def test_feed_books_equal_the_server_books(
        running: tuple[CoinbaseServer, CoinbaseFeed]) -> None:
    server, feed = running
    await until(lambda: feed.sync.stats.applied >= 20, "updates to flow")
    await assert_books_match_when_paused(server, feed)
    stats = feed.sync.stats
    assert (stats.gaps, stats.duplicates, stats.rebuilds, stats.integrity_errors) == (0, 0, 0, 0)
    assert feed.parse_errors == 0


async def test_a_lost_update_is_a_gap_healed_by_resubscribing(
        running: tuple[CoinbaseServer, CoinbaseFeed]) -> None:
    server, feed = running
    loaded = feed.sync.stats.snapshots_loaded
    assert server.drop_next_update() == 1
    await until(lambda: feed.sync.stats.gaps == 1, "the gap to be seen")
    await until(lambda: all_live(feed) and feed.sync.stats.snapshots_loaded >= loaded + 2,
                "fresh snapshots for both products")
    assert feed.resubscribes == 1 and feed.connects == 1
    await assert_books_match_when_paused(server, feed)


async def test_a_duplicated_update_is_ignored(
        running: tuple[CoinbaseServer, CoinbaseFeed]) -> None:
    server, feed = running
    server.duplicate_next_update()
    await until(lambda: feed.sync.stats.duplicates == 1, "the duplicate to be seen")
    await until(lambda: feed.sync.stats.applied >= 10, "more updates")
    assert feed.sync.stats.gaps == 0 and feed.resubscribes == 0
    await assert_books_match_when_paused(server, feed)


async def test_a_dropped_connection_reconnects_and_rebuilds(
        running: tuple[CoinbaseServer, CoinbaseFeed]) -> None:
    server, feed = running
    assert server.disconnect_all() == 1
    await until(lambda: feed.connects == 2 and all_live(feed), "a new connection, live again")
    assert feed.sync.stats.reconnects == 1 and feed.sync.stats.snapshots_loaded >= 4
    await assert_books_match_when_paused(server, feed)


async def test_a_malformed_frame_is_skipped_and_the_books_stay_exact(
        running: tuple[CoinbaseServer, CoinbaseFeed]) -> None:
    server, feed = running
    assert server.malformed_frame() == 1
    await until(lambda: feed.parse_errors == 1, "the bad frame to be seen")
    await until(lambda: feed.sync.stats.applied >= 10, "more updates")
    assert feed.sync.stats.gaps == 0 and feed.connects == 1  # outside the sequence: no gap
    await assert_books_match_when_paused(server, feed)


async def test_a_silent_socket_is_dropped_and_the_books_rebuilt(
        running: tuple[CoinbaseServer, CoinbaseFeed]) -> None:
    server, feed = running
    assert server.silence(4.0) == 1  # the feed gives up after 3 s without a message
    await until(lambda: feed.silences == 1, "the silence to be noticed", 10)
    await until(lambda: feed.connects == 2 and all_live(feed), "a new connection, live again",
                15)
    await assert_books_match_when_paused(server, feed)


async def test_the_capture_replayed_over_a_socket_builds_the_same_books() -> None:
    """The real frames, 5 MB BTC-USD snapshot included, served verbatim after the feed's
    subscriptions: the feed must accept the big frame and end with the books an offline replay
    of the same frames builds."""
    frames = list(read_frames(CAPTURE))
    assert max(len(f.data) for f in frames) > 4 * 2**20  # the BTC-USD snapshot
    subscribed = asyncio.Event()

    async def replay(ws: ServerConnection) -> None:
        for _ in range(3):  # heartbeats, level2, market_trades: one message each
            assert orjson.loads(await ws.recv())["type"] == "subscribe"
        subscribed.set()
        for frame in frames:
            await ws.send(frame.data.decode())
        await ws.wait_closed()

    instruments, offline_books = coinbase_capture_books(CAPTURE, PRODUCTS)

    async with serve(replay, "127.0.0.1", 0, max_size=2**16) as server:
        port = server.sockets[0].getsockname()[1]
        feed = CoinbaseFeed(f"ws://127.0.0.1:{port}", instruments, SystemClock(),
                            backoff=Backoff(base=0.05, cap=0.5))
        task = asyncio.create_task(feed.run())
        try:
            await until(lambda: feed.sync.last_sequence == 1029, "the whole capture")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert subscribed.is_set() and feed.connects == 1 and feed.parse_errors == 0
    stats = feed.sync.stats
    assert (stats.gaps, stats.duplicates, stats.integrity_errors, stats.snapshots_loaded) == (
        0, 0, 0, 2)
    for product in PRODUCTS:
        assert feed.sync.books[product].top_bids(10**6) == offline_books[product].top_bids(10**6)
        assert feed.sync.books[product].top_asks(10**6) == offline_books[product].top_asks(10**6)


async def test_server_protocol_one_counter_unsubscribe_errors_and_subscribe_deadline() -> None:
    server = CoinbaseServer(settings=CoinbaseServerSettings(tick_s=0.02, heartbeat_s=0.05,
                                                            subscribe_timeout_s=0.3))
    await server.start()
    try:
        async with connect(server.url, max_size=2**22) as ws:
            for channel in ("heartbeats", "level2", "market_trades"):
                await ws.send(orjson.dumps({"type": "subscribe", "product_ids": ["BTC-USD"],
                                            "channel": channel}).decode())
            await ws.send(orjson.dumps({"type": "subscribe", "product_ids": ["BTC-USD"],
                                        "channel": "candles"}).decode())
            messages = [orjson.loads(await ws.recv()) for _ in range(60)]
            await ws.send(orjson.dumps({"type": "unsubscribe", "product_ids": ["BTC-USD"],
                                        "channel": "level2"}).decode())
            in_flight = []  # sent before the server read the unsubscribe
            while (message := orjson.loads(await ws.recv())).get("channel") != "subscriptions":
                in_flight.append(message)
            after = [message] + [orjson.loads(await ws.recv()) for _ in range(40)]
        numbered = [m for m in messages + in_flight + after if "sequence_num" in m]
        assert [m["sequence_num"] for m in numbered] == list(range(len(numbered)))
        assert {m.get("channel") for m in messages} >= {"subscriptions", "l2_data", "heartbeats",
                                                    "market_trades"}
        assert [m["events"][0]["type"] for m in messages if m.get("channel") == "l2_data"][0] \
            == "snapshot"
        assert any(m.get("type") == "error" for m in messages)  # candles is not served
        assert after[0]["events"][0]["subscriptions"] == {"market_trades": ["BTC-USD"],
                                                          "heartbeats": []}
        assert not any(m.get("channel") == "l2_data" for m in after)

        async with connect(server.url) as silent:  # never subscribes: closed by the server
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(silent.recv(), 2.0)
    finally:
        await server.stop()