"""Real Binance client libraries against the local exchange, with nothing changed but URLs.

ccxt's ``binanceusdm`` (async; ``ccxt.pro`` for ``watch_*``) and binance-futures-connector, both
pinned in the ``test`` extra, talk to a ``LocalExchange`` on 127.0.0.1. Every answer is checked
against the exchange itself: books equal its published book at the same update id, trades and
candles equal its own fills. Offline and loopback only.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any, Self

import ccxt.pro as ccxtpro
import orjson
import pytest
from binance.um_futures import UMFutures
from binance.websocket.um_futures.websocket_client import UMFuturesWebsocketClient
from ccxt.base.errors import ChecksumError
from websockets.asyncio.client import connect

from local_exchange import ExchangeThread, LocalExchange
from local_exchange.matching import Level

SYMBOL, MARKET = "BTCUSDT", "BTC/USDT:USDT"
BINANCE_FAPI = "https://fapi.binance.com"
FloatLevels = list[list[float]]


# ------------------------------------------------------------------ helpers
@asynccontextmanager
async def ccxt_client(ex: LocalExchange) -> AsyncIterator[Any]:
    """ccxt binanceusdm with only its URLs pointed here: every fapi REST base and the
    linear WebSocket base (ccxt adds ``/public`` or ``/market`` itself)."""
    client = ccxtpro.binanceusdm()
    api = client.urls["api"]
    for key, url in list(api.items()):
        if isinstance(url, str) and url.startswith(BINANCE_FAPI):
            api[key] = ex.rest_url + url.removeprefix(BINANCE_FAPI)
    api["ws"]["linear"] = f"{ex.ws_url}/ws"
    try:
        yield client
    finally:
        await client.close()


def as_floats(ex: LocalExchange | ExchangeThread, levels: list[Level], n: int) -> FloatLevels:
    """The exchange's integer levels as a client parses them (its wire strings, as floats)."""
    return [[float(p), float(q)] for p, q in (_strings(ex, level) for level in levels[:n])]


def _strings(ex: LocalExchange | ExchangeThread, level: Level) -> tuple[str, str]:
    """A level as the exchange writes it on the wire."""
    instrument = ex.spec(SYMBOL).instrument
    return instrument.prices.format(level[0]), instrument.quantities.format(level[1])


async def freeze(ex: LocalExchange) -> int:
    """Stop the flow; once the last changes are published, REST and streams agree."""
    ex.pause()
    await asyncio.sleep(0.35)  # > 3 publish intervals: the pending diff has gone out
    return ex.published_book(SYMBOL)[0]


class BookHistory:
    """The exchange's published book at every update id, recorded as the flow goes."""

    def __init__(self, ex: LocalExchange) -> None:
        self.ex = ex
        self.books: dict[int, tuple[FloatLevels, FloatLevels]] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    async def _poll(self) -> None:
        while True:  # far faster than the 100 ms publishing: no published state is missed
            uid, bids, asks = self.ex.published_book(SYMBOL)
            if uid not in self.books:
                self.books[uid] = (as_floats(self.ex, bids, 50), as_floats(self.ex, asks, 50))
            await asyncio.sleep(0.01)


@pytest.fixture
async def exchange() -> AsyncIterator[LocalExchange]:
    async with LocalExchange([SYMBOL], seed=5) as ex:
        await asyncio.sleep(1.5)  # some trades and book changes to ask about
        yield ex


# ---------------------------------------------------------------------- ccxt REST
async def test_ccxt_load_markets_reads_exchange_info(exchange: LocalExchange) -> None:
    async with ccxt_client(exchange) as client:
        markets = await client.load_markets()
    market = markets[MARKET]
    spec = exchange.spec(SYMBOL)
    assert (market["id"], market["type"], market["linear"], market["active"]) == \
        (SYMBOL, "swap", True, True)
    assert market["precision"]["price"] == float(spec.tick_size)
    assert market["precision"]["amount"] == float(spec.step_size)
    assert market["limits"]["amount"]["min"] == float(spec.step_size)


async def test_ccxt_fetch_order_book_equals_published_book(exchange: LocalExchange) -> None:
    async with ccxt_client(exchange) as client:
        uid = await freeze(exchange)
        book = await client.fetch_order_book(MARKET, 100)
    _, bids, asks = exchange.published_book(SYMBOL)
    assert book["nonce"] == uid
    assert book["bids"] == as_floats(exchange, bids, 100)
    assert book["asks"] == as_floats(exchange, asks, 100)


