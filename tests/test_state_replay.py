"""Replay a real Binance USDT-M recording through SymbolState and check every second against an
independent reference written differently: plain dicts of ``Decimal`` prices and quantities
parsed straight from the venue strings, ``heapq``/``sorted`` for the top levels, and
``numpy.polyfit`` for the slope.

The recording (hftbacktest format, ``<receive ns> <json>``) holds depthUpdate diffs, one REST
snapshot (``lastUpdateId``) a few lines after the diff that contains it, and trades. As a live
client does: buffer diffs until the snapshot, load it, then apply in order every diff with
``u >= lastUpdateId``. A frame is cut at every whole second of receive time.
"""

from __future__ import annotations

import gzip
import heapq
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marketdata.events import DepthDiff, DepthSnapshot, Trade
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from state.symbol_state import SymbolState


def _diff(receive_ns: int, exchange_ms: int = 0) -> DepthDiff:
    """A diff event as the observer receives it (the levels were applied to the book already)."""
    return DepthDiff("BTCUSDT", 0, 0, None, [], [], exchange_ms, receive_ns)


def _snap(receive_ns: int) -> DepthSnapshot:
    return DepthSnapshot("BTCUSDT", 0, [], [], 0, receive_ns)

RECORDING = (Path(__file__).resolve().parents[2] / "shared" / "data" / "binance_usdm"
             / "hftbacktest_usdm_btcusdt_20240808.gz")
INST = Instrument.from_steps("BTCUSDT", "0.10", "0.001", 2, 3)
TOP_N = 10
HISTORY = 180
ROWS = 400
BAND_BPS = 20.0
S = 1_000_000_000

pytestmark = pytest.mark.skipif(not RECORDING.is_file(), reason="shared recording not present")


# --- test-local loader (the production parser lives in data_ingestion/) --------------------

