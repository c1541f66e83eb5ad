"""The Binance Spot feed and REST client end to end against a tiny Spot-speaking venue on
127.0.0.1: spot paths and weights, 429/418 handling, and a book that survives a duplicate and a
gap and then equals the venue's own book at every update id it applies.

The venue shares nothing with the client: it keeps its book as ``Decimal`` strings, numbers its
diffs with spot's rule (each ``U`` is the previous ``u + 1``; no ``pu``) and serves snapshots
with no ``E``, as section 2 of the protocol doc describes.
"""

from __future__ import annotations

import asyncio
import http
import random
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from data_ingestion.binance.rest import IpBanned, RateLimited
from data_ingestion.binance_spot.feed import (
    BinanceSpotFeed,
    load_instruments,
    spot_engine,
    symbol_streams,
)
from data_ingestion.binance_spot.rest import BinanceSpotRest, depth_weight
from marketdata.clock import SystemClock
from data_ingestion.engine import SymbolEngine
from marketdata.events import DepthDiff
from orderbook.instrument import Instrument
from orderbook.sync import SPOT_RULES, SyncState

SYMBOL = "BTCUSDT"
Side = dict[Decimal, Decimal]
Levels = tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]


class TinySpotVenue:
    """REST ``/api/v3/depth`` and ``/api/v3/exchangeInfo`` plus WS ``/stream?streams=`` on one
    port. Once a client subscribes it streams random diffs (and an aggTrade every third diff).
    After the first snapshot it has served it re-sends a diff (a duplicate) and then withholds
    one (a gap); ``tail`` diffs after the snapshot that follows, it stops."""

    def __init__(self, seed: int = 7, tail: int = 25, pace_s: float = 0.004) -> None:
        self.rng = random.Random(seed)
        self.bids: Side = {}
        self.asks: Side = {}
        self.u = 1_000_000
        self.books_at: dict[int, tuple[Side, Side]] = {}
        self.rest_script: list[tuple[int, dict[str, str], dict[str, Any]]] = []
        self.requests: list[str] = []
        self.ws_paths: list[str] = []
        self.snapshots_served = 0
        self.trades_sent = 0
        self.port = 0
        self.finished = asyncio.Event()
        self._tail = tail
        self._pace = pace_s
        self._subs: set[ServerConnection] = set()
        self._subscribed = asyncio.Event()
        self._server: Server | None = None
        self._task: asyncio.Task[None] | None = None
        for _ in range(30):
            self._change(self.bids, 99000, 99999)
            self._change(self.asks, 100000, 100999, allow_delete=False)

    async def start(self) -> None:
        self._server = await serve(self._handle, "127.0.0.1", 0,
                                   process_request=self._process_request)
        self.port = self._server.sockets[0].getsockname()[1]  # type: ignore[index]
        self._task = asyncio.create_task(self._stream())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # ---- the book and its diffs ----

    def _change(self, side: Side, low: int, high: int, allow_delete: bool = True) -> list[str]:
        price = Decimal(self.rng.randint(low, high)).scaleb(-2)  # tick 0.01, never crossing
        qty = (Decimal(0) if allow_delete and self.rng.random() < 0.3
               else Decimal(self.rng.randint(1, 400_000)).scaleb(-5))  # step 0.00001
        if qty:
            side[price] = qty
        else:
            side.pop(price, None)  # removing an absent level is routine on Binance
        return [f"{price:.8f}", f"{qty:.8f}"]

    def _next_diff(self) -> dict[str, Any]:
        first = self.u + 1
        self.u = first + self.rng.randint(0, 4)
        bids = [self._change(self.bids, 99000, 99999) for _ in range(self.rng.randint(1, 5))]
        asks = [self._change(self.asks, 100000, 100999) for _ in range(self.rng.randint(1, 5))]
        self.books_at[self.u] = (dict(self.bids), dict(self.asks))
        return {"e": "depthUpdate", "E": 1_700_000_000_000 + self.u, "s": SYMBOL,
                "U": first, "u": self.u, "b": bids, "a": asks}

    async def _stream(self) -> None:
        await self._subscribed.wait()
        last: dict[str, Any] | None = None
        sent_after_first = sent_after_second = 0
        duplicated = gapped = False
        while sent_after_second < self._tail:
            diff = self._next_diff()
            if self.snapshots_served >= 1 and not gapped:
                sent_after_first += 1
                if sent_after_first == 3 and last is not None:
                    await self._send("btcusdt@depth@100ms", last)  # stale duplicate
                    duplicated = True
                elif sent_after_first == 6 and duplicated:
                    gapped = True  # applied here, never sent: the client sees U > u + 1
                    await asyncio.sleep(self._pace)
                    continue
            if gapped and self.snapshots_served >= 2:
                sent_after_second += 1
            await self._send("btcusdt@depth@100ms", diff)
            last = diff
            if self.u % 3 == 0:
                await self._send("btcusdt@aggTrade", self._trade())
            await asyncio.sleep(self._pace)
        self.finished.set()

    def _trade(self) -> dict[str, Any]:
        self.trades_sent += 1
        return {"e": "aggTrade", "E": 1_700_000_000_000 + self.u, "s": SYMBOL,
                "a": self.trades_sent, "p": "999.99000000", "q": "0.01000000", "f": 1, "l": 1,
                "T": 1_700_000_000_000 + self.u, "m": self.trades_sent % 2 == 0, "M": True}

    async def _send(self, stream: str, data: dict[str, Any]) -> None:
        frame = orjson.dumps({"stream": stream, "data": data}).decode()
        for conn in list(self._subs):
            try:
                await conn.send(frame)
            except ConnectionClosed:
                self._subs.discard(conn)

    # ---- WS ----

    async def _handle(self, conn: ServerConnection) -> None:
        path = conn.request.path if conn.request else ""
        self.ws_paths.append(path)
        if not path.startswith("/stream?streams="):  # spot has no /public or /market routes
            await conn.close(1008, "unknown path")
            return
        self._subs.add(conn)
        self._subscribed.set()
        try:
            async for _ in conn:
                pass
        except ConnectionClosed:
            pass
        finally:
            self._subs.discard(conn)

    # ---- REST ----

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path == "/stream":
            return None  # a WebSocket upgrade
        self.requests.append(request.path)
        if self.rest_script:
            return _json(*self.rest_script.pop(0))
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/api/v3/exchangeInfo":
            return _json(200, {}, _EXCHANGE_INFO)
        if parts.path == "/api/v3/depth" and query.get("symbol") == SYMBOL:
            self.snapshots_served += 1
            limit = int(query.get("limit", "100"))
            bids = sorted(self.bids.items(), reverse=True)[:limit]
            asks = sorted(self.asks.items())[:limit]
            return _json(200, {}, {"lastUpdateId": self.u,
                                   "bids": [[f"{p:.8f}", f"{q:.8f}"] for p, q in bids],
                                   "asks": [[f"{p:.8f}", f"{q:.8f}"] for p, q in asks]})
        return _json(400, {}, {"code": -1121, "msg": "Invalid symbol."})


