"""Arbitrage opportunities over time: when one opens, how good it got, and why it ended.

An ordered pair (buy market, sell market) *opens* when its ``net_edge_bps`` at the top is > 0,
its ``max_size`` > 0, and the two books' venue-time skew is known and ``<= max_skew_ms``: a price
difference between books last updated far apart in venue time may be nothing but latency. A pair
with a positive edge but a skew over the bound (or unknown) is not opened; each such episode is
counted once in ``suppressed_by_skew``.

While open, the peak is the update with the highest ``best_net_edge_bps`` (the net edge at the
profit-maximising size); its size, profit and skew are kept with it, and the largest skew seen
over the whole opportunity. It ends, checked in this order:

- ``"book"``: a book is not live, its pair is missing from the update, or a side needed is empty;
- ``"skew"``: the skew is over the bound or unknown (then the edge reading itself is not
  trustworthy, so the skew is named rather than the edge);
- ``"edge"``: no positive net edge (or no profitable size) any more.

Times are venue times in ms: the caller's ``now_ms`` (the latest venue time of the books).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Literal

from features.cross_venue.arbitrage import ArbQuote

EndReason = Literal["edge", "skew", "book"]
Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Opportunity:
    """One opportunity of one ordered pair (module doc).

    - ``buy_market`` / ``sell_market``: buy on the first, sell on the second;
    - ``start_ms`` / ``end_ms``: venue time (ms) of the update that opened / ended it
      (``end_ms`` None while open); ``duration_ms`` from start to end, or to the last update;
    - ``updates``: updates it was open for;
    - ``peak_net_edge_bps``: highest net edge at the profit-maximising size, with that size
      (``peak_size``, base units), its profit (``peak_profit_usd``), its cost including fees
      (``peak_cost_usd``), the top-of-book net edge then (``peak_top_net_edge_bps``), the skew
      then (``peak_skew_ms``) and the venue time (``peak_ms``);
    - ``max_skew_ms``: the largest skew seen while open;
    - ``end_reason``: ``"edge"`` | ``"skew"`` | ``"book"``, None while open.
    """

    buy_market: str
    sell_market: str
    start_ms: int
    end_ms: int | None
    duration_ms: int
    updates: int
    peak_net_edge_bps: float
    peak_size: float
    peak_profit_usd: float
    peak_cost_usd: float
    peak_top_net_edge_bps: float
    peak_skew_ms: int
    peak_ms: int
    max_skew_ms: int
    end_reason: EndReason | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class OpportunityTracker:
    """Turns each update's ``ArbQuote`` list into opportunities (module doc). Owned by the one
    loop that calls ``update``; not thread-safe, and needs not be."""

    def __init__(self, max_skew_ms: float, recent: int = 100) -> None:
        if recent < 1:
            raise ValueError(f"recent must be >= 1, got {recent}")
        self.max_skew_ms = max_skew_ms
        self._open: dict[Pair, Opportunity] = {}
        self._recent: deque[Opportunity] = deque(maxlen=recent)
        self._suppressed: set[Pair] = set()  # pairs currently held back by skew
        self.suppressed_by_skew = 0
        self.opened = 0

    def update(self, quotes: Sequence[ArbQuote], now_ms: int) -> list[Opportunity]:
        """Apply one update; return the opportunities that ended in it."""
        seen = {(x.buy_market, x.sell_market): x for x in quotes}
        ended = [self._end(opp, now_ms, "book") for key, opp in self._open.items()
                 if key not in seen]
        for key, quote in seen.items():
            opp = self._open.get(key)
            if opp is None:
                self._maybe_open(key, quote, now_ms)
                continue
            reason = self._end_reason(quote)
            if reason is None:
                self._open[key] = _extend(opp, quote, now_ms)
            else:
                ended.append(self._end(opp, now_ms, reason))
        for opp in ended:
            self._open.pop((opp.buy_market, opp.sell_market), None)
            self._recent.append(opp)
        # A pair that vanished starts a new suppressed episode if it comes back.
        self._suppressed.intersection_update(seen)
        return ended

    def live(self) -> list[dict[str, object]]:
        """The open opportunities, oldest first, as JSON-ready dicts."""
        return [o.to_dict() for o in sorted(self._open.values(), key=lambda o: o.start_ms)]

    def recent(self) -> list[dict[str, object]]:
        """The last ``recent`` ended opportunities, newest last, as JSON-ready dicts."""
        return [o.to_dict() for o in self._recent]

    def _skew_ok(self, quote: ArbQuote) -> bool:
        return quote.skew_ms is not None and quote.skew_ms <= self.max_skew_ms

    def _end_reason(self, quote: ArbQuote) -> EndReason | None:
        if not quote.live or quote.net_edge_bps is None:
            return "book"
        if not self._skew_ok(quote):
            return "skew"
        if not _has_edge(quote):
            return "edge"
        return None

    def _maybe_open(self, key: Pair, quote: ArbQuote, now_ms: int) -> None:
        if not quote.live or not _has_edge(quote):
            self._suppressed.discard(key)
            return
        if not self._skew_ok(quote):
            if key not in self._suppressed:
                self._suppressed.add(key)
                self.suppressed_by_skew += 1
            return
        self._suppressed.discard(key)
        self.opened += 1
        # _has_edge and _skew_ok guarantee these; the asserts tell the type checker.
        assert quote.skew_ms is not None and quote.net_edge_bps is not None
        assert quote.best_net_edge_bps is not None
        self._open[key] = Opportunity(
            buy_market=quote.buy_market, sell_market=quote.sell_market, start_ms=now_ms,
            end_ms=None, duration_ms=0, updates=1, peak_net_edge_bps=quote.best_net_edge_bps,
            peak_size=quote.best_size, peak_profit_usd=quote.best_profit_usd,
            peak_cost_usd=quote.best_cost_usd, peak_top_net_edge_bps=quote.net_edge_bps,
            peak_skew_ms=quote.skew_ms, peak_ms=now_ms, max_skew_ms=quote.skew_ms,
            end_reason=None,
        )

    @staticmethod
    def _end(opp: Opportunity, now_ms: int, reason: EndReason) -> Opportunity:
        return replace(opp, end_ms=now_ms, duration_ms=now_ms - opp.start_ms,
                        end_reason=reason)


def _has_edge(quote: ArbQuote) -> bool:
    return (quote.net_edge_bps is not None and quote.net_edge_bps > 0 and quote.max_size > 0
            and quote.best_net_edge_bps is not None)


def _extend(opp: Opportunity, quote: ArbQuote, now_ms: int) -> Opportunity:
    """``opp`` after one more open update."""
    # _end_reason returned None, which guarantees these; the asserts tell the type checker.
    assert quote.skew_ms is not None and quote.best_net_edge_bps is not None
    changes: dict[str, object] = {
        "duration_ms": now_ms - opp.start_ms, "updates": opp.updates + 1,
        "max_skew_ms": max(opp.max_skew_ms, quote.skew_ms),
    }
    if quote.best_net_edge_bps > opp.peak_net_edge_bps:
        changes.update(
            peak_net_edge_bps=quote.best_net_edge_bps, peak_size=quote.best_size,
            peak_profit_usd=quote.best_profit_usd, peak_cost_usd=quote.best_cost_usd,
            peak_top_net_edge_bps=quote.net_edge_bps, peak_skew_ms=quote.skew_ms,
            peak_ms=now_ms,
        )
    return replace(opp, **changes)

