"""Liquidity-event facts for the rules, derived once a second from a symbol's ``EventLog``.

Definitions (venue time ``now``, epoch seconds; all documented in docs/frames.md, ``signals``):

- ``walls_near_touch``: active ``wall`` events with ``score >= MIN_WALL_SCORE`` whose price is
  within ``NEAR_TOUCH_BPS`` of mid from their own side's best price; ``wall_*`` describe the
  nearest such wall. (On BTCUSDT 2024-08-08 some active wall lies within 5 bps of the touch in
  93% of seconds and within 2 bps in 70%: the score and the 2 bps keep the rule about walls a
  trader would act on, 57% of seconds there, 16% on ETHUSDT.)
- ``sweeps_10s``: ``sweep`` events detected in ``(now - RECENT_S, now]``; ``sweep_*`` describe
  the latest (``sweep_direction`` is the aggressor: ``buy`` when asks were swept).
- ``icebergs_active``, ``exhaustion_active``, ``absorptions_active``: events of that type still
  active or detected in the last ``RECENT_S`` (a detector may report an alert and end it at
  once); ``*_price`` / ``*_side`` describe the latest.

Without detectors every value is ``None`` (not computable), so their rules never hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from features.liquidity.event import LiquidityEvent

NEAR_TOUCH_BPS = 2.0
MIN_WALL_SCORE = 0.5
RECENT_S = 10.0

_RECENT_TYPES = {"iceberg": "iceberg", "exhaustion": "exhaustion", "absorption": "absorption"}
_COUNT_KEYS = {"iceberg": "icebergs_active", "exhaustion": "exhaustion_active",
               "absorption": "absorptions_active"}


def empty_signals() -> dict[str, Any]:
    from insights.metrics import SIGNAL_METRICS, SIGNAL_TEXTS

    return dict.fromkeys(SIGNAL_METRICS + SIGNAL_TEXTS)


def liquidity_signals(events: Iterable[LiquidityEvent], now: float, best_bid: float | None,
                      best_ask: float | None) -> dict[str, Any]:
    """The ``signals`` object of a frame from the log's events (one pass)."""
    out = empty_signals()
    out.update(walls_near_touch=0, sweeps_10s=0, icebergs_active=0, exhaustion_active=0,
               absorptions_active=0)
    mid = None if best_bid is None or best_ask is None else (best_bid + best_ask) / 2
    nearest: tuple[float, LiquidityEvent] | None = None
    latest: dict[str, LiquidityEvent] = {}
    for event in events:
        recent = event.detected_ts > now - RECENT_S
        if event.type == "wall":
            distance = _wall_distance_bps(event, best_bid, best_ask, mid)
            if distance is not None and distance <= NEAR_TOUCH_BPS:
                out["walls_near_touch"] += 1
                if nearest is None or distance < nearest[0]:
                    nearest = (distance, event)
        elif event.type == "sweep":
            if recent:
                out["sweeps_10s"] += 1
                _keep_latest(latest, "sweep", event)
        elif event.type in _RECENT_TYPES and (event.status == "active" or recent):
            out[_COUNT_KEYS[event.type]] += 1
            _keep_latest(latest, event.type, event)
    if nearest is not None:
        distance, wall = nearest
        out.update(wall_price=wall.price, wall_size=wall.size, wall_side=wall.side,
                   wall_distance_bps=distance)
    _describe_latest(out, latest)
    return out


def _wall_distance_bps(event: LiquidityEvent, best_bid: float | None, best_ask: float | None,
                       mid: float | None) -> float | None:
    if (event.status != "active" or event.score < MIN_WALL_SCORE or mid is None
            or best_bid is None or best_ask is None):
        return None
    gap = best_bid - event.price if event.side == "bid" else event.price - best_ask
    return max(gap, 0.0) / mid * 1e4


def _keep_latest(latest: dict[str, LiquidityEvent], kind: str, event: LiquidityEvent) -> None:
    seen = latest.get(kind)
    if seen is None or event.detected_ts >= seen.detected_ts:
        latest[kind] = event


def _describe_latest(out: dict[str, Any], latest: dict[str, LiquidityEvent]) -> None:
    sweep = latest.get("sweep")
    if sweep is not None:
        levels = sweep.detail.get("levels")
        out.update(sweep_volume=sweep.size, sweep_price=sweep.price, sweep_side=sweep.side,
                   sweep_direction="buy" if sweep.side == "ask" else "sell",
                   sweep_levels=levels if isinstance(levels, int | float) else None)
    iceberg = latest.get("iceberg")
    if iceberg is not None:
        out.update(iceberg_price=iceberg.price, iceberg_volume=iceberg.size,
                   iceberg_side=iceberg.side)
    for kind in ("exhaustion", "absorption"):
        event = latest.get(kind)
        if event is not None:
            out[f"{kind}_price"] = event.price
            out[f"{kind}_side"] = event.side
