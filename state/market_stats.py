"""The latest market statistics of every running market: its mark price and funding (USDT-M
perpetuals only) and its rolling 24-hour ticker (every venue), as the venues last reported them.

Fed by the feeds' ``on_stats`` (the runtime maps venue + symbol to the market key); read by
``GET /stats24h`` and the cross-venue view. Statistics are floats (``marketdata.events``) and
are kept as the venue sent them: nothing here is derived except each report's receive age, so a
consumer can tell a fresh report from one left over by a silent stream.
"""

from __future__ import annotations

from typing import TypedDict

from marketdata.clock import Clock
from marketdata.events import MarketStats, MarkPrice, Ticker24h


class MarkPriceView(TypedDict):
    """``mark`` of a market's statistics. Times are epoch ms; ages are seconds."""

    mark_price: float
    index_price: float
    funding_rate: float  # a fraction per funding interval (0.0001 = 0.01 %)
    next_funding_ms: int | None  # None: the contract has no funding (delivery)
    exchange_ts_ms: int | None  # None: the venue sent no time
    receive_age_s: float


class TickerView(TypedDict):
    """``ticker`` of a market's statistics: the venue's rolling 24-hour window."""

    last_price: float
    open_price: float | None  # None where the venue does not send or imply it
    high_price: float
    low_price: float
    change_pct: float
    volume: float  # base units
    quote_volume: float | None  # quote units; None where the venue does not send it
    exchange_ts_ms: int | None
    receive_age_s: float


class MarketStatsView(TypedDict):
    """One market's statistics; a part is None until its stream has reported."""

    market: str
    mark: MarkPriceView | None
    ticker: TickerView | None


class MarketStatsStore:
    """Latest ``MarkPrice`` and ``Ticker24h`` per market key. Owned by the event loop that
    runs the feeds: plain dicts, no locks."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._marks: dict[str, MarkPrice] = {}
        self._tickers: dict[str, Ticker24h] = {}

    def update(self, key: str, event: MarketStats) -> None:
        """Keep ``event`` as ``key``'s latest report of its kind (the feeds deliver in arrival
        order, which on one socket is the venue's order)."""
        if type(event) is MarkPrice:
            self._marks[key] = event
        elif type(event) is Ticker24h:
            self._tickers[key] = event
        else:
            raise TypeError(f"not a market statistics event: {type(event).__name__}")

    def forget(self, key: str) -> None:
        """Drop a stopped market's statistics (a restarted one starts empty)."""
        self._marks.pop(key, None)
        self._tickers.pop(key, None)

    def mark(self, key: str) -> MarkPrice | None:
        return self._marks.get(key)

    def ticker(self, key: str) -> Ticker24h | None:
        return self._tickers.get(key)

    def keys(self) -> list[str]:
        """Markets with any statistics, sorted."""
        return sorted(self._marks.keys() | self._tickers.keys())

    def to_dict(self, key: str) -> MarketStatsView | None:
        """``key``'s statistics, JSON-ready; None when nothing has been reported for it."""
        mark, ticker = self._marks.get(key), self._tickers.get(key)
        if mark is None and ticker is None:
            return None
        now_ns = self._clock.time_ns()
        return {"market": key,
                "mark": None if mark is None else _mark_view(mark, now_ns),
                "ticker": None if ticker is None else _ticker_view(ticker, now_ns)}

    def all(self) -> dict[str, MarketStatsView]:
        """Every market's statistics by key, JSON-ready."""
        views = {key: self.to_dict(key) for key in self.keys()}
        return {key: view for key, view in views.items() if view is not None}


def _venue_ms(ms: int) -> int | None:
    # 0 is how the parsers say "the venue sent no time" (spot's NO_VENUE_TIME).
    return ms or None


def _age_s(receive_ts_ns: int, now_ns: int) -> float:
    return max(0.0, (now_ns - receive_ts_ns) / 1e9)


def _mark_view(mark: MarkPrice, now_ns: int) -> MarkPriceView:
    return {"mark_price": mark.mark_price, "index_price": mark.index_price,
            "funding_rate": mark.funding_rate,
            "next_funding_ms": _venue_ms(mark.next_funding_ms),
            "exchange_ts_ms": _venue_ms(mark.exchange_ts_ms),
            "receive_age_s": _age_s(mark.receive_ts_ns, now_ns)}


def _ticker_view(ticker: Ticker24h, now_ns: int) -> TickerView:
    return {"last_price": ticker.last_price, "open_price": ticker.open_price,
            "high_price": ticker.high_price, "low_price": ticker.low_price,
            "change_pct": ticker.change_pct, "volume": ticker.volume,
            "quote_volume": ticker.quote_volume,
            "exchange_ts_ms": _venue_ms(ticker.exchange_ts_ms),
            "receive_age_s": _age_s(ticker.receive_ts_ns, now_ns)}
