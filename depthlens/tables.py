"""Frames as research tables: one row per market per second, one per liquidity event, one per
insight interval, each with a fixed Arrow schema (a quiet first hour must not decide a column's
type by its nulls).

The per-second row is the frame flattened: every scalar feature as is; ``trades`` as
``trades_<key>``; ``signals`` as ``signal_<key>``; the heatmap column as ``heatmap_lo``,
``heatmap_step`` and ``heatmap_sizes`` (its cells); the top-N levels and cumulative depths as list
columns; ``rules`` and the shown insight ids as integer lists. Left out: ``v`` and ``type``
(constant), ``integrity`` (other markets' state; this market's is in ``status``, ``gaps``,
``resyncs``), ``events`` (their own table) and ``conditions`` (the thresholds each rule compared,
rebuilt from the rules file and the row).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from insights.metrics import SIGNAL_METRICS, SIGNAL_TEXTS

_STRINGS = ("symbol", "market", "status")
_INTS = ("last_update_id", "gaps", "resyncs", "updates")
_FLOATS = (
    "ts", "venue_ts", "last_event_age_ms", "latency_ms", "best_bid", "best_ask", "mid_price",
    "spread", "spread_bps", "spread_ticks", "microprice", "imbalance", "imbalance_best",
    "bid_volume", "ask_volume", "dwp_bid", "dwp_ask", "slope_bid", "slope_ask", "ofi",
    "ofi_best", "last_trade_price", "vwap_30s", "velocity_3s", "velocity_baseline",
    "volatility_60s_bps", "volatility_1s_60s_bps", "buy_pressure_30s", "price_vs_vwap_pct", "cvd",
)
_TRADE_KEYS = ("count", "buy_volume", "sell_volume", "vwap", "buy_vwap", "sell_vwap")
_LEVELS = pa.list_(pa.list_(pa.float64()))

FEATURES_SCHEMA = pa.schema(
    [pa.field(k, pa.string()) for k in _STRINGS]
    + [pa.field("stale", pa.bool_())]
    + [pa.field(k, pa.int64()) for k in _INTS]
    + [pa.field(k, pa.float64()) for k in _FLOATS]
    + [pa.field("trades_count", pa.int64())]
    + [pa.field(f"trades_{k}", pa.float64()) for k in _TRADE_KEYS[1:]]
    + [pa.field(f"signal_{k}", pa.float64()) for k in SIGNAL_METRICS]
    + [pa.field(f"signal_{k}", pa.string()) for k in SIGNAL_TEXTS]
    + [pa.field("heatmap_lo", pa.float64()), pa.field("heatmap_step", pa.float64()),
       pa.field("heatmap_sizes", pa.list_(pa.float64())),
       pa.field("bid_levels", _LEVELS), pa.field("ask_levels", _LEVELS),
       pa.field("cum_bid", pa.list_(pa.float64())), pa.field("cum_ask", pa.list_(pa.float64())),
       pa.field("rules", pa.list_(pa.int64())), pa.field("insight_ids", pa.list_(pa.int64())),
       pa.field("event_count", pa.int64())]
)

EVENTS_SCHEMA = pa.schema([
    pa.field("market", pa.string()), pa.field("id", pa.string()), pa.field("type", pa.string()),
    pa.field("side", pa.string()), pa.field("status", pa.string()),
    pa.field("price", pa.float64()), pa.field("price_from", pa.float64()),
    pa.field("price_to", pa.float64()), pa.field("start_ts", pa.float64()),
    pa.field("end_ts", pa.float64()), pa.field("detected_ts", pa.float64()),
    pa.field("size", pa.float64()), pa.field("score", pa.float64()),
    pa.field("detail", pa.string()),  # JSON: its keys differ per event type
])

INSIGHTS_SCHEMA = pa.schema([
    pa.field("market", pa.string()), pa.field("id", pa.int64()),
    pa.field("priority", pa.string()), pa.field("start_ts", pa.float64()),
    pa.field("end_ts", pa.float64()), pa.field("seconds", pa.int64()),
    pa.field("triggered_at", pa.float64()), pa.field("insight", pa.string()),
    pa.field("action", pa.string()), pa.field("open", pa.bool_()),
])


def feature_row(frame: dict[str, Any]) -> dict[str, Any]:
    """The per-second row of one frame (see the module docstring)."""
    row: dict[str, Any] = {k: frame[k] for k in _STRINGS}
    row["stale"] = frame["stale"]
    for k in _INTS:
        row[k] = frame[k]
    for k in _FLOATS:
        row[k] = frame[k]
    trades = frame["trades"]
    for k in _TRADE_KEYS:
        row[f"trades_{k}"] = trades[k]
    signals = frame["signals"]
    for k in SIGNAL_METRICS:
        row[f"signal_{k}"] = signals[k]
    for k in SIGNAL_TEXTS:
        row[f"signal_{k}"] = signals[k]
    heatmap = frame["heatmap"]
    row["heatmap_lo"] = None if heatmap is None else heatmap["lo"]
    row["heatmap_step"] = None if heatmap is None else heatmap["step"]
    row["heatmap_sizes"] = None if heatmap is None else heatmap["sizes"]
    for k in ("bid_levels", "ask_levels", "cum_bid", "cum_ask", "rules"):
        row[k] = frame[k]
    row["insight_ids"] = [card["id"] for card in frame["insights"]]
    row["event_count"] = len(frame["events"])
    return row


@dataclass
class _Shown:
    card: dict[str, Any]
    start_ts: float
    end_ts: float
    seconds: int = 1


@dataclass
class TableBuilder:
    """Collects the three tables from a stream of ``(market, frame)``; features are handed out
    in batches (``take_features``) so a long export stays flat in memory, events and insight
    intervals are kept (one row each) until ``finish``."""

    features: list[dict[str, Any]] = field(default_factory=list)
    _events: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _shown: dict[tuple[str, int], _Shown] = field(default_factory=dict)
    _intervals: list[dict[str, Any]] = field(default_factory=list)

    def add(self, market: str, frame: dict[str, Any]) -> None:
        self.features.append(feature_row(frame))
        for event in frame["events"]:
            # A frame carries the events that changed this second: the last version is kept.
            self._events[(market, event["id"])] = event_row(market, event)
        ts = frame["ts"]
        now = {card["id"]: card for card in frame["insights"]}
        for key in [k for k in self._shown if k[0] == market and k[1] not in now]:
            self._close(key, open_=False)
        for rule_id, card in now.items():
            shown = self._shown.get((market, rule_id))
            if shown is None:
                self._shown[(market, rule_id)] = _Shown(card, ts, ts)
            else:
                shown.end_ts, shown.seconds = ts, shown.seconds + 1

    def take_features(self) -> pa.Table:
        rows, self.features = self.features, []
        # Column by column: three times faster than Table.from_pylist on these nested rows.
        return pa.table([pa.array([row[f.name] for row in rows], type=f.type)
                         for f in FEATURES_SCHEMA], schema=FEATURES_SCHEMA)

    def finish(self) -> tuple[pa.Table, pa.Table]:
        """The events and insight-interval tables; intervals still shown end open."""
        for key in list(self._shown):
            self._close(key, open_=True)
        events = pa.Table.from_pylist(list(self._events.values()), schema=EVENTS_SCHEMA)
        insights = pa.Table.from_pylist(self._intervals, schema=INSIGHTS_SCHEMA)
        return events, insights

    def _close(self, key: tuple[str, int], open_: bool) -> None:
        shown = self._shown.pop(key)
        card = shown.card
        self._intervals.append({
            "market": key[0], "id": key[1], "priority": card["priority"],
            "start_ts": shown.start_ts, "end_ts": shown.end_ts, "seconds": shown.seconds,
            "triggered_at": card["triggered_at"], "insight": card["insight"],
            "action": card["action"], "open": open_,
        })


def event_row(market: str, event: dict[str, Any]) -> dict[str, Any]:
    row = {k: event[k] for k in EVENTS_SCHEMA.names if k not in ("market", "detail")}
    row["market"] = market
    row["detail"] = orjson.dumps(event["detail"], option=orjson.OPT_SORT_KEYS).decode()
    return row


def rows_of(frames: Iterable[tuple[str, dict[str, Any]]]) -> TableBuilder:
    """Every frame into one builder (for tests and small replays)."""
    builder = TableBuilder()
    for market, frame in frames:
        builder.add(market, frame)
    return builder
