"""Which market-stream names the local exchange serves, and on which USDT-M route.

A name is ``<symbol>@<kind>`` for a listed symbol (lowercase on the wire; matched
case-insensitively) or one of the all-market names (``!bookTicker``, ``!ticker@arr``, ...).
Anything else is refused with Binance's ``{"error": {"code": 2, "msg": "Invalid request:
invalid stream"}, "id": N}`` (the reply ccxt's ``handle_ws_error`` documents): SUBSCRIBE never
accepts a name it would then leave silent.

Routes (exchange-protocols.md 1.1): book data (``@depth*``, ``@bookTicker``, ``!bookTicker``)
under ``/public``, everything else under ``/market``. ``@trade`` is in neither list of the
routed layout, and ccxt's ``watch_trades`` subscribes it on its ``/public`` socket, so it is
served on both (cryptofeed 2.4's TRADES is ``@aggTrade``, on ``/market``). Spot has no routes.

Served but not Binance's: none. Binance's but not served here (refused as unknown):
``@rpiDepth@500ms``, ``@forceOrder``, ``!forceOrder@arr``, ``!contractInfo``,
``!assetIndex@arr``, ``@compositeIndex``, ``@continuousKline_*``, ``tradingSession``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Literal

from local_exchange.trade_history import KLINE_INTERVALS

Route = Literal["public", "market"]
BOTH: frozenset[Route] = frozenset(("public", "market"))
PUBLIC: frozenset[Route] = frozenset(("public",))
MARKET: frozenset[Route] = frozenset(("market",))

PARTIAL_LEVELS = (5, 10, 20)
# Partial-depth suffix -> the diff stream whose cadence (and update ids) it follows.
PARTIAL_SPEEDS: dict[str, str] = {"": "depth", "@100ms": "depth@100ms", "@500ms": "depth@500ms"}

_USDM_SYMBOL_KINDS = frozenset({
    "depth", "depth@100ms", "depth@500ms", "depth@0ms", "depth@250ms", "bookticker",
    "aggtrade", "trade", "markprice", "markprice@1s", "ticker", "miniticker",
} | {f"depth{n}{speed}" for n in PARTIAL_LEVELS for speed in PARTIAL_SPEEDS})
_USDM_GLOBAL = frozenset({"!bookticker", "!ticker@arr", "!miniticker@arr", "!markprice@arr",
                          "!markprice@arr@1s"})
# Spot: no !bookTicker (retired on Spot), partial depth at 1000 ms or 100 ms. Spot has no mark
# price either, but ``@markPrice[@1s]`` is accepted there and stays silent: the Spot dialect's
# tests subscribe it to show that nothing comes (test_local_exchange_market_stats).
_SPOT_SYMBOL_KINDS = frozenset({
    "depth", "depth@100ms", "depth@500ms", "depth@0ms", "depth@250ms", "bookticker",
    "aggtrade", "trade", "ticker", "miniticker", "markprice", "markprice@1s",
} | {f"depth{n}{speed}" for n in PARTIAL_LEVELS for speed in ("", "@100ms")})
_SPOT_GLOBAL = frozenset({"!ticker@arr", "!miniticker@arr"})
# "1M" and "1m" collide once lowercased: Binance keeps the case of the interval, so do we.
_KLINE_INTERVAL_OF = {f"kline_{i}": i for i in KLINE_INTERVALS}


def routes_of(name: str) -> frozenset[Route]:
    """The routes a (valid) stream is delivered on, by its kind."""
    lowered = name.strip().lower()
    kind = lowered.partition("@")[2] if not lowered.startswith("!") else lowered
    if kind == "trade":
        return BOTH
    if kind.startswith(("depth", "rpidepth")) or kind in ("bookticker", "!bookticker"):
        return PUBLIC
    return MARKET


def kline_interval(name: str) -> str | None:
    """``btcusdt@kline_1m`` -> ``"1m"`` (case kept: ``1M`` is a month); None otherwise."""
    kind = name.strip().partition("@")[2]
    return _KLINE_INTERVAL_OF.get(kind) if kind.startswith("kline_") else None


def partial_depth(name: str) -> tuple[int, str] | None:
    """``btcusdt@depth5@100ms`` -> ``(5, "depth@100ms")`` (levels, the diff stream it follows);
    None for any other stream."""
    kind = name.strip().lower().partition("@")[2]
    for levels in PARTIAL_LEVELS:
        prefix = f"depth{levels}"
        if kind.startswith(prefix) and kind[len(prefix):] in PARTIAL_SPEEDS:
            return levels, PARTIAL_SPEEDS[kind[len(prefix):]]
    return None


def stream_validator(listed: Callable[[], Collection[str]], spot: bool) -> Callable[[str], bool]:
    """``name -> served?`` against the live listing (symbols added later are served too)."""
    symbol_kinds = _SPOT_SYMBOL_KINDS if spot else _USDM_SYMBOL_KINDS
    global_names = _SPOT_GLOBAL if spot else _USDM_GLOBAL

    def valid(name: str) -> bool:
        if not isinstance(name, str):
            return False
        stripped = name.strip()
        if stripped.lower() in global_names:
            return True
        symbol, at, kind = stripped.partition("@")
        if not at or symbol.upper() not in listed():
            return False
        if kind.startswith("kline_"):
            return kind in _KLINE_INTERVAL_OF
        return kind.lower() in symbol_kinds

    return valid


__all__ = ["BOTH", "MARKET", "PUBLIC", "Route", "kline_interval", "partial_depth", "routes_of",
           "stream_validator"]
