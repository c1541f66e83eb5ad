"""Parsing real Binance futures messages: typed events, unknown keys and types, malformed frames."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from data_ingestion.binance.parser import FuturesParser, ParseError, instruments_from_exchange_info
from marketdata.events import DepthDiff, Trade
from data_ingestion.recordings import is_snapshot, read_lines
from orderbook import instrument
from orderbook.instrument import FixedPointCodec, Instrument, PrecisionError
from tests.conftest import futures_instruments


@pytest.fixture()
def parser() -> FuturesParser:
    return FuturesParser(futures_instruments())


def first_of(path: Path, stream_suffix: bytes) -> bytes:
    for _, raw in read_lines([path]):
        if stream_suffix in raw[:40]:
            return raw
    raise AssertionError(f"no {stream_suffix!r} in {path}")


def test_real_depth_update_becomes_a_typed_diff(parser: FuturesParser, usdm_dir: Path) -> None:
    raw = first_of(usdm_dir / "hftbacktest_usdm_btcusdt_20240808.gz", b"@depth")
    event = parser.parse_stream(raw, 123)
    doc = orjson.loads(raw)["data"]
    assert type(event) is DepthDiff
    assert (event.first_update_id, event.last_update_id, event.prev_update_id) == (
        doc["U"], doc["u"], doc["pu"])
    assert event.exchange_ts_ms == doc["E"] and event.receive_ts_ns == 123
    assert len(event.bids) == len(doc["b"]) and len(event.asks) == len(doc["a"])
    price, qty = doc["b"][0]
    assert event.bids[0] == (round(float(price) * 100), round(float(qty) * 1000))


def test_real_aggtrade_and_trade_both_become_trades(parser: FuturesParser, usdm_dir: Path) -> None:
    raw_trade = first_of(usdm_dir / "hftbacktest_usdm_btcusdt_20240808.gz", b"@trade")
    trade = parser.parse_stream(raw_trade, 1)
    assert type(trade) is Trade and trade.symbol == "BTCUSDT"
    doc = orjson.loads(raw_trade)["data"]
    assert trade.taker_side == ("sell" if doc["m"] else "buy") and trade.trade_id == doc["t"]
    agg = next(line.partition(": ")[2] for line in
               (usdm_dir / "cryptofeed_BINANCE_FUTURES.ws.1.0").read_text().splitlines()
               if '{"stream":"' in line[:40] and "@aggTrade" in line[:60])
    instruments = {"CTKUSDT": Instrument("CTKUSDT", 5, 0), "SUSHIUSDT": Instrument("SUSHIUSDT", 4, 0),
                   "AKROUSDT": Instrument("AKROUSDT", 5, 0), "KEEPUSDT": Instrument("KEEPUSDT", 4, 0)}
    event = FuturesParser(instruments).parse_stream(agg.encode(), 2)
    assert type(event) is Trade and event.trade_id == orjson.loads(agg)["data"]["a"]


def test_unknown_keys_and_event_types_are_ignored(parser: FuturesParser) -> None:
    diff = {"e": "depthUpdate", "E": 1, "T": 1, "s": "BTCUSDT", "U": 5, "u": 6, "pu": 4,
            "b": [["61800.20", "1.000"]], "a": [], "ps": "BTCUSDT", "st": 1, "future": {"x": 1}}
    event = parser.parse_stream(orjson.dumps({"stream": "btcusdt@depth@100ms", "data": diff}), 0)
    assert type(event) is DepthDiff and event.bids == [(6180020, 1000)]
    assert parser.parse_stream(orjson.dumps(diff), 0) == event  # raw /ws form too
    liquidation = {"stream": "btcusdt@forceOrder", "data": {"e": "forceOrder", "E": 1,
                                                             "o": {"s": "BTCUSDT"}}}
    assert parser.parse_stream(orjson.dumps(liquidation), 0) is None  # an event not used
    assert parser.parse_stream(b'{"result":null,"id":1}', 0) is None
    other = dict(diff, s="DOGEUSDT")
    assert parser.parse_stream(orjson.dumps(other), 0) is None  # not a configured symbol


@pytest.mark.parametrize("frame", [
    b"not json at all",
    b'{"stream":"btcusdt@depth","data":{"e":"depthUpdate","s":"BTCUSDT","U":1}}',  # missing u, pu
    b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[["-1","1"]],"a":[]}',
    b'{"e":"aggTrade","E":1,"s":"BTCUSDT","a":1,"p":"1.234","q":"1","T":1,"m":true}',  # 3 decimals
    b'[1, 2, 3]',
])
def test_malformed_frames_raise_a_parse_error(parser: FuturesParser, frame: bytes) -> None:
    with pytest.raises(ParseError):
        parser.parse_stream(frame, 0)


def test_real_snapshot_and_exchange_info(parser: FuturesParser, usdm_dir: Path) -> None:
    raw = next(r for _, r in read_lines([usdm_dir / "hftbacktest_usdm_ethusdt_20240808.gz"])
               if is_snapshot(r))
    snap = parser.parse_snapshot("ETHUSDT", raw, 9)
    assert len(snap.bids) == 1000 and len(snap.asks) == 1000
    assert snap.bids[0][0] > snap.bids[-1][0] and snap.asks[0][0] < snap.asks[-1][0]
    with pytest.raises(ParseError):
        parser.parse_snapshot("ETHUSDT", b'{"code":-1121,"msg":"Invalid symbol."}', 0)
    info = orjson.dumps({"symbols": [{"symbol": "BTCUSDT", "pricePrecision": 2,
                                      "quantityPrecision": 3, "unknown": True, "filters": [
        {"filterType": "PRICE_FILTER", "tickSize": "0.10", "minPrice": "556.80"},
        {"filterType": "LOT_SIZE", "stepSize": "0.001"}]}]})
    btc = instruments_from_exchange_info(info, ["BTCUSDT"])["BTCUSDT"]
    assert (btc.price_decimals, btc.qty_decimals, btc.tick_units, btc.step_units) == (2, 3, 10, 1)
    with pytest.raises(ParseError, match="ETHUSDT"):
        instruments_from_exchange_info(info, ["BTCUSDT", "ETHUSDT"])


def test_fixed_point_codec_is_exact() -> None:
    codec = FixedPointCodec(2)
    assert codec.parse("61800.2") == codec.parse("61800.20") == codec.parse("61800.200") == 6180020
    assert codec.format(6180020) == "61800.20" and codec.parse("0") == 0
    for bad in ("1.234", "1e5", "-1", "", "1.2.3", " 1"):
        with pytest.raises(PrecisionError):
            codec.parse(bad)


def test_string_memo_is_bounded_by_count_and_by_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The price/size memo: at most two generations, each ended by a count (a replay at full
    speed) or by time (a live feed printing new sizes forever); a string still in use survives
    a turnover; every value stays exact whichever path parsed it."""
    clock = [1000.0]
    monkeypatch.setattr(instrument.time, "monotonic", lambda: clock[0])
    codec = FixedPointCodec(3)
    limit = instrument._CACHE_LIMIT
    # By count, the clock standing still: three generations' worth of new strings.
    for n in range(3 * limit):
        assert codec.parse(f"{n}.{n % 1000:03d}") == n * 1000 + n % 1000
        assert len(codec._cache) + len(codec._old) <= 2 * limit
    # By time: a handful of strings, then nothing new for a generation and more.
    codec = FixedPointCodec(3)
    hot, cold = "61800.123", [f"1.{n:03d}" for n in range(500)]
    for text in [hot, *cold]:
        codec.parse(text)
    for _ in range(2):
        clock[0] += instrument._GENERATION_S + 0.5
        assert codec.parse(hot) == 61_800_123  # used again: carried into the new generation
        codec.parse(f"{clock[0]:.3f}")  # a new string (a miss) is what turns a generation over
    held = set(codec._cache) | set(codec._old)
    assert hot in held and not held & set(cold), "strings unused for two generations stay held"
    assert all(codec.parse(text) == 1000 + n for n, text in enumerate(cold))
