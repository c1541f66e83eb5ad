"""Binance USDT-M REST: depth snapshots and exchangeInfo under a shared request-weight budget.

Binance limits request weight per IP (2400 per minute on /fapi; a 1000-level snapshot weighs
20). A client that resyncs many symbols at once, or keeps asking after a 429, gets its IP banned
(418), so every request goes through one ``WeightBudget``, honours ``Retry-After`` and, on a ban,
stops asking until the ban ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import httpx
import msgspec

from data_ingestion.binance import schemas
from marketdata.clock import Clock

log = logging.getLogger(__name__)

DEPTH_LIMIT_WEIGHTS = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}
WEIGHT_WINDOW_S = 60.0


class RestError(Exception):
    """A REST request did not produce a usable answer. ``retry_after`` in seconds, if known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(RestError):
    """HTTP 429: slow down for ``retry_after`` seconds or risk a ban."""


class IpBanned(RestError):
    """HTTP 418: the IP is banned for ``retry_after`` seconds. Nothing is sent until then."""


class ServerError(RestError):
    """HTTP 5xx or a transport failure: the venue's side; back off and retry."""


class RequestRejected(RestError):
    """HTTP 4xx other than 429/418: our request is wrong (e.g. an invalid symbol)."""


class WeightBudget:
    """A sliding one-minute request-weight budget shared by every symbol of one venue."""

    def __init__(self, clock: Clock, limit_per_minute: int = 2400,
                 window_s: float = WEIGHT_WINDOW_S) -> None:
        self.limit = limit_per_minute
        self.window_s = window_s
        self._clock = clock
        self._spent: deque[tuple[float, int]] = deque()
        self.blocked_until = 0.0  # monotonic time before which nothing is sent (429/418)
        self.banned = False

    def used(self) -> int:
        self._expire(self._clock.monotonic())
        return sum(w for _, w in self._spent)

    async def acquire(self, weight: int) -> None:
        if weight > self.limit:
            raise ValueError(f"weight {weight} exceeds the budget {self.limit}")
        while True:
            now = self._clock.monotonic()
            if now < self.blocked_until:
                await asyncio.sleep(self.blocked_until - now)
                continue
            self._expire(now)
            if self.used() + weight <= self.limit:
                self._spent.append((now, weight))
                return
            await asyncio.sleep(max(0.05, self._spent[0][0] + self.window_s - now))

    def block_for(self, seconds: float, banned: bool = False) -> None:
        self.blocked_until = max(self.blocked_until, self._clock.monotonic() + seconds)
        self.banned = banned

    def seconds_blocked(self) -> float:
        return max(0.0, self.blocked_until - self._clock.monotonic())

    def _expire(self, now: float) -> None:
        while self._spent and self._spent[0][0] <= now - self.window_s:
            self._spent.popleft()


class BinanceRest:
    """The two REST calls depthlens makes. The transport is injectable (httpx) for tests."""

    def __init__(self, base_url: str, clock: Clock, budget: WeightBudget | None = None,
                 timeout_s: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.budget = budget or WeightBudget(clock)
        self._clock = clock
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s,
                                       transport=transport,
                                       headers={"User-Agent": "depthlens/0.1"})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def exchange_info(self) -> bytes:
        """Body of ``GET /fapi/v1/exchangeInfo`` (weight 1)."""
        return await self._get("/fapi/v1/exchangeInfo", {}, weight=1)

    async def depth(self, symbol: str, limit: int = 1000) -> tuple[bytes, int]:
        """Body of ``GET /fapi/v1/depth`` and its local receive time (ns)."""
        if limit not in DEPTH_LIMIT_WEIGHTS:
            raise ValueError(f"limit must be one of {sorted(DEPTH_LIMIT_WEIGHTS)}")
        body = await self._get("/fapi/v1/depth", {"symbol": symbol, "limit": limit},
                               weight=DEPTH_LIMIT_WEIGHTS[limit])
        return body, self._clock.time_ns()

    async def _get(self, path: str, params: dict[str, str | int], weight: int) -> bytes:
        if self.budget.banned and self.budget.seconds_blocked() > 0:
            raise IpBanned(f"IP banned by the venue for {self.budget.seconds_blocked():.0f}s more",
                           self.budget.seconds_blocked())
        await self.budget.acquire(weight)
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise ServerError(f"GET {path}: {type(exc).__name__}: {exc}") from None
        self._note_used_weight(response)
        status = response.status_code
        if status == 200:
            return response.content
        retry_after = _retry_after(response)
        detail = _error_detail(response)
        if status == 418:
            wait = retry_after if retry_after is not None else 120.0
            self.budget.block_for(wait, banned=True)
            log.error("Binance REST answered 418: IP banned for %.0fs (%s); "
                      "no REST request will be sent until then", wait, detail)
            raise IpBanned(f"GET {path}: 418 banned ({detail})", wait)
        if status == 429:
            wait = retry_after if retry_after is not None else 60.0
            self.budget.block_for(wait)
            log.warning("Binance REST answered 429 (%s); pausing REST for %.1fs", detail, wait)
            raise RateLimited(f"GET {path}: 429 rate limited ({detail})", wait)
        if status >= 500:
            raise ServerError(f"GET {path}: HTTP {status} ({detail})", retry_after)
        raise RequestRejected(f"GET {path}: HTTP {status} ({detail})")

    def _note_used_weight(self, response: httpx.Response) -> None:
        used = response.headers.get("X-MBX-USED-WEIGHT-1M")
        if used and used.isdigit() and int(used) > self.budget.limit * 0.9:
            log.warning("venue reports %s of %d request weight used this minute", used,
                        self.budget.limit)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_detail(response: httpx.Response) -> str:
    try:
        err = msgspec.json.decode(response.content, type=schemas.ErrorReply)
        return f"code {err.code}: {err.msg}"
    except (msgspec.ValidationError, msgspec.DecodeError):
        return response.text[:200]
