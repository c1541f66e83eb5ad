"""cryptofeed's ``BinanceFutures`` feed against the local exchange over TLS, URLs changed only.

cryptofeed (pinned in the ``test`` extra) accepts ``wss://`` addresses only, so the exchange
serves TLS with its throw-away certificate (``local_exchange.tls``) and cryptofeed trusts it the
way a user trusts a private CA: ``SSL_CERT_FILE`` (aiohttp and websockets use the default SSL
context) and ``REQUESTS_CA_BUNDLE`` (``requests``, which reads exchangeInfo). Nothing else of
cryptofeed is touched: a subclass only replaces ``websocket_endpoints`` / ``rest_endpoints``.

cryptofeed 2.4 predates Binance's routed WebSocket layout (exchange-protocols.md 1.1): it opens
one unrouted ``/stream?streams=`` socket per feed. Under the routed layout a depth book needs
``/public`` and aggTrade needs ``/market``, so a user runs two feeds, each pointed at its route.

cryptofeed's ``FeedHandler`` owns its event loop, its signal handlers and process-wide SSL
defaults, so it runs as a child process (this module, ``python -m tests.test_client_cryptofeed
REST_URL WS_URL``) that prints every callback as a JSON line; the test stops it with SIGTERM,
cryptofeed's own way to shut down. Offline and loopback only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptofeed import FeedHandler
from cryptofeed.connection import RestEndpoint, WebsocketEndpoint
from cryptofeed.defines import L2_BOOK, TRADES
from cryptofeed.exchanges import BinanceFutures

from local_exchange import LocalExchange
from local_exchange.matching import Level
from local_exchange.tls import SelfSigned, make_self_signed

SYMBOL, STD_SYMBOL = "BTCUSDT", "BTC-USDT-PERP"
ROOT = Path(__file__).resolve().parent.parent
Levels = list[list[str]]


# ------------------------------------------------------------- the child: cryptofeed itself
def run_cryptofeed(rest_url: str, ws_url: str) -> None:
    """Two BinanceFutures feeds (L2_BOOK on ``/public``, TRADES on ``/market``), every callback
    printed to stdout, cryptofeed's log to stderr. Runs until SIGTERM (cryptofeed's
    ``FeedHandler.run`` turns it into an orderly shutdown)."""

    def pointed_at(route: str) -> type[BinanceFutures]:
        """BinanceFutures with its addresses, and nothing else, replaced."""
        ws, rest = BinanceFutures.websocket_endpoints[0], BinanceFutures.rest_endpoints[0]
        return type("LocalBinanceFutures", (BinanceFutures,), {
            "websocket_endpoints": [WebsocketEndpoint(f"{ws_url}/{route}", options=ws.options)],
            "rest_endpoints": [RestEndpoint(rest_url, routes=rest.routes)],
        })

    def emit(event: dict[str, Any]) -> None:
        sys.stdout.write(orjson.dumps(event).decode() + "\n")
        sys.stdout.flush()

    async def on_book(book: Any, _receipt: float) -> None:
        # Its whole book: with the default max_depth (0) cryptofeed keeps the 1000-level
        # snapshot plus every diff. ``delta`` is None on a (re)sync snapshot.
        emit({"e": "book", "seq": book.sequence_number, "snapshot": book.delta is None,
              "bids": [[str(p), str(q)] for p, q in book.book.bids.to_list()],
              "asks": [[str(p), str(q)] for p, q in book.book.asks.to_list()]})

    async def on_trade(trade: Any, _receipt: float) -> None:
        emit({"e": "trade", "id": trade.id, "symbol": trade.symbol, "side": trade.side,
              "price": str(trade.price), "amount": str(trade.amount), "ts": trade.timestamp})

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    # Its own log config would add a file handler (feedhandler.log in the cwd): off.
    handler = FeedHandler(config={"log": {"disabled": True}})
    handler.add_feed(pointed_at("public")(symbols=[STD_SYMBOL], channels=[L2_BOOK],
                                          callbacks={L2_BOOK: on_book}))
    handler.add_feed(pointed_at("market")(symbols=[STD_SYMBOL], channels=[TRADES],
                                          callbacks={TRADES: on_trade}))
    handler.run()


# ------------------------------------------------------------------ the test's side
class Cryptofeed:
    """The child process and what it has reported so far."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.books: list[dict[str, Any]] = []
        self.trades: list[dict[str, Any]] = []
        self.log: list[str] = []
        self.returncode: int | None = None
        self._readers = [asyncio.create_task(self._read_events()),
                         asyncio.create_task(self._read_log())]

    async def _read_events(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            event = orjson.loads(line)
            (self.books if event["e"] == "book" else self.trades).append(event)

    async def _read_log(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.log.append(line.decode(errors="replace").rstrip())

    def logged(self, text: str) -> int:
        return sum(text in line for line in self.log)

    async def until(self, predicate: Callable[[], object], what: str,
                    timeout_s: float = 20) -> None:
        """Wait (bounded) for ``predicate``; fail with cryptofeed's log when it never holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not predicate():
            if loop.time() > deadline or self.proc.returncode is not None:
                raise AssertionError(f"cryptofeed: no {what} after {timeout_s}s; its log:\n"
                                     + "\n".join(self.log[-30:]))
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """SIGTERM, cryptofeed's own shutdown; killed only if it hangs."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.returncode = await asyncio.wait_for(self.proc.wait(), 15)
        except TimeoutError:
            self.proc.kill()
            self.returncode = await self.proc.wait()
        await asyncio.gather(*self._readers)


@asynccontextmanager
async def cryptofeed(ex: LocalExchange, tls: SelfSigned) -> AsyncIterator[Cryptofeed]:
    """cryptofeed in a child process, trusting the exchange's certificate as a user would."""
    cert = str(tls.cert_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.test_client_cryptofeed", ex.rest_url, ex.ws_url,
        cwd=ROOT, env={**os.environ, "SSL_CERT_FILE": cert, "REQUESTS_CA_BUNDLE": cert},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        limit=1 << 22)  # one line is a whole book
    client = Cryptofeed(proc)
    try:
        yield client
    finally:
        await client.stop()


def wire(ex: LocalExchange, levels: list[Level]) -> Levels:
    """The exchange's integer levels as its wire strings (cryptofeed keeps them as Decimals,
    which print back the same)."""
    instrument = ex.spec(SYMBOL).instrument
    return [[instrument.prices.format(p), instrument.quantities.format(q)] for p, q in levels]


class BookHistory:
    """The exchange's published book at every update id, recorded as the flow goes."""

    def __init__(self, ex: LocalExchange) -> None:
        self.ex = ex
        self.books: dict[int, tuple[Levels, Levels]] = {}
        self._task = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while True:  # far faster than the 100 ms publishing: no published state is missed
            uid, bids, asks = self.ex.published_book(SYMBOL)
            if uid not in self.books:
                # cryptofeed's snapshot holds 1000 levels a side: a bigger book would leave
                # far levels unknown to it, and this whole-book comparison would not hold.
                assert max(len(bids), len(asks)) < SNAPSHOT_LEVELS, "book outgrew the snapshot"
                self.books[uid] = (wire(self.ex, bids), wire(self.ex, asks))
            await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task


def first_difference(got: Levels, want: Levels) -> str:
    """A short account of where two sides differ (the sides are hundreds of levels long)."""
    for i, (a, b) in enumerate(zip(got, want, strict=False)):
        if a != b:
            return f"level {i}: cryptofeed {a}, exchange {b}"
    return f"lengths: cryptofeed {len(got)}, exchange {len(want)}"


async def freeze(ex: LocalExchange) -> int:
    """Stop the flow; once the last changes are published, REST and streams agree."""
    ex.pause()
    await asyncio.sleep(0.35)  # > 3 publish intervals: the pending diff has gone out
    return ex.published_book(SYMBOL)[0]


@pytest.fixture
def tls(tmp_path: Path) -> SelfSigned:
    return make_self_signed(tmp_path)


@pytest.fixture
async def exchange(tls: SelfSigned) -> AsyncIterator[LocalExchange]:
    async with LocalExchange([SYMBOL], seed=11, ssl_context=tls.server_context()) as ex:
        await asyncio.sleep(1.0)  # some trades and book changes first
        yield ex


# ------------------------------------------------------------------------------ tests
# Seconds of live book on each side of the injected gap (``@depth@100ms``: ~10 books a second).
BOOK_SECONDS = 5.0
TRADE_SECONDS = 5.0  # of trades compared (aggTrade: ~30 a second here)
SNAPSHOT_LEVELS = 1000
GAP_LOG = "Missing book update detected, resetting book"


async def test_cryptofeed_l2_book_equals_published_book_through_a_gap(
        exchange: LocalExchange, tls: SelfSigned) -> None:
    history = BookHistory(exchange)
    try:
        async with cryptofeed(exchange, tls) as feed:
            await feed.until(lambda: feed.books, "first book", 30)
            await asyncio.sleep(BOOK_SECONDS)
            exchange.drop_diff(SYMBOL)  # one diff lost on the way: pu breaks
            await feed.until(lambda: sum(b["snapshot"] for b in feed.books) == 2, "resync")
            await asyncio.sleep(BOOK_SECONDS)
            uid = await freeze(exchange)
            await feed.until(lambda: feed.books[-1]["seq"] == uid, f"book at id {uid}")
            _, bids, asks = exchange.published_book(SYMBOL)
    finally:
        await history.aclose()
    assert feed.returncode == 0, feed.log[-30:]  # it shut down cleanly on SIGTERM
    # The frozen book, level for level, at the exchange's last update id.
    last, frozen = feed.books[-1], (wire(exchange, bids), wire(exchange, asks))
    assert last["bids"] == frozen[0], first_difference(last["bids"], frozen[0])
    assert last["asks"] == frozen[1], first_difference(last["asks"], frozen[1])
    # Every book it delivered equals the exchange's at the same update id.
    resynced = [i for i, book in enumerate(feed.books) if book["snapshot"]][1]
    compared = {False: 0, True: 0}  # books checked before / after the resync
    for i, book in enumerate(feed.books):
        published = history.books.get(book["seq"])
        if published is not None:
            bids_at, asks_at = published
            assert book["bids"] == bids_at, (book["seq"], first_difference(book["bids"], bids_at))
            assert book["asks"] == asks_at, (book["seq"], first_difference(book["asks"], asks_at))
            compared[i >= resynced] += 1
    # One gap, seen and logged by cryptofeed itself, mended by one new snapshot (fetched by
    # cryptofeed on its own: the test only dropped a diff).
    assert feed.logged(GAP_LOG) == 1, feed.log
    assert feed.books[resynced]["seq"] > feed.books[resynced - 1]["seq"]
    assert compared[False] >= BOOK_SECONDS * 5 and compared[True] >= BOOK_SECONDS * 5, compared


async def test_cryptofeed_trades_are_the_exchange_fills(
        exchange: LocalExchange, tls: SelfSigned) -> None:
    async with cryptofeed(exchange, tls) as feed:
        await feed.until(lambda: feed.trades, "first trade", 30)
        await asyncio.sleep(TRADE_SECONDS)
        await freeze(exchange)
        own = exchange.trades.of(SYMBOL)  # the exchange's record of its own fills
        assert own is not None
        fills = own.agg_trades(from_id=int(feed.trades[0]["id"]), limit=1000)
        await feed.until(lambda: int(feed.trades[-1]["id"]) == fills[-1].agg_id,
                         f"trade {fills[-1].agg_id}")
    assert feed.returncode == 0, feed.log[-30:]
    instrument = exchange.spec(SYMBOL).instrument
    got = [(int(t["id"]), t["symbol"], t["side"], t["price"], t["amount"], t["ts"])
           for t in feed.trades]
    want = [(f.agg_id, STD_SYMBOL, "sell" if f.buyer_maker else "buy",
             instrument.prices.format(f.price), instrument.quantities.format(f.qty),
             f.time_ms / 1000) for f in fills]
    assert len(want) >= TRADE_SECONDS  # the flow trades several times a second
    assert got == want  # every fill, in order, none missed or extra


if __name__ == "__main__":
    run_cryptofeed(*sys.argv[1:3])
