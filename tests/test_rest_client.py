"""The REST client against a real HTTP server on 127.0.0.1 that answers what we script:
418 stops all requests, 429 honours Retry-After, 5xx is retriable, weight is budgeted."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from data_ingestion.binance.rest import (
    BinanceRest,
    IpBanned,
    RateLimited,
    RequestRejected,
    ServerError,
    WeightBudget,
)
from marketdata.clock import SystemClock


class ScriptedVenue(ThreadingHTTPServer):
    """Answers each request with the next scripted (status, headers, body); then 200."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[tuple[int, dict[str, str], dict[str, object]]] = []
        self.requests: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedVenue

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests.append(self.path)
        status, headers, body = (self.server.script.pop(0) if self.server.script else
                                 (200, {}, {"lastUpdateId": 1, "bids": [], "asks": []}))
        payload = json.dumps(body).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def venue() -> Iterator[ScriptedVenue]:
    server = ScriptedVenue()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def client(venue: ScriptedVenue, budget: WeightBudget | None = None) -> BinanceRest:
    return BinanceRest(f"http://127.0.0.1:{venue.server_address[1]}", SystemClock(), budget)


async def test_418_stops_every_request_until_the_ban_ends(venue: ScriptedVenue,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    venue.script.append((418, {"Retry-After": "120"}, {"code": -1003, "msg": "banned"}))
    rest = client(venue)
    with pytest.raises(IpBanned) as banned:
        await rest.depth("BTCUSDT")
    assert banned.value.retry_after == 120
    assert any("418" in r.message and r.levelname == "ERROR" for r in caplog.records)
    with pytest.raises(IpBanned):
        await rest.depth("ETHUSDT")  # not sent at all
    assert len(venue.requests) == 1
    await rest.aclose()


async def test_429_pauses_every_symbol_for_retry_after(venue: ScriptedVenue) -> None:
    venue.script.append((429, {"Retry-After": "1"}, {"code": -1003, "msg": "Too many requests"}))
    rest = client(venue)
    with pytest.raises(RateLimited) as limited:
        await rest.depth("BTCUSDT", 1000)
    assert limited.value.retry_after == 1.0
    started = time.monotonic()
    body, _ = await rest.depth("ETHUSDT", 1000)
    assert time.monotonic() - started >= 0.9  # waited out Retry-After before sending
    assert json.loads(body)["lastUpdateId"] == 1
    await rest.aclose()


async def test_5xx_is_retriable_and_4xx_is_our_mistake(venue: ScriptedVenue) -> None:
    venue.script += [(503, {}, {"code": -1001, "msg": "Service Unavailable."}),
                     (400, {}, {"code": -1121, "msg": "Invalid symbol."})]
    rest = client(venue)
    with pytest.raises(ServerError, match="503"):
        await rest.depth("BTCUSDT")
    with pytest.raises(RequestRejected, match="Invalid symbol"):
        await rest.depth("NOPE")
    with pytest.raises(ValueError):
        await rest.depth("BTCUSDT", limit=2000)  # not a Binance limit: never sent
    assert len(venue.requests) == 2
    await rest.aclose()
    unreachable = BinanceRest("http://127.0.0.1:9", SystemClock())
    with pytest.raises(ServerError):
        await unreachable.depth("BTCUSDT")
    await unreachable.aclose()


async def test_request_weight_is_budgeted_across_symbols(venue: ScriptedVenue) -> None:
    budget = WeightBudget(SystemClock(), limit_per_minute=40, window_s=1.0)
    rest = client(venue, budget)
    started = time.monotonic()
    for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):  # 3 x 20 > 40 per window
        await rest.depth(symbol, 1000)
    assert time.monotonic() - started >= 0.9  # the third waited for the window to slide
    assert len(venue.requests) == 3 and budget.used() <= 40
    await rest.aclose()
