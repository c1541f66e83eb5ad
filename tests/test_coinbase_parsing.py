"""CoinbaseParser on hand-written Advanced Trade frames (the shapes of exchange-protocols.md
sections 3.2-3.4): typed events, exact units, sides, times, and what is ignored or rejected."""

from __future__ import annotations

import orjson
import pytest

from data_ingestion.coinbase.parser import (CoinbaseParser, ParseError, instruments_from_products,
                                            rfc3339_to_ms)
from marketdata.events import DepthDiff, DepthSnapshot, Trade
from orderbook.instrument import Instrument

BTC = Instrument.from_steps("BTC-USD", "0.01", "0.00000001")
RECV = 123_456_789


def parser() -> CoinbaseParser:
    return CoinbaseParser({"BTC-USD": BTC})


def l2(kind: str, seq: int, updates: list[tuple[str, str, str]], product: str = "BTC-USD") -> bytes:
    return orjson.dumps({
        "channel": "l2_data", "timestamp": "2026-01-01T00:00:00.623456789Z", "sequence_num": seq,
        "events": [{"type": kind, "product_id": product, "updates": [
            {"side": side, "event_time": "2026-01-01T00:00:00.621000Z", "price_level": price,
             "new_quantity": qty} for side, price, qty in updates]}]})


def test_snapshot_becomes_depth_snapshot_keyed_by_sequence_num() -> None:
    frame = parser().parse(l2("snapshot", 0, [("bid", "94210.10", "0.53"),
                                              ("offer", "94210.11", "1.20")]), RECV)
    assert frame.channel == "l2_data" and frame.sequence_num == 0
    [snap] = frame.events
    assert isinstance(snap, DepthSnapshot)
    assert snap.symbol == "BTC-USD" and snap.last_update_id == 0
    assert snap.bids == [(9421010, 53_000_000)]
    assert snap.asks == [(9421011, 120_000_000)]
    assert snap.exchange_ts_ms == 1767225600621 and snap.receive_ts_ns == RECV


def test_update_becomes_absolute_diff_with_offer_as_ask() -> None:
    frame = parser().parse(l2("update", 7, [("offer", "94210.11", "0"),
                                            ("bid", "94209.90", "2.75")]), RECV)
    [diff] = frame.events
    assert isinstance(diff, DepthDiff)
    assert (diff.first_update_id, diff.last_update_id, diff.prev_update_id) == (7, 7, None)
    assert diff.asks == [(9421011, 0)]
    assert diff.bids == [(9420990, 275_000_000)]


def test_unknown_level_side_and_unknown_event_type_are_rejected() -> None:
    with pytest.raises(ParseError, match="side"):
        parser().parse(l2("update", 1, [("middle", "1.00", "1")]), RECV)
    with pytest.raises(ParseError, match="event type"):
        parser().parse(l2("delta", 1, [("bid", "1.00", "1")]), RECV)


def test_price_finer_than_the_tick_is_rejected() -> None:
    with pytest.raises(ParseError, match="decimals"):
        parser().parse(l2("update", 1, [("bid", "94210.105", "1")]), RECV)


def test_unconfigured_product_is_skipped_but_keeps_its_sequence_num() -> None:
    p = parser()
    frame = p.parse(l2("update", 4, [("bid", "1.00", "1")], product="DOGE-USD"), RECV)
    assert frame.sequence_num == 4 and frame.events == [] and p.ignored == 1


def test_market_trades_side_is_the_maker_side() -> None:
    frame = parser().parse(orjson.dumps({
        "channel": "market_trades", "timestamp": "2026-01-01T00:00:00.900Z", "sequence_num": 9,
        "events": [{"type": "update", "trades": [
            {"trade_id": "812345678", "product_id": "BTC-USD", "price": "94210.11",
             "size": "0.0042", "side": "BUY", "time": "2026-01-01T00:00:00.874Z"},
            {"trade_id": "812345679", "product_id": "BTC-USD", "price": "94210.12",
             "size": "1", "side": "SELL", "time": "2026-01-01T00:00:00.875Z"}]}]}), RECV)
    buy_maker, sell_maker = frame.events
    assert isinstance(buy_maker, Trade) and isinstance(sell_maker, Trade)
    assert (buy_maker.trade_id, buy_maker.price, buy_maker.qty) == (812345678, 9421011, 420_000)
    assert buy_maker.taker_side == "sell" and sell_maker.taker_side == "buy"
    assert buy_maker.exchange_ts_ms == 1767225600874


def test_non_numeric_trade_id_is_rejected() -> None:
    with pytest.raises(ParseError, match="market_trades"):
        parser().parse(orjson.dumps({
            "channel": "market_trades", "timestamp": "2026-01-01T00:00:00Z", "sequence_num": 3,
            "events": [{"type": "update", "trades": [
                {"trade_id": "abc", "product_id": "BTC-USD", "price": "1.00", "size": "1",
                 "side": "BUY", "time": "2026-01-01T00:00:00Z"}]}]}), RECV)


@pytest.mark.parametrize("raw", [
    b'{"channel":"heartbeats","timestamp":"2026-01-01T00:00:01.000000001Z","sequence_num":12,'
    b'"events":[{"current_time":"2026-01-01 00:00:01 +0000 UTC","heartbeat_counter":3601}]}',
    b'{"channel":"subscriptions","timestamp":"2026-01-01T00:00:00.010Z","sequence_num":12,'
    b'"events":[{"subscriptions":{"level2":["BTC-USD"]}}]}',
    b'{"channel":"ticker","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":12,'
    b'"events":[{"type":"update","tickers":[{"product_id":"BTC-USD","price":"1"}]}]}',
])
def test_other_channels_carry_only_their_sequence_num(raw: bytes) -> None:
    frame = parser().parse(raw, RECV)
    assert frame.sequence_num == 12 and frame.events == []


@pytest.mark.parametrize("raw", [b"not json", b'{"channel":"l2_data"}', b"[1,2]",
                                 b'{"channel":"heartbeats","sequence_num":"7"}'])
def test_malformed_envelopes_are_rejected(raw: bytes) -> None:
    with pytest.raises(ParseError):
        parser().parse(raw, RECV)


@pytest.mark.parametrize(("stamp", "ms"), [
    ("2026-08-09T21:05:48.228568804Z", 1786309548228),
    ("2026-08-09T21:05:42.514318Z", 1786309542514),
    ("2026-08-09T21:05:42.5Z", 1786309542500),
    ("2026-08-09T21:05:42Z", 1786309542000),
    ("2026-08-09T23:05:42.001+02:00", 1786309542001),
])
def test_rfc3339_times_to_epoch_ms(stamp: str, ms: int) -> None:
    assert rfc3339_to_ms(stamp) == ms


def test_times_without_zone_or_garbled_are_rejected() -> None:
    for bad in ("2026-08-09T21:05:42.1", "yesterday"):
        with pytest.raises(ParseError):
            rfc3339_to_ms(bad)


def test_instruments_from_products_use_the_increments() -> None:
    body = orjson.dumps({"products": [
        {"product_id": "XRP-USD", "base_increment": "0.000001", "quote_increment": "0.0001",
         "price_increment": "0.0001"}]})
    xrp = instruments_from_products(body, ["XRP-USD"])["XRP-USD"]
    assert (xrp.price_decimals, xrp.qty_decimals) == (4, 6)
    with pytest.raises(ParseError, match="BTC-USD"):
        instruments_from_products(body, ["XRP-USD", "BTC-USD"])
