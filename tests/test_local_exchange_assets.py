"""Every market the local exchange lists trades sensibly through the real client path: the
offline driver's wire bytes into parser, sync machine and book, for 30 s of simulated flow."""

from __future__ import annotations

import statistics

import pytest

from benchmarks.events import Pipeline
from local_exchange.instruments import KNOWN_SPECS
from local_exchange.market_model import DEFAULT_FLOW
from local_exchange.offline import OfflineMarket
from orderbook.sync import SyncState


@pytest.mark.parametrize("symbol", sorted(KNOWN_SPECS))
def test_listed_market_runs_exact_at_one_tick_with_its_own_touch_size(symbol: str) -> None:
    spec = KNOWN_SPECS[symbol]
    ins = spec.instrument
    market = OfflineMarket((symbol,), seed=3, duration_s=30)
    pipe = Pipeline(ins)
    pipe.snapshot(0, market.snapshot(symbol))
    spreads, touch = [], []
    for receive_ns, raw in market.run():
        pipe.message(receive_ns, raw)
        if pipe.sync.state is not SyncState.LIVE:
            continue  # the snapshot waits for the diff that straddles it
        bid, ask = pipe.book.best_bid(), pipe.book.best_ask()
        assert bid is not None and ask is not None and bid[0] < ask[0]
        spreads.append((ask[0] - bid[0]) // ins.tick_units)
        touch += [ins.qty(bid[1]), ins.qty(ask[1])]
    assert len(spreads) > 250  # live for (nearly) all of the 30 s
    assert pipe.sync.stats.gaps == 0 and pipe.sync.stats.integrity_errors == 0
    assert pipe.trades > 100
    assert sum(1 for s in spreads if s == 1) / len(spreads) > 0.9
    # The touch is where the makers quote: its median size is of the order of their quote.
    maker = DEFAULT_FLOW[symbol].maker_qty_median
    assert 0.5 * maker <= statistics.median(touch) <= 3 * maker
    # The price stays near where the market traded that day (no runaway random walk).
    start = ins.prices.parse(spec.start_price)
    assert abs(bid[0] - start) / start < 0.01
