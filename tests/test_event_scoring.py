"""Matching and scoring of liquidity-event detections against injected truth
(benchmarks/event_matching.py), and the scoring command's pipeline on a real recording."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.event_matching import (
    MatchRule,
    Record,
    combine,
    detection_from_dict,
    match_one_to_one,
    matches,
    percentile,
    rate_table,
    score_run,
    score_type,
    scoring_table,
    truth_from_dict,
)

RULE = MatchRule(tick=0.1, price_ticks=2, collar_s=2.0)
T0 = 1_723_161_300.0


_RUNNING = -1.0  # det(end=_RUNNING): ten seconds after its start


def det(type_: str = "wall", side: str = "bid", price: float = 100.0, start: float = T0,
        end: float | None = _RUNNING, detected: float | None = None,
        lo: float | None = None, hi: float | None = None) -> Record:
    return Record(type=type_, side=side, price=price,
                  price_from=price if lo is None else lo, price_to=price if hi is None else hi,
                  start_ts=start, end_ts=start + 10 if end == _RUNNING else end,
                  detected_ts=start + 5 if detected is None else detected)


def truth(type_: str = "wall", side: str = "bid", price: float = 100.0, start: float = T0,
          end: float | None = None, decoy_of: str | None = None, breakout: float | None = None,
          lo: float | None = None, hi: float | None = None) -> Record:
    return Record(type=type_, side=side, price=price,
                  price_from=price if lo is None else lo, price_to=price if hi is None else hi,
                  start_ts=start, end_ts=start + 10 if end is None else end, decoy=decoy_of is not None, decoy_of=decoy_of,
                  breakout_ts=breakout)


def test_price_tolerance_is_two_ticks_and_side_must_agree() -> None:
    t = truth(price=100.0)
    assert matches(det(price=100.2), t, "wall", RULE)
    assert matches(det(price=99.8), t, "wall", RULE)
    assert not matches(det(price=100.3), t, "wall", RULE)
    assert not matches(det(side="ask"), t, "wall", RULE)


def test_time_collar() -> None:
    t = truth(start=T0, end=T0 + 10)
    assert matches(det(start=T0 + 11.9, end=T0 + 20), t, "wall", RULE)
    assert not matches(det(start=T0 + 12.1, end=T0 + 20), t, "wall", RULE)
    assert matches(det(start=T0 - 30, end=T0 - 1.9), t, "wall", RULE)
    assert not matches(det(start=T0 - 30, end=T0 - 2.1), t, "wall", RULE)
    # still active at the end of the run: its life runs on
    assert matches(det(start=T0 - 30, end=None), t, "wall", RULE)


def test_sweeps_and_layering_match_by_range_overlap() -> None:
    t = truth("sweep", "ask", price=100.5, lo=100.0, hi=100.5, end=T0 + 0.1)
    # a detection reporting a different last price but an overlapping span still matches
    assert matches(det("sweep", "ask", price=101.0, lo=100.4, hi=101.0, end=T0 + 0.1), t,
                   "sweep", RULE)
    assert not matches(det("sweep", "ask", price=101.5, lo=100.8, hi=101.5, end=T0 + 0.1), t,
                       "sweep", RULE)
    # walls do not: the point price must be near
    assert not matches(det("wall", price=101.0, lo=100.4, hi=101.0),
                       truth(price=100.5, lo=100.0, hi=100.5), "wall", RULE)


def test_exhaustion_counts_only_before_the_breakout() -> None:
    t = truth("exhaustion", "ask", start=T0, end=T0 + 30, breakout=T0 + 20)
    assert matches(det("exhaustion", "ask", start=T0 + 5, detected=T0 + 19.5), t,
                   "exhaustion", RULE)
    assert not matches(det("exhaustion", "ask", start=T0 + 5, detected=T0 + 20.5), t,
                       "exhaustion", RULE)


def test_matching_is_one_to_one_nearest_first() -> None:
    refs = [truth(start=T0), truth(start=T0 + 3)]
    dets = [det(start=T0 + 3.2), det(start=T0 + 0.1), det(start=T0 + 0.2)]
    pairs = sorted(match_one_to_one(dets, refs, "wall", RULE))
    assert pairs == [(0, 1), (1, 0)]  # det 2 is a duplicate of truth 0: left unmatched


def test_score_type_counts_hits_decoys_background_and_false_alarms() -> None:
    truths = [truth(start=T0, price=100.0), truth(start=T0 + 100, price=105.0),
              truth(start=T0 + 200, price=90.0, decoy_of="wall"),
              truth("sweep", "ask", start=T0 + 300, price=110, decoy_of="sweep")]
    dets = [det(start=T0 + 1, detected=T0 + 6, price=100.1),      # hit, latency 6 s
            det(start=T0 + 3, price=100.0),                       # a 2nd event for it: FA
            det(start=T0 + 101, price=108.0),                     # wrong price: not judged
            det(start=T0 + 4, price=99.9),                        # judged, but the plain run...
            det(start=T0 + 200, detected=T0 + 205, price=90.0),   # decoy reported
            det(start=T0 + 400, price=120.0),                     # away from any injection:
            det(start=T0 + 500, price=130.0),                     # natural, not judged
            det("sweep", "ask", start=T0 + 50, price=111)]        # another type: ignored here
    background = [det(start=T0 + 4.5, price=99.9),                # ...had it too: background
                  det(start=T0 + 900, price=80.0)]
    s = score_type("wall", dets, truths, background, hours=0.5, rule=RULE)
    assert (s.truths, s.hits, s.detections) == (2, 1, 7)
    assert (s.decoys, s.decoys_reported, s.background, s.false_alarms) == (1, 1, 1, 1)
    assert s.natural == 3 and s.natural_per_hour == 6.0
    assert s.recall == 0.5
    assert s.precision == pytest.approx(1 / 3)   # background and natural are not errors
    assert s.false_alarms_per_hour == 2.0
    assert s.latencies == [pytest.approx(6.0)]
    sweep = score_type("sweep", dets, truths, background, hours=0.5, rule=RULE)
    assert (sweep.truths, sweep.decoys, sweep.false_alarms, sweep.natural) == (0, 1, 0, 1)
    assert sweep.recall is None and sweep.precision is None


def test_sweeps_use_a_half_second_collar() -> None:
    """A sweep's truth window is its own prints: 0.5 s of slack, not 2 s."""
    t = truth("sweep", "ask", start=T0, end=T0 + 0.05, price=110, decoy_of="sweep")
    near = det("sweep", "ask", start=T0 + 0.5, end=T0 + 0.55, price=110)
    far = det("sweep", "ask", start=T0 + 0.6, end=T0 + 0.65, price=110)
    assert matches(near, t, "sweep", RULE) and not matches(far, t, "sweep", RULE)
    s = score_type("sweep", [near, far], [t], [], hours=1.0, rule=RULE)
    assert (s.decoys_reported, s.false_alarms, s.natural) == (1, 0, 1)
    assert RULE.collar("sweep") == 0.5 and RULE.collar("wall") == 2.0


