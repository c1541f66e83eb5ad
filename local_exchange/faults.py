"""Stream faults for client tests: drop, duplicate or reorder the next depth diff of a symbol.

A fault is armed for every depth stream kind of the symbol at once (``@depth@100ms``, ``@depth``,
``@depth@500ms``, or the single recorded kind in replay), and each kind consumes it on its own
next event, so every depth subscriber sees it whatever speed it chose. The exchange's *published*
book is unaffected: a dropped diff was published and lost on the way, as on a real network.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, Literal

DiffFault = Literal["drop", "duplicate", "reorder"]
MalformedKind = Literal["invalid_json", "missing_fields"]
Payload = dict[str, Any]

# Not JSON at all: a frame cut short, as a buggy proxy might deliver it.
INVALID_JSON_FRAME = b'{"e":"depthUpdate","E":17'


class DepthFaults:
    """Pending faults per depth stream kind of one symbol."""

    def __init__(self, kinds: Iterable[str]) -> None:
        self._pending: dict[str, deque[DiffFault]] = {kind: deque() for kind in kinds}
        self._held: dict[str, Payload] = {}

    def arm(self, fault: DiffFault) -> None:
        for queue in self._pending.values():
            queue.append(fault)

    def apply(self, kind: str, event: Payload) -> list[Payload]:
        """The events to send, in order, in place of ``event``."""
        out: list[Payload] = []
        fault = self._pending[kind].popleft() if self._pending[kind] else None
        if fault == "drop":
            pass
        elif fault == "duplicate":
            out = [event, event]
        elif fault == "reorder":
            # Hold this one back; it goes out right after the next event.
            out = [self._held.pop(kind)] if kind in self._held else []
            self._held[kind] = event
            return out
        else:
            out = [event]
        held = self._held.pop(kind, None)
        if held is not None:
            out.append(held)
        return out


def missing_fields(event: Payload) -> Payload:
    """A depthUpdate with its update ids removed: parseable JSON, unusable payload."""
    return {k: v for k, v in event.items() if k not in ("U", "u", "pu")}
