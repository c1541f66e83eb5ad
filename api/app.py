"""The FastAPI application: REST, the frame WebSocket and the dashboard on one port.

The runtime (sources, engines, frame clock) belongs to the app's lifespan: started before the
first request is served, cancelled on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import psutil
from fastapi import FastAPI, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.cross_venue import asset_topic, usd_per_quote
from api.hub import CLOSED
from api.metrics import Metrics
from api.runtime import MarketError, Runtime
from api.simulate import (
    SimulateRequest,
    SimulateResponse,
    simulate_across_venues,
    simulate_order,
)
from api.window_export import MEDIA, file_name, window_file
from config import Config
from marketdata.clock import Clock
from features.liquidity import EVENT_TYPES
from marketdata.markets import MarketId, MarketIdError
from state.symbol_state import SymbolState

log = logging.getLogger(__name__)
_PROCESS = psutil.Process()


def create_app(config: Config, clock: Clock | None = None, with_dashboard: bool = True,
               symbols: tuple[str, ...] | None = None) -> FastAPI:
    """``symbols``: the source's symbols if the caller already resolved them (``check_source``)."""
    runtime = Runtime(config, clock, symbols)
    cross = runtime.cross_venue
    metrics = Metrics(runtime)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="depthlens", version="0.1.0", lifespan=lifespan,
                  description="Exact Binance USDT-M order books, microstructure features and "
                  "one-second frames. Frame schema: docs/frames.md.")
    app.state.runtime = runtime

    def known_symbol(symbol: str) -> str:
        """The runtime key of ``symbol`` (``venue:symbol`` or bare USDT-M); 404 otherwise."""
        name = market_key(symbol)
        if name is None or name not in runtime.engines:
            raise HTTPException(404, f"unknown symbol {symbol[:60]!r}; configured: "
                                     f"{', '.join(runtime.symbols)}")
        return name

    @app.get("/window/{symbol}", summary="The rolling window (history_seconds) as CSV or "
             "Parquet, one row per second")
    def window(symbol: str, format: Annotated[  # noqa: A002 - the query parameter's name
            Literal["csv", "parquet"], Query(description="csv (no heatmap cells) or parquet")
    ] = "csv") -> Response:
        state = runtime.states[known_symbol(symbol)]
        return Response(window_file(state, format), media_type=MEDIA[format], headers={
            "Content-Disposition": f'attachment; filename="{file_name(state, format)}"'})

    @app.get("/health", summary="Per-symbol sync state; 'degraded' unless every book is live")
    def health() -> dict[str, object]:
        symbols = runtime.integrity()
        ok = bool(symbols) and all(h["state"] == "live" for h in symbols.values())
        recorder = runtime.recorder
        return {"status": "ok" if ok else "degraded", "source": config.source,
                "symbols": symbols, "process": {"rss_mb": round(_PROCESS.memory_info().rss / 2**20, 1)},
                "recorder": None if recorder is None else recorder.status()}

    @app.get("/symbols", summary="Configured symbols with their tick and step sizes")
    def list_symbols() -> dict[str, object]:
        return {"symbols": [
            {"key": s, "symbol": e.symbol, "market": str(MarketId.parse(s)),
             "venue": MarketId.parse(s).venue,
             "tick_size": e.instrument.tick_size,
             "step_size": e.instrument.qty(e.instrument.step_units), "state": e.status()}
            for s, e in runtime.engines.items()]}

    @app.post("/markets", status_code=201,
              summary="Start a market (venue:symbol or a bare USDT-M symbol) while running")
    async def start_market(request: MarketRequest) -> dict[str, object]:
        symbol = await _market_call(runtime.start_market, request.market)
        return {"market": str(MarketId.parse(symbol)), "symbol": symbol,
                "state": runtime.engines[symbol].status()}

    @app.delete("/markets/{market}", summary="Stop a running market and free what it held")
    async def stop_market(market: str) -> dict[str, object]:
        symbol = await _market_call(runtime.stop_market, market)
        return {"market": str(MarketId.parse(symbol)), "symbol": symbol, "state": "stopped"}

    @app.get("/book/{symbol}", summary="The exact book's top levels, best first")
    def book(symbol: str,
             depth: Annotated[int, Query(ge=1, le=1000, description="levels per side")] = 20,
             ) -> dict[str, object]:
        engine = runtime.engines[known_symbol(symbol)]
        ins, book = engine.instrument, engine.book
        return {
            "symbol": engine.symbol,
            "status": engine.status(),
            "last_update_id": book.last_update_id,
            "bids": [[ins.price(p), ins.qty(q)] for p, q in book.top_bids(depth)],
            "asks": [[ins.price(p), ins.qty(q)] for p, q in book.top_asks(depth)],
        }

    @app.get("/events/{symbol}", summary="Liquidity events, newest last (venue times)")
    def events(symbol: str,
               since: Annotated[float | None, Query(
                   ge=0, description="keep events active or ended at/after this venue time "
                   "(epoch seconds)")] = None,
               type: Annotated[str | None, Query(  # noqa: A002 - the documented parameter name
                   description="comma-separated event types, e.g. wall,sweep")] = None,
               ) -> dict[str, object]:
        state = runtime.states[known_symbol(symbol)]
        return {"symbol": state.symbol, "events": query_events(state, since, type)}

    @app.post("/simulate", response_model=SimulateResponse | CrossVenueSimulation,
              summary="Market-order impact: walk the live book (with `venue`: on each venue's "
              "market of the asset, and where it is cheapest after fees)")
    def simulate(request: SimulateRequest) -> SimulateResponse | dict[str, Any]:
        if request.venue is not None:
            return simulate_across_venues(
                runtime.engines, request,
                lambda quote: usd_per_quote(quote, config.usdt_usd),
                config.taker_fee_bps)
        engine = runtime.engines[known_symbol(request.symbol)]
        return simulate_order(engine, request)

    def known_asset(asset: str) -> str:
        name = asset.strip().upper()
        if name not in cross.assets:
            raise HTTPException(404, f"unknown asset {asset[:20]!r}; running: "
                                     f"{', '.join(sorted(cross.assets))}")
        return name

    @app.get("/arbitrage", summary="Cross-venue arbitrage after taker fees: every ordered pair "
             "of the asset's markets now, and the live and recent opportunities")
    def arbitrage(asset: Annotated[str, Query(min_length=1, max_length=20,
                                              description="e.g. BTC")]) -> dict[str, object]:
        return cross.assets[known_asset(asset)].arbitrage_body()

    @app.get("/stats24h", summary="24-hour statistics per market, as each venue reports them")
    def stats24h(market: Annotated[str | None, Query(
            max_length=80, description="one market (venue:symbol); all when absent")] = None,
                 ) -> dict[str, object]:
        keys = [known_symbol(market)] if market is not None else list(runtime.engines)
        return {"markets": {key: cross.stats.to_dict(key) for key in keys}}

    @app.post("/control/dislocate", summary="Push one market's price on the embedded exchange "
              "by N bps for T seconds (offline sources only)")
    async def dislocate(request: DislocateRequest) -> dict[str, object]:
        key = known_symbol(request.market)
        market = MarketId.parse(key)
        exchange = runtime.source.venues[market.venue].exchange if runtime.source else None
        if config.source != "sim" or exchange is None:
            raise HTTPException(409, "only the embedded simulator (--source sim) can be moved")
        try:
            await asyncio.to_thread(exchange.dislocate, market.symbol, request.bps,
                                    request.seconds)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None
        return {"market": key, "bps": request.bps, "seconds": request.seconds}

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.websocket("/ws/asset/{asset}")
    async def asset_frames(websocket: WebSocket, asset: str) -> None:
        await websocket.accept()
        name = asset.strip().upper()
        if name not in cross.assets:
            await websocket.close(code=1008, reason=f"unknown asset {asset[:20]!r}")
            return
        await stream_topic(runtime, websocket, asset_topic(name),
                           lambda: cross.snapshot_text(name), None)

    @app.websocket("/ws/{symbol}")
    async def frames(websocket: WebSocket, symbol: str) -> None:
        await websocket.accept()
        name = market_key(symbol)
        if name is None or name not in runtime.states:
            await websocket.close(code=1008, reason=f"unknown symbol {symbol[:40]!r}")
            return
        await stream_topic(runtime, websocket, name, lambda: runtime.snapshot_text(name),
                           metrics.frame_sent)

    @app.exception_handler(ValueError)
    async def bad_value(_: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    if with_dashboard:
        from dashboard import mount  # imported late: the API works without Dash

        mount(app, runtime.served_symbols)
    return app


class MarketRequest(BaseModel):
    market: str = Field(description="venue:symbol, or a bare USDT-M symbol", max_length=80)


class DislocateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    market: str = Field(description="venue:symbol, or a bare USDT-M symbol", max_length=80)
    bps: float = Field(description="how far to push the price, + up, - down", ge=-2000,
                       le=2000, allow_inf_nan=False)
    seconds: float = Field(description="for how long", gt=0, le=3600, allow_inf_nan=False)


class CrossVenueSimulation(BaseModel):
    """``POST /simulate`` with ``venue``: one walk per market (prices in USD), and the market
    with the best all-in price after the taker fee (``api/simulate.py``)."""

    asset: str
    side: str
    quantity: float | None
    notional_usd: float | None
    results: list[dict[str, Any]]
    cheapest: str | None


async def _market_call(call: Callable[[str], Awaitable[str]], market: str) -> str:
    try:
        return await call(market)
    except MarketError as exc:
        raise HTTPException(exc.status, str(exc)) from None


def market_key(text: str) -> str | None:
    """``binance-usdm:BTCUSDT`` and ``btcusdt`` both name the runtime's ``BTCUSDT``."""
    try:
        return MarketId.parse(text).key
    except MarketIdError:
        return None


def query_events(state: SymbolState, since: float | None,
                 types: str | None) -> list[dict[str, object]]:
    """``GET /events`` body: the symbol's bounded event log filtered; 422 for an unknown type."""
    wanted: frozenset[str] | None = None
    if types is not None:
        wanted = frozenset(t.strip().lower() for t in types.split(",") if t.strip())
        unknown = sorted(wanted - set(EVENT_TYPES))
        if unknown or not wanted:
            raise HTTPException(422, f"unknown event type {', '.join(unknown) or repr(types)}; "
                                     f"known: {', '.join(EVENT_TYPES)}")
    if state.detectors is None:
        return []
    return [e.to_dict() for e in state.detectors.log.query(since, wanted)]


async def stream_topic(runtime: Runtime, websocket: WebSocket, symbol: str,
                       snapshot_text: Callable[[], str],
                       on_sent: Callable[[str, int], None] | None) -> None:
    """Snapshot first, then every frame of the hub topic ``symbol`` (a market, or
    ``asset:<ASSET>``); a client that lags gets only the newest ones."""
    slot = runtime.hub.subscribe(symbol)
    # No await between subscribing and building the snapshot: no frame can fall in between.
    snapshot = snapshot_text()
    receiver = asyncio.create_task(_wait_for_close(websocket))
    try:
        await websocket.send_text(snapshot)
        while not receiver.done():
            getter = asyncio.ensure_future(slot.queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            message, published_ns = getter.result()
            if published_ns == CLOSED[1]:
                await websocket.close(code=1001, reason=f"{symbol} was stopped")
                break
            await websocket.send_text(message)
            if on_sent is not None:
                on_sent(symbol, published_ns)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client went away mid-send; nothing to clean up beyond the slot
    finally:
        receiver.cancel()
        runtime.hub.unsubscribe(symbol, slot)


async def _wait_for_close(websocket: WebSocket) -> None:
    try:
        while True:
            await websocket.receive_text()  # clients send nothing useful; drain until close
    except (WebSocketDisconnect, RuntimeError):
        return
