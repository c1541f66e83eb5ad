"""An independent Binance USDT-M look-alike that replays a real recording with events injected.

Deliberately shares nothing with ``local_exchange/`` (no matching engine, no publisher): it
edits the recorded wire payloads themselves, so a detection it provokes is evidence that the
client path and detectors work on Binance's protocol, not on the local exchange's habits.

* REST ``/fapi/v1/exchangeInfo`` and ``/fapi/v1/depth`` (the book at the last diff sent, with
  the injections, ``lastUpdateId`` = that diff's ``u``);
* WS combined streams ``/public/stream?streams=<sym>@depth@100ms`` (the recorded diffs) and
  ``/market/stream?streams=<sym>@aggTrade`` (the recorded ``trade`` events as aggTrades);
* the replay starts when the first depth subscriber connects, paced by the recorded receive
  times divided by ``speed``; ``E``/``T`` stay the recorded venue times.

Injections (all times are offsets in venue seconds from the first replayed diff):

* ``WallInjection``: ``size`` is added at one price on one side in every diff of the window
  and in the snapshot; it appears in the first diff of the window and disappears in the first
  diff after it (recorded diffs are only extended, so ``U``/``u``/``pu`` stay intact). The price
  sits ``gap_ticks`` beyond the worst touch of the window, so the book never crosses.
* ``SweepInjection``: a burst of aggTrades (one per level, ``spacing_ms`` apart, ending at the
  next diff's ``E``) that takes the ``levels`` best levels of one side, and that diff removes
  them (later recorded diffs bring levels back where the recording changes them).

``truth`` lists what was injected with the exact venue times stamped into the payloads.
"""

from __future__ import annotations

import asyncio
import http
import statistics
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from data_ingestion.recordings import is_snapshot, read_lines

Book = dict[Decimal, Decimal]


@dataclass(frozen=True)
class WallInjection:
    side: str            # "bid" | "ask"
    start_s: float
    duration_s: float
    size_multiple: float = 20.0  # x the median level size within 100 ticks of the touch
    gap_ticks: int = 5


@dataclass(frozen=True)
class SweepInjection:
    side: str            # the BOOK side consumed: "ask" = a buy sweep
    at_s: float
    levels: int = 5
    spacing_ms: int = 20


@dataclass(frozen=True)
class Truth:
    type: str
    side: str
    price: float
    price_from: float
    price_to: float
    start_ts: float      # venue seconds, as stamped in E / T
    end_ts: float
    size: float


@dataclass
class _Msg:
    ns: int
    route: str           # "public" (depth) | "market" (aggTrade)
    data: dict[str, Any]


@dataclass
class ReplayPlan:
    """The recording with injections applied: what the server will send, in order."""

    symbol: str
    tick: Decimal
    step: Decimal
    snapshot: dict[str, Any]
    messages: list[_Msg]
    truth: list[Truth] = field(default_factory=list)

    @property
    def price_fmt(self) -> str:
        """Format spec printing prices with the tick's decimals, as Binance does."""
        return f".{_decimals(self.tick)}f"


def _decimals(step: Decimal) -> int:
    exponent = step.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


# ---- planning (pure) ----------------------------------------------------------------------

def _apply(book: Book, levels: list[list[str]]) -> None:
    for p, q in levels:
        price, qty = Decimal(p), Decimal(q)
        if qty:
            book[price] = qty
        else:
            book.pop(price, None)


def _best(book: Book, side: str) -> Decimal | None:
    if not book:
        return None
    return max(book) if side == "bid" else min(book)


def _set_level(levels: list[list[str]], price: Decimal, qty: Decimal, fmt: str) -> None:
    """Set ``price`` to the absolute ``qty`` in a diff's level list (replace or append)."""
    text = [format(price, fmt), format(qty, "f")]
    for entry in levels:
        if Decimal(entry[0]) == price:
            entry[1] = text[1]
            return
    levels.append(text)


def _median_level(snapshot: dict[str, Any], tick: Decimal) -> tuple[Decimal, Decimal]:
    """Median and largest level size within 100 ticks of either touch."""
    sizes: list[Decimal] = []
    for key in ("bids", "asks"):
        levels = snapshot[key]
        best = Decimal(levels[0][0])
        sizes += [Decimal(q) for p, q in levels if abs(Decimal(p) - best) <= 100 * tick]
    return Decimal(statistics.median(sizes)), max(sizes)


