"""Wall, layering and exhaustion detectors on hand-made sequences through the real orchestrator
(``LiquidityDetectors``) and a real ``L2Book``, plus the real BTCUSDT recording.

Venue time is advanced explicitly: ``Feed.idle`` sends empty diffs every 100 ms, as a quiet
``@depth@100ms`` stream would. The detectors read the book every 0.2 s, so times derived from
those reads are exact to 0.2 s. The base book is uniform (1.000 BTC on every 0.1 tick), so the
rolling median and the volume median are both 1.000 BTC at every distance.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from marketdata.events import DepthDiff, DepthSnapshot, Trade
from data_ingestion.recordings import read_lines
from features.liquidity.baseline import LevelSizeBaseline
from features.liquidity.detector_set import LiquidityDetectors
from features.liquidity.event import LiquidityEvent
from features.liquidity.exhaustion import ExhaustionDetector
from features.liquidity.layering import LayeringDetector
from features.liquidity.params import DetectorParams, params_from_mapping
from features.liquidity.wall import WallDetector
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from tests.replay_support import drive

INST = Instrument.from_steps("BTCUSDT", "0.10", "0.001", 2, 3)  # tick 10 units, qty 1000/BTC
TICK = INST.tick_units
BID = 10_000_000  # best bid 100000.00 (price units)
ASK = BID + TICK
UNIT = 1000  # 1.000 BTC: every level of the base book
T0 = 1_723_161_000_000  # venue ms
RECORDING = (Path(__file__).resolve().parents[2] / "shared/data/binance_usdm"
             / "hftbacktest_usdm_btcusdt_20240808.gz")


class Feed:
    """One symbol: a real book, the real orchestrator, only the detectors under test."""

    def __init__(self, params: DetectorParams | None = None,
                 kinds: tuple[str, ...] = ("wall", "layering", "exhaustion"),
                 levels: int = 200) -> None:
        self.params = params or DetectorParams()
        made = {"wall": WallDetector(self.params.wall),
                "layering": LayeringDetector(self.params.layering),
                "exhaustion": ExhaustionDetector(self.params.exhaustion)}
        self.book = L2Book()
        self.det = LiquidityDetectors(INST, self.book, self.params,
                                      detectors=[made[k] for k in kinds])  # type: ignore[misc]
        self.ms = T0
        self.uid = 1
        self.reset(levels)

    def reset(self, levels: int = 200, asks: bool = True) -> None:
        bids = [(BID - i * TICK, UNIT) for i in range(levels)]
        ask_levels = [(ASK + i * TICK, UNIT) for i in range(levels)] if asks else []
        self.book.load(bids, ask_levels, self.uid)
        self.det.on_book_reset(self.book, DepthSnapshot("BTCUSDT", self.uid, bids, ask_levels,
                                                        self.ms, 0))

    def diff(self, bids: list[tuple[int, int]] | None = None,
             asks: list[tuple[int, int]] | None = None, step_ms: int = 100) -> None:
        self.ms += step_ms
        self.uid += 1
        bids, asks = bids or [], asks or []
        self.book.apply(bids, asks, self.uid)
        self.det.on_book_update(self.book, DepthDiff("BTCUSDT", self.uid, self.uid,
                                                     self.uid - 1, bids, asks, self.ms, 0))

    def trade(self, price: int, qty: int, taker: str) -> None:
        self.uid += 1
        self.det.on_trade(Trade("BTCUSDT", self.uid, price, qty, taker,  # type: ignore[arg-type]
                                self.ms, 0))

    def idle(self, seconds: float) -> None:
        for _ in range(round(seconds * 10)):
            self.diff()

    def events(self, kind: str) -> list[LiquidityEvent]:
        self.det.flush()  # buffered trades reach the detectors, as at a frame cut
        return [e for e in self.det.log if e.type == kind]


def warmed(params: DetectorParams | None = None, **kw: Any) -> Feed:
    """A feed past the baseline's warm-up (6 samples, 5 s apart) and D's 60 s history."""
    feed = Feed(params, **kw)
    feed.idle(61)
    assert not feed.det.ctx.baseline.warming_up
    assert feed.det.ctx.baseline.volume_median_at(50) == UNIT
    return feed


def sec(ms: int) -> float:
    return ms / 1000


# ---- baseline --------------------------------------------------------------------------------

def test_baseline_plain_and_volume_medians() -> None:
    """Buckets by distance from each side's own touch; the volume median is the size of the
    level holding the median unit of volume, so one large level outweighs four small ones."""
    book = L2Book()
    book.load([(BID, 50), (BID - 3 * TICK, 1), (BID - 4 * TICK, 1), (BID - 5 * TICK, 1)],
              [(ASK, 70), (ASK + 3 * TICK, 1), (ASK + 4 * TICK, 10)], 1)
    baseline = LevelSizeBaseline(DetectorParams().baseline)
    assert baseline.median_at(0) is None and baseline.due(T0)
    baseline.sample(book, TICK, T0)
    assert baseline.median_at(0) == 60.0 and baseline.volume_median_at(0) == 70.0  # 50, 70
    assert baseline.median_at(4) == 1.0 and baseline.volume_median_at(4) == 10.0  # 1,1,1,1,10
    assert baseline.median_at(500) == 1.0  # no data that far: the nearest bucket with data
    assert not baseline.due(T0 + 4999) and baseline.due(T0 + 5000)
    assert baseline.warming_up


# ---- wall ------------------------------------------------------------------------------------

def test_wall_is_opened_after_persisting_and_ends_pulled() -> None:
    feed = warmed(kinds=("wall",))
    price = BID - 50 * TICK
    feed.diff(bids=[(price, 30 * UNIT)])  # 30 x the median, 50 ticks from the touch
    start = feed.ms
    feed.idle(9.5)
    assert feed.events("wall") == []  # not yet persisted min_duration_s (10 s)
    feed.idle(1)
    [wall] = feed.events("wall")
    assert (wall.side, wall.price, wall.status) == ("bid", 99995.0, "active")
    assert wall.price_from == wall.price_to == wall.price
    # The diff loop sees the level at once; detection and ends are read every 0.2 s.
    assert wall.start_ts == sec(start) and 10 <= wall.detected_ts - wall.start_ts <= 10.2
    assert wall.size == 30.0 and wall.detail["multiple"] == 30.0
    assert wall.detail["distance_ticks"] == 50 and wall.detail["baseline_median"] == 1.0
    assert "warming_up" not in wall.detail
    feed.diff(bids=[(price, 0)])  # cancelled, no trade at the level
    pulled_at = feed.ms
    feed.idle(1.5)
    assert wall.status == "ended" and 0 <= wall.end_ts - sec(pulled_at) <= 0.2
    assert wall.detail["reason"] == "pulled" and wall.detail["traded_at_level"] == 0.0


def test_wall_consumed_by_trades_at_its_price() -> None:
    feed = warmed(kinds=("wall",))
    feed.diff(bids=[(BID, 30 * UNIT)])  # a wall at the best bid itself
    feed.idle(11)
    [wall] = feed.events("wall")
    for _ in range(14):  # sellers eat it: 28 BTC traded into 30 BTC
        feed.trade(BID, 2 * UNIT, "sell")
        feed.diff(bids=[(BID, feed.book.bids[BID] - 2 * UNIT)])
    feed.diff(bids=[(BID, 0)])
    feed.idle(1.5)
    assert wall.status == "ended" and wall.detail["reason"] == "consumed"
    assert wall.detail["traded_at_level"] == 28.0 and wall.detail["peak_size"] == 30.0


def test_wall_tolerates_dips_and_short_gaps() -> None:
    feed = warmed(kinds=("wall",))
    price = ASK + 30 * TICK
    feed.diff(asks=[(price, 30 * UNIT)])
    feed.idle(4)
    feed.diff(asks=[(price, 18 * UNIT)])  # dips to 0.6 x the size found
    feed.idle(2)
    feed.diff(asks=[(price, 0)])  # gone for 0.8 s
    feed.idle(0.7)
    feed.diff(asks=[(price, 30 * UNIT)])
    feed.idle(5)
    [wall] = feed.events("wall")
    assert wall.status == "active" and wall.side == "ask" and wall.price == 100003.1
    feed.diff(asks=[(price, 0)])
    feed.idle(2)  # a gap longer than max_gap_s ends it
    assert wall.status == "ended" and wall.detail["reason"] == "pulled"


def test_wall_hard_negatives_even_at_the_brief_floor() -> None:
    """At the brief's own floor (3 x, 5 s): a 2 x level living long and a 10 x order living 1 s
    report nothing; a 4 x level living 6 s does (so the floor really is the boundary)."""
    params = params_from_mapping({"wall": {"k": 3.0, "min_duration_s": 5.0}})
    feed = warmed(params, kinds=("wall",))
    feed.diff(bids=[(BID - 20 * TICK, 2 * UNIT)])
    feed.diff(asks=[(ASK + 20 * TICK, 10 * UNIT)])
    feed.idle(1)
    feed.diff(asks=[(ASK + 20 * TICK, 0)])
    feed.idle(30)
    assert feed.events("wall") == []
    feed.diff(asks=[(ASK + 40 * TICK, 4 * UNIT)])
    feed.idle(6)
    assert [w.price for w in feed.events("wall")] == [100004.1]


def test_wall_beyond_the_band_is_ignored() -> None:
    feed = Feed(kinds=("wall",), levels=1200)
    feed.idle(61)
    far = BID - 1100 * TICK  # 110 USD = 11 bps: inside 50 bps, so shrink the band to 10 bps
    params = params_from_mapping({"wall": {"max_distance_bps": 10.0}})
    feed2 = Feed(params, kinds=("wall",), levels=1200)
    feed2.idle(61)
    for f in (feed, feed2):
        f.diff(bids=[(far, 40 * UNIT)])
        f.idle(11)
    assert len(feed.events("wall")) == 1 and feed2.events("wall") == []


def test_wall_in_the_snapshot_is_found_by_the_band_scan() -> None:
    feed = warmed(kinds=("wall",))
    bids = [(BID - i * TICK, 40 * UNIT if i == 10 else UNIT) for i in range(200)]
    asks = [(ASK + i * TICK, UNIT) for i in range(200)]
    feed.uid += 1
    feed.book.load(bids, asks, feed.uid)  # a resync whose snapshot holds a wall no diff touches
    feed.det.on_book_reset(feed.book, DepthSnapshot("BTCUSDT", feed.uid, bids, asks, feed.ms, 0))
    feed.idle(12)
    [wall] = feed.events("wall")
    assert wall.price == 99999.0 and wall.size == 40.0


def test_resync_ends_an_active_wall_and_drops_candidates() -> None:
    feed = warmed(kinds=("wall",))
    feed.diff(bids=[(BID - 5 * TICK, 30 * UNIT)])
    feed.idle(11)
    feed.diff(asks=[(ASK + 5 * TICK, 30 * UNIT)])  # a candidate only
    feed.idle(2)
    [wall] = feed.events("wall")
    feed.det.on_not_live()
    feed.diff(bids=[(BID - 7 * TICK, 50 * UNIT)])  # not live: nothing is judged, nothing breaks
    feed.reset()
    assert wall.status == "ended" and wall.detail["reason"] == "resync"
    feed.idle(12)
    assert feed.events("wall") == [wall]  # the ask candidate did not survive the resync


# ---- layering --------------------------------------------------------------------------------

def _place_layers(feed: Feed, side: str, distances: tuple[int, ...], size: int) -> list[int]:
    if side == "bid":
        prices = [BID - d * TICK for d in distances]
        feed.diff(bids=[(p, size) for p in prices])
    else:
        prices = [ASK + d * TICK for d in distances]
        feed.diff(asks=[(p, size) for p in prices])
    return prices


def test_layering_reported_when_layers_are_cancelled_unfilled() -> None:
    feed = warmed(kinds=("layering",))
    start = feed.ms + 100
    prices = _place_layers(feed, "bid", (3, 5, 7), 7 * UNIT)  # each gains 6 x the median
    feed.idle(1)
    feed.trade(ASK, UNIT, "buy")  # the other side trades meanwhile
    feed.trade(prices[0], 200, "sell")  # a little fill: 0.2 of 18 BTC
    feed.idle(2)
    assert feed.events("layering") == []
    feed.diff(bids=[(p, UNIT) for p in prices])  # all pulled back to the base size
    removed = feed.ms
    feed.idle(0.5)
    [ev] = feed.events("layering")
    assert (ev.side, ev.price, ev.price_from, ev.price_to) == ("bid", 99999.7, 99999.3, 99999.7)
    # The band is read every 0.2 s: times are that exact.
    assert ev.size == 18.0 and 0 <= ev.start_ts - sec(start) <= 0.2
    assert 0 <= ev.end_ts - sec(removed) <= 0.2 and ev.detected_ts >= ev.end_ts
    assert ev.status == "ended"
    assert ev.detail["layers"] == [[99999.7, 6.0], [99999.5, 6.0], [99999.3, 6.0]]
    assert ev.detail["fill_ratio"] == pytest.approx(0.2 / 18, abs=1e-4)
    assert ev.detail["other_side_traded"] == 1.0 and ev.detail["repeats"] == 0
    assert ev.detail["lifetime_s"] == pytest.approx(3.1, abs=0.21)


def test_layering_repeat_scores_higher() -> None:
    feed = warmed(kinds=("layering",))
    for _ in range(2):
        prices = _place_layers(feed, "ask", (2, 4, 6, 8), 7 * UNIT)
        feed.idle(2)
        feed.diff(asks=[(p, UNIT) for p in prices])
        feed.idle(2)
    first, second = feed.events("layering")
    assert second.detail["repeats"] == 1 and second.score > first.score
    assert first.side == "ask" and len(first.detail["layers"]) == 4


def test_layers_placed_one_by_one_are_one_event() -> None:
    """Six layers placed 0.2 s apart (the injection agent's cadence): one event with six
    layers, not one of the first three and another of the rest."""
    feed = warmed(kinds=("layering",))
    prices: list[int] = []
    for d in (4, 5, 6, 7, 8, 9):
        prices += _place_layers(feed, "bid", (d,), 7 * UNIT)
        feed.idle(0.1)
    feed.idle(2)
    feed.diff(bids=[(p, UNIT) for p in prices])
    feed.idle(0.5)
    [ev] = feed.events("layering")
    assert len(ev.detail["layers"]) == 6 and ev.size == 36.0
    assert (ev.price_from, ev.price_to) == (99999.1, 99999.6)


def test_layering_hard_negatives() -> None:
    """An honest ladder the price walks into (filled), layers that stay, too few layers, and
    layers appearing too far apart in time: nothing reported."""
    feed = warmed(kinds=("layering",))
    prices = _place_layers(feed, "bid", (2, 3, 4), 7 * UNIT)
    feed.idle(1)
    for p in prices:  # sellers fill the ladder level by level
        feed.trade(p, 6 * UNIT, "sell")
        feed.diff(bids=[(p, UNIT)])
    feed.idle(1)
    _place_layers(feed, "ask", (4, 6, 8), 7 * UNIT)  # stays for more than 30 s
    feed.idle(31)
    two = _place_layers(feed, "bid", (10, 12), 7 * UNIT)  # only two layers
    feed.idle(2)
    feed.diff(bids=[(p, UNIT) for p in two])
    slow = []
    for d in (14, 16, 18):  # three layers, but 1.5 s apart
        slow += _place_layers(feed, "ask", (d,), 7 * UNIT)
        feed.idle(1.5)
    feed.diff(asks=[(p, UNIT) for p in slow])
    feed.idle(2)
    assert feed.events("layering") == []


# ---- exhaustion ------------------------------------------------------------------------------

def _thin_bids(feed: Feed, size: int, seconds: float) -> None:
    """Cancel the bids 0-19 ticks from the touch down to ``size`` over ``seconds``."""
    for i in range(20):
        feed.diff(bids=[(BID - i * TICK, size)], step_ms=round(seconds * 1000 / 20))


def test_exhaustion_alert_then_breakout() -> None:
    feed = warmed(kinds=("exhaustion",))
    feed.diff(asks=[(ASK, 0)])  # the spread widens to 2 ticks
    began = feed.ms
    _thin_bids(feed, UNIT // 5, 5)
    feed.idle(2.5)
    [ev] = feed.events("exhaustion")
    assert (ev.side, ev.price, ev.status) == ("bid", 100000.0, "active")
    # D is below 40 % once the nearest 9 levels are thinned (2.25 s), then stays there 2 s.
    assert sec(began) + 4.2 <= ev.detected_ts <= sec(began) + 4.4 and ev.start_ts == ev.detected_ts
    assert ev.detail["baseline_d"] == pytest.approx(7.2, abs=0.1)
    assert ev.size == pytest.approx(ev.detail["ratio"] * ev.detail["baseline_d"], abs=0.01)
    assert ev.detail["ratio"] <= 0.4
    assert ev.detail["spread_ticks"] == 2 and ev.detail["traded_share"] == 0.0
    assert ev.detail["breakout"] is False
    assert ev.score > 0.6 * (1 - ev.detail["ratio"] / 0.4) + 0.05  # the wider spread adds
    feed.diff(bids=[(BID - i * TICK, 0) for i in range(3)])  # the bid gives way: 3 ticks lower
    assert ev.status == "ended" and ev.detail["reason"] == "breakout"
    assert ev.detail["breakout"] is True and ev.detail["breakout_ts"] == sec(feed.ms)


def test_exhaustion_recovery_ends_it_and_rearms() -> None:
    feed = warmed(kinds=("exhaustion",))
    _thin_bids(feed, UNIT // 5, 3)
    feed.idle(3)
    [ev] = feed.events("exhaustion")
    assert ev.detail["spread_ticks"] == 1
    _thin_bids(feed, UNIT, 1)
    feed.idle(0.2)
    assert ev.status == "ended" and ev.detail["reason"] == "recovered"
    assert ev.detail["breakout"] is False
    # Re-armed only once D has stayed recovered for min_thin_s (2 s): thinning again within a
    # second of the recovery is the same episode (the touch flickering), not a second alert...
    feed.idle(0.5)
    _thin_bids(feed, UNIT // 5, 0.4)
    feed.idle(4)
    assert len(feed.events("exhaustion")) == 1
    # ...while after a recovery that held 2 s, the next thinning is a new alert.
    _thin_bids(feed, UNIT, 0.4)
    feed.idle(2.5)
    _thin_bids(feed, UNIT // 5, 0.4)
    feed.idle(3)
    assert len(feed.events("exhaustion")) == 2


def test_exhaustion_hard_negatives() -> None:
    """Thinning to 60 % that recovers, and thinning explained by trades, report nothing; a
    one-second flicker to 20 % neither."""
    feed = warmed(kinds=("exhaustion",))
    _thin_bids(feed, UNIT * 6 // 10, 5)
    feed.idle(5)
    _thin_bids(feed, UNIT, 5)
    feed.idle(5)
    for i in range(20):  # sellers take 0.8 BTC at each of the 20 levels
        feed.trade(BID - i * TICK, UNIT * 8 // 10, "sell")
        feed.diff(bids=[(BID - i * TICK, UNIT // 5)], step_ms=250)
    feed.idle(5)
    _thin_bids(feed, UNIT, 2)
    feed.idle(61)
    feed.diff(asks=[(ASK + i * TICK, UNIT // 5) for i in range(20)])  # a 1 s flicker
    feed.idle(1)
    feed.diff(asks=[(ASK + i * TICK, UNIT) for i in range(20)])
    feed.idle(5)
    assert feed.events("exhaustion") == []


def test_resync_ends_exhaustion_and_empty_side_is_harmless() -> None:
    feed = warmed(kinds=("exhaustion",))
    _thin_bids(feed, UNIT // 5, 3)
    feed.idle(3)
    [ev] = feed.events("exhaustion")
    feed.reset(asks=False)  # resync onto a book with no asks at all
    assert ev.status == "ended" and ev.detail["reason"] == "resync"
    feed.idle(30)
    feed.diff(bids=[(BID - i * TICK, 0) for i in range(200)])  # and now no bids either
    feed.idle(5)
    assert feed.events("exhaustion") == [ev]


def test_empty_sides_and_not_live_do_not_crash_any_detector() -> None:
    feed = warmed()
    feed.det.on_not_live()
    feed.idle(2)
    feed.reset(levels=0, asks=False)
    feed.idle(3)
    feed.diff(bids=[(BID, 30 * UNIT)], asks=[(ASK + 5 * TICK, 30 * UNIT)])
    feed.trade(BID, UNIT, "sell")
    feed.idle(15)
    feed.det.flush()
    assert all(e.detail.get("reason") != "resync" for e in feed.det.log)


# ---- determinism and the real recording ------------------------------------------------------

def _scenario() -> list[dict[str, Any]]:
    feed = warmed()
    feed.diff(bids=[(BID - 40 * TICK, 30 * UNIT)])
    prices = _place_layers(feed, "ask", (3, 6, 9), 8 * UNIT)
    feed.idle(2)
    feed.diff(asks=[(p, UNIT) for p in prices])
    _thin_bids(feed, UNIT // 5, 3)
    feed.idle(12)
    feed.diff(bids=[(BID - 40 * TICK, 0)])
    feed.idle(2)
    feed.det.flush()
    return [e.to_dict() for e in feed.det.log]


def test_same_input_same_events() -> None:
    first = _scenario()
    assert sorted({e["type"] for e in first}) == ["exhaustion", "layering", "wall"]
    assert _scenario() == first


class _Observer:
    def __init__(self, det: LiquidityDetectors) -> None:
        self.det = det

    def on_book_reset(self, book: L2Book, snapshot: DepthSnapshot) -> None:
        self.det.on_book_reset(book, snapshot)

    def on_book_update(self, book: L2Book, diff: DepthDiff) -> None:
        self.det.on_book_update(book, diff)

    def on_book_lost(self) -> None:
        self.det.on_not_live()

    def on_trade(self, trade: Trade) -> None:
        self.det.on_trade(trade)


def replay_events(paths: list[Path], params: DetectorParams,
                  inst: Instrument = INST) -> tuple[list[dict[str, Any]], float]:
    """Run parser + BookSync + the three detectors over a recording: (events, span in s)."""
    lines = [(ns, raw) for ns, raw in read_lines(paths) if b"@bookTicker" not in raw[:40]]
    book = L2Book()
    det = LiquidityDetectors(inst, book, params, detectors=[
        WallDetector(params.wall), LayeringDetector(params.layering),
        ExhaustionDetector(params.exhaustion)])
    drive(lines, {inst.symbol: inst}, book, _Observer(det))
    det.flush()
    return [e.to_dict() for e in det.log], (lines[-1][0] - lines[0][0]) / 1e9


@pytest.mark.skipif(not RECORDING.exists(), reason="real recording not available")
def test_real_recording_is_deterministic_and_not_noisy() -> None:
    t0 = time.process_time()
    first, span = replay_events([RECORDING], DetectorParams())
    assert time.process_time() - t0 < 30
    second, _ = replay_events([RECORDING], DetectorParams())
    assert first == second
    per_hour = {t: sum(e["type"] == t for e in first) * 3600 / span
                for t in ("wall", "layering", "exhaustion")}
    assert per_hour["wall"] > 0  # real walls exist on BTCUSDT...
    assert all(rate < 250 for rate in per_hour.values()), per_hour  # ...but not hundreds
    for e in first:
        assert e["start_ts"] <= e["detected_ts"]
        assert e["end_ts"] is None or e["end_ts"] >= e["start_ts"]
        assert e["price_from"] <= e["price"] <= e["price_to"]


if __name__ == "__main__":
    # Background noise on the real recordings (no injections): events per hour per type.
    #   .venv/bin/python -m tests.test_liquidity_wall_layering_exhaustion
    usdm = RECORDING.parent
    eth = Instrument.from_steps("ETHUSDT", "0.01", "0.001", 2, 3)
    for files, inst in ((["btcusdt_20240808"], INST), (["ethusdt_20240808"], eth),
                        (["btcusdt_20240718", "btcusdt_20240719"], INST)):
        paths = [usdm / f"hftbacktest_usdm_{name}.gz" for name in files]
        found, span = replay_events(paths, DetectorParams(), inst)
        counts = {t: sum(e["type"] == t for e in found) for t in ("wall", "layering", "exhaustion")}
        print(f"{'+'.join(files)}: {span:.0f} s; " + ", ".join(
            f"{t} {n} ({n * 3600 / span:.0f}/h)" for t, n in counts.items()))
