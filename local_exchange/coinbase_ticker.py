"""Coinbase Advanced Trade's ``ticker`` channel from a simulated product's own trades and book.

Field names and shape as in the real capture (``cryptofeed_COINBASE.jsonl.zst``, 160 ticker
frames): ``{"type":"ticker","product_id","price","volume_24_h","low_24_h","high_24_h",
"low_52_w","high_52_w","price_percent_chg_24_h","best_bid","best_ask","best_bid_quantity",
"best_ask_quantity"}``, one product per event list. The 24-hour numbers are the product's trades
since the server started (``market_stats.RollingTrades``); the 52-week low and high are the
lowest and highest trade since then (the server has no older history). Before the first trade
``price`` is the book's mid and the 24-hour numbers are zeros (the change is 0 %).
"""

from __future__ import annotations

from typing import Any

import orjson

from local_exchange.market_stats import RollingTrades, fmt_float
from local_exchange.snapshot import Snapshot
from orderbook.instrument import Instrument

PCT_DECIMALS = 14  # "0.09601107287722" in the capture


def ticker_events(kind: str, tickers: list[dict[str, Any]]) -> bytes:
    """A ``snapshot`` or ``update`` event list carrying ``tickers``."""
    return orjson.dumps([{"type": kind, "tickers": tickers}])


class ProductTicker:
    """One product's trade window and the last touch its ticker reported."""

    def __init__(self, product: str, instrument: Instrument) -> None:
        self.product = product
        self.instrument = instrument
        self.trades = RollingTrades()

    def record(self, price: str, size: str, trade_id: int, ts_ms: int) -> None:
        instrument = self.instrument
        self.trades.add(instrument.prices.parse(price), instrument.quantities.parse(size),
                        trade_id, trade_id, ts_ms)

    def entry(self, book: Snapshot, now_ms: int) -> dict[str, Any]:
        """The ticker object for the book as published and the trades so far."""
        fmt_p, fmt_q = self.instrument.prices.format, self.instrument.quantities.format
        bid, bid_qty, ask, ask_qty = _touch(book)
        stats = self.trades.stats(now_ms)
        price = stats.last if stats else (bid + ask) // 2
        return {
            "type": "ticker", "product_id": self.product, "price": fmt_p(price),
            "volume_24_h": fmt_q(stats.volume if stats else 0),
            "low_24_h": fmt_p(stats.low if stats else 0),
            "high_24_h": fmt_p(stats.high if stats else 0),
            "low_52_w": fmt_p(self.trades.all_time_low or 0),
            "high_52_w": fmt_p(self.trades.all_time_high or 0),
            "price_percent_chg_24_h": fmt_float(stats.change_pct if stats else 0.0,
                                                PCT_DECIMALS),
            "best_bid": fmt_p(bid), "best_ask": fmt_p(ask),
            "best_bid_quantity": fmt_q(bid_qty), "best_ask_quantity": fmt_q(ask_qty)}


def _touch(book: Snapshot) -> tuple[int, int, int, int]:
    bid = book.bids[0] if book.bids else (0, 0)
    ask = book.asks[0] if book.asks else (0, 0)
    return bid[0], bid[1], ask[0], ask[1]
