"""The trade-driven liquidity detectors (sweep, absorption, iceberg-like) on hand-made sequences.

Every case runs through ``LiquidityDetectors`` with a real ``L2Book``: diffs are applied to the
book and then handed to the detectors exactly as ``BookSync`` does, trades go through
``on_trade``. Venue times are explicit, so each case is exact. A final case replays a real
Binance futures recording through the production path and checks the events it reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from marketdata.events import DepthDiff, DepthSnapshot, Side, Trade
from features.liquidity import DetectorParams, LiquidityDetectors
from features.liquidity.iceberg import IcebergDetector
from orderbook.book import L2Book
from orderbook.instrument import Instrument

INST = Instrument.from_steps("BTCUSDT", "0.10", "0.001", 2, 3)  # price units 0.01, qty 0.001
T0 = 1_723_161_600_000  # venue ms
TOUCH_BID = 60_000.0
RECORDING = (Path(__file__).resolve().parents[2]
             / "shared/data/binance_usdm/hftbacktest_usdm_btcusdt_20240808.gz")


def P(price: float) -> int:
    return round(price * 100)


def Q(qty: float) -> int:
    return round(qty * 1000)


def bid(i: int) -> float:
    """The i-th bid price below the touch (i = 0 is the best bid)."""
    return round(TOUCH_BID - 0.1 * i, 1)


def ask(i: int) -> float:
    return round(TOUCH_BID + 0.1 + 0.1 * i, 1)


class Feed:
    """Drives one symbol's detectors the way ``BookSync`` + ``SymbolState`` do."""

    def __init__(self, params: DetectorParams | None = None) -> None:
        self.book = L2Book()
        self.det = LiquidityDetectors(INST, self.book, params or DetectorParams())
        self.t = T0
        self.u = 100
        self.trade_id = 0

    def snapshot(self, bids: list[tuple[float, float]] | None = None,
                 asks: list[tuple[float, float]] | None = None) -> None:
        bids = [(bid(i), 1.0) for i in range(20)] if bids is None else bids
        asks = [(ask(i), 1.0) for i in range(20)] if asks is None else asks
        b = [(P(p), Q(q)) for p, q in bids]
        a = [(P(p), Q(q)) for p, q in asks]
        self.u += 1
        self.book.load(b, a, self.u)
        self.det.on_book_reset(self.book, DepthSnapshot("BTCUSDT", self.u, b, a, self.t, 0))

    def diff(self, bids: Sequence[tuple[float, float]] = (),
             asks: Sequence[tuple[float, float]] = (), at: int | None = None) -> None:
        if at is not None:
            self.t = at
        b = [(P(p), Q(q)) for p, q in bids]
        a = [(P(p), Q(q)) for p, q in asks]
        self.u += 1
        self.book.apply(b, a, self.u)
        self.det.on_book_update(self.book, DepthDiff("BTCUSDT", self.u, self.u, self.u - 1,
                                                     b, a, self.t, 0))

    def trade(self, price: float, qty: float, taker: Side, at: int | None = None) -> None:
        if at is not None:
            self.t = at
        self.trade_id += 1
        self.det.on_trade(Trade("BTCUSDT", self.trade_id, P(price), Q(qty), taker, self.t, 0))

    def tick(self, until: int) -> None:
        """Let venue time pass with an empty diff every 100 ms."""
        while self.t + 100 <= until:
            self.diff(at=self.t + 100)

    def warm_up(self, seconds: int = 40) -> None:
        """Ordinary two-sided flow: each second one small trade per side at the touch, shown
        by the next diff and put back half a second later (too late to be a refill). Gives the
        level-size baseline (touch median 1.0) and the traded-volume baseline (0.1 per level
        per 10 s) something to learn."""
        self.snapshot()
        for s in range(seconds):
            base = self.t + 100
            self.trade(bid(0), 0.01, "sell", at=base)
            self.trade(ask(0), 0.01, "buy", at=base + 10)
            self.diff(bids=[(bid(0), 0.99)], asks=[(ask(0), 0.99)], at=base + 50)
            self.diff(bids=[(bid(0), 1.0)], asks=[(ask(0), 1.0)], at=base + 600)
            self.tick(base + 900)

    def events(self, kind: str | None = None) -> list[dict]:
        self.det.flush()  # buffered trades reach the detectors, as at a frame cut
        out = [e.to_dict() for e in self.det.log]
        return [e for e in out if kind is None or e["type"] == kind]


