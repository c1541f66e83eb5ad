"""The USDT-M market-data REST surface over real HTTP: aggTrades, trades, klines, bookTicker,
ticker/price, their headers, weights and error codes, and the same endpoints in a replay.

Everything REST serves is checked against what the exchange published on its sockets (the
aggTrades a client collected from the start, the book a client would hold), computed here
independently of ``trade_history``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from local_exchange import LocalExchange
from local_exchange.instruments import KNOWN_SPECS
from local_exchange.recording import group_recordings, iter_messages
from local_exchange.trade_history import (
    AggTrade,
    SymbolTrades,
    bucket_open,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance_usdm"
BTC_0808 = DATA / "hftbacktest_usdm_btcusdt_20240808.gz"
MINUTE = 60_000


class FakeClock:
    def __init__(self) -> None:
        self.ns = 1_723_161_600_000_000_000  # a minute boundary

    def __call__(self) -> int:
        return self.ns


# ----------------------------------------------------------------- helpers
async def drain(ws: ClientConnection, sink: list[dict[str, Any]], quiet_s: float) -> None:
    """Read combined-stream frames into ``sink`` until the socket is quiet for ``quiet_s``."""
    while True:
        try:
            frame = await asyncio.wait_for(ws.recv(), quiet_s)
        except TimeoutError:
            return
        sink.append(orjson.loads(frame)["data"])


def klines_of(aggs: list[dict[str, Any]]) -> dict[int, list[Any]]:
    """1-minute OHLCV from aggTrade payloads, in Decimal, by open time (only minutes with
    trades): the test's own reckoning, not ``trade_history``'s."""
    out: dict[int, list[Any]] = {}
    for agg in aggs:
        price, qty = Decimal(agg["p"]), Decimal(agg["q"])
        start = agg["T"] - agg["T"] % MINUTE
        count = agg["l"] - agg["f"] + 1
        buy = not agg["m"]
        row = out.get(start)
        if row is None:
            out[start] = [price, price, price, price, qty, price * qty, count,
                          qty if buy else Decimal(0), price * qty if buy else Decimal(0)]
            continue
        row[1], row[2], row[3] = max(row[1], price), min(row[2], price), price
        row[4] += qty
        row[5] += price * qty
        row[6] += count
        if buy:
            row[7] += qty
            row[8] += price * qty
    return out


def as_decimal_row(row: list[Any]) -> list[Any]:
    """A REST kline row's OHLCV fields in the shape ``klines_of`` makes."""
    return [Decimal(row[1]), Decimal(row[2]), Decimal(row[3]), Decimal(row[4]),
            Decimal(row[5]), Decimal(row[7]), row[8], Decimal(row[9]), Decimal(row[10])]


@pytest.fixture
async def live() -> AsyncIterator[tuple[LocalExchange, list[dict[str, Any]]]]:
    """A simulated exchange and every BTCUSDT aggTrade it published, collected over the
    WebSocket from before the first one until the flow was paused and went quiet."""
    exchange = LocalExchange(seed=3)
    exchange.pause()  # no flow until the client listens: it sees every trade
    async with exchange:
        url = f"{exchange.ws_url}/market/stream?streams=btcusdt@aggTrade"
        async with connect(url, max_queue=None) as ws:
            exchange.resume()
            aggs: list[dict[str, Any]] = []
            reader = asyncio.create_task(drain(ws, aggs, 10.0))
            await asyncio.sleep(2.5)
            exchange.pause()
            await asyncio.sleep(0.5)  # the last tick's trades go out
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await drain(ws, aggs, 0.5)
        yield exchange, aggs


@pytest.fixture
async def frozen() -> AsyncIterator[tuple[httpx.AsyncClient, FakeClock]]:
    """An exchange on a clock that stands still: weights and headers are exact."""
    clock = FakeClock()
    async with LocalExchange(seed=5, clock=clock) as ex:
        ex.pause()
        async with httpx.AsyncClient(base_url=ex.rest_url) as http:
            yield http, clock


