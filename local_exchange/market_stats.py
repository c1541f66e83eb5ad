"""What the local venues derive from their own trades and books: rolling 24-hour trade statistics
and a perpetual's funding. Pure state, no I/O, no clock (times are passed in).

``RollingTrades`` keeps one bucket per minute (``minute_ring``: at most 1441, in memory taken when
it starts), and the window is "the last 24 hours" to within a minute: a bucket counts while any
of its minute is inside ``[now - 24 h, now]``. Prices and quantities stay integer units; the
quote volume is the exact sum of ``price units * qty units`` (its unit is
``10**-(price_decimals + qty_decimals)``).

``FundingState`` is Binance's funding rule, simplified (the protocol's full rule averages a
premium index sampled every 5 s from impact bid/ask prices, weighted by time):
``rate = P + clamp(interest - P, -0.05 %, +0.05 %)`` with ``P`` the plain average of the premium
``(mark - index) / index`` sampled since the last funding time and interest 0.01 % per 8-hour
interval. Funding times are 00:00, 08:00 and 16:00 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass

from local_exchange.minute_ring import MinuteRing

WINDOW_MS = 24 * 3600 * 1000
_MINUTE_MS = 60_000
FUNDING_INTERVAL_MS = 8 * 3600 * 1000
INTEREST_RATE = 0.0001  # per funding interval (Binance USDT-M: 0.03 % a day)
FUNDING_CLAMP = 0.0005


@dataclass(frozen=True, slots=True)
class WindowStats:
    """The trades of one rolling window (integer units; ``quote`` in price*qty units)."""

    open_ms: int
    close_ms: int
    open: int
    high: int
    low: int
    last: int
    last_qty: int
    volume: int
    quote: int
    count: int
    first_id: int
    last_id: int
    prev_close: int  # the last price before the window (Spot's x); the open if none

    @property
    def change(self) -> int:
        return self.last - self.open

    @property
    def change_pct(self) -> float:
        return 100.0 * self.change / self.open if self.open else 0.0


class RollingTrades:
    """One market's trades in per-minute buckets over a rolling 24-hour window."""

    def __init__(self) -> None:
        # Minute numbers; at most 1441 of them overlap a 24-hour window.
        self._minutes = MinuteRing(WINDOW_MS // _MINUTE_MS + 1)
        self._prev_close: int | None = None
        self.all_time_low: int | None = None  # since this market started (Coinbase's 52 w)
        self.all_time_high: int | None = None

    def add(self, price: int, qty: int, first_id: int, last_id: int, ts_ms: int) -> None:
        """One trade (or aggregated trade covering trade ids ``first_id..last_id``).

        A trade stamped before the newest bucket's minute joins that bucket: arrival order is
        the venue's order, and ``close`` is the latest trade received.
        """
        self._minutes.add(ts_ms // _MINUTE_MS, price, qty, first_id, last_id)
        self.all_time_low = price if self.all_time_low is None else min(self.all_time_low, price)
        self.all_time_high = (price if self.all_time_high is None
                              else max(self.all_time_high, price))
        self._evict(ts_ms)

    def stats(self, now_ms: int) -> WindowStats | None:
        """The window ending at ``now_ms``; None when it holds no trade."""
        self._evict(now_ms)
        window = self._minutes.summary()
        if window is None:
            return None
        return WindowStats(
            open_ms=now_ms - WINDOW_MS, close_ms=now_ms, open=window.open, high=window.high,
            low=window.low, last=window.close, last_qty=window.last_qty, volume=window.volume,
            quote=window.quote, count=window.count, first_id=window.first_id,
            last_id=window.last_id,
            prev_close=self._prev_close if self._prev_close is not None else window.open)

    def _evict(self, now_ms: int) -> None:
        closed = self._minutes.evict_before((now_ms - WINDOW_MS) // _MINUTE_MS)
        if closed is not None:
            self._prev_close = closed


def next_funding_ms(now_ms: int) -> int:
    """The next 00:00 / 08:00 / 16:00 UTC after ``now_ms`` (the epoch is a 00:00 UTC)."""
    return (now_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS


def funding_rate(average_premium: float) -> float:
    """Binance's rule: premium + clamp(interest - premium, -0.05 %, +0.05 %)."""
    return average_premium + min(max(INTEREST_RATE - average_premium, -FUNDING_CLAMP),
                                 FUNDING_CLAMP)


class FundingState:
    """The premium samples of the current funding interval and the last rate they gave."""

    def __init__(self) -> None:
        self._interval_end: int | None = None
        self._sum = 0.0
        self._samples = 0

    def sample(self, premium: float, now_ms: int) -> None:
        """Add one premium sample (``(mark - index) / index``); a new interval starts afresh."""
        end = next_funding_ms(now_ms)
        if end != self._interval_end:
            self._interval_end, self._sum, self._samples = end, 0.0, 0
        self._sum += premium
        self._samples += 1

    @property
    def average_premium(self) -> float:
        return self._sum / self._samples if self._samples else 0.0

    @property
    def rate(self) -> float:
        """The estimated rate for the coming funding time (Binance's ``r``)."""
        return funding_rate(self.average_premium)


def fmt_float(value: float, decimals: int) -> str:
    """A float the way Binance prints derived numbers: fixed decimals."""
    return f"{value:.{decimals}f}"
