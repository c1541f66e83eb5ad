"""Where books come from: the embedded local exchange (simulated or replaying a recording) or
a real Binance-compatible venue. Either way the same client code connects over real sockets;
this module only decides the URLs and symbols, and owns the local exchange's thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from config import Config, ConfigError
from data_ingestion.clock import Clock


@dataclass(frozen=True)
class SourceEndpoints:
    rest_url: str
    ws_url: str
    symbols: tuple[str, ...]
    exchange: object | None = None  # the local exchange's ExchangeThread, when embedded


def check_source(config: Config) -> tuple[str, ...]:
    """The symbols this source will serve; ConfigError when the source cannot serve them.

    Cheap and synchronous, so ``main.py`` can report a bad combination as a one-line error
    before anything starts.
    """
    if config.source == "binance":
        return config.symbols
    if config.source == "sim":
        from local_exchange.instruments import KNOWN_SPECS

        unknown = [s for s in config.symbols if s not in KNOWN_SPECS]
        if unknown:
            raise ConfigError(f"--symbols: the simulator models {', '.join(KNOWN_SPECS)}, "
                              f"not {', '.join(unknown)}")
        return config.symbols
    from local_exchange.recording import group_recordings

    try:
        recorded = tuple(r.symbol for r in group_recordings(config.replay_files))
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"--replay: cannot read the recording: {exc}") from None
    if not config.symbols_given:
        return recorded
    missing = [s for s in config.symbols if s not in recorded]
    if missing:
        raise ConfigError(f"--symbols: the recording holds {', '.join(recorded)}, "
                          f"not {', '.join(missing)}")
    return config.symbols


@asynccontextmanager
async def open_source(config: Config, clock: Clock,
                      symbols: tuple[str, ...]) -> AsyncIterator[SourceEndpoints]:
    """Serve ``symbols`` (as ``check_source`` resolved them) from the configured source."""
    if config.source == "binance":
        yield SourceEndpoints(config.binance_rest_url, config.binance_ws_url, symbols)
        return
    from local_exchange import LocalExchange

    exchange = LocalExchange(symbols, clock=clock.time_ns, replay_files=config.replay_files,
                             speed=config.speed, scenarios=config.scenarios)
    # Its own loop in its own thread: a busy API loop must not stall the exchange's clock.
    thread = await asyncio.to_thread(exchange.run_in_thread)
    try:
        yield SourceEndpoints(exchange.rest_url, exchange.ws_url, symbols, thread)
    finally:
        await asyncio.to_thread(thread.stop)
