"""Recordings to research tables: the venue-clock replay, ``python main.py export`` to Parquet,
the notebook API and the example script, on the real recordings in ``../shared/data``.

The replay is checked against an offline rebuild of the same files (the sync machine alone) and
against itself (a second run is byte-identical); the export against the replay's frames; the
notebook API against the export. A truncated copy of a recording must stop the export with a
message and leave valid Parquet of what came before.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from data_ingestion.binance.parser import FuturesParser
from depthlens import replay
from depthlens.pipeline import RecordingError, VenueClockReplay
from depthlens.tables import feature_row
from local_exchange.instruments import KNOWN_SPECS
from tests.replay_support import final_book

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
BTC = DATA / "binance_usdm" / "hftbacktest_usdm_btcusdt_20240808.gz"
ETH = DATA / "binance_usdm" / "hftbacktest_usdm_ethusdt_20240808.gz"
SPOT_ETH = [DATA / "binance_spot" / f"hftbacktest_spot_ethusdt_2024080{d}.gz" for d in (8, 9)]
COINBASE = DATA / "coinbase_advanced_trade" / "cryptofeed_COINBASE.jsonl.zst"

pytestmark = pytest.mark.skipif(not BTC.exists(), reason="shared recordings not present")


def encoded_frames(files: list[Path]) -> list[bytes]:
    return [orjson.dumps(frame) for _, frame in VenueClockReplay(files).frames()]


def run_main(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_two_replays_give_byte_identical_frames() -> None:
    first = encoded_frames([BTC, ETH])
    assert first == encoded_frames([ETH, BTC])  # the order files are named in does not matter
    frames = [orjson.loads(f) for f in first]
    seconds = [f["ts"] for f in frames if f["market"] == "BTCUSDT"]
    # One frame per market per venue second, no second skipped, on whole seconds.
    assert seconds == [seconds[0] + i for i in range(len(seconds))] and seconds[0] % 1 == 0
    assert {f["market"] for f in frames} == {"BTCUSDT", "ETHUSDT"}
    live = [f for f in frames if f["status"] == "live"]
    assert len(live) > 0.95 * len(frames)
    # The frame clock is the venue's: a frame's newest venue time lies within its second.
    assert all(f["ts"] - 1 <= f["venue_ts"] <= f["ts"] for f in live)


def test_replayed_book_equals_the_offline_rebuild() -> None:
    spec = KNOWN_SPECS["BTCUSDT"].instrument
    last_u, bids, asks = final_book([BTC], "BTCUSDT", FuturesParser({"BTCUSDT": spec}), spec,
                                    depth=10)
    run = VenueClockReplay([BTC])
    frames = [frame for _, frame in run.frames()]
    assert frames[-1]["last_update_id"] == last_u
    assert frames[-1]["bid_levels"] == bids and frames[-1]["ask_levels"] == asks
    assert run.books()["BTCUSDT"].stats.gaps == 0


def test_export_writes_the_replays_frames(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_main("export", BTC, ETH, "--out", out, "--per-update", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "x real time" in done.stderr and "events/s" in done.stderr
    expected = [feature_row(frame) for _, frame in VenueClockReplay([BTC, ETH]).frames()]
    table = pq.read_table(out / "features.parquet")
    assert table.to_pylist() == expected
    events = pq.read_table(out / "events.parquet").to_pylist()
    assert events and {e["type"] for e in events} <= {
        "wall", "sweep", "absorption", "layering", "iceberg", "exhaustion"}
    assert len({(e["market"], e["id"]) for e in events}) == len(events)  # one row per event
    insights = pq.read_table(out / "insights.parquet").to_pylist()
    shown = sum(len(row["insight_ids"]) for row in expected)
    assert sum(i["seconds"] for i in insights) == shown  # every shown second is in an interval
    updates = pq.read_table(out / "book_updates.parquet").to_pylist()
    last_btc = [u for u in updates if u["market"] == "BTCUSDT"][-1]
    last_frame = [r for r in expected if r["market"] == "BTCUSDT"][-1]
    assert last_btc["update_id"] == last_frame["last_update_id"]
    assert last_btc["bids"] == last_frame["bid_levels"]


def test_notebook_api_equals_the_export(tmp_path: Path) -> None:
    done = run_main("export", *SPOT_ETH, "--out", tmp_path, "--no-progress")
    assert done.returncode == 0, done.stderr
    exported = pq.read_table(tmp_path / "features.parquet").to_pandas()
    df = replay.features(SPOT_ETH)
    assert list(df.columns[1:]) == list(exported.columns) and str(df["time"].dt.tz) == "UTC"
    assert df.drop(columns="time").equals(exported)
    assert set(df["market"]) == {"binance-spot:ETHUSDT"}  # told from the content: Spot


def test_truncated_recording_keeps_what_came_before(tmp_path: Path) -> None:
    whole = BTC.read_bytes()
    cut = tmp_path / "btc_truncated.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "out"
    done = run_main("export", cut, "--out", out, "--no-progress")
    assert done.returncode == 1
    assert str(cut) in done.stderr and "truncated" in done.stderr
    assert "venue time 2024-08-08" in done.stderr
    rows = pq.read_table(out / "features.parquet").to_pylist()
    full = sum(1 for _ in VenueClockReplay([BTC]).frames())
    assert 0 < len(rows) < full
    # What was written equals the start of the full replay.
    assert rows == [feature_row(f) for _, f in VenueClockReplay([BTC]).frames()][:len(rows)]
    with pytest.raises(RecordingError):
        for _ in VenueClockReplay([cut]).frames():
            pass


def test_bad_input_is_refused_with_a_message(tmp_path: Path) -> None:
    missing = run_main("export", tmp_path / "nope.gz", "--out", tmp_path)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    if COINBASE.exists():
        coinbase = run_main("export", COINBASE, "--out", tmp_path)
        assert coinbase.returncode == 2 and "Coinbase captures" in coinbase.stderr
    text = tmp_path / "lines.gz"
    with gzip.open(text, "wt") as handle:
        handle.write("not a recording\n")
    bad = run_main("export", text, "--out", tmp_path)
    assert bad.returncode in (1, 2) and "error" in bad.stderr and "Traceback" not in bad.stderr
    no_out = run_main("export", BTC)
    assert no_out.returncode == 2 and "--out" in no_out.stderr


def test_example_script_draws_the_heatmap_headless(tmp_path: Path) -> None:
    html = tmp_path / "replay.html"
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "replay_heatmap.py"), str(BTC),
                           "--out", str(html)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seconds = sum(1 for _ in VenueClockReplay([BTC]).frames())
    assert done.stdout.startswith(f"BTCUSDT: {seconds} seconds, "), done.stdout
    page = html.read_text()
    assert '"type":"heatmap"' in page and "mid price" in page