# ------------------------------------------------- agreement with the stream
async def test_agg_trades_rest_equals_the_stream(live: tuple[LocalExchange, list[Any]]) -> None:
    exchange, aggs = live
    assert len(aggs) > 10, "the flow should trade every second"
    async with httpx.AsyncClient(base_url=exchange.rest_url) as http:
        rest = (await http.get("/fapi/v1/aggTrades",
                               params={"symbol": "BTCUSDT", "limit": 1000})).json()
        assert len(aggs) <= 1000
        keys = ("a", "p", "q", "f", "l", "T", "m")
        assert rest == [{k: a[k] for k in keys} for a in aggs]
        # fromId pages from an id on; startTime/endTime bound T (both inclusive).
        middle = aggs[len(aggs) // 2]
        page = (await http.get("/fapi/v1/aggTrades", params={
            "symbol": "BTCUSDT", "fromId": middle["a"], "limit": 5})).json()
        assert [a["a"] for a in page] == [a["a"] for a in aggs if a["a"] >= middle["a"]][:5]
        window = (await http.get("/fapi/v1/aggTrades", params={
            "symbol": "BTCUSDT", "startTime": middle["T"], "endTime": aggs[-1]["T"]})).json()
        assert [a["a"] for a in window] == [a["a"] for a in aggs if a["T"] >= middle["T"]]
        newest = (await http.get("/fapi/v1/aggTrades",
                                 params={"symbol": "BTCUSDT", "limit": 3})).json()
        assert [a["a"] for a in newest] == [a["a"] for a in aggs[-3:]]


async def test_raw_trades_are_the_aggtrades_fills(live: tuple[LocalExchange, list[Any]]) -> None:
    exchange, aggs = live
    async with httpx.AsyncClient(base_url=exchange.rest_url) as http:
        trades = (await http.get("/fapi/v1/trades",
                                 params={"symbol": "BTCUSDT", "limit": 1000})).json()
    assert set(trades[0]) == {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker"}
    ids = [t["id"] for t in trades]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    by_agg: dict[int, list[dict[str, Any]]] = {}
    for trade in trades:
        owner = next(a for a in aggs if a["f"] <= trade["id"] <= a["l"])
        assert (trade["price"], trade["time"], trade["isBuyerMaker"]) == (
            owner["p"], owner["T"], owner["m"])
        assert Decimal(trade["quoteQty"]) == Decimal(trade["price"]) * Decimal(trade["qty"])
        by_agg.setdefault(owner["a"], []).append(trade)
    # Every aggTrade's fills add up to it (the oldest may be cut by the 1000 limit).
    assert {a["a"] for a in aggs[1:]} <= set(by_agg)
    for agg in aggs[1:]:
        assert sum(Decimal(t["qty"]) for t in by_agg[agg["a"]]) == Decimal(agg["q"])


async def test_klines_equal_klines_from_the_collected_agg_trades(
        live: tuple[LocalExchange, list[Any]]) -> None:
    exchange, aggs = live
    expected = klines_of(aggs)
    async with httpx.AsyncClient(base_url=exchange.rest_url) as http:
        rows = (await http.get("/fapi/v1/klines",
                               params={"symbol": "BTCUSDT", "interval": "1m"})).json()
        hourly = (await http.get("/fapi/v1/klines",
                                 params={"symbol": "BTCUSDT", "interval": "1h"})).json()
        ticker = (await http.get("/fapi/v1/ticker/24hr", params={"symbol": "BTCUSDT"})).json()
    traded = [row for row in rows if row[8] > 0]
    assert {row[0]: as_decimal_row(row) for row in traded} == expected
    for row in rows:
        assert len(row) == 12 and row[6] == row[0] + MINUTE - 1 and row[11] == "0"
    # The 1h candle is the sum of its minutes; the 24 h ticker agrees on volume and count.
    hour = hourly[-1]
    assert hour[0] == bucket_open("1h", aggs[-1]["T"])
    assert Decimal(hour[5]) == sum(Decimal(a["q"]) for a in aggs) == Decimal(ticker["volume"])
    assert hour[8] == sum(a["l"] - a["f"] + 1 for a in aggs) == ticker["count"]
    assert hour[4] == aggs[-1]["p"] == ticker["lastPrice"]


async def test_price_ticker_is_the_last_trade(live: tuple[LocalExchange, list[Any]]) -> None:
    exchange, aggs = live
    async with httpx.AsyncClient(base_url=exchange.rest_url) as http:
        for path in ("/fapi/v1/ticker/price", "/fapi/v2/ticker/price"):
            one = (await http.get(path, params={"symbol": "BTCUSDT"})).json()
            assert one == {"symbol": "BTCUSDT", "price": aggs[-1]["p"], "time": aggs[-1]["T"]}
            every = (await http.get(path)).json()
            assert {t["symbol"] for t in every} == {"BTCUSDT", "ETHUSDT"}


async def test_book_ticker_is_the_published_touch(live: tuple[LocalExchange, list[Any]]) -> None:
    exchange, _ = live
    spec = exchange.spec("BTCUSDT")
    fmt_p, fmt_q = spec.instrument.prices.format, spec.instrument.quantities.format
    async with httpx.AsyncClient(base_url=exchange.rest_url) as http:
        body = (await http.get("/fapi/v1/ticker/bookTicker",
                               params={"symbol": "BTCUSDT"})).json()
        depth = (await http.get("/fapi/v1/depth", params={"symbol": "BTCUSDT",
                                                         "limit": 5})).json()
        every = (await http.get("/fapi/v1/ticker/bookTicker")).json()
    last_u, bids, asks = exchange.published_book("BTCUSDT")  # paused: all of it published
    assert body == {"lastUpdateId": last_u, "symbol": "BTCUSDT",
                    "bidPrice": fmt_p(bids[0][0]), "bidQty": fmt_q(bids[0][1]),
                    "askPrice": fmt_p(asks[0][0]), "askQty": fmt_q(asks[0][1]),
                    "time": body["time"]}
    assert depth["lastUpdateId"] == last_u and depth["T"] == body["time"]
    assert (depth["bids"][0], depth["asks"][0]) == ([body["bidPrice"], body["bidQty"]],
                                                    [body["askPrice"], body["askQty"]])
    assert [b["symbol"] for b in every] == ["BTCUSDT", "ETHUSDT"] and every[0] == body


# ------------------------------------------------------ headers and weights
async def test_headers_on_every_response(frozen: tuple[httpx.AsyncClient, FakeClock]) -> None:
    http, clock = frozen
    for path in ("/fapi/v1/time", "/fapi/v1/klines?symbol=BTCUSDT&interval=1m",
                 "/fapi/v1/klines?symbol=BTCUSDT&interval=7m", "/fapi/v1/nothing"):
        resp = await http.get(path)
        assert parsedate_to_datetime(resp.headers["date"]).timestamp() == clock.ns // 10**9
        assert resp.headers["x-mbx-used-weight"] == resp.headers["x-mbx-used-weight-1m"]
        assert int(resp.headers["x-mbx-used-weight-1m"]) > 0


async def test_unknown_path_is_binances_html_404(
        frozen: tuple[httpx.AsyncClient, FakeClock]) -> None:
    http, _ = frozen
    resp = await http.get("/fapi/v1/nothing")
    assert resp.status_code == 404
    assert resp.text.startswith("<!DOCTYPE html>") and '"code"' not in resp.text


@pytest.mark.parametrize(("path", "weight"), [
    ("/fapi/v1/aggTrades?symbol=BTCUSDT", 20),
    ("/fapi/v1/trades?symbol=BTCUSDT&limit=1000", 5),
    ("/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=99", 1),
    ("/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=100", 2),
    ("/fapi/v1/klines?symbol=BTCUSDT&interval=1m", 5),  # default limit 500
    ("/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=1000", 5),
    ("/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=1500", 10),
    ("/fapi/v1/ticker/bookTicker?symbol=BTCUSDT", 2),
    ("/fapi/v1/ticker/bookTicker", 5),
    ("/fapi/v1/ticker/price?symbol=BTCUSDT", 1),
    ("/fapi/v2/ticker/price", 2),
    ("/fapi/v1/ping", 1),
    ("/fapi/v1/time", 1),
])
async def test_weights_are_binances(frozen: tuple[httpx.AsyncClient, FakeClock], path: str,
                                    weight: int) -> None:
    http, _ = frozen
    first = await http.get(path)
    assert first.status_code == 200 and first.headers["x-mbx-used-weight-1m"] == str(weight)
    second = await http.get(path)
    assert second.headers["x-mbx-used-weight-1m"] == str(2 * weight)


@pytest.mark.parametrize(("path", "code"), [
    ("/fapi/v1/klines?interval=1m", -1102),
    ("/fapi/v1/klines?symbol=BTCUSDT", -1102),
    ("/fapi/v1/klines?symbol=BTCUSDT&interval=7m", -1120),
    ("/fapi/v1/klines?symbol=btcusdt&interval=1m", -1100),
    ("/fapi/v1/klines?symbol=NOPEUSDT&interval=1m", -1121),
    ("/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=1501", -1130),
    ("/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=0", -1130),
    ("/fapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime=abc", -1100),
    ("/fapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime=2000&endTime=1000", -1023),
    ("/fapi/v1/aggTrades?symbol=BTCUSDT&startTime=0&endTime=3600000", -1127),
    ("/fapi/v1/aggTrades?symbol=BTCUSDT&fromId=-1", -1100),
    ("/fapi/v1/aggTrades", -1102),
    ("/fapi/v1/trades?symbol=BTCUSDT&limit=1001", -1130),
    ("/fapi/v1/trades?symbol=NOPEUSDT", -1121),
    ("/fapi/v1/ticker/bookTicker?symbol=NOPEUSDT", -1121),
    ("/fapi/v2/ticker/price?symbol=NOPEUSDT", -1121),
])
async def test_bad_parameters_get_binances_codes(
        frozen: tuple[httpx.AsyncClient, FakeClock], path: str, code: int) -> None:
    http, _ = frozen
    resp = await http.get(path)
    assert resp.status_code == 400
    body = resp.json()
    assert set(body) == {"code", "msg"} and body["code"] == code
    assert int(resp.headers["x-mbx-used-weight-1m"]) >= 1


async def test_exchange_info_has_what_clients_read(
        frozen: tuple[httpx.AsyncClient, FakeClock]) -> None:
    http, _ = frozen
    info = (await http.get("/fapi/v1/exchangeInfo")).json()
    assert info["assets"][0]["asset"] == "USDT"
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    assert (btc["onboardDate"], btc["underlyingType"], btc["marginAsset"]) == (
        1569398400000, "COIN", "USDT")
    assert btc["deliveryDate"] > btc["onboardDate"] and btc["contractType"] == "PERPETUAL"
    assert "MARKET" in btc["orderTypes"] and "GTX" in btc["timeInForce"]
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert set(filters) == {"PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "MAX_NUM_ORDERS",
                            "MAX_NUM_ALGO_ORDERS", "MIN_NOTIONAL", "PERCENT_PRICE"}
    assert filters["MIN_NOTIONAL"] == {"filterType": "MIN_NOTIONAL", "notional": "100"}
    assert filters["MARKET_LOT_SIZE"]["stepSize"] == filters["LOT_SIZE"]["stepSize"] == "0.001"
    assert Decimal(filters["PERCENT_PRICE"]["multiplierUp"]) > 1
    assert isinstance(filters["MAX_NUM_ORDERS"]["limit"], int)


# ------------------------------------------------------------------ replay
@pytest.mark.skipif(not BTC_0808.exists(), reason="shared recordings not present")
async def test_replay_serves_the_recordings_trades() -> None:
    recording = group_recordings([BTC_0808])[0]
    recorded = [m.data for m in iter_messages(recording) if m.data["e"] == "trade"]
    exchange = LocalExchange(replay_files=[BTC_0808], speed=3000.0)
    async with exchange:
        await asyncio.wait_for(exchange.wait_finished(), 120)
        async with httpx.AsyncClient(base_url=exchange.rest_url) as http:
            trades = (await http.get("/fapi/v1/trades",
                                     params={"symbol": "BTCUSDT", "limit": 1000})).json()
            aggs = (await http.get("/fapi/v1/aggTrades",
                                   params={"symbol": "BTCUSDT", "limit": 1000})).json()
            rows = (await http.get("/fapi/v1/klines", params={
                "symbol": "BTCUSDT", "interval": "1m", "limit": 1500})).json()
            price = (await http.get("/fapi/v2/ticker/price",
                                    params={"symbol": "BTCUSDT"})).json()
    tail = recorded[-1000:]
    assert [(t["id"], t["price"], t["qty"], t["time"], t["isBuyerMaker"]) for t in trades] == [
        (r["t"], r["p"], r["q"], r["T"], r["m"]) for r in tail]
    assert [(a["a"], a["f"], a["l"], a["p"]) for a in aggs] == [
        (r["t"], r["t"], r["t"], r["p"]) for r in tail]
    as_aggs = [{"p": r["p"], "q": r["q"], "T": r["T"], "f": r["t"], "l": r["t"], "m": r["m"]}
               for r in recorded]
    traded = {row[0]: as_decimal_row(row) for row in rows if row[8] > 0}
    assert traded == klines_of(as_aggs)
    assert price == {"symbol": "BTCUSDT", "price": recorded[-1]["p"], "time": recorded[-1]["T"]}


# ------------------------------------------------------------- trade_history
def _agg(agg_id: int, price: str, qty: str, time_ms: int, maker: bool = False) -> AggTrade:
    spec = KNOWN_SPECS["BTCUSDT"]
    return AggTrade(agg_id, spec.instrument.prices.parse(price),
                    spec.instrument.quantities.parse(qty), agg_id, agg_id, time_ms, maker)


def test_intervals_sum_minutes_and_fill_gaps() -> None:
    history = SymbolTrades(KNOWN_SPECS["BTCUSDT"])
    day = 1_723_161_600_000  # 2024-08-09 00:00 UTC, a Friday
    history.on_agg_trade(_agg(1, "100.00", "1.000", day + 10))
    history.on_agg_trade(_agg(2, "90.00", "2.000", day + 2 * MINUTE + 5, maker=True))
    history.on_agg_trade(_agg(3, "95.00", "1.000", day + 6 * MINUTE))
    now = day + 7 * MINUTE
    minutes = history.klines("1m", now)
    assert [k.open_ms for k in minutes] == [day + i * MINUTE for i in range(8)]
    empty = minutes[1]
    assert (empty.open, empty.close, empty.volume, empty.first_trade_id) == (10000, 10000, 0, -1)
    five = history.klines("5m", now)
    assert [(k.open, k.high, k.low, k.close, k.volume, k.trades) for k in five] == [
        (10000, 10000, 9000, 9000, 3000, 2), (9500, 9500, 9500, 9500, 1000, 1)]
    assert five[0].taker_buy_volume == 1000 and five[0].quote_volume == 10000 * 1000 + 9000 * 2000
    assert history.klines("5m", now, start_ms=day + 1) == five[1:]  # opens at or after start
    assert history.klines("1m", now, limit=2) == minutes[-2:]
    assert history.current_kline("1d", now).open_ms == day  # type: ignore[union-attr]
    assert bucket_open("1w", now) == day - 4 * 24 * 60 * MINUTE  # Monday 2024-08-05
    assert bucket_open("1M", now) == day - 8 * 24 * 60 * MINUTE  # 2024-08-01


def test_history_is_bounded() -> None:
    history = SymbolTrades(KNOWN_SPECS["BTCUSDT"], max_trades=1000)
    start = 1_723_161_600_000
    for i in range(3000):  # one trade a minute for 50 hours
        history.on_agg_trade(_agg(i + 1, "100.00", "0.001", start + i * MINUTE))
    assert len(history.trades(5000)) == 1000 and len(history.agg_trades(limit=5000)) == 1000
    now = start + 2999 * MINUTE
    minutes = history.klines("1m", now, limit=5000)
    assert len(minutes) == 1441 and minutes[0].open_ms == now - 1440 * MINUTE