def build_plan(paths: list[Path], tick: str, step: str, walls: list[WallInjection],
               sweeps: list[SweepInjection], until_s: float | None = None) -> ReplayPlan:
    lines = list(read_lines(paths))
    snapshot = next(orjson.loads(raw) for _, raw in lines if is_snapshot(raw))
    last_id = snapshot["lastUpdateId"]
    diffs: list[_Msg] = []
    trades: list[_Msg] = []
    for ns, raw in lines:
        if is_snapshot(raw) or b"@bookTicker" in raw[:40]:
            continue
        data = orjson.loads(raw)["data"]
        if data["e"] == "depthUpdate" and data["u"] >= last_id:
            diffs.append(_Msg(ns, "public", data))
        elif data["e"] == "trade":
            trades.append(_Msg(ns, "market", _agg_trade(data)))
    t0_ms = diffs[0].data["E"]
    if until_s is not None:
        diffs = [d for d in diffs if d.data["E"] <= t0_ms + until_s * 1000]
    end_ms = diffs[-1].data["E"]
    trades = [t for t in trades if t0_ms <= t.data["T"] <= end_ms]
    plan = ReplayPlan(diffs[0].data["s"], Decimal(tick), Decimal(step), snapshot, [])
    injected_trades: list[_Msg] = []
    for wall in walls:
        plan.truth.append(_inject_wall(plan, diffs, wall, t0_ms))
    for sweep in sweeps:
        truth, burst = _inject_sweep(plan, diffs, sweep, t0_ms)
        plan.truth.append(truth)
        injected_trades += burst
    plan.messages = sorted(diffs + trades + injected_trades, key=lambda m: m.ns)
    return plan


def _agg_trade(trade: dict[str, Any]) -> dict[str, Any]:
    """A recorded ``trade`` as the ``aggTrade`` the client subscribes to (one fill each)."""
    return {"e": "aggTrade", "E": trade["E"], "s": trade["s"], "a": trade["t"],
            "p": trade["p"], "q": trade["q"], "f": trade["t"], "l": trade["t"],
            "T": trade["T"], "m": trade["m"]}


def _walk(plan: ReplayPlan, diffs: list[_Msg], until_index: int) -> tuple[Book, Book]:
    """The book as recorded (with edits made so far) after applying ``diffs[:until_index]``."""
    bids: Book = {Decimal(p): Decimal(q) for p, q in plan.snapshot["bids"]}
    asks: Book = {Decimal(p): Decimal(q) for p, q in plan.snapshot["asks"]}
    for d in diffs[:until_index]:
        _apply(bids, d.data["b"])
        _apply(asks, d.data["a"])
    return bids, asks


def _empty_price(plan: ReplayPlan, window: list[_Msg], own_before: tuple[Book, Book],
                 side: str, start: Decimal, gap_ticks: int) -> Decimal:
    """The first price ``gap_ticks`` or more beyond ``start`` (away from the touch) that is
    empty in the recorded book when the window opens and that no diff of the window touches:
    the wall is then the injection alone, not a recorded level made larger."""
    key = "b" if side == "bid" else "a"
    book = own_before[0] if side == "bid" else own_before[1]
    touched = {Decimal(p) for d in window for p, _ in d.data[key]}
    away = -plan.tick if side == "bid" else plan.tick
    for n in range(gap_ticks, gap_ticks + 200):
        price = start + n * away
        if price not in book and price not in touched:
            return price
    raise ValueError("no empty price near the touch for the wall")


def _first_at(diffs: list[_Msg], ts_ms: float) -> int:
    return next(i for i, d in enumerate(diffs) if d.data["E"] >= ts_ms)


