"""Parsing real Binance Spot messages: typed events, spot's missing fields (no ``pu``, no event
time on bookTicker and snapshots), unknown keys and types, malformed frames, exchangeInfo."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from data_ingestion.binance.parser import ParseError
from data_ingestion.binance_spot.parser import (
    NO_VENUE_TIME,
    SpotParser,
    instruments_from_exchange_info,
)
from data_ingestion.recordings import is_snapshot, read_lines
from marketdata.events import BookTicker, DepthDiff, Trade
from orderbook.instrument import Instrument
from tests.replay_support import spot_instruments
from tests.test_spot_replay_book_tickers import SPOT

BTC = SPOT / "hftbacktest_spot_btcusdt_20240808.gz"
CRYPTOFEED_WS = SPOT / "cryptofeed_BINANCE.ws.1.0"


@pytest.fixture()
def parser() -> SpotParser:
    return SpotParser(spot_instruments())


def first_of(path: Path, marker: bytes) -> bytes:
    for _, raw in read_lines([path]):
        if marker in raw[:60]:
            return raw
    raise AssertionError(f"no {marker!r} in {path}")


def units(text: str, decimals: int) -> int:
    """Independent of the codec under test: exact decimal arithmetic."""
    return int(Decimal(text).scaleb(decimals))


def test_real_depth_update_becomes_a_diff_without_prev_id(parser: SpotParser) -> None:
    raw = first_of(BTC, b"@depth@100ms")
    event = parser.parse_stream(raw, 123)
    doc = orjson.loads(raw)["data"]
    assert type(event) is DepthDiff and event.symbol == "BTCUSDT"
    assert (event.first_update_id, event.last_update_id, event.prev_update_id) == (
        doc["U"], doc["u"], None)
    assert event.exchange_ts_ms == doc["E"] and event.receive_ts_ns == 123
    assert event.bids == [(units(p, 2), units(q, 8)) for p, q in doc["b"]]
    assert event.asks == [(units(p, 2), units(q, 8)) for p, q in doc["a"]]


def test_real_trade_and_aggtrade_become_trades(parser: SpotParser) -> None:
    raw = first_of(BTC, b"@trade")
    trade = parser.parse_stream(raw, 7)
    doc = orjson.loads(raw)["data"]
    assert type(trade) is Trade and trade.trade_id == doc["t"]
    assert doc["m"] is True and trade.taker_side == "sell"  # the buyer made: a seller took
    assert (trade.price, trade.qty, trade.exchange_ts_ms) == (
        units(doc["p"], 2), units(doc["q"], 8), doc["T"])
    line = next(line for line in CRYPTOFEED_WS.read_text().splitlines()
                if '@aggTrade","data"' in line[:80])
    agg = line.partition(": ")[2]
    nkn = SpotParser({"NKNUSDT": Instrument.from_steps("NKNUSDT", "0.0001", "1", None, 8)})
    event = nkn.parse_stream(agg, 2)
    doc = orjson.loads(agg)["data"]
    assert type(event) is Trade and event.trade_id == doc["a"]
    assert doc["m"] is False and event.taker_side == "buy"
    assert event.qty == units(doc["q"], 8) and event.price == units(doc["p"], 4)


def test_real_book_ticker_has_no_venue_time(parser: SpotParser) -> None:
    raw = first_of(BTC, b"@bookTicker")
    doc = orjson.loads(raw)["data"]
    assert "E" not in doc and "e" not in doc  # the recording agrees with section 2.6
    ticker = parser.parse_stream(raw, 99)
    assert type(ticker) is BookTicker and ticker.update_id == doc["u"]
    assert (ticker.bid_price, ticker.bid_qty, ticker.ask_price, ticker.ask_qty) == (
        units(doc["b"], 2), units(doc["B"], 8), units(doc["a"], 2), units(doc["A"], 8))
    assert ticker.exchange_ts_ms == NO_VENUE_TIME and ticker.receive_ts_ns == 99


def test_raw_frames_parse_like_combined_ones(parser: SpotParser) -> None:
    for marker in (b"@depth@100ms", b"@trade", b"@bookTicker"):
        combined = first_of(BTC, marker)
        raw = orjson.dumps(orjson.loads(combined)["data"])
        assert parser.parse_stream(raw, 5) == parser.parse_stream(combined, 5)


def test_real_snapshot_and_its_missing_event_time(parser: SpotParser) -> None:
    raw = next(raw for _, raw in read_lines([BTC]) if is_snapshot(raw))
    doc = orjson.loads(raw)
    snap = parser.parse_snapshot("BTCUSDT", raw, 11)
    assert snap.last_update_id == doc["lastUpdateId"] and len(snap.bids) == len(doc["bids"])
    assert snap.asks[0] == (units(doc["asks"][0][0], 2), units(doc["asks"][0][1], 8))
    assert snap.exchange_ts_ms == NO_VENUE_TIME and snap.receive_ts_ns == 11
    with pytest.raises(ParseError, match="no instrument"):
        parser.parse_snapshot("DOGEUSDT", raw, 11)
    with pytest.raises(ParseError, match="snapshot"):
        parser.parse_snapshot("BTCUSDT", b'{"lastUpdateId": 5, "bids": []}', 11)


def test_unknown_keys_streams_and_symbols_are_ignored(parser: SpotParser) -> None:
    diff = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": 5, "u": 6, "x": {"new": 1},
            "b": [["61800.20000000", "1.00000000"]], "a": []}
    event = parser.parse_stream(orjson.dumps({"stream": "btcusdt@depth", "data": diff}), 0)
    assert type(event) is DepthDiff and event.bids == [(6180020, 100_000_000)]
    kline = next(line.partition(": ")[2] for line in CRYPTOFEED_WS.read_text().splitlines()
                 if '@kline_1m","data"' in line[:80])
    ignored = [
        kline,  # a real stream depthlens does not use
        '{"stream":"btcusdt@depth5@100ms","data":{"lastUpdateId":1,"bids":[],"asks":[]}}',
        '{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1}}',
        '{"e":"serverShutdown","E":1}',
        '{"result":null,"id":1}',
        orjson.dumps({"stream": "dogeusdt@depth@100ms", "data": {**diff, "s": "DOGEUSDT"}}),
    ]
    for frame in ignored:
        assert parser.parse_stream(frame, 0) is None, frame
    assert parser.ignored == len(ignored)


@pytest.mark.parametrize("frame, message", [
    ('{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","s":"BTCUSDT","U":1}}',
     "malformed btcusdt@depth@100ms"),
    ('{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.00"}}',
     "malformed btcusdt@bookTicker"),
    ('{"stream":"btcusdt@trade","data":{"e":"aggTrade","E":1,"s":"BTCUSDT","a":1,"p":"1",'
     '"q":"1","T":1,"m":true}}', "malformed btcusdt@trade"),  # e contradicts the stream
    ('{"stream":"btcusdt@trade"}', "malformed btcusdt@trade"),
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":"x","p":"1","q":"1","T":1,"m":true}',
     "malformed trade"),
    ('{"u":1,"s":"BTCUSDT","b":"1.00","B":"1","a":"2.00"}', "malformed bookTicker"),
    ('{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["61800.123","1"]],"a":[]}',
     "bad number"),  # finer than the tick
    ('{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"-1.00","q":"1","T":1,"m":true}',
     "bad number"),
    ('{"stream":"btcusdt@depth", "data":', "not JSON"),
    ("[1, 2]", "not a JSON object"),
])
def test_malformed_frames_of_known_types_raise(parser: SpotParser, frame: str,
                                               message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parser.parse_stream(frame, 0)


def exchange_info(**btc_extra: object) -> bytes:
    def symbol(name: str, tick: str, step: str, **extra: object) -> dict[str, object]:
        return {"symbol": name, "status": "TRADING", "baseAssetPrecision": 8,
                "quotePrecision": 8, "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": "0.01000000",
                     "maxPrice": "1000000.00000000", "tickSize": tick},
                    {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "9000.00000000",
                     "stepSize": step},
                    {"filterType": "ICEBERG_PARTS", "limit": 10}], **extra}
    return orjson.dumps({"timezone": "UTC", "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
         "limit": 6000}], "symbols": [
        symbol("BTCUSDT", "0.01000000", "0.00001000", **btc_extra),
        symbol("ETHUSDT", "0.01000000", "0.00010000")]})


def test_exchange_info_gives_tick_step_and_base_precision() -> None:
    found = instruments_from_exchange_info(exchange_info(), ["BTCUSDT", "ETHUSDT"])
    assert found == spot_instruments()
    btc = found["BTCUSDT"]
    assert (btc.price_decimals, btc.qty_decimals, btc.tick_units, btc.step_units) == (
        2, 8, 1, 1000)
    # the finer-than-step size the real recording holds parses exactly
    assert btc.quantities.parse("93.75658700") == 9_375_658_700
    with pytest.raises(ParseError, match="not listed.*SOLUSDT"):
        instruments_from_exchange_info(exchange_info(), ["BTCUSDT", "SOLUSDT"])
    with pytest.raises(ParseError, match="BTCUSDT: exchangeInfo lacks"):
        instruments_from_exchange_info(exchange_info(filters=[]), ["BTCUSDT"])
    with pytest.raises(ParseError, match="bad exchangeInfo"):
        instruments_from_exchange_info(b'{"symbols": 3}', ["BTCUSDT"])
