"""Record from a Binance-compatible server, replay the recording on the venue clock.

main.py runs on the live path against a separately started local exchange with ``--record``,
through an injected gap (so a resync snapshot is recorded too), while a viewer collects its
frames. The recording is then replayed: in process twice (byte-identical frames), with the book
after every update id compared with what the live run showed at that id, and through main.py
``--source replay --clock venue`` twice, whose frames are those same bytes.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect

from depthlens.pipeline import VenueClockReplay
from local_exchange import LocalExchange
from marketdata.events import DepthDiff, DepthSnapshot, Trade
from orderbook.book import L2Book
from orderbook.observer import BookObserver
from tests.process_support import all_live, depthlens, wait_health

pytestmark = pytest.mark.slow


class BooksById:
    """Beside a market's state: its top levels after every update id, as frames print them."""

    def __init__(self, inner: BookObserver, state: Any, depth: int) -> None:
        self.inner, self.state, self.depth = inner, state, depth
        self.at: dict[int, tuple[list[list[float]], list[list[float]]]] = {}

    def on_book_reset(self, book: L2Book, snapshot: DepthSnapshot) -> None:
        self.inner.on_book_reset(book, snapshot)
        self._keep(book)

    def on_book_update(self, book: L2Book, diff: DepthDiff) -> None:
        self.inner.on_book_update(book, diff)
        self._keep(book)

    def on_book_lost(self) -> None:
        self.inner.on_book_lost()

    def on_trade(self, trade: Trade) -> None:
        self.inner.on_trade(trade)

    def _keep(self, book: L2Book) -> None:
        ins = self.state.instrument
        assert book.last_update_id is not None
        self.at[book.last_update_id] = (
            [[ins.price(p), ins.qty(q)] for p, q in book.top_bids(self.depth)],
            [[ins.price(p), ins.qty(q)] for p, q in book.top_asks(self.depth)])


async def collect_frames(url: str, stop: asyncio.Event) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    async with connect(url, max_size=2**24) as ws:
        while not stop.is_set():
            try:
                msg = orjson.loads(await asyncio.wait_for(ws.recv(), 0.5))
            except TimeoutError:
                continue
            if msg.get("type") == "frame":
                frames.append(msg)
    return frames


def watch(port_url: str, symbol: str, seconds: float) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        stop = asyncio.Event()
        task = asyncio.create_task(collect_frames(f"{port_url}/ws/{symbol}", stop))
        await asyncio.sleep(seconds)
        stop.set()
        return await task
    return asyncio.run(run())


def record(tmp_path: Path) -> tuple[list[Path], list[dict[str, Any]], dict[str, Any]]:
    """A live run with --record: the files, the frames a viewer saw and the final /book."""
    directory = tmp_path / "rec"
    venue = LocalExchange(["BTCUSDT"], seed=5).run_in_thread()
    try:
        url = f"127.0.0.1:{venue.exchange.port}"
        with depthlens("--source", "live", "--symbols", "BTCUSDT", "--binance-rest-url",
                       f"http://{url}", "--binance-ws-url", f"ws://{url}",
                       "--record", str(directory)) as http:
            wait_health(http, all_live)
            base = str(http.base_url).replace("http://", "ws://").rstrip("/")
            frames = watch(base, "BTCUSDT", 6)
            venue.drop_diff("BTCUSDT")  # the resync's snapshot is recorded too
            wait_health(http, lambda h: h["symbols"]["BTCUSDT"]["resyncs"] >= 1
                        and all_live(h))
            frames += watch(base, "BTCUSDT", 6)
            venue.pause()
            published_id, _, _ = venue.published_book("BTCUSDT")
            wait_health(http, lambda h: h["symbols"]["BTCUSDT"]["last_update_id"] == published_id)
            book = http.get("/book/BTCUSDT", params={"depth": 1000}).json()
            status = http.get("/health").json()["recorder"]
            assert status["snapshots"] >= 2 and status["messages"] > 100
            assert status["last_error"] is None and status["files_open"] == 1
    finally:
        venue.stop()
    files = sorted(directory.glob("binance-usdm_btcusdt_*.gz"))
    assert files, list(directory.iterdir())
    return files, frames, book


