"""The local Coinbase server's ``ticker`` channel over real sockets: a snapshot on subscribing,
updates agreeing with the trades and the book the same connection received, one contiguous
``sequence_num`` across every channel, the capture's own tickers forwarded in a replay, and the
dislocation control."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import orjson
import pytest
import websockets

from data_ingestion.coinbase.recording import read_frames
from local_exchange.coinbase_replay import CoinbaseReplay
from local_exchange.coinbase_server import COINBASE_SPECS, CoinbaseServer
from tests.conftest import DATA

CAPTURE = DATA / "coinbase_advanced_trade" / "cryptofeed_COINBASE.jsonl.zst"
TICKER_KEYS = {"type", "product_id", "price", "volume_24_h", "low_24_h", "high_24_h",
               "low_52_w", "high_52_w", "price_percent_chg_24_h", "best_bid", "best_ask",
               "best_bid_quantity", "best_ask_quantity"}
Message = dict[str, Any]


async def _subscribe(ws: Any, channel: str, products: list[str]) -> None:
    await ws.send(orjson.dumps({"type": "subscribe", "channel": channel,
                                "product_ids": products}))


async def _receive(ws: Any, seconds: float) -> list[Message]:
    messages: list[Message] = []
    end = asyncio.get_running_loop().time() + seconds
    while (left := end - asyncio.get_running_loop().time()) > 0:
        try:
            messages.append(orjson.loads(await asyncio.wait_for(ws.recv(), left)))
        except TimeoutError:
            break
    return messages


def _apply_l2(book: dict[str, dict[Decimal, Decimal]], event: Message) -> None:
    if event["type"] == "snapshot":
        book["bid"].clear()
        book["offer"].clear()
    for update in event["updates"]:
        side = book[update["side"]]
        price, qty = Decimal(update["price_level"]), Decimal(update["new_quantity"])
        if qty:
            side[price] = qty
        else:
            side.pop(price, None)


async def test_ticker_snapshot_updates_agree_with_trades_book_and_sequence() -> None:
    product = "SOL-USD"  # the busiest simulated flow: many trades in a few seconds
    server = CoinbaseServer(products={product: COINBASE_SPECS[product]})
    server.pause()  # no trade before the connection is open: it sees them all
    await server.start()
    try:
        async with websockets.connect(server.url, max_size=None) as ws:
            for channel in ("level2", "market_trades", "ticker", "heartbeats"):
                await _subscribe(ws, channel, [product])
            server.resume()
            messages = await _receive(ws, 3.5)
    finally:
        await server.stop()
    assert [m["sequence_num"] for m in messages] == list(range(len(messages)))
    book: dict[str, dict[Decimal, Decimal]] = {"bid": {}, "offer": {}}
    prices: list[Decimal] = []
    sizes: list[Decimal] = []
    tickers: list[tuple[str, Message]] = []
    for message in messages:
        channel = message["channel"]
        for event in message["events"]:
            if channel == "l2_data":
                _apply_l2(book, event)
            elif channel == "market_trades":
                for trade in event["trades"]:
                    prices.append(Decimal(trade["price"]))
                    sizes.append(Decimal(trade["size"]))
            elif channel == "ticker":
                (ticker,) = event["tickers"]
                tickers.append((event["type"], ticker))
                # Sent after the tick's book and trades: it describes exactly what came before.
                assert Decimal(ticker["best_bid"]) == max(book["bid"])
                assert Decimal(ticker["best_ask"]) == min(book["offer"])
                assert Decimal(ticker["best_bid_quantity"]) == book["bid"][max(book["bid"])]
                if prices:
                    assert Decimal(ticker["price"]) == prices[-1]
                    assert Decimal(ticker["volume_24_h"]) == sum(sizes)
                    assert Decimal(ticker["high_24_h"]) == max(prices)
                    assert Decimal(ticker["low_24_h"]) == min(prices)
                    assert Decimal(ticker["high_52_w"]) == max(prices)
                    change = 100 * (prices[-1] - prices[0]) / prices[0]
                    assert abs(Decimal(ticker["price_percent_chg_24_h"]) - change) < Decimal(
                        "1e-12")
    assert tickers[0][0] == "snapshot" and {k for k, _ in tickers[1:]} == {"update"}
    assert set(tickers[0][1]) == TICKER_KEYS and tickers[0][1]["product_id"] == product
    assert len(prices) >= 5 and len(tickers) >= 5
    channels = {m["channel"] for m in messages}
    assert {"l2_data", "market_trades", "ticker", "heartbeats", "subscriptions"} <= channels


async def test_start_prices_are_the_shared_anchors() -> None:
    assert {p: s.start_price for p, s in COINBASE_SPECS.items()} == {
        "BTC-USD": "61800.20", "ETH-USD": "2680.00", "SOL-USD": "155.00",
        "XRP-USD": "0.5600", "DOGE-USD": "0.10100"}


def _captured_tickers() -> tuple[dict[str, list[Message]], dict[str, Message]]:
    """Every captured ticker per product, and each product's last one before the first level2
    snapshot (where the replayed timeline starts)."""
    by_product: dict[str, list[Message]] = {}
    at_start: dict[str, Message] | None = None
    for frame in read_frames(CAPTURE):
        message = orjson.loads(frame.data)
        if at_start is None and message.get("channel") == "l2_data":
            at_start = {p: tickers[-1] for p, tickers in by_product.items()}
        if message.get("channel") == "ticker":
            for event in message["events"]:
                for ticker in event["tickers"]:
                    by_product.setdefault(ticker["product_id"], []).append(ticker)
    assert at_start is not None
    return by_product, at_start


async def test_replay_forwards_the_captured_tickers_per_product() -> None:
    recorded, at_start = _captured_tickers()
    assert sum(len(v) for v in recorded.values()) == 160
    server = CoinbaseServer(replay=CoinbaseReplay(CAPTURE, speed=25.0))
    await server.start()
    try:
        async with websockets.connect(server.url, max_size=None) as ws:
            await _subscribe(ws, "ticker", ["BTC-USD", "ETH-USD"])
            await _subscribe(ws, "level2", ["BTC-USD"])  # starts the replay
            messages: list[Message] = []
            finished = asyncio.create_task(server.wait_finished())
            while True:  # until the capture is sent and the socket has gone quiet
                batch = await _receive(ws, 0.5)
                messages += batch
                if finished.done() and not batch:
                    break
            with pytest.raises(ValueError):
                server.dislocate("BTC-USD", 10, 1)
    finally:
        await server.stop()
    assert [m["sequence_num"] for m in messages] == list(range(len(messages)))
    snapshots: dict[str, list[Message]] = {}
    updates: dict[str, list[Message]] = {}
    for message in messages:
        if message["channel"] != "ticker":
            continue
        for event in message["events"]:
            (ticker,) = event["tickers"]  # split per product
            target = snapshots if event["type"] == "snapshot" else updates
            target.setdefault(ticker["product_id"], []).append(ticker)
    for product, tickers in recorded.items():
        assert snapshots[product] == [at_start[product]]  # as recorded
        later = tickers[tickers.index(at_start[product]) + 1:]
        assert len(later) >= 50 and updates[product] == later  # in order, unchanged


async def test_dislocation_moves_the_published_mid_and_back() -> None:
    product = "ETH-USD"
    server = CoinbaseServer(products={product: COINBASE_SPECS[product]})
    await server.start()
    try:
        with pytest.raises(ValueError):
            server.dislocate("BNB-USD", 10, 1)
        server.pause()
        await asyncio.sleep(0.3)

        def mid() -> float:
            book = server.book(product)
            return (book.bids[0][0] + book.asks[0][0]) / 2

        before = mid()
        server.dislocate(product, -30.0, 1.0)
        await asyncio.sleep(0.4)
        during = mid()
        await asyncio.sleep(1.0)
        after = mid()
    finally:
        await server.stop()
    assert (during - before) / before * 1e4 == pytest.approx(-30.0, abs=0.2)
    assert abs(after - before) / before * 1e4 < 0.2
