"""The real Coinbase Advanced Trade capture replayed through the real parser and book machine.

25 s of BTC-USD and ETH-USD on one connection (../shared/data/README.md): 46,000- and
23,334-level snapshots, 773 level2 messages, and one ``sequence_num`` counter 0..1029 shared by
every channel. The final books are checked against an independent rebuild on ``Decimal`` keys
straight from the JSON, and the machine is shown to catch a dropped and a repeated message.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from data_ingestion.coinbase.book_sync import CoinbaseBookSync
from data_ingestion.coinbase.parser import CoinbaseFrame, CoinbaseParser, instruments_from_products
from data_ingestion.coinbase.recording import CapturedFrame, read_frames, read_http_body
from marketdata.events import DepthDiff, DepthSnapshot, Trade
from orderbook.book import L2Book
from orderbook.instrument import Instrument

CAPTURE = (Path(__file__).resolve().parents[2]
           / "shared/data/coinbase_advanced_trade/cryptofeed_COINBASE.jsonl.zst")
PRODUCTS = ["BTC-USD", "ETH-USD"]


class Recorder:
    """A BookObserver that checks the book after every change and counts what it saw."""

    def __init__(self) -> None:
        self.resets = self.updates = self.lost = 0
        self.crossed = 0
        self.trades: list[tuple[Trade, tuple[int, int] | None]] = []
        self.book: L2Book | None = None

    def on_book_reset(self, book: L2Book, snapshot: DepthSnapshot) -> None:
        self.resets += 1
        self.book = book

    def on_book_update(self, book: L2Book, diff: DepthDiff) -> None:
        self.updates += 1
        self.crossed += book.is_crossed()

    def on_book_lost(self) -> None:
        self.lost += 1

    def on_trade(self, trade: Trade) -> None:
        touch = None
        if self.book is not None and self.book.best_bid() and self.book.best_ask():
            touch = (self.book.best_bid()[0], self.book.best_ask()[0])
        self.trades.append((trade, touch))


@pytest.fixture(scope="module")
def captured() -> list[CapturedFrame]:
    if not CAPTURE.is_file():
        pytest.fail(f"capture not found at {CAPTURE} (shared/ must sit beside the repo)")
    return list(read_frames(CAPTURE))


@pytest.fixture(scope="module")
def instruments() -> dict[str, Instrument]:
    return instruments_from_products(read_http_body(CAPTURE, "/market/products"), PRODUCTS)


@pytest.fixture(scope="module")
def frames(captured: list[CapturedFrame],
           instruments: dict[str, Instrument]) -> list[CoinbaseFrame]:
    parser = CoinbaseParser(instruments)
    return [parser.parse(f.data, f.receive_ns) for f in captured]


def replay(frames: list[CoinbaseFrame]) -> tuple[CoinbaseBookSync, dict[str, Recorder], list[str]]:
    observers = {p: Recorder() for p in PRODUCTS}
    rebuilds: list[str] = []
    sync = CoinbaseBookSync({p: L2Book() for p in PRODUCTS}, rebuilds.append, observers)
    for frame in frames:
        sync.on_frame(frame)
    return sync, observers, rebuilds


def reference_books(captured: list[CapturedFrame]) -> dict[str, tuple[dict, dict]]:
    """The final books rebuilt from the raw JSON alone: Decimal keys, no depthlens code."""
    books: dict[str, tuple[dict, dict]] = {}
    for f in captured:
        msg = json.loads(f.data)
        if msg["channel"] != "l2_data":
            continue
        for event in msg["events"]:
            if event["type"] == "snapshot":
                books[event["product_id"]] = ({}, {})
            bids, asks = books[event["product_id"]]
            for u in event["updates"]:
                side = bids if u["side"] == "bid" else asks
                qty = Decimal(u["new_quantity"])
                if qty:
                    side[Decimal(u["price_level"])] = qty
                else:
                    side.pop(Decimal(u["price_level"]), None)
    return books


def test_capture_shape(frames: list[CoinbaseFrame]) -> None:
    assert [f.sequence_num for f in frames] == list(range(1030))
    snapshots = [e for f in frames for e in f.events if isinstance(e, DepthSnapshot)]
    assert [(s.symbol, len(s.bids) + len(s.asks)) for s in snapshots] == [
        ("BTC-USD", 46_000), ("ETH-USD", 23_334)]
    assert sum(f.channel == "l2_data" for f in frames) == 775  # 2 snapshots + 773 updates


def test_capture_strings_parse_exactly(captured: list[CapturedFrame],
                                       instruments: dict[str, Instrument]) -> None:
    checked = 0
    for f in captured:
        msg = json.loads(f.data)
        if msg["channel"] != "l2_data":
            continue
        for event in msg["events"]:
            inst = instruments[event["product_id"]]
            for u in event["updates"]:
                price = inst.prices.parse(u["price_level"])
                qty = inst.quantities.parse(u["new_quantity"])
                assert Decimal(inst.prices.format(price)) == Decimal(u["price_level"])
                assert Decimal(inst.quantities.format(qty)) == Decimal(u["new_quantity"])
                checked += 1
    assert checked == 74_193  # the README's count of level changes, snapshots included


def test_replay_builds_exact_books_without_gaps(frames: list[CoinbaseFrame],
                                                captured: list[CapturedFrame],
                                                instruments: dict[str, Instrument]) -> None:
    sync, observers, rebuilds = replay(frames)
    s = sync.stats
    updates = sum(isinstance(e, DepthDiff) for f in frames for e in f.events)
    assert (s.frames, s.snapshots_loaded, s.applied) == (1030, 2, updates)
    assert (s.gaps, s.duplicates, s.rebuilds, s.integrity_errors, s.dropped_updates) == (
        0, 0, 0, 0, 0)
    assert rebuilds == []
    assert all(sync.is_live(p) for p in PRODUCTS)
    assert sum(o.updates for o in observers.values()) == updates
    assert all(o.resets == 1 and o.lost == 0 and o.crossed == 0 for o in observers.values())
    for product, (bids, asks) in reference_books(captured).items():
        book, inst = sync.books[product], instruments[product]
        assert book.top_bids(len(bids)) == [
            (inst.prices.parse(format(p, "f")), inst.quantities.parse(format(q, "f")))
            for p, q in sorted(bids.items(), reverse=True)]
        assert book.top_asks(len(asks)) == [
            (inst.prices.parse(format(p, "f")), inst.quantities.parse(format(q, "f")))
            for p, q in sorted(asks.items())]
        assert book.depth() == (len(bids), len(asks))


def test_market_trades_aggressor_matches_the_touch(frames: list[CoinbaseFrame]) -> None:
    """Section 5.14 leaves market_trades' ``side`` open; against the live book a taker buy
    prints at the ask and a taker sell at the bid, never the other way round."""
    _, observers, _ = replay(frames)
    at_ask = {"buy": 0, "sell": 0}
    at_bid = {"buy": 0, "sell": 0}
    for observer in observers.values():
        for trade, touch in observer.trades:
            if touch is not None:
                at_bid[trade.taker_side] += trade.price == touch[0]
                at_ask[trade.taker_side] += trade.price == touch[1]
    assert at_ask["buy"] > 20 and at_bid["sell"] > 10
    assert at_ask["sell"] == 0 and at_bid["buy"] == 0


def test_a_dropped_message_of_any_channel_is_a_gap_for_every_product(
        frames: list[CoinbaseFrame]) -> None:
    heartbeat = next(i for i, f in enumerate(frames) if f.channel == "heartbeats" and i > 100)
    sync, observers, rebuilds = replay(frames[:heartbeat] + frames[heartbeat + 1:])
    assert sync.stats.gaps == 1
    assert sorted(rebuilds) == PRODUCTS
    assert not any(sync.is_live(p) for p in PRODUCTS)
    assert all(o.lost == 1 for o in observers.values())
    later_updates = sum(isinstance(e, DepthDiff) for f in frames[heartbeat + 1:] for e in f.events)
    assert sync.stats.dropped_updates == later_updates > 0


def test_a_fresh_snapshot_after_a_gap_makes_the_product_live_again(
        frames: list[CoinbaseFrame]) -> None:
    gap_at = 500
    btc_snapshot = next(e for f in frames for e in f.events
                        if isinstance(e, DepthSnapshot) and e.symbol == "BTC-USD")
    observers = {p: Recorder() for p in PRODUCTS}
    sync = CoinbaseBookSync({p: L2Book() for p in PRODUCTS}, lambda p: None, observers)
    for frame in frames[:gap_at] + frames[gap_at + 1:gap_at + 10]:
        sync.on_frame(frame)
    assert not sync.is_live("BTC-USD")
    last = frames[gap_at + 9].sequence_num
    sync.on_frame(CoinbaseFrame("l2_data", last + 1, [btc_snapshot]))
    assert sync.is_live("BTC-USD") and not sync.is_live("ETH-USD")
    assert sync.books["BTC-USD"].depth() == (len(btc_snapshot.bids), len(btc_snapshot.asks))
    assert observers["BTC-USD"].resets == 2


def test_repeated_and_old_messages_are_ignored(frames: list[CoinbaseFrame]) -> None:
    clean, _, _ = replay(frames)
    update = next(i for i, f in enumerate(frames)
                  if any(isinstance(e, DepthDiff) for e in f.events) and i > 300)
    # The same message twice in a row, and an old update again 20 messages later: applied,
    # the old one would resurrect sizes that have since changed.
    noisy = frames[:update + 1] + [frames[update]] + frames[update + 1:update + 20] + \
        [frames[update + 1]] + frames[update + 20:]
    sync, observers, rebuilds = replay(noisy)
    assert sync.stats.duplicates == 2 and sync.stats.gaps == 0 and rebuilds == []
    for product in PRODUCTS:
        assert sync.books[product].top_bids(10**6) == clean.books[product].top_bids(10**6)
        assert sync.books[product].top_asks(10**6) == clean.books[product].top_asks(10**6)


def test_a_crossed_book_is_an_integrity_error_for_that_product_only(
        frames: list[CoinbaseFrame]) -> None:
    live_at = next(i for i, f in enumerate(frames)
                   if any(isinstance(e, DepthSnapshot) and e.symbol == "ETH-USD"
                          for e in f.events)) + 1
    rebuilds: list[str] = []
    sync = CoinbaseBookSync({p: L2Book() for p in PRODUCTS}, rebuilds.append)
    for frame in frames[:live_at]:
        sync.on_frame(frame)
    best_ask = sync.books["BTC-USD"].best_ask()
    assert best_ask is not None
    crossing = DepthDiff("BTC-USD", live_at, live_at, None, [(best_ask[0] + 100, 1)], [], 0, 0)
    sync.on_frame(CoinbaseFrame("l2_data", live_at, [crossing]))
    assert sync.stats.integrity_errors == 1 and rebuilds == ["BTC-USD"]
    assert not sync.is_live("BTC-USD") and sync.is_live("ETH-USD")
