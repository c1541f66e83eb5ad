"""The Binance USDT-M futures feed: sockets in, typed events out to one engine per symbol.

Under Binance's 2026 routed layout depth lives under ``/public`` and aggTrade under ``/market``,
so a book plus its trades needs two connections; each carries every symbol as a combined stream
(at most 200 streams per connection, the conservative documented limit). The ``/market``
connections also carry each symbol's mark price and funding (``@markPrice@1s``) and 24-hour
ticker (``@ticker``), which go to ``on_stats``.

Symbols can be added and removed while the feed runs (``add_symbol``/``remove_symbol``; the
connections are ``StreamSet``s).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping

from data_ingestion.backoff import retry_bounded
from data_ingestion.binance.parser import FuturesParser, instruments_from_exchange_info
from data_ingestion.binance.rest import BinanceRest, RestError
from marketdata.clock import Clock
from data_ingestion.connection import SupervisedSocket
from data_ingestion.engine import SymbolEngine
from data_ingestion.stream_set import StreamSet
from data_ingestion.symbol_feed import SymbolFeed
from marketdata.markets import BINANCE_USDM
from orderbook.instrument import Instrument

log = logging.getLogger(__name__)

MAX_STREAMS_PER_CONNECTION = 200
DEPTH_STREAM = "{}@depth@100ms"
TRADE_STREAM = "{}@aggTrade"
MARK_PRICE_STREAM = "{}@markPrice@1s"  # every second (plain @markPrice: every 3 s)
TICKER_STREAM = "{}@ticker"


def market_streams(symbol: str) -> list[str]:
    """A symbol's ``/market`` streams: trades and statistics, on one connection together."""
    name = symbol.lower()
    return [TRADE_STREAM.format(name), MARK_PRICE_STREAM.format(name), TICKER_STREAM.format(name)]


def stream_url(ws_url: str, route: str, streams: list[str]) -> str:
    """The combined-stream URL of ``streams`` under ``/<route>``."""
    return f"{ws_url.rstrip('/')}/{route}/stream?streams={'/'.join(streams)}"


async def load_instruments(rest: BinanceRest, symbols: list[str], attempts: int = 10,
                           delay_s: float = 1.0) -> dict[str, Instrument]:
    """Tick and step sizes from exchangeInfo, retried a bounded number of times."""
    return await load_with_retries(rest, instruments_from_exchange_info, symbols, attempts,
                                   delay_s)


async def load_with_retries(rest: BinanceRest,
                            parse: Callable[[bytes, list[str]], dict[str, Instrument]],
                            symbols: list[str], attempts: int,
                            delay_s: float) -> dict[str, Instrument]:
    """``parse`` of the venue's exchangeInfo (``rest.exchange_info``), the request retried a
    bounded number of times (honouring ``Retry-After``); a ParseError is not retried."""
    body = await retry_bounded(rest.exchange_info, RestError, attempts, delay_s, "exchangeInfo")
    return parse(body, symbols)


class BinanceFuturesFeed(SymbolFeed):
    """Routes stream frames to engines and serves the engines' snapshot requests."""

    venue = BINANCE_USDM

    def __init__(self, rest: BinanceRest, ws_url: str, instruments: Mapping[str, Instrument],
                 clock: Clock, silence_timeout_s: float | None = 10.0,
                 snapshot_limit: int = 1000,
                 reconnect_backoff_s: tuple[float, float] = (0.5, 30.0)) -> None:
        super().__init__(rest, FuturesParser(instruments), snapshot_limit)
        self.depth = StreamSet("depth", lambda s: stream_url(ws_url, "public", s),
                               MAX_STREAMS_PER_CONNECTION, self._on_frame, self._on_depth_state,
                               clock, silence_timeout_s, reconnect_backoff_s)
        # Trades may legitimately pause on a quiet symbol: only pings guard these sockets (the
        # statistics streams keep them busy anyway, every second).
        self.trades = StreamSet("trades", lambda s: stream_url(ws_url, "market", s),
                                MAX_STREAMS_PER_CONNECTION, self._on_frame, None, clock, None,
                                reconnect_backoff_s)

    @property
    def sockets(self) -> list[SupervisedSocket]:
        return self.depth.sockets + self.trades.sockets

    def attach(self, engines: Iterable[SymbolEngine]) -> None:
        """Engines to open with (before ``run``); later ones come through ``add_symbol``."""
        for engine in engines:
            self.engines[engine.symbol] = engine
            name = engine.symbol.lower()
            self.depth.preload([[DEPTH_STREAM.format(name)]])
            self.trades.preload([market_streams(engine.symbol)])

    async def run(self) -> None:
        """Keep every socket open until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.depth.run(), name="depth-streams")
            tasks.create_task(self.trades.run(), name="trade-streams")

    def depth_socket(self, symbol: str) -> SupervisedSocket | None:
        """The socket carrying ``symbol``'s depth stream (for health reporting)."""
        return self.depth.socket_of(DEPTH_STREAM.format(symbol.lower()))

    async def _subscribe(self, symbol: str) -> SupervisedSocket:
        socket = await self.depth.add([DEPTH_STREAM.format(symbol.lower())])
        await self.trades.add(market_streams(symbol))
        return socket

    async def _unsubscribe(self, symbol: str) -> None:
        await self.depth.remove(symbol)
        await self.trades.remove(symbol)