async def agg_trades_streamed(ex: LocalExchange, seconds: float) -> list[dict[str, Any]]:
    """The raw ``@aggTrade`` stream for ``seconds``: the exchange's own fills."""
    out: list[dict[str, Any]] = []
    async with connect(f"{ex.ws_url}/market/ws/{SYMBOL.lower()}@aggTrade") as ws:
        try:
            async with asyncio.timeout(seconds):
                async for raw in ws:
                    out.append(orjson.loads(raw))
        except TimeoutError:
            pass
    return out


async def test_ccxt_fetch_trades_are_the_streamed_fills(exchange: LocalExchange) -> None:
    streamed = await agg_trades_streamed(exchange, 2.0)
    await freeze(exchange)
    assert len(streamed) >= 3
    async with ccxt_client(exchange) as client:
        trades = await client.fetch_trades(MARKET, limit=1000)
    by_id = {int(t["id"]): t for t in trades}
    for fill in streamed:
        trade = by_id[fill["a"]]
        assert (trade["price"], trade["amount"], trade["timestamp"]) == \
            (float(fill["p"]), float(fill["q"]), fill["T"])
        assert trade["side"] == ("sell" if fill["m"] else "buy")
    ids = [int(t["id"]) for t in trades]
    assert ids == sorted(ids)


async def test_ccxt_fetch_ohlcv_and_ticker_agree_with_the_trades(
        exchange: LocalExchange) -> None:
    await freeze(exchange)
    async with ccxt_client(exchange) as client:
        trades = await client.fetch_trades(MARKET, limit=1000)
        candles = await client.fetch_ohlcv(MARKET, "1m")
        ticker = await client.fetch_ticker(MARKET)
    assert trades and candles
    opened = trades[-1]["timestamp"] // 60_000 * 60_000  # the last trade's minute
    at = [c[0] for c in candles].index(opened)
    _, _, high, low, close, volume = candles[at]
    in_minute = [t for t in trades if t["timestamp"] >= opened]
    prices = [t["price"] for t in in_minute]
    assert (high, low, close) == (max(prices), min(prices), prices[-1])
    assert volume == pytest.approx(sum(t["amount"] for t in in_minute), abs=1e-9)
    # The flow is paused: a minute that began since has no trades and stays at the last price.
    for later in candles[at + 1:]:
        assert later[1:] == [close, close, close, close, 0.0]
    assert ticker["last"] == trades[-1]["price"]
    assert ticker["low"] <= ticker["last"] <= ticker["high"]
    assert ticker["high"] >= max(t["price"] for t in trades)


async def test_ccxt_fetch_funding_rate_marks_inside_the_book(exchange: LocalExchange) -> None:
    async with ccxt_client(exchange) as client:
        funding = await client.fetch_funding_rate(MARKET)
    _, bids, asks = exchange.published_book(SYMBOL)
    bid, ask = as_floats(exchange, bids, 1)[0][0], as_floats(exchange, asks, 1)[0][0]
    assert funding["symbol"] == MARKET
    assert bid * 0.99 < funding["markPrice"] < ask * 1.01
    assert isinstance(funding["fundingRate"], float)
    assert funding["fundingTimestamp"] % (8 * 3600 * 1000) == 0  # ccxt: nextFundingTime
    assert bid * 0.99 < funding["indexPrice"] < ask * 1.01


# ---------------------------------------------------------------- ccxt streams
# A minute of live flow. ccxt watches ``@depth`` (250 ms): about 4 books a second, the gap
# injected half way.
BOOK_SECONDS = 60.0


async def test_ccxt_watch_order_book_equals_published_book_through_a_gap(
        exchange: LocalExchange) -> None:
    compared = {False: 0, True: 0}  # books checked before / after the gap
    gaps = 0
    async with ccxt_client(exchange) as client, BookHistory(exchange) as history:
        await client.load_markets()
        loop = asyncio.get_running_loop()
        started = loop.time()
        dropped = False
        while loop.time() - started < BOOK_SECONDS:
            if not dropped and loop.time() - started > BOOK_SECONDS / 2:
                exchange.drop_diff(SYMBOL)  # one diff lost on the way: pu breaks
                dropped = True
            try:
                book = await asyncio.wait_for(client.watch_order_book(MARKET), 10)
            except ChecksumError:  # ccxt's word for a sequence gap; a bot watches again
                gaps += 1
                continue
            published = history.books.get(book["nonce"])
            if published is not None:
                assert (book["bids"][:50], book["asks"][:50]) == published, book["nonce"]
                compared[gaps > 0] += 1
    assert gaps == 1
    # Most books were checked, on both sides of the gap (the resync fetched a new snapshot).
    assert compared[False] >= BOOK_SECONDS and compared[True] >= BOOK_SECONDS / 2, compared


