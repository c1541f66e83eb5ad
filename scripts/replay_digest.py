"""Replay recordings on the venue clock and print one digest of every frame: run it twice (or on
two machines) to see that the same files give byte-identical frames.

    .venv/bin/python scripts/replay_digest.py FILE...
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from depthlens.pipeline import VenueClockReplay  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    replay = VenueClockReplay(args.files)
    digest = hashlib.sha256()
    frames, live, first, last = 0, 0, None, None
    for _, frame in replay.frames():
        digest.update(orjson.dumps(frame))
        frames += 1
        live += frame["status"] == "live"
        first = frame["ts"] if first is None else first
        last = frame["ts"]
    syncs = replay.books()
    print(f"{frames} frames ({live} live) of {', '.join(replay.markets)}, venue seconds "
          f"{first}..{last}; gaps {sum(s.stats.gaps for s in syncs.values())}, resyncs "
          f"{sum(s.stats.resyncs for s in syncs.values())}; sha256 {digest.hexdigest()} "
          f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
