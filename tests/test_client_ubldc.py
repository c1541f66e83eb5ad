"""unicorn-binance-local-depth-cache (UBLDC) against the local exchange, only its URLs changed.

UBLDC (exchange ``binance.com-futures``) keeps its depth cache with its two dependencies:
unicorn-binance-rest-api (UBRA) for the REST snapshot and unicorn-binance-websocket-api (UBWA)
for the ``@depth`` stream. Each is pointed here through its own URL settings:

* UBWA: its public ``websocket_base_uri`` (a documented constructor override, set on the
  manager UBLDC made, before the first cache is created). UBWA adds ``public/stream?streams=``.
* UBRA: it has no base-URL parameter, and its constructor already asks ``{API_URL}/v3/time``
  before returning, so an attribute set afterwards comes too late. UBRA reads its hosts from
  the class-level URL templates (``API_URL``, ``FUTURES_URL``) and formats them with ``tld``;
  a subclass that sets these two templates (no method overridden) and any ``tld`` (the branch
  that keeps them: nothing to format) builds it here. UBLDC takes it as ``ubra_manager``.

Like the real library, UBRA asks the **Spot** host (``api.binance.com``) for the server time and,
before every snapshot, for the used weight (``/api/v3/ping``: ``X-MBX-USED-WEIGHT`` and ``Date``),
and the futures host for ``/fapi/v1/depth?limit=1000``. So a Spot-dialect exchange stands in for
``api.binance.com`` and the USDT-M one for ``fapi``/``fstream``. Offline and loopback only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Self

import pytest
from unicorn_binance_local_depth_cache import BinanceLocalDepthCacheManager
from unicorn_binance_rest_api import BinanceRestApiManager

from local_exchange import ExchangeThread, LocalExchange
from local_exchange.rest import DEPTH_WEIGHTS
from tests.test_client_libraries import as_floats

SYMBOL = "BTCUSDT"
# UBLDC's snapshot limit and the levels it keeps per side; levels beyond it are unknown to any
# client until they change (the simulated book has fewer, so this compares every level).
SNAPSHOT_LEVELS = 1000
FROZEN_CHECKS = 3  # books compared on each side of the gap


# ------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def venues() -> Iterator[tuple[ExchangeThread, ExchangeThread]]:
    """(USDT-M exchange for fapi/fstream, Spot exchange for api.binance.com)."""
    with LocalExchange([SYMBOL], seed=11).run_in_thread() as futures, \
            LocalExchange([SYMBOL], seed=12, dialect="binance-spot").run_in_thread() as spot:
        spot.pause()  # only its ping/time are asked; its flow would just cost CPU
        time.sleep(1.5)  # some book changes on the futures side
        yield futures, spot


def rest_manager(futures: ExchangeThread, spot: ExchangeThread) -> BinanceRestApiManager:
    """UBRA with its Spot and USDT-M base URLs here (see the module docstring for why a
    subclass: the constructor sends its first request before it returns)."""

    class LocalBinanceRest(BinanceRestApiManager):
        API_URL = f"{spot.rest_url}/api"
        FUTURES_URL = f"{futures.rest_url}/fapi"

    return LocalBinanceRest(tld="com", warn_on_update=False, disable_colorama=True)


@contextmanager
def depth_cache(futures: ExchangeThread,
                spot: ExchangeThread) -> Iterator[BinanceLocalDepthCacheManager]:
    """A UBLDC manager for USDT-M with a ``SYMBOL`` cache, its URLs pointed here."""
    ldc = BinanceLocalDepthCacheManager(exchange="binance.com-futures",
                                        ubra_manager=rest_manager(futures, spot),
                                        warn_on_update=False, disable_colorama=True)
    try:
        ldc.get_ubwa_manager().websocket_base_uri = f"{futures.ws_url}/"
        ldc.create_depthcache(SYMBOL)
        yield ldc
    finally:
        ldc.stop_manager()


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.02)


def cache_update_id(ldc: BinanceLocalDepthCacheManager) -> int | None:
    """The last update id UBLDC applied (its public ``depth_caches`` state; no getter)."""
    last: int | None = ldc.depth_caches[SYMBOL.lower()]["last_update_id"]
    return last


class SyncWatch:
    """Counts the times UBLDC's cache leaves the synchronized state (a gap it noticed)."""

    def __init__(self, ldc: BinanceLocalDepthCacheManager) -> None:
        self.ldc = ldc
        self.losses = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        was_synced = True
        while not self._stop.is_set():
            # A resync keeps the cache unsynced for a snapshot round trip and a resubscription
            # (at least several hundred ms): a 5 ms poll cannot miss it.
            synced = self.ldc.is_depth_cache_synchronized(SYMBOL)
            if was_synced and not synced:
                self.losses += 1
            was_synced = synced
            time.sleep(0.005)


