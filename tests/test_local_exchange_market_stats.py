"""The local Binance venues' market statistics over real sockets: ``@markPrice[@1s]`` and
``/fapi/v1/premiumIndex`` on USDT-M, ``@ticker`` and ``ticker/24hr`` on both dialects, the same
from replays of the real recordings, and the dislocation control.

Everything is checked against what the test itself saw or read: the aggTrades it collected from
the exchange's first trade on, the recording's own trade lines, the exchange's published book.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from local_exchange import LocalExchange
from local_exchange.market_stats import FUNDING_CLAMP, FUNDING_INTERVAL_MS
from tests.conftest import DATA

Payload = dict[str, Any]


async def _collect(url: str, seconds: float) -> list[tuple[str, Payload]]:
    """Every ``(stream, data)`` a combined-stream connection receives within ``seconds``."""
    frames: list[tuple[str, Payload]] = []
    async with websockets.connect(url, max_size=None) as ws:
        end = asyncio.get_running_loop().time() + seconds
        while (left := end - asyncio.get_running_loop().time()) > 0:
            try:
                raw = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                break
            message = orjson.loads(raw)
            frames.append((message["stream"], message["data"]))
    return frames


def _expected_stats(trades: list[Payload]) -> Payload:
    """24-hour statistics computed here from (agg)trades, with exact decimals."""
    prices = [Decimal(t["p"]) for t in trades]
    qtys = [Decimal(t["q"]) for t in trades]
    first_id = trades[0].get("f", trades[0].get("t"))
    last_id = trades[-1].get("l", trades[-1].get("t"))
    count = sum(t["l"] - t["f"] + 1 if "f" in t else 1 for t in trades)
    return {"o": prices[0], "h": max(prices), "l": min(prices), "c": prices[-1],
            "Q": qtys[-1], "v": sum(qtys), "q": sum(p * q for p, q in zip(prices, qtys)),
            "F": first_id, "L": last_id, "n": count, "p": prices[-1] - prices[0]}


def _assert_ticker_matches(ticker: Payload, expected: Payload) -> None:
    for key in ("o", "h", "l", "c", "Q", "v", "q", "p"):
        assert Decimal(ticker[key]) == expected[key], key
    for key in ("F", "L", "n"):
        assert ticker[key] == expected[key], key
    change_pct = 100 * expected["p"] / expected["o"]
    assert abs(Decimal(ticker["P"]) - change_pct) <= Decimal("0.0005")
    assert ticker["C"] - ticker["O"] == 24 * 3600 * 1000
    assert expected["l"] <= Decimal(ticker["w"]) <= expected["h"]


# REST key of each stream key (both dialects; Spot adds x, b, B, a, A).
_REST_OF = {"p": "priceChange", "P": "priceChangePercent", "w": "weightedAvgPrice",
            "x": "prevClosePrice", "c": "lastPrice", "Q": "lastQty", "b": "bidPrice",
            "B": "bidQty", "a": "askPrice", "A": "askQty", "o": "openPrice", "h": "highPrice",
            "l": "lowPrice", "v": "volume", "q": "quoteVolume", "F": "firstId", "L": "lastId",
            "n": "count"}


async def test_mark_price_streams_cadence_bounds_and_funding() -> None:
    async with LocalExchange(["BTCUSDT"], seed=21) as ex:
        url = f"{ex.ws_url}/market/stream?streams=btcusdt@markPrice@1s/btcusdt@markPrice"
        frames = await _collect(url, 4.6)
        fast = [d for s, d in frames if s == "btcusdt@markPrice@1s"]
        slow = [d for s, d in frames if s == "btcusdt@markPrice"]
        assert len(fast) >= 4 and 1 <= len(slow) <= 2
        gaps = [b["E"] - a["E"] for a, b in pairwise(fast)]
        # Once a venue second, at its first 100 ms tick (the first may lag the start-up).
        assert all(500 <= gap <= 1500 for gap in gaps), gaps
        assert all(800 <= gap <= 1200 for gap in gaps[1:]), gaps
        assert {d["E"] for d in slow} <= {d["E"] for d in fast}  # every third second
        premiums = []
        for event in fast:
            assert set(event) == {"e", "E", "s", "p", "P", "i", "r", "T"}
            assert event["e"] == "markPriceUpdate" and event["s"] == "BTCUSDT"
            mark, index = float(event["p"]), float(event["i"])
            assert abs(index - mark) / mark < 0.002  # the spot reference is bps away
            premiums.append((mark - index) / index)
            assert event["T"] % FUNDING_INTERVAL_MS == 0
            assert 0 < event["T"] - event["E"] <= FUNDING_INTERVAL_MS
        rates = [float(e["r"]) for e in fast]
        # Binance's rule: premium average + clamp(0.01 % - average, +-0.05 %).
        assert all(min(premiums) - FUNDING_CLAMP - 1e-9 <= r <= max(premiums) + FUNDING_CLAMP
                   + 1e-9 for r in rates)
        if max(abs(p - 0.0001) for p in premiums) < FUNDING_CLAMP:
            assert all(e["r"] == "0.00010000" for e in fast)

        # With the flow stopped the book holds still: the mark is inside its touch.
        ex.pause()
        await asyncio.sleep(0.3)
        _, bids, asks = ex.published_book("BTCUSDT")
        scale = ex.spec("BTCUSDT").instrument.price_scale
        frames = await _collect(f"{ex.ws_url}/market/stream?streams=btcusdt@markPrice@1s", 1.3)
        event = frames[-1][1]
        assert bids[0][0] / scale <= float(event["p"]) <= asks[0][0] / scale
        async with httpx.AsyncClient(base_url=ex.rest_url) as http:
            rest = await http.get("/fapi/v1/premiumIndex", params={"symbol": "BTCUSDT"})
            assert rest.headers["X-MBX-USED-WEIGHT-1M"] == "1"
            body = rest.json()
            every = (await http.get("/fapi/v1/premiumIndex")).json()
            unknown = await http.get("/fapi/v1/premiumIndex", params={"symbol": "NOPEUSDT"})
        assert body["markPrice"] == event["p"]
        assert abs(float(body["indexPrice"]) - float(event["i"])) / float(event["i"]) < 1e-4
        assert body["lastFundingRate"] == event["r"] and body["interestRate"] == "0.00010000"
        assert body["nextFundingTime"] == event["T"]
        assert [b["symbol"] for b in every] == ["BTCUSDT"]
        assert unknown.status_code == 400
        assert unknown.json() == {"code": -1121, "msg": "Invalid symbol."}


async def _ticker_from_the_start(ex: LocalExchange, url: str, seconds: float
                                 ) -> list[tuple[str, Payload]]:
    """aggTrades and tickers of one connection opened before the exchange's first trade."""
    ex.pause()  # no flow, no trade, until the connection is open
    task = asyncio.create_task(_collect(url, seconds))
    await asyncio.sleep(0.3)
    ex.resume()
    frames = await task
    trades = [d for s, d in frames if s.endswith("@aggTrade")]
    tickers = [d for s, d in frames if s.endswith("@ticker")]
    assert len(trades) >= 10 and len(tickers) >= 2
    # The ticker covers the trades published before it (same connection: arrival order).
    position = {id(d): i for i, (_, d) in enumerate(frames)}
    last = tickers[-1]
    before = [t for t in trades if position[id(t)] < position[id(last)]]
    _assert_ticker_matches(last, _expected_stats(before))
    return frames


