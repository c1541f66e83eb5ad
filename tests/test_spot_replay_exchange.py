"""The local exchange replaying real Binance Spot recordings in the Spot dialect, over sockets.

The recordings are read here a second time with plain gzip + JSON, independently of
``local_exchange.recording``, so the expected books do not share code with the exchange.
"""

from __future__ import annotations

import asyncio
import gzip
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from local_exchange import LocalExchange
from local_exchange.instruments import infer_spec
from local_exchange.recording import group_recordings, recording_venue
from local_exchange.replay import ReplayMarket
from marketdata.markets import BINANCE_SPOT, BINANCE_USDM
from orderbook.sync import SPOT_RULES
from tests.client_harness import assert_book_equals_exchange, start_client, until

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SPOT_BTC = [DATA / "binance_spot" / f"hftbacktest_spot_btcusdt_2024080{day}.gz" for day in (8, 9)]
SPOT_ETH = [DATA / "binance_spot" / f"hftbacktest_spot_ethusdt_2024080{day}.gz" for day in (8, 9)]
USDM_BTC = DATA / "binance_usdm" / "hftbacktest_usdm_btcusdt_20240808.gz"
USDM_BTC_0718 = [DATA / "binance_usdm" / f"hftbacktest_usdm_btcusdt_2024071{day}.gz"
                 for day in (8, 9)]
# 650 s of recording at 40x: about 16 s of wall time.
SPEED = 40.0

pytestmark = pytest.mark.skipif(not SPOT_BTC[0].exists(), reason="shared recordings not present")

Book = dict[str, dict[Decimal, Decimal]]


def read_recording(paths: list[Path]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the REST snapshot, every depthUpdate in order) of one symbol's files."""
    snapshot: dict[str, Any] | None = None
    diffs: list[dict[str, Any]] = []
    for path in paths:
        with gzip.open(path, "rb") as handle:
            for line in handle:
                obj = orjson.loads(line.partition(b" ")[2])
                if "lastUpdateId" in obj:
                    snapshot = obj
                elif obj.get("data", {}).get("e") == "depthUpdate":
                    diffs.append(obj["data"])
    assert snapshot is not None
    return snapshot, diffs


def book_at(snapshot: dict[str, Any], diffs: list[dict[str, Any]], update_id: int) -> Book:
    """The snapshot advanced by every diff after it up to the one ending at ``update_id``."""
    book: Book = {side: {Decimal(p): Decimal(q) for p, q in snapshot[side]}
                  for side in ("bids", "asks")}
    if update_id == snapshot["lastUpdateId"]:
        return book
    for diff in diffs:
        if diff["u"] <= snapshot["lastUpdateId"]:
            continue
        for side, key in (("bids", "b"), ("asks", "a")):
            for price, qty in diff[key]:
                if Decimal(qty):
                    book[side][Decimal(price)] = Decimal(qty)
                else:
                    book[side].pop(Decimal(price), None)
        if diff["u"] == update_id:
            return book
        assert diff["u"] < update_id, f"no recorded diff ends at {update_id}"
    raise AssertionError(f"update id {update_id} is past the recording")


def levels(body: dict[str, Any], side: str) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in body[side]]


def top(book: Book, side: str, limit: int) -> list[tuple[Decimal, Decimal]]:
    return sorted(book[side].items(), reverse=side == "bids")[:limit]


@pytest.mark.parametrize("files, venue", [
    *(([path], BINANCE_SPOT) for path in sorted((DATA / "binance_spot").glob("hftbacktest_*"))),
    *(([path], BINANCE_USDM) for path in sorted((DATA / "binance_usdm").glob("hftbacktest_*"))),
    (SPOT_BTC, BINANCE_SPOT), (SPOT_ETH, BINANCE_SPOT), (USDM_BTC_0718, BINANCE_USDM),
], ids=lambda value: value if isinstance(value, str) else "+".join(p.name for p in value))
def test_recording_venue_of_every_real_recording(files: list[Path], venue: str) -> None:
    recordings = group_recordings(files)
    assert len(recordings) == 1
    assert recording_venue(recordings[0]) == venue


