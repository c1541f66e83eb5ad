"""Running the real depthlens client (REST + sockets + engines) against a server, in-process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from data_ingestion.binance.feed import BinanceFuturesFeed, load_instruments
from data_ingestion.binance.rest import BinanceRest
from data_ingestion.binance_spot.feed import BinanceSpotFeed, spot_engine
from data_ingestion.binance_spot.feed import load_instruments as load_spot_instruments
from data_ingestion.binance_spot.rest import BinanceSpotRest
from marketdata.clock import SystemClock
from data_ingestion.engine import SymbolEngine
from local_exchange import LocalExchange
from marketdata.markets import BINANCE_SPOT, BINANCE_USDM
from orderbook.sync import SyncState


async def until(predicate: Callable[[], bool], timeout_s: float = 20.0,
                what: str = "condition") -> None:
    """Wait (bounded) for ``predicate``; fail with ``what`` when it never holds."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class RunningClient:
    """A feed, its engines and REST client (any Binance venue's), and their tasks."""

    feed: BinanceFuturesFeed | BinanceSpotFeed
    engines: dict[str, SymbolEngine]
    rest: BinanceRest
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def live(self, symbol: str) -> bool:
        engine = self.engines[symbol]
        return engine.connected and engine.sync.state is SyncState.LIVE

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.rest.aclose()


async def start_client(rest_url: str, ws_url: str, symbols: list[str],
                       silence_timeout_s: float | None = 3.0,
                       venue: str = BINANCE_USDM) -> RunningClient:
    """The client of ``venue`` (binance-usdm or binance-spot), every symbol live."""
    clock = SystemClock()
    backoff = (0.05, 0.5)
    feed: BinanceFuturesFeed | BinanceSpotFeed
    rest: BinanceRest
    if venue == BINANCE_SPOT:
        rest = spot_rest = BinanceSpotRest(clock, rest_url)
        instruments = await load_spot_instruments(spot_rest, symbols)
        feed = BinanceSpotFeed(spot_rest, instruments, clock, ws_url=ws_url,
                               silence_timeout_s=silence_timeout_s, reconnect_backoff_s=backoff)
        make_engine = spot_engine
    else:
        rest = BinanceRest(rest_url, clock)
        instruments = await load_instruments(rest, symbols)
        feed = BinanceFuturesFeed(rest, ws_url, instruments, clock, silence_timeout_s,
                                  reconnect_backoff_s=backoff)
        make_engine = SymbolEngine
    engines = {s: make_engine(i, feed.fetch_snapshot, clock) for s, i in instruments.items()}
    feed.attach(engines.values())
    client = RunningClient(feed, engines, rest)
    client.tasks.append(asyncio.create_task(feed.run()))
    client.tasks.extend(asyncio.create_task(e.run()) for e in engines.values())
    for symbol in symbols:
        await until(lambda s=symbol: client.live(s), 30, f"{symbol} live")
    return client


async def assert_book_equals_exchange(exchange: LocalExchange, client: RunningClient,
                                      symbol: str) -> int:
    """Freeze the flow, let the client catch up to the last published id, compare every level."""
    exchange.pause()
    try:
        await asyncio.sleep(0.25)  # the pending batch is still published after a pause
        published_id, bids, asks = exchange.published_book(symbol)
        engine = client.engines[symbol]
        await until(lambda: client.live(symbol) and engine.sync.last_applied_u == published_id,
                    20, f"{symbol} at update id {published_id}")
        assert engine.book.last_update_id == published_id
        assert dict(engine.book.bids) == dict(bids)
        assert dict(engine.book.asks) == dict(asks)
        assert not engine.book.is_crossed()
        return published_id
    finally:
        exchange.resume()
