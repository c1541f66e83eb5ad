"""Reading cryptofeed JSON-lines captures (``*.jsonl.zst``): one JSON object per line,
``{"t": "recv"|"send"|"http"|"connect"|"header", "conn": ..., "ts": <local s>, "data": ...}``
(../shared/data/README.md).

Received frames come back untouched, as the bytes the venue sent, so replays and tests feed
them through the same parser the live feed uses.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import orjson
import zstandard


class CapturedFrame(NamedTuple):
    """One received WebSocket frame: its connection, local receive time and raw text."""

    conn: str
    receive_ns: int
    data: bytes


def _records(path: Path | str) -> Iterator[dict]:
    with open(path, "rb") as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw)
        for number, line in enumerate(io.BufferedReader(reader), 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise ValueError(f"{path}:{number}: not a JSON line") from None
            if not isinstance(record, dict) or "t" not in record:
                raise ValueError(f"{path}:{number}: not a cryptofeed capture record")
            yield record


def read_frames(path: Path | str) -> Iterator[CapturedFrame]:
    """Every received WebSocket frame, in capture order."""
    for record in _records(path):
        if record["t"] == "recv":
            yield CapturedFrame(record["conn"], round(record["ts"] * 1e9),
                                record["data"].encode())


def read_http_body(path: Path | str, url_suffix: str) -> bytes:
    """The body of the first recorded HTTP response whose URL ends with ``url_suffix``."""
    for record in _records(path):
        if record["t"] == "http" and record.get("url", "").endswith(url_suffix):
            return record["data"].encode()
    raise LookupError(f"{path}: no HTTP response for ...{url_suffix}")