def _wall_price(plan: ReplayPlan, diffs: list[_Msg], wall: WallInjection, first: int,
                after: int) -> Decimal:
    """An empty price ``gap_ticks`` beyond the worst touch of the window (so the book never
    crosses and the wall is never traded)."""
    bids, asks = _walk(plan, diffs, first)
    own = bids if wall.side == "bid" else asks
    touches: list[Decimal] = []
    for i in range(first, after + 1):
        _apply(bids, diffs[i].data["b"])
        _apply(asks, diffs[i].data["a"])
        best = _best(own, wall.side)
        assert best is not None
        touches.append(best)
    worst = min(touches) if wall.side == "bid" else max(touches)
    return _empty_price(plan, diffs[first:after + 1], own_before=_walk(plan, diffs, first),
                        side=wall.side, start=worst, gap_ticks=wall.gap_ticks)


def _inject_wall(plan: ReplayPlan, diffs: list[_Msg], wall: WallInjection, t0_ms: int) -> Truth:
    """Size: ``size_multiple`` x the median level near the touch, and at least the largest
    level there (BTCUSDT's book is sparse: its median level is tiny)."""
    key = "b" if wall.side == "bid" else "a"
    first = _first_at(diffs, t0_ms + wall.start_s * 1000)
    after = _first_at(diffs, t0_ms + (wall.start_s + wall.duration_s) * 1000)
    price = _wall_price(plan, diffs, wall, first, after)
    median, largest = _median_level(plan.snapshot, plan.tick)
    size = max(median * Decimal(wall.size_multiple), largest).quantize(plan.step)
    bids, asks = _walk(plan, diffs, first)
    own = bids if wall.side == "bid" else asks
    for i in range(first, after + 1):
        levels = diffs[i].data[key]
        _apply(bids, diffs[i].data["b"])
        _apply(asks, diffs[i].data["a"])
        base = own.get(price, Decimal(0))  # the recorded size there after this diff
        if i == after:
            _set_level(levels, price, base, plan.price_fmt)      # the wall is gone
        elif i == first or any(Decimal(p) == price for p, _ in levels):
            _set_level(levels, price, base + size, plan.price_fmt)
    return Truth("wall", wall.side, float(price), float(price), float(price),
                 diffs[first].data["E"] / 1000, diffs[after].data["E"] / 1000, float(size))


def _inject_sweep(plan: ReplayPlan, diffs: list[_Msg], sweep: SweepInjection,
                  t0_ms: int) -> tuple[Truth, list[_Msg]]:
    j = _first_at(diffs, t0_ms + sweep.at_s * 1000)
    bids, asks = _walk(plan, diffs, j)
    own = bids if sweep.side == "bid" else asks
    prices = sorted(own, reverse=sweep.side == "bid")[:sweep.levels]
    fmt = plan.price_fmt
    diff = diffs[j]
    end_ms = diff.data["E"]
    burst = []
    for n, price in enumerate(prices):
        t_ms = end_ms - (len(prices) - 1 - n) * sweep.spacing_ms
        trade = {"e": "aggTrade", "E": t_ms, "s": plan.symbol, "a": 9_000_000_000_000 + n,
                 "p": format(price, fmt), "q": format(own[price], "f"), "f": 0, "l": 0,
                 "T": t_ms, "m": sweep.side == "bid"}  # consuming bids: the buyer is the maker
        burst.append(_Msg(diff.ns - len(prices) + n, "market", trade))
    key = "b" if sweep.side == "bid" else "a"
    levels = diff.data[key]
    worst = prices[-1]
    # The burst took these levels: the diff removes them, and anything the recording added
    # on that side at or before the last price swept (the sweep took it too).
    for entry in levels:
        inside = Decimal(entry[0]) >= worst if sweep.side == "bid" \
            else Decimal(entry[0]) <= worst
        if inside:
            entry[1] = "0"
    for price in prices:
        _set_level(levels, price, Decimal(0), fmt)
    volume = float(sum(own[p] for p in prices))
    return Truth("sweep", sweep.side, float(worst), float(prices[0]), float(worst),
                 (end_ms - (len(prices) - 1) * sweep.spacing_ms) / 1000, end_ms / 1000,
                 volume), burst


# ---- serving ------------------------------------------------------------------------------