async def test_ccxt_watch_trades_default_parameters(exchange: LocalExchange) -> None:
    async with ccxt_client(exchange) as client:
        await client.load_markets()
        trades = await asyncio.wait_for(client.watch_trades(MARKET), 10)
        await freeze(exchange)
        rest = await client.fapiPublicGetTrades({"symbol": SYMBOL, "limit": 1000})
    by_id = {int(t["id"]): t for t in rest}
    assert trades
    for trade in trades:
        fill = by_id[int(trade["id"])]  # the same fill the REST history holds
        assert (trade["price"], trade["amount"]) == (float(fill["price"]), float(fill["qty"]))
        assert trade["timestamp"] == int(fill["time"])


# ------------------------------------------------------ binance-futures-connector
@pytest.fixture(scope="module")
def threaded() -> Iterator[ExchangeThread]:
    with LocalExchange([SYMBOL], seed=9).run_in_thread() as ex:
        time.sleep(1.5)
        yield ex


def test_connector_rest_depth_klines_and_tickers(threaded: ExchangeThread) -> None:
    client = UMFutures(base_url=threaded.rest_url, timeout=5)
    threaded.pause()
    try:
        time.sleep(0.35)
        uid, bids, _ = threaded.published_book(SYMBOL)
        depth = client.depth(SYMBOL, limit=10)
        assert depth["lastUpdateId"] == uid
        assert depth["bids"][0] == list(_strings(threaded, bids[0]))
        book = client.book_ticker(SYMBOL)
        assert (book["bidPrice"], book["askPrice"]) == (depth["bids"][0][0], depth["asks"][0][0])
        klines = client.klines(SYMBOL, "1m", limit=5)
        last_price = client.ticker_price(SYMBOL)["price"]
        day = client.ticker_24hr_price_change(SYMBOL)
    finally:
        threaded.resume()
    assert klines and all(len(k) == 12 for k in klines)
    assert klines[-1][4] == last_price == day["lastPrice"]
    assert day["symbol"] == SYMBOL and float(day["lowPrice"]) <= float(last_price)



@pytest.mark.parametrize(("route", "subscribe", "event"), [
    ("public", lambda ws: ws.diff_book_depth(SYMBOL, speed=100), "depthUpdate"),
    ("market", lambda ws: ws.agg_trade(SYMBOL), "aggTrade"),
])
def test_connector_websocket_on_routed_urls(threaded: ExchangeThread, route: str,
                                            subscribe: Any, event: str) -> None:
    got: list[dict[str, Any]] = []
    seen = threading.Event()

    def on_message(_: object, raw: str) -> None:
        message = orjson.loads(raw)
        if message.get("e") == event:
            got.append(message)
            seen.set()

    ws = UMFuturesWebsocketClient(stream_url=f"{threaded.ws_url}/{route}", on_message=on_message)
    try:
        subscribe(ws)
        assert seen.wait(10), f"no {event} on /{route}"
    finally:
        ws.stop()
        # The connector answers the close handshake but leaves the TCP socket open; the
        # exchange cuts such sockets when it stops (the test below), but end it here at once.
        ws.socket_manager.ws.shutdown()
    assert got[0]["s"] == SYMBOL


def test_exchange_stops_while_a_closed_connector_socket_lingers() -> None:
    thread = LocalExchange([SYMBOL], seed=3).run_in_thread()
    ws = UMFuturesWebsocketClient(stream_url=f"{thread.ws_url}/market",
                                  on_message=lambda *_: None)
    try:
        ws.agg_trade(SYMBOL)
        time.sleep(0.5)
        ws.stop()  # the connector's own way to finish: close frame sent, socket left open
        thread.stop(timeout_s=3)
        assert thread._thread is not None and not thread._thread.is_alive()
    finally:
        ws.socket_manager.ws.shutdown()  # lets a stuck exchange thread finish in the background

