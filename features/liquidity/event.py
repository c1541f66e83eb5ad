"""The liquidity event record and the per-symbol event log that detectors write into.

An event is mutable while it is ``active`` (a wall grows, a sweep gains a level) and keeps its
``id``; once ``ended`` it never changes again. Every time is **venue time** in epoch seconds
(from the ``E``/``T`` of the messages that evidence the event), never the server clock, so a
replay gives the same events every time. Prices are floats derived from the exact integer book.

Schema (docs/frames.md, "Liquidity events"): ``{"id", "type", "side", "price", "price_from",
"price_to", "start_ts", "end_ts", "detected_ts", "status", "size", "score", "detail"}``.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

EventType = Literal["wall", "sweep", "absorption", "layering", "iceberg", "exhaustion"]
EVENT_TYPES: tuple[EventType, ...] = ("wall", "sweep", "absorption", "layering", "iceberg",
                                      "exhaustion")
BookSide = Literal["bid", "ask"]
Status = Literal["active", "ended"]

# /events keeps the events of the last hour, at most 10,000 per symbol (the issue asks for the
# last hour or 10,000 events): the count bound keeps memory bounded whatever the rate, and the
# hour keeps it flat after an hour instead of filling for days at a quiet market's rate (a
# soak's event log grew by ~6 events a minute: 10,000 would take a day).
DEFAULT_LOG_SIZE = 10_000
DEFAULT_RETENTION_S = 3600.0


@dataclass(slots=True, eq=False)
class LiquidityEvent:
    """One detected event. ``side`` is always the BOOK side the event is about (a buy sweep
    consumes asks: ``"ask"``). ``size`` is in base units; ``score`` is in ``[0, 1]`` (how far
    above its thresholds the evidence is). ``detail`` holds the type's own facts."""

    id: str
    type: EventType
    side: BookSide
    price: float
    price_from: float
    price_to: float
    start_ts: float
    detected_ts: float
    size: float
    score: float
    end_ts: float | None = None
    status: Status = "active"
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "type": self.type, "side": self.side, "price": self.price,
            "price_from": self.price_from, "price_to": self.price_to,
            "start_ts": self.start_ts, "end_ts": self.end_ts, "detected_ts": self.detected_ts,
            "status": self.status, "size": self.size, "score": self.score,
            "detail": dict(self.detail),
        }


class EventLog:
    """One symbol's events: a bounded history (newest last) plus what changed since the last
    frame. Detectors call ``open`` / ``changed`` / ``close``; the frame builder calls
    ``drain_changed`` once a second. Synchronous, owned by the book's event loop."""

    __slots__ = ("_changed", "_history", "_seq", "counts", "retention_s", "symbol")

    def __init__(self, symbol: str, max_events: int = DEFAULT_LOG_SIZE,
                 retention_s: float = DEFAULT_RETENTION_S) -> None:
        self.symbol = symbol
        self.retention_s = retention_s  # venue seconds an ended event stays after its end
        self._history: deque[LiquidityEvent] = deque(maxlen=max_events)
        self._changed: dict[str, LiquidityEvent] = {}
        self._seq = 0
        self.counts: Counter[str] = Counter()  # events opened, by type (for /metrics)

    def next_id(self, event_type: EventType) -> str:
        """Deterministic ids: the same replay gives the same ids."""
        self._seq += 1
        return f"{self.symbol}-{event_type}-{self._seq}"

    def open(self, event: LiquidityEvent) -> LiquidityEvent:
        history = self._history
        # Oldest first: drop events that ended over ``retention_s`` before this one was seen.
        # An old event still active stops the sweep (it is kept, and so is what follows it).
        cutoff = event.detected_ts - self.retention_s
        while history and history[0].end_ts is not None and history[0].end_ts < cutoff:
            history.popleft()
        history.append(event)
        self._changed[event.id] = event
        self.counts[event.type] += 1
        return event

    def changed(self, event: LiquidityEvent) -> None:
        """``event`` (still active) was updated: report it in the next frame."""
        self._changed[event.id] = event

    def close(self, event: LiquidityEvent, end_ts: float, **detail: Any) -> None:
        """End ``event`` at venue time ``end_ts``; ``detail`` is merged (e.g. ``reason``)."""
        if event.status == "ended":
            return
        event.status = "ended"
        event.end_ts = end_ts
        event.detail.update(detail)
        self._changed[event.id] = event

    def drain_changed(self) -> list[dict[str, Any]]:
        """Events that started, changed or ended since the last call, oldest first."""
        if not self._changed:
            return []
        out = [e.to_dict() for e in self._changed.values()]
        self._changed.clear()
        return out

    def __iter__(self) -> Iterator[LiquidityEvent]:
        return iter(self._history)

    def __len__(self) -> int:
        return len(self._history)

    def query(self, since: float | None = None,
              types: frozenset[str] | None = None) -> list[LiquidityEvent]:
        """Events newest last; ``since`` keeps events still active or ending at/after it
        (venue epoch seconds); ``types`` keeps those types."""
        out = []
        for e in self._history:
            if types is not None and e.type not in types:
                continue
            if since is not None and e.status == "ended" and (e.end_ts or 0.0) < since:
                continue
            out.append(e)
        return out

    def in_window(self, start_ts: float) -> list[dict[str, Any]]:
        """Events still active or ended at/after ``start_ts`` (the snapshot's 180 s window)."""
        return [e.to_dict() for e in self.query(since=start_ts)]
