"""The update-rate meter on an injected clock: rate, baseline and collapse detection."""

from __future__ import annotations

from data_ingestion.engine import RateMeter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time_ns(self) -> int:
        return int(self.now * 1e9)


def run(meter: RateMeter, clock: FakeClock, seconds: int, per_second: int) -> None:
    for _ in range(seconds):
        for _ in range(per_second):
            meter.tick()
        clock.now += 1.0


def test_rate_baseline_and_collapse() -> None:
    clock = FakeClock()
    meter = RateMeter(clock)
    run(meter, clock, 120, 10)
    assert meter.rate() == 10.0
    assert 9.0 < meter.baseline <= 10.0
    assert not meter.collapsed()
    run(meter, clock, 6, 1)  # the feed still flows, at a tenth of its usual rate
    assert meter.rate() == 1.0 and meter.collapsed()
    run(meter, clock, 30, 10)
    assert not meter.collapsed()


def test_quiet_streams_are_not_judged_and_gaps_in_time_reset_counts() -> None:
    clock = FakeClock()
    meter = RateMeter(clock)
    run(meter, clock, 60, 0)
    assert meter.rate() == 0.0 and not meter.collapsed()
    run(meter, clock, 10, 4)
    clock.now += 500  # nothing at all for a long time
    assert meter.rate() == 0.0
