"""Rolling trade-flow metrics in venue time: VWAP, velocity, volatility, buy pressure, CVD.

Every window ends at ``venue_ms``, the latest venue timestamp (``E`` of diffs, ``T`` of trades)
received before a frame is cut, and covers ``(venue_ms - window, venue_ms]``. A window without
trades gives ``None`` (never NaN), so frames carry ``null``.

The pure functions (``vwap``, ``buy_pressure``, ``volatility_bps``, ...) take plain numbers and are
what the tests check against hand computations. ``TradeFlow`` is the per-symbol state: O(1) per
trade (list appends), and once per second ``cut`` moves the second's trades into preallocated
arrays (``TradeRows``) and sums slices found by binary search (about 0.2 ms for BTCUSDT's
~3,700 trades a minute). Trades are kept in integer units, as the book is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

VWAP_WINDOW_MS = 30_000
VELOCITY_WINDOW_MS = 3_000
VOLATILITY_WINDOW_MS = 60_000
BASELINE_SECONDS = 180  # velocity_baseline: mean per-second trade count over this many seconds
MID_CLOSES = 60  # volatility_1s_60s_bps: returns between this many one-second mid closes
PENDING_LIMIT = 4096  # trades buffered between cuts before they are moved into the arrays


# --- pure functions ----------------------------------------------------------------------------

def vwap(notional: float, qty: float) -> float | None:
    """``sum(p*q) / sum(q)``, given both sums; ``None`` without volume."""
    return notional / qty if qty else None


def buy_pressure(buy_qty: float, total_qty: float) -> float | None:
    """Share of taker-buy volume in the total volume; ``None`` without volume."""
    return buy_qty / total_qty if total_qty else None


def velocity(count: int, window_s: float) -> float:
    """Trade messages per second over a window."""
    return count / window_s


def price_vs_vwap_pct(last_price: float | None, vwap_value: float | None) -> float | None:
    """``(last - vwap) / vwap * 100``; ``None`` when either is unknown."""
    if last_price is None or vwap_value is None:
        return None
    return (last_price - vwap_value) / vwap_value * 100.0


def volatility_bps(prices: Sequence[float] | np.ndarray) -> float | None:
    """Population standard deviation of the simple returns ``p[i] / p[i-1] - 1`` between
    consecutive prices, times 1e4; ``None`` with fewer than 3 prices (2 returns)."""
    if len(prices) < 3:
        return None
    p = np.asarray(prices, dtype=np.float64)
    return float((p[1:] / p[:-1] - 1.0).std() * 1e4)


# --- the rolling state -------------------------------------------------------------------------

class TradeRows:
    """The trades of the last ``span_ms`` of venue time in preallocated columns (``ts`` ms,
    ``price`` and ``qty`` units, ``bought`` = taker bought), oldest first.

    ``extend`` writes a block of rows; a full buffer is compacted to the rows still inside the
    span, or doubled when more than half of it is still inside, so a row costs O(1) amortised
    and memory stays at most twice the busiest span. ``start`` is a binary search, so a window
    costs microseconds however many trades it holds. T must not decrease (Binance sends a
    symbol's aggTrades in id order, and their T with them)."""

    __slots__ = ("_tail", "bought", "price", "qty", "span_ms", "ts")

    def __init__(self, span_ms: int, capacity: int = 4096) -> None:
        self.span_ms = span_ms
        self._alloc(capacity)
        self._tail = 0

    def _alloc(self, capacity: int) -> None:
        self.ts = np.zeros(capacity, dtype=np.int64)
        self.price = np.zeros(capacity, dtype=np.int64)
        self.qty = np.zeros(capacity, dtype=np.int64)
        self.bought = np.zeros(capacity, dtype=np.bool_)

    @property
    def capacity(self) -> int:
        return len(self.ts)

    def __len__(self) -> int:
        return self._tail

    def extend(self, ts: list[int], price: list[int], qty: list[int],
               bought: list[bool]) -> None:
        """Append a block of rows given column by column, oldest first."""
        k = len(ts)
        if self._tail + k > len(self.ts):
            self._make_room(ts[-1], k)
        i, j = self._tail, self._tail + k
        self.ts[i:j] = ts
        self.price[i:j] = price
        self.qty[i:j] = qty
        self.bought[i:j] = bought
        self._tail = j

    def start(self, after_ms: int) -> int:
        """Index of the first row with ``T > after_ms`` (rows ``[start, len)``)."""
        return int(np.searchsorted(self.ts[: self._tail], after_ms, side="right"))

    def _make_room(self, now_ms: int, extra: int) -> None:
        first = self.start(now_ms - self.span_ms)
        n = self._tail - first
        old = (self.ts, self.price, self.qty, self.bought)
        size = len(self.ts)
        while 2 * (n + extra) > size:
            size *= 2
        if size != len(self.ts):
            self._alloc(size)
        for src, dst in zip(old, (self.ts, self.price, self.qty, self.bought), strict=True):
            dst[:n] = src[first: self._tail]  # numpy buffers overlapping copies
        self._tail = n


@dataclass(frozen=True, slots=True)
class TradeFlowMetrics:
    """One second's trade-flow values (docs/frames.md); ``None`` where not computable."""

    venue_ts: float | None
    last_trade_price: float | None
    vwap_30s: float | None
    velocity_3s: float | None
    velocity_baseline: float | None
    volatility_60s_bps: float | None
    volatility_1s_60s_bps: float | None
    buy_pressure_30s: float | None
    price_vs_vwap_pct: float | None
    cvd: float | None

    def to_dict(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in self.__slots__}


class TradeFlow:
    """Trades of the last 60 s of venue time plus the per-second series the metrics need.

    ``on_trade`` is the hot path: four Python list appends, the CVD and last price updated
    (numpy scalar writes per trade cost several times more). ``cut`` moves the second's trades
    into ``TradeRows`` in one block and computes every metric."""

    __slots__ = (
        "_count_sum",
        "_counts",
        "_cvd",
        "_live",
        "_mids",
        "_p_bought",
        "_p_price",
        "_p_qty",
        "_p_ts",
        "_trades",
        "last_price",
        "price_scale",
        "qty_scale",
        "venue_ms",
    )

    def __init__(self, price_scale: int, qty_scale: int) -> None:
        self.price_scale = price_scale
        self.qty_scale = qty_scale
        self._trades = TradeRows(VOLATILITY_WINDOW_MS)
        # Trades since the last cut, column by column.
        self._p_ts: list[int] = []
        self._p_price: list[int] = []
        self._p_qty: list[int] = []
        self._p_bought: list[bool] = []
        self._counts: deque[int] = deque(maxlen=BASELINE_SECONDS)
        self._count_sum = 0
        self._mids: deque[float] = deque(maxlen=MID_CLOSES)
        self._cvd = 0  # qty units, taker buy minus taker sell, since the symbol first went live
        self._live = False
        self.last_price: int | None = None
        self.venue_ms = 0  # latest E / T seen, never decreasing; 0 = nothing yet

    def went_live(self) -> None:
        """The book is live: the CVD counts from the first time (a resync does not reset it)."""
        self._live = True

    def see_venue_ms(self, ms: int) -> None:
        if ms > self.venue_ms:
            self.venue_ms = ms

    def on_trade(self, ts_ms: int, price: int, qty: int, taker_bought: bool) -> None:
        self._p_ts.append(ts_ms)
        self._p_price.append(price)
        self._p_qty.append(qty)
        self._p_bought.append(taker_bought)
        if len(self._p_ts) >= PENDING_LIMIT:  # no cuts (e.g. an offline tool): stay bounded
            self._flush()
        if ts_ms > self.venue_ms:
            self.venue_ms = ts_ms
        self.last_price = price
        if self._live:
            self._cvd += qty if taker_bought else -qty

    def _flush(self) -> None:
        if self._p_ts:
            self._trades.extend(self._p_ts, self._p_price, self._p_qty, self._p_bought)
            for pending in (self._p_ts, self._p_price, self._p_qty, self._p_bought):
                pending.clear()

    def cut(self, trade_count: int, mid: float | None) -> TradeFlowMetrics:
        """Close one second (``trade_count`` trades, mid close ``mid``) and return the metrics
        over the windows ending at the latest venue time."""
        if len(self._counts) == self._counts.maxlen:
            self._count_sum -= self._counts[0]
        self._counts.append(trade_count)
        self._count_sum += trade_count
        if mid is not None:
            self._mids.append(mid)
        self._flush()
        end = self.venue_ms
        ps, qs = self.price_scale, self.qty_scale
        rows = self._trades
        n = len(rows)
        i60 = rows.start(end - VOLATILITY_WINDOW_MS)
        i30 = i60 + int(np.searchsorted(rows.ts[i60:n], end - VWAP_WINDOW_MS, side="right"))
        i3 = i30 + int(np.searchsorted(rows.ts[i30:n], end - VELOCITY_WINDOW_MS, side="right"))
        qty = int(rows.qty[i30:n].sum())
        # float64 products: no int64 overflow on any scale, ~1e-16 relative error
        notional = float(np.dot(rows.price[i30:n].astype(np.float64),
                                rows.qty[i30:n].astype(np.float64)))
        buy_qty = int(rows.qty[i30:n][rows.bought[i30:n]].sum())
        vwap_30s = None if not qty else notional / (qty * ps)
        last = None if self.last_price is None else self.last_price / ps
        return TradeFlowMetrics(
            venue_ts=end / 1000.0 if end else None,
            last_trade_price=last,
            vwap_30s=vwap_30s,
            velocity_3s=velocity(n - i3, VELOCITY_WINDOW_MS / 1000) if end else None,
            velocity_baseline=self._count_sum / len(self._counts),
            volatility_60s_bps=volatility_bps(rows.price[i60:n] / ps),
            volatility_1s_60s_bps=volatility_bps(list(self._mids)),
            buy_pressure_30s=buy_pressure(buy_qty, qty),
            price_vs_vwap_pct=price_vs_vwap_pct(last, vwap_30s),
            cvd=self._cvd / qs if self._live else None,
        )