def _events() -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(receive ns, kind, payload) in file order; kind is depth, snapshot or trade."""
    with gzip.open(RECORDING, "rt") as lines:
        for line in lines:
            ns_text, _, raw = line.partition(" ")
            msg = json.loads(raw)
            if "lastUpdateId" in msg:
                yield int(ns_text), "snapshot", msg
                continue
            data = msg.get("data", {})
            if data.get("e") in ("depthUpdate", "trade"):
                yield int(ns_text), "depth" if data["e"] == "depthUpdate" else "trade", data


def _units(levels: list[list[str]]) -> list[tuple[int, int]]:
    return [(INST.prices.parse(p), INST.quantities.parse(q)) for p, q in levels]


# --- the independent reference -------------------------------------------------------------

@dataclass
class Reference:
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    ofi: Decimal = Decimal(0)
    ofi_best: Decimal = Decimal(0)
    updates: int = 0
    trades: list[tuple[Decimal, Decimal, bool]] = field(default_factory=list)
    prev: tuple[Any, ...] | None = None

    def top(self) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        bids = [(p, self.bids[p]) for p in heapq.nlargest(TOP_N, self.bids)]
        asks = [(p, self.asks[p]) for p in heapq.nsmallest(TOP_N, self.asks)]
        return bids, asks

    def load(self, bids: list[list[str]], asks: list[list[str]]) -> None:
        self.bids = {Decimal(p): Decimal(q) for p, q in bids if Decimal(q)}
        self.asks = {Decimal(p): Decimal(q) for p, q in asks if Decimal(q)}
        self.prev = self._state()

    def apply(self, bids: list[list[str]], asks: list[list[str]]) -> None:
        for side, changes in ((self.bids, bids), (self.asks, asks)):
            for p, q in changes:
                if Decimal(q) == 0:
                    side.pop(Decimal(p), None)
                else:
                    side[Decimal(p)] = Decimal(q)
        now = self._state()
        assert self.prev is not None
        pbv, pav, (pbp, pbq), (pap, paq) = self.prev
        bv, av, (bp, bq), (ap, aq) = now
        self.ofi += (bv - pbv) - (av - pav)
        # Cont-Kukanov-Stoikov, written out term by term
        e = Decimal(0)
        e += bq if bp >= pbp else 0
        e -= pbq if bp <= pbp else 0
        e -= aq if ap <= pap else 0
        e += paq if ap >= pap else 0
        self.ofi_best += e
        self.updates += 1
        self.prev = now

    def _state(self) -> tuple[Any, ...]:
        bids, asks = self.top()  # this recording never empties a side
        return (sum(q for _, q in bids), sum(q for _, q in asks), bids[0], asks[0])

    def close_second(self) -> None:
        self.ofi = self.ofi_best = Decimal(0)
        self.updates = 0
        self.trades = []


def _check_frame(frame: dict[str, Any], ref: Reference, step: Decimal) -> None:
    bids, asks = ref.top()
    bb, bq = bids[0]
    ba, aq = asks[0]
    mid = (bb + ba) / 2
    assert frame["best_bid"] == float(bb) and frame["best_ask"] == float(ba)
    assert frame["mid_price"] == float(mid)
    assert frame["spread"] == pytest.approx(float(ba - bb), rel=1e-12)
    assert frame["spread_bps"] == pytest.approx(float((ba - bb) / mid * 10_000), rel=1e-12)
    assert frame["microprice"] == pytest.approx(float((bb * aq + ba * bq) / (bq + aq)), rel=1e-14)
    sb, sa = sum(q for _, q in bids), sum(q for _, q in asks)
    assert frame["bid_volume"] == float(sb) and frame["ask_volume"] == float(sa)
    assert frame["imbalance"] == pytest.approx(float((sb - sa) / (sb + sa)), rel=1e-12, abs=1e-15)
    assert frame["imbalance_best"] == pytest.approx(float((bq - aq) / (bq + aq)), rel=1e-12,
                                                    abs=1e-15)
    assert frame["dwp_bid"] == pytest.approx(float(sum(p * q for p, q in bids) / sb), rel=1e-14)
    assert frame["dwp_ask"] == pytest.approx(float(sum(p * q for p, q in asks) / sa), rel=1e-14)
    for levels, key in ((bids, "slope_bid"), (asks, "slope_ask")):
        x = [abs(float(p - mid)) for p, _ in levels]
        y = np.cumsum([float(q) for _, q in levels])
        assert frame[key] == pytest.approx(np.polyfit(x, y, 1)[0], rel=1e-6)
    assert frame["bid_levels"] == [[float(p), float(q)] for p, q in bids]
    assert frame["ask_levels"] == [[float(p), float(q)] for p, q in asks]
    running = Decimal(0)
    for (_, q), cum in zip(asks, frame["cum_ask"], strict=True):
        running += q
        assert cum == float(running)
    assert frame["cum_bid"][-1] == float(sb)
    assert frame["ofi"] == float(ref.ofi) and frame["ofi_best"] == float(ref.ofi_best)
    assert frame["updates"] == ref.updates
    _check_trades(frame["trades"], ref.trades)
    _check_heatmap(frame["heatmap"], ref, mid, step)


def _check_trades(got: dict[str, Any], trades: list[tuple[Decimal, Decimal, bool]]) -> None:
    buys = [(p, q) for p, q, is_buy in trades if is_buy]
    sells = [(p, q) for p, q, is_buy in trades if not is_buy]
    assert got["count"] == len(trades)
    assert got["buy_volume"] == float(sum((q for _, q in buys), Decimal(0)))
    assert got["sell_volume"] == float(sum((q for _, q in sells), Decimal(0)))
    for key, group in (("buy_vwap", buys), ("sell_vwap", sells), ("vwap", buys + sells)):
        if group:
            vwap = sum(p * q for p, q in group) / sum(q for _, q in group)
            assert got[key] == pytest.approx(float(vwap), rel=1e-14)
        else:
            assert got[key] is None


def _check_heatmap(heatmap: dict[str, Any], ref: Reference, mid: Decimal, step: Decimal) -> None:
    lo = (mid // step - ROWS // 2) * step  # Decimal // truncates; mid > 0 so it is floor
    assert heatmap["lo"] == float(lo) and heatmap["step"] == float(step)
    expected = [Decimal(0)] * ROWS
    for side in (ref.bids, ref.asks):
        for p, q in side.items():
            cell = math.floor((p - lo) / step)  # not //: Decimal // truncates toward 0
            if 0 <= cell < ROWS:
                expected[cell] += q
    # float32 cells: about 7 significant digits
    np.testing.assert_allclose(heatmap["sizes"], [float(v) for v in expected], rtol=1e-6,
                               atol=1e-9)
    # Grid total == the book's quantity inside [lo, lo + rows*step).
    assert sum(heatmap["sizes"]) == pytest.approx(float(sum(expected)), rel=1e-6)


def _reference_step(mid: Decimal) -> Decimal:
    tick = Decimal("0.1")
    raw = 2 * mid * Decimal(str(BAND_BPS)) / 10_000 / ROWS
    return tick * math.ceil(raw / tick)  # Decimal.__ceil__ is exact


@pytest.mark.slow
def test_replay_matches_independent_reference() -> None:
    book = L2Book()
    state = SymbolState(INST, book, top_n=TOP_N, history_seconds=HISTORY,
                        heatmap_band_bps=BAND_BPS, heatmap_rows=ROWS)
    ref = Reference()
    status = "syncing"
    buffered: list[tuple[int, dict[str, Any]]] = []
    snapshot_id: int | None = None
    next_cut: int | None = None
    step: Decimal | None = None
    cut_ts: list[float] = []
    frames = 0
    for ns, kind, data in _events():
        if next_cut is None:
            next_cut = (ns // S + 1) * S
        while ns >= next_cut:
            integrity = {"BTCUSDT": {"status": status, "last_update_id": book.last_update_id,
                                     "last_event_age_ms": 1.0, "gaps": 0, "resyncs": 0}}
            frame = state.cut_frame(next_cut / S, next_cut, integrity)
            cut_ts.append(next_cut / S)
            assert frame["last_update_id"] == book.last_update_id
            assert frame["stale"] == (status != "live")
            if status == "live":
                if step is None:
                    step = _reference_step((ref.top()[0][0][0] + ref.top()[1][0][0]) / 2)
                _check_frame(frame, ref, step)
                frames += 1
                json.dumps(frame, allow_nan=False)
            ref.close_second()
            next_cut += S
        if kind == "trade":
            is_buy = not data["m"]  # m: buyer was maker -> the taker sold
            state.on_trade(Trade(symbol="BTCUSDT", trade_id=data["t"],
                                 price=INST.prices.parse(data["p"]),
                                 qty=INST.quantities.parse(data["q"]),
                                 taker_side="buy" if is_buy else "sell",
                                 exchange_ts_ms=data["T"], receive_ts_ns=ns))
            ref.trades.append((Decimal(data["p"]), Decimal(data["q"]), is_buy))
        elif kind == "snapshot":
            snapshot_id = data["lastUpdateId"]
            book.load(_units(data["bids"]), _units(data["asks"]), snapshot_id)
            ref.load(data["bids"], data["asks"])
            state.on_book_reset(book, _snap(ns))
            status = "live"
            for diff_ns, diff in buffered:
                if diff["u"] >= snapshot_id:
                    _apply(book, state, ref, diff, diff_ns)
            buffered.clear()
        elif snapshot_id is None:
            buffered.append((ns, data))
        else:
            _apply(book, state, ref, data, ns)
    assert frames > 300  # the recording spans 345 s
    msg = state.snapshot_message()
    history = msg["history"]
    assert history["ts"] == cut_ts[-HISTORY:]  # wrapped: the newest 180 seconds, oldest first
    assert len(history["heatmap"]) == HISTORY and all(col is not None for col in history["heatmap"])
    assert step is not None and msg["meta"]["heatmap_step"] == float(step)
    assert state.ring.nbytes == SymbolState(INST, L2Book(), top_n=TOP_N, history_seconds=HISTORY,
                                            heatmap_band_bps=BAND_BPS,
                                            heatmap_rows=ROWS).ring.nbytes
    json.dumps(msg, allow_nan=False)


def _apply(book: L2Book, state: SymbolState, ref: Reference, diff: dict[str, Any],
           ns: int) -> None:
    book.apply(_units(diff["b"]), _units(diff["a"]), diff["u"])
    state.on_book_update(book, _diff(ns, diff["E"]))
    ref.apply(diff["b"], diff["a"])
