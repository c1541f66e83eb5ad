"""Binance Spot's dialect of the local exchange: the same order-level engine and flow, spoken as
Spot speaks (../shared/docs/exchange-protocols.md section 2).

What differs from USDT-M, and only that, is translated here:

* ``depthUpdate`` has no ``pu`` and no ``T``; its ``U`` is the previous event's ``u + 1`` (the
  update ids are contiguous across events, which is what Spot's sync rule checks). A dropped
  diff therefore shows as ``U`` > last ``u + 1``, as it would on Spot;
* ``aggTrade`` carries ``M`` (always true on Spot); ``bookTicker`` has no ``e``/``E``/``T``;
* REST lives under ``/api/v3``: ``depth`` (limit up to 5000, weights 5/25/50/250, no ``E``/``T``
  in the body), ``exchangeInfo`` (Spot's shape: ``baseAssetPrecision``, no contract fields),
  ``ping``, ``time``, ``ticker/24hr`` (weight 2 for a symbol, 80 for all); a 6000-per-minute
  weight budget;
* ``@ticker`` is Spot's ``24hrTicker``, with ``x`` (the last price before the window) and the
  touch ``b``/``B``/``a``/``A`` that USDT-M's lacks (``binance_stats``); Spot has no mark price;
* no routed paths: every stream is served on ``/stream?streams=`` and ``/ws/...``.

Recorded Spot payloads (replay) are already in this shape and go out as recorded; only a
recorded ``trade`` is also offered to ``@aggTrade`` subscribers (``spot_agg_trade_of``).
"""

from __future__ import annotations

from typing import Any

from local_exchange.instruments import SymbolSpec
from local_exchange.rest import RestApi
from local_exchange.server import RestResponse
from local_exchange.snapshot import Snapshot

Payload = dict[str, Any]

SPOT_WEIGHT_LIMIT_PER_MINUTE = 6000
SPOT_MAX_DEPTH_LIMIT = 5000
SPOT_DEFAULT_DEPTH_LIMIT = 100
SPOT_TICKER_24HR_WEIGHTS = (2, 80)
BASE_ASSET_PRECISION = 8  # BTC, ETH, BNB, SOL on Spot


def spot_depth_weight(limit: int) -> int:
    """Spot's depth weight by limit (section 2.8)."""
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def spot_depth(event: Payload) -> Payload:
    """A USDT-M ``depthUpdate`` as Spot would send it."""
    return {"e": "depthUpdate", "E": event["E"], "s": event["s"], "U": event["pu"] + 1,
            "u": event["u"], "b": event["b"], "a": event["a"]}


def spot_agg_trade(event: Payload) -> Payload:
    return {**event, "M": True}


def spot_agg_trade_of(trade: Payload) -> Payload:
    """A recorded Spot ``trade`` as the aggTrade of that one fill (``a`` = ``f`` = ``l`` = its
    trade id: Spot aggregates a taker's fills, and one fill is the smallest such group)."""
    trade_id = trade["t"]
    return {"e": "aggTrade", "E": trade["E"], "s": trade["s"], "a": trade_id, "p": trade["p"],
            "q": trade["q"], "f": trade_id, "l": trade_id, "T": trade["T"], "m": trade["m"],
            "M": True}


def spot_book_ticker(event: Payload) -> Payload:
    return {key: event[key] for key in ("u", "s", "b", "B", "a", "A")}


class SpotRestApi(RestApi):
    """``/api/v3`` REST over the same book source, limits and faults as ``RestApi``."""

    weight_limit = SPOT_WEIGHT_LIMIT_PER_MINUTE

    def route(self, route: str, query: dict[str, str]) -> RestResponse | None:
        if route == "/api/v3/depth":
            return self._depth(query)
        if route == "/api/v3/exchangeInfo":
            return self._charge(20) or self._ok(self._spot_exchange_info())
        if route == "/api/v3/ping":
            return self._charge(1) or self._ok({})
        if route == "/api/v3/time":
            return self._charge(1) or self._ok({"serverTime": self._now_ms()})
        if route == "/api/v3/ticker/24hr" and self.stats is not None:
            return self._per_symbol(query, SPOT_TICKER_24HR_WEIGHTS, self.stats.ticker_rest)
        return None

    default_depth_limit = SPOT_DEFAULT_DEPTH_LIMIT

    def _depth_weight(self, limit_text: str) -> int | RestResponse:
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= SPOT_MAX_DEPTH_LIMIT:
            return self._error(400, -1100, "Illegal characters found in parameter 'limit'; "
                               "legal range is '1' to '5000'.", weight=1)
        return spot_depth_weight(int(limit_text))

    def _depth_body(self, snap: Snapshot, levels: dict[str, Any]) -> dict[str, Any]:
        return {"lastUpdateId": snap.last_update_id, **levels}  # no E or T on Spot

    def _spot_exchange_info(self) -> dict[str, Any]:
        return {
            "timezone": "UTC", "serverTime": self._now_ms(),
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                            "intervalNum": 1, "limit": SPOT_WEIGHT_LIMIT_PER_MINUTE}],
            "exchangeFilters": [],
            "symbols": [_spot_symbol_info(spec) for spec in self.source.listed().values()],
        }


def _spot_symbol_info(spec: SymbolSpec) -> dict[str, Any]:
    base = spec.symbol.removesuffix("USDT")
    return {
        "symbol": spec.symbol, "status": "TRADING", "baseAsset": base,
        "baseAssetPrecision": BASE_ASSET_PRECISION, "quoteAsset": "USDT", "quotePrecision": 8,
        "quoteAssetPrecision": 8, "orderTypes": ["LIMIT", "MARKET"],
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": spec.tick_size, "maxPrice": "1000000.00",
             "tickSize": spec.tick_size},
            {"filterType": "LOT_SIZE", "minQty": spec.step_size, "maxQty": "9000.00000000",
             "stepSize": spec.step_size},
        ],
    }
