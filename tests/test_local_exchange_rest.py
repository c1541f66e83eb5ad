"""REST shapes, limits, weights and the rate limiter (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import httpx
import pytest

from local_exchange import LocalExchange


class FakeClock:
    def __init__(self) -> None:
        self.ns = 1_723_161_600_000_000_000  # a minute boundary

    def __call__(self) -> int:
        return self.ns


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def http(clock: FakeClock):  # type: ignore[no-untyped-def]
    async with LocalExchange(seed=5, clock=clock) as ex:
        ex.pause()
        async with httpx.AsyncClient(base_url=ex.rest_url) as client:
            yield client


@pytest.mark.parametrize(("limit", "weight"), [(5, 2), (10, 2), (20, 2), (50, 2), (100, 5),
                                               (500, 10), (1000, 20)])
async def test_depth_limits_and_weights(http: httpx.AsyncClient, limit: int, weight: int) -> None:
    resp = await http.get("/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": limit})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["x-mbx-used-weight-1m"] == str(weight)
    body = resp.json()
    assert set(body) == {"lastUpdateId", "E", "T", "bids", "asks"}
    assert body["E"] == 1_723_161_600_000
    assert 0 < len(body["bids"]) <= limit and 0 < len(body["asks"]) <= limit
    prices = [float(p) for p, _ in body["bids"]]
    assert prices == sorted(prices, reverse=True)
    assert all(len(p.split(".")[1]) == 2 and len(q.split(".")[1]) == 3 for p, q in body["asks"])
    assert float(body["bids"][0][0]) < float(body["asks"][0][0])


async def test_depth_default_limit_is_500(http: httpx.AsyncClient) -> None:
    resp = await http.get("/fapi/v1/depth", params={"symbol": "ETHUSDT"})
    assert resp.headers["x-mbx-used-weight-1m"] == "10"
    assert len(resp.json()["bids"]) == 500  # the model keeps several hundred levels


@pytest.mark.parametrize(("query", "code"), [
    ({"symbol": "NOPEUSDT"}, -1121),
    ({}, -1102),
    ({"symbol": "BTCUSDT", "limit": "7"}, -1130),
    ({"symbol": "BTCUSDT", "limit": "abc"}, -1100),
])
async def test_depth_errors(http: httpx.AsyncClient, query: dict[str, str], code: int) -> None:
    resp = await http.get("/fapi/v1/depth", params=query)
    assert resp.status_code == 400
    body = resp.json()
    assert set(body) == {"code", "msg"} and body["code"] == code


async def test_unknown_path_is_an_html_404_as_binance_sends(http: httpx.AsyncClient) -> None:
    resp = await http.get("/fapi/v1/nothing")
    assert resp.status_code == 404 and resp.text.startswith("<!DOCTYPE html>")
    assert resp.headers.get_list("content-type") == ["text/html"]  # one type, not two


async def test_exchange_info_ping_time(http: httpx.AsyncClient, clock: FakeClock) -> None:
    info = (await http.get("/fapi/v1/exchangeInfo")).json()
    weight = next(r for r in info["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT")
    assert (weight["interval"], weight["intervalNum"], weight["limit"]) == ("MINUTE", 1, 2400)
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    assert (btc["status"], btc["pricePrecision"], btc["quantityPrecision"]) == ("TRADING", 2, 3)
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.10"
    assert filters["LOT_SIZE"]["stepSize"] == "0.001"
    eth = next(s for s in info["symbols"] if s["symbol"] == "ETHUSDT")
    assert {f["filterType"]: f for f in eth["filters"]}["PRICE_FILTER"]["tickSize"] == "0.01"
    assert (await http.get("/fapi/v1/ping")).json() == {}
    assert (await http.get("/fapi/v1/time")).json() == {"serverTime": clock.ns // 1_000_000}


async def test_weight_budget_gives_429_then_resets(http: httpx.AsyncClient,
                                                   clock: FakeClock) -> None:
    for _ in range(120):  # 120 * 20 = 2400: exactly the budget
        resp = await http.get("/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": 1000})
        assert resp.status_code == 200
    assert resp.headers["x-mbx-used-weight-1m"] == "2400"
    clock.ns += 15 * 10**9
    resp = await http.get("/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": 5})
    assert resp.status_code == 429
    assert resp.json()["code"] == -1003
    assert resp.headers["retry-after"] == "45"
    clock.ns += 45 * 10**9  # the next minute window
    resp = await http.get("/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": 5})
    assert resp.status_code == 200 and resp.headers["x-mbx-used-weight-1m"] == "2"
