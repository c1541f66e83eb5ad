"""The replay pipeline without sockets, on the venue clock: recordings in, one frame per market
per venue second out, identical on every run.

The same parts as the live path, in the same order (the venue's parser, ``BookSync``, the
``L2Book``, ``SymbolState`` with its detectors and rules, ``SymbolState.cut_frame``); only the
transport and the clock differ:

* **Transport.** The recorded lines are read in place and merged across markets by their
  recorded receive time (ties keep file order), so every run sees one and the same sequence. A
  depth snapshot is the recording's own REST snapshot line (the collector wrote it when its
  client asked), handed to the sync machine when the line comes.
* **Clock.** Frames are cut on whole seconds of venue time: the largest ``E`` of a depth diff or
  ``T`` of a trade seen so far. Second ``S`` is cut (for every market) just before the first
  message whose venue time reaches ``S``, so a frame holds what had arrived by then; a late
  message of another stream (a few ms behind in venue time) falls into the next second, as it
  would live. Seconds without messages are cut too, one frame each.
* **Wall-clock fields.** None. ``ts`` is the venue second; ``latency_ms`` and
  ``last_event_age_ms`` are measured on the recording's receive clock (the receive time of the
  message that closed the second minus that of the market's last book event), which is what the
  recording process's clock read. A market is ``stale`` when that age exceeds
  ``Config.stale_after_s``.

Binance USDT-M and Spot recordings (hftbacktest collector files) are read; a Coinbase capture is
refused with a message (its sequence machine is not in this pipeline yet).
"""

from __future__ import annotations

import gzip
import heapq
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import Config
from data_ingestion.binance.parser import FuturesParser
from data_ingestion.binance_spot.parser import SpotParser
from data_ingestion.recordings import is_snapshot
from local_exchange.recording import group_recordings, recording_spec, recording_venue
from marketdata.events import DepthDiff, Trade
from marketdata.markets import BINANCE_SPOT, MarketId
from orderbook.book import L2Book
from orderbook.instrument import Instrument
from orderbook.sync import FUTURES_RULES, SPOT_RULES, BookSync, SyncState
from state.symbol_state import SymbolState


_BLOCK = 1 << 20  # decompressed bytes read at a time


class RecordingError(Exception):
    """A recording cannot be read on (corrupt, truncated or not a recording); ``venue_s`` is the
    venue second up to which frames were cut (None: none yet)."""

    def __init__(self, message: str, venue_s: float | None) -> None:
        super().__init__(message)
        self.venue_s = venue_s


@dataclass(slots=True)
class _Market:
    key: str
    symbol: str
    venue: str
    parser: FuturesParser | SpotParser
    sync: BookSync
    state: SymbolState
    last_book_ns: int | None = None


@dataclass(slots=True)
class Progress:
    """How far the reading is: compressed bytes read of all files, and the venue time."""

    total_bytes: int
    read_bytes: int = 0
    venue_s: float | None = None
    messages: int = 0
    _done: dict[Path, int] = field(default_factory=dict)