def test_combine_sums_runs_and_tables_render() -> None:
    run = score_run([det(start=T0 + 1)], [truth()], [], hours=0.25, rule=RULE)
    total = combine([run, run])
    assert total["wall"].hits == 2 and total["wall"].hours == 0.5
    assert total["wall"].recall == 1.0 and total["sweep"].recall is None
    table = scoring_table(total)
    assert table.splitlines()[2].startswith("| wall | 2 | 2 | 1.00 | 1.00 | 0 | 0.0 | 0 of 0 |")
    assert "| sweep | 0 | 0 | - | - |" in table
    rates = rate_table({"btc": {"wall": 10, "sweep": 1}}, {"btc": 0.1})
    assert "| btc | 0.100 | 100 (10) | 10 (1) | 0 (0) |" in rates


def test_percentile_interpolates() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([0.0, 10.0], 90) == pytest.approx(9.0)


def test_dict_adapters() -> None:
    d = detection_from_dict({"id": "X-wall-1", "type": "wall", "side": "ask", "price": 1.5,
                             "price_from": 1.5, "price_to": 1.5, "start_ts": T0,
                             "end_ts": None, "detected_ts": T0 + 5, "status": "active",
                             "size": 3.0, "score": 0.5, "detail": {}})
    assert d.end_ts is None and d.detected_ts == T0 + 5 and d.id == "X-wall-1"
    t = truth_from_dict({"type": "sweep", "side": "ask", "price": 2.0, "price_from": 1.0,
                         "price_to": 2.0, "start_ts": T0, "decoy": True, "decoy_of": "sweep"})
    assert t.end_ts == T0 and t.decoy and t.low == 1.0 and t.high == 2.0


DATA = Path(__file__).resolve().parents[2] / "shared/data/binance_usdm"


