"""``--source replay --clock venue``: the app served from ``depthlens.pipeline.VenueClockReplay``
instead of the embedded exchange's sockets, so the same files give byte-identical frames on every
run and at any ``--speed`` (``max``: as fast as the CPU allows).

The driver publishes each venue second's frames through the runtime (the same fan-out, hooks and
cross-venue view as live frames), paced against the wall clock: second ``S`` goes out at
``start + (S - S0) / speed``; pacing only decides *when* a frame is sent, never what it holds.
``ReplayedMarket`` gives each market the engine interface the API, metrics and health read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from marketdata.clock import Clock
from data_ingestion.engine import EngineCounters, RateMeter
from depthlens.pipeline import RecordingError, VenueClockReplay
from marketdata.events import DepthDiff
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from orderbook.sync import BookSync

log = logging.getLogger(__name__)

Publish = Callable[[float, list[tuple[str, dict[str, Any]]]], None]


class ReplayedMarket:
    """One market of a venue-clock replay, seen as an engine: its book, sync counters and
    health come from the replay; rates and latencies from the diffs it applies."""

    def __init__(self, key: str, replay: VenueClockReplay, instrument: Instrument,
                 sync: BookSync, clock: Clock) -> None:
        self.key = key
        self.symbol = instrument.symbol
        self.instrument = instrument
        self.sync = sync
        self.counters = EngineCounters()
        self.diff_rate = RateMeter(clock)
        self.queue_depth = 0  # applied in the replay's own loop: nothing queues
        self.after_diff: Callable[[DepthDiff], None] | None = None  # set by the metrics
        self._replay = replay

    @property
    def book(self) -> L2Book:
        return self.sync.book

    def on_diff(self, diff: DepthDiff) -> None:
        self.counters.diffs_received += 1
        self.diff_rate.tick()
        if self.after_diff is not None:
            self.after_diff(diff)

    def status(self) -> str:
        return str(self._replay.health(self.key)["status"])

    def last_event_age_s(self) -> float | None:
        age = self._replay.health(self.key)["last_event_age_ms"]
        return None if age is None else age / 1000

    async def run(self) -> None:
        """Nothing to run: the driver applies the recording."""
        await asyncio.Event().wait()


class VenueReplayDriver:
    def __init__(self, replay: VenueClockReplay, speed: float | None, publish: Publish) -> None:
        self.replay = replay
        self.speed = speed  # None: as fast as possible
        self.publish = publish
        self.seconds_sent = 0
        self.finished = False

    async def run(self) -> None:
        started = time.monotonic()
        first: float | None = None
        try:
            for ts, frames in self.replay.seconds():
                if first is None:
                    first = ts
                if self.speed is None:
                    await asyncio.sleep(0)  # let clients and the API in between seconds
                else:
                    delay = started + (ts - first) / self.speed - time.monotonic()
                    await asyncio.sleep(max(0.0, delay))
                self.publish(ts, frames)
                self.seconds_sent += 1
        except RecordingError as exc:  # the books stay as they were; the API keeps serving
            log.error("venue-clock replay stopped: %s", exc)
            return
        self.finished = True
        log.info("venue-clock replay finished: %d seconds of %s", self.seconds_sent,
                 ", ".join(self.replay.markets))