_EXCHANGE_INFO = {"timezone": "UTC", "rateLimits": [], "symbols": [{
    "symbol": SYMBOL, "status": "TRADING", "baseAssetPrecision": 8, "quotePrecision": 8,
    "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.01000000"},
                {"filterType": "LOT_SIZE", "stepSize": "0.00001000"}]}]}


def _json(status: int, headers: dict[str, str], body: dict[str, Any]) -> Response:
    data = orjson.dumps(body)
    fields = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                      ("Connection", "close"), *headers.items()])
    return Response(status, http.HTTPStatus(status).phrase, fields, data)


def units(side: Side) -> tuple[tuple[int, int], ...]:
    """The venue's side in the client's units (price 2 decimals, quantity 8), best first."""
    return tuple((int(p.scaleb(2)), int(q.scaleb(8))) for p, q in side.items())


@pytest.fixture()
async def venue() -> AsyncIterator[TinySpotVenue]:
    server = TinySpotVenue()
    await server.start()
    yield server
    await server.close()


@pytest.fixture()
async def rest(venue: TinySpotVenue) -> AsyncIterator[BinanceSpotRest]:
    client = BinanceSpotRest(SystemClock(), base_url=f"http://127.0.0.1:{venue.port}")
    yield client
    await client.aclose()


def test_depth_weights_follow_the_spot_table() -> None:
    table = {1: 5, 100: 5, 101: 25, 500: 25, 501: 50, 1000: 50, 1001: 250, 5000: 250}
    assert {limit: depth_weight(limit) for limit in table} == table
    for bad in (0, 5001):
        with pytest.raises(ValueError):
            depth_weight(bad)


def test_stream_urls_use_spot_paths_and_keep_symbols_whole() -> None:
    feed = BinanceSpotFeed(BinanceSpotRest(SystemClock()), {}, SystemClock(),
                           ws_url="wss://stream.binance.com:9443/")
    feed.streams.preload([symbol_streams(s) for s in ("BTCUSDT", "ETHUSDT")])
    assert feed.streams.urls == ["wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms/"
                                 "btcusdt@aggTrade/btcusdt@ticker/ethusdt@depth@100ms/"
                                 "ethusdt@aggTrade/ethusdt@ticker"]
    many = BinanceSpotFeed(BinanceSpotRest(SystemClock()), {}, SystemClock(), ws_url="ws://x")
    many.streams.preload([symbol_streams(f"S{i}USDT") for i in range(600)])
    assert [u.count("@depth") for u in many.streams.urls] == [341, 259]
    assert all(u.count("@aggTrade") == u.count("@depth") == u.count("@ticker")
               for u in many.streams.urls)


