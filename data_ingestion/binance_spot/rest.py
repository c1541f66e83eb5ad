"""Binance Spot REST: ``/api/v3`` depth snapshots and exchangeInfo under spot's weight budget.

The transport, the 429/418/``Retry-After`` handling and the sliding ``WeightBudget`` are the
futures client's (``data_ingestion.binance.rest``), reused by subclassing: only the paths, the
budget (6000 weight per minute per IP) and the depth weights differ (protocol doc sections 2.7
and 2.8). Spot's budget is separate from futures': Binance counts the two APIs apart.
"""

from __future__ import annotations

import httpx

from data_ingestion.binance.rest import BinanceRest, WeightBudget
from marketdata.clock import Clock

SPOT_REST_URL = "https://api.binance.com"
SPOT_WEIGHT_PER_MINUTE = 6000
MAX_DEPTH_LIMIT = 5000
# GET /api/v3/exchangeInfo without a symbol filter weighs 20 (binance-spot-api-docs rest-api.md).
EXCHANGE_INFO_WEIGHT = 20
# (highest limit, weight) for GET /api/v3/depth, current since 2023-10-19 (section 2.7).
_DEPTH_WEIGHT_STEPS = ((100, 5), (500, 25), (1000, 50), (MAX_DEPTH_LIMIT, 250))


def depth_weight(limit: int) -> int:
    """Request weight of ``GET /api/v3/depth?limit=<limit>``."""
    if not 1 <= limit <= MAX_DEPTH_LIMIT:
        # The venue silently caps larger limits at 5000; asking for them hides what is spent.
        raise ValueError(f"limit must be 1-{MAX_DEPTH_LIMIT}, got {limit}")
    return next(weight for top, weight in _DEPTH_WEIGHT_STEPS if limit <= top)


class BinanceSpotRest(BinanceRest):
    """The two spot REST calls depthlens makes; errors are the futures client's exceptions."""

    def __init__(self, clock: Clock, base_url: str = SPOT_REST_URL,
                 budget: WeightBudget | None = None, timeout_s: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base_url, clock,
                         budget or WeightBudget(clock, limit_per_minute=SPOT_WEIGHT_PER_MINUTE),
                         timeout_s, transport)

    async def exchange_info(self) -> bytes:
        """Body of ``GET /api/v3/exchangeInfo``."""
        return await self._get("/api/v3/exchangeInfo", {}, weight=EXCHANGE_INFO_WEIGHT)

    async def depth(self, symbol: str, limit: int = MAX_DEPTH_LIMIT) -> tuple[bytes, int]:
        """Body of ``GET /api/v3/depth`` and its local receive time (ns).

        5000 levels by default, as spot's book procedure asks (section 2.9): levels beyond the
        snapshot stay unknown until they change, and spot's budget affords it (250 of 6000).
        """
        body = await self._get("/api/v3/depth", {"symbol": symbol, "limit": limit},
                               weight=depth_weight(limit))
        return body, self._clock.time_ns()
