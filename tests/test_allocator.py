"""The C allocator settings of long runs: a trim hands freed pages back to the OS, and the
runtime trims on its own clock at the configured interval (or never)."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from api.runtime import Runtime
from config import Config
from depthlens import allocator

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")


def rss_mb() -> float:
    # /proc's resident pages, read directly: no psutil cache between the two reads.
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


@glibc
def test_trim_hands_freed_holes_back() -> None:
    # 64 KiB buffers (malloc's heap: above Python's small objects, below mmap's threshold)
    # interleaved with small keepers: once the buffers are freed, their pages are holes below
    # live chunks, which glibc does not return by itself; malloc_trim does.
    buffers, keepers = [], []
    for n in range(1_500):
        buffers.append(bytearray(65_536 + n % 7))
        keepers.append(bytearray(600))
    buffers.clear()
    before = rss_mb()
    allocator.trim()
    after = rss_mb()
    assert before - after > 50, (before, after)  # of ~94 MB freed
    assert len(keepers) == 1_500


@glibc
def test_arena_limit_applies_only_to_a_positive_count() -> None:
    assert allocator.limit_arenas(0) is False
    assert allocator.limit_arenas(2) is True


class ManualClock:
    def __init__(self) -> None:
        self.now = 500.0

    def monotonic(self) -> float:
        return self.now

    def time_ns(self) -> int:
        return int(self.now * 1e9)


@pytest.mark.parametrize("every_s, ticks, expected", [(60.0, 185, 3), (0.0, 185, 0)])
def test_runtime_trims_once_per_interval_of_its_own_clock(
        monkeypatch: pytest.MonkeyPatch, every_s: float, ticks: int, expected: int) -> None:
    calls = []
    monkeypatch.setattr(allocator, "trim", lambda: calls.append(1) or True)
    clock = ManualClock()
    runtime = Runtime(Config(malloc_trim_s=every_s), clock)
    for n in range(ticks):
        clock.now += 1.0
        # Venue seconds run far ahead of the process's clock in a --speed max replay: the
        # frames' time must not drive the trim.
        for hook in runtime.on_tick:
            hook(n * 100.0, clock.time_ns())
    assert len(calls) == expected
