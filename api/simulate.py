"""``POST /simulate``: the impact of a market order, by walking the exact live book; with a
``venue`` list, the same order walked on the asset's market of each venue, and where it is
cheapest after taker fees."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field, model_validator

from data_ingestion.engine import SymbolEngine
from features.impact import ImpactInputError, ImpactResult, simulate_on_book
from marketdata.markets import WIRED_VENUES, MarketId


class SimulateRequest(BaseModel):
    """Exactly one of ``quantity`` (base units, e.g. BTC) or ``notional`` (quote units, USDT;
    with ``venue``, US dollars)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"symbol": "BTCUSDT", "side": "buy", "quantity": 2.5},
                     {"symbol": "ETHUSDT", "side": "sell", "notional": 250000},
                     {"symbol": "BTCUSDT", "side": "buy", "quantity": 1,
                      "venue": ["binance-usdm", "binance-spot", "coinbase"]}]})

    symbol: str = Field(min_length=1, max_length=30)
    side: Literal["buy", "sell"]
    quantity: float | None = Field(default=None, gt=0, le=1e9, allow_inf_nan=False)
    notional: float | None = Field(default=None, gt=0, le=1e13, allow_inf_nan=False)
    venue: list[str] | None = Field(
        default=None, min_length=1, max_length=len(WIRED_VENUES),
        description="walk the same order on the symbol's asset on each of these venues and "
        "say where it is cheapest after taker fees (prices in USD)")

    @model_validator(mode="after")
    def _one_size(self) -> SimulateRequest:
        if (self.quantity is None) == (self.notional is None):
            raise ValueError("give exactly one of quantity or notional")
        if self.venue is not None:
            unknown = [v for v in self.venue if v not in WIRED_VENUES]
            if unknown:
                raise ValueError(f"unknown venue {', '.join(unknown)}; venues: "
                                 f"{', '.join(WIRED_VENUES)}")
        return self


@dataclass(frozen=True)
class SimulateResponse(ImpactResult):
    """The walk (see ``features.impact`` for every field's definition) and the book it used."""

    symbol: str
    status: str
    last_update_id: int | None


def simulate_order(engine: SymbolEngine, request: SimulateRequest,
                   notional: float | None = None) -> SimulateResponse:
    """Walk ``engine``'s book. Runs on the loop that owns the book, so the walk sees one state,
    the one at ``last_update_id``. ``notional`` overrides the request's (quote units)."""
    if engine.book.last_update_id is None:
        raise HTTPException(503, f"{engine.symbol} has no book yet (status {engine.status()})")
    ins = engine.instrument
    try:
        result = simulate_on_book(engine.book, request.side, price_scale=ins.price_scale,
                                  qty_scale=ins.qty_scale, quantity=request.quantity,
                                  notional=notional if notional is not None else request.notional)
    except ImpactInputError as exc:
        raise HTTPException(422, str(exc)) from None
    # to_dict() is typed dict[str, object]; its keys and values are exactly ImpactResult's fields.
    return SimulateResponse(symbol=engine.symbol, status=engine.status(),
                            last_update_id=engine.book.last_update_id,
                            **result.to_dict())  # type: ignore[arg-type]


def simulate_across_venues(engines: Mapping[str, SymbolEngine], request: SimulateRequest,
                           usd_per: Callable[[str], float | None],
                           fee_bps: Callable[[str], float]) -> dict[str, Any]:
    """The order on every running market of the symbol's asset on the requested venues.

    Prices are converted to USD (``usd_per(quote)``) so USDT and USD markets compare; a
    ``notional`` is in USD and converted back to each market's quote. ``all_in_price`` is the
    average price after the taker fee (paid on top for a buy, taken off for a sell): the
    cheapest market is the lowest all-in price for a buy and the highest for a sell, among the
    markets that fill the whole order (any market if none does).
    """
    asset = MarketId.parse(request.symbol).base
    assert request.venue is not None
    markets = [(key, MarketId.parse(key)) for key in engines]
    chosen = [(key, m) for key, m in markets if m.base == asset and m.venue in request.venue]
    if not chosen:
        raise HTTPException(404, f"no running {asset} market on {', '.join(request.venue)}")
    results: list[dict[str, Any]] = []
    for key, market in chosen:
        engine = engines[key]
        if engine.book.last_update_id is None:
            results.append({"market": key, "venue": market.venue, "status": engine.status(),
                            "error": "no book yet"})
            continue
        rate = usd_per(market.quote)
        if rate is None:
            results.append({"market": key, "venue": market.venue, "status": engine.status(),
                            "error": f"no USD rate for {market.quote}"})
            continue
        walk = simulate_order(engine, request, request.notional / rate
                              if request.notional is not None else None)
        fee = fee_bps(market.venue)
        avg_usd = walk.avg_price * rate if walk.avg_price is not None else None
        sign = 1 if request.side == "buy" else -1
        results.append({
            "market": key, "venue": market.venue, "quote": market.quote, "usd_per_quote": rate,
            "status": walk.status, "last_update_id": walk.last_update_id,
            "filled_qty": walk.filled_qty, "fully_filled": walk.fully_filled,
            "avg_price_usd": avg_usd, "taker_fee_bps": fee,
            "all_in_price_usd": (avg_usd * (1 + sign * fee / 1e4)
                                 if avg_usd is not None else None),
            "notional_usd": walk.notional * rate,
            "slippage_bps": walk.slippage_bps, "levels_consumed": walk.levels_consumed,
        })
    priced = [r for r in results if r.get("all_in_price_usd") is not None]
    candidates = [r for r in priced if r["fully_filled"]] or priced
    best = (min if request.side == "buy" else max)(
        candidates, key=lambda r: r["all_in_price_usd"], default=None)
    return {"asset": asset, "side": request.side, "quantity": request.quantity,
            "notional_usd": request.notional, "results": results,
            "cheapest": best["market"] if best is not None else None}
