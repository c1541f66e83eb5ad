"""Per-symbol tracker: follows one book as a ``BookObserver`` and cuts one frame per second.

Between cuts it only accumulates (OFI of both kinds, update count, trades, last receive time),
from top-N slices of the book, so ``on_book_update`` stays a few microseconds. Once per second
``cut_frame`` computes the book features from the book as it is at that instant, closes the
second's accumulators, writes one row to the preallocated ring and returns the frame of
docs/frames.md. Trades also feed the venue-time trade-flow windows (``features/trade_flow.py``),
and each frame carries the rules and insights evaluated on its own values (``insights/``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from config import Config
from features.liquidity import LiquidityDetectors
from features.order_flow import best_level_ofi, volume_ofi
from features.trade_flow import TradeFlow, TradeFlowMetrics
from features.trades import TradeAccumulator, TradeSummary
from insights import DecisionLayer, RuleBook, default_rules, empty_signals, liquidity_signals
from insights.engine import Profile
from marketdata.events import DepthDiff, DepthSnapshot, Trade
from orderbook.book import L2Book, Level
from orderbook.instrument import Instrument
from state.book_fields import book_fields
from state.heatmap_grid import fill_depth_column, grid_lo_units, grid_step_units
from state.ring_buffer import SecondsRing

SCHEMA_VERSION = 1
# History columns copied straight from the frame; the trade columns come from the summary.
_ROW_FROM_FRAME = ("ts", "mid_price", "best_bid", "best_ask", "spread", "microprice",
                   "imbalance", "ofi", "bid_volume", "ask_volume", "venue_ts", "spread_bps",
                   "vwap_30s", "velocity_3s", "velocity_baseline", "volatility_60s_bps",
                   "volatility_1s_60s_bps", "buy_pressure_30s", "cvd")


class HeatmapColumn(TypedDict):
    """The ``heatmap`` object of a frame: cell ``i`` covers ``[lo + i*step, lo + (i+1)*step)``."""

    lo: float
    step: float
    sizes: list[float]


# Keys of the ``frame`` message in the order docs/frames.md lists them.
FRAME_KEYS: tuple[str, ...] = (
    "v", "type", "symbol", "market", "ts", "last_update_id", "status", "stale", "gaps", "resyncs",
    "last_event_age_ms", "integrity", "latency_ms", "best_bid", "best_ask", "mid_price", "spread",
    "spread_bps", "microprice", "imbalance", "imbalance_best", "bid_volume", "ask_volume",
    "dwp_bid", "dwp_ask", "slope_bid", "slope_ask", "ofi", "ofi_best", "updates", "bid_levels",
    "ask_levels", "cum_bid", "cum_ask", "trades", "heatmap", "events", "venue_ts",
    "last_trade_price", "vwap_30s", "velocity_3s", "velocity_baseline", "volatility_60s_bps",
    "volatility_1s_60s_bps", "buy_pressure_30s", "price_vs_vwap_pct", "cvd", "rules",
    "insights", "spread_ticks", "signals", "conditions",
)


class SymbolState:
    """Rolling features and history of one symbol; implements ``orderbook.observer.BookObserver``.

    ``book`` is the engine's book object for this symbol (the same object for the whole process;
    a snapshot replaces its contents). All methods run on the event loop that owns the book."""

    __slots__ = (
        "_decisions", "_flow", "_has_baseline", "_last_book_ns", "_latest", "detectors",
        "_ofi_best_units", "_ofi_units", "_prev_ask_volume", "_prev_best_ask", "_prev_best_bid",
        "_prev_bid_volume", "_ring", "_step_units", "_trades", "_updates", "band_bps", "book",
        "book_venue_ms", "history_seconds", "instrument", "market", "rows", "top_n",
    )

    def __init__(self, instrument: Instrument, book: L2Book, *, top_n: int,
                 history_seconds: int, heatmap_band_bps: float, heatmap_rows: int,
                 detectors: LiquidityDetectors | None = None,
                 rules: RuleBook | None = None, rules_profile: Profile = "default") -> None:
        if top_n <= 0:
            raise ValueError(f"top_n must be positive, got {top_n}")
        self.instrument = instrument
        self.book = book
        # The market's name (``venue:symbol``; the bare symbol for USDT-M): the runtime sets
        # it, frames carry it, as the venue symbol alone is ambiguous across venues.
        self.market = instrument.symbol
        # Venue time (ms) of the last book event: how far apart two venues' books are in time.
        self.book_venue_ms: int | None = None
        self.top_n = top_n
        self.history_seconds = history_seconds
        self.band_bps = heatmap_band_bps
        self.rows = heatmap_rows
        self._ring = SecondsRing(history_seconds, heatmap_rows)
        self._step_units: int | None = None
        self._trades = TradeAccumulator()
        self._last_book_ns: int | None = None
        self._latest: dict[str, Any] | None = None
        self._has_baseline = False
        self._prev_bid_volume = self._prev_ask_volume = 0
        self._prev_best_bid: Level | None = None
        self._prev_best_ask: Level | None = None
        # Liquidity event detectors on the same hot path (None: off); their log feeds frames.
        self.detectors = detectors
        # Trade-flow windows in venue time and the rules evaluated on each frame.
        self._flow = TradeFlow(instrument.price_scale, instrument.qty_scale)
        self._decisions = DecisionLayer(rules or default_rules(), rules_profile)
        self._reset_second()

    @classmethod
    def from_config(cls, instrument: Instrument, book: L2Book, config: Config) -> SymbolState:
        detectors = (LiquidityDetectors(instrument, book, config.detectors)
                     if config.detectors.enabled else None)
        return cls(instrument, book, top_n=config.top_n, history_seconds=config.history_seconds,
                   heatmap_band_bps=config.heatmap_band_bps, heatmap_rows=config.heatmap_rows,
                   detectors=detectors, rules=config.rules,
                   rules_profile=config.rules_profile)

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def heatmap_step(self) -> float | None:
        """The fixed heatmap grid step (quote currency); ``None`` until the book first went
        live."""
        return None if self._step_units is None else self._step_units / self.instrument.price_scale

    @property
    def ring(self) -> SecondsRing:
        return self._ring

    @property
    def latest_frame(self) -> dict[str, Any] | None:
        return self._latest

    # --- BookObserver: the hot path -----------------------------------------------------------

    def on_book_reset(self, book: L2Book, snapshot: DepthSnapshot) -> None:
        """A snapshot replaced the book: take it as the new OFI baseline (a snapshot is not an
        update, and the jump from the old book is not order flow)."""
        self._set_baseline(book)
        self._last_book_ns = snapshot.receive_ts_ns
        self.book_venue_ms = snapshot.exchange_ts_ms or self.book_venue_ms
        self._flow.went_live()
        if self.detectors is not None:
            self.detectors.on_book_reset(book, snapshot)

    def on_book_lost(self) -> None:
        if self.detectors is not None:
            self.detectors.on_not_live()

    def on_book_update(self, book: L2Book, diff: DepthDiff) -> None:
        """One diff was applied: add its top-N OFI and best-level OFI to the second's sums."""
        bid_volume, ask_volume, best_bid, best_ask = _top_summary(book, self.top_n)
        if self._has_baseline:
            self._ofi_units += volume_ofi(self._prev_bid_volume, self._prev_ask_volume,
                                          bid_volume, ask_volume)
            self._ofi_best_units += best_level_ofi(self._prev_best_bid, self._prev_best_ask,
                                                   best_bid, best_ask)
        self._has_baseline = True
        self._prev_bid_volume = bid_volume
        self._prev_ask_volume = ask_volume
        self._prev_best_bid = best_bid
        self._prev_best_ask = best_ask
        self._updates += 1
        self._last_book_ns = diff.receive_ts_ns
        self.book_venue_ms = diff.exchange_ts_ms
        if diff.exchange_ts_ms > self._flow.venue_ms:
            self._flow.venue_ms = diff.exchange_ts_ms
        if self.detectors is not None:
            self.detectors.on_book_update(book, diff)

    def on_trade(self, trade: Trade) -> None:
        bought = trade.taker_side == "buy"
        self._trades.add(trade.price, trade.qty, bought)
        self._flow.on_trade(trade.exchange_ts_ms, trade.price, trade.qty, bought)
        if self.detectors is not None:
            self.detectors.on_trade(trade)

    def _set_baseline(self, book: L2Book) -> None:
        (self._prev_bid_volume, self._prev_ask_volume, self._prev_best_bid,
         self._prev_best_ask) = _top_summary(book, self.top_n)
        self._has_baseline = True

    def _reset_second(self) -> None:
        self._ofi_units = 0
        self._ofi_best_units = 0
        self._updates = 0
        self._trades.reset()

    # --- once per second ----------------------------------------------------------------------

    def cut_frame(self, ts: float, now_ns: int,
                  integrity: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """Close the second ending at ``ts`` (epoch seconds): compute the book features from the
        book now, store one history row, start a new second, and return the ``frame`` message.

        ``now_ns`` is the injected clock's time of the cut (for ``latency_ms``); ``integrity``
        maps every configured symbol to ``{"status", "last_update_id", "last_event_age_ms",
        "gaps", "resyncs"}`` and is passed through (copied) into the frame."""
        if self.detectors is not None:
            self.detectors.flush()  # trades buffered since the last diff, before events are read
        entry = integrity.get(self.market, {})
        status = str(entry.get("status", "syncing"))
        inst = self.instrument
        bids = self.book.top_bids(self.top_n)
        asks = self.book.top_asks(self.top_n)
        fields = book_fields(bids, asks, inst)
        if self._step_units is None and status == "live" and bids and asks:
            self._step_units = grid_step_units(bids[0][0] + asks[0][0], inst.tick_units,
                                               self.band_bps, self.rows)
        # docs/frames.md: a heatmap column is null for a second without a live book (the
        # scalar features above are still computed, and flagged by ``stale``).
        heatmap = self._heatmap_column(bids, asks) if status == "live" else None
        trades = self._trades.summary(inst.price_scale, inst.qty_scale)
        age = entry.get("last_event_age_ms")
        values: dict[str, Any] = {
            "v": SCHEMA_VERSION,
            "type": "frame",
            "symbol": self.symbol,
            "market": self.market,
            "ts": float(ts),
            "last_update_id": self.book.last_update_id,
            "status": status,
            "stale": status != "live",
            "gaps": int(entry.get("gaps", 0)),
            "resyncs": int(entry.get("resyncs", 0)),
            "last_event_age_ms": None if age is None else float(age),
            "integrity": {name: dict(value) for name, value in integrity.items()},
            "latency_ms": (None if self._last_book_ns is None
                           else (now_ns - self._last_book_ns) / 1e6),
            **fields,
            "ofi": self._ofi_units / inst.qty_scale,
            "ofi_best": self._ofi_best_units / inst.qty_scale,
            "updates": self._updates,
            "trades": trades.to_dict(),
            "heatmap": heatmap,
            "events": [] if self.detectors is None else self.detectors.log.drain_changed(),
        }
        values["spread_ticks"] = (None if not bids or not asks
                                  else (asks[0][0] - bids[0][0]) / inst.tick_units)
        self._decide(values, self._flow.cut(trades.count, fields["mid_price"]))
        frame = {key: values[key] for key in FRAME_KEYS}
        self._record(frame, trades)
        self._reset_second()
        self._latest = frame
        return frame

    def _decide(self, values: dict[str, Any], flow: TradeFlowMetrics) -> None:
        """Add the trade-flow metrics, the liquidity signals, and the rules and insights
        evaluated on exactly these values (docs/frames.md, "Rules and insights")."""
        values.update(flow.to_dict())
        det = self.detectors
        signals = (empty_signals() if det is None else liquidity_signals(
            det.log, det.ctx.now_s, values["best_bid"], values["best_ask"]))
        decision = self._decisions.evaluate(values["ts"], {**values, **signals})
        values.update(rules=decision.rules, insights=decision.insights, signals=signals,
                      conditions=decision.conditions)

    def _record(self, frame: dict[str, Any], trades: TradeSummary) -> None:
        """Write the second's history row (its heatmap cells are already in the ring slot)."""
        heatmap = frame["heatmap"]
        row = {name: frame[name] for name in _ROW_FROM_FRAME}
        row.update(buy_volume=trades.buy_volume, sell_volume=trades.sell_volume,
                   trade_count=trades.count, buy_vwap=trades.buy_vwap,
                   sell_vwap=trades.sell_vwap,
                   heatmap_lo=None if heatmap is None else heatmap["lo"])
        self._ring.append(row, has_heatmap=heatmap is not None)

    def _heatmap_column(self, bids: list[Level], asks: list[Level]) -> HeatmapColumn | None:
        """Fill the ring's next heatmap slot around the current mid; ``None`` (slot unused)
        before the grid is fixed or without a two-sided book."""
        step = self._step_units
        if step is None or not bids or not asks:
            return None
        inst = self.instrument
        lo = grid_lo_units(bids[0][0] + asks[0][0], step, self.rows)
        slot = self._ring.next_heatmap_slot()
        fill_depth_column(self.book, lo, step, inst.qty_scale, slot)
        sizes = slot.astype("float64").round(inst.qty_decimals).tolist()
        return {"lo": lo / inst.price_scale, "step": step / inst.price_scale, "sizes": sizes}

    def snapshot_message(self) -> dict[str, Any]:
        """The ``snapshot`` message of docs/frames.md: meta, the history oldest first, and the
        latest frame (``None`` before the first cut)."""
        inst = self.instrument
        return {
            "v": SCHEMA_VERSION,
            "type": "snapshot",
            "symbol": self.symbol,
            "market": self.market,
            "meta": {
                "top_n": self.top_n,
                "history_seconds": self.history_seconds,
                "heatmap_rows": self.rows,
                "heatmap_step": self.heatmap_step,
                "tick_size": inst.tick_size,
                "price_decimals": inst.price_decimals,
                "qty_decimals": inst.qty_decimals,
            },
            "history": self._ring.columns(inst.qty_decimals),
            "latest": self._latest,
            "events": self.window_events(),
        }

    def window_events(self) -> list[dict[str, Any]]:
        """Liquidity events still active or ended within the rolling window (venue time)."""
        det = self.detectors
        if det is None:
            return []
        return det.log.in_window(det.ctx.now_s - self.history_seconds)


def _top_summary(book: L2Book, n: int) -> tuple[int, int, Level | None, Level | None]:
    """(top-N bid volume, top-N ask volume, best bid, best ask) in integer units.

    Same result as summing ``book.top_bids(n)`` / ``top_asks(n)``, but slices the sorted prices
    and sums the sizes without building (price, qty) tuples: this runs after every diff."""
    bids, asks = book.bids, book.asks
    bid_prices = bids.best_prices(n)  # best first
    ask_prices = asks.best_prices(n)
    bid_sizes = list(map(bids.__getitem__, bid_prices))
    ask_sizes = list(map(asks.__getitem__, ask_prices))
    best_bid = (bid_prices[0], bid_sizes[0]) if bid_prices else None
    best_ask = (ask_prices[0], ask_sizes[0]) if ask_prices else None
    return sum(bid_sizes), sum(ask_sizes), best_bid, best_ask
