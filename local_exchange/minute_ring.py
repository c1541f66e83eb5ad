"""A venue's per-minute trade buckets over a day, in memory taken once, when the window starts.

The local venues keep a day of 1-minute buckets per market: the klines (``trade_history``) and
the 24-hour ticker (``market_stats``). As Python objects each closed minute was a dozen int
objects, so a window grew for its first 24 hours; with some 30 windows in the default app that
was about 500 Python blocks a minute, what the hours-long soak kept measuring once the event log
had filled (README, "Hours-long runs"). Here the minute being filled is one small Python object
(cheap to update on every trade) and each closed minute becomes a column of one preallocated
int64 array, written in full at construction so its pages are resident from the start.

Values are exact integers. A value beyond int64 raises ``OverflowError`` when its minute closes
instead of wrapping: the largest is a minute's quote volume in price units x qty units, which for
Spot BTCUSDT (2 + 8 decimals) needs about 15,000 BTC traded in one minute. Sums over many minutes
are taken as Python ints, so a day's total never overflows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

# Columns of the closed minutes, in this order.
_KEY, _OPEN, _HIGH, _LOW, _CLOSE, _LAST_QTY, _VOLUME, _QUOTE, _COUNT, _TAKER_VOLUME, \
    _TAKER_QUOTE, _FIRST_ID, _LAST_ID = range(13)
_COLUMNS = 13
# Room beyond the capacity, so closed minutes are moved to the front once per _SLACK minutes
# rather than on every minute.
_SLACK = 64


@dataclass(slots=True)
class MinuteBucket:
    """One minute's trades (or several minutes' summed, from ``MinuteRing.summary``).

    ``key`` is the owner's minute key (an open time in ms, or a minute number); ``first_id`` is
    -1 while it holds no trade id."""

    key: int
    open: int
    high: int
    low: int
    close: int
    last_qty: int = 0
    volume: int = 0
    quote: int = 0
    count: int = 0
    taker_buy_volume: int = 0
    taker_buy_quote: int = 0
    first_id: int = -1
    last_id: int = -1

    def add(self, price: int, qty: int, first_id: int, last_id: int, taker_bought: bool) -> None:
        """Fills ``first_id..last_id`` at ``price``, ``qty`` in all."""
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        self.close, self.last_qty = price, qty
        quote = price * qty
        self.volume += qty
        self.quote += quote
        self.count += last_id - first_id + 1
        if taker_bought:
            self.taker_buy_volume += qty
            self.taker_buy_quote += quote
        if self.first_id < 0:
            self.first_id = first_id
        self.last_id = last_id


class MinuteRing:
    """The buckets of at most ``capacity`` closed minutes plus the one being filled, oldest
    first. Keys must not decrease: a trade keyed before the newest minute joins the newest
    (arrival order is the venue's order). The owner drops what left its window with
    ``evict_before``; past ``capacity`` closed minutes the oldest is dropped regardless."""

    __slots__ = ("_cols", "_end", "_start", "capacity", "current")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = capacity
        # np.full writes every element: the memory is resident now, not page by page over a day.
        self._cols = np.full((_COLUMNS, capacity + _SLACK), -1, dtype=np.int64)
        self._start = 0  # closed minutes are columns _start .. _end-1, oldest first
        self._end = 0
        self.current: MinuteBucket | None = None

    def __len__(self) -> int:
        return self._end - self._start + (self.current is not None)

    def add(self, key: int, price: int, qty: int, first_id: int, last_id: int,
            taker_bought: bool = False) -> bool:
        """One fill (or an aggregated trade covering ids ``first_id..last_id``). True when it
        opened a new minute (keyed ``key``): the only time the window's start can move."""
        bucket = self.current
        opened = bucket is None or key > bucket.key
        if opened:
            if bucket is not None:
                self._close(bucket)
            bucket = self.current = MinuteBucket(key, price, price, price, price)
        bucket.add(price, qty, first_id, last_id, taker_bought)
        return opened

    def evict_before(self, key: int) -> int | None:
        """Drops the minutes keyed before ``key``; returns the close of the newest one dropped
        (None when none was)."""
        cols, closed = self._cols, None
        start = self._start
        while start < self._end and cols[_KEY, start] < key:
            start += 1
        if start > self._start:
            closed = int(cols[_CLOSE, start - 1])
            self._start = start
        if self.current is not None and self.current.key < key:
            closed = self.current.close  # every closed minute is older: all gone
            self.current = None
        return closed

    def first_key(self) -> int | None:
        if self._start < self._end:
            return int(self._cols[_KEY, self._start])
        return self.current.key if self.current is not None else None

    def last_key(self) -> int | None:
        return self.current.key if self.current is not None else None

    def close_before(self, key: int) -> int | None:
        """The close of the newest minute keyed before ``key`` (None when there is none)."""
        if self.current is not None and self.current.key < key:
            return self.current.close
        keys = self._cols[_KEY, self._start:self._end]
        i = int(np.searchsorted(keys, key, side="left"))
        return int(self._cols[_CLOSE, self._start + i - 1]) if i > 0 else None

    def summary(self, lo: int | None = None, hi: int | None = None) -> MinuteBucket | None:
        """The minutes keyed ``lo..hi`` (inclusive; None: unbounded) as one bucket (``key``:
        the first's), or None when none holds a trade."""
        cols, start, end = self._cols, self._start, self._end
        keys = cols[_KEY, start:end]
        i = start + (int(np.searchsorted(keys, lo, side="left")) if lo is not None else 0)
        j = start + (int(np.searchsorted(keys, hi, side="right")) if hi is not None
                     else end - start)
        current = self.current
        if current is not None and ((lo is not None and current.key < lo)
                                    or (hi is not None and current.key > hi)):
            current = None
        if i >= j:
            return None if current is None else replace(current)  # a copy: current keeps filling
        seg = cols[:, i:j]
        # Sums as Python ints (tolist): a day of quote volume can exceed int64.
        out = MinuteBucket(int(seg[_KEY, 0]), int(seg[_OPEN, 0]), int(seg[_HIGH].max()),
                           int(seg[_LOW].min()), int(seg[_CLOSE, -1]), int(seg[_LAST_QTY, -1]),
                           sum(seg[_VOLUME].tolist()), sum(seg[_QUOTE].tolist()),
                           sum(seg[_COUNT].tolist()), sum(seg[_TAKER_VOLUME].tolist()),
                           sum(seg[_TAKER_QUOTE].tolist()), int(seg[_FIRST_ID, 0]),
                           int(seg[_LAST_ID, -1]))
        if current is not None:
            out.high, out.low = max(out.high, current.high), min(out.low, current.low)
            out.close, out.last_qty = current.close, current.last_qty
            out.volume += current.volume
            out.quote += current.quote
            out.count += current.count
            out.taker_buy_volume += current.taker_buy_volume
            out.taker_buy_quote += current.taker_buy_quote
            out.last_id = current.last_id
        return out

    def _close(self, bucket: MinuteBucket) -> None:
        cols = self._cols
        if self._end == cols.shape[1]:  # out of room: move the live minutes to the front
            live = self._end - self._start
            cols[:, :live] = cols[:, self._start:self._end]
            self._start, self._end = 0, live
        if self._end - self._start >= self.capacity:
            self._start += 1  # the owner did not evict: stay bounded, drop the oldest
        # Python ints into int64: OverflowError here rather than a wrapped value.
        cols[:, self._end] = (bucket.key, bucket.open, bucket.high, bucket.low, bucket.close,
                              bucket.last_qty, bucket.volume, bucket.quote, bucket.count,
                              bucket.taker_buy_volume, bucket.taker_buy_quote, bucket.first_id,
                              bucket.last_id)
        self._end += 1
