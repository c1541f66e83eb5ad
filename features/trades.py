"""Trade metrics over an interval (one second): taker buy/sell volume, count and VWAPs.

``TradeAccumulator`` keeps exact integer sums so the hot path is a few additions per trade;
``summary`` turns them into floats with one division each. ``summarize_trades`` is the pure
function over a list of trades (used by tests and offline tools).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from marketdata.events import Trade


@dataclass(frozen=True, slots=True)
class TradeSummary:
    """Trades of one interval. Volumes in base currency, VWAPs in quote currency.

    - ``buy_volume`` = sum of qty of trades whose taker bought; ``sell_volume`` likewise.
    - ``vwap = sum(p * q) / sum(q)`` over all trades; ``buy_vwap`` / ``sell_vwap`` over the
      taker-buy / taker-sell trades only; ``None`` when there is no such trade.
    """

    count: int
    buy_volume: float
    sell_volume: float
    vwap: float | None
    buy_vwap: float | None
    sell_vwap: float | None

    def to_dict(self) -> dict[str, float | int | None]:
        return {"count": self.count, "buy_volume": self.buy_volume,
                "sell_volume": self.sell_volume, "vwap": self.vwap,
                "buy_vwap": self.buy_vwap, "sell_vwap": self.sell_vwap}


class TradeAccumulator:
    """Exact running sums of one interval's trades (integer units)."""

    __slots__ = ("buy_notional", "buy_qty", "count", "sell_notional", "sell_qty")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.buy_qty = 0
        self.buy_notional = 0
        self.sell_qty = 0
        self.sell_notional = 0

    def add(self, price: int, qty: int, taker_bought: bool) -> None:
        self.count += 1
        if taker_bought:
            self.buy_qty += qty
            self.buy_notional += price * qty
        else:
            self.sell_qty += qty
            self.sell_notional += price * qty

    def summary(self, price_scale: int, qty_scale: int) -> TradeSummary:
        qty = self.buy_qty + self.sell_qty
        return TradeSummary(
            count=self.count,
            buy_volume=self.buy_qty / qty_scale,
            sell_volume=self.sell_qty / qty_scale,
            vwap=_vwap(self.buy_notional + self.sell_notional, qty, price_scale),
            buy_vwap=_vwap(self.buy_notional, self.buy_qty, price_scale),
            sell_vwap=_vwap(self.sell_notional, self.sell_qty, price_scale),
        )


def _vwap(notional: int, qty: int, price_scale: int) -> float | None:
    return notional / (qty * price_scale) if qty else None


def summarize_trades(trades: Iterable[Trade], price_scale: int, qty_scale: int) -> TradeSummary:
    """Metrics of the given trades (see ``TradeSummary``); buy = taker bought."""
    acc = TradeAccumulator()
    for trade in trades:
        acc.add(trade.price, trade.qty, trade.taker_side == "buy")
    return acc.summary(price_scale, qty_scale)
