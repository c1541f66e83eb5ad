"""The Binance USDT-M REST subset depthlens uses: depth, exchangeInfo, ping, time, and the
market statistics ``ticker/24hr`` and ``premiumIndex`` (bodies from ``binance_stats``).

Error bodies, weights and headers follow Binance: ``{"code": -1121, "msg": "Invalid symbol."}``
with HTTP 400, weight 2/5/10/20 by depth limit, ``X-MBX-USED-WEIGHT-1M`` on every response and
429 + ``Retry-After`` (seconds) once the 2400/minute budget is spent. The minute window is a fixed
window on the injected clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import orjson

from local_exchange.instruments import SymbolSpec
from local_exchange.server import RestResponse
from local_exchange.snapshot import Snapshot

WEIGHT_LIMIT_PER_MINUTE = 2400
DEPTH_WEIGHTS: dict[int, int] = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}
DEFAULT_DEPTH_LIMIT = 500
# (weight with a symbol, weight without: every symbol), Binance's USDT-M figures.
TICKER_24HR_WEIGHTS = (1, 40)
PREMIUM_INDEX_WEIGHTS = (1, 10)


# (route, query) -> (HTTP status, JSON body): the injection control endpoint.
ControlHandler = Callable[[str, Mapping[str, str]], tuple[int, dict[str, Any]]]


class StatsSource(Protocol):
    """The venue's derived statistics (``binance_stats.BinanceStatsFeed``)."""

    def ticker_rest(self, symbol: str) -> dict[str, Any]: ...

    def premium_index_rest(self, symbol: str) -> dict[str, Any] | None: ...


class BookSource(Protocol):
    """What the REST layer needs from the simulated or replayed market."""

    def listed(self) -> Mapping[str, SymbolSpec]: ...

    def snapshot(self, symbol: str, limit: int, stale: bool) -> Snapshot | None: ...


@dataclass(slots=True)
class RestFaults:
    """Pending REST faults; each counter is consumed by depth requests."""

    rate_limited: int = 0
    retry_after_s: int = 1
    server_errors: int = 0
    server_error_status: int = 503
    stale_snapshots: dict[str, int] | None = None

    def take_stale(self, symbol: str) -> bool:
        if not self.stale_snapshots or not self.stale_snapshots.get(symbol):
            return False
        self.stale_snapshots[symbol] -= 1
        return True