@pytest.fixture
def feed() -> Feed:
    f = Feed()
    f.warm_up()
    assert f.events("sweep") == f.events("absorption") == f.events("iceberg") == []
    return f


# ---- sweep -----------------------------------------------------------------------------------


def _buy_sweep(f: Feed, start: int, diff_first: bool = False) -> None:
    """A buy order takes asks 0 and 1 and half of ask 2 (2.5 in 10 ms)."""
    prints = [(ask(0), 1.0, start), (ask(1), 1.0, start + 5), (ask(2), 0.5, start + 10)]
    if diff_first:
        f.diff(asks=[(ask(0), 0), (ask(1), 0), (ask(2), 0.5)], at=start + 12)
    for price, qty, at in prints:
        f.trade(price, qty, "buy", at=at)
    if not diff_first:
        f.diff(asks=[(ask(0), 0), (ask(1), 0), (ask(2), 0.5)], at=start + 40)
    f.tick(start + 400)


@pytest.mark.parametrize("diff_first", [False, True])
def test_sweep_fires_once_whichever_socket_comes_first(feed: Feed, diff_first: bool) -> None:
    start = feed.t + 100
    _buy_sweep(feed, start, diff_first)
    [ev] = feed.events("sweep")
    assert ev["side"] == "ask" and ev["status"] == "ended"
    assert ev["price"] == ask(2) and ev["price_from"] == ask(0) and ev["price_to"] == ask(2)
    assert ev["size"] == pytest.approx(2.5)
    assert ev["start_ts"] == start / 1000 and ev["end_ts"] == (start + 10) / 1000
    assert ev["start_ts"] <= ev["end_ts"] <= ev["detected_ts"] <= (start + 400) / 1000
    d = ev["detail"]
    assert d["levels"] == 3 and d["trades"] == 3 and d["taker_side"] == "buy"
    assert d["best_move_levels"] == 2
    assert d["notional"] == pytest.approx(ask(0) + ask(1) + 0.5 * ask(2))
    assert 0.5 <= ev["score"] <= 1.0
    assert feed.events("absorption") == feed.events("iceberg") == []


def test_sell_sweep_consumes_bids(feed: Feed) -> None:
    start = feed.t + 100
    for i in range(5):
        feed.trade(bid(i), 0.8, "sell", at=start + 8 * i)
    feed.diff(bids=[(bid(i), 0) for i in range(4)] + [(bid(4), 0.2)], at=start + 50)
    feed.tick(start + 400)
    [ev] = feed.events("sweep")
    assert ev["side"] == "bid" and ev["price"] == bid(4) and ev["price_from"] == bid(0)
    assert ev["detail"]["levels"] == 5 and ev["detail"]["best_move_levels"] == 4
    assert ev["detail"]["taker_side"] == "sell"


def test_sweep_survives_interleaved_prints_of_the_other_side(feed: Feed) -> None:
    """Raw futures trades: small sells at the bid land between the sweep's prints."""
    start = feed.t + 100
    for i in range(3):
        feed.trade(ask(i), 1.0 if i < 2 else 0.5, "buy", at=start + 10 * i)
        feed.trade(bid(0), 0.01, "sell", at=start + 10 * i + 3)
    feed.diff(asks=[(ask(0), 0), (ask(1), 0), (ask(2), 0.5)], bids=[(bid(0), 0.97)],
              at=start + 40)
    feed.tick(start + 400)
    [ev] = feed.events("sweep")
    assert ev["side"] == "ask" and ev["detail"]["levels"] == 3 and ev["size"] == pytest.approx(2.5)


def test_split_parent_order_is_one_sweep(feed: Feed) -> None:
    """Five child orders 40-50 ms apart (250 ms in all), one level each: one sweep."""
    start = feed.t + 100
    for i, gap in enumerate((0, 50, 90, 140, 180)):
        feed.trade(ask(i), 1.0, "buy", at=start + gap)
        feed.diff(asks=[(ask(i), 0)], at=start + gap + 20)
    feed.tick(start + 600)
    [ev] = feed.events("sweep")
    assert ev["detail"]["levels"] == 5 and ev["size"] == pytest.approx(5.0)
    assert ev["end_ts"] - ev["start_ts"] == pytest.approx(0.18)