async def _rest_equals_latest_stream(ex: LocalExchange, url: str, path: str) -> Payload:
    """With the flow stopped, REST's body equals the newest streamed ticker field by field."""
    ex.pause()
    await asyncio.sleep(0.3)
    frames = await _collect(url, 1.3)
    latest = [d for s, d in frames if s.endswith("@ticker")][-1]
    async with httpx.AsyncClient(base_url=ex.rest_url) as http:
        response = await http.get(path, params={"symbol": "BTCUSDT"})
        listed = (await http.get(path)).json()
        unknown = await http.get(path, params={"symbol": "NOPEUSDT"})
    body = response.json()
    assert body["symbol"] == "BTCUSDT" and [b["symbol"] for b in listed] == ["BTCUSDT"]
    for key, rest_key in _REST_OF.items():
        if key in latest:
            assert body[rest_key] == latest[key], rest_key
    assert unknown.status_code == 400 and unknown.json()["code"] == -1121
    return body


async def test_futures_ticker_agrees_with_the_trades_and_rest() -> None:
    async with LocalExchange(["BTCUSDT"], seed=22) as ex:
        url = f"{ex.ws_url}/market/stream?streams=btcusdt@aggTrade/btcusdt@ticker"
        frames = await _ticker_from_the_start(ex, url, 3.4)
        tickers = [d for s, d in frames if s.endswith("@ticker")]
        assert set(tickers[-1]) == {"e", "E", "s", "p", "P", "w", "c", "Q", "o", "h", "l",
                                    "v", "q", "O", "C", "F", "L", "n"}
        gaps = [b["E"] - a["E"] for a, b in pairwise(tickers)]
        assert all(800 <= gap <= 1200 for gap in gaps[1:]), gaps
        await _rest_equals_latest_stream(ex, url, "/fapi/v1/ticker/24hr")


