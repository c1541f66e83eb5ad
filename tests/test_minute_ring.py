"""The local venues' per-minute buckets: exact against a plain model, and memory taken up front."""

from __future__ import annotations

import gc
import random
import sys

import pytest

from local_exchange.market_stats import RollingTrades
from local_exchange.minute_ring import MinuteRing


def _model_summary(minutes: dict[int, list[tuple[int, int, int, int, bool]]],
                   lo: int, hi: int) -> tuple[int, ...] | None:
    """What the minutes keyed lo..hi hold, summed the slow way."""
    fills = [f for key in sorted(minutes) if lo <= key <= hi for f in minutes[key]]
    if not fills:
        return None
    prices = [p for p, *_ in fills]
    return (prices[0], max(prices), min(prices), prices[-1], fills[-1][1],
            sum(q for _, q, *_ in fills), sum(p * q for p, q, *_ in fills),
            sum(last - first + 1 for _, _, first, last, _ in fills),
            sum(q for _, q, _, _, bought in fills if bought),
            sum(p * q for p, q, _, _, bought in fills if bought), fills[0][2], fills[-1][3])


def test_summaries_equal_a_plain_model_through_late_trades_and_evictions() -> None:
    rng = random.Random(7)
    ring, capacity = MinuteRing(50), 50
    minutes: dict[int, list[tuple[int, int, int, int, bool]]] = {}
    key, trade_id = 1000, 1
    for _ in range(4000):
        key += rng.choice((0, 0, 0, 1, 1, 3))
        # A trade stamped before the newest minute joins the newest (arrival order).
        stamped = key - rng.choice((0, 0, 0, 2))
        joins = max(stamped, max(minutes, default=stamped))
        price, qty, n = rng.randint(900, 1100), rng.randint(1, 10**6), rng.randint(1, 3)
        bought = rng.random() < 0.5
        ring.add(stamped, price, qty, trade_id, trade_id + n - 1, bought)
        minutes.setdefault(joins, []).append((price, qty, trade_id, trade_id + n - 1, bought))
        trade_id += n
        oldest = joins - (capacity - 1)
        ring.evict_before(oldest)
        minutes = {k: v for k, v in minutes.items() if k >= oldest}
        if rng.random() < 0.05:
            lo = rng.randint(min(minutes) - 2, max(minutes) + 1)
            hi = lo + rng.randint(0, 20)
            got = ring.summary(lo, hi)
            want = _model_summary(minutes, lo, hi)
            assert (None if got is None else (
                got.open, got.high, got.low, got.close, got.last_qty, got.volume, got.quote,
                got.count, got.taker_buy_volume, got.taker_buy_quote, got.first_id,
                got.last_id)) == want
            before = [k for k in minutes if k < lo]
            assert ring.close_before(lo) == (minutes[max(before)][-1][0] if before else None)
        assert ring.first_key() == min(minutes)
        assert len(ring) == len(minutes)


def test_a_day_and_more_of_minutes_takes_no_new_python_memory() -> None:
    """The point of the ring: a window's memory is taken when it starts. As Python objects the
    same three days of trades held ~1441 buckets of a dozen ints each (about 17,000 blocks)."""
    window = RollingTrades()
    ts = 1_700_000_000_000
    price, trade_id = 6_180_020, 1
    for _ in range(60):  # the first hour: what any window holds once it runs
        window.add(price, 123_456_789, trade_id, trade_id, ts)
        ts, trade_id = ts + 60_000, trade_id + 1
    gc.collect()
    before = sys.getallocatedblocks()
    for minute in range(3 * 1440):
        window.add(price + minute % 977, 123_456_789 + minute, trade_id, trade_id + 1, ts)
        ts, trade_id = ts + 60_000, trade_id + 2
        if minute % 500 == 0:
            assert window.stats(ts) is not None  # queries along the way allocate nothing kept
    gc.collect()
    grew = sys.getallocatedblocks() - before
    assert grew < 300, f"{grew} new Python blocks over three days of minutes"
    stats = window.stats(ts)
    assert stats is not None
    # The last 24 hours: 1441 minute buckets overlap it, two trade ids each.
    assert stats.count == 2 * 1440 and stats.last_id == trade_id - 1


def test_a_minute_beyond_int64_raises_rather_than_wraps() -> None:
    ring = MinuteRing(10)
    ring.add(1, 10**12, 10**7, 1, 1)  # quote 10**19 > 2**63 - 1
    with pytest.raises(OverflowError):
        ring.add(2, 1, 1, 2, 2)  # the first minute closes into the int64 array here


def test_a_day_of_quote_volume_sums_past_int64() -> None:
    window = RollingTrades()
    for minute in range(1440):
        window.add(10**9, 10**9, minute, minute, 1_700_000_000_000 + minute * 60_000)
    stats = window.stats(1_700_000_000_000 + 1439 * 60_000)
    assert stats is not None and stats.quote == 1440 * 10**18 > 2**63
