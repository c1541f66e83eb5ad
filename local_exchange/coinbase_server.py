"""A local Coinbase Advanced Trade look-alike: one WebSocket endpoint on 127.0.0.1 serving
``level2`` (as ``l2_data``), ``market_trades``, ``ticker`` and ``heartbeats`` from books it owns.

Each product is the existing order-level simulation (``market_model.SimulatedSymbol``: the
``matching`` engine driven by the synthetic flow); every tick its published changes become one
``l2_data`` update and its fills ``market_trades`` entries, so every size sent is a sum of
resting orders. ``book(product)`` is the server's own published book, which tests compare a
client's book against. Faults are injected on demand: a lost update (its sequence number is
skipped), a duplicated update, a dropped connection.

Protocol as in exchange-protocols.md section 3: subscribe within 5 s, one channel per message,
the ``subscriptions`` reply, a ``snapshot`` per product on subscribing to level2 or ticker, one
``sequence_num`` counter per connection across all channels, ``{"type":"error"}`` for bad
requests. A product's ``ticker`` update goes out in a tick where it traded or its published touch
changed, at most once a tick (``coinbase_ticker``). ``dislocate()`` pushes a simulated product's
price away for a while (``SimulatedSymbol.dislocate``). Plain HTTP on the same port answers the
public products list (``GET /api/v3/brokerage/market/products``), where clients read each
product's increments.

Given a ``CoinbaseReplay`` it serves a real capture instead of simulating (``coinbase_replay``):
the capture's products only, its updates, trades and tickers on the captured timeline from the
first level2 subscription on. Start it alone with ``python -m local_exchange.coinbase_server --port
8765 [--replay CAPTURE.jsonl.zst --speed 1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from marketdata.clock import Clock, SystemClock
from local_exchange import coinbase_messages as msgs
from local_exchange.coinbase_replay import CoinbaseReplay
from local_exchange.coinbase_session import CHANNELS, CoinbaseSession
from local_exchange.coinbase_ticker import ProductTicker, ticker_events
from local_exchange.instruments import SymbolSpec
from local_exchange.market_model import COINBASE_FLOW, DEFAULT_FLOW, SimulatedSymbol
from local_exchange.publisher import TickOutput
from local_exchange.snapshot import Snapshot
from marketdata.markets import COINBASE
from orderbook.instrument import Instrument

log = logging.getLogger(__name__)

# Coinbase's increments (GET /api/v3/brokerage/market/products), as the 2026 capture's products
# response lists them. Start prices are each asset's one anchor shared by every venue (its
# 2024-08-08 price, as on Binance: instruments.KNOWN_SPECS), so the venues of an asset start
# together and a cross-venue difference is the model's, not the anchors'. BNB is left out: the
# issue's model of Coinbase has it unlisted, which also shows how an asset missing on one venue
# looks.
COINBASE_SPECS: dict[str, SymbolSpec] = {
    "BTC-USD": SymbolSpec.make("BTC-USD", "0.01", "0.00000001", 2, 8, "61800.20"),
    "ETH-USD": SymbolSpec.make("ETH-USD", "0.01", "0.00000001", 2, 8, "2680.00"),
    "SOL-USD": SymbolSpec.make("SOL-USD", "0.01", "0.00000001", 2, 8, "155.00"),
    "XRP-USD": SymbolSpec.make("XRP-USD", "0.0001", "0.000001", 4, 6, "0.5600"),
    "DOGE-USD": SymbolSpec.make("DOGE-USD", "0.00001", "0.1", 5, 1, "0.10100"),
}
# BTC and ETH calibrated to the Coinbase capture (scripts/feed_stats.py --venue coinbase); the
# thinner ones use the futures flows of the same assets, whose ticks are Coinbase's.
_FLOW_OF = {"SOL-USD": DEFAULT_FLOW["SOLUSDT"], "XRP-USD": DEFAULT_FLOW["XRPUSDT"],
            "DOGE-USD": DEFAULT_FLOW["DOGEUSDT"], **COINBASE_FLOW}


@dataclass(frozen=True, slots=True)
class CoinbaseServerSettings:
    tick_s: float = 0.1  # publish interval of the simulated books
    heartbeat_s: float = 1.0  # Coinbase sends one heartbeat a second
    subscribe_timeout_s: float = 5.0  # Coinbase drops a connection that does not subscribe
    send_queue_size: int = 4096
    seed: int = 7


class CoinbaseServer:
    """Owns the simulated books and the client sessions; all on one event loop, no locks."""

    def __init__(self, products: Mapping[str, SymbolSpec] | None = None,
                 settings: CoinbaseServerSettings | None = None,
                 clock: Clock | None = None, replay: CoinbaseReplay | None = None) -> None:
        """Simulates ``products`` (default: every listed one), or, given ``replay``, serves
        that capture's products and nothing else."""
        self.settings = settings or CoinbaseServerSettings()
        self.clock = clock or SystemClock()
        self.replay = replay
        start_ns = self.clock.time_ns()
        self.sims = {} if replay else {
            name: SimulatedSymbol(spec, self.settings.seed, _FLOW_OF.get(name), venue=COINBASE,
                                  start_ns=start_ns)
            for name, spec in (products or COINBASE_SPECS).items()}
        self.tickers = {name: ProductTicker(name, sim.spec.instrument)
                        for name, sim in self.sims.items()}
        self.sessions: set[CoinbaseSession] = set()
        self.paused = False
        self.connections = 0
        self.heartbeat_counter = 0
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._running = asyncio.Event()  # the replay clock runs while set
        self._running.set()
        self._book_subscriber = asyncio.Event()  # a replay starts with its first subscriber

    @property
    def is_replay(self) -> bool:  # for ExchangeThread, which runs it on its own loop and thread
        return self.replay is not None

    async def wait_finished(self) -> None:
        if self.replay is None:
            raise RuntimeError("not a replay")
        await self.replay.finished.wait()

    def listed(self) -> dict[str, Instrument]:
        """The products served: those simulated, or the capture's."""
        if self.replay is not None:
            return self.replay.instruments
        return {p: sim.spec.instrument for p, sim in self.sims.items()}

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await serve(self._handle, host, port, compression=None, max_size=2**16,
                                   process_request=self._process_request)
        books = self._run_replay() if self.replay is not None else self._run_books()
        self._tasks = [asyncio.create_task(books, name="coinbase-books"),
                       asyncio.create_task(self._run_heartbeats(), name="coinbase-heartbeats")]
        return self.port

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    ws_url = url

    @property
    def rest_url(self) -> str:
        """The products endpoint's base (the same port: plain HTTP GETs are answered there)."""
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------- control, faults
    def pause(self) -> None:
        """Stop the order flow (or the replay clock): books hold still, only heartbeats are
        sent."""
        self.paused = True
        self._running.clear()

    def resume(self) -> None:
        self.paused = False
        self._running.set()

    def book(self, product: str) -> Snapshot:
        """The book exactly as published so far (bids and asks best first, integer units)."""
        if self.replay is not None:
            return self.replay.book(product)
        return self.sims[product].publisher.published_book()

    def last_sequence(self) -> int | None:
        """The newest connection's last consumed ``sequence_num`` (None without clients)."""
        newest = max(self.sessions, key=lambda s: s.serial, default=None)
        return None if newest is None else newest.sequence

    def drop_next_update(self) -> int:
        """Lose each connection's next level2 update (its number is skipped)."""
        for session in self.sessions:
            session.drop_updates += 1
        return len(self.sessions)

    def duplicate_next_update(self) -> int:
        """Send each connection's next level2 update twice, same number."""
        for session in self.sessions:
            session.duplicate_updates += 1
        return len(self.sessions)

    def add_symbol(self, product: str) -> bool:
        """Start simulating a listed product (``COINBASE_SPECS``); False if it already is,
        ``ValueError`` when Coinbase (as modelled here) does not list it."""
        if self.replay is not None:
            raise ValueError(f"a replay serves its capture's products only "
                             f"({', '.join(self.replay.instruments)})")
        if product in self.sims:
            return False
        spec = COINBASE_SPECS.get(product)
        if spec is None:
            raise ValueError(f"{product} is not listed; listed: {', '.join(COINBASE_SPECS)}")
        self.sims[product] = SimulatedSymbol(spec, self.settings.seed, _FLOW_OF.get(product),
                                             venue=COINBASE,
                                             start_ns=self.clock.time_ns())
        self.tickers[product] = ProductTicker(product, spec.instrument)
        return True

    def remove_symbol(self, product: str) -> bool:
        """Stop simulating ``product``; subscribers simply get nothing more for it."""
        self.tickers.pop(product, None)
        return self.sims.pop(product, None) is not None

    def dislocate(self, product: str, bps: float, seconds: float) -> None:
        """Push ``product``'s price ``bps`` basis points away for ``seconds``, then let it
        return (``SimulatedSymbol.dislocate``). ``ValueError`` for a product not simulated
        here and for a replay, whose prices are the capture's."""
        if self.replay is not None:
            raise ValueError("a replay cannot be dislocated: its prices are the capture's")
        sim = self.sims.get(product)
        if sim is None:
            raise ValueError(f"{product} is not simulated here; simulated: "
                             f"{', '.join(self.sims)}")
        sim.dislocate(bps, seconds, self.clock.time_ns())

    def malformed_frame(self) -> int:
        """Send every connection a text frame that is not JSON (outside the sequence)."""
        for session in self.sessions:
            session.send_raw(b"{not json")
        return len(self.sessions)

    def silence(self, seconds: float) -> int:
        """Send nothing, heartbeats included, for ``seconds``; the sockets stay open."""
        until = asyncio.get_running_loop().time() + seconds
        for session in self.sessions:
            session.silent_until = until
        return len(self.sessions)

    def disconnect_all(self) -> int:
        """Drop every connection at the TCP level, like a network failure."""
        for session in self.sessions:
            session.ws.transport.abort()
        return len(self.sessions)

    # --------------------------------------------------------------- connections
    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        session = CoinbaseSession(ws, self.settings.send_queue_size, self.connections)
        self.sessions.add(session)
        writer = asyncio.create_task(session.write())
        watchdog = asyncio.create_task(self._require_subscription(session))
        try:
            async for message in ws:
                self._on_request(session, message)
        except ConnectionClosed as exc:
            log.info("coinbase server: connection lost: %s", exc)
        finally:
            self.sessions.discard(session)
            writer.cancel()
            watchdog.cancel()

    async def _require_subscription(self, session: CoinbaseSession) -> None:
        try:
            await asyncio.wait_for(session.subscribed.wait(), self.settings.subscribe_timeout_s)
        except TimeoutError:
            log.info("coinbase server: no subscription within %.1fs; closing",
                     self.settings.subscribe_timeout_s)
            await session.ws.close(1000, "subscribe within 5 seconds")

    def _on_request(self, session: CoinbaseSession, message: str | bytes) -> None:
        try:
            request = orjson.loads(message)
            kind, channel = request["type"], request["channel"]
            products = request.get("product_ids") or []
        except (orjson.JSONDecodeError, KeyError, TypeError):
            session.send_raw(msgs.error("malformed request"))
            return
        listed = self.listed()
        unknown = [p for p in products if p not in listed]
        # Leaving a product that is gone (delisted, or removed here) is not an error.
        if (kind not in ("subscribe", "unsubscribe") or channel not in CHANNELS
                or (unknown and kind == "subscribe")):
            session.send_raw(msgs.error(f"cannot {kind} {channel} {unknown or ''}".strip()))
            return
        now = self.clock.time_ns()
        if kind == "unsubscribe":
            self._unsubscribe(session, channel, products)
            session.send("subscriptions", now, msgs.subscriptions_events(session.subscriptions()))
            return
        session.subscribed.set()
        added = self._subscribe(session, channel, products)
        if channel == "level2" and added:
            self._book_subscriber.set()
        session.send("subscriptions", now, msgs.subscriptions_events(session.subscriptions()))
        self._send_initial(session, channel, added, now)

    @staticmethod
    def _subscribe(session: CoinbaseSession, channel: str, products: list[str]) -> list[str]:
        if channel == "heartbeats":
            session.heartbeats = True
            return []
        added = [p for p in dict.fromkeys(products) if p not in session.products[channel]]
        session.products[channel].update(added)
        return added

    @staticmethod
    def _unsubscribe(session: CoinbaseSession, channel: str, products: list[str]) -> None:
        if channel == "heartbeats":
            session.heartbeats = False
        elif products:
            session.products[channel].difference_update(products)
        else:  # no product ids: leave the channel entirely (section 3.1)
            session.products[channel].clear()

    def _send_initial(self, session: CoinbaseSession, channel: str, added: list[str],
                      now: int) -> None:
        """The snapshot a subscription starts with: the whole published book for level2;
        for market_trades an empty one (this server keeps no trade history); for ticker each
        product's current ticker, one message per product as Coinbase sends it."""
        if channel == "market_trades" and added:
            session.send("market_trades", now, msgs.trade_events("snapshot", []))
        if channel == "ticker":
            for product in added:
                entry = self._ticker_entry(product, now)
                if entry is not None:
                    session.send("ticker", now, ticker_events("snapshot", [entry]))
        if channel != "level2":
            return
        for product in added:
            book = self.book(product)
            instrument = self.listed()[product]
            session.send("l2_data", now, msgs.l2_events(
                "snapshot", product, msgs.text_levels(instrument, book.bids),
                msgs.text_levels(instrument, book.asks), book.transaction_ms * 1_000_000 or now))

    # ------------------------------------------------------------------ publishing
    async def _run_replay(self) -> None:
        """Replays wait for the first level2 subscriber, so a client that takes a while to
        start misses none of the capture (it would otherwise get a later snapshot)."""
        assert self.replay is not None
        await self._book_subscriber.wait()
        await self.replay.run(self._publish_l2, self._publish_trades, self._running,
                              self._publish_ticker)

    async def _run_books(self) -> None:
        tick = self.settings.tick_s
        while True:
            await asyncio.sleep(tick)
            now = self.clock.time_ns()
            for product, sim in self.sims.items():
                self._publish(product, sim.step(now, tick, flow=not self.paused), now)

    def _publish(self, product: str, out: TickOutput, now: int) -> None:
        if out.depth is not None:
            depth = out.depth
            self._publish_l2(product, msgs.l2_events("update", product, depth["b"], depth["a"],
                                                     depth["T"] * 1_000_000), now)
        if out.agg_trades:
            # aggTrade's m: the buyer was the maker; Coinbase's side is the maker's side.
            trades = [msgs.trade(product, t["a"], t["p"], t["q"], "BUY" if t["m"] else "SELL",
                                 t["T"] * 1_000_000) for t in out.agg_trades]
            self._publish_trades(product, msgs.trade_events("update", trades), now)
            ticker = self.tickers[product]
            for t in out.agg_trades:
                ticker.record(t["p"], t["q"], t["a"], t["T"])
        # book_ticker is set when the published touch changed this tick.
        wanted = any(session.wants("ticker", product) for session in self.sessions)
        if wanted and (out.agg_trades or out.book_ticker is not None):
            entry = self._ticker_entry(product, now)
            if entry is not None:
                self._publish_ticker(product, ticker_events("update", [entry]), now)

    def _publish_l2(self, product: str, events: bytes, event_ns: int) -> None:
        # The envelope's timestamp is the server's send time; event times are inside.
        now = self.clock.time_ns()
        for session in list(self.sessions):
            if session.wants("level2", product):
                session.send_update(now, events)

    def _publish_trades(self, product: str, events: bytes, event_ns: int) -> None:
        now = self.clock.time_ns()
        for session in list(self.sessions):
            if session.wants("market_trades", product):
                session.send("market_trades", now, events)

    def _publish_ticker(self, product: str, events: bytes, event_ns: int) -> None:
        now = self.clock.time_ns()
        for session in list(self.sessions):
            if session.wants("ticker", product):
                session.send("ticker", now, events)

    def _ticker_entry(self, product: str, now_ns: int) -> dict | None:
        """The product's ticker now: the replay's latest recorded one, or the simulation's."""
        if self.replay is not None:
            return self.replay.tickers.get(product)
        return self.tickers[product].entry(self.book(product), now_ns // 1_000_000)

    # ------------------------------------------------------------------ REST
    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        """Plain HTTP GETs on the WebSocket port: the public products list; anything that is
        not a WebSocket upgrade and not that path is a 404."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        parts = urlsplit(request.path)
        if parts.path != msgs.PRODUCTS_PATH:
            return msgs.http_json(404, {"error": "NOT_FOUND", "message": "Not Found"})
        wanted = parse_qs(parts.query).get("product_ids")
        return msgs.http_json(200, msgs.products_body(self._products(), wanted))

    def _products(self) -> list[dict]:
        if self.replay is not None:
            return self.replay.products
        return [msgs.product_entry(sim.spec, sim.publisher.published_book())
                for sim in self.sims.values()]

    async def _run_heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            self.heartbeat_counter += 1
            now = self.clock.time_ns()
            events = msgs.heartbeat_events(now, self.heartbeat_counter)
            for session in list(self.sessions):
                if session.heartbeats:
                    session.send("heartbeats", now, events)


async def _serve_forever(port: int, replay: str | None, speed: float) -> None:
    server = CoinbaseServer(replay=CoinbaseReplay(replay, speed) if replay else None)
    await server.start(port=port)
    log.info("local Coinbase Advanced Trade server on %s", server.url)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--replay", metavar="CAPTURE", help="a cryptofeed Advanced Trade "
                        "capture (.jsonl.zst) to serve instead of the simulation")
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed, x real time")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(_serve_forever(args.port, args.replay, args.speed))


if __name__ == "__main__":
    main()
