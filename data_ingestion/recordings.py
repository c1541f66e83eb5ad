"""Reading hftbacktest collector files: ``<local receive ns> <raw JSON>`` per line, gzip.

Several files (a recording split at midnight) form one recording; lines come back in file
order as ``(receive_ns, raw_json_bytes)``, untouched, so replays and tests feed the exact
recorded bytes through the same parser the live client uses.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path

SNAPSHOT_PREFIX = b'{"lastUpdateId"'


def read_lines(paths: Iterable[Path | str]) -> Iterator[tuple[int, bytes]]:
    for path in paths:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as handle:
            for number, line in enumerate(handle, 1):
                stamp, sep, raw = line.rstrip(b"\r\n").partition(b" ")
                if not sep or not stamp.isdigit():
                    raise ValueError(f"{path}:{number}: not '<ns> <json>'")
                yield int(stamp), raw


def is_snapshot(raw: bytes) -> bool:
    """The recording's one REST depth snapshot line (bare JSON, not a stream envelope)."""
    return raw.startswith(SNAPSHOT_PREFIX)
