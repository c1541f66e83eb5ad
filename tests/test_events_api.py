"""``GET /events/{symbol}``, frame and snapshot ``events`` and the per-type metric, over real
sockets. The events are put into a symbol's log by hand (on the loop that owns it), so what is
checked here is the API's filtering, ordering and schema; detection is tested per detector."""

from __future__ import annotations

import asyncio
import json

import httpx
import websockets

from features.liquidity import LiquidityEvent
from tests.app_harness import serve_app
from tests.client_harness import until

EVENT_KEYS = ["id", "type", "side", "price", "price_from", "price_to", "start_ts", "end_ts",
              "detected_ts", "status", "size", "score", "detail"]


def _event(log, kind: str, start: float, side: str = "bid") -> LiquidityEvent:  # type: ignore[no-untyped-def]
    return log.open(LiquidityEvent(
        id=log.next_id(kind), type=kind, side=side, price=100.0, price_from=100.0,  # type: ignore[arg-type]
        price_to=100.5, start_ts=start, detected_ts=start + 1, size=2.5, score=0.7,
        detail={"reason": "test"}))


async def test_events_endpoint_filters_and_validates() -> None:
    async with serve_app() as served:
        await served.all_live()
        log = served.runtime.states["BTCUSDT"].detectors.log  # type: ignore[union-attr]
        before = len(log)
        old = _event(log, "wall", 1_000.0)
        log.close(old, 1_010.0, reason="pulled")
        sweep = _event(log, "sweep", 2_000.0, side="ask")
        wall = _event(log, "wall", 3_000.0)
        async with httpx.AsyncClient(base_url=served.http) as http:
            body = (await http.get("/events/btcusdt")).json()
            assert body["symbol"] == "BTCUSDT"
            mine = body["events"][before:]
            assert [e["id"] for e in mine] == [old.id, sweep.id, wall.id]  # newest last
            assert all(list(e) == EVENT_KEYS for e in mine)
            assert mine[0]["status"] == "ended" and mine[0]["end_ts"] == 1_010.0
            assert mine[0]["detail"]["reason"] == "pulled"
            walls = (await http.get("/events/BTCUSDT", params={"type": "wall"})).json()["events"]
            assert {e["type"] for e in walls} == {"wall"} and wall.id in [e["id"] for e in walls]
            both = (await http.get("/events/BTCUSDT", params={"type": "wall,sweep"})).json()
            assert sweep.id in [e["id"] for e in both["events"]]
            recent = (await http.get("/events/BTCUSDT", params={"since": 1_500})).json()["events"]
            ids = [e["id"] for e in recent]
            assert old.id not in ids and sweep.id in ids and wall.id in ids  # active: kept
            for bad in ({"type": "spoof"}, {"type": ","}, {"since": "yesterday"},
                        {"since": "-1"}):
                response = await http.get("/events/BTCUSDT", params=bad)
                assert response.status_code == 422, bad
            assert "spoof" in (await http.get("/events/BTCUSDT",
                                              params={"type": "spoof"})).json()["detail"]
            missing = await http.get("/events/DOGEUSDT")
            assert missing.status_code == 404 and "DOGEUSDT" in missing.json()["detail"]
            metrics = (await http.get("/metrics")).text
            walls_counted = log.counts["wall"]
            assert (f'depthlens_liquidity_events_total{{symbol="BTCUSDT",type="wall"}} '
                    f'{float(walls_counted)}') in metrics
            assert 'depthlens_liquidity_events_total{symbol="ETHUSDT",type="iceberg"}' in metrics


async def test_frames_carry_changed_events_and_snapshot_carries_the_window() -> None:
    async with serve_app() as served:
        await served.all_live()
        state = served.runtime.states["ETHUSDT"]
        log = state.detectors.log  # type: ignore[union-attr]
        async with websockets.connect(f"{served.ws}/ws/ETHUSDT") as ws:
            snapshot = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert snapshot["type"] == "snapshot" and isinstance(snapshot["events"], list)
            now = state.detectors.ctx.now_s  # type: ignore[union-attr]
            event = _event(log, "iceberg", now)
            frames = []

            async def read_until_seen() -> None:
                while True:
                    frame = json.loads(await ws.recv())
                    frames.append(frame)
                    if any(e["id"] == event.id for e in frame["events"]):
                        return

            await asyncio.wait_for(read_until_seen(), 5)
            carried = [e for e in frames[-1]["events"] if e["id"] == event.id][0]
            assert carried["status"] == "active" and carried["type"] == "iceberg"
            log.close(event, now + 2, reason="level gone")
            frames.clear()
            await asyncio.wait_for(read_until_seen(), 5)
            ended = [e for e in frames[-1]["events"] if e["id"] == event.id][0]
            assert ended["status"] == "ended" and ended["end_ts"] == now + 2
            # Reported once per change: the next frame does not repeat it.
            nxt = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert event.id not in [e["id"] for e in nxt["events"]]
        ticks = served.runtime.frame_clock.ticks  # the encoded snapshot is renewed each tick
        await until(lambda: served.runtime.frame_clock.ticks > ticks, 5, "the next tick")
        async with websockets.connect(f"{served.ws}/ws/ETHUSDT") as ws:
            snapshot = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert event.id in [e["id"] for e in snapshot["events"]]


def test_log_keeps_the_last_hour_and_active_events() -> None:
    from features.liquidity.event import EventLog

    log = EventLog("BTCUSDT", max_events=100, retention_s=3600.0)
    t0 = 1_700_000_000.0
    wall = _event(log, "wall", t0)  # active: kept however old, and so is what follows it
    for n in range(5):
        log.close(_event(log, "sweep", t0 + n), t0 + n + 2)  # end t0+2 .. t0+6
    _event(log, "sweep", t0 + 3000)
    _event(log, "sweep", t0 + 3700)  # the sweeps ended over an hour ago, behind the wall
    assert len(log) == 8
    log.close(wall, t0 + 10)
    last = _event(log, "sweep", t0 + 3700)  # cutoff t0+101: the wall and the five go
    assert [e.id for e in log] == ["BTCUSDT-sweep-7", "BTCUSDT-sweep-8", last.id]
    # The count bound still holds whatever the times.
    for n in range(200):
        _event(log, "sweep", t0 + 4000 + n)
    assert len(log) == 100
