"""Liquidity events: walls, sweeps, absorption, layering, icebergs and exhaustion, detected from
the exact book and the trade stream (../shared/docs/liquidity-events.md)."""

from features.liquidity.detector_set import LiquidityDetectors, build_detectors
from features.liquidity.event import EVENT_TYPES, EventLog, EventType, LiquidityEvent
from features.liquidity.params import DetectorParams

__all__ = ["EVENT_TYPES", "DetectorParams", "EventLog", "EventType", "LiquidityDetectors",
           "LiquidityEvent", "build_detectors"]
