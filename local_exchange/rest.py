"""Binance USDT-M's public REST: depth, exchangeInfo, ping, time, the market statistics
``ticker/24hr`` and ``premiumIndex`` (bodies from ``binance_stats``), and the trade and book
endpoints of ``rest_market`` (aggTrades, trades, klines, ticker/bookTicker, ticker/price v1 and
v2) over the exchange's own trades (``self.trades``, a ``trade_history.TradeHistory`` the
exchange feeds with every aggTrade it publishes or trade it replays).

Error bodies, weights and headers follow Binance: ``{"code": -1121, "msg": "Invalid symbol."}``
with HTTP 400, weight 2/5/10/20 by depth limit, ``Date``, ``X-MBX-USED-WEIGHT`` and
``X-MBX-USED-WEIGHT-1M`` on every response and 429 + ``Retry-After`` (seconds) once the
2400/minute budget is spent. The minute window is a fixed window on the injected clock, and so is
``Date``. A path Binance does not serve is a 404 with an HTML page, as Binance's own front answers
(no JSON, no ``code``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import orjson

from local_exchange import rest_market
from local_exchange.instruments import DEFAULT_USDM_LISTING, USDM_LISTINGS, SymbolSpec
from local_exchange.rest_market import ApiError, MarketView
from local_exchange.server import RestResponse
from local_exchange.snapshot import Snapshot
from local_exchange.trade_history import TradeHistory

WEIGHT_LIMIT_PER_MINUTE = 2400
DEPTH_WEIGHTS: dict[int, int] = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}
DEFAULT_DEPTH_LIMIT = 500
# (weight with a symbol, weight without: every symbol), Binance's USDT-M figures.
TICKER_24HR_WEIGHTS = (1, 40)
PREMIUM_INDEX_WEIGHTS = (1, 10)
# Binance's answer to a path it does not serve is its HTML error page; this is its gist.
NOT_FOUND_HTML = (b"<!DOCTYPE html><html><head><title>Binance</title></head><body>"
                  b"<h3>404 Not Found</h3><p>Sorry! The page you are looking for cannot be "
                  b"found.</p></body></html>")
# The trade and book endpoints of ``rest_market``, by path.
MarketHandler = Callable[[Mapping[str, str], MarketView], rest_market.Answer]
MARKET_ROUTES: dict[str, MarketHandler] = {
    "/fapi/v1/aggTrades": rest_market.agg_trades,
    "/fapi/v1/trades": rest_market.trades,
    "/fapi/v1/klines": rest_market.klines,
    "/fapi/v1/ticker/bookTicker": rest_market.book_ticker,
    "/fapi/v1/ticker/price": rest_market.price_ticker,
    "/fapi/v2/ticker/price": rest_market.price_ticker,
}


# (route, query) -> (HTTP status, JSON body): the injection control endpoint.
ControlHandler = Callable[[str, Mapping[str, str]], tuple[int, dict[str, Any]]]


class StatsSource(Protocol):
    """The venue's derived statistics (``binance_stats.BinanceStatsFeed``)."""

    def ticker_rest(self, symbol: str) -> dict[str, Any]: ...

    def premium_index_rest(self, symbol: str) -> dict[str, Any] | None: ...

    def now_ms(self) -> int:
        """The venue's now: the clock when simulating, the newest recorded time in a replay."""
        ...


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
        # The exchange replaces this with its shared, fed history (``LocalExchange.trades``).
        self.trades = TradeHistory(source.listed())
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
        return RestResponse(404, NOT_FOUND_HTML, {**self._headers(),
                                                  "Content-Type": "text/html"})

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
        handler = MARKET_ROUTES.get(route)
        if handler is not None:
            return self._market(handler, query)
        return None

    # ------------------------------------------------------------ trades, book
    def _market(self, handler: MarketHandler, query: Mapping[str, str]) -> RestResponse:
        """Run a ``rest_market`` handler: Binance's error, a 429, or the body at its weight."""
        view = MarketView(self.source.listed(), self.trades, self._touch, self._venue_ms())
        try:
            answer = handler(query, view)
        except ApiError as error:
            return self._error(error.status, error.code, error.msg, weight=error.weight)
        blocked = self._charge(answer.weight)
        if blocked:
            return blocked
        return RestResponse(200, orjson.dumps(answer.body), self._headers())

    def _touch(self, symbol: str) -> Snapshot | None:
        """The best level of each side at its update id, as a depth snapshot would show it."""
        return self.source.snapshot(symbol, 1, stale=False)

    def _venue_ms(self) -> int:
        return self.stats.now_ms() if self.stats is not None else self._now_ms()

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
                                self._headers())
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
            "assets": ASSETS,
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
        return RestResponse(429, orjson.dumps(body), {**self._headers(),
                                                      "Retry-After": str(retry_after_s)})

    def _error(self, status: int, code: int, msg: str, weight: int) -> RestResponse:
        self._charge(weight)
        return RestResponse(status, orjson.dumps({"code": code, "msg": msg}), self._headers())

    def _ok(self, payload: dict[str, Any]) -> RestResponse:
        return RestResponse(200, orjson.dumps(payload), self._headers())

    def _headers(self) -> dict[str, str]:
        """``Date`` (RFC 7231, the injected clock) and the used weight, which Binance sends
        both unsuffixed and per interval (clients read either)."""
        used = str(self.used_weight)
        return {"Date": formatdate(self.clock() / 1e9, usegmt=True),
                "X-MBX-USED-WEIGHT": used, "X-MBX-USED-WEIGHT-1M": used}


# What every USDT-M perpetual lists (Binance's exchangeInfo, 2024).
ORDER_TYPES = ("LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
               "TRAILING_STOP_MARKET")
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX", "GTD")
PERPETUAL_DELIVERY_MS = 4133404800000  # 2100-12-25: Binance's "never" for a perpetual
ASSETS = [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}]


def _symbol_info(spec: SymbolSpec) -> dict[str, Any]:
    """One ``symbols`` entry, in Binance's key order; the limits come from ``USDM_LISTINGS``."""
    base = spec.symbol.removesuffix("USDT")
    listing = USDM_LISTINGS.get(spec.symbol, DEFAULT_USDM_LISTING)
    instrument = spec.instrument
    # The price band a PRICE_FILTER allows: one tick up to far above any price seen.
    max_price = instrument.prices.format(10_000_000 * instrument.price_scale)
    return {
        "symbol": spec.symbol, "pair": spec.symbol, "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY_MS, "onboardDate": listing.onboard_ms,
        "status": "TRADING", "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
        "baseAsset": base, "quoteAsset": "USDT", "marginAsset": "USDT",
        "pricePrecision": spec.price_precision, "quantityPrecision": spec.quantity_precision,
        "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
        "underlyingSubType": list(listing.sub_types), "settlePlan": 0,
        "triggerProtect": "0.0500", "liquidationFee": "0.012500", "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": spec.tick_size, "maxPrice": max_price,
             "tickSize": spec.tick_size},
            {"filterType": "LOT_SIZE", "stepSize": spec.step_size, "maxQty": listing.max_qty,
             "minQty": spec.step_size},
            {"filterType": "MARKET_LOT_SIZE", "stepSize": spec.step_size,
             "maxQty": listing.market_max_qty, "minQty": spec.step_size},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": listing.min_notional},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500",
             "multiplierDown": "0.9500", "multiplierDecimal": "4"},
        ],
        "orderTypes": list(ORDER_TYPES), "timeInForce": list(TIME_IN_FORCE),
    }