async def test_rest_uses_spot_paths_and_budget(venue: TinySpotVenue,
                                               rest: BinanceSpotRest) -> None:
    instruments = await load_instruments(rest, [SYMBOL])
    assert instruments[SYMBOL].qty_decimals == 8 and instruments[SYMBOL].price_decimals == 2
    body, received_ns = await rest.depth(SYMBOL)
    assert orjson.loads(body)["lastUpdateId"] == venue.u and received_ns > 0
    assert venue.requests == ["/api/v3/exchangeInfo",
                              f"/api/v3/depth?symbol={SYMBOL}&limit=5000"]
    assert rest.budget.limit == 6000 and rest.budget.used() == 20 + 250


async def test_rest_honours_429_and_stops_on_418(venue: TinySpotVenue,
                                                 rest: BinanceSpotRest) -> None:
    venue.rest_script = [(429, {"Retry-After": "0.2"}, {"code": -1003, "msg": "Too many."}),
                         (418, {"Retry-After": "60"}, {"code": -1003, "msg": "Banned."})]
    with pytest.raises(RateLimited) as limited:
        await rest.depth(SYMBOL, 100)
    assert limited.value.retry_after == 0.2 and rest.budget.seconds_blocked() > 0
    with pytest.raises(IpBanned) as banned:
        await rest.depth(SYMBOL, 100)  # waits out the 429 pause first, then gets the ban
    assert banned.value.retry_after == 60
    sent = len(venue.requests)
    with pytest.raises(IpBanned):
        await rest.exchange_info()
    assert len(venue.requests) == sent == 2  # nothing is sent while banned


async def test_feed_refuses_engines_with_futures_rules(rest: BinanceSpotRest) -> None:
    clock = SystemClock()
    feed = BinanceSpotFeed(rest, {}, clock)
    instrument = Instrument.from_steps(SYMBOL, "0.01", "0.00001", qty_precision=8)
    spot = spot_engine(instrument, feed.fetch_snapshot, clock, queue_size=100)
    assert spot.sync.rules is SPOT_RULES
    with pytest.raises(ValueError, match="SPOT_RULES"):
        feed.attach([SymbolEngine(instrument, feed.fetch_snapshot, clock)])
    feed.attach([spot])
    assert list(feed.engines) == [SYMBOL]


async def test_feed_recovers_from_duplicate_and_gap_to_the_venues_exact_book(
        venue: TinySpotVenue, rest: BinanceSpotRest) -> None:
    clock = SystemClock()
    instruments = await load_instruments(rest, [SYMBOL], attempts=3, delay_s=0.1)
    # The first snapshot request is rate limited: the engine must wait and ask again.
    venue.rest_script = [(429, {"Retry-After": "0.1"}, {"code": -1003, "msg": "Too many."})]
    feed = BinanceSpotFeed(rest, instruments, clock, ws_url=f"ws://127.0.0.1:{venue.port}",
                           reconnect_backoff_s=(0.05, 0.2))
    engine = spot_engine(instruments[SYMBOL], feed.fetch_snapshot, clock)
    feed.attach([engine])
    seen: dict[int, tuple[int, Levels]] = {}  # u -> (snapshots loaded by then, the book)

    def record(diff: DepthDiff) -> None:
        sync = engine.sync
        if sync.state is SyncState.LIVE and sync.last_applied_u == diff.last_update_id:
            seen[diff.last_update_id] = (sync.stats.snapshots_loaded,
                                         (tuple(engine.book.top_bids(10_000)),
                                          tuple(engine.book.top_asks(10_000))))

    engine.after_diff = record
    tasks = [asyncio.create_task(feed.run()), asyncio.create_task(engine.run())]
    try:
        await asyncio.wait_for(venue.finished.wait(), 20)
        for _ in range(200):  # let the last frames drain through the engine
            if engine.sync.last_applied_u == venue.u:
                break
            await asyncio.sleep(0.01)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    assert venue.ws_paths[0].startswith("/stream?streams=btcusdt@depth@100ms/btcusdt@aggTrade")
    assert venue.requests[0] == "/api/v3/exchangeInfo"
    assert venue.requests[1:] == [f"/api/v3/depth?symbol={SYMBOL}&limit=5000"] * 3
    stats = engine.sync.stats
    assert engine.counters.snapshot_failures == 1  # the 429
    assert stats.duplicates >= 1 and stats.gaps == 1 and stats.resyncs == 1
    assert stats.snapshots_loaded == 2 and stats.integrity_errors == 0
    assert engine.sync.state is SyncState.LIVE and engine.sync.last_applied_u == venue.u
    # Exactness: at every update id the client applied, before the gap and after the recovery,
    # its book is the venue's, level for level.
    assert sum(1 for loaded, _ in seen.values() if loaded == 2) >= 20
    for u, (_, book) in seen.items():
        bids, asks = venue.books_at[u]
        assert book == (units(dict(sorted(bids.items(), reverse=True))),
                        units(dict(sorted(asks.items())))), f"book differs at u={u}"
    final_bids, final_asks = seen[venue.u][1]
    assert len(final_bids) > 10 and len(final_asks) > 10
    assert engine.counters.trades_received == venue.trades_sent > 0
    assert feed.malformed_frames == 0