def test_every_real_hftbacktest_recording_is_covered() -> None:
    # The parametrized test above must not pass by finding no files.
    assert len(list((DATA / "binance_spot").glob("hftbacktest_*"))) == 4
    assert len(list((DATA / "binance_usdm").glob("hftbacktest_*"))) == 4


def test_spot_replay_lists_spot_instruments_and_refuses_other_venues() -> None:
    assert infer_spec("BTCUSDT", "61837.63000000", "3.78826000", BINANCE_SPOT).tick_size == "0.01"
    assert infer_spec("BTCUSDT", "61837.60", "3.788").tick_size == "0.10"  # USDT-M by default
    spot = ReplayMarket(SPOT_BTC + SPOT_ETH)
    assert spot.venue == BINANCE_SPOT
    assert {s: spec.tick_size for s, spec in spot.specs.items()} == {"BTCUSDT": "0.01",
                                                                     "ETHUSDT": "0.01"}
    assert spot.specs["BTCUSDT"].step_size == "0.00001"
    with pytest.raises(ValueError, match="binance-spot"):
        LocalExchange([], replay_files=SPOT_BTC)  # USDT-M dialect, Spot recording
    with pytest.raises(ValueError, match="binance-usdm"):
        LocalExchange([], replay_files=[USDM_BTC], dialect="binance-spot")
    with pytest.raises(ValueError, match="different venues"):
        ReplayMarket([USDM_BTC, *SPOT_ETH])


async def test_spot_client_follows_a_spot_replay_to_the_end() -> None:
    snapshot, diffs = read_recording(SPOT_BTC)
    exchange = LocalExchange([], replay_files=SPOT_BTC, dialect="binance-spot", speed=SPEED)
    async with exchange:
        client = await start_client(exchange.rest_url, exchange.ws_url, ["BTCUSDT"],
                                    venue=BINANCE_SPOT)
        try:
            engine = client.engines["BTCUSDT"]
            assert engine.sync.rules is SPOT_RULES
            async with httpx.AsyncClient(base_url=exchange.rest_url) as http:
                info = (await http.get("/api/v3/exchangeInfo")).json()
                # Mid-replay: let some diffs past the snapshot go out first.
                await until(lambda: engine.sync.last_applied_u is not None
                            and engine.sync.last_applied_u > snapshot["lastUpdateId"]
                            and engine.counters.trades_received > 0, 20, "diffs past the snapshot")
                response = await http.get("/api/v3/depth",
                                          params={"symbol": "BTCUSDT", "limit": 5000})
                assert not exchange.finished
            mid = response.json()
            await asyncio.wait_for(exchange.wait_finished(), 40)
            final_id = await assert_book_equals_exchange(exchange, client, "BTCUSDT")
        finally:
            await client.stop()
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT"]
    price_filter = next(f for f in info["symbols"][0]["filters"]
                        if f["filterType"] == "PRICE_FILTER")
    assert price_filter["tickSize"] == "0.01"
    # GET /api/v3/depth mid-replay: Spot's body, the recorded book at its lastUpdateId.
    assert response.status_code == 200
    assert set(mid) == {"lastUpdateId", "bids", "asks"}
    assert snapshot["lastUpdateId"] < mid["lastUpdateId"] < diffs[-1]["u"]
    expected = book_at(snapshot, diffs, mid["lastUpdateId"])
    assert levels(mid, "bids") == top(expected, "bids", 5000)
    assert levels(mid, "asks") == top(expected, "asks", 5000)
    # The client followed the whole recording without a gap.
    assert final_id == diffs[-1]["u"]
    assert engine.sync.stats.gaps == 0 and engine.sync.stats.resyncs == 0
    assert client.feed.malformed_frames == 0
    # Trades arrive as aggTrades (recorded `trade` events); the recording has thousands.
    assert engine.counters.trades_received > 1000