class VenueClockReplay:
    """``frames()`` yields ``(market, frame)`` per market per venue second, in market order."""

    def __init__(self, paths: Iterable[Path | str], config: Config = Config(),
                 only: Iterable[str] | None = None) -> None:
        """``only``: the market keys to replay (default: every market in the files)."""
        files = [Path(p) for p in paths]
        if not files:
            raise ValueError("no recording files given")
        for path in files:
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file")
            if path.name.endswith(".jsonl.zst"):
                raise ValueError(f"{path}: Coinbase captures are not read by the venue-clock "
                                 "replay yet (Binance hftbacktest .gz recordings only)")
        self.config = config
        try:
            recordings = group_recordings(files)
        except (OSError, EOFError, zlib.error) as exc:
            raise RecordingError(f"cannot read the recordings: {exc}", None) from exc
        wanted = None if only is None else set(only)
        self._markets: list[_Market] = []
        self._sources: list[tuple[_Market, tuple[Path, ...]]] = []
        for recording in recordings:
            venue = recording_venue(recording)
            instrument = recording_spec(recording, venue).instrument
            key = MarketId(venue, recording.symbol).key
            if wanted is not None and key not in wanted:
                continue
            book = L2Book()
            state = SymbolState.from_config(instrument, book, config)
            state.market = key
            parser = (SpotParser if venue == BINANCE_SPOT else FuturesParser)(
                {recording.symbol: instrument})
            rules = SPOT_RULES if venue == BINANCE_SPOT else FUTURES_RULES
            # No snapshot can be fetched: the recording's own snapshot line answers the request.
            sync = BookSync(recording.symbol, book, _no_fetch, state, rules=rules)
            market = _Market(key, recording.symbol, venue, parser, sync, state)
            self._markets.append(market)
            self._sources.append((market, recording.files))
        if not self._markets:
            raise ValueError(f"none of {sorted(wanted or [])} is in the recordings")
        self._markets.sort(key=lambda m: m.key)
        self._by_key = {m.key: m for m in self._markets}
        self.progress = Progress(sum(p.stat().st_size for _, paths in self._sources
                                     for p in paths))
        self._next_cut: int | None = None  # the venue second to cut next
        self._now_ns = 0  # the receive clock: the last message's recorded receive time
        # Called with (market, diff) after each diff reaches the sync machine (the app's
        # engine facades count rates and latencies with it).
        self.on_diff: Callable[[str, DepthDiff], None] | None = None

    @property
    def markets(self) -> list[str]:
        return [m.key for m in self._markets]

    def states(self) -> dict[str, SymbolState]:
        return {m.key: m.state for m in self._markets}

    def books(self) -> dict[str, BookSync]:
        return {m.key: m.sync for m in self._markets}

    def venues(self) -> dict[str, str]:
        return {m.key: m.venue for m in self._markets}

    def instruments(self) -> dict[str, Instrument]:
        return {m.key: m.state.instrument for m in self._markets}

    def health(self, market: str) -> dict[str, Any]:
        """``{"status", "last_update_id", "last_event_age_ms", "gaps", "resyncs"}`` of
        ``market`` now, on the recording's receive clock (see the module docstring)."""
        return self._health(self._by_key[market])

    def seconds(self) -> Iterator[tuple[float, list[tuple[str, dict[str, Any]]]]]:
        """``frames()`` grouped by venue second: ``(ts, [(market, frame), ...])``."""
        batch: list[tuple[str, dict[str, Any]]] = []
        for market, frame in self.frames():
            batch.append((market, frame))
            if len(batch) == len(self._markets):
                yield frame["ts"], batch
                batch = []

    def frames(self) -> Iterator[tuple[str, dict[str, Any]]]:
        sources = [self._lines(market, paths) for market, paths in self._sources]
        merged = (sources[0] if len(sources) == 1
                  else heapq.merge(*sources, key=lambda item: item[0]))
        for receive_ns, market, raw in merged:
            if b"@bookTicker" in raw[:40]:
                continue  # the client never subscribes to it: skipped before parsing
            self._now_ns = receive_ns
            self.progress.messages += 1
            if is_snapshot(raw):
                market.sync.on_snapshot(market.parser.parse_snapshot(market.symbol, raw,
                                                                     receive_ns))
                market.last_book_ns = receive_ns
                continue
            event = market.parser.parse_stream(raw, receive_ns)
            kind = type(event)
            if kind is not DepthDiff and kind is not Trade:
                continue  # bookTicker and statistics: not what the client subscribes to
            venue_ms = event.exchange_ts_ms  # type: ignore[union-attr]
            yield from self._cut_until(venue_ms)
            if kind is DepthDiff:
                market.sync.on_diff(event)  # type: ignore[arg-type]
                market.last_book_ns = receive_ns
                if self.on_diff is not None:
                    self.on_diff(market.key, event)  # type: ignore[arg-type]
            else:
                market.state.on_trade(event)  # type: ignore[arg-type]
        if self._next_cut is not None:  # the last, partly filled second
            yield from self._cut(self._next_cut)

    # ---- internals ------------------------------------------------------------------------

    def _lines(self, market: _Market, paths: tuple[Path, ...],
               ) -> Iterator[tuple[int, _Market, bytes]]:
        for path in paths:
            number = 0
            try:
                with open(path, "rb") as raw_file, gzip.open(raw_file, "rb") as handle:
                    rest = b""
                    # Big blocks split into lines: a third faster than readline per line.
                    while block := handle.read(_BLOCK):
                        lines = (rest + block).split(b"\n")
                        rest = lines.pop()
                        for line in lines:
                            number += 1
                            yield self._line(path, number, line), market, line.partition(b" ")[2]
                        self._count(path, raw_file.tell())
                    if rest.strip():
                        number += 1
                        yield self._line(path, number, rest), market, rest.partition(b" ")[2]
            except (OSError, EOFError, zlib.error) as exc:
                raise RecordingError(f"{path}: {exc} (corrupt or truncated)",
                                     self._cut_s()) from exc

    def _line(self, path: Path, number: int, line: bytes) -> int:
        """The receive time of a ``<receive ns> <json>`` line."""
        stamp, sep, raw = line.partition(b" ")
        if not sep or not stamp.isdigit() or not raw.strip():
            raise RecordingError(f"{path}:{number}: not '<receive ns> <json>'", self._cut_s())
        return int(stamp)

    def _count(self, path: Path, position: int) -> None:
        progress = self.progress
        progress.read_bytes += position - progress._done.get(path, 0)
        progress._done[path] = position

    def _cut_s(self) -> float | None:
        return None if self._next_cut is None else float(self._next_cut - 1)

    def _cut_until(self, venue_ms: int) -> Iterator[tuple[str, dict[str, Any]]]:
        second = venue_ms // 1000
        if self._next_cut is None:
            self._next_cut = second + 1
            return
        while self._next_cut <= second:
            yield from self._cut(self._next_cut)
            self._next_cut += 1

    def _cut(self, second: int) -> Iterator[tuple[str, dict[str, Any]]]:
        integrity = {m.key: self._health(m) for m in self._markets}
        for market in self._markets:
            yield market.key, market.state.cut_frame(float(second), self._now_ns, integrity)
        self.progress.venue_s = float(second)

    def _health(self, market: _Market) -> dict[str, Any]:
        sync = market.sync
        age_ms = (None if market.last_book_ns is None
                  else round((self._now_ns - market.last_book_ns) / 1e6, 1))
        status = sync.state.value
        if (sync.state is SyncState.LIVE and age_ms is not None
                and age_ms > self.config.stale_after_s * 1000):
            status = "stale"
        return {"status": status, "last_update_id": sync.last_applied_u,
                "last_event_age_ms": age_ms, "gaps": sync.stats.gaps,
                "resyncs": sync.stats.resyncs}


def _no_fetch() -> None:
    """Snapshot requests are answered by the recording's snapshot line, when it comes."""
