"""Trade-flow metrics against hand computations: window edges, empty windows, CVD, baselines."""

from __future__ import annotations

import math
import random

import pytest

from features.trade_flow import TradeFlow, buy_pressure, price_vs_vwap_pct, volatility_bps, vwap

PS, QS = 100, 1000  # 2 price decimals, 3 quantity decimals


def test_pure_functions_by_hand() -> None:
    assert vwap(100 * 1 + 102 * 3, 4) == pytest.approx(101.5)
    assert vwap(0, 0) is None
    assert buy_pressure(3, 4) == 0.75 and buy_pressure(0, 0) is None
    assert price_vs_vwap_pct(101.0, 100.0) == pytest.approx(1.0)
    assert price_vs_vwap_pct(None, 100.0) is None and price_vs_vwap_pct(1.0, None) is None
    # Returns +1 %, -1 %: mean 0, population std 1 % = 100 bps.
    assert volatility_bps([100.0, 101.0, 99.99]) == pytest.approx(100.0)
    # 100 -> 110 (+10 %) -> 99 (-10 %) -> 99 (0): std of (0.1, -0.1, 0) = sqrt(0.02/3).
    assert volatility_bps([100, 110, 99, 99]) == pytest.approx(math.sqrt(0.02 / 3) * 1e4)
    assert volatility_bps([100.0, 101.0]) is None and volatility_bps([]) is None
    assert volatility_bps([5.0, 5.0, 5.0]) == 0.0


def test_empty_windows_are_null_not_nan() -> None:
    flow = TradeFlow(PS, QS)
    m = flow.cut(0, None)
    assert m.venue_ts is None and m.velocity_3s is None and m.vwap_30s is None
    assert m.buy_pressure_30s is None and m.volatility_60s_bps is None and m.cvd is None
    assert m.last_trade_price is None and m.price_vs_vwap_pct is None
    assert m.velocity_baseline == 0.0 and m.volatility_1s_60s_bps is None
    flow.see_venue_ms(5_000)
    m = flow.cut(0, 100.0)
    assert m.venue_ts == 5.0 and m.velocity_3s == 0.0 and m.vwap_30s is None


def test_windows_end_at_venue_time_and_exclude_their_start() -> None:
    flow = TradeFlow(PS, QS)
    flow.went_live()
    end = 1_000_000
    # (T ms, price units, qty units, taker bought)
    trades = [
        (end - 60_000, 10000, 1000, True),   # exactly 60 s old: outside every window
        (end - 59_999, 10100, 2000, False),  # inside the 60 s window only
        (end - 30_000, 10200, 3000, True),   # exactly 30 s old: outside the 30 s window
        (end - 29_999, 10300, 1000, True),
        (end - 3_000, 10400, 2000, False),   # exactly 3 s old: outside the 3 s window
        (end - 2_999, 10500, 500, True),
        (end, 10600, 1500, False),
    ]
    for ts, price, qty, bought in trades:
        flow.on_trade(ts, price, qty, bought)
    m = flow.cut(len(trades), None)
    assert m.venue_ts == end / 1000
    in30 = trades[3:]
    notional = sum(p / PS * q / QS for _, p, q, _ in in30)
    volume = sum(q / QS for _, _, q, _ in in30)
    assert m.vwap_30s == pytest.approx(notional / volume, rel=1e-12)
    assert m.velocity_3s == pytest.approx(2 / 3)
    assert m.buy_pressure_30s == pytest.approx((1.0 + 0.5) / volume)
    prices = [p / PS for _, p, _, _ in trades[1:]]
    assert m.volatility_60s_bps == pytest.approx(volatility_bps(prices), rel=1e-12)
    assert m.last_trade_price == 106.0
    vwap_30s = notional / volume
    assert m.price_vs_vwap_pct == pytest.approx((106.0 - vwap_30s) / vwap_30s * 100)
    buys = sum(q for _, _, q, b in trades if b)
    sells = sum(q for _, _, q, b in trades if not b)
    assert m.cvd == pytest.approx((buys - sells) / QS)
    # A later depth event moves venue time on: the windows slide although no trade came.
    flow.see_venue_ms(end + 2_000)
    m2 = flow.cut(0, None)
    assert m2.velocity_3s == pytest.approx(1 / 3)  # only the trade at `end` is left in 3 s
    flow.see_venue_ms(end - 10)  # venue time never goes back
    assert flow.cut(0, None).venue_ts == (end + 2_000) / 1000


def test_cvd_counts_from_first_live_and_survives_resyncs() -> None:
    flow = TradeFlow(PS, QS)
    flow.on_trade(1_000, 100, 5000, True)  # before the book was ever live: not counted
    assert flow.cut(1, None).cvd is None
    flow.went_live()
    flow.on_trade(2_000, 100, 2000, True)
    flow.on_trade(2_500, 100, 500, False)
    assert flow.cut(2, None).cvd == pytest.approx(1.5)
    flow.went_live()  # a resync: a new snapshot, the CVD goes on
    flow.on_trade(3_000, 100, 250, False)
    assert flow.cut(1, None).cvd == pytest.approx(1.25)


def test_baseline_and_mid_volatility_over_their_second_series() -> None:
    rng = random.Random(7)
    flow = TradeFlow(PS, QS)
    counts = [rng.randint(0, 50) for _ in range(250)]
    mids = [100 + rng.random() if rng.random() > 0.1 else None for _ in range(250)]
    for i, (count, mid) in enumerate(zip(counts, mids, strict=True)):
        m = flow.cut(count, mid)
        window = counts[max(0, i - 179): i + 1]
        assert m.velocity_baseline == pytest.approx(sum(window) / len(window), rel=1e-12)
        known = [x for x in mids[: i + 1] if x is not None][-60:]
        expected = volatility_bps(known)
        assert (m.volatility_1s_60s_bps is None) == (expected is None)
        if expected is not None:
            assert m.volatility_1s_60s_bps == pytest.approx(expected, rel=1e-12)


def test_memory_stays_bounded_to_the_longest_window() -> None:
    flow = TradeFlow(PS, QS)
    for i in range(100_000):
        flow.on_trade(i * 10, 100, 1, i % 2 == 0)  # 100 trades/s for 1000 s
        if i % 5000 == 0 and i:
            m = flow.cut(0, None)
            assert m.velocity_3s == 100 and m.buy_pressure_30s == 0.5
    flow.cut(0, None)
    assert flow._trades.capacity <= 2 * 8192  # 6000 trades in 60 s, at most doubled twice
    assert len(flow._trades) - flow._trades.start(999_990 - 60_000) == 6000
