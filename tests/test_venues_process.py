"""Binance Spot and Coinbase as a user runs them live: main.py in its own process, on the live
code path (``--source live`` with each venue's URL flags), against servers started separately
that speak the venue's protocol. Through every fault the servers can inject, the process's books
(read over ``GET /book``) end equal to the server's own book: at the same update id for Spot, and
for Coinbase, which has no book update id, once the server's flow is paused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from data_ingestion.binance_spot.parser import SpotParser
from local_exchange import LocalExchange
from local_exchange.coinbase_server import CoinbaseServer, CoinbaseServerSettings
from local_exchange.threaded import ExchangeThread
from orderbook.instrument import Instrument
from orderbook.sync import SPOT_RULES
from tests.conftest import DATA
from tests.process_support import Health, all_live, depthlens, wait_health
from tests.replay_support import coinbase_capture_books, final_book, spot_instruments

SPOT = ["BTCUSDT", "ETHUSDT"]
PRODUCTS = ["BTC-USD", "ETH-USD"]
SILENCE_S = "2"  # the process's silent-socket timeout; the silence fault outlasts it


def floats(instrument: Instrument, levels: list[tuple[int, int]]) -> list[list[float]]:
    return [[p / 10**instrument.price_decimals, q / 10**instrument.qty_decimals]
            for p, q in levels[:1000]]


def book_becomes(http: httpx.Client, key: str,
                 expected: tuple[list[list[float]], list[list[float]]], deadline: float,
                 what: str) -> None:
    """Poll ``GET /book/{key}`` (1000 levels) until its sides equal ``expected``; fail at
    ``deadline`` (monotonic) naming ``what`` it should have equalled."""
    while True:
        book = http.get(f"/book/{key}", params={"depth": 1000}).json()
        if (book["bids"], book["asks"]) == expected:
            return
        assert time.monotonic() < deadline, f"{key} never equalled {what}"
        time.sleep(0.2)


def test_spot_live_path_against_a_separate_spot_server_through_every_fault() -> None:
    venue = LocalExchange(SPOT, seed=9, dialect="binance-spot").run_in_thread()
    url = f"127.0.0.1:{venue.exchange.port}"
    keys = [f"binance-spot:{s}" for s in SPOT]
    try:
        with depthlens("--source", "live", "--symbols", ",".join(keys),
                       "--binance-spot-rest-url", f"http://{url}",
                       "--binance-spot-ws-url", f"ws://{url}",
                       "--silence-timeout-s", SILENCE_S) as http:
            health = wait_health(http, all_live)
            assert health["source"] == "live" and set(health["symbols"]) == set(keys)

            def total(field: str) -> Callable[[Health], int]:
                return lambda h: sum(h["symbols"][k][field] for k in keys)

            faults: list[tuple[Callable[[], Any], Callable[[Health], int]]] = [
                (lambda: venue.drop_diff("BTCUSDT"), total("gaps")),
                (lambda: venue.reorder_diffs("ETHUSDT"), total("gaps")),
                (lambda: (venue.rest_rate_limit(count=1, retry_after_s=1),
                          venue.drop_diff("ETHUSDT")), total("resyncs")),
                (lambda: venue.disconnect_all(),
                 lambda h: sum(h["symbols"][k]["watchdog"]["connects"] for k in keys)),
                (lambda: venue.silence(4.0),
                 lambda h: sum(h["symbols"][k]["watchdog"]["silences"] for k in keys)),
            ]
            for inject, counter in faults:
                before = counter(http.get("/health").json())
                inject()
                wait_health(http, lambda h, c=counter, b=before: c(h) > b, 30)
                wait_health(http, all_live, 60)
            # Harmless faults: a duplicate and malformed frames change nothing.
            venue.duplicate_diff("BTCUSDT")
            venue.malformed_frame("ETHUSDT")
            venue.malformed_frame("BTCUSDT", "missing_fields")
            time.sleep(1.0)
            venue.pause()
            try:
                time.sleep(0.3)
                for symbol, key in zip(SPOT, keys, strict=True):
                    published_id, bids, asks = venue.published_book(symbol)
                    wait_health(http, lambda h, k=key, u=published_id:
                                h["symbols"][k]["last_update_id"] == u, 20)
                    book = http.get(f"/book/{key}", params={"depth": 1000}).json()
                    instrument = venue.spec(symbol).instrument
                    assert book["last_update_id"] == published_id
                    assert book["bids"] == floats(instrument, bids)
                    assert book["asks"] == floats(instrument, asks)
            finally:
                venue.resume()
    finally:
        venue.stop()


def test_coinbase_live_path_against_a_separate_coinbase_server_through_every_fault() -> None:
    server = CoinbaseServer(settings=CoinbaseServerSettings(seed=4))
    venue = ExchangeThread(server).start()  # type: ignore[arg-type]
    keys = [f"coinbase:{p}" for p in PRODUCTS]
    try:
        with depthlens("--source", "live", "--symbols", ",".join(keys),
                       "--coinbase-rest-url", server.rest_url, "--coinbase-ws-url", server.url,
                       "--silence-timeout-s", SILENCE_S) as http:
            health = wait_health(http, all_live)
            assert set(health["symbols"]) == set(keys)
            listed = http.get("/symbols").json()["symbols"]
            assert {(s["market"], s["tick_size"], s["step_size"]) for s in listed} == {
                (k, 0.01, 1e-8) for k in keys}  # from the server's products list

            def first(field: str, sub: str | None = None) -> Callable[[Health], int]:
                # Connection-wide counters: every product of the connection reports them.
                def read(h: Health) -> int:
                    entry = h["symbols"][keys[0]]
                    return int(entry[sub][field] if sub else entry[field])
                return read

            faults: list[tuple[Callable[[], Any], Callable[[Health], int]]] = [
                (lambda: venue.call(server.drop_next_update), first("gaps")),
                (lambda: venue.call(server.disconnect_all), first("connects", "watchdog")),
                (lambda: venue.call(server.silence, 4.0), first("silences", "watchdog")),
            ]
            for inject, counter in faults:
                before = counter(http.get("/health").json())
                inject()
                wait_health(http, lambda h, c=counter, b=before: c(h) > b, 30)
                wait_health(http, all_live, 60)
            rebuilds = first("resyncs")(http.get("/health").json())
            assert rebuilds >= 2  # the gap and the reconnect each rebuilt from a snapshot
            venue.call(server.duplicate_next_update)
            venue.call(server.malformed_frame)
            time.sleep(1.0)
            venue.call(server.pause)
            try:
                deadline = time.monotonic() + 20
                for product, key in zip(PRODUCTS, keys, strict=True):
                    published = venue.call(server.book, product)
                    instrument = server.listed()[product]
                    expected = (floats(instrument, published.bids),
                                floats(instrument, published.asks))
                    assert len(published.bids) > 50 and len(published.asks) > 50
                    # until the process has read what the server sent
                    book_becomes(http, key, expected, deadline, "the server's")
                health = http.get("/health").json()
                assert all_live(health) and first("resyncs")(health) == rebuilds  # harmless
            finally:
                venue.call(server.resume)
    finally:
        venue.stop()


@pytest.mark.slow
@pytest.mark.parametrize("clock", ["venue", "wall"])  # in process / the exchange's sockets
def test_replay_source_serves_a_real_spot_recording(clock: str) -> None:
    """``--replay`` tells a Spot recording by its content and replays it with Spot's rules
    (on the wall clock, served by the embedded exchange in Spot's dialect)."""
    paths = [DATA / f"binance_spot/hftbacktest_spot_ethusdt_2024080{day}.gz" for day in (8, 9)]
    instruments = spot_instruments()
    last_u, bids, asks = final_book(paths, "ETHUSDT", SpotParser(instruments),
                                    instruments["ETHUSDT"], SPOT_RULES)
    key = "binance-spot:ETHUSDT"
    with depthlens("--source", "replay", "--replay", *map(str, paths), "--speed", "50",
                   "--clock", clock) as http:
        health = wait_health(http, all_live)
        assert list(health["symbols"]) == [key]
        assert http.get("/symbols").json()["symbols"][0]["tick_size"] == 0.01  # Spot's, not 0.1
        wait_health(http, lambda h: h["symbols"][key]["last_update_id"] == last_u, 60)
        book = http.get(f"/book/{key}", params={"depth": 50}).json()
        assert (book["bids"], book["asks"]) == (bids, asks)
        assert http.get("/health").json()["symbols"][key]["gaps"] == 0


@pytest.mark.slow
def test_replay_source_serves_the_real_coinbase_capture() -> None:
    """The capture's 25 s at 2x: every product's book ends as an offline replay of the same
    frames builds it, with no gap, and trades reach the frames."""
    capture = DATA / "coinbase_advanced_trade/cryptofeed_COINBASE.jsonl.zst"
    instruments, books = coinbase_capture_books(capture, PRODUCTS)
    keys = [f"coinbase:{p}" for p in PRODUCTS]
    with depthlens("--source", "replay", "--replay", str(capture), "--speed", "2") as http:
        health = wait_health(http, all_live)
        assert list(health["symbols"]) == keys
        deadline = time.monotonic() + 60
        for product, key in zip(PRODUCTS, keys, strict=True):
            expected = (floats(instruments[product], books[product].top_bids(1000)),
                        floats(instruments[product], books[product].top_asks(1000)))
            book_becomes(http, key, expected, deadline, "the capture's end")
        health = http.get("/health").json()
        assert all(health["symbols"][k]["gaps"] == 0 for k in keys)
        # The capture's market_trades reached the products (Coinbase's side is the maker's).
        metrics = http.get("/metrics").text
        for key in keys:
            line = next(m for m in metrics.splitlines()
                        if m.startswith(f'depthlens_trades_received_total{{symbol="{key}"}}'))
            assert float(line.split()[-1]) > 10
