"""``python main.py export FILES... --out DIR``: recordings to Parquet, without sockets, as fast
as the CPU allows, on the venue clock (``depthlens.pipeline``).

Writes ``DIR/features.parquet`` (one row per market per second), ``DIR/events.parquet`` (one row
per liquidity event, its last state) and ``DIR/insights.parquet`` (one row per interval an
insight card was shown); with ``--per-update``, ``DIR/book_updates.parquet`` too (the top-N book
after every applied diff). A corrupt or truncated file stops the export with exit status 1 and a
message naming the file and the venue time exported up to; everything before it is written.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
from tqdm import tqdm

from config import Config
from depthlens.book_updates import BookUpdateRecorder
from depthlens.pipeline import Progress, RecordingError, VenueClockReplay
from depthlens.tables import TableBuilder

BATCH_ROWS = 3600  # features rows per Parquet row group: an hour of one market


@dataclass(frozen=True)
class ExportSummary:
    rows: int
    events: int
    insights: int
    book_updates: int
    messages: int
    seconds: float  # wall time of the export
    venue_span_s: float  # venue time covered


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python main.py export",
        description="Replay recordings (hftbacktest .gz, Binance USDT-M or Spot) without sockets "
                    "on the venue clock and write the per-second features, the liquidity events "
                    "and the insight intervals to Parquet.")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE",
                        help="recording files; several markets and midnight splits merge")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="output directory (created; existing tables are replaced)")
    parser.add_argument("--per-update", action="store_true",
                        help="also write the top-N book after every applied diff "
                             "(book_updates.parquet; large)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def export(files: Sequence[Path], out: Path, config: Config = Config(),
           per_update: bool = False, progress: bool = True) -> ExportSummary:
    """Run the export; raises ``RecordingError`` after writing what came before the fault."""
    out.mkdir(parents=True, exist_ok=True)
    replay = VenueClockReplay(files, config)
    updates = (BookUpdateRecorder(replay, config.top_n, out / "book_updates.parquet")
               if per_update else None)
    builder = TableBuilder()
    writer = pq.ParquetWriter(out / "features.parquet", builder.take_features().schema)
    bar = tqdm(total=replay.progress.total_bytes, unit="B", unit_scale=True, unit_divisor=1024,
               desc="export", disable=not progress, file=sys.stderr)
    started = time.perf_counter()
    rows = 0
    first_s: float | None = None
    try:
        for market, frame in replay.frames():
            builder.add(market, frame)
            rows += 1
            if first_s is None:
                first_s = frame["ts"]
            if updates is not None:
                updates.flush()
            if len(builder.features) >= BATCH_ROWS:
                writer.write_table(builder.take_features())
                _advance(bar, replay.progress, started)
    finally:
        # Whatever happened, what was computed is written and the files are valid Parquet.
        if builder.features:
            writer.write_table(builder.take_features())
        writer.close()
        events, insights = builder.finish()
        pq.write_table(events, out / "events.parquet")
        pq.write_table(insights, out / "insights.parquet")
        book_rows = 0
        if updates is not None:
            book_rows = updates.close()
        _advance(bar, replay.progress, started)
        bar.close()
    last_s = replay.progress.venue_s
    return ExportSummary(rows, events.num_rows, insights.num_rows, book_rows,
                         replay.progress.messages, time.perf_counter() - started,
                         0.0 if first_s is None or last_s is None else last_s - first_s + 1)


def _advance(bar: tqdm, progress: Progress, started: float) -> None:  # type: ignore[type-arg]
    bar.update(progress.read_bytes - bar.n)
    elapsed = max(time.perf_counter() - started, 1e-9)
    bar.set_postfix(events_s=f"{progress.messages / elapsed:,.0f}",
                    venue=_when(progress.venue_s), refresh=False)


def _when(venue_s: float | None) -> str:
    if venue_s is None:
        return "-"
    return datetime.fromtimestamp(venue_s, UTC).strftime("%Y-%m-%d %H:%M:%S")


def run(argv: Sequence[str], config: Config = Config()) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = export(args.files, args.out, config, args.per_update, not args.no_progress)
    except (FileNotFoundError, ValueError) as exc:
        print(f"export: error: {exc}", file=sys.stderr)
        return 2
    except RecordingError as exc:
        print(f"export: error: {exc}; what came before is written to {args.out} "
              f"(frames up to venue time {_when(exc.venue_s)} UTC)", file=sys.stderr)
        return 1
    rate = summary.messages / max(summary.seconds, 1e-9)
    speed = summary.venue_span_s / max(summary.seconds, 1e-9)
    print(f"export: {summary.rows} rows, {summary.events} events, {summary.insights} insight "
          f"intervals" + (f", {summary.book_updates} book updates" if args.per_update else "")
          + f" in {summary.seconds:.1f} s ({rate:,.0f} events/s, {speed:,.0f}x real time) "
          f"-> {args.out}", file=sys.stderr)
    return 0
