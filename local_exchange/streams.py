"""Stream names, URL routing and subscription bookkeeping (Binance USDT-M, 2026 routed layout).

``/public`` carries book data (depth, bookTicker), ``/market`` everything else we serve
(aggTrade, tickers, klines, mark price); ``@trade`` is on both (``streams_catalog``). A
connection without a routed prefix gets public data only. A served stream subscribed under the
wrong prefix is accepted and stays silent, as the docs say; an unknown one is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from local_exchange.streams_catalog import routes_of

Route = Literal["public", "market"]

DEPTH_SPEEDS: dict[str, int] = {"depth@100ms": 100, "depth": 250, "depth@500ms": 500}
# Other names clients use for the same simulated streams: ``@depth@250ms`` spells out ``@depth``'s
# cadence, and ``@depth@0ms`` (every update, the name the recordings were made with) gets the
# simulator's finest stream, one diff per 100 ms step.
DEPTH_ALIASES: dict[str, tuple[str, ...]] = {"depth@100ms": ("depth@0ms",),
                                             "depth": ("depth@250ms",), "depth@500ms": ()}


class BadPath(ValueError):
    """The request path is not a market-stream URL."""


@dataclass(frozen=True, slots=True)
class StreamTarget:
    """What a WebSocket URL asks for: the route, raw vs combined framing, initial streams."""

    route: Route
    combined: bool
    streams: tuple[str, ...]


def canonical(name: str) -> str:
    """Stream names are matched case-insensitively (``btcusdt@bookTicker``), except a kline's
    interval, where ``1m`` (minute) and ``1M`` (month) differ."""
    stripped = name.strip()
    symbol, _, kind = stripped.partition("@")
    if kind.startswith("kline_"):
        return f"{symbol.lower()}@{kind}"
    return stripped.lower()


def route_of(name: str) -> Route:
    """The route of a stream by its kind; ``@trade`` (served on both) reports ``market``."""
    routes = routes_of(name)
    return "market" if "market" in routes else "public"


def parse_target(path: str) -> StreamTarget:
    """``/public/ws/a/b``, ``/market/stream?streams=a/b``, unrouted ``/ws/a``, ``/stream?...``."""
    parts = urlsplit(path)
    segments = [s for s in parts.path.split("/") if s]
    route: Route = "public"
    if segments and segments[0] in ("public", "market"):
        route = segments[0]  # type: ignore[assignment]
        segments = segments[1:]
    if not segments:
        raise BadPath(path)
    if segments[0] == "ws":
        return StreamTarget(route, False, tuple(s for s in segments[1:] if s))
    if segments[0] == "stream" and len(segments) == 1:
        joined = ",".join(parse_qs(parts.query).get("streams", []))
        names = [s for chunk in joined.split(",") for s in chunk.split("/") if s]
        return StreamTarget(route, True, tuple(names))
    raise BadPath(path)


def is_stream_path(path: str) -> bool:
    try:
        parse_target(path)
    except BadPath:
        return False
    return True
