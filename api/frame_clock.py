"""One frame per symbol per second, cut on exact second boundaries of the injected clock.

``asyncio.sleep(1.0)`` in a loop drifts by milliseconds a frame; sleeping to the next absolute
boundary does not. A boundary missed because the loop was blocked is skipped (and counted), never
cut late twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from marketdata.clock import Clock

log = logging.getLogger(__name__)


class FrameClock:
    def __init__(self, clock: Clock, on_tick: Callable[[float, int], None],
                 interval_s: float = 1.0) -> None:
        self._clock = clock
        self._on_tick = on_tick
        self._interval_ns = int(interval_s * 1e9)
        self.ticks = 0
        self.skipped = 0

    async def run(self) -> None:
        next_ns = (self._clock.time_ns() // self._interval_ns + 1) * self._interval_ns
        while True:
            delay_ns = next_ns - self._clock.time_ns()
            if delay_ns > 0:
                await asyncio.sleep(delay_ns / 1e9)
                continue  # re-check: sleep may wake a hair early
            now_ns = self._clock.time_ns()
            missed = (now_ns - next_ns) // self._interval_ns
            if missed:
                self.skipped += missed
                next_ns += missed * self._interval_ns
                log.warning("frame clock fell %d interval(s) behind", missed)
            self.ticks += 1
            self._on_tick(next_ns / 1e9, now_ns)
            next_ns += self._interval_ns
