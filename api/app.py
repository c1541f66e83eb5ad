"""The FastAPI application: REST, the frame WebSocket and the dashboard on one port.

The runtime (sources, engines, frame clock) belongs to the app's lifespan: started before the
first request is served, cancelled on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

import psutil
from fastapi import FastAPI, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.hub import CLOSED
from api.metrics import Metrics
from api.runtime import MarketError, Runtime
from api.simulate import SimulateRequest, SimulateResponse, simulate_order
from config import Config
from data_ingestion.clock import Clock
from features.liquidity import EVENT_TYPES
from marketdata.markets import MarketId, MarketIdError
from state.symbol_state import SymbolState

log = logging.getLogger(__name__)
_PROCESS = psutil.Process()


def create_app(config: Config, clock: Clock | None = None, with_dashboard: bool = True,
               symbols: tuple[str, ...] | None = None) -> FastAPI:
    """``symbols``: the source's symbols if the caller already resolved them (``check_source``)."""
    runtime = Runtime(config, clock, symbols)
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

    @app.get("/health", summary="Per-symbol sync state; 'degraded' unless every book is live")
    def health() -> dict[str, object]:
        symbols = runtime.integrity()
        ok = bool(symbols) and all(h["state"] == "live" for h in symbols.values())
        return {"status": "ok" if ok else "degraded", "source": config.source,
                "symbols": symbols, "process": {"rss_mb": round(_PROCESS.memory_info().rss / 2**20, 1)}}

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

    @app.post("/simulate", response_model=SimulateResponse,
              summary="Market-order impact: walk the live book")
    def simulate(request: SimulateRequest) -> SimulateResponse:
        engine = runtime.engines[known_symbol(request.symbol)]
        return simulate_order(engine, request)

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.websocket("/ws/{symbol}")
    async def frames(websocket: WebSocket, symbol: str) -> None:
        await websocket.accept()
        name = market_key(symbol)
        if name is None or name not in runtime.states:
            await websocket.close(code=1008, reason=f"unknown symbol {symbol[:40]!r}")
            return
        await stream_frames(runtime, metrics, websocket, name)

    @app.exception_handler(ValueError)
    async def bad_value(_: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    if with_dashboard:
        from dashboard import mount  # imported late: the API works without Dash

        mount(app, runtime.served_symbols)
    return app


class MarketRequest(BaseModel):
    market: str = Field(description="venue:symbol, or a bare USDT-M symbol", max_length=80)


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


async def stream_frames(runtime: Runtime, metrics: Metrics, websocket: WebSocket,
                        symbol: str) -> None:
    """Snapshot first, then every frame; a client that lags gets only the newest ones."""
    slot = runtime.hub.subscribe(symbol)
    # No await between subscribing and building the snapshot: no frame can fall in between.
    snapshot = runtime.snapshot_text(symbol)
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
            metrics.frame_sent(symbol, published_ns)
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