def test_pipeline_replays_a_real_recording_through_the_client_path() -> None:
    """The scoring command's pipeline (parser -> BookSync -> SymbolState with detectors) on the
    real ETHUSDT recording: the book goes live with no gap, every diff and trade reaches the
    detectors, and the event log is what the command reads."""
    from benchmarks.events import run_recording

    result = run_recording([DATA / "hftbacktest_usdm_ethusdt_20240808.gz"])
    assert result.symbol == "ETHUSDT"
    assert result.gaps == 0 and result.diffs_applied > 6000 and result.trades > 14000
    assert 0.09 < result.hours < 0.1  # 345 s of venue time
    assert all(e.side in ("bid", "ask") for e in result.events)
    assert all(result.first_ts - 1 <= e.start_ts <= result.last_ts + 1 for e in result.events)
    again = run_recording([DATA / "hftbacktest_usdm_ethusdt_20240808.gz"])
    assert [e.to_dict() for e in again.events] == [e.to_dict() for e in result.events]


def test_schedule_alternates_sides_and_covers_every_type_with_decoys() -> None:
    from benchmarks.events import WARMUP_S, schedule, slot_s

    plan = schedule(8 * 60, rotate=0)
    starts = [s.at_s for s in plan]
    assert starts[0] == WARMUP_S
    # one at a time: each starts when the previous one's slot (life + settling) is over
    for prev, nxt in zip(plan, plan[1:]):
        assert nxt.at_s == pytest.approx(prev.at_s + slot_s(
            {"type": prev.type, "duration_s": prev.duration_s}))
        assert nxt.at_s >= prev.at_s + (0 if prev.type == "sweep" else prev.duration_s)
    assert [s.side for s in plan[:4]] == ["bid", "ask", "bid", "ask"]
    assert {s.type for s in plan if not s.decoy} == {
        "wall", "sweep", "absorption", "layering", "iceberg", "exhaustion"}
    assert {s.decoy_of for s in plan if s.decoy} == {
        "wall", "sweep", "absorption", "layering", "iceberg", "exhaustion"}
    rotated = schedule(8 * 60, rotate=1)
    assert (rotated[0].type, rotated[0].decoy) == ("wall", True) and not plan[0].decoy


def test_wall_and_layering_injections_are_twice_the_detectors_thresholds() -> None:
    """Sized in the detectors' own terms: volume-weighted median yardstick, 2 x k, 2 x T."""
    from benchmarks.events import layering_scenarios, sweep_scenarios, wall_scenarios
    from features.liquidity.params import DetectorParams

    p = DetectorParams()
    [wall], wall_decoys = wall_scenarios()
    assert wall["yardstick"] == "volume_median"
    assert wall["size_multiple"] == 2 * p.wall.k and wall["duration_s"] == 2 * p.wall.min_duration_s
    assert all(float(d["size_multiple"]) < p.wall.k  # type: ignore[arg-type]
               or float(d["duration_s"]) < p.wall.min_duration_s  # type: ignore[arg-type]
               for d in wall_decoys)
    [lay], _ = layering_scenarios()
    assert lay["size_multiple"] == 2 * p.layering.k and lay["layers"] == 2 * p.layering.min_levels
    assert all(int(s["levels"]) >= 2 * p.sweep.min_levels  # type: ignore[call-overload]
               for s in sweep_scenarios()[0])


def test_offline_market_runs_through_the_pipeline_with_truth_in_venue_time() -> None:
    """The injected synthetic market (local_exchange/offline.py) through the client path: no
    gap, and each truth record's window lies inside the run's venue time."""
    from benchmarks.events import Case, run_offline
    from local_exchange.scenarios import parse_scenarios

    case = Case("sim", "BTCUSDT", seed=3, duration_s=90)
    scenarios = parse_scenarios([{"type": "wall", "side": "bid", "distance_ticks": 5,
                                  "size_multiple": 8.0, "duration_s": 12.0, "at_s": 50.0}],
                                "test")
    result, truth = run_offline(case, scenarios)
    assert result.gaps == 0 and result.diffs_applied > 800 and result.trades > 0
    assert 85 < result.hours * 3600 <= 90
    assert len(truth) == 1 and truth[0]["type"] == "wall"
    assert result.first_ts + 49 <= truth[0]["start_ts"] <= result.first_ts + 52


# ---- injections in the detectors' terms ------------------------------------------------------

def _sim(seconds: float, seed: int = 2):  # type: ignore[no-untyped-def]
    from local_exchange.injection_venue import SimVenue
    from local_exchange.instruments import KNOWN_SPECS
    from local_exchange.market_model import SimulatedSymbol

    sim = SimulatedSymbol(KNOWN_SPECS["BTCUSDT"], seed, None, 0)
    venue = SimVenue(sim)
    now = 0
    for _ in range(round(seconds * 10)):
        now += 100_000_000
        venue.now_ns = now
        sim.step(now, 0.1)
    return sim, venue, now