def test_sweep_hard_negatives(feed: Feed) -> None:
    # One big print at one price.
    start = feed.t + 100
    feed.trade(ask(0), 1.0, "buy", at=start)
    feed.trade(ask(0), 1.0, "buy", at=start + 1)
    feed.diff(asks=[(ask(0), 0.5)], at=start + 30)
    feed.tick(start + 1000)
    # The same volume as a sweep, spread over seconds.
    for i in range(3):
        at = feed.t + 700
        feed.trade(ask(i), 1.0 if i < 2 else 0.5, "buy", at=at)
        feed.diff(asks=[(ask(i), 0 if i < 2 else 0.5)], at=at + 30)
    feed.tick(feed.t + 1000)
    # Three thin levels taken: price moves, but far less than a touch's worth traded.
    feed.diff(asks=[(ask(2), 0.01), (ask(3), 0.01), (ask(4), 0.01)], at=feed.t + 100)
    at = feed.t + 100
    for i in (2, 3, 4):
        feed.trade(ask(i), 0.01, "buy", at=at + i)
    feed.diff(asks=[(ask(2), 0), (ask(3), 0), (ask(4), 0)], at=at + 30)
    feed.tick(feed.t + 1000)
    # Three levels printed but the best ask came straight back: not confirmed on L2.
    feed.diff(asks=[(ask(0), 1.0), (ask(1), 1.0), (ask(2), 1.0)], at=feed.t + 100)
    at = feed.t + 100
    for i in range(3):
        feed.trade(ask(i), 1.0, "buy", at=at + i)
    feed.diff(asks=[(ask(0), 1.0)], at=at + 30)
    feed.tick(feed.t + 1000)
    assert feed.events("sweep") == []


def test_sweep_confirmed_before_makers_requote(feed: Feed) -> None:
    """A replayed sweep: every print has the same T, the next diff shows the swept asks gone
    and the one after (50 ms, before the burst's cluster closes) shows makers re-quoting them.
    The L2 confirmation is the diff right after the burst, not the book once the cluster
    closes (which missed this before)."""
    start = feed.t + 100
    for i in range(4):
        feed.trade(ask(i), 1.0 if i < 3 else 0.5, "buy", at=start)
    feed.diff(asks=[(ask(0), 0), (ask(1), 0), (ask(2), 0), (ask(3), 0.5)], at=start + 5)
    feed.diff(asks=[(ask(0), 1.0), (ask(1), 1.0), (ask(2), 1.0)], at=start + 55)
    feed.tick(start + 600)
    [ev] = feed.events("sweep")
    assert ev["side"] == "ask" and ev["detail"]["levels"] == 4
    assert ev["detail"]["best_move_levels"] == 3
    assert ev["start_ts"] == ev["end_ts"] == start / 1000
    assert ev["detected_ts"] == (start + 5) / 1000


def test_sweep_confirmed_when_swept_prices_hold_only_dust(feed: Feed) -> None:
    """A maker re-quoting a few lots at the first swept price (the best ask is back there, with
    0.003) does not undo the sweep: dust (<= 5 % of the touch median) counts as cleared."""
    start = feed.t + 100
    for i in range(4):
        feed.trade(ask(i), 1.0 if i < 3 else 0.5, "buy", at=start)
    feed.diff(asks=[(ask(0), 0.003), (ask(1), 0), (ask(2), 0), (ask(3), 0.5)], at=start + 20)
    feed.tick(start + 600)
    [ev] = feed.events("sweep")
    assert ev["detail"]["best_move_levels"] == 3 and ev["detail"]["levels"] == 4


def test_sweep_dropped_on_resync_and_before_live() -> None:
    f = Feed()
    # Trades before any snapshot: ignored, nothing breaks.
    for i in range(3):
        f.trade(ask(i), 1.0, "buy", at=T0 + i)
    f.snapshot()
    start = f.t + 100
    for i in range(3):
        f.trade(ask(i), 1.0, "buy", at=start + i)
    f.snapshot(asks=[(ask(i), 1.0) for i in range(3, 20)])  # resync before any confirmation
    f.tick(start + 500)
    assert f.events("sweep") == []
    f.det.on_not_live()
    f.trade(ask(3), 1.0, "buy", at=f.t + 10)  # not live: ignored
    assert f.events() == []


# ---- iceberg-like ----------------------------------------------------------------------------


