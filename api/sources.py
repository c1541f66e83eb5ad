"""Where books come from: embedded local exchanges (simulated or replaying a recording), one
per venue, each speaking its venue's protocol on its own port and thread, or the venues
themselves. Either way the same client code connects over real sockets; this module only decides
the URLs and markets, and owns the embedded exchanges' threads.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import Config, ConfigError
from marketdata.clock import Clock
from marketdata.markets import BINANCE_SPOT, BINANCE_USDM, COINBASE, MarketId


@dataclass(frozen=True)
class VenueEndpoints:
    """Where one venue's markets come from."""

    rest_url: str
    ws_url: str
    exchange: Any = None  # the embedded exchange's ExchangeThread for this venue, if any


@dataclass(frozen=True)
class SourceEndpoints:
    symbols: tuple[str, ...]  # market keys (bare symbols for USDT-M, venue:symbol otherwise)
    venues: dict[str, VenueEndpoints]

    # USDT-M's, for the code and tests that only know that venue.
    @property
    def rest_url(self) -> str:
        return self.venues[BINANCE_USDM].rest_url

    @property
    def ws_url(self) -> str:
        return self.venues[BINANCE_USDM].ws_url

    @property
    def exchange(self) -> Any:
        usdm = self.venues.get(BINANCE_USDM)
        return usdm.exchange if usdm is not None else None


def markets_by_venue(keys: tuple[str, ...]) -> dict[str, list[str]]:
    """Venue -> its venue symbols, in the order given."""
    grouped: dict[str, list[str]] = {}
    for key in keys:
        market = MarketId.parse(key)
        grouped.setdefault(market.venue, []).append(market.symbol)
    return grouped


# What each source serves when --symbols is not given. Offline: three venues and four assets
# (small enough to start in seconds); live: the two USDT-M markets depthlens started with.
SIM_DEFAULT_MARKETS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "binance-spot:BTCUSDT",
                       "coinbase:BTC-USD")
LIVE_DEFAULT_MARKETS = ("BTCUSDT", "ETHUSDT")


@functools.lru_cache(maxsize=4)
def replay_files_by_venue(files: tuple[Path, ...]) -> dict[str, list[Path]]:
    """Recordings grouped by the venue that produced them: a Coinbase Advanced Trade capture
    (cryptofeed ``.jsonl.zst``) or hftbacktest files, USDT-M or Spot by their content.
    Cached (the result is shared: do not change it): the files' heads are read once, not again
    for each venue a replay opens."""
    from local_exchange.recording import group_recordings, recording_venue

    grouped: dict[str, list[Path]] = {}
    binance = [f for f in files if not f.name.endswith(".jsonl.zst")]
    for recording in group_recordings(binance):
        grouped.setdefault(recording_venue(recording), []).extend(recording.files)
    captures = [f for f in files if f.name.endswith(".jsonl.zst")]
    if len(captures) > 1:
        raise ValueError("one Coinbase capture per replay")
    if captures:
        grouped[COINBASE] = captures
    return grouped


def recorded_markets(files: tuple[Path, ...]) -> tuple[str, ...]:
    """The market keys a replay of ``files`` serves."""
    from local_exchange.coinbase_replay import captured_products
    from local_exchange.recording import group_recordings

    keys: list[str] = []
    for venue, paths in replay_files_by_venue(files).items():
        symbols = (captured_products(paths[0]) if venue == COINBASE
                   else [r.symbol for r in group_recordings(paths)])
        keys.extend(MarketId(venue, symbol).key for symbol in symbols)
    return tuple(keys)


