"""Trade metrics against hand-computed values."""

from __future__ import annotations

import pytest

from marketdata.events import Side, Trade
from features.trades import TradeAccumulator, summarize_trades


def _trade(price: int, qty: int, side: Side) -> Trade:
    return Trade(symbol="X", trade_id=1, price=price, qty=qty, taker_side=side,
                 exchange_ts_ms=0, receive_ts_ns=0)


def test_summary_by_hand() -> None:
    trades = [_trade(100, 2, "buy"), _trade(102, 1, "buy"), _trade(99, 3, "sell")]
    s = summarize_trades(trades, 1, 1)
    assert s.count == 3
    assert s.buy_volume == 3.0 and s.sell_volume == 3.0
    # vwap = (200 + 102 + 297) / 6 = 599 / 6 ; buy = 302 / 3 ; sell = 297 / 3 = 99
    assert s.vwap == pytest.approx(599 / 6)
    assert s.buy_vwap == pytest.approx(302 / 3)
    assert s.sell_vwap == 99.0


def test_summary_scaled_units() -> None:
    # BTCUSDT units: 61800.30 x 0.006 taker buy -> price_scale 100, qty_scale 1000
    s = summarize_trades([_trade(6180030, 6, "buy")], 100, 1000)
    assert s.buy_volume == 0.006 and s.sell_volume == 0.0
    assert s.vwap == 61800.3 and s.buy_vwap == 61800.3 and s.sell_vwap is None


def test_no_trades_gives_null_vwaps() -> None:
    s = TradeAccumulator().summary(100, 1000)
    assert s.to_dict() == {"count": 0, "buy_volume": 0.0, "sell_volume": 0.0, "vwap": None,
                           "buy_vwap": None, "sell_vwap": None}


def test_accumulator_reset() -> None:
    acc = TradeAccumulator()
    acc.add(100, 1, True)
    acc.reset()
    assert acc.summary(1, 1).count == 0
