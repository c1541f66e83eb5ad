"""The real client against the local exchange, over real sockets, under every fault kind:
after recovery its book equals the exchange's own book at the same update id."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable

import psutil
import pytest

from local_exchange import LocalExchange
from orderbook.sync import SyncState
from tests.client_harness import RunningClient, assert_book_equals_exchange, start_client, until

SYMBOLS = ["BTCUSDT", "ETHUSDT"]


@pytest.fixture()
async def exchange() -> AsyncIterator[LocalExchange]:
    ex = LocalExchange(SYMBOLS, seed=11)
    await ex.start()
    yield ex
    await ex.stop()


@pytest.fixture()
async def client(exchange: LocalExchange) -> AsyncIterator[RunningClient]:
    running = await start_client(exchange.rest_url, exchange.ws_url, SYMBOLS)
    yield running
    await running.stop()


Fault = Callable[[LocalExchange], object]


async def settle(client: RunningClient, seconds: float = 1.0) -> None:
    await asyncio.sleep(seconds)
    for symbol in SYMBOLS:
        await until(lambda s=symbol: client.live(s), 30, f"{symbol} live again")


async def test_books_equal_exchange_without_faults(exchange: LocalExchange,
                                                   client: RunningClient) -> None:
    await asyncio.sleep(1.5)
    for symbol in SYMBOLS:
        await assert_book_equals_exchange(exchange, client, symbol)
        stats = client.engines[symbol].sync.stats
        assert stats.gaps == 0 and stats.resyncs == 0 and stats.applied > 5


@pytest.mark.parametrize("fault, check", [
    (lambda ex: ex.drop_diff("BTCUSDT"),
     lambda c: c.engines["BTCUSDT"].sync.stats.gaps >= 1
     and c.engines["ETHUSDT"].sync.stats.resyncs == 0),  # the other symbol is untouched
    (lambda ex: ex.duplicate_diff("BTCUSDT"),
     lambda c: c.engines["BTCUSDT"].sync.stats.duplicates >= 1
     and c.engines["BTCUSDT"].sync.stats.gaps == 0),
    (lambda ex: ex.reorder_diffs("BTCUSDT"),
     lambda c: c.engines["BTCUSDT"].sync.stats.gaps >= 1),
    (lambda ex: ex.malformed_frame("BTCUSDT", "invalid_json"),
     lambda c: c.feed.malformed_frames >= 1 and c.engines["BTCUSDT"].sync.stats.resyncs == 0),
    (lambda ex: ex.malformed_frame("BTCUSDT", "missing_fields"),
     lambda c: c.feed.malformed_frames >= 1),
], ids=["drop", "duplicate", "reorder", "invalid-json", "missing-fields"])
async def test_stream_faults_recover_to_exact_book(exchange: LocalExchange, client: RunningClient,
                                                   fault: Fault, check: Callable[[RunningClient], bool]) -> None:
    await asyncio.sleep(0.5)
    fault(exchange)
    await until(lambda: check(client), 10, "the fault to be seen")
    await settle(client)
    for symbol in SYMBOLS:
        await assert_book_equals_exchange(exchange, client, symbol)


async def test_abrupt_disconnect_forces_resync(exchange: LocalExchange,
                                               client: RunningClient) -> None:
    sock = client.feed.sockets[0]
    assert exchange.disconnect_all() >= 2  # depth and trade sockets
    await until(lambda: sock.connects >= 2, 10, "reconnect")
    await settle(client)
    for symbol in SYMBOLS:
        assert client.engines[symbol].sync.stats.resyncs >= 1
        await assert_book_equals_exchange(exchange, client, symbol)


async def test_silent_socket_is_dropped_by_the_watchdog(exchange: LocalExchange,
                                                        client: RunningClient) -> None:
    exchange.silence(6.0)  # longer than the client's 3 s silence timeout
    await until(lambda: client.feed.sockets[0].silences >= 1, 10, "the watchdog")
    await settle(client, 4.0)
    for symbol in SYMBOLS:
        await assert_book_equals_exchange(exchange, client, symbol)


@pytest.mark.parametrize("rest_fault", [
    lambda ex: ex.rest_rate_limit(count=2, retry_after_s=1),
    lambda ex: ex.rest_server_error(count=2, status=503),
    lambda ex: ex.stale_snapshot("BTCUSDT", count=2),
], ids=["429", "503", "stale-snapshot"])
async def test_snapshot_faults_during_resync(exchange: LocalExchange, client: RunningClient,
                                             rest_fault: Fault) -> None:
    engine = client.engines["BTCUSDT"]
    rest_fault(exchange)
    exchange.drop_diff("BTCUSDT")  # forces a resync, which meets the REST fault
    await until(lambda: engine.sync.stats.gaps >= 1, 10, "the gap")
    await until(lambda: engine.counters.snapshot_failures + engine.sync.stats.stale_snapshots >= 1,
                15, "the snapshot fault to be met")
    await settle(client)
    await assert_book_equals_exchange(exchange, client, "BTCUSDT")


async def test_dozens_of_disconnects_leave_exact_books_no_leaks(exchange: LocalExchange,
                                                                client: RunningClient) -> None:
    await asyncio.sleep(0.5)
    gc.collect()
    tasks_before = len(asyncio.all_tasks())
    rss_before = psutil.Process().memory_info().rss
    sock = client.feed.sockets[0]
    for round_ in range(30):
        connects = sock.connects
        exchange.disconnect_all()
        await until(lambda: sock.connects > connects, 10, f"reconnect {round_}")
        for symbol in SYMBOLS:
            await until(lambda s=symbol: client.live(s), 20, f"{symbol} live after {round_}")
    for symbol in SYMBOLS:
        await assert_book_equals_exchange(exchange, client, symbol)
        assert client.engines[symbol].sync.stats.resyncs >= 30
    gc.collect()
    assert len(asyncio.all_tasks()) == tasks_before
    growth_mb = (psutil.Process().memory_info().rss - rss_before) / 2**20
    assert growth_mb < 40, f"RSS grew {growth_mb:.1f} MB over 30 reconnects"
    assert client.engines["BTCUSDT"].sync.state is SyncState.LIVE


async def test_a_failing_consumer_resyncs_instead_of_killing_the_engine(
        exchange: LocalExchange, client: RunningClient) -> None:
    engine = client.engines["BTCUSDT"]
    failures: list[int] = []

    def fail_once(diff) -> None:  # type: ignore[no-untyped-def]
        if not failures:
            failures.append(diff.last_update_id)
            raise RuntimeError("observer bug")

    engine.after_diff = fail_once
    await until(lambda: bool(failures), 10, "the failure")
    await until(lambda: engine.sync.stats.resyncs >= 1, 10, "the resync")
    await settle(client)
    await assert_book_equals_exchange(exchange, client, "BTCUSDT")
