"""Market statistics delivered by the real feeds over real sockets (127.0.0.1), while the books
stay exact; and the store the runtime keeps them in.

* Binance USDT-M and Spot against the local exchange (its ``@markPrice@1s`` and ``@ticker``
  streams): ``on_stats`` receives them, streams follow symbols added and removed at runtime, and
  a malformed ticker published on the exchange's own stream is skipped without touching a book.
* Coinbase against the local Coinbase server, and the real capture served verbatim by a tiny
  server (one ticker frame sent twice): every ticker reaches ``on_stats`` once, in order, with no
  false sequence gap.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

from data_ingestion.backoff import Backoff
from data_ingestion.binance.feed import BinanceFuturesFeed, load_instruments
from marketdata.clock import SystemClock
from data_ingestion.coinbase.feed import CoinbaseFeed
from data_ingestion.coinbase.recording import read_frames
from data_ingestion.engine import SymbolEngine
from local_exchange import LocalExchange
from local_exchange.coinbase_server import COINBASE_SPECS, CoinbaseServer, CoinbaseServerSettings
from marketdata.events import MarketStats, MarkPrice, Ticker24h
from marketdata.markets import BINANCE_SPOT
from state.market_stats import MarketStatsStore
from tests.client_harness import RunningClient, assert_book_equals_exchange, start_client, until
from tests.replay_support import coinbase_capture_books

CAPTURE = (Path(__file__).resolve().parents[2]
           / "shared/data/coinbase_advanced_trade/cryptofeed_COINBASE.jsonl.zst")


def kinds(received: list[MarketStats], symbol: str) -> set[str]:
    return {type(e).__name__ for e in received if e.symbol == symbol}


# ---- Binance USDT-M ---------------------------------------------------------------------------

@pytest.fixture()
async def usdm() -> AsyncIterator[tuple[LocalExchange, RunningClient]]:
    exchange = LocalExchange(["BTCUSDT", "ETHUSDT"], seed=5)
    await exchange.start()
    client = await start_client(exchange.rest_url, exchange.ws_url, ["BTCUSDT"])
    try:
        yield exchange, client
    finally:
        await client.stop()
        await exchange.stop()


async def test_usdm_feed_delivers_mark_price_and_ticker_and_the_book_stays_exact(
        usdm: tuple[LocalExchange, RunningClient]) -> None:
    exchange, client = usdm
    feed = client.feed
    assert isinstance(feed, BinanceFuturesFeed)
    assert feed.trades.streams == ["btcusdt@aggTrade", "btcusdt@markPrice@1s", "btcusdt@ticker"]
    received: list[MarketStats] = []
    feed.on_stats = received.append
    await until(lambda: kinds(received, "BTCUSDT") == {"MarkPrice", "Ticker24h"}, 10,
                "a mark price and a ticker")
    mark = next(e for e in received if type(e) is MarkPrice)
    assert mark.mark_price > 0 and mark.index_price > 0 and mark.next_funding_ms > 0
    assert mark.exchange_ts_ms > 0 and mark.receive_ts_ns > 0
    # A malformed ticker on the venue's own stream: skipped, counted, no book disturbed.
    resyncs = client.engines["BTCUSDT"].sync.stats.resyncs
    bad = {"e": "24hrTicker", "E": 1, "s": "BTCUSDT", "c": "nan", "o": "1", "h": "1", "l": "1",
           "P": "0", "v": "0", "q": "0"}
    assert exchange.server.publish(("btcusdt@ticker",), bad) == 1
    await until(lambda: feed.malformed_stats == 1, 10, "the bad ticker to be seen")
    count = len(received)
    await until(lambda: len(received) > count, 10, "statistics after the bad one")
    assert feed.malformed_frames == 0
    assert client.engines["BTCUSDT"].sync.stats.resyncs == resyncs
    assert all(e.symbol == "BTCUSDT" for e in received)
    await assert_book_equals_exchange(exchange, client, "BTCUSDT")


async def test_usdm_statistics_follow_symbols_added_and_removed(
        usdm: tuple[LocalExchange, RunningClient]) -> None:
    exchange, client = usdm
    feed = client.feed
    received: list[MarketStats] = []
    feed.on_stats = received.append
    clock = SystemClock()
    instruments = await load_instruments(client.rest, ["ETHUSDT"])
    engine = SymbolEngine(instruments["ETHUSDT"], feed.fetch_snapshot, clock)
    client.engines["ETHUSDT"] = engine
    client.tasks.append(asyncio.create_task(engine.run()))
    await feed.add_symbol(engine)
    await until(lambda: kinds(received, "ETHUSDT") == {"MarkPrice", "Ticker24h"}, 15,
                "ETHUSDT statistics")
    await until(lambda: client.live("ETHUSDT"), 30, "ETHUSDT live")
    await assert_book_equals_exchange(exchange, client, "ETHUSDT")

    await feed.remove_symbol("ETHUSDT")
    assert not [s for s in feed.trades.streams if s.startswith("ethusdt")]
    await asyncio.sleep(0.3)  # frames already in flight may still land: they are dropped
    count = sum(e.symbol == "ETHUSDT" for e in received)
    btc = sum(e.symbol == "BTCUSDT" for e in received)
    await until(lambda: sum(e.symbol == "BTCUSDT" for e in received) >= btc + 2, 10,
                "BTCUSDT statistics to go on")
    assert sum(e.symbol == "ETHUSDT" for e in received) == count


# ---- Binance Spot -----------------------------------------------------------------------------

async def test_spot_feed_delivers_tickers_and_the_book_stays_exact() -> None:
    exchange = LocalExchange(["BTCUSDT"], seed=7, dialect=BINANCE_SPOT)
    await exchange.start()
    client = await start_client(exchange.rest_url, exchange.ws_url, ["BTCUSDT"],
                                venue=BINANCE_SPOT)
    try:
        received: list[MarketStats] = []
        client.feed.on_stats = received.append
        assert "btcusdt@ticker" in client.feed.streams.streams  # type: ignore[union-attr]
        await until(lambda: len(received) >= 2, 10, "two tickers")
        assert {type(e) for e in received} == {Ticker24h}  # no mark price on spot
        ticker = received[-1]
        assert isinstance(ticker, Ticker24h)
        assert ticker.symbol == "BTCUSDT" and ticker.quote_volume is not None
        assert ticker.low_price <= ticker.last_price <= ticker.high_price
        assert received[-1].exchange_ts_ms > received[0].exchange_ts_ms
        assert client.feed.malformed_frames == 0 and client.feed.malformed_stats == 0
        await assert_book_equals_exchange(exchange, client, "BTCUSDT")
    finally:
        await client.stop()
        await exchange.stop()


# ---- Coinbase ---------------------------------------------------------------------------------

async def test_coinbase_feed_delivers_tickers_from_the_local_server_books_exact() -> None:
    server = CoinbaseServer(settings=CoinbaseServerSettings(tick_s=0.05, heartbeat_s=0.2))
    await server.start()
    instruments = {"BTC-USD": COINBASE_SPECS["BTC-USD"].instrument}
    feed = CoinbaseFeed(server.url, instruments, SystemClock(),
                        backoff=Backoff(base=0.05, cap=0.5), silence_timeout_s=3.0)
    received: list[MarketStats] = []
    feed.on_stats = received.append
    task = asyncio.create_task(feed.run())
    try:
        await until(lambda: feed.connected and feed.sync.is_live("BTC-USD"), 10, "BTC-USD live")
        await until(lambda: kinds(received, "BTC-USD") == {"Ticker24h"}, 10, "a BTC-USD ticker")
        feed.add_product(COINBASE_SPECS["ETH-USD"].instrument)
        await until(lambda: kinds(received, "ETH-USD") == {"Ticker24h"}, 10, "an ETH-USD ticker")
        feed.remove_product("ETH-USD")
        await asyncio.sleep(0.3)
        eth = sum(e.symbol == "ETH-USD" for e in received)
        btc = sum(e.symbol == "BTC-USD" for e in received)
        await until(lambda: sum(e.symbol == "BTC-USD" for e in received) >= btc + 3, 10,
                    "more BTC-USD tickers")
        assert sum(e.symbol == "ETH-USD" for e in received) == eth
        assert all(e.quote_volume is None for e in received if isinstance(e, Ticker24h))
        # The books: exact when the flow is paused and the feed has read everything sent.
        server.pause()
        try:
            sent = server.last_sequence()
            assert sent is not None
            await until(lambda: feed.sync.last_sequence is not None
                        and feed.sync.last_sequence >= sent, 10, f"the feed to read #{sent}")
            published, book = server.book("BTC-USD"), feed.sync.books["BTC-USD"]
            assert book.top_bids(len(published.bids)) == published.bids
            assert book.top_asks(len(published.asks)) == published.asks
        finally:
            server.resume()
        stats = feed.sync.stats
        assert (stats.gaps, stats.duplicates, stats.rebuilds) == (0, 0, 0)
        assert feed.parse_errors == 0 and feed.malformed_stats == 0 and feed.error_replies == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()


async def test_the_capture_over_a_socket_delivers_each_ticker_once_with_no_false_gap() -> None:
    """The real frames served verbatim, one ticker frame sent twice: the duplicate's stale
    statistics are not passed on, and ticker frames between level2 ones never look like a gap."""
    frames = list(read_frames(CAPTURE))
    docs = [orjson.loads(f.data) for f in frames]
    first_ticker = next(i for i, d in enumerate(docs) if d.get("channel") == "ticker")
    served = frames[:first_ticker + 1] + frames[first_ticker:]
    subscriptions: list[dict[str, Any]] = []

    async def replay(ws: ServerConnection) -> None:
        for _ in range(4):  # heartbeats, level2, market_trades, ticker: one message each
            subscriptions.append(orjson.loads(await ws.recv()))
        for frame in served:
            await ws.send(frame.data.decode())
        await ws.wait_closed()

    products = ["BTC-USD", "ETH-USD"]
    instruments, offline_books = coinbase_capture_books(CAPTURE, products)

    async with serve(replay, "127.0.0.1", 0, max_size=2**16) as server:
        port = server.sockets[0].getsockname()[1]
        feed = CoinbaseFeed(f"ws://127.0.0.1:{port}", instruments, SystemClock(),
                            backoff=Backoff(base=0.05, cap=0.5))
        received: list[MarketStats] = []
        feed.on_stats = received.append
        task = asyncio.create_task(feed.run())
        try:
            await until(lambda: feed.sync.last_sequence == 1029, 20, "the whole capture")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert [(s["type"], s["channel"]) for s in subscriptions] == [
        ("subscribe", "heartbeats"), ("subscribe", "level2"), ("subscribe", "market_trades"),
        ("subscribe", "ticker")]
    assert subscriptions[3]["product_ids"] == products
    raw = [(t["product_id"], float(t["price"]), float(t["volume_24_h"]))
           for d in docs if d.get("channel") == "ticker"
           for e in d["events"] for t in e["tickers"]]
    assert len(raw) == 160
    assert [(e.symbol, e.last_price, e.volume) for e in received
            if isinstance(e, Ticker24h)] == raw
    stats = feed.sync.stats
    assert (stats.gaps, stats.duplicates, stats.rebuilds) == (0, 1, 0)
    assert feed.parse_errors == 0 and feed.malformed_stats == 0
    for product in products:
        assert feed.sync.books[product].top_bids(10**6) == offline_books[product].top_bids(10**6)
        assert feed.sync.books[product].top_asks(10**6) == offline_books[product].top_asks(10**6)


# ---- the store --------------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now_ns = 10_000_000_000

    def time_ns(self) -> int:
        return self.now_ns

    def monotonic(self) -> float:
        return self.now_ns / 1e9


def test_store_keeps_the_latest_of_each_kind_per_market_as_json() -> None:
    clock = FakeClock()
    store = MarketStatsStore(clock)
    mark = MarkPrice("BTCUSDT", 61800.5, 61790.25, 0.0001, 1_700_000_400_000, 1_700_000_000_000,
                     9_000_000_000)
    usdm_ticker = Ticker24h("BTCUSDT", 61801.0, 60000.0, 62000.0, 59000.0, 3.0017, 1234.5,
                            7.6e7, 1_700_000_000_500, 9_500_000_000)
    coinbase = Ticker24h("BTC-USD", 65086.18, 65023.75, 65252.99, 64675.22, 0.096, 2867.5, None,
                         1_786_309_548_229, 9_750_000_000)
    assert store.to_dict("BTCUSDT") is None and store.all() == {}
    store.update("BTCUSDT", mark)
    store.update("BTCUSDT", usdm_ticker)
    store.update("coinbase:BTC-USD", coinbase)
    newer = Ticker24h("BTCUSDT", 61802.0, 60000.0, 62000.0, 59000.0, 3.0033, 1235.0, 7.61e7,
                      1_700_000_001_500, 9_900_000_000)
    store.update("BTCUSDT", newer)
    assert store.mark("BTCUSDT") == mark and store.ticker("BTCUSDT") == newer
    assert store.mark("coinbase:BTC-USD") is None
    view = store.to_dict("BTCUSDT")
    assert view == {
        "market": "BTCUSDT",
        "mark": {"mark_price": 61800.5, "index_price": 61790.25, "funding_rate": 0.0001,
                 "next_funding_ms": 1_700_000_400_000, "exchange_ts_ms": 1_700_000_000_000,
                 "receive_age_s": 1.0},
        "ticker": {"last_price": 61802.0, "open_price": 60000.0, "high_price": 62000.0,
                   "low_price": 59000.0, "change_pct": 3.0033, "volume": 1235.0,
                   "quote_volume": 7.61e7, "exchange_ts_ms": 1_700_000_001_500,
                   "receive_age_s": pytest.approx(0.1)}}
    everything = store.all()
    assert list(everything) == ["BTCUSDT", "coinbase:BTC-USD"]
    assert everything["coinbase:BTC-USD"]["mark"] is None
    assert everything["coinbase:BTC-USD"]["ticker"]["quote_volume"] is None  # type: ignore[index]
    assert orjson.loads(orjson.dumps(everything)) == everything  # JSON-ready as it is
    clock.now_ns += 5_000_000_000
    assert store.to_dict("BTCUSDT")["mark"]["receive_age_s"] == 6.0  # type: ignore[index]
    store.forget("BTCUSDT")
    assert store.to_dict("BTCUSDT") is None and list(store.all()) == ["coinbase:BTC-USD"]


def test_store_says_when_the_venue_sent_no_time_and_rejects_other_events() -> None:
    store = MarketStatsStore(FakeClock())
    delivery = MarkPrice("BTCUSDT_260925", 61000.0, 60900.0, 0.0, 0, 0, 10_000_000_000)
    store.update("BTCUSDT_260925", delivery)
    mark = store.to_dict("BTCUSDT_260925")["mark"]  # type: ignore[index]
    assert mark["next_funding_ms"] is None and mark["exchange_ts_ms"] is None
    assert mark["receive_age_s"] == 0.0
    with pytest.raises(TypeError):
        store.update("BTCUSDT", "not an event")  # type: ignore[arg-type]