def check_source(config: Config) -> tuple[str, ...]:
    """The markets this source will serve; ConfigError when the source cannot serve them.

    Cheap and synchronous, so ``main.py`` can report a bad combination as a one-line error
    before anything starts.
    """
    if config.source == "live":
        return config.symbols or LIVE_DEFAULT_MARKETS
    grouped = markets_by_venue(config.symbols)
    if config.source == "sim":
        if not config.symbols:
            return SIM_DEFAULT_MARKETS
        from local_exchange.coinbase_server import COINBASE_SPECS
        from local_exchange.instruments import KNOWN_SPECS, SPOT_SPECS

        for venue, listed in ((BINANCE_USDM, KNOWN_SPECS), (BINANCE_SPOT, SPOT_SPECS),
                              (COINBASE, COINBASE_SPECS)):
            unknown = [s for s in grouped.get(venue, []) if s not in listed]
            if unknown:
                raise ConfigError(f"--symbols: the simulator models {venue} "
                                  f"{', '.join(listed)}, not {', '.join(unknown)}")
        return config.symbols
    try:
        recorded = recorded_markets(config.replay_files)
    except (OSError, ValueError, KeyError, LookupError) as exc:
        raise ConfigError(f"--replay: cannot read the recording: {exc}") from None
    if not config.symbols:
        return recorded
    missing = [s for s in config.symbols if s not in recorded]
    if missing:
        raise ConfigError(f"--symbols: the recording holds {', '.join(recorded)}, "
                          f"not {', '.join(missing)}")
    return config.symbols


@asynccontextmanager
async def open_source(config: Config, clock: Clock,
                      symbols: tuple[str, ...]) -> AsyncIterator[SourceEndpoints]:
    """Serve ``symbols`` (as ``check_source`` resolved them) from the configured source: the
    venues' own URLs, or one embedded exchange per venue, each speaking its venue's dialect on
    its own port and thread."""
    # USDT-M is always served: markets of it can be started at runtime.
    grouped = {BINANCE_USDM: [], **markets_by_venue(symbols)}
    async with AsyncExitStack() as stack:
        venues = {venue: await open_venue(config, clock, venue, venue_symbols, stack)
                  for venue, venue_symbols in grouped.items()}
        yield SourceEndpoints(symbols, venues)


async def open_venue(config: Config, clock: Clock, venue: str, symbols: list[str],
                     stack: AsyncExitStack) -> VenueEndpoints:
    """One venue's endpoints; an embedded exchange (stopped by ``stack``) unless the source is
    the venue itself. Also used when a market of a venue not open yet is started."""
    if config.source == "live":
        if venue == COINBASE:
            return VenueEndpoints(config.coinbase_rest_url, config.coinbase_ws_url)
        if venue == BINANCE_SPOT:
            return VenueEndpoints(config.binance_spot_rest_url, config.binance_spot_ws_url)
        return VenueEndpoints(config.binance_rest_url, config.binance_ws_url)
    from local_exchange import LocalExchange
    from local_exchange.coinbase_replay import CoinbaseReplay
    from local_exchange.coinbase_server import COINBASE_SPECS, CoinbaseServer
    from local_exchange.threaded import ExchangeThread

    recorded = (replay_files_by_venue(config.replay_files).get(venue, [])
                if config.source == "replay" else [])
    if venue == COINBASE:
        server = (CoinbaseServer(replay=CoinbaseReplay(recorded[0], config.speed)) if recorded
                  else CoinbaseServer({p: COINBASE_SPECS[p] for p in symbols}))
        thread = await asyncio.to_thread(ExchangeThread(server).start)  # type: ignore[arg-type]
        stack.push_async_callback(asyncio.to_thread, thread.stop)
        return VenueEndpoints(server.rest_url, server.url, thread)
    dialect = "binance-spot" if venue == BINANCE_SPOT else "binance-usdm"
    exchange = LocalExchange(symbols, clock=clock.time_ns, replay_files=recorded,
                             speed=config.speed, dialect=dialect,
                             scenarios=config.scenarios if venue == BINANCE_USDM else ())
    # Its own loop in its own thread: a busy API loop must not stall the exchange's clock.
    thread = await asyncio.to_thread(exchange.run_in_thread)
    stack.push_async_callback(asyncio.to_thread, thread.stop)
    return VenueEndpoints(exchange.rest_url, exchange.ws_url, thread)
