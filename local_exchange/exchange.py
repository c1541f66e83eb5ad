"""``LocalExchange``: a Binance USDT-M or Spot look-alike on 127.0.0.1 (simulated or replayed).

One event loop owns everything: the matching engines, the publishers and the server. The
simulation ticks every ``publish_interval_ms``: the flow model runs for one interval, each symbol
publishes one ``depthUpdate`` on ``<sym>@depth@100ms`` (merged into ``@depth`` and
``@depth@500ms``), its ``aggTrade``s and a ``bookTicker`` when the touch changed. Fault-injection
methods are plain synchronous calls on that loop; from another thread use ``run_in_thread()``.

Injected liquidity events (``injection``): scenarios given here or through ``inject()`` /
``GET /control/inject`` run as real orders in the engine (simulated) or as an overlay on the
recorded book (replay); ``truth()`` / ``GET /control/truth`` return what was injected, in venue
time.

Market statistics (``binance_stats``): ``@ticker`` every second and, on USDT-M, ``@markPrice@1s``
/ ``@markPrice`` and their REST endpoints, derived from the exchange's own trades and book.
``dislocate()`` pushes a simulated symbol's price away for a while (``SimulatedSymbol.dislocate``).

Derived streams (``streams_market``): ``@trade``, partial depth, ``@kline_<i>``, mini tickers,
the ``!...`` all-market streams, from the same fills and book (``trades``, a ``TradeHistory``
the REST layer reads too). Unknown stream names are refused (``streams_catalog``,
``streams_control``). ``ssl_context`` serves ``https://``/``wss://`` on the same port.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from local_exchange.binance_stats import BinanceStatsFeed
from local_exchange.faults import (
    INVALID_JSON_FRAME,
    DepthFaults,
    MalformedKind,
    missing_fields,
)
from local_exchange.injection import Injector
from local_exchange.injection_replay import ReplayInjection, ReplayVenue
from local_exchange.injection_venue import SimVenue, Venue
from local_exchange.instruments import KNOWN_SPECS, SPOT_SPECS, SymbolSpec
from local_exchange.market_model import SPOT_FLOW, FlowParams, SimulatedSymbol
from local_exchange.matching import Level, Side
from local_exchange.publisher import DepthMerger, Payload
from local_exchange.recording import RecordedMessage
from local_exchange.replay import ReplayMarket
from local_exchange.rest import RestApi
from local_exchange.scenarios import Scenario, parse_scenario
from local_exchange.server import ServerSettings, StreamServer
from local_exchange.snapshot import Snapshot
from local_exchange.spot_dialect import (
    SpotRestApi,
    spot_agg_trade,
    spot_book_ticker,
    spot_depth,
)
from local_exchange.streams import DEPTH_ALIASES, DEPTH_SPEEDS
from local_exchange.streams_catalog import stream_validator
from local_exchange.streams_market import MarketStreams
from local_exchange.streams_replay import REPLAY_DEPTH_NAMES, REPLAY_KIND, RecordedStreams
from local_exchange.trade_history import TradeHistory
from marketdata.markets import BINANCE_SPOT, BINANCE_USDM

if TYPE_CHECKING:
    from local_exchange.threaded import ExchangeThread

log = logging.getLogger(__name__)

Clock = Callable[[], int]
PublishedBook = tuple[int, list[Level], list[Level]]
Dialect = Literal["binance-usdm", "binance-spot"]


class SimulatedMarket:
    """BookSource over the simulated symbols (the live engine book, unpublished changes too)."""

    def __init__(self, sims: Mapping[str, SimulatedSymbol]) -> None:
        self.sims = sims
        self.specs = {symbol: sim.spec for symbol, sim in sims.items()}

    def listed(self) -> Mapping[str, SymbolSpec]:
        return self.specs

    def snapshot(self, symbol: str, limit: int, stale: bool) -> Snapshot | None:
        sim = self.sims[symbol]
        old = sim.publisher.stale_book() if stale else None
        if old is not None:
            return old.truncated(limit)
        # Snapshot at id L holds exactly the changes with id <= L, published or not yet.
        bids, asks = sim.engine.depth(limit)
        return Snapshot(sim.engine.update_id, sim.engine.last_change_ns // 1_000_000, bids, asks)


class LocalExchange:
    """The local exchange. Simulated unless ``replay_files`` are given.

    Args:
        symbols: simulated symbols (must be in ``KNOWN_SPECS`` unless ``specs`` adds them);
            ignored in replay, where the recordings decide.
        seed: seeds the order-flow model (same seed, same flow given the same tick count).
        clock: returns ns; stamps E/T fields, REST times and the rate-limit window.
        replay_files: hftbacktest ``.gz`` recordings to replay instead of simulating.
        speed: replay speed, times real time.
        settings: WebSocket ping interval, pong timeout, max lifetime, send queue size.
        flow: per-symbol ``FlowParams`` overrides for the model.
        publish_interval_ms: the ``@depth@100ms`` cadence (keep 100 unless testing).
        scenarios: liquidity events to inject (``local_exchange.scenarios``); more can be
            added with ``inject()`` or ``GET /control/inject``; truth via ``truth()`` or
            ``GET /control/truth``.
        dialect: ``"binance-usdm"`` (default) or ``"binance-spot"``: the same engine and flow
            spoken as Binance Spot (``spot_dialect``), with Spot's listed symbols and steps
            (``SPOT_SPECS``). A replay serves recordings of the dialect's venue only
            (``recording_venue``); another venue's recording is a ``ValueError``.
        ssl_context: serve TLS (``https://`` and ``wss://`` on the one port); ``rest_url`` and
            ``ws_url`` then use those schemes. Overrides ``settings.ssl``.
    """

    def __init__(self, symbols: Iterable[str] = ("BTCUSDT", "ETHUSDT"), *, seed: int = 1,
                 clock: Clock = time.time_ns, replay_files: Iterable[Path | str] = (),
                 speed: float = 1.0, settings: ServerSettings | None = None,
                 flow: Mapping[str, FlowParams] | None = None,
                 specs: Mapping[str, SymbolSpec] | None = None,
                 host: str = "127.0.0.1", port: int = 0, publish_interval_ms: int = 100,
                 scenarios: Iterable[Scenario] = (), dialect: Dialect = "binance-usdm",
                 ssl_context: ssl.SSLContext | None = None) -> None:
        spot = dialect == "binance-spot"
        files = list(replay_files)
        self.dialect = dialect
        self.clock = clock
        self.host, self._requested_port = host, port
        self.publish_interval_ms = publish_interval_ms
        self._running = asyncio.Event()
        self._running.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._replay: ReplayMarket | None = None
        self._sims: dict[str, SimulatedSymbol] = {}
        if files:
            self._replay = ReplayMarket(files, speed, venue=dialect)
            source: SimulatedMarket | ReplayMarket = self._replay
            kinds: tuple[str, ...] = (REPLAY_KIND,)
        else:
            known = {**(SPOT_SPECS if spot else KNOWN_SPECS), **(specs or {})}
            flow = {**(SPOT_FLOW if spot else {}), **(flow or {})}
            now = clock()
            venue = BINANCE_SPOT if spot else BINANCE_USDM
            self._sims = {s: SimulatedSymbol(known[s], seed, flow.get(s), now, venue=venue)
                          for s in (sym.upper() for sym in symbols)}
            source = SimulatedMarket(self._sims)
            kinds = tuple(DEPTH_SPEEDS)
        # What add_symbol may start later: every listed spec, with this seed and flow.
        self._known = {**(SPOT_SPECS if spot else KNOWN_SPECS), **(specs or {})}
        self._seed, self._flow = seed, dict(flow or {})
        self.symbols = tuple(source.listed())
        self.injector = self._make_injector(seed, scenarios)
        self.rest = (SpotRestApi if spot else RestApi)(source, clock, self.injector.control)
        # Venue time of the newest recorded event (replay): the statistics' clock there.
        self._venue_ms: int | None = None
        self.stats = BinanceStatsFeed(source.listed(), spot, self._stats_book, self._venue_now,
                                      self._index_price)
        self.rest.stats = self.stats
        # The exchange's own fills, for REST trades/aggTrades/klines and @trade / @kline_<i>.
        self.trades = TradeHistory(source.listed())
        self.rest.trades = self.trades
        settings = settings or ServerSettings()
        if ssl_context is not None:
            settings = replace(settings, ssl=ssl_context)
        self._tls = settings.ssl is not None
        # Spot's own limits (exchange-protocols.md 2.2): 1024 streams, 5 messages a second.
        limits = {"max_streams": 1024, "max_incoming_per_s": 5} if spot else {}
        self.server = StreamServer(self.rest, replace(settings, routed=not spot, **limits),
                                   valid=stream_validator(source.listed, spot))
        self.streams = MarketStreams(self.server, self.trades, source.listed(), spot)
        self._spot = spot
        self._faults = {s: DepthFaults(kinds) for s in self.symbols}
        self._mergers = {s: {kind: DepthMerger(ms, sim.publisher.last_u)
                             for kind, ms in DEPTH_SPEEDS.items() if ms != 100}
                         for s, sim in self._sims.items()}
        self._last_depth: dict[str, Payload] = {}
        self._recorded = None if self._replay is None else RecordedStreams(
            self.server, self.streams, self._replay, self._faults, spot, self._last_depth)
        self.port: int | None = None

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Bind (127.0.0.1, free port by default) and start the market."""
        self.port = await self.server.start(self.host, self._requested_port)
        if self._replay is not None:
            self._tasks.append(asyncio.create_task(self._replay.run(self._emit_recorded,
                                                                    self._running)))
        else:
            self._tasks.append(asyncio.create_task(self._run_sim()))
        log.info("local exchange on %s (%s)", self.rest_url,
                 "replay" if self._replay else "simulated")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.server.stop()

    async def __aenter__(self) -> LocalExchange:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    def run_in_thread(self) -> ExchangeThread:
        """Start on a private event loop in a daemon thread; see ``ExchangeThread``."""
        from local_exchange.threaded import ExchangeThread

        return ExchangeThread(self).start()

    @property
    def rest_url(self) -> str:
        return f"{'https' if self._tls else 'http'}://{self.host}:{self._bound_port()}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self._tls else 'ws'}://{self.host}:{self._bound_port()}"

    def _bound_port(self) -> int:
        if self.port is None:
            raise RuntimeError("LocalExchange not started")
        return self.port

    # ------------------------------------------------------------ market state
    @property
    def is_replay(self) -> bool:
        return self._replay is not None

    @property
    def finished(self) -> bool:
        """Replay only: True once the whole recording has been sent (the server stays up)."""
        return self._replay is not None and self._replay.finished.is_set()

    async def wait_finished(self) -> None:
        if self._replay is None:
            raise RuntimeError("not a replay")
        await self._replay.finished.wait()

    def pause(self) -> None:
        """Stop the order flow (or the replay clock); pending changes still get published."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def published_book(self, symbol: str) -> PublishedBook:
        """``(last published update id, bids best first, asks best first)`` in integer units."""
        if self._replay is not None:
            snap = self._replay.books[symbol].state(0, stale=False)
            if snap is None:
                raise LookupError(f"{symbol}: recording has no snapshot")
            return snap.last_update_id, snap.bids, snap.asks
        book = self._sims[symbol].publisher.published_book()
        return book.last_update_id, book.bids, book.asks

    def spec(self, symbol: str) -> SymbolSpec:
        return self.rest.source.listed()[symbol]

    # ------------------------------------------------------ scenario orders (sim)
    def submit_limit(self, symbol: str, side: Side, price: int, qty: int) -> int | None:
        """Place a limit order (integer units); returns its id, None if it filled at once."""
        return self._sims[symbol].engine.add_limit(side, price, qty, self.clock())

    def cancel_order(self, symbol: str, order_id: int) -> bool:
        return self._sims[symbol].engine.cancel(order_id, self.clock())

    def submit_market(self, symbol: str, side: Side, qty: int) -> int:
        """Market order (integer qty units); returns the filled quantity."""
        return self._sims[symbol].engine.market(side, qty, self.clock())

    # ---------------------------------------------------------- injected events
    def inject(self, scenario: Scenario | Mapping[str, object]) -> str:
        """Inject one scenario ``at_s`` from now (a ``Scenario`` or its keys); returns its id.

        Raises ``ScenarioError`` (a ValueError naming the key) for a bad entry."""
        if not isinstance(scenario, Scenario):
            scenario = parse_scenario(scenario, "inject")
        return self.injector.add(scenario, from_now=True).id

    def truth(self, symbol: str | None = None) -> list[dict[str, object]]:
        """Every injected scenario's truth record so far (venue times, quote/base units)."""
        return self.injector.truth(symbol)

    def _make_injector(self, seed: int, scenarios: Iterable[Scenario]) -> Injector:
        venues: dict[str, Venue]
        if self._replay is not None:
            replay = self._replay
            overlays = {r.symbol: ReplayVenue(replay.specs[r.symbol], r.snapshot)
                        for r in replay.recordings}
            venues = dict(overlays)
            injector = Injector(venues, seed, scenarios)
            replay.hook = ReplayInjection(overlays, injector.step, injector.shown).process
            return injector
        venues = {s: SimVenue(sim) for s, sim in self._sims.items()}
        return Injector(venues, seed, scenarios)

    # ------------------------------------------------------------ listed markets
    def add_symbol(self, symbol: str) -> bool:
        """Start simulating a listed symbol (``KNOWN_SPECS``) from now on: what a venue does
        when a market opens. False if it is simulated already; ``ValueError`` when the symbol
        is not listed or the exchange replays a recording (a replay serves its files)."""
        symbol = symbol.upper()
        if self._replay is not None:
            raise ValueError("a replaying exchange serves the recording's symbols only")
        if symbol in self._sims:
            return False
        spec = self._known.get(symbol)
        if spec is None:
            raise ValueError(f"{symbol} is not listed; listed: {', '.join(self._known)}")
        sim = SimulatedSymbol(spec, self._seed, self._flow.get(symbol), self.clock(),
                              venue=BINANCE_SPOT if self._spot else BINANCE_USDM)
        self._sims[symbol] = sim
        self.injector.venues[symbol] = SimVenue(sim)
        self.rest.source.specs[symbol] = spec  # type: ignore[union-attr]
        self.trades.add(spec)
        self._faults[symbol] = DepthFaults(tuple(DEPTH_SPEEDS))
        self._mergers[symbol] = {kind: DepthMerger(ms, sim.publisher.last_u)
                                 for kind, ms in DEPTH_SPEEDS.items() if ms != 100}
        self.symbols = tuple(self._sims)
        return True

    def remove_symbol(self, symbol: str) -> bool:
        """Stop simulating ``symbol`` (its book and flow are dropped); False if it was not."""
        symbol = symbol.upper()
        if self._replay is not None or self._sims.pop(symbol, None) is None:
            return False
        self.rest.source.specs.pop(symbol, None)  # type: ignore[union-attr]
        self.injector.venues.pop(symbol, None)
        self.stats.forget(symbol)
        self.trades.forget(symbol)
        self._faults.pop(symbol, None)
        self._mergers.pop(symbol, None)
        self._last_depth.pop(symbol, None)
        self.symbols = tuple(self._sims)
        return True

    # ------------------------------------------------------------- dislocation
    def dislocate(self, symbol: str, bps: float, seconds: float) -> None:
        """Push ``symbol``'s price ``bps`` basis points away for ``seconds``, then let it
        return (the model's ``SimulatedSymbol.dislocate``). ``ValueError`` for a symbol not
        simulated here and for a replay, whose prices are the recording's."""
        if self._replay is not None:
            raise ValueError("a replay cannot be dislocated: its prices are the recording's")
        sim = self._sims.get(symbol.upper())
        if sim is None:
            raise ValueError(f"{symbol} is not simulated here; simulated: "
                             f"{', '.join(self._sims)}")
        sim.dislocate(bps, seconds, self.clock())

    # ---------------------------------------------------------------- statistics
    def _venue_now(self) -> int:
        if self._replay is not None and self._venue_ms is not None:
            return self._venue_ms
        return self.clock() // 1_000_000

    def _stats_book(self, symbol: str) -> tuple[list[Level], list[Level]] | None:
        try:
            _, bids, asks = self.published_book(symbol)
        except LookupError:  # a replay before its snapshot
            return None
        return bids, asks

    def _index_price(self, symbol: str) -> float | None:
        """The asset's spot reference in ``symbol``'s price units: its anchor on the common
        path (``asset_path``) now, without this venue's premium, deviation or dislocation.
        The model reads the path at this exchange's clock (it is given the start time)."""
        sim = self._sims.get(symbol)
        return None if sim is None else sim.index_price(self.clock())

    def _publish_stats(self, now_ms: int) -> None:
        self.streams.on_stats(self.stats.due(now_ms))

    # ------------------------------------------------------------------ faults
    def drop_diff(self, symbol: str) -> None:
        """The next depth diff of ``symbol`` is not sent (on every depth stream): pu breaks."""
        self._faults[symbol].arm("drop")

    def duplicate_diff(self, symbol: str) -> None:
        """The next depth diff of ``symbol`` is sent twice."""
        self._faults[symbol].arm("duplicate")

    def reorder_diffs(self, symbol: str) -> None:
        """The next two depth diffs of ``symbol`` are sent in swapped order."""
        self._faults[symbol].arm("reorder")

    def disconnect_all(self) -> int:
        """Abort every WebSocket at the TCP level (no close frame). Returns how many."""
        return self.server.abort_all()

    def silence(self, seconds: float) -> int:
        """Open WebSockets get no frames for ``seconds``; TCP stays open. Returns how many."""
        return self.server.silence_all(seconds)

    def rest_rate_limit(self, count: int = 1, retry_after_s: int = 1) -> None:
        """The next ``count`` depth requests get 429 with ``Retry-After: retry_after_s``."""
        self.rest.faults.rate_limited = count
        self.rest.faults.retry_after_s = retry_after_s

    def rest_server_error(self, count: int = 1, status: int = 503) -> None:
        """The next ``count`` depth requests get HTTP ``status`` (5xx) with a Binance body."""
        self.rest.faults.server_errors = count
        self.rest.faults.server_error_status = status

    def stale_snapshot(self, symbol: str, count: int = 1) -> None:
        """The next ``count`` snapshots of ``symbol`` come from an older published state."""
        assert self.rest.faults.stale_snapshots is not None
        self.rest.faults.stale_snapshots[symbol] = count

    def malformed_frame(self, symbol: str, kind: MalformedKind = "invalid_json") -> int:
        """Send one bad frame to every depth subscriber of ``symbol`` now.

        ``invalid_json``: a text frame that is not JSON. ``missing_fields``: the latest
        depthUpdate without ``U``/``u``/``pu`` (combined subscribers get it wrapped). Returns the
        number of connections reached (0 before the first diff for ``missing_fields``).
        """
        names = self._depth_names(symbol)
        if kind == "invalid_json":
            return self.server.send_text(names, INVALID_JSON_FRAME)
        last = self._last_depth.get(symbol)
        if last is None:
            return 0
        return self.server.publish(names, missing_fields(last))

    # ---------------------------------------------------------------- internals
    def _depth_names(self, symbol: str) -> list[str]:
        kinds = REPLAY_DEPTH_NAMES if self._replay else tuple(
            name for kind, aliases in DEPTH_ALIASES.items() for name in (kind, *aliases))
        return [f"{symbol.lower()}@{kind}" for kind in kinds]

    async def _run_sim(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.publish_interval_ms / 1000
        due = loop.time()
        while True:
            due += interval
            await asyncio.sleep(max(0.0, due - loop.time()))
            if loop.time() - due > 5 * interval:
                due = loop.time()  # fell far behind (suspended?): skip, don't burst
            self._tick(interval)

    def _tick(self, dt_s: float) -> None:
        now_ns = self.clock()
        now_ms = now_ns // 1_000_000
        flowing = self._running.is_set()
        # Injected orders act at the start of the interval, so their trades' T never run
        # ahead of the flow's trades published in the same tick.
        self.injector.step(now_ns - int(dt_s * 1e9))
        for symbol, sim in self._sims.items():
            out = sim.step(now_ns, dt_s, flow=flowing)
            lower = symbol.lower()
            if out.depth is not None:
                self.injector.shown(symbol, out.depth["E"])
                self._last_depth[symbol] = out.depth
                self._send_depth(symbol, "depth@100ms", out.depth)
                for merger in self._mergers[symbol].values():
                    merger.add(out.depth, now_ms)
            for kind, merger in self._mergers[symbol].items():
                merged = merger.flush_due(now_ms)
                if merged is not None:
                    self._send_depth(symbol, kind, merged)
            for trade, fills in zip(out.agg_trades, out.agg_fills, strict=True):
                self.stats.record_payload(trade)
                self.server.publish((f"{lower}@aggtrade",),
                                    spot_agg_trade(trade) if self._spot else trade)
                self.streams.on_agg_trade(trade, fills)
            if out.book_ticker is not None:
                ticker = out.book_ticker
                sent = spot_book_ticker(ticker) if self._spot else ticker
                self.server.publish((f"{lower}@bookticker",), sent)
                self.streams.on_book_ticker(sent)
        self.streams.on_tick(now_ms)
        self._publish_stats(now_ms)

    def _send_depth(self, symbol: str, kind: str, event: Payload) -> None:
        lower = symbol.lower()
        names = (f"{lower}@{kind}", *(f"{lower}@{alias}" for alias in DEPTH_ALIASES[kind]))
        for payload in self._faults[symbol].apply(kind, event):
            self.server.publish(names, spot_depth(payload) if self._spot else payload)
        # Partial depth follows the book, not the (possibly faulted) diff stream.
        self.streams.on_depth(symbol, kind, event, self._sim_top)

    def _sim_top(self, symbol: str, levels: int) -> tuple[list[Level], list[Level]]:
        return self._sims[symbol].publisher.top(levels)

    def _emit_recorded(self, msg: RecordedMessage) -> None:
        """Send one recorded message, then whatever statistics fell due on its venue time."""
        assert self._recorded is not None
        self._recorded.emit(msg)
        event_ms = msg.data.get("E")
        if isinstance(event_ms, int):
            self._venue_ms = max(event_ms, self._venue_ms or 0)
        if msg.data.get("e") in ("trade", "aggTrade"):
            self.stats.record_payload(msg.data)
            if msg.data["e"] == "trade":
                self.streams.on_recorded_trade(msg.data)
            else:
                self.trades.on_agg_trade_payload(msg.data)
        if self._venue_ms is not None:
            self.streams.on_tick(self._venue_ms)
            self._publish_stats(self._venue_ms)