def test_recording_replays_to_the_live_books_and_identical_frames(tmp_path: Path) -> None:
    files, live_frames, final = record(tmp_path)
    # Closed cleanly at exit: the whole file decompresses, snapshots included.
    lines = b"".join(gzip.open(f).read() for f in files).splitlines()
    assert sum(1 for line in lines if b' {"lastUpdateId"' in line) >= 2

    replay = VenueClockReplay(files)
    state = replay.states()["BTCUSDT"]
    sync = replay.books()["BTCUSDT"]
    books = BooksById(state, state, 1000)
    sync.observer = books
    first = [orjson.dumps(frame) for _, frame in replay.frames()]
    assert first == [orjson.dumps(frame) for _, frame in VenueClockReplay(files).frames()]
    assert sync.stats.resyncs >= 1  # the recorded gap is replayed and resynced too

    # At every update id the live run showed, the replayed book is the live one.
    shown = [f for f in live_frames if f["status"] == "live" and f["last_update_id"]]
    assert len(shown) >= 8
    for frame in shown:
        bids, asks = books.at[frame["last_update_id"]]
        assert (bids[:10], asks[:10]) == (frame["bid_levels"], frame["ask_levels"])
    bids, asks = books.at[final["last_update_id"]]
    assert (bids, asks) == (final["bids"], final["asks"])

    # main.py --clock venue, twice: every frame a viewer gets is byte for byte the in-process
    # replay's frame of that second.
    by_second = {orjson.loads(f)["ts"]: f for f in first}
    for _ in range(2):
        with depthlens("--source", "replay", "--clock", "venue", "--speed", "2",
                       "--replay", *map(str, files)) as http:
            wait_health(http, lambda h: bool(h.get("symbols")), 60)
            base = str(http.base_url).replace("http://", "ws://").rstrip("/")
            got = asyncio.run(_raw_frames(f"{base}/ws/BTCUSDT", 3.5))
        assert len(got) >= 4
        for raw in got:
            assert raw.encode() == by_second[orjson.loads(raw)["ts"]]


async def _raw_frames(url: str, seconds: float) -> list[str]:
    out: list[str] = []
    deadline = time.monotonic() + seconds
    async with connect(url, max_size=2**24) as ws:
        while (left := deadline - time.monotonic()) > 0:
            try:
                raw = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                break
            if isinstance(raw, str) and raw.startswith('{"v":1,"type":"frame"'):
                out.append(raw)
    return out


def test_recorder_rotates_hourly_and_keeps_the_budget(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    from data_ingestion.recorder import WireRecorder

    recorder = WireRecorder(tmp_path, max_bytes=1)
    rotated: list[tuple[str, str]] = []
    recorder.on_rotate = lambda venue, symbol: rotated.append((venue, symbol))
    hour_ns = 3600 * 10**9
    start = 1_723_161_600 * 10**9  # 2024-08-09 00:00 UTC
    frame = b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate"}}'
    for hour in range(3):
        recorder.frame("binance-usdm", frame, start + hour * hour_ns + 5)
        recorder.flush()
    recorder.frame("binance-usdm", b'{"result":null,"id":1}', start)  # no stream: counted only
    recorder.close()
    assert rotated == [("binance-usdm", "btcusdt")] * 2
    assert recorder.unrouted == 1 and recorder.files_closed == 3
    # A one-byte budget: every closed file but the newest is deleted, oldest first, and logged.
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["binance-usdm_btcusdt_20240809_02.gz"]
    assert recorder.files_deleted == 2
    assert "deleted the oldest file" in caplog.text
    assert gzip.open(tmp_path / left[0]).read() == b"%d %s\n" % (start + 2 * hour_ns + 5, frame)


def test_recording_flags_are_checked() -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT

    for args, message in ((["--record-max-gb", "1"], "--record-max-gb needs --record"),
                          (["--clock", "venue"], "--clock venue is for replays"),
                          (["--speed", "max"], "--speed max needs the venue clock"),
                          (["--source", "replay", "--replay", str(ROOT / "main.py"), "--record",
                            "x"], "a replay on the venue clock has no wire")):
        done = subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 2 and message in done.stderr, done.stderr