async def test_spot_ticker_has_spots_fields_and_no_mark_price() -> None:
    async with LocalExchange(["BTCUSDT"], seed=23, dialect="binance-spot") as ex:
        url = f"{ex.ws_url}/stream?streams=btcusdt@aggTrade/btcusdt@ticker/btcusdt@markPrice@1s"
        frames = await _ticker_from_the_start(ex, url, 3.4)
        first_trade = next(d for s, d in frames if s.endswith("@aggTrade"))
        last = [d for s, d in frames if s.endswith("@ticker")][-1]
        assert not [s for s, _ in frames if "markprice" in s.lower()]  # no mark price on Spot
        assert {"x", "b", "B", "a", "A"} <= set(last)
        assert Decimal(last["b"]) < Decimal(last["a"]) and Decimal(last["B"]) > 0
        assert last["x"] == first_trade["p"]  # nothing before the window: the open
        body = await _rest_equals_latest_stream(ex, url, "/api/v3/ticker/24hr")
        _, bids, asks = ex.published_book("BTCUSDT")
        fmt = ex.spec("BTCUSDT").instrument.prices.format
        assert (body["bidPrice"], body["askPrice"]) == (fmt(bids[0][0]), fmt(asks[0][0]))
        async with httpx.AsyncClient(base_url=ex.rest_url) as http:
            assert (await http.get("/fapi/v1/premiumIndex")).status_code == 404


def _recorded_trades(paths: list[Path]) -> list[Payload]:
    """The recording's ``trade`` payloads, read here straight from the gzip lines."""
    trades = []
    for path in paths:
        with gzip.open(path, "rb") as handle:
            for line in handle:
                _, _, raw = line.partition(b" ")
                if b'"e":"trade"' not in raw:
                    continue
                message = orjson.loads(raw)
                trades.append(message["data"])
    return trades