def _iceberg(f: Feed, slices: list[float], late_trades: bool = False, peak: float = 0.5) -> int:
    """A bid slice of ``peak`` at the touch, hit in full and re-posted (a new slice of the
    given sizes) right away, every 300 ms. Returns the time of the first print."""
    f.diff(bids=[(bid(0), peak)], at=f.t + 100)
    first = f.t + 300
    shown = peak
    for k, size in enumerate(slices):
        at = first + 300 * k
        if late_trades:
            # The diff showing the refill comes first; its trade trails it on the other socket.
            f.diff(bids=[(bid(0), size)], at=at + 20)
            f.trade(bid(0), shown, "sell", at=at)
        else:
            f.trade(bid(0), shown, "sell", at=at)
            f.diff(bids=[(bid(0), size)], at=at + 50)
        shown = size
        f.tick(at + 250)
    return first


@pytest.mark.parametrize("late_trades", [False, True])
def test_iceberg_like_fires_on_regular_refills(feed: Feed, late_trades: bool) -> None:
    slices = [0.5, 0.45, 0.55, 0.5, 0.48, 0.52]
    first = _iceberg(feed, slices, late_trades)
    [ev] = feed.events("iceberg")
    assert ev["side"] == "bid" and ev["price"] == bid(0) and ev["status"] == "active"
    assert ev["start_ts"] == first / 1000 and ev["detected_ts"] > ev["start_ts"]
    d = ev["detail"]
    assert d["kind"] == "iceberg-like" and d["refills"] == len(slices)
    assert d["peak"] == pytest.approx(0.5, abs=0.03)
    assert d["max_visible"] == pytest.approx(0.55)
    executed = 0.5 + sum(slices[:-1])
    assert ev["size"] == pytest.approx(executed) and d["executed"] == pytest.approx(executed)
    assert feed.events("absorption") == [], "an iceberg-like level is not also absorption"
    # The touch moves away (a better bid): the event ends there.
    feed.diff(bids=[(bid(0) + 0.1, 1.0)], at=feed.t + 100)
    [ev] = feed.events("iceberg")
    assert ev["status"] == "ended" and ev["detail"]["reason"] == "touch moved away"


def test_iceberg_like_on_its_own_keeps_its_own_evidence() -> None:
    """Built alone (no absorption detector to share the touch evidence with), the detector
    keeps its own and reaches the same verdict."""
    f = Feed()
    params = DetectorParams()
    f.det = LiquidityDetectors(INST, f.book, params,
                               detectors=[IcebergDetector(params.iceberg)])
    f.warm_up()
    first = _iceberg(f, [0.5, 0.45, 0.55, 0.5, 0.48, 0.52])
    [ev] = f.events("iceberg")
    assert ev["side"] == "bid" and ev["start_ts"] == first / 1000
    assert ev["detail"]["refills"] == 6


def test_iceberg_like_hard_negatives(feed: Feed) -> None:
    # A too-short refill series (two refills), then the level is traded through.
    _iceberg(feed, [0.5, 0.5])
    feed.trade(bid(0), 0.5, "sell", at=feed.t + 10)
    feed.trade(bid(1), 0.5, "sell", at=feed.t + 20)
    feed.diff(bids=[(bid(0), 0), (bid(1), 0.5)], at=feed.t + 50)
    feed.tick(feed.t + 1000)
    # Refills of very different sizes: not one order's slices.
    feed.diff(bids=[(bid(1), 1.0)], at=feed.t + 100)
    TOUCH = bid(1)
    shown = 1.0
    for k, size in enumerate([0.2, 1.0, 0.3, 1.0, 0.1, 0.9, 0.2, 1.0]):
        at = feed.t + 300
        feed.trade(TOUCH, shown, "sell", at=at)
        feed.diff(bids=[(TOUCH, size)], at=at + 50)
        shown = size
        feed.tick(at + 250)
    assert feed.events("iceberg") == []


def test_level_hit_without_refills_is_neither_iceberg_nor_absorption(feed: Feed) -> None:
    feed.diff(bids=[(bid(0), 3.0)], at=feed.t + 100)
    left = 3.0
    for k in range(6):
        at = feed.t + 200
        feed.trade(bid(0), 0.5, "sell", at=at)
        left -= 0.5
        feed.diff(bids=[(bid(0), left)], at=at + 50)
    feed.tick(feed.t + 5000)
    assert feed.events("iceberg") == [] and feed.events("absorption") == []


