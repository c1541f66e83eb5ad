"""Coinbase Advanced Trade public REST: the products list, for each product's increments.

Coinbase's books need no REST (the level2 subscription starts with a snapshot), but its
messages carry decimal strings, and depthlens books hold integer units: the price and size
increments come from ``GET /api/v3/brokerage/market/products`` (public, no key). The same list
is the venue's instrument list a market started at runtime is checked against.
"""

from __future__ import annotations

import httpx

from data_ingestion.backoff import retry_bounded
from data_ingestion.coinbase.parser import ParseError, instruments_from_products
from orderbook.instrument import Instrument

PRODUCTS_PATH = "/api/v3/brokerage/market/products"


class CoinbaseRestError(Exception):
    """The products request did not produce an answer (transport failure, 429 or 5xx, or a
    4xx). ``retry_after`` in seconds when the venue said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CoinbaseRest:
    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)

    async def products(self, product_ids: list[str]) -> bytes:
        """The raw products body; ``product_ids`` narrows it (the full list is about 1 MB)."""
        try:
            response = await self._http.get(PRODUCTS_PATH, params={"product_ids": product_ids})
        except httpx.HTTPError as exc:
            raise CoinbaseRestError(f"GET {PRODUCTS_PATH}: {exc!r}") from None
        if response.status_code != 200:
            retry = response.headers.get("Retry-After")
            raise CoinbaseRestError(
                f"GET {PRODUCTS_PATH}: HTTP {response.status_code} {response.text[:200]}",
                float(retry) if retry and retry.replace(".", "", 1).isdigit() else None)
        return response.content

    async def aclose(self) -> None:
        await self._http.aclose()


async def load_products(rest: CoinbaseRest, product_ids: list[str], attempts: int = 3,
                        delay_s: float = 1.0) -> dict[str, Instrument]:
    """Instruments of ``product_ids``; the request retried a bounded number of times. A
    ParseError (a product Coinbase does not list, a body of the wrong shape) is not retried."""
    if not product_ids:
        return {}
    body = await retry_bounded(lambda: rest.products(product_ids), CoinbaseRestError, attempts,
                               delay_s, "coinbase products")
    return instruments_from_products(body, product_ids)


__all__ = ["CoinbaseRest", "CoinbaseRestError", "ParseError", "load_products", "PRODUCTS_PATH"]
