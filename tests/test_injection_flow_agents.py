"""The absorption and iceberg-like injection agents on the simulated market, end to end through
the client pipeline: the absorption lasts (its budget covers its duration), holds the touch,
and is reported by the detector at its price."""

from __future__ import annotations

import math

from benchmarks.events import Case, run_offline
from local_exchange.scenarios import parse_scenarios

START_S = 1_704_067_200.0  # OfflineMarket's default start


def _run(entry: dict[str, object], seconds: float) -> tuple[list, dict]:
    case = Case("t", "BTCUSDT", 1, duration_s=seconds)
    result, truth = run_offline(case, parse_scenarios([entry], "test"))
    return result.events, truth[0]


def test_absorption_lasts_and_is_reported() -> None:
    events, truth = _run({"type": "absorption", "side": "bid", "at_s": 45, "duration_s": 20},
                         70)
    d = truth["detail"]
    hits = math.ceil(20 / 0.3) + 1
    # The budget covers what the takers can take in the duration (it used to be 6 x keep,
    # spent after ~2 s).
    assert d["budget"] >= 2 * 0.35 * hits * d["keep_visible"] - 0.01
    assert truth["start_ts"] is not None
    assert d["end_reason"] != "budget_spent"
    assert truth["end_ts"] - truth["start_ts"] >= 5.0, d["end_reason"]
    found = [e for e in events if e.type == "absorption" and e.side == "bid"
             and abs(e.price - truth["price"]) < 1e-6 and e.start_ts <= truth["end_ts"]
             and (e.end_ts or math.inf) >= truth["start_ts"]]
    assert len(found) == 1
    assert found[0].size >= 0.5 * truth["size"]


def test_absorption_decoy_is_not_refilled_and_not_reported() -> None:
    events, truth = _run({"type": "absorption", "side": "bid", "at_s": 45, "duration_s": 20,
                          "decoy": True}, 70)
    assert truth["detail"]["refilled"] == 0.0
    assert not [e for e in events if e.type == "absorption" and e.start_ts >= START_S + 44]


def test_iceberg_peak_is_sized_on_the_touch_level() -> None:
    _, truth = _run({"type": "iceberg", "side": "bid", "at_s": 45, "duration_s": 10}, 47)
    d = truth["detail"]
    # The peak is in the detectors' touch terms (the touch level's size), not the plain
    # median of the 10 best levels.
    assert abs(d["peak"] - d["touch_size"]) <= 0.002


def test_absorption_decoy_on_a_replay_is_not_refilled_by_recorded_makers() -> None:
    """On a replay the recorded makers used to refill the decoy's level, which then was a real
    absorption (and was reported); the decoy now caps the level at what each hit left."""
    from benchmarks.events import RECORDINGS
    case = Case("r", "BTCUSDT", 1, files=tuple(RECORDINGS["BTCUSDT 2024-08-08"]))
    entry = {"type": "absorption", "side": "ask", "at_s": 75, "duration_s": 20, "decoy": True}
    result, truths = run_offline(case, parse_scenarios([entry], "test"))
    truth = truths[0]
    assert truth["start_ts"] is not None and truth["detail"]["end_reason"] == "level_gone"
    near = [e for e in result.events if e.type == "absorption" and e.side == "ask"
            and abs(e.price - truth["price"]) < 0.25 and e.start_ts <= truth["end_ts"] + 2
            and (e.end_ts or math.inf) >= truth["start_ts"] - 2]
    assert near == []


def test_exhaustion_band_follows_the_touch_and_truth_spans_it() -> None:
    _, truth = _run({"type": "exhaustion", "side": "bid", "at_s": 45, "duration_s": 10,
                     "band_ticks": 20}, 60)
    d = truth["detail"]
    assert d["band_ticks"] == 20 and d["end_reason"] == "breakout"
    # Bid: from the highest touch seen while thinning down to the lowest; the touch when the
    # thinning completed lies inside.
    assert truth["price_from"] >= d["alert_price"] >= truth["price_to"]
    assert truth["start_ts"] < d["breakout_ts"] == truth["end_ts"]


def test_iceberg_level_holds_only_its_slices_and_is_reported() -> None:
    """The simulated makers quote at the touch too; while the iceberg-like agent runs its price
    holds its own slices alone (their re-quotes mixed into every refill made the slices
    irregular), so the detector sees regular refills and reports it at that price."""
    events, truth = _run({"type": "iceberg", "side": "ask", "at_s": 45, "duration_s": 20,
                          "total_multiple": 20.0, "peak_multiple": 1.0}, 75)
    d = truth["detail"]
    assert d["refills"] >= 3
    sizes = d["refill_sizes"][:-1]  # the last slice may be what was left of the total
    assert max(sizes) <= 1.2 * d["peak"] + 0.002 and min(sizes) >= 0.8 * d["peak"] - 0.002
    found = [e for e in events if e.type == "iceberg" and e.side == "ask"
             and abs(e.price - truth["price"]) < 1e-6]
    assert len(found) == 1
    assert found[0].detail["refills"] >= 3


def test_exhaustion_thinning_stops_arrivals_and_is_reported_once_before_the_breakout() -> None:
    """Arrivals stop in the thinned band (only cancellations and trades change it), so the
    near-touch depth really falls and the drop is net cancellation; one alert, before the
    breakout, on the thinned side."""
    events, truth = _run({"type": "exhaustion", "side": "ask", "at_s": 45, "duration_s": 20,
                          "band_ticks": 20, "thin_to": 0.2}, 75)
    breakout = truth["detail"]["breakout_ts"]
    alerts = [e for e in events if e.type == "exhaustion" and e.start_ts >= START_S + 44]
    assert len(alerts) == 1, [(e.side, e.start_ts, e.detail) for e in alerts]
    alert = alerts[0]
    assert alert.side == "ask" and truth["start_ts"] < alert.detected_ts < breakout
    assert alert.detail["traded_share"] < 0.5 and alert.detail["ratio"] <= 0.4
