"""Replay of hftbacktest recordings through the local exchange, at ``speed`` times real time.

Payloads and update ids go out exactly as recorded; only the delivery time is rescaled from the
recorded local receive times. The snapshot endpoint serves the recorded REST snapshot advanced by
every published diff whose ``u`` is above its ``lastUpdateId`` (sizes are absolute), so at any
moment it is the book at the last published ``u``; until the diff straddling the snapshot has
been published it is the recorded snapshot as is.

A replay is of one venue (``recording_venue``): USDT-M and Spot recordings differ in their
payloads and the instruments they imply, so they are not mixed on one timeline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from local_exchange.instruments import SymbolSpec
from local_exchange.matching import Level
from local_exchange.recording import (
    RecordedMessage,
    Recording,
    group_recordings,
    merged_messages,
    recording_spec,
    recording_venue,
)
from local_exchange.snapshot import Snapshot
from marketdata.markets import BINANCE_USDM

log = logging.getLogger(__name__)

# Yield to the event loop at least this often while catching up at high speed.
_YIELD_EVERY = 200


class ReplayBook:
    """One symbol's recorded snapshot, advanced by the published diffs."""

    def __init__(self, spec: SymbolSpec, snapshot: dict[str, Any] | None) -> None:
        self.spec = spec
        self.snapshot_id = snapshot["lastUpdateId"] if snapshot else None
        self.snapshot_ms = int(snapshot.get("T", 0)) if snapshot else 0
        parse_p, parse_q = spec.instrument.prices.parse, spec.instrument.quantities.parse
        self._recorded: tuple[list[Level], list[Level]] = (
            [(parse_p(p), parse_q(q)) for p, q in snapshot["bids"]] if snapshot else [],
            [(parse_p(p), parse_q(q)) for p, q in snapshot["asks"]] if snapshot else [])
        self.bids = dict(self._recorded[0])
        self.asks = dict(self._recorded[1])
        self.update_id = self.snapshot_id
        self.transaction_ms = self.snapshot_ms

    def on_published(self, diff: dict[str, Any]) -> None:
        if self.snapshot_id is None or diff["u"] <= self.snapshot_id:
            return
        prices, quantities = self.spec.instrument.prices, self.spec.instrument.quantities
        for side, levels in ((self.bids, diff["b"]), (self.asks, diff["a"])):
            for price, qty in prices.parse_pairs(levels, quantities):
                if qty:
                    side[price] = qty
                else:
                    side.pop(price, None)
        self.update_id = diff["u"]
        self.transaction_ms = diff.get("T", self.transaction_ms)

    def state(self, limit: int, stale: bool) -> Snapshot | None:
        if self.snapshot_id is None:
            return None
        if stale:
            bids, asks = self._recorded
            return Snapshot(self.snapshot_id, self.snapshot_ms, bids[:limit], asks[:limit])
        bids = sorted(self.bids.items(), reverse=True)
        asks = sorted(self.asks.items())
        if limit:
            bids, asks = bids[:limit], asks[:limit]
        assert self.update_id is not None
        return Snapshot(self.update_id, self.transaction_ms, bids, asks)


class ReplayMarket:
    """Book source and pacer for one or more recordings on a single timeline."""

    def __init__(self, files: Iterable[Path | str], speed: float = 1.0,
                 venue: str | None = None) -> None:
        """``venue``: the venue the replay serves; None takes the recordings' own. A recording
        of another venue is a ``ValueError`` (its payloads would not parse there)."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.recordings: list[Recording] = group_recordings(files)
        self.venue = _common_venue(self.recordings, venue)
        self.specs: dict[str, SymbolSpec] = {r.symbol: recording_spec(r, self.venue)
                                             for r in self.recordings}
        self.books = {r.symbol: ReplayBook(self.specs[r.symbol], r.snapshot)
                      for r in self.recordings}
        self.messages_sent = 0
        self.finished = asyncio.Event()
        # Injection (local_exchange.injection_replay): the messages to publish for a recorded
        # one (injected trades, the diff with the overlay); None publishes it as recorded.
        self.hook: Callable[[RecordedMessage], list[RecordedMessage]] | None = None

    # BookSource
    def listed(self) -> Mapping[str, SymbolSpec]:
        return self.specs

    def snapshot(self, symbol: str, limit: int, stale: bool) -> Snapshot | None:
        return self.books[symbol].state(limit, stale)

    async def run(self, emit: Callable[[RecordedMessage], None],
                  running: asyncio.Event) -> None:
        """Deliver every message through ``emit`` on the recorded timeline (scaled by speed).

        While ``running`` is cleared the replay clock stands still.
        """
        loop = asyncio.get_running_loop()
        start_wall = loop.time()
        first_ns: int | None = None
        for count, msg in enumerate(merged_messages(self.recordings)):
            if first_ns is None:
                first_ns = msg.local_ns
            if not running.is_set():
                paused_at = loop.time()
                await running.wait()
                start_wall += loop.time() - paused_at
            due = start_wall + (msg.local_ns - first_ns) / 1e9 / self.speed
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif count % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            for out in self.hook(msg) if self.hook is not None else (msg,):
                emit(out)
                if out.data.get("e") == "depthUpdate":
                    self.books[out.symbol].on_published(out.data)
            self.messages_sent += 1
        log.info("replay finished after %d messages", self.messages_sent)
        self.finished.set()


def _common_venue(recordings: list[Recording], wanted: str | None) -> str:
    venues = {r.symbol: recording_venue(r) for r in recordings}
    if wanted is None:
        found = set(venues.values())
        if len(found) > 1:
            raise ValueError(f"recordings of different venues cannot share a replay: {venues}")
        return found.pop() if found else BINANCE_USDM
    others = {symbol: venue for symbol, venue in venues.items() if venue != wanted}
    if others:
        raise ValueError(f"cannot replay as {wanted}: recorded on another venue: {others}")
    return wanted