def test_volume_median_sizing_is_the_detectors_yardstick() -> None:
    """One sample of the exchange-side estimate equals the client baseline's volume-weighted
    median on the same book, bucket by bucket; the rolling one is the median of samples."""
    from features.liquidity.baseline import LevelSizeBaseline
    from features.liquidity.params import BaselineParams
    from local_exchange.injection_venue import Yardstick, volume_median_at
    from orderbook.book import L2Book

    sim, venue, now = _sim(20)
    bids, asks = sim.engine.depth(1000)
    book = L2Book()
    book.load(bids, asks, 1)
    baseline = LevelSizeBaseline(BaselineParams())
    baseline.sample(book, venue.tick, 0)
    for distance in (0, 2, 4, 8, 15, 30, 80, 150, 300, 700):
        assert volume_median_at(venue, distance) == int(baseline.volume_median_at(distance))
    tracker = Yardstick(every_s=5.0)
    tracker.sample(venue, now)
    tracker.sample(venue, now + 1)  # not due: no second sample
    assert len(tracker.rings[4]) == 1 and tracker.at(15) == baseline.volume_median_at(15)


def test_flow_never_cancels_injected_orders() -> None:
    """The flow's random cancels (12 s mean life) skip injected orders: a wall lives its
    scenario's life, not the flow's (before, a 20 s wall survived ~1 time in 5)."""
    sim, venue, now = _sim(1)
    bid = venue.best("bid")
    assert bid is not None
    far = bid - 300 * venue.tick  # inside the levels the flow keeps (max_levels)
    mine = venue.place("bid", far, 5 * venue.step)
    assert mine is not None
    theirs = sim.engine.add_limit("buy", far, 5 * venue.step, now)
    for _ in range(600):  # 60 s
        now += 100_000_000
        venue.now_ns = now
        sim.step(now, 0.1)
    assert venue.remaining(mine) == 5 * venue.step
    assert theirs is not None and theirs not in sim.engine.orders  # ordinary orders do go


def test_replayed_sweep_stays_swept_until_recorded_decreases_use_it_up() -> None:
    """Replay overlay: liquidity an injected taker consumed stays hidden when the recorded
    level merely changes; recorded additions show on top, recorded decreases use it up."""
    from local_exchange.injection_replay import ReplayVenue
    from local_exchange.instruments import KNOWN_SPECS

    venue = ReplayVenue(KNOWN_SPECS["BTCUSDT"], {
        "lastUpdateId": 10, "bids": [["60000.0", "1.000"]],
        "asks": [["60000.1", "2.000"], ["60000.2", "1.000"]]})
    venue.absorb({"u": 11, "b": [], "a": []})
    fills = venue.take("ask", 3000)
    assert [f.qty for f in fills] == [2000, 1000]
    assert venue.best("ask") is None
    ask = 6_000_010
    venue.absorb({"u": 12, "b": [], "a": [["60000.1", "2.003"]]})  # a maker adds 0.003
    assert venue.level_qty("ask", ask) == 3
    venue.absorb({"u": 13, "b": [], "a": [["60000.1", "0.503"]]})  # 1.5 of it trades/cancels
    assert venue.level_qty("ask", ask) == 3
    venue.absorb({"u": 14, "b": [], "a": [["60000.1", "0.003"]]})  # the rest of it goes
    assert venue.level_qty("ask", ask) == 3 and ask not in venue.hidden["ask"]
    venue.absorb({"u": 15, "b": [], "a": [["60000.1", "0.050"]]})  # later additions show
    assert venue.level_qty("ask", ask) == 50


def test_baseline_window_is_the_last_30_minutes_even_for_a_sparse_bucket() -> None:
    """A bucket sampled once a minute keeps 30 values, not 360 spanning six hours: its median
    is the last half hour's, and its memory stops growing after the first half hour."""
    from features.liquidity.baseline import LevelSizeBaseline
    from features.liquidity.params import BaselineParams
    from orderbook.book import L2Book

    baseline = LevelSizeBaseline(BaselineParams())  # 30 min, a sample every 5 s: 360 at most
    book = L2Book()
    for minute in range(120):
        size = 1_000 if minute < 60 else 9_000  # the bucket's levels grew an hour in
        book.load([(100_000, 5), (99_995, size)], [(100_001, 5)], minute + 1)
        baseline.sample(book, 1, minute * 60_000)
    ring = baseline._rings[2]  # 3-5 ticks from the touch: the 99_995 level only
    assert len(ring._ring) == 30 and len(ring._ordered) == 30
    assert baseline.median_at(5) == 9_000  # the old hour's 1,000s are gone