def assert_frozen_book_equal(ldc: BinanceLocalDepthCacheManager, ex: ExchangeThread) -> int:
    """Stop the flow, let UBLDC reach the last published id, compare every level."""
    ex.pause()
    try:
        time.sleep(0.35)  # > 3 publish intervals: the pending diff has gone out
        uid, bids, asks = ex.published_book(SYMBOL)
        wait_for(lambda: cache_update_id(ldc) == uid, 10, f"UBLDC at update id {uid}")
        assert ldc.is_depth_cache_synchronized(SYMBOL)
        assert ldc.get_bids(SYMBOL) == as_floats(ex, bids, SNAPSHOT_LEVELS)
        assert ldc.get_asks(SYMBOL) == as_floats(ex, asks, SNAPSHOT_LEVELS)
        return uid
    finally:
        ex.resume()


# ------------------------------------------------------------------ tests
def test_ubra_snapshot_and_used_weight_from_the_exchange_headers(
        venues: tuple[ExchangeThread, ExchangeThread]) -> None:
    futures, spot = venues
    ubra = rest_manager(futures, spot)
    try:
        futures.pause()
        try:
            time.sleep(0.35)
            uid, bids, asks = futures.published_book(SYMBOL)
            book = ubra.futures_order_book(symbol=SYMBOL, limit=SNAPSHOT_LEVELS)
        finally:
            futures.resume()
        assert book["lastUpdateId"] == uid
        assert [[float(p), float(q)] for p, q in book["bids"]] == \
            as_floats(futures, bids, SNAPSHOT_LEVELS)
        assert [[float(p), float(q)] for p, q in book["asks"]] == \
            as_floats(futures, asks, SNAPSHOT_LEVELS)
        # UBRA parses X-MBX-USED-WEIGHT and Date of the last answer (None when either is
        # missing, which UBLDC's snapshot gate then trips over).
        depth_weight = ubra.get_used_weight(cached=True)
        assert depth_weight is not None and depth_weight["status_code"] == 200
        assert depth_weight["weight"] == futures.call(lambda: futures.exchange.rest.used_weight)
        assert depth_weight["weight"] >= DEPTH_WEIGHTS[SNAPSHOT_LEVELS]
        # What UBLDC asks before each snapshot: the Spot host's weight, via /api/v3/ping.
        spot_weight = ubra.get_used_weight()
        assert spot_weight is not None and spot_weight["status_code"] == 200
        assert spot_weight["weight"] == spot.call(lambda: spot.exchange.rest.used_weight)
        assert abs(spot_weight["timestamp"] - depth_weight["timestamp"]) < 60
    finally:
        ubra.stop_manager()


def test_ubldc_depth_cache_equals_published_book_through_a_gap(
        venues: tuple[ExchangeThread, ExchangeThread]) -> None:
    futures, spot = venues
    with depth_cache(futures, spot) as ldc:
        wait_for(lambda: ldc.is_depth_cache_synchronized(SYMBOL), 30, "UBLDC synchronized")
        with SyncWatch(ldc) as watch:
            compared = []
            for _ in range(FROZEN_CHECKS):
                time.sleep(1.0)  # live flow between the checks
                compared.append(assert_frozen_book_equal(ldc, futures))
            assert watch.losses == 0  # no resync without a gap

            futures.drop_diff(SYMBOL)  # one diff lost on the way: pu breaks
            wait_for(lambda: watch.losses == 1, 10, "UBLDC to notice the gap")
            wait_for(lambda: ldc.is_depth_cache_synchronized(SYMBOL), 30, "UBLDC resynced")
            for _ in range(FROZEN_CHECKS):
                time.sleep(1.0)
                compared.append(assert_frozen_book_equal(ldc, futures))
            assert watch.losses == 1  # the gap, and nothing else
    assert compared == sorted(set(compared))  # a new book every time, the flow went on
