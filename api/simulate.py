"""``POST /simulate``: the impact of a market order, by walking the exact live book."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field, model_validator

from data_ingestion.engine import SymbolEngine
from features.impact import ImpactInputError, ImpactResult, simulate_on_book


class SimulateRequest(BaseModel):
    """Exactly one of ``quantity`` (base units, e.g. BTC) or ``notional`` (quote units, USDT)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"symbol": "BTCUSDT", "side": "buy", "quantity": 2.5},
                     {"symbol": "ETHUSDT", "side": "sell", "notional": 250000}]})

    symbol: str = Field(min_length=1, max_length=30)
    side: Literal["buy", "sell"]
    quantity: float | None = Field(default=None, gt=0, le=1e9, allow_inf_nan=False)
    notional: float | None = Field(default=None, gt=0, le=1e13, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_size(self) -> SimulateRequest:
        if (self.quantity is None) == (self.notional is None):
            raise ValueError("give exactly one of quantity or notional")
        return self


@dataclass(frozen=True)
class SimulateResponse(ImpactResult):
    """The walk (see ``features.impact`` for every field's definition) and the book it used."""

    symbol: str
    status: str
    last_update_id: int | None


def simulate_order(engine: SymbolEngine, request: SimulateRequest) -> SimulateResponse:
    """Walk ``engine``'s book. Runs on the loop that owns the book, so the walk sees one state,
    the one at ``last_update_id``."""
    if engine.book.last_update_id is None:
        raise HTTPException(503, f"{engine.symbol} has no book yet (status {engine.status()})")
    ins = engine.instrument
    try:
        result = simulate_on_book(engine.book, request.side, price_scale=ins.price_scale,
                                  qty_scale=ins.qty_scale, quantity=request.quantity,
                                  notional=request.notional)
    except ImpactInputError as exc:
        raise HTTPException(422, str(exc)) from None
    # to_dict() is typed dict[str, object]; its keys and values are exactly ImpactResult's fields.
    return SimulateResponse(symbol=engine.symbol, status=engine.status(),
                            last_update_id=engine.book.last_update_id,
                            **result.to_dict())  # type: ignore[arg-type]
