"""The derived WebSocket streams over real sockets: @trade, partial depth, klines, tickers, the
all-market arrays, !bookTicker, and Binance's replies to bad control frames and URLs."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from local_exchange import LocalExchange
from orderbook.instrument import Instrument
from tests.test_local_exchange_support import recv_json


@pytest.fixture
async def exchange():  # type: ignore[no-untyped-def]
    async with LocalExchange(["BTCUSDT", "ETHUSDT"], seed=5) as ex:
        yield ex


async def _collect(ws: ClientConnection, seconds: float,
                   enough: Callable[[list[Any]], bool] | None = None) -> list[Any]:
    """Frames received within ``seconds``, or until ``enough`` says so (a loaded machine then
    takes longer rather than failing)."""
    frames: list[Any] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            frames.append(orjson.loads(await asyncio.wait_for(ws.recv(), left)))
        except TimeoutError:
            break
        if enough is not None and enough(frames):
            break
    return frames


def apply_diff(book: dict[str, dict[int, int]], diff: dict[str, Any],
               spec: Instrument) -> None:
    """A depth diff applied to ``book`` (``{"b": {price: qty}, "a": ...}``, integer units):
    sizes are absolute, 0 removes the level."""
    for side in ("b", "a"):
        for p, q in diff[side]:
            price, qty = spec.prices.parse(p), spec.quantities.parse(q)
            if qty:
                book[side][price] = qty
            else:
                book[side].pop(price, None)


async def test_trade_and_agg_trade_carry_the_same_fills(exchange: LocalExchange) -> None:
    spec = exchange.spec("BTCUSDT").instrument
    url = f"{exchange.ws_url}/market/stream?streams=btcusdt@aggTrade/btcusdt@trade"
    async with connect(url) as ws:
        frames = await _collect(ws, 3.0)
    aggs = [f["data"] for f in frames if f["stream"] == "btcusdt@aggTrade"]
    trades = [f["data"] for f in frames if f["stream"] == "btcusdt@trade"]
    assert len(aggs) > 5 and trades
    assert {t["e"] for t in trades} == {"trade"}
    assert set(trades[0]) == {"e", "E", "T", "s", "t", "p", "q", "X", "m"}
    by_id = {t["t"]: t for t in trades}
    last_trade_id = max(by_id)
    for agg in aggs:
        if agg["l"] > last_trade_id:
            continue  # its trades were still in flight when we stopped reading
        inside = [t for tid, t in by_id.items() if agg["f"] <= tid <= agg["l"]]
        assert inside, agg
        assert sum(spec.quantities.parse(t["q"]) for t in inside) == \
            spec.quantities.parse(agg["q"])
        assert all(t["p"] == agg["p"] and t["m"] == agg["m"] and t["T"] == agg["T"]
                   for t in inside)
    # @trade is served on /public too (ccxt subscribes it there).
    async with connect(f"{exchange.ws_url}/public/ws/btcusdt@trade") as ws:
        assert (await recv_json(ws))["e"] == "trade"


async def test_partial_depth_equals_the_book_rebuilt_from_diffs(exchange: LocalExchange) -> None:
    spec = exchange.spec("BTCUSDT").instrument
    url = (f"{exchange.ws_url}/public/stream?streams=btcusdt@depth@100ms/"
           "btcusdt@depth5@100ms/btcusdt@depth10/btcusdt@depth20@500ms")
    async with connect(url) as ws:
        buffered = await _collect(ws, 0.35)
        async with httpx.AsyncClient(base_url=exchange.rest_url) as http:
            snap = (await http.get("/fapi/v1/depth",
                                   params={"symbol": "BTCUSDT", "limit": 1000})).json()
        frames = buffered + await _collect(ws, 2.5)
    book: dict[str, dict[int, int]] = {
        "b": {spec.prices.parse(p): spec.quantities.parse(q) for p, q in snap["bids"]},
        "a": {spec.prices.parse(p): spec.quantities.parse(q) for p, q in snap["asks"]}}
    last_u: int | None = None
    compared: dict[str, int] = defaultdict(int)
    for frame in frames:
        stream, data = frame["stream"], frame["data"]
        if stream == "btcusdt@depth@100ms":
            if data["u"] < snap["lastUpdateId"]:
                continue
            assert last_u is None or data["pu"] == last_u
            apply_diff(book, data, spec)
            last_u = data["u"]
        elif last_u is not None and data["u"] == last_u:
            levels = int(stream.split("@")[1].removeprefix("depth"))
            assert data["e"] == "depthUpdate" and {"E", "T", "s", "U", "u", "pu"} <= set(data)
            bids = sorted(book["b"].items(), reverse=True)[:levels]
            asks = sorted(book["a"].items())[:levels]
            assert [(spec.prices.parse(p), spec.quantities.parse(q))
                    for p, q in data["b"]] == bids
            assert [(spec.prices.parse(p), spec.quantities.parse(q))
                    for p, q in data["a"]] == asks
            compared[stream] += 1
    assert set(compared) == {"btcusdt@depth5@100ms", "btcusdt@depth10",
                             "btcusdt@depth20@500ms"}, compared
    assert compared["btcusdt@depth5@100ms"] > 10


async def test_kline_stream_matches_the_trades_collected(exchange: LocalExchange) -> None:
    spec = exchange.spec("BTCUSDT").instrument
    url = (f"{exchange.ws_url}/market/stream?streams=btcusdt@aggTrade/btcusdt@trade/"
           "btcusdt@kline_1m")
    exchange.pause()
    async with connect(url) as ws:
        await asyncio.sleep(0.3)
        exchange.resume()  # every trade of this test's minute reaches us from here on
        frames = await _collect(ws, 2.5)
    aggs = [f["data"] for f in frames if f["stream"] == "btcusdt@aggTrade"]
    trades = [f["data"] for f in frames if f["stream"] == "btcusdt@trade"]
    klines = [f["data"] for f in frames if f["stream"] == "btcusdt@kline_1m"]
    assert trades and klines
    k = klines[-1]["k"]
    assert klines[-1]["e"] == "kline" and k["i"] == "1m" and k["x"] is False
    mine = [t for t in trades if k["t"] <= t["T"] <= k["T"] and t["t"] <= k["L"]]
    my_aggs = [a for a in aggs if k["t"] <= a["T"] <= k["T"] and a["l"] <= k["L"]]
    if k["f"] != my_aggs[0]["f"]:
        pytest.skip("the minute started before this test subscribed")  # a minute rolled over
    prices = [spec.prices.parse(t["p"]) for t in mine]
    assert spec.prices.parse(k["o"]) == prices[0] and spec.prices.parse(k["c"]) == prices[-1]
    assert spec.prices.parse(k["h"]) == max(prices) and spec.prices.parse(k["l"]) == min(prices)
    assert spec.quantities.parse(k["v"]) == sum(spec.quantities.parse(t["q"]) for t in mine)
    # n counts trade ids (f..l of every aggTrade), as Binance's klines and 24 h ticker do.
    assert k["n"] == sum(a["l"] - a["f"] + 1 for a in my_aggs) and k["L"] == my_aggs[-1]["l"]
    taker_buys = sum(spec.quantities.parse(t["q"]) for t in mine if not t["m"])
    assert spec.quantities.parse(k["V"]) == taker_buys


async def test_all_market_streams(exchange: LocalExchange) -> None:
    public = f"{exchange.ws_url}/public/stream?streams=!bookTicker/btcusdt@bookTicker"
    market = (f"{exchange.ws_url}/market/stream?streams=!ticker@arr/!miniTicker@arr/"
              "!markPrice@arr@1s/btcusdt@miniTicker/btcusdt@ticker")
    async with connect(public) as pws, connect(market) as mws:
        book_frames, market_frames = await asyncio.gather(_collect(pws, 2.3),
                                                          _collect(mws, 2.3))
    singles = [f["data"] for f in book_frames if f["stream"] == "btcusdt@bookTicker"]
    alls = [f["data"] for f in book_frames if f["stream"] == "!bookTicker"]
    assert singles and {d["s"] for d in alls} == {"BTCUSDT", "ETHUSDT"}
    # Every per-symbol bookTicker is also on !bookTicker, identical and in the same order. The
    # window can close between the two copies of the last update, so compare the common prefix.
    btc_alls = [d for d in alls if d["s"] == "BTCUSDT"]
    common = min(len(btc_alls), len(singles))
    assert common >= len(singles) - 1 and btc_alls[:common] == singles[:common]
    by_stream: dict[str, list[Any]] = defaultdict(list)
    for frame in market_frames:
        by_stream[frame["stream"]].append(frame["data"])
    tickers, minis = by_stream["!ticker@arr"], by_stream["!miniTicker@arr"]
    assert tickers and minis and by_stream["!markPrice@arr@1s"]
    assert {t["s"] for t in tickers[-1]} == {"BTCUSDT", "ETHUSDT"}
    assert {m["e"] for m in minis[-1]} == {"24hrMiniTicker"}
    # The array carries the same event as the single stream (the window may close between the
    # two, so pair them by event time).
    in_arrays = {t["E"]: t for array in tickers for t in array if t["s"] == "BTCUSDT"}
    single = next(t for t in reversed(by_stream["btcusdt@ticker"]) if t["E"] in in_arrays)
    assert single == in_arrays[single["E"]]
    mini = next(m for m in by_stream["btcusdt@miniTicker"] if m["E"] == single["E"])
    assert mini == {"e": "24hrMiniTicker", "E": single["E"], "s": "BTCUSDT",
                    **{k: single[k] for k in ("c", "o", "h", "l", "v", "q")}}
    assert {m["e"] for m in by_stream["!markPrice@arr@1s"][-1]} == {"markPriceUpdate"}


async def _request(ws: ClientConnection, message: str) -> Any:
    await ws.send(message)
    while True:
        reply = await recv_json(ws)
        if "result" in reply or "error" in reply:
            return reply


async def test_bad_control_frames_get_binance_errors(exchange: LocalExchange) -> None:
    async with connect(f"{exchange.ws_url}/public/ws") as ws:
        invalid = {"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": 1}
        for params in (["btcusdt@depthx"], ["nopeusdt@depth"], ["btcusdt@bookTicker", "x"]):
            message = orjson.dumps({"method": "SUBSCRIBE", "params": params, "id": 1}).decode()
            assert await _request(ws, message) == invalid
        listed = await _request(ws, '{"method": "LIST_SUBSCRIPTIONS", "id": 2}')
        assert listed == {"result": [], "id": 2}  # nothing half-subscribed
        reply = await _request(ws, '{"method": "SUBSCRIBE", "params": "btcusdt@depth", "id": 3}')
        assert reply == {"error": {"code": 2, "msg": 'Invalid request: invalid type: string '
                                                      '"btcusdt@depth", expected a sequence'},
                         "id": 3}
        reply = await _request(ws, '{"method": "SUBSCRIB", "params": [], "id": 4}')
        assert reply["error"]["code"] == 2 and "unknown variant `SUBSCRIB`" in reply["error"]["msg"]
        reply = await _request(ws, '{"method": "SET_PROPERTY", "params": ["combined", 1], "id": 5}')
        assert reply == {"error": {"code": 1, "msg": "Invalid value type: expected Boolean"},
                         "id": 5}
        reply = await _request(ws, '{"method": "GET_PROPERTY", "params": ["x"], "id": 6}')
        assert reply == {"error": {"code": 0, "msg": "Unknown property"}, "id": 6}
        reply = await _request(ws, "not json")
        assert reply["error"]["code"] == 3 and reply["id"] is None
        ok = await _request(ws, '{"method": "SUBSCRIBE", "params": ["btcusdt@depth5"], "id": 7}')
        assert ok == {"result": None, "id": 7}


async def test_unknown_stream_in_url_is_closed_not_silent(exchange: LocalExchange) -> None:
    url = f"{exchange.ws_url}/public/stream?streams=btcusdt@depth@100ms/btcusdt@nonsense"
    async with connect(url) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_tls_serves_rest_and_websocket_on_one_port(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
               "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
               "-addext", "subjectAltName=IP:127.0.0.1"]
    await asyncio.to_thread(subprocess.run, openssl, check=True, capture_output=True)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    async with LocalExchange(["BTCUSDT"], ssl_context=server_ctx) as ex:
        assert ex.rest_url.startswith("https://") and ex.ws_url.startswith("wss://")
        async with httpx.AsyncClient(verify=client_ctx) as http:
            resp = await http.get(f"{ex.rest_url}/fapi/v1/depth", params={"symbol": "BTCUSDT"})
        assert resp.status_code == 200 and "lastUpdateId" in resp.json()
        async with connect(f"{ex.ws_url}/public/ws/btcusdt@depth@100ms", ssl=client_ctx) as ws:
            assert (await recv_json(ws))["e"] == "depthUpdate"


BTC_0808 = (Path(__file__).resolve().parents[2] / "shared" / "data" / "binance_usdm"
            / "hftbacktest_usdm_btcusdt_20240808.gz")


@pytest.mark.skipif(not BTC_0808.exists(), reason="shared recordings not present")
async def test_replay_serves_partial_depth_and_trades_from_the_recording() -> None:
    exchange = LocalExchange(replay_files=[BTC_0808], speed=200.0)
    exchange.pause()
    async with exchange:
        spec = exchange.spec("BTCUSDT").instrument
        url = (f"{exchange.ws_url}/public/stream?streams=btcusdt@depth@100ms/"
               "btcusdt@depth10@100ms")
        async with connect(url, max_queue=None) as ws, \
                connect(f"{exchange.ws_url}/market/stream?streams=btcusdt@trade/"
                        "btcusdt@aggTrade", max_queue=None) as tws, \
                httpx.AsyncClient(base_url=exchange.rest_url) as http:
            snap = (await http.get("/fapi/v1/depth",
                                   params={"symbol": "BTCUSDT", "limit": 1000})).json()
            exchange.resume()
            # A dozen partial-depth frames (about 2 s here), however long a busy machine takes.
            frames = await _collect(ws, 30.0, lambda got: sum(
                f["stream"] == "btcusdt@depth10@100ms" for f in got) >= 12)
            exchange.pause()
            trade_frames = await _collect(tws, 2.0)  # every trade sent until the pause (queued)
    book: dict[str, dict[int, int]] = {
        "b": {spec.prices.parse(p): spec.quantities.parse(q) for p, q in snap["bids"]},
        "a": {spec.prices.parse(p): spec.quantities.parse(q) for p, q in snap["asks"]}}
    compared = 0
    for frame in frames:
        data = frame["data"]
        if frame["stream"] == "btcusdt@depth@100ms":
            if data["u"] <= snap["lastUpdateId"]:
                continue
            apply_diff(book, data, spec)
            last_u = data["u"]
        else:
            assert data["u"] == last_u  # sent right after the diff it follows
            assert [(spec.prices.parse(p), spec.quantities.parse(q)) for p, q in data["b"]] \
                == sorted(book["b"].items(), reverse=True)[:10]
            assert [(spec.prices.parse(p), spec.quantities.parse(q)) for p, q in data["a"]] \
                == sorted(book["a"].items())[:10]
            compared += 1
    assert compared > 10
    trades = [f["data"] for f in trade_frames if f["stream"] == "btcusdt@trade"]
    aggs = [f["data"] for f in trade_frames if f["stream"] == "btcusdt@aggTrade"]
    assert trades and {t["e"] for t in trades} == {"trade"}
    # Each recorded (market) trade reaches aggTrade subscribers as the aggTrade of one fill, in
    # Binance's aggTrade shape (a client reads a/f/l there, not t).
    assert [a["e"] for a in aggs] == ["aggTrade"] * len(trades)
    for trade, agg in zip(trades, aggs, strict=True):
        assert agg["a"] == agg["f"] == agg["l"] == trade["t"]
        assert (agg["p"], agg["q"], agg["T"], agg["m"]) == \
            (trade["p"], trade["q"], trade["T"], trade["m"])
    # The recorded trades are the exchange's history: REST serves the same ids.
    history = exchange.trades.of("BTCUSDT")
    assert history is not None
    assert [t.trade_id for t in history.trades(50)] == [t["t"] for t in trades[-50:]]


async def test_every_accepted_depth_name_is_served(exchange: LocalExchange) -> None:
    # SUBSCRIBE accepts @depth@250ms (@depth's cadence spelled out) and @depth@0ms (the name the
    # recordings were made with): each must then carry diffs, never stay silent.
    names = ("btcusdt@depth@250ms", "btcusdt@depth@0ms", "btcusdt@depth", "btcusdt@depth@100ms")
    async with connect(f"{exchange.ws_url}/public/stream?streams={'/'.join(names)}") as ws:
        frames = await _collect(ws, 1.5)
    by_name: dict[str, list[Any]] = defaultdict(list)
    for frame in frames:
        by_name[frame["stream"]].append(frame["data"])
    assert set(by_name) == set(names)
    assert all(d["e"] == "depthUpdate" for diffs in by_name.values() for d in diffs)
    # Aliases are the same streams: same update ids as the names they spell.
    assert [d["u"] for d in by_name["btcusdt@depth@250ms"]] == \
        [d["u"] for d in by_name["btcusdt@depth"]][:len(by_name["btcusdt@depth@250ms"])]
    assert [d["u"] for d in by_name["btcusdt@depth@0ms"]] == \
        [d["u"] for d in by_name["btcusdt@depth@100ms"]][:len(by_name["btcusdt@depth@0ms"])]


async def test_raw_path_ignores_what_is_not_a_stream(exchange: LocalExchange) -> None:
    # ccxt connects to /ws/0 and subscribes there: the path's "0" is no stream, nor an error.
    async with connect(f"{exchange.ws_url}/ws/0") as ws:
        assert await _request(ws, '{"method": "LIST_SUBSCRIPTIONS", "id": 1}') == \
            {"result": [], "id": 1}
        reply = await _request(ws, '{"method": "SUBSCRIBE", "params": ["btcusdt@trade"], '
                                   '"id": 2}')
        assert reply == {"result": None, "id": 2}
        assert (await recv_json(ws))["e"] == "trade"  # @trade reaches an unrouted socket too


async def test_spot_partial_depth_has_spots_shape() -> None:
    async with LocalExchange(["BTCUSDT"], seed=3, dialect="binance-spot") as ex:
        url = f"{ex.ws_url}/stream?streams=btcusdt@depth5@100ms/btcusdt@trade"
        async with connect(url) as ws:
            frames = await _collect(ws, 1.5)
    partial = [f["data"] for f in frames if f["stream"] == "btcusdt@depth5@100ms"]
    trades = [f["data"] for f in frames if f["stream"] == "btcusdt@trade"]
    assert partial and set(partial[-1]) == {"lastUpdateId", "bids", "asks"}
    assert len(partial[-1]["bids"]) == 5 and len(partial[-1]["asks"]) == 5
    assert trades and "X" not in trades[0] and trades[0]["M"] is True


class _Sink:
    """A stand-in for StreamServer: every stream is wanted, frames are kept."""

    def __init__(self) -> None:
        self.sent: list[tuple[tuple[str, ...], Any]] = []

    def wants(self, name: str) -> bool:
        return True

    def publish(self, names: Any, payload: Any) -> int:
        self.sent.append((tuple(names), payload))
        return 1


def test_kline_is_closed_once_when_its_minute_ends() -> None:
    from local_exchange.instruments import KNOWN_SPECS
    from local_exchange.streams_market import MarketStreams
    from local_exchange.trade_history import TradeHistory

    specs = {"BTCUSDT": KNOWN_SPECS["BTCUSDT"]}
    sink = _Sink()
    streams = MarketStreams(sink, TradeHistory(specs), specs, spot=False)
    minute = 1_800_000_000_000 - 1_800_000_000_000 % 60_000
    agg = {"e": "aggTrade", "s": "BTCUSDT", "p": "60000.0", "q": "0.010", "m": False}
    streams.on_agg_trade({**agg, "E": minute + 10, "a": 1, "f": 1, "l": 2, "T": minute + 10})
    streams.on_tick(minute + 300)
    streams.on_agg_trade({**agg, "E": minute + 61_000, "a": 2, "f": 3, "l": 3,
                          "T": minute + 61_000, "p": "60001.0"})
    streams.on_tick(minute + 61_100)
    klines = [(p["k"]["t"], p["k"]["x"], p["k"]["n"]) for names, p in sink.sent
              if names == ("btcusdt@kline_1m",)]
    assert klines == [(minute, False, 2), (minute, True, 2), (minute + 60_000, False, 1)]
    trades = [p for names, p in sink.sent if names == ("btcusdt@trade",)]
    assert [t["t"] for t in trades] == [1, 3]  # no per-fill sizes yet: one trade per aggTrade
