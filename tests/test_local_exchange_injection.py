"""Injected liquidity events with known truth: real orders in the local exchange, over real
sockets, on the synthetic flow and on a replayed real recording; the offline driver."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from local_exchange import LocalExchange
from local_exchange.offline import OfflineMarket
from local_exchange.scenarios import ScenarioError, load_scenarios, parse_scenario
from tests.test_local_exchange_support import BookFollower, quiesce

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance_usdm"
BTC_0808 = DATA / "hftbacktest_usdm_btcusdt_20240808.gz"


async def get_json(exchange: LocalExchange, path: str) -> tuple[int, Any]:
    async with httpx.AsyncClient(base_url=exchange.rest_url) as http:
        resp = await http.get(path)
    return resp.status_code, resp.json()


async def wait_truth(exchange: LocalExchange, ident: str, timeout_s: float = 20) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:
            status, body = await get_json(exchange, "/control/truth")
            assert status == 200
            record = next(r for r in body["truth"] if r["id"] == ident)
            if record["status"] in ("ended", "failed"):
                return record
            await asyncio.sleep(0.05)


def level_changes(events: list[dict[str, Any]], key: str, price: str) -> list[tuple[int, str]]:
    """(E, qty) of every diff that carried ``price`` on side ``key``."""
    return [(e["E"], q) for e in events for p, q in e[key] if p == price]


async def test_wall_appears_in_published_book_as_truth_says() -> None:
    async with LocalExchange(symbols=["BTCUSDT"], seed=5) as exchange, \
            BookFollower(exchange, "BTCUSDT") as follower:
        await follower.follow_until(await quiesce(exchange))  # flow paused: only the wall moves
        spec = exchange.spec("BTCUSDT").instrument
        price = max(follower.bids) - 5 * spec.tick_units
        # The level as it was, and only the diffs published from now on: a diff that touched
        # this price before the flow paused is not the wall (a slow machine makes that likely).
        before = follower.bids.get(price, 0)
        first_event = len(follower.events)
        status, body = await get_json(exchange, "/control/inject?type=wall&side=bid&"
                                      "distance_ticks=5&size_multiple=12&duration_s=1.5")
        assert status == 200 and body["type"] == "wall"
        truth = await wait_truth(exchange, body["id"])
        await follower.follow_until(await quiesce(exchange))
    price_text = spec.prices.format(price)
    changes = level_changes(follower.events[first_event:], "b", price_text)
    wall_qty = spec.quantities.parse(changes[0][1]) - before
    assert truth["status"] == "ended" and truth["detail"]["end_reason"] == "pulled"
    assert truth["side"] == "bid" and truth["price"] == float(price_text)
    assert wall_qty == round(truth["size"] * spec.qty_scale) > 0
    # Size relative to the median near the touch, as asked.
    assert truth["size"] == pytest.approx(12 * truth["detail"]["median_level_qty"], rel=0.05)
    # Times: E of the diff that showed the wall, E of the diff that showed it gone.
    assert len(changes) == 2
    assert truth["start_ts"] == changes[0][0] / 1000 and truth["end_ts"] == changes[1][0] / 1000
    assert truth["end_ts"] - truth["start_ts"] == pytest.approx(1.5, abs=0.15)
    assert spec.quantities.parse(changes[1][1]) == before


async def test_sweep_trades_and_book_match_truth() -> None:
    async with LocalExchange(symbols=["BTCUSDT"], seed=8) as exchange, \
            BookFollower(exchange, "BTCUSDT") as follower:
        await follower.follow_until(await quiesce(exchange))
        asks_before = sorted(follower.asks.items())[:4]
        trades: list[dict[str, Any]] = []
        async with connect(f"{exchange.ws_url}/market/ws/btcusdt@aggTrade") as tws:
            ident = exchange.inject({"type": "sweep", "side": "ask", "levels": 4})
            truth = await wait_truth(exchange, ident)
            while sum(float(t["q"]) for t in trades) < truth["size"] - 1e-9:
                trades.append(orjson.loads(await asyncio.wait_for(tws.recv(), 10)))
        await follower.follow_until(await quiesce(exchange))
    spec = exchange.spec("BTCUSDT").instrument
    prices = [spec.prices.parse(t["p"]) for t in trades]
    assert prices == sorted(prices) and len(set(prices)) == 4 == truth["detail"]["levels"]
    assert [p for p, _ in asks_before] == prices
    assert all(t["m"] is False for t in trades)  # buyer was the taker: a buy sweep
    assert truth["side"] == "ask"
    assert truth["price_from"] == float(trades[0]["p"])
    assert truth["price"] == truth["price_to"] == float(trades[-1]["p"])
    assert truth["start_ts"] == trades[0]["T"] / 1000 and truth["end_ts"] == trades[-1]["T"] / 1000
    taken = [spec.quantities.parse(t["q"]) for t in trades]
    # Levels 1-3 fully, level 4 partly: the book shows exactly that.
    assert taken[:3] == [q for _, q in asks_before[:3]] and 0 < taken[3] < asks_before[3][1]
    assert min(follower.asks) == asks_before[3][0]
    assert follower.asks[asks_before[3][0]] == asks_before[3][1] - taken[3]


async def test_spread_control_widens_then_releases() -> None:
    async with LocalExchange(symbols=["BTCUSDT"], seed=2) as exchange:
        await asyncio.sleep(0.5)
        status, body = await get_json(exchange, "/control/inject?type=spread&symbol=BTCUSDT&"
                                      "ticks=30&duration_s=1.5")
        assert status == 200
        await asyncio.sleep(0.8)
        _, bids, asks = exchange.published_book("BTCUSDT")
        tick = exchange.spec("BTCUSDT").instrument.tick_units
        assert asks[0][0] - bids[0][0] >= 30 * tick
        truth = await wait_truth(exchange, body["id"])
    assert truth["status"] == "ended" and truth["detail"]["end_reason"] == "released"


@pytest.mark.skipif(not BTC_0808.exists(), reason="shared recordings not present")
async def test_injection_on_replay_keeps_client_book_equal_to_published() -> None:
    scenarios = [parse_scenario(e) for e in (
        {"type": "wall", "side": "bid", "distance_ticks": 3, "at_s": 1, "duration_s": 6},
        {"type": "sweep", "side": "ask", "levels": 4, "at_s": 4, "children": 2},
        {"type": "iceberg", "side": "ask", "at_s": 8, "duration_s": 6},
        {"type": "layering", "side": "bid", "distance_ticks": 4, "at_s": 12, "duration_s": 5},
        {"type": "absorption", "side": "bid", "at_s": 16, "duration_s": 5},
        {"type": "exhaustion", "side": "ask", "at_s": 20, "duration_s": 5},
    )]
    exchange = LocalExchange(replay_files=[BTC_0808], speed=60.0, scenarios=scenarios)
    exchange.pause()
    async with exchange:
        trades: list[dict[str, Any]] = []
        async with connect(f"{exchange.ws_url}/market/ws/btcusdt@trade", max_queue=None) as tws:
            reader = asyncio.create_task(_collect(tws, trades))
            exchange.resume()
            async with BookFollower(exchange, "BTCUSDT") as follower:
                # One more through the control endpoint, timed on the recording's clock.
                status, body = await get_json(exchange, "/control/inject?type=wall&side=ask&"
                                              "distance_ticks=2&duration_s=2&at_s=1")
                assert status == 200
                await exchange.wait_finished()
                final_id, bids, asks = exchange.published_book("BTCUSDT")
                await follower.follow_until(final_id)
                assert follower.update_id == final_id
                # The follower's snapshot held 1000 levels a side; the published book also
                # keeps far levels from before it synced: compare the well-covered top.
                ours, theirs = follower.sorted_book(), (bids, asks)
                assert [side[:500] for side in ours] == [side[:500] for side in theirs]
                assert len(follower.events) > 1000
            await asyncio.sleep(0.3)
            reader.cancel()
    truth = exchange.truth()
    assert [r["status"] for r in truth] == ["ended"] * (len(scenarios) + 1)
    assert truth[-1]["id"] == body["id"] and truth[-1]["side"] == "ask"
    injected = [t for t in trades if t["t"] >= 10**15]
    assert injected and all(t["e"] == "trade" and "X" in t for t in injected)
    assert len({t["t"] for t in trades}) == len(trades)  # no id collides with a recorded one
    sweep = truth[1]
    swept = [t for t in injected if sweep["start_ts"] <= t["T"] / 1000 <= sweep["end_ts"]]
    assert sum(float(t["q"]) for t in swept) == pytest.approx(sweep["size"])
    assert {float(t["p"]) for t in swept} >= {sweep["price_from"], sweep["price_to"]}
    for record in truth:
        assert record["start_ts"] is not None and record["start_ts"] <= record["end_ts"]
        assert 1723161250 < record["start_ts"] < 1723161700  # venue time of the recording


async def _collect(ws: Any, sink: list[dict[str, Any]]) -> None:
    try:
        async for message in ws:
            sink.append(orjson.loads(message))
    except ConnectionClosed:
        pass  # keepalive may lapse while a fast replay keeps the loop busy


async def test_bad_requests_get_clear_errors() -> None:
    async with LocalExchange(symbols=["BTCUSDT"], seed=1) as exchange:
        for query, words in (("type=wall&side=up", ["'side'", "'bid' or 'ask'"]),
                             ("type=tsunami", ["'type'", "wall"]),
                             ("type=wall&colour=red", ["unknown key 'colour'"]),
                             ("type=sweep&levels=two", ["'levels'", "a number"]),
                             ("type=wall&size_multiple=-3", ["'size_multiple'", "between"]),
                             ("type=wall&symbol=DOGEUSDT", ["'symbol'", "DOGEUSDT"])):
            status, body = await get_json(exchange, f"/control/inject?{query}")
            assert status == 400, query
            assert all(w in body["error"] for w in words), body
        status, _ = await get_json(exchange, "/control/nothing")
        assert status == 404
        status, body = await get_json(exchange, "/control/truth")
        assert status == 200 and body == {"truth": []}


def test_bad_scenario_files_name_entry_and_key(tmp_path: Path) -> None:
    cases = {
        "a.toml": (('[[scenario]]\ntype = "wall"\n[[scenario]]\nid = "w2"\ntype = "wall"\n'
                    'duration_s = "long"\n'), ["scenario #2 (w2)", "'duration_s'"]),
        "b.json": ('[{"type": "sweep", "side": "buy"}]', ["scenario #1", "'side'", "BOOK"]),
        "c.json": ('{"scenarios": [{"type": "iceberg", "levels": 3}]}',
                   ["scenario #1", "unknown key 'levels'"]),
        "d.toml": ("[[scenario]\n", ["not valid toml"]),
        "e.toml": ('[[scenario]]\ntype = "wall"\ndecoy_of = "wall"\n', ["'decoy_of'"]),
        "f.toml": ('[[scenarios]]\ntype = "wall"\n[extra]\n', ["unknown top-level"]),
    }
    for name, (text, words) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ScenarioError) as info:
            load_scenarios(path)
        assert all(w in str(info.value) for w in words), (name, str(info.value))
    good = tmp_path / "good.toml"
    good.write_text('[[scenario]]\ntype = "layering"\ndecoy = true\n'
                    '[[scenario]]\ntype = "spread"\nticks = 12\nat_s = 3\n')
    decoy, spread = load_scenarios(good)
    assert decoy.decoy and decoy.decoy_of == "layering" and decoy.fill  # the honest ladder
    assert spread.ticks == 12 and spread.at_s == 3.0


def _digest(market: OfflineMarket) -> tuple[str, int, list[dict[str, Any]], bytes]:
    digest, count = hashlib.sha256(), 0
    for receive_ns, raw in market.run():
        digest.update(receive_ns.to_bytes(8, "big") + raw)
        count += 1
    return digest.hexdigest(), count, market.truth(), market.snapshot("BTCUSDT")


def test_offline_driver_is_deterministic() -> None:
    scenarios = [parse_scenario(e) for e in (
        {"type": "wall", "distance_ticks": 8, "at_s": 1, "duration_s": 3},
        {"type": "sweep", "side": "bid", "at_s": 5},
        {"type": "iceberg", "side": "ask", "at_s": 7, "duration_s": 4, "delay_ms": 50},
        {"type": "wall", "decoy": True, "at_s": 9, "duration_s": 3, "symbol": "ETHUSDT"},
    )]
    runs = [_digest(OfflineMarket(("BTCUSDT", "ETHUSDT"), seed=9, scenarios=scenarios,
                                  duration_s=15)) for _ in range(2)]
    assert runs[0] == runs[1]
    digest, count, truth, snapshot = runs[0]
    assert count > 200 and len(truth) == 4
    assert all(r["status"] == "ended" for r in truth)
    # The snapshot sits inside the first diff, so a client syncs from the very start.
    first = orjson.loads(next(OfflineMarket(("BTCUSDT",), seed=9, duration_s=1).run())[1])
    last_id = orjson.loads(snapshot)["lastUpdateId"]
    assert first["stream"] in ("btcusdt@depth@100ms", "btcusdt@aggTrade")
    other = _digest(OfflineMarket(("BTCUSDT", "ETHUSDT"), seed=10, scenarios=scenarios,
                                  duration_s=15))
    assert other[0] != digest and last_id > 0


def test_scenarios_flag_and_thread_forwarding(tmp_path: Path) -> None:
    from config import ConfigError, parse_config

    path = tmp_path / "s.json"
    path.write_text('[{"type": "wall", "side": "ask", "distance_ticks": 4, "duration_s": 0.5}]')
    config = parse_config(["--scenarios", str(path)], {})
    assert [s.type for s in config.scenarios] == ["wall"]
    with pytest.raises(ConfigError, match="--scenarios: .*'side'"):
        path.write_text('[{"type": "wall", "side": "sell"}]')
        parse_config(["--scenarios", str(path)], {})
    with pytest.raises(ConfigError, match="embedded exchange"):
        path.write_text('[{"type": "wall"}]')
        parse_config(["--source", "binance", "--scenarios", str(path)], {})
    with LocalExchange(symbols=["ETHUSDT"], seed=4).run_in_thread() as thread:
        ident = thread.inject({"type": "wall", "side": "ask", "distance_ticks": 30,
                               "duration_s": 0.5})
        with pytest.raises(ScenarioError, match="'levels'"):
            thread.inject({"type": "wall", "levels": 3})
        deadline = time.monotonic() + 10
        while thread.truth()[0]["status"] != "ended" and time.monotonic() < deadline:
            time.sleep(0.05)
        record = thread.truth("ETHUSDT")[0]
    assert record["id"] == ident and record["status"] == "ended"
    assert record["end_ts"] - record["start_ts"] == pytest.approx(0.5, abs=0.15)


def test_every_type_and_hard_negative_runs_to_its_end() -> None:
    entries: list[dict[str, Any]] = []
    for index, kind in enumerate(("wall", "sweep", "absorption", "iceberg", "layering",
                                  "exhaustion")):
        side = "bid" if index % 2 else "ask"
        entries.append({"type": kind, "side": side, "at_s": 1 + 9 * index, "duration_s": 4,
                        "distance_ticks": 30 if kind == "wall" else 0})
        entries.append({"type": kind, "side": side, "at_s": 5 + 9 * index, "duration_s": 3,
                        "decoy": True, "symbol": "ETHUSDT"})
    market = OfflineMarket(("BTCUSDT", "ETHUSDT"), seed=3, duration_s=60,
                           scenarios=[parse_scenario(e) for e in entries])
    stamps: set[int] = set()  # every E and T published
    for _, raw in market.run():
        data = orjson.loads(raw)["data"]
        stamps.update((data["E"], data["T"]))
    truth = market.truth()
    assert [r["status"] for r in truth] == ["ended"] * len(entries)
    for entry, record in zip(entries, truth):
        assert record["type"] == entry["type"] and record["side"] == entry["side"]
        assert record["decoy"] == bool(entry.get("decoy"))
        assert record["decoy_of"] == (entry["type"] if entry.get("decoy") else None)
        assert record["start_ts"] <= record["end_ts"]
        # Every truth time is the venue time of a published message.
        assert round(record["start_ts"] * 1000) in stamps
        assert round(record["end_ts"] * 1000) in stamps
    decoys = {r["type"]: r for r in truth if r["decoy"]}
    assert decoys["sweep"]["detail"]["levels"] == 1  # one big print at one price
    wall = decoys["wall"]
    assert wall["size"] == pytest.approx(2 * wall["detail"]["median_level_qty"], rel=0.05)
    assert decoys["exhaustion"]["detail"]["end_reason"] == "recovered"
    assert decoys["layering"]["detail"]["fill_ratio"] > 0.5  # the honest ladder got filled
