"""Mark price, funding and 24-hour tickers parsed at the edge, for all three venues.

Binance payloads are the documented examples (developers.binance.com "Mark Price Stream" and
"Individual Symbol Ticker Streams", USDT-M and Spot); Coinbase's are the 160 real ``ticker``
frames of the capture. Numbers must come out equal to the venue's strings; a malformed
statistics message is skipped and counted, never a ParseError and never a hole in Coinbase's
sequence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from data_ingestion.binance.parser import FuturesParser, ParseError
from data_ingestion.binance_spot.parser import SpotParser
from data_ingestion.coinbase.book_sync import CoinbaseBookSync
from data_ingestion.coinbase.parser import (
    CoinbaseParser,
    VenueErrorReply,
    instruments_from_products,
    rfc3339_to_ms,
)
from data_ingestion.coinbase.recording import read_frames, read_http_body
from data_ingestion.stats_fields import BadNumber, decimal
from marketdata.events import DepthDiff, MarkPrice, Ticker24h
from orderbook.book import L2Book
from orderbook.instrument import Instrument

CAPTURE = (Path(__file__).resolve().parents[2]
           / "shared/data/coinbase_advanced_trade/cryptofeed_COINBASE.jsonl.zst")
RECV = 987_654_321

# Documented examples, key for key (USDT-M Mark Price Stream; ps/st/ap are newer keys).
USDM_MARK = {"e": "markPriceUpdate", "E": 1562305380000, "s": "BTCUSDT", "p": "11794.15000000",
             "i": "11784.62659091", "P": "11784.25641265", "r": "0.00038167",
             "T": 1562306400000}
USDM_TICKER = {"e": "24hrTicker", "E": 123456789, "s": "BTCUSDT", "p": "0.0015", "P": "250.00",
               "w": "0.0018", "c": "0.0025", "Q": "10", "o": "0.0010", "h": "0.0025",
               "l": "0.0010", "v": "10000", "q": "18", "O": 0, "C": 86400000, "F": 0,
               "L": 18150, "n": 18151}
SPOT_TICKER = {"e": "24hrTicker", "E": 123456789, "s": "BNBBTC", "p": "0.0015", "P": "250.00",
               "w": "0.0018", "x": "0.0009", "c": "0.0025", "Q": "10", "b": "0.0024", "B": "10",
               "a": "0.0026", "A": "100", "o": "0.0010", "h": "0.0025", "l": "0.0010",
               "v": "10000", "q": "18", "O": 0, "C": 86400000, "F": 0, "L": 18150, "n": 18151}


def futures() -> FuturesParser:
    return FuturesParser({"BTCUSDT": Instrument("BTCUSDT", 2, 3)})


def spot() -> SpotParser:
    return SpotParser({"BNBBTC": Instrument("BNBBTC", 7, 3)})


def combined(stream: str, data: dict[str, Any]) -> bytes:
    return orjson.dumps({"stream": stream, "data": data})


def expected_ticker(doc: dict[str, Any]) -> Ticker24h:
    return Ticker24h(doc["s"], float(doc["c"]), float(doc["o"]), float(doc["h"]), float(doc["l"]),
                     float(doc["P"]), float(doc["v"]), float(doc["q"]), doc["E"], RECV)


def test_usdm_mark_price_example_in_both_forms() -> None:
    want = MarkPrice("BTCUSDT", 11794.15, 11784.62659091, 0.00038167, 1562306400000,
                     1562305380000, RECV)
    parser = futures()
    assert parser.parse_stream(combined("btcusdt@markPrice@1s", USDM_MARK), RECV) == want
    newer = dict(USDM_MARK, ap="11790.1", st=1, future={"x": 1})  # unknown keys: ignored
    assert parser.parse_stream(orjson.dumps(newer), RECV) == want
    assert parser.malformed_stats == 0 and parser.ignored == 0


def test_usdm_delivery_contract_has_no_funding_but_an_empty_rate_needs_one() -> None:
    parser = futures()
    delivery = dict(USDM_MARK, r="", T=0)
    event = parser.parse_stream(orjson.dumps(delivery), RECV)
    assert type(event) is MarkPrice and (event.funding_rate, event.next_funding_ms) == (0.0, 0)
    assert parser.parse_stream(orjson.dumps(dict(USDM_MARK, r="")), RECV) is None
    assert parser.malformed_stats == 1


def test_usdm_and_spot_ticker_examples() -> None:
    assert futures().parse_stream(combined("btcusdt@ticker", USDM_TICKER), RECV) \
        == expected_ticker(USDM_TICKER)
    parser = spot()
    want = expected_ticker(SPOT_TICKER)
    assert want.change_pct == 250.0 and want.quote_volume == 18.0
    assert parser.parse_stream(combined("bnbbtc@ticker", SPOT_TICKER), RECV) == want
    assert parser.parse_stream(orjson.dumps(SPOT_TICKER), RECV) == want  # raw /ws form
    # A rolling-window ticker is another event on another stream: not ours, not malformed.
    window = dict(SPOT_TICKER, e="1hTicker")
    assert parser.parse_stream(combined("bnbbtc@ticker_1h", window), RECV) is None
    assert parser.malformed_stats == 0


def test_statistics_of_symbols_not_followed_are_ignored() -> None:
    parser = futures()
    assert parser.parse_stream(orjson.dumps(dict(USDM_MARK, s="ETHUSDT")), RECV) is None
    assert parser.parse_stream(orjson.dumps(dict(USDM_TICKER, s="ETHUSDT")), RECV) is None
    assert parser.ignored == 2 and parser.malformed_stats == 0


BAD_STATS = [
    ("p", "nan"), ("p", "-1"), ("i", "1_000"), ("i", 11784.6), ("r", "0.1%"), ("T", "soon"),
]
BAD_TICKERS = [("c", "inf"), ("h", ""), ("v", "-5"), ("q", None), ("P", " 1.0"), ("E", "x")]


@pytest.mark.parametrize("key, value", BAD_STATS)
def test_a_malformed_mark_price_is_skipped_and_counted(key: str, value: object) -> None:
    parser = futures()
    assert parser.parse_stream(combined("btcusdt@markPrice@1s", dict(USDM_MARK, **{key: value})),
                               RECV) is None
    assert parser.malformed_stats == 1


@pytest.mark.parametrize("key, value", BAD_TICKERS)
def test_a_malformed_ticker_is_skipped_and_counted(key: str, value: object) -> None:
    usdm, spot_parser = futures(), spot()
    assert usdm.parse_stream(orjson.dumps(dict(USDM_TICKER, **{key: value})), RECV) is None
    assert spot_parser.parse_stream(combined("bnbbtc@ticker", dict(SPOT_TICKER, **{key: value})),
                                    RECV) is None
    assert spot_parser.parse_stream(orjson.dumps(dict(SPOT_TICKER, **{key: value})), RECV) is None
    assert usdm.malformed_stats == 1 and spot_parser.malformed_stats == 2
    missing = {k: v for k, v in USDM_TICKER.items() if k != key}
    assert usdm.parse_stream(orjson.dumps(missing), RECV) is None
    assert usdm.malformed_stats == 2


def test_book_frames_still_raise() -> None:
    """Only statistics are skipped quietly: a malformed book frame is still a ParseError."""
    with pytest.raises(ParseError):
        futures().parse_stream(b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1}', RECV)
    with pytest.raises(ParseError):
        spot().parse_stream(combined("bnbbtc@depth@100ms", {"e": "depthUpdate"}), RECV)


def test_decimal_accepts_venue_decimals_only() -> None:
    assert decimal("61800.23456789", "x") == 61800.23456789
    assert decimal("-0.00012", "x", signed=True) == -0.00012
    assert decimal("1e-5", "x") == 1e-5
    for bad in ("nan", "inf", "1_0", " 1", "", "0x10", "1,5", "1e999"):
        with pytest.raises(BadNumber):
            decimal(bad, "x", signed=True)
    with pytest.raises(BadNumber):
        decimal("-1", "x")


# ---- Coinbase -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def capture() -> tuple[dict[str, Instrument], list[Any]]:
    instruments = instruments_from_products(read_http_body(CAPTURE, "/market/products"),
                                            ["BTC-USD", "ETH-USD"])
    return instruments, list(read_frames(CAPTURE))


def test_every_captured_ticker_frame_parses_to_the_raw_values(capture: Any) -> None:
    instruments, frames = capture
    parser = CoinbaseParser(instruments)
    tickers = 0
    for frame in frames:
        doc = orjson.loads(frame.data)
        if doc.get("channel") != "ticker":
            continue
        parsed = parser.parse(frame.data, frame.receive_ns)
        raw = [t for event in doc["events"] for t in event["tickers"]]
        assert parsed.sequence_num == doc["sequence_num"] and len(parsed.events) == len(raw)
        for event, t in zip(parsed.events, raw, strict=True):
            assert type(event) is Ticker24h and event.symbol == t["product_id"]
            assert event.last_price == float(t["price"])
            assert event.high_price == float(t["high_24_h"])
            assert event.low_price == float(t["low_24_h"])
            assert event.volume == float(t["volume_24_h"])
            assert event.change_pct == float(t["price_percent_chg_24_h"])
            # The open is implied by the change: the price it was measured from.
            assert event.open_price is not None
            assert event.open_price * (1 + event.change_pct / 100) == pytest.approx(
                event.last_price, rel=1e-12)
            assert event.quote_volume is None
            assert event.exchange_ts_ms == rfc3339_to_ms(doc["timestamp"])
            assert event.receive_ts_ns == frame.receive_ns
            assert event.low_price <= event.last_price <= event.high_price
        tickers += 1
    assert tickers == 160 and parser.malformed_stats == 0 and parser.ignored == 0


def test_captured_tickers_interleaved_with_level2_keep_the_sequence(capture: Any) -> None:
    """The capture's one counter runs across l2_data, ticker, trades and heartbeats: ticker
    frames must be counted in it, or every level2 update after one would look like a gap."""
    instruments, frames = capture
    parser = CoinbaseParser(instruments)
    sync = CoinbaseBookSync({p: L2Book() for p in instruments}, lambda p: None)
    for frame in frames:
        assert sync.on_frame(parser.parse(frame.data, frame.receive_ns))
    assert sync.last_sequence == 1029 and sync.stats.frames == 1030
    assert (sync.stats.gaps, sync.stats.rebuilds, sync.stats.duplicates) == (0, 0, 0)
    assert all(sync.is_live(p) for p in instruments) and sync.stats.applied > 700


def ticker_frame(seq: int, ticker: dict[str, Any]) -> bytes:
    return orjson.dumps({"channel": "ticker", "timestamp": "2026-08-09T21:05:48.229198328Z",
                         "sequence_num": seq, "events": [{"type": "update", "tickers": [ticker]}]})


GOOD_TICKER = {"type": "ticker", "product_id": "BTC-USD", "price": "65086.18",
               "volume_24_h": "2867.54532609", "low_24_h": "64675.22", "high_24_h": "65252.99",
               "price_percent_chg_24_h": "0.09601107287722", "best_bid": "65083.66"}


@pytest.mark.parametrize("change", [{"price": "abc"}, {"volume_24_h": "-1"}, {"high_24_h": 5},
                                    {"price_percent_chg_24_h": None}, {"product_id": 7}])
def test_a_malformed_coinbase_ticker_keeps_its_sequence_number(change: dict[str, Any]) -> None:
    btc = Instrument.from_steps("BTC-USD", "0.01", "0.00000001")
    parser = CoinbaseParser({"BTC-USD": btc})
    sync = CoinbaseBookSync({"BTC-USD": L2Book()}, lambda p: None)

    def l2(kind: str, seq: int, price: str, qty: str) -> bytes:
        return orjson.dumps({"channel": "l2_data", "timestamp": "2026-01-01T00:00:00Z",
                             "sequence_num": seq, "events": [{
                                 "type": kind, "product_id": "BTC-USD", "updates": [{
                                     "side": "bid", "event_time": "2026-01-01T00:00:00Z",
                                     "price_level": price, "new_quantity": qty}]}]})

    sync.on_frame(parser.parse(l2("snapshot", 0, "100.00", "1"), RECV))
    bad = parser.parse(ticker_frame(1, dict(GOOD_TICKER, **change)), RECV)
    assert (bad.sequence_num, bad.events) == (1, []) and parser.malformed_stats == 1
    assert sync.on_frame(bad)
    update = parser.parse(l2("update", 2, "99.00", "2"), RECV)
    assert type(update.events[0]) is DepthDiff
    sync.on_frame(update)
    assert sync.stats.gaps == 0 and sync.is_live("BTC-USD")
    assert sync.books["BTC-USD"].top_bids(5) == [(10000, 100_000_000), (9900, 200_000_000)]


def test_coinbase_ticker_edge_cases() -> None:
    parser = CoinbaseParser({"BTC-USD": Instrument.from_steps("BTC-USD", "0.01", "0.00000001")})
    [crash] = parser.parse(ticker_frame(0, dict(GOOD_TICKER, price="0",
                                                price_percent_chg_24_h="-100")), RECV).events
    assert type(crash) is Ticker24h and crash.open_price is None  # no open fits -100 %
    eth = parser.parse(ticker_frame(1, dict(GOOD_TICKER, product_id="ETH-USD")), RECV)
    assert eth.events == [] and parser.ignored == 1 and parser.malformed_stats == 0
    with pytest.raises(VenueErrorReply):
        parser.parse(b'{"type":"error","message":"Failed to subscribe"}', RECV)
