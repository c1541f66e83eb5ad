"""The injected clock. Only ``SystemClock`` reads real time; replays and tests pass their own."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def time_ns(self) -> int:
        """Wall-clock time, ns since the epoch (timestamps, frame boundaries)."""

    def monotonic(self) -> float:
        """Monotonic seconds (timeouts, rates, ages)."""


class SystemClock:
    def time_ns(self) -> int:
        return time.time_ns()

    def monotonic(self) -> float:
        return time.monotonic()