def test_iceberg_like_ends_on_resync(feed: Feed) -> None:
    _iceberg(feed, [0.5] * 5)
    [ev] = feed.events("iceberg")
    assert ev["status"] == "active"
    feed.snapshot()
    [ev] = feed.events("iceberg")
    assert ev["status"] == "ended" and ev["detail"]["reason"] == "resync"


# ---- absorption ------------------------------------------------------------------------------


def _absorb(f: Feed, sizes: list[float], resting: float = 2.0, every_ms: int = 200) -> int:
    """Sells of the given sizes into the best bid, which an absorber tops back up to
    ``resting`` 50 ms after each. Returns the time of the first print."""
    f.diff(bids=[(bid(0), resting)], at=f.t + 100)
    first = f.t + every_ms
    for k, qty in enumerate(sizes):
        at = first + every_ms * k
        f.trade(bid(0), qty, "sell", at=at)
        f.diff(bids=[(bid(0), resting - qty)], at=at + 10)
        f.diff(bids=[(bid(0), resting)], at=at + 60)
        f.tick(at + every_ms - 10)
    return first


SIZES = [0.3, 0.7, 0.2, 0.5, 0.9, 0.4, 0.6, 0.3, 0.8, 0.4]


def test_absorption_fires_and_ends_when_flow_stops(feed: Feed) -> None:
    first = _absorb(feed, SIZES)
    [ev] = feed.events("absorption")
    assert ev["side"] == "bid" and ev["price"] == bid(0) and ev["status"] == "active"
    assert ev["start_ts"] == first / 1000
    d = ev["detail"]
    assert d["taker_side"] == "sell" and d["visible_at_start"] == pytest.approx(2.0)
    assert d["typical_10s_volume"] == pytest.approx(0.1)
    # Opened on the print that takes the volume to 1.5 x the 2.0 visible (the 6th: 3.0)...
    assert ev["detected_ts"] == (first + 200 * 5) / 1000
    assert ev["detail"]["refills"] >= 5
    last = first + 200 * (len(SIZES) - 1)
    feed.tick(last + 5000)
    [ev] = feed.events("absorption")
    # ...and ended by the silence, at the last print, with everything absorbed counted.
    assert ev["status"] == "ended" and ev["detail"]["reason"] == "flow stopped"
    assert ev["end_ts"] == last / 1000
    assert ev["size"] == pytest.approx(sum(SIZES))
    assert ev["detail"]["replenished"] == pytest.approx(sum(SIZES))
    assert feed.events("iceberg") == []


def test_even_top_ups_are_absorption_not_iceberg_like(feed: Feed) -> None:
    """Every print takes the same half of the level and the absorber puts back exactly that:
    refills as regular as an iceberg's, but the level never ran out - absorption."""
    _absorb(feed, [1.0] * 8)
    [ev] = feed.events("absorption")
    assert ev["detail"]["slices"] == 0 and ev["detail"]["refills"] >= 3
    assert feed.events("iceberg") == []


def test_absorption_needs_heavy_flow_and_replenishment(feed: Feed) -> None:
    # Flow far below the typical 10-s volume per level (x5): ordinary market making.
    _absorb(feed, [0.05, 0.08, 0.04, 0.06, 0.09, 0.05], resting=0.1)
    feed.tick(feed.t + 5000)
    # Heavy flow, but the resting size is not put back (the absorber is spent after 1.0).
    feed.diff(bids=[(bid(0), 6.0)], at=feed.t + 100)
    left = 6.0
    for qty in SIZES:
        at = feed.t + 200
        feed.trade(bid(0), qty, "sell", at=at)
        left = max(0.0, left - qty + (0.1 if left > 5.0 else 0.0))
        feed.diff(bids=[(bid(0), round(left, 3))], at=at + 50)
    feed.tick(feed.t + 5000)
    assert feed.events("absorption") == []


def test_absorption_ends_when_traded_through(feed: Feed) -> None:
    _absorb(feed, SIZES)
    [ev] = feed.events("absorption")
    assert ev["status"] == "active"
    at = feed.t + 50
    feed.trade(bid(0), 2.0, "sell", at=at)
    feed.trade(bid(1), 1.0, "sell", at=at + 1)
    feed.trade(bid(2), 1.0, "sell", at=at + 2)  # two ticks through the level
    [ev] = feed.events("absorption")
    assert ev["status"] == "ended" and ev["detail"]["reason"] == "traded through"
    assert ev["end_ts"] == (at + 2) / 1000


