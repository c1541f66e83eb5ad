"""A burst the book engine cannot keep up with: the bounded queue coalesces losslessly."""

from __future__ import annotations

import asyncio
import random

from marketdata.clock import SystemClock
from data_ingestion.engine import SymbolEngine
from marketdata.events import DepthDiff, DepthSnapshot
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from orderbook.sync import SyncState
from tests.client_harness import until


def random_stream(n: int, seed: int) -> list[DepthDiff]:
    rng = random.Random(seed)
    diffs, prev = [], 1000
    for _ in range(n):
        span = rng.randint(1, 5)
        bids = [(rng.randint(100, 199), rng.randint(0, 9)) for _ in range(rng.randint(0, 6))]
        asks = [(rng.randint(200, 299), rng.randint(0, 9)) for _ in range(rng.randint(0, 6))]
        diffs.append(DepthDiff("BTCUSDT", prev + 1, prev + span, prev, bids, asks, 0, 0))
        prev += span
    return diffs


async def test_overflowing_queue_coalesces_and_the_book_stays_exact() -> None:
    snapshot = DepthSnapshot("BTCUSDT", 1001, [(150, 5)], [(250, 5)], 0, 0)

    async def fetch(_: str) -> DepthSnapshot:
        return snapshot

    engine = SymbolEngine(Instrument("BTCUSDT", 2, 3), fetch, SystemClock(), queue_size=8)
    engine.on_connection(True)
    stream = random_stream(300, seed=4)
    for diff in stream:  # the engine is not running yet: everything piles up
        engine.submit_diff(diff)
    assert engine.queue_depth <= 8
    assert engine.counters.bursts_coalesced > 0
    task = asyncio.create_task(engine.run())
    try:
        await until(lambda: engine.sync.last_applied_u == stream[-1].last_update_id, 10,
                    "the whole stream to be applied")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    reference = L2Book()
    reference.load(snapshot.bids, snapshot.asks, snapshot.last_update_id)
    for diff in stream:
        reference.apply(diff.bids, diff.asks, diff.last_update_id)
    assert engine.sync.state is SyncState.LIVE and engine.sync.stats.gaps == 0
    assert dict(engine.book.bids) == dict(reference.bids)
    assert dict(engine.book.asks) == dict(reference.asks)
    assert engine.counters.diffs_received == 300
