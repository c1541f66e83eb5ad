"""A book as of one update id: what the publisher keeps and what REST depth serves."""

from __future__ import annotations

from dataclasses import dataclass

from local_exchange.matching import Level


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every change with id <= ``last_update_id``; bids and asks best first, integer units."""

    last_update_id: int
    transaction_ms: int
    bids: list[Level]
    asks: list[Level]

    def truncated(self, limit: int) -> Snapshot:
        """At most ``limit`` levels a side (0: all)."""
        if not limit:
            return self
        return Snapshot(self.last_update_id, self.transaction_ms, self.bids[:limit],
                        self.asks[:limit])
