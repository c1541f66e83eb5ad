"""What every detector sees: the symbol's book, its touch and venue time, the rolling baseline
and the event log, kept current by ``LiquidityDetectors`` after every applied diff and trade.

Detectors are synchronous and owned by the book's event loop; they must keep their per-diff work
O(1) or O(changed levels near the touch): the replay benchmark holds the hot path to >= 0.6x the
lean loop with all six on.
"""

from __future__ import annotations

from typing import Protocol

from marketdata.events import DepthDiff, Trade
from features.liquidity.baseline import LevelSizeBaseline
from features.liquidity.event import EventLog
from orderbook.book import L2Book, Level
from orderbook.instrument import Instrument


class MarketContext:
    """Shared, mutable view of one symbol (one object for the life of the symbol)."""

    __slots__ = ("baseline", "best_ask", "best_bid", "book", "instrument", "live", "log",
                 "price_scale", "qty_scale", "tick", "venue_ms")

    def __init__(self, instrument: Instrument, book: L2Book, log: EventLog,
                 baseline: LevelSizeBaseline) -> None:
        self.instrument = instrument
        self.book = book
        self.log = log
        self.baseline = baseline
        self.tick = instrument.tick_units
        self.price_scale = instrument.price_scale
        self.qty_scale = instrument.qty_scale
        self.venue_ms = 0  # latest venue time seen (E of diffs, T of trades), never decreasing
        self.best_bid: Level | None = None
        self.best_ask: Level | None = None
        self.live = False  # a snapshot has been loaded and no reset is pending

    def px(self, units: int) -> float:
        return units / self.price_scale

    def qty(self, units: int) -> float:
        return units / self.qty_scale

    @property
    def now_s(self) -> float:
        """Venue time of the latest message, epoch seconds."""
        return self.venue_ms / 1000.0


class Detector(Protocol):
    """One event type. Implementations keep their own per-symbol state."""

    def on_reset(self, ctx: MarketContext) -> None:
        """A snapshot replaced the book (first sync or resync): continuity is lost. Drop
        candidates; end active events with ``reason="resync"`` where they cannot continue."""

    def on_update(self, ctx: MarketContext, diff: DepthDiff) -> None:
        """``diff`` was applied; ``ctx`` already holds the new touch and venue time."""

    def on_trade(self, ctx: MarketContext, trade: Trade) -> None:
        """A trade of this symbol (``taker_side`` is the aggressor)."""

    def on_second(self, ctx: MarketContext) -> None:
        """Venue time crossed a whole second: timeouts, periodic scans."""
