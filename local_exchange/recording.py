"""Reading hftbacktest collector recordings: ``<local receive ns> <raw JSON>`` per gzip line.

A *recording* is one symbol's files in time order (the collector splits at midnight and only the
first file holds the REST snapshot). Several recordings (different symbols) merge into one
timeline by local receive time. Files are streamed in place, never copied or fully loaded.
"""

from __future__ import annotations

import gzip
import heapq
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from local_exchange.instruments import SymbolSpec, infer_spec
from marketdata.markets import BINANCE_SPOT, BINANCE_USDM

log = logging.getLogger(__name__)

# The snapshot line sits a few dozen lines in; give up looking well after that.
_SNAPSHOT_SCAN_LINES = 20_000


class RecordedMessage(NamedTuple):
    """One stream message: local receive time, the recorded stream name and its payload."""

    local_ns: int
    symbol: str
    stream: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Recording:
    """One symbol's files in time order, plus the REST snapshot found in the first of them."""

    symbol: str
    files: tuple[Path, ...]
    snapshot: dict[str, Any] | None


def _parse_line(line: bytes) -> tuple[int, Any] | None:
    stamp, sep, raw = line.partition(b" ")
    if not sep:
        return None
    try:
        return int(stamp), orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError):
        log.warning("skipping unreadable recording line: %r", line[:120])
        return None


def iter_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """Parsed ``(local_ns, json)`` pairs of one file; unreadable lines are logged and skipped."""
    with gzip.open(path, "rb") as handle:
        for line in handle:
            parsed = _parse_line(line)
            if parsed is not None:
                yield parsed


def _first_symbol(path: Path) -> tuple[str, int]:
    for local_ns, obj in iter_lines(path):
        if isinstance(obj, dict) and "stream" in obj:
            return obj["stream"].split("@", 1)[0].upper(), local_ns
    raise ValueError(f"{path}: no stream message found")


def _find_snapshot(path: Path) -> dict[str, Any] | None:
    for index, (_, obj) in enumerate(iter_lines(path)):
        if isinstance(obj, dict) and "lastUpdateId" in obj:
            return obj
        if index >= _SNAPSHOT_SCAN_LINES:
            break
    return None


def group_recordings(paths: Iterable[Path | str]) -> list[Recording]:
    """Group files by symbol (read from the first stream name) and order each group in time."""
    by_symbol: dict[str, list[tuple[int, Path]]] = {}
    for raw_path in paths:
        path = Path(raw_path)
        symbol, first_ns = _first_symbol(path)
        by_symbol.setdefault(symbol, []).append((first_ns, path))
    recordings = []
    for symbol, entries in sorted(by_symbol.items()):
        files = tuple(path for _, path in sorted(entries))
        recordings.append(Recording(symbol, files, _find_snapshot(files[0])))
    return recordings


def iter_messages(recording: Recording) -> Iterator[RecordedMessage]:
    """Stream messages of one recording in file order; the snapshot line is left out."""
    for path in recording.files:
        for local_ns, obj in iter_lines(path):
            if isinstance(obj, dict) and "stream" in obj and isinstance(obj.get("data"), dict):
                yield RecordedMessage(local_ns, recording.symbol, obj["stream"], obj["data"])


def merged_messages(recordings: Iterable[Recording]) -> Iterator[RecordedMessage]:
    """All recordings on one timeline, ordered by local receive time (stable within a file)."""
    return heapq.merge(*(iter_messages(r) for r in recordings), key=lambda m: m.local_ns)


# A recording's first diff sits within the first few lines; stop well after that.
_VENUE_SCAN_LINES = 5_000


def recording_venue(recording: Recording) -> str:
    """``BINANCE_USDM`` or ``BINANCE_SPOT``: which Binance venue recorded ``recording``.

    Told from the content, not the file name: USDT-M diffs carry ``pu`` and its REST snapshot
    ``E``/``T``; Spot has neither (protocol doc sections 1 and 2.3, 2.7). A recording whose
    snapshot and first diff are both missing from the scanned lines is taken as Spot, the
    venue without the extra fields.
    """
    snapshot = recording.snapshot
    if snapshot is not None and ("E" in snapshot or "T" in snapshot):
        return BINANCE_USDM
    for index, msg in enumerate(iter_messages(recording)):
        if msg.data.get("e") == "depthUpdate":
            return BINANCE_USDM if "pu" in msg.data else BINANCE_SPOT
        if index >= _VENUE_SCAN_LINES:
            break
    return BINANCE_SPOT


def recording_spec(recording: Recording, venue: str) -> SymbolSpec:
    """The listed spec of the recorded symbol on ``venue``, else one inferred from the
    recorded price and quantity strings (``infer_spec``)."""
    snapshot = recording.snapshot
    if snapshot and snapshot.get("bids"):
        price, qty = snapshot["bids"][0]
        return infer_spec(recording.symbol, price, qty, venue)
    for msg in merged_messages([recording]):
        levels = msg.data.get("b") or msg.data.get("a")
        if msg.data.get("e") == "depthUpdate" and levels:
            return infer_spec(recording.symbol, levels[0][0], levels[0][1], venue)
    raise ValueError(f"{recording.symbol}: cannot infer price/qty decimals from the recording")
