"""``--record DIR``: every raw wire message and REST depth snapshot, exactly as received, in the
hftbacktest collector format the replays read (``<receive ns> <raw JSON>`` per line, gzip).

* **Files.** One per market per UTC hour of receive time:
  ``DIR/<venue>_<symbol>_<YYYYMMDD>_<HH>.gz`` (``binance-usdm_btcusdt_20261202_14.gz``). A
  market's stream frames are routed by their combined-stream name (``{"stream":"btcusdt@...``);
  a frame without one (a control reply) is not market data and is only counted.
* **Durability.** The open files are flushed to the OS once a second (``flush``, a gzip sync
  point, so everything up to it decompresses); a file is closed and fsync'd when its hour ends.
  A crash loses at most the last second, and the file reads back as truncated after its last
  sync point, which the readers report as such.
* **Self-contained hours.** When a market's file rotates, ``on_rotate(venue, symbol)`` asks the
  runtime for a fresh REST snapshot, written into the new file as it comes, so an hour replays on
  its own even after older hours were deleted.
* **Disk budget.** With ``max_bytes``, the oldest closed files are deleted first when the
  directory's recordings exceed it (checked every second), each deletion logged; the open
  files and each market's newest file are kept whatever the budget.

Binance USDT-M and Spot are recorded; Coinbase markets are not (their capture format differs
and the replays do not read it back yet), which the runtime logs at start.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

_STREAM = re.compile(rb'\{"stream":"([A-Za-z0-9_]+)@')
_FILE = re.compile(r"^(?P<venue>[a-z-]+)_(?P<symbol>[a-z0-9_]+)_(?P<day>\d{8})_(?P<hour>\d\d)\.gz$")


@dataclass(slots=True)
class _OpenFile:
    path: Path
    hour: str
    raw: IO[bytes]
    gz: gzip.GzipFile


class WireRecorder:
    def __init__(self, directory: Path, max_bytes: int | None = None) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self.on_rotate: Callable[[str, str], None] | None = None
        self._open: dict[tuple[str, str], _OpenFile] = {}
        self.messages = 0
        self.snapshots = 0
        self.unrouted = 0  # frames with no stream name (control replies)
        self.bytes_in = 0  # raw bytes of the recorded lines
        self.files_closed = 0
        self.files_deleted = 0
        self.last_error: str | None = None
        self._closed_bytes = 0  # compressed bytes of the files closed by this process

    # ---- inputs ---------------------------------------------------------------------------

    def frame(self, venue: str, raw: bytes | str, received_ns: int) -> None:
        data = raw.encode() if isinstance(raw, str) else raw
        found = _STREAM.match(data, 0, 64)
        if found is None:
            self.unrouted += 1
            return
        self._write(venue, found.group(1).decode().lower(), data, received_ns)
        self.messages += 1

    def snapshot(self, venue: str, symbol: str, body: bytes, received_ns: int) -> None:
        self._write(venue, symbol.lower(), body, received_ns)
        self.snapshots += 1

    def flush(self) -> None:
        """A sync point in every open file, and the budget kept (called once a second)."""
        for handle in self._open.values():
            try:
                handle.gz.flush()
            except OSError as exc:
                self._fail(handle.path, exc)
        self._enforce_budget()

    def close(self) -> None:
        for key in list(self._open):
            self._close(key)

    def status(self) -> dict[str, object]:
        written = self._closed_bytes + sum(_size(h.path) for h in self._open.values())
        return {
            "directory": str(self.directory), "files_open": len(self._open),
            "files_closed": self.files_closed, "files_deleted": self.files_deleted,
            "messages": self.messages, "snapshots": self.snapshots,
            "bytes_received": self.bytes_in, "bytes_written": written,
            "budget_bytes": self.max_bytes, "last_error": self.last_error,
        }

    # ---- files ----------------------------------------------------------------------------

    def _write(self, venue: str, symbol: str, data: bytes, received_ns: int) -> None:
        hour = datetime.fromtimestamp(received_ns / 1e9, UTC).strftime("%Y%m%d_%H")
        key = (venue, symbol)
        handle = self._open.get(key)
        if handle is None or handle.hour != hour:
            rotated = handle is not None
            if rotated:
                self._close(key)
            handle = self._open_file(venue, symbol, hour)
            if handle is None:
                return
            if rotated and self.on_rotate is not None:
                self.on_rotate(venue, symbol)
        if b"\n" in data or b"\r" in data:  # one message per line; JSON whitespace is free
            data = data.replace(b"\r", b" ").replace(b"\n", b" ")
        line = b"%d %s\n" % (received_ns, data)
        try:
            handle.gz.write(line)
        except OSError as exc:
            self._fail(handle.path, exc)
            return
        self.bytes_in += len(line)

    def _open_file(self, venue: str, symbol: str, hour: str) -> _OpenFile | None:
        path = self.directory / f"{venue}_{symbol}_{hour}.gz"
        try:
            raw = open(path, "ab")  # a restart within the hour appends a new gzip member
            gz = gzip.GzipFile(fileobj=raw, mode="ab")
        except OSError as exc:
            self._fail(path, exc)
            return None
        handle = _OpenFile(path, hour, raw, gz)
        self._open[(venue, symbol)] = handle
        log.info("recording %s %s to %s", venue, symbol, path)
        return handle

    def _close(self, key: tuple[str, str]) -> None:
        handle = self._open.pop(key)
        try:
            handle.gz.close()
            handle.raw.flush()
            os.fsync(handle.raw.fileno())
        except OSError as exc:
            self._fail(handle.path, exc)
        finally:
            handle.raw.close()
        self.files_closed += 1
        self._closed_bytes += _size(handle.path)
        self._enforce_budget()

    def _enforce_budget(self) -> None:
        if self.max_bytes is None:
            return
        open_paths = {h.path for h in self._open.values()}
        named = [(m, p) for p in self.directory.iterdir() if (m := _FILE.match(p.name))]
        newest: dict[tuple[str, str], str] = {}
        for match, path in named:
            market = (match["venue"], match["symbol"])
            newest[market] = max(newest.get(market, ""), match["day"] + match["hour"])
        # Never the open files, nor a market's newest (it holds the book the next one continues).
        deletable = sorted(
            ((match["day"] + match["hour"], path) for match, path in named
             if path not in open_paths
             and newest[(match["venue"], match["symbol"])] != match["day"] + match["hour"]),
            key=lambda item: (item[0], item[1].name))
        total = sum(_size(path) for _, path in named)
        for _, path in deletable:
            if total <= self.max_bytes:
                break
            size = _size(path)
            try:
                path.unlink()
            except OSError as exc:
                self._fail(path, exc)
                continue
            total -= size
            self.files_deleted += 1
            log.warning("recorder: over the %.3f GB budget, deleted the oldest file %s (%d bytes)",
                        self.max_bytes / 1e9, path, size)

    def _fail(self, path: Path, exc: OSError) -> None:
        self.last_error = f"{path}: {exc}"
        log.error("recorder: %s", self.last_error)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
