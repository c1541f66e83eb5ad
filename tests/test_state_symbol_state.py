"""SymbolState on hand-made books: accumulation per second, and the frame / snapshot schema.

The expected keys are read from docs/frames.md itself, so the schema and the code cannot drift
apart silently.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketdata.events import DepthDiff, DepthSnapshot, Side, Trade
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from orderbook.observer import BookObserver
from state.symbol_state import SymbolState, _top_summary


def _diff(receive_ns: int, exchange_ms: int = 0) -> DepthDiff:
    """A diff event as the observer receives it (the levels were applied to the book already)."""
    return DepthDiff("BTCUSDT", 0, 0, None, [], [], exchange_ms, receive_ns)


def _snap(receive_ns: int) -> DepthSnapshot:
    return DepthSnapshot("BTCUSDT", 0, [], [], 0, receive_ns)

DOC = (Path(__file__).resolve().parents[1] / "docs" / "frames.md").read_text()
INST = Instrument.from_steps("BTCUSDT", "0.10", "0.001", 2, 3)  # price_scale 100, qty 1000
S = 1_000_000_000


def _section(title: str) -> str:
    return DOC.split(f"## `{title}`", 1)[1].split("\n## ", 1)[0]


def _table_keys(title: str) -> list[str]:
    keys: list[str] = []
    for line in _section(title).splitlines():
        if line.startswith("| `"):
            keys += re.findall(r"`(\w+)`", line.split("|")[1])
    return keys


FRAME_KEYS = _table_keys("frame")


def _row_of(title: str, key: str) -> str:
    return next(line for line in _section(title).splitlines() if line.startswith(f"| `{key}`"))


def _integrity(status: str = "live") -> dict[str, dict[str, object]]:
    return {
        "BTCUSDT": {"status": status, "last_update_id": 7, "last_event_age_ms": 12.5,
                    "gaps": 1, "resyncs": 2},
        "ETHUSDT": {"status": "syncing", "last_update_id": None, "last_event_age_ms": None,
                    "gaps": 0, "resyncs": 0},
    }


def _state(book: L2Book, top_n: int = 2, history: int = 10, rows: int = 40) -> SymbolState:
    return SymbolState(INST, book, top_n=top_n, history_seconds=history,
                       heatmap_band_bps=20.0, heatmap_rows=rows)


def _trade(price: int, qty: int, side: Side) -> Trade:
    return Trade(symbol="BTCUSDT", trade_id=1, price=price, qty=qty,
                 taker_side=side, exchange_ts_ms=0, receive_ts_ns=0)


def _book() -> L2Book:
    # 61800.20 x 1.000, 61800.10 x 0.500 | 61800.30 x 2.000, 61800.50 x 0.250 (units)
    book = L2Book()
    book.load([(6180020, 1000), (6180010, 500), (6179000, 9000)],
              [(6180030, 2000), (6180050, 250), (6181000, 9000)], last_update_id=10)
    return book


def test_is_a_book_observer() -> None:
    state: BookObserver = _state(_book())
    assert state is not None


def test_second_accumulates_ofi_updates_and_trades() -> None:
    book = _book()
    state = _state(book)
    state.on_book_reset(book, _snap(1 * S))
    # Update 1: best bid grows 1.000 -> 1.400. Top-2 bid volume 1500 -> 1900 units: ofi +400.
    #   CKS: same bid price -> +1400 - 1000 = +400 ; asks unchanged -> 0.
    book.apply([(6180020, 1400)], [], 11)
    state.on_book_update(book, _diff(1 * S + 100))
    # Update 2: a new second ask level 61800.40 x 0.100 pushes 61800.50 out of the top 2:
    #   top-2 asks become 2000 + 100 = 2100 (was 2250): ofi = -(2100 - 2250) = +150.
    #   CKS: best ask unchanged (61800.30 x 2.000) -> 0.
    book.apply([], [(6180040, 100)], 12)
    state.on_book_update(book, _diff(1 * S + 200))
    # Update 3: best ask 61800.30 removed; new best 61800.40 x 0.100.
    #   top-2 asks 100 + 250 = 350 (was 2100): ofi +1750.
    #   CKS: ask price up -> +q_prev = +2000.
    book.apply([], [(6180030, 0)], 13)
    state.on_book_update(book, _diff(1 * S + 300))
    state.on_trade(_trade(6180030, 6, "buy"))
    state.on_trade(_trade(6180020, 4, "sell"))
    frame = state.cut_frame(2.0, 2 * S + 300, _integrity())
    assert frame["updates"] == 3
    assert frame["ofi"] == pytest.approx((400 + 150 + 1750) / 1000)  # 2.3 BTC
    assert frame["ofi_best"] == pytest.approx((400 + 0 + 2000) / 1000)  # 2.4 BTC
    assert frame["latency_ms"] == pytest.approx(1000.0)  # (2e9 + 300 - (1e9 + 300)) / 1e6
    assert frame["last_update_id"] == 13
    assert frame["best_bid"] == 61800.2 and frame["best_ask"] == 61800.4
    assert frame["mid_price"] == 61800.3 and frame["spread"] == pytest.approx(0.2)
    assert frame["bid_levels"] == [[61800.2, 1.4], [61800.1, 0.5]]
    assert frame["cum_ask"] == [0.1, 0.35]
    assert frame["bid_volume"] == 1.9 and frame["ask_volume"] == 0.35
    assert frame["trades"] == {"count": 2, "buy_volume": 0.006, "sell_volume": 0.004,
                               "vwap": pytest.approx(61800.26), "buy_vwap": 61800.3,
                               "sell_vwap": 61800.2}
    # The next second starts from zero.
    empty = state.cut_frame(3.0, 3 * S, _integrity())
    assert (empty["updates"], empty["ofi"], empty["ofi_best"]) == (0, 0.0, 0.0)
    assert empty["trades"]["count"] == 0 and empty["trades"]["vwap"] is None


def test_frame_has_every_documented_key_with_its_type() -> None:
    book = _book()
    state = _state(book)
    state.on_book_reset(book, _snap(S))
    frame = state.cut_frame(1.0, 2 * S, _integrity())
    assert list(frame) == FRAME_KEYS  # all keys, in the documented order, nothing extra
    assert frame["v"] == 1 and frame["type"] == "frame" and frame["symbol"] == "BTCUSDT"
    assert (frame["status"], frame["stale"]) == ("live", False)
    assert (frame["gaps"], frame["resyncs"]) == (1, 2)
    assert frame["last_event_age_ms"] == 12.5
    assert frame["integrity"] == _integrity()
    floats = ["ts", "latency_ms", "best_bid", "best_ask", "mid_price", "spread", "spread_bps",
              "microprice", "imbalance", "imbalance_best", "bid_volume", "ask_volume", "dwp_bid",
              "dwp_ask", "slope_bid", "slope_ask", "ofi", "ofi_best"]
    for key in floats:
        assert type(frame[key]) is float, key
    for key in ["gaps", "resyncs", "updates", "last_update_id"]:
        assert type(frame[key]) is int, key
    trade_keys = re.findall(r'"(\w+)"', _row_of("frame", "trades"))
    assert list(frame["trades"]) == trade_keys
    heatmap = frame["heatmap"]
    assert isinstance(heatmap, dict)
    assert list(heatmap) == re.findall(r'"(\w+)":', _row_of("frame", "heatmap"))  # lo step sizes
    assert len(heatmap["sizes"]) == 40 and all(type(x) is float for x in heatmap["sizes"])
    lo, step = heatmap["lo"], heatmap["step"]
    assert abs(lo / step - round(lo / step)) < 1e-9  # lo is a multiple of step
    assert lo <= frame["mid_price"] < lo + 40 * step
    text = json.dumps(frame, allow_nan=False)  # JSON-ready: no NaN, no numpy types
    assert json.loads(text) == frame


def test_not_live_is_stale_with_null_heatmap_and_no_step() -> None:
    book = L2Book()  # engine's book before the first snapshot: empty
    state = _state(book)
    frame = state.cut_frame(1.0, S, _integrity("syncing"))
    assert frame["stale"] is True and frame["status"] == "syncing"
    assert frame["latency_ms"] is None and frame["last_update_id"] is None
    for key in ["best_bid", "mid_price", "microprice", "imbalance", "dwp_bid", "slope_ask",
                "heatmap"]:
        assert frame[key] is None, key
    assert frame["bid_levels"] == [] and frame["cum_ask"] == [] and frame["bid_volume"] == 0.0
    json.dumps(frame, allow_nan=False)
    # A loaded book that is not live yet: features computed, but the grid waits for "live".
    book.load([(6180020, 1000)], [(6180030, 2000)], 5)
    frame = state.cut_frame(2.0, 2 * S, _integrity("resyncing"))
    assert frame["mid_price"] == 61800.25 and frame["stale"] and frame["heatmap"] is None
    assert state.snapshot_message()["meta"]["heatmap_step"] is None
    assert state.cut_frame(3.0, 3 * S, _integrity("live"))["heatmap"] is not None
    # Once the grid exists, a second that is not live still gets no column (a gap, not stale
    # data), and the step stays fixed.
    step = state.heatmap_step
    assert state.cut_frame(4.0, 4 * S, _integrity("stale"))["heatmap"] is None
    assert state.snapshot_message()["history"]["heatmap"][-2:][1] is None
    assert state.heatmap_step == step


def test_snapshot_message_schema() -> None:
    book = _book()
    state = _state(book, history=3)
    empty = state.snapshot_message()
    assert empty["latest"] is None and empty["history"]["ts"] == []
    state.cut_frame(1.0, S, _integrity("syncing"))
    for t in range(2, 6):
        state.cut_frame(float(t), t * S, _integrity())
    msg = state.snapshot_message()
    assert list(msg) == ["v", "type", "symbol", "market", "meta", "history", "latest", "events"]
    assert msg["v"] == 1 and msg["type"] == "snapshot" and msg["symbol"] == msg["market"] == "BTCUSDT"
    meta_keys = re.findall(r'"(\w+)"', _row_of("snapshot", "meta"))
    meta = msg["meta"]
    assert list(meta) == meta_keys
    assert meta["tick_size"] == 0.1 and meta["price_decimals"] == 2
    # mid2 = 12360050 units, 40 rows: 12360050 * 20 / (1e4 * 40 * 10) = 61.80025 ticks -> 62 ticks
    assert meta["heatmap_step"] == 6.2
    listed = _row_of("snapshot", "history").split("):", 1)[1]  # after "(at most ...):"
    history_keys = [k for k in re.findall(r"`(\w+)`", listed) if k != "heatmap_rows"]
    history = msg["history"]
    assert set(history) == set(history_keys)
    assert history["ts"] == [3.0, 4.0, 5.0]  # oldest first, 3 slots
    assert all(len(v) == 3 for v in history.values())
    assert msg["latest"]["ts"] == 5.0
    assert history["heatmap_lo"][-1] == msg["latest"]["heatmap"]["lo"]
    assert history["heatmap"][-1] == msg["latest"]["heatmap"]["sizes"]
    text = json.dumps(msg, allow_nan=False)
    assert not math.isnan(json.loads(text)["history"]["mid_price"][0])


@settings(max_examples=200, deadline=None)
@given(bids=st.dictionaries(st.integers(1, 500), st.integers(1, 99), max_size=30),
       asks=st.dictionaries(st.integers(501, 1000), st.integers(1, 99), max_size=30),
       n=st.integers(1, 12))
def test_fast_top_summary_equals_plain_top_levels(bids: dict[int, int], asks: dict[int, int],
                                                  n: int) -> None:
    book = L2Book()
    book.load(bids.items(), asks.items(), 1)
    top_b, top_a = book.top_bids(n), book.top_asks(n)
    expected = (sum(q for _, q in top_b), sum(q for _, q in top_a),
                top_b[0] if top_b else None, top_a[0] if top_a else None)
    assert _top_summary(book, n) == expected


def test_update_on_one_sided_book() -> None:
    # An ask side vanishing contributes +q_prev to best-level OFI and -(-q) to top-N OFI.
    book = L2Book()
    book.load([(100, 5)], [(101, 7)], 1)
    state = _state(book)
    state.on_book_reset(book, _snap(S))
    book.apply([], [(101, 0)], 2)
    state.on_book_update(book, _diff(S))
    frame = state.cut_frame(2.0, 2 * S, _integrity())
    assert frame["ofi"] == 0.007 and frame["ofi_best"] == 0.007
    assert frame["best_ask"] is None and frame["mid_price"] is None and frame["heatmap"] is None
    assert frame["imbalance"] == 1.0 and frame["dwp_ask"] is None
