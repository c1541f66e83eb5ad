"""Everything a running depthlens owns, built from the frozen config and started by the app's
lifespan: the market-data source, one engine and one rolling state per symbol, the frame clock
and the fan-out hub. Markets can be started and stopped while it runs (``start_market``,
``stop_market``); a stopped market leaves no task, socket stream, engine or state behind.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from typing import Any

import orjson

from api.cross_venue import CrossVenue
from api.frame_clock import FrameClock
from api.hub import FrameHub
from api.sources import (
    SourceEndpoints,
    VenueEndpoints,
    check_source,
    markets_by_venue,
    open_source,
    open_venue,
)
from api.venue_replay import ReplayedMarket, VenueReplayDriver
from config import Config
from data_ingestion.binance.feed import BinanceFuturesFeed, load_instruments
from data_ingestion.binance.parser import ParseError
from data_ingestion.binance.rest import BinanceRest, RestError
from data_ingestion.binance_spot.feed import BinanceSpotFeed, spot_engine
from data_ingestion.binance_spot.feed import load_instruments as load_spot_instruments
from data_ingestion.binance_spot.rest import BinanceSpotRest
from data_ingestion.coinbase.feed import CoinbaseFeed
from data_ingestion.coinbase.market import CoinbaseMarket
from data_ingestion.coinbase.parser import ParseError as CoinbaseParseError
from data_ingestion.coinbase.rest import CoinbaseRest, CoinbaseRestError, load_products
from data_ingestion.engine import SymbolEngine
from data_ingestion.recorder import WireRecorder
from depthlens import allocator
from depthlens.pipeline import VenueClockReplay
from marketdata.clock import Clock, SystemClock
from marketdata.markets import (
    BINANCE_SPOT,
    COINBASE,
    DEFAULT_VENUE,
    WIRED_VENUES,
    MarketId,
    MarketIdError,
)
from orderbook.instrument import Instrument
from state.symbol_state import SymbolState

log = logging.getLogger(__name__)
STATUS_LOG_EVERY_S = 60  # one INFO line per symbol per minute: state, rate, latency
MAX_MARKETS = 400  # the whole USDT-M market; a bound, not a promise of capacity


class MarketError(Exception):
    """A market cannot be started or stopped; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Runtime:
    def __init__(self, config: Config, clock: Clock | None = None,
                 symbols: tuple[str, ...] | None = None) -> None:
        self.config = config
        # What the source serves, resolved once (a replay's symbols come from its files).
        self.served_symbols = symbols if symbols is not None else check_source(config)
        self.clock = clock or SystemClock()
        self.hub = FrameHub(config.client_queue_size)
        self.engines: dict[str, SymbolEngine] = {}
        self.states: dict[str, SymbolState] = {}
        self.feed: BinanceFuturesFeed | None = None  # USDT-M's (markets start at runtime there)
        self.feeds: dict[str, BinanceFuturesFeed | BinanceSpotFeed | CoinbaseFeed] = {}
        self._venue_of: dict[str, str] = {}  # market key -> venue
        self._coinbase_rest: CoinbaseRest | None = None  # the products list, for new markets
        self.frame_clock = FrameClock(self.clock, self._on_tick)
        self.source: SourceEndpoints | None = None
        self._stack = AsyncExitStack()
        self._tasks: list[asyncio.Task[None]] = []
        self._engine_tasks: dict[str, asyncio.Task[None]] = {}
        self._markets_lock = asyncio.Lock()  # one start/stop at a time
        self.on_engines_ready: list[Callable[[], None]] = []  # run once engines exist
        # (key, engine) of each market started later (metrics hook its latencies)
        self.on_market_started: list[Callable[[str, Any], None]] = []
        self.on_market_stopped: list[Callable[[str], None]] = []  # e.g. drop its metric series
        self.on_tick: list[Callable[[float, int], None]] = []  # after the markets' frames
        self._collapsed: set[str] = set()
        # Encoded snapshot per symbol, valid until the next frame: the history only changes once
        # a second, so a thousand clients connecting at once cost one encoding, not a thousand.
        self._snapshot_cache: dict[str, tuple[int, str]] = {}
        self.cross_venue = CrossVenue(self)
        self.recorder: WireRecorder | None = None
        if config.record is not None:
            budget = None if config.record_max_gb is None else int(config.record_max_gb * 1e9)
            self.recorder = WireRecorder(config.record, budget)
            self.recorder.on_rotate = self._record_snapshot
            self.on_tick.append(lambda _ts, _now: self.recorder.flush())  # type: ignore[union-attr]
        if config.malloc_trim_s > 0:
            self.on_tick.append(self._trim_allocator)
        self._trimmed_at = self.clock.monotonic()
        self._side_tasks: set[asyncio.Task[None]] = set()  # e.g. a rotated file's snapshot
        self.seconds_published = 0
        self.venue_replay: VenueReplayDriver | None = None  # --clock venue

    @property
    def symbols(self) -> list[str]:
        return list(self.engines)

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()  # the embedded exchange and the HTTP client too
            raise

    async def _start(self) -> None:
        config = self.config
        # Before the embedded exchanges' and the executor's threads make arenas of their own.
        allocator.limit_arenas(config.malloc_arenas)
        if config.clock == "venue":
            self._start_venue_replay()
            return
        source = await self._stack.enter_async_context(open_source(config, self.clock,
                                                                   self.served_symbols))
        self.source = source
        grouped = markets_by_venue(source.symbols)
        for venue, endpoints in source.venues.items():
            await self._start_venue(venue, endpoints, grouped.get(venue, []))
        for ready in self.on_engines_ready:
            ready()
        for venue, feed in self.feeds.items():
            self._spawn(feed.run(), f"feed-{venue}")
        for key, engine in self.engines.items():
            self._engine_tasks[key] = self._spawn(engine.run(), f"engine-{key}")
        self._spawn(self.frame_clock.run(), "frame-clock")
        log.info("depthlens running %s for %s", config.source, ", ".join(self.engines))

    def _start_venue_replay(self) -> None:
        """``--clock venue``: the recording drives books and frames without sockets."""
        config = self.config
        replay = VenueClockReplay(config.replay_files, config, only=config.symbols or None)
        venues = replay.venues()
        for key, sync in replay.books().items():
            market = ReplayedMarket(key, replay, replay.instruments()[key], sync, self.clock)
            self.engines[key] = market  # type: ignore[assignment]
            self.states[key] = replay.states()[key]
            self._venue_of[key] = venues[key]
        markets = self.engines
        replay.on_diff = lambda key, diff: markets[key].on_diff(diff)  # type: ignore[attr-defined]
        for ready in self.on_engines_ready:
            ready()
        speed = None if math.isinf(config.speed) else config.speed
        self.venue_replay = VenueReplayDriver(replay, speed, self._publish_replayed)
        self._spawn(self.venue_replay.run(), "venue-replay")
        log.info("depthlens replaying %s on the venue clock at %s", ", ".join(self.engines),
                 "full speed" if speed is None else f"{speed:g}x")

    async def _start_venue(self, venue: str, endpoints: VenueEndpoints,
                           symbols: list[str]) -> None:
        """One venue's REST client, instruments, feed and engines (not yet running)."""
        config = self.config
        # Replays may end and go quiet; never tear sockets down for that.
        silence = None if config.source == "replay" else config.silence_timeout_s
        feed: BinanceFuturesFeed | BinanceSpotFeed | CoinbaseFeed
        if venue == COINBASE:
            await self._start_coinbase(endpoints, symbols, silence)
            return
        try:
            if venue == BINANCE_SPOT:
                spot_rest = BinanceSpotRest(self.clock, endpoints.rest_url)
                self._stack.push_async_callback(spot_rest.aclose)
                instruments = await load_spot_instruments(spot_rest, symbols)
                feed = BinanceSpotFeed(spot_rest, instruments, self.clock,
                                       ws_url=endpoints.ws_url, silence_timeout_s=silence)
            else:
                rest = BinanceRest(endpoints.rest_url, self.clock)
                self._stack.push_async_callback(rest.aclose)
                instruments = await load_instruments(rest, symbols) if symbols else {}
                feed = BinanceFuturesFeed(rest, endpoints.ws_url, instruments, self.clock,
                                          silence, config.snapshot_limit)
                self.feed = feed
        except (RestError, ParseError) as exc:
            log.error("cannot start: exchangeInfo from %s failed (%s): %s", endpoints.rest_url,
                      venue, exc)
            raise
        self.feeds[venue] = feed
        feed.recorder = self.recorder
        engines = [self._add_engine(venue, instrument) for instrument in instruments.values()]
        feed.attach(engines)

    async def _start_coinbase(self, endpoints: VenueEndpoints, products: list[str],
                              silence: float | None) -> None:
        """Coinbase: one connection owns every product's book (``CoinbaseFeed``); each product
        is served through a ``CoinbaseMarket`` facade. Increments come from the venue's public
        products list."""
        rest = CoinbaseRest(endpoints.rest_url)
        self._stack.push_async_callback(rest.aclose)
        try:
            instruments = await load_products(rest, products)
        except (CoinbaseRestError, CoinbaseParseError) as exc:
            log.error("cannot start: the Coinbase products list from %s failed: %s",
                      endpoints.rest_url, exc)
            raise
        self._coinbase_rest = rest
        if self.recorder is not None:
            log.warning("--record: Coinbase markets are not recorded (their replays read "
                        "cryptofeed captures, not this format, yet)")
        self.feeds[COINBASE] = CoinbaseFeed(endpoints.ws_url, instruments, self.clock,
                                            silence_timeout_s=silence)
        for instrument in instruments.values():
            self._add_coinbase_market(instrument)

    async def _add_coinbase_product(self, product: str) -> None:
        """A Coinbase market started at runtime: checked against the products list, then
        subscribed on the open connection."""
        assert self._coinbase_rest is not None
        instrument = (await load_products(self._coinbase_rest, [product], attempts=1))[product]
        feed = self.feeds[COINBASE]
        assert isinstance(feed, CoinbaseFeed)
        feed.add_product(instrument)
        self._add_coinbase_market(instrument)

    def _add_coinbase_market(self, instrument: Instrument) -> None:
        feed = self.feeds[COINBASE]
        assert isinstance(feed, CoinbaseFeed)
        config = self.config
        market = CoinbaseMarket(feed, instrument, self.clock, config.stale_after_s)
        key = MarketId(COINBASE, instrument.symbol).key
        state = SymbolState.from_config(instrument, market.book, config)
        state.market = key
        market.attach_observer(state)
        self.engines[key] = market  # type: ignore[assignment]
        self.states[key] = state
        self._venue_of[key] = COINBASE

    def _add_engine(self, venue: str, instrument: Instrument) -> SymbolEngine:
        config = self.config
        feed = self.feeds[venue]
        options = {"queue_size": config.engine_queue_size,
                   "stale_after_s": config.stale_after_s}
        make = spot_engine if venue == BINANCE_SPOT else SymbolEngine
        engine = make(instrument, feed.fetch_snapshot, self.clock, **options)
        key = MarketId(venue, instrument.symbol).key
        state = SymbolState.from_config(instrument, engine.book, config)
        state.market = key
        engine.attach_observer(state)
        self.engines[key] = engine
        self.states[key] = state
        self._venue_of[key] = venue
        return engine

    # ---- markets started and stopped at runtime ----------------------------------------------

    async def start_market(self, text: str) -> str:
        """Start ``text`` (``venue:symbol`` or a bare USDT-M symbol) and return its key.
        ``MarketError`` (4xx) when it is malformed, not listed by the venue, already running,
        or this source cannot serve it."""
        market = self._parse_market(text)
        async with self._markets_lock:
            symbol = market.key
            if symbol in self.engines:
                raise MarketError(409, f"{market} is already running")
            if len(self.engines) >= MAX_MARKETS:
                raise MarketError(409, f"{MAX_MARKETS} markets are running; stop one first")
            if self.config.source == "replay":
                raise MarketError(409, "a replay serves its recording's symbols only")
            if self.source is None or not self.feeds:
                raise MarketError(503, "not started yet")
            venue = market.venue
            if venue not in self.feeds:  # the first market of this venue: open the venue
                endpoints = await open_venue(self.config, self.clock, venue, [], self._stack)
                self.source.venues[venue] = endpoints
                await self._start_venue(venue, endpoints, [])
                self._spawn(self.feeds[venue].run(), f"feed-{venue}")
            exchange = self.source.venues[venue].exchange
            if exchange is not None:  # the embedded exchange simulates listed symbols on demand
                try:
                    await asyncio.to_thread(exchange.add_symbol, market.symbol)
                except ValueError as exc:
                    raise MarketError(404, f"{market}: {exc}") from None
            try:
                if venue == COINBASE:
                    await self._add_coinbase_product(market.symbol)
                    self._started(market, symbol)
                    return symbol
                instrument = await self._instrument(venue, market.symbol)
            except (ParseError, CoinbaseParseError) as exc:
                await self._release_simulation(venue, market.symbol)
                raise MarketError(404, f"{market} is not listed by the venue: {exc}") from None
            except (RestError, CoinbaseRestError) as exc:
                await self._release_simulation(venue, market.symbol)
                raise MarketError(503, f"the venue's instrument list failed: {exc}") from None
            engine = self._add_engine(venue, instrument)
            self._engine_tasks[symbol] = self._spawn(engine.run(), f"engine-{symbol}")
            await self.feeds[venue].add_symbol(engine)  # type: ignore[arg-type]
            self._started(market, symbol)
            return symbol

    def _started(self, market: MarketId, key: str) -> None:
        for hook in self.on_market_started:
            hook(key, self.engines[key])
        log.info("%s: started at runtime", market)

    async def _instrument(self, venue: str, symbol: str) -> Instrument:
        """The venue's exchangeInfo for ``symbol`` (ParseError when not listed)."""
        feed = self.feeds[venue]
        if isinstance(feed, BinanceSpotFeed):
            return (await load_spot_instruments(feed.rest, [symbol], attempts=1))[symbol]
        return (await load_instruments(feed.rest, [symbol], attempts=1))[symbol]

    async def stop_market(self, text: str) -> str:
        """Stop a running market and free what it held; ``MarketError`` 404 if not running."""
        market = self._parse_market(text)
        async with self._markets_lock:
            symbol = market.key
            if symbol not in self.engines:
                raise MarketError(404, f"{market} is not running")
            if self.venue_replay is not None:
                raise MarketError(409, "a venue-clock replay plays its markets to the end")
            feed = self.feeds[market.venue]
            if isinstance(feed, CoinbaseFeed):
                feed.remove_product(market.symbol)
            else:
                await feed.remove_symbol(market.symbol)
            task = self._engine_tasks.pop(symbol, None)
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                self._tasks.remove(task)
            del self.engines[symbol]
            del self.states[symbol]
            del self._venue_of[symbol]
            self._snapshot_cache.pop(symbol, None)
            self._collapsed.discard(symbol)
            self.hub.close(symbol)
            for hook in self.on_market_stopped:
                hook(symbol)
            await self._release_simulation(market.venue, market.symbol)
            log.info("%s: stopped at runtime", market)
            return symbol

    def _parse_market(self, text: str) -> MarketId:
        try:
            market = MarketId.parse(text)
        except MarketIdError as exc:
            raise MarketError(422, str(exc)) from None
        if market.venue not in WIRED_VENUES:
            raise MarketError(422, f"{market}: {market.venue} markets cannot be started in "
                                   f"this build; venues: {', '.join(WIRED_VENUES)}")
        return market

    async def _release_simulation(self, venue: str, symbol: str) -> None:
        endpoints = self.source.venues.get(venue) if self.source is not None else None
        if endpoints is not None and endpoints.exchange is not None \
                and self.config.source == "sim":
            await asyncio.to_thread(endpoints.exchange.remove_symbol, symbol)

    async def stop(self) -> None:
        for task in [*self._tasks, *self._side_tasks]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._side_tasks, return_exceptions=True)
        self._tasks.clear()
        if self.recorder is not None:
            self.recorder.close()  # after the feeds: nothing is written to a closed file
        await self._stack.aclose()

    def _record_snapshot(self, venue: str, symbol: str) -> None:
        """A recorded market's file rotated: fetch a REST snapshot for the new file (the feed
        records it as it records every snapshot), so each hour replays on its own."""
        feed = self.feeds.get(venue)
        if isinstance(feed, CoinbaseFeed) or feed is None:
            return

        async def fetch() -> None:
            try:
                await feed.fetch_snapshot(symbol.upper())
            except Exception as exc:  # the recording goes on; the next rotation tries again
                log.warning("recorder: no snapshot for the new %s %s file: %s", venue, symbol,
                            exc)

        task = asyncio.get_running_loop().create_task(fetch(), name=f"record-snapshot-{symbol}")
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)
        return task

    @staticmethod
    def _task_done(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    # ---- health and frames ------------------------------------------------------------------

    def integrity(self) -> dict[str, dict[str, object]]:
        return {symbol: self.symbol_health(symbol) for symbol in self.engines}

    def symbol_health(self, symbol: str) -> dict[str, object]:
        engine = self.engines[symbol]
        age = engine.last_event_age_s()
        feed = self.feeds.get(self._venue_of.get(symbol, DEFAULT_VENUE))
        sock = feed.depth_socket(engine.symbol) if feed is not None else None
        return {
            "state": engine.status(),
            "last_update_id": engine.sync.last_applied_u,
            "last_event_age_ms": None if age is None else round(age * 1000, 1),
            "gaps": engine.sync.stats.gaps,
            "resyncs": engine.sync.stats.resyncs,
            "msgs_per_s": round(engine.diff_rate.rate(), 2),
            "rate_collapsed": engine.diff_rate.collapsed(),
            "watchdog": None if sock is None else {
                "connected": sock.connected, "connects": sock.connects,
                "silences": sock.silences, "renewals": sock.renewals,
            },
        }

    def _watch_rates(self) -> None:
        """Log once when a symbol's update rate collapses, and once when it recovers."""
        for symbol, engine in self.engines.items():
            collapsed = engine.diff_rate.collapsed()
            if collapsed != (symbol in self._collapsed):
                if collapsed:
                    self._collapsed.add(symbol)
                    log.warning("%s: update rate collapsed to %.1f/s (baseline %.1f/s)", symbol,
                                engine.diff_rate.rate(), engine.diff_rate.baseline)
                else:
                    self._collapsed.discard(symbol)
                    log.info("%s: update rate recovered (%.1f/s)", symbol, engine.diff_rate.rate())

    def snapshot_text(self, symbol: str) -> str:
        """The ``snapshot`` message of docs/frames.md for ``symbol``, encoded."""
        ticks = self.seconds_published
        cached = self._snapshot_cache.get(symbol)
        if cached is None or cached[0] != ticks:
            cached = (ticks, orjson.dumps(self.states[symbol].snapshot_message()).decode())
            self._snapshot_cache[symbol] = cached
        return cached[1]

    def _trim_allocator(self, _ts: float, _now_ns: int) -> None:
        # On the process's own clock, not the frames': a --speed max replay publishes many
        # seconds a second, and memory is handed back per second of the process's life.
        now = self.clock.monotonic()
        if now - self._trimmed_at >= self.config.malloc_trim_s:
            self._trimmed_at = now
            allocator.trim()

    def _on_tick(self, ts: float, now_ns: int) -> None:
        self._watch_rates()
        integrity = {
            symbol: {"status": h["state"], "last_update_id": h["last_update_id"],
                     "last_event_age_ms": h["last_event_age_ms"], "gaps": h["gaps"],
                     "resyncs": h["resyncs"]}
            for symbol, h in self.integrity().items()
        }
        frames = []
        for symbol, state in self.states.items():
            try:
                frames.append((symbol, state.cut_frame(ts, now_ns, integrity)))
            except Exception:  # one symbol's bug must not stop every symbol's frames
                log.exception("%s: could not build the frame for %s", symbol, ts)
        self._publish(ts, now_ns, frames, int(ts * 1e9))

    def _publish(self, ts: float, now_ns: int, frames: list[tuple[str, dict[str, Any]]],
                 published_ns: int) -> None:
        """One second's frames to their viewers, then the per-second hooks. ``published_ns``
        (wall clock) starts each frame's send latency: the cut boundary live, the moment a
        replayed second goes out on the venue clock."""
        self.seconds_published += 1
        for symbol, frame in frames:
            try:
                # Encoded once per symbol, however many clients watch it.
                encoded = orjson.dumps(frame).decode()
            except Exception:
                log.exception("%s: could not encode the frame for %s", symbol, ts)
                continue
            self.hub.publish(symbol, encoded, published_ns)
            if self.seconds_published % STATUS_LOG_EVERY_S == 0:
                self._log_status(symbol, frame)
        for hook in self.on_tick:
            hook(ts, now_ns)

    def _publish_replayed(self, ts: float, frames: list[tuple[str, dict[str, Any]]]) -> None:
        """A venue-clock replay's second (``api/venue_replay.py``)."""
        self._watch_rates()
        now_ns = self.clock.time_ns()
        self._publish(ts, now_ns, frames, now_ns)

    def _log_status(self, symbol: str, frame: dict[str, Any]) -> None:
        engine = self.engines[symbol]
        latency = frame.get("latency_ms")
        log.info("%s: %s, %.1f diffs/s, u=%s, gaps %d, resyncs %d, event-to-frame %s, "
                 "%d viewers, %d frames dropped", symbol, engine.status(),
                 engine.diff_rate.rate(), engine.sync.last_applied_u, engine.sync.stats.gaps,
                 engine.sync.stats.resyncs, "n/a" if latency is None else f"{latency:.1f} ms",
                 self.hub.client_count(symbol), self.hub.dropped_frames.get(symbol, 0))
