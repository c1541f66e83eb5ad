"""main.py as a user runs it: a real process, real ports, the same client path for every source."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from data_ingestion.binance.parser import FuturesParser
from local_exchange import LocalExchange
from tests.conftest import ROOT, futures_instruments
from tests.process_support import all_live, depthlens, free_port, wait_health
from tests.replay_support import final_book


def test_binance_source_against_any_compatible_server() -> None:
    """The live-Binance code path, pointed at a Binance-compatible server on loopback."""
    venue = LocalExchange(["BTCUSDT", "ETHUSDT"], seed=3).run_in_thread()
    try:
        url = f"127.0.0.1:{venue.exchange.port}"
        with depthlens("--source", "binance", "--binance-rest-url", f"http://{url}",
                       "--binance-ws-url", f"ws://{url}") as http:
            health = wait_health(http, all_live)
            assert health["source"] == "live"
            venue.drop_diff("BTCUSDT")
            venue.reorder_diffs("ETHUSDT")
            venue.rest_rate_limit(count=1, retry_after_s=1)
            wait_health(http, lambda h: h["symbols"]["BTCUSDT"]["gaps"] >= 1
                        and h["symbols"]["ETHUSDT"]["gaps"] >= 1)
            venue.disconnect_all()
            wait_health(http, lambda h: all_live(h) and all(
                e["watchdog"]["connects"] >= 2 and e["resyncs"] >= 1 for e in h["symbols"].values()))
            venue.pause()
            try:
                time.sleep(0.3)
                for symbol in ("BTCUSDT", "ETHUSDT"):
                    published_id, bids, asks = venue.published_book(symbol)
                    wait_health(http, lambda h, s=symbol, u=published_id:
                                h["symbols"][s]["last_update_id"] == u, 20)
                    book = http.get(f"/book/{symbol}", params={"depth": 1000}).json()
                    assert book["last_update_id"] == published_id
                    assert book["bids"] == [[p / 100, q / 1000] for p, q in bids[:1000]]
                    assert book["asks"] == [[p / 100, q / 1000] for p, q in asks[:1000]]
            finally:
                venue.resume()
    finally:
        venue.stop()


@pytest.mark.slow
@pytest.mark.parametrize("clock", ["venue", "wall"])  # in process / the exchange's sockets
def test_replay_source_plays_a_recording_through_the_client(usdm_dir: Path, clock: str) -> None:
    paths = [usdm_dir / "hftbacktest_usdm_btcusdt_20240718.gz",
             usdm_dir / "hftbacktest_usdm_btcusdt_20240719.gz"]
    last_u, bids, asks = final_book(paths, "BTCUSDT", FuturesParser(futures_instruments()),
                                    futures_instruments()["BTCUSDT"])
    with depthlens("--source", "replay", "--replay", *map(str, paths), "--speed", "60",
                   "--clock", clock) as http:
        health = wait_health(http, all_live)
        assert list(health["symbols"]) == ["BTCUSDT"]  # the recording decides the symbols
        wait_health(http, lambda h: h["symbols"]["BTCUSDT"]["last_update_id"] == last_u, 60)
        book = http.get("/book/BTCUSDT", params={"depth": 50}).json()
        assert (book["bids"], book["asks"]) == (bids, asks)
        assert http.get("/health").json()["symbols"]["BTCUSDT"]["gaps"] == 0


def test_symbols_the_source_cannot_serve_are_a_one_line_error(usdm_dir: Path) -> None:
    for args in (["--symbols", "ADAUSDT"],
                 ["--source", "replay", "--replay",
                  str(usdm_dir / "hftbacktest_usdm_ethusdt_20240808.gz"), "--symbols", "BTCUSDT"]):
        result = subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "--symbols" in result.stderr


def test_unreachable_venue_is_a_clear_startup_error() -> None:
    port = free_port()  # nothing listens there
    result = subprocess.run([sys.executable, "main.py", "--source", "binance", "--port",
                             str(free_port()), "--binance-rest-url", f"http://127.0.0.1:{port}",
                             "--binance-ws-url", f"ws://127.0.0.1:{port}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert f"cannot start: exchangeInfo from http://127.0.0.1:{port} failed" in result.stderr
