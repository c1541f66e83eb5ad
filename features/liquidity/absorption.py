"""Placeholder until the absorption detector lands (being written now)."""

from __future__ import annotations

from data_ingestion.events import DepthDiff, Trade
from features.liquidity.context import MarketContext


class AbsorptionDetector:
    def __init__(self, params: object) -> None:
        self.params = params

    def on_reset(self, ctx: MarketContext) -> None:
        pass

    def on_update(self, ctx: MarketContext, diff: DepthDiff) -> None:
        pass

    def on_trade(self, ctx: MarketContext, trade: Trade) -> None:
        pass

    def on_second(self, ctx: MarketContext) -> None:
        pass