class IndependentReplayServer:
    """Serves one ``ReplayPlan`` on 127.0.0.1 (REST and both WS routes on one port)."""

    def __init__(self, plan: ReplayPlan, speed: float = 10.0) -> None:
        self.plan = plan
        self.speed = speed
        self.port = 0
        self._server: Server | None = None
        self._subs: dict[str, set[ServerConnection]] = {"public": set(), "market": set()}
        self._bids: Book = {Decimal(p): Decimal(q) for p, q in plan.snapshot["bids"]}
        self._asks: Book = {Decimal(p): Decimal(q) for p, q in plan.snapshot["asks"]}
        self._last = (plan.snapshot["lastUpdateId"], plan.snapshot.get("E", 0))
        self._depth_connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.finished = asyncio.Event()

    @property
    def last_update_id(self) -> int:
        """``u`` of the last diff sent (the REST snapshot's ``lastUpdateId``)."""
        return int(self._last[0])

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await serve(self._handle, "127.0.0.1", 0,
                                   process_request=self._process_request)
        self.port = self._server.sockets[0].getsockname()[1]  # type: ignore[index]
        self._task = asyncio.create_task(self._replay())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # ---- replay ----

    async def _replay(self) -> None:
        await self._depth_connected.wait()
        loop = asyncio.get_running_loop()
        messages = self.plan.messages
        start, ns0 = loop.time(), messages[0].ns
        stream = {"public": f"{self.plan.symbol.lower()}@depth@100ms",
                  "market": f"{self.plan.symbol.lower()}@aggTrade"}
        for msg in messages:
            delay = start + (msg.ns - ns0) / 1e9 / self.speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if msg.route == "public":
                _apply(self._bids, msg.data["b"])
                _apply(self._asks, msg.data["a"])
                self._last = (msg.data["u"], msg.data["E"])
            frame = orjson.dumps({"stream": stream[msg.route], "data": msg.data})
            for conn in list(self._subs[msg.route]):
                try:
                    await conn.send(frame.decode())
                except ConnectionClosed:
                    self._subs[msg.route].discard(conn)
            self.sent += 1
        self.finished.set()

    # ---- WS ----

    async def _handle(self, conn: ServerConnection) -> None:
        path = conn.request.path if conn.request else ""
        route = path.strip("/").split("/")[0]
        if route not in self._subs or "/stream?streams=" not in path:
            await conn.close(1008, "unknown path")
            return
        self._subs[route].add(conn)
        if route == "public":
            self._depth_connected.set()
        try:
            async for _ in conn:  # SUBSCRIBE and friends are not needed by the client
                pass
        except ConnectionClosed:
            pass
        finally:
            self._subs[route].discard(conn)

    # ---- REST ----

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path.startswith(("/public/", "/market/")):
            return None  # a WebSocket upgrade
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/fapi/v1/exchangeInfo":
            return _json(200, self._exchange_info())
        if parts.path == "/fapi/v1/depth":
            if query.get("symbol") != self.plan.symbol:
                return _json(400, {"code": -1121, "msg": "Invalid symbol."})
            return _json(200, self._depth(int(query.get("limit", "500"))))
        return _json(404, {"code": -1, "msg": f"Not found: {parts.path}"})

    def _exchange_info(self) -> dict[str, Any]:
        plan = self.plan
        return {"timezone": "UTC", "rateLimits": [], "symbols": [{
            "symbol": plan.symbol, "status": "TRADING", "contractType": "PERPETUAL",
            "pricePrecision": _decimals(plan.tick), "quantityPrecision": _decimals(plan.step),
            "filters": [{"filterType": "PRICE_FILTER", "tickSize": str(plan.tick)},
                        {"filterType": "LOT_SIZE", "stepSize": str(plan.step)}]}]}

    def _depth(self, limit: int) -> dict[str, Any]:
        fmt = self.plan.price_fmt
        bids = sorted(self._bids.items(), reverse=True)[:limit]
        asks = sorted(self._asks.items())[:limit]
        last_id, e_ms = self._last
        return {"lastUpdateId": last_id, "E": e_ms, "T": e_ms,
                "bids": [[format(p, fmt), format(q, "f")] for p, q in bids],
                "asks": [[format(p, fmt), format(q, "f")] for p, q in asks]}


def _json(status: int, body: dict[str, Any]) -> Response:
    data = orjson.dumps(body)
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                       ("Connection", "close")])
    return Response(status, http.HTTPStatus(status).phrase, headers, data)
