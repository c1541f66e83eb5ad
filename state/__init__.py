"""Rolling per-symbol state: the 180-second ring of one-second rows and the frame builder."""

from state.ring_buffer import HISTORY_COLUMNS, SecondsRing
from state.symbol_state import SCHEMA_VERSION, SymbolState

__all__ = ["HISTORY_COLUMNS", "SCHEMA_VERSION", "SecondsRing", "SymbolState"]