class RestApi:
    """Callable ``path -> RestResponse`` for ``StreamServer``; a dialect (``spot_dialect``)
    overrides ``route`` and ``weight_limit``."""

    weight_limit = WEIGHT_LIMIT_PER_MINUTE

    def __init__(self, source: BookSource, clock: Callable[[], int],
                 control: ControlHandler | None = None) -> None:
        self.source = source
        self.clock = clock
        self.control = control  # /control/... (injection), outside Binance's paths
        self.faults = RestFaults(stale_snapshots={})
        self.stats: StatsSource | None = None  # set by the exchange that owns the statistics
        self._window = -1
        self.used_weight = 0

    def __call__(self, path: str) -> RestResponse:
        parts = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        route = parts.path.rstrip("/")
        if route.startswith("/control/") and self.control is not None:
            status, body = self.control(route, query)
            return RestResponse(status, orjson.dumps(body))
        response = self.route(route, query)
        if response is not None:
            return response
        return RestResponse(404, orjson.dumps({"code": -1, "msg": f"Not found: {parts.path}"}))

    def route(self, route: str, query: dict[str, str]) -> RestResponse | None:
        """The venue's paths; None when the path is not one of them."""
        if route == "/fapi/v1/depth":
            return self._depth(query)
        if route == "/fapi/v1/exchangeInfo":
            return self._charge(1) or self._ok(self._exchange_info())
        if route == "/fapi/v1/ping":
            return self._charge(1) or self._ok({})
        if route == "/fapi/v1/time":
            return self._charge(1) or self._ok({"serverTime": self._now_ms()})
        if route == "/fapi/v1/ticker/24hr" and self.stats is not None:
            return self._per_symbol(query, TICKER_24HR_WEIGHTS, self.stats.ticker_rest)
        if route == "/fapi/v1/premiumIndex" and self.stats is not None:
            return self._per_symbol(query, PREMIUM_INDEX_WEIGHTS, self.stats.premium_index_rest)
        return None

    # --------------------------------------------------------------- statistics
    def _per_symbol(self, query: dict[str, str], weights: tuple[int, int],
                    body_of: Callable[[str], dict[str, Any] | None]) -> RestResponse:
        """One symbol's body (``symbol=``), or a list of every listed symbol's without it.

        An unknown symbol is Binance's -1121; a symbol without a body yet (a replay before
        its book) is left out of the list, and asked for alone it is -1121 too."""
        symbol = query.get("symbol")
        blocked = self._charge(weights[0] if symbol else weights[1])
        if blocked:
            return blocked
        if symbol is None:
            bodies = (body_of(s) for s in list(self.source.listed()))
            return RestResponse(200, orjson.dumps([b for b in bodies if b is not None]),
                                self._weight_header())
        body = body_of(symbol) if symbol in self.source.listed() else None
        if body is None:
            return self._error(400, -1121, "Invalid symbol.", weight=0)
        return self._ok(body)

    # ------------------------------------------------------------------ depth
    default_depth_limit = DEFAULT_DEPTH_LIMIT

    def _depth_weight(self, limit_text: str) -> int | RestResponse:
        """The request's weight, or the venue's error for a bad ``limit``."""
        if not limit_text.isdigit():
            return self._error(400, -1100, "Illegal characters found in parameter 'limit'; "
                               "legal range is '^[0-9]{1,20}$'.", weight=1)
        if int(limit_text) not in DEPTH_WEIGHTS:
            return self._error(400, -1130, "Data sent for parameter 'limit' is not valid.",
                               weight=1)
        return DEPTH_WEIGHTS[int(limit_text)]

    def _depth_body(self, snap: Snapshot, levels: dict[str, Any]) -> dict[str, Any]:
        return {"lastUpdateId": snap.last_update_id, "E": self._now_ms(),
                "T": snap.transaction_ms, **levels}

    def _depth(self, query: dict[str, str]) -> RestResponse:
        symbol = query.get("symbol", "")
        limit_text = query.get("limit", str(self.default_depth_limit))
        if not symbol:
            return self._error(400, -1102, "Mandatory parameter 'symbol' was not sent, was "
                               "empty/null, or malformed.", weight=1)
        weight = self._depth_weight(limit_text)
        if isinstance(weight, RestResponse):
            return weight
        limit = int(limit_text)
        blocked = self._charge(weight) or self._pending_fault()
        if blocked:
            return blocked
        if symbol not in self.source.listed():
            return self._error(400, -1121, "Invalid symbol.", weight=0)
        snap = self.source.snapshot(symbol, limit, self.faults.take_stale(symbol))
        if snap is None:
            return self._error(503, -1001, "Internal error; unable to process your request. "
                               "Please try again.", weight=0)
        spec = self.source.listed()[symbol]
        fmt_p, fmt_q = spec.instrument.prices.format, spec.instrument.quantities.format
        return self._ok(self._depth_body(snap, {
            "bids": [[fmt_p(p), fmt_q(q)] for p, q in snap.bids],
            "asks": [[fmt_p(p), fmt_q(q)] for p, q in snap.asks]}))

    # ------------------------------------------------------------ exchangeInfo
    def _exchange_info(self) -> dict[str, Any]:
        return {
            "timezone": "UTC",
            "serverTime": self._now_ms(),
            "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": WEIGHT_LIMIT_PER_MINUTE},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1,
                 "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                 "limit": 300},
            ],
            "exchangeFilters": [],
            "symbols": [_symbol_info(spec) for spec in self.source.listed().values()],
        }

    # --------------------------------------------------------------- plumbing
    def _pending_fault(self) -> RestResponse | None:
        """A queued fault (rate limit, server error) for this depth request, if any."""
        if self.faults.rate_limited > 0:
            self.faults.rate_limited -= 1
            return self._too_many(self.faults.retry_after_s)
        if self.faults.server_errors > 0:
            self.faults.server_errors -= 1
            return self._error(self.faults.server_error_status, -1001,
                               "Internal error; unable to process your request. Please try "
                               "again.", weight=0)
        return None

    def _now_ms(self) -> int:
        return self.clock() // 1_000_000

    def _charge(self, weight: int) -> RestResponse | None:
        """Count ``weight`` in this minute; a 429 response if the budget is spent."""
        now_ms = self._now_ms()
        window = now_ms // 60_000
        if window != self._window:
            self._window, self.used_weight = window, 0
        if self.used_weight + weight > self.weight_limit:
            return self._too_many(max(1, 60 - (now_ms % 60_000) // 1000))
        self.used_weight += weight
        return None

    def _too_many(self, retry_after_s: int) -> RestResponse:
        body = {"code": -1003, "msg": f"Too many requests; current limit of IP(127.0.0.1) "
                f"request weight per minute is {self.weight_limit}. Please use WebSocket "
                "Streams for live updates to avoid polling the API."}
        return RestResponse(429, orjson.dumps(body), {**self._weight_header(),
                                                      "Retry-After": str(retry_after_s)})

    def _error(self, status: int, code: int, msg: str, weight: int) -> RestResponse:
        self._charge(weight)
        return RestResponse(status, orjson.dumps({"code": code, "msg": msg}),
                            self._weight_header())

    def _ok(self, payload: dict[str, Any]) -> RestResponse:
        return RestResponse(200, orjson.dumps(payload), self._weight_header())

    def _weight_header(self) -> dict[str, str]:
        return {"X-MBX-USED-WEIGHT-1M": str(self.used_weight)}


def _symbol_info(spec: SymbolSpec) -> dict[str, Any]:
    base = spec.symbol.removesuffix("USDT")
    return {
        "symbol": spec.symbol, "pair": spec.symbol, "contractType": "PERPETUAL",
        "status": "TRADING", "baseAsset": base, "quoteAsset": "USDT", "marginAsset": "USDT",
        "pricePrecision": spec.price_precision, "quantityPrecision": spec.quantity_precision,
        "filters": [
            {"filterType": "PRICE_FILTER", "tickSize": spec.tick_size, "minPrice": spec.tick_size,
             "maxPrice": "1000000"},
            {"filterType": "LOT_SIZE", "stepSize": spec.step_size, "minQty": spec.step_size,
             "maxQty": "1000"},
        ],
    }
