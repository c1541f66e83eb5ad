"""The Binance Spot feed: sockets in, typed events out to one engine per symbol.

Spot has no routed paths (protocol doc section 2.1): one combined-stream connection,
``<ws>/stream?streams=...``, carries a symbol's depth, its aggTrades and its 24-hour ticker
(``@ticker``, to ``on_stats``) together, for up to 1024 streams. Sharing the socket means a quiet
symbol's trades are covered by the depth watchdog, and it halves the connection attempts spot
counts against the IP (300 per 5 minutes).

Books follow spot's update-id rules (``SPOT_RULES``): build engines with ``spot_engine``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from data_ingestion.binance.feed import load_with_retries
from data_ingestion.binance_spot.parser import SpotParser, instruments_from_exchange_info
from data_ingestion.binance_spot.rest import MAX_DEPTH_LIMIT, BinanceSpotRest
from marketdata.clock import Clock
from data_ingestion.connection import SupervisedSocket
from data_ingestion.engine import SnapshotFetch, SymbolEngine
from data_ingestion.stream_set import StreamSet
from data_ingestion.symbol_feed import SymbolFeed
from marketdata.markets import BINANCE_SPOT
from orderbook.instrument import Instrument
from orderbook.sync import SPOT_RULES


SPOT_WS_URL = "wss://stream.binance.com:9443"
MAX_STREAMS_PER_CONNECTION = 1024  # section 2.2
DEPTH_STREAM = "{}@depth@100ms"
TRADE_STREAM = "{}@aggTrade"
TICKER_STREAM = "{}@ticker"


def spot_engine(instrument: Instrument, fetch_snapshot: SnapshotFetch, clock: Clock,
                **options: Any) -> SymbolEngine:
    """A ``SymbolEngine`` whose book follows spot's update-id rules; ``options`` are the
    engine's own (observer, queue size, staleness)."""
    return SymbolEngine(instrument, fetch_snapshot, clock, rules=SPOT_RULES, **options)


def stream_url(ws_url: str, streams: list[str]) -> str:
    return f"{ws_url.rstrip('/')}/stream?streams={'/'.join(streams)}"


def symbol_streams(symbol: str) -> list[str]:
    """A symbol's depth, aggTrade and 24-hour ticker streams: carried by one connection
    together."""
    name = symbol.lower()
    return [DEPTH_STREAM.format(name), TRADE_STREAM.format(name), TICKER_STREAM.format(name)]


async def load_instruments(rest: BinanceSpotRest, symbols: list[str], attempts: int = 10,
                           delay_s: float = 1.0) -> dict[str, Instrument]:
    """Tick, step and base precision from spot exchangeInfo, retried a bounded number of
    times."""
    return await load_with_retries(rest, instruments_from_exchange_info, symbols, attempts,
                                   delay_s)


class BinanceSpotFeed(SymbolFeed):
    """Routes spot stream frames to engines and serves the engines' snapshot requests; symbols
    can be added and removed while it runs."""

    venue = BINANCE_SPOT

    def __init__(self, rest: BinanceSpotRest, instruments: Mapping[str, Instrument],
                 clock: Clock, ws_url: str = SPOT_WS_URL,
                 silence_timeout_s: float | None = 10.0, snapshot_limit: int = MAX_DEPTH_LIMIT,
                 reconnect_backoff_s: tuple[float, float] = (0.5, 30.0)) -> None:
        super().__init__(rest, SpotParser(instruments), snapshot_limit)
        self.streams = StreamSet("spot", lambda s: stream_url(ws_url, s),
                                 MAX_STREAMS_PER_CONNECTION, self._on_frame, self._on_depth_state,
                                 clock, silence_timeout_s, reconnect_backoff_s,
                                 max_messages_per_s=3)  # Spot drops beyond 5/s (2.2)

    @property
    def sockets(self) -> list[SupervisedSocket]:
        return self.streams.sockets

    def attach(self, engines: Iterable[SymbolEngine]) -> None:
        """Engines to open with (before ``run``). They must follow spot rules
        (``spot_engine``): futures rules would see a gap at every diff, since spot diffs carry
        no ``pu``."""
        for engine in engines:
            _check_rules(engine)
            self.engines[engine.symbol] = engine
            self.streams.preload([symbol_streams(engine.symbol)])

    async def run(self) -> None:
        """Keep every socket open until cancelled."""
        await self.streams.run()

    async def add_symbol(self, engine: SymbolEngine) -> None:
        _check_rules(engine)
        await super().add_symbol(engine)

    def depth_socket(self, symbol: str) -> SupervisedSocket | None:
        """The socket carrying ``symbol``'s depth stream (for health reporting)."""
        return self.streams.socket_of(DEPTH_STREAM.format(symbol.lower()))

    async def _subscribe(self, symbol: str) -> SupervisedSocket:
        return await self.streams.add(symbol_streams(symbol))

    async def _unsubscribe(self, symbol: str) -> None:
        await self.streams.remove(symbol)


def _check_rules(engine: SymbolEngine) -> None:
    if engine.sync.rules is not SPOT_RULES:
        raise ValueError(f"{engine.symbol}: engine does not use SPOT_RULES")