def test_absorption_ends_on_resync_and_survives_an_empty_side(feed: Feed) -> None:
    _absorb(feed, SIZES)
    feed.snapshot(bids=[], asks=[(ask(i), 1.0) for i in range(5)])  # resync to a one-sided book
    [ev] = feed.events("absorption")
    assert ev["status"] == "ended" and ev["detail"]["reason"] == "resync"
    # Trades and diffs against the empty side: nothing to judge, nothing breaks.
    feed.trade(bid(0), 1.0, "sell", at=feed.t + 10)
    feed.diff(asks=[(ask(0), 0)], at=feed.t + 100)
    feed.diff(bids=[(bid(0), 1.0)], at=feed.t + 100)
    feed.diff(bids=[(bid(0), 0)], at=feed.t + 100)
    feed.trade(ask(1), 5.0, "buy", at=feed.t + 10)
    feed.tick(feed.t + 3000)
    assert len(feed.events("absorption")) == 1


# ---- determinism and the real feed -----------------------------------------------------------


def _scenario() -> list[dict]:
    f = Feed()
    f.warm_up()
    _buy_sweep(f, f.t + 100)
    _iceberg(f, [0.5, 0.45, 0.55, 0.5, 0.48])
    f.tick(f.t + 12_000)
    _absorb(f, SIZES)
    f.tick(f.t + 5000)
    return f.events()


def test_same_sequence_same_events() -> None:
    first, second = _scenario(), _scenario()
    assert first == second
    assert [e["type"] for e in first if e["type"] in ("sweep", "absorption", "iceberg")] == [
        "sweep", "iceberg", "absorption"]


@pytest.mark.skipif(not RECORDING.exists(), reason="real recording not available")
def test_real_recording_events_are_consistent() -> None:
    """BTCUSDT futures, 345 s of a fast market: every sweep, absorption and iceberg-like event
    is internally consistent, and their rates stay at a level a user can read."""
    from benchmarks.replay_throughput import INSTRUMENTS, load
    from config import Config
    from data_ingestion.binance.parser import FuturesParser
    from data_ingestion.recordings import is_snapshot
    from orderbook.sync import BookSync
    from state.symbol_state import SymbolState

    lines, span_s = load([RECORDING])
    parser = FuturesParser(INSTRUMENTS)
    book = L2Book()
    state = SymbolState.from_config(INSTRUMENTS["BTCUSDT"], book, Config())
    sync = BookSync("BTCUSDT", book, lambda: None, state)
    for ns, raw in lines:
        if is_snapshot(raw):
            sync.on_snapshot(parser.parse_snapshot("BTCUSDT", raw, ns))
            continue
        event = parser.parse_stream(raw, ns)
        if type(event) is DepthDiff:
            sync.on_diff(event)
        elif type(event) is Trade:
            state.on_trade(event)
    assert state.detectors is not None
    state.detectors.flush()
    events = [e.to_dict() for e in state.detectors.log]
    sweeps = [e for e in events if e["type"] == "sweep"]
    assert 10 <= len(sweeps) <= 2000 * span_s / 3600  # the window is a fast market
    for e in sweeps:
        d = e["detail"]
        assert d["levels"] >= 3 and d["best_move_levels"] >= 2
        assert e["side"] == ("ask" if d["taker_side"] == "buy" else "bid")
        up = e["price_to"] >= e["price_from"]
        assert up == (d["taker_side"] == "buy")
        assert e["start_ts"] <= e["end_ts"] <= e["detected_ts"] <= e["end_ts"] + 0.5
        assert e["end_ts"] - e["start_ts"] <= 1.0
    for e in events:
        if e["type"] in ("absorption", "iceberg"):
            assert e["price_from"] == e["price"] == e["price_to"]
            assert e["start_ts"] <= e["detected_ts"]
            assert e["end_ts"] is None or e["end_ts"] >= e["start_ts"]
    assert sum(e["type"] == "absorption" for e in events) <= 60 * span_s / 3600
    assert sum(e["type"] == "iceberg" for e in events) <= 60 * span_s / 3600