@pytest.mark.parametrize(("dialect", "files", "path"), [
    ("binance-usdm", ["binance_usdm/hftbacktest_usdm_ethusdt_20240808.gz"],
     "/fapi/v1/ticker/24hr"),
    ("binance-spot", ["binance_spot/hftbacktest_spot_ethusdt_20240808.gz",
                      "binance_spot/hftbacktest_spot_ethusdt_20240809.gz"],
     "/api/v3/ticker/24hr"),
])
async def test_replay_ticker_equals_the_recordings_trades(dialect: str, files: list[str],
                                                          path: str) -> None:
    paths = [DATA / f for f in files]
    expected = _expected_stats(_recorded_trades(paths))
    async with LocalExchange(replay_files=paths, speed=200.0, dialect=dialect) as ex:  # type: ignore[arg-type]
        prefix = "/market" if dialect == "binance-usdm" else ""
        url = (f"{ex.ws_url}{prefix}/stream?streams=ethusdt@ticker/ethusdt@markPrice@1s")
        collector = asyncio.create_task(_collect(url, 60.0))
        await asyncio.wait_for(ex.wait_finished(), 60.0)
        async with httpx.AsyncClient(base_url=ex.rest_url) as http:
            body = (await http.get(path, params={"symbol": "ETHUSDT"})).json()
        collector.cancel()
    streamed = {key: body[rest_key] for key, rest_key in _REST_OF.items() if rest_key in body}
    streamed.update(O=body["openTime"], C=body["closeTime"])
    _assert_ticker_matches(streamed, expected)
    # Venue time: the window closes at the recording's last event, not at the wall clock.
    assert body["closeTime"] < time.time() * 1000 - 86_400_000


async def test_replay_mark_price_is_the_recorded_mid_on_recorded_time() -> None:
    path = DATA / "binance_usdm/hftbacktest_usdm_btcusdt_20240808.gz"
    async with LocalExchange(replay_files=[path], speed=20.0) as ex:
        url = f"{ex.ws_url}/market/stream?streams=btcusdt@markPrice@1s"
        async with websockets.connect(url) as ws:
            events = [orjson.loads(await ws.recv())["data"] for _ in range(4)]
            _, bids, asks = ex.published_book("BTCUSDT")
        scale = ex.spec("BTCUSDT").instrument.price_scale
        with pytest.raises(ValueError):
            ex.dislocate("BTCUSDT", 10, 1)
    gaps = [b["E"] - a["E"] for a, b in pairwise(events)]
    assert all(900 <= gap <= 1100 for gap in gaps), gaps  # one second of recorded time each
    assert events[0]["E"] < 1723248000000  # 2024-08-10: the recording's timeline
    mid = (bids[0][0] + asks[0][0]) / 2 / scale
    assert abs(float(events[-1]["p"]) - mid) / mid < 5e-4  # derived from the recorded book
    assert all(e["p"] == e["i"] for e in events)  # no spot reference in a recording


def test_dislocation_moves_the_published_mid_and_back() -> None:
    thread = LocalExchange(["BTCUSDT", "ETHUSDT"], seed=24).run_in_thread()
    with thread:
        with pytest.raises(ValueError):
            thread.dislocate("NOPEUSDT", 10, 1)
        thread.pause()  # no flow: the mid moves only by the dislocation
        time.sleep(0.3)
        scale = thread.spec("BTCUSDT").instrument.price_scale

        def mid() -> float:
            _, bids, asks = thread.published_book("BTCUSDT")
            return (bids[0][0] + asks[0][0]) / 2 / scale

        def rest_mark() -> float:
            body = httpx.get(f"{thread.rest_url}/fapi/v1/premiumIndex",
                             params={"symbol": "BTCUSDT"}).json()
            return float(body["markPrice"])

        before, mark_before = mid(), rest_mark()
        thread.dislocate("BTCUSDT", 25.0, 1.5)
        time.sleep(0.4)
        during, mark_during = mid(), rest_mark()
        time.sleep(1.6)
        after = mid()
    moved_bps = (during - before) / before * 1e4
    assert 24.0 <= moved_bps <= 26.0, moved_bps
    assert (mark_during - mark_before) / mark_before * 1e4 == pytest.approx(moved_bps, abs=0.1)
    assert abs(after - before) / before * 1e4 < 0.5  # back where it was
